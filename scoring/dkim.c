/*
 * dkim.c - DKIM verification with libopendkim, key lookups through hm_dns.
 *
 * libopendkim parses the signatures, canonicalizes and hashes the headers,
 * fetches the keys and checks the signatures; this file feeds it, gives it
 * our resolver and turns its per-signature state into RFC 8601 results,
 * correcting what the library gets wrong or leaves to the caller (see
 * dkim.h for the result table):
 *
 *  - Body hashes: made by dkim-body.c, several times faster than the
 *    library's, whenever the signatures allow (see plan_own_body()).
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
 *  - rsa-sha1 (RFC 8301 3.1) is reported "policy" even when it verifies;
 *    RSA keys below the minimum size are "policy" too (RFC 8301 3.2).
 *  - Signature floods: the library sets up a body hash for every distinct
 *    (c=, a=, l=) of every signature it is given, before any callback can
 *    tell it to skip one, and hashes the whole body once per body hash.
 *    So DKIM-Signature headers are held back until the end of the headers
 *    (the other headers go to the library as they come) and only
 *    HM_DKIM_MAX_SIGS of them, needing at most HM_DKIM_MAX_BODY_HASHES
 *    body hashes, are handed over; the rest are counted, never parsed by
 *    the library.  Which ones: see select_sigs().
 */
#include "config.h"

#include <arpa/inet.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/time.h>

#include <opendkim/dkim.h>

#include "util/address.h"
#include "scoring/dkim-body.h"
#include "scoring/dkim-keycache.h"
#include "scoring/dkim.h"

#define KEY_NAME_MAX 256		/* selector._domainkey.domain, with NUL */
#define HEADER_MAX (256 * 1024)		/* one header field, name and value */
#define SIGHDR_MAX_BYTES (1024 * 1024)	/* DKIM-Signature headers held back */
#define SIGHDR_MAX_COUNT 1024		/* ... and how many of them */
#define TAG_MAX 64			/* a=, c=, l= values compared */

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

/* A body hash made here (see plan_own_body()). */
struct own_hash {
	enum hm_dkim_body_canon canon;
	enum hm_dkim_body_alg alg;
	struct hm_dkim_bodyhash *h;
	char b64[HM_DKIM_BODYHASH_B64_MAX];	/* at the end: the bh= it makes */
	bool done;				/* b64 holds it */
};

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
	bool own_body;			/* body hashed here, not by the library */
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
 * Check the first HM_DKIM_MAX_SIGS signatures, count and skip the rest.
 * select_sigs() already hands over no more: a safety net only.
 */
