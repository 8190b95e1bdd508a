/*
 * test-decide.c - unit tests of policy/decide.c: the three outcomes at and
 * around their boundaries, and threshold validation.
 */
#include "config.h"

#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include "policy/decide.h"

static void test_outcomes(void **state)
{
	static const struct {
		double score, tag, reject;
		enum hm_outcome want;
	} cases[] = {
		{ -3.5, 8, 15, HM_ACCEPT },
		{ 0, 8, 15, HM_ACCEPT },
		{ 7.99, 8, 15, HM_ACCEPT },
		{ 7.994, 8, 15, HM_ACCEPT },	/* prints 7.99 */
		{ 7.995, 8, 15, HM_TAG },	/* prints 8.00: decided as printed */
		{ 8, 8, 15, HM_TAG },		/* tag <= score */
		{ 12.5, 8, 15, HM_TAG },
		{ 15, 8, 15, HM_TAG },		/* score <= reject is still tag */
		{ 15.004, 8, 15, HM_TAG },
		{ 15.01, 8, 15, HM_REJECT },
		{ 40, 8, 15, HM_REJECT },
		{ 6, 6, 12, HM_TAG },		/* a stricter mailbox */
		{ 12.01, 6, 12, HM_REJECT },
		{ 5, 5, 5, HM_TAG },		/* tag == reject: only that score tags */
		{ 5.01, 5, 5, HM_REJECT },
		{ 4.99, 5, 5, HM_ACCEPT },
		{ 0, 0, 0, HM_TAG },
		{ -1, 0, 0, HM_ACCEPT },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hm_thresholds t = { cases[i].tag, cases[i].reject };
		enum hm_outcome got = hm_decide(cases[i].score, &t);

		if (got != cases[i].want)
			fail_msg("score %.3f with tag %.2f reject %.2f: %s, want %s", cases[i].score,
				 t.tag, t.reject, hm_outcome_name(got), hm_outcome_name(cases[i].want));
	}
}

static void test_valid(void **state)
{
	static const struct {
		double tag, reject;
		bool valid;
	} cases[] = {
		{ 8, 15, true }, { 0, 0, true }, { 5, 5, true }, { 15, 8, false },
		{ -1, 15, false }, { 8, -1, false }, { NAN, 15, false }, { 8, INFINITY, false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hm_thresholds t = { cases[i].tag, cases[i].reject };

		if (hm_thresholds_valid(&t) != cases[i].valid)
			fail_msg("tag %f reject %f: valid should be %d", t.tag, t.reject, cases[i].valid);
	}
}

static void test_names(void **state)
{
	assert_string_equal(hm_outcome_name(HM_ACCEPT), "accept");
	assert_string_equal(hm_outcome_name(HM_TAG), "tag");
	assert_string_equal(hm_outcome_name(HM_REJECT), "reject");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_outcomes),
		cmocka_unit_test(test_valid),
		cmocka_unit_test(test_names),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
