/*
 * spf-record.c - the text of an SPF record, before libspf2 sees it: the
 * RFC 7208 grammar check, and the rewrite of a valid record into the form
 * libspf2 evaluates as RFC 7208 says (see spf-record.h).
 *
 * Both work on the record's text alone, with no DNS and no libspf2, so
 * they can be tested and fuzzed on their own (tests/fuzz/fuzz-spf.c).
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scoring/spf-record.h"

struct span {
	const char *p, *end;
};

static bool span_eq(struct span s, const char *word)
{
	size_t n = strlen(word);

	return (size_t)(s.end - s.p) == n && strncasecmp(s.p, word, n) == 0;
}

/* --- what libspf2 is given ---------------------------------------------- */

static bool peel_cidr(struct span *s, bool six);

/* Append n bytes to the buffer (sized by the caller to always fit). */
/* The next space-separated term from *p on, *p moved past it; false at the end. */
static bool next_term(const char **p, const char *end, struct span *t)
{
	while (*p < end && **p == ' ')
		(*p)++;
	if (*p == end)
		return false;
	t->p = *p;
	while (*p < end && **p != ' ')
		(*p)++;
	t->end = *p;
	return true;
}

static void put(char **o, const char *p, size_t n)
{
	memcpy(*o, p, n);
	*o += n;
}

/*
 * The text of a valid record rewritten for libspf2 (see spf-record.h),
 * which deviates from
 * RFC 7208 on valid records: it rejects some valid unknown-modifier names
 * (unknown modifiers are dropped: they have no effect), it evaluates
 * redirect= where it stands instead of after all mechanisms (moved to the
 * end, or dropped when the record has "all", RFC 7208 6.1), and it rejects
 * a CIDR length of 0 ("ip4:x/0" becomes two /1 halves; "a" or "mx" with
 * /0 for the client's family gets the marked target name, see the top; the
 * CIDR length of the other address family is dropped, it cannot apply).
 * out must hold HM_SPF_REWRITE_SIZE(len, marker) bytes.
 */
void hm_spf_rewrite(const char *text, size_t len, bool v6, const char *marker, char *out)
{
	const char *p = text + 6, *end = text + len;
	struct span redirect = { NULL, NULL };
	bool saw_all = false;
	char *o = out;

	put(&o, "v=spf1", 6);
	while (p < end) {
		struct span t, name, arg, c4 = { NULL, NULL }, c6 = { NULL, NULL }, dom;
		const char *q, *qual = "";

		if (!next_term(&p, end, &t))
			break;
		for (q = t.p; q < t.end && (isalnum((unsigned char)*q) || strchr("-_.", *q)); q++)
			;
		if (q < t.end && *q == '=') {
			name = (struct span){ t.p, q };
			if (span_eq(name, "redirect"))
				redirect = t;
			else if (span_eq(name, "exp"))
				goto keep;
			continue;	/* unknown modifier */
		}
		q = t.p;
		if (strchr("+-?~", *q))
			qual = q++;
		name.p = q;
		while (q < t.end && *q != ':' && *q != '/')
			q++;
		name.end = q;
		arg = (struct span){ q, t.end };
		if (span_eq(name, "all"))
			saw_all = true;
		if ((span_eq(name, "ip4") || span_eq(name, "ip6")) && t.end - t.p >= 2 &&
		    t.end[-1] == '0' && t.end[-2] == '/') {
			bool four = span_eq(name, "ip4");
			const char *lo = four ? "ip4:0.0.0.0/1" : "ip6:::/1";
			const char *hi = four ? "ip4:128.0.0.0/1" : "ip6:8000::/1";

			put(&o, " ", 1);
			put(&o, qual, *qual ? 1 : 0);
			put(&o, lo, strlen(lo));
			put(&o, " ", 1);
			put(&o, qual, *qual ? 1 : 0);
			put(&o, hi, strlen(hi));
			continue;
		}
		if (span_eq(name, "a") || span_eq(name, "mx")) {
			struct span rest = arg;

			if (peel_cidr(&rest, true) && rest.end != arg.end)
				c6 = (struct span){ rest.end + 2, arg.end };
			dom = rest;
			if (peel_cidr(&dom, false) && dom.end != rest.end)
				c4 = (struct span){ dom.end + 1, rest.end };
			if (v6 ? c6.p && span_eq(c6, "0") : c4.p && span_eq(c4, "0")) {
				/* Any address of the family: "a:d<marker>". */
				put(&o, " ", 1);
				put(&o, t.p, (size_t)(name.end - t.p));
				put(&o, ":", 1);
				if (dom.p < dom.end) {
					const char *e = dom.end;

					if (e[-1] == '.' && e - 1 > dom.p + 1)
						e--;	/* the marker follows the last label */
					put(&o, dom.p + 1, (size_t)(e - dom.p - 1));
				} else {
					put(&o, "%{d}", 4);
				}
				put(&o, marker, strlen(marker));
				continue;
			}
			put(&o, " ", 1);
			put(&o, t.p, (size_t)(dom.end - t.p));
			if (!v6 && c4.p) {
				put(&o, "/", 1);
				put(&o, c4.p, (size_t)(c4.end - c4.p));
			}
			if (v6 && c6.p) {
				put(&o, "//", 2);
				put(&o, c6.p, (size_t)(c6.end - c6.p));
			}
			continue;
		}
keep:
		put(&o, " ", 1);
		put(&o, t.p, (size_t)(t.end - t.p));
	}
	if (redirect.p && !saw_all) {
		put(&o, " ", 1);
		put(&o, redirect.p, (size_t)(redirect.end - redirect.p));
	}
	*o = '\0';
}

