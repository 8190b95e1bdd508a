/*
 * test-content.c - unit tests of scoring/content.c and scoring/features.c:
 * headers that must never be features, de-duplication, the same features
 * whatever the chunking, namespaces, the key, normalisation, the curated
 * header and verdict features, and the bound on a huge message.
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

#include "scoring/content.h"
#include "scoring/features.h"

static const unsigned char key[HM_CLS_KEY_LEN] = "0123456789abcdef";
static const unsigned char key2[HM_CLS_KEY_LEN] = "fedcba9876543210";

struct fv {
	uint32_t *idx;
	size_t n;
};

static int cmp_u32(const void *a, const void *b)
{
	uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * Features of a message given as "Name: value\n" lines, an empty line and
 * a body (LF turned into CRLF), fed in chunks of chunk bytes (0: one),
 * with the verdicts when auth is not NULL.  Sorted, for comparison.
 */
static struct fv extract(const unsigned char *k, const char *msg, size_t chunk,
			 const struct hm_content_auth *auth)
{
	struct hm_content *c = hm_content_begin(k);
	const char *p = msg, *body;
	char *crlf;
	size_t blen = 0;
	const uint32_t *idx;
	struct fv fv;

	assert_non_null(c);
	while (*p && *p != '\n') {
		const char *nl = strchr(p, '\n'), *colon = strchr(p, ':');
		char name[64], value[512];

		assert_non_null(nl);
		assert_true(colon && colon < nl);
		snprintf(name, sizeof(name), "%.*s", (int)(colon - p), p);
		snprintf(value, sizeof(value), "%.*s", (int)(nl - colon - 1), colon + 1);
		assert_int_equal(hm_content_header(c, name, value), 0);
		p = nl + 1;
	}
	assert_int_equal(hm_content_eoh(c), 0);
	body = *p ? p + 1 : p;
	crlf = malloc(2 * strlen(body) + 1);
	assert_non_null(crlf);
	for (const char *b = body; *b; b++) {
		if (*b == '\n')
			crlf[blen++] = '\r';
		crlf[blen++] = *b;
	}
	for (size_t off = 0; off < blen;) {
		size_t n = chunk == 0 || chunk > blen - off ? blen - off : chunk;

		assert_int_equal(hm_content_body(c, (unsigned char *)crlf + off, n), 0);
		off += n;
	}
	free(crlf);
	if (auth)
		assert_int_equal(hm_content_auth(c, auth), 0);
	assert_int_equal(hm_content_finish(c, &idx, &fv.n), 0);
	fv.idx = malloc((fv.n ? fv.n : 1) * sizeof(*fv.idx));
	assert_non_null(fv.idx);
	memcpy(fv.idx, idx, fv.n * sizeof(*idx));
	qsort(fv.idx, fv.n, sizeof(*fv.idx), cmp_u32);
	hm_content_free(&c);
	assert_null(c);
	return fv;
}

static bool fv_equal(const struct fv *a, const struct fv *b)
{
	return a->n == b->n && memcmp(a->idx, b->idx, a->n * sizeof(*a->idx)) == 0;
}

static void fv_free(struct fv *a)
{
	free(a->idx);
	a->idx = NULL;
}

#define BASE_HEADERS \
	"From: Alice Example <alice@example.org>\n" \
	"To: bob@example.net\n" \
	"Subject: Lunch on Friday\n" \
	"Message-ID: <20240101.abc@example.org>\n" \
	"MIME-Version: 1.0\n" \
	"Content-Type: text/plain; charset=us-ascii\n"
#define BASE_BODY \
	"\nHello Bob,\n\nshall we have lunch on Friday at the usual place?\n" \
	"See http://www.example.com/menu for the menu.\n\nAlice\n"

