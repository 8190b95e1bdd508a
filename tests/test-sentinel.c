/*
 * test-sentinel.c - policy/sentinel.c against real Redis Sentinels, started
 * by tests/sentinel.test: a primary, a replica and three sentinels on
 * loopback.  Environment: SENTINELS ("127.0.0.1:P1 127.0.0.1:P2 ..."),
 * MASTER (the monitored name), PRIMARY_PORT, REPLICA_PORT, DEAD_PORT (a
 * port nobody listens on).  The failover case runs last: it makes the
 * replica the primary.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "policy/sentinel.h"

static char *addrs[8];
static size_t naddrs;
static const char *master;
static int primary_port, replica_port, dead_port;

static void load_env(void)
{
	static char buf[1024];
	char *p, *save = NULL;

	snprintf(buf, sizeof(buf), "%s", getenv("SENTINELS") ? getenv("SENTINELS") : "");
	for (p = strtok_r(buf, " ", &save); p && naddrs < 8; p = strtok_r(NULL, " ", &save))
		addrs[naddrs++] = p;
	master = getenv("MASTER");
	primary_port = atoi(getenv("PRIMARY_PORT") ? getenv("PRIMARY_PORT") : "0");
	replica_port = atoi(getenv("REPLICA_PORT") ? getenv("REPLICA_PORT") : "0");
	dead_port = atoi(getenv("DEAD_PORT") ? getenv("DEAD_PORT") : "0");
}

static struct hm_sentinel *new_sentinel(const char *const *a, size_t n, const char *name)
{
	struct hm_sentinel_conf c = { .addrs = a, .naddrs = n, .master = name, .timeout_ms = 500 };
	struct hm_sentinel *s = NULL;
	char err[300];

	if (hm_sentinel_new(&c, &s, err, sizeof(err)) < 0)
		fail_msg("hm_sentinel_new: %s", err);
	return s;
}

static void test_parse_addr(void **state)
{
	static const struct { const char *in; const char *host; int port; } rows[] = {
		{ "127.0.0.1:26379", "127.0.0.1", 26379 },
		{ "sentinel1.example.org:1", "sentinel1.example.org", 1 },
		{ "[::1]:26380", "::1", 26380 },
		{ "127.0.0.1", NULL, 0 },		/* no port */
		{ "127.0.0.1:", NULL, 0 },
		{ ":26379", NULL, 0 },			/* no host */
		{ "127.0.0.1:0", NULL, 0 },
		{ "127.0.0.1:65536", NULL, 0 },
		{ "127.0.0.1:26379x", NULL, 0 },
		{ "::1:26379", NULL, 0 },		/* IPv6 without brackets */
		{ "[::1]26379", NULL, 0 },
		{ "[::1", NULL, 0 },
	};
	(void)state;
	for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++) {
		char host[64], err[300];
		int port = -1;
		int rc = hm_sentinel_parse_addr(rows[i].in, host, sizeof(host), &port, err, sizeof(err));

		if (rows[i].host == NULL) {
			if (rc != -1)
				fail_msg("\"%s\": accepted as %s:%d", rows[i].in, host, port);
			if (strstr(err, rows[i].in) == NULL)
				fail_msg("\"%s\": the error does not quote it: %s", rows[i].in, err);
		} else if (rc != 0 || strcmp(host, rows[i].host) != 0 || port != rows[i].port) {
			fail_msg("\"%s\": got rc %d %s:%d, want %s:%d", rows[i].in, rc, host, port,
				 rows[i].host, rows[i].port);
		}
	}
}

static void test_new_refuses(void **state)
{
	const char *bad[] = { "127.0.0.1:26379", "nonsense" };
	struct hm_sentinel_conf c = { .addrs = bad, .naddrs = 1, .master = NULL };
	struct hm_sentinel *s = NULL;
	char err[300];

	(void)state;
	assert_int_equal(hm_sentinel_new(&c, &s, err, sizeof(err)), -1);	/* no name */
	c.master = "mymaster";
	c.naddrs = 0;
	assert_int_equal(hm_sentinel_new(&c, &s, err, sizeof(err)), -1);	/* no address */
	c.naddrs = 2;
	assert_int_equal(hm_sentinel_new(&c, &s, err, sizeof(err)), -1);	/* "nonsense" */
	assert_non_null(strstr(err, "nonsense"));
	assert_null(s);
}

