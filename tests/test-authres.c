/*
 * test-authres.c - unit tests of the Authentication-Results formatter and
 * reader (scoring/authres.c): RFC 8601 syntax, quoting, folding.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "scoring/authres.h"

static char *format(const struct hm_authres_input *in, char *out, size_t len)
{
	struct hm_strbuf sb;

	hm_strbuf_init(&sb, 8192);
	assert_int_equal(hm_authres_format(&sb, in), 0);
	snprintf(out, len, "%s", hm_strbuf_str(&sb));
	hm_strbuf_free(&sb);
	return out;
}

static void test_none(void **state)
{
	struct hm_authres_input in = { .authserv_id = "mx.example.org" };
	char buf[512];

	assert_string_equal(format(&in, buf, sizeof(buf)), "mx.example.org; none");
}

static void test_full(void **state)
{
	struct hm_spf_outcome spf = { .result = HM_SPF_PASS, .identity = "alice@example.net",
				      .domain = "example.net" };
	struct hm_dkim_outcome dkim = { .nsigs = 2 };
	struct hm_dmarc_outcome dmarc = { .result = HM_DMARC_PASS,
					  .policy = HM_DMARC_POLICY_REJECT,
					  .disposition = HM_DMARC_POLICY_NONE,
					  .from_domain = "example.net" };
	struct hm_authres_input in = { "mx.example.org", &spf, &dkim, &dmarc };
	char buf[1024];

	dkim.sigs[0] = (struct hm_dkim_sig){ .result = HM_DKIM_PASS, .domain = "example.net",
					     .selector = "sel1", .b = "AbCd1234",
					     .identity = "@EXAMPLE.net",	/* the default: not shown */
					     .algorithm = "rsa-sha256" };
	dkim.sigs[1] = (struct hm_dkim_sig){ .result = HM_DKIM_FAIL, .domain = "example.com",
					     .selector = "s2", .b = "x/y+z=",
					     .algorithm = "ed25519-sha256",
					     .reason = "body hash mismatch",
					     .identity = "news@example.com" };
	assert_string_equal(format(&in, buf, sizeof(buf)),
		"mx.example.org;\n"
		"\tspf=pass smtp.mailfrom=alice@example.net;\n"
		"\tdkim=pass header.d=example.net header.s=sel1 header.a=rsa-sha256 header.b=AbCd1234;\n"
		"\tdkim=fail reason=\"body hash mismatch\" header.d=example.com header.i=news@example.com header.s=s2"
		" header.a=ed25519-sha256 header.b=\"x/y+z=\";\n"
		"\tdmarc=pass (p=reject dis=none) header.from=example.net");
}

static void test_helo_identity_and_dkim_none(void **state)
{
	struct hm_spf_outcome spf = { .result = HM_SPF_SOFTFAIL, .helo_identity = true,
				      .identity = "mail.example.net" };
	struct hm_dkim_outcome dkim = { .nsigs = 0 };
	struct hm_authres_input in = { "mx.example.org", &spf, &dkim, NULL };
	char buf[512];

	assert_string_equal(format(&in, buf, sizeof(buf)),
		"mx.example.org;\n\tspf=softfail smtp.helo=mail.example.net;\n\tdkim=none");
}

