/*
 * test-listen.c - unit tests of milter/listen.c: socket strings.
 *
 * One TAP case per table row, named after the socket string, so a failure
 * says which string and what differed.  The accepted forms are the ones
 * libmilter 8.17 opens (checked with smfi_setconn + smfi_opensocket):
 * unix:/path, local:/path, inet:PORT, inet:PORT@HOST, inet6:PORT,
 * inet6:PORT@HOST and inet6:PORT@[ADDR].  Refused here although libmilter
 * takes them: port 0 (a random port), relative unix paths, Postfix's
 * inet:HOST:PORT (libmilter reads it as a port name and fails later).
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

/* A failure with its case and what differed, as a TAP comment. */
#define FAIL(...) do { \
	print_message("# "); print_message(__VA_ARGS__); print_message("\n"); fail(); \
} while (0)

#include "milter/listen.h"

#define LONG_PATH_107 \
	"/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" \
	"bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
#define LONG_PATH_108 LONG_PATH_107 "c"

struct accept_case {
	const char *spec;
	enum hm_socket_kind kind;
	unsigned port;
	const char *host;		/* as stored: brackets removed */
	const char *path;
	const char *postfix;		/* hm_socket_postfix_spelling() */
};

static const struct accept_case accepts[] = {
	{ "unix:/run/hm.sock", HM_SOCK_UNIX, 0, "", "/run/hm.sock", "unix:/run/hm.sock" },
	{ "local:/run/hm.sock", HM_SOCK_UNIX, 0, "", "/run/hm.sock", "unix:/run/hm.sock" },
	{ "unix:" LONG_PATH_107, HM_SOCK_UNIX, 0, "", LONG_PATH_107, "unix:" LONG_PATH_107 },
	{ "inet:11332", HM_SOCK_INET, 11332, "", "", "inet:127.0.0.1:11332" },
	{ "inet:1@127.0.0.1", HM_SOCK_INET, 1, "127.0.0.1", "", "inet:127.0.0.1:1" },
	{ "inet:65535@localhost", HM_SOCK_INET, 65535, "localhost", "", "inet:localhost:65535" },
	{ "inet:11332@mx-1.example.net", HM_SOCK_INET, 11332, "mx-1.example.net", "",
	  "inet:mx-1.example.net:11332" },
	{ "inet:11332@[127.0.0.1]", HM_SOCK_INET, 11332, "127.0.0.1", "", "inet:127.0.0.1:11332" },
	{ "inet6:11332", HM_SOCK_INET6, 11332, "", "", "inet:[::1]:11332" },
	{ "inet6:11332@::1", HM_SOCK_INET6, 11332, "::1", "", "inet:[::1]:11332" },
	{ "inet6:11332@[::1]", HM_SOCK_INET6, 11332, "::1", "", "inet:[::1]:11332" },
	{ "inet6:25@2001:db8::25", HM_SOCK_INET6, 25, "2001:db8::25", "", "inet:[2001:db8::25]:25" },
	{ "inet:00025@127.0.0.1", HM_SOCK_INET, 25, "127.0.0.1", "", "inet:127.0.0.1:25" },
};

struct reject_case {
	const char *spec;
	const char *why;		/* expected in the error message */
};

