/*
 * test-dns-cache.c - unit tests of scoring/dns-cache.c: what is kept and
 * for how long, what never is, the copy handed out, and many threads at
 * once (run under the sanitizers in CI).
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "scoring/dns-cache.h"

/* An answer as dns.c hands it out, over the caller's arrays. */
struct fake {
	struct hm_dns_answer a;
	const unsigned char *data[2];
	size_t len[2];
};

static void fake_init(struct fake *f, enum hm_dns_status st, int ttl, const char *rec1,
		      const char *rec2)
{
	memset(f, 0, sizeof(*f));
	f->a.status = st;
	f->a.rcode = st == HM_DNS_NXDOMAIN ? 3 : 0;
	f->a.ttl = ttl;
	f->a.packet = (const unsigned char *)"\x12\x34packet";
	f->a.packet_len = 8;
	if (rec1) {
		f->data[f->a.count] = (const unsigned char *)rec1;
		f->len[f->a.count++] = strlen(rec1);
	}
	if (rec2) {
		f->data[f->a.count] = (const unsigned char *)rec2;
		f->len[f->a.count++] = strlen(rec2);
	}
	f->a.data = f->data;
	f->a.len = f->len;
}

static void test_kept_and_copied(void **state)
{
	struct hm_dns_cache *c = hm_dns_cache_new();
	struct hm_dns_answer *a;
	struct fake f;

	(void)state;
	assert_non_null(c);
	fake_init(&f, HM_DNS_OK, 300, "v=spf1 -all", "second");
	hm_dns_cache_put(c, "Example.COM.", HM_DNS_TXT, &f.a);
	/* Without case or final dot; only for the type asked. */
	a = hm_dns_cache_get(c, "example.com", HM_DNS_TXT);
	assert_non_null(a);
	assert_null(hm_dns_cache_get(c, "example.com", HM_DNS_A));
	assert_null(hm_dns_cache_get(c, "example.org", HM_DNS_TXT));
	assert_int_equal(a->status, HM_DNS_OK);
	assert_int_equal(a->count, 2);
	assert_int_equal(a->len[0], 11);
	assert_memory_equal(a->data[0], "v=spf1 -all", 11);
	assert_memory_equal(a->data[1], "second", 6);
	assert_int_equal(a->packet_len, 8);
	assert_memory_equal(a->packet, "\x12\x34packet", 8);
	assert_true(a->ttl > 290 && a->ttl <= 300);
	hm_dns_answer_free(&a);
	assert_null(a);
	/* Negative answers are kept too. */
	fake_init(&f, HM_DNS_NXDOMAIN, 60, NULL, NULL);
	hm_dns_cache_put(c, "nx.example.com", HM_DNS_A, &f.a);
	a = hm_dns_cache_get(c, "NX.example.com", HM_DNS_A);
	assert_non_null(a);
	assert_int_equal(a->status, HM_DNS_NXDOMAIN);
	assert_int_equal(a->rcode, 3);
	assert_int_equal(a->count, 0);
	hm_dns_answer_free(&a);
	hm_dns_cache_free(&c);
	assert_null(c);
	hm_dns_cache_free(&c);
}

static void test_never_kept(void **state)
{
	struct hm_dns_cache *c = hm_dns_cache_new();
	static unsigned char big[HM_DNS_CACHE_MAX_PACKET + 1];
	struct fake f;

	(void)state;
	assert_non_null(c);
	fake_init(&f, HM_DNS_TEMPFAIL, 300, NULL, NULL);
	hm_dns_cache_put(c, "fail.example.com", HM_DNS_TXT, &f.a);
	assert_null(hm_dns_cache_get(c, "fail.example.com", HM_DNS_TXT));
	fake_init(&f, HM_DNS_OK, 0, "x", NULL);
	hm_dns_cache_put(c, "ttl0.example.com", HM_DNS_TXT, &f.a);
	assert_null(hm_dns_cache_get(c, "ttl0.example.com", HM_DNS_TXT));
	fake_init(&f, HM_DNS_OK, 300, "x", NULL);
	f.a.packet = big;
	f.a.packet_len = sizeof(big);
	hm_dns_cache_put(c, "big.example.com", HM_DNS_TXT, &f.a);
	assert_null(hm_dns_cache_get(c, "big.example.com", HM_DNS_TXT));
	/* NULL cache (none could be made): nothing kept, nothing found. */
	hm_dns_cache_put(NULL, "x.example.com", HM_DNS_TXT, &f.a);
	assert_null(hm_dns_cache_get(NULL, "x.example.com", HM_DNS_TXT));
	hm_dns_cache_free(&c);
}

