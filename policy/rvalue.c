/*
 * rvalue.c - immutable, reference-counted values of Redis keys (rvalue.h).
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "policy/rvalue.h"

struct hm_rvalue *hm_rvalue_ref(struct hm_rvalue *v)
{
	atomic_fetch_add_explicit(&v->refs_, 1, memory_order_relaxed);
	return v;
}

void hm_rvalue_release(struct hm_rvalue **vp)
{
	struct hm_rvalue *v = *vp;

	*vp = NULL;
	if (!v || atomic_fetch_sub_explicit(&v->refs_, 1, memory_order_acq_rel) != 1)
		return;
	void *d = atomic_load_explicit(&v->derived, memory_order_acquire);
	if (d && v->derived_free)
		v->derived_free(d);
	free(v);	/* items and strings live in the same block */
}

void *hm_rvalue_derive(struct hm_rvalue *v,
	void *(*make)(const struct hm_rvalue *, void *arg), void *arg,
	void (*free_fn)(void *))
{
	void *cur = atomic_load_explicit(&v->derived, memory_order_acquire);
	void *mine, *expected = NULL;

	if (cur)
		return cur;
	mine = make(v, arg);
	if (!mine)
		return NULL;
	/*
	 * derived_free is written by the winner only, before it drops its
	 * reference; the last release (acq_rel on refs_) sees it.
	 */
	if (atomic_compare_exchange_strong_explicit(&v->derived, &expected, mine,
			memory_order_acq_rel, memory_order_acquire)) {
		v->derived_free = free_fn;
		return mine;
	}
	if (free_fn)
		free_fn(mine);
	return expected;
}

const char *hm_rvalue_hget(const struct hm_rvalue *v, const char *field)
{
	if (!v || v->type != HM_RV_HASH)
		return NULL;
	for (size_t i = 0; i + 1 < v->n; i += 2)
		if (strcmp(v->items[i], field) == 0)
			return v->items[i + 1];
	return NULL;
}

static bool has_nul(const redisReply *r)
{
	return memchr(r->str, '\0', r->len) != NULL;
}

/*
 * One block: the struct, the item pointers, the strings.  Items holding a
 * NUL byte cannot be C strings: a set drops such a member, a hash the pair,
 * a string is treated as absent (bad data never becomes another pattern).
 */
static struct hm_rvalue *rv_build(enum hm_rv_type type, redisReply **el, size_t nel)
{
	size_t n = 0, bytes = 0, step = type == HM_RV_HASH ? 2 : 1;
	struct hm_rvalue *v;
	char *p;

	for (size_t i = 0; i + step <= nel; i += step) {
		bool bad = false;
		for (size_t j = 0; j < step; j++)
			bad |= has_nul(el[i + j]);
		if (bad)
			continue;
		for (size_t j = 0; j < step; j++)
			bytes += el[i + j]->len + 1;
		n += step;
	}
	if (n == 0)
		type = HM_RV_NONE;
	v = calloc(1, sizeof(*v) + n * sizeof(char *) + bytes);
	if (!v)
		return NULL;
	v->type = type;
	v->n = n;
	v->items = (char **)(v + 1);
	atomic_init(&v->derived, NULL);
	atomic_init(&v->refs_, 1);
	p = (char *)(v->items + n);
	n = 0;
	for (size_t i = 0; i + step <= nel && type != HM_RV_NONE; i += step) {
		bool bad = false;
		for (size_t j = 0; j < step; j++)
			bad |= has_nul(el[i + j]);
		if (bad)
			continue;
		for (size_t j = 0; j < step; j++) {
			memcpy(p, el[i + j]->str, el[i + j]->len);
			p[el[i + j]->len] = '\0';
			v->items[n++] = p;
			p += el[i + j]->len + 1;
		}
	}
	return v;
}

struct hm_rvalue *hm_rvalue_from_reply(enum hm_rv_type type, const redisReply *r,
	bool *wrongtype_r)
{
	*wrongtype_r = false;
	if (r->type == REDIS_REPLY_ERROR) {
		if (strncmp(r->str, "WRONGTYPE", 9) != 0)
			return NULL;
		*wrongtype_r = true;
		return rv_build(HM_RV_NONE, NULL, 0);
	}
	if (type == HM_RV_STRING && r->type == REDIS_REPLY_STRING) {
		redisReply *one = (redisReply *)r;
		return rv_build(HM_RV_STRING, &one, 1);
	}
	if (type != HM_RV_STRING && r->type == REDIS_REPLY_ARRAY) {
		for (size_t i = 0; i < r->elements; i++)
			if (r->element[i]->type != REDIS_REPLY_STRING)
				return rv_build(HM_RV_NONE, NULL, 0);
		return rv_build(type, r->element, r->elements);
	}
	return rv_build(HM_RV_NONE, NULL, 0);	/* nil: no such key */
}
