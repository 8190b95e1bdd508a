/*
 * mimehdr.h - the MIME header fields a decoder needs: Content-Type (type,
 * charset, boundary, name), Content-Transfer-Encoding, Content-Disposition
 * (filename), with RFC 2231 parameter continuations; and the display names
 * of an address list (From).
 *
 * Values come from the wire: any bytes, folded or not, possibly broken.
 * Everything is bounded and nothing fails: a field that does not parse
 * leaves the defaults.
 */
#ifndef HM_MIMEHDR_H
#define HM_MIMEHDR_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/charset.h"

#define HM_MIME_TYPE_MAX 96		/* "type/subtype" and its NUL */
#define HM_BOUNDARY_MAX 512
#define HM_FNAME_MAX 256		/* the tail of a file name kept */
#define HM_EXT_MAX 12			/* an extension and its NUL */

enum hm_cte { HM_CTE_NONE, HM_CTE_B64, HM_CTE_QP, HM_CTE_OTHER };

struct hm_mimehdr_params {
	char charset[HM_CHARSET_NAME_MAX];
	char boundary[HM_BOUNDARY_MAX + 1];
	size_t boundary_len;		/* 0: none */
	bool boundary_long;		/* one was given, longer than HM_BOUNDARY_MAX */
	char fname[HM_FNAME_MAX];	/* name= or filename=, its last bytes */
	size_t fname_len;
};

/*
 * Content-Type: "type/subtype" lower-cased into type (HM_MIME_TYPE_MAX),
 * and the parameters into p (cleared first).  false when the value holds
 * no valid type/subtype (type is then left as it was, p is still filled).
 */
bool hm_mimehdr_ctype(const char *v, char *type, struct hm_mimehdr_params *p);

/* Content-Disposition: the filename parameter into p (cleared first). */
void hm_mimehdr_disposition(const char *v, struct hm_mimehdr_params *p);

enum hm_cte hm_mimehdr_cte(const char *v);

/* The extension of a file name: lower-case letters and digits, at most 10; "" when none. */
void hm_mimehdr_ext(const char *name, size_t n, char ext[HM_EXT_MAX]);

/*
 * The display names of an address list, in order, each as it is written
 * (quotes and quoted-pairs removed, encoded-words left for the caller to
 * decode): "A <a@x>, b@y (B)" gives "A", then "B".
 */
typedef void hm_name_fn(void *arg, const char *name, size_t n);
void hm_mimehdr_names(const char *v, hm_name_fn *fn, void *arg);

/* Header field names compared ignoring case. */
bool hm_mimehdr_is(const char *name, const char *want);

#endif
