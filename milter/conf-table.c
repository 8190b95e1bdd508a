/*
 * conf-table.c - every option of hosterra-milter.conf, and its typing.
 *
 * Every option is one row of a table below: name, type, default, limits,
 * its own check, where it lands in struct hm_conf, and a line of help.  The
 * libconfuse option array is built from the table (conf.c); the sample
 * config and hosterra-milter.conf(5) describe the same rows;
 * "hosterra-milter -O" prints them (hm_conf_describe()).
 *
 * A default is written as the file would write it and goes through the
 * same conversion as a value from the file, so the two cannot differ in
 * form.  One converter per type turns a string into its field; an option's
 * own check (conf-check.c) runs first where the row names one.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "milter/conf-int.h"
#include "policy/decide.h"
#include "policy/store.h"
#include "scoring/dns.h"
#include "scoring/psl.h"
#include "scoring/symbols.h"

#define FIELD(f) offsetof(struct hm_conf, f)
#define ELEM(type, f) offsetof(type, f)
/* A number defined elsewhere, as the file would write it. */
#define STR_(x) #x
#define STR(x) STR_(x)

static const struct conf_entry dns_table[] = {
	{ .name = "nameservers", .type = E_LIST,
	  .def = "", .convert = conf_check_nameserver, .field = FIELD(dns.nameservers),
	  .help = "resolvers to ask, IP or IP@PORT; empty: those of /etc/resolv.conf" },
	{ .name = "timeout", .type = E_INT,
	  .def = STR(HM_DNS_TIMEOUT_S), .min = 1, .max = 60, .field = FIELD(dns.timeout),
	  .help = "seconds one DNS lookup may take before it counts as a temporary error" },
	{ .name = NULL },
};

static const struct conf_entry thresholds_table[] = {
	{ .name = "tag", .type = E_FLOAT,
	  .def = STR(HM_DEFAULT_TAG), .min = 0, .max = 1000, .field = FIELD(thresholds.tag),
	  .help = "score from which mail is tagged as spam (X-Spam-Flag: YES, into Junk)" },
	{ .name = "reject", .type = E_FLOAT,
	  .def = STR(HM_DEFAULT_REJECT), .min = 0, .max = 1000,
	  .field = FIELD(thresholds.reject),
	  .help = "score above which mail is rejected (550 5.7.1)" },
	{ .name = NULL },
};

static const struct conf_entry dmarc_table[] = {
	{ .name = "enforce_reject", .type = E_BOOL,
	  .def = "no", .field = FIELD(dmarc.enforce_reject),
	  .help = "reject mail whose DMARC policy says reject, whatever its score" },
	{ .name = NULL },
};

static const struct conf_entry metrics_table[] = {
	{ .name = "listen", .type = E_CHECKED,
	  .def = "", .convert = conf_check_metrics_listen, .field = FIELD(metrics.listen),
	  .help = "ADDRESS:PORT of the Prometheus listener (http://ADDRESS:PORT/metrics), "
		  "IPv6 in brackets, loopback advised; empty: no listener" },
	{ .name = NULL },
};

static const struct conf_entry symbol_table[] = {
	{ .name = "weight", .type = E_FLOAT,
	  .def = "0", .min = -100, .max = 100, .field = ELEM(struct hm_conf_symbol, weight),
	  .help = "the symbol's weight in the score" },
	{ .name = NULL },
};

static const struct conf_entry dnsbl_table[] = {
	{ .name = "zone", .type = E_CHECKED,
	  .def = "", .convert = conf_check_domain, .field = ELEM(struct hm_conf_dnsbl, zone),
	  .help = "the DNS blocklist zone to query" },
	{ .name = "weight", .type = E_FLOAT,
	  .def = "0", .min = -100, .max = 100, .field = ELEM(struct hm_conf_dnsbl, weight),
	  .help = "weight when the client is listed (with a code not in codes)" },
	{ .name = "codes", .type = E_LIST,
	  .def = "", .convert = conf_check_dnsbl_code,
	  .field = ELEM(struct hm_conf_dnsbl, codes),
	  .help = "weights per answer, \"127.0.0.2=6\"" },
	{ .name = NULL },
};