/* Headers a receiving system adds, or that would leak a label: no features. */
static void test_excluded_headers(void **state)
{
	static const char *const extra[] = {
		"Received: from mx.example.net (mx.example.net [192.0.2.1]) by here\n",
		"Date: Mon, 1 Jan 2024 10:00:00 +0000\n",
		"Delivered-To: bob@example.net\n",
		"X-Spam-Status: Yes, score=20.0 tag=8.00 reject=15.00\n",
		"X-Spam-Flag: YES\n",
		"X-Spam-Level: ********\n",
		"X-Spam-Score: 20.00\n",
		"Authentication-Results: mx.example.net; spf=pass smtp.mailfrom=example.org\n",
		"X-Razor-Id: 1aefed7c18b89a0962d66a6bd77b4df015ff0dc8\n",
		"X-Pyzor: Reported 3 times.\n",
		"X-Keywords: NonJunk\n",
		"X-Status: RO\n",
		"Status: RO\n",
		"X-Loop: collector@example.net\n",
		"Delivery-Date: Mon, 1 Jan 2024 10:00:05 +0000\n",
		"X-UID: 1234\n",
		"X-Original-Date: Mon, 1 Jan 2024 10:00:00 +0000\n",
		"X-MailScanner: Found to be clean\n",
		"X-Virus-Scanned: by amavisd-new\n",
		"X-Apparently-To: bob@example.net\n",
		"Lines: 12\n",
		"Return-Path: <bounce@elsewhere.example>\n",
	};
	struct fv base = extract(key, BASE_HEADERS BASE_BODY, 0, NULL);

	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		char msg[2048];
		struct fv with;

		snprintf(msg, sizeof(msg), "%s%s%s", extra[i], BASE_HEADERS, BASE_BODY);
		with = extract(key, msg, 0, NULL);
		if (!fv_equal(&base, &with))
			fail_msg("header %zu (%.20s...) changed the features: %zu vs %zu", i, extra[i],
				 with.n, base.n);
		fv_free(&with);
	}
	fv_free(&base);
}

/* Each index once, however often its feature occurs. */
static void test_dedup(void **state)
{
	struct fv fv = extract(key, BASE_HEADERS "\nbuy buy buy buy buy buy buy buy now now now now\n"
			       "buy buy buy buy buy buy buy buy now now now now\n", 0, NULL);
	struct fv once = extract(key, BASE_HEADERS "\nbuy buy buy buy buy buy buy buy now now now now\n",
				 0, NULL);

	for (size_t i = 1; i < fv.n; i++)
		if (fv.idx[i] == fv.idx[i - 1])
			fail_msg("index %u twice", fv.idx[i]);
	for (size_t i = 0; i < fv.n; i++)
		assert_true(fv.idx[i] < HM_CLS_BUCKETS);
	/* Repeating the text adds no feature but the one that spans the join. */
	assert_true(fv.n <= once.n + 8);
	fv_free(&fv);
	fv_free(&once);
}

/* The same features whatever the chunk sizes. */
static void test_chunking(void **state)
{
	static const char msg[] =
		BASE_HEADERS "\nA longer body, so that words and grams straddle the chunk "
		"boundaries: internationalisation, caf\xc3\xa9, na\xc3\xafve, \xd0\x9f\xd1\x80\xd0\xb8"
		"\xd0\xb2\xd0\xb5\xd1\x82, http://spam.example.biz/x?y=1 and more words.\n"
		"Second   line\twith  odd   spacing.\n";
	static const size_t chunks[] = { 1, 2, 3, 7, 64, 0 };
	struct fv whole = extract(key, msg, 0, NULL);

	assert_true(whole.n > 50);
	for (size_t i = 0; i < sizeof(chunks) / sizeof(chunks[0]); i++) {
		struct fv part = extract(key, msg, chunks[i], NULL);

		if (!fv_equal(&whole, &part))
			fail_msg("chunks of %zu: %zu features, whole: %zu", chunks[i], part.n, whole.n);
		fv_free(&part);
	}
	fv_free(&whole);
}

/* Count indexes of a in b. */
static size_t common(const struct fv *a, const struct fv *b)
{
	size_t i = 0, j = 0, n = 0;

	while (i < a->n && j < b->n) {
		if (a->idx[i] == b->idx[j]) {
			n++;
			i++;
			j++;
		} else if (a->idx[i] < b->idx[j]) {
			i++;
		} else {
			j++;
		}
	}
	return n;
}

/* The same words in the Subject and in the body are different features. */
static void test_namespaces(void **state)
{
	struct fv a = extract(key, "From: a@example.org\nSubject: cheap watches\n\nhello friend\n", 0, NULL);
	struct fv b = extract(key, "From: a@example.org\nSubject: hello friend\n\ncheap watches\n", 0, NULL);
	struct fv c = extract(key, "From: a@example.org\nSubject: cheap watches\n\nhello friend\n", 0, NULL);
	struct fv none = extract(key, "From: a@example.org\nSubject: \n\n\n", 0, NULL);

	assert_true(fv_equal(&a, &c));
	assert_false(fv_equal(&a, &b));
	/* What they share is what does not depend on the words (and the two
	 * capitals ratios, the same here). */
	if (common(&a, &b) > none.n + 2)
		fail_msg("%zu features in common, %zu without words", common(&a, &b), none.n);
	fv_free(&none);
	fv_free(&a);
	fv_free(&b);
	fv_free(&c);
}

