/*
 * test-address.c - unit tests of util/address.c: From header values
 * (current and obsolete RFC 5322 syntax, hostile input), envelope addresses
 * as libmilter hands them, domain-name syntax.  Each table row is one case;
 * a failure prints the input and what differed.
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

#include "util/address.h"

/* The parsed addresses as "local@domain|local@domain" (local-part raw). */
static void render(const struct hm_from_list *l, char *out, size_t len)
{
	size_t n = 0;

	out[0] = '\0';
	for (size_t i = 0; i < l->count && n < len; i++)
		n += (size_t)snprintf(out + n, len - n, "%s%s@%s", i ? "|" : "",
				      l->addrs[i].local, l->addrs[i].domain);
}

static const struct {
	const char *value;
	int rc;
	const char *want;	/* rendered addresses (rc 0), or NULL */
} from_cases[] = {
	/* Plain and common forms. */
	{ "alice@example.org", 0, "alice@example.org" },
	{ "Alice <alice@example.org>", 0, "alice@example.org" },
	{ "\"Alice Liddell\" <alice@Example.ORG>", 0, "alice@example.org" },
	{ "<alice@example.org>", 0, "alice@example.org" },
	{ "  alice@example.org  ", 0, "alice@example.org" },
	{ "Alice.Liddell@EXAMPLE.org", 0, "Alice.Liddell@example.org" },
	{ "a+tag@sub.example.co.uk", 0, "a+tag@sub.example.co.uk" },
	{ "alice@example.org (Alice)", 0, "alice@example.org" },
	{ "(comment) Alice (more) <alice@example.org> (trailing)", 0, "alice@example.org" },
	{ "Alice <alice@example.org>, bob@example.net", 0, "alice@example.org|bob@example.net" },
	{ "John Q. Public <jqp@example.com>", 0, "jqp@example.com" },
	{ "=?UTF-8?B?w4lsb2TDrWU=?= <e@example.com>", 0, "e@example.com" },
	{ "folded\r\n <alice@example.org>", 0, "alice@example.org" },
	{ "\"quoted \\\"name\\\"\" <q@example.org>", 0, "q@example.org" },
	{ "\"a b\"@example.org", 0, "a b@example.org" },
	{ "\"a\\\"b\"@example.org", 0, "a\"b@example.org" },
	{ "\"@\"@example.org", 0, "@@example.org" },
	{ "user@[192.0.2.1]", 0, "user@[192.0.2.1]" },
	{ "user@[IPv6:2001:db8::1]", 0, "user@[ipv6:2001:db8::1]" },
	{ "J\xc3\xbcrgen <j\xc3\xbc@b\xc3\xbc\x63her.example>", 0,
	  "j\xc3\xbc@b\xc3\xbc\x63her.example" },
	{ "x@xn--bcher-kva.example", 0, "x@xn--bcher-kva.example" },
	/* Groups. */
	{ "undisclosed-recipients:;", 0, "" },
	{ "Team: a@example.org, b@example.net;", 0, "a@example.org|b@example.net" },
	{ "Team: a@example.org;, c@example.com", 0, "a@example.org|c@example.com" },
	{ "Team: A <a@example.org>, (x) ;", 0, "a@example.org" },
	{ "", 0, "" },
	{ "   (only a comment)  ", 0, "" },
	/* Obsolete syntax (RFC 5322 section 4.4). */
	{ "<@relay.example.net:alice@example.org>", 0, "alice@example.org" },
	{ "Alice <@a.example,@b.example:alice@example.org>", 0, "alice@example.org" },
	{ "<,@a.example,,@b.example:alice@example.org>", 0, "alice@example.org" },
	{ "john . doe @ example . org", 0, "john.doe@example.org" },
	{ "john (c) . doe@example (c) . org", 0, "john.doe@example.org" },
	{ "\"john\".doe@example.org", 0, "john.doe@example.org" },
	{ ", , alice@example.org, , bob@example.net,", 0, "alice@example.org|bob@example.net" },
	{ "a@example.org,,b@example.net", 0, "a@example.org|b@example.net" },
	/* Errors. */
	{ "alice", -1, NULL },
	{ "alice@", -1, NULL },
	{ "@example.org", -1, NULL },
	{ "Alice alice@example.org", -1, NULL },
	{ "Alice <alice@example.org", -1, NULL },
	{ "Alice alice@example.org>", -1, NULL },
	{ "<alice>", -1, NULL },
	{ "<>", -1, NULL },
	{ "a@example.org b@example.net", -1, NULL },
	{ "a..b@example.org", -1, NULL },
	{ ".a@example.org", -1, NULL },
	{ "a@example..org", -1, NULL },
	{ "a@example.org.", -1, NULL },
	{ "\"unterminated@example.org", -1, NULL },
	{ "Alice (unterminated <a@example.org>", -1, NULL },
	{ "Alice ((nested) <a@example.org>", -1, NULL },
	{ "Alice) <a@example.org>", -1, NULL },
	{ "a@[192.0.2.1", -1, NULL },
	{ "a@[19[2.0.2.1]", -1, NULL },
	{ "a@example.org]", -1, NULL },
	{ "Team: a@example.org", -1, NULL },
	{ "Team: Inner: a@example.org;;", -1, NULL },
	{ ": a@example.org;", -1, NULL },
	{ "a\\b@example.org", -1, NULL },
	{ "a@exa\x01mple.org", -1, NULL },
	{ "a@example.org\x7f", -1, NULL },
	{ "<@:a@example.org>", -1, NULL },
	{ "<@relay.example.net alice@example.org>", -1, NULL },
	{ "good@example.org, bad@", -1, NULL },
};

