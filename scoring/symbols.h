/*
 * symbols.h - named, weighted symbols and the score.
 *
 * A check that finds something fires a symbol: a name, a weight and an
 * optional short detail ("zen.example.net=127.0.0.2").  The score is the sum
 * of the weights of the symbols fired; hm_symbols_score() is a pure function
 * of the list.
 *
 * Built-in symbols are declared once, in symbols.c, with their default
 * weights (the sample config and hosterra-milter.conf(5) list the same);
 * the configuration may change any weight (symbol NAME { weight = ... }),
 * and hm_weights_* carry those values.  Operator-defined symbols (DNSBL
 * zones, regular-expression rules) bring their own names and weights.
 */
#ifndef HM_SYMBOLS_H
#define HM_SYMBOLS_H

#include <stdbool.h>
#include <stddef.h>

#include "util/strbuf.h"

enum hm_sym {
	HM_SYM_SPF_PASS,
	HM_SYM_SPF_FAIL,
	HM_SYM_SPF_SOFTFAIL,
	HM_SYM_SPF_NEUTRAL,
	HM_SYM_SPF_NONE,
	HM_SYM_SPF_TEMPERROR,
	HM_SYM_SPF_PERMERROR,
	HM_SYM_DKIM_VALID,
	HM_SYM_DKIM_INVALID,
	HM_SYM_DKIM_NONE,
	HM_SYM_DKIM_TEMPERROR,
	HM_SYM_DKIM_PERMERROR,
	HM_SYM_DMARC_PASS,
	HM_SYM_DMARC_FAIL_REJECT,
	HM_SYM_DMARC_FAIL_QUARANTINE,
	HM_SYM_DMARC_FAIL_NONE,
	HM_SYM_DMARC_NONE,
	HM_SYM_DMARC_TEMPERROR,
	HM_SYM_DMARC_PERMERROR,
	HM_SYM_RDNS_NONE,		/* the client IP has no PTR */
	HM_SYM_RDNS_MISMATCH,		/* no PTR name resolves back to the IP */
	HM_SYM_RDNS_TEMPERROR,
	HM_SYM_HELO_NOT_FQDN,
	HM_SYM_HELO_BARE_IP,
	HM_SYM_HELO_FORGED_OURS,	/* HELO claims one of our names or addresses */
	HM_SYM_MISSING_DATE,
	HM_SYM_MISSING_MESSAGE_ID,
	HM_SYM_MISSING_FROM,
	HM_SYM_MULTIPLE_FROM,
	HM_SYM_DATE_IN_PAST,
	HM_SYM_DATE_IN_FUTURE,
	HM_SYM_DNSBL_TEMPERROR,
	HM_SYM_CONTENT_SPAM,		/* weight: a factor on the classifier's points */
	HM_SYM_CONTENT_HAM,
	HM_SYM_COUNT			/* not a symbol */
};

struct hm_symdef {
	const char *name;
	double weight;			/* default */
	const char *help;
};

/* The built-in symbols, indexed by enum hm_sym. */
extern const struct hm_symdef hm_symdefs[HM_SYM_COUNT];

/* The built-in symbol of that name (case-insensitive), or -1. */
int hm_sym_by_name(const char *name);

/* Weights in force: the defaults, changed by the configuration. */
struct hm_weights {
	double w[HM_SYM_COUNT];
};

void hm_weights_default(struct hm_weights *w);

#define HM_SYM_NAME_MAX 48
#define HM_SYM_DETAIL_MAX 96
#define HM_FIRED_MAX 64			/* symbols kept per message */

struct hm_fired {
	char name[HM_SYM_NAME_MAX];
	double weight;
	char detail[HM_SYM_DETAIL_MAX];
};

/* The symbols one message fired. */
struct hm_symbols {
	size_t count;
	size_t dropped;			/* fired past HM_FIRED_MAX (weights still summed) */
	double dropped_weight;
	struct hm_fired fired[HM_FIRED_MAX];
};

/* Fire a built-in symbol with its configured weight; detail may be NULL. */
void hm_symbols_fire(struct hm_symbols *s, const struct hm_weights *w, enum hm_sym sym,
		     const char *detail);
/* Fire a symbol of the operator's (DNSBL zone, rule) with its own weight. */
void hm_symbols_add(struct hm_symbols *s, const char *name, double weight, const char *detail);

/* Has a symbol of that name fired? */
bool hm_symbols_has(const struct hm_symbols *s, const char *name);

/* The sum of the weights (dropped symbols included). */
double hm_symbols_score(const struct hm_symbols *s);

/*
 * "NAME(weight),NAME(weight),..." in the order fired, weights with two
 * decimals, as in X-Spam-Status's tests=.  0, or -1 if out's maximum was hit.
 */
int hm_symbols_format(const struct hm_symbols *s, struct hm_strbuf *out);

#endif
