/*
 * test-dmarc.c - DMARC evaluation (scoring/dmarc.c) against the test DNS
 * server, with hand-built SPF and DKIM outcomes, and the organizational
 * domain from the real Public Suffix List (Debian package publicsuffix).
 *
 * Run by tests/dmarc.test, which starts tests/dns-server.py on
 * tests/data/dmarc/dmarc.zone and passes its address in HM_TEST_DNS
 * ("127.0.0.1@PORT").  One table row per scenario; a failing row prints
 * what it expected and what it got.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "util/address.h"
#include "scoring/dmarc.h"

#define TIMEOUT_MS 1500		/* dns.timeout */

static struct hm_dns *dns;
static struct hm_dmarc *dmarc;
static unsigned sample_value;

static unsigned fixed_sample(void *arg)
{
	return *(unsigned *)arg;
}

static int setup(void **state)
{
	const char *server = getenv("HM_TEST_DNS");
	const char *servers[1] = { server };
	struct hm_dns_conf conf = { servers, 1, NULL, TIMEOUT_MS };
	char err[256];

	if (server == NULL) {
		fprintf(stderr, "HM_TEST_DNS is not set: run me through tests/dmarc.test\n");
		return -1;
	}
	if (hm_dns_new(&conf, &dns, err, sizeof(err)) < 0) {
		fprintf(stderr, "hm_dns_new: %s\n", err);
		return -1;
	}
	if (hm_dmarc_new(dns, NULL, &dmarc, err, sizeof(err)) < 0) {
		fprintf(stderr, "hm_dmarc_new: %s\n", err);
		return -1;
	}
	hm_dmarc_set_sampler(dmarc, fixed_sample, &sample_value);
	return 0;
}

static int teardown(void **state)
{
	hm_dmarc_free(&dmarc);
	hm_dmarc_free(&dmarc);	/* idempotent */
	hm_dns_free(&dns);
	return 0;
}

#define R_NONE HM_DMARC_NONE
#define R_PASS HM_DMARC_PASS
#define R_FAIL HM_DMARC_FAIL
#define R_TEMP HM_DMARC_TEMPERROR
#define R_PERM HM_DMARC_PERMERROR
#define P_UNSET HM_DMARC_POLICY_UNSET
#define P_NONE HM_DMARC_POLICY_NONE
#define P_QUAR HM_DMARC_POLICY_QUARANTINE
#define P_REJ HM_DMARC_POLICY_REJECT

struct sig {
	enum hm_dkim_result result;
	const char *domain;
};

