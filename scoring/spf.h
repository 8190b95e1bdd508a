/*
 * spf.h - the SPF check (RFC 7208) on the MAIL FROM or HELO identity.
 *
 * One struct hm_spf per process, created once with the resolver and shared
 * by all threads: libspf2's server object is only read during a check, the
 * state of a check (lookup counters, the first error) lives in the calling
 * thread, and every DNS query goes through scoring/dns.h.  hm_spf_check()
 * may be called from any number of threads at once.
 *
 * What libspf2 gets wrong is corrected here (see spf.c): records are
 * checked against the RFC 7208 ABNF before libspf2 compiles them
 * (spf-record.h), the limits of RFC 7208 4.6.4 (10 DNS-querying terms
 * across includes and redirects, 2 void lookups, 10 MX names, 10 PTR
 * names) are enforced in the DNS layer, and a record is looked up as TXT
 * only.
 *
 * Ownership: hm_spf_new() keeps a pointer to the resolver, which must
 * outlive the struct hm_spf.
 */
#ifndef HM_SPF_H
#define HM_SPF_H

#include <stddef.h>

#include "scoring/dns.h"
#include "scoring/results.h"

struct hm_spf;

/*
 * receiver: our host name (the %{r} macro); NULL means gethostname().
 * 0 and the checker in *spf_r, or -1 with the reason in err.
 */
int hm_spf_new(struct hm_dns *dns, const char *receiver, struct hm_spf **spf_r,
	       char *err, size_t errlen);
void hm_spf_free(struct hm_spf **spf);

/*
 * Check client_ip (IPv4 or IPv6 text; IPv4-mapped IPv6 counts as IPv4)
 * against the SPF record of mail_from, the MAIL FROM argument as the MTA
 * gives it (with or without <>).  The null sender ("", "<>", NULL) checks
 * the HELO identity instead (postmaster@helo).  A MAIL FROM without '@' or
 * with an empty local-part is checked as postmaster@domain; an identity
 * whose domain is not a usable FQDN gives "none".
 *
 * Always fills *out (every field, result included).  Returns 0, or -1 on
 * an internal failure (out of memory), reported as temperror.
 */
int hm_spf_check(struct hm_spf *spf, const char *client_ip, const char *helo,
		 const char *mail_from, struct hm_spf_outcome *out);

#endif
