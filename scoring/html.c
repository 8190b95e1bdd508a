/*
 * html.c - streaming HTML to text: a small tokenizer in the spirit of the
 * HTML5 one (tags, attributes, comments, raw text of script and style,
 * character references), keeping text and URL hosts only.
 */
#include "config.h"

#include <string.h>
#include <strings.h>

#include "scoring/charset.h"
#include "scoring/html.h"

enum {
	S_TEXT, S_LT, S_TAGNAME, S_ATTRS, S_ATTRNAME, S_AFTERNAME, S_BEFOREVAL,
	S_VALQ, S_VALUQ, S_BANG, S_BANGDASH, S_COMMENT, S_BOGUS, S_ENTITY, S_RAW,
};

/* Named references: those mail uses (the latin-1 letters are below). */
static const struct {
	const char *name;
	unsigned long cp;		/* 0: nothing (soft hyphen and the like) */
} named[] = {
	{ "amp", '&' }, { "lt", '<' }, { "gt", '>' }, { "quot", '"' }, { "apos", '\'' },
	{ "nbsp", ' ' }, { "ensp", ' ' }, { "emsp", ' ' }, { "thinsp", ' ' },
	{ "shy", 0 }, { "zwnj", 0 }, { "zwj", 0 }, { "lrm", 0 }, { "rlm", 0 },
	{ "copy", 0xa9 }, { "reg", 0xae }, { "trade", 0x2122 }, { "euro", 0x20ac },
	{ "pound", 0xa3 }, { "yen", 0xa5 }, { "cent", 0xa2 }, { "curren", 0xa4 },
	{ "sect", 0xa7 }, { "deg", 0xb0 }, { "plusmn", 0xb1 }, { "middot", 0xb7 },
	{ "laquo", 0xab }, { "raquo", 0xbb }, { "hellip", 0x2026 }, { "mdash", 0x2014 },
	{ "ndash", 0x2013 }, { "lsquo", 0x2018 }, { "rsquo", 0x2019 }, { "ldquo", 0x201c },
	{ "rdquo", 0x201d }, { "sbquo", 0x201a }, { "bdquo", 0x201e }, { "bull", 0x2022 },
	{ "times", 0xd7 }, { "divide", 0xf7 }, { "iexcl", 0xa1 }, { "iquest", 0xbf },
	{ "ordf", 0xaa }, { "ordm", 0xba }, { "para", 0xb6 }, { "micro", 0xb5 },
	{ "frac12", 0xbd }, { "frac14", 0xbc }, { "frac34", 0xbe }, { "sup2", 0xb2 },
	{ "sup3", 0xb3 }, { "uml", 0xa8 }, { "acute", 0xb4 }, { "cedil", 0xb8 },
	{ "macr", 0xaf }, { "brvbar", 0xa6 }, { "not", 0xac }, { "dagger", 0x2020 },
	{ "Dagger", 0x2021 }, { "permil", 0x2030 }, { "lsaquo", 0x2039 }, { "rsaquo", 0x203a },
	{ "OElig", 0x152 }, { "oelig", 0x153 }, { "Scaron", 0x160 }, { "scaron", 0x161 },
	{ "Yuml", 0x178 }, { "fnof", 0x192 }, { "circ", 0x2c6 }, { "tilde", 0x2dc },
	{ "larr", 0x2190 }, { "rarr", 0x2192 }, { "uarr", 0x2191 }, { "darr", 0x2193 },
	{ "hearts", 0x2665 }, { "check", 0x2713 }, { "star", 0x2606 },
};

/* Latin-1 letters: the capital's name and code; the small one is +0x20. */
static const struct {
	const char *name;
	unsigned char cp;
} letters[] = {
	{ "Agrave", 0xc0 }, { "Aacute", 0xc1 }, { "Acirc", 0xc2 }, { "Atilde", 0xc3 },
	{ "Auml", 0xc4 }, { "Aring", 0xc5 }, { "AElig", 0xc6 }, { "Ccedil", 0xc7 },
	{ "Egrave", 0xc8 }, { "Eacute", 0xc9 }, { "Ecirc", 0xca }, { "Euml", 0xcb },
	{ "Igrave", 0xcc }, { "Iacute", 0xcd }, { "Icirc", 0xce }, { "Iuml", 0xcf },
	{ "ETH", 0xd0 }, { "Ntilde", 0xd1 }, { "Ograve", 0xd2 }, { "Oacute", 0xd3 },
	{ "Ocirc", 0xd4 }, { "Otilde", 0xd5 }, { "Ouml", 0xd6 }, { "Oslash", 0xd8 },
	{ "Ugrave", 0xd9 }, { "Uacute", 0xda }, { "Ucirc", 0xdb }, { "Uuml", 0xdc },
	{ "Yacute", 0xdd }, { "THORN", 0xde },
};

