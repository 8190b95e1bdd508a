/*
 * verdict.c - outcome and header edits of a message.
 */
#include "config.h"

#include <stdio.h>

#include "milter/verdict.h"
#include "scoring/spamhdr.h"

#define HEADER_MAX 65536		/* one header value we add, at most */

int hm_verdict_judge(const struct hm_conf *conf, struct hm_scan *scan,
		     struct hm_client_check *client, const char *helo,
		     struct hm_scan_result *r, struct hm_verdict *v, const char **what)
{
	if (hm_scan_finish(scan, r) < 0) {
		*what = "the checks failed";
		return -1;
	}
	if (client) {
		struct hm_symbols more = { 0 };

		if (hm_client_check_collect(client, helo, &conf->weights, &more) < 0) {
			*what = "the client checks failed";
			return -1;
		}
		hm_scan_result_add(r, &more);
	}
	v->thresholds = (struct hm_thresholds){ conf->thresholds.tag, conf->thresholds.reject };
	v->outcome = hm_decide(r->score, &v->thresholds);
	v->dmarc_enforced = false;
	/* The operator may let a DMARC p=reject failure reject by itself. */
	if (conf->dmarc.enforce_reject && r->dmarc.result == HM_DMARC_FAIL &&
	    r->dmarc.disposition == HM_DMARC_POLICY_REJECT && v->outcome != HM_REJECT) {
		v->outcome = HM_REJECT;
		v->dmarc_enforced = true;
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

void hm_verdict_reject_text(const struct hm_scan_result *r, const struct hm_verdict *v,
			    char *buf, size_t len)
{
	if (v->dmarc_enforced)
		snprintf(buf, len, "Message rejected: %s asks receivers to reject mail that fails "
			 "DMARC", r->dmarc.from_domain[0] ? r->dmarc.from_domain : "the sender's domain");
	else
		snprintf(buf, len, "Message rejected as spam (score %.2f, limit %.2f)", r->score,
			 v->thresholds.reject);
}