static DKIM_CBSTAT prescreen(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	struct hm_dkim_verify *v = dkim_get_user_context(d);

	for (int i = HM_DKIM_MAX_SIGS; i < nsigs; i++) {
		dkim_sig_ignore(sigs[i]);
		if (v != NULL)
			v->ignored++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

int hm_dkim_new(struct hm_dns *dns, const struct hm_dkim_conf *conf,
		struct hm_dkim **dk_r, char *err, size_t errlen)
{
	struct hm_dkim *dk;
	unsigned int flags = DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_BADSIGHANDLES;
	uint64_t drift = conf && conf->clock_drift > 0 ? (uint64_t)conf->clock_drift : 300;
	unsigned int minbits = conf && conf->min_key_bits > 0 ? conf->min_key_bits : 1024;
	void *old;

	*dk_r = NULL;
	dk = calloc(1, sizeof(*dk));
	if (dk == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dk->dns = dns;
	dk->min_key_bits = minbits;
	dk->lib = dkim_init(NULL, NULL);
	if (dk->lib == NULL) {
		snprintf(err, errlen, "dkim_init() failed");
		free(dk);
		return -1;
	}
	if (dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
			 sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift,
			 sizeof(drift)) != DKIM_STAT_OK ||
	    dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
			 sizeof(minbits)) != DKIM_STAT_OK ||
	    dkim_set_prescreen(dk->lib, prescreen) != DKIM_STAT_OK) {
		snprintf(err, errlen, "libopendkim refused an option");
		dkim_close(dk->lib);
		free(dk);
		return -1;
	}
	/* Every query the library makes goes through hm_dns. */
	dkim_dns_set_init(dk->lib, hook_init);
	dkim_dns_set_close(dk->lib, hook_close);
	dkim_dns_set_query_start(dk->lib, hook_start);
	dkim_dns_set_query_waitreply(dk->lib, hook_waitreply);
	dkim_dns_set_query_cancel(dk->lib, hook_cancel);
	old = dkim_dns_set_query_service(dk->lib, dk);
	if (old != NULL) {
		/* A resolver the library set up by itself: we have no way to close it. */
		snprintf(err, errlen, "libopendkim started its own resolver");
		dkim_close(dk->lib);
		free(dk);
		return -1;
	}
	dk->ed25519 = dkim_libfeature(dk->lib, DKIM_FEATURE_ED25519);
	hm_dkim_keycache_enable(true);
	*dk_r = dk;
	return 0;
}

void hm_dkim_free(struct hm_dkim **dkp)
{
	struct hm_dkim *dk = *dkp;

	if (dk == NULL)
		return;
	dkim_close(dk->lib);
	free(dk);
	*dkp = NULL;
	hm_dkim_keycache_clear();	/* only a cache: the next key is decoded anew */
}

bool hm_dkim_has_ed25519(const struct hm_dkim *dk)
{
	return dk->ed25519;
}

struct hm_dkim_verify *hm_dkim_verify_begin(struct hm_dkim *dk, const char *id)
{
	struct hm_dkim_verify *v = calloc(1, sizeof(*v));
	DKIM_STAT st = DKIM_STAT_OK;

	if (v == NULL)
		return NULL;
	v->dk = dk;
	hm_from_init(&v->from);
	snprintf(v->id, sizeof(v->id), "%s", id ? id : "");
	v->d = dkim_verify(dk->lib, (const unsigned char *)v->id, NULL, &st);
	if (v->d == NULL || st != DKIM_STAT_OK ||
	    dkim_set_user_context(v->d, v) != DKIM_STAT_OK) {
		if (v->d != NULL)
			dkim_free(v->d);
		free(v);
		return NULL;
	}
	v->state = V_HEADERS;
	return v;
}

static void set_broken(struct hm_dkim_verify *v, const char *what, DKIM_STAT st)
{
	const char *e = dkim_geterror(v->d);

	v->state = V_BROKEN;
	snprintf(v->broken, sizeof(v->broken), "%s: %s%s%s", what,
		 dkim_getresultstr(st), e && *e ? ": " : "", e && *e ? e : "");
}

/* A DKIM-Signature header?  The library, too, ignores blanks before the colon. */
static bool is_sig_name(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t' ||
			 name[n - 1] == '\r' || name[n - 1] == '\n'))
		n--;
	return n == 14 && strncasecmp(name, "DKIM-Signature", 14) == 0;
}

/* Keep a DKIM-Signature header for select_sigs(); past the bounds, count it. */
static int hold_sig(struct hm_dkim_verify *v, const unsigned char *text, size_t len)
{
	struct sighdr *h;

	if (v->nsighdrs >= SIGHDR_MAX_COUNT || v->sighdr_bytes + len > SIGHDR_MAX_BYTES) {
		v->ignored++;
		return 0;
	}
	if (v->nsighdrs == v->sighdr_cap) {
		size_t cap = v->sighdr_cap ? 2 * v->sighdr_cap : 16;
		struct sighdr *p = realloc(v->sighdrs, cap * sizeof(*p));

		if (p == NULL)
			return -1;
		v->sighdrs = p;
		v->sighdr_cap = cap;
	}
	h = &v->sighdrs[v->nsighdrs];
	memset(h, 0, sizeof(*h));
	if ((h->text = malloc(len)) == NULL)
		return -1;
	memcpy(h->text, text, len);
	h->len = len;
	v->nsighdrs++;
	v->sighdr_bytes += len;
	return 0;
}

