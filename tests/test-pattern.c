/*
 * test-pattern.c - unit tests of policy/pattern.c: glob matching (exact,
 * "*@domain", the "@domain" shorthand, subdomains, '?', case, several
 * stars, very long inputs without exponential backtracking), the rules
 * that reject absurd or malformed patterns, normalization, the specificity
 * order (and that it is a total preorder), best-of selection in a list with
 * mixed kinds and the list's top pattern, both checked against a
 * brute-force search on random lists, and lookup time that stays flat from
 * 100 to 100,000 patterns.  Each table row is one case; a failure prints
 * every row that differed.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "policy/pattern.h"

#define N_ELEMS(a) (sizeof(a) / sizeof((a)[0]))

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* A string of n copies of c followed by tail (malloc'd). */
static char *repeat(char c, size_t n, const char *tail)
{
	size_t tl = strlen(tail);
	char *s = malloc(n + tl + 1);

	assert_non_null(s);
	memset(s, c, n);
	memcpy(s + n, tail, tl + 1);
	return s;
}

/* Shorten long strings for messages. */
static const char *shown(const char *s, char *buf, size_t len)
{
	if (s == NULL)
		return "(null)";
	if (strlen(s) < 60)
		return s;
	snprintf(buf, len, "%.24s...(%zu bytes)...%.16s", s, strlen(s), s + strlen(s) - 16);
	return buf;
}

static void test_match(void **state)
{
	static const struct {
		const char *pattern, *addr;
		bool want;
	} cases[] = {
		/* exact */
		{ "bob@example.org", "bob@example.org", true },
		{ "bob@example.org", "bob@example.com", false },
		{ "bob@example.org", "bobby@example.org", false },
		{ "bob@example.org", "xbob@example.org", false },
		{ "bob@example.org", "bob@example.org.", false },
		{ "Bob@Example.ORG", "bob@example.org", true },	/* pattern lower-cased */
		{ "bob@example.org", "BOB@Example.Org", true },	/* address case ignored */
		/* *@domain */
		{ "*@example.org", "alice@example.org", true },
		{ "*@example.org", "@example.org", true },	/* '*' matches nothing too */
		{ "*@example.org", "alice@sub.example.org", false },
		{ "*@example.org", "alice@example.org.evil.test", false },
		{ "*@example.org", "alice@notexample.org", false },
		{ "*@example.org", "a@example.orgg", false },
		{ "*@example.org", "example.org", false },
		{ "*@example.org", "", false },
		/* the @domain shorthand */
		{ "@example.org", "carol@example.org", true },
		{ "@example.org", "carol@example.net", false },
		{ "@Example.Org", "carol@mail.example.org", false },
		/* subdomains: not the domain itself */
		{ "*@*.example.org", "a@mail.example.org", true },
		{ "*@*.example.org", "a@a.b.example.org", true },
		{ "*@*.example.org", "a@example.org", false },
		{ "*@*.example.org", "a@badexample.org", false },
		{ "*@*.example.org", "a@mail.example.org.x", false },
		{ "*@*.xyz", "promo@shop.xyz", true },
		/* '?' is exactly one byte */
		{ "?@x.org", "a@x.org", true },
		{ "?@x.org", "@x.org", false },
		{ "?@x.org", "ab@x.org", false },
		{ "b?b@x.org", "bob@x.org", true },
		{ "b?b@x.org", "bb@x.org", false },
		{ "bob@x.?rg", "bob@x.org", true },
		{ "??@x.org", "ab@x.org", true },
		{ "?*@x.org", "@x.org", false },
		{ "?*@x.org", "a@x.org", true },
		{ "j?rg@x.org", "j\xc3\xb6rg@x.org", false },	/* one byte, not one character */
		{ "j??rg@x.org", "j\xc3\xb6rg@x.org", true },
		/* several stars, backtracking */
		{ "*bob*@*.org", "mrbobby@mail.org", true },
		{ "*bob*@*.org", "bob@x.org", true },
		{ "*bob*@*.org", "bo@x.org", false },
		{ "a*b*c@x.org", "abc@x.org", true },
		{ "a*b*c@x.org", "aXXbYYc@x.org", true },
		{ "a*b*c@x.org", "acb@x.org", false },
		{ "a*b*c@x.org", "abcab@x.org", false },
		{ "a*b*c@x.org", "abcabc@x.org", true },
		{ "*.*@x.org", "a.b@x.org", true },
		{ "*.*@x.org", "ab@x.org", false },
		{ "***@x.org", "a@x.org", true },		/* collapsed to one '*' */
		{ "*a*a*a*a*a*a*a*@x.org", "aaaaaaa@x.org", true },
		{ "*a*a*a*a*a*a*a*@x.org", "aaaaaa@x.org", false },
		/* prefixes and suffixes */
		{ "news*@lists.example.org", "newsletter@lists.example.org", true },
		{ "news*@lists.example.org", "news@lists.example.org", true },
		{ "news*@lists.example.org", "thenews@lists.example.org", false },
		{ "*-bounces@*.x.org", "list-bounces@m.x.org", true },
		{ "*-bounces@*.x.org", "list-bounce@m.x.org", false },
		/* 8-bit bytes compare exactly, ASCII folding only */
		{ "j\xc3\xb6rg@x.org", "j\xc3\xb6rg@x.org", true },
		{ "j\xc3\xb6rg@x.org", "J\xc3\xb6RG@x.org", true },
		{ "j\xc3\xb6rg@x.org", "j\xc3\x96rg@x.org", false },
	};
	int failed = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct hm_pattern p;
		char err[128];
		bool got;

		if (hm_pattern_parse(cases[i].pattern, &p, err, sizeof(err)) != 0) {
			print_error("# row %zu: pattern \"%s\" rejected: %s\n", i, cases[i].pattern, err);
			failed++;
			continue;
		}
		got = hm_pattern_match(&p, cases[i].addr);
		if (got != cases[i].want) {
			print_error("# row %zu: \"%s\" against \"%s\": %s, want %s\n", i,
				    cases[i].pattern, cases[i].addr, got ? "match" : "no match",
				    cases[i].want ? "match" : "no match");
			failed++;
		}
		hm_pattern_free(&p);
	}
	if (failed > 0)
		fail_msg("%d of %zu match rows differ", failed, N_ELEMS(cases));
}

