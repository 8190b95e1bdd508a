/*
 * spf-int.h - what the SPF check's files share (spf.c: the check and its
 * state; spf-dns.c: the DNS layer libspf2 asks through, and the record
 * lookup); nothing else includes it.  The public interface is spf.h.
 */
#ifndef HM_SPF_INT_H
#define HM_SPF_INT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <time.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "scoring/spf.h"

#define MAX_DNS_TERMS 10	/* RFC 7208 4.6.4 */
#define MAX_VOID 2
#define MAX_MX 10
#define MAX_PTR 10
#define CHECK_TIME_LIMIT 20	/* seconds for a whole check (RFC 7208 4.6.4) */

/*
 * The marker of a /0 target name: random per process, so that no name in
 * a record or a DNS answer can carry it by accident or on purpose.
 */
#define MARKER_MAX 32

struct hm_spf {
	struct hm_dns *dns;
	SPF_server_t *server;
	SPF_dns_server_t layer;
	char marker[MARKER_MAX];	/* ".cidr0-<16 hex digits>" */
};

/* The state of the check running in this thread. */
struct check {
	int terms, voids;
	/* Names from the last MX or PTR answer, looked up next by libspf2. */
	char sub[MAX_PTR > MAX_MX ? MAX_PTR : MAX_MX][HM_DOMAIN_MAX];
	int nsub, subnext;
	bool sub_ptr;
	bool sub_any;			/* they came from a /0 "mx" */
	/* The client's address, the answer to a marked lookup that matches. */
	struct in_addr a4;
	struct in6_addr a6;
	/* A verdict that ends the check (a limit, the time limit). */
	bool v6;			/* the client is IPv6 */
	bool stopped;
	enum hm_spf_result verdict;
	char reason[HM_REASON_MAX];	/* first trouble seen */
	time_t deadline;
};

/* The check running in this thread (spf.c sets it around a check). */
extern _Thread_local struct check *spf_cur;

/* spf.c: keep the first trouble of a check as its reason. */
void __attribute__((format(printf, 2, 3))) spf_note(struct check *c, const char *fmt, ...);
/* spf.c: a verdict that ends the check, whatever libspf2 makes of it. */
void spf_stop(struct check *c, enum hm_spf_result verdict, const char *reason);

/* spf-dns.c */
bool spf_name_ok(const char *name, bool fqdn);
SPF_dns_rr_t *spf_layer_lookup(SPF_dns_server_t *srv, const char *domain, ns_type rr_type,
			       int should_cache);
SPF_errcode_t spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
				SPF_response_t *resp, SPF_record_t **rec_r);
SPF_errcode_t spf_layer_get_exp(SPF_server_t *server, const char *domain, char **buf,
				size_t *buflen);

enum spf_fetch { FETCH_OK, FETCH_NONE, FETCH_TEMPFAIL, FETCH_PERMERROR };

/*
 * The SPF record of domain, compiled, in *rec_r (FETCH_OK); otherwise why
 * not, with the reason noted in the check.
 */
enum spf_fetch spf_fetch_record(struct hm_spf *spf, struct check *c, const char *domain,
				SPF_response_t *resp, SPF_record_t **rec_r);

#endif
