/*
 * store.c - Redis policy store: connections, invalidation thread, lookups.
 *
 * Pieces, top to bottom:
 *   up/down    one log line when Redis goes away, one when it is back
 *   target     where reads go: the configured server, or while it is gone
 *              the primary the sentinels name (policy/sentinel.c)
 *   wire       connect, and one pipelined exchange bounded by a deadline
 *              (poll + hiredis' buffer functions, so a slow Redis costs at
 *              most the command timeout, never a blocked thread)
 *   pool       connections checked out by one thread at a time
 *   tracking   the thread that holds the __redis__:invalidate subscription
 *              and reconnects it; each (re)connect starts a new session
 *              ("epoch"), which distrusts everything read before
 *   lookups    hm_store_get(): cached values (policy/cache.c), the misses
 *              fetched in one round trip and turned into values
 *              (policy/rvalue.c)
 *
 * Races handled: a value read while an invalidation for its key is on the
 * way is stored untrusted (policy/cache.h), and a reply never replaces an
 * entry read by a later request.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/cache.h"
#include "policy/sentinel.h"
#include "policy/store-int.h"

/* ---- lookups ---- */

struct miss {
	size_t i;			/* index in keys[] */
	size_t dup_of;			/* == own position, or an earlier miss of the same key */
	const char *key;
	size_t len;
	enum hm_rv_type type;
	struct hm_cache_probe probe;
	struct hm_rvalue *stale;	/* untrusted cached value: the outage fallback */
	redisReply *reply;
};

struct fetch {
	struct miss *m;
	size_t n;
};

static int build_fetch(struct hm_store *s, redisContext *c, void *arg)
{
	struct fetch *f = arg;
	int n = 0;

	for (size_t j = 0; j < f->n; j++) {
		struct miss *m = &f->m[j];
		const char *cmd = m->type == HM_RV_HASH ? "HGETALL"
			: m->type == HM_RV_SET ? "SMEMBERS" : "GET";
		size_t klen = s->prefix_len + m->len;
		char *full;
		const char *argv[2];
		size_t lens[2];
		int r;

		if (m->dup_of != j)
			continue;
		if (!(full = malloc(klen)))
			return -1;
		memcpy(full, s->prefix, s->prefix_len);
		memcpy(full + s->prefix_len, m->key, m->len);
		argv[0] = cmd;
		lens[0] = strlen(cmd);
		argv[1] = full;
		lens[1] = klen;
		r = store_append(s, c, 2, argv, lens);
		free(full);
		if (r < 0)
			return -1;
		n++;
	}
	return n;
}

static bool key_ok(const struct hm_store_key *k)
{
	return k->key && (k->type == HM_RV_STRING || k->type == HM_RV_HASH ||
		k->type == HM_RV_SET);
}

/*
 * Pass 1: the fresh hits go straight into vals[]; every other key becomes a
 * miss (with its stale value, if cached, and its probe), duplicates pointing
 * at their first occurrence.  -1 when out of memory (nothing held then).
 */
static int lookup_cached(struct hm_store *s, const struct hm_store_key *keys, size_t n,
	struct hm_rvalue **vals, enum hm_rv_source *src, struct miss **m_r, size_t *nm_r,
	size_t *nuniq_r, bool *fail_r)
{
	uint64_t t = atomic_load(&s->track);
	uint64_t epoch = track_up(t) ? track_epoch(t) : 0;
	int64_t now = store_now_ms();
	struct miss *m = NULL;
	size_t nm = 0, nuniq = 0;

	for (size_t i = 0; i < n; i++) {
		const struct hm_store_key *k = &keys[i];
		struct hm_cache_probe probe;
		struct hm_rvalue *stale;
		size_t len;

		if (!key_ok(k)) {
			*fail_r = true;
			continue;
		}
		len = strlen(k->key);
		vals[i] = hm_cache_lookup(s->cache, k->key, len, k->type, epoch, now, &probe, &stale);
		if (vals[i]) {
			if (src)
				src[i] = HM_SRC_CACHE;
			continue;
		}
		if (!m && !(m = calloc(n, sizeof(*m)))) {
			hm_rvalue_release(&stale);
			for (size_t j = 0; j < n; j++)
				hm_rvalue_release(&vals[j]);
			return -1;
		}
		m[nm] = (struct miss){ .i = i, .dup_of = nm, .key = k->key, .len = len,
			.type = k->type, .probe = probe, .stale = stale };
		for (size_t j = 0; j < nm; j++)
			if (m[j].dup_of == j && m[j].probe.hash == probe.hash && m[j].type == k->type &&
			    m[j].len == len && memcmp(m[j].key, k->key, len) == 0) {
				m[nm].dup_of = j;
				break;
			}
		if (m[nm].dup_of == nm)
			nuniq++;
		nm++;
	}
	*m_r = m;
	*nm_r = nm;
	*nuniq_r = nuniq;
	return 0;
}

