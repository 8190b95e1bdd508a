/*
 * test-dkim.c - DKIM verification (scoring/dkim*.c) against the test DNS
 * server, run by tests/dkim.test.
 *
 * Environment: HM_TEST_DNS ("127.0.0.1@PORT", the server holding
 * tests/data/dkim/dkim.zone), HM_DKIM_MSGS (the directory written by
 * tests/dkim-sign.py), optionally HM_TEST_QUERY_LOG (the server's query log).
 * Without them every case is skipped.
 *
 * Each message is fed as the milter will feed it: header by header (value
 * as libmilter passes it with SMFIP_HDR_LEADSPC: leading whitespace kept,
 * folded lines joined with "\n"), end of headers, then the body streamed
 * from the file in chunks of a given size, never held whole.
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
#include <sys/resource.h>
#include <time.h>

#include <cmocka.h>

#include "scoring/dkim.h"
#include "scoring/dkim-keycache.h"
#include "scoring/dns.h"
#include "scoring/results.h"

#define DNS_TIMEOUT_MS 1500
#define HDR_MAX 65536

static struct hm_dns *dns;
static struct hm_dkim *dk;
static const char *msgdir;

/* How to feed a message. */
struct feed {
	size_t chunk;		/* body chunk size; 0: varying sizes (1..4099) */
	bool crlf_folding;	/* join folded lines with "\r\n", not "\n" */
	bool no_leadspc;	/* drop the space after the colon, as without HDR_LEADSPC */
};

static const struct feed plain = { 4096, false, false };

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000.0 + ts.tv_nsec / 1e6;
}

static void hand_header(struct hm_dkim_verify *v, char *hdr, size_t len,
			const struct feed *f)
{
	char *colon = memchr(hdr, ':', len);
	char value[HDR_MAX];
	size_t n = 0;

	hdr[len] = '\0';
	assert_non_null(colon);
	*colon = '\0';
	for (char *p = colon + 1; *p != '\0'; p++) {
		if (p[0] == '\r' && p[1] == '\n' && !f->crlf_folding)
			continue;	/* libmilter: "\n" between folded lines */
		assert_true(n + 1 < sizeof(value));
		value[n++] = *p;
	}
	value[n] = '\0';
	if (f->no_leadspc && value[0] == ' ')
		memmove(value, value + 1, n);
	(void)hm_dkim_verify_header(v, hdr, value);
}

/* Verify the message in file NAME as fed by f; fills *out, returns finish(). */
static int verify_file(const char *name, const struct feed *f,
		       struct hm_dkim_outcome *out, size_t *ignored)
{
	char path[4096], line[HDR_MAX], hdr[HDR_MAX + 1];
	size_t hlen = 0, chunk = f->chunk ? f->chunk : 4099, step = 1;
	unsigned char *buf;
	struct hm_dkim_verify *v;
	FILE *fp;
	int rc;

	snprintf(path, sizeof(path), "%s/%s.eml", msgdir, name);
	fp = fopen(path, "rb");
	if (fp == NULL)
		fail_msg("cannot open %s", path);
	v = hm_dkim_verify_begin(dk, name);
	assert_non_null(v);
	/* Headers: a line starting with a blank continues the previous one. */
	while (fgets(line, sizeof(line), fp) != NULL) {
		size_t l = strlen(line);

		assert_true(l >= 2 && line[l - 2] == '\r' && line[l - 1] == '\n');
		if (line[0] != ' ' && line[0] != '\t' && hlen > 0) {
			hand_header(v, hdr, hlen - 2, f);	/* without the CRLF */
			hlen = 0;
		}
		if (l == 2)
			break;	/* the empty line */
		assert_true(hlen + l <= HDR_MAX);
		memcpy(hdr + hlen, line, l);
		hlen += l;
	}
	assert_int_equal(hm_dkim_verify_eoh(v), 0);
	buf = malloc(chunk);
	assert_non_null(buf);
	for (;;) {
		size_t want = f->chunk ? f->chunk : step, got;

		got = fread(buf, 1, want, fp);
		if (got == 0)
			break;
		assert_int_equal(hm_dkim_verify_body(v, buf, got), 0);
		step = step * 7 % 4099 + 1;	/* 1, 8, 57, 400, 2801, ... */
	}
	free(buf);
	fclose(fp);
	rc = hm_dkim_verify_finish(v, out);
	if (ignored)
		*ignored = hm_dkim_verify_ignored(v);
	hm_dkim_verify_free(&v);
	hm_dkim_verify_free(&v);	/* idempotent */
	assert_null(v);
	return rc;
}

