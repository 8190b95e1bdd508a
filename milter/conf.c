/*
 * conf.c - the configuration table, its loader and the running snapshot.
 *
 * Every option is one row of a table below: name, type, default, limits or a
 * converter, where it lands in struct hm_conf, and a line of help.  The
 * libconfuse option array is built from the table, each value is checked as
 * the parser reads it (so errors carry their line number and all of them are
 * reported, not only the first), and the values are then copied into the
 * typed struct.  The sample config and hosterra-milter.conf(5) describe the
 * same rows; "hosterra-milter -O" prints them.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <confuse.h>

#include "milter/conf.h"
#include "milter/log.h"

enum entry_type { E_STR, E_INT, E_BOOL, E_SECTION };

/*
 * A converter checks a string value and, when field is not NULL, stores its
 * typed form there.  Returns 0, or -1 with the reason in err.
 */
typedef int convert_fn(const char *value, void *field, char *err, size_t errlen);

struct conf_entry {
	const char *name;
	enum entry_type type;
	const char *def_str;		/* E_STR */
	long def_int, min, max;		/* E_INT, E_BOOL (def_int 0/1) */
	convert_fn *convert;		/* E_STR: NULL stores a copy (char *) */
	size_t offset;			/* field in struct hm_conf */
	const struct conf_entry *sub;	/* E_SECTION */
	const char *help;
};

static convert_fn conv_socket, conv_mode, conv_log_level, conv_facility;

#define FIELD(f) offsetof(struct hm_conf, f)

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
	{ NULL, 0, NULL, 0, 0, 0, NULL, 0, NULL, NULL },
};

/* --- converters ------------------------------------------------------- */

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

/* --- building the libconfuse option array from the table --------------- */

static void free_opts(cfg_opt_t *opts, const struct conf_entry *table)
{
	if (opts == NULL)
		return;
	for (size_t i = 0; table[i].name; i++)
		if (table[i].type == E_SECTION)
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

		switch (e->type) {
		case E_STR:
			opts[i] = (cfg_opt_t)CFG_STR(e->name, e->def_str, CFGF_NONE);
			break;
		case E_INT:
			opts[i] = (cfg_opt_t)CFG_INT(e->name, e->def_int, CFGF_NONE);
			break;
		case E_BOOL:
			opts[i] = (cfg_opt_t)CFG_BOOL(e->name, e->def_int ? cfg_true : cfg_false,
						      CFGF_NONE);
			break;
		case E_SECTION: {
			cfg_opt_t *sub = build_opts(e->sub);

			if (sub == NULL) {
				opts[i] = (cfg_opt_t)CFG_END();
				free_opts(opts, table);
				return NULL;
			}
			opts[i] = (cfg_opt_t)CFG_SEC(e->name, sub, CFGF_NONE);
			break;
		}
		}
	}
	opts[n] = (cfg_opt_t)CFG_END();
	return opts;
}

/* --- checking values as they are parsed -------------------------------- */

/*
 * libconfuse's callbacks carry no user pointer; loads run one at a time (at
 * start-up and on reload, both in the main thread), so the load in progress
 * is kept here.
 */
struct load_state {
	hm_conf_report_fn *report;
	void *arg;
	unsigned errors;
};
static struct load_state *current_load;

static void report_error(cfg_t *cfg, const char *fmt, va_list ap)
{
	char msg[1024], line[1200];

	vsnprintf(msg, sizeof(msg), fmt, ap);
	if (cfg && cfg->filename)
		snprintf(line, sizeof(line), "%s:%d: %s", cfg->filename, cfg->line, msg);
	else
		snprintf(line, sizeof(line), "%s", msg);
	current_load->errors++;
	current_load->report(current_load->arg, line);
}

/* The table rows of the section a libconfuse section name stands for. */
static const struct conf_entry *find_table(const struct conf_entry *table,
					   const char *section)
{
	if (strcmp(section, "root") == 0)
		return root_table;
	for (size_t i = 0; table[i].name; i++) {
		if (table[i].type != E_SECTION)
			continue;
		if (strcmp(table[i].name, section) == 0)
			return table[i].sub;
		const struct conf_entry *t = find_table(table[i].sub, section);
		if (t)
			return t;
	}
	return NULL;
}

static const struct conf_entry *find_entry(const char *section, const char *name)
{
	const struct conf_entry *table = find_table(root_table, section);

	for (size_t i = 0; table && table[i].name; i++)
		if (strcmp(table[i].name, name) == 0)
			return &table[i];
	return NULL;
}

/*
 * Called by the parser for each value it sets.  An error is reported (with
 * the line being parsed) and counted; returning 0 lets the parser go on, so
 * one run of "-t" shows every bad value.
 */
static int validate_value(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_entry *e = find_entry(cfg->name, opt->name);
	char err[512];

	if (e == NULL || opt->nvalues == 0)
		return 0;
	if (e->type == E_INT) {
		long v = cfg_opt_getnint(opt, opt->nvalues - 1);

		if (v < e->min || v > e->max)
			cfg_error(cfg, "option '%s': %ld is out of range (%ld to %ld)",
				  e->name, v, e->min, e->max);
	} else if (e->type == E_STR && e->convert) {
		const char *v = cfg_opt_getnstr(opt, opt->nvalues - 1);

		if (v == NULL || e->convert(v, NULL, err, sizeof(err)) < 0)
			cfg_error(cfg, "option '%s': %s", e->name, v ? err : "missing value");
	}
	return 0;
}

