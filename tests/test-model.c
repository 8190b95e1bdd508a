/*
 * test-model.c - the content model in Redis (policy/model*.c) against real
 * redis-server instances: reading and publishing, learning writes, BITFIELD
 * saturation, dedup and exact relearning, the rate limit, calibration, the
 * refresher (version change seen within a second, with and without the
 * policy store's tracking), an outage keeping the model, a read-only
 * replica.
 *
 * Run by tests/model.test, which starts a primary and a replica of it:
 *   HM_TEST_REDIS_PORT      the primary
 *   HM_TEST_REPLICA_PORT    a read-only replica of it
 *   HM_TEST_AUTH_PORT, HM_TEST_PASSWORD   one that requires a password
 *   HM_TEST_SENTINEL        a sentinel of the primary (master "hmmodel")
 *   HM_TEST_DEAD_PORT       a port nothing listens on (a replica gone)
 *   HM_TEST_DIR             a scratch directory
 *   REDIS_SERVER            for the outage test, which starts its own
 *   HM_TEST_TIME_FACTOR     multiplies the time limits (valgrind, sanitizers)
 */
#include "config.h"

#include <errno.h>
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
#include "policy/model.h"
#include "policy/store.h"
#include "scoring/classifier.h"

static int primary_port, replica_port, auth_port;
static const char *auth_password, *sentinel_addr;
static int dead_port;
static const char *test_dir;
static double time_factor = 1.0;
static redisContext *admin;
static unsigned prefix_n;		/* each test its own key prefix */
static char prefix[32];

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
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

static redisContext *connect_port(int port)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", port, tv);

	if (!c || c->err) {
		if (c)
			redisFree(c);
		return NULL;
	}
	redisSetTimeout(c, tv);
	return c;
}

/* A command on the admin connection, NULL-terminated arguments. */
static redisReply *cmd(const char *first, ...)
{
	const char *argv[64] = { first };
	int argc = 1;
	const char *a;
	va_list ap;
	redisReply *r;

	va_start(ap, first);
	while ((a = va_arg(ap, const char *)) && argc < 64)
		argv[argc++] = a;
	va_end(ap);
	r = redisCommandArgv(admin, argc, argv, NULL);
	if (!r || r->type == REDIS_REPLY_ERROR)
		fail_msg("redis %s: %s", first, r ? r->str : admin->errstr);
	return r;
}

static void key(const char *name, char *out, size_t len)
{
	snprintf(out, len, "%s%s", prefix, name);
}

/* The weight at index i as Redis has it. */
static long weight(unsigned i)
{
	char k[64], pos[24];
	redisReply *r;
	long v;

	key("cls:w", k, sizeof(k));
	snprintf(pos, sizeof(pos), "#%u", i);
	r = cmd("BITFIELD", k, "GET", "i16", pos, NULL);
	assert_int_equal(r->type, REDIS_REPLY_ARRAY);
	v = (long)r->element[0]->integer;
	freeReplyObject(r);
	return v;
}

static void set_weight(unsigned i, long v)
{
	char k[64], pos[24], val[24];

	key("cls:w", k, sizeof(k));
	snprintf(pos, sizeof(pos), "#%u", i);
	snprintf(val, sizeof(val), "%ld", v);
	freeReplyObject(cmd("BITFIELD", k, "SET", "i16", pos, val, NULL));
}

static long meta_field(const char *field)
{
	char k[64];
	redisReply *r;
	long v = -1;

	key("cls:meta", k, sizeof(k));
	r = cmd("HGET", k, field, NULL);
	if (r->type == REDIS_REPLY_STRING)
		v = strtol(r->str, NULL, 10);
	freeReplyObject(r);
	return v;
}

static struct hm_store_conf conf_port(int port)
{
	struct hm_store_conf c = {
		.host = "127.0.0.1", .port = port, .prefix = prefix,
		.connect_timeout_ms = limit(500), .command_timeout_ms = limit(1000),
		.pool_size = 2, .cache_max = 1000, .cache_ttl_ms = 60000,
	};
	return c;
}