static void print_outcome(const char *name, const struct hm_dkim_outcome *o)
{
	print_message("# %s: %zu signature(s)\n", name, o->nsigs);
	for (size_t i = 0; i < o->nsigs; i++)
		print_message("#   %s d=%s s=%s a=%s b=%s i=%s (%s)\n",
			      hm_dkim_result_name(o->sigs[i].result), o->sigs[i].domain,
			      o->sigs[i].selector, o->sigs[i].algorithm, o->sigs[i].b,
			      o->sigs[i].identity, o->sigs[i].reason);
}

/* One message, its expected result per signature and reason fragment. */
struct expect {
	const char *name;
	size_t nsigs;
	enum hm_dkim_result result[2];	/* first signatures */
	const char *selector;		/* of the first signature */
	const char *algorithm;
	const char *reason;		/* part of the first signature's reason */
	bool needs_ed25519;
};

static const struct expect cases[] = {
	{ "nosig", 0, { 0 }, NULL, NULL, NULL, false },
	{ "relaxed", 1, { HM_DKIM_PASS }, "rsa2048", "rsa-sha256", "", false },
	{ "simple", 1, { HM_DKIM_PASS }, "rsa2048", "rsa-sha256", "", false },
	{ "relaxed-reformatted", 1, { HM_DKIM_PASS }, "rsa2048", NULL, "", false },
	{ "from-added-above", 1, { HM_DKIM_PASS }, "rsa2048", NULL, "", false },
	{ "ed25519", 1, { HM_DKIM_PASS }, "ed25519", "ed25519-sha256", "", true },
	{ "rsa1024", 1, { HM_DKIM_PASS }, "rsa1024", "rsa-sha256", "", false },
	{ "not-expired", 1, { HM_DKIM_PASS }, "rsa2048", NULL, "", false },
	{ "two-sigs", 2, { HM_DKIM_PASS, HM_DKIM_FAIL }, "rsa2048", NULL, "", false },
	{ "body-modified", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "body hash", false },
	{ "body-extra-line", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "body hash", false },
	{ "relaxed-body-modified", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "body hash", false },
	{ "relaxed-no-final-crlf", 1, { HM_DKIM_PERMERROR }, "rsa2048", NULL, "CRLF", false },
	{ "simple-no-final-crlf", 1, { HM_DKIM_PASS }, "rsa2048", NULL, "", false },
	{ "empty-body-grown-simple", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "body hash", false },
	{ "empty-body-grown-relaxed", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "body hash", false },
	{ "header-modified", 1, { HM_DKIM_FAIL }, "rsa2048", NULL, "did not verify", false },
	{ "key-missing", 1, { HM_DKIM_PERMERROR }, "missing", NULL, "no key (NXDOMAIN)", false },
	{ "key-nodata", 1, { HM_DKIM_PERMERROR }, "nodata", NULL, "no key", false },
	{ "key-revoked", 1, { HM_DKIM_PERMERROR }, "revoked", NULL, "revoked", false },
	{ "key-bad", 1, { HM_DKIM_PERMERROR }, "badkey", NULL, "key", false },
	{ "key-servfail", 1, { HM_DKIM_TEMPERROR }, "servfail", NULL, "SERVFAIL", false },
	{ "key-timeout", 1, { HM_DKIM_TEMPERROR }, "timeout", NULL, "time-out", false },
	{ "two-timeouts", 2, { HM_DKIM_TEMPERROR, HM_DKIM_TEMPERROR }, "timeout", NULL,
	  "time-out", false },
	{ "expired", 1, { HM_DKIM_PERMERROR }, "rsa2048", NULL, "expired", false },
	{ "rsa-sha1", 1, { HM_DKIM_POLICY }, "rsa2048", "rsa-sha1", "rsa-sha1", false },
	{ "rsa512", 1, { HM_DKIM_POLICY }, "rsa512", NULL, "key too small", false },
	{ "no-from-signed", 1, { HM_DKIM_PERMERROR }, "rsa2048", NULL, "", false },
	{ "missing-b", 1, { HM_DKIM_NEUTRAL }, "rsa2048", NULL, "", false },
	{ "bad-b64", 1, { HM_DKIM_NEUTRAL }, "rsa2048", NULL, "", false },
	{ "missing-bh", 1, { HM_DKIM_NEUTRAL }, "rsa2048", NULL, "", false },
	{ "bad-version", 1, { HM_DKIM_NEUTRAL }, "rsa2048", NULL, "", false },
	{ "bad-algorithm", 1, { HM_DKIM_NEUTRAL }, "rsa2048", NULL, "", false },
	{ "length-appended", 1, { HM_DKIM_PASS }, "rsa2048", NULL, "l= covers", false },
	{ "length-truncated", 1, { HM_DKIM_PERMERROR }, "rsa2048", NULL, "length tag", false },
	{ "no-final-crlf", 1, { HM_DKIM_PERMERROR }, "rsa2048", NULL, "CRLF", false },
};

