/*
 * dkim-int.h - what the DKIM verifier's files share (dkim.c, dkim-keys.c,
 * dkim-select.c, dkim-result.c); nothing else includes it.  The public
 * interface is dkim.h.
 */
#ifndef HM_DKIM_INT_H
#define HM_DKIM_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <opendkim/dkim.h>

#include "util/address.h"
#include "scoring/dkim-body.h"
#include "scoring/dkim.h"
#include "scoring/dns.h"

#define KEY_NAME_MAX 256		/* selector._domainkey.domain, with NUL */
#define TAG_MAX 64			/* a=, c=, l= values compared */

/* The process's verifier: one DKIM_LIB, its DNS hooks on our resolver. */
struct hm_dkim {
	DKIM_LIB *lib;
	struct hm_dns *dns;
	bool ed25519;
	unsigned min_key_bits;
};

/* One key query started at end of headers. */
struct prefetch {
	char name[KEY_NAME_MAX];
	struct hm_dns_query *q;		/* until waited for */
	struct hm_dns_answer *ans;	/* after */
	enum hm_dns_status status;
};

enum vstate { V_HEADERS, V_BODY, V_UNSIGNED, V_DONE, V_BROKEN };

/* A body hash of our own (see plan_own_body(), dkim.c). */
struct own_hash {
	enum hm_dkim_body_canon canon;
	enum hm_dkim_body_alg alg;
	struct hm_dkim_bodyhash *h;
	char b64[HM_DKIM_BODYHASH_B64_MAX];	/* at the end: the bh= it makes */
	bool done;				/* b64 holds it */
};

/* One message's verification. */
struct hm_dkim_verify {
	struct hm_dkim *dk;
	DKIM *d;
	enum vstate state;
	char id[64];			/* the library keeps a pointer to it */
	unsigned char *hbuf;		/* one header, rebuilt for dkim_header() */
	size_t hcap;
	size_t ignored;			/* signatures not handed to the library */
	struct sighdr *sighdrs;		/* DKIM-Signature headers, held back */
	size_t nsighdrs, sighdr_cap, sighdr_bytes;
	struct hm_from_list from;	/* to rank the signatures (select_sigs) */
	struct prefetch pf[HM_DKIM_MAX_SIGS];
	size_t npf;
	char broken[HM_REASON_MAX];	/* why verification failed, if it did */
	char msgerr[HM_REASON_MAX];	/* why the message could not be checked */
	bool own_body;			/* body hashed by us, not by the library */
	struct own_hash oh[HM_DKIM_MAX_BODY_HASHES];
	size_t noh;
};

/* A DKIM-Signature header as the library will get it ("Name:value", CRLF). */
struct sighdr {
	unsigned char *text;
	size_t len;
	int rank;			/* select_sigs(): lower is checked first */
	char bodyhash[3 * TAG_MAX + 3];	/* its body hash: "c|a|l", or "" */
	bool keep;
};

/*
 * The functions the verifier's files share are named dkimv_, not dkim_:
 * that is libopendkim's namespace, and in a dynamically linked program a
 * name of ours equal to one of the library's would take its place.
 */

/* dkim.c: our body hash for a signature's c= and a=, or NULL. */
struct own_hash *dkimv_own_hash_for(struct hm_dkim_verify *v, DKIM_SIGINFO *sig);

/* dkim-keys.c: the library's DNS hooks and the key queries of a message. */
int dkimv_install_hooks(struct hm_dkim *dk);
void dkimv_prefetch_keys(struct hm_dkim_verify *v);
void dkimv_prefetch_wait(struct hm_dkim_verify *v);
DKIM_STAT dkimv_eom_prefetched(struct hm_dkim_verify *v);
const struct prefetch *dkimv_find_prefetch(const struct hm_dkim_verify *v,
					  const struct hm_dkim_sig *s);
void dkimv_key_temp_reason(const struct hm_dkim_verify *v, struct hm_dkim_sig *s);

/* dkim-select.c: DKIM-Signature headers held back, some handed over. */
bool dkimv_is_sig_name(const char *name);
int dkimv_hold_sig(struct hm_dkim_verify *v, const unsigned char *text, size_t len);
void dkimv_release_sigs(struct hm_dkim_verify *v);

/* dkim-result.c: one signature's RFC 8601 result. */
void dkimv_describe(struct hm_dkim_verify *v, DKIM_SIGINFO *sig, struct hm_dkim_sig *s);
void dkimv_classify(struct hm_dkim_verify *v, DKIM_SIGINFO *sig, struct hm_dkim_sig *s);

#endif
