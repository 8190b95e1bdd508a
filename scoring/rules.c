/*
 * rules.c - operator rules: PCRE2 patterns on headers and body lines.
 *
 * The compiled codes and one match context (the limits) are shared by all
 * threads, read-only, as PCRE2 allows.  Each message has its own match data
 * and one line buffer; body chunks are cut into lines there, so a line
 * split across chunks (even byte by byte) is matched whole, and nothing
 * beyond one line is ever held.  A rule stops being tried on a message once
 * it matched (it fires once) or hit a limit (it would cost the same again).
 */
#include "config.h"

#define PCRE2_CODE_UNIT_WIDTH 8

#include <math.h>
#include <pcre2.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scoring/rules.h"

struct rule {
	char *name;
	char *header;			/* NULL for a body rule */
	double weight;
	pcre2_code *code;
};

struct hm_rules {
	size_t n, nbody, nheader;
	bool jit;			/* every code was JIT-compiled */
	pcre2_match_context *mctx;	/* the limits */
	struct rule *rules;
};

struct rule_state {
	bool matched;
	bool limited;			/* hit a PCRE2 limit (or failed): given up */
	char detail[HM_RULES_DETAIL_MAX + 1];
};

struct hm_rules_match {
	const struct hm_rules *r;
	pcre2_match_data *md;
	size_t body_seen;		/* body bytes taken, up to HM_RULES_BODY_MAX */
	size_t body_open;		/* body rules neither matched nor given up */
	size_t line_len;
	bool line_cut;			/* bytes of the current line were dropped */
	bool finished;
	size_t limit_hits;
	size_t first_limited;
	unsigned char line[HM_RULES_LINE_MAX];
	struct rule_state st[];
};

static void free_rules(struct hm_rules *r)
{
	for (size_t i = 0; i < r->n; i++) {
		free(r->rules[i].name);
		free(r->rules[i].header);
		pcre2_code_free(r->rules[i].code);
	}
	free(r->rules);
	pcre2_match_context_free(r->mctx);
	free(r);
}

void hm_rules_free(struct hm_rules **r)
{
	if (r == NULL || *r == NULL)
		return;
	free_rules(*r);
	*r = NULL;
}

/* Check one definition and compile its pattern into out. */
static int compile_one(const struct hm_rule_def *d, struct rule *out, bool *jit,
		       char *err, size_t errlen)
{
	const char *name = d->name ? d->name : "(unnamed)";
	uint32_t opts = PCRE2_NEVER_UTF | (d->caseless ? PCRE2_CASELESS : 0);
	PCRE2_UCHAR msg[256];
	PCRE2_SIZE off;
	int code;

	if (d->name == NULL || d->name[0] == '\0' || strlen(d->name) >= HM_SYM_NAME_MAX) {
		snprintf(err, errlen, "rule %s: the name must have 1 to %d characters", name,
			 HM_SYM_NAME_MAX - 1);
		return -1;
	}
	if (d->target == HM_RULE_HEADER && (d->header == NULL || d->header[0] == '\0')) {
		snprintf(err, errlen, "rule %s: a header rule needs a header name", name);
		return -1;
	}
	if (d->target != HM_RULE_HEADER && d->target != HM_RULE_BODY) {
		snprintf(err, errlen, "rule %s: unknown target", name);
		return -1;
	}
	if (d->pattern == NULL) {
		snprintf(err, errlen, "rule %s: no pattern", name);
		return -1;
	}
	if (!isfinite(d->weight)) {
		snprintf(err, errlen, "rule %s: the weight is not a number", name);
		return -1;
	}
	out->code = pcre2_compile((PCRE2_SPTR)d->pattern, PCRE2_ZERO_TERMINATED, opts, &code,
				  &off, NULL);
	if (out->code == NULL) {
		if (pcre2_get_error_message(code, msg, sizeof(msg)) < 0)
			snprintf((char *)msg, sizeof(msg), "error %d", code);
		snprintf(err, errlen, "rule %s: pattern error at offset %zu: %s", name,
			 (size_t)off, (char *)msg);
		return -1;
	}
	/* No JIT (not built in, or no executable memory allowed): the interpreter does. */
	if (pcre2_jit_compile(out->code, PCRE2_JIT_COMPLETE) != 0)
		*jit = false;
	out->name = strdup(d->name);
	out->header = d->target == HM_RULE_HEADER ? strdup(d->header) : NULL;
	out->weight = d->weight;
	if (out->name == NULL || (d->target == HM_RULE_HEADER && out->header == NULL)) {
		snprintf(err, errlen, "rule %s: out of memory", name);
		return -1;
	}
	return 0;
}