int hm_dkim_verify_header(struct hm_dkim_verify *v, const char *name,
			  const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), need, n = 0;
	unsigned char prev = 0;

	if (v->state != V_HEADERS)
		return -1;
	/* Each bare LF (a fold as libmilter joins them) becomes CRLF. */
	need = nlen + 1 + vlen + 1;
	for (size_t i = 0; i < vlen; i++)
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			need++;
	if (need > HEADER_MAX)
		return -1;
	if (need > v->hcap) {
		size_t cap = need < 1024 ? 1024 : need;
		unsigned char *p = realloc(v->hbuf, cap);

		if (p == NULL)
			return -1;
		v->hbuf = p;
		v->hcap = cap;
	}
	memcpy(v->hbuf, name, nlen);
	n = nlen;
	v->hbuf[n++] = ':';
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '\n' && prev != '\r')
			v->hbuf[n++] = '\r';
		v->hbuf[n++] = c;
		prev = c;
	}
	/*
	 * Signatures wait for the end of the headers (see the top).  Handing
	 * them over later changes their place only relative to headers of other
	 * names, and a signature selects the headers it covers by name.
	 */
	if (is_sig_name(name))
		return hold_sig(v, v->hbuf, n);
	if (strcasecmp(name, "From") == 0) {
		const char *why;

		(void)hm_from_parse(&v->from, value, &why);	/* bad: ranks nothing */
	}
	/*
	 * A header the library refuses (e.g. no valid name) is left out, as
	 * any verifier would; a signature covering it then fails.
	 */
	return dkim_header(v->d, v->hbuf, n) == DKIM_STAT_OK ? 0 : -1;
}

/*
 * The value of tag NAME in a signature header ("DKIM-Signature:tag-list")
 * the way the library reads it: tag names in any case, the last occurrence
 * wins, every blank removed.  1 found (in out), 0 absent, -1 too long.
 */