static int setup(void **state)
{
	(void)state;
	snprintf(prefix, sizeof(prefix), "t%u:", ++prefix_n);
	return 0;
}

static struct hm_model_conn *conn_to(int port)
{
	struct hm_store_conf c = conf_port(port);
	struct hm_model_conn *k = hm_model_conn_new(&c, limit(5000));

	assert_non_null(k);
	return k;
}

static struct hm_cls_model *open_learning(struct hm_model_conn *c)
{
	struct hm_cls_model *m = NULL;
	char err[300];

	if (hm_model_open_for_learning(c, true, &m, err, sizeof(err)) < 0)
		fail_msg("open for learning: %s", err);
	return m;
}

static enum hm_learn_outcome learn(struct hm_model_conn *c, struct hm_cls_model *m,
				   const uint32_t *idx, size_t n, bool spam, const char *user,
				   long per_hour)
{
	struct hm_learn_limits lim = { user, per_hour, 3600, false };
	enum hm_learn_outcome o;
	char err[300];

	if (hm_model_learn(c, m, idx, n, spam, &lim, &o, err, sizeof(err)) < 0)
		fail_msg("learn: %s", err);
	return o;
}

/* A message of n features starting at base, spread over the buckets. */
static void features(uint32_t *idx, size_t n, unsigned base)
{
	for (size_t i = 0; i < n; i++)
		idx[i] = (base * 7919u + (unsigned)i * 104729u) & (HM_CLS_BUCKETS - 1);
}

/* ---- tests ---- */

static void test_nothing_stored(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = (void *)1;
	unsigned long long v;
	char err[300];

	(void)state;
	assert_int_equal(hm_model_fetch(c, &m, err, sizeof(err)), 0);
	assert_null(m);
	assert_int_equal(hm_model_version(c, &v, NULL, err, sizeof(err)), 0);
	hm_model_conn_free(&c);
}

static void test_key_created_once(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port), *c2 = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c), *m2 = open_learning(c2);
	char k[64];
	redisReply *r;

	(void)state;
	/* Two learners agree on one key, which is in the meta hash as hex. */
	assert_memory_equal(m->key, m2->key, HM_CLS_KEY_LEN);
	key("cls:meta", k, sizeof(k));
	r = cmd("HGET", k, "key", NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_int_equal(r->len, 2 * HM_CLS_KEY_LEN);
	freeReplyObject(r);
	hm_cls_model_release(&m);
	hm_cls_model_release(&m2);
	hm_model_conn_free(&c);
	hm_model_conn_free(&c2);
}