int hm_rules_compile(const struct hm_rule_def *defs, size_t n, struct hm_rules **rules_r,
		     char *err, size_t errlen)
{
	struct hm_rules *r;

	*rules_r = NULL;
	if ((r = calloc(1, sizeof(*r))) == NULL ||
	    (n > 0 && (r->rules = calloc(n, sizeof(*r->rules))) == NULL) ||
	    (r->mctx = pcre2_match_context_create(NULL)) == NULL) {
		snprintf(err, errlen, "rules: out of memory");
		if (r != NULL)
			free_rules(r);
		return -1;
	}
	pcre2_set_match_limit(r->mctx, HM_RULES_MATCH_LIMIT);
	pcre2_set_depth_limit(r->mctx, HM_RULES_DEPTH_LIMIT);
	pcre2_set_heap_limit(r->mctx, HM_RULES_HEAP_LIMIT);
	r->jit = true;
	for (size_t i = 0; i < n; i++) {
		int rc = compile_one(&defs[i], &r->rules[i], &r->jit, err, errlen);

		r->n = i + 1;		/* what free_rules() releases */
		if (rc < 0) {
			free_rules(r);
			return -1;
		}
		if (r->rules[i].header != NULL)
			r->nheader++;
		else
			r->nbody++;
	}
	*rules_r = r;
	return 0;
}

size_t hm_rules_count(const struct hm_rules *r)
{
	return r ? r->n : 0;
}

bool hm_rules_jit(const struct hm_rules *r)
{
	return r && r->n > 0 && r->jit;
}

struct hm_rules_match *hm_rules_begin(const struct hm_rules *r)
{
	struct hm_rules_match *m;

	if (r == NULL)
		return NULL;
	if ((m = calloc(1, sizeof(*m) + r->n * sizeof(m->st[0]))) == NULL)
		return NULL;
	/* One pair: only the whole match is used, for the excerpt. */
	if ((m->md = pcre2_match_data_create(1, NULL)) == NULL) {
		free(m);
		return NULL;
	}
	m->r = r;
	m->body_open = r->nbody;
	return m;
}

void hm_rules_free_match(struct hm_rules_match **m)
{
	if (m == NULL || *m == NULL)
		return;
	pcre2_match_data_free((*m)->md);
	free(*m);
	*m = NULL;
}

/*
 * The excerpt: printable ASCII as is, '\' as "\\", other bytes as "\xHH";
 * at most HM_RULES_DETAIL_MAX characters, cut with "..." when longer.
 */
static void excerpt(const unsigned char *s, size_t len, char *out)
{
	static const char hex[] = "0123456789abcdef";
	size_t need = 0, budget, o = 0;

	for (size_t i = 0; i < len && need <= HM_RULES_DETAIL_MAX; i++)
		need += s[i] == '\\' ? 2 : (s[i] >= 0x20 && s[i] < 0x7f) ? 1 : 4;
	budget = need <= HM_RULES_DETAIL_MAX ? HM_RULES_DETAIL_MAX : HM_RULES_DETAIL_MAX - 3;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = s[i];

		if (c == '\\') {
			if (o + 2 > budget)
				break;
			out[o++] = '\\';
			out[o++] = '\\';
		} else if (c >= 0x20 && c < 0x7f) {
			if (o + 1 > budget)
				break;
			out[o++] = (char)c;
		} else {
			if (o + 4 > budget)
				break;
			out[o++] = '\\';
			out[o++] = 'x';
			out[o++] = hex[c >> 4];
			out[o++] = hex[c & 15];
		}
	}
	if (need > HM_RULES_DETAIL_MAX) {
		memcpy(out + o, "...", 3);
		o += 3;
	}
	out[o] = '\0';
}

