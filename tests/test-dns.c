/*
 * test-dns.c - the resolver (scoring/dns.c) against the test DNS server.
 *
 * Run by tests/dns.test, which starts tests/dns-server.py on
 * tests/data/resolver/resolver.zone and passes its address in HM_TEST_DNS
 * ("127.0.0.1@PORT") and its query log in HM_TEST_QUERY_LOG.
 */
#include "config.h"

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

#include "scoring/dns.h"

#define TIMEOUT_MS 1000

static struct hm_dns *dns;

static int setup(void **state)
{
	const char *server = getenv("HM_TEST_DNS");
	const char *servers[1] = { server };
	struct hm_dns_conf conf = { servers, 1, NULL, TIMEOUT_MS };
	char err[256];

	if (server == NULL) {
		fprintf(stderr, "HM_TEST_DNS is not set: run me through tests/dns.test\n");
		return -1;
	}
	if (hm_dns_new(&conf, &dns, err, sizeof(err)) < 0) {
		fprintf(stderr, "hm_dns_new: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	hm_dns_free(&dns);
	hm_dns_free(&dns);	/* idempotent */
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

static void expect_status(const char *name, int type, enum hm_dns_status want)
{
	struct hm_dns_answer *a;
	enum hm_dns_status got = hm_dns_lookup(dns, name, type, &a);

	if (got != want)
		fail_msg("%s type %d: status %d, want %d (rcode %d)", name, type, got, want,
			 a ? a->rcode : -1);
	assert_non_null(a);
	assert_int_equal(a->status, got);
	if (got != HM_DNS_OK)
		assert_int_equal(a->count, 0);
	hm_dns_answer_free(&a);
	assert_null(a);
}

static void test_statuses(void **state)
{
	expect_status("example.org", HM_DNS_A, HM_DNS_OK);
	expect_status("nothere.example.org", HM_DNS_A, HM_DNS_NXDOMAIN);
	expect_status("nodata.example.org", HM_DNS_A, HM_DNS_NODATA);
	expect_status("servfail.example.org", HM_DNS_A, HM_DNS_TEMPFAIL);
	expect_status("refused.example.org", HM_DNS_A, HM_DNS_TEMPFAIL);
	/* Outside every zone the server serves: REFUSED, so a temporary failure. */
	expect_status("example.invalid", HM_DNS_A, HM_DNS_TEMPFAIL);
}

static void test_a_records(void **state)
{
	struct hm_dns_answer *a;

	assert_int_equal(hm_dns_lookup(dns, "multi.example.org", HM_DNS_A, &a), HM_DNS_OK);
	assert_int_equal(a->count, 3);
	for (size_t i = 0; i < a->count; i++) {
		assert_int_equal(a->len[i], 4);
		assert_int_equal(a->data[i][0], 192);
		assert_true(a->data[i][3] >= 11 && a->data[i][3] <= 13);
	}
	assert_non_null(a->packet);
	assert_true(a->packet_len > 12);
	assert_int_equal(a->ttl, 300);
	hm_dns_answer_free(&a);

	assert_int_equal(hm_dns_lookup(dns, "mx1.example.org", HM_DNS_AAAA, &a), HM_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_int_equal(a->len[0], 16);
	hm_dns_answer_free(&a);
}

static void test_txt(void **state)
{
	struct hm_dns_answer *a;
	char txt[1024], tiny[8];

	assert_int_equal(hm_dns_lookup(dns, "split.example.org", HM_DNS_TXT, &a), HM_DNS_OK);
	assert_int_equal(a->count, 1);
	assert_int_equal(hm_dns_txt(a->data[0], a->len[0], txt, sizeof(txt)), 0);
	assert_string_equal(txt, "v=spf1 ip4:192.0.2.0/24 -all");
	assert_int_equal(hm_dns_txt(a->data[0], a->len[0], tiny, sizeof(tiny)), -1);
	hm_dns_answer_free(&a);

	/* Over 255 bytes: several character-strings in one record. */
	assert_int_equal(hm_dns_lookup(dns, "long.example.org", HM_DNS_TXT, &a), HM_DNS_OK);
	assert_int_equal(hm_dns_txt(a->data[0], a->len[0], txt, sizeof(txt)), 0);
	assert_true(strlen(txt) > 255);
	assert_true(strncmp(txt, "k=rsa; p=MIIB", 13) == 0);
	assert_true(strcmp(txt + strlen(txt) - 6, "IDAQAB") == 0);
	hm_dns_answer_free(&a);

	/* A malformed TXT rdata: a length byte past the end. */
	static const unsigned char bad[] = { 5, 'a', 'b' };
	assert_int_equal(hm_dns_txt(bad, sizeof(bad), txt, sizeof(txt)), -1);
}

static void test_mx_and_names(void **state)
{
	struct hm_dns_answer *a;
	char name[256];
	unsigned pref, seen = 0;

	assert_int_equal(hm_dns_lookup(dns, "example.org", HM_DNS_MX, &a), HM_DNS_OK);
	assert_int_equal(a->count, 2);
	for (size_t i = 0; i < a->count; i++) {
		assert_int_equal(hm_dns_mx(a->data[i], a->len[i], &pref, name, sizeof(name)), 0);
		if (pref == 10) {
			assert_string_equal(name, "mx1.example.org");
			seen |= 1;
		} else {
			assert_int_equal(pref, 20);
			assert_string_equal(name, "mx2.example.net");
			seen |= 2;
		}
	}
	assert_int_equal(seen, 3);
	hm_dns_answer_free(&a);

	static const unsigned char root[] = { 0 }, looped[] = { 3, 'a', 'b' },
		pointer[] = { 0xc0, 0x0c };
	assert_int_equal(hm_dns_name(root, 1, name, sizeof(name)), 0);
	assert_string_equal(name, ".");
	assert_int_equal(hm_dns_name(looped, sizeof(looped), name, sizeof(name)), -1);
	assert_int_equal(hm_dns_name(pointer, sizeof(pointer), name, sizeof(name)), -1);
}

/* The reverse and test. zones are answered by our server, not by libunbound. */
static void test_nodefault_zones(void **state)
{
	struct hm_dns_answer *a;
	char rev[128], name[256];

	assert_int_equal(hm_dns_reverse_name("192.0.2.25", NULL, rev, sizeof(rev)), 0);
	assert_string_equal(rev, "25.2.0.192.in-addr.arpa");
	assert_int_equal(hm_dns_lookup(dns, rev, HM_DNS_PTR, &a), HM_DNS_OK);
	assert_int_equal(hm_dns_name(a->data[0], a->len[0], name, sizeof(name)), 0);
	assert_string_equal(name, "mx1.example.org");
	hm_dns_answer_free(&a);
	expect_status("host.test", HM_DNS_A, HM_DNS_OK);
}

static void test_reverse_names(void **state)
{
	char out[128];

	assert_int_equal(hm_dns_reverse_name("2001:db8::25", NULL, out, sizeof(out)), 0);
	assert_string_equal(out, "5.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa");
	assert_int_equal(hm_dns_reverse_name("198.51.100.7", "zen.example.net", out, sizeof(out)), 0);
	assert_string_equal(out, "7.100.51.198.zen.example.net");
	assert_int_equal(hm_dns_reverse_name("not-an-ip", NULL, out, sizeof(out)), -1);
	assert_int_equal(hm_dns_reverse_name("198.51.100.7", "zen.example.net", out, 10), -1);
	assert_int_equal(hm_dns_reverse_name("::1", NULL, out, 40), -1);
}

/* Truncated over UDP: libunbound must retry over TCP. */
static void test_truncation(void **state)
{
	struct hm_dns_answer *a;

	assert_int_equal(hm_dns_lookup(dns, "tcponly.example.org", HM_DNS_A, &a), HM_DNS_OK);
	assert_int_equal(a->count, 1);
	hm_dns_answer_free(&a);
	/* 60 TXT records: far over 512 bytes. */
	assert_int_equal(hm_dns_lookup(dns, "big.example.org", HM_DNS_TXT, &a), HM_DNS_NXDOMAIN);
	hm_dns_answer_free(&a);
	assert_int_equal(hm_dns_lookup(dns, "big1.example.org", HM_DNS_TXT, &a), HM_DNS_OK);
	hm_dns_answer_free(&a);
}

/* A server that never answers: TEMPFAIL, at the deadline and not much later. */
static void test_timeout(void **state)
{
	struct hm_dns_answer *a;
	long t0 = now_ms(), elapsed;

	assert_int_equal(hm_dns_lookup(dns, "timeout.example.org", HM_DNS_A, &a), HM_DNS_TEMPFAIL);
	elapsed = now_ms() - t0;
	hm_dns_answer_free(&a);
	if (elapsed < TIMEOUT_MS - 50 || elapsed > TIMEOUT_MS + 400)
		fail_msg("timed out after %ld ms, want about %d", elapsed, TIMEOUT_MS);
	/* The resolver still works for other names afterwards. */
	expect_status("example.org", HM_DNS_A, HM_DNS_OK);
}

/* Queries started together run together: four 0.3 s answers in well under 1.2 s. */
static void test_overlap(void **state)
{
	const char *names[] = { "slow1.example.org", "slow2.example.org",
				"slow3.example.org", "slow4.example.org" };
	struct hm_dns_query *q[4];
	long t0 = now_ms(), elapsed;

	for (int i = 0; i < 4; i++)
		q[i] = hm_dns_start(dns, names[i], HM_DNS_A);
	for (int i = 0; i < 4; i++) {
		struct hm_dns_answer *a;

		assert_int_equal(hm_dns_wait(dns, q[i], &a), HM_DNS_OK);
		assert_int_equal(a->data[0][3], 201 + i);
		hm_dns_answer_free(&a);
	}
	elapsed = now_ms() - t0;
	if (elapsed > 900)
		fail_msg("4 overlapping lookups took %ld ms: they did not overlap", elapsed);

	struct hm_dns_answer *a;
	assert_int_equal(hm_dns_wait(dns, NULL, &a), HM_DNS_TEMPFAIL);
	hm_dns_answer_free(&a);
}

static int count_queries(const char *name)
{
	const char *path = getenv("HM_TEST_QUERY_LOG");
	char line[512], want[256];
	int n = 0;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return -1;
	snprintf(want, sizeof(want), "%s. A ", name);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, want, strlen(want)) == 0)
			n++;
	fclose(f);
	return n;
}

/* Answers are cached: the second lookup does not reach the server. */
static void test_cache(void **state)
{
	expect_status("cached.example.org", HM_DNS_A, HM_DNS_OK);
	expect_status("cached.example.org", HM_DNS_A, HM_DNS_OK);
	expect_status("cached.example.org", HM_DNS_A, HM_DNS_OK);
	assert_int_equal(count_queries("cached.example.org"), 1);
}

/* Many threads share one resolver. */
#define THREADS 8
#define PER_THREAD 150

static void *hammer(void *arg)
{
	static const struct {
		const char *name;
		enum hm_dns_status status;
	} mix[] = {
		{ "example.org", HM_DNS_OK }, { "mx1.example.org", HM_DNS_OK },
		{ "nothere.example.org", HM_DNS_NXDOMAIN }, { "nodata.example.org", HM_DNS_NODATA },
		{ "servfail.example.org", HM_DNS_TEMPFAIL }, { "multi.example.org", HM_DNS_OK },
	};
	long *bad = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		struct hm_dns_answer *a;
		size_t k = (size_t)i % (sizeof(mix) / sizeof(mix[0]));
		char name[64];

		/* Some names are new each time, so the server is really asked. */
		if (i % 5 == 0)
			snprintf(name, sizeof(name), "n%d-%p.example.org", i, (void *)bad);
		else
			snprintf(name, sizeof(name), "%s", mix[k].name);
		enum hm_dns_status want = i % 5 == 0 ? HM_DNS_NXDOMAIN : mix[k].status;
		if (hm_dns_lookup(dns, name, HM_DNS_A, &a) != want)
			(*bad)++;
		hm_dns_answer_free(&a);
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	long bad[THREADS] = { 0 }, total = 0;

	for (int i = 0; i < THREADS; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &bad[i]), 0);
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += bad[i];
	}
	if (total != 0)
		fail_msg("%ld of %d concurrent lookups gave the wrong status", total,
			 THREADS * PER_THREAD);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_statuses),
		cmocka_unit_test(test_a_records),
		cmocka_unit_test(test_txt),
		cmocka_unit_test(test_mx_and_names),
		cmocka_unit_test(test_nodefault_zones),
		cmocka_unit_test(test_reverse_names),
		cmocka_unit_test(test_truncation),
		cmocka_unit_test(test_timeout),
		cmocka_unit_test(test_overlap),
		cmocka_unit_test(test_cache),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, setup, teardown);
}
