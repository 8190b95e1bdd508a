/*
 * test-client.c - the connection checks (scoring/client.c) against the test
 * DNS server.
 *
 * Run by tests/client.test, which starts tests/dns-server.py on
 * tests/data/client/client.zone (its header says which client IP plays
 * which part) and passes its address in HM_TEST_DNS ("127.0.0.1@PORT") and
 * its query log in HM_TEST_QUERY_LOG.  Each row of the cases table is one
 * TAP test; a failure prints the symbols fired and the ones wanted.
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

#include "scoring/client.h"

#define TIMEOUT_MS 1000

static struct hm_dns *dns;
static struct hm_weights weights;
static struct hm_netlist our_addrs;

static struct hm_dnsbl_code zen_codes[] = {
	{ { 127, 0, 0, 2 }, 6.5 },
	{ { 127, 0, 0, 4 }, 3.5 },
	{ { 127, 0, 0, 10 }, 1.0 },
};

static const struct hm_dnsbl_zone zones[] = {
	{ "RBL_ZEN", "zen.example.net", 4.0, zen_codes, 3 },
	{ "RBL_EXAMPLE", "bl.example.org", 3.0, NULL, 0 },
};

static const char *const our_names[] = { "mx.ours.example.org", "ours.example.org." };

static struct hm_client_conf conf = {
	zones, 2, our_names, 2, &our_addrs,
};

static const struct hm_dnsbl_zone slow_zones[] = {
	{ "SLOW1", "slow1.example.net", 1.0, NULL, 0 },
	{ "SLOW2", "slow2.example.net", 1.0, NULL, 0 },
	{ "SLOW3", "slow3.example.net", 1.0, NULL, 0 },
};

static const struct hm_client_conf slow_conf = { slow_zones, 3, NULL, 0, NULL };

/* A resolver that asks the test server; NULL (and a message) if it fails. */
static struct hm_dns *new_resolver(void)
{
	const char *server = getenv("HM_TEST_DNS");
	const char *servers[1] = { server };
	struct hm_dns_conf dconf = { servers, 1, NULL, TIMEOUT_MS };
	struct hm_dns *r;
	char err[256];

	if (server == NULL) {
		fprintf(stderr, "HM_TEST_DNS is not set: run me through tests/client.test\n");
		return NULL;
	}
	if (hm_dns_new(&dconf, &r, err, sizeof(err)) < 0) {
		fprintf(stderr, "hm_dns_new: %s\n", err);
		return NULL;
	}
	return r;
}

static int setup(void **state)
{
	char err[256];

	(void)state;
	if ((dns = new_resolver()) == NULL)
		return -1;
	if (hm_netlist_add(&our_addrs, "198.51.100.0/28", err, sizeof(err)) < 0 ||
	    hm_netlist_add(&our_addrs, "198.51.100.25", err, sizeof(err)) < 0 ||
	    hm_netlist_add(&our_addrs, "2001:db8:ffff::/48", err, sizeof(err)) < 0) {
		fprintf(stderr, "hm_netlist_add: %s\n", err);
		return -1;
	}
	hm_weights_default(&weights);
	/* Not the defaults, so the test sees configured weights are used. */
	weights.w[HM_SYM_RDNS_NONE] = 2.25;
	weights.w[HM_SYM_DNSBL_TEMPERROR] = 0.01;
	weights.w[HM_SYM_RDNS_TEMPERROR] = 0.02;
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hm_netlist_free(&our_addrs);
	hm_dns_free(&dns);
	return 0;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000L + ts.tv_nsec / 1000000L;
}

/* "NAME(w.ww)[detail] ..." in the order fired: what a failure prints. */
static void format_fired(const struct hm_symbols *s, char *out, size_t outlen)
{
	size_t o = 0;

	out[0] = '\0';
	for (size_t i = 0; i < s->count && o < outlen; i++) {
		int k = snprintf(out + o, outlen - o, "%s%s(%.2f)[%s]", i ? " " : "",
				 s->fired[i].name, s->fired[i].weight, s->fired[i].detail);
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

/* Queries of that name and type the server received so far. */
static int count_queries(const char *name, const char *type)
{
	const char *path = getenv("HM_TEST_QUERY_LOG");
	char line[512], want[300];
	int n = 0;
	FILE *f;

	if (path == NULL || (f = fopen(path, "r")) == NULL)
		return -1;
	snprintf(want, sizeof(want), "%s. %s ", name, type);
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, want, strlen(want)) == 0)
			n++;
	fclose(f);
	return n;
}

