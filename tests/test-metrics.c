/*
 * test-metrics.c - unit tests of milter/metrics.c: label and HELP escaping,
 * the listen address syntax, the exposition's shape (HELP and TYPE before
 * each family, names, cumulative buckets), symbol counting with the
 * table's bound, the histogram, and what one message counts.
 *
 * The registry is process-wide, so the cases run in order and each looks
 * at the difference it made.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "milter/metrics.h"
#include "scoring/symbols.h"

/* A failure with its case and what differed, as a TAP comment. */
#define FAIL(...) do { \
	print_message("# "); print_message(__VA_ARGS__); print_message("\n"); fail(); \
} while (0)

/* The exposition now, owned by the caller. */
static char *scrape(void)
{
	struct hm_strbuf out;
	char *s;

	hm_strbuf_init(&out, HM_METRICS_MAX_BYTES);
	if (hm_metrics_render(&out, NULL) < 0)
		FAIL("render failed");
	s = strdup(hm_strbuf_str(&out));
	hm_strbuf_free(&out);
	return s;
}

/* The value of the sample whose text before the value is exactly series; -1 if none. */
static long long sample(const char *text, const char *series)
{
	size_t n = strlen(series);

	for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
		if (strncmp(p, series, n) == 0 && p[n] == ' ')
			return strtoll(p + n + 1, NULL, 10);
	return -1;
}

/* --- escaping ------------------------------------------------------------- */

struct esc_case {
	const char *desc, *in, *want;
};

static const struct esc_case label_cases[] = {
	{ "plain", "SPF_PASS", "SPF_PASS" },
	{ "empty", "", "" },
	{ "backslash", "a\\b", "a\\\\b" },
	{ "double quote", "say \"hi\"", "say \\\"hi\\\"" },
	{ "newline", "a\nb", "a\\nb" },
	{ "all three, at the ends", "\"\\\n", "\\\"\\\\\\n" },
	{ "UTF-8 kept", "caf\xc3\xa9", "caf\xc3\xa9" },
};

static void test_label(void **state)
{
	const struct esc_case *c = *state;
	struct hm_strbuf sb;

	hm_strbuf_init(&sb, 1024);
	assert_int_equal(hm_metrics_put_label_value(&sb, c->in), 0);
	if (strcmp(hm_strbuf_str(&sb), c->want) != 0)
		FAIL("%s: got \"%s\", want \"%s\"", c->desc, hm_strbuf_str(&sb), c->want);
	hm_strbuf_free(&sb);
}

static void test_help(void **state)
{
	struct hm_strbuf sb;
	const char *want = "# HELP x_total A \"quoted\" back\\\\slash\\nand a newline.\n"
			   "# TYPE x_total counter\n";

	(void)state;
	hm_strbuf_init(&sb, 1024);
	hm_metrics_put_help(&sb, "x_total", "counter", "A \"quoted\" back\\slash\nand a newline.");
	if (strcmp(hm_strbuf_str(&sb), want) != 0)
		FAIL("got:\n%swant:\n%s", hm_strbuf_str(&sb), want);
	hm_strbuf_free(&sb);
}

/* --- the listen address ------------------------------------------------------- */

struct listen_case {
	const char *spec;
	int rc;
	int loopback, v6;
	const char *err;		/* a part of the message, for rc -1 */
};

static const struct listen_case listen_cases[] = {
	{ "127.0.0.1:9466", 0, 1, 0, NULL },
	{ "127.3.2.1:1", 0, 1, 0, NULL },
	{ "[::1]:9466", 0, 1, 1, NULL },
	{ "0.0.0.0:9466", 0, 0, 0, NULL },
	{ "192.0.2.7:65535", 0, 0, 0, NULL },
	{ "[2001:db8::1]:9466", 0, 0, 1, NULL },
	{ "[::]:9466", 0, 0, 1, NULL },
	{ "::1:9466", -1, 0, 0, "an IPv6 address goes in brackets" },
	{ "127.0.0.1", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "127.0.0.1:", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "127.0.0.1:0", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "127.0.0.1:65536", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "127.0.0.1:94x", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "127.0.0.1:-1", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "localhost:9466", -1, 0, 0, "is not ADDRESS:PORT" },
	{ ":9466", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "[::1]9466", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "[127.0.0.1]:9466", -1, 0, 0, "is not ADDRESS:PORT" },
	{ "[::1:9466", -1, 0, 0, "is not ADDRESS:PORT" },
};