static int sig_tag(const struct sighdr *h, const char *name, char *out, size_t outlen)
{
	const unsigned char *p = memchr(h->text, ':', h->len), *end = h->text + h->len;
	size_t nlen = strlen(name);
	int found = 0;

	if (p == NULL)
		return 0;
	for (p++; p < end; ) {
		const unsigned char *semi = memchr(p, ';', (size_t)(end - p));
		const unsigned char *stop = semi ? semi : end, *eq, *t, *te;

		eq = memchr(p, '=', (size_t)(stop - p));
		for (t = p; t < stop && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n'); t++)
			;
		for (te = eq ? eq : stop; te > t && (te[-1] == ' ' || te[-1] == '\t' ||
						    te[-1] == '\r' || te[-1] == '\n'); te--)
			;
		if (eq != NULL && (size_t)(te - t) == nlen &&
		    strncasecmp((const char *)t, name, nlen) == 0) {
			size_t o = 0;

			found = 1;
			for (const unsigned char *q = eq + 1; q < stop; q++) {
				if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
					continue;
				if (o + 1 >= outlen) {
					found = -1;
					break;
				}
				out[o++] = (char)*q;
			}
			if (found > 0)
				out[o] = '\0';
			else
				return -1;
		}
		p = stop + 1;
	}
	return found;
}

/* The part of a domain made of its last two labels, or NULL (one label). */
static const char *last_two_labels(const char *d)
{
	const char *last = strrchr(d, '.'), *p;

	if (last == NULL || last == d)
		return NULL;
	for (p = last - 1; p > d && *p != '.'; p--)
		;
	return *p == '.' ? p + 1 : d;
}

/*
 * How much a signature matters for DMARC, which needs a valid signature
 * whose d= aligns with the From domain: tier 0 d= is a From domain (strict
 * alignment), 1 they share their last two labels (relaxed alignment is
 * likely; the Public Suffix List decides later, in DMARC), 2 any other.
 * Within a tier, signatures without l= first: l= is rare in real mail and
 * each distinct l= costs a body hash of its own, the cheapest way for a
 * flood to use up HM_DKIM_MAX_BODY_HASHES.  rsa-sha1 can never pass (RFC
 * 8301): after all the others.  0 .. RANK_MAX, lower is checked first.
 */
#define RANK_MAX 11
static int sig_rank(const struct hm_dkim_verify *v, const struct sighdr *h, const char *a,
		    bool has_l)
{
	char d[HM_DOMAIN_MAX];
	const char *dl;
	int tier = 2;

	if (sig_tag(h, "d", d, sizeof(d)) == 1 && (dl = last_two_labels(d)) != NULL) {
		for (size_t i = 0; i < v->from.count && tier > 0; i++) {
			const char *f = v->from.addrs[i].domain, *fl = last_two_labels(f);

			if (strcasecmp(f, d) == 0)
				tier = 0;
			else if (fl != NULL && strcasecmp(fl, dl) == 0)
				tier = 1;
		}
	}
	return (a != NULL && strcasecmp(a, "rsa-sha1") == 0 ? 6 : 0) + 2 * tier + has_l;
}

/*
 * The body hash a signature makes the library compute: the body part of
 * c=, the hash of a=, and l=, as text.  Equal texts mean one shared hash
 * (the library shares a body hash of equal canonicalization, hash and
 * length); "" when a value is too long to compare: counted as a hash of
 * its own.  Different texts may still share one: that only errs on the
 * safe side.
 */
static void sig_bodyhash(struct sighdr *h, char *a, size_t alen, bool *has_l)
{
	char c[TAG_MAX], l[TAG_MAX];
	const char *body, *hash;
	int rc, ra, rl;

	h->bodyhash[0] = '\0';
	rc = sig_tag(h, "c", c, sizeof(c));
	ra = sig_tag(h, "a", a, alen);
	rl = sig_tag(h, "l", l, sizeof(l));
	*has_l = rl != 0;
	if (ra != 1)
		a[0] = '\0';
	if (rc < 0 || ra < 0 || rl < 0)
		return;
	body = rc == 0 ? "simple" : strchr(c, '/') ? strchr(c, '/') + 1 : "simple";
	hash = ra == 0 ? "" : strrchr(a, '-') ? strrchr(a, '-') + 1 : a;
	snprintf(h->bodyhash, sizeof(h->bodyhash), "%s|%s|%s", body, hash,
		 rl == 1 ? l : "");
}

/*
 * Choose the signatures the library gets: at most HM_DKIM_MAX_SIGS, needing
 * at most HM_DKIM_MAX_BODY_HASHES body hashes, taken by rank (sig_rank())
 * and within a rank in header order.  So the CPU a message costs does not
 * grow with its signatures, and a flood of forged ones cannot push out the
 * signature that authenticates the From domain: to crowd it out they must
 * claim that domain themselves, and then only the sender's own mail is hurt.
 */
static void select_sigs(struct hm_dkim_verify *v)
{
	char hashes[HM_DKIM_MAX_BODY_HASHES][sizeof(v->sighdrs[0].bodyhash)];
	size_t nhashes = 0, kept = 0;
	char a[TAG_MAX];

	for (size_t i = 0; i < v->nsighdrs; i++) {
		bool has_l = false;

		sig_bodyhash(&v->sighdrs[i], a, sizeof(a), &has_l);
		v->sighdrs[i].rank = sig_rank(v, &v->sighdrs[i], a[0] ? a : NULL, has_l);
	}
	for (int rank = 0; rank <= RANK_MAX && kept < HM_DKIM_MAX_SIGS; rank++)
		for (size_t i = 0; i < v->nsighdrs && kept < HM_DKIM_MAX_SIGS; i++) {
			struct sighdr *h = &v->sighdrs[i];
			size_t j = 0;

			if (h->rank != rank)
				continue;
			if (h->bodyhash[0] != '\0')
				for (j = 0; j < nhashes; j++)
					if (strcmp(hashes[j], h->bodyhash) == 0)
						break;
			if (h->bodyhash[0] == '\0' || j == nhashes) {
				if (nhashes == HM_DKIM_MAX_BODY_HASHES)
					continue;	/* one more hash of the body */
				memcpy(hashes[nhashes++], h->bodyhash, sizeof(h->bodyhash));
			}
			h->keep = true;
			kept++;
		}
}

/* Hand the chosen signatures to the library, in their order; free them all. */
static void release_sigs(struct hm_dkim_verify *v)
{
	select_sigs(v);
	for (size_t i = 0; i < v->nsighdrs; i++) {
		struct sighdr *h = &v->sighdrs[i];

		/* One the library refuses is reported by it as it would be in place. */
		if (h->keep)
			(void)dkim_header(v->d, h->text, h->len);
		else
			v->ignored++;
		free(h->text);
		h->text = NULL;
	}
	v->nsighdrs = 0;
}

/* Start the key query of every signature the library will check. */
static void prefetch_keys(struct hm_dkim_verify *v)
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

/*
 * The body hashes, made here (dkim-body.c) when they can be: the library
 * canonicalizes a byte at a time, which was about half of the milter's CPU
 * on common mail.  When every signature the library will check needs only
 * its bh= compared with a hash of the whole body, the body goes to our
 * hashes and the library gets none of it: it still checks each header
 * signature, and reports the hash of an empty body, which classify()
 * replaces with ours.  A signature with l= (the library checks it against
 * the body it saw) or a conditional one (!cd=, judged on the library's
 * body hash) leaves the body to the library, as does any doubt.
 */
static bool own_hash_kind(DKIM_SIGINFO *sig, enum hm_dkim_body_canon *canon,
			  enum hm_dkim_body_alg *alg)
{
	dkim_canon_t hc = DKIM_CANON_UNKNOWN, bc = DKIM_CANON_UNKNOWN;
	dkim_alg_t a = DKIM_SIGN_UNKNOWN;

	if (dkim_sig_getcanons(sig, &hc, &bc) != DKIM_STAT_OK ||
	    dkim_sig_getsignalg(sig, &a) != DKIM_STAT_OK ||
	    (bc != DKIM_CANON_SIMPLE && bc != DKIM_CANON_RELAXED) ||
	    (a != DKIM_SIGN_RSASHA1 && a != DKIM_SIGN_RSASHA256 &&
	     a != DKIM_SIGN_ED25519SHA256))
		return false;
	*canon = bc == DKIM_CANON_SIMPLE ? HM_DKIM_BODY_SIMPLE : HM_DKIM_BODY_RELAXED;
	*alg = a == DKIM_SIGN_RSASHA1 ? HM_DKIM_BODY_SHA1 : HM_DKIM_BODY_SHA256;
	return true;
}

static struct own_hash *own_hash_for(struct hm_dkim_verify *v, DKIM_SIGINFO *sig)
{
	enum hm_dkim_body_canon canon;
	enum hm_dkim_body_alg alg;

	if (!own_hash_kind(sig, &canon, &alg))
		return NULL;
	for (size_t i = 0; i < v->noh; i++)
		if (v->oh[i].canon == canon && v->oh[i].alg == alg)
			return &v->oh[i];
	return NULL;
}

static void own_hashes_free(struct hm_dkim_verify *v)
{
	for (size_t i = 0; i < v->noh; i++)
		hm_dkim_bodyhash_free(&v->oh[i].h);
	v->noh = 0;
	v->own_body = false;
}

static void plan_own_body(struct hm_dkim_verify *v)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;

	if (dkim_getsiglist(v->d, &sigs, &nsigs) != DKIM_STAT_OK)
		return;
	for (int i = 0; i < nsigs; i++) {
		enum hm_dkim_body_canon canon;
		enum hm_dkim_body_alg alg;
		struct own_hash *oh;

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) ||
		    dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
			continue;	/* the library will not check it */
		if (dkim_sig_gettagvalue(sigs[i], 0, (u_char *)"l") != NULL ||
		    dkim_sig_gettagvalue(sigs[i], 0, (u_char *)"!cd") != NULL ||
		    !own_hash_kind(sigs[i], &canon, &alg))
			goto library;
		if (own_hash_for(v, sigs[i]) != NULL)
			continue;
		if (v->noh == HM_DKIM_MAX_BODY_HASHES)
			goto library;
		oh = &v->oh[v->noh];
		memset(oh, 0, sizeof(*oh));
		oh->canon = canon;
		oh->alg = alg;
		oh->h = hm_dkim_bodyhash_new(canon, alg);
		if (oh->h == NULL)
			goto library;
		v->noh++;
	}
	v->own_body = true;
	return;