/* --- table of single-message cases ---------------------------------- */

struct ccase {
	const char *name;
	const char *ip;
	const char *helo;
	const char *want;	/* format_fired() of what must fire */
	const char *rdns;	/* hm_client_check_rdns(), NULL for none */
};

#define ZEN_V6 "0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2"
#define HELO "mail.example.com"

static const struct ccase cases[] = {
	/* Reverse DNS. */
	{ "rdns: PTR confirmed by A", "192.0.2.1", HELO, "", "mail.example.com" },
	{ "rdns: PTR name points elsewhere", "192.0.2.2", HELO,
	  "RDNS_MISMATCH(1.00)[other.example.com]", NULL },
	{ "rdns: no PTR (NXDOMAIN)", "192.0.2.3", HELO, "RDNS_NONE(2.25)[192.0.2.3]", NULL },
	{ "rdns: PTR lookup SERVFAIL", "192.0.2.4", HELO,
	  "RDNS_TEMPERROR(0.02)[PTR 192.0.2.4]", NULL },
	{ "rdns: three PTR names, the second confirms", "192.0.2.5", HELO, "",
	  "b.multi.example.com" },
	{ "rdns: forward lookup SERVFAIL", "192.0.2.6", HELO,
	  "RDNS_TEMPERROR(0.02)[fwdfail.example.com]", NULL },
	{ "rdns: PTR name without A (NODATA)", "192.0.2.7", HELO,
	  "RDNS_MISMATCH(1.00)[txtonly.example.com]", NULL },
	{ "rdns: PTR lookup times out, DNSBL too", "192.0.2.8", HELO,
	  "RDNS_TEMPERROR(0.02)[PTR 192.0.2.8]", NULL },
	{ "rdns: reverse name without PTR (NODATA)", "192.0.2.9", HELO,
	  "RDNS_NONE(2.25)[192.0.2.9]", NULL },
	{ "rdns: PTR is not a host name", "192.0.2.12", HELO,
	  "RDNS_MISMATCH(1.00)[bad PTR]", NULL },
	{ "rdns: IPv4-mapped IPv6 is IPv4", "::ffff:192.0.2.1", HELO, "", "mail.example.com" },
	{ "rdns: IPv6 PTR confirmed by AAAA, IPv6 DNSBL name", "2001:db8::20", HELO,
	  "RBL_ZEN(6.50)[zen.example.net=127.0.0.2]", "host20.example.com" },
	{ "rdns: IPv6 without PTR", "2001:db8::3", HELO, "RDNS_NONE(2.25)[2001:db8::3]", NULL },

	/* DNSBL. */
	{ "dnsbl: listed, code in the map", "192.0.2.20", HELO,
	  "RBL_ZEN(6.50)[zen.example.net=127.0.0.2]", "host20.example.com" },
	{ "dnsbl: three codes, highest weight, all in detail", "192.0.2.21", HELO,
	  "RBL_ZEN(6.50)[zen.example.net=127.0.0.2,127.0.0.4,127.0.0.10]", "host21.example.com" },
	{ "dnsbl: 127.255.255.254 is an error, not a listing", "192.0.2.22", HELO,
	  "DNSBL_TEMPERROR(0.01)[zen.example.net=127.255.255.254]", "host22.example.com" },
	{ "dnsbl: SERVFAIL in two zones, one DNSBL_TEMPERROR", "192.0.2.23", HELO,
	  "DNSBL_TEMPERROR(0.01)[zen.example.net=servfail;bl.example.org=servfail]",
	  "host23.example.com" },
	{ "dnsbl: answer outside 127/8 is an error", "192.0.2.24", HELO,
	  "DNSBL_TEMPERROR(0.01)[zen.example.net=10.0.0.1]", "host24.example.com" },
	{ "dnsbl: code not in the map takes the zone weight", "192.0.2.25", HELO,
	  "RBL_ZEN(4.00)[zen.example.net=127.0.0.11]", "host25.example.com" },
	{ "dnsbl: zone weight above the mapped code", "192.0.2.26", HELO,
	  "RBL_ZEN(4.00)[zen.example.net=127.0.0.4,127.0.0.11]", "host26.example.com" },
	{ "dnsbl: listed in two zones", "192.0.2.27", HELO,
	  "RBL_ZEN(1.00)[zen.example.net=127.0.0.10] RBL_EXAMPLE(3.00)[bl.example.org=127.0.0.2]",
	  "host27.example.com" },
	{ "dnsbl: time-out", "192.0.2.28", HELO,
	  "DNSBL_TEMPERROR(0.01)[zen.example.net=failed]", "host28.example.com" },
	{ "dnsbl: listing and error code together: listed", "192.0.2.29", HELO,
	  "RBL_ZEN(6.50)[zen.example.net=127.0.0.2]", "host29.example.com" },

	/* HELO, from a clean client. */
	{ "helo: FQDN", "192.0.2.1", "mail.example.com", "", "mail.example.com" },
	{ "helo: FQDN with trailing dot", "192.0.2.1", "mail.example.com.", "", "mail.example.com" },
	{ "helo: missing", "192.0.2.1", NULL, "HELO_NOT_FQDN(1.50)[no HELO]", "mail.example.com" },
	{ "helo: empty", "192.0.2.1", "", "HELO_NOT_FQDN(1.50)[no HELO]", "mail.example.com" },
	{ "helo: no dot", "192.0.2.1", "localhost", "HELO_NOT_FQDN(1.50)[localhost]",
	  "mail.example.com" },
	{ "helo: not a domain name", "192.0.2.1", "mail!.example.com",
	  "HELO_NOT_FQDN(1.50)[mail!.example.com]", "mail.example.com" },
	{ "helo: control characters hidden in the detail", "192.0.2.1", "a\tb.example\x01",
	  "HELO_NOT_FQDN(1.50)[a?b.example?]", "mail.example.com" },
	{ "helo: over-long", "192.0.2.1",
	  "a123456789a123456789a123456789a123456789a123456789a123456789.b123456789b123456789"
	  "b123456789b123456789b123456789b123456789.c123456789c123456789c123456789c123456789"
	  "c123456789c123456789.d123456789d123456789d123456789d123456789d123456789d123456789"
	  ".e123456789e123456789e123456789e123456789e123456789e123456789.com",
	  "HELO_NOT_FQDN(1.50)[a123456789a123456789a123456789a123456789a123456789a123456789."
	  "b123456789b123456789b123456789b123]", "mail.example.com" },
	{ "helo: bare IPv4", "192.0.2.1", "192.0.2.1", "HELO_BARE_IP(2.00)[192.0.2.1]",
	  "mail.example.com" },
	{ "helo: bare IPv6", "192.0.2.1", "2001:db8::1", "HELO_BARE_IP(2.00)[2001:db8::1]",
	  "mail.example.com" },
	{ "helo: IPv4 address literal", "192.0.2.1", "[192.0.2.1]", "", "mail.example.com" },
	{ "helo: IPv6 address literal", "192.0.2.1", "[IPv6:2001:db8::1]", "",
	  "mail.example.com" },
	{ "helo: IPv6 tag is case-insensitive", "192.0.2.1", "[ipv6:2001:db8::1]", "",
	  "mail.example.com" },
	{ "helo: bad IPv4 literal", "192.0.2.1", "[192.0.2.300]",
	  "HELO_NOT_FQDN(1.50)[[192.0.2.300]]", "mail.example.com" },
	{ "helo: IPv6 literal without its tag", "192.0.2.1", "[2001:db8::1]",
	  "HELO_NOT_FQDN(1.50)[[2001:db8::1]]", "mail.example.com" },
	{ "helo: unclosed literal", "192.0.2.1", "[192.0.2.1",
	  "HELO_NOT_FQDN(1.50)[[192.0.2.1]", "mail.example.com" },
	{ "helo: our name", "192.0.2.1", "mx.ours.example.org",
	  "HELO_FORGED_OURS(5.00)[mx.ours.example.org]", "mail.example.com" },
	{ "helo: our name, other case, trailing dot", "192.0.2.1", "OURS.Example.ORG.",
	  "HELO_FORGED_OURS(5.00)[OURS.Example.ORG.]", "mail.example.com" },
	{ "helo: a name under ours is not ours", "192.0.2.1", "x.mx.ours.example.org", "",
	  "mail.example.com" },
	{ "helo: our address as literal", "192.0.2.1", "[198.51.100.25]",
	  "HELO_FORGED_OURS(5.00)[[198.51.100.25]]", "mail.example.com" },
	{ "helo: our IPv6 address as literal", "192.0.2.1", "[IPv6:2001:db8:ffff::25]",
	  "HELO_FORGED_OURS(5.00)[[IPv6:2001:db8:ffff::25]]", "mail.example.com" },
	{ "helo: our address bare", "192.0.2.1", "198.51.100.25",
	  "HELO_BARE_IP(2.00)[198.51.100.25] HELO_FORGED_OURS(5.00)[198.51.100.25]",
	  "mail.example.com" },
	{ "helo: our own host may say our name", "198.51.100.5", "mx.ours.example.org", "",
	  "mx5.ours.example.org" },
	{ "helo: our own host may use our literal", "198.51.100.5", "[198.51.100.25]", "",
	  "mx5.ours.example.org" },
	{ "helo: with symbols of DNS checks", "192.0.2.3", "localhost",
	  "RDNS_NONE(2.25)[192.0.2.3] HELO_NOT_FQDN(1.50)[localhost]", NULL },

	/* Clients without IP checks. */
	{ "local client (no IP) fires nothing", NULL, "localhost", "", NULL },
	{ "loopback fires nothing", "127.0.0.1", NULL, "", NULL },
	{ "IPv6 loopback fires nothing", "::1", "localhost", "", NULL },
	{ "private IPv4: HELO checks only", "10.1.2.3", "localhost",
	  "HELO_NOT_FQDN(1.50)[localhost]", NULL },
	{ "private IPv4 172.16/12, good HELO", "172.20.0.1", HELO, "", NULL },
	{ "link-local IPv6: HELO checks only", "fe80::1", "192.0.2.1",
	  "HELO_BARE_IP(2.00)[192.0.2.1]", NULL },
	{ "unique local IPv6, good HELO", "fd00::1", HELO, "", NULL },
	{ "multicast IPv4, good HELO", "224.0.0.1", HELO, "", NULL },
	{ "not an address: HELO checks only", "garbage", "localhost",
	  "HELO_NOT_FQDN(1.50)[localhost]", NULL },
};

