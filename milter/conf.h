/*
 * conf.h - hosterra-milter.conf: one declaration table, a typed snapshot.
 *
 * hm_conf_load() parses and validates a file (libconfuse) against the table
 * in conf-table.c and copies the result into a struct hm_conf, so nothing
 * looks an option up by name at run time.  Every error found goes to the report
 * callback as one "FILE:LINE: message" line; a file with any error yields no
 * configuration at all (so a reload never half-applies).
 *
 * The running configuration is a reference-counted snapshot:
 * hm_conf_acquire() takes a reference to the current one, hm_conf_release()
 * drops it, hm_conf_publish() swaps in a new one (SIGHUP).  A connection
 * keeps the snapshot it acquired until it lets go, so a reload never changes
 * the settings under a message in flight.
 */
#ifndef HM_CONF_H
#define HM_CONF_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "milter/listen.h"
#include "scoring/classifier.h"
#include "scoring/client.h"
#include "util/netlist.h"
#include "scoring/rules.h"
#include "scoring/symbols.h"

struct hm_engine;
struct hm_store;

/* A list option's strings, as written. */
struct hm_conf_list {
	char **items;
	size_t count;
};

/* Titled sections ("symbol NAME { }"): an array of one struct per section. */
struct hm_conf_array {
	void *items;
	size_t count;
};

struct hm_conf_symbol {
	char *title;			/* a built-in symbol's name */
	double weight;
};

struct hm_conf_dnsbl {
	char *title;			/* the symbol it fires */
	char *zone;
	double weight;
	struct hm_conf_list codes;	/* "127.0.0.2=6" */
};

struct hm_conf_rule {
	char *title;			/* the symbol it fires */
	char *header;			/* "" for a body rule */
	int body;
	char *regex;
	int caseless;
	double weight;
};

enum hm_on_failure { HM_ON_FAILURE_DEFAULTS, HM_ON_FAILURE_TEMPFAIL };

struct hm_conf {
	atomic_int refs;
	char *path;

	struct hm_socket_spec socket;
	unsigned socket_mode;
	long listen_backlog;
	char *user;
	char *pidfile;
	int log_level;			/* enum hm_log_level */
	int syslog_facility;
	char *authserv_id;		/* never empty after load: host name by default */
	long milter_timeout;		/* seconds libmilter waits for the MTA */
	long shutdown_timeout;		/* seconds to let messages in flight finish */
	struct hm_conf_list internal_networks;	/* CIDR, checked */
	struct hm_netlist internal;	/* the same, parsed */
	char *public_suffix_list;	/* readable file, or "" */
	struct {
		struct hm_conf_list nameservers;	/* IP or IP@PORT; empty: resolv.conf */
		long timeout;		/* seconds */
	} dns;

	struct hm_conf_list local_names;	/* domains */
	struct hm_conf_list local_addresses;	/* CIDR */
	struct {
		double tag, reject;
	} thresholds;
	struct {
		int enforce_reject;
	} dmarc;
	struct {
		char *listen;		/* "ADDRESS:PORT", checked; "": no listener */
	} metrics;
	struct {
		char *host;
		long port;
		char *socket;
		char *password;
		long database;
		char *prefix;
		long connect_timeout, command_timeout;	/* ms */
		long pool_size, cache_size;
		long cache_ttl;			/* s */
		int on_failure;			/* enum hm_on_failure */
		struct hm_conf_list sentinels;	/* "HOST:PORT" */
		char *sentinel_master, *sentinel_password;
		char *write_host;		/* "": host */
		long write_port;		/* 0: port */
	} redis;
	struct {
		int enabled;
		long min_spam, min_ham;		/* learned before the model speaks */
		double scale, cap_spam, cap_ham;	/* struct hm_cls_points */
		long learn_rate_limit;		/* per user and hour; 0: none */
		long signature_days;
	} classifier;
	int whitelist_requires_auth;
	int split_recipients;
	char *recipient_delimiter;	/* extension separators; "": none */
	struct hm_conf_array symbols;	/* struct hm_conf_symbol */
	struct hm_conf_array dnsbls;	/* struct hm_conf_dnsbl */
	struct hm_conf_array rules;	/* struct hm_conf_rule */

	/* Derived from the above at load. */
	struct hm_weights weights;	/* defaults changed by symbol sections */
	struct hm_cls_points cls_points;	/* the classifier section's */
	struct hm_netlist local_addrs;	/* local_addresses, parsed */
	struct hm_dnsbl_zone *dnsbl_zones;	/* dnsbls, as the client checks take them */
	struct hm_client_conf client;	/* what the client checks need */
	struct hm_rules *compiled_rules;	/* rules, compiled; NULL if none */

	struct hm_engine *engine;	/* the checkers: runtime.h */
	struct hm_store *store;		/* the policy store, built with the engine */
};

typedef void hm_conf_report_fn(void *arg, const char *line);

/* Returns a configuration holding one reference, or NULL after reporting. */
struct hm_conf *hm_conf_load(const char *path, hm_conf_report_fn *report, void *arg);

/*
 * The check behind options of type "file": PATH must name a regular file
 * this process can open for reading now; "" (no file) passes.  0, or -1
 * with the reason in err.
 */
int hm_conf_check_file(const char *path, char *err, size_t errlen);

/*
 * The Redis settings as the store and the content model take them: where
 * reads go, or (write) where learning writes go (redis.write_host /
 * write_port; else, with sentinels, the primary they name, see
 * hm_model_conn_primary(); else the same server).  The strings stay the
 * configuration's.
 */
struct hm_store_conf;
void hm_conf_store_conf(const struct hm_conf *conf, bool write, struct hm_store_conf *sc);

/* Print every option with its type, default, limits and help (for docs). */
void hm_conf_describe(FILE *out);

void hm_conf_publish(struct hm_conf *conf);
struct hm_conf *hm_conf_acquire(void);
void hm_conf_release(struct hm_conf **conf);

#endif
