/*
 * verdict.h - from a finished scan to the outcome and the header edits.
 *
 * Shared by the milter's end of message and the scan mode, so that both
 * say the same thing about the same message: the client checks' symbols
 * are added, the score is set against the thresholds, the DMARC
 * enforcement option is applied, and the headers to add are built.
 */
#ifndef HM_VERDICT_H
#define HM_VERDICT_H

#include <stdbool.h>
#include <stddef.h>

#include "milter/conf.h"
#include "policy/decide.h"
#include "policy/policy.h"
#include "scoring/client.h"
#include "scoring/scan.h"
#include "scoring/strbuf.h"

struct hm_verdict {
	enum hm_outcome outcome;	/* the message's: the most lenient recipient's */
	struct hm_thresholds thresholds;	/* those X-Spam-Status shows */
	bool dmarc_enforced;		/* rejected by dmarc.enforce_reject, whatever the score */
	bool conflict;			/* the recipients' outcomes differed */
};

/* What became of one RCPT TO. */
enum hm_rcpt_status {
	HM_RCPT_ACCEPTED,
	HM_RCPT_REJECTED,		/* 550 at RCPT: on a deciding black list */
	HM_RCPT_DEFERRED,		/* 452 4.5.3: another policy class (split_recipients) */
	HM_RCPT_TEMPFAIL,		/* 451: policy unavailable, on_failure = tempfail */
};

struct hm_rcpt {
	char *addr;			/* as given */
	enum hm_rcpt_status status;
	struct hm_rcpt_policy *policy;	/* loaded at RCPT; NULL when not judged */
	enum hm_outcome outcome;	/* at end of message, for accepted ones */
	bool decided;			/* outcome is set */
};

/* The policy defaults of a configuration. */
void hm_verdict_policy_defaults(const struct hm_conf *conf, struct hm_policy_defaults *d);

/*
 * Decide each accepted recipient with its own policy (lists, then its
 * thresholds) and set the message's outcome to the most lenient of them
 * (DESIGN §5.6); recipients without a policy use the server's thresholds.
 * Call after hm_verdict_judge().  env_sender: the MAIL FROM argument.
 */
void hm_verdict_recipients(const struct hm_conf *conf, const struct hm_scan_result *r,
			   const char *env_sender, struct hm_rcpt *rcpts, size_t n,
			   struct hm_verdict *v);

/*
 * Append "addr:outcome[why]" for each recipient to a log line or report:
 * why names the list entry and its level, or the thresholds and where they
 * came from, and whether the policy came from Redis, the cache or defaults.
 */
void hm_verdict_explain(const struct hm_rcpt *rc, struct hm_strbuf *out);

/*
 * Finish the scan into *r, add the client checks' symbols (client may be
 * NULL) and decide.  0, or -1 with *what saying which part failed.
 */
int hm_verdict_judge(const struct hm_conf *conf, struct hm_scan *scan,
		     struct hm_client_check *client, const char *helo,
		     struct hm_scan_result *r, struct hm_verdict *v, const char **what);

#define HM_VERDICT_MAX_HEADERS 4

/* A header to add: its value without the leading space. */
struct hm_header_add {
	const char *name;
	bool at_top;			/* insert first, else append */
	struct hm_strbuf value;
};

/*
 * The headers a judged message gets (Authentication-Results, X-Spam-Score,
 * X-Spam-Status, and X-Spam-Flag when tagged), in the order to add them.
 * 0, or -1 when a value grew past its maximum.  Free with
 * hm_verdict_headers_free() in either case.
 */
int hm_verdict_headers(const struct hm_conf *conf, const struct hm_scan_result *r,
		       const struct hm_verdict *v, struct hm_header_add *h, size_t *n);
void hm_verdict_headers_free(struct hm_header_add *h, size_t n);

/* The SMTP reply text of a rejection. */
void hm_verdict_reject_text(const struct hm_scan_result *r, const struct hm_verdict *v,
			    char *buf, size_t len);

#endif