library:
	own_hashes_free(v);
}

/*
 * End of body for our hashes.  A relaxed body ending in text without CRLF
 * is one the library refuses as a whole ("CRLF at end of body missing"):
 * a byte of text makes it see that end too, so the verdict stays its own.
 */
static void own_hashes_final(struct hm_dkim_verify *v)
{
	bool unterminated = false;

	for (size_t i = 0; i < v->noh; i++) {
		struct own_hash *oh = &v->oh[i];

		unterminated |= hm_dkim_bodyhash_unterminated(oh->h);
		oh->done = hm_dkim_bodyhash_final(oh->h, oh->b64, sizeof(oh->b64)) == 0;
	}
	if (unterminated)
		(void)dkim_body(v->d, (unsigned char *)(uintptr_t)"x", 1);
}

int hm_dkim_verify_eoh(struct hm_dkim_verify *v)
{
	DKIM_STAT st;

	if (v->state != V_HEADERS)
		return v->state == V_BROKEN ? -1 : 0;
	release_sigs(v);
	st = dkim_eoh(v->d);
	switch (st) {
	case DKIM_STAT_OK:
		v->state = V_BODY;
		prefetch_keys(v);
		plan_own_body(v);
		return 0;
	case DKIM_STAT_NOSIG:
		v->state = V_UNSIGNED;
		return 0;
	default:
		/* e.g. SYNTAX: the signatures are still reported at the end */
		v->state = V_BODY;
		prefetch_keys(v);
		plan_own_body(v);
		return 0;
	}
}