static void test_listen(void **state)
{
	const struct listen_case *c = *state;
	struct hm_metrics_addr a;
	char err[300] = "";
	int rc = hm_metrics_listen_parse(c->spec, &a, err, sizeof(err));

	if (rc != c->rc)
		FAIL("\"%s\": returned %d, want %d (%s)", c->spec, rc, c->rc, err);
	if (rc == 0 && (a.loopback != c->loopback || a.v6 != c->v6))
		FAIL("\"%s\": loopback %d v6 %d, want %d %d", c->spec, a.loopback, a.v6,
		     c->loopback, c->v6);
	if (rc < 0 && strstr(err, c->err) == NULL)
		FAIL("\"%s\": message \"%s\" lacks \"%s\"", c->spec, err, c->err);
}

static void test_listen_warning(void **state)
{
	char w[400];

	(void)state;
	if (hm_metrics_listen_warning("127.0.0.1:9466", w, sizeof(w)) ||
	    hm_metrics_listen_warning("[::1]:9466", w, sizeof(w)) ||
	    hm_metrics_listen_warning("", w, sizeof(w)))
		FAIL("a warning for a loopback or empty address");
	if (!hm_metrics_listen_warning("0.0.0.0:9466", w, sizeof(w)) ||
	    strstr(w, "not a loopback address") == NULL)
		FAIL("no warning for 0.0.0.0:9466");
}

/* --- the exposition ---------------------------------------------------------- */

static int name_ok(const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!((s[i] >= 'a' && s[i] <= 'z') || s[i] == '_' || (i && s[i] >= '0' && s[i] <= '9')))
			return 0;
	return n > 0;
}

/*
 * Every sample belongs to the family whose HELP and TYPE came last (a
 * histogram's _bucket, _sum and _count included), every family's name
 * starts with hosterra_milter_, counters end in _total, and a family is
 * declared once.
 */
static void test_shape(void **state)
{
	char *text = scrape(), *save = NULL, fam[128] = "", type[32] = "";
	char seen[64][128];
	size_t nseen = 0;

	(void)state;
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		if (strncmp(line, "# HELP ", 7) == 0) {
			size_t n = strcspn(line + 7, " ");

			snprintf(fam, sizeof(fam), "%.*s", (int)n, line + 7);
			if (!name_ok(fam, strlen(fam)) || strncmp(fam, "hosterra_milter_", 16) != 0)
				FAIL("bad family name: %s", line);
			for (size_t i = 0; i < nseen; i++)
				if (strcmp(seen[i], fam) == 0)
					FAIL("family declared twice: %s", fam);
			if (nseen < 64)
				snprintf(seen[nseen++], sizeof(seen[0]), "%s", fam);
			type[0] = '\0';
			continue;
		}
		if (strncmp(line, "# TYPE ", 7) == 0) {
			size_t n = strlen(fam);

			if (strncmp(line + 7, fam, n) != 0 || line[7 + n] != ' ')
				FAIL("TYPE without its HELP: %s", line);
			snprintf(type, sizeof(type), "%s", line + 8 + n);
			if (strcmp(type, "counter") == 0 && strstr(fam, "_total") == NULL)
				FAIL("counter not named _total: %s", fam);
			continue;
		}
		size_t n = strcspn(line, "{ ");
		size_t f = strlen(fam);
		int ok = type[0] && strncmp(line, fam, f) == 0 &&
			 (n == f || (strcmp(type, "histogram") == 0 &&
				     (strncmp(line + f, "_bucket{", 8) == 0 ||
				      strncmp(line + f, "_sum ", 5) == 0 ||
				      strncmp(line + f, "_count ", 7) == 0)));
		if (!ok)
			FAIL("sample outside its family %s (%s): %s", fam, type, line);
	}
	free(text);
}

static void test_initial(void **state)
{
	char *text;
	char series[200];

	(void)state;
	hm_metrics_configure(NULL);
	text = scrape();
	for (int i = 0; i < HM_SYM_COUNT; i++) {
		snprintf(series, sizeof(series), "hosterra_milter_symbols_total{symbol=\"%s\"}",
			 hm_symdefs[i].name);
		if (sample(text, series) != 0)
			FAIL("built-in symbol not shown at 0: %s", series);
	}
	if (sample(text, "hosterra_milter_messages_total{action=\"tempfail\"}") != 0 ||
	    sample(text, "hosterra_milter_dns_lookups_total{kind=\"dnsbl\"}") != 0 ||
	    sample(text, "hosterra_milter_eom_duration_seconds_count") != 0)
		FAIL("a family missing at 0:\n%s", text);
	if (strstr(text, "hosterra_milter_build_info{version=\"" PACKAGE_VERSION "\"} 1\n") == NULL)
		FAIL("no build_info");
	free(text);
}

