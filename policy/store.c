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

#include "milter/log.h"
#include "policy/cache.h"
#include "policy/sentinel.h"
#include "policy/store.h"

#define SUB_CHANNEL "__redis__:invalidate"
#define PROBE_INTERVAL_MS 1000		/* callers' reconnects while down */
#define SUB_PING_MS 1000		/* keepalive on the subscription */
#define SUB_RETRY_MIN_MS 100
#define SUB_RETRY_MAX_MS 1000
#define REPLICA_PROBE_MS 3000		/* reading from the primary: is the replica back? */

struct conn {
	redisContext *c;
	uint64_t epoch;			/* tracking session registered with, 0: none */
	bool busy;
};

struct hm_store {
	char *host, *unix_path, *password, *prefix;
	int port, db;
	long connect_ms, command_ms, ttl_ms;
	size_t prefix_len, pool_size, cache_max;
	char where[300];		/* "127.0.0.1:6379" or "unix:/path", for logs */

	/* With sentinels: the primary reads fall back to (see target_*). */
	struct hm_sentinel *sentinel;
	char **sentinel_addrs, *sentinel_master, *sentinel_password;
	size_t nsentinels;
	pthread_mutex_t target_mtx;
	bool on_primary;		/* reading from primary_host:primary_port */
	char primary_host[256];
	int primary_port;
	atomic_bool retarget;		/* the subscription must move: reconnect */
	int64_t replica_probe_ms;	/* last look at the replica (subscription thread) */

	struct hm_cache *cache;
	atomic_uint_least64_t req_seq;
	/*
	 * Tracking session: epoch << 1 | up, one word so that a lookup reads
	 * both without a lock.  The epoch is bumped whenever the subscription
	 * comes or goes.  Written under track_mtx, which also guards sub_id.
	 */
	atomic_uint_least64_t track;
	pthread_mutex_t track_mtx;
	long long sub_id;

	pthread_mutex_t pool_mtx;
	pthread_cond_t pool_cv;
	struct conn *pool;

	atomic_int state;		/* 1 up, 0 down, -1 not known yet */
	atomic_llong last_probe_ms;

	pthread_t sub_thread;
	bool sub_started;
	int wake[2];			/* hm_store_free() wakes the thread */
	atomic_bool stop;
	pthread_mutex_t sub_mtx;
	pthread_cond_t sub_cv;
	bool sub_first_done;
	bool sub_refused_logged;

	atomic_uint_least64_t misses, stale, failed, round_trips, commands,
		connects, invalidations;
	atomic_size_t refs;		/* hm_store_ref(); the last hm_store_free() frees */
};

/* ---- time ---- */

static int64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static struct timeval ms_tv(long ms)
{
	struct timeval tv = { .tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000 };

	return tv;
}

static struct timespec ms_abs_ts(int64_t deadline_ms)
{
	struct timespec ts = {
		.tv_sec = deadline_ms / 1000,
		.tv_nsec = (deadline_ms % 1000) * 1000000,
	};

	return ts;
}

/* Wait for fd until the deadline: 1 ready (or error to read), 0 timeout, -1 error. */
static int wait_fd(int fd, short events, int64_t deadline)
{
	for (;;) {
		struct pollfd p = { .fd = fd, .events = events };
		int64_t left = deadline - now_ms();
		int r;

		if (left <= 0)
			return 0;
		r = poll(&p, 1, left > 60000 ? 60000 : (int)left);
		if (r > 0)
			return 1;
		if (r < 0 && errno != EINTR)
			return -1;
	}
}

static bool track_up(uint64_t track)
{
	return (track & 1) != 0;
}

static uint64_t track_epoch(uint64_t track)
{
	return track >> 1;
}

/* ---- up / down ---- */

static void set_down(struct hm_store *s, const char *why)
{
	char msg[256];
	size_t n;

	/* Redis' own messages end with a period: not in the middle of our line. */
	snprintf(msg, sizeof(msg), "%s", why);
	for (n = strlen(msg); n > 0 && (msg[n - 1] == '.' || msg[n - 1] == ' '); n--)
		msg[n - 1] = '\0';
	atomic_store(&s->last_probe_ms, now_ms());	/* next try in a second */
	if (atomic_exchange(&s->state, 0) != 0)
		hm_log(HM_LOG_WARNING, "redis %s unavailable: %s; using cached policy, "
			"then defaults, until it is back", s->where, msg);
}

