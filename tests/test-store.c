/*
 * test-store.c - the Redis policy store (policy/store.c) against a real
 * redis-server: values, pipelining, invalidation latency, cache bound, TTL,
 * outages (killed, restarted, stopped), AUTH, unix socket, SELECT, threads.
 *
 * Run by tests/store.test, which starts redis-server instances and passes:
 *   HM_TEST_REDIS_PORT, HM_TEST_REDIS_SOCK   the main instance
 *   HM_TEST_REDIS_AUTH_PORT, HM_TEST_REDIS_PASSWORD   one with requirepass
 *   HM_TEST_DIR     a scratch directory
 *   REDIS_SERVER    for the outage tests, which start (and kill) their own
 *   HM_TEST_TIME_FACTOR   multiplies the time limits (valgrind, sanitizers)
 * Measurements (invalidation latency, per-get cost) go out as TAP comments.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/store.h"

static int redis_port, auth_port;
static const char *redis_sock, *redis_password, *test_dir;
static double time_factor = 1.0;
static redisContext *admin;	/* the test's own connection: edits, INFO */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int64_t now_us(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_ms(long ms)
{
	struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

static long limit(long ms)
{
	return (long)(ms * time_factor);
}

/* ---- the test's own Redis connection ---- */

static redisContext *connect_port(int port, const char *password)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	if (password) {
		const char *a[] = { "AUTH", password };
		redisReply *r = redisCommandArgv(c, 2, a, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR) {
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

/* A command from NULL-terminated arguments; fails the test on an error. */
static redisReply *vcmd(redisContext *c, va_list ap)
{
	const char *argv[16];
	int argc = 0;
	const char *a;
	redisReply *r;

	while ((a = va_arg(ap, const char *)) && argc < 16)
		argv[argc++] = a;
	r = redisCommandArgv(c, argc, argv, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR)
		fail_msg("redis %s: %s", argv[0], r ? r->str : c->errstr);
	return r;
}

static void run(const char *first, ...)
{
	va_list ap;
	redisReply *r;

	va_start(ap, first);
	{
		/* vcmd takes the whole list: rebuild it with the first argument. */
		const char *argv[16] = { first };
		int argc = 1;
		const char *a;
		while ((a = va_arg(ap, const char *)) && argc < 16)
			argv[argc++] = a;
		r = redisCommandArgv(admin, argc, argv, NULL);
		if (!r || r->type == REDIS_REPLY_ERROR)
			fail_msg("redis %s: %s", first, r ? r->str : admin->errstr);
	}
	va_end(ap);
	freeReplyObject(r);
}

static void run_on(redisContext *c, ...)
{
	va_list ap;

	va_start(ap, c);
	freeReplyObject(vcmd(c, ap));
	va_end(ap);
}

/* Sum of calls=N of the given commands in INFO commandstats. */
static long command_calls(void)
{
	const char *a[] = { "INFO", "commandstats" };
	redisReply *r = redisCommandArgv(admin, 2, a, NULL);
	static const char *names[] = { "cmdstat_hgetall:calls=", "cmdstat_smembers:calls=",
		"cmdstat_get:calls=" };
	long sum = 0;

	assert_non_null(r);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	for (size_t i = 0; i < 3; i++) {
		const char *p = strstr(r->str, names[i]);
		if (p)
			sum += strtol(p + strlen(names[i]), NULL, 10);
	}
	freeReplyObject(r);
	return sum;
}

/* ---- stores ---- */

static struct hm_store_conf base_conf(void)
{
	struct hm_store_conf c = {
		.host = "127.0.0.1", .port = redis_port,
		.connect_timeout_ms = limit(500), .command_timeout_ms = limit(500),
		.pool_size = 4, .cache_max = 1000, .cache_ttl_ms = 60000,
	};
	return c;
}

static struct hm_store *new_store(const struct hm_store_conf *c)
{
	struct hm_store *s = NULL;
	char err[256];

	if (hm_store_new(c, &s, err, sizeof(err)) < 0)
		fail_msg("hm_store_new: %s", err);
	return s;
}

static enum hm_store_status get1(struct hm_store *s, const char *key, enum hm_rv_type t,
	struct hm_rvalue **v, enum hm_rv_source *src)
{
	struct hm_store_key k = { key, t };
	enum hm_rv_source dummy;

	return hm_store_get(s, &k, 1, v, src ? src : &dummy);
}

/* The hash field of key, fetched through the store ("" when absent or failed). */
static void hfield(struct hm_store *s, const char *key, const char *field, char *out, size_t len)
{
	struct hm_rvalue *v = NULL;
	const char *f;

	out[0] = '\0';
	if (get1(s, key, HM_RV_HASH, &v, NULL) == HM_STORE_OK && (f = hm_rvalue_hget(v, field)))
		snprintf(out, len, "%s", f);
	hm_rvalue_release(&v);
}

static bool set_has(const struct hm_rvalue *v, const char *m)
{
	for (size_t i = 0; v && v->type == HM_RV_SET && i < v->n; i++)
		if (strcmp(v->items[i], m) == 0)
			return true;
	return false;
}

/* ---- values ---- */

static void test_get_types(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s = new_store(&c);
	struct hm_store_key keys[] = {
		{ "thr:alice@t1.example", HM_RV_HASH }, { "wl:alice@t1.example", HM_RV_SET },
		{ "alias:bob@t1.example", HM_RV_STRING }, { "bl:nobody@t1.example", HM_RV_SET },
	};
	struct hm_rvalue *v[4];
	enum hm_rv_source src[4];

	run("DEL", "hm:thr:alice@t1.example", "hm:wl:alice@t1.example",
		"hm:alias:bob@t1.example", "hm:bl:nobody@t1.example", NULL);
	run("HSET", "hm:thr:alice@t1.example", "tag", "6", "reject", "12", NULL);
	run("SADD", "hm:wl:alice@t1.example", "*@friend.example", "carol@x.example", NULL);
	run("SET", "hm:alias:bob@t1.example", "alice@t1.example", NULL);

	assert_true(hm_store_up(s));
	assert_int_equal(hm_store_get(s, keys, 4, v, src), HM_STORE_OK);
	assert_int_equal(v[0]->type, HM_RV_HASH);
	assert_int_equal(v[0]->n, 4);
	assert_string_equal(hm_rvalue_hget(v[0], "tag"), "6");
	assert_string_equal(hm_rvalue_hget(v[0], "reject"), "12");
	assert_null(hm_rvalue_hget(v[0], "nope"));
	assert_int_equal(v[1]->type, HM_RV_SET);
	assert_int_equal(v[1]->n, 2);
	assert_true(set_has(v[1], "*@friend.example") && set_has(v[1], "carol@x.example"));
	assert_int_equal(v[2]->type, HM_RV_STRING);
	assert_int_equal(v[2]->n, 1);
	assert_string_equal(v[2]->items[0], "alice@t1.example");
	assert_int_equal(v[3]->type, HM_RV_NONE);
	assert_int_equal(v[3]->n, 0);
	for (int i = 0; i < 4; i++) {
		assert_int_equal(src[i], HM_SRC_REDIS);
		hm_rvalue_release(&v[i]);
		assert_null(v[i]);
	}
	/* Again: all from the cache, negative entry included. */
	assert_int_equal(hm_store_get(s, keys, 4, v, src), HM_STORE_OK);
	for (int i = 0; i < 4; i++)
		assert_int_equal(src[i], HM_SRC_CACHE);
	assert_int_equal(v[3]->type, HM_RV_NONE);
	/* A caller's reference outlives the store. */
	hm_store_free(&s);
	assert_null(s);
	hm_store_free(&s);
	assert_string_equal(hm_rvalue_hget(v[0], "tag"), "6");
	for (int i = 0; i < 4; i++)
		hm_rvalue_release(&v[i]);
}

static void test_wrong_type_and_bad_key(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s = new_store(&c);
	struct hm_rvalue *v = NULL;
	struct hm_store_key bad[] = { { NULL, HM_RV_HASH }, { "x", HM_RV_NONE } };
	struct hm_rvalue *vb[2];
	enum hm_rv_source sb[2];

	run("SET", "hm:thr:str@t1.example", "not a hash", NULL);
	assert_int_equal(get1(s, "thr:str@t1.example", HM_RV_HASH, &v, NULL), HM_STORE_OK);
	assert_int_equal(v->type, HM_RV_NONE);		/* bad data: taken as absent */
	hm_rvalue_release(&v);
	assert_int_equal(hm_store_get(s, bad, 2, vb, sb), HM_STORE_FAILED);
	assert_null(vb[0]);
	assert_null(vb[1]);
	assert_int_equal(sb[0], HM_SRC_NONE);
	hm_store_free(&s);
}

static void test_prefix(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	struct hm_rvalue *v = NULL;
	int64_t t0;

	c.prefix = "pfx2:";
	s = new_store(&c);
	run("SET", "pfx2:alias:a@t2.example", "right", NULL);
	run("SET", "hm:alias:a@t2.example", "wrong", NULL);
	assert_int_equal(get1(s, "alias:a@t2.example", HM_RV_STRING, &v, NULL), HM_STORE_OK);
	assert_string_equal(v->items[0], "right");
	hm_rvalue_release(&v);
	/* Tracking follows the prefix too. */
	run("SET", "pfx2:alias:a@t2.example", "edited", NULL);
	t0 = now_ms();
	for (;;) {
		assert_int_equal(get1(s, "alias:a@t2.example", HM_RV_STRING, &v, NULL), HM_STORE_OK);
		bool done = strcmp(v->items[0], "edited") == 0;
		hm_rvalue_release(&v);
		if (done)
			break;
		assert_true(now_ms() - t0 < limit(1000));
		sleep_ms(10);
	}
	hm_store_free(&s);
}

/* ---- costs ---- */

static void test_pipelining(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s = new_store(&c);
	struct hm_store_key keys[9];
	char names[9][64];
	struct hm_rvalue *v[9];
	enum hm_rv_source src[9];
	struct hm_store_stats a, b;
	long calls0, calls1, calls2;
	int64_t t0;

	assert_int_equal(hm_store_check(s, names[0], sizeof(names[0])), 0);	/* warm */
	for (int i = 0; i < 8; i++) {
		snprintf(names[i], sizeof(names[i]), "thr:p%d@t3.example", i);
		keys[i].key = names[i];
		keys[i].type = i % 3 == 0 ? HM_RV_HASH : i % 3 == 1 ? HM_RV_SET : HM_RV_STRING;
	}
	keys[8] = keys[0];		/* the same key twice: fetched once */
	hm_store_stats(s, &a);
	calls0 = command_calls();
	int64_t miss_us = now_us();
	assert_int_equal(hm_store_get(s, keys, 9, v, src), HM_STORE_OK);
	miss_us = now_us() - miss_us;
	calls1 = command_calls();
	hm_store_stats(s, &b);
	assert_int_equal(calls1 - calls0, 8);
	assert_int_equal(b.round_trips - a.round_trips, 1);
	assert_int_equal(b.commands - a.commands, 8);
	assert_ptr_equal(v[0], v[8]);
	for (int i = 0; i < 9; i++) {
		assert_int_equal(src[i], HM_SRC_REDIS);
		hm_rvalue_release(&v[i]);
	}
	/* Cached: no command at all. */
	t0 = now_us();
	for (int n = 0; n < 1000; n++) {
		assert_int_equal(hm_store_get(s, keys, 9, v, src), HM_STORE_OK);
		for (int i = 0; i < 9; i++) {
			assert_int_equal(src[i], HM_SRC_CACHE);
			hm_rvalue_release(&v[i]);
		}
	}
	double us = (double)(now_us() - t0) / 1000.0;
	calls2 = command_calls();
	hm_store_stats(s, &a);
	assert_int_equal(calls2 - calls1, 0);
	assert_int_equal(a.round_trips - b.round_trips, 0);
	print_message("# 9 keys: misses cost 1 round trip and 8 commands (%lld us); cached: "
		"0 commands, %.1f us per 9-key get\n", (long long)miss_us, us);
	hm_store_free(&s);
}

/* ---- freshness ---- */

struct edit_case {
	const char *name;
	const char *key;		/* without prefix */
	enum hm_rv_type type;
	const char *setup[8];		/* a command, NULL-terminated */
	const char *edit[8];
	bool (*edited)(const struct hm_rvalue *);
};

static bool hset_done(const struct hm_rvalue *v)
{
	const char *t = hm_rvalue_hget(v, "tag");
	return t && strcmp(t, "3") == 0;
}

static bool sadd_done(const struct hm_rvalue *v) { return set_has(v, "new@x.example"); }
static bool srem_done(const struct hm_rvalue *v) { return !set_has(v, "old@x.example"); }
static bool del_done(const struct hm_rvalue *v) { return v->type == HM_RV_NONE; }
static bool set_done(const struct hm_rvalue *v)
{
	return v->type == HM_RV_STRING && strcmp(v->items[0], "new@t4.example") == 0;
}

static void cmd_argv(const char *const *a)
{
	int argc = 0;
	redisReply *r;

	while (a[argc])
		argc++;
	r = redisCommandArgv(admin, argc, (const char **)a, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR)
		fail_msg("redis %s: %s", a[0], r ? r->str : admin->errstr);
	freeReplyObject(r);
}

static void test_invalidation_latency(void **state)
{
	static const struct edit_case cases[] = {
		{ "HSET", "thr:e@t4.example", HM_RV_HASH,
			{ "HSET", "hm:thr:e@t4.example", "tag", "6", "reject", "12" },
			{ "HSET", "hm:thr:e@t4.example", "tag", "3" }, hset_done },
		{ "SADD", "wl:e@t4.example", HM_RV_SET,
			{ "SADD", "hm:wl:e@t4.example", "old@x.example" },
			{ "SADD", "hm:wl:e@t4.example", "new@x.example" }, sadd_done },
		{ "SREM", "bl:e@t4.example", HM_RV_SET,
			{ "SADD", "hm:bl:e@t4.example", "old@x.example", "other@x.example" },
			{ "SREM", "hm:bl:e@t4.example", "old@x.example" }, srem_done },
		{ "DEL", "thr:d@t4.example", HM_RV_HASH,
			{ "HSET", "hm:thr:d@t4.example", "tag", "1", "reject", "2" },
			{ "DEL", "hm:thr:d@t4.example" }, del_done },
		{ "SET on a missing key", "alias:n@t4.example", HM_RV_STRING,
			{ "DEL", "hm:alias:n@t4.example" },
			{ "SET", "hm:alias:n@t4.example", "new@t4.example" }, set_done },
		{ "FLUSHDB (nil invalidation)", "alias:f@t4.example", HM_RV_STRING,
			{ "SET", "hm:alias:f@t4.example", "x" },
			{ "FLUSHDB" }, del_done },
	};
	struct hm_store_conf c = base_conf();
	struct hm_store *s = new_store(&c);
	int64_t worst = 0;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		const struct edit_case *k = &cases[i];
		struct hm_rvalue *v = NULL;
		enum hm_rv_source src;
		int64_t t0, dt;
		long polls = 0;

		cmd_argv(k->setup);
		/* Wait for the setup's own invalidation to pass, then cache. */
		sleep_ms(50);
		assert_int_equal(get1(s, k->key, k->type, &v, &src), HM_STORE_OK);
		assert_false(k->edited(v));
		hm_rvalue_release(&v);
		assert_int_equal(get1(s, k->key, k->type, &v, &src), HM_STORE_OK);
		assert_int_equal(src, HM_SRC_CACHE);
		hm_rvalue_release(&v);

		cmd_argv(k->edit);
		t0 = now_us();	/* the edit is done: Redis has answered it */
		for (;;) {
			assert_int_equal(get1(s, k->key, k->type, &v, &src), HM_STORE_OK);
			bool done = k->edited(v);
			hm_rvalue_release(&v);
			dt = (now_us() - t0) / 1000;
			if (done)
				break;
			if (dt >= limit(1000))
				fail_msg("%s: edit not visible after %lld ms", k->name, (long long)dt);
			polls++;
			sleep_ms(10);
		}
		print_message("# %s: visible after %.3f ms (%ld polls of 10 ms)\n", k->name,
			(double)(now_us() - t0) / 1000.0, polls);
		if (dt > worst)
			worst = dt;
	}
	print_message("# invalidation latency, worst case: %lld ms\n", (long long)worst);

	/* The latency itself, polled every 100 us over 50 edits. */
	int64_t lat[50], sum = 0;
	for (int i = 0; i < 50; i++) {
		char num[16], val[16];
		int64_t t0;

		snprintf(num, sizeof(num), "%d", 100 + i);
		hfield(s, "thr:lat@t4.example", "tag", val, sizeof(val));	/* cached */
		run("HSET", "hm:thr:lat@t4.example", "tag", num, NULL);
		t0 = now_us();
		do {
			if (now_us() - t0 > limit(1000) * 1000)
				fail_msg("edit %d not visible after 1 s", i);
			struct timespec ts = { 0, 100000 };
			nanosleep(&ts, NULL);
			hfield(s, "thr:lat@t4.example", "tag", val, sizeof(val));
		} while (strcmp(val, num) != 0);
		lat[i] = now_us() - t0;
		sum += lat[i];
		for (int j = i; j > 0 && lat[j - 1] > lat[j]; j--) {
			int64_t x = lat[j];
			lat[j] = lat[j - 1];
			lat[j - 1] = x;
		}
	}
	print_message("# invalidation latency over 50 edits (100 us polls): median %lld us, "
		"mean %lld us, max %lld us\n", (long long)lat[25], (long long)(sum / 50),
		(long long)lat[49]);
	hm_store_free(&s);
}

static void test_cache_bound(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	struct hm_store_stats st;
	size_t peak = 0;

	c.cache_max = 100;
	s = new_store(&c);
	for (int i = 0; i < 1000; i += 10) {
		struct hm_store_key keys[10];
		char names[10][64];
		struct hm_rvalue *v[10];

		for (int j = 0; j < 10; j++) {
			snprintf(names[j], sizeof(names[j]), "thr:b%d@t5.example", i + j);
			keys[j] = (struct hm_store_key){ names[j], HM_RV_HASH };
		}
		assert_int_equal(hm_store_get(s, keys, 10, v, NULL), HM_STORE_OK);
		for (int j = 0; j < 10; j++)
			hm_rvalue_release(&v[j]);
		hm_store_stats(s, &st);
		if (st.entries > peak)
			peak = st.entries;
	}
	assert_true(peak <= 100);
	assert_int_equal(st.entries, 100);
	/* The most recent are the ones kept. */
	struct hm_rvalue *v = NULL;
	enum hm_rv_source src;
	assert_int_equal(get1(s, "thr:b999@t5.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_CACHE);
	hm_rvalue_release(&v);
	assert_int_equal(get1(s, "thr:b0@t5.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_REDIS);
	hm_rvalue_release(&v);
	hm_store_free(&s);
}

static void test_ttl(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	struct hm_rvalue *v = NULL;
	enum hm_rv_source src;

	c.cache_ttl_ms = 200;
	s = new_store(&c);
	assert_int_equal(get1(s, "thr:ttl@t6.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_REDIS);
	hm_rvalue_release(&v);
	assert_int_equal(get1(s, "thr:ttl@t6.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_CACHE);
	hm_rvalue_release(&v);
	sleep_ms(300);
	assert_int_equal(get1(s, "thr:ttl@t6.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_REDIS);
	hm_rvalue_release(&v);
	hm_store_free(&s);
}

/* ---- connections ---- */

static void test_unix_socket(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	char val[32];
	int64_t t0;

	if (!redis_sock)
		skip();
	c.host = NULL;
	c.port = 0;
	c.unix_path = redis_sock;
	s = new_store(&c);
	run("HSET", "hm:thr:u@t7.example", "tag", "4", "reject", "9", NULL);
	hfield(s, "thr:u@t7.example", "tag", val, sizeof(val));
	assert_string_equal(val, "4");
	run("HSET", "hm:thr:u@t7.example", "tag", "5", NULL);
	t0 = now_ms();
	do {
		assert_true(now_ms() - t0 < limit(1000));
		sleep_ms(5);
		hfield(s, "thr:u@t7.example", "tag", val, sizeof(val));
	} while (strcmp(val, "5") != 0);
	hm_store_free(&s);
}

static void test_select_db(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s3, *s0;
	char val[32];
	int64_t t0;

	run("SELECT", "3", NULL);
	run("HSET", "hm:thr:db@t8.example", "tag", "3", "reject", "33", NULL);
	run("SELECT", "0", NULL);
	run("DEL", "hm:thr:db@t8.example", NULL);
	c.db = 3;
	s3 = new_store(&c);
	c.db = 0;
	s0 = new_store(&c);
	hfield(s3, "thr:db@t8.example", "reject", val, sizeof(val));
	assert_string_equal(val, "33");
	hfield(s0, "thr:db@t8.example", "reject", val, sizeof(val));
	assert_string_equal(val, "");
	/* Invalidation works in another database too. */
	run("SELECT", "3", NULL);
	run("HSET", "hm:thr:db@t8.example", "reject", "34", NULL);
	run("SELECT", "0", NULL);
	t0 = now_ms();
	do {
		assert_true(now_ms() - t0 < limit(1000));
		sleep_ms(5);
		hfield(s3, "thr:db@t8.example", "reject", val, sizeof(val));
	} while (strcmp(val, "34") != 0);
	hm_store_free(&s3);
	hm_store_free(&s0);
}

static void test_auth(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	redisContext *ac;
	char val[32], err[256];
	int64_t t0;

	if (!auth_port || !redis_password)
		skip();
	ac = connect_port(auth_port, redis_password);
	assert_non_null(ac);
	run_on(ac, "HSET", "hm:thr:a@t9.example", "tag", "2", "reject", "4", NULL);
	c.port = auth_port;
	c.password = redis_password;
	s = new_store(&c);
	assert_true(hm_store_up(s));
	assert_int_equal(hm_store_check(s, err, sizeof(err)), 0);
	hfield(s, "thr:a@t9.example", "reject", val, sizeof(val));
	assert_string_equal(val, "4");
	run_on(ac, "HSET", "hm:thr:a@t9.example", "reject", "5", NULL);
	t0 = now_ms();
	do {	/* the subscriber authenticated too */
		assert_true(now_ms() - t0 < limit(1000));
		sleep_ms(5);
		hfield(s, "thr:a@t9.example", "reject", val, sizeof(val));
	} while (strcmp(val, "5") != 0);
	hm_store_free(&s);
	redisFree(ac);
}

/* Wrong password, no password: a clear error, no crash, no hang. */
static void test_auth_refused(void **state)
{
	static const char *passwords[] = { "wrong password", NULL };
	static const char *expect[] = { "WRONGPASS", "NOAUTH" };

	if (!auth_port)
		skip();
	for (int i = 0; i < 2; i++) {
		struct hm_store_conf c = base_conf();
		struct hm_store *s;
		struct hm_rvalue *v = (struct hm_rvalue *)&c;	/* must be cleared */
		enum hm_rv_source src;
		char err[256];
		int64_t t0;

		c.port = auth_port;
		c.password = passwords[i];
		s = new_store(&c);
		assert_false(hm_store_up(s));
		t0 = now_ms();
		assert_int_equal(get1(s, "thr:a@t9.example", HM_RV_HASH, &v, &src), HM_STORE_FAILED);
		assert_true(now_ms() - t0 < limit(1000));
		assert_null(v);
		assert_int_equal(src, HM_SRC_NONE);
		assert_int_equal(hm_store_check(s, err, sizeof(err)), -1);
		if (!strstr(err, expect[i]))
			fail_msg("error \"%s\" does not say %s", err, expect[i]);
		print_message("# %s: %s\n", passwords[i] ? "wrong password" : "no password", err);
		hm_store_free(&s);
	}
}

static void test_bad_conf_and_no_server(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s = NULL;
	struct hm_rvalue *v = NULL;
	char err[256];
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int64_t t0;

	c.port = -1;
	assert_int_equal(hm_store_new(&c, &s, err, sizeof(err)), -1);
	assert_null(s);
	assert_non_null(strstr(err, "port"));

	/* A port nobody listens on: the store starts, down. */
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&sa, &sl), 0);
	close(fd);
	c.port = ntohs(sa.sin_port);
	s = new_store(&c);
	assert_false(hm_store_up(s));
	t0 = now_ms();
	assert_int_equal(get1(s, "thr:x@t10.example", HM_RV_HASH, &v, NULL), HM_STORE_FAILED);
	assert_true(now_ms() - t0 < limit(1000));
	assert_int_equal(hm_store_check(s, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "refused"));
	hm_store_free(&s);
}

/* ---- outages, on an instance of our own ---- */

static pid_t own_pid;
static int own_port;
static char own_dir[512];

static int free_port(void)
{
	int fd = socket(AF_INET, SOCK_STREAM, 0);
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
	socklen_t sl = sizeof(sa);
	int port = -1;

	if (fd < 0)
		return -1;
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &sl) == 0)
		port = ntohs(sa.sin_port);
	close(fd);
	return port;
}

/* Start (or restart on the same port) our own redis-server; it dies with us. */
static void own_start(void)
{
	const char *server = getenv("REDIS_SERVER");
	char port[16], log[600];
	redisContext *c = NULL;
	int64_t t0;

	if (!server || !*server)
		server = "redis-server";
	if (!own_port) {
		own_port = free_port();
		snprintf(own_dir, sizeof(own_dir), "%s/own-redis", test_dir);
		mkdir(own_dir, 0700);
	}
	snprintf(port, sizeof(port), "%d", own_port);
	snprintf(log, sizeof(log), "%s/redis.log", own_dir);
	own_pid = fork();
	assert_true(own_pid >= 0);
	if (own_pid == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp(server, server, "--port", port, "--bind", "127.0.0.1", "--save", "",
			"--appendonly", "no", "--dir", own_dir, "--dbfilename", "dump.rdb",
			"--daemonize", "no", "--logfile", log, (char *)NULL);
		_exit(127);
	}
	for (t0 = now_ms(); now_ms() - t0 < 5000; sleep_ms(20)) {
		redisReply *r;
		const char *a[] = { "PING" };

		if (!(c = connect_port(own_port, NULL)))
			continue;
		r = redisCommandArgv(c, 1, a, NULL);
		bool up = r && r->type == REDIS_REPLY_STATUS;
		freeReplyObject(r);
		if (up)
			return (void)redisFree(c);
		redisFree(c);
	}
	fail_msg("own redis-server on port %d did not start", own_port);
}

static void own_stop(int sig)
{
	int st;

	if (own_pid > 0) {
		kill(own_pid, sig);
		waitpid(own_pid, &st, 0);
		own_pid = 0;
	}
}

/* Count lines containing what in a file. */
static int count_lines(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[4096];
	int n = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

/* stderr into a file for a while, to count log lines. */
static int saved_stderr = -1;

static void capture_stderr(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	assert_true(fd >= 0);
	fflush(stderr);
	saved_stderr = dup(2);
	dup2(fd, 2);
	close(fd);
}

static void restore_stderr(void)
{
	fflush(stderr);
	dup2(saved_stderr, 2);
	close(saved_stderr);
	saved_stderr = -1;
}

static void test_outage_killed_restarted(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	redisContext *oc;
	struct hm_rvalue *v = NULL;
	enum hm_rv_source src;
	char logpath[600], val[32];
	int64_t t0, worst = 0, recovered;

	if (!test_dir)
		skip();
	own_start();
	oc = connect_port(own_port, NULL);
	assert_non_null(oc);
	/* e: 5 in the snapshot a restart loads, 6 when the store caches it. */
	run_on(oc, "HSET", "hm:thr:e@t11.example", "tag", "5", "reject", "10", NULL);
	run_on(oc, "HSET", "hm:thr:k@t11.example", "tag", "1", "reject", "2", NULL);
	run_on(oc, "SAVE", NULL);
	run_on(oc, "HSET", "hm:thr:e@t11.example", "tag", "6", NULL);
	redisFree(oc);

	c.port = own_port;
	c.connect_timeout_ms = limit(200);
	c.command_timeout_ms = limit(200);
	c.cache_ttl_ms = 300;	/* the outage outlasts it: stale is still served */
	s = new_store(&c);
	hfield(s, "thr:e@t11.example", "tag", val, sizeof(val));
	assert_string_equal(val, "6");
	hfield(s, "thr:k@t11.example", "tag", val, sizeof(val));
	assert_string_equal(val, "1");

	snprintf(logpath, sizeof(logpath), "%s/outage.log", test_dir);
	capture_stderr(logpath);
	own_stop(SIGKILL);
	for (int i = 0; i < 200; i++) {
		int64_t dt;

		t0 = now_ms();
		assert_int_equal(get1(s, "thr:k@t11.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
		assert_int_equal(src, HM_SRC_CACHE);
		assert_string_equal(hm_rvalue_hget(v, "tag"), "1");
		hm_rvalue_release(&v);
		assert_int_equal(get1(s, "thr:never@t11.example", HM_RV_HASH, &v, &src),
			HM_STORE_FAILED);
		assert_null(v);
		dt = now_ms() - t0;
		if (dt > worst)
			worst = dt;
		sleep_ms(5);
	}
	assert_false(hm_store_up(s));
	assert_true(worst < limit(1000));

	/* Back on the same port, with the snapshot: e is 5 again, with no
	 * invalidation for it - the store must read it again by itself. */
	own_start();
	t0 = now_ms();
	for (;;) {
		hfield(s, "thr:e@t11.example", "tag", val, sizeof(val));
		if (strcmp(val, "5") == 0 && hm_store_up(s))
			break;
		if (now_ms() - t0 > limit(3000))
			fail_msg("not recovered after 3 s: tag=\"%s\" up=%d", val, hm_store_up(s));
		sleep_ms(10);
	}
	recovered = now_ms() - t0;
	restore_stderr();
	print_message("# outage: cached keys served, uncached failed in at most %lld ms; "
		"recovered %lld ms after the restart\n", (long long)worst, (long long)recovered);
	assert_true(recovered < limit(2000));
	int down = count_lines(logpath, "unavailable"), up = count_lines(logpath, "available again");
	if (down != 1 || up != 1)
		fail_msg("log lines: %d \"unavailable\", %d \"available again\", want 1 and 1 (%s)",
			down, up, logpath);

	/* Tracking is back: a new edit shows within a second. */
	oc = connect_port(own_port, NULL);
	assert_non_null(oc);
	run_on(oc, "HSET", "hm:thr:e@t11.example", "tag", "7", NULL);
	t0 = now_ms();
	do {
		assert_true(now_ms() - t0 < limit(1000));
		sleep_ms(5);
		hfield(s, "thr:e@t11.example", "tag", val, sizeof(val));
	} while (strcmp(val, "7") != 0);
	redisFree(oc);
	hm_store_free(&s);
	own_stop(SIGTERM);
}

/* Redis stopped (SIGSTOP): slow, not gone.  Bounded by the command timeout. */
static void test_outage_stalled(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s;
	struct hm_rvalue *v = NULL;
	enum hm_rv_source src;
	char val[32];
	int64_t t0, first, later = 0;

	if (!test_dir)
		skip();
	own_start();
	c.port = own_port;
	c.connect_timeout_ms = limit(200);
	c.command_timeout_ms = limit(200);
	s = new_store(&c);
	hfield(s, "thr:k@t11.example", "tag", val, sizeof(val));
	kill(own_pid, SIGSTOP);
	/* Cached: no wait at all. */
	t0 = now_ms();
	assert_int_equal(get1(s, "thr:k@t11.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_CACHE);
	hm_rvalue_release(&v);
	assert_true(now_ms() - t0 < 50);
	/* The first miss waits for the timeout, the next ones fail at once. */
	t0 = now_ms();
	assert_int_equal(get1(s, "thr:s1@t11.example", HM_RV_HASH, &v, NULL), HM_STORE_FAILED);
	first = now_ms() - t0;
	for (int i = 0; i < 20; i++) {
		t0 = now_ms();
		assert_int_equal(get1(s, "thr:s2@t11.example", HM_RV_HASH, &v, NULL), HM_STORE_FAILED);
		if (now_ms() - t0 > later)
			later = now_ms() - t0;
	}
	print_message("# stalled Redis: first miss failed after %lld ms (timeout %ld), "
		"then at most %lld ms\n", (long long)first, c.command_timeout_ms, (long long)later);
	assert_true(first >= c.command_timeout_ms - 20 && first < c.command_timeout_ms + limit(300));
	assert_true(later < limit(250));
	kill(own_pid, SIGCONT);
	t0 = now_ms();
	while (get1(s, "thr:s1@t11.example", HM_RV_HASH, &v, NULL) != HM_STORE_OK) {
		if (now_ms() - t0 > limit(2500))
			fail_msg("no recovery 2.5 s after SIGCONT");
		sleep_ms(20);
	}
	hm_rvalue_release(&v);
	hm_store_free(&s);
	own_stop(SIGTERM);
}

/* ---- threads ---- */

#define NTHREADS 16
#define NGETS 2000
#define NKEYS 20

static struct hm_store *conc_store;
static atomic_bool writer_stop;
static atomic_int conc_errors, conc_failed, edits;
static char conc_err[256];

static void conc_fail(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void conc_fail(const char *fmt, ...)
{
	va_list ap;

	if (atomic_fetch_add(&conc_errors, 1) == 0) {
		va_start(ap, fmt);
		vsnprintf(conc_err, sizeof(conc_err), fmt, ap);
		va_end(ap);
	}
}

static void *reader(void *arg)
{
	unsigned seed = (unsigned)(uintptr_t)arg;

	for (int n = 0; n < NGETS; n++) {
		struct hm_store_key keys[3];

		if (n % 5 == 0) {	/* let edits happen in between */
			struct timespec ts = { 0, 200000 };
			nanosleep(&ts, NULL);
		}
		char names[3][64];
		struct hm_rvalue *v[3];

		for (int j = 0; j < 3; j++) {
			snprintf(names[j], sizeof(names[j]), "thr:c%d@t12.example", rand_r(&seed) % NKEYS);
			keys[j] = (struct hm_store_key){ names[j], HM_RV_HASH };
		}
		if (hm_store_get(conc_store, keys, 3, v, NULL) != HM_STORE_OK) {
			atomic_fetch_add(&conc_failed, 1);
			for (int j = 0; j < 3; j++)
				hm_rvalue_release(&v[j]);
			continue;
		}
		for (int j = 0; j < 3; j++) {
			/* Written atomically by one HSET: both fields always agree. */
			const char *a = hm_rvalue_hget(v[j], "tag"), *b = hm_rvalue_hget(v[j], "reject");
			if (v[j]->type == HM_RV_HASH && (!a || !b || strcmp(a, b) != 0))
				conc_fail("%s: tag=%s reject=%s", names[j], a ? a : "-", b ? b : "-");
			else if (v[j]->type != HM_RV_HASH && v[j]->type != HM_RV_NONE)
				conc_fail("%s: type %d", names[j], v[j]->type);
			hm_rvalue_release(&v[j]);
		}
	}
	return NULL;
}

static void *writer(void *arg)
{
	redisContext *c = connect_port(redis_port, NULL);
	unsigned seed = 42;
	long n = 0;

	if (!c) {
		conc_fail("writer cannot connect");
		return NULL;
	}
	while (!atomic_load(&writer_stop)) {
		char key[64], num[32];
		const char *a[6] = { "HSET", key, "tag", num, "reject", num };
		redisReply *r;
		int k = rand_r(&seed) % NKEYS;

		snprintf(key, sizeof(key), "hm:thr:c%d@t12.example", k);
		snprintf(num, sizeof(num), "%ld", ++n);
		if (rand_r(&seed) % 10 == 0) {
			a[0] = "DEL";
			r = redisCommandArgv(c, 2, a, NULL);
		} else {
			r = redisCommandArgv(c, 6, a, NULL);
		}
		freeReplyObject(r);
		atomic_fetch_add(&edits, 1);
	}
	/* Final values, known to the checker. */
	for (int k = 0; k < NKEYS; k++) {
		char key[64];
		const char *a[6] = { "HSET", key, "tag", "final", "reject", "final" };

		snprintf(key, sizeof(key), "hm:thr:c%d@t12.example", k);
		freeReplyObject(redisCommandArgv(c, 6, a, NULL));
	}
	redisFree(c);
	return NULL;
}

static void test_concurrency(void **state)
{
	struct hm_store_conf c = base_conf();
	pthread_t r[NTHREADS], w;
	struct hm_store_stats st;
	int64_t t0;

	c.cache_max = 50;	/* evictions while values are in use, too */
	c.command_timeout_ms = limit(2000);
	conc_store = new_store(&c);
	atomic_store(&writer_stop, false);
	assert_int_equal(pthread_create(&w, NULL, writer, NULL), 0);
	t0 = now_ms();
	for (int i = 0; i < NTHREADS; i++)
		assert_int_equal(pthread_create(&r[i], NULL, reader, (void *)(uintptr_t)(i + 1)), 0);
	for (int i = 0; i < NTHREADS; i++)
		pthread_join(r[i], NULL);
	int64_t dt = now_ms() - t0;
	atomic_store(&writer_stop, true);
	pthread_join(w, NULL);
	if (atomic_load(&conc_errors))
		fail_msg("%d inconsistent values, first: %s", atomic_load(&conc_errors), conc_err);
	assert_int_equal(atomic_load(&conc_failed), 0);
	hm_store_stats(conc_store, &st);
	assert_true(atomic_load(&edits) > 100);
	print_message("# %d threads x %d gets of 3 keys in %lld ms with %d edits: %llu hits, "
		"%llu misses, %llu round trips, %llu invalidations\n", NTHREADS, NGETS,
		(long long)dt, atomic_load(&edits), (unsigned long long)st.hits,
		(unsigned long long)st.misses,
		(unsigned long long)st.round_trips, (unsigned long long)st.invalidations);
	/* Every key converges on its final value within a second. */
	t0 = now_ms();
	for (int k = 0; k < NKEYS; k++) {
		char key[64], val[32];

		snprintf(key, sizeof(key), "thr:c%d@t12.example", k);
		for (;;) {
			hfield(conc_store, key, "tag", val, sizeof(val));
			if (strcmp(val, "final") == 0)
				break;
			if (now_ms() - t0 > limit(1000))
				fail_msg("%s still \"%s\" 1 s after the last edit", key, val);
			sleep_ms(5);
		}
	}
	hm_store_free(&conc_store);
}

static atomic_int makes, frees;
static struct hm_rvalue *derive_v;
static pthread_barrier_t derive_bar;
static void *derived_by[NTHREADS];

static void *make_derived(const struct hm_rvalue *v, void *arg)
{
	int *p = malloc(sizeof(*p));

	atomic_fetch_add(&makes, 1);
	if (p)
		*p = (int)v->n;
	return p;
}

static void free_derived(void *p)
{
	atomic_fetch_add(&frees, 1);
	free(p);
}

static void *deriver(void *arg)
{
	size_t i = (size_t)(uintptr_t)arg;
	struct hm_rvalue *mine = hm_rvalue_ref(derive_v);

	pthread_barrier_wait(&derive_bar);
	derived_by[i] = hm_rvalue_derive(mine, make_derived, NULL, free_derived);
	hm_rvalue_release(&mine);
	return NULL;
}

static void test_derive_once(void **state)
{
	struct hm_store_conf c = base_conf();
	struct hm_store *s = new_store(&c);
	pthread_t t[NTHREADS];

	run("SADD", "hm:wl:d@t13.example", "a@x.example", "b@x.example", NULL);
	for (int round = 0; round < 20; round++) {
		atomic_store(&makes, 0);
		atomic_store(&frees, 0);
		run("SADD", "hm:wl:d@t13.example", "c@x.example", NULL);	/* a new value each round */
		sleep_ms(20);
		assert_int_equal(get1(s, "wl:d@t13.example", HM_RV_SET, &derive_v, NULL), HM_STORE_OK);
		/* A value already derived by an earlier round is not new: make it new. */
		if (atomic_load(&derive_v->derived)) {
			hm_rvalue_release(&derive_v);
			run("SREM", "hm:wl:d@t13.example", "c@x.example", NULL);
			sleep_ms(20);
			assert_int_equal(get1(s, "wl:d@t13.example", HM_RV_SET, &derive_v, NULL),
				HM_STORE_OK);
		}
		assert_null(atomic_load(&derive_v->derived));
		pthread_barrier_init(&derive_bar, NULL, NTHREADS);
		for (int i = 0; i < NTHREADS; i++)
			assert_int_equal(pthread_create(&t[i], NULL, deriver, (void *)(uintptr_t)i), 0);
		for (int i = 0; i < NTHREADS; i++)
			pthread_join(t[i], NULL);
		pthread_barrier_destroy(&derive_bar);
		for (int i = 1; i < NTHREADS; i++)
			assert_ptr_equal(derived_by[i], derived_by[0]);
		assert_ptr_equal(atomic_load(&derive_v->derived), derived_by[0]);
		/* Losers freed theirs; the winner's goes with the value. */
		assert_int_equal(atomic_load(&frees), atomic_load(&makes) - 1);
		hm_rvalue_release(&derive_v);
		/* Still held by the cache? Drop it from there with an edit. */
		run("SADD", "hm:wl:d@t13.example", "z@x.example", NULL);
		run("SREM", "hm:wl:d@t13.example", "z@x.example", NULL);
		for (int64_t t0 = now_ms(); atomic_load(&frees) != atomic_load(&makes); sleep_ms(5))
			if (now_ms() - t0 > limit(1000))
				fail_msg("round %d: %d made, %d freed", round, atomic_load(&makes),
					atomic_load(&frees));
	}
	hm_store_free(&s);
}

/* A reload with the same settings shares the store: its cache outlives the first holder. */
static void test_shared_across_reload(void **state)
{
	struct hm_store_conf c = base_conf(), d;
	struct hm_store *s = new_store(&c), *s2;
	struct hm_rvalue *v = NULL;
	enum hm_rv_source src;

	/* Defaults are compared as hm_store_new() fills them in. */
	d = c;
	d.prefix = "";
	d.password = "";
	assert_true(hm_store_same_conf(s, &d));
	d.prefix = "hm:";
	d.unix_path = NULL;
	assert_true(hm_store_same_conf(s, &d));
	d.command_timeout_ms++;
	assert_false(hm_store_same_conf(s, &d));
	d = c;
	d.password = "secret";
	assert_false(hm_store_same_conf(s, &d));
	d = c;
	d.cache_max *= 2;
	assert_false(hm_store_same_conf(s, &d));
	d = c;
	d.prefix = "other:";
	assert_false(hm_store_same_conf(s, &d));

	run("HSET", "hm:thr:r@t14.example", "tag", "3", "reject", "9", NULL);
	assert_int_equal(get1(s, "thr:r@t14.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_REDIS);
	hm_rvalue_release(&v);
	s2 = hm_store_ref(s);
	assert_ptr_equal(s2, s);
	hm_store_free(&s);			/* the old configuration goes */
	assert_null(s);
	assert_int_equal(get1(s2, "thr:r@t14.example", HM_RV_HASH, &v, &src), HM_STORE_OK);
	assert_int_equal(src, HM_SRC_CACHE);	/* the cache carried over */
	assert_string_equal(hm_rvalue_hget(v, "reject"), "9");
	hm_rvalue_release(&v);
	hm_store_free(&s2);
}

int main(void)
{
	const char *p = getenv("HM_TEST_REDIS_PORT"), *f = getenv("HM_TEST_TIME_FACTOR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_get_types),
		cmocka_unit_test(test_wrong_type_and_bad_key),
		cmocka_unit_test(test_prefix),
		cmocka_unit_test(test_pipelining),
		cmocka_unit_test(test_invalidation_latency),
		cmocka_unit_test(test_cache_bound),
		cmocka_unit_test(test_ttl),
		cmocka_unit_test(test_unix_socket),
		cmocka_unit_test(test_select_db),
		cmocka_unit_test(test_auth),
		cmocka_unit_test(test_auth_refused),
		cmocka_unit_test(test_bad_conf_and_no_server),
		cmocka_unit_test(test_outage_killed_restarted),
		cmocka_unit_test(test_outage_stalled),
		cmocka_unit_test(test_concurrency),
		cmocka_unit_test(test_derive_once),
		cmocka_unit_test(test_shared_across_reload),
	};

	if (!p) {
		fprintf(stderr, "HM_TEST_REDIS_PORT is not set: run me through tests/store.test\n");
		return 1;
	}
	redis_port = atoi(p);
	redis_sock = getenv("HM_TEST_REDIS_SOCK");
	if ((p = getenv("HM_TEST_REDIS_AUTH_PORT")))
		auth_port = atoi(p);
	redis_password = getenv("HM_TEST_REDIS_PASSWORD");
	test_dir = getenv("HM_TEST_DIR");
	if (f && atof(f) >= 1.0)
		time_factor = atof(f);
	hm_log_open("test-store", true, 0);
	hm_log_set_level(HM_LOG_NOTICE);
	if (!(admin = connect_port(redis_port, NULL))) {
		fprintf(stderr, "cannot connect to redis on port %d\n", redis_port);
		return 1;
	}
	int rc = cmocka_run_group_tests(tests, NULL, NULL);
	redisFree(admin);
	return rc;
}
