/*
 * verdict.c - outcome, SMTP reply and header edits of a message.
 */
#include "config.h"

#include <stdio.h>

#include <string.h>

#include "milter/verdict.h"
#include "util/address.h"
#include "scoring/spamhdr.h"

#define HEADER_MAX 65536		/* one header value we add, at most */

/*
 * The checks that can carry a credit (a negative pass weight) and ended in
 * temperror: had DNS answered, the score might be lower, or a white list
 * match authenticated.
 */
static unsigned dns_trouble(const struct hm_scan_result *r)
{
	unsigned held = 0;

	if (r->spf_checked && r->spf.result == HM_SPF_TEMPERROR)
		held |= HM_HELD_SPF;
	for (size_t i = 0; i < r->dkim.nsigs; i++)
		if (r->dkim.sigs[i].result == HM_DKIM_TEMPERROR)
			held |= HM_HELD_DKIM;
	if (r->dmarc.result == HM_DMARC_TEMPERROR)
		held |= HM_HELD_DMARC;
	return held;
}

const char *hm_verdict_outcome_name(enum hm_outcome o, unsigned held)
{
	return o == HM_REJECT && held ? "tempfail" : hm_outcome_name(o);
}

/* Most lenient first: accept, tag, a reject held back (451), a reject. */
static int severity(enum hm_outcome o, unsigned held)
{
	switch (o) {
	case HM_ACCEPT: return 0;
	case HM_TAG: return 1;
	case HM_REJECT: return held ? 2 : 3;
	}
	return 0;
}

int hm_verdict_headers(const struct hm_conf *conf, const struct hm_scan_result *r,
		       const struct hm_verdict *v, struct hm_header_add *h, size_t *n)
{
	bool spam = v->outcome != HM_ACCEPT;
	int rc = 0;

	*n = 0;
	h[*n] = (struct hm_header_add){ .name = "Authentication-Results", .at_top = true };
	hm_strbuf_init(&h[*n].value, HEADER_MAX);
	rc |= hm_scan_authres(r, conf->authserv_id, &h[(*n)++].value);

	h[*n] = (struct hm_header_add){ .name = "X-Spam-Score" };
	hm_strbuf_init(&h[*n].value, 64);
	rc |= hm_spamhdr_score(&h[(*n)++].value, r->score);

	h[*n] = (struct hm_header_add){ .name = "X-Spam-Status" };
	hm_strbuf_init(&h[*n].value, HEADER_MAX);
	rc |= hm_spamhdr_status(&h[(*n)++].value, spam, r->score, v->thresholds.tag,
				v->thresholds.reject, &r->symbols);

	if (spam) {
		h[*n] = (struct hm_header_add){ .name = "X-Spam-Flag" };
		hm_strbuf_init(&h[*n].value, 8);
		rc |= hm_strbuf_puts(&h[(*n)++].value, "YES");
	}
	return rc ? -1 : 0;
}

void hm_verdict_headers_free(struct hm_header_add *h, size_t n)
{
	for (size_t i = 0; i < n; i++)
		hm_strbuf_free(&h[i].value);
}

void hm_verdict_held_why(unsigned held, struct hm_strbuf *out)
{
	if (held & HM_HELD_DNS)
		hm_strbuf_printf(out, "dns-temperror(%s%s%s%s%s)",
				 held & HM_HELD_SPF ? "spf" : "",
				 held & HM_HELD_SPF && held & (HM_HELD_DKIM | HM_HELD_DMARC) ? "/" : "",
				 held & HM_HELD_DKIM ? "dkim" : "",
				 held & HM_HELD_DKIM && held & HM_HELD_DMARC ? "/" : "",
				 held & HM_HELD_DMARC ? "dmarc" : "");
	if (held & HM_HELD_POLICY)
		hm_strbuf_printf(out, "%spolicy-unavailable", held & HM_HELD_DNS ? "+" : "");
}

/* The SMTP reply to a message whose outcome is HM_REJECT. */
static void reply_of(const struct hm_scan_result *r, const struct hm_verdict *v,
		     struct hm_reply *out)
{
	unsigned dns = v->held & HM_HELD_DNS;