/* Another key, other buckets. */
static void test_key(void **state)
{
	struct fv a = extract(key, BASE_HEADERS BASE_BODY, 0, NULL);
	struct fv b = extract(key2, BASE_HEADERS BASE_BODY, 0, NULL);

	assert_int_equal(a.n, b.n);
	assert_true(common(&a, &b) < a.n / 10);
	fv_free(&a);
	fv_free(&b);
}

/* Case, digits and runs of white space are folded. */
static void test_normalisation(void **state)
{
	static const char *const same[][2] = {
		{ "\nHi  There\n", "\nhi there\n" },
		{ "\nwin 1000 now\n", "\nwin 9999 now\n" },
		{ "\ngo\r\n\r\n   away\n", "\ngo away\n" },
	};

	for (size_t i = 0; i < sizeof(same) / sizeof(same[0]); i++) {
		char m1[256], m2[256];
		struct fv a, b;

		snprintf(m1, sizeof(m1), "From: a@example.org\n%s", same[i][0]);
		snprintf(m2, sizeof(m2), "From: a@example.org\n%s", same[i][1]);
		a = extract(key, m1, 0, NULL);
		b = extract(key, m2, 0, NULL);
		if (!fv_equal(&a, &b))
			fail_msg("case %zu: %zu vs %zu features", i, a.n, b.n);
		fv_free(&a);
		fv_free(&b);
	}
}

/* The curated headers and the verdicts are features. */
static void test_header_and_auth_features(void **state)
{
	static const char *const extra[] = {
		"Reply-To: someone@elsewhere.example\n",
		"X-Mailer: Microsoft Outlook Express 6.00\n",
		"User-Agent: Mutt/1.4i\n",
		"List-Id: <users.lists.example.org>\n",
		"Precedence: bulk\n",
		"In-Reply-To: <x@example.org>\n",
		"X-Priority: 1 (Highest)\n",
		"Cc: c@example.net, d@example.net, e@example.net\n",
		"Organization: Example Org\n",
		"Sender: list-bounces@example.org\n",
		"List-Unsubscribe: <mailto:leave@lists.example.org>\n",
		"X-Mailer-Version: 4.2\n",
	};
	static const struct hm_content_auth auths[] = {
		{ HM_SPF_PASS, HM_DKIM_PASS, HM_DMARC_PASS },
		{ HM_SPF_FAIL, HM_DKIM_NONE, HM_DMARC_FAIL },
	};
	struct fv base = extract(key, BASE_HEADERS BASE_BODY, 0, NULL), a0, a1;

	for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
		char msg[2048];
		struct fv with;

		snprintf(msg, sizeof(msg), "%s%s", extra[i], BASE_HEADERS BASE_BODY);
		with = extract(key, msg, 0, NULL);
		if (fv_equal(&base, &with))
			fail_msg("header %zu (%.20s...) made no feature", i, extra[i]);
		fv_free(&with);
	}
	a0 = extract(key, BASE_HEADERS BASE_BODY, 0, &auths[0]);
	a1 = extract(key, BASE_HEADERS BASE_BODY, 0, &auths[1]);
	assert_int_equal(a0.n, base.n + 3);
	assert_int_equal(a1.n, base.n + 3);
	assert_int_equal(common(&a0, &a1), base.n);
	fv_free(&a0);
	fv_free(&a1);
	fv_free(&base);
}

/* Features of a From and an envelope sender only, sorted. */
static struct fv from_env(const char *from, const char *env)
{
	struct hm_content *c = hm_content_begin(key);
	const uint32_t *idx;
	struct fv fv;

	assert_non_null(c);
	assert_int_equal(hm_content_header(c, "From", from), 0);
	assert_int_equal(hm_content_eoh(c), 0);
	assert_int_equal(hm_content_envelope(c, env), 0);
	assert_int_equal(hm_content_finish(c, &idx, &fv.n), 0);
	fv.idx = malloc(fv.n * sizeof(*idx));
	assert_non_null(fv.idx);
	memcpy(fv.idx, idx, fv.n * sizeof(*idx));
	qsort(fv.idx, fv.n, sizeof(*idx), cmp_u32);
	hm_content_free(&c);
	return fv;
}

