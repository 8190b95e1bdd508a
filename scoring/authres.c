/*
 * authres.c - format and recognise Authentication-Results headers.
 *
 * Grammar (RFC 8601 §2.2): authserv-id *( ";" method "=" result [reason]
 * *propspec ), a value being an RFC 2045 token or quoted-string, or for an
 * identity an address; comments in parentheses.  Everything we write comes
 * from the wire (domains, addresses, selectors), so each value is checked
 * against the token / address syntax and quoted otherwise, and bytes that
 * may not appear in a header at all are replaced by '?'.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scoring/authres.h"

/* RFC 2045 tspecials. */
static bool is_tspecial(int c)
{
	return c != 0 && strchr("()<>@,;:\\\"/[]?=", c) != NULL;
}

static bool is_token(const char *s)
{
	if (*s == '\0')
		return false;
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c <= 0x20 || c >= 0x7f || is_tspecial(c))
			return false;
	}
	return true;
}

/* RFC 5322 atext. */
static bool is_atext(int c)
{
	return isalnum(c) || (c != 0 && strchr("!#$%&'*+-/=?^_`{|}~", c) != NULL);
}

static bool is_dot_atom(const char *s, size_t n)
{
	if (n == 0 || s[0] == '.' || s[n - 1] == '.')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (c == '.' ? s[i + 1] == '.' : !is_atext(c))
			return false;
	}
	return true;
}

static bool is_domain_name(const char *s)
{
	size_t n = strlen(s);

	if (n == 0 || s[0] == '.' || s[0] == '-')
		return false;
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];

		if (!isalnum(c) && c != '-' && c != '.' && c != '_')
			return false;
		if (c == '.' && s[i + 1] == '.')
			return false;
	}
	return true;
}

/* local-part@domain with a dot-atom local part, or a bare domain. */
static bool is_plain_address(const char *s)
{
	const char *at = strrchr(s, '@');

	if (at == NULL)
		return is_domain_name(s);
	return (at == s || is_dot_atom(s, (size_t)(at - s))) && is_domain_name(at + 1);
}

static int add_quoted(struct hm_strbuf *out, const char *s)
{
	hm_strbuf_puts(out, "\"");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			hm_strbuf_add(out, esc, 2);
		} else {
			char ch = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
			hm_strbuf_add(out, &ch, 1);
		}
	}
	return hm_strbuf_puts(out, "\"");
}

/* A property value: bare when the grammar allows it, quoted otherwise. */
static int add_value(struct hm_strbuf *out, const char *s, bool address)
{
	if (is_token(s) || (address && is_plain_address(s)))
		return hm_strbuf_puts(out, s);
	return add_quoted(out, s);
}

static int add_comment(struct hm_strbuf *out, const char *s)
{
	hm_strbuf_puts(out, " (");
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '(' || c == ')' || c == '\\') {
			char esc[2] = { '\\', (char)c };
			hm_strbuf_add(out, esc, 2);
		} else {
			char ch = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
			hm_strbuf_add(out, &ch, 1);
		}
	}
	return hm_strbuf_puts(out, ")");
}

static void add_prop(struct hm_strbuf *out, const char *ptype_prop, const char *value,
		     bool address)
{
	if (value == NULL || *value == '\0')
		return;
	hm_strbuf_printf(out, " %s=", ptype_prop);
	add_value(out, value, address);
}

static void add_reason(struct hm_strbuf *out, const char *reason)
{
	if (reason == NULL || *reason == '\0')
		return;
	hm_strbuf_puts(out, " reason=");
	add_quoted(out, reason);
}

/* Each result goes on a line of its own: ";\n\t" folds the header. */
static void begin_result(struct hm_strbuf *out)
{
	hm_strbuf_puts(out, ";\n\t");
}

