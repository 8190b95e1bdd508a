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
#include "scoring/client.h"
#include "scoring/scan.h"
#include "scoring/strbuf.h"

struct hm_verdict {
	enum hm_outcome outcome;
	struct hm_thresholds thresholds;
	bool dmarc_enforced;		/* rejected by dmarc.enforce_reject, whatever the score */
};

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
