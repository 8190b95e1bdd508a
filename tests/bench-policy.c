/*
 * bench-policy.c - benchmark of the per-recipient policy decision: what the
 * milter does for every recipient of every message, hm_rcpt_policy_load()
 * at RCPT TO plus hm_rcpt_policy_decide() at end of message (and the
 * release), against a real Redis.
 *
 * Usage: bench-policy -p PORT [-h HOST] [-n WARM_DECISIONS] [-t SECONDS]
 *
 * It loads its own data sets, one per Redis database (1-6, each flushed
 * first): 1,000 / 10,000 / 100,000 mailboxes in domains with their own
 * lists and thresholds, and one domain + one mailbox whose four lists hold
 * 10 / 1,000 / 10,000 patterns each.  For each it measures, with a store
 * built like the milter builds it (milter/runtime.c, hm_runtime_build):
 *   cold   the first decision of every recipient (Redis round trips, lists
 *          compiled), in random order;
 *   warm   decisions over random recipients with everything cached - the
 *          steady state - as ns per decision, its p50/p99, the share of
 *          the load, and the lookups Redis served meanwhile (INFO
 *          commandstats: GET, HGETALL, SMEMBERS), which should be none;
 * and the warm throughput of the largest sets with 1, 2 and 4 threads.
 *
 * A benchmark, not a test: it asserts nothing about timings.  It exits 1
 * only when something does not work (Redis, the store, a failed lookup).
 * Run by tests/bench-policy.sh ("make bench").
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/policy.h"
#include "policy/store.h"

#define DB_FIRST 1
#define SENDER_POOL 4096
#define SAMPLES 20000			/* decisions timed one by one, for p50/p99 */
#define PIPELINE 1000			/* commands in flight while loading */
#define MILTER_CACHE_DEFAULT 200000	/* redis.cache_size default (milter/conf.c) */

static const char *redis_host = "127.0.0.1";
static int redis_port;
static size_t warm_iters = 200000;

static void die(const char *fmt, ...) __attribute__((format(printf, 1, 2), noreturn));

