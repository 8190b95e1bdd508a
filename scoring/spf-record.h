/*
 * spf-record.h - an SPF record's text before evaluation: the RFC 7208
 * grammar check, and the rewrite into what libspf2 evaluates correctly.
 *
 * spf.c looks a record up, checks it with hm_spf_record_valid(), rewrites
 * a valid one with hm_spf_rewrite() and gives the result to libspf2.
 */
#ifndef HM_SPF_RECORD_H
#define HM_SPF_RECORD_H

#include <stdbool.h>
#include <stddef.h>
#include <string.h>

#define HM_SPF_RECORD_MAX 8192	/* longer SPF records are not evaluated */

/*
 * Check an SPF record's text against the RFC 7208 ABNF (section 12) and
 * the rules of section 6 (redirect and exp at most once) and 7.1 (c, r, t
 * only in explanations).  0, or -1 with a short reason in err.
 */
int hm_spf_record_valid(const char *record, size_t len, char *err, size_t errlen);

/*
 * The bytes hm_spf_rewrite() may write for a record of len bytes: at most
 * 4 bytes out per byte in, plus a marker per term (4 bytes or more).
 */
#define HM_SPF_REWRITE_SIZE(len, marker) \
	(4 * (len) + ((len) / 4 + 1) * (strlen(marker) + 8) + 64)

/*
 * Rewrite the valid record text (len bytes, checked by
 * hm_spf_record_valid()) for libspf2 into out, NUL-terminated, for a
 * client of the family v6 says; marker is the suffix that marks an "a" or
 * "mx" target whose CIDR length is 0 (spf.c).  out holds
 * HM_SPF_REWRITE_SIZE(len, marker) bytes.
 */
void hm_spf_rewrite(const char *text, size_t len, bool v6, const char *marker, char *out);

#endif
