/*
 * rvalue.h - the value of one Redis key, as the policy store hands it out.
 *
 * A value is immutable and reference-counted, one allocation holding its
 * items and their strings, so that the cache, a lookup in flight and the
 * compiled data derived from it (a pattern list) share it without copies.
 * A caller's reference stays valid after the cache evicted or invalidated
 * the value.  hm_rvalue_from_reply() turns a reply to GET / HGETALL /
 * SMEMBERS into a value; it is the only place that reads Redis replies into
 * policy data, so bad data is handled once: items holding a NUL byte are
 * dropped (a set member, a hash pair) or make a string absent.
 */
#ifndef HM_RVALUE_H
#define HM_RVALUE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>

enum hm_rv_type { HM_RV_NONE, HM_RV_STRING, HM_RV_HASH, HM_RV_SET };

/* An immutable, reference-counted value of one key. */
struct hm_rvalue {
	enum hm_rv_type type;		/* HM_RV_NONE: the key does not exist */
	size_t n;			/* items */
	char **items;			/* STRING: 1 item; HASH: field,value,...; SET: members */
	/* Derived data compiled once by a user of the value (e.g. a struct
	 * hm_patlist), freed with the value: see hm_rvalue_derive(). */
	_Atomic(void *) derived;
	void (*derived_free)(void *);
	/* private */
	atomic_size_t refs_;
};

/* Another reference to v (which must be held); returns v. */
struct hm_rvalue *hm_rvalue_ref(struct hm_rvalue *v);

/* Drop a reference and clear *v; NULL is fine.  The last one frees. */
void hm_rvalue_release(struct hm_rvalue **v);

/*
 * Attach derived data once.  If nothing is attached yet, make(v, arg) builds
 * it and a compare-and-swap attaches it; a thread that loses the race frees
 * its own with free_fn and uses the winner's.  Returns the attached pointer,
 * or NULL if make() returned NULL (nothing attached; try again later).
 * The caller must hold a reference to v.
 */
void *hm_rvalue_derive(struct hm_rvalue *v,
	void *(*make)(const struct hm_rvalue *, void *arg), void *arg,
	void (*free_fn)(void *));

/* HASH: the value of field, or NULL (also for other types). */
const char *hm_rvalue_hget(const struct hm_rvalue *v, const char *field);

struct redisReply;

/*
 * The value of one reply to GET (STRING), HGETALL (HASH) or SMEMBERS (SET):
 * HM_RV_NONE for nil, an empty array or an unexpected shape, and for a
 * WRONGTYPE error (*wrongtype_r set); NULL for another error reply or out
 * of memory.  The caller owns the reference.
 */
struct hm_rvalue *hm_rvalue_from_reply(enum hm_rv_type type, const struct redisReply *r,
	bool *wrongtype_r);

#endif
