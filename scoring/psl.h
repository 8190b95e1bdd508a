/*
 * psl.h - the Public Suffix List and the organizational domain it gives
 * (RFC 7489 3.2), for DMARC.
 *
 * The list is read from the file format publicsuffix.org publishes (rules,
 * "!" exceptions, "*." wildcards, "//" comments, UTF-8 labels) into a hash
 * set of rules, each label in its A-label form (punycode), so lookups are
 * of ASCII names as DNS carries them.  A loaded list is immutable: any
 * number of threads may look up at once.
 */
#ifndef HM_PSL_H
#define HM_PSL_H

#include <stddef.h>

#define HM_PSL_DEFAULT "/usr/share/publicsuffix/public_suffix_list.dat"

struct hm_psl;

/* 0 and *psl_r, or -1 with the reason in err (no rules at all is one). */
int hm_psl_load(const char *path, struct hm_psl **psl_r, char *err, size_t errlen);
void hm_psl_free(struct hm_psl **psl);

/*
 * The organizational domain of domain (any case, a trailing dot allowed),
 * lower-case, no trailing dot: the public suffix plus one label, or domain
 * itself when it is a public suffix.  0, or -1 when it does not fit.
 */
int hm_psl_org_domain(const struct hm_psl *psl, const char *domain, char *out, size_t outlen);

#endif
