/*
 * dns-cache.c - answers remembered in front of libunbound (see dns-cache.h).
 *
 * An entry is one allocation: the records' lengths, the key, the answer
 * packet, the records' data.  A copy handed out is one allocation too (the answer
 * struct, its arrays and the bytes), so hm_dns_answer_free() frees it
 * with one free().
 */
#include "config.h"

#include <ctype.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "scoring/dns-cache.h"

#define STRIPES 64
#define NAME_MAX_LEN 255

struct entry {
	size_t size;			/* the allocation, for the budget */
	uint64_t hash;
	int rrtype;
	time_t expires;			/* CLOCK_MONOTONIC seconds */
	enum hm_dns_status status;
	int rcode;
	size_t count;
	size_t packet_len;
	size_t name_len;
	/* then: count record lengths (size_t, first: aligned), the name,
	 * the packet, the records */
	unsigned char bytes[];
};

struct hm_dns_cache {
	pthread_mutex_t locks[STRIPES];
	struct entry *slots[HM_DNS_CACHE_SLOTS];
	atomic_size_t bytes;		/* held by the entries, about */
};

static time_t now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec;
}

/* The key: lower-cased, no final dot.  false when the name is too long. */
static bool make_key(const char *name, char *key, size_t *len_r, uint64_t *hash_r, int rrtype)
{
	uint64_t h = 1469598103934665603ull ^ (uint64_t)rrtype;
	size_t n = strlen(name);

	if (n > 0 && name[n - 1] == '.')
		n--;
	if (n > NAME_MAX_LEN)
		return false;
	for (size_t i = 0; i < n; i++) {
		key[i] = (char)tolower((unsigned char)name[i]);
		h = (h ^ (unsigned char)key[i]) * 1099511628211ull;
	}
	*len_r = n;
	*hash_r = h;
	return true;
}

struct hm_dns_cache *hm_dns_cache_new(void)
{
	struct hm_dns_cache *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_init(&c->locks[i], NULL);
	return c;
}

void hm_dns_cache_free(struct hm_dns_cache **cp)
{
	struct hm_dns_cache *c = *cp;

	if (c == NULL)
		return;
	for (size_t i = 0; i < HM_DNS_CACHE_SLOTS; i++)
		free(c->slots[i]);
	for (int i = 0; i < STRIPES; i++)
		pthread_mutex_destroy(&c->locks[i]);
	free(c);
	*cp = NULL;
}

/* Free an entry taken out of its slot (NULL allowed). */
static void drop(struct hm_dns_cache *c, struct entry *e)
{
	if (e == NULL)
		return;
	atomic_fetch_sub_explicit(&c->bytes, e->size, memory_order_relaxed);
	free(e);
}

static const size_t *entry_lens(const struct entry *e)
{
	return (const size_t *)(const void *)e->bytes;
}

static const unsigned char *entry_name(const struct entry *e)
{
	return e->bytes + e->count * sizeof(size_t);
}

/* Under the lock: the answer of e, one allocation; NULL: out of memory. */
static struct hm_dns_answer *copy_out(const struct entry *e, time_t now)
{
	const size_t *lens = entry_lens(e);
	size_t data_bytes = 0, size;
	struct hm_dns_answer *a;
	const unsigned char *src;
	unsigned char *dst;
	const unsigned char **data;
	size_t *len;

	for (size_t i = 0; i < e->count; i++)
		data_bytes += lens[i];
	size = sizeof(*a) + (e->count + 1) * (sizeof(*data) + sizeof(*len)) +
	       e->packet_len + data_bytes;
	if ((a = calloc(1, size)) == NULL)
		return NULL;
	data = (const unsigned char **)(void *)(a + 1);
	len = (size_t *)(void *)(data + e->count + 1);
	dst = (unsigned char *)(len + e->count + 1);
	a->single_block_ = true;
	a->status = e->status;
	a->rcode = e->rcode;
	a->ttl = (int)(e->expires - now);
	a->count = e->count;
	src = entry_name(e) + e->name_len;
	memcpy(dst, src, e->packet_len);
	a->packet = dst;
	a->packet_len = e->packet_len;
	dst += e->packet_len;
	src += e->packet_len;
	for (size_t i = 0; i < e->count; i++) {
		memcpy(dst, src, lens[i]);
		data[i] = dst;
		len[i] = lens[i];
		dst += lens[i];
		src += lens[i];
	}
	a->data = e->count > 0 ? data : NULL;
	a->len = len;
	return a;
}