/* Long inputs: right answers, and no exponential backtracking. */
static void test_match_long(void **state)
{
	struct {
		const char *pattern;
		char *addr;
		bool want;
	} cases[] = {
		{ "*@x.org", repeat('a', 100000, "@x.org"), true },
		{ "*@x.org", repeat('a', 100000, "@x.orh"), false },
		{ "*a*a*a*a*a*a*a*b@x.org", repeat('a', 100000, "@x.org"), false },
		{ "*a*a*a*a*a*a*a*b@x.org", repeat('a', 100000, "b@x.org"), true },
		{ "a?*?*?*?*@x.org", repeat('a', 100000, "@x.org"), true },
		{ "*@*.example.org", repeat('a', 100000, "@example.org"), false },
		{ "*@*?????.org", repeat('a', 100000, "@x.org"), false },
	};
	struct hm_pattern p;
	char err[128], buf[80];
	int failed = 0;
	double t0 = now_s(), el;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		bool got;

		assert_int_equal(hm_pattern_parse(cases[i].pattern, &p, err, sizeof(err)), 0);
		got = hm_pattern_match(&p, cases[i].addr);
		if (got != cases[i].want) {
			print_error("# row %zu: \"%s\" against \"%s\": %s\n", i, cases[i].pattern,
				    shown(cases[i].addr, buf, sizeof(buf)), got ? "match" : "no match");
			failed++;
		}
		hm_pattern_free(&p);
		free(cases[i].addr);
	}
	el = now_s() - t0;
	print_message("# %zu patterns against 100 kB addresses: %.1f ms\n", N_ELEMS(cases), el * 1e3);
	if (failed > 0)
		fail_msg("%d long-input rows differ", failed);
	/* O(n*m) with m <= 24 is a few ms; exponential would never finish. */
	if (el > 0.5)
		fail_msg("long inputs took %.3f s", el);
}

static void test_reject(void **state)
{
	static const struct {
		const char *text, *why;	/* why: a substring of the reason */
	} cases[] = {
		{ "", "empty" },
		{ NULL, "empty" },
		{ "*", "no '@'" },
		{ "?", "no '@'" },
		{ "bob", "no '@'" },
		{ "*.example.org", "no '@'" },
		{ "@", "nothing after '@'" },
		{ "bob@", "nothing after '@'" },
		{ "*@", "nothing after '@'" },
		{ "*@*", "only wildcards" },
		{ "@*", "only wildcards" },
		{ "bob@*", "only wildcards" },
		{ "*@*.*", "only wildcards" },
		{ "?@?", "only wildcards" },
		{ "*@..", "only wildcards" },
		{ "*@*.?*", "only wildcards" },
		{ "a@b@c.org", "more than one '@'" },
		{ "@@x.org", "more than one '@'" },
		{ "bob @x.org", "space" },
		{ " bob@x.org", "space" },
		{ "bob@x.org ", "space" },
		{ "bob@x.org\n", "control" },
		{ "bob\t@x.org", "control" },
		{ "bob\r@x.org", "control" },
		{ "bob\x7f@x.org", "control" },
		{ "Bob <bob@x.org>", "space" },
		{ "<bob@x.org>", "'<'" },
		{ "a@x.org,b@x.org", "','" },
		{ "a@x.org;b@x.org", "';'" },
		{ "\"a b\"@x.org", "'\"'" },
		{ "?????????@x.org", "more than 8 wildcards" },
		{ "*a*b*c*d*e*@*.*.*.x.org", "more than 8 wildcards" },
	};
	int failed = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct hm_pattern p;
		char err[128] = "";

		if (hm_pattern_parse(cases[i].text, &p, err, sizeof(err)) == 0) {
			print_error("# row %zu: \"%s\" accepted as \"%s\", want rejected (%s)\n", i,
				    cases[i].text, p.text, cases[i].why);
			hm_pattern_free(&p);
			failed++;
		} else if (strstr(err, cases[i].why) == NULL || p.text != NULL) {
			print_error("# row %zu: \"%s\" rejected with \"%s\", want \"%s\"\n", i,
				    cases[i].text ? cases[i].text : "(null)", err, cases[i].why);
			failed++;
		}
	}
	if (failed > 0)
		fail_msg("%d of %zu reject rows differ", failed, N_ELEMS(cases));
}