static void format_spf(struct hm_strbuf *out, const struct hm_spf_outcome *spf)
{
	begin_result(out);
	hm_strbuf_printf(out, "spf=%s", hm_spf_result_name(spf->result));
	/* The result says it all but for errors, where the cause helps. */
	if (spf->result == HM_SPF_TEMPERROR || spf->result == HM_SPF_PERMERROR)
		add_reason(out, spf->reason);
	if (spf->helo_identity)
		add_prop(out, "smtp.helo", spf->identity, true);
	else
		add_prop(out, "smtp.mailfrom", spf->identity, true);
}

static void format_dkim(struct hm_strbuf *out, const struct hm_dkim_outcome *dkim)
{
	if (dkim->nsigs == 0) {
		begin_result(out);
		hm_strbuf_puts(out, "dkim=none");
		return;
	}
	for (size_t i = 0; i < dkim->nsigs && i < HM_DKIM_MAX_SIGS; i++) {
		const struct hm_dkim_sig *sig = &dkim->sigs[i];

		begin_result(out);
		hm_strbuf_printf(out, "dkim=%s", hm_dkim_result_name(sig->result));
		add_reason(out, sig->reason);
		add_prop(out, "header.d", sig->domain, true);
		/* i= defaults to "@" d=: worth showing only when it says more. */
		if (!(sig->identity[0] == '@' && strcasecmp(sig->identity + 1, sig->domain) == 0))
			add_prop(out, "header.i", sig->identity, true);
		add_prop(out, "header.s", sig->selector, false);
		add_prop(out, "header.a", sig->algorithm, false);
		add_prop(out, "header.b", sig->b, false);
	}
}

static void format_dmarc(struct hm_strbuf *out, const struct hm_dmarc_outcome *dmarc)
{
	begin_result(out);
	hm_strbuf_printf(out, "dmarc=%s", hm_dmarc_result_name(dmarc->result));
	if (dmarc->policy != HM_DMARC_POLICY_UNSET) {
		char comment[64];

		snprintf(comment, sizeof(comment), "p=%s dis=%s",
			 hm_dmarc_policy_name(dmarc->policy),
			 hm_dmarc_policy_name(dmarc->disposition == HM_DMARC_POLICY_UNSET
					      ? HM_DMARC_POLICY_NONE : dmarc->disposition));
		add_comment(out, comment);
	}
	add_reason(out, dmarc->reason);
	add_prop(out, "header.from", dmarc->from_domain, true);
}

int hm_authres_format(struct hm_strbuf *out, const struct hm_authres_input *in)
{
	add_value(out, in->authserv_id, true);
	if (in->spf == NULL && in->dkim == NULL && in->dmarc == NULL) {
		hm_strbuf_puts(out, "; none");
		return out->failed ? -1 : 0;
	}
	if (in->spf)
		format_spf(out, in->spf);
	if (in->dkim)
		format_dkim(out, in->dkim);
	if (in->dmarc)
		format_dmarc(out, in->dmarc);
	return out->failed ? -1 : 0;
}

/* Skip folding white space and (nested) comments. */
static const char *skip_cfws(const char *p)
{
	for (;;) {
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			p++;
		if (*p != '(')
			return p;
		int depth = 0;
		do {
			if (*p == '\\' && p[1])
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			p++;
		} while (*p && depth > 0);
	}
}

int hm_authres_authserv_id(const char *value, char *out, size_t outlen)
{
	const char *p = skip_cfws(value);
	size_t o = 0;

	if (outlen == 0)
		return -1;
	if (*p == '"') {
		for (p++; *p && *p != '"'; p++) {
			if (*p == '\\' && p[1])
				p++;
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p;
		}
		if (*p != '"')
			return -1;
	} else {
		/* A token; '@' and '/' are tolerated since real ids contain them. */
		for (; *p && *p != ';' && *p != '(' && !isspace((unsigned char)*p); p++) {
			if (o + 1 >= outlen)
				return -1;
			out[o++] = *p;
		}
	}
	out[o] = '\0';
	return o > 0 ? 0 : -1;
}

bool hm_authres_is_ours(const char *value, const char *authserv_id)
{
	char id[256];

	return hm_authres_authserv_id(value, id, sizeof(id)) == 0 &&
	       strcasecmp(id, authserv_id) == 0;
}
