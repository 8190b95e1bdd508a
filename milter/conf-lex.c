/*
 * conf-lex.c - a walk over hosterra-milter.conf before libconfuse reads it.
 *
 * libconfuse stops a parse at the first error it finds itself, such as an
 * option it does not know, so it is left only the syntax: this walk, with
 * the same lexical rules, reports every option the table does not know
 * (with its line) and blanks that statement out.  It also blanks comments,
 * after which libconfuse 3.3 miscounts lines.  Blanking keeps every
 * newline, so line numbers stay true.
 */
#include "config.h"

#include <stdbool.h>
#include <string.h>

#include "milter/conf-int.h"

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

void conf_blank_comments(char *buf, size_t len)
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
void conf_find_unknown(char *buf, size_t len, conf_unknown_fn *unknown, void *arg)
{
	struct scan s = { .p = buf, .end = buf + len, .line = 1 };
	const struct conf_entry *tables[SCAN_MAX_DEPTH];
	const char *secnames[SCAN_MAX_DEPTH];
	int depth = 0;
	enum tok t;

	tables[0] = conf_root_table;
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
		e = conf_find(tables[depth], s.word);
		if (e == NULL) {
			unknown(arg, s.line, s.word, secnames[depth]);
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