static const struct reject_case rejects[] = {
	{ "", "expected unix:/path" },
	{ "/run/hm.sock", "expected unix:/path" },
	{ "tcp:11332", "expected unix:/path" },
	{ "unix:", "must be absolute" },
	{ "unix:run/hm.sock", "must be absolute" },
	{ "local:hm.sock", "must be absolute" },
	{ "unix:" LONG_PATH_108, "path longer than 107 bytes" },
	{ "unix:" LONG_PATH_108 LONG_PATH_108, "socket string longer than" },
	{ "inet:", "port must be a number from 1 to 65535" },
	{ "inet:0", "port must be a number from 1 to 65535" },
	{ "inet:0@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet:65536@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet:999999", "port must be a number from 1 to 65535" },
	{ "inet:smtp@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet:-25@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet:@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet: 25@127.0.0.1", "port must be a number from 1 to 65535" },
	{ "inet:127.0.0.1:11332",
	  "Postfix's inet:HOST:PORT spelling; the milter writes inet:PORT@HOST: inet:11332@127.0.0.1" },
	{ "inet:localhost:11332", "inet:11332@localhost" },
	{ "inet:[::1]:11332", "inet6:11332@[::1]" },
	{ "inet:localhost:smtp", "this looks like Postfix's inet:HOST:PORT spelling" },
	{ "inet:11332@", "empty host after '@'" },
	{ "inet6:11332@", "empty host after '@'" },
	{ "inet:11332@[]", "unbalanced brackets" },
	{ "inet6:11332@[::1", "unbalanced brackets" },
	{ "inet:11332@::1", "an IPv6 address needs inet6:PORT@HOST" },
	{ "inet:11332@host name", "bad character in the host" },
	{ "inet:11332@a@b", "bad character in the host" },
	{ "inet:11332@h\xc3\xa9", "bad character in the host" },
};

static void test_accept(void **state)
{
	const struct accept_case *c = *state;
	struct hm_socket_spec spec;
	char err[512] = "", postfix[300];

	if (hm_socket_parse(c->spec, &spec, err, sizeof(err)) < 0)
		FAIL("\"%s\" rejected: %s", c->spec, err);
	assert_string_equal(spec.text, c->spec);
	assert_int_equal(spec.kind, c->kind);
	assert_int_equal(spec.port, c->port);
	assert_string_equal(spec.host, c->host);
	assert_string_equal(spec.path, c->path);
	hm_socket_postfix_spelling(&spec, postfix, sizeof(postfix));
	assert_string_equal(postfix, c->postfix);
}

static void test_reject(void **state)
{
	const struct reject_case *c = *state;
	struct hm_socket_spec spec;
	char err[512] = "";

	if (hm_socket_parse(c->spec, &spec, err, sizeof(err)) == 0)
		FAIL("\"%s\" accepted (kind %d port %u host \"%s\" path \"%s\")",
			 c->spec, spec.kind, spec.port, spec.host, spec.path);
	if (strstr(err, c->why) == NULL)
		FAIL("\"%s\": error \"%s\" does not say \"%s\"", c->spec, err, c->why);
}

/* A small error buffer gets a cut, terminated message, never an overflow. */
static void test_small_error_buffer(void **state)
{
	struct hm_socket_spec spec;
	char err[16];

	(void)state;
	memset(err, 'x', sizeof(err));
	assert_int_equal(hm_socket_parse("inet:127.0.0.1:25", &spec, err, 8), -1);
	assert_int_equal(strlen(err), 7);
	assert_int_equal(err[8], 'x');
}

#define MAX_TESTS 128
static struct CMUnitTest tests[MAX_TESTS];
static size_t ntests;

static void add(const char *prefix, const char *spec, CMUnitTestFunction fn, const void *arg)
{
	char name[400];

	if (spec)
		snprintf(name, sizeof(name), "%s \"%.300s\"", prefix, spec);
	else
		snprintf(name, sizeof(name), "%s", prefix);
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many test cases\n");
		exit(99);
	}
	tests[ntests++] = (struct CMUnitTest){ strdup(name), fn, NULL, NULL, (void *)arg };
}

int main(void)
{
	int rc;

	for (size_t i = 0; i < sizeof(accepts) / sizeof(accepts[0]); i++)
		add("accepts", accepts[i].spec, test_accept, &accepts[i]);
	for (size_t i = 0; i < sizeof(rejects) / sizeof(rejects[0]); i++)
		add("rejects", rejects[i].spec, test_reject, &rejects[i]);
	add("error message cut to a small buffer", NULL, test_small_error_buffer, NULL);
	rc = _cmocka_run_group_tests("listen", tests, ntests, NULL, NULL);
	for (size_t i = 0; i < ntests; i++)
		free((char *)tests[i].name);
	return rc;
}