static void set_up(struct hm_store *s)
{
	if (atomic_exchange(&s->state, 1) == 0)
		hm_log(HM_LOG_NOTICE, "redis %s available again", s->where);
}

bool hm_store_up(const struct hm_store *s)
{
	return atomic_load(&((struct hm_store *)s)->state) == 1;
}

/* ---- where reads go: the configured server, or the sentinels' primary ---- */

/*
 * Every connection (the subscription and the pool) goes to one server at a
 * time, so that the pool's CLIENT TRACKING REDIRECT names a subscriber on
 * the same server.  The subscription thread moves the target: to the
 * primary when the replica cannot be reached, back when it answers again;
 * a new tracking session then makes the pool reconnect.
 */
static bool target_is_primary(struct hm_store *s)
{
	bool on;

	pthread_mutex_lock(&s->target_mtx);
	on = s->on_primary;
	pthread_mutex_unlock(&s->target_mtx);
	return on;
}

static bool target_primary(struct hm_store *s, char *host, size_t hostlen, int *port)
{
	bool on;

	pthread_mutex_lock(&s->target_mtx);
	on = s->on_primary;
	if (on) {
		snprintf(host, hostlen, "%s", s->primary_host);
		*port = s->primary_port;
	}
	pthread_mutex_unlock(&s->target_mtx);
	return on;
}

/* Ask the sentinels and read from the primary; 0, or -1 with err. */
static int target_use_primary(struct hm_store *s, char *err, size_t errlen)
{
	char host[256];
	int port;

	bool news;

	if (hm_sentinel_primary(s->sentinel, host, sizeof(host), &port, err, errlen) < 0)
		return -1;
	pthread_mutex_lock(&s->target_mtx);
	news = !s->on_primary || strcmp(s->primary_host, host) != 0 || s->primary_port != port;
	s->on_primary = true;
	snprintf(s->primary_host, sizeof(s->primary_host), "%s", host);
	s->primary_port = port;
	pthread_mutex_unlock(&s->target_mtx);
	if (news)
		hm_log(HM_LOG_WARNING, "redis %s unreachable: reading from the primary %s:%d "
		       "until it is back", s->where, host, port);
	return 0;
}

static void target_use_replica(struct hm_store *s)
{
	pthread_mutex_lock(&s->target_mtx);
	s->on_primary = false;
	pthread_mutex_unlock(&s->target_mtx);
	hm_log(HM_LOG_NOTICE, "redis %s answers: reading from it again", s->where);
}

/* The sentinels' watcher: a failover while we read from the old primary. */
static void target_switched(void *arg, const char *host, int port)
{
	struct hm_store *s = arg;
	bool moved = false;

	pthread_mutex_lock(&s->target_mtx);
	if (s->on_primary && (strcmp(s->primary_host, host) != 0 || s->primary_port != port)) {
		snprintf(s->primary_host, sizeof(s->primary_host), "%s", host);
		s->primary_port = port;
		moved = true;
	}
	pthread_mutex_unlock(&s->target_mtx);
	if (moved)
		atomic_store(&s->retarget, true);
}

/* ---- wire ---- */

