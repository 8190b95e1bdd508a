/*
 * dkim-keys.c - DKIM key lookups through our resolver (hm_dns): the DNS
 * hooks libopendkim calls (see dkim.c), and the key queries a message
 * starts at end of headers.
 *
 *  - Keys: the library's DNS hooks are ours.  Its stock resolver reports a
 *    deleted key (NXDOMAIN) as a temporary failure; we hand it the real
 *    answer packet, so NXDOMAIN and NODATA are "no key" (permerror), and a
 *    SERVFAIL or a time-out is an error of the hook (temperror).
 *  - Latency: signature processing is delayed to end of message
 *    (DKIM_LIBFLAGS_DELAYSIGPROC); at end of headers we start every key
 *    query ourselves, so they resolve while the body streams in, and at
 *    end of message the hooks answer from those queries.  The hooks find
 *    the message's queries through a thread-local pointer set around
 *    dkim_eom(): the hooks are per library, a message runs on one thread.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "scoring/dkim-int.h"
#include "scoring/dns.h"

/* A query handle of the DNS hooks. */
struct hook_query {
	unsigned char *buf;		/* the library's reply buffer */
	size_t buflen;
	char name[KEY_NAME_MAX];
	int type;
	struct prefetch *pf;		/* answered by a prefetched query, or */
	struct hm_dns_query *q;		/* a query of its own, until waited for */
	struct hm_dns_answer *ans;	/* ... and its answer */
};

/* The message whose dkim_eom() runs on this thread (see the top). */
static _Thread_local struct hm_dkim_verify *current;

/*
 * A DNS reply for a name that has no such record, in case libunbound gave
 * no packet: header, question, no records.  Returns its length or 0.
 */
static size_t negative_reply(unsigned char *buf, size_t buflen, const char *name,
			     int type, int rcode)
{
	size_t n = 12;
	const char *p = name;

	if (buflen < 12 + strlen(name) + 2 + 4)
		return 0;
	memset(buf, 0, 12);
	buf[2] = 0x81;				/* QR, RD */
	buf[3] = 0x80 | (rcode & 0x0f);		/* RA, rcode */
	buf[5] = 1;				/* QDCOUNT */
	while (*p != '\0') {
		const char *dot = strchr(p, '.');
		size_t l = dot ? (size_t)(dot - p) : strlen(p);

		if (l == 0 || l > 63)
			return 0;
		buf[n++] = (unsigned char)l;
		memcpy(buf + n, p, l);
		n += l;
		p += l;
		if (*p == '.')
			p++;
	}
	buf[n++] = 0;
	buf[n++] = (unsigned char)(type >> 8);
	buf[n++] = (unsigned char)type;
	buf[n++] = 0;
	buf[n++] = 1;				/* class IN */
	return n;
}

static int hook_start(void *srv, int type, unsigned char *query,
		      unsigned char *buf, size_t buflen, void **qh)
{
	struct hm_dkim *dk = srv;
	struct hook_query *hq = calloc(1, sizeof(*hq));

	*qh = NULL;
	if (hq == NULL)
		return DKIM_DNS_ERROR;
	hq->buf = buf;
	hq->buflen = buflen;
	hq->type = type;
	if ((size_t)snprintf(hq->name, sizeof(hq->name), "%s", (const char *)query)
	    >= sizeof(hq->name)) {
		free(hq);
		return DKIM_DNS_ERROR;
	}
	if (current != NULL && type == HM_DNS_TXT) {
		for (size_t i = 0; i < current->npf; i++)
			if (strcasecmp(current->pf[i].name, hq->name) == 0) {
				hq->pf = &current->pf[i];
				break;
			}
	}
	if (hq->pf == NULL)
		/* NULL: TEMPFAIL */
		hq->q = hm_dns_start_kind(dk->dns, HM_DNS_KIND_DKIM, hq->name, type);
	*qh = hq;
	return DKIM_DNS_SUCCESS;
}

static int hook_waitreply(void *srv, void *qh, struct timeval *timeout,
			  size_t *bytes, int *error, int *dnssec)
{
	struct hm_dkim *dk = srv;
	struct hook_query *hq = qh;
	const struct hm_dns_answer *ans;
	enum hm_dns_status st;
	size_t n;

	if (dnssec != NULL)
		*dnssec = DKIM_DNSSEC_UNKNOWN;
	if (error != NULL)
		*error = 0;
	if (hq == NULL)
		return DKIM_DNS_ERROR;
	/* Our resolver has its own deadline; the library's timeout is moot. */
	if (hq->pf != NULL) {
		st = hq->pf->status;
		ans = hq->pf->ans;
	} else {
		st = hm_dns_wait(dk->dns, hq->q, &hq->ans);
		hq->q = NULL;
		ans = hq->ans;
	}
	if (st == HM_DNS_TEMPFAIL || ans == NULL)
		return DKIM_DNS_ERROR;	/* SERVFAIL, time-out: KEYFAIL, temperror */
	if (ans->packet != NULL && ans->packet_len > 0) {
		if (ans->packet_len > hq->buflen)
			return DKIM_DNS_ERROR;
		memcpy(hq->buf, ans->packet, ans->packet_len);
		n = ans->packet_len;
	} else {
		n = negative_reply(hq->buf, hq->buflen, hq->name, hq->type,
				   st == HM_DNS_NXDOMAIN ? 3 : 0);
		if (n == 0)
			return DKIM_DNS_ERROR;
	}
	if (bytes != NULL)
		*bytes = n;
	return DKIM_DNS_SUCCESS;
}

