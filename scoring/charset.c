/*
 * charset.c - streaming conversion to UTF-8 (built-in for UTF-8, ASCII,
 * latin-1 and windows-1252; iconv for the rest), with the lenient
 * fallbacks described in charset.h.
 */
#include "config.h"

#include <errno.h>
#include <iconv.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "scoring/charset.h"

#define OUT_MAX 8192
#define CARRY_MAX 32			/* longer "incomplete" input is invalid */

/* windows-1252 0x80-0x9f; the five holes map to the C1 controls (WHATWG). */
static const unsigned short w1252_c1[32] = {
	0x20ac, 0x0081, 0x201a, 0x0192, 0x201e, 0x2026, 0x2020, 0x2021,
	0x02c6, 0x2030, 0x0160, 0x2039, 0x0152, 0x008d, 0x017d, 0x008f,
	0x0090, 0x2018, 0x2019, 0x201c, 0x201d, 0x2022, 0x2013, 0x2014,
	0x02dc, 0x2122, 0x0161, 0x203a, 0x0153, 0x009d, 0x017e, 0x0178,
};

unsigned long hm_w1252(unsigned char b)
{
	return b >= 0x80 && b < 0xa0 ? w1252_c1[b - 0x80] : b;
}

size_t hm_utf8_put(unsigned long c, char *out)
{
	if (c < 0x80) {
		out[0] = (char)c;
		return 1;
	}
	if (c < 0x800) {
		out[0] = (char)(0xc0 | c >> 6);
		out[1] = (char)(0x80 | (c & 0x3f));
		return 2;
	}
	if (c < 0x10000) {
		out[0] = (char)(0xe0 | c >> 12);
		out[1] = (char)(0x80 | (c >> 6 & 0x3f));
		out[2] = (char)(0x80 | (c & 0x3f));
		return 3;
	}
	out[0] = (char)(0xf0 | c >> 18);
	out[1] = (char)(0x80 | (c >> 12 & 0x3f));
	out[2] = (char)(0x80 | (c >> 6 & 0x3f));
	out[3] = (char)(0x80 | (c & 0x3f));
	return 4;
}

/*
 * The sequence at s: its length when valid UTF-8 (no overlong form, no
 * surrogate, at most U+10FFFF), 0 when invalid, -1 when valid so far but
 * cut by the end of the input.
 */
static inline int utf8_check(const unsigned char *s, size_t n)
{
	unsigned char c = s[0], lo = 0x80, hi = 0xbf;
	int len;

	if (c < 0x80)
		return 1;
	/* The common case first: a two-byte character (Latin, Cyrillic, Greek...). */
	if (c >= 0xc2 && c < 0xe0 && n >= 2 && (s[1] & 0xc0) == 0x80)
		return 2;
	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		len = 2;
	} else if (c < 0xf0) {
		len = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		len = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	for (int i = 1; i < len; i++) {
		if ((size_t)i >= n)
			return -1;
		if (s[i] < lo || s[i] > hi)
			return 0;
		lo = 0x80;
		hi = 0xbf;
	}
	return len;
}

size_t hm_utf8_seq(const unsigned char *s, size_t n)
{
	int r = n > 0 ? utf8_check(s, n) : 0;

	return r > 0 ? (size_t)r : 0;
}

/* How many bytes at s are ASCII: eight at a time, as text is mostly ASCII. */
static size_t ascii_run(const unsigned char *s, size_t n)
{
	size_t i = 0;

	for (; i + 8 <= n; i += 8) {
		uint64_t w;

		memcpy(&w, s + i, 8);
		if (w & 0x8080808080808080ull)
			break;
	}
	while (i < n && s[i] < 0x80)
		i++;
	return i;
}

/* Output collected in a local buffer and passed on in whole characters. */
struct outbuf {
	char b[OUT_MAX];
	size_t len;
	struct hm_charset *cs;
};

/*
 * iconv's output is checked, not trusted: glibc opens odd names (it drops
 * punctuation, so "utf-\xf88" is UTF-8) and its UTF-8 decoder lets
 * sequences past U+10FFFF through.  Each invalid byte becomes U+FFFD.
 */