static void test_length(void **state)
{
	struct hm_pattern p;
	char err[128], *s;

	/* 512 bytes: the longest accepted */
	s = repeat('a', HM_PATTERN_MAX - 6, "@x.org");
	assert_int_equal(strlen(s), HM_PATTERN_MAX);
	assert_int_equal(hm_pattern_parse(s, &p, err, sizeof(err)), 0);
	assert_true(hm_pattern_match(&p, s));
	assert_int_equal(p.literal, HM_PATTERN_MAX);
	hm_pattern_free(&p);
	free(s);
	/* 513 */
	s = repeat('a', HM_PATTERN_MAX - 5, "@x.org");
	assert_int_equal(hm_pattern_parse(s, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 512"));
	free(s);
	/* the shorthand: 511 bytes are 512 once expanded, 512 are 513 */
	s = repeat('a', HM_PATTERN_MAX - 5, ".org");
	s[0] = '@';
	assert_int_equal(strlen(s), HM_PATTERN_MAX - 1);
	assert_int_equal(hm_pattern_parse(s, &p, err, sizeof(err)), 0);
	assert_int_equal(strlen(p.text), HM_PATTERN_MAX);
	hm_pattern_free(&p);
	free(s);
	s = repeat('a', HM_PATTERN_MAX - 4, ".org");
	s[0] = '@';
	assert_int_equal(strlen(s), HM_PATTERN_MAX);
	assert_int_equal(hm_pattern_parse(s, &p, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "longer than 512"));
	free(s);
	/* very long input: rejected without reading all of it */
	s = repeat('a', 1000000, "@x.org");
	assert_int_equal(hm_pattern_parse(s, &p, err, sizeof(err)), -1);
	free(s);
	/* a NULL or short err buffer is fine */
	assert_int_equal(hm_pattern_parse("*@*", &p, NULL, 0), -1);
	assert_int_equal(hm_pattern_parse("*@*", &p, err, 1), -1);
	assert_string_equal(err, "");
	/* freeing twice is harmless */
	assert_int_equal(hm_pattern_parse("a@x.org", &p, NULL, 0), 0);
	hm_pattern_free(&p);
	hm_pattern_free(&p);
	assert_null(p.text);
}

static void test_normalize(void **state)
{
	static const struct {
		const char *in, *text;
		unsigned wildcards;
		size_t literal;
		unsigned stars;
	} cases[] = {
		{ "Bob@Example.ORG", "bob@example.org", 0, 15, 0 },
		{ "@Example.org", "*@example.org", 1, 12, 1 },
		{ "*@example.org", "*@example.org", 1, 12, 1 },
		{ "***@x.org", "*@x.org", 1, 6, 1 },
		{ "a**b**c@x.org", "a*b*c@x.org", 2, 9, 2 },
		{ "A?*@*.X.org", "a?*@*.x.org", 3, 8, 2 },
		{ "????????@x.org", "????????@x.org", 8, 6, 0 },
		{ "*@*.xyz", "*@*.xyz", 2, 5, 2 },
		{ "J\xc3\x96RG@x.org", "j\xc3\x96rg@x.org", 0, 11, 0 },
	};
	int failed = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		struct hm_pattern p;
		char err[128];

		if (hm_pattern_parse(cases[i].in, &p, err, sizeof(err)) != 0) {
			print_error("# row %zu: \"%s\" rejected: %s\n", i, cases[i].in, err);
			failed++;
			continue;
		}
		if (strcmp(p.text, cases[i].text) != 0 || p.wildcards != cases[i].wildcards ||
		    p.literal != cases[i].literal || p.stars != cases[i].stars) {
			print_error("# row %zu: \"%s\" -> \"%s\" wildcards %u literal %zu stars %u, "
				    "want \"%s\" %u %zu %u\n", i, cases[i].in, p.text, p.wildcards,
				    p.literal, p.stars, cases[i].text, cases[i].wildcards,
				    cases[i].literal, cases[i].stars);
			failed++;
		}
		hm_pattern_free(&p);
	}
	if (failed > 0)
		fail_msg("%d of %zu normalization rows differ", failed, N_ELEMS(cases));
}

static int sign(int x)
{
	return (x > 0) - (x < 0);
}

static void test_specificity(void **state)
{
	static const struct {
		const char *a, *b;
		int want;	/* sign of cmp(a, b) */
	} cases[] = {
		{ "bob@x.org", "*@x.org", 1 },			/* exact beats any wildcard */
		{ "bob@x.org", "b?b@x.org", 1 },
		{ "a@b.co", "verylongaddress@example.org", -1 },	/* both exact: longer wins */
		{ "*@x.org", "*@*.x.org", 1 },			/* fewer wildcards */
		{ "*@*.x.org", "*@x.org", -1 },
		{ "*@mail.example.org", "*@example.org", 1 },	/* then more literal */
		{ "b*@x.org", "*@x.org", 1 },
		{ "*@*.a.example.org", "*@*.example.org", 1 },
		{ "?@x.org", "*@x.org", 1 },			/* then '?' before '*' */
		{ "a?@x.org", "a*@x.org", 1 },
		{ "a**@x.org", "a*@x.org", 0 },			/* "a**" is "a*" */
		{ "a?*@x.org", "a**@x.org", -1 },		/* 2 wildcards vs 1 */
		{ "*@tie-a.test", "*@tie-b.test", 0 },
		{ "a?@x.org", "?b@x.org", 0 },
		{ "bob@x.org", "BOB@X.ORG", 0 },
		{ "????????@x.org", "*@x.org", -1 },		/* 8 wildcards vs 1 */
		{ "x*@a.b", "*@*.example.org", 1 },
	};
	struct hm_pattern a, b;
	int failed = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		int ab, ba;

		assert_int_equal(hm_pattern_parse(cases[i].a, &a, NULL, 0), 0);
		assert_int_equal(hm_pattern_parse(cases[i].b, &b, NULL, 0), 0);
		ab = sign(hm_pattern_specificity_cmp(&a, &b));
		ba = sign(hm_pattern_specificity_cmp(&b, &a));
		if (ab != cases[i].want || ba != -cases[i].want) {
			print_error("# row %zu: cmp(\"%s\", \"%s\") = %d, reversed %d, want %d\n", i,
				    cases[i].a, cases[i].b, ab, ba, cases[i].want);
			failed++;
		}
		hm_pattern_free(&a);
		hm_pattern_free(&b);
	}
	/* NULL: no match, less specific than any pattern */
	assert_int_equal(hm_pattern_parse("????????@x.org", &a, NULL, 0), 0);
	assert_true(hm_pattern_specificity_cmp(&a, NULL) > 0);
	assert_true(hm_pattern_specificity_cmp(NULL, &a) < 0);
	assert_int_equal(hm_pattern_specificity_cmp(NULL, NULL), 0);
	hm_pattern_free(&a);
	if (failed > 0)
		fail_msg("%d of %zu specificity rows differ", failed, N_ELEMS(cases));
}

