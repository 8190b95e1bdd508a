/*
 * mimehdr.c - Content-Type, Content-Transfer-Encoding and
 * Content-Disposition values (RFC 2045, 2183, 2231), and display names of
 * address lists.  See mimehdr.h.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "scoring/mimehdr.h"
#include "scoring/xfer.h"

static bool is_ws(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static char lower(char c)
{
	return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* RFC 2045 token characters. */
static bool is_tok(char c)
{
	return (unsigned char)c > 0x20 && (unsigned char)c < 0x7f && strchr("()<>@,;:\\\"/[]?=", c) == NULL;
}

/* Skip blanks, line breaks and (nested) comments. */
static const char *skip_cfws(const char *s)
{
	for (;;) {
		while (is_ws(*s))
			s++;
		if (*s != '(')
			return s;
		int depth = 0;

		for (; *s != '\0'; s++) {
			if (*s == '\\' && s[1] != '\0')
				s++;
			else if (*s == '(')
				depth++;
			else if (*s == ')' && --depth == 0) {
				s++;
				break;
			}
		}
	}
}

bool hm_mimehdr_is(const char *name, const char *want)
{
	return strcasecmp(name, want) == 0;
}

/* A token, lower-cased into out (cut to max - 1); where it ends. */
static const char *token(const char *s, char *out, size_t max, size_t *len)
{
	size_t n = 0;

	for (; is_tok(*s); s++)
		if (n + 1 < max)
			out[n++] = lower(*s);
	out[n] = '\0';
	*len = n;
	return s;
}

static void fname_set(struct hm_mimehdr_params *p, const char *v, size_t n, bool append)
{
	if (!append)
		p->fname_len = 0;
	if (n >= sizeof(p->fname)) {
		/* Only the tail matters (the extension): keep the last bytes. */
		v += n - (sizeof(p->fname) - 1);
		n = sizeof(p->fname) - 1;
	}
	if (p->fname_len + n >= sizeof(p->fname)) {
		size_t drop = p->fname_len + n - (sizeof(p->fname) - 1);

		memmove(p->fname, p->fname + drop, p->fname_len - drop);
		p->fname_len -= drop;
	}
	memcpy(p->fname + p->fname_len, v, n);
	p->fname_len += n;
	p->fname[p->fname_len] = '\0';
}

/* An RFC 2231 extended value: "charset'lang'" prefix dropped, %XX decoded. */
static size_t ext_value(char *v, size_t n, bool first)
{
	size_t i = 0, o = 0;

	if (first) {
		const char *q1 = memchr(v, '\'', n), *q2;

		if (q1 != NULL && (q2 = memchr(q1 + 1, '\'', n - (size_t)(q1 + 1 - v))) != NULL)
			i = (size_t)(q2 + 1 - v);
	}
	for (; i < n; i++) {
		if (v[i] == '%' && i + 2 < n && hm_hexval(v[i + 1]) >= 0 && hm_hexval(v[i + 2]) >= 0) {
			v[o++] = (char)(hm_hexval(v[i + 1]) << 4 | hm_hexval(v[i + 2]));
			i += 2;
		} else {
			v[o++] = v[i];
		}
	}
	return o;
}

static void param(struct hm_mimehdr_params *p, const char *name, char *v, size_t n, bool toolong)
{
	const char *star;

	if (strcmp(name, "charset") == 0) {
		size_t k = n < sizeof(p->charset) - 1 ? n : sizeof(p->charset) - 1;

		memcpy(p->charset, v, k);
		p->charset[k] = '\0';
	} else if (strcmp(name, "boundary") == 0) {
		if (toolong || n > HM_BOUNDARY_MAX) {
			p->boundary_long = true;
			p->boundary_len = 0;
		} else {
			memcpy(p->boundary, v, n);
			p->boundary[n] = '\0';
			p->boundary_len = n;
			p->boundary_long = false;
		}
	} else if (strcmp(name, "name") == 0 || strcmp(name, "filename") == 0) {
		fname_set(p, v, n, false);
	} else if ((strncmp(name, "name*", 5) == 0 || strncmp(name, "filename*", 9) == 0) &&
		   (star = strchr(name, '*')) != NULL) {
		/* "name*" whole, "name*0" "name*1*"... pieces (assumed in order). */
		bool encoded = name[strlen(name) - 1] == '*';
		bool first = star[1] == '\0' || (star[1] == '0' && (star[2] == '\0' || star[2] == '*'));

		if (encoded)
			n = ext_value(v, n, first);
		fname_set(p, v, n, !first);
	}
}

/* The ";"-separated parameters after the type or disposition. */
static void params(const char *s, struct hm_mimehdr_params *p)
{
	char name[48], value[HM_BOUNDARY_MAX + 1];
	size_t nlen;

	for (;;) {
		size_t vlen = 0;
		bool toolong = false;

		/* To the next ";", over quoted strings. */
		while (*s != '\0' && *s != ';') {
			if (*s == '"') {
				for (s++; *s != '\0' && *s != '"'; s++)
					if (*s == '\\' && s[1] != '\0')
						s++;
				if (*s == '\0')
					return;
			}
			s++;
		}
		if (*s == '\0')
			return;
		s = skip_cfws(s + 1);
		s = token(s, name, sizeof(name), &nlen);
		s = skip_cfws(s);
		if (nlen == 0 || *s != '=')
			continue;
		s = skip_cfws(s + 1);
		if (*s == '"') {
			for (s++; *s != '\0' && *s != '"'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (*s == '\r' || *s == '\n')
					continue;	/* folded inside the quotes */
				if (vlen < sizeof(value) - 1)
					value[vlen++] = *s;
				else
					toolong = true;
			}
			if (*s == '"')
				s++;
		} else {
			/* Lenient: unquoted values with "=", "/", "?" are common. */
			for (; *s != '\0' && *s != ';' && !is_ws(*s) && *s != '"'; s++) {
				if (vlen < sizeof(value) - 1)
					value[vlen++] = *s;
				else
					toolong = true;
			}
		}
		value[vlen] = '\0';
		param(p, name, value, vlen, toolong);
	}
}