/* Is tag (len bytes) name? */
static bool eq(const char *tag, size_t len, const char *name)
{
	return strlen(name) == len && memcmp(tag, name, len) == 0;
}

/*
 * Elements that break the text flow: a newline keeps their words apart.
 * Sorted by first letter, so a tag is compared with a few names only (this
 * runs for every tag of every HTML part).
 */
static bool is_block(const char *t, size_t n)
{
	switch (t[0]) {
	case 'a': return eq(t, n, "address") || eq(t, n, "article") || eq(t, n, "aside");
	case 'b': return eq(t, n, "br") || eq(t, n, "body") || eq(t, n, "blockquote");
	case 'c': return eq(t, n, "center") || eq(t, n, "caption");
	case 'd': return n == 2 ? t[1] == 't' || t[1] == 'd' || t[1] == 'l' : eq(t, n, "div");
	case 'f': return eq(t, n, "form") || eq(t, n, "footer");
	case 'h': return n == 2 ? (t[1] >= '1' && t[1] <= '6') || t[1] == 'r' :
		  eq(t, n, "html") || eq(t, n, "head") || eq(t, n, "header");
	case 'l': return eq(t, n, "li");
	case 'm': return eq(t, n, "main");
	case 'n': return eq(t, n, "nav");
	case 'o': return eq(t, n, "ol") || eq(t, n, "option");
	case 'p': return n == 1 || eq(t, n, "pre");
	case 's': return eq(t, n, "section");
	case 't': return n == 2 ? t[1] == 'r' || t[1] == 'd' || t[1] == 'h' :
		  eq(t, n, "table") || eq(t, n, "title") || eq(t, n, "tbody") || eq(t, n, "thead");
	case 'u': return eq(t, n, "ul");
	default: return false;
	}
}

/* The attributes whose value is a URL: href, src, action, background. */
static bool is_url_attr(const char *a, size_t len)
{
	switch (len) {
	case 3: return memcmp(a, "src", 3) == 0;
	case 4: return memcmp(a, "href", 4) == 0;
	case 6: return memcmp(a, "action", 6) == 0;
	case 10: return memcmp(a, "background", 10) == 0;
	default: return false;
	}
}

static unsigned char lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c + 32) : c;
}

static bool is_alpha(unsigned char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

static bool is_alnum(unsigned char c)
{
	return is_alpha(c) || (c >= '0' && c <= '9');
}

static bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f';
}

static bool all_lower(const char *s)
{
	for (; *s != '\0'; s++)
		if (*s >= 'A' && *s <= 'Z')
			return false;
	return true;
}

