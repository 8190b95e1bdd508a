/*
 * xfer.h - streaming decoders of the MIME content-transfer-encodings
 * (RFC 2045 base64 and quoted-printable) and of RFC 2047's "Q" form.
 *
 * Each decoder keeps its partial state (a base64 quantum, an "=" or "=X"
 * of quoted-printable) in a small struct, so input may be cut anywhere.
 * The caller gives an output buffer as each function says: decoding never
 * grows the data, except that quoted-printable puts back the newline of a
 * hard line break and the blanks it held back at the end of the previous
 * piece (they are padding if the line ends there).  Bad input is decoded
 * leniently (characters outside the alphabet skipped, a stray "=" kept as
 * it is) and reported through *bad; nothing fails.  No allocation.
 */
#ifndef HM_XFER_H
#define HM_XFER_H

#include <stdbool.h>
#include <stddef.h>

struct hm_b64 {
	unsigned bits;			/* pending bits, nbits of them */
	unsigned nbits;
};

struct hm_qp {
	unsigned char pend[2];		/* "=" or "=X" waiting for the rest */
	unsigned npend;
	unsigned char blanks[32];	/* blanks ending a piece: padding if the line ends */
	unsigned nblanks;
};

void hm_b64_init(struct hm_b64 *b);
/* Decode n bytes into out (room for n bytes); the bytes written. */
size_t hm_b64_decode(struct hm_b64 *b, const unsigned char *in, size_t n,
		     unsigned char *out, bool *bad);
/* End of data: a dangling quantum is noted as bad (its whole bytes were written). */
void hm_b64_finish(struct hm_b64 *b, bool *bad);

void hm_qp_init(struct hm_qp *q);
/*
 * Decode one piece of a line (without its line break) into out (room for
 * n + 35 bytes); eol says the line ends after it: a hard line break gives
 * "\n", a soft one ("=" at the end, trailing blanks allowed) nothing.
 */
size_t hm_qp_decode(struct hm_qp *q, const unsigned char *in, size_t n, bool eol,
		    unsigned char *out, bool *bad);
/* End of data: what is pending goes out as it was (room for 34 bytes). */
size_t hm_qp_finish(struct hm_qp *q, unsigned char *out);

/* RFC 2047 "Q": "_" is a space, "=XX" a byte; n bytes in, at most n out. */
size_t hm_qword_decode(const char *in, size_t n, unsigned char *out);

/* The value of a hex digit, or -1. */
int hm_hexval(int c);

#endif