static void out_checked(struct hm_charset *cs, const char *b, size_t n)
{
	const unsigned char *s = (const unsigned char *)b;
	size_t i = 0, start = 0;

	while (i < n) {
		int r;

		i += ascii_run(s + i, n - i);
		if (i == n)
			break;
		r = utf8_check(s + i, n - i);
		if (r > 0) {
			i += (size_t)r;
			continue;
		}
		if (i > start)
			cs->out(cs->arg, b + start, i - start);
		cs->out(cs->arg, "\xef\xbf\xbd", 3);
		cs->bad = true;
		start = ++i;
	}
	if (n > start)
		cs->out(cs->arg, b + start, n - start);
}

static void out_flush(struct outbuf *o)
{
	if (o->len > 0 && o->cs->kind == HM_CS_ICONV)
		out_checked(o->cs, o->b, o->len);
	else if (o->len > 0)
		o->cs->out(o->cs->arg, o->b, o->len);
	o->len = 0;
}

static void out_cp(struct outbuf *o, unsigned long c)
{
	if (o->len + 4 > sizeof(o->b))
		out_flush(o);
	o->len += hm_utf8_put(c, o->b + o->len);
}

static void out_bytes(struct outbuf *o, const unsigned char *s, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(o->b) - o->len;

		if (k > n)
			k = n;
		memcpy(o->b + o->len, s, k);
		o->len += k;
		s += k;
		n -= k;
		if (n > 0)
			out_flush(o);
	}
}

/*
 * Lenient UTF-8 (see charset.h); the bytes consumed.  Valid spans go to the
 * callback straight from the input, without a copy; each invalid byte is
 * read as windows-1252.
 */
static size_t conv_utf8(struct hm_charset *cs, struct outbuf *o, const unsigned char *s,
			size_t n, bool final)
{
	size_t i = 0, start = 0;

	out_flush(o);
	while (i < n) {
		int r;

		i += ascii_run(s + i, n - i);
		if (i == n)
			break;
		r = utf8_check(s + i, n - i);
		if (r > 0) {
			i += (size_t)r;
			continue;
		}
		if (r < 0 && !final)
			break;
		cs->bad = true;
		if (i > start)
			cs->out(cs->arg, (const char *)s + start, i - start);
		out_cp(o, hm_w1252(s[i]));
		out_flush(o);
		start = ++i;
	}
	if (i > start)
		cs->out(cs->arg, (const char *)s + start, i - start);
	return i;
}

static size_t conv_w1252(struct outbuf *o, const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		size_t j = i + ascii_run(s + i, n - i);

		out_bytes(o, s + i, j - i);
		if (j < n)
			out_cp(o, hm_w1252(s[j++]));
		i = j;
	}
	return n;
}

static size_t conv_iconv(struct hm_charset *cs, struct outbuf *o, const unsigned char *s,
			 size_t n, bool final)
{
	char *in = (char *)(uintptr_t)s;
	size_t inleft = n;

	while (inleft > 0) {
		char *op = o->b + o->len;
		size_t oleft = sizeof(o->b) - o->len;
		size_t r = iconv((iconv_t)cs->cd, &in, &inleft, &op, &oleft);

		o->len = sizeof(o->b) - oleft;
		if (r != (size_t)-1)
			break;
		if (errno == E2BIG) {
			out_flush(o);
		} else if (errno == EINVAL && !final && inleft <= CARRY_MAX) {
			break;		/* cut sequence: carried to the next piece */
		} else {
			/* Invalid (or cut at the very end): one byte replaced. */
			cs->bad = true;
			out_cp(o, 0xfffd);
			in++;
			inleft--;
		}
	}
	if (final) {
		char *op = o->b + o->len;
		size_t oleft = sizeof(o->b) - o->len;

		/* Stateful charsets may have a shift sequence to close. */
		if (oleft < 16) {
			out_flush(o);
			op = o->b;
			oleft = sizeof(o->b);
		}
		(void)iconv((iconv_t)cs->cd, NULL, NULL, &op, &oleft);
		o->len = sizeof(o->b) - oleft;
	}
	return n - inleft;
}