static void skip_without_server(void)
{
	if (dk == NULL)
		skip();
}

/* What differs between an outcome and the expectation, or NULL. */
static const char *mismatch(const struct expect *e, const struct hm_dkim_outcome *o,
			    char *buf, size_t len)
{
	const struct hm_dkim_sig *s = &o->sigs[0];

	if (o->nsigs != e->nsigs) {
		snprintf(buf, len, "%zu signatures, expected %zu", o->nsigs, e->nsigs);
		return buf;
	}
	for (size_t i = 0; i < e->nsigs && i < 2; i++)
		if (o->sigs[i].result != e->result[i]) {
			snprintf(buf, len, "signature %zu is %s, expected %s", i,
				 hm_dkim_result_name(o->sigs[i].result),
				 hm_dkim_result_name(e->result[i]));
			return buf;
		}
	if (e->nsigs == 0)
		return NULL;
	if (strcmp(s->domain, "example.net") != 0 || strcmp(s->selector, e->selector) != 0 ||
	    strcmp(s->identity, "@example.net") != 0)
		return "wrong d=, s= or i=";
	if (e->algorithm && strcmp(s->algorithm, e->algorithm) != 0)
		return "wrong a=";
	if (e->reason && strstr(s->reason, e->reason) == NULL) {
		snprintf(buf, len, "reason lacks \"%s\"", e->reason);
		return buf;
	}
	if (e->reason && e->reason[0] == '\0' && e->result[0] == HM_DKIM_PASS &&
	    s->reason[0] != '\0')
		return "a pass with a reason";
	return NULL;
}

static void check_expect(const struct expect *e, const struct feed *f)
{
	struct hm_dkim_outcome out;
	double t0 = now_ms(), dt;
	const char *why;
	char buf[200];

	(void)verify_file(e->name, f, &out, NULL);
	dt = now_ms() - t0;
	why = mismatch(e, &out, buf, sizeof(buf));
	if (why != NULL) {
		print_message("# fed in %zu-byte chunks%s%s\n", f->chunk,
			      f->crlf_folding ? ", folded with CRLF" : "",
			      f->no_leadspc ? ", without leading space" : "");
		print_outcome(e->name, &out);
		fail_msg("%s: %s", e->name, why);
	}
	/* Lookups are bounded by the resolver's time-out, not the library's. */
	if (dt > DNS_TIMEOUT_MS + 1000)
		fail_msg("%s: took %.0f ms", e->name, dt);
}

static void test_case(void **state)
{
	const struct expect *e = *state;

	skip_without_server();
	if (e->needs_ed25519 && !hm_dkim_has_ed25519(dk)) {
		print_message("# libopendkim without ed25519-sha256\n");
		skip();
	}
	check_expect(e, &plain);
}

