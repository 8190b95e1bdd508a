/*
 * metrics.h - counters for Prometheus, and their text exposition.
 *
 * The registry is a set of process-wide counters with label sets fixed at
 * compile time (actions, recipient outcomes and what decided them, DNS
 * kinds) plus one table of symbol names.  Counting costs a relaxed atomic
 * add: no lock and no allocation on the per-message path.  A message is
 * counted once, by hm_metrics_message(), which the per-message log line
 * calls (milter/msglog.c): messages by action, recipients by outcome and
 * decider, the symbols fired, and the end-of-message latency.
 *
 * Symbols: the built-in ones and the configuration's (DNSBL zones, rules)
 * are registered when a configuration is applied, so they are shown from
 * 0.  A name fired but never registered is added under a mutex the first
 * time it is seen (once per name per process); lookups never lock.  Names
 * are never removed (a counter does not vanish on reload), and the table
 * is bounded: past HM_METRICS_SYMBOLS_MAX names, the rest are counted
 * under symbol="(other)", which no symbol can be named.
 *
 * Other modules keep counts of their own and the exposition reads them
 * when scraped: scoring/dns.h (lookups and failures by kind), the policy
 * store of the running configuration (cache hits and misses, Redis
 * errors), milter/context.h (connections, messages in flight), the content
 * model's slot and refresher (milter/clsmodel.h).  Neither
 * scoring/ nor policy/ knows of this module.
 *
 * The HTTP listener is milter/metrics-http.c.
 */
#ifndef HM_METRICS_H
#define HM_METRICS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "milter/conf.h"
#include "milter/context.h"
#include "util/strbuf.h"

#define HM_METRICS_SYMBOLS_MAX 512	/* distinct symbol names counted by name */
#define HM_METRICS_OTHER_SYMBOL "(other)"
#define HM_METRICS_MAX_BYTES (4 * 1024 * 1024)	/* one exposition, at most */

/*
 * Count one transaction that ended (accepted, tagged, rejected, tempfailed
 * at end of message, or aborted with recipients): action is the log line's
 * action= value.  Called once per message, by hm_msglog_write().
 */
void hm_metrics_message(const struct hm_conn *conn, const char *action);

/* Count one symbol fired, by name (registering it on first sight). */
void hm_metrics_symbol(const char *name);

/* Register the symbols conf can fire (built-in, DNSBL zones, rules). */
void hm_metrics_register_symbols(const struct hm_conf *conf);

/*
 * A configuration is applied (start, reload): register its symbols.  The
 * first call marks the start time.  conf may be NULL (built-ins only).
 */
void hm_metrics_configure(const struct hm_conf *conf);

/*
 * The whole exposition (text format 0.0.4) into out: the registry, the
 * counts kept by the other modules, and the policy store of conf (may be
 * NULL: no store families).  0, or -1 when out grew past its maximum or
 * memory ran out.
 */
int hm_metrics_render(struct hm_strbuf *out, const struct hm_conf *conf);

/*
 * Exposition formatting, for the renderer and its tests.  A label value
 * escapes '\', '"' and newline; a HELP text escapes '\' and newline.
 */
int hm_metrics_put_label_value(struct hm_strbuf *out, const char *v);
int hm_metrics_put_help(struct hm_strbuf *out, const char *name, const char *type,
			const char *help);

/* The end-of-message latency histogram's upper bounds, in seconds. */
#define HM_METRICS_EOM_BUCKETS 14
extern const double hm_metrics_eom_bounds[HM_METRICS_EOM_BUCKETS];
/* Record one end-of-message latency (for callers other than a message). */
void hm_metrics_observe_eom(unsigned long long ns);

/* A parsed "listen" value of the metrics section. */
struct hm_metrics_addr {
	struct sockaddr_storage sa;
	socklen_t salen;
	bool loopback;			/* 127.0.0.0/8 or ::1 */
	bool v6;
	unsigned port;
	char text[64];			/* as given */
};

/*
 * Parse "IPv4:PORT" or "[IPv6]:PORT" (an address literal, no host name:
 * the listener must not depend on DNS at start).  0, or -1 with the
 * reason in err.
 */
int hm_metrics_listen_parse(const char *spec, struct hm_metrics_addr *out, char *err,
			    size_t errlen);

/*
 * The warning for a listen address reachable from elsewhere (not loopback),
 * into buf; false when there is none (loopback, empty, invalid).
 */
bool hm_metrics_listen_warning(const char *spec, char *buf, size_t len);

#endif
