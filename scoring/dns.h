/*
 * dns.h - the one DNS resolver every check uses (libunbound).
 *
 * One struct hm_dns per process, shared by all threads: libunbound's context
 * is thread-safe and caches answers (bounded by the TTLs it receives).
 * Queries run asynchronously in libunbound's background thread; a thread of
 * ours starts one with hm_dns_start() and collects it with hm_dns_wait(),
 * which never waits past the query's deadline.  Starting several queries
 * before waiting for any lets lookups overlap (e.g. at connect time);
 * hm_dns_lookup() is the start-and-wait shorthand.
 *
 * Results are three-valued, Postfix style: found (HM_DNS_OK), does not exist
 * (HM_DNS_NXDOMAIN, HM_DNS_NODATA), or failed, try later (HM_DNS_TEMPFAIL:
 * SERVFAIL, REFUSED, time-out, out of memory).  A caller turns TEMPFAIL into
 * its check's temperror, never into a rejection.
 *
 * Ownership: an answer belongs to the caller and is released with
 * hm_dns_answer_free(&ans).  A query started must be waited for exactly
 * once (hm_dns_wait() releases the query handle whatever it returns).
 */
#ifndef HM_DNS_H
#define HM_DNS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* RR types used by the checks (host order). */
enum {
	HM_DNS_A = 1,
	HM_DNS_NS = 2,
	HM_DNS_CNAME = 5,
	HM_DNS_PTR = 12,
	HM_DNS_MX = 15,
	HM_DNS_TXT = 16,
	HM_DNS_AAAA = 28,
	HM_DNS_SPF = 99,
};

enum hm_dns_status {
	HM_DNS_OK = 0,		/* records of the type asked for */
	HM_DNS_NXDOMAIN,	/* the name does not exist */
	HM_DNS_NODATA,		/* the name exists, without records of that type */
	HM_DNS_TEMPFAIL,	/* no usable answer: try again later */
};

/* Seconds a query may take by default (the configuration's dns.timeout too). */
#define HM_DNS_TIMEOUT_S 5

struct hm_dns_conf {
	const char *const *nameservers;	/* "IP" or "IP@PORT"; NULL/0: resolv.conf */
	size_t nnameservers;
	const char *resolv_conf;	/* used when nnameservers == 0 */
	long timeout_ms;		/* per query, from start to answer; 0: HM_DNS_TIMEOUT_S */
};

struct hm_dns_answer {
	enum hm_dns_status status;
	int rcode;			/* DNS rcode of the final answer */
	int ttl;
	size_t count;			/* records in data[] */
	const unsigned char **data;	/* rdata of each record, wire format */
	const size_t *len;
	const unsigned char *packet;	/* the whole answer message, wire format */
	size_t packet_len;
	struct ub_result *ub_;		/* private */
	bool single_block_;		/* private: one allocation (a cached copy) */
};

struct hm_dns;
struct hm_dns_query;

/* 0 and a resolver in *dns_r, or -1 with the reason in err. */
int hm_dns_new(const struct hm_dns_conf *conf, struct hm_dns **dns_r,
	       char *err, size_t errlen);
void hm_dns_free(struct hm_dns **dns);

/*
 * What a lookup is for, for the counters below (the metrics): the check
 * that asked.  PTR covers the client's reverse lookup and the forward
 * confirmation of its names.
 */
enum hm_dns_kind {
	HM_DNS_KIND_OTHER,
	HM_DNS_KIND_SPF,
	HM_DNS_KIND_DKIM,
	HM_DNS_KIND_DMARC,
	HM_DNS_KIND_DNSBL,
	HM_DNS_KIND_PTR,
	HM_DNS_KIND_COUNT		/* not a kind */
};

/* "spf", "dkim", ...: a kind's name (for metric labels). */
const char *hm_dns_kind_name(enum hm_dns_kind kind);

/*
 * Process-wide counts of one kind since start (they survive a reload's new
 * resolver): queries started, waits that ended in HM_DNS_TEMPFAIL
 * (SERVFAIL, REFUSED, time-out), and queries answered from the milter's
 * own cache (dns-cache.h; counted among the lookups too).  A query given
 * up with hm_dns_cancel() is no failure.  Counting is one relaxed atomic
 * add.
 */
struct hm_dns_counts {
	unsigned long long lookups, failures, cached;
};
void hm_dns_counts(enum hm_dns_kind kind, struct hm_dns_counts *out);

/* Start a query; NULL when it could not even be started (out of memory). */
struct hm_dns_query *hm_dns_start(struct hm_dns *dns, const char *name, int rrtype);
/* The same, counted under kind (hm_dns_start() counts as OTHER). */
struct hm_dns_query *hm_dns_start_kind(struct hm_dns *dns, enum hm_dns_kind kind,
				       const char *name, int rrtype);

/*
 * Wait for a query started with hm_dns_start() (NULL is allowed and gives
 * TEMPFAIL), at most until its deadline.  Returns the status; *ans_r gets an
 * answer to free (also for NXDOMAIN / NODATA / TEMPFAIL, with count 0), or
 * NULL when out of memory (then the status is HM_DNS_TEMPFAIL).
 */
enum hm_dns_status hm_dns_wait(struct hm_dns *dns, struct hm_dns_query *q,
			       struct hm_dns_answer **ans_r);

/*
 * Give up a query started with hm_dns_start() without waiting for it (NULL
 * is allowed): it stands for the one hm_dns_wait() the query needs.  The
 * answer, if one still comes, is thrown away.
 */
void hm_dns_cancel(struct hm_dns *dns, struct hm_dns_query *q);

/* hm_dns_start() + hm_dns_wait(); hm_dns_lookup_kind() counts under kind. */
enum hm_dns_status hm_dns_lookup(struct hm_dns *dns, const char *name, int rrtype,
				 struct hm_dns_answer **ans_r);
enum hm_dns_status hm_dns_lookup_kind(struct hm_dns *dns, enum hm_dns_kind kind,
				      const char *name, int rrtype, struct hm_dns_answer **ans_r);

void hm_dns_answer_free(struct hm_dns_answer **ans);

/*
 * Decoding rdata.  Each returns 0, or -1 when the record is malformed or the
 * output does not fit.
 */
/* TXT: the character-strings of one record joined, NUL-terminated. */
int hm_dns_txt(const unsigned char *rdata, size_t len, char *out, size_t outlen);
/* A wire-format (uncompressed) domain name as text, without the final dot. */
int hm_dns_name(const unsigned char *wire, size_t len, char *out, size_t outlen);
/* MX: preference and exchange name. */
int hm_dns_mx(const unsigned char *rdata, size_t len, unsigned *pref_r,
	      char *out, size_t outlen);

/*
 * The name to query for an IP's PTR record or a DNSBL zone: "4.3.2.1" +
 * suffix for IPv4, the 32 reversed nibbles + suffix for IPv6; suffix is a
 * DNSBL zone or NULL.  0, or -1 if ip is not an
 * address or the name does not fit.  A NULL suffix means the PTR zone of the
 * address's family.
 */
int hm_dns_reverse_name(const char *ip, const char *suffix, char *out, size_t outlen);

#endif
