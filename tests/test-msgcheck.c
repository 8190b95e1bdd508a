/*
 * test-msgcheck.c - unit tests of scoring/msgcheck.c: the RFC 5322 date
 * parser (current and obsolete forms, zones, leap years, range checks,
 * hostile input) and the header symbols fired for whole messages (absent,
 * empty and repeated headers, From address counts, the past and future
 * boundaries of Date).  Each table row is one case; a failure prints the
 * input and what differed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <cmocka.h>

#include "scoring/msgcheck.h"

#define JAN1_2024 1704067200LL		/* 2024-01-01 00:00:00 UTC */

/* A time as "YYYY-MM-DD hh:mm:ss" UTC, for failure messages. */
static const char *iso(long long t, char *buf, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (gmtime_r(&tt, &tm) == NULL || strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm) == 0)
		snprintf(buf, len, "%lld", t);
	return buf;
}

static const struct {
	const char *value;
	long long want;			/* UTC seconds, when err is NULL */
	const char *err;		/* the reason expected on failure */
} date_cases[] = {
	/* RFC 5322 appendix A forms. */
	{ "Fri, 21 Nov 1997 09:55:06 -0600", 880127706, NULL },
	{ " Tue, 1 Jul 2003 10:52:37 +0200", 1057049557, NULL },	/* libmilter's leading space */
	{ "Thu, 13 Feb 1969 23:32:54 -0330", -27723426, NULL },	/* before the epoch */
	{ "21 Nov 97 09:55:06 GMT", 880106106, NULL },		/* obsolete year and zone */
	{ "Thu,\r\n      13\r\n        Feb\r\n          1969\r\n      23:32\r\n"
	  "               -0330 (Newfoundland Time)", -27723480, NULL },
	{ "Thu,\n 13\n Feb\n 1969\n 23:32\n -0330", -27723480, NULL },	/* folded with "\n" */
	/* Optional parts. */
	{ "1 Jan 2024 00:00 +0000", JAN1_2024, NULL },		/* no day of week, no seconds */
	{ "Mon , 01 Jan 2024 00:00:00 +0000", JAN1_2024, NULL },
	{ "1 Jan 2024 9:05:00 +0000", 1704099900, NULL },	/* one-digit hour */
	{ "mon, 1 jan 2024 00:00:00 gmt", JAN1_2024, NULL },	/* names in any case */
	{ "MON, 1 JAN 2024 00:00:00 UT", JAN1_2024, NULL },
	/* Comments and CFWS between every part (obsolete syntax). */
	{ "(c) Mon (c) , (c) 1 (c) Jan (nested (deep \\) ok)) 2024 00 (x) : (y) 00 (z) : 00 "
	  "(w) +0000 (UTC)", JAN1_2024, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 +0000 (CET)  \r\n ", JAN1_2024, NULL },
	/* Zone arithmetic. */
	{ "Mon, 1 Jan 2024 00:30:00 +0100", 1704065400, NULL },	/* the day before in UTC */
	{ "Mon, 1 Jan 2024 00:00:00 +0530", 1704047400, NULL },
	{ "Mon, 1 Jan 2024 12:00:00 +1400", 1704060000, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 -1200", 1704110400, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 EST", 1704085200, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 EDT", 1704081600, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 CST", 1704088800, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 CDT", 1704085200, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 MST", 1704092400, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 MDT", 1704088800, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 PST", 1704096000, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 PDT", 1704092400, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 Z", JAN1_2024, NULL },	/* military: -0000 */
	{ "Mon, 1 Jan 2024 00:00:00 A", JAN1_2024, NULL },
	{ "Mon, 1 Jan 2024 00:00:00 y", JAN1_2024, NULL },
	/* Years: 2 digits (00-49 are 20xx), 3 digits (+1900), range ends. */
	{ "31 Dec 49 23:59:59 +0000", 2524607999, NULL },
	{ "1 Jan 50 00:00:00 +0000", -631152000, NULL },
	{ "1 Jan 124 00:00:00 +0000", JAN1_2024, NULL },
	{ "1 Jan 1900 00:00:00 +0000", -2208988800, NULL },
	{ "31 Dec 9999 23:59:59 +0000", 253402300799, NULL },
	/* Leap years and the leap second. */
	{ "29 Feb 2024 12:00:00 +0000", 1709208000, NULL },
	{ "29 Feb 2000 00:00:00 +0000", 951782400, NULL },	/* divisible by 400 */
	{ "10 Mar 2024 10:00:00 +0000", 1710064800, NULL },	/* after Feb 29 */
	{ "31 Dec 2016 23:59:60 +0000", 1483228800, NULL },
	{ "29 Feb 2023 00:00:00 +0000", 0, "no such day in that month" },
	{ "29 Feb 1900 00:00:00 +0000", 0, "no such day in that month" },	/* by 100, not 400 */
	{ "31 Apr 2024 00:00:00 +0000", 0, "no such day in that month" },
	{ "32 Jan 2024 00:00:00 +0000", 0, "no such day in that month" },
	{ "0 Jan 2024 00:00:00 +0000", 0, "no such day in that month" },
	/* Broken forms. */
	{ "", 0, "bad day" },
	{ "garbage", 0, "bad day of week" },
	{ "2024-01-01T10:00:00Z", 0, "bad day" },		/* ISO 8601 is not RFC 5322 */
	{ "Mon 1 Jan 2024 00:00:00 +0000", 0, "no comma after the day of week" },
	{ "Monday, 1 Jan 2024 00:00:00 +0000", 0, "bad day of week" },
	{ "Wednesday, 3 Jan 2024 00:00:00 +0000", 0, "bad day of week" },
	{ "Mon, 1 Foo 2024 00:00:00 +0000", 0, "bad month" },
	{ "Mon, 1 January 2024 00:00:00 +0000", 0, "bad month" },
	{ "Mon, 123 Jan 2024 00:00:00 +0000", 0, "bad day" },
	{ "Mon, 1 Jan 20245 00:00:00 +0000", 0, "bad year" },
	{ "Mon, 1 Jan 2 00:00:00 +0000", 0, "bad year" },
	{ "Mon, 1 Jan 1899 23:59:59 +0000", 0, "year before 1900" },
	{ "Mon, 1 Jan 2024 24:00:00 +0000", 0, "time out of range" },
	{ "Mon, 1 Jan 2024 10:60 +0000", 0, "time out of range" },
	{ "Mon, 1 Jan 2024 10:00:61 +0000", 0, "time out of range" },
	{ "Mon, 1 Jan 2024 100:00:00 +0000", 0, "bad hour" },
	{ "Mon, 1 Jan 2024 10:0:00 +0000", 0, "bad minute" },
	{ "Mon, 1 Jan 2024 10:00:0 +0000", 0, "bad second" },
	{ "Mon, 1 Jan 2024 10.00.00 +0000", 0, "bad time" },
	{ "Mon, 1 Jan 2024 10:00:00", 0, "bad zone" },
	{ "Mon, 1 Jan 2024 10:00:00 +060", 0, "bad zone" },
	{ "Mon, 1 Jan 2024 10:00:00 +0060", 0, "bad zone" },
	{ "Mon, 1 Jan 2024 10:00:00 CEST", 0, "bad zone" },
	{ "Mon, 1 Jan 2024 10:00:00 J", 0, "bad zone" },
	{ "Mon, 1 Jan 2024 10:00:00 +0000 CEST", 0, "text after the zone" },
	{ "Mon, 1 Jan 2024 10:00:00 +0000\xff", 0, "text after the zone" },
	{ "Mon, 1 Jan 2024 10:00:00 +0000 (unterminated", 0, "unterminated comment" },
	{ "Mon, 1 Jan 2024 10:00:00 +0000 (a\\", 0, "unterminated comment" },
	{ "(((((((((((((((((((x))))))))))))))))))) 1 Jan 2024 10:00 +0000", 0,
	  "comments nested too deep" },
	{ "\xc3\xa9, 1 Jan 2024 10:00:00 +0000", 0, "bad day" },
};

static void test_date_table(void **state)
{
	size_t failed = 0, n = sizeof(date_cases) / sizeof(date_cases[0]);
	char a[40], b[40];

	(void)state;
	for (size_t i = 0; i < n; i++) {
		time_t t = 0;
		char err[HM_DATE_ERR_MAX] = "";
		int rc = hm_date_parse(date_cases[i].value, &t, err, sizeof(err));
		bool want_ok = date_cases[i].err == NULL;

		if (want_ok && rc != 0) {
			print_error("date %zu \"%s\": want %s, got error \"%s\"\n", i,
				    date_cases[i].value, iso(date_cases[i].want, a, sizeof(a)), err);
			failed++;
		} else if (want_ok && (long long)t != date_cases[i].want) {
			print_error("date %zu \"%s\": want %s (%lld), got %s (%lld)\n", i,
				    date_cases[i].value, iso(date_cases[i].want, a, sizeof(a)),
				    date_cases[i].want, iso(t, b, sizeof(b)), (long long)t);
			failed++;
		} else if (!want_ok && rc == 0) {
			print_error("date %zu \"%s\": want error \"%s\", got %s\n", i,
				    date_cases[i].value, date_cases[i].err, iso(t, a, sizeof(a)));
			failed++;
		} else if (!want_ok && strcmp(err, date_cases[i].err) != 0) {
			print_error("date %zu \"%s\": want error \"%s\", got \"%s\"\n", i,
				    date_cases[i].value, date_cases[i].err, err);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Hostile: a long run of digits, a huge comment, NULL. */
static void test_date_hostile(void **state)
{
	static char big[70000];
	char err[HM_DATE_ERR_MAX] = "";
	time_t t;

	(void)state;
	memset(big, '9', sizeof(big) - 1);
	assert_int_equal(hm_date_parse(big, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "bad day");

	big[0] = '(';
	memset(big + 1, 'x', sizeof(big) - 2);
	big[sizeof(big) - 2] = ')';
	assert_int_equal(hm_date_parse(big, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "bad day");

	assert_int_equal(hm_date_parse(NULL, &t, err, sizeof(err)), -1);
	assert_string_equal(err, "empty");
	/* A caller that wants no reason. */
	assert_int_equal(hm_date_parse("32 Jan 2024 00:00 +0000", &t, NULL, 0), -1);
}

/* ---- whole messages ---- */

#define H_MAX 20

static const struct {
	const char *desc;
	long long now_off;		/* now = JAN1_2024 + this */
	const char *headers[H_MAX][2];	/* name, value; ends at a NULL name */
	const char *want;		/* fired symbols, "NAME[detail]" separated by spaces */
} msg_cases[] = {
	{ "complete message", 0, {
		{ "From", " Alice <alice@example.org>" },
		{ "Date", " Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@example.org>" } }, "" },
	{ "no headers at all", 0, { { NULL, NULL } },
	  "MISSING_FROM[] MISSING_MESSAGE_ID[] MISSING_DATE[]" },
	{ "header names in any case", 0, {
		{ "FROM", " alice@example.org" },
		{ "date", " Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "message-id", " <1@example.org>" } }, "" },
	{ "other headers do not count", 0, {
		{ "Sender", " alice@example.org" },
		{ "Resent-Date", " Mon, 1 Jan 2024 00:00:00 +0000" },
		{ "Resent-Message-ID", " <1@example.org>" } },
	  "MISSING_FROM[] MISSING_MESSAGE_ID[] MISSING_DATE[]" },
	{ "empty values count as absent", 0, {
		{ "From", " " }, { "Date", "" }, { "Message-ID", " \r\n\t" } },
	  "MISSING_FROM[empty] MISSING_MESSAGE_ID[] MISSING_DATE[]" },
	{ "two From headers", 0, {
		{ "From", " alice@example.org" }, { "From", " bob@example.net" },
		{ "Date", " 1 Jan 2024 00:00 +0000" }, { "Message-ID", " <1@x>" } },
	  "MULTIPLE_FROM[2 From headers]" },
	{ "two From headers, one empty", 0, {
		{ "From", " alice@example.org" }, { "From", "" },
		{ "Date", " 1 Jan 2024 00:00 +0000" }, { "Message-ID", " <1@x>" } },
	  "MULTIPLE_FROM[2 From headers]" },
	{ "two addresses in one From", 0, {
		{ "From", " Alice <alice@example.org>, bob@example.net" },
		{ "Date", " 1 Jan 2024 00:00 +0000" }, { "Message-ID", " <1@x>" } },
	  "MULTIPLE_FROM[2 addresses]" },
	{ "more addresses than kept", 0, {
		{ "From", " a@x.example, b@x.example, c@x.example, d@x.example, e@x.example, "
		  "f@x.example, g@x.example, h@x.example, i@x.example, j@x.example, k@x.example, "
		  "l@x.example, m@x.example, n@x.example, o@x.example, p@x.example, q@x.example" },
		{ "Date", " 1 Jan 2024 00:00 +0000" }, { "Message-ID", " <1@x>" } },
	  "MULTIPLE_FROM[more than 16 addresses]" },
	{ "a From group without addresses is not missing", 0, {
		{ "From", " undisclosed-senders:;" },
		{ "Date", " 1 Jan 2024 00:00 +0000" }, { "Message-ID", " <1@x>" } }, "" },
	{ "unparseable Date", 0, {
		{ "From", " a@example.org" }, { "Date", " Mon, 1 Foo 2024 00:00 +0000" },
		{ "Message-ID", " <1@x>" } },
	  "MISSING_DATE[unparseable: bad month]" },
	{ "first Date judged, later ones ignored", 0, {
		{ "From", " a@example.org" }, { "Date", " 1 Jan 2024 00:00 +0000" },
		{ "Date", " nonsense" }, { "Message-ID", " <1@x>" } }, "" },
	{ "an empty Date before a real one", 0, {
		{ "From", " a@example.org" }, { "Date", " " },
		{ "Date", " 1 Jan 2020 00:00 +0000" }, { "Message-ID", " <1@x>" } },
	  "DATE_IN_PAST[1461 days]" },
	{ "Date exactly 7 days old", 7 * 86400, {
		{ "From", " a@example.org" }, { "Date", " 1 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "" },
	{ "Date 7 days and 1 second old", 7 * 86400 + 1, {
		{ "From", " a@example.org" }, { "Date", " 1 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_PAST[7 days]" },
	{ "Date 7 days old by its zone", 7 * 86400, {
		{ "From", " a@example.org" }, { "Date", " Sun, 31 Dec 2023 23:59:59 -0000" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_PAST[7 days]" },
	{ "Date across a leap day", 0, {
		{ "From", " a@example.org" }, { "Date", " 1 Mar 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_FUTURE[60 days]" },
	{ "Date exactly 1 day ahead", 0, {
		{ "From", " a@example.org" }, { "Date", " 2 Jan 2024 01:00:00 +0100" },
		{ "Message-ID", " <1@x>" } }, "" },
	{ "Date 1 day and 1 second ahead", 0, {
		{ "From", " a@example.org" }, { "Date", " 2 Jan 2024 01:00:01 +0100" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_FUTURE[24 hours]" },
	{ "Date 1 day ahead by its zone", 0, {
		{ "From", " a@example.org" }, { "Date", " 1 Jan 2024 19:00:01 EST" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_FUTURE[24 hours]" },
	{ "Date 3 days ahead", 0, {
		{ "From", " a@example.org" }, { "Date", " 4 Jan 2024 00:00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_FUTURE[3 days]" },
	{ "Date from 1970 with a now in 2024", 0, {
		{ "From", " a@example.org" }, { "Date", " Thu, 1 Jan 1970 00:00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "DATE_IN_PAST[19723 days]" },
	{ "everything wrong at once", 0, {
		{ "From", " a@example.org, b@example.org" }, { "Date", " 1 Jan 2034 00:00 +0000" } },
	  "MULTIPLE_FROM[2 addresses] MISSING_MESSAGE_ID[] DATE_IN_FUTURE[3653 days]" },
	{ "NULL name or value ignored", 0, {
		{ "From", NULL }, { "From", " a@example.org" }, { "Date", " 1 Jan 2024 00:00 +0000" },
		{ "Message-ID", " <1@x>" } }, "" },
};

static void render(const struct hm_symbols *s, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->count && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s[%s]", i ? " " : "",
				      s->fired[i].name, s->fired[i].detail);
}

static void test_message_table(void **state)
{
	size_t failed = 0, n = sizeof(msg_cases) / sizeof(msg_cases[0]);
	struct hm_weights w;

	(void)state;
	hm_weights_default(&w);
	for (size_t i = 0; i < n; i++) {
		struct hm_msgcheck m;
		struct hm_from_list from;
		struct hm_symbols out;
		char got[512];

		hm_msgcheck_init(&m);
		hm_from_init(&from);
		memset(&out, 0, sizeof(out));
		for (size_t h = 0; h < H_MAX && msg_cases[i].headers[h][0] != NULL; h++) {
			const char *name = msg_cases[i].headers[h][0];
			const char *value = msg_cases[i].headers[h][1];

			hm_msgcheck_header(&m, name, value);
			if (value != NULL && strcasecmp(name, "From") == 0)
				(void)hm_from_parse(&from, value, NULL, 0);
		}
		hm_msgcheck_finish(&m, &from, (time_t)(JAN1_2024 + msg_cases[i].now_off), &w, &out);
		render(&out, got, sizeof(got));
		if (strcmp(got, msg_cases[i].want) != 0) {
			print_error("message %zu (%s):\n   want \"%s\"\n    got \"%s\"\n", i,
				    msg_cases[i].desc, msg_cases[i].want, got);
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* The weights come from the configuration, not from the defaults. */
static void test_weights_and_null_from(void **state)
{
	struct hm_msgcheck m;
	struct hm_symbols out;
	struct hm_weights w;

	(void)state;
	hm_weights_default(&w);
	w.w[HM_SYM_MISSING_DATE] = 4.25;
	hm_msgcheck_init(&m);
	hm_msgcheck_header(&m, "From", " a@example.org");
	hm_msgcheck_header(&m, "Message-ID", " <1@x>");
	memset(&out, 0, sizeof(out));
	hm_msgcheck_finish(&m, NULL, (time_t)JAN1_2024, &w, &out);	/* no From list: no count */
	assert_int_equal(out.count, 1);
	assert_string_equal(out.fired[0].name, "MISSING_DATE");
	assert_true(out.fired[0].weight == 4.25);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_date_table),
		cmocka_unit_test(test_date_hostile),
		cmocka_unit_test(test_message_table),
		cmocka_unit_test(test_weights_and_null_from),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
