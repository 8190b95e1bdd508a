/*
 * address.c - RFC 5322 / RFC 5321 address parsing (see address.h).
 *
 * A small lexer turns the input into tokens (atom, quoted-string, domain
 * literal, one special character), skipping CFWS between any two tokens:
 * that is what RFC 5322 section 4 allows in the obsolete forms ("john . doe
 * @ example . org"), so one grammar serves the current and the obsolete
 * syntax.  A recursive-descent parser on top reads address-list, group,
 * name-addr, angle-addr with an obsolete route, and addr-spec.  Nothing is
 * allocated; every copy is bounded and an over-long part is an error.
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "util/address.h"

#define COMMENT_DEPTH_MAX 32	/* nested comments, RFC 5322 puts no bound on it */
#define ENVELOPE_MAX 1024	/* RFC 5321 paths are at most 256 octets */
#define LOCAL_LEN_MAX (HM_LOCAL_MAX - 1)
#define DOMAIN_LEN_MAX 253

enum tok_type { T_END, T_ATOM, T_QSTR, T_DLIT, T_SPECIAL, T_ERR };

struct token {
	enum tok_type type;
	const char *s;		/* atom, quoted-string content, literal with brackets */
	size_t len;
	char c;			/* T_SPECIAL */
};

struct lexer {
	const char *p, *end;
	const char *err;	/* first error; sticky */
};

static bool is_atext(unsigned char c)
{
	if (c >= 0x80)		/* UTF8-non-ascii (RFC 6532), taken as is */
		return true;
	if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'))
		return true;
	return c != '\0' && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL;
}

static bool is_wsp(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static enum tok_type lex_fail(struct lexer *lx, const char *why)
{
	if (lx->err == NULL)
		lx->err = why;
	return T_ERR;
}

/* Skip white space and (nested) comments. */
static void skip_cfws(struct lexer *lx)
{
	while (lx->p < lx->end) {
		if (is_wsp((unsigned char)*lx->p)) {
			lx->p++;
			continue;
		}
		if (*lx->p != '(')
			return;
		int depth = 0;
		do {
			char c = *lx->p++;

			if (c == '\\') {
				if (lx->p == lx->end)
					break;
				lx->p++;
			} else if (c == '(') {
				if (++depth > COMMENT_DEPTH_MAX) {
					lex_fail(lx, "comments nested too deep");
					return;
				}
			} else if (c == ')') {
				depth--;
			}
		} while (depth > 0 && lx->p < lx->end);
		if (depth > 0) {
			lex_fail(lx, "unterminated comment");
			return;
		}
	}
}

static void lex_next(struct lexer *lx, struct token *t)
{
	memset(t, 0, sizeof(*t));
	if (lx->err == NULL)
		skip_cfws(lx);
	if (lx->err != NULL) {
		t->type = T_ERR;
		return;
	}
	if (lx->p == lx->end) {
		t->type = T_END;
		return;
	}
	const char *start = lx->p;
	unsigned char c = (unsigned char)*lx->p;

	if (c == '"') {
		lx->p++;
		t->s = lx->p;
		while (lx->p < lx->end && *lx->p != '"') {
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
			lx->p++;
		}
		if (lx->p == lx->end) {
			t->type = lex_fail(lx, "unterminated quoted string");
			return;
		}
		t->len = (size_t)(lx->p - t->s);
		lx->p++;
		t->type = T_QSTR;
		return;
	}
	if (c == '[') {
		lx->p++;
		while (lx->p < lx->end && *lx->p != ']') {
			if (*lx->p == '[') {
				t->type = lex_fail(lx, "'[' inside a domain literal");
				return;
			}
			if (*lx->p == '\\' && lx->p + 1 < lx->end)
				lx->p++;
			lx->p++;
		}
		if (lx->p == lx->end) {
			t->type = lex_fail(lx, "unterminated domain literal");
			return;
		}
		lx->p++;
		t->s = start;
		t->len = (size_t)(lx->p - start);
		t->type = T_DLIT;
		return;
	}
	if (strchr("<>:;@,.", c) != NULL) {
		lx->p++;
		t->type = T_SPECIAL;
		t->c = (char)c;
		return;
	}
	if (is_atext(c)) {
		while (lx->p < lx->end && is_atext((unsigned char)*lx->p))
			lx->p++;
		t->s = start;
		t->len = (size_t)(lx->p - start);
		t->type = T_ATOM;
		return;
	}
	t->type = lex_fail(lx, c == ')' ? "unbalanced ')'" : c == ']' ? "unbalanced ']'"
			   : "invalid character");
}

/* The next token without consuming it; a lexical error still sticks. */
static void lex_peek(struct lexer *lx, struct token *t)
{
	struct lexer copy = *lx;

	lex_next(&copy, t);
	lx->err = copy.err;
}

static bool is_special(const struct token *t, char c)
{
	return t->type == T_SPECIAL && t->c == c;
}

/* Consume the next token if it is the special c. */
static bool accept(struct lexer *lx, char c)
{
	struct token t;

	lex_peek(lx, &t);
	if (!is_special(&t, c))
		return false;
	lex_next(lx, &t);
	return true;
}

static int expect(struct lexer *lx, char c, const char *why)
{
	if (accept(lx, c))
		return 0;
	lex_fail(lx, why);
	return -1;
}

/* Bounded output buffer for a local-part or a domain being assembled. */
struct out {
	char *buf;
	size_t len, max;	/* max: longest text allowed */
	bool overflow;
};

static void out_add(struct out *o, const char *s, size_t n)
{
	if (o->overflow || n > o->max - o->len) {
		o->overflow = true;
		return;
	}
	memcpy(o->buf + o->len, s, n);
	o->len += n;
	o->buf[o->len] = '\0';
}

/* A quoted-string's content without its quoted-pairs and folding (CR LF). */
static void out_add_qcontent(struct out *o, const char *s, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\\' && i + 1 < n)
			i++;
		else if (s[i] == '\r' || s[i] == '\n')
			continue;
		out_add(o, &s[i], 1);
	}
}

