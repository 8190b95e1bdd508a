/*
 * conf.c - loading hosterra-milter.conf, and the running snapshot.
 *
 * The options are the rows of the table in conf-table.c; their checks are
 * in conf-check.c.  Loading reports every error, not only the first:
 * libconfuse stops a parse at the first error it finds itself, so it is
 * left only the syntax.  Before libconfuse sees the file, conf-lex.c walks
 * its statements, reports every option the table does not know (with its
 * line) and blanks that statement and every comment out.  Scalars are
 * declared to libconfuse as strings and typed here, by a validator run on
 * each value as it is read, so a bad integer or an out-of-range value is an
 * error with its line and the parse goes on.  The errors are reported in
 * line order.  Only a syntax error still ends the check early: the rest of
 * the file cannot be read reliably.
 *
 * The checkers and the policy store a configuration runs with are built
 * and shared by runtime.c.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <confuse.h>

#include "util/grow.h"
#include "milter/conf-int.h"
#include "milter/runtime.h"
#include "policy/store.h"
#include "scoring/client.h"
#include "scoring/rules.h"
#include "scoring/symbols.h"
#include "util/netlist.h"

#define CONF_MAX_SIZE (1024 * 1024)	/* a config file larger is a mistake */

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
		struct conf_error *e = hm_grow(st->errors, &st->size, sizeof(*e), 16);

		if (e == NULL) {
			st->oom = 1;
			return;
		}
		st->errors = e;
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
		return conf_root_table;
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

/*
 * Called by the parser for each value it sets.  An error is recorded with
 * the line being parsed; returning 0 lets the parser go on, so one run of
 * "-t" shows every bad value.
 */
static int validate_value(cfg_t *cfg, cfg_opt_t *opt)
{
	const struct conf_entry *e = conf_find(find_table(conf_root_table, cfg->name), opt->name);
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
	if (v == NULL || conf_convert(e, v, NULL, err, sizeof(err)) < 0)
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
/* Reported by conf_find_unknown(). */
static void unknown_option(void *arg, unsigned line, const char *name, const char *section)
{
	struct load_state *st = arg;

	if (section)
		add_error(st, line, "unknown option '%s' in section '%s'", name, section);
	else
		add_error(st, line, "unknown option '%s'", name);
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
	for (const char *p = e->def; *p;) {
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
		void *field = base + e->field;

		if (e->type == E_SECTION) {
			if (copy_values(st, cfg_getsec(cfg, e->name), e->sub, base + e->field) < 0)
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
		if (conf_convert(e, v ? v : e->def, field, err, sizeof(err)) < 0) {
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
			free(*(char **)(base + e->field));
			*(char **)(base + e->field) = NULL;
		} else if (e->type == E_LIST) {
			struct hm_conf_list *l = (struct hm_conf_list *)(base + e->field);

			for (size_t k = 0; k < l->count; k++)
				free(l->items[k]);
			free(l->items);
			l->items = NULL;
			l->count = 0;
		} else if (e->type == E_SECTION) {
			free_values(e->sub, base + e->field);
		} else if (e->type == E_MULTI) {
			struct hm_conf_array *a = (struct hm_conf_array *)(base + e->field);

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
	hm_runtime_free(c);
	hm_netlist_free(&c->internal);
	hm_netlist_free(&c->local_addrs);
	hm_rules_free(&c->compiled_rules);
	for (size_t i = 0; c->dnsbl_zones && i < c->dnsbls.count; i++)
		free(c->dnsbl_zones[i].codes);
	free(c->dnsbl_zones);
	free_values(conf_root_table, (char *)c);
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
	set_validators(cfg, conf_root_table, "");
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
	if ((opts = build_opts(conf_root_table)) == NULL) {
		st.oom = 1;
		goto out;
	}
	/* Unknown options first: the scan reports and blanks them. */
	conf_blank_comments(buf, len);
	conf_find_unknown(buf, len, unknown_option, &st);
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
		} else if (copy_values(&st, cfg, conf_root_table, (char *)c) < 0 ||
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
	free_opts(opts, conf_root_table);
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