static size_t convert(struct hm_charset *cs, const unsigned char *s, size_t n, bool final)
{
	struct outbuf o;
	size_t used;

	o.len = 0;
	o.cs = cs;
	switch (cs->kind) {
	case HM_CS_W1252:
		used = conv_w1252(&o, s, n);
		break;
	case HM_CS_ICONV:
		used = conv_iconv(cs, &o, s, n, final);
		break;
	default:
		used = conv_utf8(cs, &o, s, n, final);
		break;
	}
	out_flush(&o);
	return used;
}

void hm_charset_init(struct hm_charset *cs, hm_cs_out_fn *out, void *arg)
{
	memset(cs, 0, sizeof(*cs));
	cs->cd = (void *)(iconv_t)-1;
	cs->out = out;
	cs->arg = arg;
}

void hm_charset_close(struct hm_charset *cs)
{
	if ((iconv_t)cs->cd != (iconv_t)-1)
		iconv_close((iconv_t)cs->cd);
	cs->cd = (void *)(iconv_t)-1;
	cs->cd_name[0] = '\0';
	cs->inlen = 0;
}

/* Names senders use for what they mean, and the names iconv knows them by. */
static const struct {
	const char *name, *as;		/* as: "" for lenient UTF-8, "1252" built in */
} aliases[] = {
	{ "utf-8", "" }, { "utf8", "" }, { "us-ascii", "" }, { "ascii", "" },
	{ "ansi_x3.4-1968", "" }, { "iso646-us", "" }, { "us", "" }, { "default", "" },
	{ "unknown-8bit", "" }, { "unknown", "" }, { "x-unknown", "" },
	{ "x-user-defined", "" }, { "charset", "" }, { "none", "" },
	{ "iso-8859-1", "1252" }, { "iso8859-1", "1252" }, { "iso_8859-1", "1252" },
	{ "iso-8859-1:1987", "1252" }, { "latin1", "1252" }, { "latin-1", "1252" },
	{ "l1", "1252" }, { "windows-1252", "1252" }, { "cp1252", "1252" },
	{ "x-cp1252", "1252" }, { "win-1252", "1252" }, { "cp819", "1252" },
	{ "ks_c_5601-1987", "CP949" }, { "ks_c_5601", "CP949" }, { "euc-kr", "CP949" },
	{ "x-windows-949", "CP949" }, { "gb2312", "GB18030" }, { "gbk", "GB18030" },
	{ "x-gbk", "GB18030" }, { "gb_2312-80", "GB18030" }, { "chinese", "GB18030" },
	{ "shift_jis", "CP932" }, { "shift-jis", "CP932" }, { "x-sjis", "CP932" },
	{ "sjis", "CP932" }, { "windows-31j", "CP932" }, { "big5", "BIG5-HKSCS" },
	{ "iso-8859-8-i", "ISO-8859-8" }, { "iso-8859-6-i", "ISO-8859-6" },
	{ "windows-874", "CP874" }, { "tis-620", "CP874" }, { "iso-8859-11", "CP874" },
	{ "iso-8859-9", "CP1254" }, { "unicode-1-1-utf-7", "UTF-7" },
	{ "x-mac-roman", "MACINTOSH" }, { "ks_c_5601-1989", "CP949" },
};

