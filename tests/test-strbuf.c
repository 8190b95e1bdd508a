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

/* Over a caller's buffer: no allocation; what does not fit is cut, marked. */
static void test_fixed(void **state)
{
	static const struct {
		const char *name;
		const char *parts[3];	/* appended in turn */
		const char *want;
		int want_last;		/* the last append's return */
	} cases[] = {
		{ "fits", { "ab", "cd" }, "abcd", 0 },
		{ "one byte short of full", { "012345" }, "012345", 0 },
		{ "exactly full counts as cut", { "0123456" }, "0123...", -1 },
		{ "cut in one append", { "0123456789" }, "0123...", -1 },
		{ "cut across appends", { "abcd", "efgh" }, "abcd...", -1 },
		{ "after a cut, nothing more", { "0123456789", "x" }, "0123...", -1 },
	};
	size_t failed = 0;

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char buf[8];
		struct hm_strbuf sb;
		int rc = 0;

		hm_strbuf_init_fixed(&sb, buf, sizeof(buf));
		for (size_t j = 0; j < 3 && cases[i].parts[j]; j++)
			rc = j % 2 ? hm_strbuf_printf(&sb, "%s", cases[i].parts[j]) :
				     hm_strbuf_puts(&sb, cases[i].parts[j]);
		if (strcmp(hm_strbuf_str(&sb), cases[i].want) != 0 || rc != cases[i].want_last ||
		    sb.len != strlen(cases[i].want) || hm_strbuf_str(&sb) != buf) {
			print_error("%s: want \"%s\" (%d), got \"%s\" (%d, len %zu)\n",
				    cases[i].name, cases[i].want, cases[i].want_last,
				    hm_strbuf_str(&sb), rc, sb.len);
			failed++;
		}
		hm_strbuf_free(&sb);	/* empties, the buffer stays the caller's */
		if (strcmp(hm_strbuf_str(&sb), "") != 0 || hm_strbuf_str(&sb) != buf ||
		    hm_strbuf_puts(&sb, "again") != 0 || strcmp(buf, "again") != 0) {
			print_error("%s: not usable again after hm_strbuf_free\n", cases[i].name);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* A printf cut in the middle of a number, as the log line may be. */
static void test_fixed_printf(void **state)
{
	char buf[12];
	struct hm_strbuf sb;

	(void)state;
	hm_strbuf_init_fixed(&sb, buf, sizeof(buf));
	assert_int_equal(hm_strbuf_printf(&sb, "size=%d", 42), 0);
	assert_int_equal(hm_strbuf_printf(&sb, " ms=%ld", 123456L), -1);
	assert_string_equal(buf, "size=42 ...");
	assert_true(sb.failed);
	assert_int_equal(hm_strbuf_printf(&sb, "%s", ""), -1);
	assert_string_equal(buf, "size=42 ...");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty),
		cmocka_unit_test(test_grows_to_max),
		cmocka_unit_test(test_printf),
		cmocka_unit_test(test_fixed),
		cmocka_unit_test(test_fixed_printf),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
