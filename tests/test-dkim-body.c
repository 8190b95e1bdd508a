/*
 * test-dkim-body.c - unit tests of scoring/dkim-body.c: the body hashes of
 * RFC 6376's own examples, and thousands of random bodies (text, spaces,
 * tabs, CRs, CRLFs, empty lines; bare LFs in relaxed) fed in random chunks,
 * each compared with the bh= libopendkim signs for the same body given in
 * one piece (tests/dkim-oracle.c).
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

#include <openssl/evp.h>

#include "scoring/dkim-body.h"
#include "tests/dkim-oracle.h"

#define RANDOM_BODIES 2500
#define BODY_MAX 400

/* Our hash of body, fed in chunks cut where cuts[] says (sorted, < len). */
static int ours(enum hm_dkim_body_canon canon, enum hm_dkim_body_alg alg,
		const unsigned char *body, size_t len, const size_t *cuts, size_t ncuts,
		char *b64, bool *unterminated)
{
	struct hm_dkim_bodyhash *h = hm_dkim_bodyhash_new(canon, alg);
	size_t at = 0;
	int rc;

	assert_non_null(h);
	for (size_t i = 0; i <= ncuts; i++) {
		size_t to = i < ncuts ? cuts[i] : len;

		assert_int_equal(hm_dkim_bodyhash_update(h, body + at, to - at), 0);
		at = to;
	}
	*unterminated = hm_dkim_bodyhash_unterminated(h);
	rc = hm_dkim_bodyhash_final(h, b64, HM_DKIM_BODYHASH_B64_MAX);
	hm_dkim_bodyhash_free(&h);
	hm_dkim_bodyhash_free(&h);	/* NULL: nothing */
	return rc;
}

static void expect_hash(enum hm_dkim_body_canon canon, const char *body, const char *want)
{
	char b64[HM_DKIM_BODYHASH_B64_MAX];
	bool unterminated;

	assert_int_equal(ours(canon, HM_DKIM_BODY_SHA256, (const unsigned char *)body,
			      strlen(body), NULL, 0, b64, &unterminated), 0);
	assert_string_equal(b64, want);
}

/* The canonical form's SHA-256, made here directly. */
static void expect_canonical(enum hm_dkim_body_canon canon, const char *body,
			     const char *canonical)
{
	unsigned char d[32];
	char want[HM_DKIM_BODYHASH_B64_MAX];
	unsigned int dlen = 0;
	EVP_MD_CTX *md = EVP_MD_CTX_new();

	assert_non_null(md);
	assert_int_equal(EVP_DigestInit_ex(md, EVP_sha256(), NULL), 1);
	assert_int_equal(EVP_DigestUpdate(md, canonical, strlen(canonical)), 1);
	assert_int_equal(EVP_DigestFinal_ex(md, d, &dlen), 1);
	EVP_MD_CTX_free(md);
	EVP_EncodeBlock((unsigned char *)want, d, (int)dlen);
	expect_hash(canon, body, want);
}