/* domain = dot-atom / domain-literal / obs-domain; lower-cased into o. */
static int parse_domain(struct lexer *lx, struct out *o)
{
	struct token t;

	lex_next(lx, &t);
	if (t.type == T_DLIT) {
		out_add(o, t.s, t.len);
	} else if (t.type == T_ATOM) {
		out_add(o, t.s, t.len);
		while (accept(lx, '.')) {
			lex_next(lx, &t);
			if (t.type != T_ATOM) {
				lex_fail(lx, "empty domain label");
				return -1;
			}
			out_add(o, ".", 1);
			out_add(o, t.s, t.len);
		}
	} else {
		lex_fail(lx, "missing domain");
		return -1;
	}
	if (o->overflow) {
		lex_fail(lx, "domain too long");
		return -1;
	}
	hm_domain_lower(o->buf);
	return 0;
}

/*
 * addr-spec = local-part "@" domain, local-part = word *("." word) (which
 * covers dot-atom, quoted-string and obs-local-part).  With domain_optional
 * a bare local-part is accepted (envelope "postmaster").
 */
static int parse_addr_spec(struct lexer *lx, struct hm_addr *a, bool domain_optional)
{
	struct out local = { a->local, 0, LOCAL_LEN_MAX, false };
	struct out domain = { a->domain, 0, DOMAIN_LEN_MAX, false };
	struct token t;

	a->local[0] = a->domain[0] = '\0';
	a->quoted = false;
	for (;;) {
		lex_next(lx, &t);
		if (t.type == T_ATOM) {
			out_add(&local, t.s, t.len);
		} else if (t.type == T_QSTR) {
			out_add_qcontent(&local, t.s, t.len);
			a->quoted = true;
		} else {
			lex_fail(lx, "missing local-part");
			return -1;
		}
		if (!accept(lx, '.'))
			break;
		out_add(&local, ".", 1);
	}
	if (local.overflow) {
		lex_fail(lx, "local-part too long");
		return -1;
	}
	if (!accept(lx, '@')) {
		if (domain_optional)
			return lx->err == NULL ? 0 : -1;
		lex_fail(lx, "missing '@'");
		return -1;
	}
	return parse_domain(lx, &domain);
}

