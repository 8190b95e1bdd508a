/*
 * features.h - the keyed feature hash and a message's set of distinct
 * feature indexes.
 *
 * A feature is a namespace (what kind of thing it is: a body 4-gram, a
 * Subject word, a URL host...) and a value; its index is a keyed 64-bit
 * hash of both, reduced to [0, HM_CLS_BUCKETS).  The hash is a
 * multiply-fold construction keyed by the model's 16-byte key: without the
 * key a sender cannot aim text at a bucket, and two installations' models
 * do not line up.  It runs for every character of a message: a 4-gram or
 * a pair costs about 1 ns, a word 3.5 ns, where SipHash-1-3 takes 8.5 to
 * 10 ns ("cls-eval --hash-bench").  Namespaces keep "viagra" in a Subject apart from
 * "viagra" in the body.
 *
 * A struct hm_fset keeps each index once (a bitmap over the buckets,
 * pooled between messages) and lists them in the order first seen, up to
 * HM_FSET_MAX: further features are dropped, memory is bounded.
 */
#ifndef HM_FEATURES_H
#define HM_FEATURES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scoring/classifier.h"

enum hm_ns {
	HM_NS_BIAS = 1,		/* one constant feature in every message */
	HM_NS_GRAM,		/* body character 4-grams */
	HM_NS_WORD,		/* body words */
	HM_NS_OSB,		/* body word pairs (orthogonal sparse bigrams) */
	HM_NS_SUBJ_GRAM,
	HM_NS_SUBJ_WORD,
	HM_NS_SUBJ_OSB,
	HM_NS_NAME_WORD,	/* From display name words */
	HM_NS_NAME,		/* the whole From display name */
	HM_NS_URL_HOST,
	HM_NS_URL_DOMAIN,	/* registered domain of a URL host */
	HM_NS_ATTACH,
	HM_NS_PART,
	HM_NS_HEADER,		/* curated header features, "key=value" */
	HM_NS_AUTH,		/* SPF/DKIM/DMARC verdicts */
	HM_NS_SHAPE,		/* counts and ratios, bucketed */
};

struct hm_fkey {
	uint64_t k0, k1;
};

void hm_fkey_init(struct hm_fkey *k, const unsigned char key[HM_CLS_KEY_LEN]);

/* 64-bit multiply, high and low halves folded: the mixing step. */
static inline uint64_t hm_fmix(uint64_t a, uint64_t b)
{
	unsigned __int128 r = (unsigned __int128)a * b;

	return (uint64_t)(r >> 64) ^ (uint64_t)r;
}

/* The keyed hash of a byte string in a namespace. */
uint64_t hm_fhash(const struct hm_fkey *k, enum hm_ns ns, const void *s, size_t len);

/* The keyed hash of a 64-bit value in a namespace (4-grams, pairs). */
static inline uint64_t hm_fhash64(const struct hm_fkey *k, enum hm_ns ns, uint64_t v)
{
	return hm_fmix(hm_fmix(v ^ k->k0 ^ (uint64_t)ns * 0x9e3779b97f4a7c15ull, k->k1),
		       0xbf58476d1ce4e5b9ull);
}

/* A hash's bucket. */
static inline uint32_t hm_fbucket(uint64_t h)
{
	return (uint32_t)(h >> (64 - HM_CLS_BITS));
}

#define HM_FSET_MAX 32768		/* distinct features kept per message */

struct hm_fset {
	uint64_t *bits;			/* HM_CLS_BUCKETS bits, those of idx[] set */
	uint32_t *idx;			/* distinct indexes, in order first seen */
	size_t n, cap;
	bool full;			/* HM_FSET_MAX reached, later ones dropped */
};

/* 0, or -1 when out of memory. */
int hm_fset_init(struct hm_fset *s);
/* Room for more indexes (or full set).  0, or -1 when out of memory. */
int hm_fset_grow(struct hm_fset *s);

/*
 * Add an index (kept once).  0, or -1 when out of memory.  Inline and
 * without a branch on "seen before", which is a coin toss for the CPU:
 * this runs for every character of a message.
 */
static inline int hm_fset_add(struct hm_fset *s, uint32_t idx)
{
	uint64_t *w, old;

	if (s->n == s->cap) {
		if (!s->full && hm_fset_grow(s) < 0)
			return -1;
		if (s->full)
			return 0;
	}
	idx &= HM_CLS_BUCKETS - 1;
	w = &s->bits[idx >> 6];
	old = *w;
	*w = old | 1ull << (idx & 63);
	s->idx[s->n] = idx;
	s->n += !(old >> (idx & 63) & 1);
	return 0;
}
/* Clears the bits it set and gives the bitmap back to the pool. */
void hm_fset_free(struct hm_fset *s);
/* Free the pooled bitmaps (at exit, for leak checkers). */
void hm_fset_pool_drain(void);

#endif