static void run_case(void **state)
{
	const struct ccase *t = *state;
	struct hm_symbols syms = { 0 };
	struct hm_client_check *c = hm_client_check_start(dns, &conf, t->ip);
	const char *rdns;
	char got[1024];

	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(c, t->helo, &weights, &syms), 0);
	format_fired(&syms, got, sizeof(got));
	if (strcmp(got, t->want) != 0)
		fail_msg("%s: client %s, HELO \"%s\"\n  fired: %s\n  want:  %s", t->name,
			 t->ip ? t->ip : "(local)", t->helo ? t->helo : "(none)", got, t->want);
	rdns = hm_client_check_rdns(c);
	if ((rdns == NULL) != (t->rdns == NULL) || (rdns && strcmp(rdns, t->rdns) != 0))
		fail_msg("%s: confirmed rDNS %s, want %s", t->name, rdns ? rdns : "(none)",
			 t->rdns ? t->rdns : "(none)");
	hm_client_check_free(&c);
	assert_null(c);
	hm_client_check_free(&c);	/* idempotent */
}

/* Private and loopback clients cost no DNS query at all. */
static void test_private_no_queries(void **state)
{
	static const char *const names[] = {
		"3.2.1.10.in-addr.arpa", "3.2.1.10.zen.example.net", "1.0.0.127.zen.example.net",
		"1.0.0.127.in-addr.arpa", "1.0.0.0.0.2.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.e.f.ip6.arpa",
	};

	(void)state;
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		int n = count_queries(names[i], i % 2 ? "A" : "PTR");

		if (n != 0)
			fail_msg("%d queries for %s: private clients must not be looked up", n, names[i]);
	}
}