static redisContext *connect_to(struct hm_store *s, bool configured, char *err, size_t errlen)
{
	struct timeval tv = ms_tv(s->connect_ms);
	char host[256], where[300];
	int port;
	redisContext *c;

	if (!configured && target_primary(s, host, sizeof(host), &port)) {
		snprintf(where, sizeof(where), "primary %s:%d", host, port);
		c = redisConnectWithTimeout(host, port, tv);
	} else {
		snprintf(where, sizeof(where), "%s", s->where);
		c = s->unix_path ? redisConnectUnixWithTimeout(s->unix_path, tv)
			: redisConnectWithTimeout(s->host, s->port, tv);
	}
	if (!c) {
		snprintf(err, errlen, "connect %s: out of memory", where);
		return NULL;
	}
	if (c->err) {
		snprintf(err, errlen, "connect %s: %s", where, c->errstr);
		redisFree(c);
		return NULL;
	}
	/* A backstop: exchange() itself polls against a deadline. */
	if (redisSetTimeout(c, ms_tv(s->command_ms)) != REDIS_OK) {
		snprintf(err, errlen, "connect %s: cannot set timeout: %s", where, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A connection to where reads go now. */
static redisContext *dial(struct hm_store *s, char *err, size_t errlen)
{
	return connect_to(s, false, err, errlen);
}

bool hm_store_reading_from(struct hm_store *s, char *buf, size_t len)
{
	char host[256];
	int port;

	if (s->sentinel && target_primary(s, host, sizeof(host), &port)) {
		snprintf(buf, len, "%s:%d", host, port);
		return true;
	}
	snprintf(buf, len, "%s", s->where);
	return false;
}

static int append(struct hm_store *s, redisContext *c, int argc, const char **argv,
	const size_t *lens)
{
	size_t l[8];

	if (!lens) {
		for (int i = 0; i < argc && i < 8; i++)
			l[i] = strlen(argv[i]);
		lens = l;
	}
	atomic_fetch_add(&s->commands, 1);
	return redisAppendCommandArgv(c, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

/*
 * Send what is buffered and read nrep replies, all before the deadline.
 * -1 with err on failure (the context is unusable then; *timeout_r says
 * whether Redis was merely slow).  On success the caller frees the replies.
 */
static int exchange(redisContext *c, size_t nrep, redisReply **rep, int64_t deadline,
	char *err, size_t errlen, bool *timeout_r)
{
	int done = 0;
	size_t got = 0;

	*timeout_r = false;
	while (!done) {
		if (redisBufferWrite(c, &done) != REDIS_OK)
			goto io;
		if (!done && wait_fd(c->fd, POLLOUT, deadline) <= 0)
			goto slow;
	}
	for (; got < nrep; got++) {
		void *r = NULL;

		for (;;) {
			if (redisGetReplyFromReader(c, &r) != REDIS_OK)
				goto io;
			if (r)
				break;
			if (wait_fd(c->fd, POLLIN, deadline) <= 0)
				goto slow;
			if (redisBufferRead(c) != REDIS_OK)
				goto io;
		}
		rep[got] = r;
	}
	return 0;
slow:
	*timeout_r = true;
	snprintf(err, errlen, "no answer within the command timeout");
	goto fail;
io:
	snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection error");
fail:
	while (got > 0)
		freeReplyObject(rep[--got]);
	return -1;
}

/*
 * Commands every new connection starts with (AUTH, SELECT, CLIENT
 * TRACKING), appended to its first exchange so that set-up costs no round
 * trip of its own.  Returns how many, or -1.
 */
static int append_setup(struct hm_store *s, redisContext *c, long long track_id)
{
	int n = 0;
	char num[32];

	if (s->password) {
		const char *a[] = { "AUTH", s->password };
		if (append(s, c, 2, a, NULL) < 0)
			return -1;
		n++;
	}
	if (s->db != 0) {
		const char *a[] = { "SELECT", num };
		snprintf(num, sizeof(num), "%d", s->db);
		if (append(s, c, 2, a, NULL) < 0)
			return -1;
		n++;
	}
	if (track_id >= 0) {
		const char *a[] = { "CLIENT", "TRACKING", "on", "REDIRECT", num,
			"BCAST", "PREFIX", s->prefix };
		snprintf(num, sizeof(num), "%lld", track_id);
		if (append(s, c, 8, a, NULL) < 0)
			return -1;
		n++;
	}
	return n;
}

/*
 * Replies to the set-up commands: AUTH or SELECT refused is a failure of
 * the connection; tracking refused only means its reads are not trusted.
 */
static int check_setup(struct hm_store *s, redisReply **rep, int nsetup,
	bool *tracked_r, char *err, size_t errlen)
{
	int i = 0;

	*tracked_r = false;
	if (s->password && i < nsetup) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "AUTH failed: %s", rep[i]->str);
			return -1;
		}
		i++;
	}
	if (s->db != 0 && i < nsetup) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "SELECT %d failed: %s", s->db, rep[i]->str);
			return -1;
		}
		i++;
	}
	if (i < nsetup) {
		if (rep[i]->type == REDIS_REPLY_ERROR)
			hm_log(HM_LOG_DEBUG, "redis %s: CLIENT TRACKING refused: %s",
				s->where, rep[i]->str);
		else
			*tracked_r = true;
	}
	return 0;
}

/* ---- pool ---- */

static struct conn *pool_get(struct hm_store *s, int64_t deadline)
{
	struct conn *found = NULL;

