/*
 * content-text.c - the content features' text streams (see content.c):
 * decoded text (the body, the Subject, a From display name) normalised one
 * character at a time (lower-case, digits folded to 0, runs of white space
 * to one space), giving character 4-grams, words and word pairs at
 * distances 1 to OSB_WINDOW, each in the stream's own namespace.
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "scoring/content-int.h"
#include "scoring/features.h"

void content_stream_init(struct textstream *t, enum hm_ns g, enum hm_ns w, enum hm_ns o)
{
	memset(t, 0, sizeof(*t));
	t->ns_gram = g;
	t->ns_word = w;
	t->ns_osb = o;
	t->space = true;		/* no leading space in the first gram */
}

/* Characters that are part of words. */
static bool word_char(uint32_t cp)
{
	/* ASCII letters, digits, '$': arithmetic, not isalnum(), a call per character. */
	if (cp < 0x80)
		return cp - '0' < 10 || (cp | 0x20) - 'a' < 26 || cp == '$';
	/* General and CJK punctuation, no-break space, Latin-1 symbols: separators. */
	if (cp < 0xc0)
		return false;
	if ((cp >= 0x2000 && cp <= 0x206f) || (cp >= 0x3000 && cp <= 0x303f) || cp == 0xfeff)
		return false;
	return cp != 0xd7 && cp != 0xf7;
}

/* Lower-case the scripts spam is written in; digits fold to '0'. */
static uint32_t fold(uint32_t cp, bool *upper)
{
	*upper = false;
	if (cp < 0x80) {
		if (cp >= 'A' && cp <= 'Z') {
			*upper = true;
			return cp + 32;
		}
		if (cp >= '0' && cp <= '9')
			return '0';
		return cp;
	}
	if ((cp >= 0xc0 && cp <= 0xde && cp != 0xd7) || (cp >= 0x410 && cp <= 0x42f) ||
	    (cp >= 0x391 && cp <= 0x3a9)) {
		*upper = true;
		return cp + 32;
	}
	return cp;
}

static void word_end(struct hm_content *c, struct textstream *t)
{
	uint64_t h;

	if (t->wlen == 0 && !t->wlong)
		return;
	if (t->wlong) {
		static const char lw[] = "\x01long";

		h = hm_fhash(&c->key, t->ns_word, lw, sizeof(lw) - 1);
	} else {
		h = hm_fhash(&c->key, t->ns_word, t->word, t->wlen);
	}
	content_add(c, h);
	/* Pairs: (earlier word, distance, this word). */
	for (unsigned d = 0; d < t->nprev; d++)
		content_add(c, hm_fhash64(&c->key, t->ns_osb, hm_fmix(t->prev[d] + d + 1, 0x94d049bb133111ebull) ^ h));
	memmove(t->prev + 1, t->prev, (OSB_WINDOW - 1) * sizeof(t->prev[0]));
	t->prev[0] = h;
	if (t->nprev < OSB_WINDOW)
		t->nprev++;
	t->wlen = 0;
	t->wlong = false;
}

/* A break: no word or gram spans it. */
void content_stream_break(struct hm_content *c, struct textstream *t)
{
	word_end(c, t);
	t->nprev = 0;
	t->ring = 0;
	t->nchars = 0;
	t->space = true;
}

static void stream_char(struct hm_content *c, struct textstream *t, uint32_t cp,
			const unsigned char *utf8, size_t ulen)
{
	bool upper, isword;
	uint32_t f;

	if (cp <= ' ' || cp == 0x7f || cp == 0xa0 || (cp >= 0x2000 && cp <= 0x200b)) {
		word_end(c, t);
		if (t->space)
			return;
		t->space = true;
		f = ' ';
	} else {
		f = fold(cp, &upper);
		t->space = false;
		isword = word_char(cp);
		if (isword) {
			if (upper || cp > 0x7f || (cp >= 'a' && cp <= 'z')) {
				t->letters++;
				t->upper += upper;
			}
			if (t->wlen + ulen > WORD_MAX) {
				t->wlong = true;
			} else if (f < 0x80) {
				t->word[t->wlen++] = (unsigned char)f;
			} else if (f == cp) {
				memcpy(t->word + t->wlen, utf8, ulen);
				t->wlen += ulen;
			} else {
				/* Folded letters of U+00C0-U+042F stay 2 bytes in UTF-8. */
				t->word[t->wlen++] = (unsigned char)(0xc0 | f >> 6);
				t->word[t->wlen++] = (unsigned char)(0x80 | (f & 0x3f));
			}
		} else {
			word_end(c, t);
		}
	}
	t->ring = t->ring << 16 | (f & 0xffff);
	if (t->nchars < 4)
		t->nchars++;
	if (t->nchars == 4 && t->ns_gram)
		content_add(c, hm_fhash64(&c->key, t->ns_gram, t->ring));
}

/* Feed UTF-8 text (the decoder never cuts a character). */
void content_stream_text(struct hm_content *c, struct textstream *t, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		uint32_t cp = *p;
		size_t n = 1;

		if (cp >= 0xc0) {
			n = cp >= 0xf0 ? 4 : cp >= 0xe0 ? 3 : 2;
			if ((size_t)(end - p) < n) {
				n = 1;
			} else {
				cp &= 0x3f >> (n - 1);
				for (size_t i = 1; i < n; i++)
					cp = cp << 6 | (p[i] & 0x3f);
			}
		}
		stream_char(c, t, cp, p, n);
		p += n;
	}
}