/*
 * Several messages on one connection: DNS results are kept (no new query),
 * HELO is judged again each time.  Every record of 192.0.2.40 has TTL 0, so
 * the resolver's cache cannot hide a second query.
 */
static void test_second_message(void **state)
{
	static const struct {
		const char *name, *type;
	} q[] = {
		{ "40.2.0.192.in-addr.arpa", "PTR" },
		{ "40.2.0.192.zen.example.net", "A" },
		{ "host40.example.com", "A" },
	};
	struct hm_client_check *c = hm_client_check_start(dns, &conf, "192.0.2.40");
	struct hm_symbols s1 = { 0 }, s2 = { 0 };
	char got[512];

	(void)state;
	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(c, "mail.example.com", &weights, &s1), 0);
	format_fired(&s1, got, sizeof(got));
	assert_string_equal(got, "RBL_ZEN(6.50)[zen.example.net=127.0.0.2]");
	for (size_t i = 0; i < 3; i++)
		if (count_queries(q[i].name, q[i].type) != 1)
			fail_msg("first message: %d queries for %s %s, want 1",
				 count_queries(q[i].name, q[i].type), q[i].name, q[i].type);

	assert_int_equal(hm_client_check_collect(c, "localhost", &weights, &s2), 0);
	format_fired(&s2, got, sizeof(got));
	assert_string_equal(got, "RBL_ZEN(6.50)[zen.example.net=127.0.0.2] "
			    "HELO_NOT_FQDN(1.50)[localhost]");
	assert_string_equal(hm_client_check_rdns(c), "host40.example.com");
	for (size_t i = 0; i < 3; i++)
		if (count_queries(q[i].name, q[i].type) != 1)
			fail_msg("second message: %d queries for %s %s, want still 1",
				 count_queries(q[i].name, q[i].type), q[i].name, q[i].type);
	hm_client_check_free(&c);

	/* The counter can see a second query: the resolver does not cache TTL 0. */
	struct hm_dns_answer *a;
	assert_int_equal(hm_dns_lookup(dns, "host40.example.com", HM_DNS_A, &a), HM_DNS_OK);
	hm_dns_answer_free(&a);
	assert_int_equal(count_queries("host40.example.com", "A"), 2);
}