/* Try rule i on one subject; note a match or a limit in its state. */
static void try_rule(struct hm_rules_match *m, size_t i, const unsigned char *s, size_t len)
{
	const struct rule *rule = &m->r->rules[i];
	struct rule_state *st = &m->st[i];
	int rc;

	rc = pcre2_match(rule->code, s, len, 0, 0, m->md, m->r->mctx);
	if (rc == PCRE2_ERROR_NOMATCH)
		return;
	if (rc >= 0) {
		PCRE2_SIZE *ov = pcre2_get_ovector_pointer(m->md);
		/* \K in a lookbehind may set the start after the end: take it as empty. */
		size_t a = ov[0], b = ov[1] > ov[0] ? ov[1] : ov[0];

		st->matched = true;
		excerpt(s + a, b > len ? 0 : b - a, st->detail);
	} else {
		/* Match, depth, heap, JIT stack limits, out of memory: no match. */
		st->limited = true;
		if (m->limit_hits++ == 0)
			m->first_limited = i;
	}
	if (rule->header == NULL)
		m->body_open--;
}

void hm_rules_header(struct hm_rules_match *m, const char *name, const char *value)
{
	const struct hm_rules *r;
	const char *v;
	size_t len = 0;

	if (m == NULL || name == NULL || value == NULL || m->finished || m->r->nheader == 0)
		return;
	r = m->r;
	/* Unfold into the line buffer: headers all come before the body. */
	for (v = value; *v == ' ' || *v == '\t'; v++)
		;
	for (; *v != '\0' && len < sizeof(m->line); v++)
		if (*v != '\r' && *v != '\n')
			m->line[len++] = (unsigned char)*v;
	for (size_t i = 0; i < r->n; i++) {
		if (r->rules[i].header == NULL || m->st[i].matched || m->st[i].limited ||
		    strcasecmp(r->rules[i].header, name) != 0)
			continue;
		try_rule(m, i, m->line, len);
	}
	m->line_len = 0;
}

/* Match the body line in the buffer against the body rules still open. */
static void body_line(struct hm_rules_match *m)
{
	const struct hm_rules *r = m->r;
	size_t len = m->line_len;

	if (len > 0 && m->line[len - 1] == '\r' && !m->line_cut)
		len--;
	for (size_t i = 0; i < r->n && m->body_open > 0; i++) {
		if (r->rules[i].header != NULL || m->st[i].matched || m->st[i].limited)
			continue;
		try_rule(m, i, m->line, len);
	}
	m->line_len = 0;
	m->line_cut = false;
}

void hm_rules_body(struct hm_rules_match *m, const unsigned char *chunk, size_t len)
{
	const unsigned char *p, *end, *nl;
	size_t take, room;

	if (m == NULL || m->finished || m->body_open == 0 || m->body_seen >= HM_RULES_BODY_MAX)
		return;
	take = HM_RULES_BODY_MAX - m->body_seen;
	if (len < take)
		take = len;
	m->body_seen += take;
	for (p = chunk, end = chunk + take; p < end && m->body_open > 0; ) {
		size_t seg;

		nl = memchr(p, '\n', (size_t)(end - p));
		seg = (size_t)((nl ? nl : end) - p);
		room = sizeof(m->line) - m->line_len;
		if (seg > room) {
			m->line_cut = true;
			seg = room;
		}
		memcpy(m->line + m->line_len, p, seg);
		m->line_len += seg;
		if (nl == NULL)
			break;
		body_line(m);
		p = nl + 1;
	}
}

void hm_rules_finish(struct hm_rules_match *m, struct hm_symbols *out)
{
	const struct hm_rules *r;

	if (m == NULL || m->finished)
		return;
	r = m->r;
	if (m->line_len > 0 && m->body_open > 0)
		body_line(m);
	m->finished = true;
	for (size_t i = 0; i < r->n; i++)
		if (m->st[i].matched)
			hm_symbols_add(out, r->rules[i].name, r->rules[i].weight, m->st[i].detail);
}

size_t hm_rules_limit_hits(const struct hm_rules_match *m, const char **first_r)
{
	if (first_r != NULL)
		*first_r = m && m->limit_hits ? m->r->rules[m->first_limited].name : NULL;
	return m ? m->limit_hits : 0;
}
