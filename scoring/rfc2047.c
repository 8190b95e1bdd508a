/*
 * rfc2047.c - encoded-words in header text (RFC 2047), decoded to UTF-8.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>
#include <strings.h>

#include "scoring/rfc2047.h"
#include "scoring/xfer.h"

#define WORD_MAX 1024			/* encoded text of one word (RFC 2047: 75) */

struct dec {
	struct hm_charset *cs;
	char *out;
	size_t len, max;
	char charset[HM_CHARSET_NAME_MAX];	/* of the bytes in word[] */
	unsigned char word[1024];		/* decoded bytes of adjacent words */
	size_t wlen;
};

static void put(struct dec *d, const char *charset, const unsigned char *s, size_t n)
{
	if (d->len < d->max)
		d->len += hm_charset_convert(d->cs, charset, s, n, d->out + d->len,
					     d->max - d->len);
	/* Nearly full: stop, so that nothing short follows a character cut off. */
	if (d->len + 4 > d->max)
		d->max = d->len;
}

static void word_flush(struct dec *d)
{
	if (d->wlen > 0)
		put(d, d->charset, d->word, d->wlen);
	d->wlen = 0;
}

/* Raw text between words: line breaks dropped, the rest read leniently. */
static void raw(struct dec *d, const char *s, size_t n)
{
	unsigned char buf[512];
	size_t k = 0;

	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\r' || s[i] == '\n')
			continue;
		buf[k++] = (unsigned char)s[i];
		if (k == sizeof(buf)) {
			put(d, NULL, buf, k);
			k = 0;
		}
	}
	if (k > 0)
		put(d, NULL, buf, k);
}

static bool only_space(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (s[i] != ' ' && s[i] != '\t' && s[i] != '\r' && s[i] != '\n')
			return false;
	return true;
}

/*
 * The encoded-word at s ("=?charset?e?text?="): its length, with the
 * charset, encoding and text; 0 when it is not one.
 */
static size_t parse_word(const char *s, size_t n, char *charset, char *enc,
			 const char **text, size_t *tlen)
{
	size_t i = 2, c0 = 2, clen;
	const char *end;

	while (i < n && s[i] != '?' && s[i] != ' ' && s[i] != '\t' && s[i] != '\r' &&
	       s[i] != '\n' && i - c0 < HM_CHARSET_NAME_MAX)
		i++;
	if (i + 3 >= n || s[i] != '?' || i == c0)
		return 0;
	clen = i - c0;
	if (clen >= HM_CHARSET_NAME_MAX)
		return 0;
	memcpy(charset, s + c0, clen);
	charset[clen] = '\0';
	/* RFC 2231 language: "charset*lang". */
	if (strchr(charset, '*') != NULL)
		*strchr(charset, '*') = '\0';
	*enc = (char)(s[i + 1] | 0x20);
	if ((*enc != 'b' && *enc != 'q') || s[i + 2] != '?')
		return 0;
	i += 3;
	/*
	 * The text runs to "?=" and holds no line break.  Looked for within
	 * WORD_MAX bytes only: a header full of "=?x?q?" openings without an
	 * end would otherwise cost the square of its length.
	 */
	if (n > i + WORD_MAX)
		n = i + WORD_MAX;
	for (end = s + i; end + 1 < s + n; end++) {
		if (*end == '\r' || *end == '\n')
			return 0;
		if (end[0] == '?' && end[1] == '=')
			break;
	}
	if (end + 1 >= s + n)
		return 0;
	*text = s + i;
	*tlen = (size_t)(end - (s + i));
	return (size_t)(end - s) + 2;
}

size_t hm_rfc2047_decode(struct hm_charset *cs, const char *in, size_t n, char *out,
			 size_t outmax)
{
	struct dec d;
	size_t i = 0, textstart = 0;
	bool after_word = false;

	d.cs = cs;
	d.out = out;
	d.len = 0;
	d.max = outmax;
	d.wlen = 0;
	d.charset[0] = '\0';
	while (i + 1 < n) {
		const char *p = memchr(in + i, '=', n - i - 1), *text;
		char charset[HM_CHARSET_NAME_MAX], enc;
		unsigned char buf[768];
		size_t wl, tlen, bl;

		if (p == NULL)
			break;
		i = (size_t)(p - in);
		if (in[i + 1] != '?' ||
		    (wl = parse_word(in + i, n - i, charset, &enc, &text, &tlen)) == 0) {
			i++;
			continue;
		}
		if (!(after_word && only_space(in + textstart, i - textstart))) {
			word_flush(&d);
			raw(&d, in + textstart, i - textstart);
		}
		if (tlen > sizeof(buf))
			tlen = sizeof(buf);	/* 768 bytes of B or Q: up to 768 decoded */
		if (enc == 'b') {
			struct hm_b64 b;
			bool bad = false;

			hm_b64_init(&b);
			bl = hm_b64_decode(&b, (const unsigned char *)text, tlen, buf, &bad);
		} else {
			bl = hm_qword_decode(text, tlen, buf);
		}
		if (strcasecmp(charset, d.charset) != 0 || bl > sizeof(d.word) - d.wlen) {
			word_flush(&d);
			memcpy(d.charset, charset, sizeof(charset));
		}
		memcpy(d.word + d.wlen, buf, bl);
		d.wlen += bl;
		i += wl;
		textstart = i;
		after_word = true;
	}
	word_flush(&d);
	raw(&d, in + textstart, n - textstart);
	return d.len;
}
