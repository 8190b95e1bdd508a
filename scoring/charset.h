/*
 * charset.h - streaming conversion of a declared charset to UTF-8.
 *
 * Text is fed in pieces cut anywhere; a multibyte sequence cut between two
 * pieces is carried over to the next.  The output, given to a callback in
 * blocks, is always valid UTF-8 made of whole characters.
 *
 * UTF-8, US-ASCII, ISO-8859-1 and windows-1252 (the bulk of mail) are
 * converted here without iconv; any other charset goes through iconv(3),
 * with the common mislabellings mapped to what senders meant (ks_c_5601-1987
 * is CP949, gb2312 is GBK, iso-8859-1 is windows-1252...).
 *
 * Text without a charset, labelled us-ascii or with a charset iconv does not
 * know is read as UTF-8 where it is valid UTF-8, and each byte that is not
 * as windows-1252: unlabelled 8-bit mail is nowadays mostly UTF-8, and the
 * rest mostly windows-1252/latin-1, whose accented letters almost never
 * form valid UTF-8 sequences; so nothing is dropped and nothing is
 * misread in practice.  Invalid bytes of declared UTF-8 are read the same
 * way; invalid input of an iconv charset becomes U+FFFD.
 */
#ifndef HM_CHARSET_H
#define HM_CHARSET_H

#include <stdbool.h>
#include <stddef.h>

#define HM_CHARSET_NAME_MAX 40

enum hm_cs_kind { HM_CS_UTF8, HM_CS_W1252, HM_CS_ICONV };

typedef void hm_cs_out_fn(void *arg, const char *s, size_t n);

struct hm_charset {
	enum hm_cs_kind kind;
	bool unknown;			/* a charset was named that we could not open */
	bool bad;			/* invalid input was met */
	void *cd;			/* iconv_t, kept open for the next part */
	char cd_name[HM_CHARSET_NAME_MAX];	/* what cd converts from */
	unsigned char in[2048];		/* input not yet converted */
	size_t inlen;
	hm_cs_out_fn *out;
	void *arg;
};

/* A converter with no iconv handle; output goes to out(arg, ...). */
void hm_charset_init(struct hm_charset *cs, hm_cs_out_fn *out, void *arg);

/*
 * Start a new text in charset name (any case, quotes allowed; NULL or ""
 * for none).  Pending input must have been flushed.  Never fails: an
 * unknown charset falls back (see above) and sets cs->unknown.
 */
void hm_charset_start(struct hm_charset *cs, const char *name);

void hm_charset_feed(struct hm_charset *cs, const unsigned char *s, size_t n);

/* End of the text: a cut sequence at the end is converted leniently. */
void hm_charset_flush(struct hm_charset *cs);

/* Close the iconv handle (the struct may then be reused with start). */
void hm_charset_close(struct hm_charset *cs);

/*
 * One-shot conversion of a short string (e.g. an RFC 2047 word) into
 * out (room for outmax bytes); the bytes written, cut at a whole character.
 * cs gives the cached iconv handle and is left flushed.
 */
size_t hm_charset_convert(struct hm_charset *cs, const char *name,
			  const unsigned char *s, size_t n, char *out, size_t outmax);

/* The length of the valid UTF-8 sequence at s (1-4), or 0 if none. */
size_t hm_utf8_seq(const unsigned char *s, size_t n);

/* Append the UTF-8 of code point c to out (room for 4); the bytes written. */
size_t hm_utf8_put(unsigned long c, char *out);

/* The Unicode code point of windows-1252 byte b. */
unsigned long hm_w1252(unsigned char b);

#endif
