/*
 * rules.h - the operator's regular-expression rules (PCRE2): each matches a
 * header or the body, and fires a symbol of its own with its own weight.
 *
 * hm_rules_compile() turns the config's definitions into a read-only set
 * that every thread shares; each message gets its own match state from
 * hm_rules_begin() (PCRE2 match data is not shareable), is fed its headers
 * and body chunks as libmilter delivers them, and hm_rules_finish() fires
 * every rule that matched, once, with a short escaped excerpt of the match
 * as detail.
 *
 * What a pattern sees:
 *  - header rule: every value of its header (name case-insensitive; any
 *    occurrence may match), unfolded (the CR/LF of folding removed) and
 *    without libmilter's leading white space, at most HM_RULES_LINE_MAX
 *    bytes of it;
 *  - body rule: the raw body as transmitted (no MIME or transfer decoding),
 *    line by line, a line being what lies between line ends (CRLF, or a
 *    bare LF), without the line end.  Only the first HM_RULES_BODY_MAX bytes
 *    of the body are looked at; a line longer than HM_RULES_LINE_MAX is
 *    matched on its first HM_RULES_LINE_MAX bytes.  The body is never
 *    buffered beyond one line.
 * Patterns are compiled without UTF (and may not turn it on with (*UTF)):
 * they match bytes, so 8-bit and invalid UTF-8 input never makes a match
 * fail with an error, and non-ASCII text is matched by writing its bytes.
 * caseless folds ASCII letters only.
 *
 * Hostile input must not stall the daemon: each match runs under PCRE2
 * match, depth and heap limits.  A match that hits one counts as no match,
 * and the rule is not tried again on that message (so a body of many
 * pathological lines costs one limit, not one per line); the message state
 * records which rules hit a limit, for the log line.
 */
#ifndef HM_RULES_H
#define HM_RULES_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/symbols.h"

#define HM_RULES_LINE_MAX 8192		/* bytes of one line or header value matched */
#define HM_RULES_BODY_MAX (1024 * 1024)	/* bytes of the body looked at */
#define HM_RULES_MATCH_LIMIT 200000	/* pcre2_set_match_limit, per match */
#define HM_RULES_DEPTH_LIMIT 10000	/* pcre2_set_depth_limit (interpreter only) */
#define HM_RULES_HEAP_LIMIT 8192	/* pcre2_set_heap_limit, KiB */
#define HM_RULES_DETAIL_MAX 40		/* characters of the escaped excerpt */

enum hm_rule_target { HM_RULE_HEADER, HM_RULE_BODY };

struct hm_rule_def {
	const char *name;		/* the symbol it fires, < HM_SYM_NAME_MAX bytes */
	enum hm_rule_target target;
	const char *header;		/* HM_RULE_HEADER: the header name, case-insensitive */
	const char *pattern;
	double weight;
	bool caseless;
};

/* Compiled, read-only, shared by all threads. */
struct hm_rules;

/*
 * Compile n definitions (n may be 0).  0 with a set in *rules_r, or -1
 * with "rule NAME: pattern error at offset N: MESSAGE" (or another reason
 * naming the rule) in err, and *rules_r NULL.  The definitions are copied.
 */
int hm_rules_compile(const struct hm_rule_def *defs, size_t n, struct hm_rules **rules_r,
		     char *err, size_t errlen);

/* Free a set (NULL allowed) and clear the pointer. */
void hm_rules_free(struct hm_rules **r);

/* Number of rules, and whether they run JIT-compiled (if PCRE2 has JIT here). */
size_t hm_rules_count(const struct hm_rules *r);
bool hm_rules_jit(const struct hm_rules *r);

/* One message's match state; belongs to one thread at a time. */
struct hm_rules_match;

/* A new state for a message; r must outlive it.  NULL: out of memory. */
struct hm_rules_match *hm_rules_begin(const struct hm_rules *r);

/* One header, value as libmilter gives it.  m NULL: nothing. */
void hm_rules_header(struct hm_rules_match *m, const char *name, const char *value);

/* A chunk of the body (CRLF text, any split, NUL and 8-bit bytes allowed). */
void hm_rules_body(struct hm_rules_match *m, const unsigned char *chunk, size_t len);

/*
 * Match the last, unterminated body line, then fire each rule that matched,
 * once, in definition order, with its weight and the excerpt as detail.
 * Only the first call fires.
 */
void hm_rules_finish(struct hm_rules_match *m, struct hm_symbols *out);

/*
 * How many rules hit a PCRE2 limit on this message; *first_r (if not NULL)
 * is set to the name of the first of them, or NULL.
 */
size_t hm_rules_limit_hits(const struct hm_rules_match *m, const char **first_r);

/* Free a state (NULL allowed) and clear the pointer. */
void hm_rules_free_match(struct hm_rules_match **m);

#endif
