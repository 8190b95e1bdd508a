/*
 * cache.h - the policy store's in-process cache of Redis values.
 *
 * Keys are spread over shards by their hash; each shard is a hash table and
 * a second-chance list under its own mutex (a hit only sets a bit, no list
 * move), holding at most its share of the cache's size.  An entry is
 * trusted ("fresh") only when it was read under the caller's current
 * tracking session ("epoch", non-zero) and is younger than the TTL; other
 * entries are kept as the fallback for an outage.
 *
 * The race the cache closes: a value read from Redis while an invalidation
 * of its key is on the way must not be stored as trusted.  A lookup that
 * misses records the key's stripe counter (bumped by every invalidation of
 * a key of that stripe) in its probe; the caller reads the flush counter
 * before its lookups; hm_cache_store() stores the value as trusted only if
 * neither moved since.  A value never replaces one read by a later request
 * (req_seq).
 *
 * Thread-safe: every function may be called from any thread, except
 * hm_cache_free().
 */
#ifndef HM_CACHE_H
#define HM_CACHE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/rvalue.h"

struct hm_cache;

/* What a miss saw of its key, for hm_cache_store(). */
struct hm_cache_probe {
	uint64_t hash;
	uint64_t stripe_seq;
};

/* A cache of at most max entries, trusted for ttl_ms; NULL if out of memory. */
struct hm_cache *hm_cache_new(size_t max, long ttl_ms);
void hm_cache_free(struct hm_cache **c);

/* The flush counter: read it before a batch of lookups. */
uint64_t hm_cache_flush_seq(const struct hm_cache *c);

/*
 * A fresh value of the key (a reference for the caller), or NULL: then
 * *probe is filled and *stale_r holds the untrusted value if there is one
 * (a reference too), else NULL.  epoch 0: nothing is fresh.
 */
struct hm_rvalue *hm_cache_lookup(struct hm_cache *c, const char *key, size_t len,
	enum hm_rv_type type, uint64_t epoch, int64_t now_ms, struct hm_cache_probe *probe,
	struct hm_rvalue **stale_r);

/*
 * Store v (the cache takes its own reference), read under session epoch
 * (0: untrusted) by request req_seq.  It is trusted only if no flush
 * happened since flush_seq and no invalidation of its stripe since the
 * probe.
 */
void hm_cache_store(struct hm_cache *c, const char *key, size_t len, enum hm_rv_type type,
	const struct hm_cache_probe *probe, struct hm_rvalue *v, uint64_t epoch,
	uint64_t flush_seq, uint64_t req_seq, int64_t now_ms);

/* Redis said the key changed: drop it, whatever type it was asked as. */
void hm_cache_invalidate(struct hm_cache *c, const char *key, size_t len);

/* Drop everything (FLUSHDB / FLUSHALL), bumping the flush counter first. */
void hm_cache_flush(struct hm_cache *c);

/* Fresh hits so far and entries now. */
void hm_cache_counts(struct hm_cache *c, uint64_t *hits, size_t *entries);

#endif