static const struct conf_entry rule_table[] = {
	{ .name = "header", .type = E_STR,
	  .def = "", .field = ELEM(struct hm_conf_rule, header),
	  .help = "the header the rule matches (any occurrence); empty: a body rule" },
	{ .name = "body", .type = E_BOOL,
	  .def = "no", .field = ELEM(struct hm_conf_rule, body),
	  .help = "the rule matches the body, line by line" },
	{ .name = "regex", .type = E_CHECKED,
	  .def = "", .convert = conf_check_regex, .field = ELEM(struct hm_conf_rule, regex),
	  .help = "a PCRE2 regular expression" },
	{ .name = "caseless", .type = E_BOOL,
	  .def = "no", .field = ELEM(struct hm_conf_rule, caseless),
	  .help = "match regardless of case" },
	{ .name = "weight", .type = E_FLOAT,
	  .def = "0", .min = -100, .max = 100, .field = ELEM(struct hm_conf_rule, weight),
	  .help = "the rule's weight when it matches" },
	{ .name = NULL },
};

static const struct conf_entry redis_table[] = {
	{ .name = "host", .type = E_STR,
	  .def = HM_STORE_HOST, .field = FIELD(redis.host),
	  .help = "Redis server (its local replica on an MX), when socket is empty" },
	{ .name = "port", .type = E_INT,
	  .def = STR(HM_STORE_PORT), .min = 1, .max = 65535, .field = FIELD(redis.port),
	  .help = "its TCP port" },
	{ .name = "socket", .type = E_STR,
	  .def = "", .field = FIELD(redis.socket),
	  .help = "a unix socket to use instead of host and port" },
	{ .name = "password", .type = E_STR,
	  .def = "", .field = FIELD(redis.password), .help = "AUTH password; empty: none" },
	{ .name = "database", .type = E_INT,
	  .def = "0", .min = 0, .max = 1000, .field = FIELD(redis.database),
	  .help = "database number (SELECT)" },
	{ .name = "prefix", .type = E_CHECKED,
	  .def = HM_STORE_PREFIX, .convert = conf_check_prefix, .field = FIELD(redis.prefix),
	  .help = "prefix of every policy key" },
	{ .name = "connect_timeout", .type = E_INT,
	  .def = STR(HM_STORE_CONNECT_TIMEOUT_MS), .min = 10, .max = 60000,
	  .field = FIELD(redis.connect_timeout),
	  .help = "milliseconds to connect" },
	{ .name = "command_timeout", .type = E_INT,
	  .def = STR(HM_STORE_COMMAND_TIMEOUT_MS), .min = 10, .max = 60000,
	  .field = FIELD(redis.command_timeout),
	  .help = "milliseconds one round trip may take" },
	{ .name = "pool_size", .type = E_INT,
	  .def = STR(HM_STORE_POOL_SIZE), .min = 1, .max = 256, .field = FIELD(redis.pool_size),
	  .help = "connections, each used by one message at a time" },
	{ .name = "cache_size", .type = E_INT,
	  .def = STR(HM_STORE_CACHE_MAX), .min = 100, .max = 100000000,
	  .field = FIELD(redis.cache_size),
	  .help = "policy keys kept in memory: about 5 per mailbox and alias that gets mail" },
	{ .name = "cache_ttl", .type = E_INT,
	  .def = STR(HM_STORE_CACHE_TTL_S), .min = 1, .max = 86400,
	  .field = FIELD(redis.cache_ttl),
	  .help = "seconds a cached key is kept at most (edits arrive at once anyway)" },
	{ .name = "on_failure", .type = E_STR,
	  .def = "defaults", .convert = conf_check_on_failure,
	  .field = FIELD(redis.on_failure),
	  .help = "Redis down and policy not cached: \"defaults\" (server thresholds; 451 "
		  "where they would reject) or \"tempfail\" (451 at RCPT)" },
	{ .name = "sentinels", .type = E_LIST,
	  .def = "", .convert = conf_check_sentinel, .field = FIELD(redis.sentinels),
	  .help = "Redis Sentinels, HOST:PORT or [IPV6]:PORT; with them host/port (or "
		  "socket) is the local replica, and reads go to the primary they name "
		  "while it is gone" },
	{ .name = "sentinel_master", .type = E_STR,
	  .def = "", .field = FIELD(redis.sentinel_master),
	  .help = "the name the sentinels monitor the primary under" },
	{ .name = "sentinel_password", .type = E_STR,
	  .def = "", .field = FIELD(redis.sentinel_password),
	  .help = "the sentinels' password (their requirepass); empty: none" },
	{ .name = "write_host", .type = E_STR,
	  .def = "", .field = FIELD(redis.write_host),
	  .help = "where the learn command writes (the primary, when host is a replica); "
		  "empty: the primary the sentinels name, else host" },
	{ .name = "write_port", .type = E_INT,
	  .def = "0", .min = 0, .max = 65535, .field = FIELD(redis.write_port),
	  .help = "its TCP port; 0: port" },
	{ .name = NULL },
};

