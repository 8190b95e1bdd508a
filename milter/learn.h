/*
 * learn.h - "hosterra-milter --learn spam|ham PATH..." and "--calibrate":
 * teaching the content model from stored mail (DESIGN §9 "Learning").
 *
 * A PATH is a message file (it may start with an mbox "From " line), a
 * directory of message files, a Maildir (its cur/ and new/), an mbox file
 * (split on "From " lines, ">From " unquoted), or "-" for one message on
 * standard input.  Each message's features are extracted by the daemon's
 * own code (scoring/content.h), with the SPF/DKIM/DMARC verdicts of the
 * Authentication-Results header the milter added at delivery (the one with
 * our authserv_id), and learned into the model in Redis (policy/model.h):
 * on the primary (redis.write_host), the model read once, then updated
 * message by message, here and there.
 */
#ifndef HM_LEARN_H
#define HM_LEARN_H

#include <stdbool.h>
#include <stdio.h>

#include "milter/conf.h"

struct hm_learn_args {
	bool spam;
	const char *user;		/* NULL: the operator, no rate limit */
	const char *const *paths;
	size_t npaths;
};

/* Learn; totals to out.  0, or 1 on any error (said on stderr). */
int hm_learn_run(const struct hm_conf *conf, const struct hm_learn_args *a, FILE *out);

struct hm_calibrate_args {
	const char *const *spam;	/* paths of spam */
	size_t nspam;
	const char *const *ham;
	size_t nham;
};

/*
 * Compute the margins of the messages with the stored model, fit the
 * calibration to them and store it.  Use messages the model has not
 * learned.  0, or 1 on an error.
 */
int hm_calibrate_run(const struct hm_conf *conf, const struct hm_calibrate_args *a, FILE *out);

#endif
