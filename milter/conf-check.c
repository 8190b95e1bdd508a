/*
 * conf-check.c - the checks of hosterra-milter.conf beyond a value's type:
 * each option's own check of its value (a socket, a network, a domain, a
 * regular expression...), the checks of a whole section once it is parsed
 * (thresholds in order, sentinels with their master, a rule's target), and
 * the check behind options of type "file".
 *
 * An option check has the shape of convert_fn (conf-int.h): it checks a
 * string and, given a field, stores its typed form; a section check
 * (section_check_fn) sees the section as libconfuse parsed it.  Both return
 * 0, or -1 with the reason in err, which the loader reports with its line.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "milter/conf-int.h"
#include "milter/listen.h"
#include "milter/metrics.h"
#include "policy/sentinel.h"
#include "scoring/client.h"
#include "scoring/rules.h"
#include "scoring/symbols.h"
#include "util/address.h"
#include "util/log.h"
#include "util/netlist.h"

/* --- the options' own checks ------------------------------------------- */

int conf_check_network(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_net net;

	return hm_net_parse(value, &net, err, errlen);
}

int conf_check_on_failure(const char *value, void *field, char *err, size_t errlen)
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
int conf_check_delimiter(const char *value, void *field, char *err, size_t errlen)
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
int conf_check_prefix(const char *value, void *field, char *err, size_t errlen)
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

int conf_check_domain(const char *value, void *field, char *err, size_t errlen)
{
	if (*value && !hm_domain_valid(value)) {
		snprintf(err, errlen, "\"%s\" is not a domain name", value);
		return -1;
	}
	return 0;
}

int conf_check_dnsbl_code(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_dnsbl_code code;

	return hm_dnsbl_code_parse(value, &code, err, errlen);
}

/* Compiled the way the rules are, so that -t finds every bad pattern. */
int conf_check_regex(const char *value, void *field, char *err, size_t errlen)
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

/* "IP" or "IP@PORT", as libunbound takes a forwarder. */
int conf_check_nameserver(const char *value, void *field, char *err, size_t errlen)
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

		if (conf_parse_long(at + 1, &port) < 0 || port < 1 || port > 65535)
			goto bad;
	}
	return 0;
bad:
	snprintf(err, errlen, "\"%s\" is not a nameserver address (IP or IP@PORT)", value);
	return -1;
}

int conf_check_sentinel(const char *value, void *field, char *err, size_t errlen)
{
	char host[256];
	int port;

	(void)field;
	return hm_sentinel_parse_addr(value, host, sizeof(host), &port, err, errlen);
}

/* metrics.listen: "" (off), or an address literal and a port. */
int conf_check_metrics_listen(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_metrics_addr a;

	(void)field;
	return *value ? hm_metrics_listen_parse(value, &a, err, errlen) : 0;
}

int conf_check_socket(const char *value, void *field, char *err, size_t errlen)
{
	struct hm_socket_spec spec;

	if (hm_socket_parse(value, &spec, err, errlen) < 0)
		return -1;
	if (field)
		memcpy(field, &spec, sizeof(spec));
	return 0;
}

int conf_check_mode(const char *value, void *field, char *err, size_t errlen)
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

int conf_check_log_level(const char *value, void *field, char *err, size_t errlen)
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

int conf_check_facility(const char *value, void *field, char *err, size_t errlen)
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

/* --- section checks --------------------------------------------------- */

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

int conf_check_thresholds(cfg_t *sec, char *err, size_t errlen)
{
	const char *tag = cfg_getstr(sec, "tag"), *reject = cfg_getstr(sec, "reject");
	const struct conf_entry *rows = conf_find(conf_root_table, "thresholds")->sub;
	/* Unset, a threshold is the table's default. */
	double t = strtod(tag ? tag : conf_find(rows, "tag")->def, NULL);
	double r = strtod(reject ? reject : conf_find(rows, "reject")->def, NULL);

	if (t > r) {
		snprintf(err, errlen, "thresholds: tag (%.2f) is above reject (%.2f)", t, r);
		return -1;
	}
	return 0;
}

/* Sentinels and the master's name go together. */
int conf_check_redis(cfg_t *sec, char *err, size_t errlen)
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

int conf_check_symbol(cfg_t *sec, char *err, size_t errlen)
{
	if (hm_sym_by_name(cfg_title(sec)) < 0) {
		snprintf(err, errlen, "symbol \"%s\": no such symbol (hosterra-milter -O lists them)",
			 cfg_title(sec));
		return -1;
	}
	return 0;
}

int conf_check_dnsbl(cfg_t *sec, char *err, size_t errlen)
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

int conf_check_rule(cfg_t *sec, char *err, size_t errlen)
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

/* --- files ------------------------------------------------------------ */

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
