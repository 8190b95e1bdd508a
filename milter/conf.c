/*
 * conf.c - the configuration table, its loader and the running snapshot.
 *
 * Every option is one row of a table below: name, type, default, limits or a
 * converter, where it lands in struct hm_conf, and a line of help.  The
 * libconfuse option array is built from the table; the sample config and
 * hosterra-milter.conf(5) describe the same rows; "hosterra-milter -O" prints
 * them.
 *
 * Reporting every error, not only the first: libconfuse stops a parse at
 * the first error it finds itself, so it is left only the syntax.  Scalars
 * are declared to it as strings and typed here, by a validator run on each
 * value as it is read, so a bad integer or an out-of-range value is an error
 * with its line and the parse goes on.  Before libconfuse sees the file, a
 * small scan with the same lexical rules walks its statements, reports
 * every option the table does not know (with its line) and blanks that
 * statement out; it also blanks comments, after which libconfuse 3.3
 * miscounts lines.  Blanking keeps every newline, so line numbers stay
 * true.  The errors are reported in line order.  Only a syntax error still
 * ends the check early: the rest of the file cannot be read reliably.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>

#include "milter/conf.h"
#include "util/log.h"
#include "milter/metrics.h"
#include "policy/decide.h"
#include "util/address.h"
#include "scoring/client.h"
#include "policy/sentinel.h"
#include "policy/store.h"
#include "scoring/engine.h"
#include "util/netlist.h"
#include "scoring/rules.h"
#include "scoring/symbols.h"

#define CONF_MAX_SIZE (1024 * 1024)	/* a config file larger is a mistake */

enum entry_type {
	E_STR,		/* string, through convert or copied (char *) */
	E_INT,		/* long within min..max */
	E_BOOL,		/* int 0/1: yes/no, true/false, on/off */
	E_FILE,		/* char *: names a readable regular file; "" for none */
	E_CHECKED,	/* char *: a copy of a string checked by convert(value, NULL) */
	E_LIST,		/* struct hm_conf_list: strings, each checked by convert */
	E_FLOAT,	/* double within min..max, default def_str */
	E_MULTI,	/* struct hm_conf_array of titled sections "name TITLE { }" */
	E_SECTION,
};

/*
 * A converter checks a string value and, when field is not NULL, stores its
 * typed form there.  Returns 0, or -1 with the reason in err.
 */
typedef int convert_fn(const char *value, void *field, char *err, size_t errlen);

static int parse_long(const char *v, long *out);

/*
 * Checks one titled section once it is parsed (title and values are still
 * libconfuse's strings).  0, or -1 with the reason in err.
 */
typedef int section_check_fn(cfg_t *sec, char *err, size_t errlen);
static section_check_fn check_symbol, check_dnsbl, check_rule, check_thresholds, check_redis;

struct conf_entry {
	const char *name;
	enum entry_type type;
	const char *def_str;		/* E_STR, E_FILE; E_LIST: items separated by spaces */
	long def_int, min, max;		/* E_INT, E_BOOL (def_int 0/1) */
	convert_fn *convert;		/* E_STR: NULL stores a copy (char *) */
	size_t offset;			/* field in struct hm_conf */
	const struct conf_entry *sub;	/* E_SECTION, E_MULTI */
	const char *help;
	size_t elem_size;		/* E_MULTI: one element; its first member is the title */
	section_check_fn *check;	/* E_MULTI: checks one section as parsed */
};

static convert_fn conv_socket, conv_mode, conv_log_level, conv_facility, conv_network,
	conv_nameserver, conv_domain, conv_dnsbl_code, conv_regex, conv_prefix, conv_on_failure,
	conv_delimiter, conv_sentinel, conv_metrics_listen;

#define FIELD(f) offsetof(struct hm_conf, f)

