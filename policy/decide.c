/*
 * decide.c - the three outcomes.
 */
#include "config.h"

#include <math.h>

#include "policy/decide.h"

bool hm_thresholds_valid(const struct hm_thresholds *t)
{
	return isfinite(t->tag) && isfinite(t->reject) && t->tag >= 0 && t->reject >= 0 &&
	       t->tag <= t->reject;
}

double hm_score_round(double score)
{
	return round(score * 100.0) / 100.0;
}

enum hm_outcome hm_decide(double score, const struct hm_thresholds *t)
{
	double s = hm_score_round(score);

	if (s < t->tag)
		return HM_ACCEPT;
	if (s <= t->reject)
		return HM_TAG;
	return HM_REJECT;
}

const char *hm_outcome_name(enum hm_outcome o)
{
	switch (o) {
	case HM_ACCEPT: return "accept";
	case HM_TAG: return "tag";
	case HM_REJECT: return "reject";
	}
	return "accept";
}
