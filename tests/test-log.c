/*
 * test-log.c - unit tests of util/log.c: escaping of untrusted text for
 * log fields (one TAP case per row), level and facility names, the level
 * filter, and the stderr line format.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

/* A failure with its case and what differed, as a TAP comment. */
#define FAIL(...) do { \
	print_message("# "); print_message(__VA_ARGS__); print_message("\n"); fail(); \
} while (0)

#include "util/log.h"

struct escape_case {
	const char *desc;
	const char *src;
	size_t len;			/* buffer size given */
	const char *want;
};

static const struct escape_case escapes[] = {
	{ "plain text", "mx.example.net", 64, "mx.example.net" },
	{ "empty", "", 64, "" },
	{ "space", "a b", 64, "a\\x20b" },
	{ "tab, CR, LF", "a\tb\r\nc", 64, "a\\x09b\\x0d\\x0ac" },
	{ "other control bytes", "\x01\x1f\x7f", 64, "\\x01\\x1f\\x7f" },
	{ "8-bit bytes", "caf\xc3\xa9", 64, "caf\\xc3\\xa9" },
	{ "byte 0xff", "\xff", 64, "\\xff" },
	{ "double quote", "say \"hi\"", 64, "say\\x20\\x22hi\\x22" },
	{ "backslash", "a\\b", 64, "a\\x5cb" },
	{ "single quote and symbols kept", "<'a'@b.c>;=", 64, "<'a'@b.c>;=" },
	{ "exactly fits", "abcde", 6, "abcde" },
	{ "one byte too long", "abcdef", 6, "ab..." },
	{ "escape exactly fits", "a\n", 6, "a\\x0a" },
	{ "cut never halves an escape", "ab\ncd", 8, "ab..." },
	{ "cut after an escape", "\n\n\n", 9, "\\x0a..." },
	{ "long line", "0123456789012345678901234567890123456789", 16, "012345678901..." },
	{ "buffer of 4", "abcdef", 4, "..." },
	{ "buffer of 3", "abcdef", 3, ".." },
	{ "buffer of 2", "abcdef", 2, "." },
	{ "buffer of 1", "abcdef", 1, "" },
	{ "buffer of 2, fits", "a", 2, "a" },
	{ "buffer of 1, empty source", "", 1, "" },
};

static void test_escape(void **state)
{
	const struct escape_case *c = *state;
	char buf[128];

	/* Poison the buffer to catch writes past len. */
	memset(buf, '#', sizeof(buf));
	assert_ptr_equal(hm_log_escape(buf, c->len, c->src), buf);
	if (strcmp(buf, c->want) != 0)
		FAIL("%s: escape(len %zu) gave \"%s\", expected \"%s\"", c->desc, c->len,
			 buf, c->want);
	for (size_t i = c->len; i < sizeof(buf); i++)
		if (buf[i] != '#')
			FAIL("%s: byte %zu written past the buffer of %zu", c->desc, i, c->len);
}

/* The text form (scan mode's report): what a terminal would act on is escaped. */
static void test_escape_text(void **state)
{
	static const struct {
		const char *src, *want;
	} cases[] = {
		{ "spaces \"quotes\" and \\ stay", "spaces \"quotes\" and \\ stay" },
		{ "\x1b[2J\x1b]0;title\x07", "\\x1b[2J\\x1b]0;title\\x07" },
		{ "line\r\nbreak\ttab", "line\\x0d\\x0abreak\\x09tab" },
		{ "\x7f\x9b\xc3\xa9", "\\x7f\\x9b\\xc3\\xa9" },
	};
	char buf[64];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		hm_log_escape_text(buf, sizeof(buf), cases[i].src);
		if (strcmp(buf, cases[i].want) != 0)
			FAIL("text escape of case %zu gave \"%s\", expected \"%s\"", i, buf,
			     cases[i].want);
	}
	hm_log_escape_text(buf, 8, "ab\x1b[31mcd");
	assert_string_equal(buf, "ab...");	/* cut, never half an escape */
}

static void test_escape_zero_length(void **state)
{
	char buf[4] = "###";

	(void)state;
	assert_ptr_equal(hm_log_escape(buf, 0, "abc"), buf);
	assert_string_equal(buf, "###");
}

