/*
 * store.h - policy values from Redis, through an in-process cache that
 * Redis itself keeps fresh (DESIGN §5.5).
 *
 * hm_store_get() answers from the cache when it can, and fetches every miss
 * of one call in ONE pipelined round trip (HGETALL / SMEMBERS / GET by the
 * type the caller asks for).  Freshness: a dedicated connection subscribes
 * to __redis__:invalidate and every pooled connection runs
 * "CLIENT TRACKING on BCAST PREFIX <prefix> REDIRECT <subscriber>", so an
 * edit made with redis-cli removes the cached value within milliseconds.
 * cache_ttl_ms is only a safety net.  While the invalidation connection is
 * down, cached values are not trusted: every lookup asks Redis.
 *
 * Outage (Redis stopped, slow, refusing AUTH): cached values are served,
 * even past their TTL or untrusted (stale beats server defaults); a key
 * never cached gets NULL and the call returns HM_STORE_FAILED - what to do
 * then (defaults or tempfail) is the caller's choice.  One warning line when
 * Redis goes away, one notice when it is back.  A background thread
 * reconnects; callers try at most one connect per second between them, so
 * an outage costs a message at most the connect + command timeouts, and
 * usually nothing (they fail at once).  After a reconnect every cached value
 * is re-read before it is trusted again, so edits made meanwhile are seen.
 *
 * Threads: every function may be called from any thread, except the
 * last hm_store_free(), which needs all callers gone.  hm_store_new() starts a
 * thread: call it after fork()ing into the background, not before.  Values are immutable and
 * reference-counted: a caller's reference stays valid after the store
 * evicted or invalidated the value, and after hm_store_free().
 */
#ifndef HM_STORE_H
#define HM_STORE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rvalue.h"

/*
 * The defaults of the settings, defined once: hosterra-milter.conf's
 * redis { } section writes its defaults from these, and the store takes
 * them for a field left zero.
 */
#define HM_STORE_HOST "127.0.0.1"
#define HM_STORE_PORT 6379
#define HM_STORE_PREFIX "hm:"
#define HM_STORE_CONNECT_TIMEOUT_MS 500
#define HM_STORE_COMMAND_TIMEOUT_MS 500
#define HM_STORE_POOL_SIZE 8
#define HM_STORE_CACHE_MAX 1000000
#define HM_STORE_CACHE_TTL_S 300

/*
 * Connection and cache settings.  Zero / NULL / "" take the default above;
 * the strings are copied by hm_store_new().
 */
struct hm_store_conf {
	const char *host;		/* HM_STORE_HOST */
	int port;			/* HM_STORE_PORT */
	const char *unix_path;		/* non-empty: this unix socket instead of TCP */
	const char *password;		/* NULL or "": no AUTH */
	int db;				/* SELECT, 0 (not sent) */
	long connect_timeout_ms;
	long command_timeout_ms;	/* one round trip, pool wait included */
	const char *prefix;		/* tracking uses BCAST PREFIX <prefix> */
	size_t pool_size;		/* connections, each used by one thread at a time */
	size_t cache_max;		/* entries (least recently used evicted) */
	long cache_ttl_ms;		/* safety net only */
	/*
	 * Redis Sentinel (nsentinels > 0): host/port or unix_path is the local
	 * replica; when it cannot be reached, reads go to the primary the
	 * sentinels name (followed through failovers), and back to the replica
	 * once it answers again (probed every few seconds).
	 */
	const char *const *sentinels;	/* "HOST:PORT" of each sentinel */
	size_t nsentinels;
	const char *sentinel_master;	/* the name they monitor the primary under */
	const char *sentinel_password;	/* NULL or "": none */
};


enum hm_store_status { HM_STORE_OK, HM_STORE_FAILED };
enum hm_rv_source {
	HM_SRC_CACHE,		/* from the cache (stale during an outage) */
	HM_SRC_REDIS,		/* fetched by this call */
	HM_SRC_NONE,		/* failed: no value */
};

struct hm_store_key {
	const char *key;		/* without the prefix */
	enum hm_rv_type type;		/* STRING, HASH or SET: the command used */
};

struct hm_store;

/*
 * Values of n keys.  vals[i] gets a reference the caller releases (an
 * HM_RV_NONE value for a missing key, and for a key of another type than
 * asked, which is logged) or NULL when Redis failed and the key was not
 * cached; src[i] (src may be NULL) says where it came from.  Returns
 * HM_STORE_FAILED if any vals[i] is NULL.  Blocks at most
 * command_timeout_ms, plus connect_timeout_ms when a connection has to be
 * made first.
 */
enum hm_store_status hm_store_get(struct hm_store *s,
	const struct hm_store_key *keys, size_t n,
	struct hm_rvalue **vals, enum hm_rv_source *src);

/*
 * Check the settings, start the invalidation thread and wait (bounded by the
 * timeouts) for its first connection.  Redis being unreachable is NOT an
 * error here: the store starts down, logs it and keeps trying.  0, or -1
 * with a message in err (bad settings, out of memory, thread creation).
 */
int hm_store_new(const struct hm_store_conf *conf, struct hm_store **s_r,
	char *err, size_t errlen);

/*
 * Another reference to s (which must be held), for a reloaded
 * configuration whose settings are the same (hm_store_same_conf()): the
 * cache and the connections carry over, so a reload during an outage does
 * not lose what was cached.  Returns s.
 */
struct hm_store *hm_store_ref(struct hm_store *s);

/* Whether s was made with these settings (defaults filled in as hm_store_new() does). */
bool hm_store_same_conf(const struct hm_store *s, const struct hm_store_conf *conf);

/*
 * Drop a reference and clear *s; the last one stops the thread and closes
 * everything.  NULL is fine.
 */
void hm_store_free(struct hm_store **s);

/* Redis answered at the last attempt. */
bool hm_store_up(const struct hm_store *s);

/*
 * Where reads go now, "HOST:PORT" or "unix:PATH", into buf; returns true
 * when that is the primary named by the sentinels (the replica was gone).
 */
bool hm_store_reading_from(struct hm_store *s, char *buf, size_t len);

/*
 * Talk to Redis now (connect if needed, PING): 0, or -1 with the reason in
 * err ("AUTH failed: WRONGPASS ...", "connect 127.0.0.1:6379: Connection
 * refused").  For start-up messages and tests.
 */
int hm_store_check(struct hm_store *s, char *err, size_t errlen);

/* Counters, for tests and the operator. */
struct hm_store_stats {
	uint64_t hits;			/* keys answered from the cache, fresh */
	uint64_t misses;		/* keys fetched from Redis */
	uint64_t stale;			/* keys answered from the cache during an outage */
	uint64_t failed;		/* keys with no value (outage, never cached) */
	uint64_t round_trips;		/* pipelined exchanges with Redis (lookups only) */
	uint64_t commands;		/* commands sent, connection set-up included */
	uint64_t connects;		/* pool connections made */
	uint64_t invalidations;		/* keys invalidated by Redis (flush: counted once) */
	uint64_t errors;		/* failed exchanges: connect, AUTH, time-out, error reply */
	size_t entries;			/* in the cache now */
	bool tracking;			/* invalidation connection up */
};
void hm_store_stats(struct hm_store *s, struct hm_store_stats *st);

#endif