/*
 * The envelope sender: its registered domain against From's (hosts of one
 * organisation alike), or the null sender (NULL is "<>").
 */
static void test_envelope(void **state)
{
	static const struct {
		const char *from, *env1, *env2;
		bool same;
	} cases[] = {
		{ " <alice@example.org>", "<alice@example.org>", "<bounce@mail.example.org>", true },
		{ " <alice@example.org>", "<alice@example.org>", "<x@elsewhere.example>", false },
		{ " <alice@example.org>", "<alice@example.org>", "<>", false },
		{ " <alice@example.org>", "<>", NULL, true },
		{ " <a@shop.example.co.uk>", "<b@example.co.uk>", "<c@www.example.co.uk>", true },
		{ " <a@shop.example.co.uk>", "<b@example.co.uk>", "<c@other.co.uk>", false },
		{ " <a@x.example.de>", "<b@example.de>", "<c@y.z.example.de>", true },
		{ " <a@x.example.de>", "<b@example.de>", "<c@example.com>", false },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct fv a = from_env(cases[i].from, cases[i].env1);
		struct fv b = from_env(cases[i].from, cases[i].env2);

		if (fv_equal(&a, &b) != cases[i].same)
			fail_msg("case %zu: %s and %s %s", i, cases[i].env1,
				 cases[i].env2 ? cases[i].env2 : "NULL",
				 cases[i].same ? "differ" : "do not differ");
		fv_free(&a);
		fv_free(&b);
	}
}

/* A huge message: bounded features, no failure. */
static void test_bounded(void **state)
{
	size_t len = 4u << 20;
	char *msg = malloc(len + 64);
	struct fv fv;
	uint64_t s = 1;

	assert_non_null(msg);
	strcpy(msg, "From: a@example.org\n\n");
	for (size_t i = strlen(msg); i < len; i++) {
		s = s * 6364136223846793005ull + 1442695040888963407ull;
		msg[i] = (s >> 60) < 3 ? ' ' : (char)('a' + (s >> 33) % 26);
	}
	msg[len] = '\0';
	fv = extract(key, msg, 65536, NULL);
	assert_true(fv.n > 1000 && fv.n <= HM_FSET_MAX);
	fv_free(&fv);
	free(msg);
}

/* The feature set itself: once each, in order, then full. */
static void test_fset(void **state)
{
	struct hm_fset s;

	assert_int_equal(hm_fset_init(&s), 0);
	for (uint32_t i = 0; i < 3 * HM_FSET_MAX; i++)
		assert_int_equal(hm_fset_add(&s, (i * 7919u) % HM_CLS_BUCKETS), 0);
	assert_int_equal(s.n, HM_FSET_MAX);
	assert_true(s.full);
	assert_int_equal(s.idx[1], 7919u);
	hm_fset_free(&s);
	/* A bitmap back in the pool is clean. */
	assert_int_equal(hm_fset_init(&s), 0);
	assert_int_equal(hm_fset_add(&s, 7919u), 0);
	assert_int_equal(hm_fset_add(&s, 7919u), 0);
	assert_int_equal(s.n, 1);
	hm_fset_free(&s);
	hm_fset_pool_drain();
}

/* Freeing at any point (an aborted message) is fine. */
static void test_abort(void **state)
{
	struct hm_content *c = hm_content_begin(key);

	assert_non_null(c);
	assert_int_equal(hm_content_header(c, "From", " a@example.org"), 0);
	hm_content_free(&c);
	assert_null(c);
	hm_content_free(&c);
	c = hm_content_begin(key);
	assert_int_equal(hm_content_header(c, "Subject", " hi"), 0);
	assert_int_equal(hm_content_eoh(c), 0);
	assert_int_equal(hm_content_body(c, (const unsigned char *)"partial", 7), 0);
	hm_content_free(&c);
}

static int teardown(void **state)
{
	hm_fset_pool_drain();
	return 0;
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_excluded_headers),
		cmocka_unit_test(test_dedup),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_namespaces),
		cmocka_unit_test(test_key),
		cmocka_unit_test(test_normalisation),
		cmocka_unit_test(test_header_and_auth_features),
		cmocka_unit_test(test_envelope),
		cmocka_unit_test(test_bounded),
		cmocka_unit_test(test_fset),
		cmocka_unit_test(test_abort),
	};

	return cmocka_run_group_tests(tests, NULL, teardown);
}