static void die(const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("bench-policy: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

static double now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

/* xorshift64*: cheap and deterministic, one state per thread. */
static uint64_t rnd(uint64_t *st)
{
	uint64_t x = *st;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	*st = x;
	return x * 2685821657736338717ull;
}

/* ---- growable string vector ---- */

struct strv {
	char **v;
	size_t n, cap;
};

static void strv_addf(struct strv *sv, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void strv_addf(struct strv *sv, const char *fmt, ...)
{
	char buf[600];
	va_list ap;
	int len;

	va_start(ap, fmt);
	len = vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (len < 0 || (size_t)len >= sizeof(buf))
		die("string too long: %s", fmt);
	if (sv->n == sv->cap) {
		size_t cap = sv->cap ? sv->cap * 2 : 64;
		char **v = realloc(sv->v, cap * sizeof(*v));

		if (v == NULL)
			die("out of memory");
		sv->v = v;
		sv->cap = cap;
	}
	if ((sv->v[sv->n] = strdup(buf)) == NULL)
		die("out of memory");
	sv->n++;
}

static void strv_clear(struct strv *sv)
{
	for (size_t i = 0; i < sv->n; i++)
		free(sv->v[i]);
	free(sv->v);
	memset(sv, 0, sizeof(*sv));
}

/* ---- loading: pipelined commands on one hiredis connection ---- */

struct loader {
	redisContext *c;
	size_t pending;
	size_t keys;			/* keys written */
};

static redisContext *redis_connect(void)
{
	struct timeval tv = { 5, 0 };
	redisContext *c = redisConnectWithTimeout(redis_host, redis_port, tv);

	if (c == NULL || c->err)
		die("connect %s:%d: %s", redis_host, redis_port, c ? c->errstr : "out of memory");
	if (redisSetTimeout(c, (struct timeval){ 60, 0 }) != REDIS_OK)
		die("redis timeout: %s", c->errstr);
	return c;
}

static void ld_flush(struct loader *l)
{
	for (; l->pending > 0; l->pending--) {
		redisReply *r = NULL;

		if (redisGetReply(l->c, (void **)&r) != REDIS_OK || r == NULL)
			die("redis: %s", l->c->errstr);
		if (r->type == REDIS_REPLY_ERROR)
			die("redis: %s", r->str);
		freeReplyObject(r);
	}
}

static void ld_cmd(struct loader *l, int argc, const char **argv)
{
	if (redisAppendCommandArgv(l->c, argc, argv, NULL) != REDIS_OK)
		die("redis: %s", l->c->errstr);
	if (++l->pending >= PIPELINE)
		ld_flush(l);
}

static void ld_select(struct loader *l, int db)
{
	char dbs[16];
	const char *sel[] = { "SELECT", dbs }, *fl[] = { "FLUSHDB" };

	snprintf(dbs, sizeof(dbs), "%d", db);
	ld_cmd(l, 2, sel);
	ld_cmd(l, 1, fl);
	l->keys = 0;
}

static void ld_set(struct loader *l, const char *key, const char *val)
{
	const char *argv[] = { "SET", key, val };

	ld_cmd(l, 3, argv);
	l->keys++;
}

static void ld_thr(struct loader *l, const char *key, double tag, double reject)
{
	char t[32], r[32];
	const char *argv[] = { "HSET", key, "tag", t, "reject", r };

	snprintf(t, sizeof(t), "%.1f", tag);
	snprintf(r, sizeof(r), "%.1f", reject);
	ld_cmd(l, 6, argv);
	l->keys++;
}

static void ld_sadd(struct loader *l, const char *key, const struct strv *members)
{
	const char **argv = malloc((members->n + 2) * sizeof(*argv));

	if (argv == NULL)
		die("out of memory");
	argv[0] = "SADD";
	argv[1] = key;
	for (size_t i = 0; i < members->n; i++)
		argv[i + 2] = members->v[i];
	ld_cmd(l, (int)members->n + 2, argv);
	free(argv);
	l->keys++;
}

/* ---- data sets ---- */

struct dataset {
	char name[64];
	int family;			/* 0: mailboxes, 1: patterns */
	int db;
	size_t size;			/* mailboxes, or patterns per list */
	size_t keys;
	struct strv rcpts;		/* recipients drawn from */
	bool first_half;		/* rcpts[0] gets half of the draws (the big mailbox) */
	size_t wild;			/* patterns: other wildcards per list */
	size_t active;			/* non-zero: draws spread over this many recipients only */
	struct strv senders;		/* envelope senders drawn from */
};

/* Senders of the mailbox sets: s<k>@sd<k%200>.net can be listed, x<k>@o<k>.org never. */
#define KNOWN_SENDERS 2000

static void known_sender(char *buf, size_t len, size_t k)
{
	snprintf(buf, len, "s%zu@sd%zu.net", k, k % 200);
}

/* A small list: exact senders, sender domains, one "news*" wildcard. */
static void small_list(struct strv *sv, uint64_t *st, size_t n)
{
	char a[128];

	for (size_t i = 0; i < n; i++) {
		size_t k = rnd(st) % KNOWN_SENDERS;

		switch (i % 5) {
		case 0: case 1:
			known_sender(a, sizeof(a), k);
			strv_addf(sv, "%s", a);
			break;
		case 2: case 3:
			strv_addf(sv, "@sd%zu.net", k % 200);
			break;
		default:
			strv_addf(sv, "news*@sd%zu.net", k % 200);
		}
	}
}

/*
 * n mailboxes u<i>@d<i%D>.example in D = n/100 domains.  Every domain has
 * a white and a black list of 5 patterns, half of them thresholds; a third
 * of the mailboxes have thresholds, one in ten a white list, one in ten a
 * black list; one in twenty has a direct alias a<i>@, one in fifty a
 * two-target alias team<i>@ (recipients too).
 */
static void build_mailboxes(struct loader *l, struct dataset *ds, int db, size_t n)
{
	size_t ndom = n / 100 ? n / 100 : 1;
	uint64_t st = 0x9e3779b97f4a7c15ull ^ n;
	char key[600], mb[280], mb2[280], val[600];
	struct strv list = { 0 };

	memset(ds, 0, sizeof(*ds));
	snprintf(ds->name, sizeof(ds->name), "mailboxes %zu", n);
	ds->family = 0;
	ds->db = db;
	ds->size = n;
	ld_select(l, db);
	for (size_t j = 0; j < ndom; j++) {
		if (j % 2 == 0) {
			snprintf(key, sizeof(key), "hm:thr:@d%zu.example", j);
			ld_thr(l, key, 6.0, 12.0);
		}
		small_list(&list, &st, 5);
		snprintf(key, sizeof(key), "hm:wl:@d%zu.example", j);
		ld_sadd(l, key, &list);
		strv_clear(&list);
		small_list(&list, &st, 5);
		snprintf(key, sizeof(key), "hm:bl:@d%zu.example", j);
		ld_sadd(l, key, &list);
		strv_clear(&list);
	}
	for (size_t i = 0; i < n; i++) {
		size_t d = i % ndom;

		snprintf(mb, sizeof(mb), "u%zu@d%zu.example", i, d);
		strv_addf(&ds->rcpts, "%s", mb);
		if (i % 3 == 0) {
			snprintf(key, sizeof(key), "hm:thr:%s", mb);
			ld_thr(l, key, 4.0 + (double)(i % 4), 10.0 + (double)(i % 5));
		}
		if (i % 10 == 1 || i % 10 == 2) {
			small_list(&list, &st, 3);
			snprintf(key, sizeof(key), "hm:%s:%s", i % 10 == 1 ? "wl" : "bl", mb);
			ld_sadd(l, key, &list);
			strv_clear(&list);
		}
		if (i % 20 == 3) {
			snprintf(key, sizeof(key), "hm:alias:a%zu@d%zu.example", i, d);
			ld_set(l, key, mb);
			strv_addf(&ds->rcpts, "a%zu@d%zu.example", i, d);
		}
		if (i % 50 == 7) {
			snprintf(mb2, sizeof(mb2), "u%zu@d%zu.example", (i + 1) % n, (i + 1) % n % ndom);
			snprintf(key, sizeof(key), "hm:alias:team%zu@d%zu.example", i, d);
			snprintf(val, sizeof(val), "%s, %s", mb, mb2);
			ld_set(l, key, val);
			strv_addf(&ds->rcpts, "team%zu@d%zu.example", i, d);
		}
	}
	ld_flush(l);
	ds->keys = l->keys;

	/* Half known senders (some listed somewhere), a few news*, half unknown. */
	for (size_t i = 0; i < SENDER_POOL; i++) {
		size_t k = rnd(&st) % KNOWN_SENDERS;
		char a[128];

		if (i % 20 == 0) {
			strv_addf(&ds->senders, "news%zu@sd%zu.net", k, k % 200);
		} else if (i % 2 == 0) {
			known_sender(a, sizeof(a), k);
			strv_addf(&ds->senders, "%s", a);
		} else {
			strv_addf(&ds->senders, "x%zu@o%zu.org", k, k % 500);
		}
	}
}

/*
 * Wildcard pattern w of list li, neither exact nor "*@domain" (scanned), or
 * with hit, an address it matches.  Five shapes, in turn.
 */
#define NWILD_SHAPES 5
static void wildcard(struct strv *sv, size_t w, int li, bool hit)
{
	switch (w % NWILD_SHAPES) {
	case 0:
		if (hit)
			strv_addf(sv, "bounce-42@list%zu-%d.example.net", w, li);
		else
			strv_addf(sv, "bounce-*@list%zu-%d.example.net", w, li);
		break;
	case 1:
		if (hit)
			strv_addf(sv, "a@b.spam%zu-%d.test", w, li);
		else
			strv_addf(sv, "*@*.spam%zu-%d.test", w, li);
		break;
	case 2:
		if (hit)
			strv_addf(sv, "news7%zu-%d@x.example.com", w, li);
		else
			strv_addf(sv, "news?%zu-%d@*.example.com", w, li);
		break;
	case 3:
		if (hit)
			strv_addf(sv, "shop-noreply%zu-%d@x.com", w, li);
		else
			strv_addf(sv, "*-noreply%zu-%d@*.com", w, li);
		break;
	default:
		if (hit)
			strv_addf(sv, "info%zu-%d@mail3.example.org", w, li);
		else
			strv_addf(sv, "info%zu-%d@mail*.example.org", w, li);
	}
}

/*
 * Domain big.example and its mailbox boss@big.example, whose four lists
 * (domain and mailbox, white and black) hold p patterns each: nw other
 * wildcards, and of the rest 3/5 exact addresses and 2/5 "@domain".  List L of the four uses its own names ("-L"), so the
 * lists do not repeat each other.  Recipients: boss (half the draws) and
 * 100 mailboxes with the domain lists only.
 */
static void build_patterns(struct loader *l, struct dataset *ds, int db, size_t p, size_t nw)
{
	static const char *const keys[4] = {
		"hm:wl:@big.example", "hm:bl:@big.example",
		"hm:wl:boss@big.example", "hm:bl:boss@big.example",
	};
	size_t nr = p - nw;
	uint64_t st = 0x2545f4914f6cdd1dull ^ p;
	struct strv list = { 0 };

	memset(ds, 0, sizeof(*ds));
	snprintf(ds->name, sizeof(ds->name), "patterns %zu%s", p, nw ? "" : " no-wild");
	ds->family = 1;
	ds->wild = nw;
	ds->db = db;
	ds->size = p;
	ld_select(l, db);
	ld_thr(l, "hm:thr:@big.example", 6.0, 12.0);
	ld_thr(l, "hm:thr:boss@big.example", 4.0, 9.0);
	for (int li = 0; li < 4; li++) {
		for (size_t k = 0; k < nr; k++) {
			if (k % 5 < 3)
				strv_addf(&list, "p%zu@q%zu-%d.net", k, k / 50, li);
			else
				strv_addf(&list, "@dom%zu-%d.net", k, li);
		}
		for (size_t w = 0; w < nw; w++)
			wildcard(&list, w, li, false);
		ld_sadd(l, keys[li], &list);
		strv_clear(&list);
	}
	ld_flush(l);
	ds->keys = l->keys;

	strv_addf(&ds->rcpts, "boss@big.example");
	for (int i = 0; i < 100; i++)
		strv_addf(&ds->rcpts, "m%d@big.example", i);
	ds->first_half = true;

	/* 2/10 listed exactly, 2/10 in a listed domain, 1/10 a wildcard's, half unknown. */
	for (size_t i = 0; i < SENDER_POOL; i++) {
		int li = (int)(rnd(&st) % 4);
		size_t k = nr ? rnd(&st) % nr : 0, w = nw ? rnd(&st) % nw : 0;

		switch (i % 10) {
		case 0: case 1:
			k -= k % 5;	/* k % 5 == 0: an exact one */
			strv_addf(&ds->senders, "p%zu@q%zu-%d.net", k, k / 50, li);
			break;
		case 2: case 3:
			k = k - k % 5 + 3;	/* k % 5 == 3: a domain one */
			strv_addf(&ds->senders, "who%zu@dom%zu-%d.net", i, k, li);
			break;
		case 4:
			if (nw) {
				wildcard(&ds->senders, w, li, true);
				break;
			}
			/* fall through */
		default:
			strv_addf(&ds->senders, "x%zu@o%zu.org", i, i % 500);
		}
	}
}

static void dataset_free(struct dataset *ds)
{
	strv_clear(&ds->rcpts);
	strv_clear(&ds->senders);
}

/* ---- Redis side: lookups served, from INFO commandstats ---- */

static uint64_t redis_lookups(redisContext *c)
{
	static const char *const cmds[] = { "cmdstat_get:calls=", "cmdstat_hgetall:calls=",
					    "cmdstat_smembers:calls=" };
	redisReply *r = redisCommand(c, "INFO commandstats");
	uint64_t sum = 0;

	if (r == NULL || (r->type != REDIS_REPLY_STRING))
		die("INFO commandstats: %s", r ? "unexpected reply" : c->errstr);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		const char *at = strstr(r->str, cmds[i]);

		if (at != NULL)
			sum += strtoull(at + strlen(cmds[i]), NULL, 10);
	}
	freeReplyObject(r);
	return sum;
}

/* ---- decisions ---- */

struct bench {
	struct hm_store *s;
	const struct dataset *ds;
	struct hm_policy_defaults defaults;
};

struct tally {
	uint64_t ops, failed, outcome[3], black_at_rcpt;
};

static const char *pick_rcpt(const struct dataset *ds, uint64_t r)
{
	size_t n = ds->rcpts.n;

	if (ds->first_half && (r & 1))
		return ds->rcpts.v[0];
	if (ds->active && ds->active < n)
		return ds->rcpts.v[(r >> 1) % ds->active * (n / ds->active)];
	return ds->rcpts.v[(r >> 1) % n];
}

/*
 * One recipient of one message: load at RCPT TO, decide at end of message
 * with one From address (the envelope sender four times in five) and
 * random authentication facts and score, release.  decide = false: the
 * load only.
 */
static void one(const struct bench *b, const char *rcpt, uint64_t r, bool decide,
		struct tally *t)
{
	const struct dataset *ds = b->ds;
	const char *env = ds->senders.v[(r >> 8) % ds->senders.n];
	const char *from = (r >> 40) % 5 ? env : ds->senders.v[(r >> 24) % ds->senders.n];
	struct hm_auth_facts auth = {
		.spf_pass = (r >> 50) & 1,
		.spf_domain = strchr(env, '@') + 1,
		.dkim_aligned_pass = (r >> 51) & 1,
		.from_fields = 1,
	};
	struct hm_rcpt_policy p;

	if (hm_rcpt_policy_load(b->s, &b->defaults, rcpt, env, &p) != 0)
		die("hm_rcpt_policy_load(%s) refused the address", rcpt);
	if (p.failed)
		t->failed++;
	if (p.list == HM_LIST_BLACK)
		t->black_at_rcpt++;
	if (decide) {
		enum hm_outcome o = hm_rcpt_policy_decide(&p, env, &from, 1, &auth,
							  (double)((r >> 52) % 200) / 10.0);
		t->outcome[o]++;
	}
	hm_rcpt_policy_release(&p);
	t->ops++;
}

/* n warm decisions over random recipients; wall time in ns. */
static double run(const struct bench *b, size_t n, uint64_t seed, bool decide, struct tally *t)
{
	uint64_t st = (seed + 1) * 0x9e3779b97f4a7c15ull;	/* never 0, distinct per seed */
	double t0 = now_ns();

	for (size_t i = 0; i < n; i++) {
		uint64_t r = rnd(&st);

		one(b, pick_rcpt(b->ds, r), r, decide, t);
	}
	return now_ns() - t0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

/* p50 and p99 of SAMPLES decisions timed one by one. */
static void percentiles(const struct bench *b, double *p50, double *p99)
{
	double *lat = malloc(SAMPLES * sizeof(*lat));
	struct tally t = { 0 };
	uint64_t st = 77;

	if (lat == NULL)
		die("out of memory");
	for (size_t i = 0; i < SAMPLES; i++) {
		uint64_t r = rnd(&st);
		const char *rcpt = pick_rcpt(b->ds, r);
		double t0 = now_ns();

		one(b, rcpt, r, true, &t);
		lat[i] = now_ns() - t0;
	}
	qsort(lat, SAMPLES, sizeof(*lat), cmp_double);
	*p50 = lat[SAMPLES / 2];
	*p99 = lat[SAMPLES * 99 / 100];
	free(lat);
}

struct result {
	const struct dataset *ds;
	size_t cache_max, entries;
	bool cold;				/* the cold columns were measured */
	double cold_us, first_us, cold_rt;	/* per recipient, first decision */
	double warm_ns, p50, p99, load_ns;
	double lookups_per_op, rt_per_op;
	struct tally t;
};

static struct hm_store *store_for(const struct dataset *ds, size_t cache_max)
{
	/* The fields hm_runtime_build() sets, with the milter's defaults. */
	struct hm_store_conf sc = {
		.host = redis_host,
		.port = redis_port,
		.db = ds->db,
		.connect_timeout_ms = 500,
		.command_timeout_ms = 500,
		.prefix = "hm:",
		.pool_size = 8,
		.cache_max = cache_max,
		.cache_ttl_ms = 300 * 1000,
	};
	struct hm_store *s = NULL;
	char err[400];

	if (hm_store_new(&sc, &s, err, sizeof(err)) != 0)
		die("hm_store_new: %s", err);
	if (hm_store_check(s, err, sizeof(err)) != 0)
		die("redis: %s", err);
	return s;
}

/* Every recipient once, shuffled, on a new store: the cold cost; fills the cache. */
static void measure_cold(const struct bench *b, struct result *res)
{
	const struct dataset *ds = b->ds;
	size_t n = ds->rcpts.n, *order = malloc(n * sizeof(*order));
	struct hm_store_stats s0, s1;
	struct tally cold = { 0 };
	uint64_t st = 12345;
	double t0, t1;

	if (order == NULL)
		die("out of memory");
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	for (size_t i = n - 1; i > 0; i--) {
		size_t j = rnd(&st) % (i + 1), x = order[i];

		order[i] = order[j], order[j] = x;
	}
	hm_store_stats(b->s, &s0);
	t0 = now_ns();
	for (size_t i = 0; i < n; i++) {
		one(b, ds->rcpts.v[order[i]], rnd(&st), true, &cold);
		if (i == 0)
			res->first_us = (now_ns() - t0) / 1e3;
	}
	t1 = now_ns();
	hm_store_stats(b->s, &s1);
	free(order);
	if (cold.failed)
		die("%s: %" PRIu64 " cold loads failed (Redis?)", ds->name, cold.failed);
	res->cold = true;
	res->cold_us = (t1 - t0) / 1e3 / (double)n;
	res->cold_rt = (double)(s1.round_trips - s0.round_trips) / (double)n;
}

/*
 * The steady state: REPS runs of iters/REPS decisions, the best one counts
 * (the machine may be shared: the best run is the least disturbed); the
 * lookups Redis served during all of them (INFO itself is none of
 * GET/HGETALL/SMEMBERS); p50/p99; the load alone, likewise.
 */
#define REPS 10
static void measure_warm(redisContext *info, const struct bench *b, size_t iters,
			 struct result *res)
{
	struct hm_store_stats s0, s1;
	size_t per = iters / REPS;
	uint64_t l0, l1;

	hm_store_stats(b->s, &s0);
	l0 = redis_lookups(info);
	res->warm_ns = 0;
	for (int k = 0; k < REPS; k++) {
		double ns = run(b, per, 1 + (uint64_t)k, true, &res->t) / (double)per;

		if (k == 0 || ns < res->warm_ns)
			res->warm_ns = ns;
	}
	l1 = redis_lookups(info);
	hm_store_stats(b->s, &s1);
	if (res->t.failed)
		die("%s: %" PRIu64 " warm loads failed", b->ds->name, res->t.failed);
	res->lookups_per_op = (double)(l1 - l0) / (double)(per * REPS);
	res->rt_per_op = (double)(s1.round_trips - s0.round_trips) / (double)(per * REPS);
	res->entries = s1.entries;

	percentiles(b, &res->p50, &res->p99);
	for (int k = 0; k < REPS; k++) {
		struct tally lt = { 0 };
		double ns = run(b, per / 2, 100 + (uint64_t)k, false, &lt) / (double)(per / 2);

		if (k == 0 || ns < res->load_ns)
			res->load_ns = ns;
	}
}

/* A new store for ds, cold pass, warm measurements; the store is returned. */
static struct hm_store *measure(redisContext *info, const struct dataset *ds, size_t cache_max,
				size_t iters, struct result *res)
{
	struct bench b = { .ds = ds, .defaults = { HM_DEFAULT_TAG, HM_DEFAULT_REJECT, true, "+" } };

	memset(res, 0, sizeof(*res));
	res->ds = ds;
	res->cache_max = cache_max;
	b.s = store_for(ds, cache_max);
	measure_cold(&b, res);
	measure_warm(info, &b, iters, res);
	return b.s;
}

/* ---- threads ---- */

struct worker {
	const struct bench *b;
	pthread_barrier_t *start;
	size_t n;
	uint64_t seed;
	struct tally t;
};

static void *worker_main(void *arg)
{
	struct worker *w = arg;
	struct tally t = { 0 };		/* on this thread's stack: no false sharing */

	pthread_barrier_wait(w->start);
	run(w->b, w->n, w->seed, true, &t);
	w->t = t;
	return NULL;
}

/* Warm decisions per second with nthreads threads sharing the store. */
static double throughput(struct hm_store *s, const struct dataset *ds, int nthreads, size_t per)
{
	struct bench b = { .s = s, .ds = ds,
			   .defaults = { HM_DEFAULT_TAG, HM_DEFAULT_REJECT, true, "+" } };
	pthread_t th[8];
	struct worker w[8];
	pthread_barrier_t start;
	double t0, t1;
	uint64_t failed = 0;

	if (pthread_barrier_init(&start, NULL, (unsigned)nthreads + 1) != 0)
		die("pthread_barrier_init failed");
	for (int i = 0; i < nthreads; i++) {
		w[i] = (struct worker){ .b = &b, .start = &start, .n = per, .seed = 1000 + (uint64_t)i };
		if (pthread_create(&th[i], NULL, worker_main, &w[i]) != 0)
			die("pthread_create failed");
	}
	pthread_barrier_wait(&start);
	t0 = now_ns();
	for (int i = 0; i < nthreads; i++) {
		pthread_join(th[i], NULL);
		failed += w[i].t.failed;
	}
	t1 = now_ns();
	pthread_barrier_destroy(&start);
	if (failed)
		die("%s: %" PRIu64 " loads failed with %d threads", ds->name, failed, nthreads);
	return (double)per * nthreads / ((t1 - t0) / 1e9);
}

/* ---- report ---- */

static const char *thousands(char *buf, size_t len, uint64_t v)
{
	char tmp[32];
	size_t n = (size_t)snprintf(tmp, sizeof(tmp), "%" PRIu64, v), o = 0;

	for (size_t i = 0; i < n && o + 2 < len; i++) {
		if (i > 0 && (n - i) % 3 == 0)
			buf[o++] = ',';
		buf[o++] = tmp[i];
	}
	buf[o] = '\0';
	return buf;
}

static void print_header(void)
{
	printf("%-22s %8s %8s %8s %8s %8s %5s | %7s %6s %6s %7s %7s %7s %6s\n",
	       "data set", "keys", "cache", "entries", "cold us", "first us", "rt",
	       "warm ns", "p50", "p99", "load ns", "dec. ns", "cmds/op", "ratio");
}

static void print_row(const struct result *r, const char *label, double base)
{
	char k[32], c[32], e[32], cold[3][16], dec[16];

	if (r->cold) {
		snprintf(cold[0], sizeof(cold[0]), "%.1f", r->cold_us);
		snprintf(cold[1], sizeof(cold[1]), "%.0f", r->first_us);
		snprintf(cold[2], sizeof(cold[2]), "%.2f", r->cold_rt);
	} else {
		for (int i = 0; i < 3; i++)
			snprintf(cold[i], sizeof(cold[i]), "-");
	}
	/* The load alone, run apart, may cost more than a decision when lookups miss. */
	if (r->warm_ns >= r->load_ns)
		snprintf(dec, sizeof(dec), "%.0f", r->warm_ns - r->load_ns);
	else
		snprintf(dec, sizeof(dec), "-");
	printf("%-22s %8s %8s %8s %8s %8s %5s | %7.0f %6.0f %6.0f %7.0f %7s %7.3f %6.2f\n",
	       label, thousands(k, sizeof(k), r->ds->keys), thousands(c, sizeof(c), r->cache_max),
	       thousands(e, sizeof(e), r->entries), cold[0], cold[1], cold[2],
	       r->warm_ns, r->p50, r->p99, r->load_ns, dec, r->lookups_per_op, r->warm_ns / base);
	fflush(stdout);
}

static void usage(void)
{
	fprintf(stderr, "usage: bench-policy -p PORT [-h HOST] [-n WARM_DECISIONS]\n");
	exit(2);
}

/* Room for every key a recipient reads: 4 of its own, 3 of its domain (missing ones too). */
static size_t cache_for(const struct dataset *ds)
{
	size_t n = ds->rcpts.n * 5 + 1000;

	return n < MILTER_CACHE_DEFAULT ? MILTER_CACHE_DEFAULT : n;
}

#define ACTIVE 1000

int main(int argc, char **argv)
{
	static const size_t mb_sizes[] = { 1000, 10000, 100000 };
	/* Patterns per list, and how many of them are "other" wildcards (scanned). */
	static const size_t pat_sizes[] = { 10, 1000, 10000, 10000 };
	static const size_t pat_wild[] = { 2, 50, 50, 0 };
	enum { NDS = 7 };
	struct dataset ds[NDS], ds_active;
	struct result res[NDS], res_active, res_default;
	struct hm_store *keep[NDS] = { NULL };
	struct loader l = { 0 };
	redisContext *info;
	double t_start = now_ns();
	char a[32], a2[32], label[96];
	int opt;

	while ((opt = getopt(argc, argv, "h:p:n:")) != -1) {
		switch (opt) {
		case 'h': redis_host = optarg; break;
		case 'p': redis_port = atoi(optarg); break;
		case 'n': warm_iters = strtoul(optarg, NULL, 10); break;
		default: usage();
		}
	}
	if (redis_port <= 0 || warm_iters < 1000)
		usage();
	hm_log_open("bench-policy", true, 0);
	hm_log_set_level(HM_LOG_WARNING);

	l.c = redis_connect();
	info = redis_connect();
	printf("# loading the data sets into Redis databases %d-%d ...\n", DB_FIRST,
	       DB_FIRST + NDS - 1);
	for (int i = 0; i < NDS; i++) {
		double t0 = now_ns();

		if (i < 3)
			build_mailboxes(&l, &ds[i], DB_FIRST + i, mb_sizes[i]);
		else
			build_patterns(&l, &ds[i], DB_FIRST + i, pat_sizes[i - 3], pat_wild[i - 3]);
		printf("#   %-18s %8s keys, %7s recipients, in %.1f s\n", ds[i].name,
		       thousands(a, sizeof(a), ds[i].keys), thousands(a2, sizeof(a2), ds[i].rcpts.n),
		       (now_ns() - t0) / 1e9);
		fflush(stdout);
	}

	printf("\n# decision = hm_rcpt_policy_load + hm_rcpt_policy_decide + release, one recipient\n"
	       "# cold: every recipient's first decision, shuffled, on a new store: mean us, the\n"
	       "#   very first one (lists compiled), Redis round trips per decision (rt)\n"
	       "# warm: %zu decisions over random recipients, everything cached, best of %d runs:\n"
	       "#   ns per decision, p50/p99 of %d timed one by one, load+release alone, the\n"
	       "#   decide part (the difference), and the lookups Redis served per decision\n"
	       "#   (GET/HGETALL/SMEMBERS from INFO commandstats); ratio: against the first row\n"
	       "#   of its family\n"
	       "# patterns/list: each of the 4 lists (domain/mailbox, white/black) holds that\n"
	       "#   many, exact or @domain (hashed) but for the other wildcards (scanned): 2 in\n"
	       "#   the lists of 10, 50 in those of 1,000 and 10,000, none in (*)\n\n",
	       warm_iters / REPS, REPS, SAMPLES);
	print_header();
	for (int i = 0; i < NDS; i++) {
		if (i == 3)
			printf("\n");
		if (i < 3)
			snprintf(label, sizeof(label), "mailboxes %s", thousands(a, sizeof(a), ds[i].size));
		else
			snprintf(label, sizeof(label), "patterns/list %s %s",
				 thousands(a, sizeof(a), ds[i].size), ds[i].wild ? "" : "(*)");
		keep[i] = measure(info, &ds[i], cache_for(&ds[i]), warm_iters, &res[i]);
		print_row(&res[i], label, res[i < 3 ? 0 : 3].warm_ns);
		if (i == 2) {
			/* Same store, the traffic going to ACTIVE of the recipients only. */
			struct bench b = { .s = keep[2], .ds = &ds_active,
					   .defaults = { HM_DEFAULT_TAG, HM_DEFAULT_REJECT, true, "+" } };

			ds_active = ds[2];
			ds_active.active = ACTIVE;
			memset(&res_active, 0, sizeof(res_active));
			res_active.ds = &ds_active;
			res_active.cache_max = cache_for(&ds[2]);
			measure_warm(info, &b, warm_iters, &res_active);
			snprintf(label, sizeof(label), "  %s of them active", thousands(a, sizeof(a), ACTIVE));
			print_row(&res_active, label, res[0].warm_ns);
		}
		if (i != 2 && i != 5)
			hm_store_free(&keep[i]);
	}

	/* The largest mailbox set with the milter's default cache_size: too small for it. */
	{
		struct hm_store *s = measure(info, &ds[2], MILTER_CACHE_DEFAULT, warm_iters / 4,
					     &res_default);

		printf("\n# redis.cache_size = %s (the milter's default) with %s mailboxes: the cache\n"
		       "# holds fewer entries than the recipients read, so warm decisions go to Redis\n"
		       "# (%.2f round trips per decision)\n", thousands(a, sizeof(a), MILTER_CACHE_DEFAULT),
		       thousands(a2, sizeof(a2), ds[2].size), res_default.rt_per_op);
		print_header();
		print_row(&res_default, "mailboxes 100,000", res[0].warm_ns);
		hm_store_free(&s);
	}

	printf("\n# warm throughput, threads sharing one store, %zu decisions each, best of 3"
	       " (%ld CPUs online)\n", warm_iters / 4, sysconf(_SC_NPROCESSORS_ONLN));
	printf("%-22s %8s %12s %12s %9s\n", "data set", "threads", "decisions/s",
	       "ns/decision", "speed-up");
	for (int k = 0; k < 2; k++) {
		int i = k == 0 ? 2 : 5;
		double one_thread = 0;

		for (int nt = 1; nt <= 4; nt *= 2) {
			double tp = 0;

			/* Best of 3, like the single-thread figures. */
			for (int rep = 0; rep < 3; rep++) {
				double x = throughput(keep[i], &ds[i], nt, warm_iters / 4);

				if (x > tp)
					tp = x;
			}

			if (nt == 1)
				one_thread = tp;
			printf("%-22s %8d %12s %12.0f %8.2fx\n", ds[i].name, nt,
			       thousands(a, sizeof(a), (uint64_t)tp), 1e9 / tp * nt, tp / one_thread);
			fflush(stdout);
		}
	}

	printf("\n# outcomes of the warm decisions: accept / tag / reject, and black at RCPT time\n");
	for (int i = 0; i < NDS; i++)
		printf("#   %-22s %7" PRIu64 " %7" PRIu64 " %7" PRIu64 "   %7" PRIu64 "\n",
		       ds[i].name, res[i].t.outcome[HM_ACCEPT], res[i].t.outcome[HM_TAG],
		       res[i].t.outcome[HM_REJECT], res[i].t.black_at_rcpt);
	printf("\n# warm ns ratios:\n");
	snprintf(label, sizeof(label), "100,000 mailboxes, %s active / 1,000 mailboxes",
		 thousands(a, sizeof(a), ACTIVE));
	printf("#   %-50s %5.2f\n", "100,000 / 1,000 mailboxes", res[2].warm_ns / res[0].warm_ns);
	printf("#   %-50s %5.2f\n", label, res_active.warm_ns / res[0].warm_ns);
	printf("#   %-50s %5.2f\n", "10,000 / 1,000 patterns (50 wildcards both)",
	       res[5].warm_ns / res[4].warm_ns);
	printf("#   %-50s %5.2f\n", "10,000 (no wildcard) / 10 patterns (2)",
	       res[6].warm_ns / res[3].warm_ns);
	printf("#   %-50s %5.2f\n", "10,000 / 10 patterns (50 wildcards against 2)",
	       res[5].warm_ns / res[3].warm_ns);
	printf("# total %.1f s\n", (now_ns() - t_start) / 1e9);

	for (int i = 0; i < NDS; i++) {
		hm_store_free(&keep[i]);
		dataset_free(&ds[i]);
	}
	redisFree(l.c);
	redisFree(info);
	return 0;
}