static const struct conf_entry classifier_table[] = {
	{ .name = "enabled", .type = E_BOOL,
	  .def = "yes", .field = FIELD(classifier.enabled),
	  .help = "score the content with the learned model (silent until it has learned enough)" },
	{ .name = "min_spam", .type = E_INT,
	  .def = "200", .min = 0, .max = 10000000, .field = FIELD(classifier.min_spam),
	  .help = "spam messages the model must have learned before it speaks" },
	{ .name = "min_ham", .type = E_INT,
	  .def = "200", .min = 0, .max = 10000000, .field = FIELD(classifier.min_ham),
	  .help = "ham messages the model must have learned before it speaks" },
	{ .name = "scale", .type = E_FLOAT,
	  .def = "2", .min = 0, .max = 100, .field = FIELD(classifier.scale),
	  .help = "points per unit of calibrated log-odds of spam" },
	{ .name = "cap_spam", .type = E_FLOAT,
	  .def = "10", .min = 0, .max = 100, .field = FIELD(classifier.cap_spam),
	  .help = "most points CONTENT_SPAM adds (below reject: content alone files into Junk)" },
	{ .name = "cap_ham", .type = E_FLOAT,
	  .def = "3", .min = 0, .max = 100, .field = FIELD(classifier.cap_ham),
	  .help = "most points CONTENT_HAM takes away" },
	{ .name = "learn_rate_limit", .type = E_INT,
	  .def = "200", .min = 0, .max = 1000000, .field = FIELD(classifier.learn_rate_limit),
	  .help = "messages one user (learn --user) may teach per hour; 0: no limit" },
	{ .name = "signature_days", .type = E_INT,
	  .def = "365", .min = 1, .max = 3650, .field = FIELD(classifier.signature_days),
	  .help = "days a learned message is remembered (dedup, relearning as the other class)" },
	{ .name = NULL },
};