/* header.b: the start of each b=, different for two signatures. */
static void test_b_prefix(void **state)
{
	struct hm_dkim_outcome out;

	skip_without_server();
	(void)verify_file("two-sigs", &plain, &out, NULL);
	assert_int_equal(out.nsigs, 2);
	assert_int_equal(strlen(out.sigs[0].b), sizeof(out.sigs[0].b) - 1);
	assert_int_equal(strlen(out.sigs[1].b), sizeof(out.sigs[1].b) - 1);
	assert_string_not_equal(out.sigs[0].b, out.sigs[1].b);
	assert_string_equal(out.sigs[1].selector, "wrongkey");
	assert_null(strchr(out.sigs[0].b, ' '));
}

/* The body in chunks of every awkward size, CRLF split across chunks. */
static void test_chunking(void **state)
{
	static const size_t sizes[] = { 1, 2, 3, 5, 64, 65536, 0 };
	static const char *const names[] = { "relaxed", "simple", "length-appended",
					     "body-modified" };

	skip_without_server();
	for (size_t n = 0; n < sizeof(names) / sizeof(names[0]); n++) {
		const struct expect *e = NULL;

		for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
			if (strcmp(cases[i].name, names[n]) == 0)
				e = &cases[i];
		assert_non_null(e);
		for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
			struct feed f = { sizes[i], false, false };

			check_expect(e, &f);
			f.crlf_folding = true;
			check_expect(e, &f);
		}
	}
}

/*
 * Without SMFIP_HDR_LEADSPC the space after the colon is lost: relaxed
 * signatures survive, simple ones cannot.  (Why the milter negotiates it.)
 */
static void test_without_leadspc(void **state)
{
	struct feed f = { 4096, false, true };
	struct hm_dkim_outcome out;

	skip_without_server();
	(void)verify_file("relaxed", &f, &out, NULL);
	assert_int_equal(out.nsigs, 1);
	assert_int_equal(out.sigs[0].result, HM_DKIM_PASS);
	(void)verify_file("simple", &f, &out, NULL);
	assert_int_equal(out.nsigs, 1);
	assert_int_equal(out.sigs[0].result, HM_DKIM_FAIL);
}

/* More than HM_DKIM_MAX_SIGS signatures: the first ones checked, the rest counted. */
static void test_many_sigs(void **state)
{
	struct hm_dkim_outcome out;
	size_t ignored = 0;

	skip_without_server();
	(void)verify_file("many-sigs", &plain, &out, &ignored);
	assert_int_equal(out.nsigs, HM_DKIM_MAX_SIGS);
	assert_int_equal(ignored, 20 - HM_DKIM_MAX_SIGS);
	for (size_t i = 0; i < out.nsigs; i++)
		assert_int_equal(out.sigs[i].result, HM_DKIM_PASS);
}

static long maxrss_kib(void)
{
	struct rusage ru;

	assert_int_equal(getrusage(RUSAGE_SELF, &ru), 0);
	return ru.ru_maxrss;
}

/* 10 MiB of body streamed: passes, and memory does not grow with it. */
static void test_big_body(void **state)
{
	struct feed f = { 65537, false, false };
	struct hm_dkim_outcome out;
	long before, after;

	skip_without_server();
	(void)verify_file("relaxed", &plain, &out, NULL);	/* warm up */
	before = maxrss_kib();
	(void)verify_file("big", &f, &out, NULL);
	after = maxrss_kib();
	print_message("# max RSS %ld KiB -> %ld KiB\n", before, after);
	assert_int_equal(out.nsigs, 1);
	assert_int_equal(out.sigs[0].result, HM_DKIM_PASS);
	if (after - before > 4096)
		fail_msg("memory grew by %ld KiB for a 10 MiB body", after - before);
}

/* Many messages at once on many threads share the one library handle. */
struct thread_arg {
	int failures;
	char what[200];
};

