/*
 * xfer.c - streaming base64 and quoted-printable decoding (RFC 2045), and
 * RFC 2047's Q encoding.  See xfer.h.
 */
#include "config.h"

#include <string.h>

#include "scoring/xfer.h"

/* 0-63 for the alphabet, 64 for "=", 65 for whitespace, 66 for the rest. */
static const unsigned char b64val[256] = {
#define X66 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66
	66, 66, 66, 66, 66, 66, 66, 66, 66, 65, 65, 66, 66, 65, 66, 66,
	X66,
	65, 66, 66, 66, 66, 66, 66, 66, 66, 66, 66, 62, 66, 66, 66, 63,
	52, 53, 54, 55, 56, 57, 58, 59, 60, 61, 66, 66, 66, 64, 66, 66,
	66, 0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14,
	15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 66, 66, 66, 66, 66,
	66, 26, 27, 28, 29, 30, 31, 32, 33, 34, 35, 36, 37, 38, 39, 40,
	41, 42, 43, 44, 45, 46, 47, 48, 49, 50, 51, 66, 66, 66, 66, 66,
	X66, X66, X66, X66, X66, X66, X66, X66
#undef X66
};

int hm_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

void hm_b64_init(struct hm_b64 *b)
{
	b->bits = 0;
	b->nbits = 0;
}

size_t hm_b64_decode(struct hm_b64 *b, const unsigned char *in, size_t n,
		     unsigned char *out, bool *bad)
{
	unsigned bits = b->bits, nbits = b->nbits;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		unsigned v = b64val[in[i]];

		if (v < 64) {
			bits = (bits << 6) | v;
			nbits += 6;
			if (nbits >= 8) {
				nbits -= 8;
				out[o++] = (unsigned char)(bits >> nbits);
				bits &= (1u << nbits) - 1;
			}
		} else if (v == 64) {
			/*
			 * Padding ends a quantum: drop its spare bits, so that
			 * base64 glued after it (concatenated encoders) still
			 * decodes.  Six spare bits mean a lone character: bad.
			 */
			if (nbits == 6)
				*bad = true;
			bits = 0;
			nbits = 0;
		} else if (v == 66) {
			*bad = true;
		}
	}
	b->bits = bits;
	b->nbits = nbits;
	return o;
}

void hm_b64_finish(struct hm_b64 *b, bool *bad)
{
	/* 2 or 4 spare bits are what unpadded base64 leaves; 6 is a cut character. */
	if (b->nbits == 6)
		*bad = true;
	hm_b64_init(b);
}

void hm_qp_init(struct hm_qp *q)
{
	q->npend = 0;
	q->nblanks = 0;
}

size_t hm_qp_decode(struct hm_qp *q, const unsigned char *in, size_t n, bool eol,
		    unsigned char *out, bool *bad)
{
	size_t o = 0, i = 0;

	/* Blanks held back from the previous piece: trimmed below if the line ends. */
	memcpy(out, q->blanks, q->nblanks);
	o = q->nblanks;
	q->nblanks = 0;

	/* Finish an "=" or "=X" left by the previous piece. */
	while (q->npend > 0 && i < n) {
		if (q->npend == 1) {
			if (hm_hexval(in[i]) >= 0) {
				q->pend[1] = in[i++];
				q->npend = 2;
				continue;
			}
			if (in[i] == ' ' || in[i] == '\t') {
				/* "= " may be a soft break with trailing blanks: wait for more. */
				size_t j = i;

				while (j < n && (in[j] == ' ' || in[j] == '\t'))
					j++;
				if (j == n) {
					i = n;
					break;
				}
			}
			out[o++] = '=';
			*bad = true;
			q->npend = 0;
		} else {
			int hi = hm_hexval(q->pend[1]), lo = hm_hexval(in[i]);

			if (lo >= 0) {
				out[o++] = (unsigned char)(hi << 4 | lo);
				i++;
			} else {
				out[o++] = '=';
				out[o++] = q->pend[1];
				*bad = true;
			}
			q->npend = 0;
		}
	}

	while (i < n) {
		/* A byte loop: in encoded text "=" comes every few bytes. */
		while (i < n && in[i] != '=')
			out[o++] = in[i++];
		if (i == n)
			break;
		i++;
		if (i + 1 < n && hm_hexval(in[i]) >= 0 && hm_hexval(in[i + 1]) >= 0) {
			out[o++] = (unsigned char)(hm_hexval(in[i]) << 4 | hm_hexval(in[i + 1]));
			i += 2;
			continue;
		}
		/* "=" near the end of the piece: keep it for the next one. */
		size_t j = i;

		while (j < n && (in[j] == ' ' || in[j] == '\t'))
			j++;
		if (j == n) {
			q->pend[0] = '=';
			q->npend = 1;
			i = n;
			break;
		}
		if (i + 1 == n && hm_hexval(in[i]) >= 0) {
			q->pend[0] = '=';
			q->pend[1] = in[i];
			q->npend = 2;
			i = n;
			break;
		}
		out[o++] = '=';		/* "=" then something else: kept as it is */
		*bad = true;
	}

	if (!eol) {
		/* Trailing blanks wait: they are padding if the line ends next. */
		while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t') &&
		       q->nblanks < sizeof(q->blanks))
			q->blanks[q->nblanks++] = out[--o];
		return o;
	}
	if (eol) {
		if (q->npend == 1) {
			q->npend = 0;	/* soft line break */
		} else {
			if (q->npend == 2) {
				out[o++] = '=';
				out[o++] = q->pend[1];
				*bad = true;
				q->npend = 0;
			}
			/* Trailing blanks of an encoded line are padding (RFC 2045 6.7 (3)). */
			while (o > 0 && (out[o - 1] == ' ' || out[o - 1] == '\t'))
				o--;
			out[o++] = '\n';
		}
	}
	return o;
}

size_t hm_qp_finish(struct hm_qp *q, unsigned char *out)
{
	size_t o = 0;

	memcpy(out, q->blanks, q->nblanks);
	o = q->nblanks;
	q->nblanks = 0;
	if (q->npend > 0)
		out[o++] = '=';
	if (q->npend > 1)
		out[o++] = q->pend[1];
	q->npend = 0;
	return o;
}

size_t hm_qword_decode(const char *in, size_t n, unsigned char *out)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		if (in[i] == '_') {
			out[o++] = ' ';
		} else if (in[i] == '=' && i + 2 < n + 0 && hm_hexval(in[i + 1]) >= 0 &&
			   hm_hexval(in[i + 2]) >= 0) {
			out[o++] = (unsigned char)(hm_hexval(in[i + 1]) << 4 | hm_hexval(in[i + 2]));
			i += 2;
		} else {
			out[o++] = (unsigned char)in[i];
		}
	}
	return o;
}
