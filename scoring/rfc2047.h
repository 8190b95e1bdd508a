/*
 * rfc2047.h - header text to UTF-8: RFC 2047 encoded-words (B and Q, in any
 * charset) decoded, unfolded.
 *
 * Decoding is lenient, as mail readers are: encoded-words are recognised
 * anywhere (also inside quoted strings and glued to other text), the
 * whitespace between two adjacent encoded-words is dropped, and the bytes
 * of adjacent words in the same charset are joined before conversion, so
 * that a character an encoder split between two words comes out whole.
 * Text outside encoded-words may hold raw 8-bit bytes: it is read as UTF-8
 * where valid, else as windows-1252 (see charset.h).  A malformed word is
 * kept as it is.  Line breaks of folding are removed.
 */
#ifndef HM_RFC2047_H
#define HM_RFC2047_H

#include <stddef.h>

#include "scoring/charset.h"

/*
 * Decode in (n bytes) into out (room for outmax bytes, not NUL-terminated),
 * cut at a whole character when it does not fit; the bytes written.  cs is
 * a converter used for the conversions (its callback is left as it was).
 */
size_t hm_rfc2047_decode(struct hm_charset *cs, const char *in, size_t n, char *out,
			 size_t outmax);

#endif