static void params_clear(struct hm_mimehdr_params *p)
{
	p->charset[0] = '\0';
	p->boundary[0] = '\0';
	p->boundary_len = 0;
	p->boundary_long = false;
	p->fname[0] = '\0';
	p->fname_len = 0;
}

bool hm_mimehdr_ctype(const char *v, char *type, struct hm_mimehdr_params *p)
{
	char t[48], sub[48];
	size_t tl, sl;
	const char *s;

	params_clear(p);
	s = token(skip_cfws(v), t, sizeof(t), &tl);
	s = skip_cfws(s);
	if (*s == '/') {
		s = token(skip_cfws(s + 1), sub, sizeof(sub), &sl);
	} else {
		sl = 0;
	}
	params(s, p);
	if (tl == 0 || sl == 0)
		return false;
	memcpy(type, t, tl);
	type[tl] = '/';
	memcpy(type + tl + 1, sub, sl + 1);
	return true;
}

void hm_mimehdr_disposition(const char *v, struct hm_mimehdr_params *p)
{
	params_clear(p);
	params(v, p);
}

enum hm_cte hm_mimehdr_cte(const char *v)
{
	char t[32];
	size_t n;

	token(skip_cfws(v), t, sizeof(t), &n);
	if (strcmp(t, "base64") == 0)
		return HM_CTE_B64;
	if (strcmp(t, "quoted-printable") == 0)
		return HM_CTE_QP;
	if (n == 0 || strcmp(t, "7bit") == 0 || strcmp(t, "8bit") == 0 || strcmp(t, "binary") == 0)
		return HM_CTE_NONE;
	return HM_CTE_OTHER;		/* x-uuencode and the like: kept as it is */
}

void hm_mimehdr_ext(const char *name, size_t n, char ext[HM_EXT_MAX])
{
	size_t end = n, dot;

	ext[0] = '\0';
	while (end > 0 && (is_ws(name[end - 1]) || name[end - 1] == '"' || name[end - 1] == '\''))
		end--;
	for (dot = end; dot > 0 && name[dot - 1] != '.'; dot--)
		;
	if (dot == 0 || end - dot == 0 || end - dot > 10)
		return;
	for (size_t i = dot; i < end; i++) {
		char c = lower(name[i]);

		if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'))) {
			ext[0] = '\0';
			return;
		}
		ext[i - dot] = c;
	}
	ext[end - dot] = '\0';
}

/* ---- display names ---- */

struct names {
	char phrase[512], comment[512];
	size_t plen, clen;
	bool angle, space;
	hm_name_fn *fn;
	void *arg;
};

static void add(char *buf, size_t *len, size_t max, char c, bool *space)
{
	if (is_ws(c)) {
		*space = *len > 0;
		return;
	}
	if (*space && *len + 1 < max)
		buf[(*len)++] = ' ';
	*space = false;
	if (*len + 1 < max)
		buf[(*len)++] = c;
}

static void address_end(struct names *nm)
{
	if (nm->angle && nm->plen > 0)
		nm->fn(nm->arg, nm->phrase, nm->plen);
	else if (!nm->angle && nm->clen > 0)
		nm->fn(nm->arg, nm->comment, nm->clen);
	nm->plen = nm->clen = 0;
	nm->angle = nm->space = false;
}

void hm_mimehdr_names(const char *s, hm_name_fn *fn, void *arg)
{
	struct names nm;

	memset(&nm, 0, sizeof(nm));
	nm.fn = fn;
	nm.arg = arg;
	while (*s != '\0') {
		if (*s == '"') {
			for (s++; *s != '\0' && *s != '"'; s++) {
				if (*s == '\\' && s[1] != '\0')
					s++;
				if (*s == ' ' || *s == '\t') {
					/* Blanks inside quotes are kept as written (once). */
					if (nm.plen + 1 < sizeof(nm.phrase))
						nm.phrase[nm.plen++] = ' ';
					nm.space = false;
				} else if (*s != '\r' && *s != '\n') {
					add(nm.phrase, &nm.plen, sizeof(nm.phrase), *s, &nm.space);
				}
			}
			if (*s == '"')
				s++;
			continue;
		}
		if (*s == '(') {
			int depth = 0;
			bool sp = false;

			nm.clen = 0;
			for (; *s != '\0'; s++) {
				if (*s == '\\' && s[1] != '\0') {
					s++;
				} else if (*s == '(') {
					if (depth++ == 0)
						continue;
				} else if (*s == ')' && --depth == 0) {
					s++;
					break;
				}
				add(nm.comment, &nm.clen, sizeof(nm.comment), *s, &sp);
			}
			nm.space = nm.plen > 0;
			continue;
		}
		if (*s == '<') {
			nm.angle = true;
			while (*s != '\0' && *s != '>')
				s++;
			if (*s == '>')
				s++;
			continue;
		}
		if (*s == ',' || *s == ';') {
			address_end(&nm);
		} else if (*s == ':') {
			nm.plen = 0;		/* a group's name is not a person's */
			nm.space = false;
		} else if (!nm.angle) {
			add(nm.phrase, &nm.plen, sizeof(nm.phrase), *s, &nm.space);
		}
		s++;
	}
	address_end(&nm);
}
