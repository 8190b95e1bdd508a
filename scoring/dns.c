/*
 * dns.c - libunbound behind a three-valued, deadline-bounded interface.
 *
 * libunbound resolves in a background thread of its own (ub_ctx_async with
 * threads); its results come back through ub_fd() and are handed out by
 * ub_process(), which runs the callbacks.  One reaper thread of ours does
 * that loop; each callback stores its result in the query and signals the
 * thread waiting for it.  A waiter that gives up at its deadline marks the
 * query abandoned and cancels it: from then on whichever side comes last
 * frees it (the callback, if libunbound still delivers; the waiter, if the
 * cancel succeeded and no callback will ever come).  Answers that may be
 * kept are kept in front of all this (dns-cache.c): a query for one of
 * them is answered in the thread that starts it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <unbound.h>

#include "scoring/dns-cache.h"
#include "scoring/dns.h"

struct hm_dns {
	struct ub_ctx *ub;
	struct hm_dns_cache *cache;	/* answers kept in front of libunbound */
	long timeout_ms;
	pthread_t reaper;
	int stop_pipe[2];
	bool reaper_running;
};

struct hm_dns_query {
	pthread_mutex_t lock;
	pthread_cond_t done_cv;
	bool done, abandoned;
	int err;			/* libunbound error, 0 if none */
	struct ub_result *result;
	int async_id;
	struct timespec deadline;	/* CLOCK_MONOTONIC */
	enum hm_dns_kind kind;		/* for the failure count */
	struct hm_dns_answer *cached;	/* answered from the cache, at start */
	int rrtype;			/* what was asked, to keep the answer */
	char name[256];			/* "": too long, not kept */
};

/* Per kind, process-wide: a reload builds a new resolver, not new counts. */
static atomic_ullong n_lookups[HM_DNS_KIND_COUNT], n_failures[HM_DNS_KIND_COUNT];
static atomic_ullong n_cached[HM_DNS_KIND_COUNT];

const char *hm_dns_kind_name(enum hm_dns_kind kind)
{
	static const char *const names[HM_DNS_KIND_COUNT] = {
		[HM_DNS_KIND_OTHER] = "other", [HM_DNS_KIND_SPF] = "spf",
		[HM_DNS_KIND_DKIM] = "dkim", [HM_DNS_KIND_DMARC] = "dmarc",
		[HM_DNS_KIND_DNSBL] = "dnsbl", [HM_DNS_KIND_PTR] = "ptr",
	};

	return (unsigned)kind < HM_DNS_KIND_COUNT ? names[kind] : "other";
}

void hm_dns_counts(enum hm_dns_kind kind, struct hm_dns_counts *out)
{
	if ((unsigned)kind >= HM_DNS_KIND_COUNT)
		kind = HM_DNS_KIND_OTHER;
	out->lookups = atomic_load_explicit(&n_lookups[kind], memory_order_relaxed);
	out->failures = atomic_load_explicit(&n_failures[kind], memory_order_relaxed);
	out->cached = atomic_load_explicit(&n_cached[kind], memory_order_relaxed);
}

/*
 * Zones libunbound answers itself by default (RFC 6761 names, private and
 * documentation reverse zones).  A mail filter must ask the operator's
 * nameserver about them like any other name (split DNS, test setups).
 */
static const char *const nodefault_zones[] = {
	"test.", "invalid.", "onion.", "home.arpa.",
	"10.in-addr.arpa.", "168.192.in-addr.arpa.",
	"16.172.in-addr.arpa.", "17.172.in-addr.arpa.", "18.172.in-addr.arpa.",
	"19.172.in-addr.arpa.", "20.172.in-addr.arpa.", "21.172.in-addr.arpa.",
	"22.172.in-addr.arpa.", "23.172.in-addr.arpa.", "24.172.in-addr.arpa.",
	"25.172.in-addr.arpa.", "26.172.in-addr.arpa.", "27.172.in-addr.arpa.",
	"28.172.in-addr.arpa.", "29.172.in-addr.arpa.", "30.172.in-addr.arpa.",
	"31.172.in-addr.arpa.",
	"2.0.192.in-addr.arpa.", "100.51.198.in-addr.arpa.", "113.0.203.in-addr.arpa.",
	"8.b.d.0.1.0.0.2.ip6.arpa.",
};