/*
 * Pass 2: every distinct miss in one store_exchange, unless Redis is known down.
 * true when Redis answered: m[].reply holds the replies then, and *epoch_r
 * the tracking session they were read under (0: untracked).
 */
static bool fetch_misses(struct hm_store *s, struct miss *m, size_t nm, size_t nuniq,
	uint64_t *epoch_r)
{
	int64_t deadline = store_now_ms() + s->command_ms;
	redisReply **rep;
	struct conn *k;
	struct fetch f = { .m = m, .n = nm };
	bool fetched = false;
	char err[256];

	*epoch_r = 0;
	if (!store_may_try(s) || !(rep = calloc(nuniq, sizeof(*rep))))
		return false;
	if (!(k = store_pool_get(s, deadline))) {
		hm_log(HM_LOG_DEBUG, "redis %s: no free connection within %ld ms",
			s->where, s->command_ms);
		free(rep);
		return false;
	}
	if (store_run_batch(s, k, build_fetch, &f, rep, nuniq, deadline, epoch_r,
			err, sizeof(err)) == 0) {
		fetched = true;
		/* An error that is not about the key's type: treat Redis as failing. */
		for (size_t j = 0, r = 0; j < nm; j++) {
			if (m[j].dup_of != j)
				continue;
			m[j].reply = rep[r++];
			if (m[j].reply->type == REDIS_REPLY_ERROR &&
			    strncmp(m[j].reply->str, "WRONGTYPE", 9) != 0 && fetched) {
				snprintf(err, sizeof(err), "%s", m[j].reply->str);
				fetched = false;
				store_conn_close(k);
			}
		}
	}
	store_pool_put(s, k);
	if (fetched)
		store_set_up(s);
	else
		store_set_down(s, err);
	free(rep);
	return fetched;
}

/* Pass 3, Redis answered: each distinct reply as a value, cached. */
static void store_replies(struct hm_store *s, struct miss *m, size_t nm,
	struct hm_rvalue **got, uint64_t epoch, uint64_t flush_seq, uint64_t req_seq)
{
	int64_t now = store_now_ms();
	uint64_t t;

	for (size_t j = 0; j < nm; j++) {
		bool wrongtype;

		if (m[j].dup_of != j)
			continue;
		got[j] = hm_rvalue_from_reply(m[j].type, m[j].reply, &wrongtype);
		if (wrongtype)
			hm_log(HM_LOG_WARNING, "redis %s: key %s%s is not a %s; taken as absent",
				s->where, s->prefix, m[j].key,
				m[j].type == HM_RV_HASH ? "hash" : m[j].type == HM_RV_SET ? "set" : "string");
	}
	/* Read under the session still current, or not trusted. */
	t = atomic_load(&s->track);
	if (!track_up(t) || epoch != track_epoch(t))
		epoch = 0;
	for (size_t j = 0; j < nm; j++)
		if (m[j].dup_of == j && got[j])
			hm_cache_store(s->cache, m[j].key, m[j].len, m[j].type, &m[j].probe, got[j],
				epoch, flush_seq, req_seq, now);
}

enum hm_store_status hm_store_get(struct hm_store *s,
	const struct hm_store_key *keys, size_t n,
	struct hm_rvalue **vals, enum hm_rv_source *src)
{
	struct miss *m = NULL;
	struct hm_rvalue **got = NULL;
	size_t nm = 0, nuniq = 0;
	uint64_t flush_seq, req_seq, epoch;
	bool fail = false, fetched;

	for (size_t i = 0; i < n; i++) {
		vals[i] = NULL;
		if (src)
			src[i] = HM_SRC_NONE;
	}
	/* Read before any key is looked at: a flush after it distrusts the replies. */
	flush_seq = hm_cache_flush_seq(s->cache);
	if (lookup_cached(s, keys, n, vals, src, &m, &nm, &nuniq, &fail) < 0) {
		hm_log(HM_LOG_ERR, "redis: out of memory");
		return HM_STORE_FAILED;
	}
	if (nm == 0)
		return fail ? HM_STORE_FAILED : HM_STORE_OK;
	req_seq = atomic_fetch_add(&s->req_seq, 1) + 1;
	fetched = fetch_misses(s, m, nm, nuniq, &epoch) && (got = calloc(nm, sizeof(*got)));
	if (fetched)
		store_replies(s, m, nm, got, epoch, flush_seq, req_seq);

