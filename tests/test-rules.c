/*
 * test-rules.c - unit tests of scoring/rules.c: compile errors as -t shows
 * them, header and body rules (any occurrence, case, unfolding, lines split
 * across chunks down to single bytes, NUL and 8-bit bytes, line and body
 * bounds), the escaped and bounded excerpt, PCRE2 limits against
 * catastrophic backtracking, threads sharing one compiled set, and the
 * throughput of many rules on a 1 MiB body.  Each table row is one case; a
 * failure prints the case and what differed.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "scoring/rules.h"

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* Fired symbols as "NAME[detail]" separated by spaces. */
static void render(const struct hm_symbols *s, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->count && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s[%s]", i ? " " : "",
				      s->fired[i].name, s->fired[i].detail);
}

/* Feed a body in chunks of `chunk` bytes (0: all at once). */
static void feed_body(struct hm_rules_match *m, const unsigned char *body, size_t len, size_t chunk)
{
	if (chunk == 0)
		chunk = len ? len : 1;
	for (size_t off = 0; off < len; off += chunk)
		hm_rules_body(m, body + off, len - off < chunk ? len - off : chunk);
}

static struct hm_rules *compile_ok(const struct hm_rule_def *defs, size_t n)
{
	struct hm_rules *r = NULL;
	char err[256] = "";

	if (hm_rules_compile(defs, n, &r, err, sizeof(err)) != 0)
		fail_msg("compile failed: %s", err);
	return r;
}

/* ---- compiling ---- */

static const struct {
	struct hm_rule_def def;
	const char *err;		/* NULL: compiles; else the error's start */
} compile_cases[] = {
	{ { "SUBJ", HM_RULE_HEADER, "Subject", "viagra", 1, false }, NULL },
	{ { "BODY", HM_RULE_BODY, NULL, "^click (here|now)$", 1, true }, NULL },
	{ { "EMPTY", HM_RULE_BODY, NULL, "", 0, false }, NULL },	/* matches everything */
	{ { "LATIN1", HM_RULE_BODY, NULL, "\xe9t\xe9|caf\xc3\xa9", 1, false }, NULL },
	{ { "BAD", HM_RULE_BODY, NULL, "abc(", 1, false },
	  "rule BAD: pattern error at offset 4: missing closing parenthesis" },
	{ { "BAD2", HM_RULE_HEADER, "Subject", "a**", 1, false },
	  "rule BAD2: pattern error at offset 2: quantifier does not follow a repeatable item" },
	{ { "BAD3", HM_RULE_BODY, NULL, "[z-a]", 1, false },
	  "rule BAD3: pattern error at offset 3: range out of order in character class" },
	{ { "UTF", HM_RULE_BODY, NULL, "(*UTF)x", 1, false },
	  "rule UTF: pattern error at offset 6: using UTF is disabled by the application" },
	{ { "NOHDR", HM_RULE_HEADER, NULL, "x", 1, false },
	  "rule NOHDR: a header rule needs a header name" },
	{ { "NOHDR2", HM_RULE_HEADER, "", "x", 1, false },
	  "rule NOHDR2: a header rule needs a header name" },
	{ { "NOPAT", HM_RULE_BODY, NULL, NULL, 1, false }, "rule NOPAT: no pattern" },
	{ { "", HM_RULE_BODY, NULL, "x", 1, false }, "rule : the name must have 1 to 47" },
	{ { NULL, HM_RULE_BODY, NULL, "x", 1, false }, "rule (unnamed): the name must have" },
	{ { "A_NAME_OF_FORTY_EIGHT_CHARACTERS_IS_ONE_TOO_LONG", HM_RULE_BODY, NULL, "x", 1, false },
	  "rule A_NAME_OF_FORTY_EIGHT_CHARACTERS_IS_ONE_TOO_LONG: the name must have" },
	{ { "NAN", HM_RULE_BODY, NULL, "x", NAN, false }, "rule NAN: the weight is not a number" },
};