static void *verify_thread(void *p)
{
	static const struct { const char *name; enum hm_dkim_result r; } work[] = {
		{ "relaxed", HM_DKIM_PASS }, { "key-missing", HM_DKIM_PERMERROR },
		{ "simple", HM_DKIM_PASS }, { "body-modified", HM_DKIM_FAIL },
		{ "ed25519", HM_DKIM_PASS }, { "rsa-sha1", HM_DKIM_POLICY },
	};
	struct thread_arg *a = p;
	size_t nwork = sizeof(work) / sizeof(work[0]);

	if (!hm_dkim_has_ed25519(dk))
		nwork = 4;
	for (int round = 0; round < 10; round++)
		for (size_t i = 0; i < nwork; i++) {
			struct hm_dkim_outcome out;
			struct feed f = { 1 + (size_t)round * 97, false, false };

			(void)verify_file(work[i].name, &f, &out, NULL);
			if (out.nsigs != 1 || out.sigs[0].result != work[i].r) {
				a->failures++;
				snprintf(a->what, sizeof(a->what), "%s: %zu sigs, %s",
					 work[i].name, out.nsigs, out.nsigs ?
					 hm_dkim_result_name(out.sigs[0].result) : "-");
			}
		}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[6];
	struct thread_arg a[6];

	skip_without_server();
	memset(a, 0, sizeof(a));
	for (int i = 0; i < 6; i++)
		assert_int_equal(pthread_create(&t[i], NULL, verify_thread, &a[i]), 0);
	for (int i = 0; i < 6; i++) {
		assert_int_equal(pthread_join(t[i], NULL), 0);
		if (a[i].failures)
			fail_msg("thread %d: %d wrong results, last %s", i, a[i].failures,
				 a[i].what);
	}
}

static const struct expect *find_case(const char *name)
{
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (strcmp(cases[i].name, name) == 0)
			return &cases[i];
	fail_msg("no case %s", name);
	return NULL;
}

/*
 * Keys decoded once are rebuilt from the cache (scoring/dkim-keycache.c):
 * the verdicts stay the same (a pass, a failed header signature, a key too
 * small, rsa-sha1), a key OpenSSL refuses is never remembered, and with
 * the cache off every key goes to OpenSSL again.
 */
static void test_key_cache(void **state)
{
	static const char *const names[] = { "relaxed", "rsa1024", "rsa512", "key-bad",
					     "header-modified", "rsa-sha1" };
	struct hm_dkim_keycache_stats st, before;

	skip_without_server();
	hm_dkim_keycache_clear();
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
			check_expect(find_case(names[i]), &plain);
	hm_dkim_keycache_stats(&st);
	print_message("# key cache: %lu hits, %lu misses, %zu keys\n", st.hits, st.misses,
		      st.keys);
	/* Three RSA keys (2048, 1024, 512 bits); five RSA signatures a round. */
	assert_int_equal(st.keys, 3);
	assert_true(st.hits >= 12);
	before = st;
	hm_dkim_keycache_enable(false);
	check_expect(find_case("relaxed"), &plain);
	hm_dkim_keycache_stats(&st);
	assert_int_equal(st.hits, before.hits);
	hm_dkim_keycache_enable(true);
	check_expect(find_case("relaxed"), &plain);
	hm_dkim_keycache_stats(&st);
	assert_int_equal(st.hits, before.hits + 1);
}

