/*
 * store-int.h - what the policy store's files share (store.c, store-wire.c,
 * store-track.c); nothing else includes it.  The public interface is
 * store.h.
 */
#ifndef HM_STORE_INT_H
#define HM_STORE_INT_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/time.h>
#include <time.h>

#include <hiredis/hiredis.h>

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
		connects, invalidations, errors;
	atomic_size_t refs;		/* hm_store_ref(); the last hm_store_free() frees */
};

static inline bool track_up(uint64_t track)
{
	return (track & 1) != 0;
}

static inline uint64_t track_epoch(uint64_t track)
{
	return track >> 1;
}

/* store-wire.c: time, up/down, where reads go, the wire, the pool. */
int64_t store_now_ms(void);
void store_set_down(struct hm_store *s, const char *why);
void store_set_up(struct hm_store *s);
bool store_target_is_primary(struct hm_store *s);
int store_target_use_primary(struct hm_store *s, char *err, size_t errlen);
void store_target_use_replica(struct hm_store *s, bool answers);
void store_target_switched(void *arg, const char *host, int port);
redisContext *store_connect_to(struct hm_store *s, bool configured, char *err, size_t errlen);
redisContext *store_dial(struct hm_store *s, char *err, size_t errlen);
int store_append(struct hm_store *s, redisContext *c, int argc, const char **argv,
	const size_t *lens);
int store_exchange(redisContext *c, size_t nrep, redisReply **rep, int64_t deadline,
	char *err, size_t errlen, bool *timeout_r);
struct conn *store_pool_get(struct hm_store *s, int64_t deadline);
void store_pool_put(struct hm_store *s, struct conn *k);
void store_conn_close(struct conn *k);
int store_run_batch(struct hm_store *s, struct conn *k,
	int (*build)(struct hm_store *, redisContext *, void *), void *arg,
	redisReply **rep, size_t nrep, int64_t deadline, uint64_t *epoch_r,
	char *err, size_t errlen);
bool store_may_try(struct hm_store *s);

/* store-track.c: the invalidation subscription's thread (its argument: the store). */
void *store_sub_main(void *arg);

#endif