int hm_dkim_verify_body(struct hm_dkim_verify *v, const unsigned char *chunk,
			size_t len)
{
	DKIM_STAT st;

	if (v->state == V_UNSIGNED || v->state == V_BROKEN)
		return v->state == V_BROKEN ? -1 : 0;
	if (v->state != V_BODY)
		return -1;
	if (len == 0)
		return 0;
	if (v->own_body) {
		for (size_t i = 0; i < v->noh; i++)
			if (hm_dkim_bodyhash_update(v->oh[i].h, chunk, len) < 0) {
				set_broken(v, "body hash", DKIM_STAT_INTERNAL);
				return -1;
			}
		return 0;
	}
	/* dkim_body() does not write to the buffer; its prototype is old. */
	st = dkim_body(v->d, (unsigned char *)(uintptr_t)chunk, len);
	if (st != DKIM_STAT_OK) {
		set_broken(v, "body", st);
		return -1;
	}
	return 0;
}

size_t hm_dkim_verify_ignored(const struct hm_dkim_verify *v)
{
	return v->ignored;
}

/* Wait for the prefetched key queries (each bounded by its deadline). */
static void prefetch_wait(struct hm_dkim_verify *v)
{
	for (size_t i = 0; i < v->npf; i++) {
		struct prefetch *p = &v->pf[i];

		if (p->q == NULL && p->ans != NULL)
			continue;
		p->status = hm_dns_wait(v->dk->dns, p->q, &p->ans);
		p->q = NULL;
	}
}

/* Bounded copy of a value from the wire, printable ASCII only. */
static void copy_clean(char *dst, size_t dstlen, const char *src, bool skip_space)
{
	size_t n = 0;

	if (dstlen == 0)
		return;
	for (; src != NULL && *src != '\0' && n + 1 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (skip_space)
				continue;
			c = ' ';
		}
		dst[n++] = c > 0x20 && c < 0x7f ? (char)c : (c == ' ' ? ' ' : '?');
	}
	dst[n] = '\0';
}

