/*
 * test-netlist.c - unit tests of util/netlist.c (CIDR lists).
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include <cmocka.h>

#include "util/netlist.h"

static void test_parse_errors(void **state)
{
	static const char *const bad[] = {
		"", "/24", "192.0.2.0/33", "192.0.2.0/", "192.0.2.0/-1", "192.0.2.0/2x",
		"2001:db8::/129", "example.org", "192.0.2.256", "192.0.2.0/24/8",
	};
	struct hm_net net;
	char err[128];

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		if (hm_net_parse(bad[i], &net, err, sizeof(err)) != -1)
			fail_msg("\"%s\" was accepted", bad[i]);
}

static void test_match(void **state)
{
	static const char *const nets[] = {
		"192.0.2.0/24", "198.51.100.7", "2001:db8:1::/48", "10.0.0.0/8", "203.0.113.128/25",
	};
	static const struct {
		const char *ip;
		bool in;
	} cases[] = {
		{ "192.0.2.1", true }, { "192.0.2.255", true }, { "192.0.3.1", false },
		{ "198.51.100.7", true }, { "198.51.100.8", false },
		{ "2001:db8:1::1", true }, { "2001:db8:1:ffff::1", true }, { "2001:db8:2::1", false },
		{ "10.255.255.255", true }, { "11.0.0.0", false },
		{ "203.0.113.128", true }, { "203.0.113.127", false },
		{ "::ffff:192.0.2.9", true }, { "::ffff:192.0.3.9", false },
		{ "local", false }, { "", false },
	};
	struct hm_netlist list = { 0 };
	char err[128];

	for (size_t i = 0; i < sizeof(nets) / sizeof(nets[0]); i++)
		assert_int_equal(hm_netlist_add(&list, nets[i], err, sizeof(err)), 0);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		if (hm_netlist_match(&list, cases[i].ip) != cases[i].in)
			fail_msg("%s: expected %s the list", cases[i].ip, cases[i].in ? "in" : "not in");
	hm_netlist_free(&list);
	assert_false(hm_netlist_match(&list, "192.0.2.1"));
}

static void test_zero_prefix(void **state)
{
	struct hm_netlist list = { 0 };
	char err[128];

	assert_int_equal(hm_netlist_add(&list, "0.0.0.0/0", err, sizeof(err)), 0);
	assert_true(hm_netlist_match(&list, "203.0.113.5"));
	assert_false(hm_netlist_match(&list, "2001:db8::5"));
	hm_netlist_free(&list);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_errors),
		cmocka_unit_test(test_match),
		cmocka_unit_test(test_zero_prefix),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