/* Reflexive, antisymmetric and transitive over a varied set of patterns. */
static void test_specificity_order(void **state)
{
	static const char *const texts[] = {
		"bob@x.org", "a@b.co", "verylongaddress@example.org", "*@x.org", "*@*.x.org",
		"*@mail.example.org", "*@example.org", "b*@x.org", "?@x.org", "a?@x.org",
		"?b@x.org", "????????@x.org", "*a*a*a*a@x.org", "a?*@*.x.org", "*@*.xyz",
		"news*@*.lists.test", "*@tie-a.test", "*@tie-b.test", "??@x.org", "*?@x.org",
	};
	struct hm_pattern p[N_ELEMS(texts)];
	size_t n = N_ELEMS(texts);
	int failed = 0;

	for (size_t i = 0; i < n; i++)
		assert_int_equal(hm_pattern_parse(texts[i], &p[i], NULL, 0), 0);
	for (size_t i = 0; i < n; i++) {
		if (hm_pattern_specificity_cmp(&p[i], &p[i]) != 0) {
			print_error("# cmp(\"%s\", itself) != 0\n", texts[i]);
			failed++;
		}
		for (size_t j = 0; j < n; j++) {
			int ij = sign(hm_pattern_specificity_cmp(&p[i], &p[j]));

			if (ij != -sign(hm_pattern_specificity_cmp(&p[j], &p[i]))) {
				print_error("# \"%s\" / \"%s\": not antisymmetric\n", texts[i], texts[j]);
				failed++;
			}
			for (size_t k = 0; k < n; k++) {
				int jk = sign(hm_pattern_specificity_cmp(&p[j], &p[k]));
				int ik = sign(hm_pattern_specificity_cmp(&p[i], &p[k]));

				if (ij >= 0 && jk >= 0 && ik < 0) {
					print_error("# \"%s\" >= \"%s\" >= \"%s\" but not transitive\n",
						    texts[i], texts[j], texts[k]);
					failed++;
				}
			}
		}
	}
	for (size_t i = 0; i < n; i++)
		hm_pattern_free(&p[i]);
	if (failed > 0)
		fail_msg("specificity is not a total preorder (%d violations)", failed);
}

