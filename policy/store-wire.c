/*
 * store-wire.c - the policy store's way to Redis: time helpers, the up/down
 * state and its log lines, where reads go (the configured server, or while
 * it is gone the primary the sentinels name), connecting, one pipelined
 * exchange bounded by a deadline (poll + hiredis' buffer functions, so a
 * slow Redis costs at most the command timeout, never a blocked thread),
 * and the pool of connections checked out by one thread at a time.
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

/* ---- time ---- */

int64_t store_now_ms(void)
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
		int64_t left = deadline - store_now_ms();
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

/* ---- up / down ---- */

void store_set_down(struct hm_store *s, const char *why)
{
	char msg[256];
	size_t n;

	/* Redis' own messages end with a period: not in the middle of our line. */
	snprintf(msg, sizeof(msg), "%s", why);
	for (n = strlen(msg); n > 0 && (msg[n - 1] == '.' || msg[n - 1] == ' '); n--)
		msg[n - 1] = '\0';
	atomic_fetch_add_explicit(&s->errors, 1, memory_order_relaxed);
	atomic_store(&s->last_probe_ms, store_now_ms());	/* next try in a second */
	if (atomic_exchange(&s->state, 0) != 0)
		hm_log(HM_LOG_WARNING, "redis %s unavailable: %s; using cached policy, "
			"then defaults, until it is back", s->where, msg);
}

void store_set_up(struct hm_store *s)
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
bool store_target_is_primary(struct hm_store *s)
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
int store_target_use_primary(struct hm_store *s, char *err, size_t errlen)
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

/* Read from the configured server again; say so when it is known to answer. */
void store_target_use_replica(struct hm_store *s, bool answers)
{
	pthread_mutex_lock(&s->target_mtx);
	s->on_primary = false;
	pthread_mutex_unlock(&s->target_mtx);
	if (answers)
		hm_log(HM_LOG_NOTICE, "redis %s answers: reading from it again", s->where);
}

/* The sentinels' watcher: a failover while we read from the old primary. */
void store_target_switched(void *arg, const char *host, int port)
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

redisContext *store_connect_to(struct hm_store *s, bool configured, char *err, size_t errlen)
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
	/* A backstop: store_exchange() itself polls against a deadline. */
	if (redisSetTimeout(c, ms_tv(s->command_ms)) != REDIS_OK) {
		snprintf(err, errlen, "connect %s: cannot set timeout: %s", where, c->errstr);
		redisFree(c);
		return NULL;
	}
	return c;
}

/* A connection to where reads go now. */
redisContext *store_dial(struct hm_store *s, char *err, size_t errlen)
{
	return store_connect_to(s, false, err, errlen);
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

int store_append(struct hm_store *s, redisContext *c, int argc, const char **argv,
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
int store_exchange(redisContext *c, size_t nrep, redisReply **rep, int64_t deadline,
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
		if (store_append(s, c, 2, a, NULL) < 0)
			return -1;
		n++;
	}
	if (s->db != 0) {
		const char *a[] = { "SELECT", num };
		snprintf(num, sizeof(num), "%d", s->db);
		if (store_append(s, c, 2, a, NULL) < 0)
			return -1;
		n++;
	}
	if (track_id >= 0) {
		const char *a[] = { "CLIENT", "TRACKING", "on", "REDIRECT", num,
			"BCAST", "PREFIX", s->prefix };
		snprintf(num, sizeof(num), "%lld", track_id);
		if (store_append(s, c, 8, a, NULL) < 0)
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

struct conn *store_pool_get(struct hm_store *s, int64_t deadline)
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

void store_pool_put(struct hm_store *s, struct conn *k)
{
	pthread_mutex_lock(&s->pool_mtx);
	k->busy = false;
	pthread_cond_signal(&s->pool_cv);
	pthread_mutex_unlock(&s->pool_mtx);
}

void store_conn_close(struct conn *k)
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
int store_run_batch(struct hm_store *s, struct conn *k,
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
			store_conn_close(k);	/* its redirect points at an old subscriber */
		if (!k->c) {
			int64_t t0 = store_now_ms();

			if (!(k->c = store_dial(s, err, errlen)))
				return -1;
			deadline += store_now_ms() - t0;	/* the connect has its own budget */
			atomic_fetch_add(&s->connects, 1);
			fresh = true;
			if ((nsetup = append_setup(s, k->c, track_id)) < 0)
				goto oom;
		}
		int nb = build(s, k->c, arg);
		if (nb < 0 || (size_t)nb != nrep)
			goto oom;
		if (nsetup > 0 && store_exchange(k->c, (size_t)nsetup, setup, deadline,
				err, errlen, &slow) < 0) {
			store_conn_close(k);
			return -1;
		}
		if (nsetup > 0) {
			int r = check_setup(s, setup, nsetup, &tracked, err, errlen);
			for (int i = 0; i < nsetup; i++)
				freeReplyObject(setup[i]);
			if (r < 0) {
				store_conn_close(k);
				return -1;
			}
			k->epoch = tracked ? epoch : 0;
		}
		atomic_fetch_add(&s->round_trips, 1);
		if (store_exchange(k->c, nrep, rep, deadline, err, errlen, &slow) == 0) {
			*epoch_r = k->epoch;
			return 0;
		}
		store_conn_close(k);
		if (fresh || slow)
			return -1;
		/* An idle socket found closed fails at once: the budget is left. */
	}
	return -1;
oom:
	snprintf(err, errlen, "out of memory");
	store_conn_close(k);
	return -1;
}

/* While down, callers try Redis at most once per PROBE_INTERVAL_MS between them. */
bool store_may_try(struct hm_store *s)
{
	long long last, now;

	if (atomic_load(&s->state) != 0)
		return true;
	now = store_now_ms();
	last = atomic_load(&s->last_probe_ms);
	if (now - last < PROBE_INTERVAL_MS)
		return false;
	return atomic_compare_exchange_strong(&s->last_probe_ms, &last, now);
}