/*
 * The overlap tests use a resolver of their own, fresh as at daemon start.
 * The shared one has learnt that the test server answers in well under
 * 50 ms, so it retransmits a query after ~50 ms and drops the late answer
 * to the first attempt; the test server delays every attempt by the same
 * 0.3 s (a real resolver would answer the retransmission from its cache),
 * and the back-off may not catch up before our time-out.  A fresh resolver
 * waits 376 ms before its first retransmission.
 */
static int fresh_resolver(void **state)
{
	return (*state = new_resolver()) ? 0 : -1;
}

static int free_resolver(void **state)
{
	struct hm_dns *r = *state;

	hm_dns_free(&r);
	return 0;
}

/*
 * Lookups start at connect and run together: a PTR and three DNSBL zones
 * each answering after 0.3 s take about 0.3 s in all, not 1.2 s.
 */
static void test_overlap(void **state)
{
	struct hm_symbols s = { 0 };
	struct hm_client_check *c;
	long t0 = now_ms(), elapsed;
	char got[512];

	c = hm_client_check_start(*state, &slow_conf, "192.0.2.30");
	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(c, HELO, &weights, &s), 0);
	elapsed = now_ms() - t0;
	format_fired(&s, got, sizeof(got));
	assert_string_equal(got, "SLOW1(1.00)[slow1.example.net=127.0.0.2] "
			    "SLOW2(1.00)[slow2.example.net=127.0.0.2] "
			    "SLOW3(1.00)[slow3.example.net=127.0.0.2]");
	assert_string_equal(hm_client_check_rdns(c), "host30.example.com");
	hm_client_check_free(&c);
	if (elapsed < 250 || elapsed > 650)
		fail_msg("4 lookups of 0.3 s took %ld ms, want about 300", elapsed);
}