struct hm_dns_answer *hm_dns_cache_get(struct hm_dns_cache *c, const char *name, int rrtype)
{
	char key[NAME_MAX_LEN];
	struct hm_dns_answer *a = NULL;
	struct entry *e;
	uint64_t hash;
	size_t klen, slot;
	time_t now;

	if (c == NULL || !make_key(name, key, &klen, &hash, rrtype))
		return NULL;
	slot = hash % HM_DNS_CACHE_SLOTS;
	now = now_s();
	pthread_mutex_lock(&c->locks[slot % STRIPES]);
	e = c->slots[slot];
	if (e != NULL && e->expires <= now) {
		drop(c, e);
		c->slots[slot] = e = NULL;
	}
	if (e != NULL && e->hash == hash && e->rrtype == rrtype && e->name_len == klen &&
	    memcmp(entry_name(e), key, klen) == 0)
		a = copy_out(e, now);
	pthread_mutex_unlock(&c->locks[slot % STRIPES]);
	return a;
}

void hm_dns_cache_put(struct hm_dns_cache *c, const char *name, int rrtype,
		      const struct hm_dns_answer *a)
{
	char key[NAME_MAX_LEN];
	size_t klen, slot, data_bytes = 0, size;
	struct entry *e, *old;
	unsigned char *dst;
	uint64_t hash;
	size_t *lens;

	if (c == NULL || a == NULL || a->status == HM_DNS_TEMPFAIL || a->ttl <= 0 ||
	    a->packet_len > HM_DNS_CACHE_MAX_PACKET || (a->count > 0 && a->len == NULL) ||
	    !make_key(name, key, &klen, &hash, rrtype))
		return;
	for (size_t i = 0; i < a->count; i++)
		data_bytes += a->len[i];
	if (data_bytes > HM_DNS_CACHE_MAX_PACKET)
		return;
	size = sizeof(*e) + klen + a->packet_len + a->count * sizeof(size_t) + data_bytes;
	if (atomic_load_explicit(&c->bytes, memory_order_relaxed) + size > HM_DNS_CACHE_MAX_BYTES)
		return;		/* full: what is kept stays until it expires or is replaced */
	if ((e = malloc(size)) == NULL)
		return;
	e->size = size;
	e->hash = hash;
	e->rrtype = rrtype;
	e->expires = now_s() + (a->ttl < HM_DNS_CACHE_MAX_TTL ? a->ttl : HM_DNS_CACHE_MAX_TTL);
	e->status = a->status;
	e->rcode = a->rcode;
	e->count = a->count;
	e->packet_len = a->packet_len;
	e->name_len = klen;
	lens = (size_t *)(void *)e->bytes;
	dst = e->bytes + a->count * sizeof(size_t);
	memcpy(dst, key, klen);
	dst += klen;
	if (a->packet_len > 0)
		memcpy(dst, a->packet, a->packet_len);
	dst += a->packet_len;
	for (size_t i = 0; i < a->count; i++) {
		lens[i] = a->len[i];
		memcpy(dst, a->data[i], a->len[i]);
		dst += a->len[i];
	}
	slot = hash % HM_DNS_CACHE_SLOTS;
	pthread_mutex_lock(&c->locks[slot % STRIPES]);
	old = c->slots[slot];
	c->slots[slot] = e;
	pthread_mutex_unlock(&c->locks[slot % STRIPES]);
	atomic_fetch_add_explicit(&c->bytes, size, memory_order_relaxed);
	drop(c, old);
}