	/* Each key its fetched value, else its stale one (an outage), else none. */
	for (size_t j = 0; j < nm; j++) {
		struct hm_rvalue *v = fetched ? got[m[j].dup_of] : NULL;
		size_t i = m[j].i;

		if (v) {
			vals[i] = hm_rvalue_ref(v);
			if (src)
				src[i] = HM_SRC_REDIS;
			atomic_fetch_add_explicit(&s->misses, 1, memory_order_relaxed);
		} else if (m[j].stale) {
			vals[i] = hm_rvalue_ref(m[j].stale);
			if (src)
				src[i] = HM_SRC_CACHE;
			atomic_fetch_add_explicit(&s->stale, 1, memory_order_relaxed);
		} else {
			fail = true;
			atomic_fetch_add_explicit(&s->failed, 1, memory_order_relaxed);
		}
	}
	for (size_t j = 0; j < nm; j++) {
		hm_rvalue_release(&m[j].stale);
		if (got)
			hm_rvalue_release(&got[j]);
		if (m[j].reply)
			freeReplyObject(m[j].reply);
	}
	free(got);
	free(m);
	return fail ? HM_STORE_FAILED : HM_STORE_OK;
}

static int build_ping(struct hm_store *s, redisContext *c, void *arg)
{
	const char *a[] = { "PING" };

	(void)arg;
	return store_append(s, c, 1, a, NULL) < 0 ? -1 : 1;
}

int hm_store_check(struct hm_store *s, char *err, size_t errlen)
{
	int64_t deadline = store_now_ms() + s->command_ms;
	struct conn *k = store_pool_get(s, deadline);
	redisReply *rep = NULL;
	uint64_t epoch;
	int rc = -1;

	if (!k) {
		snprintf(err, errlen, "no free connection within %ld ms", s->command_ms);
		return -1;
	}
	if (store_run_batch(s, k, build_ping, NULL, &rep, 1, deadline, &epoch, err, errlen) == 0) {
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s", rep->str);
			store_conn_close(k);
		} else {
			rc = 0;
		}
		freeReplyObject(rep);
	}
	store_pool_put(s, k);
	if (rc == 0)
		store_set_up(s);
	else
		store_set_down(s, err);
	return rc;
}

void hm_store_stats(struct hm_store *s, struct hm_store_stats *st)
{
	hm_cache_counts(s->cache, &st->hits, &st->entries);
	st->misses = atomic_load(&s->misses);
	st->stale = atomic_load(&s->stale);
	st->failed = atomic_load(&s->failed);
	st->round_trips = atomic_load(&s->round_trips);
	st->commands = atomic_load(&s->commands);
	st->connects = atomic_load(&s->connects);
	st->invalidations = atomic_load(&s->invalidations);
	st->errors = atomic_load(&s->errors);
	st->tracking = track_up(atomic_load(&s->track));
}

/* ---- life cycle ---- */

static char *dup_or_null(const char *v)
{
	return v && *v ? strdup(v) : NULL;
}

/* conf with the defaults in place of zero / NULL / "" (strings not copied). */
static void settings_of(const struct hm_store_conf *conf, struct hm_store_conf *out)
{
	*out = *conf;
	out->host = conf->host && *conf->host ? conf->host : HM_STORE_HOST;
	out->unix_path = conf->unix_path && *conf->unix_path ? conf->unix_path : NULL;
	out->password = conf->password && *conf->password ? conf->password : NULL;
	out->prefix = conf->prefix && *conf->prefix ? conf->prefix : HM_STORE_PREFIX;
	out->port = conf->port ? conf->port : HM_STORE_PORT;
	out->connect_timeout_ms = conf->connect_timeout_ms ? conf->connect_timeout_ms :
				  HM_STORE_CONNECT_TIMEOUT_MS;
	out->command_timeout_ms = conf->command_timeout_ms ? conf->command_timeout_ms :
				  HM_STORE_COMMAND_TIMEOUT_MS;
	out->cache_ttl_ms = conf->cache_ttl_ms ? conf->cache_ttl_ms : HM_STORE_CACHE_TTL_S * 1000L;
	out->pool_size = conf->pool_size ? conf->pool_size : HM_STORE_POOL_SIZE;
	out->cache_max = conf->cache_max ? conf->cache_max : HM_STORE_CACHE_MAX;
}