	if (dns) {
		/* The sending MTA's operator reads this: say which lookups. */
		out->code = "451";
		out->status = "4.7.0";
		snprintf(out->text, sizeof(out->text), "Cannot verify the sender now (DNS failure "
			 "for %s%s%s%s%s), please try again later",
			 dns & HM_HELD_SPF ? "SPF" : "",
			 dns & HM_HELD_SPF && dns & (HM_HELD_DKIM | HM_HELD_DMARC) ? ", " : "",
			 dns & HM_HELD_DKIM ? "DKIM" : "",
			 dns & HM_HELD_DKIM && dns & HM_HELD_DMARC ? ", " : "",
			 dns & HM_HELD_DMARC ? "DMARC" : "");
	} else if (v->held) {
		/* As at RCPT time with on_failure = tempfail. */
		out->code = "451";
		out->status = "4.3.0";
		snprintf(out->text, sizeof(out->text), "Recipient policy temporarily unavailable, "
			 "please try again later");
	} else if (v->black_listed) {
		/* As at RCPT time: the list decided, not the score. */
		out->code = "550";
		out->status = "5.7.1";
		snprintf(out->text, sizeof(out->text), "Sender blocked by the recipient's policy");
	} else if (v->dmarc_enforced) {
		out->code = "550";
		out->status = "5.7.1";
		snprintf(out->text, sizeof(out->text), "Message rejected: %s asks receivers to reject "
			 "mail that fails DMARC",
			 r->dmarc.from_domain[0] ? r->dmarc.from_domain : "the sender's domain");
	} else {
		out->code = "550";
		out->status = "5.7.1";
		snprintf(out->text, sizeof(out->text), "Message rejected as spam (score %.2f, limit %.2f)",
			 r->score, v->thresholds.reject);
	}
}

void hm_verdict_policy_defaults(const struct hm_conf *conf, struct hm_policy_defaults *d)
{
	d->tag = conf->thresholds.tag;
	d->reject = conf->thresholds.reject;
	d->whitelist_requires_auth = conf->whitelist_requires_auth != 0;
	d->recipient_delimiter = conf->recipient_delimiter;
}

/*
 * One recipient's outcome: its policy's lists and thresholds (the server's
 * without a policy), then the operator's DMARC enforcement, which yields
 * to a white list; then whether a reject is held back as 451.
 */
static void decide_one(const struct hm_conf *conf, const struct hm_scan_result *r,
		       const char *env_sender, const char *const *from, size_t nfrom,
		       const struct hm_auth_facts *auth, unsigned dns,
		       struct hm_rcpt_policy *p, struct hm_rcpt *rc, bool *by_dmarc,
		       struct hm_thresholds *t)
{
	const struct hm_thresholds server = { conf->thresholds.tag, conf->thresholds.reject };

	*by_dmarc = false;
	if (p) {
		rc->outcome = hm_rcpt_policy_decide(p, env_sender, from, nfrom, auth, r->score);
		*t = (struct hm_thresholds){ p->tag, p->reject };
	} else {
		rc->outcome = hm_decide(r->score, &server);
		*t = server;
	}
	/* The operator may let a DMARC p=reject failure reject by itself. */
	if (conf->dmarc.enforce_reject && r->dmarc.result == HM_DMARC_FAIL &&
	    r->dmarc.disposition == HM_DMARC_POLICY_REJECT && rc->outcome != HM_REJECT &&
	    !(p && p->list == HM_LIST_WHITE)) {
		rc->outcome = HM_REJECT;
		*by_dmarc = true;
	}
	rc->held = 0;
	if (rc->outcome == HM_REJECT) {
		bool listed = p && p->list == HM_LIST_BLACK;

		/* The defaults stood in for this recipient's own policy. */
		if (p && p->failed)
			rc->held |= HM_HELD_POLICY;
		/* A black match stands, unless an authenticated white
		 * match might have beaten it. */
		if (!listed || p->white_ignored_unauth)
			rc->held |= dns;
	}
	rc->decided = true;
}

int hm_verdict_decide(const struct hm_conf *conf, struct hm_scan *scan,
		      struct hm_client_check *client, const char *helo, const char *env_sender,
		      struct hm_rcpt *rcpts, size_t n, struct hm_scan_result *r,
		      struct hm_verdict *v, char *err, size_t errlen)
{
	struct hm_symbols more = { 0 };
	char from_buf[HM_FROM_MAX][HM_ADDR_MAX];
	const char *from[HM_FROM_MAX];
	size_t nfrom = 0;
	bool first = true;