static void test_empty_bodies(void **state)
{
	(void)state;
	/* Simple: an empty body is one CRLF; relaxed: nothing (RFC 6376 3.4.3/4). */
	expect_hash(HM_DKIM_BODY_SIMPLE, "", "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	expect_hash(HM_DKIM_BODY_RELAXED, "", "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
	/* Empty lines only: the same. */
	expect_hash(HM_DKIM_BODY_SIMPLE, "\r\n\r\n\r\n",
		    "frcCV1k9oG9oKj3dpUqdJg1PxRT2RSN/XKdLCPjaYaY=");
	expect_hash(HM_DKIM_BODY_RELAXED, " \r\n\t\r\n",
		    "47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=");
}

static void test_rfc_example(void **state)
{
	(void)state;
	/* RFC 6376 3.4.5. */
	expect_canonical(HM_DKIM_BODY_SIMPLE, " C \r\nD \t E\r\n\r\n\r\n", " C \r\nD \t E\r\n");
	expect_canonical(HM_DKIM_BODY_RELAXED, " C \r\nD \t E\r\n\r\n\r\n", " C\r\nD E\r\n");
	/* Empty lines inside the body stay. */
	expect_canonical(HM_DKIM_BODY_RELAXED, "a\r\n\r\n \r\nb \r\n\r\n", "a\r\n\r\n\r\nb\r\n");
	expect_canonical(HM_DKIM_BODY_SIMPLE, "\r\na\r\n\r\nb\r\n\r\n", "\r\na\r\n\r\nb\r\n");
}

/* A random body: mostly text and CRLFs, with the odd bytes the MTA may pass. */
static size_t random_body(unsigned char *b, bool bare_lf)
{
	static const char *const pieces[] = {
		"a", "bc", " ", "\t", "  ", "\r\n", "\r\n", "\r\n\r\n", "\r", "xyz", " \t ",
		"\r\r\n", "\n",
	};
	size_t npieces = bare_lf ? 13 : 12;
	size_t n = 0, want = (size_t)rand() % BODY_MAX;

	while (n < want) {
		const char *p = pieces[(size_t)rand() % npieces];
		size_t l = strlen(p);

		if (n + l > BODY_MAX)
			break;
		memcpy(b + n, p, l);
		n += l;
	}
	return n;
}

static void compare(struct dkim_oracle *o, bool relaxed, bool sha1,
		    const unsigned char *body, size_t len)
{
	char want[HM_DKIM_BODYHASH_B64_MAX], got[HM_DKIM_BODYHASH_B64_MAX];
	size_t cuts[8], ncuts = 0;
	bool unterminated;
	int lib;

	for (size_t i = 0; len > 0 && i < (size_t)rand() % 8; i++) {
		size_t c = (size_t)rand() % len;

		if (ncuts == 0 || c > cuts[ncuts - 1])
			cuts[ncuts++] = c;
	}
	lib = dkim_oracle_bodyhash(o, relaxed, sha1, body, len, want, sizeof(want));
	assert_int_not_equal(lib, -1);
	assert_int_equal(ours(relaxed ? HM_DKIM_BODY_RELAXED : HM_DKIM_BODY_SIMPLE,
			      sha1 ? HM_DKIM_BODY_SHA1 : HM_DKIM_BODY_SHA256, body, len,
			      cuts, ncuts, got, &unterminated), 0);
	if ((lib == 1) != unterminated || (lib == 0 && strcmp(want, got) != 0)) {
		fprintf(stderr, "# %s/%s, %zu cuts, body:", relaxed ? "relaxed" : "simple",
			sha1 ? "sha1" : "sha256", ncuts);
		for (size_t i = 0; i < len; i++)
			fprintf(stderr, " %02x", body[i]);
		fprintf(stderr, "\n# library: %s, ours: %s%s\n", lib == 1 ? "refused" : want,
			got, unterminated ? " (unterminated)" : "");
		fail();
	}
}

static void test_random_bodies_match_libopendkim(void **state)
{
	struct dkim_oracle *o = dkim_oracle_new();
	unsigned char body[BODY_MAX];

	(void)state;
	assert_non_null(o);
	srand(20261206);
	for (int i = 0; i < RANDOM_BODIES; i++) {
		size_t len;

		/* libopendkim's simple canonicalization mangles bare LFs. */
		len = random_body(body, false);
		compare(o, false, i % 2, body, len);
		len = random_body(body, true);
		compare(o, true, i % 2, body, len);
	}
	dkim_oracle_free(o);
}

static void test_long_lines_and_runs(void **state)
{
	struct dkim_oracle *o = dkim_oracle_new();
	static unsigned char body[3 * 8192 + 100];
	size_t n = 0;

	(void)state;
	assert_non_null(o);
	/* Longer than the staging buffer, in runs and one by one. */
	memset(body, 'x', 9000);
	n = 9000;
	memcpy(body + n, "\r\n", 2);
	n += 2;
	for (int i = 0; i < 3000; i++)
		body[n++] = " \ty"[i % 3];
	memcpy(body + n, "\r\n\r\n", 4);
	n += 4;
	for (int i = 0; i < 2000; i++, n += 2)
		memcpy(body + n, "\r\n", 2);
	for (int relaxed = 0; relaxed < 2; relaxed++)
		compare(o, relaxed, false, body, n);
	dkim_oracle_free(o);
}

static void test_unterminated(void **state)
{
	struct hm_dkim_bodyhash *h = hm_dkim_bodyhash_new(HM_DKIM_BODY_RELAXED,
							  HM_DKIM_BODY_SHA256);

	(void)state;
	assert_non_null(h);
	assert_int_equal(hm_dkim_bodyhash_update(h, (const unsigned char *)"a\r\nb", 4), 0);
	assert_true(hm_dkim_bodyhash_unterminated(h));
	assert_int_equal(hm_dkim_bodyhash_update(h, (const unsigned char *)"\r", 1), 0);
	assert_true(hm_dkim_bodyhash_unterminated(h));
	assert_int_equal(hm_dkim_bodyhash_update(h, (const unsigned char *)"\n", 1), 0);
	assert_false(hm_dkim_bodyhash_unterminated(h));
	hm_dkim_bodyhash_free(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_empty_bodies),
		cmocka_unit_test(test_rfc_example),
		cmocka_unit_test(test_unterminated),
		cmocka_unit_test(test_long_lines_and_runs),
		cmocka_unit_test(test_random_bodies_match_libopendkim),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
