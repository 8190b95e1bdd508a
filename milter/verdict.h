/*
 * verdict.h - from a finished scan to the outcome and the header edits.
 *
 * The verdict is made once, in one pass (hm_verdict_decide): the client
 * checks' symbols join the message's, the score is summed, each accepted
 * recipient's outcome is decided (its policy, then DMARC enforcement,
 * applied here only), the message's outcome is the most lenient of them
 * and the reply to a reject is written.  The headers to add are built
 * from that verdict.
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
#include "util/strbuf.h"

/*
 * Trouble never becomes a permanent reject (DESIGN §5.5): a reject that
 * trouble may have caused is answered 451, and these bits say why.  DNS:
 * a check that can carry a credit (SPF, DKIM, DMARC) ended in temperror,
 * so its pass weight may be missing from the score, or an unauthenticated
 * white list match ignored.  Policy: the recipient's policy could not be
 * read, so the server's thresholds stood in for its own thresholds and
 * lists.  A black list match that DNS could not have overturned stays a
 * 550.
 */
enum {
	HM_HELD_SPF = 1 << 0,		/* SPF temperror */
	HM_HELD_DKIM = 1 << 1,		/* a DKIM signature's key lookup failed */
	HM_HELD_DMARC = 1 << 2,		/* DMARC temperror */
	HM_HELD_POLICY = 1 << 3,	/* the recipient's policy was unavailable */
};
#define HM_HELD_DNS (HM_HELD_SPF | HM_HELD_DKIM | HM_HELD_DMARC)

/* The SMTP reply to a message whose outcome is HM_REJECT. */
struct hm_reply {
	const char *code;		/* "550", or "451" when held back */
	const char *status;		/* enhanced status code: "5.7.1", "4.7.0", "4.3.0" */
	char text[400];			/* says what decided (a domain name fits) */
};

struct hm_verdict {
	enum hm_outcome outcome;	/* the message's: the most lenient recipient's */
	unsigned held;			/* outcome HM_REJECT answered 451: HM_HELD_* why */
	struct hm_thresholds thresholds;	/* those X-Spam-Status shows */
	bool dmarc_enforced;		/* rejected by dmarc.enforce_reject, whatever the score */
	bool black_listed;		/* rejected by the recipient's black list */
	bool conflict;			/* the recipients' outcomes differed */
	struct hm_reply reply;		/* the answer when outcome is HM_REJECT */
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
	unsigned held;			/* outcome HM_REJECT held back as 451: HM_HELD_* */
	bool decided;			/* outcome is set */
};

/* "tempfail" for a reject held back, else the outcome's name. */
const char *hm_verdict_outcome_name(enum hm_outcome o, unsigned held);

/* The policy defaults of a configuration. */
void hm_verdict_policy_defaults(const struct hm_conf *conf, struct hm_policy_defaults *d);

/*
 * The verdict of a judged message, in one pass: collect the client
 * checks (client may be NULL) and finish the scan into *r with their
 * symbols (the score is summed once), then decide each accepted recipient
 * with its own policy (lists, then its thresholds; the server's without a
 * policy), apply dmarc.enforce_reject (it yields to a white list), hold
 * back the rejects trouble may have caused (rc->held), and set the
 * message's outcome to the most lenient of them (DESIGN §5.6): accept,
 * then tag, then a reject held back (451), then a reject.  A 451 for one
 * recipient thus never costs another recipient its mail: next to an
 * accepted recipient the message is accepted for all, next to a rejected
 * one the whole message is retried.  Without an accepted recipient the
 * message is decided as for one without a policy.  A reject's reply
 * (v->reply): 451 4.7.0 naming the checks whose DNS failed, 451 4.3.0 for
 * an unavailable policy, else 550 5.7.1 naming what decided (the black
 * list, DMARC enforcement, or the score and the limit).
 * env_sender: the MAIL FROM argument.  0, or -1 with err saying which
 * part failed.
 */
int hm_verdict_decide(const struct hm_conf *conf, struct hm_scan *scan,
		      struct hm_client_check *client, const char *helo, const char *env_sender,
		      struct hm_rcpt *rcpts, size_t n, struct hm_scan_result *r,
		      struct hm_verdict *v, char *err, size_t errlen);

/*
 * Append "outcome[why](source)" for a recipient to a log line or report:
 * why names the list entry and its level, or the thresholds and where they
 * came from; source says whether the policy came from Redis, the cache or
 * defaults.  A reject held back reads "tempfail[...](...)" followed by
 * "+dns-temperror(spf/dkim/dmarc)" and/or "+policy-unavailable".
 */
void hm_verdict_explain(const struct hm_rcpt *rc, struct hm_strbuf *out);


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


/* "dns-temperror(spf/dkim)+policy-unavailable": why a reject was held back. */
void hm_verdict_held_why(unsigned held, struct hm_strbuf *out);

#endif
