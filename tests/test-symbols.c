/*
 * test-symbols.c - unit tests of scoring/symbols.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scoring/symbols.h"

static void test_table(void **state)
{
	/* Every built-in symbol has a name, a help line, and is found by name. */
	for (int i = 0; i < HM_SYM_COUNT; i++) {
		assert_non_null(hm_symdefs[i].name);
		assert_non_null(hm_symdefs[i].help);
		assert_int_equal(hm_sym_by_name(hm_symdefs[i].name), i);
	}
	assert_int_equal(hm_sym_by_name("spf_fail"), HM_SYM_SPF_FAIL);
	assert_int_equal(hm_sym_by_name("NO_SUCH_SYMBOL"), -1);
}

/* The defaults meet the design's two reference points. */
static void test_default_weights(void **state)
{
	struct hm_weights w;
	struct hm_symbols good = { 0 }, bad = { 0 };

	hm_weights_default(&w);
	hm_symbols_fire(&good, &w, HM_SYM_SPF_PASS, NULL);
	hm_symbols_fire(&good, &w, HM_SYM_DKIM_VALID, NULL);
	hm_symbols_fire(&good, &w, HM_SYM_DMARC_PASS, NULL);
	assert_true(hm_symbols_score(&good) < 8 - 4);

	hm_symbols_fire(&bad, &w, HM_SYM_SPF_FAIL, NULL);
	hm_symbols_fire(&bad, &w, HM_SYM_DKIM_NONE, NULL);
	hm_symbols_fire(&bad, &w, HM_SYM_DMARC_FAIL_REJECT, NULL);
	hm_symbols_fire(&bad, &w, HM_SYM_RDNS_NONE, NULL);
	hm_symbols_add(&bad, "RBL_EXAMPLE", 5.0, "127.0.0.2");	/* a listed client */
	assert_true(hm_symbols_score(&bad) > 15);

	/* Temporary errors weigh nothing by default. */
	assert_true(w.w[HM_SYM_SPF_TEMPERROR] == 0 && w.w[HM_SYM_DKIM_TEMPERROR] == 0 &&
		    w.w[HM_SYM_DMARC_TEMPERROR] == 0 && w.w[HM_SYM_RDNS_TEMPERROR] == 0 &&
		    w.w[HM_SYM_DNSBL_TEMPERROR] == 0);
}

static void test_format_and_score(void **state)
{
	struct hm_weights w;
	struct hm_symbols s = { 0 };
	struct hm_strbuf sb;

	hm_weights_default(&w);
	w.w[HM_SYM_SPF_FAIL] = 4.25;
	hm_symbols_fire(&s, &w, HM_SYM_SPF_FAIL, "example.net");
	hm_symbols_add(&s, "MY_RULE", 1.5, NULL);
	hm_symbols_fire(&s, &w, HM_SYM_DMARC_PASS, NULL);
	assert_true(hm_symbols_has(&s, "my_rule"));
	assert_false(hm_symbols_has(&s, "SPF_PASS"));
	assert_true(hm_symbols_score(&s) > 4.249 && hm_symbols_score(&s) < 4.251);
	hm_strbuf_init(&sb, 1000);
	assert_int_equal(hm_symbols_format(&s, &sb), 0);
	assert_string_equal(hm_strbuf_str(&sb), "SPF_FAIL(4.25),MY_RULE(1.50),DMARC_PASS(-1.50)");
	assert_string_equal(s.fired[0].detail, "example.net");
	hm_strbuf_free(&sb);
}

static void test_overflow(void **state)
{
	struct hm_symbols s = { 0 };
	struct hm_strbuf sb;

	for (int i = 0; i < HM_FIRED_MAX + 3; i++)
		hm_symbols_add(&s, "R", 1.0, NULL);
	assert_int_equal(s.count, HM_FIRED_MAX);
	assert_int_equal(s.dropped, 3);
	/* Dropped symbols still count in the score. */
	assert_true(hm_symbols_score(&s) > HM_FIRED_MAX + 2.9);
	hm_strbuf_init(&sb, 100000);
	hm_symbols_format(&s, &sb);
	assert_non_null(strstr(hm_strbuf_str(&sb), ",+3_MORE(3.00)"));
	hm_strbuf_free(&sb);

	/* Long names and details are cut, never overflow. */
	char longname[200];
	memset(longname, 'N', sizeof(longname) - 1);
	longname[sizeof(longname) - 1] = '\0';
	struct hm_symbols t = { 0 };
	hm_symbols_add(&t, longname, 1, longname);
	assert_int_equal(strlen(t.fired[0].name), HM_SYM_NAME_MAX - 1);
	assert_int_equal(strlen(t.fired[0].detail), HM_SYM_DETAIL_MAX - 1);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_table),
		cmocka_unit_test(test_default_weights),
		cmocka_unit_test(test_format_and_score),
		cmocka_unit_test(test_overflow),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