static void set_validators(cfg_t *cfg, const struct conf_entry *table, const char *prefix)
{
	char path[256];

	for (size_t i = 0; table[i].name; i++) {
		snprintf(path, sizeof(path), "%s%s%s", prefix, *prefix ? "|" : "", table[i].name);
		if (table[i].type == E_SECTION)
			set_validators(cfg, table[i].sub, path);
		else
			cfg_set_validate_func(cfg, path, validate_value);
	}
}

/* --- copying into the typed struct ------------------------------------ */

static int copy_values(cfg_t *cfg, const struct conf_entry *table, char *base)
{
	char err[512];

	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];
		void *field = base + e->offset;

		switch (e->type) {
		case E_STR: {
			const char *v = cfg_getstr(cfg, e->name);

			if (v == NULL)
				v = "";
			if (e->convert) {
				if (e->convert(v, field, err, sizeof(err)) < 0)
					return -1;	/* defaults are valid: cannot happen */
			} else if ((*(char **)field = strdup(v)) == NULL) {
				return -1;
			}
			break;
		}
		case E_INT:
			*(long *)field = cfg_getint(cfg, e->name);
			break;
		case E_BOOL:
			*(int *)field = cfg_getbool(cfg, e->name) ? 1 : 0;
			break;
		case E_SECTION:
			if (copy_values(cfg_getsec(cfg, e->name), e->sub, base + e->offset) < 0)
				return -1;
			break;
		}
	}
	return 0;
}

static void free_values(const struct conf_entry *table, char *base)
{
	for (size_t i = 0; table[i].name; i++) {
		if (table[i].type == E_STR && table[i].convert == NULL) {
			free(*(char **)(base + table[i].offset));
			*(char **)(base + table[i].offset) = NULL;
		} else if (table[i].type == E_SECTION) {
			free_values(table[i].sub, base + table[i].offset);
		}
	}
}

static void conf_free(struct hm_conf *c)
{
	if (c == NULL)
		return;
	free_values(root_table, (char *)c);
	free(c->path);
	free(c);
}

/* Values that depend on the environment rather than the file. */
static int fill_derived(struct hm_conf *c)
{
	if (c->authserv_id[0] == '\0') {
		char host[256];

		if (gethostname(host, sizeof(host)) < 0)
			return -1;
		host[sizeof(host) - 1] = '\0';
		free(c->authserv_id);
		if ((c->authserv_id = strdup(host)) == NULL)
			return -1;
	}
	return 0;
}

struct hm_conf *hm_conf_load(const char *path, hm_conf_report_fn *report, void *arg)
{
	struct load_state state = { report, arg, 0 };
	struct hm_conf *c = NULL;
	cfg_opt_t *opts;
	cfg_t *cfg;
	int rc;

	if (access(path, R_OK) < 0) {
		char line[1200];

		snprintf(line, sizeof(line), "%s: cannot read: %s", path, strerror(errno));
		report(arg, line);
		return NULL;
	}
	if ((opts = build_opts(root_table)) == NULL) {
		report(arg, "out of memory");
		return NULL;
	}
	if ((cfg = cfg_init(opts, CFGF_NONE)) == NULL) {
		free_opts(opts, root_table);
		report(arg, "out of memory");
		return NULL;
	}
	current_load = &state;
	cfg_set_error_function(cfg, report_error);
	set_validators(cfg, root_table, "");
	rc = cfg_parse(cfg, path);
	if (rc == CFG_FILE_ERROR) {
		char line[1200];

		snprintf(line, sizeof(line), "%s: cannot read: %s", path, strerror(errno));
		report(arg, line);
		state.errors++;
	} else if (rc != CFG_SUCCESS && state.errors == 0) {
		char line[1200];

		snprintf(line, sizeof(line), "%s: parse error", path);
		report(arg, line);
		state.errors++;
	}
	if (state.errors == 0) {
		c = calloc(1, sizeof(*c));
		if (c == NULL || (c->path = strdup(path)) == NULL ||
		    copy_values(cfg, root_table, (char *)c) < 0 || fill_derived(c) < 0) {
			report(arg, "out of memory while loading the configuration");
			conf_free(c);
			c = NULL;
		} else {
			atomic_init(&c->refs, 1);
		}
	}
	current_load = NULL;
	cfg_free(cfg);
	free_opts(opts, root_table);
	return c;
}

static void describe_table(FILE *out, const struct conf_entry *table, const char *prefix)
{
	for (size_t i = 0; table[i].name; i++) {
		const struct conf_entry *e = &table[i];
		char name[256];

		snprintf(name, sizeof(name), "%s%s%s", prefix, *prefix ? "." : "", e->name);
		switch (e->type) {
		case E_STR:
			fprintf(out, "%s\tstring\t\"%s\"\t%s\n", name, e->def_str, e->help);
			break;
		case E_INT:
			fprintf(out, "%s\tinteger %ld..%ld\t%ld\t%s\n", name, e->min, e->max,
				e->def_int, e->help);
			break;
		case E_BOOL:
			fprintf(out, "%s\tboolean\t%s\t%s\n", name, e->def_int ? "yes" : "no", e->help);
			break;
		case E_SECTION:
			describe_table(out, e->sub, name);
			break;
		}
	}
}

void hm_conf_describe(FILE *out)
{
	describe_table(out, root_table, "");
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
