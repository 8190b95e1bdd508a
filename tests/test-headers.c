/*
 * test-headers.c - unit tests of milter/headers.c: which incoming headers
 * are ours (X-Spam-*, any case), how many of each were seen, and the order
 * in which their removal is replayed (highest index of each name first).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A failure with its case and what differed, as a TAP comment. */
#define FAIL(...) do { \
	print_message("# "); print_message(__VA_ARGS__); print_message("\n"); fail(); \
} while (0)

#include "milter/headers.h"

static const struct {
	const char *name;
	bool ours;
} names[] = {
	{ "X-Spam-Flag", true },
	{ "x-spam-flag", true },
	{ "X-SPAM-STATUS", true },
	{ "x-Spam-score", true },
	{ "X-Spam-", true },
	{ "X-Spam-Checker-Version", true },
	{ "X-Spam", false },
	{ "X-Spamd-Result", false },
	{ "X-Spam_Flag", false },
	{ " X-Spam-Flag", false },
	{ "Subject", false },
	{ "Authentication-Results", false },
	{ "", false },
};

static void test_is_ours(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (hm_header_is_ours(names[i].name) != names[i].ours)
			FAIL("hm_header_is_ours(\"%s\") is %s, expected %s", names[i].name,
				 names[i].ours ? "false" : "true", names[i].ours ? "true" : "false");
}

/* What replay asked to delete, as "Name:index" lines. */
struct recorder {
	char log[8192];
	unsigned calls, stop_after;	/* stop_after 0: never stop */
};

static int record(const char *name, unsigned index, void *arg)
{
	struct recorder *r = arg;
	size_t used = strlen(r->log);

	snprintf(r->log + used, sizeof(r->log) - used, "%s:%u\n", name, index);
	r->calls++;
	return r->stop_after && r->calls == r->stop_after ? 7 : 0;
}

static void feed(struct hm_header_track *t, const char *const *hdrs)
{
	for (; *hdrs; hdrs++)
		assert_int_equal(hm_header_track_seen(t, *hdrs), 0);
}

static void test_counts_and_replay_order(void **state)
{
	static const char *const hdrs[] = {
		"Received", "X-Spam-Flag", "Subject", "x-spam-status", "X-SPAM-FLAG",
		"X-Spam-Status", "X-Spam-Flag", "Received", "X-Spam-Score", NULL,
	};
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 0 };

	(void)state;
	feed(&t, hdrs);
	assert_int_equal(t.nnames, 3);
	assert_false(t.overflow);
	/* Names keep the spelling first seen; any case counts as the same. */
	assert_string_equal(t.names[0].name, "X-Spam-Flag");
	assert_int_equal(t.names[0].count, 3);
	assert_string_equal(t.names[1].name, "x-spam-status");
	assert_int_equal(t.names[1].count, 2);
	assert_string_equal(t.names[2].name, "X-Spam-Score");
	assert_int_equal(t.names[2].count, 1);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 0);
	assert_string_equal(r.log,
			    "X-Spam-Flag:3\nX-Spam-Flag:2\nX-Spam-Flag:1\n"
			    "x-spam-status:2\nx-spam-status:1\n"
			    "X-Spam-Score:1\n");
	hm_header_track_clear(&t);
}

static void test_no_headers_no_calls(void **state)
{
	static const char *const hdrs[] = { "From", "To", "X-Spamd-Bar", NULL };
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 0 };

	(void)state;
	feed(&t, hdrs);
	assert_int_equal(t.nnames, 0);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 0);
	assert_int_equal(r.calls, 0);
	hm_header_track_clear(&t);
}

static void test_replay_stops_at_error(void **state)
{
	static const char *const hdrs[] = { "X-Spam-A", "X-Spam-A", "X-Spam-B", NULL };
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 2 };

	(void)state;
	feed(&t, hdrs);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 7);
	assert_string_equal(r.log, "X-Spam-A:2\nX-Spam-A:1\n");
	hm_header_track_clear(&t);
}