const struct conf_entry conf_root_table[] = {
	{ .name = "socket", .type = E_STR,
	  .def = "unix:/run/hosterra-milter/hosterra-milter.sock",
	  .convert = conf_check_socket, .field = FIELD(socket),
	  .help = "where to listen: unix:/path, inet:PORT@HOST or inet6:PORT@HOST" },
	{ .name = "socket_mode", .type = E_STR,
	  .def = "0660", .convert = conf_check_mode, .field = FIELD(socket_mode),
	  .help = "permissions of a unix socket, octal" },
	{ .name = "listen_backlog", .type = E_INT,
	  .def = "128", .min = 1, .max = 65535, .field = FIELD(listen_backlog),
	  .help = "listen(2) backlog of the milter socket" },
	{ .name = "user", .type = E_STR,
	  .def = "hosterra-milter", .field = FIELD(user),
	  .help = "unprivileged user to run as when started as root; empty: stay as started" },
	{ .name = "pidfile", .type = E_STR,
	  .def = "/run/hosterra-milter/hosterra-milter.pid", .field = FIELD(pidfile),
	  .help = "file holding the daemon's process id; empty: none" },
	{ .name = "log_level", .type = E_STR,
	  .def = "info", .convert = conf_check_log_level, .field = FIELD(log_level),
	  .help = "least important level logged: error, warning, notice, info or debug" },
	{ .name = "syslog_facility", .type = E_STR,
	  .def = "mail", .convert = conf_check_facility, .field = FIELD(syslog_facility),
	  .help = "syslog facility: mail, daemon, user or local0 to local7" },
	{ .name = "authserv_id", .type = E_STR,
	  .def = "", .field = FIELD(authserv_id),
	  .help = "authentication service id in Authentication-Results; empty: this host's name" },
	{ .name = "milter_timeout", .type = E_INT,
	  .def = "300", .min = 1, .max = 86400, .field = FIELD(milter_timeout),
	  .help = "seconds to wait for the MTA before dropping a milter connection" },
	{ .name = "shutdown_timeout", .type = E_INT,
	  .def = "30", .min = 0, .max = 3600, .field = FIELD(shutdown_timeout),
	  .help = "seconds a stop waits for messages in flight before they are tempfailed" },
	{ .name = "internal_networks", .type = E_LIST,
	  .def = "127.0.0.0/8 ::1", .convert = conf_check_network,
	  .field = FIELD(internal_networks),
	  .help = "clients (CIDR) whose mail is ours: not judged, like authenticated submission" },
	{ .name = "public_suffix_list", .type = E_FILE,
	  .def = HM_PSL_DEFAULT, .field = FIELD(public_suffix_list),
	  .help = "Public Suffix List, for DMARC's organizational domains" },
	{ .name = "local_names", .type = E_LIST,
	  .def = "", .convert = conf_check_domain, .field = FIELD(local_names),
	  .help = "our own host names, which a client's HELO must not claim; empty: this "
		  "host's name" },
	{ .name = "local_addresses", .type = E_LIST,
	  .def = "", .convert = conf_check_network, .field = FIELD(local_addresses),
	  .help = "our own addresses (CIDR), which a client's HELO must not claim" },
	{ .name = "dns", .type = E_SECTION,
	  .sub = dns_table, .help = "the resolver" },
	{ .name = "thresholds", .type = E_SECTION,
	  .sub = thresholds_table, .check = conf_check_thresholds,
	  .help = "the server's default thresholds" },
	{ .name = "dmarc", .type = E_SECTION,
	  .sub = dmarc_table, .help = "DMARC" },
	{ .name = "redis", .type = E_SECTION,
	  .sub = redis_table, .check = conf_check_redis, .help = "the policy store" },
	{ .name = "classifier", .type = E_SECTION,
	  .sub = classifier_table, .help = "the content classifier and its learning" },
	{ .name = "metrics", .type = E_SECTION,
	  .sub = metrics_table, .help = "metrics for Prometheus" },
	{ .name = "whitelist_requires_auth", .type = E_BOOL,
	  .def = "yes", .field = FIELD(whitelist_requires_auth),
	  .help = "honour a white list only for an authenticated sender (SPF pass, or "
		  "aligned DKIM)" },
	{ .name = "split_recipients", .type = E_BOOL,
	  .def = "yes", .field = FIELD(split_recipients),
	  .help = "answer 452 4.5.3 to a recipient whose policy differs from the first one's" },
	{ .name = "recipient_delimiter", .type = E_CHECKED,
	  .def = "+", .convert = conf_check_delimiter, .field = FIELD(recipient_delimiter),
	  .help = "characters that start an address extension, as in Postfix: bob+x@ gets "
		  "bob@'s policy; empty: none" },
	{ .name = "symbol", .type = E_MULTI,
	  .field = FIELD(symbols), .sub = symbol_table,
	  .elem_size = sizeof(struct hm_conf_symbol), .check = conf_check_symbol,
	  .help = "a built-in symbol's weight" },
	{ .name = "dnsbl", .type = E_MULTI,
	  .field = FIELD(dnsbls), .sub = dnsbl_table,
	  .elem_size = sizeof(struct hm_conf_dnsbl), .check = conf_check_dnsbl,
	  .help = "a DNS blocklist; its title is the symbol it fires" },
	{ .name = "rule", .type = E_MULTI,
	  .field = FIELD(rules), .sub = rule_table, .elem_size = sizeof(struct hm_conf_rule),
	  .check = conf_check_rule,
	  .help = "a regular-expression rule; its title is the symbol it fires" },
	{ .name = NULL },
};