	pthread_mutex_lock(&s->pool_mtx);
	for (;;) {
		for (size_t i = 0; i < s->pool_size; i++) {
			struct conn *k = &s->pool[i];
			if (!k->busy && (!found || (!found->c && k->c)))
				found = k;
		}
		if (found)
			break;
		struct timespec ts = ms_abs_ts(deadline);
		if (pthread_cond_timedwait(&s->pool_cv, &s->pool_mtx, &ts) == ETIMEDOUT)
			break;
	}
	if (found)
		found->busy = true;
	pthread_mutex_unlock(&s->pool_mtx);
	return found;
}

static void pool_put(struct hm_store *s, struct conn *k)
{
	pthread_mutex_lock(&s->pool_mtx);
	k->busy = false;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mtx);
}

static void conn_close(struct conn *k)
{
	if (k->c)
		redisFree(k->c);
	k->c = NULL;
	k->epoch = 0;
}

/*
 * A batch of commands on one pooled connection: made (or re-made, when the
 * tracking session changed) with its set-up commands in front, then one
 * exchange.  build() appends the batch's commands and returns their count.
 * A connection that was idle and turns out closed (server timeout, restart)
 * is re-made once.  On success, rep[] holds the batch's replies and
 * *epoch_r the session its reads are tracked under (0: not tracked).
 */
static int run_batch(struct hm_store *s, struct conn *k,
	int (*build)(struct hm_store *, redisContext *, void *), void *arg,
	redisReply **rep, size_t nrep, int64_t deadline, uint64_t *epoch_r,
	char *err, size_t errlen)
{
	for (int attempt = 0; attempt < 2; attempt++) {
		uint64_t epoch;
		long long track_id;
		bool fresh = false, tracked, slow;
		int nsetup = 0;
		redisReply *setup[3];

		pthread_mutex_lock(&s->track_mtx);
		uint64_t t = atomic_load(&s->track);
		epoch = track_up(t) ? track_epoch(t) : 0;
		track_id = track_up(t) ? s->sub_id : -1;
		pthread_mutex_unlock(&s->track_mtx);

		if (k->c && epoch != 0 && k->epoch != epoch)
			conn_close(k);	/* its redirect points at an old subscriber */
		if (!k->c) {
			int64_t t0 = now_ms();

			if (!(k->c = dial(s, err, errlen)))
				return -1;
			deadline += now_ms() - t0;	/* the connect has its own budget */
			atomic_fetch_add(&s->connects, 1);
			fresh = true;
			if ((nsetup = append_setup(s, k->c, track_id)) < 0)
				goto oom;
		}
		int nb = build(s, k->c, arg);
		if (nb < 0 || (size_t)nb != nrep)
			goto oom;
		if (nsetup > 0 && exchange(k->c, (size_t)nsetup, setup, deadline,
				err, errlen, &slow) < 0) {
			conn_close(k);
			return -1;
		}
		if (nsetup > 0) {
			int r = check_setup(s, setup, nsetup, &tracked, err, errlen);
			for (int i = 0; i < nsetup; i++)
				freeReplyObject(setup[i]);
			if (r < 0) {
				conn_close(k);
				return -1;
			}
			k->epoch = tracked ? epoch : 0;
		}
		atomic_fetch_add(&s->round_trips, 1);
		if (exchange(k->c, nrep, rep, deadline, err, errlen, &slow) == 0) {
			*epoch_r = k->epoch;
			return 0;
		}
		conn_close(k);
		if (fresh || slow)
			return -1;
		/* An idle socket found closed fails at once: the budget is left. */
	}
	return -1;
oom:
	snprintf(err, errlen, "out of memory");
	conn_close(k);
	return -1;
}

/* While down, callers try Redis at most once per PROBE_INTERVAL_MS between them. */
static bool may_try(struct hm_store *s)
{
	long long last, now;

	if (atomic_load(&s->state) != 0)
		return true;
	now = now_ms();
	last = atomic_load(&s->last_probe_ms);
	if (now - last < PROBE_INTERVAL_MS)
		return false;
	return atomic_compare_exchange_strong(&s->last_probe_ms, &last, now);
}

/* ---- tracking thread ---- */