/* --- RFC 7208 ABNF --------------------------------------------------- */

/*
 * macro-string; exp_letters allows c, r, t (explanation text and unknown
 * modifiers).  On success *last_macro tells whether it ends in a
 * macro-expand.
 */
static bool macro_string(struct span s, bool exp_letters, bool *last_macro)
{
	const char *p = s.p;

	*last_macro = false;
	while (p < s.end) {
		if ((unsigned char)*p < 0x21 || (unsigned char)*p > 0x7e)
			return false;
		if (*p != '%') {
			p++;
			*last_macro = false;
			continue;
		}
		if (++p >= s.end)
			return false;
		if (*p == '%' || *p == '_' || *p == '-') {
			p++;
			*last_macro = true;
			continue;
		}
		if (*p != '{' || ++p >= s.end)
			return false;
		if (!strchr("slodiphv", tolower((unsigned char)*p)) &&
		    !(exp_letters && strchr("crt", tolower((unsigned char)*p))))
			return false;
		p++;
		if (p < s.end && isdigit((unsigned char)*p)) {
			unsigned v = 0;

			while (p < s.end && isdigit((unsigned char)*p)) {
				v = v * 10 + (unsigned)(*p - '0');
				if (v > 128)
					return false;
				p++;
			}
			if (v == 0)
				return false;	/* RFC 7208 7.3: nonzero */
		}
		if (p < s.end && (*p == 'r' || *p == 'R'))
			p++;
		while (p < s.end && strchr(".-+,/_=", *p))
			p++;
		if (p >= s.end || *p != '}')
			return false;
		p++;
		*last_macro = true;
	}
	return true;
}

/* toplabel = ( *alphanum ALPHA *alphanum ) / ( 1*alphanum "-" *( alphanum / "-" ) alphanum ) */
static bool toplabel(const char *p, const char *end)
{
	bool alpha = false, dash = false;

	if (p >= end || !isalnum((unsigned char)p[0]) || !isalnum((unsigned char)end[-1]))
		return false;
	for (; p < end; p++) {
		if (isalpha((unsigned char)*p))
			alpha = true;
		else if (*p == '-')
			dash = true;
		else if (!isdigit((unsigned char)*p))
			return false;
	}
	return alpha || dash;
}

/* domain-spec = macro-string domain-end */
static bool domain_spec(struct span s)
{
	bool last_macro;
	const char *end = s.end, *dot;

	if (s.p >= s.end || !macro_string(s, false, &last_macro))
		return false;
	if (last_macro)
		return true;
	if (end[-1] == '.')
		end--;			/* "." toplabel [ "." ] */
	for (dot = end; dot > s.p && dot[-1] != '.'; dot--)
		;
	if (dot == s.p)
		return false;		/* no "." before the toplabel */
	return toplabel(dot, end);
}

/* "/" cidr with no leading zero, at most max; p after the slash. */
static bool cidr(const char *p, const char *end, unsigned max)
{
	unsigned v = 0;

	if (p >= end || (p[0] == '0' && end - p > 1))
		return false;
	for (; p < end; p++) {
		if (!isdigit((unsigned char)*p))
			return false;
		v = v * 10 + (unsigned)(*p - '0');
		if (v > max)
			return false;
	}
	return true;
}

/* Peel a trailing "/N" or "//N" off s (dual-cidr-length). */
static bool peel_cidr(struct span *s, bool six)
{
	const char *q = s->end;

	while (q > s->p && isdigit((unsigned char)q[-1]))
		q--;
	if (q == s->end || q == s->p || q[-1] != '/')
		return true;	/* nothing to peel */
	if (six) {
		if (q - s->p < 2 || q[-2] != '/')
			return true;
		if (!cidr(q, s->end, 128))
			return false;
		s->end = q - 2;
	} else {
		if (q - s->p >= 2 && q[-2] == '/')
			return true;	/* that is the ip6 one */
		if (!cidr(q, s->end, 32))
			return false;
		s->end = q - 1;
	}
	return true;
}

static bool ip4_network(const char *p, const char *end)
{
	for (int i = 0; i < 4; i++) {
		const char *q = p;
		unsigned v = 0;

		while (q < end && isdigit((unsigned char)*q) && q - p < 4)
			v = v * 10 + (unsigned)(*q++ - '0');
		if (q == p || q - p > 3 || v > 255 || (p[0] == '0' && q - p > 1))
			return false;
		p = q;
		if (i < 3) {
			if (p >= end || *p != '.')
				return false;
			p++;
		}
	}
	return p == end;
}

