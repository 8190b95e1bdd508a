/*
 * cache.c - the policy store's sharded cache of Redis values (cache.h).
 */
#include "config.h"

#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "policy/cache.h"

#define STRIPES 256			/* invalidation counters per shard */
#define MAX_BUCKETS (1u << 20)
#define MAX_SHARDS 16			/* power of 2 */
#define SHARD_MIN 64			/* entries per shard at least: small caches stay exact */

struct entry {
	struct entry *chain;
	uint64_t hash;
	size_t keylen;
	enum hm_rv_type type;		/* as asked: part of the identity */
	bool used;			/* hit since it last passed the list's tail */
	struct hm_rvalue *val;		/* the cache's reference */
	uint64_t epoch;			/* tracking session it was read under, 0: untrusted */
	uint64_t req_seq;		/* request that read it: later requests win */
	int64_t fetched_ms;
	struct entry *prev, *next;	/* newest first */
	char *key;			/* NUL-terminated, in the entry's own block */
};

/*
 * One shard of the cache.  Aligned to 64 bytes (allocated so) to keep two
 * threads' locks off one cache line.
 */
struct shard {
	pthread_mutex_t mtx;
	struct entry **buckets;
	size_t nbuckets, entries, max;
	struct entry lru;		/* list head */
	uint64_t hits;			/* fresh hits */
	uint64_t stripe_seq[STRIPES];
} __attribute__((aligned(64)));

struct hm_cache {
	struct shard *shards;
	size_t nshards;
	long ttl_ms;
	atomic_uint_least64_t flush_seq;
};

/* ---- one shard (callers hold its mtx) ---- */

static uint64_t hash_key(const char *k, size_t len)
{
	uint64_t h = 1469598103934665603ull;	/* FNV-1a */

	for (size_t i = 0; i < len; i++) {
		h ^= (unsigned char)k[i];
		h *= 1099511628211ull;
	}
	/* Mix the high bits too: they choose the shard and the stripe. */
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdull;
	h ^= h >> 33;
	return h;
}

static size_t stripe_of(uint64_t h)
{
	return (size_t)(h >> 56) % STRIPES;
}

static struct shard *shard_of(const struct hm_cache *c, uint64_t h)
{
	return &c->shards[(h >> 40) & (c->nshards - 1)];
}

static void lru_unlink(struct entry *e)
{
	e->prev->next = e->next;
	e->next->prev = e->prev;
}

static void lru_push(struct shard *sh, struct entry *e)
{
	e->next = sh->lru.next;
	e->prev = &sh->lru;
	sh->lru.next->prev = e;
	sh->lru.next = e;
}

static struct entry *find(struct shard *sh, const char *key, size_t len,
	enum hm_rv_type type, uint64_t h)
{
	for (struct entry *e = sh->buckets[h & (sh->nbuckets - 1)]; e; e = e->chain)
		if (e->hash == h && e->type == type && e->keylen == len &&
		    memcmp(e->key, key, len) == 0)
			return e;
	return NULL;
}

/* Unlink e from its bucket and the list, and free it. */
static void remove_entry(struct shard *sh, struct entry *e)
{
	struct entry **pp = &sh->buckets[e->hash & (sh->nbuckets - 1)];

	while (*pp != e)
		pp = &(*pp)->chain;
	*pp = e->chain;
	lru_unlink(e);
	sh->entries--;
	hm_rvalue_release(&e->val);
	free(e);
}

static void shard_flush(struct shard *sh)
{
	while (sh->lru.next != &sh->lru)
		remove_entry(sh, sh->lru.next);
}

/*
 * Store v unless an entry read by a later request is there.  Beyond the
 * shard's share, the oldest entry not hit since it was last looked at is
 * evicted (second chance: a hit one gets its bit cleared and goes back to
 * the front).
 */
static void put(struct shard *sh, const char *key, size_t len, enum hm_rv_type type,
	uint64_t h, struct hm_rvalue *v, uint64_t epoch, uint64_t req_seq, int64_t now)
{
	struct entry *e = find(sh, key, len, type, h);

	if (e) {
		if (e->req_seq > req_seq)
			return;
		hm_rvalue_release(&e->val);
		lru_unlink(e);
	} else {
		if (!(e = calloc(1, sizeof(*e) + len + 1)))
			return;		/* not cached: harmless */
		e->key = (char *)(e + 1);
		memcpy(e->key, key, len);
		e->key[len] = '\0';
		e->keylen = len;
		e->type = type;
		e->hash = h;
		e->chain = sh->buckets[h & (sh->nbuckets - 1)];
		sh->buckets[h & (sh->nbuckets - 1)] = e;
		sh->entries++;
	}
	e->val = hm_rvalue_ref(v);
	e->epoch = epoch;
	e->req_seq = req_seq;
	e->fetched_ms = now;
	e->used = false;
	lru_push(sh, e);
	while (sh->entries > sh->max) {
		struct entry *old = sh->lru.prev;

		if (old->used && old != e) {
			old->used = false;
			lru_unlink(old);
			lru_push(sh, old);
		} else {
			remove_entry(sh, old);
		}
	}
}

/* ---- the cache ---- */

/*
 * Split max between the shards: as many as keep SHARD_MIN entries each (a
 * small cache stays one exact list); the first ones get one more for the
 * remainder.
 */