static void handle_invalidation(struct hm_store *s, const redisReply *r)
{
	if (r->type != REDIS_REPLY_ARRAY || r->elements < 3 ||
	    r->element[0]->type != REDIS_REPLY_STRING ||
	    strcmp(r->element[0]->str, "message") != 0)
		return;		/* subscribe confirmation, pong */
	const redisReply *p = r->element[2];

	if (p->type == REDIS_REPLY_NIL) {	/* FLUSHALL / FLUSHDB */
		hm_cache_flush(s->cache);
		atomic_fetch_add(&s->invalidations, 1);
	} else {
		size_t n = p->type == REDIS_REPLY_ARRAY ? p->elements : 1;

		for (size_t i = 0; i < n; i++) {
			const redisReply *k = p->type == REDIS_REPLY_ARRAY ? p->element[i] : p;

			if (k->type != REDIS_REPLY_STRING || (size_t)k->len < s->prefix_len ||
			    memcmp(k->str, s->prefix, s->prefix_len) != 0)
				continue;
			hm_cache_invalidate(s->cache, k->str + s->prefix_len, k->len - s->prefix_len);
			atomic_fetch_add(&s->invalidations, 1);
		}
	}
}

/*
 * Connect the subscription: [AUTH], CLIENT ID, SUBSCRIBE.  0 on success;
 * -1: Redis unreachable or refusing us (an outage); -2: reachable but
 * refusing the subscription (no invalidation: lookups go to Redis).
 */
static int sub_connect(struct hm_store *s, redisContext **c_r, long long *id_r,
	char *err, size_t errlen)
{
	redisContext *c = dial(s, err, errlen);
	redisReply *rep[3];
	size_t n = 0, i = 0;
	bool slow;
	int rc = 0;

	if (!c)
		return -1;
	if (s->password) {
		const char *a[] = { "AUTH", s->password };
		if (append(s, c, 2, a, NULL) < 0)
			goto oom;
		n++;
	}
	const char *id[] = { "CLIENT", "ID" }, *sub[] = { "SUBSCRIBE", SUB_CHANNEL };
	if (append(s, c, 2, id, NULL) < 0 || append(s, c, 2, sub, NULL) < 0)
		goto oom;
	n += 2;
	if (exchange(c, n, rep, now_ms() + s->command_ms, err, errlen, &slow) < 0) {
		redisFree(c);
		return -1;
	}
	if (s->password) {
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "AUTH failed: %s", rep[i]->str);
			rc = -1;
		}
		i++;
	}
	if (rc == 0 && rep[i]->type != REDIS_REPLY_INTEGER) {
		snprintf(err, errlen, "CLIENT ID: %s",
			rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str : "unexpected reply");
		/* NOAUTH means a password is missing: an outage like a wrong one. */
		rc = rep[i]->type == REDIS_REPLY_ERROR &&
			strncmp(rep[i]->str, "NOAUTH", 6) == 0 ? -1 : -2;
	}
	if (rc == 0)
		*id_r = rep[i]->integer;
	i++;
	if (rc == 0 && rep[i]->type != REDIS_REPLY_ARRAY) {
		snprintf(err, errlen, "SUBSCRIBE: %s",
			rep[i]->type == REDIS_REPLY_ERROR ? rep[i]->str : "unexpected reply");
		rc = -2;
	}
	for (size_t j = 0; j < n; j++)
		freeReplyObject(rep[j]);
	if (rc < 0) {
		redisFree(c);
		return rc;
	}
	*c_r = c;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	redisFree(c);
	return -1;
}

/* Sleep ms, or less if hm_store_free() wakes us.  false: stop. */
static bool sub_sleep(struct hm_store *s, long ms)
{
	struct pollfd p = { .fd = s->wake[0], .events = POLLIN };

	if (!atomic_load(&s->stop))
		(void)poll(&p, 1, (int)ms);
	return !atomic_load(&s->stop);
}

/*
 * Reading from the primary: time to move the subscription (and so every
 * connection)?  Yes when a failover named another primary, or when the
 * configured replica answers a PING again (asked every REPLICA_PROBE_MS).
 */
static bool should_move(struct hm_store *s, char *err, size_t errlen)
{
	int64_t now = now_ms();

	if (atomic_exchange(&s->retarget, false)) {
		snprintf(err, errlen, "the primary moved");
		return true;
	}
	if (!target_is_primary(s) || now - s->replica_probe_ms < REPLICA_PROBE_MS)
		return false;
	s->replica_probe_ms = now;
	char why[256];
	redisContext *c = connect_to(s, true, why, sizeof(why));
	redisReply *r = NULL;

	if (c && s->password)
		freeReplyObject(redisCommand(c, "AUTH %s", s->password));
	if (c && (r = redisCommand(c, "PING")) && r->type == REDIS_REPLY_STATUS) {
		freeReplyObject(r);
		redisFree(c);
		target_use_replica(s);
		snprintf(err, errlen, "the replica is back");
		return true;
	}
	freeReplyObject(r);
	redisFree(c);
	return false;
}