static void test_overflow(void **state)
{
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 0 };
	char name[64];

	(void)state;
	for (int i = 0; i < HM_TRACK_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "X-Spam-N%d", i);
		assert_int_equal(hm_header_track_seen(&t, name), 0);
	}
	assert_int_equal(t.nnames, HM_TRACK_MAX_NAMES);
	assert_false(t.overflow);
	/* A name already tracked still counts when the table is full ... */
	assert_int_equal(hm_header_track_seen(&t, "x-spam-n0"), 0);
	assert_int_equal(t.names[0].count, 2);
	assert_false(t.overflow);
	/* ... a new one cannot, and says so. */
	assert_int_equal(hm_header_track_seen(&t, "X-Spam-One-Too-Many"), 0);
	assert_int_equal(t.nnames, HM_TRACK_MAX_NAMES);
	assert_true(t.overflow);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 0);
	assert_int_equal(r.calls, HM_TRACK_MAX_NAMES + 1);
	assert_null(strstr(r.log, "One-Too-Many"));
	hm_header_track_clear(&t);
}

/* Authentication-Results claiming our id go, others stay; last first. */
static void test_authres(void **state)
{
	static const char *const values[] = {
		" mx.example.org; spf=pass smtp.mailfrom=a@example.net",	/* 1: ours */
		" other.example.net; dkim=pass header.d=example.net",		/* 2 */
		" MX.EXAMPLE.ORG;\n\tdmarc=pass header.from=example.net",	/* 3: ours */
		" mx.example.org.evil.example; spf=pass",			/* 4 */
		" (comment) mx.example.org; none",				/* 5: ours */
		" ",								/* 6: malformed */
	};
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 0 };

	(void)state;
	for (size_t i = 0; i < sizeof(values) / sizeof(values[0]); i++)
		hm_header_track_authres(&t, values[i], "mx.example.org");
	assert_int_equal(t.authres_seen, 6);
	assert_int_equal(t.nauthres_ours, 3);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 0);
	assert_string_equal(r.log, "Authentication-Results:5\nAuthentication-Results:3\n"
			    "Authentication-Results:1\n");
	hm_header_track_clear(&t);

	/* More of ours than can be tracked: overflow, the caller tempfails. */
	for (int i = 0; i < HM_TRACK_MAX_AUTHRES + 1; i++)
		hm_header_track_authres(&t, "mx.example.org; none", "mx.example.org");
	assert_true(t.overflow);
	hm_header_track_clear(&t);
}

static void test_clear_resets(void **state)
{
	static const char *const hdrs[] = { "X-Spam-Flag", "X-Spam-Flag", NULL };
	struct hm_header_track t = { 0 };
	struct recorder r = { "", 0, 0 };
	char name[64];

	(void)state;
	for (int i = 0; i <= HM_TRACK_MAX_NAMES; i++) {
		snprintf(name, sizeof(name), "X-Spam-N%d", i);
		assert_int_equal(hm_header_track_seen(&t, name), 0);
	}
	assert_true(t.overflow);
	hm_header_track_clear(&t);
	assert_int_equal(t.nnames, 0);
	assert_false(t.overflow);
	/* Usable again for the next message, and clearing twice is harmless. */
	feed(&t, hdrs);
	assert_int_equal(hm_header_track_replay(&t, record, &r), 0);
	assert_string_equal(r.log, "X-Spam-Flag:2\nX-Spam-Flag:1\n");
	hm_header_track_clear(&t);
	hm_header_track_clear(&t);
	assert_int_equal(t.nnames, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_is_ours),
		cmocka_unit_test(test_counts_and_replay_order),
		cmocka_unit_test(test_no_headers_no_calls),
		cmocka_unit_test(test_replay_stops_at_error),
		cmocka_unit_test(test_overflow),
		cmocka_unit_test(test_authres),
		cmocka_unit_test(test_clear_resets),
	};

	return cmocka_run_group_tests_name("headers", tests, NULL, NULL);
}