void hm_charset_start(struct hm_charset *cs, const char *name)
{
	char lc[HM_CHARSET_NAME_MAX];
	const char *as = NULL;
	size_t n = 0;

	cs->inlen = 0;
	cs->unknown = false;
	cs->kind = HM_CS_UTF8;
	if (name == NULL)
		return;
	while (*name == ' ' || *name == '\t' || *name == '"' || *name == '\'')
		name++;
	for (; *name != '\0' && *name != '"' && *name != '\'' && *name != ' ' &&
	       *name != '\t' && *name != ';' && n + 1 < sizeof(lc); name++)
		lc[n++] = (char)((*name >= 'A' && *name <= 'Z') ? *name + 32 : *name);
	lc[n] = '\0';
	if (n == 0)
		return;
	for (size_t i = 0; i < sizeof(aliases) / sizeof(aliases[0]); i++)
		if (strcmp(lc, aliases[i].name) == 0) {
			as = aliases[i].as;
			break;
		}
	if (as != NULL && as[0] == '\0')
		return;
	if (as != NULL && strcmp(as, "1252") == 0) {
		cs->kind = HM_CS_W1252;
		return;
	}
	if (as == NULL)
		as = lc;
	if ((iconv_t)cs->cd != (iconv_t)-1 && strcmp(cs->cd_name, as) == 0) {
		(void)iconv((iconv_t)cs->cd, NULL, NULL, NULL, NULL);	/* initial state */
		cs->kind = HM_CS_ICONV;
		return;
	}
	hm_charset_close(cs);
	cs->cd = (void *)iconv_open("UTF-8", as);
	if ((iconv_t)cs->cd == (iconv_t)-1) {
		/* "x-foo", "foo_charset" (seen in spam): try "foo" once. */
		char *p;

		if (as == lc && ((p = strstr(lc, "_charset")) != NULL ||
				 (p = strstr(lc, "-charset")) != NULL)) {
			*p = '\0';
			hm_charset_start(cs, lc);
			cs->unknown = true;
			return;
		}
		if (as == lc && strncmp(lc, "x-", 2) == 0 && lc[2] != '\0') {
			hm_charset_start(cs, lc + 2);
			cs->unknown = true;
			return;
		}
		cs->unknown = true;	/* lenient UTF-8 / windows-1252 */
		return;
	}
	snprintf(cs->cd_name, sizeof(cs->cd_name), "%s", as);
	cs->kind = HM_CS_ICONV;
}

void hm_charset_feed(struct hm_charset *cs, const unsigned char *s, size_t n)
{
	/*
	 * iconv costs a call per piece whatever its size, and pieces are lines:
	 * its input is gathered and converted a buffer at a time.
	 */
	if (cs->kind == HM_CS_ICONV && n < sizeof(cs->in) - cs->inlen) {
		memcpy(cs->in + cs->inlen, s, n);
		cs->inlen += n;
		return;
	}
	while (n > 0) {
		size_t used, take;

		if (cs->inlen == 0) {
			used = convert(cs, s, n, false);
			s += used;
			n -= used;
			/* What is left is a cut sequence (a few bytes): carry it. */
			take = n < sizeof(cs->in) ? n : sizeof(cs->in);
			memcpy(cs->in, s, take);
			cs->inlen = take;
			s += take;
			n -= take;
			continue;
		}
		take = sizeof(cs->in) - cs->inlen;
		if (take > n)
			take = n;
		memcpy(cs->in + cs->inlen, s, take);
		cs->inlen += take;
		s += take;
		n -= take;
		used = convert(cs, cs->in, cs->inlen, false);
		memmove(cs->in, cs->in + used, cs->inlen - used);
		cs->inlen -= used;
		if (used == 0 && cs->inlen == sizeof(cs->in)) {
			/* Cannot happen with a sane converter; never loop on it. */
			(void)convert(cs, cs->in, cs->inlen, true);
			cs->inlen = 0;
		}
	}
}

void hm_charset_flush(struct hm_charset *cs)
{
	if (cs->inlen > 0 || cs->kind == HM_CS_ICONV)
		(void)convert(cs, cs->in, cs->inlen, true);
	cs->inlen = 0;
}

struct collect {
	char *out;
	size_t len, max;
};

static void collect_out(void *arg, const char *s, size_t n)
{
	struct collect *c = arg;
	bool cut = false;

	if (n > c->max - c->len) {
		/* Cut at a whole character; nothing goes after a cut. */
		n = c->max - c->len;
		while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
			n--;
		cut = true;
	}
	memcpy(c->out + c->len, s, n);
	c->len += n;
	if (cut)
		c->max = c->len;
}

size_t hm_charset_convert(struct hm_charset *cs, const char *name,
			  const unsigned char *s, size_t n, char *out, size_t outmax)
{
	struct collect c = { out, 0, outmax };
	hm_cs_out_fn *save_out = cs->out;
	void *save_arg = cs->arg;

	cs->out = collect_out;
	cs->arg = &c;
	hm_charset_start(cs, name);
	hm_charset_feed(cs, s, n);
	hm_charset_flush(cs);
	cs->out = save_out;
	cs->arg = save_arg;
	return c.len;
}