static void test_level_names(void **state)
{
	static const struct {
		const char *name;
		int level;
	} cases[] = {
		{ "error", HM_LOG_ERR }, { "warning", HM_LOG_WARNING },
		{ "notice", HM_LOG_NOTICE }, { "info", HM_LOG_INFO },
		{ "debug", HM_LOG_DEBUG }, { "INFO", HM_LOG_INFO }, { "Debug", HM_LOG_DEBUG },
		{ "err", -1 }, { "warn", -1 }, { "crit", -1 }, { "", -1 }, { "info ", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (hm_log_level_from_name(cases[i].name) != cases[i].level)
			FAIL("level \"%s\": got %d, expected %d", cases[i].name,
				 hm_log_level_from_name(cases[i].name), cases[i].level);
}

static void test_facility_names(void **state)
{
	static const struct {
		const char *name;
		int facility;
	} cases[] = {
		{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
		{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
		{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
		{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 }, { "MAIL", LOG_MAIL },
		{ "local8", -1 }, { "kern", -1 }, { "auth", -1 }, { "", -1 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (hm_log_facility_from_name(cases[i].name) != cases[i].facility)
			FAIL("facility \"%s\": got %d, expected %d", cases[i].name,
				 hm_log_facility_from_name(cases[i].name), cases[i].facility);
}

static void test_level_filter(void **state)
{
	(void)state;
	hm_log_set_level(HM_LOG_NOTICE);
	assert_true(hm_log_enabled(HM_LOG_ERR));
	assert_true(hm_log_enabled(HM_LOG_WARNING));
	assert_true(hm_log_enabled(HM_LOG_NOTICE));
	assert_false(hm_log_enabled(HM_LOG_INFO));
	assert_false(hm_log_enabled(HM_LOG_DEBUG));
	hm_log_set_level(HM_LOG_DEBUG);
	assert_true(hm_log_enabled(HM_LOG_DEBUG));
	hm_log_set_level(HM_LOG_ERR);
	assert_false(hm_log_enabled(HM_LOG_WARNING));
	hm_log_set_level(HM_LOG_INFO);
}

/* On stderr: info lines bare, other levels prefixed; filtered lines absent. */
static void test_stderr_format(void **state)
{
	char path[] = "/tmp/hm-test-log.XXXXXX", text[512];
	int fd = mkstemp(path), saved = dup(STDERR_FILENO);
	FILE *f;
	size_t n;

	(void)state;
	assert_true(fd >= 0 && saved >= 0);
	hm_log_open("test", true, LOG_MAIL);
	hm_log_set_level(HM_LOG_INFO);
	fflush(stderr);
	assert_true(dup2(fd, STDERR_FILENO) >= 0);
	hm_log(HM_LOG_INFO, "qid=%s score=%.2f", "ABC123", 9.5);
	hm_log(HM_LOG_WARNING, "redis %s", "down");
	hm_log(HM_LOG_ERR, "boom");
	hm_log(HM_LOG_NOTICE, "stopping");
	hm_log(HM_LOG_DEBUG, "not shown");
	fflush(stderr);
	dup2(saved, STDERR_FILENO);
	close(saved);
	f = fdopen(fd, "r");
	assert_non_null(f);
	rewind(f);
	n = fread(text, 1, sizeof(text) - 1, f);
	text[n] = '\0';
	fclose(f);
	unlink(path);
	assert_string_equal(text, "qid=ABC123 score=9.50\nwarning: redis down\nerror: boom\n"
			    "notice: stopping\n");
}

#define MAX_TESTS 64
static struct CMUnitTest tests[MAX_TESTS];
static size_t ntests;

static void add(const char *name, CMUnitTestFunction fn, const void *arg)
{
	char buf[200];

	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many test cases\n");
		exit(99);
	}
	snprintf(buf, sizeof(buf), "%s", name);
	tests[ntests++] = (struct CMUnitTest){ strdup(buf), fn, NULL, NULL, (void *)arg };
}

int main(void)
{
	int rc;

	for (size_t i = 0; i < sizeof(escapes) / sizeof(escapes[0]); i++) {
		char name[200];

		snprintf(name, sizeof(name), "escape: %s", escapes[i].desc);
		add(name, test_escape, &escapes[i]);
	}
	add("escape into a zero-length buffer writes nothing", test_escape_zero_length, NULL);
	add("text escape: terminal controls escaped, spaces and quotes kept", test_escape_text, NULL);
	add("level names", test_level_names, NULL);
	add("facility names", test_facility_names, NULL);
	add("level filter", test_level_filter, NULL);
	add("stderr line format", test_stderr_format, NULL);
	rc = _cmocka_run_group_tests("log", tests, ntests, NULL, NULL);
	for (size_t i = 0; i < ntests; i++)
		free((char *)tests[i].name);
	return rc;
}
