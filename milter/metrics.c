/*
 * metrics.c - the metrics registry, the per-message counting and the
 * Prometheus text exposition (format 0.0.4).
 *
 * Every counter is a C11 atomic updated with relaxed order: a scrape may
 * see one message's counters half-updated, which Prometheus tolerates, and
 * the message path never waits.  Counters are kept in SHARDS copies, each
 * on cache lines of its own, and a thread counts in one copy (chosen at
 * its first count), so connections counting at once on several cores do
 * not bounce one cache line between them; a scrape adds the copies up.
 * Label sets are enums; the symbol names live in an open-addressing table
 * whose slots are filled once and never emptied, so a reader needs no
 * lock (see metrics.h).
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "milter/clsmodel.h"
#include "milter/metrics.h"
#include "policy/store.h"
#include "scoring/dns.h"
#include "scoring/symbols.h"

/* --- label sets ---------------------------------------------------------- */

/* The log line's action= values. */
enum action { A_ACCEPT, A_TAG, A_REJECT, A_TEMPFAIL, A_ABORTED, A_COUNT };
static const char *const action_names[A_COUNT] = {
	"accept", "tag", "reject", "tempfail", "aborted",
};

/* What became of one recipient. */
enum outcome { O_ACCEPT, O_TAG, O_REJECT, O_TEMPFAIL, O_DEFERRED, O_NONE, O_COUNT };
static const char *const outcome_names[O_COUNT] = {
	"accept", "tag", "reject", "tempfail", "deferred", "none",
};

/* What decided it. */
enum decider {
	D_WHITE_DOMAIN, D_WHITE_MAILBOX, D_BLACK_DOMAIN, D_BLACK_MAILBOX,
	D_THR_MAILBOX, D_THR_DOMAIN, D_THR_SERVER, D_DMARC, D_SPLIT, D_POLICY_UNAVAILABLE,
	D_OUTBOUND, D_NONE, D_COUNT
};
static const char *const decider_names[D_COUNT] = {
	"whitelist_domain", "whitelist_mailbox", "blacklist_domain", "blacklist_mailbox",
	"thresholds_mailbox", "thresholds_domain", "thresholds_server", "dmarc_enforce",
	"split_recipients", "policy_unavailable", "outbound", "none",
};