static void test_from_table(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(from_cases) / sizeof(from_cases[0]); i++) {
		struct hm_from_list l;
		char err[128] = "";
		char got[2048];

		hm_from_init(&l);
		int rc = hm_from_parse(&l, from_cases[i].value, err, sizeof(err));

		render(&l, got, sizeof(got));
		if (rc != from_cases[i].rc ||
		    (rc == 0 && strcmp(got, from_cases[i].want) != 0) ||
		    (rc != 0 && (l.count != 0 || !l.bad || err[0] == '\0'))) {
			print_error("From case %zu [%s]: rc %d (want %d), got [%s] want [%s] err %s\n",
				    i, from_cases[i].value, rc, from_cases[i].rc, got,
				    from_cases[i].want ? from_cases[i].want : "(error)",
				    err[0] ? err : "-");
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

/* Several From headers append; a bad one adds nothing and marks the list. */
static void test_from_append(void **state)
{
	struct hm_from_list l;
	char err[128] = "";
	char got[512];

	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, "a@example.org", err, sizeof(err)), 0);
	assert_int_equal(hm_from_parse(&l, "B <b@Example.NET>", err, sizeof(err)), 0);
	assert_int_equal(hm_from_parse(&l, "c@example.com, broken@", err, sizeof(err)), -1);
	assert_true(err[0] != '\0');
	render(&l, got, sizeof(got));
	assert_string_equal(got, "a@example.org|b@example.net");
	assert_int_equal(l.headers, 3);
	assert_true(l.bad);
	assert_false(l.overflow);
}

/* More than HM_FROM_MAX addresses: the first ones kept, overflow set. */
static void test_from_overflow(void **state)
{
	char value[4096];
	size_t n = 0;
	struct hm_from_list l;
	char err[128] = "";

	for (int i = 0; i < HM_FROM_MAX + 5; i++)
		n += (size_t)snprintf(value + n, sizeof(value) - n, "%su%d@example.org",
				      i ? ", " : "", i);
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, value, err, sizeof(err)), 0);
	assert_int_equal(l.count, HM_FROM_MAX);
	assert_true(l.overflow);
	assert_string_equal(l.addrs[HM_FROM_MAX - 1].local, "u15");
}

