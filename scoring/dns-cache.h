/*
 * dns-cache.h - answers remembered in front of libunbound (used by dns.c).
 *
 * libunbound caches too, but asking it costs three hand-overs between
 * threads per query (the asking thread, libunbound's worker, our reaper,
 * the asking thread again) and a dozen allocations, even when the answer
 * is in its cache; a message makes six to ten queries, mostly for the same
 * few names (the sender's SPF, DKIM key and DMARC records, the client's
 * reverse name).  This cache answers those in the asking thread.
 *
 * It keeps what a resolver may keep: answers that came with a TTL
 * (records, NODATA, NXDOMAIN), until that TTL runs out and for at most
 * HM_DNS_CACHE_MAX_TTL seconds; never a failure (SERVFAIL, time-out).
 * Names are compared without case and without a final dot.  Bounded:
 * HM_DNS_CACHE_SLOTS entries, a new answer replaces the one in its slot,
 * answers over HM_DNS_CACHE_MAX_PACKET bytes are not kept, and nothing
 * new is kept while the entries hold HM_DNS_CACHE_MAX_BYTES (8 MiB; a
 * sender with many large records cannot make the cache grow past it).  Safe for
 * any number of threads (the slots are locked in stripes).
 */
#ifndef HM_DNS_CACHE_H
#define HM_DNS_CACHE_H

#include "scoring/dns.h"

#define HM_DNS_CACHE_SLOTS 8192
#define HM_DNS_CACHE_MAX_TTL 3600
#define HM_DNS_CACHE_MAX_PACKET 4096
#define HM_DNS_CACHE_MAX_BYTES (8u << 20)

struct hm_dns_cache;

/* NULL when out of memory. */
struct hm_dns_cache *hm_dns_cache_new(void);
void hm_dns_cache_free(struct hm_dns_cache **c);

/*
 * A copy of the answer kept for (name, rrtype), its TTL what is left of
 * it, to free with hm_dns_answer_free(); NULL when there is none (or no
 * memory for the copy).
 */
struct hm_dns_answer *hm_dns_cache_get(struct hm_dns_cache *c, const char *name, int rrtype);

/* Keep a copy of an answer just received, if it may be kept (see above). */
void hm_dns_cache_put(struct hm_dns_cache *c, const char *name, int rrtype,
		      const struct hm_dns_answer *a);

#endif