static size_t put_cp(unsigned long cp, char *out)
{
	if (cp == 0 || (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff)
		cp = 0xfffd;
	else if (cp >= 0x80 && cp < 0xa0)
		cp = hm_w1252((unsigned char)cp);	/* as browsers read them */
	return hm_utf8_put(cp, out);
}

/* See html.h; -1 when unknown (0 is a reference that stands for nothing). */
static int entity(const char *name, size_t n, char *out)
{
	char nm[16];

	if (n >= 2 && name[0] == '#') {
		unsigned long cp = 0;
		bool hex = name[1] == 'x' || name[1] == 'X';
		size_t i = hex ? 2 : 1;

		if (i == n)
			return -1;
		for (; i < n; i++) {
			int d = hex ? (name[i] >= '0' && name[i] <= '9' ? name[i] - '0' :
				       (name[i] | 0x20) >= 'a' && (name[i] | 0x20) <= 'f' ?
				       (name[i] | 0x20) - 'a' + 10 : -1) :
				      (name[i] >= '0' && name[i] <= '9' ? name[i] - '0' : -1);

			if (d < 0)
				return -1;
			if (cp <= 0x10ffff)
				cp = cp * (hex ? 16 : 10) + (unsigned long)d;
		}
		return (int)put_cp(cp, out);
	}
	if (n == 0 || n >= sizeof(nm))
		return -1;
	memcpy(nm, name, n);
	nm[n] = '\0';
	/* The common ones first, then the tables by first letter. */
	if (n == 3 && memcmp(nm, "amp", 3) == 0)
		return (int)hm_utf8_put('&', out);
	if (n == 4 && memcmp(nm, "nbsp", 4) == 0)
		return (int)hm_utf8_put(' ', out);
	for (size_t i = 0; i < sizeof(named) / sizeof(named[0]); i++)
		if (named[i].name[0] == nm[0] && strcmp(nm, named[i].name) == 0)
			return named[i].cp == 0 ? 0 : (int)hm_utf8_put(named[i].cp, out);
	for (size_t i = 0; i < sizeof(letters) / sizeof(letters[0]); i++) {
		if ((letters[i].name[0] | 0x20) != (nm[0] | 0x20))
			continue;
		if (strcmp(nm, letters[i].name) == 0)
			return (int)hm_utf8_put(letters[i].cp, out);
		/* The small letter: same name, lower-case ("eacute", "aelig", "thorn"). */
		if (strcasecmp(nm, letters[i].name) == 0 && all_lower(nm))
			return (int)hm_utf8_put(letters[i].cp + 0x20u, out);
	}
	if (strcmp(nm, "szlig") == 0)
		return (int)hm_utf8_put(0xdf, out);
	if (strcmp(nm, "yuml") == 0)
		return (int)hm_utf8_put(0xff, out);
	return -1;
}

size_t hm_html_entity(const char *name, size_t n, char *out)
{
	int r = entity(name, n, out);

	return r < 0 ? 0 : (size_t)r;
}

void hm_html_init(struct hm_html *h, hm_html_text_fn *text, hm_host_fn *host, void *arg)
{
	memset(h, 0, sizeof(*h));
	h->text = text;
	h->host = host;
	h->arg = arg;
}

void hm_html_reset(struct hm_html *h)
{
	hm_html_init(h, h->text, h->host, h->arg);
}

static void text_flush(struct hm_html *h)
{
	if (h->outlen > 0)
		h->text(h->arg, h->out, h->outlen);
	h->outlen = 0;
}

/* Text runs between tags are short: gather them, pass them on in blocks. */
static void text(struct hm_html *h, const char *s, size_t n)
{
	if (n > sizeof(h->out) - h->outlen) {
		text_flush(h);
		if (n >= sizeof(h->out)) {
			h->text(h->arg, s, n);
			return;
		}
	}
	memcpy(h->out + h->outlen, s, n);
	h->outlen += n;
}

static void value_done(struct hm_html *h)
{
	char host[HM_URLHOST_MAX + 1];
	size_t n;

	if (h->want_value && (n = hm_url_host(h->val, h->vallen, host)) > 0) {
		text_flush(h);		/* the text before the link comes first */
		h->host(h->arg, host, n);
	}
	h->want_value = false;
	h->vallen = 0;
}

static void tag_done(struct hm_html *h)
{
	h->state = S_TEXT;
	h->tag[h->taglen] = '\0';
	if (!h->endtag && ((h->taglen == 6 && memcmp(h->tag, "script", 6) == 0) ||
			   (h->taglen == 5 && memcmp(h->tag, "style", 5) == 0))) {
		memcpy(h->raw, h->tag, h->taglen + 1);
		h->rawmatch = 0;
		h->state = S_RAW;
		return;
	}
	if (is_block(h->tag, h->taglen))
		text(h, "\n", 1);
}

static void attr_start(struct hm_html *h, unsigned char c)
{
	h->attrlen = 0;
	h->attr[h->attrlen++] = (char)lower(c);
	h->state = S_ATTRNAME;
}

static void value_start(struct hm_html *h)
{
	h->attr[h->attrlen] = '\0';
	h->vallen = 0;
	h->want_value = !h->endtag && is_url_attr(h->attr, h->attrlen);
}

static void value_add(struct hm_html *h, const char *s, size_t n)
{
	if (!h->want_value)
		return;
	if (n > sizeof(h->val) - h->vallen)
		n = sizeof(h->val) - h->vallen;
	memcpy(h->val + h->vallen, s, n);
	h->vallen += n;
}

/* A reference ends: decode it, or give it back as text. */
static void entity_done(struct hm_html *h, bool semicolon)
{
	char out[4];
	int r = entity(h->ent, h->entlen, out);

	if (r >= 0) {
		text(h, out, (size_t)r);
	} else {
		text(h, "&", 1);
		text(h, h->ent, h->entlen);
		if (semicolon)
			text(h, ";", 1);
	}
	h->entlen = 0;
	h->state = S_TEXT;
}

static void feed(struct hm_html *h, const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;
	size_t i = 0;

	while (i < n) {
		unsigned char c = s[i];

		switch (h->state) {
		case S_TEXT: {
			size_t j = i;

			while (j < n && s[j] != '<' && s[j] != '&')
				j++;
			text(h, str + i, j - i);
			if (j < n) {
				h->state = s[j] == '<' ? S_LT : S_ENTITY;
				h->entlen = 0;
				j++;
			}
			i = j;
			continue;
		}
		case S_LT:
			if (c == '/') {
				h->endtag = true;
				h->taglen = 0;
				h->state = S_TAGNAME;
			} else if (c == '!') {
				h->state = S_BANG;
			} else if (c == '?') {
				h->state = S_BOGUS;
			} else if (is_alpha(c)) {
				h->endtag = false;
				h->taglen = 0;
				h->tag[h->taglen++] = (char)lower(c);
				h->state = S_TAGNAME;
			} else {
				text(h, "<", 1);	/* "a < b": text */
				h->state = S_TEXT;
				continue;
			}
			break;
		case S_TAGNAME:
			if (h->taglen == 0 && !is_alpha(c)) {
				h->state = c == '>' ? S_TEXT : S_BOGUS;	/* "</>", "</ x>" */
			} else if (is_ws(c) || c == '/') {
				h->state = S_ATTRS;
			} else if (c == '>') {
				tag_done(h);
			} else if (h->taglen < sizeof(h->tag) - 1) {
				h->tag[h->taglen++] = (char)lower(c);
			}
			break;
		case S_ATTRS:
		case S_AFTERNAME:
			if (c == '>')
				tag_done(h);
			else if (c == '=' && h->state == S_AFTERNAME)
				h->state = S_BEFOREVAL;
			else if (!is_ws(c) && c != '/')
				attr_start(h, c);
			break;
		case S_ATTRNAME:
			if (c == '=') {
				h->state = S_BEFOREVAL;
			} else if (is_ws(c)) {
				h->state = S_AFTERNAME;
			} else if (c == '>') {
				tag_done(h);
			} else if (c == '/') {
				h->state = S_ATTRS;
			} else if (h->attrlen < sizeof(h->attr) - 1) {
				h->attr[h->attrlen++] = (char)lower(c);
			}
			break;
		case S_BEFOREVAL:
			if (is_ws(c))
				break;
			value_start(h);
			if (c == '"' || c == '\'') {
				h->quote = (char)c;
				h->state = S_VALQ;
			} else if (c == '>') {
				tag_done(h);
			} else {
				h->state = S_VALUQ;
				continue;
			}
			break;
		case S_VALQ: {
			const unsigned char *q = memchr(s + i, h->quote, n - i);
			size_t j = q != NULL ? (size_t)(q - s) : n;

			value_add(h, str + i, j - i);
			i = j;
			if (q != NULL) {
				value_done(h);
				h->state = S_ATTRS;
				i++;
			}
			continue;
		}
		case S_VALUQ:
			if (is_ws(c) || c == '>') {
				value_done(h);
				h->state = S_ATTRS;
				continue;
			}
			value_add(h, (const char *)&s[i], 1);
			break;
		case S_BANG:
			h->state = c == '-' ? S_BANGDASH : c == '>' ? S_TEXT : S_BOGUS;
			break;
		case S_BANGDASH:
			if (c == '-') {
				h->dashes = 0;
				h->state = S_COMMENT;
			} else {
				h->state = c == '>' ? S_TEXT : S_BOGUS;
			}
			break;
		case S_COMMENT:
			if (c == '>' && h->dashes >= 2)
				h->state = S_TEXT;
			else if (c == '-')
				h->dashes++;
			else
				h->dashes = 0;
			break;
		case S_BOGUS: {
			const unsigned char *q = memchr(s + i, '>', n - i);

			if (q == NULL)
				return;
			h->state = S_TEXT;
			i = (size_t)(q - s) + 1;
			continue;
		}
		case S_ENTITY:
			if ((is_alnum(c) || (c == '#' && h->entlen == 0)) &&
			    h->entlen < sizeof(h->ent)) {
				h->ent[h->entlen++] = (char)c;
				break;
			}
			entity_done(h, c == ';');
			if (c == ';')
				break;
			continue;	/* the character after a reference without ";" */
		case S_RAW: {
			/* Skip to "</script" or "</style", any case. */
			size_t rl = strlen(h->raw);

			if (h->rawmatch == 0) {
				const unsigned char *q = memchr(s + i, '<', n - i);

				if (q == NULL)
					return;
				i = (size_t)(q - s) + 1;
				h->rawmatch = 1;
				continue;
			}
			if (h->rawmatch == 1 ? c == '/' : lower(c) == (unsigned char)h->raw[h->rawmatch - 2]) {
				if (++h->rawmatch == rl + 2) {
					h->endtag = true;
					memcpy(h->tag, h->raw, rl);
					h->taglen = rl;
					h->state = S_ATTRS;
				}
			} else {
				h->rawmatch = 0;
				continue;
			}
			break;
		}
		}
		i++;
	}
}

void hm_html_feed(struct hm_html *h, const char *str, size_t n)
{
	feed(h, str, n);
	text_flush(h);
}

void hm_html_flush(struct hm_html *h)
{
	if (h->state == S_ENTITY)
		entity_done(h, false);
	else if (h->state == S_LT)
		text(h, "<", 1);
	text_flush(h);
	h->state = S_TEXT;
}