/* Hostile sizes: over-long parts and values are errors, never crashes. */
static void test_from_hostile(void **state)
{
	size_t big = HM_FROM_VALUE_MAX * 4;
	char *v = malloc(big + 64);
	struct hm_from_list l;
	char err[128] = "";

	assert_non_null(v);
	/* A 65-octet local-part is one too many. */
	memset(v, 'a', 65);
	strcpy(v + 65, "@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);
	assert_string_equal(err, "local-part too long");
	strcpy(v + 64, "@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), 0);
	assert_int_equal(strlen(l.addrs[0].local), 64);
	/* A 254-character domain. */
	strcpy(v, "a@");
	for (int i = 0; i < 42; i++)
		strcat(v, "abcde.");
	strcat(v, "ab");	/* 42 * 6 + 2 = 254 */
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);
	assert_string_equal(err, "domain too long");
	/* Deep comment nesting. */
	memset(v, '(', 1000);
	memset(v + 1000, ')', 1000);
	strcpy(v + 2000, " a@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);
	assert_string_equal(err, "comments nested too deep");
	/* Nesting within the bound is fine. */
	memset(v, '(', 30);
	memset(v + 30, ')', 30);
	strcpy(v + 60, " a@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), 0);
	/* A huge value. */
	memset(v, 'x', big);
	strcpy(v + big, "@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);
	assert_string_equal(err, "From value too long");
	/* Many unterminated quotes and brackets, every 8-bit byte. */
	for (size_t i = 0; i < 4000; i++)
		v[i] = "\"(<[\\@,:;."[i % 11];
	v[4000] = '\0';
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);
	for (int i = 0; i < 127; i++)
		v[i] = (char)(0x80 + i);
	strcpy(v + 127, "@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), -1);	/* 127 octets: too long */
	strcpy(v + 40, "@example.org");
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, v, err, sizeof(err)), 0);
	free(v);
}

/* Every prefix of valid values must parse or fail cleanly (no overrun). */
static void test_from_prefixes(void **state)
{
	static const char *const values[] = {
		"\"A (B)\" (c (d)) <@r.example,@s.example:\"x y\".z@[IPv6:2001:db8::1]>, G: a@b.example;",
		"x . y @ e . example (c), , \"q\\\"\" <q@e.example>",
	};

	for (size_t v = 0; v < sizeof(values) / sizeof(values[0]); v++) {
		size_t len = strlen(values[v]);

		for (size_t n = 0; n <= len; n++) {
			char buf[256];
			struct hm_from_list l;
			char err[128] = "";

			memcpy(buf, values[v], n);
			buf[n] = '\0';
			hm_from_init(&l);
			int rc = hm_from_parse(&l, buf, err, sizeof(err));

			assert_true(rc == 0 || rc == -1);
			assert_true(l.count <= 2);
		}
	}
}

static const struct {
	const char *arg;
	int rc;
	const char *local, *domain;
} env_cases[] = {
	{ "<user@example.org>", 0, "user", "example.org" },
	{ "<User@EXAMPLE.Org>", 0, "User", "example.org" },
	{ "user@example.org", 0, "user", "example.org" },
	{ "<>", 0, "", "" },
	{ " <> ", 0, "", "" },
	{ "<@a.example,@b.example:user@example.org>", 0, "user", "example.org" },
	{ "<\"john doe\"@example.org>", 0, "john doe", "example.org" },
	{ "<postmaster>", 0, "postmaster", "" },
	{ "postmaster", 0, "postmaster", "" },
	{ "<bounce+srs=x=y@example.net>", 0, "bounce+srs=x=y", "example.net" },
	{ "<user@[192.0.2.1]>", 0, "user", "[192.0.2.1]" },
	{ "", -1, NULL, NULL },
	{ "<", -1, NULL, NULL },
	{ "<user@example.org", -1, NULL, NULL },
	{ "user@example.org>", -1, NULL, NULL },
	{ "<user@>", -1, NULL, NULL },
	{ "<@example.org>", -1, NULL, NULL },
	{ "<> junk", -1, NULL, NULL },
	{ "<a@b.example> <c@d.example>", -1, NULL, NULL },
	{ "<\"unterminated@example.org>", -1, NULL, NULL },
	{ "<a@b@example.org>", -1, NULL, NULL },
	{ "<@a.example:>", -1, NULL, NULL },
};

static void test_envelope_table(void **state)
{
	int failed = 0;

	for (size_t i = 0; i < sizeof(env_cases) / sizeof(env_cases[0]); i++) {
		struct hm_addr a;
		char err[128] = "";
		int rc = hm_addr_parse_envelope(env_cases[i].arg, &a, err, sizeof(err));

		if (rc != env_cases[i].rc ||
		    (rc == 0 && (strcmp(a.local, env_cases[i].local) != 0 ||
				 strcmp(a.domain, env_cases[i].domain) != 0))) {
			print_error("envelope case %zu [%s]: rc %d (want %d) local [%s] domain [%s] err %s\n",
				    i, env_cases[i].arg, rc, env_cases[i].rc, a.local, a.domain,
				    err[0] ? err : "-");
			failed++;
		}
	}
	assert_int_equal(failed, 0);
}

static void test_envelope_null_and_format(void **state)
{
	struct hm_addr a;
	char err[128] = "";
	char buf[HM_ADDR_MAX];

	assert_int_equal(hm_addr_parse_envelope("<>", &a, err, sizeof(err)), 0);
	assert_true(hm_addr_is_null(&a));
	assert_int_equal(hm_addr_parse_envelope("<u@example.org>", &a, err, sizeof(err)), 0);
	assert_false(hm_addr_is_null(&a));
	assert_int_equal(hm_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "u@example.org");
	assert_int_equal(hm_addr_parse_envelope("<\"a \\\"b\"@example.org>", &a, err, sizeof(err)), 0);
	assert_int_equal(hm_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "\"a \\\"b\"@example.org");
	assert_int_equal(hm_addr_format(&a, buf, 8), -1);
	assert_int_equal(hm_addr_parse_envelope("postmaster", &a, err, sizeof(err)), 0);
	assert_int_equal(hm_addr_format(&a, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "postmaster");
}

/* The reason: cut to a small buffer, or not asked for at all (NULL, 0). */
static void test_reason_buffers(void **state)
{
	struct hm_from_list l;
	struct hm_addr a;
	char small[8];

	(void)state;
	assert_int_equal(hm_addr_parse_envelope("<u@example.org", &a, small, sizeof(small)), -1);
	assert_string_equal(small, "missing");
	assert_int_equal(hm_addr_parse_envelope("<u@example.org", &a, NULL, 0), -1);
	hm_from_init(&l);
	assert_int_equal(hm_from_parse(&l, "a@, b@example.org", NULL, 0), -1);
	assert_true(l.bad);
	assert_int_equal(hm_from_parse(&l, "b@example.org", NULL, 0), 0);
	assert_int_equal(l.count, 1);
}

static const struct {
	const char *name;
	bool valid;
} domain_cases[] = {
	{ "example.org", true },
	{ "EXAMPLE.org", true },
	{ "example.org.", true },
	{ "_dmarc.example.org", true },
	{ "sel._domainkey.example.org", true },
	{ "a-b.example", true },
	{ "xn--bcher-kva.example", true },
	{ "localhost", true },
	{ "1.2.3.4", true },
	{ "", false },
	{ ".", false },
	{ ".example.org", false },
	{ "example..org", false },
	{ "example.org..", false },
	{ "-a.example", false },
	{ "a-.example", false },
	{ "a.example-", false },
	{ "exa mple.org", false },
	{ "b\xc3\xbc\x63her.example", false },
	{ "[192.0.2.1]", false },
	{ "a@example.org", false },
	/* 63 is fine, 64 is not */
	{ "123456789012345678901234567890123456789012345678901234567890123.example", true },
	{ "1234567890123456789012345678901234567890123456789012345678901234.example", false },
};

static void test_domain_valid(void **state)
{
	int failed = 0;
	char name[300];

	for (size_t i = 0; i < sizeof(domain_cases) / sizeof(domain_cases[0]); i++) {
		if (hm_domain_valid(domain_cases[i].name) != domain_cases[i].valid) {
			print_error("domain [%s]: want %s\n", domain_cases[i].name,
				    domain_cases[i].valid ? "valid" : "invalid");
			failed++;
		}
	}
	assert_int_equal(failed, 0);
	/* 253 characters is the most; with a trailing dot 254. */
	name[0] = '\0';
	for (int i = 0; i < 63; i++)
		strcat(name, "abc.");
	strcat(name, "a");			/* 63 * 4 + 1 = 253 */
	assert_true(hm_domain_valid(name));
	strcat(name, ".");
	assert_true(hm_domain_valid(name));
	name[253] = 'b';
	name[254] = '\0';
	assert_false(hm_domain_valid(name));	/* 254 */
}

static void test_domain_lower(void **state)
{
	char d[] = "MiXeD.Example.ORG";
	char u[] = "B\xc3\x9c\x43HER.example";

	hm_domain_lower(d);
	assert_string_equal(d, "mixed.example.org");
	hm_domain_lower(u);
	assert_string_equal(u, "b\xc3\x9c\x63her.example");	/* 8-bit bytes untouched */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_from_table),
		cmocka_unit_test(test_from_append),
		cmocka_unit_test(test_from_overflow),
		cmocka_unit_test(test_from_hostile),
		cmocka_unit_test(test_from_prefixes),
		cmocka_unit_test(test_envelope_table),
		cmocka_unit_test(test_envelope_null_and_format),
		cmocka_unit_test(test_reason_buffers),
		cmocka_unit_test(test_domain_valid),
		cmocka_unit_test(test_domain_lower),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