static bool ip6_network(const char *p, const char *end)
{
	char buf[INET6_ADDRSTRLEN + 1];
	struct in6_addr a;

	if (end - p <= 0 || (size_t)(end - p) >= sizeof(buf))
		return false;
	memcpy(buf, p, (size_t)(end - p));
	buf[end - p] = '\0';
	return inet_pton(AF_INET6, buf, &a) == 1;
}

static int term_valid(struct span t, int *nredirect, int *nexp, char *err, size_t errlen)
{
	const char *p = t.p, *q;
	struct span name, arg;
	bool dummy;

	for (q = t.p; q < t.end; q++) {
		if ((unsigned char)*q < 0x21 || (unsigned char)*q > 0x7e) {
			snprintf(err, errlen, "invalid character in the record");
			return -1;
		}
	}
	/* A modifier: name "=" ... (name = ALPHA *(ALPHA / DIGIT / - / _ / .)). */
	for (q = p; q < t.end && (isalnum((unsigned char)*q) || strchr("-_.", *q)); q++)
		;
	if (q < t.end && *q == '=') {
		name = (struct span){ p, q };
		arg = (struct span){ q + 1, t.end };
		if (q == p || !isalpha((unsigned char)*p)) {
			snprintf(err, errlen, "invalid modifier name");
			return -1;
		}
		if (span_eq(name, "redirect") || span_eq(name, "exp")) {
			int *n = span_eq(name, "exp") ? nexp : nredirect;

			if (++*n > 1) {
				snprintf(err, errlen, "%s= given twice", span_eq(name, "exp") ? "exp" : "redirect");
				return -1;
			}
			if (!domain_spec(arg)) {
				snprintf(err, errlen, "invalid domain in %s=", span_eq(name, "exp") ? "exp" : "redirect");
				return -1;
			}
			return 0;
		}
		if (!macro_string(arg, true, &dummy)) {
			snprintf(err, errlen, "invalid macro in a modifier");
			return -1;
		}
		return 0;
	}
	if (strchr("+-?~", *p))
		p++;
	for (q = p; q < t.end && *q != ':' && *q != '/'; q++)
		;
	name = (struct span){ p, q };
	arg = (struct span){ q, t.end };
	if (span_eq(name, "all")) {
		if (arg.p != arg.end)
			goto bad_arg;
		return 0;
	}
	if (span_eq(name, "include") || span_eq(name, "exists")) {
		if (arg.p >= arg.end || *arg.p != ':')
			goto bad_arg;
		arg.p++;
		if (!domain_spec(arg))
			goto bad_domain;
		return 0;
	}
	if (span_eq(name, "a") || span_eq(name, "mx") || span_eq(name, "ptr")) {
		if (!span_eq(name, "ptr") && (!peel_cidr(&arg, true) || !peel_cidr(&arg, false))) {
			snprintf(err, errlen, "invalid CIDR length");
			return -1;
		}
		if (arg.p == arg.end)
			return 0;
		if (*arg.p != ':')
			goto bad_arg;
		arg.p++;
		if (!domain_spec(arg))
			goto bad_domain;
		return 0;
	}
	if (span_eq(name, "ip4") || span_eq(name, "ip6")) {
		bool six = span_eq(name, "ip6");

		if (arg.p >= arg.end || *arg.p != ':')
			goto bad_arg;
		arg.p++;
		for (q = arg.p; q < arg.end && *q != '/'; q++)
			;
		if (!(six ? ip6_network(arg.p, q) : ip4_network(arg.p, q))) {
			snprintf(err, errlen, "invalid %s address", six ? "ip6" : "ip4");
			return -1;
		}
		if (q < arg.end && !cidr(q + 1, arg.end, six ? 128 : 32)) {
			snprintf(err, errlen, "invalid CIDR length");
			return -1;
		}
		return 0;
	}
	snprintf(err, errlen, "unknown mechanism \"%.*s\"",
		 (int)(name.end - name.p > 32 ? 32 : name.end - name.p), name.p);
	return -1;
bad_arg:
	snprintf(err, errlen, "invalid argument to %.*s", (int)(name.end - name.p), name.p);
	return -1;
bad_domain:
	snprintf(err, errlen, "invalid domain in %.*s", (int)(name.end - name.p), name.p);
	return -1;
}

int hm_spf_record_valid(const char *record, size_t len, char *err, size_t errlen)
{
	const char *p = record + 6, *end = record + len;
	int nredirect = 0, nexp = 0;

	if (len < 6 || strncasecmp(record, "v=spf1", 6) != 0 || (len > 6 && record[6] != ' ')) {
		snprintf(err, errlen, "not an SPF version 1 record");
		return -1;
	}
	while (p < end) {
		struct span t;

		if (*p != ' ') {
			snprintf(err, errlen, "invalid character in the record");
			return -1;
		}
		if (!next_term(&p, end, &t))
			break;
		if (term_valid(t, &nredirect, &nexp, err, errlen) < 0)
			return -1;
	}
	return 0;
}