static void test_expires_with_ttl(void **state)
{
	struct hm_dns_cache *c = hm_dns_cache_new();
	struct hm_dns_answer *a;
	struct fake f;

	(void)state;
	assert_non_null(c);
	fake_init(&f, HM_DNS_OK, 1, "short", NULL);
	hm_dns_cache_put(c, "short.example.com", HM_DNS_TXT, &f.a);
	a = hm_dns_cache_get(c, "short.example.com", HM_DNS_TXT);
	assert_non_null(a);
	hm_dns_answer_free(&a);
	sleep(2);
	assert_null(hm_dns_cache_get(c, "short.example.com", HM_DNS_TXT));
	/* A newer answer replaces the one kept. */
	fake_init(&f, HM_DNS_OK, 300, "old", NULL);
	hm_dns_cache_put(c, "r.example.com", HM_DNS_TXT, &f.a);
	fake_init(&f, HM_DNS_NODATA, 300, NULL, NULL);
	hm_dns_cache_put(c, "r.example.com", HM_DNS_TXT, &f.a);
	a = hm_dns_cache_get(c, "r.example.com", HM_DNS_TXT);
	assert_non_null(a);
	assert_int_equal(a->status, HM_DNS_NODATA);
	hm_dns_answer_free(&a);
	hm_dns_cache_free(&c);
}

/* Large answers stop being kept once the entries hold the byte budget. */
static void test_byte_budget(void **state)
{
	static unsigned char packet[4000];
	struct hm_dns_cache *c = hm_dns_cache_new();
	size_t kept = 0, n = 3000;
	char name[64];
	struct fake f;

	(void)state;
	assert_non_null(c);
	fake_init(&f, HM_DNS_OK, 300, "x", NULL);
	f.a.packet = packet;
	f.a.packet_len = sizeof(packet);
	for (size_t i = 0; i < n; i++) {
		snprintf(name, sizeof(name), "big%zu.example.com", i);
		hm_dns_cache_put(c, name, HM_DNS_TXT, &f.a);
	}
	for (size_t i = 0; i < n; i++) {
		struct hm_dns_answer *a;

		snprintf(name, sizeof(name), "big%zu.example.com", i);
		if ((a = hm_dns_cache_get(c, name, HM_DNS_TXT)) != NULL)
			kept++;
		hm_dns_answer_free(&a);
	}
	print_message("# %zu of %zu answers of 4000 bytes kept\n", kept, n);
	assert_true(kept > 0);
	assert_true(kept * sizeof(packet) <= HM_DNS_CACHE_MAX_BYTES);
	hm_dns_cache_free(&c);
}

/* Many threads putting and getting names that share slots. */
static struct hm_dns_cache *shared;

static void *hammer(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;
	char name[64], rec[32];
	struct fake f;

	for (int i = 0; i < 20000; i++) {
		struct hm_dns_answer *a;
		unsigned k = (seed * 7919u + (unsigned)i * 104729u) % 20000u;

		snprintf(name, sizeof(name), "h%u.example.com", k);
		snprintf(rec, sizeof(rec), "value-%u", k);
		if (i % 3 == 0) {
			fake_init(&f, HM_DNS_OK, 300, rec, NULL);
			hm_dns_cache_put(shared, name, HM_DNS_TXT, &f.a);
		} else if ((a = hm_dns_cache_get(shared, name, HM_DNS_TXT)) != NULL) {
			if (a->count != 1 || a->len[0] != strlen(rec) ||
			    memcmp(a->data[0], rec, a->len[0]) != 0)
				return (void *)1;
			hm_dns_answer_free(&a);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[8];
	void *r;

	(void)state;
	shared = hm_dns_cache_new();
	assert_non_null(shared);
	for (uintptr_t i = 0; i < 8; i++)
		assert_int_equal(pthread_create(&t[i], NULL, hammer, (void *)(i + 1)), 0);
	for (int i = 0; i < 8; i++) {
		assert_int_equal(pthread_join(t[i], &r), 0);
		assert_null(r);
	}
	hm_dns_cache_free(&shared);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kept_and_copied),
		cmocka_unit_test(test_never_kept),
		cmocka_unit_test(test_expires_with_ttl),
		cmocka_unit_test(test_byte_budget),
		cmocka_unit_test(test_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