static void test_best(void **state)
{
	static const char *const texts[] = {
		"bob@example.org", "*@example.org", "*@*.example.org", "b*@example.org",
		"?ob@example.org", "alice@mail.example.org", "*@spam.test",
		"@Spam.Test",			/* duplicate of "*@spam.test" */
		"news*@*.lists.test", "*@*.lists.test", "*@lists.test",
		"*@tie-a.test", "*@tie-b.test", "a?@tie.test", "?b@tie.test",
		"*@*.deep.test", "*@*.*.deep.test", "x*@*.deep.test",
		"invalid",			/* no '@' */
		"*@*",				/* absurd */
		"bo b@x.org",			/* space */
		"BOB@EXAMPLE.ORG",		/* duplicate */
	};
	static const struct {
		const char *addrs[3];
		const char *want;	/* NULL: no match */
		size_t which;
	} cases[] = {
		{ { "bob@example.org" }, "bob@example.org", 0 },
		{ { "BOB@EXAMPLE.ORG" }, "bob@example.org", 0 },	/* exact table ignores case */
		{ { "bab@example.org" }, "b*@example.org", 0 },
		{ { "rob@example.org" }, "?ob@example.org", 0 },
		{ { "zed@example.org" }, "*@example.org", 0 },
		{ { "zed@EXAMPLE.org" }, "*@example.org", 0 },	/* domain table ignores case */
		{ { "x@mail.example.org" }, "*@*.example.org", 0 },
		{ { "alice@mail.example.org" }, "alice@mail.example.org", 0 },
		{ { "x@spam.test" }, "*@spam.test", 0 },
		{ { "newsletter@a.lists.test" }, "news*@*.lists.test", 0 },
		{ { "x@a.lists.test" }, "*@*.lists.test", 0 },
		{ { "x@lists.test" }, "*@lists.test", 0 },
		{ { "y@a.b.deep.test" }, "*@*.deep.test", 0 },	/* 2 wildcards beat 3 */
		{ { "xy@a.b.deep.test" }, "x*@*.deep.test", 0 },
		{ { "nobody@else.test" }, NULL, 0 },
		{ { "bob" }, NULL, 0 },
		{ { "" }, NULL, 0 },
		{ { "nobody@else.test", "zed@example.org" }, "*@example.org", 1 },
		{ { "zed@example.org", "bob@example.org" }, "bob@example.org", 1 },
		{ { "bob@example.org", "zed@example.org" }, "bob@example.org", 0 },
		{ { "zed@example.org", "x@spam.test" }, "*@example.org", 0 },
		/* equally specific: the earlier address, then the smaller text */
		{ { "x@tie-b.test", "x@tie-a.test" }, "*@tie-b.test", 0 },
		{ { "x@tie-a.test", "x@tie-b.test" }, "*@tie-a.test", 0 },
		{ { "ab@tie.test" }, "?b@tie.test", 0 },
		{ { "ac@tie.test", "ab@tie.test" }, "a?@tie.test", 0 },
		{ { NULL, "bob@example.org" }, "bob@example.org", 1 },
		{ { "nobody@else.test", NULL, "x@spam.test" }, "*@spam.test", 2 },
	};
	struct hm_patlist *l;
	size_t invalid = 99, which;
	char err[256];
	int failed = 0;

	l = hm_patlist_build(texts, N_ELEMS(texts), &invalid, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(invalid, 3);
	assert_string_equal(err, "pattern \"invalid\": no '@'");
	assert_int_equal(hm_patlist_count(l), N_ELEMS(texts) - 3 - 2);
	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		size_t naddrs = 0;
		const struct hm_pattern *got;

		for (size_t k = 0; k < 3; k++)
			if (cases[i].addrs[k] != NULL)
				naddrs = k + 1;
		which = 77;
		got = hm_patlist_best(l, cases[i].addrs, naddrs, &which);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && (strcmp(got->text, cases[i].want) != 0 || which != cases[i].which))) {
			print_error("# row %zu (%s%s%s): got %s [%zu], want %s [%zu]\n", i,
				    cases[i].addrs[0] ? cases[i].addrs[0] : "(null)",
				    naddrs > 1 ? ", ..." : "", "", got ? got->text : "no match",
				    which, cases[i].want ? cases[i].want : "no match", cases[i].which);
			failed++;
		}
		if (got == NULL && which != 77) {
			print_error("# row %zu: *which_r changed without a match\n", i);
			failed++;
		}
	}
	/* which_r may be NULL */
	{
		const char *a[] = { "zed@example.org" };

		assert_non_null(hm_patlist_best(l, a, 1, NULL));
	}
	hm_patlist_free(&l);
	assert_null(l);
	hm_patlist_free(&l);
	if (failed > 0)
		fail_msg("%d of %zu best-of rows differ", failed, N_ELEMS(cases));
}