const struct conf_entry *conf_find(const struct conf_entry *table, const char *name)
{
	for (size_t i = 0; table && table[i].name; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

int conf_parse_long(const char *v, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return *v != '\0' && *end == '\0' && errno == 0 ? 0 : -1;
}

/* --- one converter per type ------------------------------------------- */

/*
 * Check value v of a row of the converter's type; with field not NULL also
 * store it.  0, or -1 with the reason in err.
 */
typedef int type_fn(const struct conf_entry *e, const char *v, void *field, char *err,
		    size_t errlen);

static int copy_string(const char *v, void *field, char *err, size_t errlen)
{
	if (field && (*(char **)field = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

static int to_int(const struct conf_entry *e, const char *v, void *field, char *err,
		  size_t errlen)
{
	long n;

	if (conf_parse_long(v, &n) < 0) {
		snprintf(err, errlen, "\"%s\" is not an integer", v);
		return -1;
	}
	if (n < e->min || n > e->max) {
		snprintf(err, errlen, "%ld is out of range (%ld to %ld)", n, e->min, e->max);
		return -1;
	}
	if (field)
		*(long *)field = n;
	return 0;
}

static int to_bool(const struct conf_entry *e, const char *v, void *field, char *err,
		   size_t errlen)
{
	int b = cfg_parse_boolean(v);

	(void)e;
	if (b < 0) {
		snprintf(err, errlen, "\"%s\" is not yes/no, true/false or on/off", v);
		return -1;
	}
	if (field)
		*(int *)field = b;
	return 0;
}

static int to_float(const struct conf_entry *e, const char *v, void *field, char *err,
		    size_t errlen)
{
	char *end;
	double d;

	errno = 0;
	d = strtod(v, &end);
	if (*v == '\0' || *end != '\0' || errno || !isfinite(d)) {
		snprintf(err, errlen, "\"%s\" is not a number", v);
		return -1;
	}
	if (d < (double)e->min || d > (double)e->max) {
		snprintf(err, errlen, "%s is out of range (%ld to %ld)", v, e->min, e->max);
		return -1;
	}
	if (field)
		*(double *)field = d;
	return 0;
}

static int to_file(const struct conf_entry *e, const char *v, void *field, char *err,
		   size_t errlen)
{
	(void)e;
	if (hm_conf_check_file(v, err, errlen) < 0)
		return -1;
	return copy_string(v, field, err, errlen);
}

/* With a check of its own, the check stores the typed value. */
static int to_string(const struct conf_entry *e, const char *v, void *field, char *err,
		     size_t errlen)
{
	if (e->convert)
		return e->convert(v, field, err, errlen);
	return copy_string(v, field, err, errlen);
}

static int to_checked(const struct conf_entry *e, const char *v, void *field, char *err,
		      size_t errlen)
{
	if (e->convert(v, NULL, err, errlen) < 0)
		return -1;
	return copy_string(v, field, err, errlen);
}

/* One item; the loader copies the list's strings itself. */
static int to_list_item(const struct conf_entry *e, const char *v, void *field, char *err,
			size_t errlen)
{
	(void)field;
	return e->convert ? e->convert(v, NULL, err, errlen) : 0;
}

static type_fn *const converters[] = {
	[E_STR] = to_string,
	[E_INT] = to_int,
	[E_BOOL] = to_bool,
	[E_FILE] = to_file,
	[E_CHECKED] = to_checked,
	[E_LIST] = to_list_item,
	[E_FLOAT] = to_float,
};

int conf_convert(const struct conf_entry *e, const char *v, void *field, char *err,
		 size_t errlen)
{
	if (e->type == E_SECTION || e->type == E_MULTI)
		return 0;
	return converters[e->type](e, v, field, err, errlen);
}

/* --- describing the table (-O) ----------------------------------------- */

static void describe_table(FILE *out, const struct conf_entry *table, const char *prefix)
{
	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];
		char name[256];

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", e->name);
		switch (e->type) {
		case E_STR:
		case E_CHECKED:
			fprintf(out, "%s\tstring\t\"%s\"\t%s\n", name, e->def, e->help);
			break;
		case E_FILE:
			fprintf(out, "%s\tfile\t\"%s\"\t%s\n", name, e->def, e->help);
			break;
		case E_INT:
			fprintf(out, "%s\tinteger %ld..%ld\t%s\t%s\n", name, e->min, e->max,
				e->def, e->help);
			break;
		case E_BOOL:
			fprintf(out, "%s\tboolean\t%s\t%s\n", name, e->def, e->help);
			break;
		case E_LIST:
			fprintf(out, "%s\tlist\t{%s}\t%s\n", name, e->def, e->help);
			break;
		case E_FLOAT:
			fprintf(out, "%s\tnumber %ld..%ld\t%s\t%s\n", name, e->min, e->max,
				e->def, e->help);
			break;
		case E_MULTI: {
			char multi[300];

			snprintf(multi, sizeof(multi), "%s.NAME", name);
			describe_table(out, e->sub, multi);
			break;
		}
		case E_SECTION:
			describe_table(out, e->sub, name);
			break;
		}
	}
}

void hm_conf_describe(FILE *out)
{
	describe_table(out, conf_root_table, "");
	/* The built-in symbols a "symbol NAME { weight = ... }" may name. */
	for (int i = 0; i < HM_SYM_COUNT; i++)
		fprintf(out, "symbol.%s.weight\tnumber -100..100\t%.2f\t%s\n", hm_symdefs[i].name,
			hm_symdefs[i].weight, hm_symdefs[i].help);
}
