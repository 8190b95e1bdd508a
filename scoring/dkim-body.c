/*
 * dkim-body.c - the DKIM body hash, streamed (see dkim-body.h).
 *
 * Why not leave it to libopendkim: it canonicalizes a byte at a time and
 * copies relaxed text into a growing string a byte at a time; on mail of
 * a few dozen KiB that was about half of all the CPU the milter spent.
 * Here runs of ordinary bytes are found with memchr() or a class table and
 * copied in one go into a staging buffer that the digest takes 8 KiB at a
 * time.
 *
 * Both canonicalizations are state machines over bytes; the only state
 * carried between chunks is a few counters, so any chunking gives the
 * same hash.  Empty lines are counted, not written, and written out only
 * when text follows them (trailing empty lines are dropped).
 */
#include "config.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>

#include "scoring/dkim-body.h"

#define STAGE_SIZE 8192

/* Relaxed: where in a line the last byte left us. */
enum rstate {
	R_START,	/* at the start of a line (or of the body) */
	R_WSP,		/* after whitespace that follows text or starts the line */
	R_CR,		/* after a CR */
	R_TEXT,		/* after text */
};

struct hm_dkim_bodyhash {
	EVP_MD_CTX *md;
	enum hm_dkim_body_canon canon;
	bool failed;		/* a digest call failed */
	uint64_t wrote;		/* canonical bytes hashed so far */
	uint64_t blanks;	/* empty lines not written yet */
	/* simple */
	uint64_t crs;		/* CRs not written yet (they may end the line) */
	bool line_text;		/* this line has a byte other than CR */
	/* relaxed */
	enum rstate rs;
	bool blank_line;	/* nothing but whitespace on this line so far */
	bool pending;		/* text since the last whitespace or line end */
	size_t staged;
	unsigned char stage[STAGE_SIZE];
};

/* Bytes that end a run of text in relaxed canonicalization. */
static const bool relaxed_stop[256] = { [' '] = true, ['\t'] = true, ['\r'] = true };

static void flush(struct hm_dkim_bodyhash *h)
{
	if (h->staged > 0 && EVP_DigestUpdate(h->md, h->stage, h->staged) != 1)
		h->failed = true;
	h->staged = 0;
}

static void emit(struct hm_dkim_bodyhash *h, const unsigned char *p, size_t n)
{
	h->wrote += n;
	if (n > STAGE_SIZE - h->staged) {
		flush(h);
		if (n >= STAGE_SIZE) {
			if (EVP_DigestUpdate(h->md, p, n) != 1)
				h->failed = true;
			return;
		}
	}
	memcpy(h->stage + h->staged, p, n);
	h->staged += n;
}

/* n copies of the same short sequence (CRLFs for empty lines, CRs). */
static void emit_repeat(struct hm_dkim_bodyhash *h, const char *seq, size_t seqlen,
			uint64_t n)
{
	for (; n > 0; n--)
		emit(h, (const unsigned char *)seq, seqlen);
}

static void flush_blanks(struct hm_dkim_bodyhash *h)
{
	emit_repeat(h, "\r\n", 2, h->blanks);
	h->blanks = 0;
}

struct hm_dkim_bodyhash *hm_dkim_bodyhash_new(enum hm_dkim_body_canon canon,
					      enum hm_dkim_body_alg alg)
{
	struct hm_dkim_bodyhash *h = calloc(1, sizeof(*h));

	if (h == NULL)
		return NULL;
	h->canon = canon;
	h->rs = R_START;
	h->blank_line = true;
	h->md = EVP_MD_CTX_new();
	if (h->md == NULL ||
	    EVP_DigestInit_ex(h->md, alg == HM_DKIM_BODY_SHA1 ? EVP_sha1() : EVP_sha256(),
			      NULL) != 1) {
		hm_dkim_bodyhash_free(&h);
		return NULL;
	}
	return h;
}

/*
 * Simple (3.4.3): lines as they are, empty lines at the end dropped.  CRs
 * are held back until the next byte says whether they end the line.
 */
static void update_simple(struct hm_dkim_bodyhash *h, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;

	while (p < end) {
		const unsigned char *cr;

		if (*p == '\r') {
			h->crs++;
			p++;
			continue;
		}
		if (*p == '\n' && h->crs > 0) {
			/* End of line; one with no text counts as empty. */
			if (h->line_text) {
				emit_repeat(h, "\r", 1, h->crs - 1);
				emit(h, (const unsigned char *)"\r\n", 2);
			} else {
				h->blanks++;
			}
			h->crs = 0;
			h->line_text = false;
			p++;
			continue;
		}
		if (!h->line_text) {
			flush_blanks(h);
			h->line_text = true;
		}
		emit_repeat(h, "\r", 1, h->crs);
		h->crs = 0;
		cr = memchr(p, '\r', (size_t)(end - p));
		if (cr == NULL)
			cr = end;
		emit(h, p, (size_t)(cr - p));
		p = cr;
	}
}

#define ONES 0x0101010101010101ull
#define HIGHS 0x8080808080808080ull

/*
 * The high bit of each byte of w equal to c.  Exact for the lowest such
 * byte; a byte above one may be flagged too (the borrow), which at worst
 * ends skip_prose() early.
 */
static inline uint64_t bytes_equal(uint64_t w, unsigned char c)
{
	uint64_t x = w ^ (ONES * c);

	return (x - ONES) & ~x & HIGHS;
}