static void test_top(void **state)
{
	static const struct {
		const char *texts[5];
		const char *want;
	} cases[] = {
		{ { "*@x.org", "bob@x.org", "*@*.x.org" }, "bob@x.org" },
		{ { "a@b.co", "longer@example.org", "*@x.org" }, "longer@example.org" },
		{ { "*@x.org", "*@mail.x.org", "*@*.x.org" }, "*@mail.x.org" },
		{ { "*@x.org", "?@x.org", "b*@mail.x.org" }, "b*@mail.x.org" },
		{ { "*@x.org", "?@x.org" }, "?@x.org" },			/* other beats domain */
		{ { "*@y.org", "*@x.org" }, "*@x.org" },			/* tie: smaller text */
		{ { "?b@x.org", "a?@x.org", "*@x.org" }, "?b@x.org" },
		{ { "*@*.x.org", "*@x.org", "*@*" }, "*@x.org" },
		{ { "invalid", "*@*" }, NULL },
		{ { NULL }, NULL },
	};
	int failed = 0;

	for (size_t i = 0; i < N_ELEMS(cases); i++) {
		size_t n = 0;
		struct hm_patlist *l;
		const struct hm_pattern *got;

		while (n < 5 && cases[i].texts[n] != NULL)
			n++;
		l = hm_patlist_build(cases[i].texts, n, NULL, NULL, 0);
		assert_non_null(l);
		got = hm_patlist_top(l);
		if ((got == NULL) != (cases[i].want == NULL) ||
		    (got != NULL && strcmp(got->text, cases[i].want) != 0)) {
			print_error("# row %zu: top %s, want %s\n", i, got ? got->text : "none",
				    cases[i].want ? cases[i].want : "none");
			failed++;
		}
		hm_patlist_free(&l);
	}
	assert_null(hm_patlist_top(NULL));
	if (failed > 0)
		fail_msg("%d of %zu top rows differ", failed, N_ELEMS(cases));
}