/* obs-route = obs-domain-list ":", dropped (RFC 5322 4.4, RFC 5321 4.1.2). */
static int parse_route_opt(struct lexer *lx)
{
	struct token t;
	char scratch[HM_DOMAIN_MAX];
	bool any = false;

	lex_peek(lx, &t);
	if (!is_special(&t, '@') && !is_special(&t, ','))
		return 0;
	for (;;) {
		struct out o = { scratch, 0, DOMAIN_LEN_MAX, false };

		if (accept(lx, ','))
			continue;
		if (!accept(lx, '@'))
			break;
		if (parse_domain(lx, &o) < 0)
			return -1;
		any = true;
	}
	if (!any) {
		lex_fail(lx, "empty route");
		return -1;
	}
	return expect(lx, ':', "route without ':'");
}

/* angle-addr after its "<": [obs-route] addr-spec ">". */
static int parse_angle_rest(struct lexer *lx, struct hm_addr *a)
{
	if (parse_route_opt(lx) < 0 || parse_addr_spec(lx, a, false) < 0)
		return -1;
	return expect(lx, '>', "missing '>'");
}

struct sink {
	struct hm_addr *addrs;
	size_t max, count;
	bool overflow;
};

static struct hm_addr *sink_slot(struct sink *s, struct hm_addr *scratch)
{
	if (s->count < s->max)
		return &s->addrs[s->count];
	s->overflow = true;
	return scratch;
}

static void sink_commit(struct sink *s)
{
	if (s->count < s->max)
		s->count++;
}

/* address = mailbox / group; mailbox = name-addr / addr-spec. */
static int parse_address(struct lexer *lx, struct sink *s, bool in_group)
{
	struct lexer start = *lx;
	struct hm_addr scratch;
	struct token t;
	size_t words = 0;

	/* Read the phrase (display-name, or what turns out to be a local-part). */
	for (;;) {
		lex_peek(lx, &t);
		if (t.type == T_ATOM || t.type == T_QSTR) {
			words++;
		} else if (!is_special(&t, '.')) {
			break;
		}
		lex_next(lx, &t);
	}
	if (t.type == T_ERR)
		return -1;
	if (is_special(&t, '<')) {
		lex_next(lx, &t);
		if (parse_angle_rest(lx, sink_slot(s, &scratch)) < 0)
			return -1;
		sink_commit(s);
		return 0;
	}
	if (is_special(&t, '@')) {
		*lx = start;
		if (parse_addr_spec(lx, sink_slot(s, &scratch), false) < 0)
			return -1;
		sink_commit(s);
		return 0;
	}
	if (is_special(&t, ':') && words > 0) {
		if (in_group) {
			lex_fail(lx, "group inside a group");
			return -1;
		}
		lex_next(lx, &t);
		for (;;) {
			if (accept(lx, ';'))
				return 0;
			if (accept(lx, ','))
				continue;
			if (parse_address(lx, s, true) < 0)
				return -1;
			lex_peek(lx, &t);
			if (!is_special(&t, ',') && !is_special(&t, ';')) {
				lex_fail(lx, "group not closed with ';'");
				return -1;
			}
		}
	}
	lex_fail(lx, t.type == T_END ? "incomplete address" : "unexpected character in address");
	return -1;
}

void hm_from_init(struct hm_from_list *list)
{
	memset(list, 0, sizeof(*list));
}

int hm_from_parse(struct hm_from_list *list, const char *value, char *err, size_t errlen)
{
	size_t len = strnlen(value, HM_FROM_VALUE_MAX + 1);
	struct lexer lx = { value, value + len, NULL };
	struct sink s = { list->addrs, HM_FROM_MAX, list->count, false };
	size_t before = list->count;
	struct token t;

	list->headers++;
	if (len > HM_FROM_VALUE_MAX) {
		lx.err = "From value too long";
		goto bad;
	}
	/* address-list, with obs-addr-list's empty elements. */
	for (;;) {
		if (accept(&lx, ','))
			continue;
		lex_peek(&lx, &t);
		if (t.type == T_END)
			break;
		if (parse_address(&lx, &s, false) < 0)
			goto bad;
		lex_next(&lx, &t);
		if (t.type == T_END)
			break;
		if (!is_special(&t, ',')) {
			lex_fail(&lx, "addresses not separated by ','");
			goto bad;
		}
	}
	if (lx.err != NULL)
		goto bad;
	list->count = s.count;
	if (s.overflow)
		list->overflow = true;
	return 0;
bad:
	/* Nothing of a value that does not parse is kept. */
	for (size_t i = before; i < HM_FROM_MAX; i++)
		memset(&list->addrs[i], 0, sizeof(list->addrs[i]));
	list->count = before;
	list->bad = true;
	snprintf(err, errlen, "%s", lx.err != NULL ? lx.err : "syntax error");
	return -1;
}

