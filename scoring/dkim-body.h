/*
 * dkim-body.h - the DKIM body hash (RFC 6376 3.4.3, 3.4.4, 3.7), streamed.
 *
 * One struct hm_dkim_bodyhash per (body canonicalization, hash algorithm)
 * a message's signatures need; the body goes through it in chunks of any
 * size, is canonicalized on the fly and hashed, never kept:
 *
 *	h = hm_dkim_bodyhash_new(HM_DKIM_BODY_RELAXED, HM_DKIM_BODY_SHA256);
 *	hm_dkim_bodyhash_update(h, chunk, len);		any number
 *	hm_dkim_bodyhash_final(h, b64, sizeof(b64));	the bh= value
 *	hm_dkim_bodyhash_free(&h);
 *
 * The result is byte for byte what libopendkim computes for the same body
 * fed to it in one piece, for every body whose line feeds all follow a
 * carriage return (the MTA hands a milter CRLF lines, bare CRs allowed),
 * including libopendkim's ways with odd input, so a signature verifies
 * here exactly when it would there:
 *	simple	  a line of nothing but CRs counts as an empty line; a last
 *		  line without CRLF loses one trailing CR and gets a CRLF
 *	relaxed	  a CR not followed by LF is dropped (with the whitespace
 *		  just before it), though of CRs in a row the later ones
 *		  stay; a body whose last line ends in text with no CRLF is
 *		  flagged (hm_dkim_bodyhash_unterminated()): libopendkim
 *		  refuses such a message ("CRLF at end of body missing")
 * A bare LF (never sent by an MTA) is an ordinary character here.
 * The result does not depend on where the chunks are cut.
 * tests/test-dkim-body.c checks all this against libopendkim.
 */
#ifndef HM_DKIM_BODY_H
#define HM_DKIM_BODY_H

#include <stdbool.h>
#include <stddef.h>

enum hm_dkim_body_canon { HM_DKIM_BODY_SIMPLE, HM_DKIM_BODY_RELAXED };
enum hm_dkim_body_alg { HM_DKIM_BODY_SHA1, HM_DKIM_BODY_SHA256 };

/* Base64 of a SHA-256 digest and its NUL. */
#define HM_DKIM_BODYHASH_B64_MAX 45

struct hm_dkim_bodyhash;

/* A new body hash; NULL: out of memory or no such digest in libcrypto. */
struct hm_dkim_bodyhash *hm_dkim_bodyhash_new(enum hm_dkim_body_canon canon,
					      enum hm_dkim_body_alg alg);

/* The next chunk of the body.  0, or -1 when the digest failed (final
 * then fails too). */
int hm_dkim_bodyhash_update(struct hm_dkim_bodyhash *h, const unsigned char *p,
			    size_t len);

/*
 * End of body: the hash in base64, as a bh= tag holds it, in b64 (at least
 * HM_DKIM_BODYHASH_B64_MAX bytes).  0, or -1 on a digest failure or after
 * an earlier one.  Call once.
 */
int hm_dkim_bodyhash_final(struct hm_dkim_bodyhash *h, char *b64, size_t b64len);

/* Relaxed: whether the body ended in text with no CRLF after it. */
bool hm_dkim_bodyhash_unterminated(const struct hm_dkim_bodyhash *h);

/* Free (NULL allowed). */
void hm_dkim_bodyhash_free(struct hm_dkim_bodyhash **h);

#endif
