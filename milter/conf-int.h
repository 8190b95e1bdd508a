/*
 * conf-int.h - what the parts of the configuration loader share (not for
 * use outside milter/conf*.c).
 *
 * conf-table.c holds the table of options and turns a value of each type
 * into its typed field; conf-check.c holds the option-specific value checks
 * and the checks of whole sections; conf-lex.c walks the file's statements
 * before libconfuse does, to report unknown options; conf.c loads a file
 * with all of them and keeps the running snapshot.
 */
#ifndef HM_CONF_INT_H
#define HM_CONF_INT_H

#include <stdbool.h>
#include <stddef.h>

#include <confuse.h>

#include "milter/conf.h"

enum conf_type {
	E_STR,		/* string, through convert or copied (char *) */
	E_INT,		/* long within min..max */
	E_BOOL,		/* int 0/1: yes/no, true/false, on/off */
	E_FILE,		/* char *: names a readable regular file; "" for none */
	E_CHECKED,	/* char *: a copy of a string checked by convert(value, NULL) */
	E_LIST,		/* struct hm_conf_list: strings, each checked by convert */
	E_FLOAT,	/* double within min..max */
	E_MULTI,	/* struct hm_conf_array of titled sections "name TITLE { }" */
	E_SECTION,
};

/*
 * An option's own check of a string value; when field is not NULL it also
 * stores the typed form there (E_STR).  0, or -1 with the reason in err.
 */
typedef int convert_fn(const char *value, void *field, char *err, size_t errlen);

/*
 * Checks one section once it is parsed (title and values are still
 * libconfuse's strings).  0, or -1 with the reason in err.
 */
typedef int section_check_fn(cfg_t *sec, char *err, size_t errlen);

struct conf_entry {
	const char *name;
	enum conf_type type;
	const char *def;		/* the default as it would be written in the file;
					 * E_LIST: items separated by spaces */
	long min, max;			/* E_INT, E_FLOAT */
	convert_fn *convert;		/* E_STR: NULL stores a copy (char *) */
	size_t field;			/* offset in struct hm_conf, or in the element */
	const struct conf_entry *sub;	/* E_SECTION, E_MULTI */
	size_t elem_size;		/* E_MULTI: one element; its first member is the title */
	section_check_fn *check;	/* E_SECTION, E_MULTI: checks one section as parsed */
	const char *help;
};

/* conf-table.c */
extern const struct conf_entry conf_root_table[];
const struct conf_entry *conf_find(const struct conf_entry *table, const char *name);
/*
 * Check value v of entry e; with field not NULL also store it (strings are
 * copied: the loader frees them).  0, or -1 with the reason in err.
 */
int conf_convert(const struct conf_entry *e, const char *v, void *field, char *err,
		 size_t errlen);
int conf_parse_long(const char *v, long *out);

/* conf-check.c: the options' own checks and the section checks. */
convert_fn conf_check_socket, conf_check_mode, conf_check_log_level, conf_check_facility,
	conf_check_network, conf_check_nameserver, conf_check_domain, conf_check_dnsbl_code,
	conf_check_regex, conf_check_prefix, conf_check_on_failure, conf_check_delimiter,
	conf_check_sentinel, conf_check_metrics_listen;
section_check_fn conf_check_symbol, conf_check_dnsbl, conf_check_rule, conf_check_thresholds,
	conf_check_redis;

/* conf-lex.c */
typedef void conf_unknown_fn(void *arg, unsigned line, const char *name, const char *section);
/* Blank every comment of buf, keeping its newlines (see conf-lex.c). */
void conf_blank_comments(char *buf, size_t len);
/*
 * Call unknown for every option name in buf the table does not know (with
 * its line and section, NULL at the top) and blank that statement out.
 */
void conf_find_unknown(char *buf, size_t len, conf_unknown_fn *unknown, void *arg);

#endif