int hm_addr_parse_envelope(const char *arg, struct hm_addr *out, char *err, size_t errlen)
{
	size_t len = strnlen(arg, ENVELOPE_MAX + 1);
	struct lexer lx = { arg, arg + len, NULL };
	struct token t;

	memset(out, 0, sizeof(*out));
	if (len > ENVELOPE_MAX) {
		snprintf(err, errlen, "address too long");
		return -1;
	}
	if (accept(&lx, '<')) {
		if (accept(&lx, '>')) {
			lex_next(&lx, &t);
			if (t.type == T_END)
				return 0;
			lex_fail(&lx, "text after '<>'");
		} else if (parse_route_opt(&lx) == 0 && parse_addr_spec(&lx, out, true) == 0) {
			expect(&lx, '>', "missing '>'");
		}
	} else {
		lex_peek(&lx, &t);
		if (t.type == T_END)
			lex_fail(&lx, "empty address");
		else
			parse_addr_spec(&lx, out, true);
	}
	if (lx.err == NULL) {
		lex_next(&lx, &t);
		if (t.type != T_END)
			lex_fail(&lx, "text after the address");
	}
	if (lx.err != NULL) {
		memset(out, 0, sizeof(*out));
		snprintf(err, errlen, "%s", lx.err);
		return -1;
	}
	if (out->local[0] == '\0' && !out->quoted) {
		snprintf(err, errlen, "empty local-part");
		return -1;
	}
	return 0;
}

bool hm_addr_is_null(const struct hm_addr *a)
{
	return a->local[0] == '\0' && a->domain[0] == '\0' && !a->quoted;
}

/* A local-part that can be written as a dot-atom. */
static bool is_dot_atom(const char *s)
{
	if (*s == '\0' || *s == '.')
		return false;
	for (; *s != '\0'; s++) {
		if (*s == '.') {
			if (s[1] == '.' || s[1] == '\0')
				return false;
		} else if (!is_atext((unsigned char)*s)) {
			return false;
		}
	}
	return true;
}

int hm_addr_format(const struct hm_addr *a, char *out, size_t outlen)
{
	size_t n = 0;

	if (outlen == 0)
		return -1;
	if (is_dot_atom(a->local)) {
		n = strlen(a->local);
		if (n >= outlen)
			return -1;
		memcpy(out, a->local, n);
	} else {
		if (n + 1 >= outlen)
			return -1;
		out[n++] = '"';
		for (const char *p = a->local; *p != '\0'; p++) {
			if (*p == '"' || *p == '\\') {
				if (n + 1 >= outlen)
					return -1;
				out[n++] = '\\';
			}
			if (n + 1 >= outlen)
				return -1;
			out[n++] = *p;
		}
		if (n + 1 >= outlen)
			return -1;
		out[n++] = '"';
	}
	out[n] = '\0';
	if (a->domain[0] != '\0') {
		int w = snprintf(out + n, outlen - n, "@%s", a->domain);

		if (w < 0 || (size_t)w >= outlen - n)
			return -1;
	}
	return 0;
}

void hm_domain_lower(char *domain)
{
	for (char *p = domain; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p = (char)(*p - 'A' + 'a');
}

bool hm_domain_valid(const char *s)
{
	size_t len = strnlen(s, DOMAIN_LEN_MAX + 2);
	size_t label = 0;
	char prev = '.';

	if (len > 0 && s[len - 1] == '.')
		len--;		/* one trailing dot: the root */
	if (len == 0 || len > DOMAIN_LEN_MAX)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = s[i];

		if (c == '.') {
			if (label == 0 || prev == '-')
				return false;
			label = 0;
		} else if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			   (c >= '0' && c <= '9') || c == '_') {
			label++;
		} else if (c == '-') {
			if (label == 0)
				return false;
			label++;
		} else {
			return false;
		}
		if (label > 63)
			return false;
		prev = c;
	}
	return label > 0 && prev != '-';
}
