/*
 * features.c - the keyed feature hash and the per-message feature set.
 */
#include "config.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/features.h"


#include <endian.h>

static inline uint64_t load_le64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof(v));
	return le64toh(v);
}

static inline uint64_t load_le32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, sizeof(v));
	return le32toh(v);
}

/*
 * The last 1 to 7 bytes as one word, without a byte loop: two overlapping
 * 4-byte loads, or three single bytes (the length is hashed separately, so
 * the overlap cannot make two strings of different lengths collide).
 */
static inline uint64_t load_tail(const unsigned char *p, size_t len)
{
	if (len >= 4)
		return load_le32(p) | load_le32(p + len - 4) << 32;
	return (uint64_t)p[0] | (uint64_t)p[len >> 1] << 8 | (uint64_t)p[len - 1] << 16;
}

void hm_fkey_init(struct hm_fkey *k, const unsigned char key[HM_CLS_KEY_LEN])
{
	/* Odd multipliers: a key of zeros still mixes. */
	k->k0 = load_le64(key) ^ 0xa0761d6478bd642full;
	k->k1 = load_le64(key + 8) ^ 0xe7037ed1a0b428dbull;
	k->k1 |= 1;
}

uint64_t hm_fhash(const struct hm_fkey *k, enum hm_ns ns, const void *s, size_t len)
{
	const unsigned char *p = s;
	uint64_t h = k->k0 ^ ((uint64_t)ns << 56) ^ len;

	for (; len >= 8; p += 8, len -= 8)
		h = hm_fmix(h ^ load_le64(p), k->k1 ^ 0x8ebc6af09c88c6e3ull);
	if (len)
		h = hm_fmix(h ^ load_tail(p, len), k->k1 ^ 0x589965cc75374cc3ull);
	return hm_fmix(h ^ k->k0, 0x1d8e4e27c47d124full);
}

/*
 * De-duplication is a bitmap over the buckets (128 KiB): one test-and-set
 * per feature, without the unpredictable probing of a hash table.  Clearing
 * 128 KiB per message would cost more than the message, so a set clears
 * only its own bits when done and gives the bitmap back to a pool, from
 * which the next message takes it: as many bitmaps as messages in flight.
 */
#define BITMAP_WORDS (HM_CLS_BUCKETS / 64)
#define POOL_MAX 256			/* bitmaps kept for reuse; more are freed */

static pthread_mutex_t pool_lock = PTHREAD_MUTEX_INITIALIZER;
static uint64_t *pool[POOL_MAX];
static size_t pool_n;

static uint64_t *bitmap_get(void)
{
	uint64_t *b = NULL;

	pthread_mutex_lock(&pool_lock);
	if (pool_n > 0)
		b = pool[--pool_n];
	pthread_mutex_unlock(&pool_lock);
	return b ? b : calloc(BITMAP_WORDS, sizeof(uint64_t));
}

static void bitmap_put(uint64_t *b)
{
	pthread_mutex_lock(&pool_lock);
	if (pool_n < POOL_MAX) {
		pool[pool_n++] = b;
		b = NULL;
	}
	pthread_mutex_unlock(&pool_lock);
	free(b);
}

void hm_fset_pool_drain(void)
{
	pthread_mutex_lock(&pool_lock);
	while (pool_n > 0)
		free(pool[--pool_n]);
	pthread_mutex_unlock(&pool_lock);
}

#define IDX_START 1024

int hm_fset_init(struct hm_fset *s)
{
	memset(s, 0, sizeof(*s));
	s->bits = bitmap_get();
	s->idx = malloc(IDX_START * sizeof(*s->idx));
	if (s->bits == NULL || s->idx == NULL) {
		hm_fset_free(s);
		return -1;
	}
	s->cap = IDX_START;
	return 0;
}

int hm_fset_grow(struct hm_fset *s)
{
	uint32_t *n;

	if (s->bits == NULL)
		return -1;
	if (s->cap >= HM_FSET_MAX) {
		s->full = true;
		return 0;
	}
	if ((n = realloc(s->idx, 2 * s->cap * sizeof(*n))) == NULL)
		return -1;
	s->idx = n;
	s->cap *= 2;
	return 0;
}

void hm_fset_free(struct hm_fset *s)
{
	if (s->bits) {
		/* Bit by bit for a few features; past that, one sweep of the
		 * bitmap is cheaper than as many scattered stores. */
		if (s->n < BITMAP_WORDS / 8)
			for (size_t i = 0; i < s->n; i++)
				s->bits[s->idx[i] >> 6] = 0;
		else
			memset(s->bits, 0, BITMAP_WORDS * sizeof(*s->bits));
		bitmap_put(s->bits);
	}
	free(s->idx);
	memset(s, 0, sizeof(*s));
}