/* The prefetched query of a signature's key, if any. */
static const struct prefetch *find_prefetch(const struct hm_dkim_verify *v,
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

static void key_temp_reason(const struct hm_dkim_verify *v, struct hm_dkim_sig *s)
{
	const struct prefetch *p = find_prefetch(v, s);
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

/*
 * Whether the library verified the header signature: passed, its body
 * verdict aside (with no body seen, the library's own body hash may match
 * or not), or found the key too small, which it says only after a match.
 */
static bool header_verified(int err, unsigned int flags)
{
	if (!(flags & DKIM_SIGFLAG_PROCESSED))
		return false;
	if (err == DKIM_SIGERROR_KEYTOOSMALL)
		return true;
	return (flags & DKIM_SIGFLAG_PASSED) &&
	       (err == DKIM_SIGERROR_BADSIG || err == DKIM_SIGERROR_OK);
}

/* Turn the library's verdict on one signature into an RFC 8601 result. */
static void classify(struct hm_dkim_verify *v, DKIM_SIGINFO *sig,
		     struct hm_dkim_sig *s)
{
	int err = dkim_sig_geterror(sig);
	unsigned int flags = dkim_sig_getflags(sig);
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	unsigned int bits = 0;
	bool bh_match = dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH;
	const char *estr;

	(void)dkim_sig_getsignalg(sig, &alg);
	if (v->own_body && header_verified(err, flags)) {
		/* The library saw no body: the body hash is ours to judge. */
		const struct own_hash *oh = own_hash_for(v, sig);
		const char *bh = (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"bh");

		if (oh == NULL || !oh->done) {
			s->result = HM_DKIM_TEMPERROR;
			snprintf(s->reason, sizeof(s->reason), "body hash not computed");
			return;
		}
		if (bh == NULL || strcmp(bh, oh->b64) != 0) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "body hash did not verify");
			return;
		}
		bh_match = true;
		if (err == DKIM_SIGERROR_BADSIG)
			err = DKIM_SIGERROR_OK;
	}
	switch (err) {
	case DKIM_SIGERROR_UNKNOWN:
	case DKIM_SIGERROR_OK:
		if (!(flags & DKIM_SIGFLAG_PROCESSED) && v->msgerr[0] != '\0') {
			s->result = HM_DKIM_PERMERROR;
			snprintf(s->reason, sizeof(s->reason), "%s", v->msgerr);
		} else if (!(flags & DKIM_SIGFLAG_PROCESSED)) {
			s->result = HM_DKIM_TEMPERROR;
			snprintf(s->reason, sizeof(s->reason), "%s",
				 v->broken[0] ? v->broken : "not verified");
		} else if (!(flags & DKIM_SIGFLAG_PASSED)) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "signature did not verify");
		} else if (!bh_match) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "body hash did not verify");
		} else if (alg != DKIM_SIGN_ED25519SHA256 &&
			   dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK &&
			   bits < v->dk->min_key_bits) {
			/* The key size first, as the library reports it. */
			s->result = HM_DKIM_POLICY;
			snprintf(s->reason, sizeof(s->reason), "key too small (%u bits)", bits);
		} else if (alg == DKIM_SIGN_RSASHA1) {
			/* RFC 8301 3.1: rsa-sha1 MUST NOT be considered valid. */
			s->result = HM_DKIM_POLICY;
			snprintf(s->reason, sizeof(s->reason), "rsa-sha1 not accepted (RFC 8301)");
		} else {
			ssize_t msglen = -1, canonlen = -1, signlen = -1;

			s->result = HM_DKIM_PASS;
			if (dkim_sig_getcanonlen(v->d, sig, &msglen, &canonlen,
						 &signlen) == DKIM_STAT_OK &&
			    signlen >= 0 && msglen > canonlen)
				snprintf(s->reason, sizeof(s->reason),
					 "l= covers %zd of %zd body bytes", canonlen, msglen);
		}
		return;
	case DKIM_SIGERROR_BADSIG:
		/* The library reports a body hash mismatch as BADSIG too. */
		s->result = HM_DKIM_FAIL;
		snprintf(s->reason, sizeof(s->reason), "%s",
			 dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ?
			 "body hash did not verify" : "signature did not verify");
		return;
	case DKIM_SIGERROR_KEYTOOSMALL:
		s->result = HM_DKIM_POLICY;
		if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits > 0)
			snprintf(s->reason, sizeof(s->reason), "key too small (%u bits)", bits);
		else
			snprintf(s->reason, sizeof(s->reason), "key too small");
		return;
	case DKIM_SIGERROR_KEYFAIL:
		s->result = HM_DKIM_TEMPERROR;
		key_temp_reason(v, s);
		return;
	case DKIM_SIGERROR_NOKEY: {
		const struct prefetch *p = find_prefetch(v, s);

		s->result = HM_DKIM_PERMERROR;
		snprintf(s->reason, sizeof(s->reason), "no key%s",
			 p == NULL ? "" : p->status == HM_DNS_NXDOMAIN ? " (NXDOMAIN)" :
			 p->status == HM_DNS_NODATA ? " (no TXT record)" : "");
		return;
	}
	/* The signature cannot be used, for good (RFC 6376 PERMFAIL). */
	case DKIM_SIGERROR_KEYREVOKED:
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
	case DKIM_SIGERROR_INVALID_H:		/* From not signed */
	case DKIM_SIGERROR_TOOLARGE_L:
	case DKIM_SIGERROR_SUBDOMAIN:
	case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
	case DKIM_SIGERROR_MBSFAILED:
	case DKIM_SIGERROR_CONDITIONAL:
	case DKIM_SIGERROR_CONDLOOP:
		s->result = HM_DKIM_PERMERROR;
		break;
	/* Syntax errors in the signature: RFC 8601 2.7.1 "neutral". */
	default:
		s->result = HM_DKIM_NEUTRAL;
		break;
	}
	estr = dkim_sig_geterrorstr(err);
	snprintf(s->reason, sizeof(s->reason), "%s", estr ? estr : "signature error");
}