static int hook_cancel(void *srv, void *qh)
{
	struct hm_dkim *dk = srv;
	struct hook_query *hq = qh;

	if (hq == NULL)
		return DKIM_DNS_SUCCESS;
	if (hq->q != NULL)	/* given up without waiting: its answer is dropped */
		hm_dns_cancel(dk->dns, hq->q);
	hm_dns_answer_free(&hq->ans);
	free(hq);
	return DKIM_DNS_SUCCESS;
}

/* The resolver is ours: the library must neither set it up nor close it. */
static int hook_init(void **srv)
{
	return *srv != NULL ? 0 : -1;
}

static void hook_close(void *srv)
{
}

/*
 * Make the library's DNS hooks ours: every query it makes goes through
 * hm_dns.  -1: the library had set up a resolver by itself.
 */
int dkimv_install_hooks(struct hm_dkim *dk)
{
	dkim_dns_set_init(dk->lib, hook_init);
	dkim_dns_set_close(dk->lib, hook_close);
	dkim_dns_set_query_start(dk->lib, hook_start);
	dkim_dns_set_query_waitreply(dk->lib, hook_waitreply);
	dkim_dns_set_query_cancel(dk->lib, hook_cancel);
	return dkim_dns_set_query_service(dk->lib, dk) == NULL ? 0 : -1;
}

/* dkim_eom() on v, its hooks answering from v's prefetched queries. */
DKIM_STAT dkimv_eom_prefetched(struct hm_dkim_verify *v)
{
	DKIM_STAT st;

	current = v;
	st = dkim_eom(v->d, NULL);
	current = NULL;
	return st;
}


/* Start the key query of every signature the library will check. */
void dkimv_prefetch_keys(struct hm_dkim_verify *v)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;

	if (dkim_getsiglist(v->d, &sigs, &nsigs) != DKIM_STAT_OK)
		return;
	for (int i = 0; i < nsigs && v->npf < HM_DKIM_MAX_SIGS; i++) {
		const char *s = (const char *)dkim_sig_getselector(sigs[i]);
		const char *d = (const char *)dkim_sig_getdomain(sigs[i]);
		char name[KEY_NAME_MAX];
		size_t j;

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) ||
		    dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN ||
		    s == NULL || d == NULL || *s == '\0' || *d == '\0')
			continue;
		if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s, d)
		    >= sizeof(name))
			continue;	/* the library will find no key either */
		for (j = 0; j < v->npf; j++)
			if (strcasecmp(v->pf[j].name, name) == 0)
				break;
		if (j < v->npf)
			continue;	/* same key as an earlier signature */
		memcpy(v->pf[v->npf].name, name, sizeof(name));
		v->pf[v->npf].q = hm_dns_start_kind(v->dk->dns, HM_DNS_KIND_DKIM, name, HM_DNS_TXT);
		v->pf[v->npf].status = HM_DNS_TEMPFAIL;
		v->npf++;
	}
}

/* Wait for the prefetched key queries (each bounded by its deadline). */
void dkimv_prefetch_wait(struct hm_dkim_verify *v)
{
	for (size_t i = 0; i < v->npf; i++) {
		struct prefetch *p = &v->pf[i];

		if (p->q == NULL && p->ans != NULL)
			continue;
		p->status = hm_dns_wait(v->dk->dns, p->q, &p->ans);
		p->q = NULL;
	}
}

/* The prefetched query of a signature's key, if any. */
const struct prefetch *dkimv_find_prefetch(const struct hm_dkim_verify *v,
					  const struct hm_dkim_sig *s)
{
	char name[KEY_NAME_MAX];

	if ((size_t)snprintf(name, sizeof(name), "%s._domainkey.%s", s->selector,
			     s->domain) >= sizeof(name))
		return NULL;
	for (size_t i = 0; i < v->npf; i++)
		if (strcasecmp(v->pf[i].name, name) == 0)
			return &v->pf[i];
	return NULL;
}

void dkimv_key_temp_reason(const struct hm_dkim_verify *v, struct hm_dkim_sig *s)
{
	const struct prefetch *p = dkimv_find_prefetch(v, s);
	const char *why = "lookup failed";

	if (p != NULL && p->ans != NULL) {
		if (p->ans->rcode == 2)
			why = "SERVFAIL";
		else if (p->ans->rcode == 5)
			why = "REFUSED";
		else if (p->ans->packet == NULL)
			why = "DNS time-out";
	}
	snprintf(s->reason, sizeof(s->reason), "key lookup: %s", why);
}
