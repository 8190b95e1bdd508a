/*
 * results.c - RFC 8601 names of the check results.
 */
#include "config.h"

#include "scoring/results.h"

const char *hm_spf_result_name(enum hm_spf_result r)
{
	static const char *const names[] = {
		[HM_SPF_NONE] = "none", [HM_SPF_NEUTRAL] = "neutral", [HM_SPF_PASS] = "pass",
		[HM_SPF_FAIL] = "fail", [HM_SPF_SOFTFAIL] = "softfail",
		[HM_SPF_TEMPERROR] = "temperror", [HM_SPF_PERMERROR] = "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

const char *hm_dkim_result_name(enum hm_dkim_result r)
{
	static const char *const names[] = {
		[HM_DKIM_NONE] = "none", [HM_DKIM_PASS] = "pass", [HM_DKIM_FAIL] = "fail",
		[HM_DKIM_POLICY] = "policy", [HM_DKIM_NEUTRAL] = "neutral",
		[HM_DKIM_TEMPERROR] = "temperror", [HM_DKIM_PERMERROR] = "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

const char *hm_dmarc_result_name(enum hm_dmarc_result r)
{
	static const char *const names[] = {
		[HM_DMARC_NONE] = "none", [HM_DMARC_PASS] = "pass", [HM_DMARC_FAIL] = "fail",
		[HM_DMARC_TEMPERROR] = "temperror", [HM_DMARC_PERMERROR] = "permerror",
	};

	return (unsigned)r < sizeof(names) / sizeof(names[0]) ? names[r] : "permerror";
}

const char *hm_dmarc_policy_name(enum hm_dmarc_policy p)
{
	static const char *const names[] = {
		[HM_DMARC_POLICY_UNSET] = "unset", [HM_DMARC_POLICY_NONE] = "none",
		[HM_DMARC_POLICY_QUARANTINE] = "quarantine", [HM_DMARC_POLICY_REJECT] = "reject",
	};

	return (unsigned)p < sizeof(names) / sizeof(names[0]) ? names[p] : "unset";
}