static const char *alg_name(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

	if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK)
		return NULL;
	switch (alg) {
	case DKIM_SIGN_RSASHA1:
		return "rsa-sha1";
	case DKIM_SIGN_RSASHA256:
		return "rsa-sha256";
	case DKIM_SIGN_ED25519SHA256:
		return "ed25519-sha256";
	default:
		return NULL;
	}
}

static void describe(struct hm_dkim_verify *v, DKIM_SIGINFO *sig,
		     struct hm_dkim_sig *s)
{
	/* a= as written: the parsed value is a default when parsing stopped early. */
	const char *a = (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"a");
	char ident[HM_ADDR_MAX];

	memset(s, 0, sizeof(*s));
	copy_clean(s->domain, sizeof(s->domain),
		   (const char *)dkim_sig_getdomain(sig), true);
	copy_clean(s->selector, sizeof(s->selector),
		   (const char *)dkim_sig_getselector(sig), true);
	copy_clean(s->b, sizeof(s->b),
		   (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"b"), true);
	copy_clean(s->algorithm, sizeof(s->algorithm), a ? a : alg_name(sig), true);
	if (dkim_sig_getidentity(v->d, sig, (u_char *)ident, sizeof(ident))
	    == DKIM_STAT_OK)
		copy_clean(s->identity, sizeof(s->identity), ident, true);
}

int hm_dkim_verify_finish(struct hm_dkim_verify *v, struct hm_dkim_outcome *out)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	DKIM_STAT st;

	memset(out, 0, sizeof(*out));
	if (v->state == V_HEADERS)
		(void)hm_dkim_verify_eoh(v);
	if (v->state == V_UNSIGNED || v->state == V_DONE)
		return 0;
	prefetch_wait(v);
	if (v->state == V_BODY) {
		if (v->own_body)
			own_hashes_final(v);
		current = v;
		st = dkim_eom(v->d, NULL);
		current = NULL;
		v->state = V_DONE;
		/* Per-signature verdicts are read below; only a breakdown counts. */
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL ||
		    st == DKIM_STAT_INVALID) {
			set_broken(v, "end of message", st);
		} else if (st == DKIM_STAT_SYNTAX) {
			/* The message, not a signature (e.g. no CRLF at the end). */
			const char *e = dkim_geterror(v->d);

			snprintf(v->msgerr, sizeof(v->msgerr), "%s",
				 e && *e ? e : "message syntax error");
		}
	}
	if (dkim_getsiglist(v->d, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (int i = 0; i < nsigs && out->nsigs < HM_DKIM_MAX_SIGS; i++) {
		struct hm_dkim_sig *s = &out->sigs[out->nsigs];

		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		describe(v, sigs[i], s);
		classify(v, sigs[i], s);
		out->nsigs++;
	}
	if (v->broken[0] != '\0') {
		for (size_t i = 0; i < out->nsigs; i++)
			if (out->sigs[i].result == HM_DKIM_PASS) {
				out->sigs[i].result = HM_DKIM_TEMPERROR;
				snprintf(out->sigs[i].reason, sizeof(out->sigs[i].reason),
					 "%s", v->broken);
			}
		return -1;
	}
	return 0;
}

void hm_dkim_verify_free(struct hm_dkim_verify **vp)
{
	struct hm_dkim_verify *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->npf; i++) {
		/* Started, never collected (an aborted transaction): do not make
		 * the MTA's thread wait for a key nobody needs any more. */
		if (v->pf[i].q != NULL)
			hm_dns_cancel(v->dk->dns, v->pf[i].q);
		hm_dns_answer_free(&v->pf[i].ans);
	}
	for (size_t i = 0; i < v->nsighdrs; i++)
		free(v->sighdrs[i].text);
	free(v->sighdrs);
	own_hashes_free(v);
	if (v->d != NULL)
		dkim_free(v->d);
	free(v->hbuf);
	free(v);
	*vp = NULL;
}