static void *reaper_main(void *arg)
{
	struct hm_dns *dns = arg;
	struct pollfd pfd[2] = {
		{ .fd = ub_fd(dns->ub), .events = POLLIN },
		{ .fd = dns->stop_pipe[0], .events = POLLIN },
	};

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (pfd[1].revents)
			break;
		if (pfd[0].revents)
			ub_process(dns->ub);
	}
	return NULL;
}

/*
 * Server options go through a configuration text that libunbound reads as
 * a file: ub_ctx_set_option() accepts "local-zone: ... nodefault" but does
 * not apply it (libunbound 1.17), ub_ctx_config() does.
 */
static int load_server_options(struct hm_dns *dns, char *err, size_t errlen)
{
	char path[64];
	FILE *f;
	int fd, rc;

	if ((fd = memfd_create("hm-unbound-conf", MFD_CLOEXEC)) < 0 ||
	    (f = fdopen(fd, "w")) == NULL) {
		snprintf(err, errlen, "resolver configuration: %s", strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	fputs("server:\n"
	      /* Forwarders on loopback are fine: a local resolver or the test server. */
	      "\tdo-not-query-localhost: no\n"
	      /* Keep asking a forwarder that timed out once (it may be the only one). */
	      "\tinfra-keep-probing: yes\n", f);
	for (size_t i = 0; i < sizeof(nodefault_zones) / sizeof(nodefault_zones[0]); i++)
		fprintf(f, "\tlocal-zone: \"%s\" nodefault\n", nodefault_zones[i]);
	if (fflush(f) != 0) {
		snprintf(err, errlen, "resolver configuration: %s", strerror(errno));
		fclose(f);
		return -1;
	}
	snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
	rc = ub_ctx_config(dns->ub, path);
	fclose(f);
	if (rc != 0) {
		snprintf(err, errlen, "resolver configuration: %s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

static int configure(struct hm_dns *dns, const struct hm_dns_conf *conf,
		     char *err, size_t errlen)
{
	int rc;

	if (load_server_options(dns, err, errlen) < 0)
		return -1;
	for (size_t i = 0; i < conf->nnameservers; i++) {
		if ((rc = ub_ctx_set_fwd(dns->ub, conf->nameservers[i])) != 0) {
			snprintf(err, errlen, "nameserver \"%s\": %s", conf->nameservers[i],
				 ub_strerror(rc));
			return -1;
		}
	}
	if (conf->nnameservers == 0) {
		const char *path = conf->resolv_conf ? conf->resolv_conf : "/etc/resolv.conf";

		if ((rc = ub_ctx_resolvconf(dns->ub, path)) != 0) {
			snprintf(err, errlen, "%s: %s", path, ub_strerror(rc));
			return -1;
		}
	}
	if ((rc = ub_ctx_async(dns->ub, 1)) != 0) {
		snprintf(err, errlen, "resolver threads: %s", ub_strerror(rc));
		return -1;
	}
	return 0;
}

int hm_dns_new(const struct hm_dns_conf *conf, struct hm_dns **dns_r,
	       char *err, size_t errlen)
{
	struct hm_dns *dns = calloc(1, sizeof(*dns));

	*dns_r = NULL;
	if (dns == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dns->stop_pipe[0] = dns->stop_pipe[1] = -1;
	dns->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : HM_DNS_TIMEOUT_S * 1000L;
	/* Without memory for the cache, every query goes to libunbound. */
	dns->cache = hm_dns_cache_new();
	if ((dns->ub = ub_ctx_create()) == NULL) {
		snprintf(err, errlen, "cannot create the resolver context");
		hm_dns_free(&dns);
		return -1;
	}
	if (configure(dns, conf, err, errlen) < 0) {
		hm_dns_free(&dns);
		return -1;
	}
	if (pipe(dns->stop_pipe) < 0 ||
	    pthread_create(&dns->reaper, NULL, reaper_main, dns) != 0) {
		snprintf(err, errlen, "resolver thread: %s", strerror(errno));
		hm_dns_free(&dns);
		return -1;
	}
	dns->reaper_running = true;
	*dns_r = dns;
	return 0;
}

void hm_dns_free(struct hm_dns **dnsp)
{
	struct hm_dns *dns = *dnsp;

	if (dns == NULL)
		return;
	if (dns->reaper_running) {
		char c = 1;

		if (write(dns->stop_pipe[1], &c, 1) == 1)
			pthread_join(dns->reaper, NULL);
	}
	if (dns->stop_pipe[0] >= 0)
		close(dns->stop_pipe[0]);
	if (dns->stop_pipe[1] >= 0)
		close(dns->stop_pipe[1]);
	if (dns->ub)
		ub_ctx_delete(dns->ub);
	hm_dns_cache_free(&dns->cache);
	free(dns);
	*dnsp = NULL;
}

static void query_free(struct hm_dns_query *q)
{
	if (q->result)
		ub_resolve_free(q->result);
	hm_dns_answer_free(&q->cached);
	pthread_mutex_destroy(&q->lock);
	pthread_cond_destroy(&q->done_cv);
	free(q);
}

/* Runs in the reaper thread, inside ub_process(). */
static void on_result(void *arg, int err, struct ub_result *result)
{
	struct hm_dns_query *q = arg;
	bool abandoned;

	pthread_mutex_lock(&q->lock);
	abandoned = q->abandoned;
	q->err = err;
	q->result = result;
	q->done = true;
	pthread_cond_signal(&q->done_cv);
	pthread_mutex_unlock(&q->lock);
	if (abandoned)
		query_free(q);
}

struct hm_dns_query *hm_dns_start(struct hm_dns *dns, const char *name, int rrtype)
{
	return hm_dns_start_kind(dns, HM_DNS_KIND_OTHER, name, rrtype);
}

struct hm_dns_query *hm_dns_start_kind(struct hm_dns *dns, enum hm_dns_kind kind,
				       const char *name, int rrtype)
{
	struct hm_dns_query *q = calloc(1, sizeof(*q));
	pthread_condattr_t attr;

	if ((unsigned)kind >= HM_DNS_KIND_COUNT)
		kind = HM_DNS_KIND_OTHER;
	atomic_fetch_add_explicit(&n_lookups[kind], 1, memory_order_relaxed);
	if (q == NULL) {
		/* The wait on NULL fails without knowing the kind: count it here. */
		atomic_fetch_add_explicit(&n_failures[kind], 1, memory_order_relaxed);
		return NULL;
	}
	q->kind = kind;
	pthread_mutex_init(&q->lock, NULL);
	pthread_condattr_init(&attr);
	pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
	pthread_cond_init(&q->done_cv, &attr);
	pthread_condattr_destroy(&attr);
	clock_gettime(CLOCK_MONOTONIC, &q->deadline);
	q->deadline.tv_sec += dns->timeout_ms / 1000;
	q->deadline.tv_nsec += (dns->timeout_ms % 1000) * 1000000L;
	if (q->deadline.tv_nsec >= 1000000000L) {
		q->deadline.tv_sec++;
		q->deadline.tv_nsec -= 1000000000L;
	}
	q->rrtype = rrtype;
	/* A name too long to copy is not kept: a cut name would be a wrong key. */
	if ((size_t)snprintf(q->name, sizeof(q->name), "%s", name) >= sizeof(q->name))
		q->name[0] = '\0';
	if ((q->cached = hm_dns_cache_get(dns->cache, name, rrtype)) != NULL) {
		atomic_fetch_add_explicit(&n_cached[kind], 1, memory_order_relaxed);
		q->done = true;
		return q;
	}
	if (ub_resolve_async(dns->ub, name, rrtype, 1, q, on_result, &q->async_id) != 0) {
		/* Not started: hand back a query that is already done, failed. */
		q->done = true;
		q->err = UB_SERVFAIL;
	}
	return q;
}

/* Fill in an answer from a libunbound result (taking it over). */
static struct hm_dns_answer *make_answer(int err, struct ub_result *r)
{
	struct hm_dns_answer *a = calloc(1, sizeof(*a));

	if (a == NULL) {
		if (r)
			ub_resolve_free(r);
		return NULL;
	}
	a->status = HM_DNS_TEMPFAIL;
	if (err != 0 || r == NULL)
		return a;
	a->ub_ = r;
	a->rcode = r->rcode;
	a->ttl = r->ttl;
	a->packet = r->answer_packet;
	a->packet_len = r->answer_len > 0 ? (size_t)r->answer_len : 0;
	if (r->rcode == 3 || r->nxdomain) {
		a->status = HM_DNS_NXDOMAIN;
	} else if (r->rcode != 0) {
		a->status = HM_DNS_TEMPFAIL;	/* SERVFAIL, REFUSED, ... */
	} else if (r->havedata) {
		a->status = HM_DNS_OK;
		while (r->data[a->count])
			a->count++;
		a->data = (const unsigned char **)r->data;
		a->len = (const size_t *)NULL;
	} else {
		a->status = HM_DNS_NODATA;
	}
	return a;
}

/* The answer of a finished (or given up) query, taking result over. */
static enum hm_dns_status wait_answer(int err, struct ub_result *result,
				      struct hm_dns_answer **ans_r)
{
	*ans_r = make_answer(err, result);
	if (*ans_r == NULL)
		return HM_DNS_TEMPFAIL;
	if ((*ans_r)->ub_) {
		/* libunbound's len[] is int: give the callers size_t. */
		struct ub_result *r = (*ans_r)->ub_;
		size_t *lens = calloc((*ans_r)->count + 1, sizeof(*lens));

		if (lens == NULL) {
			hm_dns_answer_free(ans_r);
			return HM_DNS_TEMPFAIL;
		}
		for (size_t i = 0; i < (*ans_r)->count; i++)
			lens[i] = r->len[i] > 0 ? (size_t)r->len[i] : 0;
		(*ans_r)->len = lens;
	}
	return (*ans_r)->status;
}

enum hm_dns_status hm_dns_wait(struct hm_dns *dns, struct hm_dns_query *q,
			       struct hm_dns_answer **ans_r)
{
	struct ub_result *result = NULL;
	int err = UB_SERVFAIL, rc = 0;
	enum hm_dns_kind kind;
	enum hm_dns_status st;
	bool done;

	*ans_r = NULL;
	if (q == NULL)
		return wait_answer(err, NULL, ans_r);	/* counted by hm_dns_start_kind() */
	if (q->cached != NULL) {
		*ans_r = q->cached;
		q->cached = NULL;
		query_free(q);
		return (*ans_r)->status;	/* never TEMPFAIL: those are not kept */
	}
	kind = q->kind;
	pthread_mutex_lock(&q->lock);
	while (!q->done && rc != ETIMEDOUT)
		rc = pthread_cond_timedwait(&q->done_cv, &q->lock, &q->deadline);
	done = q->done;
	if (done) {
		err = q->err;
		result = q->result;
		q->result = NULL;
	}
	pthread_mutex_unlock(&q->lock);
	st = wait_answer(err, result, ans_r);
	if (st == HM_DNS_TEMPFAIL)
		atomic_fetch_add_explicit(&n_failures[kind], 1, memory_order_relaxed);
	else if (done && q->name[0] != '\0')
		hm_dns_cache_put(dns->cache, q->name, q->rrtype, *ans_r);
	if (done)
		query_free(q);
	else
		hm_dns_cancel(dns, q);	/* deadline passed */
	return st;
}

void hm_dns_cancel(struct hm_dns *dns, struct hm_dns_query *q)
{
	bool done;
	int id;

	if (q == NULL)
		return;
	pthread_mutex_lock(&q->lock);
	done = q->done;
	q->abandoned = !done;
	id = q->async_id;	/* q may be freed by the callback once unlocked */
	pthread_mutex_unlock(&q->lock);
	if (done)
		query_free(q);
	else if (ub_cancel(dns->ub, id) == 0)
		query_free(q);	/* no callback will come */
	/* else the callback is under way or due, and frees q */
}

enum hm_dns_status hm_dns_lookup(struct hm_dns *dns, const char *name, int rrtype,
				 struct hm_dns_answer **ans_r)
{
	return hm_dns_wait(dns, hm_dns_start(dns, name, rrtype), ans_r);
}

enum hm_dns_status hm_dns_lookup_kind(struct hm_dns *dns, enum hm_dns_kind kind,
				      const char *name, int rrtype, struct hm_dns_answer **ans_r)
{
	return hm_dns_wait(dns, hm_dns_start_kind(dns, kind, name, rrtype), ans_r);
}

void hm_dns_answer_free(struct hm_dns_answer **ansp)
{
	struct hm_dns_answer *a = *ansp;

	if (a == NULL)
		return;
	if (a->ub_)
		ub_resolve_free(a->ub_);
	if (!a->single_block_)
		free((void *)a->len);
	free(a);
	*ansp = NULL;
}

/* --- rdata decoding ----------------------------------------------------- */

int hm_dns_txt(const unsigned char *rdata, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	if (outlen == 0)
		return -1;
	while (i < len) {
		size_t n = rdata[i++];

		if (n > len - i || o + n >= outlen)
			return -1;
		memcpy(out + o, rdata + i, n);
		o += n;
		i += n;
	}
	out[o] = '\0';
	return 0;
}

int hm_dns_name(const unsigned char *wire, size_t len, char *out, size_t outlen)
{
	size_t i = 0, o = 0;

	if (outlen == 0)
		return -1;
	for (;;) {
		size_t n;

		if (i >= len)
			return -1;
		n = wire[i++];
		if (n == 0)
			break;
		if (n > 63 || n > len - i)
			return -1;	/* compression pointers never appear here */
		if (o + n + 2 > outlen)
			return -1;
		if (o > 0)
			out[o++] = '.';
		memcpy(out + o, wire + i, n);
		o += n;
		i += n;
	}
	if (o == 0) {
		if (outlen < 2)
			return -1;
		out[o++] = '.';	/* the root */
	}
	out[o] = '\0';
	return 0;
}

int hm_dns_mx(const unsigned char *rdata, size_t len, unsigned *pref_r,
	      char *out, size_t outlen)
{
	if (len < 3)
		return -1;
	*pref_r = (unsigned)rdata[0] << 8 | rdata[1];
	return hm_dns_name(rdata + 2, len - 2, out, outlen);
}

int hm_dns_reverse_name(const char *ip, const char *suffix, char *out, size_t outlen)
{
	unsigned char a[16];
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;
	int n;

	if (inet_pton(AF_INET, ip, a) == 1) {
		n = snprintf(out, outlen, "%u.%u.%u.%u.%s", a[3], a[2], a[1], a[0],
			     suffix ? suffix : "in-addr.arpa");
		return n < 0 || (size_t)n >= outlen ? -1 : 0;
	}
	if (inet_pton(AF_INET6, ip, a) != 1)
		return -1;
	if (outlen < 64 + 1)
		return -1;
	for (int i = 15; i >= 0; i--) {
		out[o++] = hex[a[i] & 15];
		out[o++] = '.';
		out[o++] = hex[a[i] >> 4];
		out[o++] = '.';
	}
	n = snprintf(out + o, outlen - o, "%s", suffix ? suffix : "ip6.arpa");
	return n < 0 || (size_t)n >= outlen - o ? -1 : 0;
}