/*
 * Eight bytes at a time, the start of a run that relaxed canonicalization
 * leaves as it is: text and single spaces between words.  Stops at or
 * before the first tab, CR, or space followed by whitespace or a CR (a
 * space in a word's last byte too: what follows is not looked at); the
 * byte loop in relaxed_text() takes it from there.
 */
static const unsigned char *skip_prose(const unsigned char *q, const unsigned char *end)
{
	while (end - q >= 8) {
		uint64_t w, tabcr, sp, ev;

		memcpy(&w, q, 8);
		if (__BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__)
			w = __builtin_bswap64(w);
		tabcr = bytes_equal(w, '\t') | bytes_equal(w, '\r');
		sp = bytes_equal(w, ' ');
		ev = tabcr | (sp & ((tabcr | sp) >> 8)) | (sp & 0x8000000000000000ull);
		if (ev != 0)
			return q + (__builtin_ctzll(ev) >> 3);
		q += 8;
	}
	return q;
}

/*
 * Text from p on, written, p moved past it: up to whitespace or a CR,
 * with single spaces between words taken along (already canonical), so
 * that a line of prose is one copy, not one per word.
 */
static const unsigned char *relaxed_text(struct hm_dkim_bodyhash *h, const unsigned char *p,
					 const unsigned char *end)
{
	const unsigned char *q = p;

	for (;;) {
		q = skip_prose(q, end);
		while (q < end && !relaxed_stop[*q])
			q++;
		if (end - q < 2 || q[0] != ' ' || relaxed_stop[q[1]])
			break;
		q++;
	}
	flush_blanks(h);
	emit(h, p, (size_t)(q - p));
	h->blank_line = false;
	h->pending = true;
	h->rs = R_TEXT;
	return q;
}

/*
 * Relaxed (3.4.4): whitespace runs become one SP, whitespace at line ends
 * goes, empty lines at the end are dropped.
 */
static void update_relaxed(struct hm_dkim_bodyhash *h, const unsigned char *p, size_t len)
{
	const unsigned char *end = p + len;

	while (p < end) {
		unsigned char c = *p;
		bool wsp = c == ' ' || c == '\t';

		switch (h->rs) {
		case R_START:
		case R_TEXT:
			if (wsp) {
				/* The text before is written: nothing pending. */
				h->pending = false;
				h->rs = R_WSP;
				p++;
			} else if (c == '\r') {
				h->rs = R_CR;
				p++;
			} else {
				p = relaxed_text(h, p, end);
			}
			break;
		case R_WSP:
			if (wsp) {
				p++;
			} else if (c == '\r') {
				h->rs = R_CR;
				p++;
			} else {
				flush_blanks(h);
				emit(h, (const unsigned char *)" ", 1);
				p = relaxed_text(h, p, end);
			}
			break;
		case R_CR:
			if (c == '\n') {
				if (h->blank_line) {
					h->blanks++;
				} else {
					emit(h, (const unsigned char *)"\r\n", 2);
					h->blank_line = true;
				}
				h->pending = false;
				h->rs = R_START;
				p++;
			} else if (c == '\r') {
				/* CRs in a row: the later ones are text. */
				flush_blanks(h);
				emit(h, p, 1);
				h->blank_line = false;
				h->pending = true;
				p++;
			} else if (wsp) {
				flush_blanks(h);
				h->pending = false;
				h->rs = R_WSP;
				p++;
			} else {
				p = relaxed_text(h, p, end);
			}
			break;
		}
	}
}

int hm_dkim_bodyhash_update(struct hm_dkim_bodyhash *h, const unsigned char *p,
			    size_t len)
{
	if (h->canon == HM_DKIM_BODY_SIMPLE)
		update_simple(h, p, len);
	else
		update_relaxed(h, p, len);
	return h->failed ? -1 : 0;
}

int hm_dkim_bodyhash_final(struct hm_dkim_bodyhash *h, char *b64, size_t b64len)
{
	unsigned char digest[EVP_MAX_MD_SIZE];
	unsigned int dlen = 0;

	if (h->canon == HM_DKIM_BODY_SIMPLE) {
		/*
		 * A last line without CRLF: less one trailing CR, and ended
		 * with CRLF if anything is left of it (a line of CRs only
		 * does not bring out the empty lines before it).  No body
		 * at all: CRLF.
		 */
		if (h->crs > 1)
			emit_repeat(h, "\r", 1, h->crs - 1);
		if (h->line_text || h->crs > 1 || h->wrote == 0)
			emit(h, (const unsigned char *)"\r\n", 2);
		h->crs = 0;
	}
	flush(h);
	if (h->failed || EVP_DigestFinal_ex(h->md, digest, &dlen) != 1 ||
	    b64len < 4 * ((dlen + 2) / 3) + 1) {
		h->failed = true;
		return -1;
	}
	EVP_EncodeBlock((unsigned char *)b64, digest, (int)dlen);
	return 0;
}

bool hm_dkim_bodyhash_unterminated(const struct hm_dkim_bodyhash *h)
{
	return h->canon == HM_DKIM_BODY_RELAXED && h->pending;
}

void hm_dkim_bodyhash_free(struct hm_dkim_bodyhash **hp)
{
	struct hm_dkim_bodyhash *h = *hp;

	if (h == NULL)
		return;
	EVP_MD_CTX_free(h->md);
	free(h);
	*hp = NULL;
}
