/*
 * test-strbuf.c - unit tests of util/strbuf.c.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "util/strbuf.h"

static void test_empty(void **state)
{
	struct hm_strbuf sb;

	hm_strbuf_init(&sb, 10);
	assert_string_equal(hm_strbuf_str(&sb), "");
	assert_int_equal(sb.len, 0);
	hm_strbuf_free(&sb);
	hm_strbuf_free(&sb);	/* idempotent */
}

static void test_grows_to_max(void **state)
{
	struct hm_strbuf sb;

	hm_strbuf_init(&sb, 300);
	for (int i = 0; i < 30; i++)
		assert_int_equal(hm_strbuf_puts(&sb, "0123456789"), 0);
	assert_int_equal(sb.len, 300);
	assert_false(sb.failed);
	/* One byte more is refused, and the text is left as it was. */
	assert_int_equal(hm_strbuf_puts(&sb, "x"), -1);
	assert_true(sb.failed);
	assert_int_equal(strlen(hm_strbuf_str(&sb)), 300);
	/* Once failed, stays failed. */
	assert_int_equal(hm_strbuf_add(&sb, "", 0), -1);
	hm_strbuf_free(&sb);
}

static void test_printf(void **state)
{
	struct hm_strbuf sb;

	hm_strbuf_init(&sb, 64);
	assert_int_equal(hm_strbuf_printf(&sb, "%s=%d", "a", 42), 0);
	assert_int_equal(hm_strbuf_printf(&sb, ";%.2f", 9.5), 0);
	assert_string_equal(hm_strbuf_str(&sb), "a=42;9.50");
	assert_int_equal(hm_strbuf_printf(&sb, "%100s", "x"), -1);
	assert_string_equal(hm_strbuf_str(&sb), "a=42;9.50");
	hm_strbuf_free(&sb);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_grows_to_max),
		cmocka_unit_test(test_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