static void test_primary(void **state)
{
	struct hm_sentinel *s = new_sentinel((const char *const *)addrs, naddrs, master);
	char host[64], err[300];
	int port = 0;

	(void)state;
	if (hm_sentinel_primary(s, host, sizeof(host), &port, err, sizeof(err)) < 0)
		fail_msg("no primary: %s", err);
	assert_string_equal(host, "127.0.0.1");
	assert_int_equal(port, primary_port);
	hm_sentinel_free(&s);
	assert_null(s);
}

/* A dead sentinel first in the list: the next one answers. */
static void test_dead_sentinel_skipped(void **state)
{
	char dead[64], host[64], err[300];
	const char *a[] = { dead, addrs[0] };
	int port = 0;

	(void)state;
	snprintf(dead, sizeof(dead), "127.0.0.1:%d", dead_port);
	struct hm_sentinel *s = new_sentinel(a, 2, master);

	if (hm_sentinel_primary(s, host, sizeof(host), &port, err, sizeof(err)) < 0)
		fail_msg("no primary past a dead sentinel: %s", err);
	assert_int_equal(port, primary_port);
	/* All dead: an error that says so, at once. */
	const char *all_dead[] = { dead };
	struct hm_sentinel *d = new_sentinel(all_dead, 1, master);

	assert_int_equal(hm_sentinel_primary(d, host, sizeof(host), &port, err, sizeof(err)), -1);
	assert_non_null(strstr(err, dead));
	hm_sentinel_free(&d);
	hm_sentinel_free(&s);
}

static void test_unknown_master(void **state)
{
	struct hm_sentinel *s = new_sentinel((const char *const *)addrs, naddrs, "no-such-master");
	char host[64], err[300];
	int port = 0;

	(void)state;
	assert_int_equal(hm_sentinel_primary(s, host, sizeof(host), &port, err, sizeof(err)), -1);
	if (strstr(err, "no-such-master") == NULL)
		fail_msg("the error does not name the master: %s", err);
	hm_sentinel_free(&s);
}

static pthread_mutex_t sw_lock = PTHREAD_MUTEX_INITIALIZER;
static char sw_host[64];
static int sw_port, sw_calls;

static void switched(void *arg, const char *host, int port)
{
	(void)arg;
	pthread_mutex_lock(&sw_lock);
	snprintf(sw_host, sizeof(sw_host), "%s", host);
	sw_port = port;
	sw_calls++;
	pthread_mutex_unlock(&sw_lock);
}

/* Forced failover: the watcher hears it, and the primary is the replica. */
static void test_failover_followed(void **state)
{
	struct hm_sentinel *s = new_sentinel((const char *const *)addrs, naddrs, master);
	char cmd[300], host[64], err[300];
	int port = 0, calls = 0;

	(void)state;
	assert_int_equal(hm_sentinel_watch(s, switched, NULL), 0);
	usleep(300 * 1000);		/* let it subscribe */
	snprintf(cmd, sizeof(cmd), "redis-cli -h 127.0.0.1 -p %s SENTINEL FAILOVER %s >/dev/null",
		 strchr(addrs[0], ':') + 1, master);
	if (system(cmd) != 0)
		fail_msg("%s failed", cmd);
	for (int i = 0; i < 300 && calls == 0; i++) {
		usleep(50 * 1000);
		pthread_mutex_lock(&sw_lock);
		calls = sw_calls;
		pthread_mutex_unlock(&sw_lock);
	}
	if (calls == 0)
		fail_msg("no +switch-master within 15 s");
	pthread_mutex_lock(&sw_lock);
	assert_string_equal(sw_host, "127.0.0.1");
	assert_int_equal(sw_port, replica_port);
	pthread_mutex_unlock(&sw_lock);
	/* Once the new primary says so, hm_sentinel_primary() agrees. */
	for (int i = 0; i < 100; i++) {
		if (hm_sentinel_primary(s, host, sizeof(host), &port, err, sizeof(err)) == 0 &&
		    port == replica_port)
			break;
		usleep(100 * 1000);
	}
	assert_int_equal(port, replica_port);
	hm_sentinel_free(&s);		/* stops the watcher */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_addr),
		cmocka_unit_test(test_new_refuses),
		cmocka_unit_test(test_primary),
		cmocka_unit_test(test_dead_sentinel_skipped),
		cmocka_unit_test(test_unknown_master),
		cmocka_unit_test(test_failover_followed),
	};

	load_env();
	if (naddrs == 0 || master == NULL || !primary_port || !replica_port || !dead_port) {
		fprintf(stderr, "test-sentinel: run by tests/sentinel.test (SENTINELS, MASTER, "
			"PRIMARY_PORT, REPLICA_PORT, DEAD_PORT)\n");
		return 1;
	}
	return cmocka_run_group_tests(tests, NULL, NULL);
}
