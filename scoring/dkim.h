/*
 * dkim.h - DKIM verification (RFC 6376) with libopendkim, streamed.
 *
 * One struct hm_dkim per process (one DKIM_LIB), shared by every thread;
 * one struct hm_dkim_verify per message, used by one thread at a time.
 * Every key lookup goes through the process's hm_dns resolver (libopendkim's
 * DNS hooks), never through the libc resolver.
 *
 * Per message, in the order the milter gets the data:
 *
 *	v = hm_dkim_verify_begin(dk, queue_id);
 *	hm_dkim_verify_header(v, name, value);	for each header, in order
 *	hm_dkim_verify_eoh(v);			starts the key lookups
 *	hm_dkim_verify_body(v, chunk, len);	any number, any chunk sizes
 *	hm_dkim_verify_finish(v, &outcome);	waits for the keys, verifies
 *	hm_dkim_verify_free(&v);		any time (aborted transactions)
 *
 * Header values are passed as libmilter hands them to a filter that
 * negotiated SMFIP_HDR_LEADSPC: everything after the colon, leading
 * whitespace included, folded lines joined with "\n" (Postfix, sendmail)
 * or "\r\n"; a bare "\n" is turned back into the "\r\n" of the message.
 * Without SMFIP_HDR_LEADSPC the MTA drops the space after the colon, and
 * signatures with simple header canonicalization cannot verify.  Body
 * chunks are the message body as the MTA sends it (CRLF line ends); they
 * are hashed as they come, never kept.
 *
 * At most HM_DKIM_MAX_SIGS signatures are checked and reported (one
 * hm_dkim_sig each, in header order), and together they may make the
 * library hash the body at most HM_DKIM_MAX_BODY_HASHES times (one hash per
 * distinct body canonicalization, hash algorithm and l=): what a message
 * costs does not grow with its signatures.  Chosen first: d= is the From
 * domain, then d= shares the From domain's last two labels, then the rest;
 * rsa-sha1 last; header order within each.  The others are ignored (not
 * parsed, no key lookup) and counted by hm_dkim_verify_ignored().  Results
 * (RFC 8601):
 *	pass	  the signature and body hash verified
 *	fail	  signature or body hash did not verify
 *	policy	  verified, but rsa-sha1 or an RSA key under 1024 bits (RFC 8301)
 *	neutral	  syntax error in the signature (missing or malformed tags)
 *	permerror no key (NXDOMAIN/NODATA), revoked or unusable key, expired
 *		  signature, From not signed, l= longer than the body
 *	temperror key lookup failed (SERVFAIL, time-out), internal error
 */
#ifndef HM_DKIM_H
#define HM_DKIM_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/dns.h"
#include "scoring/results.h"

/* Body hashes per message: relaxed and simple of one hash algorithm. */
#define HM_DKIM_MAX_BODY_HASHES 2

struct hm_dkim;
struct hm_dkim_verify;

struct hm_dkim_conf {
	long clock_drift;	/* seconds of slack for t= and x=; 0: 300 */
	unsigned min_key_bits;	/* RSA keys below this are "policy"; 0: 1024 */
};

/*
 * 0 and the verifier in *dk_r, or -1 with the reason in err.  dns must
 * outlive it; conf may be NULL (defaults).
 */
int hm_dkim_new(struct hm_dns *dns, const struct hm_dkim_conf *conf,
		struct hm_dkim **dk_r, char *err, size_t errlen);
/* Free the verifier (NULL allowed); no message may be in progress. */
void hm_dkim_free(struct hm_dkim **dk);
/* Whether the library verifies ed25519-sha256 (RFC 8463). */
bool hm_dkim_has_ed25519(const struct hm_dkim *dk);

/* A new message (id: for the library's own messages); NULL: out of memory. */
struct hm_dkim_verify *hm_dkim_verify_begin(struct hm_dkim *dk, const char *id);

/*
 * One header field.  0, or -1 when the header was not taken (too long, out
 * of memory, bad call order): signatures covering it will then not verify.
 */
int hm_dkim_verify_header(struct hm_dkim_verify *v, const char *name,
			  const char *value);
/* End of headers; starts the key lookups.  0, or -1 (internal error). */
int hm_dkim_verify_eoh(struct hm_dkim_verify *v);
/* A body chunk.  0, or -1 (internal error, or called out of order). */
int hm_dkim_verify_body(struct hm_dkim_verify *v, const unsigned char *chunk,
			size_t len);
/*
 * End of message: fills *out (nsigs 0 when unsigned).  Returns 0, or -1
 * when verification itself failed (then every reported signature is
 * temperror, the reason says why).  Waits at most the DNS time-out.
 */
int hm_dkim_verify_finish(struct hm_dkim_verify *v, struct hm_dkim_outcome *out);
/* Signatures not checked, past the limits above (valid after eoh). */
size_t hm_dkim_verify_ignored(const struct hm_dkim_verify *v);
/* Free a message's state (NULL allowed); sets *v to NULL. */
void hm_dkim_verify_free(struct hm_dkim_verify **v);

#endif