const double hm_metrics_eom_bounds[HM_METRICS_EOM_BUCKETS] = {
	0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
/* The same bounds as printed in le="": exact, whatever printf does with 0.1. */
static const char *const eom_le[HM_METRICS_EOM_BUCKETS] = {
	"0.0005", "0.001", "0.0025", "0.005", "0.01", "0.025", "0.05", "0.1", "0.25", "0.5",
	"1", "2.5", "5", "10",
};

/* --- the registry ---------------------------------------------------------- */

#define SHARDS 8
#define SYM_SLOTS 1024			/* power of two, twice HM_METRICS_SYMBOLS_MAX */

/* One copy of the counters. */
struct shard {
	atomic_ullong messages[A_COUNT];
	atomic_ullong recipients[O_COUNT][D_COUNT];
	/* Per bucket, not cumulative (one add per observation); the last is +Inf. */
	atomic_ullong eom_buckets[HM_METRICS_EOM_BUCKETS + 1];
	atomic_ullong eom_sum_ns;
	atomic_ullong sym_other;	/* fired past the table's bound */
	atomic_ullong sym[SYM_SLOTS];	/* by the slot of the name */
} __attribute__((aligned(64)));

static struct shard shards[SHARDS];
static atomic_uint next_shard;
static _Thread_local struct shard *my_shard;

/* Symbol names; a name's counts are sym[] at its slot's index. */
struct sym_slot {
	_Atomic(const char *) name;	/* NULL: empty; else points at buf */
	uint32_t hash;			/* of the name: most misses end without strcmp */
	char buf[HM_SYM_NAME_MAX];
};

static struct sym_slot syms[SYM_SLOTS];
static pthread_mutex_t sym_lock = PTHREAD_MUTEX_INITIALIZER;	/* inserts only */
static size_t sym_names;		/* under sym_lock */

/* This thread's copy of the counters. */
static struct shard *shard(void)
{
	if (my_shard == NULL)
		my_shard = &shards[atomic_fetch_add_explicit(&next_shard, 1, memory_order_relaxed) %
				   SHARDS];
	return my_shard;
}

static void count(atomic_ullong *c)
{
	atomic_fetch_add_explicit(c, 1, memory_order_relaxed);
}

/* The sum over the copies of a counter at offset off in struct shard. */
static unsigned long long total(size_t off)
{
	unsigned long long n = 0;

	for (size_t i = 0; i < SHARDS; i++)
		n += atomic_load_explicit((atomic_ullong *)((char *)&shards[i] + off),
					  memory_order_relaxed);
	return n;
}
#define TOTAL(field) total(offsetof(struct shard, field))

/* FNV-1a: a symbol name is a few dozen bytes. */
static uint32_t name_hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

/*
 * The slot of name, or NULL when it is not in the table.  Inserts fill the
 * first empty slot of a name's probe sequence and slots are never emptied,
 * so an empty slot ends the search; a name being inserted right now may be
 * missed, and the caller then looks again under the lock.
 */
static struct sym_slot *sym_find(const char *name, uint32_t h)
{
	for (uint32_t i = 0; i < SYM_SLOTS; i++) {
		struct sym_slot *s = &syms[(h + i) & (SYM_SLOTS - 1)];
		const char *n = atomic_load_explicit(&s->name, memory_order_acquire);

		if (n == NULL)
			return NULL;
		if (s->hash == h && strcmp(n, name) == 0)
			return s;
	}
	return NULL;
}

/* The slot of name, inserted if needed; NULL when the table is full. */
static struct sym_slot *sym_slot_of(const char *name)
{
	uint32_t h = name_hash(name);
	struct sym_slot *s = sym_find(name, h);

	if (s != NULL || strlen(name) >= HM_SYM_NAME_MAX || name[0] == '\0')
		return s;
	pthread_mutex_lock(&sym_lock);
	if ((s = sym_find(name, h)) == NULL && sym_names < HM_METRICS_SYMBOLS_MAX) {
		for (uint32_t i = 0; i < SYM_SLOTS; i++) {
			struct sym_slot *e = &syms[(h + i) & (SYM_SLOTS - 1)];

			if (atomic_load_explicit(&e->name, memory_order_relaxed) == NULL) {
				memcpy(e->buf, name, strlen(name) + 1);
				e->hash = h;
				/* Release: a reader that sees the pointer sees the text. */
				atomic_store_explicit(&e->name, e->buf, memory_order_release);
				sym_names++;
				s = e;
				break;
			}
		}
	}
	pthread_mutex_unlock(&sym_lock);
	return s;
}

void hm_metrics_symbol(const char *name)
{
	struct sym_slot *s = sym_slot_of(name);
	struct shard *sh = shard();

	count(s ? &sh->sym[s - syms] : &sh->sym_other);
}

void hm_metrics_register_symbols(const struct hm_conf *conf)
{
	for (int i = 0; i < HM_SYM_COUNT; i++)
		(void)sym_slot_of(hm_symdefs[i].name);
	if (conf == NULL)
		return;
	for (size_t i = 0; i < conf->dnsbls.count; i++)
		(void)sym_slot_of(((const struct hm_conf_dnsbl *)conf->dnsbls.items)[i].title);
	for (size_t i = 0; i < conf->rules.count; i++)
		(void)sym_slot_of(((const struct hm_conf_rule *)conf->rules.items)[i].title);
}

void hm_metrics_observe_eom(unsigned long long ns)
{
	double s = (double)ns / 1e9;
	struct shard *sh = shard();
	size_t b = 0;

	while (b < HM_METRICS_EOM_BUCKETS && s > hm_metrics_eom_bounds[b])
		b++;
	count(&sh->eom_buckets[b]);
	/* Release after the bucket: a scrape that sees this sum sees the count. */
	atomic_fetch_add_explicit(&sh->eom_sum_ns, ns, memory_order_release);
}

/* --- one message ------------------------------------------------------------- */

static enum action action_of(const char *a)
{
	for (int i = 0; i < A_COUNT; i++)
		if (strcmp(a, action_names[i]) == 0)
			return (enum action)i;
	return A_COUNT;
}

static enum decider list_decider(const struct hm_rcpt_policy *p)
{
	bool domain = p->list_level == HM_LEVEL_DOMAIN;

	if (p->list == HM_LIST_WHITE)
		return domain ? D_WHITE_DOMAIN : D_WHITE_MAILBOX;
	return domain ? D_BLACK_DOMAIN : D_BLACK_MAILBOX;
}

/* A recipient's outcome and what decided it, as the log's outcomes= says. */
static void classify(const struct hm_conf *conf, const struct hm_msg *msg,
		     const struct hm_rcpt *rc, enum action a, enum outcome *o, enum decider *d)
{
	const struct hm_rcpt_policy *p = rc->policy;

	switch (rc->status) {
	case HM_RCPT_REJECTED:
		*o = O_REJECT;
		*d = p ? list_decider(p) : D_NONE;
		return;
	case HM_RCPT_DEFERRED:
		*o = O_DEFERRED;
		*d = D_SPLIT;
		return;
	case HM_RCPT_TEMPFAIL:
		*o = O_TEMPFAIL;
		*d = D_POLICY_UNAVAILABLE;
		return;
	case HM_RCPT_ACCEPTED:
		break;
	}
	if (!rc->decided) {
		/* Not judged (our own users' mail), or no verdict reached. */
		*d = msg->outbound ? D_OUTBOUND : D_NONE;
		*o = a == A_ACCEPT ? O_ACCEPT : a == A_TEMPFAIL ? O_TEMPFAIL : O_NONE;
		return;
	}
	*o = O_ACCEPT;
	switch (rc->outcome) {
	case HM_ACCEPT: *o = O_ACCEPT; break;
	case HM_TAG: *o = O_TAG; break;
	case HM_REJECT: *o = rc->held ? O_TEMPFAIL : O_REJECT; break;
	}
	if (p == NULL || p->failed) {
		*d = D_THR_SERVER;
	} else if (p->list != HM_LIST_NONE) {
		*d = list_decider(p);
		return;
	} else {
		*d = p->thresholds_from == HM_LEVEL_MAILBOX ? D_THR_MAILBOX :
		     p->thresholds_from == HM_LEVEL_DOMAIN ? D_THR_DOMAIN : D_THR_SERVER;
	}
	/*
	 * dmarc.enforce_reject turns a score under the recipient's reject
	 * threshold into a reject: one the thresholds did not make.
	 */
	if (rc->outcome == HM_REJECT && msg->result && (p || conf)) {
		struct hm_thresholds t;

		if (p)
			t = (struct hm_thresholds){ p->tag, p->reject };
		else
			t = (struct hm_thresholds){ conf->thresholds.tag, conf->thresholds.reject };
		if (hm_decide(msg->result->score, &t) != HM_REJECT)
			*d = D_DMARC;
	}
}

void hm_metrics_message(const struct hm_conn *conn, const char *action)
{
	const struct hm_msg *msg = conn->msg;
	enum action a = action_of(action);

	if (a == A_COUNT || msg == NULL)
		return;			/* not an action of the log line */
	count(&shard()->messages[a]);
	for (size_t i = 0; i < msg->nrcpts; i++) {
		enum outcome o;
		enum decider d;

		classify(conn->conf, msg, &msg->rcpts[i], a, &o, &d);
		count(&shard()->recipients[o][d]);
	}
	if (msg->result) {
		for (size_t i = 0; i < msg->result->symbols.count; i++)
			hm_metrics_symbol(msg->result->symbols.fired[i].name);
	}
	if (msg->eom_started.tv_sec || msg->eom_started.tv_nsec) {
		struct timespec now;
		long long ns;

		clock_gettime(CLOCK_MONOTONIC, &now);
		ns = (now.tv_sec - msg->eom_started.tv_sec) * 1000000000LL +
		     (now.tv_nsec - msg->eom_started.tv_nsec);
		hm_metrics_observe_eom(ns > 0 ? (unsigned long long)ns : 0);
	}
}

/* --- the exposition ----------------------------------------------------------- */

int hm_metrics_put_label_value(struct hm_strbuf *out, const char *v)
{
	const char *run = v;

	for (; *v; v++) {
		const char *esc = *v == '\\' ? "\\\\" : *v == '"' ? "\\\"" : *v == '\n' ? "\\n" : NULL;

		if (esc == NULL)
			continue;
		hm_strbuf_add(out, run, (size_t)(v - run));
		hm_strbuf_puts(out, esc);
		run = v + 1;
	}
	return hm_strbuf_add(out, run, (size_t)(v - run));
}

int hm_metrics_put_help(struct hm_strbuf *out, const char *name, const char *type,
			const char *help)
{
	hm_strbuf_printf(out, "# HELP %s ", name);
	for (const char *h = help; *h; h++) {
		if (*h == '\\')
			hm_strbuf_puts(out, "\\\\");
		else if (*h == '\n')
			hm_strbuf_puts(out, "\\n");
		else
			hm_strbuf_add(out, h, 1);
	}
	return hm_strbuf_printf(out, "\n# TYPE %s %s\n", name, type);
}

/* name{label="value"} N */
static void put_labelled(struct hm_strbuf *out, const char *name, const char *label,
			 const char *value, unsigned long long n)
{
	hm_strbuf_printf(out, "%s{%s=\"", name, label);
	hm_metrics_put_label_value(out, value);
	hm_strbuf_printf(out, "\"} %llu\n", n);
}

static void put_single(struct hm_strbuf *out, const char *name, const char *type,
		       const char *help, unsigned long long n)
{
	hm_metrics_put_help(out, name, type, help);
	hm_strbuf_printf(out, "%s %llu\n", name, n);
}

static atomic_llong start_time;		/* Unix time of the first configuration */

void hm_metrics_configure(const struct hm_conf *conf)
{
	long long zero = 0;

	atomic_compare_exchange_strong(&start_time, &zero, (long long)time(NULL));
	hm_metrics_register_symbols(conf);
}

struct sym_count {
	const char *name;
	unsigned long long n;
};

static int cmp_sym(const void *a, const void *b)
{
	return strcmp(((const struct sym_count *)a)->name, ((const struct sym_count *)b)->name);
}

static void render_symbols(struct hm_strbuf *out)
{
	static const char name[] = "hosterra_milter_symbols_total";
	struct sym_count *all = malloc(SYM_SLOTS * sizeof(*all));
	size_t n = 0;

	if (all == NULL) {
		out->failed = true;
		return;
	}
	for (size_t i = 0; i < SYM_SLOTS; i++) {
		const char *s = atomic_load_explicit(&syms[i].name, memory_order_acquire);

		if (s)
			all[n++] = (struct sym_count){ s, TOTAL(sym[i]) };
	}
	qsort(all, n, sizeof(*all), cmp_sym);
	hm_metrics_put_help(out, name, "counter", "Symbols fired, by name (each message counts "
			    "a symbol once per time it fired).");
	for (size_t i = 0; i < n; i++)
		put_labelled(out, name, "symbol", all[i].name, all[i].n);
	if (TOTAL(sym_other))
		put_labelled(out, name, "symbol", HM_METRICS_OTHER_SYMBOL, TOTAL(sym_other));
	free(all);
}

static void render_eom(struct hm_strbuf *out)
{
	static const char name[] = "hosterra_milter_eom_duration_seconds";
	unsigned long long cum = 0, sum;

	hm_metrics_put_help(out, name, "histogram", "Time from the end of a message to the "
			    "milter's verdict (what the MTA waits for after DATA).");
	/* The sum is read first: a message counted meanwhile adds to the
	 * buckets only, never a sum without its count. */
	sum = 0;
	for (size_t i = 0; i < SHARDS; i++)
		sum += atomic_load_explicit(&shards[i].eom_sum_ns, memory_order_acquire);
	for (size_t b = 0; b <= HM_METRICS_EOM_BUCKETS; b++) {
		cum += TOTAL(eom_buckets[b]);
		hm_strbuf_printf(out, "%s_bucket{le=\"%s\"} %llu\n", name,
				 b < HM_METRICS_EOM_BUCKETS ? eom_le[b] : "+Inf", cum);
	}
	hm_strbuf_printf(out, "%s_sum %llu.%09llu\n", name, sum / 1000000000ULL,
			 sum % 1000000000ULL);
	hm_strbuf_printf(out, "%s_count %llu\n", name, cum);
}

static void render_dns(struct hm_strbuf *out)
{
	static const struct {
		const char *name, *help;
	} counters[3] = {
		{ "hosterra_milter_dns_lookups_total", "DNS queries the checks made, by what "
		  "asked (the milter's cache or libunbound's may answer them)." },
		{ "hosterra_milter_dns_failures_total", "DNS queries that ended in a temporary "
		  "failure (SERVFAIL, REFUSED, time-out), by what asked." },
		{ "hosterra_milter_dns_cached_total", "DNS queries answered from the milter's "
		  "own cache, by what asked (counted in dns_lookups_total too)." },
	};
	unsigned long long n[3][HM_DNS_KIND_COUNT];

	for (int k = 0; k < HM_DNS_KIND_COUNT; k++) {
		struct hm_dns_counts c;

		hm_dns_counts((enum hm_dns_kind)k, &c);
		n[0][k] = c.lookups;
		n[1][k] = c.failures;
		n[2][k] = c.cached;
	}
	for (size_t i = 0; i < 3; i++) {
		hm_metrics_put_help(out, counters[i].name, "counter", counters[i].help);
		for (int k = 0; k < HM_DNS_KIND_COUNT; k++)
			put_labelled(out, counters[i].name, "kind",
				     hm_dns_kind_name((enum hm_dns_kind)k), n[i][k]);
	}
}

/* The policy store's own counts: they start again when a reload changes
 * the Redis settings (a new store), which Prometheus sees as a reset. */
static void render_store(struct hm_strbuf *out, struct hm_store *store)
{
	struct hm_store_stats st;

	hm_store_stats(store, &st);
	put_single(out, "hosterra_milter_policy_cache_hits_total", "counter",
		   "Policy keys answered from the cache, fresh.", st.hits);
	put_single(out, "hosterra_milter_policy_cache_misses_total", "counter",
		   "Policy keys fetched from Redis.", st.misses);
	put_single(out, "hosterra_milter_policy_cache_stale_total", "counter",
		   "Policy keys answered from the cache during a Redis outage.", st.stale);
	put_single(out, "hosterra_milter_policy_lookup_failures_total", "counter",
		   "Policy keys with no value: Redis failed and they were not cached.",
		   st.failed);
	put_single(out, "hosterra_milter_policy_cache_entries", "gauge",
		   "Policy keys in the cache now.", st.entries);
	put_single(out, "hosterra_milter_redis_errors_total", "counter",
		   "Failed exchanges with Redis: connect, AUTH, time-out, error reply.",
		   st.errors);
	put_single(out, "hosterra_milter_redis_up", "gauge",
		   "1 when Redis answered the last attempt, else 0.", hm_store_up(store) ? 1 : 0);
}

/*
 * The content model (DESIGN §9): the snapshot every message reads and its
 * refresher's counts, when the refresher runs.  Learning is done by
 * "hosterra-milter --learn", another process: the learned counts of the
 * snapshot are what all learners wrote.
 */
static void render_model(struct hm_strbuf *out)
{
	static const char learned[] = "hosterra_milter_model_learned_messages";
	struct hm_model_refresher_stats st;
	struct hm_cls_model *m;
	time_t now = time(NULL);

	if (!hm_clsmodel_stats(&st))
		return;
	m = hm_cls_slot_acquire(hm_clsmodel_slot());
	put_single(out, "hosterra_milter_model_version", "gauge",
		   "Version of the content model in use (0: none).", m ? m->version : 0);
	hm_metrics_put_help(out, learned, "gauge",
			    "Messages the model in use has learned, by class (rate() of it: "
			    "the learning).");
	put_labelled(out, learned, "class", "spam", m ? m->spam : 0);
	put_labelled(out, learned, "class", "ham", m ? m->ham : 0);
	put_single(out, "hosterra_milter_model_age_seconds", "gauge",
		   "Seconds since the model in use was read from Redis (it is read again "
		   "as soon as learning changes it).",
		   m && st.loaded_at && now > st.loaded_at ? (unsigned long long)(now - st.loaded_at)
							   : 0);
	put_single(out, "hosterra_milter_model_loads_total", "counter",
		   "Model snapshots read from Redis: the misses of the in-process copy.", st.loads);
	put_single(out, "hosterra_milter_model_load_failures_total", "counter",
		   "Reads of the model from Redis that failed.", st.failures);
	put_single(out, "hosterra_milter_model_up", "gauge",
		   "1 when the last read of the model worked, else 0.", st.up ? 1 : 0);
	hm_cls_model_release(&m);
}

int hm_metrics_render(struct hm_strbuf *out, const struct hm_conf *conf)
{
	static const char rcpts[] = "hosterra_milter_recipients_total";

	hm_metrics_put_help(out, "hosterra_milter_build_info", "gauge",
			    "The running version (always 1).");
	hm_strbuf_puts(out, "hosterra_milter_build_info{version=\"");
	hm_metrics_put_label_value(out, PACKAGE_VERSION);
	hm_strbuf_puts(out, "\"} 1\n");
	put_single(out, "hosterra_milter_start_time_seconds", "gauge",
		   "When the daemon started, in seconds since the Unix epoch.",
		   (unsigned long long)atomic_load(&start_time));

	hm_metrics_put_help(out, "hosterra_milter_messages_total", "counter",
			    "Transactions ended, by the log line's action: accept, tag, reject, "
			    "tempfail, aborted (ended by the MTA with recipients).");
	for (int a = 0; a < A_COUNT; a++)
		put_labelled(out, "hosterra_milter_messages_total", "action", action_names[a],
			     TOTAL(messages[a]));

	/* Only the pairs seen: most of outcome x decider cannot happen. */
	hm_metrics_put_help(out, rcpts, "counter",
			    "Recipients by their own outcome and by what decided it (the log "
			    "line's outcomes=).");
	for (int o = 0; o < O_COUNT; o++)
		for (int d = 0; d < D_COUNT; d++) {
			unsigned long long n = TOTAL(recipients[o][d]);

			if (n)
				hm_strbuf_printf(out, "%s{outcome=\"%s\",decided_by=\"%s\"} %llu\n",
						 rcpts, outcome_names[o], decider_names[d], n);
		}
	render_symbols(out);
	render_eom(out);
	put_single(out, "hosterra_milter_connections", "gauge",
		   "Milter connections open now.", hm_conn_open());
	put_single(out, "hosterra_milter_messages_in_flight", "gauge",
		   "Transactions begun and not ended now.", hm_msg_in_flight());
	render_dns(out);
	if (conf && conf->store)
		render_store(out, conf->store);
	render_model(out);
	return out->failed ? -1 : 0;
}

/* --- the listen address ---------------------------------------------------------- */

int hm_metrics_listen_parse(const char *spec, struct hm_metrics_addr *out, char *err,
			    size_t errlen)
{
	char host[INET6_ADDRSTRLEN + 1];
	const char *port_s, *colon;
	size_t hlen;
	char *end;
	long port;

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(out->text))
		goto bad;
	snprintf(out->text, sizeof(out->text), "%s", spec);
	if (spec[0] == '[') {
		const char *close = strchr(spec, ']');

		if (close == NULL || close[1] != ':')
			goto bad;
		hlen = (size_t)(close - spec - 1);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, spec + 1, hlen);
		port_s = close + 2;
		out->v6 = true;
	} else {
		if ((colon = strrchr(spec, ':')) == NULL || strchr(spec, ':') != colon) {
			if (colon) {
				snprintf(err, errlen, "\"%s\": an IPv6 address goes in brackets, "
					 "\"[::1]:9466\"", spec);
				return -1;
			}
			goto bad;
		}
		hlen = (size_t)(colon - spec);
		if (hlen == 0 || hlen >= sizeof(host))
			goto bad;
		memcpy(host, spec, hlen);
		port_s = colon + 1;
	}
	host[hlen] = '\0';
	port = strtol(port_s, &end, 10);
	if (*port_s < '0' || *port_s > '9' || *end != '\0' || port < 1 || port > 65535)
		goto bad;
	out->port = (unsigned)port;
	if (out->v6) {
		struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&out->sa;

		if (inet_pton(AF_INET6, host, &s6->sin6_addr) != 1)
			goto bad;
		s6->sin6_family = AF_INET6;
		s6->sin6_port = htons((uint16_t)port);
		out->salen = sizeof(*s6);
		out->loopback = IN6_IS_ADDR_LOOPBACK(&s6->sin6_addr);
	} else {
		struct sockaddr_in *s4 = (struct sockaddr_in *)&out->sa;

		if (inet_pton(AF_INET, host, &s4->sin_addr) != 1)
			goto bad;
		s4->sin_family = AF_INET;
		s4->sin_port = htons((uint16_t)port);
		out->salen = sizeof(*s4);
		out->loopback = (ntohl(s4->sin_addr.s_addr) >> 24) == 127;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not ADDRESS:PORT (an IP address, IPv6 in brackets, and a "
		 "port from 1 to 65535), e.g. \"127.0.0.1:9466\"", spec);
	return -1;
}

bool hm_metrics_listen_warning(const char *spec, char *buf, size_t len)
{
	struct hm_metrics_addr a;
	char err[200];

	if (spec == NULL || spec[0] == '\0' || hm_metrics_listen_parse(spec, &a, err, sizeof(err)) < 0 ||
	    a.loopback)
		return false;
	snprintf(buf, len, "metrics listen = \"%s\" is not a loopback address: whoever can reach "
		 "it can read the metrics (there is no authentication); prefer 127.0.0.1 or [::1]",
		 spec);
	return true;
}