/* Started at connect, the lookups are done by the end of the message. */
static void test_overlap_dialogue(void **state)
{
	struct hm_symbols s = { 0 };
	struct hm_client_check *c = hm_client_check_start(*state, &slow_conf, "192.0.2.31");
	const struct timespec dialogue = { 0, 400 * 1000000L };
	long t0, elapsed;

	assert_non_null(c);
	nanosleep(&dialogue, NULL);	/* MAIL, RCPT, DATA ... */
	t0 = now_ms();
	assert_int_equal(hm_client_check_collect(c, HELO, &weights, &s), 0);
	elapsed = now_ms() - t0;
	assert_int_equal(s.count, 3);
	hm_client_check_free(&c);
	if (elapsed > 150)
		fail_msg("collect after the dialogue took %ld ms: the lookups did not run "
			 "during it", elapsed);
}

/*
 * A connection that closes before any message: the check is freed with
 * its queries in flight, at once (valgrind sees no leak when the late
 * answers arrive or never do).
 */
static void test_free_in_flight(void **state)
{
	struct hm_client_check *c = hm_client_check_start(dns, &conf, "192.0.2.41");
	const struct timespec late = { 0, 500 * 1000000L };
	long t0;

	(void)state;
	assert_non_null(c);
	t0 = now_ms();
	hm_client_check_free(&c);
	assert_null(c);
	if (now_ms() - t0 > 100)
		fail_msg("free took %ld ms: it waited for the lookups", now_ms() - t0);
	nanosleep(&late, NULL);	/* the answers come in after the free */
	/* They were in flight indeed (retransmissions may add some). */
	assert_true(count_queries("41.2.0.192.in-addr.arpa", "PTR") >= 1);
	assert_true(count_queries("41.2.0.192.bl.example.org", "A") >= 1);

	/* Freed after the first message, and without any conf zones. */
	static const struct hm_client_conf empty = { NULL, 0, NULL, 0, NULL };
	struct hm_symbols s = { 0 };
	c = hm_client_check_start(dns, &empty, "192.0.2.3");
	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(c, HELO, &weights, &s), 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.fired[0].name, "RDNS_NONE");
	hm_client_check_free(&c);
}

static void test_bad_arguments(void **state)
{
	struct hm_symbols s = { 0 };
	struct hm_client_check *c = hm_client_check_start(dns, &conf, NULL);

	(void)state;
	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(NULL, HELO, &weights, &s), -1);
	assert_int_equal(hm_client_check_collect(c, HELO, NULL, &s), -1);
	assert_int_equal(hm_client_check_collect(c, HELO, &weights, NULL), -1);
	assert_null(hm_client_check_rdns(NULL));
	assert_null(hm_client_check_rdns(c));
	hm_client_check_free(&c);
	hm_client_check_free(&c);

	/* No resolver: the HELO checks still run. */
	c = hm_client_check_start(NULL, &conf, "192.0.2.3");
	assert_non_null(c);
	assert_int_equal(hm_client_check_collect(c, "localhost", &weights, &s), 0);
	assert_int_equal(s.count, 1);
	assert_string_equal(s.fired[0].name, "HELO_NOT_FQDN");
	hm_client_check_free(&c);
}