/* Values from the wire that are not tokens or plain addresses get quoted. */
static void test_quoting(void **state)
{
	static const struct {
		const char *identity, *expect;
	} cases[] = {
		{ "a.b@example.net", "smtp.mailfrom=a.b@example.net" },
		{ "\"odd local\"@example.net", "smtp.mailfrom=\"\\\"odd local\\\"@example.net\"" },
		{ "semi;colon@example.net", "smtp.mailfrom=\"semi;colon@example.net\"" },
		{ "ctl\x01" "x@example.net", "smtp.mailfrom=\"ctl?x@example.net\"" },
		{ "8bit\xc3\xa9@example.net", "smtp.mailfrom=\"8bit??@example.net\"" },
		{ "back\\slash@example.net", "smtp.mailfrom=\"back\\\\slash@example.net\"" },
		{ "a..b@example.net", "smtp.mailfrom=\"a..b@example.net\"" },
		{ "@example.net", "smtp.mailfrom=@example.net" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct hm_spf_outcome spf = { .result = HM_SPF_FAIL };
		struct hm_authres_input in = { "mx", &spf, NULL, NULL };
		char buf[512], want[512];

		snprintf(spf.identity, sizeof(spf.identity), "%s", cases[i].identity);
		snprintf(want, sizeof(want), "mx;\n\tspf=fail %s", cases[i].expect);
		format(&in, buf, sizeof(buf));
		if (strcmp(buf, want) != 0)
			fail_msg("case %zu (%s): got [%s], want [%s]", i, cases[i].identity, buf, want);
	}
}

static void test_comment_escaping(void **state)
{
	struct hm_dmarc_outcome dmarc = { .result = HM_DMARC_FAIL,
					  .policy = HM_DMARC_POLICY_QUARANTINE,
					  .disposition = HM_DMARC_POLICY_QUARANTINE,
					  .from_domain = "example.net",
					  .reason = "say \"hi\"" };
	struct hm_authres_input in = { "mx", NULL, NULL, &dmarc };
	char buf[512];

	assert_string_equal(format(&in, buf, sizeof(buf)),
		"mx;\n\tdmarc=fail (p=quarantine dis=quarantine) reason=\"say \\\"hi\\\"\""
		" header.from=example.net");
}

static void test_too_long_fails(void **state)
{
	struct hm_dkim_outcome dkim = { .nsigs = HM_DKIM_MAX_SIGS };
	struct hm_authres_input in = { "mx", NULL, &dkim, NULL };
	struct hm_strbuf sb;

	for (size_t i = 0; i < dkim.nsigs; i++)
		memset(dkim.sigs[i].domain, 'a', sizeof(dkim.sigs[i].domain) - 1);
	hm_strbuf_init(&sb, 1000);
	assert_int_equal(hm_authres_format(&sb, &in), -1);
	hm_strbuf_free(&sb);
}

static void test_authserv_id(void **state)
{
	static const struct {
		const char *value, *id;
	} cases[] = {
		{ "mx.example.org; spf=pass smtp.mailfrom=a@b", "mx.example.org" },
		{ "  mx.example.org 1; none", "mx.example.org" },
		{ "(comment) mx.example.org;spf=fail", "mx.example.org" },
		{ "\"quoted id\"; none", "quoted id" },
		{ "\r\n\tmx.example.org;\r\n\tdkim=pass", "mx.example.org" },
		{ "mx.example.org", "mx.example.org" },
	};
	char id[256];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		if (hm_authres_authserv_id(cases[i].value, id, sizeof(id)) != 0)
			fail_msg("case %zu: no id found in [%s]", i, cases[i].value);
		assert_string_equal(id, cases[i].id);
	}
	assert_int_equal(hm_authres_authserv_id("", id, sizeof(id)), -1);
	assert_int_equal(hm_authres_authserv_id("; spf=pass", id, sizeof(id)), -1);
	assert_int_equal(hm_authres_authserv_id("\"unterminated", id, sizeof(id)), -1);
	assert_int_equal(hm_authres_authserv_id("(unterminated comment", id, sizeof(id)), -1);
	assert_int_equal(hm_authres_authserv_id("waytoolongid; none", id, 4), -1);

	assert_true(hm_authres_is_ours("MX.Example.ORG; spf=pass", "mx.example.org"));
	assert_false(hm_authres_is_ours("mx.example.org.evil; spf=pass", "mx.example.org"));
	assert_false(hm_authres_is_ours("other.example; spf=pass", "mx.example.org"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_none),
		cmocka_unit_test(test_full),
		cmocka_unit_test(test_helo_identity_and_dkim_none),
		cmocka_unit_test(test_quoting),
		cmocka_unit_test(test_comment_escaping),
		cmocka_unit_test(test_too_long_fails),
		cmocka_unit_test(test_authserv_id),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