struct hm_cache *hm_cache_new(size_t max, long ttl_ms)
{
	struct hm_cache *c = calloc(1, sizeof(*c));
	void *mem;
	size_t nb_max;

	if (!c)
		return NULL;
	c->ttl_ms = ttl_ms;
	atomic_init(&c->flush_seq, 0);
	for (c->nshards = 1; c->nshards < MAX_SHARDS && max / (c->nshards * 2) >= SHARD_MIN; )
		c->nshards <<= 1;
	if (posix_memalign(&mem, 64, c->nshards * sizeof(struct shard)) != 0) {
		free(c);
		return NULL;
	}
	memset(mem, 0, c->nshards * sizeof(struct shard));
	c->shards = mem;
	nb_max = MAX_BUCKETS / c->nshards;
	for (size_t i = 0; i < c->nshards; i++) {
		struct shard *sh = &c->shards[i];

		sh->max = max / c->nshards + (i < max % c->nshards);
		for (sh->nbuckets = 16; sh->nbuckets < sh->max && sh->nbuckets < nb_max; )
			sh->nbuckets <<= 1;
		sh->lru.next = sh->lru.prev = &sh->lru;
		pthread_mutex_init(&sh->mtx, NULL);
		if (!(sh->buckets = calloc(sh->nbuckets, sizeof(*sh->buckets)))) {
			c->nshards = i + 1;	/* what hm_cache_free() undoes */
			hm_cache_free(&c);
			return NULL;
		}
	}
	return c;
}

void hm_cache_free(struct hm_cache **cp)
{
	struct hm_cache *c = *cp;

	if (!c)
		return;
	for (size_t i = 0; c->shards && i < c->nshards; i++) {
		if (c->shards[i].buckets)
			shard_flush(&c->shards[i]);
		free(c->shards[i].buckets);
		pthread_mutex_destroy(&c->shards[i].mtx);
	}
	free(c->shards);
	free(c);
	*cp = NULL;
}

uint64_t hm_cache_flush_seq(const struct hm_cache *c)
{
	return atomic_load(&((struct hm_cache *)c)->flush_seq);
}

struct hm_rvalue *hm_cache_lookup(struct hm_cache *c, const char *key, size_t len,
	enum hm_rv_type type, uint64_t epoch, int64_t now, struct hm_cache_probe *probe,
	struct hm_rvalue **stale_r)
{
	uint64_t h = hash_key(key, len);
	struct shard *sh = shard_of(c, h);
	struct entry *e;
	struct hm_rvalue *v = NULL;

	*stale_r = NULL;
	pthread_mutex_lock(&sh->mtx);
	e = find(sh, key, len, type, h);
	if (e && epoch != 0 && e->epoch == epoch && now - e->fetched_ms < c->ttl_ms) {
		v = hm_rvalue_ref(e->val);
		e->used = true;
		sh->hits++;
	} else {
		if (e)
			*stale_r = hm_rvalue_ref(e->val);
		probe->hash = h;
		probe->stripe_seq = sh->stripe_seq[stripe_of(h)];
	}
	pthread_mutex_unlock(&sh->mtx);
	return v;
}

void hm_cache_store(struct hm_cache *c, const char *key, size_t len, enum hm_rv_type type,
	const struct hm_cache_probe *probe, struct hm_rvalue *v, uint64_t epoch,
	uint64_t flush_seq, uint64_t req_seq, int64_t now)
{
	struct shard *sh = shard_of(c, probe->hash);
	bool trusted;

	pthread_mutex_lock(&sh->mtx);
	/*
	 * Trusted only if no invalidation could have passed this value: a
	 * key's invalidation takes this lock, a flush bumps flush_seq before
	 * it empties the shards.
	 */
	trusted = epoch != 0 && flush_seq == atomic_load(&c->flush_seq) &&
		  probe->stripe_seq == sh->stripe_seq[stripe_of(probe->hash)];
	put(sh, key, len, type, probe->hash, v, trusted ? epoch : 0, req_seq, now);
	pthread_mutex_unlock(&sh->mtx);
}

void hm_cache_invalidate(struct hm_cache *c, const char *key, size_t len)
{
	uint64_t h = hash_key(key, len);
	struct shard *sh = shard_of(c, h);
	struct entry *e, *next;

	pthread_mutex_lock(&sh->mtx);
	sh->stripe_seq[stripe_of(h)]++;
	for (e = sh->buckets[h & (sh->nbuckets - 1)]; e; e = next) {
		next = e->chain;
		if (e->hash == h && e->keylen == len && memcmp(e->key, key, len) == 0)
			remove_entry(sh, e);
	}
	pthread_mutex_unlock(&sh->mtx);
}

void hm_cache_flush(struct hm_cache *c)
{
	atomic_fetch_add(&c->flush_seq, 1);
	for (size_t i = 0; i < c->nshards; i++) {
		pthread_mutex_lock(&c->shards[i].mtx);
		shard_flush(&c->shards[i]);
		pthread_mutex_unlock(&c->shards[i].mtx);
	}
}

void hm_cache_counts(struct hm_cache *c, uint64_t *hits, size_t *entries)
{
	*hits = 0;
	*entries = 0;
	for (size_t i = 0; i < c->nshards; i++) {
		pthread_mutex_lock(&c->shards[i].mtx);
		*hits += c->shards[i].hits;
		*entries += c->shards[i].entries;
		pthread_mutex_unlock(&c->shards[i].mtx);
	}
}