/* Read invalidations until the connection fails or we are stopped. */
static void sub_loop(struct hm_store *s, redisContext *c, char *err, size_t errlen)
{
	int64_t last_rx = now_ms(), ping_sent = 0;
	long dead_ms = s->command_ms * 3 > 3000 ? s->command_ms * 3 : 3000;

	for (;;) {
		struct pollfd p[2] = {
			{ .fd = c->fd, .events = POLLIN },
			{ .fd = s->wake[0], .events = POLLIN },
		};
		void *r;
		int64_t now;

		/* Replies already buffered (read along with an earlier one) first. */
		for (;;) {
			r = NULL;
			if (redisGetReplyFromReader(c, &r) != REDIS_OK) {
				snprintf(err, errlen, "%s", c->errstr);
				return;
			}
			if (!r)
				break;
			handle_invalidation(s, r);
			freeReplyObject(r);
			last_rx = now_ms();
			ping_sent = 0;
		}
		if (poll(p, 2, 250) < 0 && errno != EINTR) {
			snprintf(err, errlen, "poll: %s", strerror(errno));
			return;
		}
		if (atomic_load(&s->stop))
			return;
		if (s->sentinel && should_move(s, err, errlen))
			return;
		if (p[0].revents && redisBufferRead(c) != REDIS_OK) {
			snprintf(err, errlen, "%s", c->errstr[0] ? c->errstr : "connection closed");
			return;
		}
		now = now_ms();
		if (ping_sent && now - ping_sent > dead_ms) {
			snprintf(err, errlen, "no answer to PING for %ld ms", dead_ms);
			return;
		}
		/* Keepalive: a half-open connection would silently lose invalidations. */
		if (!ping_sent && now - last_rx >= SUB_PING_MS) {
			const char *a[] = { "PING" };
			int done = 0;

			if (append(s, c, 1, a, NULL) < 0) {
				snprintf(err, errlen, "out of memory");
				return;
			}
			while (!done)
				if (redisBufferWrite(c, &done) != REDIS_OK) {
					snprintf(err, errlen, "%s", c->errstr);
					return;
				}
			ping_sent = now;
		}
	}
}

static void sub_first_done(struct hm_store *s)
{
	pthread_mutex_lock(&s->sub_mtx);
	s->sub_first_done = true;
	pthread_cond_broadcast(&s->sub_cv);
	pthread_mutex_unlock(&s->sub_mtx);
}

static void *sub_main(void *arg)
{
	struct hm_store *s = arg;
	long retry = 0;		/* a lost subscription is retried at once */

	while (!atomic_load(&s->stop)) {
		char err[256];
		redisContext *c = NULL;
		long long id = 0;
		int r = sub_connect(s, &c, &id, err, sizeof(err));

		/*
		 * With sentinels, a server that cannot be reached is not an
		 * outage yet: from the primary, try the replica again; from
		 * the replica, the primary the sentinels name now.
		 */
		if (r == -1 && s->sentinel && target_is_primary(s)) {
			target_use_replica(s);
			r = sub_connect(s, &c, &id, err, sizeof(err));
		}
		if (r == -1 && s->sentinel) {
			char why[256];

			s->replica_probe_ms = now_ms();
			if (target_use_primary(s, why, sizeof(why)) == 0)
				r = sub_connect(s, &c, &id, err, sizeof(err));
			else
				hm_log(HM_LOG_DEBUG, "redis sentinel: no primary: %s", why);
		}
		if (r < 0) {
			if (r == -1)
				set_down(s, err);
			else if (!s->sub_refused_logged) {
				s->sub_refused_logged = true;
				hm_log(HM_LOG_WARNING, "redis %s: no invalidation (%s); every "
					"lookup goes to Redis", s->where, err);
			}
			sub_first_done(s);
			if (!sub_sleep(s, retry))
				break;
			retry = retry == 0 ? SUB_RETRY_MIN_MS
				: retry * 2 > SUB_RETRY_MAX_MS ? SUB_RETRY_MAX_MS : retry * 2;
			continue;
		}
		retry = 0;
		/* A new session: everything read before must be read again. */
		pthread_mutex_lock(&s->track_mtx);
		atomic_store(&s->track, ((track_epoch(atomic_load(&s->track)) + 1) << 1) | 1);
		s->sub_id = id;
		pthread_mutex_unlock(&s->track_mtx);
		set_up(s);
		sub_first_done(s);

		sub_loop(s, c, err, sizeof(err));

		pthread_mutex_lock(&s->track_mtx);
		atomic_store(&s->track, (track_epoch(atomic_load(&s->track)) + 1) << 1);
		pthread_mutex_unlock(&s->track_mtx);
		redisFree(c);
		if (!atomic_load(&s->stop))
			hm_log(HM_LOG_DEBUG, "redis %s: invalidation connection lost: %s",
				s->where, err);
	}
	return NULL;
}

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
		r = append(s, c, 2, argv, lens);
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
	int64_t now = now_ms();
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
 * Pass 2: every distinct miss in one exchange, unless Redis is known down.
 * true when Redis answered: m[].reply holds the replies then, and *epoch_r
 * the tracking session they were read under (0: untracked).
 */