/* An aborted transaction may free its state at any point. */
static void test_abort(void **state)
{
	struct hm_dkim_verify *v;
	struct hm_dkim_outcome out;

	skip_without_server();
	v = hm_dkim_verify_begin(dk, "abort-1");
	assert_non_null(v);
	hm_dkim_verify_free(&v);
	assert_null(v);
	hm_dkim_verify_free(&v);

	v = hm_dkim_verify_begin(dk, "abort-2");
	assert_non_null(v);
	assert_int_equal(hm_dkim_verify_header(v, "DKIM-Signature",
		" v=1; a=rsa-sha256; d=example.net; s=rsa2048; h=from; bh=AAAA; b=AAAA"), 0);
	assert_int_equal(hm_dkim_verify_header(v, "From", " a@example.net"), 0);
	hm_dkim_verify_free(&v);

	/* After eoh, a key query in flight that never gets an answer (an
	 * aborted transaction): freed at once, not after the DNS time-out. */
	v = hm_dkim_verify_begin(dk, "abort-3");
	assert_int_equal(hm_dkim_verify_header(v, "DKIM-Signature",
		" v=1; a=rsa-sha256; d=example.net; s=abort; h=from; bh=AAAA; b=AAAA"), 0);
	assert_int_equal(hm_dkim_verify_header(v, "From", " a@example.net"), 0);
	assert_int_equal(hm_dkim_verify_eoh(v), 0);
	assert_int_equal(hm_dkim_verify_body(v, (const unsigned char *)"x\r\n", 3), 0);
	double t0 = now_ms();
	hm_dkim_verify_free(&v);
	if (now_ms() - t0 > 200)
		fail_msg("freeing with a key lookup in flight took %.0f ms", now_ms() - t0);

	/* Out of order: body before eoh is refused; finish still works. */
	v = hm_dkim_verify_begin(dk, "order");
	assert_int_equal(hm_dkim_verify_body(v, (const unsigned char *)"x\r\n", 3), -1);
	assert_int_equal(hm_dkim_verify_header(v, "From", " a@example.net"), 0);
	assert_int_equal(hm_dkim_verify_finish(v, &out), 0);
	assert_int_equal(out.nsigs, 0);
	assert_int_equal(hm_dkim_verify_header(v, "To", " b@example.net"), -1);
	hm_dkim_verify_free(&v);
}

/* The keys came from the test server, i.e. through hm_dns, not libc. */
static void test_queries_logged(void **state)
{
	const char *log = getenv("HM_TEST_QUERY_LOG");
	char line[512];
	bool seen = false;
	FILE *fp;

	skip_without_server();
	if (log == NULL)
		skip();
	fp = fopen(log, "r");
	assert_non_null(fp);
	while (fgets(line, sizeof(line), fp) != NULL)
		if (strncmp(line, "rsa2048._domainkey.example.net. TXT", 35) == 0)
			seen = true;
	fclose(fp);
	assert_true(seen);
}

static int setup(void **state)
{
	const char *ns = getenv("HM_TEST_DNS");
	const char *nss[1];
	struct hm_dns_conf conf = { 0 };
	char err[256];

	msgdir = getenv("HM_DKIM_MSGS");
	if (ns == NULL || msgdir == NULL)
		return 0;	/* every case skips */
	nss[0] = ns;
	conf.nameservers = nss;
	conf.nnameservers = 1;
	conf.timeout_ms = DNS_TIMEOUT_MS;
	if (hm_dns_new(&conf, &dns, err, sizeof(err)) != 0) {
		print_error("hm_dns_new: %s\n", err);
		return -1;
	}
	if (hm_dkim_new(dns, NULL, &dk, err, sizeof(err)) != 0) {
		print_error("hm_dkim_new: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	hm_dkim_free(&dk);
	hm_dkim_free(&dk);
	hm_dns_free(&dns);
	return 0;
}

int main(void)
{
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_b_prefix),
		cmocka_unit_test(test_chunking),
		cmocka_unit_test(test_without_leadspc),
		cmocka_unit_test(test_many_sigs),
		cmocka_unit_test(test_big_body),
		cmocka_unit_test(test_threads),
		cmocka_unit_test(test_key_cache),
		cmocka_unit_test(test_abort),
		cmocka_unit_test(test_queries_logged),
	};
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	size_t nextra = sizeof(extra) / sizeof(extra[0]);
	struct CMUnitTest tests[sizeof(cases) / sizeof(cases[0]) +
				sizeof(extra) / sizeof(extra[0])];

	for (size_t i = 0; i < ncases; i++) {
		memset(&tests[i], 0, sizeof(tests[i]));
		tests[i].name = cases[i].name;
		tests[i].test_func = test_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	for (size_t i = 0; i < nextra; i++)
		tests[ncases + i] = extra[i];
	return _cmocka_run_group_tests("dkim", tests, ncases + nextra, setup, teardown);
}