	if (client && hm_client_check_collect(client, helo, &conf->weights, &more) < 0) {
		snprintf(err, errlen, "the client checks failed");
		return -1;
	}
	if (hm_scan_finish(scan, client ? &more : NULL, r) < 0) {
		snprintf(err, errlen, "the checks failed");
		return -1;
	}

	struct hm_auth_facts auth = {
		.spf_pass = r->spf_checked && r->spf.result == HM_SPF_PASS && !r->spf.helo_identity,
		.spf_domain = r->spf.domain,
		.dkim_aligned_pass = r->dmarc.dkim_aligned,
		.from_fields = (unsigned)r->from.headers,
	};
	const unsigned dns = dns_trouble(r);

	for (size_t i = 0; i < r->from.count && nfrom < HM_FROM_MAX; i++)
		if (hm_addr_format(&r->from.addrs[i], from_buf[nfrom], sizeof(from_buf[0])) == 0) {
			from[nfrom] = from_buf[nfrom];
			nfrom++;
		}
	v->conflict = false;
	for (size_t i = 0; i <= n; i++) {
		struct hm_rcpt none = { .status = HM_RCPT_ACCEPTED }, *rc = i < n ? &rcpts[i] : &none;
		struct hm_thresholds t;
		bool by_dmarc;

		/* No accepted recipient: the message is judged as for one
		 * without a policy, with the server's thresholds. */
		if (rc->status != HM_RCPT_ACCEPTED || (i == n && !first))
			continue;
		decide_one(conf, r, env_sender, from, nfrom, &auth, dns, rc->policy, rc, &by_dmarc, &t);
		int sev = severity(rc->outcome, rc->held);
		if (first || sev < severity(v->outcome, v->held)) {
			if (!first)
				v->conflict = true;
			v->outcome = rc->outcome;
			v->held = rc->held;
			v->thresholds = t;
			v->dmarc_enforced = by_dmarc;
			v->black_listed = rc->outcome == HM_REJECT && !by_dmarc && rc->policy &&
					  rc->policy->list == HM_LIST_BLACK;
			first = false;
		} else if (sev != severity(v->outcome, v->held)) {
			v->conflict = true;
		}
	}
	if (v->outcome == HM_REJECT)
		reply_of(r, v, &v->reply);
	return 0;
}

void hm_verdict_explain(const struct hm_rcpt *rc, struct hm_strbuf *out)
{
	const struct hm_rcpt_policy *p = rc->policy;
	static const char *const status[] = {
		[HM_RCPT_ACCEPTED] = "accepted", [HM_RCPT_REJECTED] = "rejected-at-rcpt",
		[HM_RCPT_DEFERRED] = "deferred-452", [HM_RCPT_TEMPFAIL] = "tempfail-451",
	};

	if (rc->status != HM_RCPT_ACCEPTED) {
		hm_strbuf_printf(out, "%s", status[rc->status]);
		if (p && p->list == HM_LIST_BLACK)
			hm_strbuf_printf(out, "[black:%s:%s]", hm_level_name(p->list_level),
					 p->list_pattern);
		return;
	}
	/* An aborted transaction ends before any outcome. */
	hm_strbuf_puts(out, rc->decided ? hm_verdict_outcome_name(rc->outcome, rc->held) : "undecided");
	if (p == NULL) {
		hm_strbuf_puts(out, "[thresholds:server]");
		goto held;
	}
	if (p->list != HM_LIST_NONE)
		hm_strbuf_printf(out, "[%s:%s:%s]", hm_list_verdict_name(p->list),
				 hm_level_name(p->list_level), p->list_pattern);
	else
		hm_strbuf_printf(out, "[thresholds:%s:%.2f/%.2f%s]", hm_level_name(p->thresholds_from),
				 p->tag, p->reject, p->white_ignored_unauth ? ":white-unauth" : "");
	hm_strbuf_printf(out, "(%s)", p->failed ? "defaults" : p->source == HM_SRC_CACHE ? "cache" :
			 p->source == HM_SRC_REDIS ? "redis" : "defaults");
held:
	if (rc->decided && rc->outcome == HM_REJECT && rc->held) {
		hm_strbuf_puts(out, "+");
		hm_verdict_held_why(rc->held, out);
	}
}