static void test_symbols(void **state)
{
	char *text;

	(void)state;
	hm_metrics_symbol("SPF_PASS");
	hm_metrics_symbol("SPF_PASS");
	hm_metrics_symbol("MY_RULE");
	hm_metrics_symbol("odd\"name\\with\nall");
	text = scrape();
	if (sample(text, "hosterra_milter_symbols_total{symbol=\"SPF_PASS\"}") != 2 ||
	    sample(text, "hosterra_milter_symbols_total{symbol=\"MY_RULE\"}") != 1 ||
	    sample(text, "hosterra_milter_symbols_total{symbol=\"odd\\\"name\\\\with\\nall\"}") != 1)
		FAIL("symbol counts:\n%s", text);
	/* Sorted by name: DKIM_* before SPF_*. */
	if (strstr(text, "symbol=\"DKIM_NONE\"") > strstr(text, "symbol=\"SPF_PASS\""))
		FAIL("symbols not sorted");
	free(text);
}

static void test_symbols_bounded(void **state)
{
	char name[32], *text;
	long long other;

	(void)state;
	/* Far more names than the table holds: the rest go to "(other)". */
	for (int i = 0; i < HM_METRICS_SYMBOLS_MAX + 100; i++) {
		snprintf(name, sizeof(name), "RULE_%d", i);
		hm_metrics_symbol(name);
	}
	hm_metrics_symbol("SPF_PASS");		/* known names still count by name */
	text = scrape();
	other = sample(text, "hosterra_milter_symbols_total{symbol=\"(other)\"}");
	if (other < 100 || other > HM_METRICS_SYMBOLS_MAX + 100)
		FAIL("(other) = %lld", other);
	if (sample(text, "hosterra_milter_symbols_total{symbol=\"SPF_PASS\"}") != 3)
		FAIL("SPF_PASS after the table filled: %lld",
		     sample(text, "hosterra_milter_symbols_total{symbol=\"SPF_PASS\"}"));
	free(text);
}

static void test_histogram(void **state)
{
	char *text;
	const char *h = "hosterra_milter_eom_duration_seconds";
	char s[200];
	long long prev = 0;

	(void)state;
	hm_metrics_observe_eom(300000ULL);		/* 0.3 ms */
	hm_metrics_observe_eom(1000000ULL);		/* 1 ms: on a bound, counted there */
	hm_metrics_observe_eom(3000000ULL);		/* 3 ms */
	hm_metrics_observe_eom(20000000000ULL);		/* 20 s: +Inf only */
	text = scrape();
	for (int b = 0; b < HM_METRICS_EOM_BUCKETS; b++) {
		char le[32];
		long long v;

		snprintf(le, sizeof(le), "%g", hm_metrics_eom_bounds[b]);
		snprintf(s, sizeof(s), "%s_bucket{le=\"%s\"}", h, le);
		v = sample(text, s);
		if (v < prev)
			FAIL("%s = %lld, below the previous bucket (%lld)", s, v, prev);
		prev = v;
	}
	snprintf(s, sizeof(s), "%s_bucket{le=\"0.0005\"}", h);
	long long b1 = sample(text, s);
	snprintf(s, sizeof(s), "%s_bucket{le=\"0.001\"}", h);
	long long b2 = sample(text, s);
	snprintf(s, sizeof(s), "%s_bucket{le=\"0.005\"}", h);
	long long b3 = sample(text, s);
	snprintf(s, sizeof(s), "%s_bucket{le=\"10\"}", h);
	long long b4 = sample(text, s);
	snprintf(s, sizeof(s), "%s_bucket{le=\"+Inf\"}", h);
	long long inf = sample(text, s);
	snprintf(s, sizeof(s), "%s_count", h);
	long long cnt = sample(text, s);
	if (b1 != 1 || b2 != 2 || b3 != 3 || b4 != 3 || inf != 4 || cnt != 4)
		FAIL("buckets %lld %lld %lld %lld +Inf %lld count %lld", b1, b2, b3, b4, inf, cnt);
	if (strstr(text, "hosterra_milter_eom_duration_seconds_sum 20.004300000\n") == NULL)
		FAIL("sum: %s", strstr(text, "_sum"));
	free(text);
}

/* --- one message ---------------------------------------------------------------- */

