/*
 * dmarc.h - DMARC evaluation (RFC 7489) of one message.
 *
 * One struct hm_dmarc per process (per config generation): it holds the
 * Public Suffix List (organizational domains, RFC 7489 3.2) and the
 * resolver, is immutable after hm_dmarc_new() and may be shared by every
 * thread.  A reload builds a new one and frees the old one once no message
 * uses it: no libopendmarc global state depends on it (see dmarc.c).
 *
 * hm_dmarc_check() takes the From addresses (address.h), the SPF and DKIM
 * outcomes (results.h), looks the policy record up through the shared
 * resolver (_dmarc.<From domain>, else _dmarc.<organizational domain>; all
 * the lookups of a message run at once, so it waits at most one DNS
 * time-out however many From domains it has), has
 * libopendmarc parse it and pick p= or sp=, decides identifier alignment
 * (relaxed or strict, adkim= / aspf=), applies pct= and fills a
 * struct hm_dmarc_outcome.  It only reports the disposition the policy asks
 * for; whether to enforce p=reject is the caller's decision.
 *
 * Results: pass, fail (with p=/dis=), none (no usable record, or several),
 * temperror (DNS failure on the record, or an aligned identifier whose own
 * check failed temporarily), permerror (a record that does not parse, no
 * or unparseable From, an invalid From domain).
 */
#ifndef HM_DMARC_H
#define HM_DMARC_H

#include <stddef.h>

#include "util/address.h"
#include "scoring/dns.h"
#include "scoring/psl.h"
#include "scoring/results.h"

#define HM_DMARC_MAX_DOMAINS 8		/* distinct From domains evaluated */

struct hm_dmarc;

/*
 * Load the Public Suffix List from psl_path (NULL: HM_PSL_DEFAULT) and
 * keep dns (not owned; it must outlive the hm_dmarc).  0 and *dmarc_r, or
 * -1 with the reason in err.
 */
int hm_dmarc_new(struct hm_dns *dns, const char *psl_path, struct hm_dmarc **dmarc_r,
		 char *err, size_t errlen);
void hm_dmarc_free(struct hm_dmarc **dmarc);

/*
 * pct= sampling: fn(arg) returns a number in 0..99; a failing message is
 * subject to the policy when that number is below pct.  The default draws
 * from getrandom(2).  Set it before sharing the object (tests use it to be
 * deterministic).
 */
void hm_dmarc_set_sampler(struct hm_dmarc *dmarc, unsigned (*fn)(void *arg), void *arg);

/*
 * The organizational domain of domain (lower-case, no trailing dot) by the
 * Public Suffix List: the public suffix plus one label, or domain itself
 * when it is a public suffix.  0, or -1 when it does not fit.
 */
int hm_dmarc_org_domain(const struct hm_dmarc *dmarc, const char *domain,
			char *out, size_t outlen);

/*
 * Evaluate one message.  client_ip may be NULL (unix-socket client).  spf
 * and dkim may be NULL (check not done: nothing authenticated).  Returns 0
 * with *out filled (every result, errors included), or -1 on an internal
 * failure (out of memory, the library refusing a context): the caller
 * tempfails the message.
 */
int hm_dmarc_check(struct hm_dmarc *dmarc, const char *client_ip,
		   const struct hm_from_list *from, const struct hm_spf_outcome *spf,
		   const struct hm_dkim_outcome *dkim, struct hm_dmarc_outcome *out);

#endif
