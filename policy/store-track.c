/*
 * store-track.c - the policy store's invalidation thread: it holds the
 * __redis__:invalidate subscription that every pooled connection's CLIENT
 * TRACKING redirects to, drops the cached keys Redis says changed, and
 * reconnects; each (re)connect starts a new session ("epoch"), which
 * distrusts everything read before.  With sentinels it also moves every
 * connection to the primary while the replica is gone, and back.
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
	redisContext *c = store_dial(s, err, errlen);
	redisReply *rep[3];
	size_t n = 0, i = 0;
	bool slow;
	int rc = 0;

	if (!c)
		return -1;
	if (s->password) {
		const char *a[] = { "AUTH", s->password };
		if (store_append(s, c, 2, a, NULL) < 0)
			goto oom;
		n++;
	}
	const char *id[] = { "CLIENT", "ID" }, *sub[] = { "SUBSCRIBE", SUB_CHANNEL };
	if (store_append(s, c, 2, id, NULL) < 0 || store_append(s, c, 2, sub, NULL) < 0)
		goto oom;
	n += 2;
	if (store_exchange(c, n, rep, store_now_ms() + s->command_ms, err, errlen, &slow) < 0) {
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
	int64_t now = store_now_ms();

	if (atomic_exchange(&s->retarget, false)) {
		snprintf(err, errlen, "the primary moved");
		return true;
	}
	if (!store_target_is_primary(s) || now - s->replica_probe_ms < REPLICA_PROBE_MS)
		return false;
	s->replica_probe_ms = now;
	char why[256];
	redisContext *c = store_connect_to(s, true, why, sizeof(why));
	redisReply *r = NULL;

	if (c && s->password)
		freeReplyObject(redisCommand(c, "AUTH %s", s->password));
	if (c && (r = redisCommand(c, "PING")) && r->type == REDIS_REPLY_STATUS) {
		freeReplyObject(r);
		redisFree(c);
		store_target_use_replica(s, true);
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
	int64_t last_rx = store_now_ms(), ping_sent = 0;
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
			last_rx = store_now_ms();
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
		now = store_now_ms();
		if (ping_sent && now - ping_sent > dead_ms) {
			snprintf(err, errlen, "no answer to PING for %ld ms", dead_ms);
			return;
		}
		/* Keepalive: a half-open connection would silently lose invalidations. */
		if (!ping_sent && now - last_rx >= SUB_PING_MS) {
			const char *a[] = { "PING" };
			int done = 0;

			if (store_append(s, c, 1, a, NULL) < 0) {
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

void *store_sub_main(void *arg)
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
		if (r == -1 && s->sentinel && store_target_is_primary(s)) {
			store_target_use_replica(s, false);
			r = sub_connect(s, &c, &id, err, sizeof(err));
			if (r == 0)
				hm_log(HM_LOG_NOTICE, "redis %s answers: reading from it again",
					s->where);
		}
		if (r == -1 && s->sentinel) {
			char why[256];

			s->replica_probe_ms = store_now_ms();
			if (store_target_use_primary(s, why, sizeof(why)) == 0)
				r = sub_connect(s, &c, &id, err, sizeof(err));
			else
				hm_log(HM_LOG_DEBUG, "redis sentinel: no primary: %s", why);
		}
		if (r < 0) {
			if (r == -1)
				store_set_down(s, err);
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
		store_set_up(s);
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