/* Strings equal, NULL being "". */
static bool same_str(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") == 0;
}

/* The store's own copies and tables, and the store itself. */
static void free_config_copies(struct hm_store *s)
{
	free(s->host);
	free(s->unix_path);
	free(s->password);
	free(s->prefix);
	hm_sentinel_free(&s->sentinel);
	for (size_t i = 0; i < s->nsentinels; i++)
		free(s->sentinel_addrs[i]);
	free(s->sentinel_addrs);
	free(s->sentinel_master);
	free(s->sentinel_password);
	hm_cache_free(&s->cache);
	free(s->pool);
	free(s);
}

/* The sentinel settings, copied (compared on reload) and checked. */
static int copy_sentinels(struct hm_store *s, const struct hm_store_conf *conf,
	char *err, size_t errlen)
{
	struct hm_sentinel_conf sc = {
		.naddrs = conf->nsentinels, .master = conf->sentinel_master,
		.password = conf->sentinel_password, .timeout_ms = s->connect_ms,
	};

	if (conf->nsentinels == 0)
		return 0;
	if (!(s->sentinel_addrs = calloc(conf->nsentinels, sizeof(char *))) ||
	    !(s->sentinel_master = strdup(conf->sentinel_master ? conf->sentinel_master : "")) ||
	    (conf->sentinel_password && *conf->sentinel_password &&
	     !(s->sentinel_password = strdup(conf->sentinel_password)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	for (size_t i = 0; i < conf->nsentinels; i++, s->nsentinels++)
		if (!(s->sentinel_addrs[i] = strdup(conf->sentinels[i]))) {
			snprintf(err, errlen, "out of memory");
			return -1;
		}
	sc.addrs = (const char *const *)s->sentinel_addrs;
	return hm_sentinel_new(&sc, &s->sentinel, err, errlen);
}

static bool same_sentinels(const struct hm_store *s, const struct hm_store_conf *conf)
{
	if (s->nsentinels != conf->nsentinels)
		return false;
	for (size_t i = 0; i < s->nsentinels; i++)
		if (strcmp(s->sentinel_addrs[i], conf->sentinels[i]) != 0)
			return false;
	return s->nsentinels == 0 || (same_str(s->sentinel_master, conf->sentinel_master) &&
				      same_str(s->sentinel_password, conf->sentinel_password));
}

int hm_store_new(const struct hm_store_conf *conf, struct hm_store **s_r,
	char *err, size_t errlen)
{
	struct hm_store *s;
	struct hm_store_conf set;
	pthread_condattr_t ca;

	*s_r = NULL;
	if (conf->port < 0 || conf->port > 65535 || conf->db < 0 ||
	    conf->connect_timeout_ms < 0 || conf->command_timeout_ms < 0 ||
	    conf->cache_ttl_ms < 0) {
		snprintf(err, errlen, "redis: port, db, timeouts and cache_ttl must not be negative "
			"(port at most 65535)");
		return -1;
	}
	if (conf->unix_path && strlen(conf->unix_path) >= 108) {
		snprintf(err, errlen, "redis: unix socket path too long");
		return -1;
	}
	if (!(s = calloc(1, sizeof(*s)))) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	s->wake[0] = s->wake[1] = -1;
	atomic_init(&s->refs, 1);
	settings_of(conf, &set);
	s->host = strdup(set.host);
	s->unix_path = dup_or_null(set.unix_path);
	s->password = dup_or_null(set.password);
	s->prefix = strdup(set.prefix);
	s->port = set.port;
	s->db = set.db;
	s->connect_ms = set.connect_timeout_ms;
	s->command_ms = set.command_timeout_ms;
	s->ttl_ms = set.cache_ttl_ms;
	s->pool_size = set.pool_size;
	s->cache_max = set.cache_max;
	s->pool = calloc(s->pool_size, sizeof(*s->pool));
	if (!(s->cache = hm_cache_new(s->cache_max, s->ttl_ms))) {
		snprintf(err, errlen, "out of memory");
		goto fail_early;
	}
	atomic_init(&s->track, 1 << 1);		/* epoch 1, down */
	atomic_init(&s->req_seq, 0);
	atomic_init(&s->state, -1);
	atomic_init(&s->last_probe_ms, 0);
	atomic_init(&s->stop, false);
	if (!s->host || !s->prefix || !s->pool ||
	    (conf->unix_path && *conf->unix_path && !s->unix_path) ||
	    (conf->password && *conf->password && !s->password)) {
		snprintf(err, errlen, "out of memory");
		goto fail_early;
	}
	if (copy_sentinels(s, conf, err, errlen) < 0)
		goto fail_early;
	s->prefix_len = strlen(s->prefix);
	if (s->unix_path)
		snprintf(s->where, sizeof(s->where), "unix:%s", s->unix_path);
	else
		snprintf(s->where, sizeof(s->where), "%s:%d", s->host, s->port);
	if (pipe(s->wake) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		goto fail_early;
	}
	(void)fcntl(s->wake[0], F_SETFD, FD_CLOEXEC);
	(void)fcntl(s->wake[1], F_SETFD, FD_CLOEXEC);
	pthread_mutex_init(&s->track_mtx, NULL);
	pthread_mutex_init(&s->target_mtx, NULL);
	pthread_mutex_init(&s->pool_mtx, NULL);
	pthread_mutex_init(&s->sub_mtx, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&s->pool_cv, &ca);
	pthread_condattr_destroy(&ca);
	pthread_cond_init(&s->sub_cv, NULL);
	if ((errno = pthread_create(&s->sub_thread, NULL, store_sub_main, s)) != 0) {
		snprintf(err, errlen, "redis: cannot start the invalidation thread: %s",
			strerror(errno));
		hm_store_free(&s);
		return -1;
	}
	s->sub_started = true;
	if (s->sentinel && hm_sentinel_watch(s->sentinel, store_target_switched, s) < 0) {
		snprintf(err, errlen, "redis: cannot start the sentinel watcher");
		hm_store_free(&s);
		return -1;
	}
	/* Its first attempt is bounded by the timeouts; wait so that the
	 * first lookups are already cached. */
	pthread_mutex_lock(&s->sub_mtx);
	while (!s->sub_first_done)
		pthread_cond_wait(&s->sub_cv, &s->sub_mtx);
	pthread_mutex_unlock(&s->sub_mtx);
	*s_r = s;
	return 0;

fail_early:
	if (s->wake[0] >= 0)
		close(s->wake[0]);
	if (s->wake[1] >= 0)
		close(s->wake[1]);
	free_config_copies(s);
	return -1;
}

struct hm_store *hm_store_ref(struct hm_store *s)
{
	atomic_fetch_add(&s->refs, 1);
	return s;
}

bool hm_store_same_conf(const struct hm_store *s, const struct hm_store_conf *conf)
{
	struct hm_store_conf set;

	settings_of(conf, &set);
	return same_str(s->host, set.host) && same_str(s->unix_path, set.unix_path) &&
	       same_str(s->password, set.password) && same_str(s->prefix, set.prefix) &&
	       s->port == set.port && s->db == set.db && s->connect_ms == set.connect_timeout_ms &&
	       s->command_ms == set.command_timeout_ms && s->ttl_ms == set.cache_ttl_ms &&
	       s->pool_size == set.pool_size && s->cache_max == set.cache_max &&
	       same_sentinels(s, &set);
}

void hm_store_free(struct hm_store **sp)
{
	struct hm_store *s = *sp;

	*sp = NULL;
	if (!s || atomic_fetch_sub(&s->refs, 1) != 1)
		return;
	atomic_store(&s->stop, true);
	if (s->sub_started) {
		ssize_t w = write(s->wake[1], "x", 1);
		(void)w;	/* the thread also polls the flag every 250 ms */
		pthread_join(s->sub_thread, NULL);
	}
	hm_sentinel_free(&s->sentinel);		/* its watcher calls into s */
	for (size_t i = 0; i < s->pool_size; i++)
		store_conn_close(&s->pool[i]);
	close(s->wake[0]);
	close(s->wake[1]);
	pthread_mutex_destroy(&s->track_mtx);
	pthread_mutex_destroy(&s->target_mtx);
	pthread_mutex_destroy(&s->pool_mtx);
	pthread_mutex_destroy(&s->sub_mtx);
	pthread_cond_destroy(&s->pool_cv);
	pthread_cond_destroy(&s->sub_cv);
	free_config_copies(s);
}