static const struct conf_entry dns_table[] = {
	{ "nameservers", E_LIST, "", 0, 0, 0, conv_nameserver, FIELD(dns.nameservers), NULL,
	  "resolvers to ask, IP or IP@PORT; empty: those of /etc/resolv.conf" },
	{ "timeout", E_INT, NULL, 5, 1, 60, NULL, FIELD(dns.timeout), NULL,
	  "seconds one DNS lookup may take before it counts as a temporary error" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

#define ELEM(type, f) offsetof(type, f)

static const struct conf_entry thresholds_table[] = {
	{ "tag", E_FLOAT, "8", 0, 0, 1000, NULL, FIELD(thresholds.tag), NULL,
	  "score from which mail is tagged as spam (X-Spam-Flag: YES, into Junk)" },
	{ "reject", E_FLOAT, "15", 0, 0, 1000, NULL, FIELD(thresholds.reject), NULL,
	  "score above which mail is rejected (550 5.7.1)" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry dmarc_table[] = {
	{ "enforce_reject", E_BOOL, NULL, 0, 0, 0, NULL, FIELD(dmarc.enforce_reject), NULL,
	  "reject mail whose DMARC policy says reject, whatever its score" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry metrics_table[] = {
	{ "listen", E_CHECKED, "", 0, 0, 0, conv_metrics_listen, FIELD(metrics.listen), NULL,
	  "ADDRESS:PORT of the Prometheus listener (http://ADDRESS:PORT/metrics), IPv6 in "
	  "brackets, loopback advised; empty: no listener" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry symbol_table[] = {
	{ "weight", E_FLOAT, "0", 0, -100, 100, NULL, ELEM(struct hm_conf_symbol, weight), NULL,
	  "the symbol's weight in the score" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry dnsbl_table[] = {
	{ "zone", E_CHECKED, "", 0, 0, 0, conv_domain, ELEM(struct hm_conf_dnsbl, zone), NULL,
	  "the DNS blocklist zone to query" },
	{ "weight", E_FLOAT, "0", 0, -100, 100, NULL, ELEM(struct hm_conf_dnsbl, weight), NULL,
	  "weight when the client is listed (with a code not in codes)" },
	{ "codes", E_LIST, "", 0, 0, 0, conv_dnsbl_code, ELEM(struct hm_conf_dnsbl, codes), NULL,
	  "weights per answer, \"127.0.0.2=6\"" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry rule_table[] = {
	{ "header", E_STR, "", 0, 0, 0, NULL, ELEM(struct hm_conf_rule, header), NULL,
	  "the header the rule matches (any occurrence); empty: a body rule" },
	{ "body", E_BOOL, NULL, 0, 0, 0, NULL, ELEM(struct hm_conf_rule, body), NULL,
	  "the rule matches the body, line by line" },
	{ "regex", E_CHECKED, "", 0, 0, 0, conv_regex, ELEM(struct hm_conf_rule, regex), NULL,
	  "a PCRE2 regular expression" },
	{ "caseless", E_BOOL, NULL, 0, 0, 0, NULL, ELEM(struct hm_conf_rule, caseless), NULL,
	  "match regardless of case" },
	{ "weight", E_FLOAT, "0", 0, -100, 100, NULL, ELEM(struct hm_conf_rule, weight), NULL,
	  "the rule's weight when it matches" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry redis_table[] = {
	{ "host", E_STR, "127.0.0.1", 0, 0, 0, NULL, FIELD(redis.host), NULL,
	  "Redis server (its local replica on an MX), when socket is empty" },
	{ "port", E_INT, NULL, 6379, 1, 65535, NULL, FIELD(redis.port), NULL, "its TCP port" },
	{ "socket", E_STR, "", 0, 0, 0, NULL, FIELD(redis.socket), NULL,
	  "a unix socket to use instead of host and port" },
	{ "password", E_STR, "", 0, 0, 0, NULL, FIELD(redis.password), NULL,
	  "AUTH password; empty: none" },
	{ "database", E_INT, NULL, 0, 0, 1000, NULL, FIELD(redis.database), NULL,
	  "database number (SELECT)" },
	{ "prefix", E_CHECKED, "hm:", 0, 0, 0, conv_prefix, FIELD(redis.prefix), NULL,
	  "prefix of every policy key" },
	{ "connect_timeout", E_INT, NULL, 500, 10, 60000, NULL, FIELD(redis.connect_timeout), NULL,
	  "milliseconds to connect" },
	{ "command_timeout", E_INT, NULL, 500, 10, 60000, NULL, FIELD(redis.command_timeout), NULL,
	  "milliseconds one round trip may take" },
	{ "pool_size", E_INT, NULL, 8, 1, 256, NULL, FIELD(redis.pool_size), NULL,
	  "connections, each used by one message at a time" },
	{ "cache_size", E_INT, NULL, 1000000, 100, 100000000, NULL, FIELD(redis.cache_size), NULL,
	  "policy keys kept in memory: about 5 per mailbox and alias that gets mail" },
	{ "cache_ttl", E_INT, NULL, 300, 1, 86400, NULL, FIELD(redis.cache_ttl), NULL,
	  "seconds a cached key is kept at most (edits arrive at once anyway)" },
	{ "on_failure", E_STR, "defaults", 0, 0, 0, conv_on_failure, FIELD(redis.on_failure), NULL,
	  "Redis down and policy not cached: \"defaults\" (server thresholds; 451 where they would reject) or \"tempfail\" (451 at RCPT)" },
	{ "sentinels", E_LIST, "", 0, 0, 0, conv_sentinel, FIELD(redis.sentinels), NULL,
	  "Redis Sentinels, HOST:PORT or [IPV6]:PORT; with them host/port (or socket) is the "
	  "local replica, and reads go to the primary they name while it is gone" },
	{ "sentinel_master", E_STR, "", 0, 0, 0, NULL, FIELD(redis.sentinel_master), NULL,
	  "the name the sentinels monitor the primary under" },
	{ "sentinel_password", E_STR, "", 0, 0, 0, NULL, FIELD(redis.sentinel_password), NULL,
	  "the sentinels' password (their requirepass); empty: none" },
	{ "write_host", E_STR, "", 0, 0, 0, NULL, FIELD(redis.write_host), NULL,
	  "where the learn command writes (the primary, when host is a replica); empty: the "
	  "primary the sentinels name, else host" },
	{ "write_port", E_INT, NULL, 0, 0, 65535, NULL, FIELD(redis.write_port), NULL,
	  "its TCP port; 0: port" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry classifier_table[] = {
	{ "enabled", E_BOOL, NULL, 1, 0, 0, NULL, FIELD(classifier.enabled), NULL,
	  "score the content with the learned model (silent until it has learned enough)" },
	{ "min_spam", E_INT, NULL, 200, 0, 10000000, NULL, FIELD(classifier.min_spam), NULL,
	  "spam messages the model must have learned before it speaks" },
	{ "min_ham", E_INT, NULL, 200, 0, 10000000, NULL, FIELD(classifier.min_ham), NULL,
	  "ham messages the model must have learned before it speaks" },
	{ "scale", E_FLOAT, "2", 0, 0, 100, NULL, FIELD(classifier.scale), NULL,
	  "points per unit of calibrated log-odds of spam" },
	{ "cap_spam", E_FLOAT, "10", 0, 0, 100, NULL, FIELD(classifier.cap_spam), NULL,
	  "most points CONTENT_SPAM adds (below reject: content alone files into Junk)" },
	{ "cap_ham", E_FLOAT, "3", 0, 0, 100, NULL, FIELD(classifier.cap_ham), NULL,
	  "most points CONTENT_HAM takes away" },
	{ "learn_rate_limit", E_INT, NULL, 200, 0, 1000000, NULL, FIELD(classifier.learn_rate_limit),
	  NULL, "messages one user (learn --user) may teach per hour; 0: no limit" },
	{ "signature_days", E_INT, NULL, 365, 1, 3650, NULL, FIELD(classifier.signature_days), NULL,
	  "days a learned message is remembered (dedup, relearning as the other class)" },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

static const struct conf_entry root_table[] = {
	{ "socket", E_STR, "unix:/run/hosterra-milter/hosterra-milter.sock", 0, 0, 0,
	  conv_socket, FIELD(socket), NULL,
	  "where to listen: unix:/path, inet:PORT@HOST or inet6:PORT@HOST" },
	{ "socket_mode", E_STR, "0660", 0, 0, 0, conv_mode, FIELD(socket_mode), NULL,
	  "permissions of a unix socket, octal" },
	{ "listen_backlog", E_INT, NULL, 128, 1, 65535, NULL, FIELD(listen_backlog), NULL,
	  "listen(2) backlog of the milter socket" },
	{ "user", E_STR, "hosterra-milter", 0, 0, 0, NULL, FIELD(user), NULL,
	  "unprivileged user to run as when started as root; empty: stay as started" },
	{ "pidfile", E_STR, "/run/hosterra-milter/hosterra-milter.pid", 0, 0, 0, NULL,
	  FIELD(pidfile), NULL, "file holding the daemon's process id; empty: none" },
	{ "log_level", E_STR, "info", 0, 0, 0, conv_log_level, FIELD(log_level), NULL,
	  "least important level logged: error, warning, notice, info or debug" },
	{ "syslog_facility", E_STR, "mail", 0, 0, 0, conv_facility, FIELD(syslog_facility), NULL,
	  "syslog facility: mail, daemon, user or local0 to local7" },
	{ "authserv_id", E_STR, "", 0, 0, 0, NULL, FIELD(authserv_id), NULL,
	  "authentication service id in Authentication-Results; empty: this host's name" },
	{ "milter_timeout", E_INT, NULL, 300, 1, 86400, NULL, FIELD(milter_timeout), NULL,
	  "seconds to wait for the MTA before dropping a milter connection" },
	{ "shutdown_timeout", E_INT, NULL, 30, 0, 3600, NULL, FIELD(shutdown_timeout), NULL,
	  "seconds a stop waits for messages in flight before they are tempfailed" },
	{ "internal_networks", E_LIST, "127.0.0.0/8 ::1", 0, 0, 0, conv_network,
	  FIELD(internal_networks), NULL,
	  "clients (CIDR) whose mail is ours: not judged, like authenticated submission" },
	{ "public_suffix_list", E_FILE, "/usr/share/publicsuffix/public_suffix_list.dat", 0, 0, 0,
	  NULL, FIELD(public_suffix_list), NULL,
	  "Public Suffix List, for DMARC's organizational domains" },
	{ "local_names", E_LIST, "", 0, 0, 0, conv_domain, FIELD(local_names), NULL,
	  "our own host names, which a client's HELO must not claim; empty: this host's name" },
	{ "local_addresses", E_LIST, "", 0, 0, 0, conv_network, FIELD(local_addresses), NULL,
	  "our own addresses (CIDR), which a client's HELO must not claim" },
	{ "dns", E_SECTION, NULL, 0, 0, 0, NULL, 0, dns_table, "the resolver" },
	{ "thresholds", E_SECTION, NULL, 0, 0, 0, NULL, 0, thresholds_table,
	  "the server's default thresholds", 0, check_thresholds },
	{ "dmarc", E_SECTION, NULL, 0, 0, 0, NULL, 0, dmarc_table, "DMARC" },
	{ "redis", E_SECTION, NULL, 0, 0, 0, NULL, 0, redis_table, "the policy store", 0, check_redis },
	{ "classifier", E_SECTION, NULL, 0, 0, 0, NULL, 0, classifier_table,
	  "the content classifier and its learning" },
	{ "metrics", E_SECTION, NULL, 0, 0, 0, NULL, 0, metrics_table, "metrics for Prometheus" },
	{ "whitelist_requires_auth", E_BOOL, NULL, 1, 0, 0, NULL, FIELD(whitelist_requires_auth), NULL,
	  "honour a white list only for an authenticated sender (SPF pass, or aligned DKIM)" },
	{ "split_recipients", E_BOOL, NULL, 1, 0, 0, NULL, FIELD(split_recipients), NULL,
	  "answer 452 4.5.3 to a recipient whose policy differs from the first one's" },
	{ "recipient_delimiter", E_CHECKED, "+", 0, 0, 0, conv_delimiter,
	  FIELD(recipient_delimiter), NULL,
	  "characters that start an address extension, as in Postfix: bob+x@ gets bob@'s "
	  "policy; empty: none" },
	{ "symbol", E_MULTI, NULL, 0, 0, 0, NULL, FIELD(symbols), symbol_table,
	  "a built-in symbol's weight", sizeof(struct hm_conf_symbol), check_symbol },
	{ "dnsbl", E_MULTI, NULL, 0, 0, 0, NULL, FIELD(dnsbls), dnsbl_table,
	  "a DNS blocklist; its title is the symbol it fires", sizeof(struct hm_conf_dnsbl),
	  check_dnsbl },
	{ "rule", E_MULTI, NULL, 0, 0, 0, NULL, FIELD(rules), rule_table,
	  "a regular-expression rule; its title is the symbol it fires",
	  sizeof(struct hm_conf_rule), check_rule },
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

/* --- converters ------------------------------------------------------- */

static int conv_network(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_net net;

	return hm_net_parse(value, &net, err, errlen);
}

static int conv_on_failure(const char *value, void *field, char *err, size_t errlen)
{
	int v;

	if (strcmp(value, "defaults") == 0) {
		v = HM_ON_FAILURE_DEFAULTS;
	} else if (strcmp(value, "tempfail") == 0) {
		v = HM_ON_FAILURE_TEMPFAIL;
	} else {
		snprintf(err, errlen, "\"%s\" is not \"defaults\" or \"tempfail\"", value);
		return -1;
	}
	if (field)
		*(int *)field = v;
	return 0;
}

/*
 * recipient_delimiter: printable ASCII characters that can be part of a
 * local-part, none of them '@' (that would cut into the domain); empty
 * turns extensions off.
 */
static int conv_delimiter(const char *value, void *field, char *err, size_t errlen)
{
	(void)field;
	for (const char *p = value; *p; p++) {
		unsigned char c = (unsigned char)*p;

		if (c <= ' ' || c >= 0x7f || c == '@' || c == '"' || c == '\\') {
			snprintf(err, errlen, "\"%s\": a delimiter is a printable character, "
				 "not a space, '@', '\"' or '\\'", value);
			return -1;
		}
	}
	return 0;
}

/* A key prefix: printable, no spaces (keys are typed with redis-cli). */
static int conv_prefix(const char *value, void *field, char *err, size_t errlen)
{
	size_t n = strlen(value);

	for (size_t i = 0; i < n; i++)
		if (value[i] <= ' ' || value[i] >= 0x7f) {
			snprintf(err, errlen, "prefix \"%s\": printable characters only, no spaces", value);
			return -1;
		}
	if (n == 0 || n > 64) {
		snprintf(err, errlen, "prefix \"%s\": 1 to 64 characters", value);
		return -1;
	}
	return 0;
}

static int conv_domain(const char *value, void *field, char *err, size_t errlen)
{
	if (*value && !hm_domain_valid(value)) {
		snprintf(err, errlen, "\"%s\" is not a domain name", value);
		return -1;
	}
	return 0;
}

static int conv_dnsbl_code(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_dnsbl_code code;

	return hm_dnsbl_code_parse(value, &code, err, errlen);
}

/* Compiled the way the rules are, so that -t finds every bad pattern. */
static int conv_regex(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_rule_def def = { .name = "regex", .target = HM_RULE_BODY, .pattern = value,
				   .weight = 0 };
	struct hm_rules *rules;

	if (hm_rules_compile(&def, 1, &rules, err, errlen) < 0) {
		/* "rule regex: pattern error ...": the option name says which. */
		size_t skip = sizeof("rule regex: ") - 1;

		if (errlen > skip && strncmp(err, "rule regex: ", skip) == 0)
			memmove(err, err + skip, strnlen(err + skip, errlen - skip - 1) + 1);
		return -1;
	}
	hm_rules_free(&rules);
	return 0;
}

/* A symbol name of the operator's: letters, digits and '_'. */
static int check_symbol_name(const char *kind, const char *title, char *err, size_t errlen)
{
	size_t n = strlen(title);

	if (n == 0 || n >= HM_SYM_NAME_MAX || strspn(title,
	    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_") != n) {
		snprintf(err, errlen, "%s \"%s\": the name must be 1 to %d letters, digits or '_'",
			 kind, title, HM_SYM_NAME_MAX - 1);
		return -1;
	}
	if (hm_sym_by_name(title) >= 0) {
		snprintf(err, errlen, "%s \"%s\": the name of a built-in symbol", kind, title);
		return -1;
	}
	return 0;
}

static int check_thresholds(cfg_t *sec, char *err, size_t errlen)
{
	const char *tag = cfg_getstr(sec, "tag"), *reject = cfg_getstr(sec, "reject");
	double t = tag ? strtod(tag, NULL) : HM_DEFAULT_TAG;
	double r = reject ? strtod(reject, NULL) : HM_DEFAULT_REJECT;

	if (t > r) {
		snprintf(err, errlen, "thresholds: tag (%.2f) is above reject (%.2f)", t, r);
		return -1;
	}
	return 0;
}

/* Sentinels and the master's name go together. */
static int check_redis(cfg_t *sec, char *err, size_t errlen)
{
	const char *master = cfg_getstr(sec, "sentinel_master");
	bool have_master = master && *master, have_sentinels = cfg_size(sec, "sentinels") > 0;

	if (have_master != have_sentinels) {
		snprintf(err, errlen, "redis: sentinels and sentinel_master go together (%s)",
			 have_master ? "no sentinels" : "no sentinel_master");
		return -1;
	}
	return 0;
}

static int check_symbol(cfg_t *sec, char *err, size_t errlen)
{
	if (hm_sym_by_name(cfg_title(sec)) < 0) {
		snprintf(err, errlen, "symbol \"%s\": no such symbol (hosterra-milter -O lists them)",
			 cfg_title(sec));
		return -1;
	}
	return 0;
}

static int check_dnsbl(cfg_t *sec, char *err, size_t errlen)
{
	const char *zone = cfg_getstr(sec, "zone");

	if (check_symbol_name("dnsbl", cfg_title(sec), err, errlen) < 0)
		return -1;
	if (zone == NULL || *zone == '\0') {
		snprintf(err, errlen, "dnsbl \"%s\": no zone", cfg_title(sec));
		return -1;
	}
	return 0;
}

static int check_rule(cfg_t *sec, char *err, size_t errlen)
{
	const char *header = cfg_getstr(sec, "header"), *regex = cfg_getstr(sec, "regex");
	const char *body = cfg_getstr(sec, "body");
	bool is_body = body && cfg_parse_boolean(body) == 1, has_header = header && *header;

	if (check_symbol_name("rule", cfg_title(sec), err, errlen) < 0)
		return -1;
	if (is_body == has_header) {
		snprintf(err, errlen, "rule \"%s\": give either header = \"Name\" or body = yes",
			 cfg_title(sec));
		return -1;
	}
	if (regex == NULL || *regex == '\0') {
		snprintf(err, errlen, "rule \"%s\": no regex", cfg_title(sec));
		return -1;
	}
	return 0;
}

/* "IP" or "IP@PORT", as libunbound takes a forwarder. */
static int conv_nameserver(const char *value, void *field, char *err, size_t errlen)
{
	char ip[INET6_ADDRSTRLEN];
	unsigned char bin[16];
	const char *at = strchr(value, '@');
	size_t n = at ? (size_t)(at - value) : strlen(value);

	if (n == 0 || n >= sizeof(ip))
		goto bad;
	memcpy(ip, value, n);
	ip[n] = '\0';
	if (inet_pton(AF_INET, ip, bin) != 1 && inet_pton(AF_INET6, ip, bin) != 1)
		goto bad;
	if (at) {
		long port;

		if (parse_long(at + 1, &port) < 0 || port < 1 || port > 65535)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not a nameserver address (IP or IP@PORT)", value);
	return -1;
}

static int conv_sentinel(const char *value, void *field, char *err, size_t errlen)
{
	char host[256];
	int port;

	(void)field;
	return hm_sentinel_parse_addr(value, host, sizeof(host), &port, err, errlen);
}

/* metrics.listen: "" (off), or an address literal and a port. */
static int conv_metrics_listen(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_metrics_addr a;

	(void)field;
	return *value ? hm_metrics_listen_parse(value, &a, err, errlen) : 0;
}

static int conv_socket(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_socket_spec spec;

	if (hm_socket_parse(value, &spec, err, errlen) < 0)
		return -1;
	if (field)
		memcpy(field, &spec, sizeof(spec));
	return 0;
}

static int conv_mode(const char *value, void *field, char *err, size_t errlen)
{
	char *end;
	unsigned long mode;

	errno = 0;
	mode = strtoul(value, &end, 8);
	if (*value == '\0' || *end != '\0' || errno || mode > 0777) {
		snprintf(err, errlen, "\"%s\" is not an octal mode from 0000 to 0777", value);
		return -1;
	}
	if (field)
		*(unsigned *)field = (unsigned)mode;
	return 0;
}

static int conv_log_level(const char *value, void *field, char *err, size_t errlen)
{
	int level = hm_log_level_from_name(value);

	if (level < 0) {
		snprintf(err, errlen, "\"%s\" is not one of error, warning, notice, info, debug", value);
		return -1;
	}
	if (field)
		*(int *)field = level;
	return 0;
}

static int conv_facility(const char *value, void *field, char *err, size_t errlen)
{
	int facility = hm_log_facility_from_name(value);

	if (facility < 0) {
		snprintf(err, errlen, "\"%s\" is not a syslog facility (mail, daemon, user, local0..local7)", value);
		return -1;
	}
	if (field)
		*(int *)field = facility;
	return 0;
}

/* --- checking one value ------------------------------------------------ */

int hm_conf_check_file(const char *path, char *err, size_t errlen)
{
	struct stat st;
	int fd;

	if (path[0] == '\0')
		return 0;
	/* Open rather than access(): as root, access() says yes to mode 000. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		snprintf(err, errlen, "cannot read %s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		snprintf(err, errlen, "%s is not a regular file", path);
		close(fd);
		return -1;
	}
	close(fd);
	return 0;
}

static int parse_long(const char *v, long *out)
{
	char *end;

	errno = 0;
	*out = strtol(v, &end, 10);
	return *v != '\0' && *end == '\0' && errno == 0 ? 0 : -1;
}

/*
 * Check value v of entry e; with field not NULL also store it (strings are
 * copied: free_values() frees them).  0, or -1 with the reason in err.
 */
static int convert_value(const struct conf_entry *e, const char *v, void *field,
			 char *err, size_t errlen)
{
	long n;

	switch (e->type) {
	case E_INT:
		if (parse_long(v, &n) < 0) {
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
	case E_BOOL:
		if ((n = cfg_parse_boolean(v)) < 0) {
			snprintf(err, errlen, "\"%s\" is not yes/no, true/false or on/off", v);
			return -1;
		}
		if (field)
			*(int *)field = (int)n;
		return 0;
	case E_FILE:
		if (hm_conf_check_file(v, err, errlen) < 0)
			return -1;
		break;
	case E_STR:
		if (e->convert)
			return e->convert(v, field, err, errlen);
		break;
	case E_CHECKED:
		if (e->convert(v, NULL, err, errlen) < 0)
			return -1;
		break;
	case E_FLOAT: {
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
	case E_LIST:
		return e->convert ? e->convert(v, NULL, err, errlen) : 0;
	case E_SECTION:
	case E_MULTI:
		return 0;
	}
	if (field && (*(char **)field = strdup(v)) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	return 0;
}

/* --- building the libconfuse option array from the table --------------- */

static void free_opts(cfg_opt_t *opts, const struct conf_entry *table)
{
	if (opts == NULL)
		return;
	for (size_t i = 0; table[i].name; i++)
		if (table[i].type == E_SECTION || table[i].type == E_MULTI)
			free_opts(opts[i].subopts, table[i].sub);
	free(opts);
}

static cfg_opt_t *build_opts(const struct conf_entry *table)
{
	size_t n = 0;
	cfg_opt_t *opts;

	while (table[n].name)
		n++;
	opts = calloc(n + 1, sizeof(*opts));
	if (opts == NULL)
		return NULL;
	for (size_t i = 0; i < n; i++) {
		const struct conf_entry *e = &table[i];

		if (e->type == E_SECTION) {
			cfg_opt_t *sub = build_opts(e->sub);

			if (sub == NULL) {
				opts[i] = (cfg_opt_t)CFG_END();
				free_opts(opts, table);
				return NULL;
			}
			opts[i] = (cfg_opt_t)CFG_SEC(e->name, sub, CFGF_NONE);
		} else if (e->type == E_MULTI) {
			cfg_opt_t *sub = build_opts(e->sub);

			if (sub == NULL) {
				opts[i] = (cfg_opt_t)CFG_END();
				free_opts(opts, table);
				return NULL;
			}
			opts[i] = (cfg_opt_t)CFG_SEC(e->name, sub,
						     CFGF_MULTI | CFGF_TITLE | CFGF_NO_TITLE_DUPES);
		} else if (e->type == E_LIST) {
			opts[i] = (cfg_opt_t)CFG_STR_LIST(e->name, NULL, CFGF_NODEFAULT);
		} else {
			/* Typed by convert_value(), defaults from the table. */
			opts[i] = (cfg_opt_t)CFG_STR(e->name, NULL, CFGF_NODEFAULT);
		}
	}
	opts[n] = (cfg_opt_t)CFG_END();
	return opts;
}

/* --- collecting errors ------------------------------------------------- */

struct conf_error {
	unsigned line;			/* 0: about the whole file */
	unsigned seq;			/* keeps the order of one line's errors */
	char *text;
};

/*
 * libconfuse's callbacks carry no user pointer; loads run one at a time (at
 * start-up and on reload, both in the main thread), so the load in progress
 * is kept here.
 */
struct load_state {
	const char *path;
	struct conf_error *errors;
	size_t nerrors, size;
	unsigned syntax_line;		/* line of libconfuse's (fatal) error, 0: none */
	const cfg_opt_t *list_opt;	/* list option last checked, and how many items */
	unsigned list_checked;
	int oom;
};
static struct load_state *current_load;

static void add_error(struct load_state *st, unsigned line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void add_error(struct load_state *st, unsigned line, const char *fmt, ...)
{
	char msg[1024], text[1400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (line)
		snprintf(text, sizeof(text), "%s:%u: %s", st->path, line, msg);
	else
		snprintf(text, sizeof(text), "%s: %s", st->path, msg);
	if (st->nerrors == st->size) {
		size_t size = st->size ? st->size * 2 : 16;
		struct conf_error *e = realloc(st->errors, size * sizeof(*e));

		if (e == NULL) {
			st->oom = 1;
			return;
		}
		st->errors = e;
		st->size = size;
	}
	if ((st->errors[st->nerrors].text = strdup(text)) == NULL) {
		st->oom = 1;
		return;
	}
	st->errors[st->nerrors].line = line;
	st->errors[st->nerrors].seq = (unsigned)st->nerrors;
	st->nerrors++;
}

static int cmp_errors(const void *a, const void *b)
{
	const struct conf_error *x = a, *y = b;

	if (x->line != y->line)
		return x->line < y->line ? -1 : 1;
	return x->seq < y->seq ? -1 : x->seq > y->seq;
}

/* libconfuse's own errors: with unknown options blanked, only syntax is left. */
static void libconfuse_error(cfg_t *cfg, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void libconfuse_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[1024];
	unsigned line = cfg && cfg->line > 0 ? (unsigned)cfg->line : 0;

	vsnprintf(msg, sizeof(msg), fmt, ap);
	add_error(current_load, line, "%s", msg);
	if (current_load->syntax_line == 0 && line)
		current_load->syntax_line = line;
}

/* --- checking values as they are parsed -------------------------------- */

/* The table rows of the section a libconfuse section name stands for. */
static const struct conf_entry *find_table(const struct conf_entry *table,
					   const char *section)
{
	if (strcmp(section, "root") == 0)
		return root_table;
	for (size_t i = 0; table[i].name; i++) {
		if (table[i].type != E_SECTION && table[i].type != E_MULTI)
			continue;
		if (strcmp(table[i].name, section) == 0)
			return table[i].sub;
		const struct conf_entry *t = find_table(table[i].sub, section);
		if (t)
			return t;
	}
	return NULL;
}

static const struct conf_entry *find_in(const struct conf_entry *table, const char *name)
{
	for (size_t i = 0; table && table[i].name; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

/*
 * Called by the parser for each value it sets.  An error is recorded with
 * the line being parsed; returning 0 lets the parser go on, so one run of
 * "-t" shows every bad value.
 */
static int validate_value(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_entry *e = find_in(find_table(root_table, cfg->name), opt->name);
	char err[512];

	if (e == NULL || opt->nvalues == 0)
		return 0;
	if (e->type == E_MULTI || e->type == E_SECTION) {
		cfg_t *sec = cfg_opt_getnsec(opt, opt->nvalues - 1);

		if (sec && e->check && e->check(sec, err, sizeof(err)) < 0)
			add_error(current_load, (unsigned)cfg->line, "%s", err);
		return 0;
	}
	/* For a list, libconfuse calls this as each item is added and once
	 * more at the end of the list: check each item once. */
	if (e->type == E_LIST) {
		if (current_load->list_opt == opt && current_load->list_checked == opt->nvalues)
			return 0;
		current_load->list_opt = opt;
		current_load->list_checked = opt->nvalues;
	}
	const char *v = cfg_opt_getnstr(opt, opt->nvalues - 1);
	if (v == NULL || convert_value(e, v, NULL, err, sizeof(err)) < 0)
		add_error(current_load, (unsigned)cfg->line, "option '%s': %s", e->name,
			  v ? err : "missing value");
	return 0;
}

static void set_validators(cfg_t *cfg, const struct conf_entry *table, const char *prefix)
{
	char path[256];

	for (size_t i = 0; table[i].name; i++) {
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "|" : "", table[i].name);
		if (table[i].type == E_SECTION) {
			set_validators(cfg, table[i].sub, path);
			if (table[i].check)
				cfg_set_validate_func(cfg, path, validate_value);
		} else if (table[i].type == E_MULTI) {
			set_validators(cfg, table[i].sub, path);
			cfg_set_validate_func(cfg, path, validate_value);
		} else {
			cfg_set_validate_func(cfg, path, validate_value);
		}
	}
}

/* --- finding unknown options ------------------------------------------ */

/*
 * A token scanner with libconfuse's lexical rules (its lexer.l): blanks,
 * newlines, '#' and '//' comments to the end of the line, C comments,
 * "double" and 'single' quoted strings with backslash escapes, ${VAR}, the
 * punctuation { } ( ) = += , and unquoted words.  Other bytes are skipped,
 * as libconfuse does.
 */
enum tok { T_EOF, T_STR, T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_EQ, T_PLUSEQ, T_COMMA };

struct scan {
	char *p, *end;
	unsigned line;
	bool blank_comments;
	char *start;			/* where the last token began */
	char word[256];			/* the last T_STR, cut to fit (names are short) */
};

/* Overwrite [from, to) with spaces, keeping newlines (and so line numbers). */
static void blank(char *from, const char *to)
{
	for (; from < to; from++)
		if (*from != '\n')
			*from = ' ';
}

static bool at(const struct scan *s, const char *p, char c)
{
	return p < s->end && *p == c;
}

static bool word_char(const struct scan *s, const char *p)
{
	if (p >= s->end || *p == '\0' || strchr(" #\"'\t\n\r={}()+,*", *p))
		return false;
	/* A slash starts a comment when another slash or a star follows. */
	return *p != '/' || !(at(s, p + 1, '/') || at(s, p + 1, '*'));
}

static void scan_quoted(struct scan *s, char quote)
{
	size_t n = 0;

	for (s->p++; s->p < s->end && *s->p != quote; s->p++) {
		if (*s->p == '\\' && s->p + 1 < s->end)
			s->p++;
		if (*s->p == '\n')
			s->line++;
		if (n + 1 < sizeof(s->word))
			s->word[n++] = *s->p;
	}
	s->word[n] = '\0';
	if (s->p < s->end)
		s->p++;
}

static void take_word(struct scan *s, char *from)
{
	size_t n = (size_t)(s->p - from);

	if (n >= sizeof(s->word))
		n = sizeof(s->word) - 1;
	memcpy(s->word, from, n);
	s->word[n] = '\0';
}

static enum tok next_token(struct scan *s)
{
	static const char punct[] = "{}()=,";
	static const enum tok ptok[] = { T_LBRACE, T_RBRACE, T_LPAREN, T_RPAREN, T_EQ, T_COMMA };

	while (s->p < s->end) {
		char *p = s->p;

		s->start = p;
		if (*p == '\n') {
			s->line++;
			s->p++;
		} else if (*p == '#' || (*p == '/' && at(s, p + 1, '/'))) {
			while (s->p < s->end && *s->p != '\n')
				s->p++;
			if (s->blank_comments)
				blank(p, s->p);
		} else if (*p == '/' && at(s, p + 1, '*')) {
			for (s->p += 2; s->p < s->end; s->p++) {
				if (*s->p == '\n') {
					s->line++;
				} else if (*s->p == '*' && at(s, s->p + 1, '/')) {
					s->p += 2;
					break;
				}
			}
			if (s->blank_comments)
				blank(p, s->p);
		} else if (*p != '\0' && strchr(punct, *p)) {
			s->p++;
			return ptok[strchr(punct, *p) - punct];
		} else if (*p == '+' && at(s, p + 1, '=')) {
			s->p += 2;
			return T_PLUSEQ;
		} else if (*p == '"' || *p == '\'') {
			scan_quoted(s, *p);
			return T_STR;
		} else if (*p == '$' && at(s, p + 1, '{')) {
			while (s->p < s->end && *s->p != '}' && *s->p != '\n')
				s->p++;
			if (at(s, s->p, '}'))
				s->p++;
			take_word(s, p);
			return T_STR;
		} else if (word_char(s, p)) {
			while (word_char(s, s->p))
				s->p++;
			take_word(s, p);
			return T_STR;
		} else {
			s->p++;		/* blanks and stray bytes */
		}
	}
	s->start = s->p;
	return T_EOF;
}

/* Skip tokens up to and including the CLOSE that matches an open OPEN. */
static int skip_until(struct scan *s, enum tok open, enum tok close)
{
	int depth = 1;
	enum tok t;

	while ((t = next_token(s)) != T_EOF) {
		if (t == open)
			depth++;
		else if (t == close && --depth == 0)
			return 0;
	}
	return -1;
}

/* Blank every comment of buf (see the note at the top). */
static void blank_comments(char *buf, size_t len)
{
	struct scan s = { .p = buf, .end = buf + len, .line = 1, .blank_comments = true };

	while (next_token(&s) != T_EOF)
		;
}

#define SCAN_MAX_DEPTH 16

/*
 * Walk the statements of buf (a name, then "= value", "= { list }",
 * "+= ...", "{ section }", "title { section }" or "( args )"), report every
 * name the table does not know, with its line, and blank its statement out.
 * The walk stops quietly at anything it does not expect: that is a syntax
 * error, and libconfuse reports it.
 */
static void find_unknown(struct load_state *st, char *buf, size_t len)
{
	struct scan s = { .p = buf, .end = buf + len, .line = 1 };
	const struct conf_entry *tables[SCAN_MAX_DEPTH];
	const char *secnames[SCAN_MAX_DEPTH];
	int depth = 0;
	enum tok t;

	tables[0] = root_table;
	secnames[0] = NULL;
	while ((t = next_token(&s)) != T_EOF) {
		const struct conf_entry *e;
		char *stmt = s.start;

		if (t == T_RBRACE && depth > 0) {
			depth--;
			continue;
		}
		if (t != T_STR)
			return;
		e = find_in(tables[depth], s.word);
		if (e == NULL) {
			if (secnames[depth])
				add_error(st, s.line, "unknown option '%s' in section '%s'",
					  s.word, secnames[depth]);
			else
				add_error(st, s.line, "unknown option '%s'", s.word);
			/* At least the name goes, so libconfuse does not stop there. */
			blank(stmt, s.p);
		}
		t = next_token(&s);
		if (t == T_STR)			/* a section title */
			t = next_token(&s);
		switch (t) {
		case T_EQ:
		case T_PLUSEQ:
			t = next_token(&s);
			if (t == T_LBRACE && skip_until(&s, T_LBRACE, T_RBRACE) < 0)
				return;
			if (t != T_LBRACE && t != T_STR)
				return;
			break;
		case T_LPAREN:
			if (skip_until(&s, T_LPAREN, T_RPAREN) < 0)
				return;
			break;
		case T_LBRACE:
			if (e == NULL) {
				if (skip_until(&s, T_LBRACE, T_RBRACE) < 0)
					return;
				break;
			}
			if ((e->type != E_SECTION && e->type != E_MULTI) || depth + 1 >= SCAN_MAX_DEPTH)
				return;
			depth++;
			tables[depth] = e->sub;
			secnames[depth] = e->name;
			break;
		default:
			return;
		}
		if (e == NULL)
			blank(stmt, s.p);
	}
}

/* --- copying into the typed struct ------------------------------------ */

static int list_append(struct hm_conf_list *l, const char *item, size_t n)
{
	char **grown = realloc(l->items, (l->count + 1) * sizeof(*grown));

	if (grown == NULL)
		return -1;
	l->items = grown;
	if ((l->items[l->count] = strndup(item, n)) == NULL)
		return -1;
	l->count++;
	return 0;
}

/* The list as set in the file (even empty: "x = {}"), else the default. */
static int copy_list(cfg_t *cfg, const struct conf_entry *e, struct hm_conf_list *l)
{
	cfg_opt_t *opt = cfg ? cfg_getopt(cfg, e->name) : NULL;

	if (opt && (opt->flags & CFGF_MODIFIED)) {
		for (unsigned i = 0; i < cfg_opt_size(opt); i++) {
			const char *item = cfg_opt_getnstr(opt, i);

			if (item && list_append(l, item, strlen(item)) < 0)
				return -1;
		}
		return 0;
	}
	for (const char *p = e->def_str; *p;) {
		size_t n = strcspn(p, " ");

		if (n > 0 && list_append(l, p, n) < 0)
			return -1;
		p += n;
		p += strspn(p, " ");
	}
	return 0;
}

static int copy_values(struct load_state *st, cfg_t *cfg, const struct conf_entry *table,
		       char *base)
{
	char err[512];

	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];
		void *field = base + e->offset;

		if (e->type == E_SECTION) {
			if (copy_values(st, cfg_getsec(cfg, e->name), e->sub, base + e->offset) < 0)
				return -1;
			continue;
		}
		if (e->type == E_MULTI) {
			struct hm_conf_array *a = field;
			unsigned n = cfg ? cfg_size(cfg, e->name) : 0;

			if (n && (a->items = calloc(n, e->elem_size)) == NULL) {
				add_error(st, 0, "out of memory");
				return -1;
			}
			for (unsigned k = 0; k < n; k++) {
				cfg_t *sec = cfg_getnsec(cfg, e->name, k);
				char *elem = (char *)a->items + k * e->elem_size;

				a->count++;
				if ((*(char **)elem = strdup(cfg_title(sec))) == NULL ||
				    copy_values(st, sec, e->sub, elem) < 0) {
					add_error(st, 0, "out of memory");
					return -1;
				}
			}
			continue;
		}
		if (e->type == E_LIST) {
			if (copy_list(cfg, e, field) < 0) {
				add_error(st, 0, "out of memory");
				return -1;
			}
			continue;
		}
		const char *v = cfg ? cfg_getstr(cfg, e->name) : NULL;
		if (v == NULL && e->type == E_FLOAT) {
			*(double *)field = strtod(e->def_str, NULL);
			continue;
		}
		if (v == NULL && (e->type == E_INT || e->type == E_BOOL)) {
			if (e->type == E_INT)
				*(long *)field = e->def_int;
			else
				*(int *)field = e->def_int != 0;
			continue;
		}
		if (convert_value(e, v ? v : e->def_str, field, err, sizeof(err)) < 0) {
			/* Values in the file were checked; this is a default that
			 * depends on the system (a file), or no memory. */
			add_error(st, 0, "option '%s'%s: %s", e->name, v ? "" : " (default)", err);
			return -1;
		}
	}
	return 0;
}

static void free_values(const struct conf_entry *table, char *base)
{
	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];

		if ((e->type == E_STR && e->convert == NULL) || e->type == E_FILE ||
		    e->type == E_CHECKED) {
			free(*(char **)(base + e->offset));
			*(char **)(base + e->offset) = NULL;
		} else if (e->type == E_LIST) {
			struct hm_conf_list *l = (struct hm_conf_list *)(base + e->offset);

			for (size_t k = 0; k < l->count; k++)
				free(l->items[k]);
			free(l->items);
			l->items = NULL;
			l->count = 0;
		} else if (e->type == E_SECTION) {
			free_values(e->sub, base + e->offset);
		} else if (e->type == E_MULTI) {
			struct hm_conf_array *a = (struct hm_conf_array *)(base + e->offset);

			for (size_t k = 0; k < a->count; k++) {
				char *elem = (char *)a->items + k * e->elem_size;

				free(*(char **)elem);
				free_values(e->sub, elem);
			}
			free(a->items);
			a->items = NULL;
			a->count = 0;
		}
	}
}

static void conf_free(struct hm_conf *c)
{
	if (c == NULL)
		return;
	hm_store_free(&c->store);
	hm_engine_free(&c->engine);
	hm_netlist_free(&c->internal);
	hm_netlist_free(&c->local_addrs);
	hm_rules_free(&c->compiled_rules);
	for (size_t i = 0; c->dnsbl_zones && i < c->dnsbls.count; i++)
		free(c->dnsbl_zones[i].codes);
	free(c->dnsbl_zones);
	free_values(root_table, (char *)c);
	free(c->path);
	free(c);
}

/* The DNSBL zones as the client checks take them. */
static int fill_dnsbls(struct hm_conf *c, char *err, size_t errlen)
{
	const struct hm_conf_dnsbl *d = c->dnsbls.items;

	if (c->dnsbls.count == 0)
		return 0;
	if ((c->dnsbl_zones = calloc(c->dnsbls.count, sizeof(*c->dnsbl_zones))) == NULL)
		return -1;
	for (size_t i = 0; i < c->dnsbls.count; i++) {
		struct hm_dnsbl_zone *z = &c->dnsbl_zones[i];

		z->name = d[i].title;
		z->zone = d[i].zone;
		z->weight = d[i].weight;
		if (d[i].codes.count &&
		    (z->codes = calloc(d[i].codes.count, sizeof(*z->codes))) == NULL)
			return -1;
		for (size_t k = 0; k < d[i].codes.count; k++)
			if (hm_dnsbl_code_parse(d[i].codes.items[k], &z->codes[z->ncodes++], err,
						errlen) < 0)
				return -1;
	}
	c->client.zones = c->dnsbl_zones;
	c->client.nzones = c->dnsbls.count;
	return 0;
}

static int compile_rules(struct hm_conf *c, char *err, size_t errlen)
{
	const struct hm_conf_rule *r = c->rules.items;
	struct hm_rule_def *defs;
	int rc;

	if (c->rules.count == 0)
		return 0;
	if ((defs = calloc(c->rules.count, sizeof(*defs))) == NULL)
		return -1;
	for (size_t i = 0; i < c->rules.count; i++)
		defs[i] = (struct hm_rule_def){
			.name = r[i].title,
			.target = r[i].body ? HM_RULE_BODY : HM_RULE_HEADER,
			.header = r[i].header,
			.pattern = r[i].regex,
			.weight = r[i].weight,
			.caseless = r[i].caseless != 0,
		};
	rc = hm_rules_compile(defs, c->rules.count, &c->compiled_rules, err, errlen);
	free(defs);
	return rc;
}

/*
 * Values derived from the file's, or from the environment.  Errors are
 * recorded in st; -1 means out of memory (or an error recorded).
 */
static int fill_derived(struct load_state *st, struct hm_conf *c)
{
	const struct hm_conf_symbol *sym = c->symbols.items;
	char err[512] = "";

	hm_weights_default(&c->weights);
	c->cls_points.scale = c->classifier.scale;
	c->cls_points.cap_spam = c->classifier.cap_spam;
	c->cls_points.cap_ham = c->classifier.cap_ham;
	c->cls_points.min_spam = (unsigned long)c->classifier.min_spam;
	c->cls_points.min_ham = (unsigned long)c->classifier.min_ham;
	for (size_t i = 0; i < c->symbols.count; i++)
		c->weights.w[hm_sym_by_name(sym[i].title)] = sym[i].weight;
	for (size_t i = 0; i < c->internal_networks.count; i++)
		if (hm_netlist_add(&c->internal, c->internal_networks.items[i], err, sizeof(err)) < 0)
			return -1;	/* checked while parsing: out of memory */
	for (size_t i = 0; i < c->local_addresses.count; i++)
		if (hm_netlist_add(&c->local_addrs, c->local_addresses.items[i], err, sizeof(err)) < 0)
			return -1;
	if (c->authserv_id[0] == '\0') {
		char host[256];

		if (gethostname(host, sizeof(host)) < 0)
			return -1;
		host[sizeof(host) - 1] = '\0';
		free(c->authserv_id);
		if ((c->authserv_id = strdup(host)) == NULL)
			return -1;
	}
	/* HELO must not claim our names: the configured ones, else ours. */
	c->client.our_names = (const char *const *)c->local_names.items;
	c->client.nour_names = c->local_names.count;
	if (c->local_names.count == 0) {
		c->client.our_names = (const char *const *)&c->authserv_id;
		c->client.nour_names = 1;
	}
	c->client.our_addrs = &c->local_addrs;
	if (fill_dnsbls(c, err, sizeof(err)) < 0 || compile_rules(c, err, sizeof(err)) < 0) {
		add_error(st, 0, "%s", err[0] ? err : "out of memory");
		return -1;
	}
	return 0;
}

/* --- loading ----------------------------------------------------------- */

/* The whole file, NUL-terminated, in *buf_r (the caller frees it). */
static int read_conf_file(struct load_state *st, char **buf_r, size_t *len_r)
{
	struct stat sb;
	char *buf = NULL;
	size_t len = 0;
	int fd;

	if ((fd = open(st->path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)) < 0) {
		add_error(st, 0, "cannot read: %s", strerror(errno));
		return -1;
	}
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		add_error(st, 0, "cannot read: not a regular file");
		goto fail;
	}
	if (sb.st_size > CONF_MAX_SIZE) {
		add_error(st, 0, "cannot read: larger than %d bytes", CONF_MAX_SIZE);
		goto fail;
	}
	if ((buf = malloc((size_t)sb.st_size + 1)) == NULL) {
		st->oom = 1;
		goto fail;
	}
	while (len < (size_t)sb.st_size) {
		ssize_t n = read(fd, buf + len, (size_t)sb.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			add_error(st, 0, "cannot read: %s", strerror(errno));
			goto fail;
		}
		if (n == 0)
			break;		/* shrank while we read: take what is there */
		len += (size_t)n;
	}
	buf[len] = '\0';
	close(fd);
	*buf_r = buf;
	*len_r = len;
	return 0;
fail:
	free(buf);
	close(fd);
	return -1;
}

/* Parse buf with libconfuse; its errors and the validators' go to st. */
static cfg_t *parse_buffer(struct load_state *st, cfg_opt_t *opts, char *buf, size_t len)
{
	cfg_t *cfg = cfg_init(opts, CFGF_NONE);
	FILE *fp;

	if (cfg == NULL) {
		st->oom = 1;
		return NULL;
	}
	cfg_set_error_function(cfg, libconfuse_error);
	set_validators(cfg, root_table, "");
	if (len == 0)			/* fmemopen() may refuse an empty buffer */
		return cfg;
	if ((fp = fmemopen(buf, len, "r")) == NULL) {
		st->oom = 1;
		return cfg;
	}
	if (cfg_parse_fp(cfg, fp) != CFG_SUCCESS && st->syntax_line == 0)
		add_error(st, 0, "parse error");
	fclose(fp);
	return cfg;
}

struct hm_conf *hm_conf_load(const char *path, hm_conf_report_fn *report, void *arg)
{
	struct load_state st = { .path = path };
	struct hm_conf *c = NULL;
	cfg_opt_t *opts = NULL;
	cfg_t *cfg = NULL;
	char *buf = NULL;
	size_t len = 0, before;

	current_load = &st;
	if (read_conf_file(&st, &buf, &len) < 0)
		goto out;
	if ((opts = build_opts(root_table)) == NULL) {
		st.oom = 1;
		goto out;
	}
	/* Unknown options first: the scan reports and blanks them. */
	blank_comments(buf, len);
	find_unknown(&st, buf, len);
	before = st.nerrors;
	cfg = parse_buffer(&st, opts, buf, len);
	/* After a syntax error the scan may have been out of step: drop what
	 * it found past that line. */
	for (size_t i = 0; st.syntax_line && i < before; i++)
		if (st.errors[i].line > st.syntax_line)
			st.errors[i].line = UINT_MAX;	/* sorted last, then dropped */
	if (st.nerrors == 0 && !st.oom) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->path = strdup(path)) == NULL) {
			st.oom = 1;
		} else if (copy_values(&st, cfg, root_table, (char *)c) < 0 ||
			   fill_derived(&st, c) < 0) {
			if (st.nerrors == 0)
				st.oom = 1;
		} else {
			atomic_init(&c->refs, 1);
		}
		if (st.nerrors || st.oom) {
			conf_free(c);
			c = NULL;
		}
	}
out:
	current_load = NULL;
	if (cfg)
		cfg_free(cfg);
	free_opts(opts, root_table);
	free(buf);
	if (st.oom)
		add_error(&st, 0, "out of memory while loading the configuration");
	if (st.nerrors)
		qsort(st.errors, st.nerrors, sizeof(*st.errors), cmp_errors);
	for (size_t i = 0; i < st.nerrors; i++) {
		if (st.errors[i].line != UINT_MAX)
			report(arg, st.errors[i].text);
		free(st.errors[i].text);
	}
	free(st.errors);
	if (st.nerrors && c) {		/* cannot happen: errors never leave a conf */
		conf_free(c);
		c = NULL;
	}
	return c;
}

void hm_conf_store_conf(const struct hm_conf *c, bool write, struct hm_store_conf *sc)
{
	bool other = write && (c->redis.write_host[0] || c->redis.write_port);

	memset(sc, 0, sizeof(*sc));
	sc->host = c->redis.host;
	sc->port = (int)c->redis.port;
	sc->unix_path = c->redis.socket;
	if (other) {
		/* The primary elsewhere: by TCP, even when reads use a socket. */
		sc->unix_path = "";
		if (c->redis.write_host[0])
			sc->host = c->redis.write_host;
		if (c->redis.write_port)
			sc->port = (int)c->redis.write_port;
	}
	sc->password = c->redis.password;
	sc->db = (int)c->redis.database;
	sc->connect_timeout_ms = c->redis.connect_timeout;
	sc->command_timeout_ms = c->redis.command_timeout;
	sc->prefix = c->redis.prefix;
	sc->pool_size = (size_t)c->redis.pool_size;
	sc->cache_max = (size_t)c->redis.cache_size;
	sc->cache_ttl_ms = c->redis.cache_ttl * 1000;
	/* An explicit write_host is the primary: no sentinel to ask. */
	sc->sentinels = (const char *const *)c->redis.sentinels.items;
	sc->nsentinels = other ? 0 : c->redis.sentinels.count;
	sc->sentinel_master = c->redis.sentinel_master;
	sc->sentinel_password = c->redis.sentinel_password;
}

bool hm_conf_inherit_store(struct hm_conf *fresh, const struct hm_conf *old)
{
	struct hm_store_conf sc;

	if (fresh->store != NULL || old == NULL || old->store == NULL)
		return false;
	hm_conf_store_conf(fresh, false, &sc);
	if (!hm_store_same_conf(old->store, &sc))
		return false;
	fresh->store = hm_store_ref(old->store);
	return true;
}

int hm_conf_build_engine(struct hm_conf *c, bool with_store, char *err, size_t errlen)
{
	struct hm_engine_conf ec = {
		.dns = {
			.nameservers = (const char *const *)c->dns.nameservers.items,
			.nnameservers = c->dns.nameservers.count,
			.timeout_ms = c->dns.timeout * 1000,
		},
		.receiver = c->authserv_id,
		.psl_path = c->public_suffix_list[0] ? c->public_suffix_list : NULL,
	};

	struct hm_store_conf sc;
	char why[400];

	hm_engine_free(&c->engine);
	if (!with_store)
		hm_store_free(&c->store);
	if (hm_engine_new(&ec, &c->engine, err, errlen) < 0)
		return -1;
	if (!with_store || c->store != NULL)	/* inherited: hm_conf_inherit_store() */
		return 0;
	hm_conf_store_conf(c, false, &sc);
	/* Redis may well be down now: the store connects when it can. */
	if (hm_store_new(&sc, &c->store, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "policy store: %s", why);
		hm_engine_free(&c->engine);
		return -1;
	}
	return 0;
}

static void describe_table(FILE *out, const struct conf_entry *table, const char *prefix)
{
	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];
		char name[256];

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", e->name);
		switch (e->type) {
		case E_STR:
		case E_CHECKED:
			fprintf(out, "%s\tstring\t\"%s\"\t%s\n", name, e->def_str, e->help);
			break;
		case E_FILE:
			fprintf(out, "%s\tfile\t\"%s\"\t%s\n", name, e->def_str, e->help);
			break;
		case E_INT:
			fprintf(out, "%s\tinteger %ld..%ld\t%ld\t%s\n", name, e->min, e->max,
				e->def_int, e->help);
			break;
		case E_BOOL:
			fprintf(out, "%s\tboolean\t%s\t%s\n", name, e->def_int ? "yes" : "no", e->help);
			break;
		case E_LIST:
			fprintf(out, "%s\tlist\t{%s}\t%s\n", name, e->def_str, e->help);
			break;
		case E_FLOAT:
			fprintf(out, "%s\tnumber %ld..%ld\t%s\t%s\n", name, e->min, e->max,
				e->def_str, e->help);
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
	describe_table(out, root_table, "");
	/* The built-in symbols a "symbol NAME { weight = ... }" may name. */
	for (int i = 0; i < HM_SYM_COUNT; i++)
		fprintf(out, "symbol.%s.weight\tnumber -100..100\t%.2f\t%s\n", hm_symdefs[i].name,
			hm_symdefs[i].weight, hm_symdefs[i].help);
}

/* --- the running snapshot --------------------------------------------- */

static pthread_mutex_t current_lock = PTHREAD_MUTEX_INITIALIZER;
static struct hm_conf *current;

void hm_conf_publish(struct hm_conf *conf)
{
	struct hm_conf *old;

	pthread_mutex_lock(&current_lock);
	old = current;
	current = conf;
	pthread_mutex_unlock(&current_lock);
	hm_conf_release(&old);
}

struct hm_conf *hm_conf_acquire(void)
{
	struct hm_conf *c;

	pthread_mutex_lock(&current_lock);
	c = current;
	if (c)
		atomic_fetch_add(&c->refs, 1);
	pthread_mutex_unlock(&current_lock);
	return c;
}

void hm_conf_release(struct hm_conf **conf)
{
	if (*conf && atomic_fetch_sub(&(*conf)->refs, 1) == 1)
		conf_free(*conf);
	*conf = NULL;
}