static const struct dmarc_case {
	const char *name;
	const char *from;		/* From header value; NULL: no From header */
	enum hm_spf_result spf;
	const char *spf_domain;		/* NULL: SPF not run */
	struct sig sigs[3];		/* up to the first empty domain */
	unsigned sample;		/* what the pct= sampler returns */
	enum hm_dmarc_result result;
	enum hm_dmarc_policy policy, disposition;
	const char *from_domain, *org_domain;
	bool spf_aligned, dkim_aligned;
	const char *reason;		/* substring of the reason, or NULL */
} cases[] = {
	/* Which identifier passes. */
	{ "aligned SPF only", "a@reject.example.org", HM_SPF_PASS, "reject.example.org", {{ 0 }},
	  0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", true, false, NULL },
	{ "aligned DKIM only", "A <a@reject.example.org>", HM_SPF_FAIL, "example.net",
	  {{ HM_DKIM_PASS, "reject.example.org" }},
	  0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", false, true, NULL },
	{ "relaxed SPF: subdomain of the From domain", "a@example.net", HM_SPF_PASS, "mail.example.net",
	  {{ 0 }}, 0, R_PASS, P_REJ, P_NONE, "example.net", "example.net", true, false, NULL },
	{ "relaxed DKIM: parent of the From domain", "a@mail.example.net", HM_SPF_NONE, "",
	  {{ HM_DKIM_PASS, "example.net" }},
	  0, R_PASS, P_REJ, P_NONE, "mail.example.net", "example.net", false, true, NULL },
	{ "relaxed: sibling subdomains", "a@reject.example.org", HM_SPF_PASS, "bounces.example.org",
	  {{ 0 }}, 0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", true, false, NULL },
	{ "strict SPF: subdomain fails", "a@strict.example.org", HM_SPF_PASS, "mail.strict.example.org",
	  {{ 0 }}, 0, R_FAIL, P_REJ, P_REJ, "strict.example.org", "example.org", false, false, NULL },
	{ "strict DKIM: subdomain fails", "a@strict.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_PASS, "mail.strict.example.org" }},
	  0, R_FAIL, P_REJ, P_REJ, "strict.example.org", "example.org", false, false, NULL },
	{ "strict: exact DKIM domain passes", "a@strict.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_PASS, "Strict.Example.ORG" }},
	  0, R_PASS, P_REJ, P_NONE, "strict.example.org", "example.org", false, true, NULL },
	{ "unaligned passes fail", "a@reject.example.org", HM_SPF_PASS, "example.net",
	  {{ HM_DKIM_PASS, "example.com" }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "aligned DKIM fail plus unaligned pass", "a@reject.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_FAIL, "reject.example.org" }, { HM_DKIM_PASS, "example.com" }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "second DKIM signature aligned", "a@reject.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_PASS, "example.com" }, { HM_DKIM_PASS, "reject.example.org" }},
	  0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", false, true, NULL },
	{ "SPF softfail is no pass", "a@reject.example.org", HM_SPF_SOFTFAIL, "reject.example.org",
	  {{ 0 }}, 0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "SPF neutral is no pass", "a@reject.example.org", HM_SPF_NEUTRAL, "reject.example.org",
	  {{ 0 }}, 0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "DKIM rsa-sha1 (policy) is no pass", "a@reject.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_POLICY, "reject.example.org" }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "aligned SPF temperror", "a@reject.example.org", HM_SPF_TEMPERROR, "reject.example.org",
	  {{ 0 }}, 0, R_TEMP, P_REJ, P_NONE, "reject.example.org", "example.org", false, false,
	  "temporarily" },
	{ "aligned DKIM temperror", "a@reject.example.org", HM_SPF_FAIL, "reject.example.org",
	  {{ HM_DKIM_TEMPERROR, "reject.example.org" }},
	  0, R_TEMP, P_REJ, P_NONE, "reject.example.org", "example.org", false, false, NULL },
	{ "temperror does not hide a pass", "a@reject.example.org", HM_SPF_TEMPERROR,
	  "reject.example.org", {{ HM_DKIM_PASS, "reject.example.org" }},
	  0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", false, true, NULL },
	{ "no SPF, no DKIM", "a@reject.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },
	{ "case-insensitive domains", "A@REJECT.Example.ORG", HM_SPF_PASS, "REJECT.EXAMPLE.ORG",
	  {{ 0 }}, 0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", true, false, NULL },

	/* p= and its disposition. */
	{ "p=none", "a@pnone.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_NONE, P_NONE, "pnone.example.org", "example.org", false, false, NULL },
	{ "p=quarantine", "a@quar.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_QUAR, P_QUAR, "quar.example.org", "example.org", false, false, NULL },
	{ "p=reject", "a@reject.example.org", HM_SPF_FAIL, "reject.example.org", {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false, NULL },

	/* sp= and the organizational-domain fallback. */
	{ "org domain itself: p=", "a@example.com", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "example.com", "example.com", false, false, NULL },
	{ "subdomain: sp= from the org record", "a@nosub.example.com", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_QUAR, P_QUAR, "nosub.example.com", "example.com", false, false, NULL },
	{ "deep subdomain: sp=", "a@a.b.c.example.com", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_QUAR, P_QUAR, "a.b.c.example.com", "example.com", false, false, NULL },
	{ "org record: pass with relaxed SPF", "a@nosub.example.com", HM_SPF_PASS, "example.com",
	  {{ 0 }}, 0, R_PASS, P_QUAR, P_NONE, "nosub.example.com", "example.com", true, false, NULL },
	{ "subdomain without sp=: p= applies", "a@sub.example.net", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "sub.example.net", "example.net", false, false, NULL },
	{ "subdomain lookup SERVFAIL: no fallback", "a@orgfail.example.net", HM_SPF_NONE, NULL,
	  {{ 0 }}, 0, R_TEMP, P_UNSET, P_UNSET, "orgfail.example.net", "example.net", false, false,
	  "DNS error" },

	/* pct= */
	{ "pct=0 reject: quarantine", "a@pct0.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_QUAR, "pct0.example.org", "example.org", false, false, "pct=0" },
	{ "pct=0 quarantine: none", "a@pct0q.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_QUAR, P_NONE, "pct0q.example.org", "example.org", false, false, "pct=0" },
	{ "pct=100", "a@pct100.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  99, R_FAIL, P_REJ, P_REJ, "pct100.example.org", "example.org", false, false, NULL },
	{ "pct=50, sampled in", "a@pct50.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  49, R_FAIL, P_REJ, P_REJ, "pct50.example.org", "example.org", false, false, NULL },
	{ "pct=50, sampled out", "a@pct50.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  50, R_FAIL, P_REJ, P_QUAR, "pct50.example.org", "example.org", false, false, "pct=50" },
	{ "pct= does not touch a pass", "a@pct0.example.org", HM_SPF_PASS, "pct0.example.org",
	  {{ 0 }}, 99, R_PASS, P_REJ, P_NONE, "pct0.example.org", "example.org", true, false, NULL },

	/* Records: absent, unreachable, broken, several. */
	{ "no record", "a@none.example.org", HM_SPF_PASS, "none.example.org", {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "none.example.org", "example.org", true, false, "no DMARC" },
	{ "no record, domain does not exist", "a@nxdomain.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "nxdomain.example.org", "example.org", false, false, NULL },
	{ "SERVFAIL on the record", "a@servfail.example.org", HM_SPF_PASS, "servfail.example.org",
	  {{ 0 }}, 0, R_TEMP, P_UNSET, P_UNSET, "servfail.example.org", "example.org", true, false,
	  "DNS error" },
	{ "time-out on the record", "a@timeout.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_TEMP, P_UNSET, P_UNSET, "timeout.example.org", "example.org", false, false, NULL },
	{ "broken record: bad p=", "a@broken.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "broken.example.org", "example.org", false, false, "p=" },
	{ "broken record with rua: as p=none", "a@brokenrua.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_NONE, P_NONE, "brokenrua.example.org", "example.org", false, false,
	  "p=none" },
	{ "record without p=", "a@nop.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "nop.example.org", "example.org", false, false, "no p=" },
	{ "several records: none", "a@multi.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "multi.example.org", "example.org", false, false, "several" },
	{ "one DMARC record among other TXT", "a@mixed.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "mixed.example.org", "example.org", false, false, NULL },
	{ "v= not first: not a record", "a@notfirst.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "notfirst.example.org", "example.org", false, false, NULL },
	{ "v=dmarc1 (lower case): not a record", "a@lower.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "lower.example.org", "example.org", false, false, NULL },
	{ "invalid pct= and adkim= ignored", "a@badpct.example.org", HM_SPF_NONE, NULL,
	  {{ HM_DKIM_PASS, "mail.badpct.example.org" }},
	  0, R_PASS, P_REJ, P_NONE, "badpct.example.org", "example.org", false, true, NULL },
	{ "invalid pct= ignored: full policy", "a@badpct.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  99, R_FAIL, P_REJ, P_REJ, "badpct.example.org", "example.org", false, false, NULL },
	{ "np= ignored", "a@np.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_NONE, P_NONE, "np.example.org", "example.org", false, false, NULL },
	{ "white space around tags", "a@spaces.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_QUAR, P_QUAR, "spaces.example.org", "example.org", false, false, NULL },
	{ "record in two strings", "a@split.example.org", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "split.example.org", "example.org", false, false, NULL },

	/* Several, missing or unusable From addresses. */
	{ "two addresses, one domain", "a@reject.example.org, B <b@reject.example.org>",
	  HM_SPF_PASS, "reject.example.org", {{ 0 }},
	  0, R_PASS, P_REJ, P_NONE, "reject.example.org", "example.org", true, false, NULL },
	{ "two domains: the failing one is reported", "a@reject.example.org, b@foo.example.co.uk",
	  HM_SPF_PASS, "reject.example.org", {{ 0 }},
	  0, R_FAIL, P_NONE, P_NONE, "foo.example.co.uk", "example.co.uk", false, false,
	  "2 From domains" },
	{ "two domains: the strictest failure", "a@quar.example.org, b@reject.example.org",
	  HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "reject.example.org", "example.org", false, false,
	  "2 From domains" },
	{ "two domains: none beats pass", "a@reject.example.org, b@none.example.org",
	  HM_SPF_PASS, "reject.example.org", {{ HM_DKIM_PASS, "none.example.org" }},
	  0, R_NONE, P_UNSET, P_UNSET, "none.example.org", "example.org", true, true, NULL },
	{ "no From header", NULL, HM_SPF_PASS, "example.net", {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "", "", false, false, "no From" },
	{ "empty From group", "undisclosed-recipients:;", HM_SPF_PASS, "example.net", {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "", "", false, false, "no From" },
	{ "unparseable From", "Alice <alice@", HM_SPF_PASS, "example.net", {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "", "", false, false, "does not parse" },
	{ "From domain literal", "a@[192.0.2.1]", HM_SPF_PASS, "example.net", {{ 0 }},
	  0, R_PERM, P_UNSET, P_UNSET, "[192.0.2.1]", "", false, false, "not a domain" },

	/* A multi-label public suffix, with the real PSL. */
	{ "example.co.uk is an org domain", "a@example.co.uk", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_FAIL, P_REJ, P_REJ, "example.co.uk", "example.co.uk", false, false, NULL },
	{ "foo.example.co.uk: org example.co.uk, sp=", "a@foo.example.co.uk", HM_SPF_NONE, NULL,
	  {{ 0 }}, 0, R_FAIL, P_NONE, P_NONE, "foo.example.co.uk", "example.co.uk", false, false,
	  NULL },
	{ "relaxed under co.uk", "a@foo.example.co.uk", HM_SPF_PASS, "example.co.uk", {{ 0 }},
	  0, R_PASS, P_NONE, P_NONE, "foo.example.co.uk", "example.co.uk", true, false, NULL },
	{ "siblings under co.uk do not align", "a@example.co.uk", HM_SPF_PASS, "other.co.uk",
	  {{ HM_DKIM_PASS, "co.uk" }},
	  0, R_FAIL, P_REJ, P_REJ, "example.co.uk", "example.co.uk", false, false, NULL },
	{ "never the public suffix's record", "a@nodmarc.co.uk", HM_SPF_NONE, NULL, {{ 0 }},
	  0, R_NONE, P_UNSET, P_UNSET, "nodmarc.co.uk", "nodmarc.co.uk", false, false, NULL },
};

static const char *rname(enum hm_dmarc_result r)
{
	return hm_dmarc_result_name(r);
}

static const char *pname(enum hm_dmarc_policy p)
{
	return p == HM_DMARC_POLICY_UNSET ? "unset" : hm_dmarc_policy_name(p);
}

static int run_case(const struct dmarc_case *c)
{
	struct hm_from_list from;
	struct hm_spf_outcome spf;
	struct hm_dkim_outcome dkim;
	struct hm_dmarc_outcome out;
	char err[128];

	hm_from_init(&from);
	if (c->from != NULL)
		(void)hm_from_parse(&from, c->from, err, sizeof(err));
	memset(&spf, 0, sizeof(spf));
	spf.result = c->spf;
	if (c->spf_domain != NULL) {
		snprintf(spf.domain, sizeof(spf.domain), "%s", c->spf_domain);
		snprintf(spf.identity, sizeof(spf.identity), "bounce@%s", c->spf_domain);
	}
	memset(&dkim, 0, sizeof(dkim));
	for (size_t i = 0; i < 3 && c->sigs[i].domain != NULL; i++) {
		dkim.sigs[i].result = c->sigs[i].result;
		snprintf(dkim.sigs[i].domain, sizeof(dkim.sigs[i].domain), "%s", c->sigs[i].domain);
		snprintf(dkim.sigs[i].selector, sizeof(dkim.sigs[i].selector), "sel%zu", i);
		dkim.nsigs = i + 1;
	}
	sample_value = c->sample;
	if (hm_dmarc_check(dmarc, "192.0.2.10", &from, c->spf_domain ? &spf : NULL, &dkim,
			   &out) != 0) {
		print_error("%s: hm_dmarc_check failed\n", c->name);
		return 1;
	}
	if (out.result != c->result || out.policy != c->policy ||
	    out.disposition != c->disposition ||
	    strcmp(out.from_domain, c->from_domain) != 0 ||
	    strcmp(out.org_domain, c->org_domain) != 0 ||
	    out.spf_aligned != c->spf_aligned || out.dkim_aligned != c->dkim_aligned ||
	    (c->reason != NULL && strstr(out.reason, c->reason) == NULL)) {
		print_error("%s [From: %s]\n"
			    "   want %s p=%s dis=%s from=%s org=%s spf_al=%d dkim_al=%d reason~\"%s\"\n"
			    "   got  %s p=%s dis=%s from=%s org=%s spf_al=%d dkim_al=%d reason=\"%s\"\n",
			    c->name, c->from ? c->from : "(none)",
			    rname(c->result), pname(c->policy), pname(c->disposition),
			    c->from_domain, c->org_domain, c->spf_aligned, c->dkim_aligned,
			    c->reason ? c->reason : "",
			    rname(out.result), pname(out.policy), pname(out.disposition),
			    out.from_domain, out.org_domain, out.spf_aligned, out.dkim_aligned,
			    out.reason);
		return 1;
	}
	return 0;
}

/* One cmocka test per table row, so the TAP output names each scenario. */
static void test_case(void **state)
{
	assert_int_equal(run_case(*state), 0);
}

/* The same SPF outcome reached through the HELO identity (null sender). */
static void test_helo_identity(void **state)
{
	struct hm_from_list from;
	struct hm_spf_outcome spf = { .result = HM_SPF_PASS, .helo_identity = true,
				      .identity = "mail.example.net" };
	struct hm_dmarc_outcome out;
	char err[128];

	hm_from_init(&from);
	assert_int_equal(hm_from_parse(&from, "a@example.net", err, sizeof(err)), 0);
	assert_int_equal(hm_dmarc_check(dmarc, NULL, &from, &spf, NULL, &out), 0);
	assert_int_equal(out.result, HM_DMARC_PASS);
	assert_true(out.spf_aligned);
	/* An IPv6 client is fine too. */
	assert_int_equal(hm_dmarc_check(dmarc, "2001:db8::1", &from, &spf, NULL, &out), 0);
	assert_int_equal(out.result, HM_DMARC_PASS);
}

/* Milliseconds since a. */
static double ms_since(const struct timespec *a)
{
	struct timespec b;

	clock_gettime(CLOCK_MONOTONIC, &b);
	return (double)(b.tv_sec - a->tv_sec) * 1e3 + (double)(b.tv_nsec - a->tv_nsec) / 1e6;
}

/*
 * A subdomain whose own lookup is slow to say "no record" and whose
 * organizational domain's lookup never answers, then several From domains
 * whose lookups never answer: the message waits about one DNS time-out,
 * not one per lookup (one after another: 0.3 + 1.5 s, then 5 x 1.5 s), and
 * the result is temperror.
 */
static void test_lookups_together(void **state)
{
	static const char *const froms[] = {
		"e@slow.example.info",
		"a@drop1.example.org, b@drop2.example.org, c@drop3.example.org, "
		"d@drop4.example.org, e@slow.example.info",
	};
	struct hm_spf_outcome spf = { .result = HM_SPF_NONE };
	int failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(froms) / sizeof(froms[0]); i++) {
		struct hm_from_list from;
		struct hm_dmarc_outcome out;
		struct timespec t0;
		char err[128];
		double ms;

		hm_from_init(&from);
		assert_int_equal(hm_from_parse(&from, froms[i], err, sizeof(err)), 0);
		clock_gettime(CLOCK_MONOTONIC, &t0);
		assert_int_equal(hm_dmarc_check(dmarc, "192.0.2.10", &from, &spf, NULL, &out), 0);
		ms = ms_since(&t0);
		fprintf(stderr, "# From: %s: %s in %.0f ms (time-out %d ms)\n", froms[i],
			rname(out.result), ms, TIMEOUT_MS);
		if (out.result != HM_DMARC_TEMPERROR) {
			print_error("From: %s: got %s (%s), want temperror\n", froms[i],
				    rname(out.result), out.reason);
			failed++;
		}
		if (ms > 1.6 * TIMEOUT_MS) {
			print_error("From: %s: took %.0f ms, more than one time-out (%d ms) and a bit\n",
				    froms[i], ms, TIMEOUT_MS);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static const struct {
	const char *domain, *org;
} org_cases[] = {
	{ "example.com", "example.com" },
	{ "mail.example.com", "example.com" },
	{ "EXAMPLE.COM.", "example.com" },
	{ "a.b.example.co.uk", "example.co.uk" },
	{ "example.co.uk", "example.co.uk" },
	{ "co.uk", "co.uk" },
	{ "com", "com" },
	{ "x.example.unlistedtld", "example.unlistedtld" },
	{ "x.y.ck", "x.y.ck" },			/* *.ck */
	{ "www.ck", "www.ck" },			/* !www.ck */
	{ "a.www.ck", "www.ck" },
	{ "a.b.c.kobe.jp", "b.c.kobe.jp" },	/* *.kobe.jp */
	{ "a.city.kobe.jp", "city.kobe.jp" },	/* !city.kobe.jp */
	{ "a.b.xn--55qx5d.cn", "b.xn--55qx5d.cn" },	/* the UTF-8 rule 公司.cn */
	{ "a.b.xn--fiqs8s", "b.xn--fiqs8s" },		/* 中国 */
	{ "user.blogspot.com", "user.blogspot.com" },	/* private section */
};

static void test_org_domain(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(org_cases) / sizeof(org_cases[0]); i++) {
		char org[HM_DOMAIN_MAX];

		if (hm_dmarc_org_domain(dmarc, org_cases[i].domain, org, sizeof(org)) != 0 ||
		    strcmp(org, org_cases[i].org) != 0) {
			print_error("org domain of %s: want %s, got %s\n", org_cases[i].domain,
				    org_cases[i].org, org);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_new_errors(void **state)
{
	struct hm_dmarc *d = NULL;
	char err[256] = "";

	assert_int_equal(hm_dmarc_new(dns, "/nonexistent/psl.dat", &d, err, sizeof(err)), -1);
	assert_null(d);
	assert_non_null(strstr(err, "/nonexistent/psl.dat"));
	assert_int_equal(hm_dmarc_new(dns, "/dev/null", &d, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "no public suffix rules"));
}

int main(void)
{
	size_t n = sizeof(cases) / sizeof(cases[0]);
	struct CMUnitTest *tests = calloc(n + 4, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 99;
	for (size_t i = 0; i < n; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = test_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	tests[n] = (struct CMUnitTest)cmocka_unit_test(test_helo_identity);
	tests[n + 1] = (struct CMUnitTest)cmocka_unit_test(test_org_domain);
	tests[n + 2] = (struct CMUnitTest)cmocka_unit_test(test_new_errors);
	tests[n + 3] = (struct CMUnitTest)cmocka_unit_test(test_lookups_together);
	rc = _cmocka_run_group_tests("dmarc", tests, n + 4, setup, teardown);
	free(tests);
	return rc;
}
