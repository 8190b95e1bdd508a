/*
 * decide.h - from a score and a recipient's thresholds to an outcome.
 *
 *   score <  tag              accept
 *   tag   <= score <= reject  tag (X-Spam-Flag: YES, filed into Junk)
 *   score >  reject           reject (550 5.7.1)
 *
 * The thresholds come from the server's configuration or, per recipient,
 * from the policy store; the decision is this one pure function either way.
 */
#ifndef HM_DECIDE_H
#define HM_DECIDE_H

#include <stdbool.h>

/*
 * The server's thresholds when neither the configuration nor a policy says
 * otherwise; the configuration's defaults are written from these, so they
 * stay plain numbers as a file would write them.
 */
#define HM_DEFAULT_TAG 8
#define HM_DEFAULT_REJECT 15

enum hm_outcome {
	HM_ACCEPT,
	HM_TAG,
	HM_REJECT,
};

struct hm_thresholds {
	double tag, reject;
};

/*
 * Valid thresholds: finite, not negative, tag <= reject.  Invalid ones must
 * never reach hm_decide(): the caller falls back to the next level.
 */
bool hm_thresholds_valid(const struct hm_thresholds *t);

enum hm_outcome hm_decide(double score, const struct hm_thresholds *t);

const char *hm_outcome_name(enum hm_outcome o);

/*
 * Scores are compared as printed, with two decimals, so that what the
 * headers and the reply say always agrees with what was decided (9.995
 * prints as 10.00 and is decided as 10.00).
 */
double hm_score_round(double score);

#endif