static void test_code_parse(void **state)
{
	static const struct {
		const char *text;
		int rc;
		unsigned char last;
		double weight;
	} t[] = {
		{ "127.0.0.2=6.5", 0, 2, 6.5 },
		{ " 127.0.0.4 = 3 ", 0, 4, 3.0 },
		{ "127.0.0.10=-1.5", 0, 10, -1.5 },
		{ "127.0.1.1=0", 0, 1, 0.0 },
		{ "127.0.0.2", -1, 0, 0 },
		{ "127.0.0.2=", -1, 0, 0 },
		{ "=5", -1, 0, 0 },
		{ "127.0.0.2=abc", -1, 0, 0 },
		{ "127.0.0.2=5x", -1, 0, 0 },
		{ "127.0.0.2=nan", -1, 0, 0 },
		{ "127.0.0.2=inf", -1, 0, 0 },
		{ "127.0.0.2=1001", -1, 0, 0 },
		{ "127.0.0.256=1", -1, 0, 0 },
		{ "10.0.0.2=1", -1, 0, 0 },
		{ "127.255.255.254=1", -1, 0, 0 },
		{ "2001:db8::1=1", -1, 0, 0 },
		{ "127.0.0.2.127.0.0.2.127.0.0.2=1", -1, 0, 0 },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		struct hm_dnsbl_code code;
		char err[256] = "";
		int rc = hm_dnsbl_code_parse(t[i].text, &code, err, sizeof(err));

		if (rc != t[i].rc)
			fail_msg("\"%s\": returned %d, want %d (%s)", t[i].text, rc, t[i].rc, err);
		if (rc == 0 && (code.addr[0] != 127 || code.addr[3] != t[i].last ||
				code.weight != t[i].weight))
			fail_msg("\"%s\": got %u.%u.%u.%u=%g", t[i].text, code.addr[0],
				 code.addr[1], code.addr[2], code.addr[3], code.weight);
		if (rc < 0 && err[0] == '\0')
			fail_msg("\"%s\": no error message", t[i].text);
	}
}

static void test_name_valid(void **state)
{
	(void)state;
	assert_true(hm_dnsbl_name_valid("RBL_ZEN"));
	assert_true(hm_dnsbl_name_valid("R2"));
	assert_false(hm_dnsbl_name_valid(""));
	assert_false(hm_dnsbl_name_valid("rbl_zen"));
	assert_false(hm_dnsbl_name_valid("_RBL"));
	assert_false(hm_dnsbl_name_valid("2RBL"));
	assert_false(hm_dnsbl_name_valid("RBL-ZEN"));
	assert_false(hm_dnsbl_name_valid("RBL ZEN"));

	char name[HM_SYM_NAME_MAX + 1];

	memset(name, 'A', sizeof(name) - 1);
	name[HM_SYM_NAME_MAX - 1] = '\0';	/* the longest a symbol name may be */
	assert_true(hm_dnsbl_name_valid(name));
	name[HM_SYM_NAME_MAX - 1] = 'A';
	name[HM_SYM_NAME_MAX] = '\0';
	assert_false(hm_dnsbl_name_valid(name));
}

int main(void)
{
	size_t ncases = sizeof(cases) / sizeof(cases[0]);
	static const struct CMUnitTest more[] = {
		cmocka_unit_test(test_private_no_queries),
		cmocka_unit_test(test_second_message),
		cmocka_unit_test_setup_teardown(test_overlap, fresh_resolver, free_resolver),
		cmocka_unit_test_setup_teardown(test_overlap_dialogue, fresh_resolver,
						free_resolver),
		cmocka_unit_test(test_free_in_flight),
		cmocka_unit_test(test_bad_arguments),
		cmocka_unit_test(test_code_parse),
		cmocka_unit_test(test_name_valid),
	};
	size_t nmore = sizeof(more) / sizeof(more[0]);
	struct CMUnitTest *tests = calloc(ncases + nmore, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 1;
	for (size_t i = 0; i < ncases; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	/* test_private_no_queries reads the log the cases above wrote. */
	memcpy(tests + ncases, more, sizeof(more));
	rc = _cmocka_run_group_tests("client", tests, ncases + nmore, setup, teardown);
	free(tests);
	return rc;
}