static void test_compile_table(void **state)
{
	size_t failed = 0, n = sizeof(compile_cases) / sizeof(compile_cases[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct hm_rules *r = (struct hm_rules *)1;
		char err[256] = "";
		int rc = hm_rules_compile(&compile_cases[i].def, 1, &r, err, sizeof(err));
		const char *want = compile_cases[i].err;

		if (want == NULL && (rc != 0 || r == NULL)) {
			print_error("compile %zu (%s): want success, got \"%s\"\n", i,
				    compile_cases[i].def.name, err);
			failed++;
		} else if (want != NULL && (rc != -1 || r != NULL ||
					    strncmp(err, want, strlen(want)) != 0)) {
			print_error("compile %zu: want -1 and \"%s...\", got %d and \"%s\"\n", i,
				    want, rc, err);
			failed++;
		}
		hm_rules_free(&r);
		assert_null(r);
	}
	assert_int_equal(failed, 0);
}

/* One bad rule among good ones fails the set and names the bad one. */
static void test_compile_set(void **state)
{
	const struct hm_rule_def defs[] = {
		{ "GOOD", HM_RULE_BODY, NULL, "x", 1, false },
		{ "WORSE", HM_RULE_BODY, NULL, "(?<n>a)(?<n>b)", 1, false },
		{ "GOOD2", HM_RULE_BODY, NULL, "y", 1, false },
	};
	struct hm_rules *r = NULL;
	char err[256];

	(void)state;
	assert_int_equal(hm_rules_compile(defs, 3, &r, err, sizeof(err)), -1);
	assert_null(r);
	if (strncmp(err, "rule WORSE: pattern error at offset ", 36) != 0)
		fail_msg("got \"%s\"", err);
	/* A truncated error buffer stays a string. */
	assert_int_equal(hm_rules_compile(defs + 1, 1, &r, err, 8), -1);
	assert_string_equal(err, "rule WO");

	r = compile_ok(defs, 0);			/* no rules is a valid set */
	assert_int_equal(hm_rules_count(r), 0);
	hm_rules_free(&r);
	r = compile_ok(defs, 1);
	assert_int_equal(hm_rules_count(r), 1);
	print_message("# PCRE2 JIT in use: %s\n", hm_rules_jit(r) ? "yes" : "no");
	hm_rules_free(&r);
	hm_rules_free(&r);				/* idempotent */
	hm_rules_free(NULL);
}

/* ---- matching ---- */

#define DEFS_MAX 4
#define HDRS_MAX 4

static const struct {
	const char *desc;
	struct hm_rule_def defs[DEFS_MAX];	/* ends at a NULL name */
	const char *headers[HDRS_MAX][2];	/* name, value */
	const char *body;
	size_t body_len;			/* 0: strlen(body) */
	size_t chunk;				/* 0: the body in one chunk */
	const char *want;
} match_cases[] = {
	{ "header rule on Subject",
	  { { "SUBJ_PILLS", HM_RULE_HEADER, "Subject", "cheap p[i1]lls", 2.5, false } },
	  { { "From", " a@example.org" }, { "Subject", " Buy cheap p1lls today" } },
	  "", 0, 0, "SUBJ_PILLS[cheap p1lls]" },
	{ "header name is case-insensitive",
	  { { "SUBJ", HM_RULE_HEADER, "subject", "hello", 1, false } },
	  { { "SUBJECT", " hello" } }, "", 0, 0, "SUBJ[hello]" },
	{ "a header rule ignores other headers and the body",
	  { { "SUBJ", HM_RULE_HEADER, "Subject", "hello", 1, false } },
	  { { "X-Subject", " hello" }, { "Subject", " bye" } }, "hello\r\n", 0, 0, "" },
	{ "either occurrence of a repeated header matches, fired once",
	  { { "RCVD", HM_RULE_HEADER, "Received", "from evil\\.example", 1, false } },
	  { { "Received", " from good.example by mx" }, { "Received", " from evil.example by x" },
	    { "Received", " from evil.example again" } },
	  "", 0, 0, "RCVD[from evil.example]" },
	{ "value unfolded, leading space gone",
	  { { "FOLD", HM_RULE_HEADER, "Subject", "^win a prize$", 1, false } },
	  { { "Subject", " win a\r\n prize" } }, "", 0, 0, "FOLD[win a prize]" },
	{ "unfolded with bare LF too",
	  { { "FOLD", HM_RULE_HEADER, "Subject", "^win a\tprize$", 1, false } },
	  { { "Subject", "\twin a\n\tprize" } }, "", 0, 0, "FOLD[win a\\x09prize]" },
	{ "case-sensitive by default",
	  { { "CS", HM_RULE_HEADER, "Subject", "VIAGRA", 1, false } },
	  { { "Subject", " viagra" } }, "", 0, 0, "" },
	{ "caseless",
	  { { "CI", HM_RULE_HEADER, "Subject", "VIAGRA", 1, true } },
	  { { "Subject", " buy ViAgRa" } }, "", 0, 0, "CI[ViAgRa]" },
	{ "a rule that does not match",
	  { { "NOPE", HM_RULE_BODY, NULL, "lottery", 1, false } },
	  { { NULL, NULL } }, "Hello,\r\nsee you tomorrow.\r\n", 0, 0, "" },
	{ "a body rule ignores headers",
	  { { "B", HM_RULE_BODY, NULL, "lottery", 1, false } },
	  { { "Subject", " lottery" } }, "hi\r\n", 0, 0, "" },
	{ "body rule, line split across 1-byte chunks",
	  { { "CLICK", HM_RULE_BODY, NULL, "^click here now$", 1, false } },
	  { { NULL, NULL } }, "Hello\r\nclick here now\r\nbye\r\n", 0, 1, "CLICK[click here now]" },
	{ "body rule, line split across 7-byte chunks",
	  { { "CLICK", HM_RULE_BODY, NULL, "^click here now$", 1, false } },
	  { { NULL, NULL } }, "Hello\r\nclick here now\r\nbye\r\n", 0, 7, "CLICK[click here now]" },
	{ "a CR and LF split between chunks",
	  { { "END", HM_RULE_BODY, NULL, "^abc$", 1, false } },
	  { { NULL, NULL } }, "xx\r\nabc\r\n", 0, 8, "END[abc]" },
	{ "lines do not run together",
	  { { "JOIN", HM_RULE_BODY, NULL, "click here", 1, false } },
	  { { NULL, NULL } }, "click\r\nhere\r\n", 0, 1, "" },
	{ "bare LF line ends",
	  { { "LF", HM_RULE_BODY, NULL, "^two$", 1, false } },
	  { { NULL, NULL } }, "one\ntwo\nthree\n", 0, 0, "LF[two]" },
	{ "last line without a line end, matched at finish",
	  { { "LAST", HM_RULE_BODY, NULL, "^the end$", 1, false } },
	  { { NULL, NULL } }, "a\r\nthe end", 0, 3, "LAST[the end]" },
	{ "empty body",
	  { { "ANY", HM_RULE_BODY, NULL, "x", 1, false } },
	  { { NULL, NULL } }, "", 0, 0, "" },
	{ "NUL bytes in the body",
	  { { "NUL", HM_RULE_BODY, NULL, "a\\x00b", 1, false } },
	  { { NULL, NULL } }, "x\0y\r\nza\0b\r\n", 11, 2, "NUL[a\\x00b]" },
	{ "8-bit bytes and invalid UTF-8 in the body",
	  { { "HI", HM_RULE_BODY, NULL, "\\xff\\xfe.", 1, false },
	    { "LAT", HM_RULE_BODY, NULL, "caf\xc3\xa9", 1, false } },
	  { { NULL, NULL } }, "\xc3(\xff\xfe\x80zz\r\nun caf\xc3\xa9\r\n", 0, 3,
	  "HI[\\xff\\xfe\\x80] LAT[caf\\xc3\\xa9]" },
	{ "dot matches any byte, caseless only folds ASCII",
	  { { "DOT", HM_RULE_BODY, NULL, "^pr.x$", 1, true } },
	  { { NULL, NULL } }, "PR\xc9X\r\n", 0, 0, "DOT[PR\\xc9X]" },
	{ "several rules fire in definition order",
	  { { "R1", HM_RULE_BODY, NULL, "second", 1, false },
	    { "R2", HM_RULE_HEADER, "Subject", "s", 2, false },
	    { "R3", HM_RULE_BODY, NULL, "first", 3, false },
	    { "R4", HM_RULE_BODY, NULL, "absent", 4, false } },
	  { { "Subject", " s" } }, "first\r\nsecond\r\n", 0, 0, "R1[second] R2[s] R3[first]" },
	{ "excerpt escaped: backslash, control characters",
	  { { "ESC", HM_RULE_BODY, NULL, "a.*z", 1, false } },
	  { { NULL, NULL } }, "a\\b\tc\x1b" "d\x7fz\r\n", 0, 0, "ESC[a\\\\b\\x09c\\x1bd\\x7fz]" },
	{ "excerpt bounded with ...",
	  { { "LONG", HM_RULE_BODY, NULL, "x+", 1, false } },
	  { { NULL, NULL } }, "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n",
	  0, 0, "LONG[xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx...]" },
	{ "excerpt of exactly 40 characters is not cut",
	  { { "FORTY", HM_RULE_BODY, NULL, "y+", 1, false } },
	  { { NULL, NULL } }, "yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy\r\n", 0, 0,
	  "FORTY[yyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyyy]" },
	{ "excerpt never splits an escape",
	  { { "HEX", HM_RULE_BODY, NULL, "\\xff+", 1, false } },
	  { { NULL, NULL } },
	  "\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\r\n",
	  0, 0, "HEX[\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff\\xff...]" },
	{ "an empty match has an empty excerpt",
	  { { "EMPTY", HM_RULE_BODY, NULL, "^", 0.5, false } },
	  { { NULL, NULL } }, "anything\r\n", 0, 0, "EMPTY[]" },
};

static void test_match_table(void **state)
{
	size_t failed = 0, n = sizeof(match_cases) / sizeof(match_cases[0]);

	(void)state;
	for (size_t i = 0; i < n; i++) {
		struct hm_rules *r;
		struct hm_rules_match *m;
		struct hm_symbols out;
		size_t ndefs = 0, blen;
		char got[1024];

		while (ndefs < DEFS_MAX && match_cases[i].defs[ndefs].name != NULL)
			ndefs++;
		r = compile_ok(match_cases[i].defs, ndefs);
		m = hm_rules_begin(r);
		assert_non_null(m);
		for (size_t h = 0; h < HDRS_MAX && match_cases[i].headers[h][0] != NULL; h++)
			hm_rules_header(m, match_cases[i].headers[h][0], match_cases[i].headers[h][1]);
		blen = match_cases[i].body_len ? match_cases[i].body_len : strlen(match_cases[i].body);
		feed_body(m, (const unsigned char *)match_cases[i].body, blen, match_cases[i].chunk);
		memset(&out, 0, sizeof(out));
		hm_rules_finish(m, &out);
		hm_rules_finish(m, &out);		/* fires only once */
		render(&out, got, sizeof(got));
		if (strcmp(got, match_cases[i].want) != 0) {
			print_error("match %zu (%s):\n   want \"%s\"\n    got \"%s\"\n", i,
				    match_cases[i].desc, match_cases[i].want, got);
			failed++;
		}
		if (hm_rules_limit_hits(m, NULL) != 0) {
			print_error("match %zu (%s): a limit was hit\n", i, match_cases[i].desc);
			failed++;
		}
		hm_rules_free_match(&m);
		assert_null(m);
		hm_rules_free(&r);
	}
	assert_int_equal(failed, 0);
}

/* The weight given is the weight fired. */
static void test_weight(void **state)
{
	const struct hm_rule_def def = { "W", HM_RULE_BODY, NULL, "x", -2.75, false };
	struct hm_rules *r = compile_ok(&def, 1);
	struct hm_rules_match *m = hm_rules_begin(r);
	struct hm_symbols out = { 0 };

	(void)state;
	hm_rules_body(m, (const unsigned char *)"x\r\n", 3);
	hm_rules_finish(m, &out);
	assert_int_equal(out.count, 1);
	assert_true(out.fired[0].weight == -2.75);
	hm_rules_free_match(&m);
	hm_rules_free(&r);
}

/* A line past HM_RULES_LINE_MAX is matched on its first HM_RULES_LINE_MAX bytes. */
static void test_long_line(void **state)
{
	const struct hm_rule_def defs[] = {
		{ "IN", HM_RULE_BODY, NULL, "^a+INSIDE", 1, false },
		{ "OUT", HM_RULE_BODY, NULL, "BEYOND", 1, false },
		{ "EDGE", HM_RULE_BODY, NULL, "EDGE$", 1, false },
		{ "NEXT", HM_RULE_BODY, NULL, "^next line$", 1, false },
	};
	size_t len = 3 * HM_RULES_LINE_MAX;
	unsigned char *body = malloc(len + 64);
	struct hm_rules *r = compile_ok(defs, 4);
	struct hm_rules_match *m = hm_rules_begin(r);
	struct hm_symbols out = { 0 };
	size_t pos;
	char got[512];

	(void)state;
	assert_non_null(body);
	memset(body, 'a', len);
	memcpy(body + 100, "INSIDE", 6);
	memcpy(body + HM_RULES_LINE_MAX - 4, "EDGE", 4);		/* the last 4 bytes kept */
	memcpy(body + HM_RULES_LINE_MAX + 10, "BEYOND", 6);
	pos = len;
	memcpy(body + pos, "\r\nnext line\r\n", 13);
	pos += 13;
	feed_body(m, body, pos, 1000);
	hm_rules_finish(m, &out);
	render(&out, got, sizeof(got));
	assert_string_equal(got, "IN[aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa...] EDGE[EDGE] "
			    "NEXT[next line]");
	hm_rules_free_match(&m);
	hm_rules_free(&r);
	free(body);
}

/* Only the first HM_RULES_BODY_MAX bytes of the body are looked at. */
static void test_body_bound(void **state)
{
	const struct hm_rule_def defs[] = {
		{ "EARLY", HM_RULE_BODY, NULL, "^early$", 1, false },
		{ "CUT", HM_RULE_BODY, NULL, "^cut he$", 1, false },	/* the line the bound cuts */
		{ "LATE", HM_RULE_BODY, NULL, "^late$", 1, false },
	};
	const char *line = "0123456789012345678901234567890123456789012345678901234567890123456\r\n";
	size_t ll = strlen(line);	/* 70 */
	struct hm_rules *r = compile_ok(defs, 3);
	struct hm_rules_match *m = hm_rules_begin(r);
	struct hm_symbols out = { 0 };
	size_t fed = 0;
	char got[512];

	(void)state;
	hm_rules_body(m, (const unsigned char *)"early\r\n", 7);
	fed += 7;
	while (fed + ll <= HM_RULES_BODY_MAX - 6) {
		hm_rules_body(m, (const unsigned char *)line, ll);
		fed += ll;
	}
	/* Pad so that exactly "cut he" is left before the bound. */
	while (fed < HM_RULES_BODY_MAX - 6) {
		hm_rules_body(m, (const unsigned char *)"\n", 1);
		fed++;
	}
	hm_rules_body(m, (const unsigned char *)"cut here\r\nlate\r\n", 16);
	hm_rules_finish(m, &out);
	render(&out, got, sizeof(got));
	assert_string_equal(got, "EARLY[early] CUT[cut he]");
	hm_rules_free_match(&m);
	hm_rules_free(&r);
}

/*
 * Catastrophic backtracking: (a+)+$ on "aaa...ab" is exponential without
 * limits.  It must end fast, not fire, be counted, and not be tried again on
 * the message's other lines; a second rule keeps working.
 */
static void test_backtracking(void **state)
{
	const struct hm_rule_def defs[] = {
		{ "EVIL", HM_RULE_BODY, NULL, "(a+)+$", 1, false },
		{ "EVIL_HDR", HM_RULE_HEADER, "Subject", "^(\\w+\\s?)*$", 1, false },
		{ "FINE", HM_RULE_BODY, NULL, "^tail$", 1, false },
	};
	char subject[200];
	unsigned char line[4096];
	struct hm_rules *r = compile_ok(defs, 3);
	struct hm_rules_match *m = hm_rules_begin(r);
	struct hm_symbols out = { 0 };
	const char *first = NULL;
	double t0, el;
	char got[256];

	(void)state;
	memset(line, 'a', sizeof(line));
	line[sizeof(line) - 3] = 'b';
	line[sizeof(line) - 2] = '\r';
	line[sizeof(line) - 1] = '\n';
	memset(subject, 'a', sizeof(subject));
	subject[sizeof(subject) - 2] = '!';
	subject[sizeof(subject) - 1] = '\0';

	t0 = now_s();
	hm_rules_header(m, "Subject", subject);
	for (int i = 0; i < 1000; i++)		/* 4 MB offered, 1 MiB looked at */
		hm_rules_body(m, line, sizeof(line));
	hm_rules_finish(m, &out);
	el = now_s() - t0;
	render(&out, got, sizeof(got));
	print_message("# catastrophic patterns on one message: %.4f s\n", el);
	assert_string_equal(got, "");
	assert_int_equal(hm_rules_limit_hits(m, &first), 2);
	assert_string_equal(first, "EVIL_HDR");
	assert_true(el < 1.0);
	hm_rules_free_match(&m);

	/* The same lines one per message: each message pays one limit, still fast. */
	t0 = now_s();
	for (int i = 0; i < 20; i++) {
		memset(&out, 0, sizeof(out));
		m = hm_rules_begin(r);
		assert_non_null(m);
		hm_rules_body(m, line, sizeof(line));
		hm_rules_body(m, (const unsigned char *)"tail\r\n", 6);
		hm_rules_finish(m, &out);
		render(&out, got, sizeof(got));
		assert_string_equal(got, "FINE[tail]");
		assert_int_equal(hm_rules_limit_hits(m, &first), 1);
		assert_string_equal(first, "EVIL");
		hm_rules_free_match(&m);
	}
	el = now_s() - t0;
	print_message("# 20 messages hitting the limit: %.4f s\n", el);
	assert_true(el < 1.0);
	hm_rules_free(&r);
}

/*
 * The limits must not cut ordinary patterns short: backtracking .* over
 * an 8 KiB one-line HTML body stays far below them.
 */
static void test_limits_spare_ordinary_patterns(void **state)
{
	const struct hm_rule_def defs[] = {
		{ "HREF", HM_RULE_BODY, NULL, "href=.*evil\\.example", 1, false },
		{ "FOOBAR", HM_RULE_BODY, NULL, "foo.*bar", 1, false },
		{ "WORDS", HM_RULE_BODY, NULL, "(?:\\w+\\s+){5}free", 1, true },
		{ "ANCHOR", HM_RULE_BODY, NULL, "<a [^>]*>[^<]*free[^<]*</a>$", 1, true },
	};
	char line[HM_RULES_LINE_MAX + 2];
	size_t n = 0;
	struct hm_rules *r = compile_ok(defs, 4);
	struct hm_rules_match *m = hm_rules_begin(r);
	struct hm_symbols out = { 0 };
	const char *first;
	char got[512];

	(void)state;
	while (n + 60 < HM_RULES_LINE_MAX)
		n += (size_t)snprintf(line + n, sizeof(line) - n,
				      "<a href=\"http://x.example/r\">foo click</a> ");
	n += (size_t)snprintf(line + n, sizeof(line) - n, "evil.example\r\n");
	hm_rules_body(m, (const unsigned char *)line, n);
	hm_rules_finish(m, &out);
	render(&out, got, sizeof(got));
	if (hm_rules_limit_hits(m, &first) != 0)
		fail_msg("rule %s hit a limit", first);
	assert_string_equal(got, "HREF[href=\"http://x.example/r\">foo click</...]");
	hm_rules_free_match(&m);
	hm_rules_free(&r);
}

/* A realistic text line of `len` bytes (without CRLF), from a seed. */
static void text_line(char *out, size_t len, unsigned seed)
{
	static const char *const words[] = {
		"the", "message", "delivery", "report", "meeting", "tomorrow", "please",
		"find", "attached", "invoice", "regards", "thanks", "project", "update",
		"schedule", "customer", "account", "office", "Monday", "quarter", "budget",
	};
	size_t n = 0;

	while (n < len) {
		const char *w = words[(seed = seed * 1103515245u + 12345u) >> 16 & 15];
		size_t wl = strlen(w);

		if (n + wl + 1 > len)
			break;
		memcpy(out + n, w, wl);
		n += wl;
		out[n++] = ' ';
	}
	while (n < len)
		out[n++] = '.';
}

/* 50 rules of common kinds on a 1 MiB body of 76-byte lines: none match, all run. */
static void test_throughput(void **state)
{
	static const char *const pats[] = {
		"viagra", "c[i1]al[i1]s", "lottery", "\\bwinner\\b", "bitcoin", "wire transfer",
		"^Dear (friend|beneficiary)", "100% free", "click here", "unsubscribe now",
		"\\$\\d{3,},\\d{3}", "https?://\\d+\\.\\d+\\.\\d+\\.\\d+", "nigeria", "inheritance",
		"act now", "limited time", "risk[- ]free", "no prescription", "weight loss",
		"casino", "(?:re|fw):.*(?:re|fw):", "[A-Z]{30}", "!!!+", "\\bxxx\\b", "porn",
		"enlarge", "refinance", "mortgage rates", "work from home", "earn \\$\\d+",
		"password.*expire", "verify your account", "suspended", "urgent.*response",
		"confidential.*proposal", "million (dollars|usd)", "\\bbeneficiary\\b", "^>From ",
		"bank of", "western union", "moneygram", "gift ?card", "crypto", "investment opportunity",
		"sexy", "singles", "rolex", "replica", "pharmacy", "dating",
	};
	size_t np = sizeof(pats) / sizeof(pats[0]), lines = HM_RULES_BODY_MAX / 78;
	struct hm_rule_def defs[sizeof(pats) / sizeof(pats[0])];
	char *body = malloc(lines * 78);
	struct hm_rules *r;
	struct hm_rules_match *m;
	struct hm_symbols out = { 0 };
	double t0, el, best = 1e9;

	(void)state;
	assert_non_null(body);
	for (size_t i = 0; i < np; i++)
		defs[i] = (struct hm_rule_def){ pats[i], HM_RULE_BODY, NULL, pats[i], 1, i % 2 == 1 };
	for (size_t i = 0; i < lines; i++) {
		text_line(body + i * 78, 76, (unsigned)i);
		memcpy(body + i * 78 + 76, "\r\n", 2);
	}
	r = compile_ok(defs, np);
	for (int round = 0; round < 3; round++) {
		memset(&out, 0, sizeof(out));
		t0 = now_s();
		m = hm_rules_begin(r);
		assert_non_null(m);
		feed_body(m, (const unsigned char *)body, lines * 78, 65536);
		hm_rules_finish(m, &out);
		el = now_s() - t0;
		if (el < best)
			best = el;
		assert_int_equal(out.count, 0);
		hm_rules_free_match(&m);
	}
	print_message("# %zu rules (JIT %s) on %zu bytes: %.1f ms, %.1f MB/s\n", np,
		      hm_rules_jit(r) ? "on" : "off", lines * 78, best * 1e3,
		      (double)(lines * 78) / best / 1e6);
	assert_true(best < 5.0);
	hm_rules_free(&r);
	free(body);
}

/* Threads share one compiled set, each with its own match state. */
struct thread_arg {
	const struct hm_rules *r;
	int id;
	int wrong;
};

static void *thread_main(void *p)
{
	struct thread_arg *a = p;
	char body[64], want[64], got[128];

	for (int i = 0; i < 300; i++) {
		struct hm_rules_match *m = hm_rules_begin(a->r);
		struct hm_symbols out = { 0 };

		if (m == NULL) {
			a->wrong++;
			continue;
		}
		snprintf(body, sizeof(body), "id %d-%d end\r\n", a->id, i);
		snprintf(want, sizeof(want), "ID[id %d-%d]", a->id, i);
		feed_body(m, (const unsigned char *)body, strlen(body), 3);
		hm_rules_finish(m, &out);
		render(&out, got, sizeof(got));
		if (strcmp(got, want) != 0)
			a->wrong++;
		hm_rules_free_match(&m);
	}
	return NULL;
}

static void test_threads(void **state)
{
	const struct hm_rule_def def = { "ID", HM_RULE_BODY, NULL, "id \\d+-\\d+", 1, false };
	struct hm_rules *r = compile_ok(&def, 1);
	pthread_t th[4];
	struct thread_arg args[4];

	(void)state;
	for (int i = 0; i < 4; i++) {
		args[i] = (struct thread_arg){ r, i, 0 };
		assert_int_equal(pthread_create(&th[i], NULL, thread_main, &args[i]), 0);
	}
	for (int i = 0; i < 4; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(args[i].wrong, 0);
	}
	hm_rules_free(&r);
}

/* NULL states and inputs are harmless. */
static void test_null(void **state)
{
	struct hm_rules_match *m = NULL;
	struct hm_symbols out = { 0 };
	const char *first = "x";

	(void)state;
	assert_null(hm_rules_begin(NULL));
	hm_rules_header(NULL, "Subject", "x");
	hm_rules_body(NULL, (const unsigned char *)"x", 1);
	hm_rules_finish(NULL, &out);
	assert_int_equal(hm_rules_limit_hits(NULL, &first), 0);
	assert_null(first);
	hm_rules_free_match(&m);
	hm_rules_free_match(NULL);
	assert_int_equal(out.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_compile_table),
		cmocka_unit_test(test_compile_set),
		cmocka_unit_test(test_match_table),
		cmocka_unit_test(test_weight),
		cmocka_unit_test(test_long_line),
		cmocka_unit_test(test_body_bound),
		cmocka_unit_test(test_backtracking),
		cmocka_unit_test(test_limits_spare_ordinary_patterns),
		cmocka_unit_test(test_throughput),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_null),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