static void test_message(void **state)
{
	struct hm_rcpt_policy black = { .list = HM_LIST_BLACK, .list_level = HM_LEVEL_MAILBOX };
	struct hm_rcpt_policy domthr = { .tag = 1, .reject = 3,
					 .thresholds_from = HM_LEVEL_DOMAIN };
	struct hm_rcpt_policy white = { .list = HM_LIST_WHITE, .list_level = HM_LEVEL_DOMAIN,
					.tag = 1, .reject = 3 };
	struct hm_rcpt_policy low = { .tag = 0.5, .reject = 1,
				      .thresholds_from = HM_LEVEL_DOMAIN };
	struct hm_rcpt_policy mbox = { .tag = 8, .reject = 15,
				       .thresholds_from = HM_LEVEL_MAILBOX };
	struct hm_rcpt rcpts[] = {
		{ .addr = "<a@x>", .status = HM_RCPT_REJECTED, .policy = &black },
		{ .addr = "<b@x>", .decided = true, .outcome = HM_TAG, .policy = &domthr },
		{ .addr = "<c@x>", .decided = true, .outcome = HM_ACCEPT, .policy = &white },
		{ .addr = "<d@x>", .status = HM_RCPT_DEFERRED, .policy = &mbox },
		{ .addr = "<e@x>", .decided = true, .outcome = HM_REJECT, .held = 1,
		  .policy = &low },
		/* score 2 is under this mailbox's reject: DMARC enforcement rejected */
		{ .addr = "<f@x>", .decided = true, .outcome = HM_REJECT, .policy = &mbox },
		{ .addr = "<g@x>", .decided = true, .outcome = HM_ACCEPT, .policy = NULL },
	};
	struct hm_scan_result result = { .score = 2.0 };
	struct hm_msg msg = { .rcpts = rcpts, .nrcpts = 7, .result = &result };
	struct hm_conn conn = { .msg = &msg };
	char *text;

	(void)state;
	hm_symbols_add(&result.symbols, "SPF_FAIL", 3, NULL);
	hm_symbols_add(&result.symbols, "MY_RULE", 1, NULL);
	clock_gettime(CLOCK_MONOTONIC, &msg.eom_started);
	hm_metrics_message(&conn, "accept");
	hm_metrics_message(&conn, "no-such-action");	/* not counted */

	static const struct {
		const char *series;
		long long want;
	} want[] = {
		{ "hosterra_milter_messages_total{action=\"accept\"}", 1 },
		{ "hosterra_milter_messages_total{action=\"tag\"}", 0 },
		{ "hosterra_milter_recipients_total{outcome=\"reject\",decided_by=\"blacklist_mailbox\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"tag\",decided_by=\"thresholds_domain\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"accept\",decided_by=\"whitelist_domain\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"deferred\",decided_by=\"split_recipients\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"tempfail\",decided_by=\"thresholds_domain\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"reject\",decided_by=\"dmarc_enforce\"}", 1 },
		{ "hosterra_milter_recipients_total{outcome=\"accept\",decided_by=\"thresholds_server\"}", 1 },
		{ "hosterra_milter_symbols_total{symbol=\"SPF_FAIL\"}", 1 },
		{ "hosterra_milter_symbols_total{symbol=\"MY_RULE\"}", 2 },
		{ "hosterra_milter_eom_duration_seconds_count", 5 },
	};
	text = scrape();
	for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++)
		if (sample(text, want[i].series) != want[i].want)
			FAIL("%s = %lld, want %lld", want[i].series, sample(text, want[i].series),
			     want[i].want);
	free(text);
}

#define MAX_TESTS 64
static struct CMUnitTest tests[MAX_TESTS];
static size_t ntests;

static void add(const char *name, CMUnitTestFunction fn, const void *arg)
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many test cases\n");
		exit(99);
	}
	tests[ntests++] = (struct CMUnitTest){ strdup(name), fn, NULL, NULL, (void *)arg };
}

int main(void)
{
	char name[200];
	int rc;

	for (size_t i = 0; i < sizeof(label_cases) / sizeof(label_cases[0]); i++) {
		snprintf(name, sizeof(name), "label value: %s", label_cases[i].desc);
		add(name, test_label, &label_cases[i]);
	}
	add("HELP escapes backslash and newline, not quotes", test_help, NULL);
	for (size_t i = 0; i < sizeof(listen_cases) / sizeof(listen_cases[0]); i++) {
		snprintf(name, sizeof(name), "listen \"%s\": %s", listen_cases[i].spec,
			 listen_cases[i].rc ? "refused" : "accepted");
		add(name, test_listen, &listen_cases[i]);
	}
	add("a warning for a listen address that is not loopback", test_listen_warning, NULL);
	add("every family at 0 from the start, built-in symbols included", test_initial, NULL);
	add("symbols counted by name, escaped and sorted", test_symbols, NULL);
	add("histogram: cumulative buckets, a bound counted in its bucket, count and sum",
	    test_histogram, NULL);
	add("one message: its action, each recipient's outcome and decider, its symbols",
	    test_message, NULL);
	add("symbol names are bounded: the rest count as (other)", test_symbols_bounded, NULL);
	add("exposition: HELP and TYPE before each family's samples, names", test_shape, NULL);
	rc = _cmocka_run_group_tests("metrics", tests, ntests, NULL, NULL);
	for (size_t i = 0; i < ntests; i++)
		free((char *)tests[i].name);
	return rc;
}