static bool fetch_misses(struct hm_store *s, struct miss *m, size_t nm, size_t nuniq,
	uint64_t *epoch_r)
{
	int64_t deadline = now_ms() + s->command_ms;
	redisReply **rep;
	struct conn *k;
	struct fetch f = { .m = m, .n = nm };
	bool fetched = false;
	char err[256];

	*epoch_r = 0;
	if (!may_try(s) || !(rep = calloc(nuniq, sizeof(*rep))))
		return false;
	if (!(k = pool_get(s, deadline))) {
		hm_log(HM_LOG_DEBUG, "redis %s: no free connection within %ld ms",
			s->where, s->command_ms);
		free(rep);
		return false;
	}
	if (run_batch(s, k, build_fetch, &f, rep, nuniq, deadline, epoch_r,
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
				conn_close(k);
			}
		}
	}
	pool_put(s, k);
	if (fetched)
		set_up(s);
	else
		set_down(s, err);
	free(rep);
	return fetched;
}

/* Pass 3, Redis answered: each distinct reply as a value, cached. */
static void store_replies(struct hm_store *s, struct miss *m, size_t nm,
	struct hm_rvalue **got, uint64_t epoch, uint64_t flush_seq, uint64_t req_seq)
{
	int64_t now = now_ms();
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
	return append(s, c, 1, a, NULL) < 0 ? -1 : 1;
}

int hm_store_check(struct hm_store *s, char *err, size_t errlen)
{
	int64_t deadline = now_ms() + s->command_ms;
	struct conn *k = pool_get(s, deadline);
	redisReply *rep = NULL;
	uint64_t epoch;
	int rc = -1;

	if (!k) {
		snprintf(err, errlen, "no free connection within %ld ms", s->command_ms);
		return -1;
	}
	if (run_batch(s, k, build_ping, NULL, &rep, 1, deadline, &epoch, err, errlen) == 0) {
		if (rep->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s", rep->str);
			conn_close(k);
		} else {
			rc = 0;
		}
		freeReplyObject(rep);
	}
	pool_put(s, k);
	if (rc == 0)
		set_up(s);
	else
		set_down(s, err);
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
	out->host = conf->host && *conf->host ? conf->host : "127.0.0.1";
	out->unix_path = conf->unix_path && *conf->unix_path ? conf->unix_path : NULL;
	out->password = conf->password && *conf->password ? conf->password : NULL;
	out->prefix = conf->prefix && *conf->prefix ? conf->prefix : "hm:";
	out->port = conf->port ? conf->port : 6379;
	out->connect_timeout_ms = conf->connect_timeout_ms ? conf->connect_timeout_ms : 1000;
	out->command_timeout_ms = conf->command_timeout_ms ? conf->command_timeout_ms : 500;
	out->cache_ttl_ms = conf->cache_ttl_ms ? conf->cache_ttl_ms : 60000;
	out->pool_size = conf->pool_size ? conf->pool_size : 4;
	out->cache_max = conf->cache_max ? conf->cache_max : 100000;
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
	if ((errno = pthread_create(&s->sub_thread, NULL, sub_main, s)) != 0) {
		snprintf(err, errlen, "redis: cannot start the invalidation thread: %s",
			strerror(errno));
		hm_store_free(&s);
		return -1;
	}
	s->sub_started = true;
	if (s->sentinel && hm_sentinel_watch(s->sentinel, target_switched, s) < 0) {
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
		conn_close(&s->pool[i]);
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