static void test_build_edges(void **state)
{
	static const char *const bad[] = { "a\x01@x.org", "*@*", NULL, "" };
	const char *addrs[] = { "a@x.org" };
	struct hm_patlist *l;
	size_t invalid = 99;
	char err[256], small[16];

	/* empty list */
	l = hm_patlist_build(NULL, 0, &invalid, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(invalid, 0);
	assert_string_equal(err, "");
	assert_int_equal(hm_patlist_count(l), 0);
	assert_null(hm_patlist_best(l, addrs, 1, NULL));
	hm_patlist_free(&l);
	/* nothing valid: control characters escaped in the reason */
	l = hm_patlist_build(bad, N_ELEMS(bad), &invalid, err, sizeof(err));
	assert_non_null(l);
	assert_int_equal(invalid, 4);
	assert_string_equal(err, "pattern \"a\\x01@x.org\": control character");
	assert_int_equal(hm_patlist_count(l), 0);
	assert_null(hm_patlist_best(l, addrs, 1, NULL));
	hm_patlist_free(&l);
	/* NULL invalid_r / err, short err */
	l = hm_patlist_build(bad, N_ELEMS(bad), NULL, small, sizeof(small));
	assert_non_null(l);
	assert_true(strlen(small) < sizeof(small));
	hm_patlist_free(&l);
	l = hm_patlist_build(bad, N_ELEMS(bad), NULL, NULL, 0);
	assert_non_null(l);
	hm_patlist_free(&l);
	/* table sizes at powers of two, every lookup a hit or a miss */
	for (size_t n = 1; n <= 64; n *= 2) {
		char texts[128][40];
		const char *tp[128], *miss[] = { "nobody@nowhere.test", "a@" }, *hit[1];
		size_t which = 9;

		for (size_t i = 0; i < n; i++) {
			snprintf(texts[2 * i], sizeof(texts[0]), "u%zu@x.test", i);
			snprintf(texts[2 * i + 1], sizeof(texts[0]), "*@d%zu.test", i);
			tp[2 * i] = texts[2 * i];
			tp[2 * i + 1] = texts[2 * i + 1];
		}
		l = hm_patlist_build(tp, 2 * n, &invalid, NULL, 0);
		assert_non_null(l);
		assert_int_equal(hm_patlist_count(l), 2 * n);
		assert_null(hm_patlist_best(l, miss, 2, NULL));
		for (size_t i = 0; i < 2 * n; i++) {
			char a[48];

			/* "u3@x.test" as it is; "*@d3.test" as "z@d3.test" */
			snprintf(a, sizeof(a), "%s%s", i % 2 ? "z" : "", texts[i] + i % 2);
			hit[0] = a;
			if (hm_patlist_best(l, hit, 1, &which) == NULL)
				fail_msg("%zu+%zu patterns: no match for %s", n, n, a);
		}
		hm_patlist_free(&l);
	}
	/* NULL list, NULL addrs */
	assert_int_equal(hm_patlist_count(NULL), 0);
	assert_null(hm_patlist_best(NULL, addrs, 1, NULL));
	/* an over-long bad entry is shown shortened */
	{
		char *lng = repeat('z', 5000, "");
		const char *one[] = { lng };

		l = hm_patlist_build(one, 1, &invalid, err, sizeof(err));
		assert_non_null(l);
		assert_int_equal(invalid, 1);
		assert_true(strlen(err) < 120);
		assert_non_null(strstr(err, "...\": longer than 512"));
		hm_patlist_free(&l);
		free(lng);
	}
}

/* A tiny deterministic generator, so a failure can be reproduced. */
static uint32_t rnd_state = 12345;

static uint32_t rnd(uint32_t n)
{
	rnd_state = rnd_state * 1103515245u + 12345u;
	return (rnd_state >> 8) % n;
}

/*
 * hm_patlist_best against the definition: every pattern tried on every
 * address, the best by (specificity, earliest address, smallest text).
 */
static void test_best_brute_force(void **state)
{
	static const char *const locals[] = {
		"a", "b", "ab", "ba", "?", "*", "a*", "*b", "?b", "a?", "*a*", "??", "", "bob",
	};
	static const char *const domains[] = {
		"x.org", "y.x.org", "*.x.org", "x.?rg", "*.org", "z.y.x.org", "*.y.x.org", "X.ORG",
		"*x.org",
	};
	static const char *const alocals[] = { "a", "b", "ab", "ba", "bob", "", "aab", "xyz" };
	static const char *const adomains[] = { "x.org", "y.x.org", "z.y.x.org", "x.com", "xx.org" };
	int failed = 0;

	for (int round = 0; round < 400; round++) {
		char texts[40][64], addrs[3][64];
		const char *tp[40], *ap[3];
		size_t nt = 1 + rnd(40), na = 1 + rnd(3), which = 0, bwhich = 0;
		struct hm_pattern all[40];
		const struct hm_pattern *got, *want = NULL;
		struct hm_patlist *l;
		size_t nall = 0;

		for (size_t i = 0; i < nt; i++) {
			snprintf(texts[i], sizeof(texts[i]), "%s@%s", locals[rnd(N_ELEMS(locals))],
				 domains[rnd(N_ELEMS(domains))]);
			tp[i] = texts[i];
			if (hm_pattern_parse(texts[i], &all[nall], NULL, 0) == 0)
				nall++;
		}
		for (size_t i = 0; i < na; i++) {
			snprintf(addrs[i], sizeof(addrs[i]), "%s@%s", alocals[rnd(N_ELEMS(alocals))],
				 adomains[rnd(N_ELEMS(adomains))]);
			ap[i] = addrs[i];
		}
		for (size_t i = 0; i < na; i++) {
			for (size_t j = 0; j < nall; j++) {
				int c;

				if (!hm_pattern_match(&all[j], ap[i]))
					continue;
				c = hm_pattern_specificity_cmp(&all[j], want);
				if (c > 0 || (c == 0 && bwhich == i && strcmp(all[j].text, want->text) < 0)) {
					want = &all[j];
					bwhich = i;
				}
			}
		}
		l = hm_patlist_build(tp, nt, NULL, NULL, 0);
		assert_non_null(l);
		/* the top pattern, by the same order without addresses */
		{
			const struct hm_pattern *top = NULL, *gtop = hm_patlist_top(l);

			for (size_t j = 0; j < nall; j++) {
				int c = hm_pattern_specificity_cmp(&all[j], top);

				if (c > 0 || (c == 0 && strcmp(all[j].text, top->text) < 0))
					top = &all[j];
			}
			if (((top == NULL) != (gtop == NULL) ||
			     (top != NULL && strcmp(top->text, gtop->text) != 0)) && failed++ < 5)
				print_error("# round %d: top %s, want %s\n", round,
					    gtop ? gtop->text : "none", top ? top->text : "none");
		}
		got = hm_patlist_best(l, ap, na, &which);
		if (((got == NULL) != (want == NULL) ||
		     (got != NULL && (strcmp(got->text, want->text) != 0 || which != bwhich))) &&
		    failed++ < 5) {
			print_error("# round %d: got %s [%zu], want %s [%zu]; addresses:", round,
				    got ? got->text : "none", which, want ? want->text : "none", bwhich);
			for (size_t i = 0; i < na; i++)
				print_error(" %s", ap[i]);
			print_error("; patterns:");
			for (size_t i = 0; i < nt; i++)
				print_error(" %s", tp[i]);
			print_error("\n");
		}
		hm_patlist_free(&l);
		for (size_t j = 0; j < nall; j++)
			hm_pattern_free(&all[j]);
	}
	if (failed > 0)
		fail_msg("%d of 400 random lists differ from the brute-force answer", failed);
}

/*
 * Lookup time with n patterns: half exact addresses, half "*@domain", and
 * 50 other wildcard patterns.  The addresses looked up hit an exact
 * pattern, a domain pattern, or nothing (a full scan of the 50), a third
 * each, at every size.  Best of three runs, in ns per lookup.
 */
#define SCALE_ADDRS 8192
#define SCALE_LOOKUPS 60000

static double lookup_ns(size_t n)
{
	char **texts = calloc(n + 50, sizeof(*texts));
	char (*addrs)[80] = calloc(SCALE_ADDRS, sizeof(*addrs));
	const char **tp = calloc(n + 50, sizeof(*tp));
	struct hm_patlist *l;
	size_t invalid, hits = 0, want_hits = 0;
	double best = 1e9;

	assert_non_null(texts);
	assert_non_null(addrs);
	assert_non_null(tp);
	for (size_t i = 0; i < n; i++) {
		texts[i] = malloc(80);
		assert_non_null(texts[i]);
		if (i % 2 == 0)
			snprintf(texts[i], 80, "user%zu@host%zu.example.com", i, i % 997);
		else
			snprintf(texts[i], 80, "*@dom%zu.example.net", i);
	}
	for (size_t i = 0; i < 50; i++) {
		texts[n + i] = malloc(80);
		assert_non_null(texts[n + i]);
		switch (i % 5) {
		case 0: snprintf(texts[n + i], 80, "*@*.corp%zu.example.org", i); break;
		case 1: snprintf(texts[n + i], 80, "news%zu*@*.lists.example", i); break;
		case 2: snprintf(texts[n + i], 80, "?%zu@mx%zu.example.org", i, i); break;
		case 3: snprintf(texts[n + i], 80, "*bounce%zu*@*", i); break;	/* absurd: skipped */
		default: snprintf(texts[n + i], 80, "b*%zu@*.example.info", i); break;
		}
	}
	for (size_t i = 0; i < n + 50; i++)
		tp[i] = texts[i];
	l = hm_patlist_build(tp, n + 50, &invalid, NULL, 0);
	assert_non_null(l);
	assert_int_equal(invalid, 10);
	assert_int_equal(hm_patlist_count(l), n + 40);
	for (size_t i = 0; i < SCALE_ADDRS; i++) {
		size_t k = rnd((uint32_t)(n / 2)) * 2;	/* an even index: an exact pattern */

		if (i % 3 == 0)
			snprintf(addrs[i], 80, "user%zu@host%zu.example.com", k, k % 997);
		else if (i % 3 == 1)
			snprintf(addrs[i], 80, "someone%zu@dom%zu.example.net", i, k + 1);
		else
			snprintf(addrs[i], 80, "nobody%zu@host%zu.example.com", i, k % 997);
	}
	for (int run = 0; run < 7; run++) {	/* best of 7: a loaded machine only slows some */
		double t0 = now_s(), el;

		hits = 0;
		for (size_t i = 0; i < SCALE_LOOKUPS; i++) {
			const char *a = addrs[i % SCALE_ADDRS];

			if (hm_patlist_best(l, &a, 1, NULL) != NULL)
				hits++;
		}
		el = now_s() - t0;
		if (el < best)
			best = el;
	}
	/* the exact and domain addresses hit, the others do not */
	for (size_t i = 0; i < SCALE_LOOKUPS; i++)
		want_hits += (i % SCALE_ADDRS) % 3 != 2;
	assert_int_equal(hits, want_hits);
	hm_patlist_free(&l);
	for (size_t i = 0; i < n + 50; i++)
		free(texts[i]);
	free(texts);
	free(tp);
	free(addrs);
	return best / SCALE_LOOKUPS * 1e9;
}

static void test_scaling(void **state)
{
	static const size_t sizes[] = { 100, 1000, 10000, 100000 };
	double ns[N_ELEMS(sizes)], t0 = now_s();

	for (size_t i = 0; i < N_ELEMS(sizes); i++) {
		ns[i] = lookup_ns(sizes[i]);
		print_message("# %6zu patterns (+50 scanned): %.0f ns per lookup\n", sizes[i], ns[i]);
	}
	print_message("# scaling test: %.2f s in all\n", now_s() - t0);
	if (ns[N_ELEMS(sizes) - 1] > 3 * ns[0])
		fail_msg("lookup with 100000 patterns costs %.0f ns, more than 3x the %.0f ns with 100",
			 ns[N_ELEMS(sizes) - 1], ns[0]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_match_long),
		cmocka_unit_test(test_reject),
		cmocka_unit_test(test_length),
		cmocka_unit_test(test_normalize),
		cmocka_unit_test(test_specificity),
		cmocka_unit_test(test_specificity_order),
		cmocka_unit_test(test_best),
		cmocka_unit_test(test_top),
		cmocka_unit_test(test_build_edges),
		cmocka_unit_test(test_best_brute_force),
		cmocka_unit_test(test_scaling),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