static void test_learn_writes(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c), *back = NULL;
	uint32_t idx[50];
	char sig[33], sk[80], err[300];
	redisReply *r;
	long d;

	(void)state;
	features(idx, 50, 1);
	assert_int_equal(learn(c, m, idx, 50, true, NULL, 0), HM_LEARN_LEARNED);
	d = weight(idx[0]);
	assert_true(d > 0);
	/* Every feature got the same delta; the learner's copy agrees. */
	for (size_t i = 0; i < 50; i++) {
		assert_int_equal(weight(idx[i]), d);
		assert_int_equal(m->w[idx[i]], d);
	}
	assert_int_equal(meta_field("spam"), 1);
	assert_int_equal(meta_field("version"), 1);
	/* The signature records the class and the delta. */
	hm_model_signature(idx, 50, sig);
	snprintf(sk, sizeof(sk), "%scls:sig:%s", prefix, sig);
	r = cmd("GET", sk, NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	{
		char want[40];

		snprintf(want, sizeof(want), "spam %ld", d);
		assert_string_equal(r->str, want);
	}
	freeReplyObject(r);
	r = cmd("TTL", sk, NULL);
	assert_true(r->integer > 3000 && r->integer <= 3600);
	freeReplyObject(r);
	/* What is read back is what was learned. */
	assert_int_equal(hm_model_fetch(c, &back, err, sizeof(err)), 1);
	assert_int_equal(back->version, 1);
	assert_int_equal(back->spam, 1);
	assert_int_equal(back->ham, 0);
	assert_memory_equal(back->key, m->key, HM_CLS_KEY_LEN);
	assert_memory_equal(back->w, m->w, HM_CLS_BUCKETS * sizeof(int16_t));
	hm_cls_model_release(&back);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_signature_is_of_the_set(void **state)
{
	uint32_t a[5] = { 1, 2, 3, 4, 5 }, b[5] = { 5, 3, 1, 2, 4 }, c[5] = { 1, 2, 3, 4, 6 };
	char sa[33], sb[33], sc[33];

	(void)state;
	hm_model_signature(a, 5, sa);
	hm_model_signature(b, 5, sb);
	hm_model_signature(c, 5, sc);
	assert_string_equal(sa, sb);
	assert_string_not_equal(sa, sc);
	assert_int_equal(strlen(sa), 32);
}

static void test_dedup_and_relearn(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	uint32_t idx[40], other[30];
	long before[40], ham_only[40];
	int ham_delta;

	(void)state;
	features(idx, 40, 11);
	features(other, 30, 12);
	/* Something else learned first, sharing no feature. */
	assert_int_equal(learn(c, m, other, 30, false, NULL, 0), HM_LEARN_LEARNED);
	for (size_t i = 0; i < 40; i++)
		before[i] = weight(idx[i]);
	/* What a ham step alone does to this message from here. */
	assert_int_equal(hm_cls_step(m, idx, 40, false, &ham_delta), 1);

	assert_int_equal(learn(c, m, idx, 40, true, NULL, 0), HM_LEARN_LEARNED);
	long v = meta_field("version");
	long spam_w = weight(idx[0]);

	assert_int_equal(learn(c, m, idx, 40, true, NULL, 0), HM_LEARN_KNOWN);
	assert_int_equal(weight(idx[0]), spam_w);
	assert_int_equal(meta_field("spam"), 1);
	assert_int_equal(meta_field("version"), v);

	/* Relearned as ham: the spam step undone exactly, the ham step done. */
	assert_int_equal(learn(c, m, idx, 40, false, NULL, 0), HM_LEARN_RELEARNED);
	for (size_t i = 0; i < 40; i++) {
		ham_only[i] = before[i] + ham_delta;
		assert_int_equal(weight(idx[i]), ham_only[i]);
		assert_int_equal(m->w[idx[i]], ham_only[i]);
	}
	assert_int_equal(meta_field("spam"), 0);
	assert_int_equal(meta_field("ham"), 2);
	assert_int_equal(learn(c, m, idx, 40, false, NULL, 0), HM_LEARN_KNOWN);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_confident_counted_not_written(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = NULL;
	struct hm_learn_limits lim = { NULL, 0, 3600, true };
	enum hm_learn_outcome o;
	uint32_t idx[16], other = 12345;
	char err[300];

	(void)state;
	features(idx, 16, 21);
	/* One message, as IMAPSieve pipes it: the learner reads only the meta
	 * at first, then this message's weights, set meanwhile (by another
	 * learner, here by hand). */
	assert_int_equal(hm_model_open_for_learning(c, false, &m, err, sizeof(err)), 0);
	for (size_t i = 0; i < 16; i++)
		set_weight(idx[i], 20000);
	set_weight(other, 77);
	if (hm_model_learn(c, m, idx, 16, true, &lim, &o, err, sizeof(err)) < 0)
		fail_msg("learn: %s", err);
	assert_int_equal(o, HM_LEARN_CONFIDENT);
	assert_int_equal(weight(idx[3]), 20000);
	assert_int_equal(m->w[idx[3]], 20000);
	assert_int_equal(m->w[other], 0);	/* not this message's: not read */
	assert_int_equal(meta_field("spam"), 1);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_bitfield_saturates(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	uint32_t idx[4];

	(void)state;
	features(idx, 4, 31);
	/* Margin 0 (two strong each way), so a spam step is taken; the
	 * high ones cannot go past INT16_MAX. */
	set_weight(idx[0], 32760);
	set_weight(idx[1], 32760);
	set_weight(idx[2], -32760);
	set_weight(idx[3], -32760);
	hm_cls_model_release(&m);
	m = open_learning(c);		/* reads the weights set by hand */
	assert_int_equal(learn(c, m, idx, 4, true, NULL, 0), HM_LEARN_LEARNED);
	assert_int_equal(weight(idx[0]), 32767);
	assert_int_equal(m->w[idx[0]], 32767);
	assert_true(weight(idx[2]) > -32760);
	assert_int_equal(m->w[idx[2]], weight(idx[2]));
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_big_message_chunked(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	size_t n = 5000;
	uint32_t *idx = malloc(n * sizeof(*idx));

	(void)state;
	assert_non_null(idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)(i * 97 + 5);
	assert_int_equal(learn(c, m, idx, n, true, NULL, 0), HM_LEARN_LEARNED);
	assert_int_equal(weight(idx[0]), m->w[idx[0]]);
	assert_true(weight(idx[n - 1]) > 0);
	assert_int_equal(weight(idx[n - 1]), weight(idx[0]));
	free(idx);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_rate_limit(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	uint32_t idx[4][10];
	char rk[128];
	redisReply *r;

	(void)state;
	for (unsigned i = 0; i < 4; i++)
		features(idx[i], 10, 40 + i);
	assert_int_equal(learn(c, m, idx[0], 10, true, "alice@example.org", 2), HM_LEARN_LEARNED);
	assert_int_equal(learn(c, m, idx[1], 10, true, "alice@example.org", 2), HM_LEARN_LEARNED);
	long v = meta_field("version");
	/* The third is refused, and writes nothing. */
	assert_int_equal(learn(c, m, idx[2], 10, true, "alice@example.org", 2), HM_LEARN_REFUSED);
	assert_int_equal(weight(idx[2][0]), 0);
	assert_int_equal(m->w[idx[2][0]], 0);
	assert_int_equal(meta_field("version"), v);
	/* A message already known is still known, not refused. */
	assert_int_equal(learn(c, m, idx[0], 10, true, "alice@example.org", 2), HM_LEARN_KNOWN);
	/* Others are not limited by alice's count; the operator never is. */
	assert_int_equal(learn(c, m, idx[2], 10, true, "bob@example.org", 2), HM_LEARN_LEARNED);
	assert_int_equal(learn(c, m, idx[3], 10, true, NULL, 2), HM_LEARN_LEARNED);
	snprintf(rk, sizeof(rk), "%scls:rate:alice@example.org:%ld", prefix, (long)(time(NULL) / 3600));
	r = cmd("GET", rk, NULL);
	assert_int_equal(r->type, REDIS_REPLY_STRING);
	assert_string_equal(r->str, "2");
	freeReplyObject(r);
	r = cmd("TTL", rk, NULL);
	assert_true(r->integer > 0 && r->integer <= 7200);
	freeReplyObject(r);
	assert_false(hm_model_user_valid("a b"));
	assert_false(hm_model_user_valid("a:b"));
	assert_false(hm_model_user_valid(""));
	assert_true(hm_model_user_valid("alice@example.org"));
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_calibration_stored(void **state)
{
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c), *back = NULL;
	char err[300];

	(void)state;
	assert_int_equal(hm_model_store_calibration(c, 1.75, -0.5, err, sizeof(err)), 0);
	assert_int_equal(hm_model_fetch(c, &back, err, sizeof(err)), 1);
	assert_true(back->cal_a == 1.75 && back->cal_b == -0.5);
	assert_int_equal(back->version, 1);
	hm_cls_model_release(&back);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

/* ---- the refresher ---- */

struct source {
	struct hm_store_conf conf;
	struct hm_store *store;
	pthread_mutex_t lock;		/* conf may change, as a reload changes it */
};

static int src_acquire(void *arg, struct hm_model_source *src)
{
	struct source *s = arg;

	pthread_mutex_lock(&s->lock);
	src->conf = s->conf;
	src->store = s->store;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static void src_release(void *arg, struct hm_model_source *src)
{
	(void)arg;
	(void)src;
}

static struct hm_model_refresher *refresher(struct hm_cls_slot *slot, struct source *s)
{
	const struct hm_model_source_ops ops = { src_acquire, src_release, s };
	struct hm_model_refresher *r = NULL;
	char err[300];

	if (hm_model_refresher_start(slot, &ops, 50, &r, err, sizeof(err)) < 0)
		fail_msg("refresher: %s", err);
	return r;
}

/* Wait until the slot holds version v (0: none); how long it took, or -1. */
static long wait_version(struct hm_cls_slot *slot, unsigned long long v, long max_ms)
{
	int64_t t0 = now_ms();

	for (;;) {
		struct hm_cls_model *m = hm_cls_slot_acquire(slot);
		bool there = v == 0 ? m == NULL : m && m->version == v;

		hm_cls_model_release(&m);
		if (there)
			return (long)(now_ms() - t0);
		if (now_ms() - t0 > max_ms)
			return -1;
		sleep_ms(10);
	}
}

/* The refresher follows learning: published at start, then each version. */
static void refresh_follows(bool with_store, int read_port)
{
	struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
	struct source s = { conf_port(read_port), NULL, PTHREAD_MUTEX_INITIALIZER };
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	struct hm_model_refresher *r;
	uint32_t idx[20];
	char err[300];
	long took;

	if (with_store && hm_store_new(&s.conf, &s.store, err, sizeof(err)) < 0)
		fail_msg("store: %s", err);
	features(idx, 20, 51);
	assert_int_equal(learn(c, m, idx, 20, true, NULL, 0), HM_LEARN_LEARNED);
	r = refresher(&slot, &s);
	assert_true(wait_version(&slot, 1, limit(2000)) >= 0);
	for (unsigned k = 0; k < 3; k++) {
		features(idx, 20, 52 + k);
		assert_int_equal(learn(c, m, idx, 20, k & 1, NULL, 0), HM_LEARN_LEARNED);
		took = wait_version(&slot, 2 + k, limit(1500));
		if (took < 0)
			fail_msg("version %u not seen within %ld ms", 2 + k, limit(1500));
		print_message("# %s%s: version %u published after %ld ms\n",
			      with_store ? "tracking" : "polling",
			      read_port == replica_port ? ", replica" : "", 2 + k, took);
		if (with_store)
			assert_true(took <= limit(1000));
	}
	/* The weights published are the learner's. */
	{
		struct hm_cls_model *p = hm_cls_slot_acquire(&slot);

		assert_non_null(p);
		assert_memory_equal(p->w, m->w, HM_CLS_BUCKETS * sizeof(int16_t));
		assert_int_equal(p->spam + p->ham, 4);
		hm_cls_model_release(&p);
	}
	/* The model deleted: nothing published any more. */
	{
		char mk[64], wk[64];

		key("cls:meta", mk, sizeof(mk));
		key("cls:w", wk, sizeof(wk));
		freeReplyObject(cmd("DEL", mk, wk, NULL));
		assert_true(wait_version(&slot, 0, limit(2000)) >= 0);
	}
	hm_model_refresher_stop(&r);
	hm_store_free(&s.store);
	hm_cls_slot_publish(&slot, NULL);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

static void test_refresh_tracking(void **state)
{
	(void)state;
	refresh_follows(true, primary_port);
}

static void test_refresh_polling(void **state)
{
	(void)state;
	refresh_follows(false, primary_port);
}

static void test_refresh_replica(void **state)
{
	(void)state;
	refresh_follows(true, replica_port);
}

static void test_replica_is_read_only(void **state)
{
	struct hm_model_conn *c = conn_to(replica_port);
	struct hm_cls_model *m = NULL;
	char err[300];

	(void)state;
	/* Learning needs the primary; the replica says no. */
	assert_int_equal(hm_model_open_for_learning(c, true, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "READONLY"));
	hm_model_conn_free(&c);
}

/* AUTH and SELECT; a refused AUTH leaves no connection to use unauthenticated. */
static void test_auth_and_database(void **state)
{
	struct hm_store_conf sc = conf_port(auth_port);
	struct hm_model_conn *c;
	struct hm_cls_model *m = NULL;
	char err[300];

	(void)state;
	sc.password = "wrong";
	c = hm_model_conn_new(&sc, limit(5000));
	assert_int_equal(hm_model_fetch(c, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WRONGPASS"));
	/* Again: AUTH again, refused again (not NOAUTH on a kept connection). */
	assert_int_equal(hm_model_fetch(c, &m, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "WRONGPASS"));
	hm_model_conn_free(&c);

	sc.password = auth_password;
	sc.db = 3;
	c = hm_model_conn_new(&sc, limit(5000));
	m = open_learning(c);
	{
		uint32_t idx[5];
		redisContext *k = connect_port(auth_port);
		redisReply *r;

		features(idx, 5, 81);
		assert_int_equal(learn(c, m, idx, 5, true, NULL, 0), HM_LEARN_LEARNED);
		assert_non_null(k);
		r = redisCommand(k, "AUTH %s", auth_password);
		freeReplyObject(r);
		r = redisCommand(k, "SELECT 3");
		freeReplyObject(r);
		r = redisCommand(k, "HGET %scls:meta spam", prefix);
		assert_int_equal(r->type, REDIS_REPLY_STRING);
		assert_string_equal(r->str, "1");
		freeReplyObject(r);
		redisFree(k);
	}
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

/* A reload that points the daemon at another server: its model is read. */
static void test_refresh_follows_new_settings(void **state)
{
	struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
	struct source s = { conf_port(primary_port), NULL, PTHREAD_MUTEX_INITIALIZER };
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c), *p;
	struct hm_model_refresher *r;
	char other[64];
	uint32_t idx[10];

	(void)state;
	features(idx, 10, 71);
	assert_int_equal(learn(c, m, idx, 10, true, NULL, 0), HM_LEARN_LEARNED);
	hm_cls_model_release(&m);
	/* The same store under another prefix: another model, version 1 too. */
	snprintf(other, sizeof(other), "%sother:", prefix);
	{
		struct hm_store_conf oc = conf_port(primary_port);
		struct hm_model_conn *c2;

		oc.prefix = other;
		c2 = hm_model_conn_new(&oc, limit(5000));
		m = open_learning(c2);
		assert_int_equal(learn(c2, m, idx, 10, false, NULL, 0), HM_LEARN_LEARNED);
		hm_model_conn_free(&c2);
	}
	r = refresher(&slot, &s);
	assert_true(wait_version(&slot, 1, limit(2000)) >= 0);
	p = hm_cls_slot_acquire(&slot);
	assert_int_equal(p->spam, 1);
	hm_cls_model_release(&p);
	pthread_mutex_lock(&s.lock);
	s.conf.prefix = other;		/* what a reload does */
	pthread_mutex_unlock(&s.lock);
	for (int64_t t0 = now_ms();; sleep_ms(20)) {
		p = hm_cls_slot_acquire(&slot);
		if (p && p->ham == 1 && memcmp(p->key, m->key, HM_CLS_KEY_LEN) == 0)
			break;
		hm_cls_model_release(&p);
		if (now_ms() - t0 > limit(2000))
			fail_msg("the model under the new prefix was not read");
	}
	hm_cls_model_release(&p);
	hm_model_refresher_stop(&r);
	hm_cls_slot_publish(&slot, NULL);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

/* The local replica gone: the refresher reads the primary the sentinels name. */
static void test_refresh_replica_gone_sentinel(void **state)
{
	struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
	const char *sentinels[] = { sentinel_addr };
	struct source s = { conf_port(dead_port), NULL, PTHREAD_MUTEX_INITIALIZER };
	struct hm_model_conn *c = conn_to(primary_port);
	struct hm_cls_model *m = open_learning(c);
	struct hm_model_refresher *r;
	uint32_t idx[10];
	char err[300];

	(void)state;
	if (sentinel_addr == NULL || dead_port == 0)
		skip();
	s.conf.sentinels = sentinels;
	s.conf.nsentinels = 1;
	s.conf.sentinel_master = "hmmodel";
	if (hm_store_new(&s.conf, &s.store, err, sizeof(err)) < 0)
		fail_msg("store: %s", err);
	features(idx, 10, 91);
	assert_int_equal(learn(c, m, idx, 10, true, NULL, 0), HM_LEARN_LEARNED);
	r = refresher(&slot, &s);
	if (wait_version(&slot, 1, limit(4000)) < 0)
		fail_msg("the model was not read from the primary");
	features(idx, 10, 92);
	assert_int_equal(learn(c, m, idx, 10, false, NULL, 0), HM_LEARN_LEARNED);
	if (wait_version(&slot, 2, limit(4000)) < 0)
		fail_msg("version 2 was not read from the primary");
	hm_model_refresher_stop(&r);
	hm_store_free(&s.store);
	hm_cls_slot_publish(&slot, NULL);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
}

/* Our own redis-server, to kill. */
static pid_t own_pid;
static int own_port;

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

static void own_start(void)
{
	const char *server = getenv("REDIS_SERVER");
	char port[16], dir[512];

	if (!server || !*server)
		server = "redis-server";
	if (!own_port)
		own_port = free_port();
	snprintf(port, sizeof(port), "%d", own_port);
	snprintf(dir, sizeof(dir), "%s/own-redis", test_dir);
	mkdir(dir, 0700);
	if ((own_pid = fork()) == 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		execlp(server, server, "--port", port, "--bind", "127.0.0.1", "--save", "",
		       "--appendonly", "no", "--dir", dir, "--daemonize", "no",
		       "--logfile", "redis.log", (char *)NULL);
		_exit(127);
	}
	for (int64_t t0 = now_ms(); now_ms() - t0 < 5000; sleep_ms(20)) {
		redisContext *k = connect_port(own_port);
		redisReply *r = k ? redisCommand(k, "PING") : NULL;
		bool up = r && r->type == REDIS_REPLY_STATUS;

		if (r)
			freeReplyObject(r);
		if (k)
			redisFree(k);
		if (up)
			return;
	}
	fail_msg("own redis-server did not start");
}

static void own_stop(void)
{
	int st;

	if (own_pid > 0) {
		kill(own_pid, SIGKILL);
		waitpid(own_pid, &st, 0);
		own_pid = 0;
	}
}

/* Lines of path containing what. */
static int count_lines(const char *path, const char *what)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, what))
			n++;
	fclose(f);
	return n;
}

static void test_outage_keeps_model(void **state)
{
	char logpath[512];
	int saved;
	struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
	struct source s = { .lock = PTHREAD_MUTEX_INITIALIZER };
	struct hm_model_conn *c;
	struct hm_cls_model *m, *p;
	struct hm_model_refresher *r;
	struct hm_model_refresher_stats st;
	uint32_t idx[20];
	char err[300];

	(void)state;
	own_start();
	s.conf = conf_port(own_port);
	if (hm_store_new(&s.conf, &s.store, err, sizeof(err)) < 0)
		fail_msg("store: %s", err);
	c = conn_to(own_port);
	m = open_learning(c);
	features(idx, 20, 61);
	assert_int_equal(learn(c, m, idx, 20, true, NULL, 0), HM_LEARN_LEARNED);
	r = refresher(&slot, &s);
	assert_true(wait_version(&slot, 1, limit(2000)) >= 0);
	/* Redis gone for a while (many ticks): the model stays, said once. */
	snprintf(logpath, sizeof(logpath), "%s/outage.log", test_dir);
	fflush(stderr);
	saved = dup(2);
	assert_true(freopen(logpath, "w", stderr) != NULL);
	own_stop();
	sleep_ms(limit(1500));
	fflush(stderr);
	assert_true(dup2(saved, 2) >= 0);
	close(saved);
	assert_int_equal(count_lines(logpath, "content model: Redis unreachable; keeping the model "
				     "of version 1"), 1);
	p = hm_cls_slot_acquire(&slot);
	assert_non_null(p);
	assert_int_equal(p->version, 1);
	assert_int_equal(p->w[idx[0]], m->w[idx[0]]);
	hm_cls_model_release(&p);
	hm_model_refresher_stats(r, &st);
	assert_false(st.up);
	assert_true(st.failures >= 1);
	/* Back (empty, as a restarted server without persistence): the
	 * refresher reads it again and follows. */
	own_start();
	hm_model_conn_free(&c);
	hm_cls_model_release(&m);
	c = conn_to(own_port);
	m = open_learning(c);
	assert_int_equal(learn(c, m, idx, 20, false, NULL, 0), HM_LEARN_LEARNED);
	/* Version 1 again, but another model (another key): read. */
	for (int64_t t0 = now_ms();; sleep_ms(20)) {
		p = hm_cls_slot_acquire(&slot);
		if (p && p->ham == 1 && memcmp(p->key, m->key, HM_CLS_KEY_LEN) == 0)
			break;
		hm_cls_model_release(&p);
		if (now_ms() - t0 > limit(3000))
			fail_msg("the model of the restarted server was not read");
	}
	hm_cls_model_release(&p);
	hm_model_refresher_stats(r, &st);
	assert_true(st.up);
	hm_model_refresher_stop(&r);
	hm_store_free(&s.store);
	hm_cls_slot_publish(&slot, NULL);
	hm_cls_model_release(&m);
	hm_model_conn_free(&c);
	own_stop();
}

int main(void)
{
	const char *p = getenv("HM_TEST_REDIS_PORT"), *f = getenv("HM_TEST_TIME_FACTOR");
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup(test_nothing_stored, setup),
		cmocka_unit_test_setup(test_key_created_once, setup),
		cmocka_unit_test_setup(test_learn_writes, setup),
		cmocka_unit_test_setup(test_signature_is_of_the_set, setup),
		cmocka_unit_test_setup(test_dedup_and_relearn, setup),
		cmocka_unit_test_setup(test_confident_counted_not_written, setup),
		cmocka_unit_test_setup(test_bitfield_saturates, setup),
		cmocka_unit_test_setup(test_big_message_chunked, setup),
		cmocka_unit_test_setup(test_rate_limit, setup),
		cmocka_unit_test_setup(test_calibration_stored, setup),
		cmocka_unit_test_setup(test_refresh_tracking, setup),
		cmocka_unit_test_setup(test_refresh_polling, setup),
		cmocka_unit_test_setup(test_refresh_replica, setup),
		cmocka_unit_test_setup(test_replica_is_read_only, setup),
		cmocka_unit_test_setup(test_refresh_follows_new_settings, setup),
		cmocka_unit_test_setup(test_auth_and_database, setup),
		cmocka_unit_test_setup(test_refresh_replica_gone_sentinel, setup),
		cmocka_unit_test_setup(test_outage_keeps_model, setup),
	};
	int rc;

	if (!p || !getenv("HM_TEST_REPLICA_PORT")) {
		fprintf(stderr, "run me through tests/model.test\n");
		return 1;
	}
	primary_port = atoi(p);
	replica_port = atoi(getenv("HM_TEST_REPLICA_PORT"));
	auth_port = getenv("HM_TEST_AUTH_PORT") ? atoi(getenv("HM_TEST_AUTH_PORT")) : 0;
	auth_password = getenv("HM_TEST_PASSWORD");
	sentinel_addr = getenv("HM_TEST_SENTINEL");
	dead_port = getenv("HM_TEST_DEAD_PORT") ? atoi(getenv("HM_TEST_DEAD_PORT")) : 0;
	test_dir = getenv("HM_TEST_DIR");
	if (f && atof(f) >= 1.0)
		time_factor = atof(f);
	hm_log_open("test-model", true, 0);
	hm_log_set_level(HM_LOG_NOTICE);
	if (!(admin = connect_port(primary_port))) {
		fprintf(stderr, "cannot connect to redis on port %d\n", primary_port);
		return 1;
	}
	rc = cmocka_run_group_tests(tests, NULL, NULL);
	redisFree(admin);
	return rc;
}
