/*
 * results.h - what the sender-authentication checks found.
 *
 * SPF (spf.c), DKIM (dkim.c) and DMARC (dmarc.c) each fill one of these;
 * the Authentication-Results formatter (authres.c), the score and the log
 * line read them.  Result names are RFC 8601's (hm_*_result_name()).
 * Strings are bounded copies made by the check; all are NUL-terminated and
 * may be empty.
 */
#ifndef HM_RESULTS_H
#define HM_RESULTS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/address.h"		/* HM_DOMAIN_MAX, HM_ADDR_MAX */

#define HM_REASON_MAX 160		/* short human-readable detail */
#define HM_DKIM_MAX_SIGS 16		/* signatures checked and reported */

enum hm_spf_result {
	HM_SPF_NONE,
	HM_SPF_NEUTRAL,
	HM_SPF_PASS,
	HM_SPF_FAIL,
	HM_SPF_SOFTFAIL,
	HM_SPF_TEMPERROR,
	HM_SPF_PERMERROR,
};

struct hm_spf_outcome {
	enum hm_spf_result result;
	bool helo_identity;		/* checked HELO (null sender), not MAIL FROM */
	char identity[HM_ADDR_MAX];	/* the MAIL FROM address or the HELO name */
	char domain[HM_DOMAIN_MAX];	/* the domain whose record was evaluated */
	char reason[HM_REASON_MAX];	/* e.g. "too many DNS lookups" */
};

enum hm_dkim_result {
	HM_DKIM_NONE,			/* no signature */
	HM_DKIM_PASS,
	HM_DKIM_FAIL,			/* signature or body hash did not verify */
	HM_DKIM_POLICY,			/* verified but not acceptable (e.g. rsa-sha1) */
	HM_DKIM_NEUTRAL,		/* syntax error in the signature, and like */
	HM_DKIM_TEMPERROR,		/* key lookup failed, try later */
	HM_DKIM_PERMERROR,		/* no key, revoked key, unusable signature */
};

struct hm_dkim_sig {
	enum hm_dkim_result result;
	char domain[HM_DOMAIN_MAX];	/* d= */
	char selector[64];		/* s= */
	char b[16];			/* first characters of b=, to tell signatures apart */
	char algorithm[32];		/* a=, e.g. "rsa-sha256" */
	char identity[HM_ADDR_MAX];	/* i=, may be empty */
	char reason[HM_REASON_MAX];
};

struct hm_dkim_outcome {
	size_t nsigs;			/* 0: no signature (result "none") */
	struct hm_dkim_sig sigs[HM_DKIM_MAX_SIGS];
};

enum hm_dmarc_result {
	HM_DMARC_NONE,
	HM_DMARC_PASS,
	HM_DMARC_FAIL,
	HM_DMARC_TEMPERROR,
	HM_DMARC_PERMERROR,
};

enum hm_dmarc_policy {
	HM_DMARC_POLICY_UNSET,		/* no record */
	HM_DMARC_POLICY_NONE,
	HM_DMARC_POLICY_QUARANTINE,
	HM_DMARC_POLICY_REJECT,
};

struct hm_dmarc_outcome {
	enum hm_dmarc_result result;
	enum hm_dmarc_policy policy;	/* p= (or sp= for a subdomain) that applies */
	enum hm_dmarc_policy disposition; /* what the policy asks for this message, after pct= */
	char from_domain[HM_DOMAIN_MAX];	/* RFC5322.From domain */
	char org_domain[HM_DOMAIN_MAX];	/* its organizational domain (PSL) */
	bool spf_aligned, dkim_aligned;
	char reason[HM_REASON_MAX];
};

const char *hm_spf_result_name(enum hm_spf_result r);
const char *hm_dkim_result_name(enum hm_dkim_result r);
const char *hm_dmarc_result_name(enum hm_dmarc_result r);
const char *hm_dmarc_policy_name(enum hm_dmarc_policy p);

#endif
