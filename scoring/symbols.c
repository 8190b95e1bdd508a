/*
 * symbols.c - the built-in symbols with their default weights, and the
 * per-message list of fired symbols.
 *
 * The defaults are chosen so that fully authenticated mail (SPF, DKIM and
 * DMARC pass) from a clean client scores well under the default tag
 * threshold of 8, and a DMARC p=reject failure from a client that is on a
 * blocklist and has no PTR scores over the default reject threshold of 15.
 * A temporary error weighs nothing: DNS trouble must never push mail over
 * a threshold.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "scoring/symbols.h"

const struct hm_symdef hm_symdefs[HM_SYM_COUNT] = {
	[HM_SYM_SPF_PASS] = { "SPF_PASS", -1.0, "SPF: the client may send for the sender's domain" },
	[HM_SYM_SPF_FAIL] = { "SPF_FAIL", 3.0, "SPF: the sender's domain says the client may not send for it" },
	[HM_SYM_SPF_SOFTFAIL] = { "SPF_SOFTFAIL", 1.5, "SPF: probably not allowed (~all)" },
	[HM_SYM_SPF_NEUTRAL] = { "SPF_NEUTRAL", 0.5, "SPF: the domain makes no assertion (?all)" },
	[HM_SYM_SPF_NONE] = { "SPF_NONE", 1.0, "SPF: the sender's domain publishes no record" },
	[HM_SYM_SPF_TEMPERROR] = { "SPF_TEMPERROR", 0.0, "SPF: DNS failure, try later" },
	[HM_SYM_SPF_PERMERROR] = { "SPF_PERMERROR", 1.0, "SPF: the domain's record is broken" },
	[HM_SYM_DKIM_VALID] = { "DKIM_VALID", -1.0, "DKIM: at least one valid signature" },
	[HM_SYM_DKIM_INVALID] = { "DKIM_INVALID", 2.0, "DKIM: signatures, none valid, at least one failed" },
	[HM_SYM_DKIM_NONE] = { "DKIM_NONE", 0.5, "DKIM: the message is not signed" },
	[HM_SYM_DKIM_TEMPERROR] = { "DKIM_TEMPERROR", 0.0, "DKIM: key lookup failed, try later" },
	[HM_SYM_DKIM_PERMERROR] = { "DKIM_PERMERROR", 1.0, "DKIM: no key, revoked key or unusable signature" },
	[HM_SYM_DMARC_PASS] = { "DMARC_PASS", -1.5, "DMARC: aligned SPF or DKIM pass" },
	[HM_SYM_DMARC_FAIL_REJECT] = { "DMARC_FAIL_REJECT", 6.0, "DMARC: failed, the domain asks to reject" },
	[HM_SYM_DMARC_FAIL_QUARANTINE] = { "DMARC_FAIL_QUARANTINE", 4.0, "DMARC: failed, the domain asks to quarantine" },
	[HM_SYM_DMARC_FAIL_NONE] = { "DMARC_FAIL_NONE", 1.0, "DMARC: failed, the domain only monitors (p=none)" },
	[HM_SYM_DMARC_NONE] = { "DMARC_NONE", 0.5, "DMARC: the From domain publishes no policy" },
	[HM_SYM_DMARC_TEMPERROR] = { "DMARC_TEMPERROR", 0.0, "DMARC: DNS failure, try later" },
	[HM_SYM_DMARC_PERMERROR] = { "DMARC_PERMERROR", 1.0, "DMARC: broken record, or From missing or unusable" },
	[HM_SYM_RDNS_NONE] = { "RDNS_NONE", 2.0, "the client IP has no PTR record" },
	[HM_SYM_RDNS_MISMATCH] = { "RDNS_MISMATCH", 1.0, "no PTR name of the client resolves back to its IP" },
	[HM_SYM_RDNS_TEMPERROR] = { "RDNS_TEMPERROR", 0.0, "reverse DNS lookup failed, try later" },
	[HM_SYM_HELO_NOT_FQDN] = { "HELO_NOT_FQDN", 1.5, "HELO name is not a fully qualified domain name" },
	[HM_SYM_HELO_BARE_IP] = { "HELO_BARE_IP", 2.0, "HELO is a bare IP address, not an [address literal]" },
	[HM_SYM_HELO_FORGED_OURS] = { "HELO_FORGED_OURS", 5.0, "HELO claims one of our own names or addresses" },
	[HM_SYM_MISSING_DATE] = { "MISSING_DATE", 1.5, "no Date header" },
	[HM_SYM_MISSING_MESSAGE_ID] = { "MISSING_MESSAGE_ID", 1.0, "no Message-ID header" },
	[HM_SYM_MISSING_FROM] = { "MISSING_FROM", 3.0, "no From header" },
	[HM_SYM_MULTIPLE_FROM] = { "MULTIPLE_FROM", 2.0, "several From addresses or headers" },
	[HM_SYM_DATE_IN_PAST] = { "DATE_IN_PAST", 1.5, "Date more than 7 days in the past" },
	[HM_SYM_DATE_IN_FUTURE] = { "DATE_IN_FUTURE", 2.0, "Date more than 1 day in the future" },
	[HM_SYM_DNSBL_TEMPERROR] = { "DNSBL_TEMPERROR", 0.0, "a DNSBL lookup failed, try later" },
	/* The classifier computes these symbols' points; the weight is a factor on them. */
	[HM_SYM_CONTENT_SPAM] = { "CONTENT_SPAM", 1.0, "the content classifier leans spam (factor on its points, detail p=probability)" },
	[HM_SYM_CONTENT_HAM] = { "CONTENT_HAM", 1.0, "the content classifier leans ham (factor on its points, detail p=probability)" },
};

int hm_sym_by_name(const char *name)
{
	for (int i = 0; i < HM_SYM_COUNT; i++)
		if (strcasecmp(hm_symdefs[i].name, name) == 0)
			return i;
	return -1;
}

void hm_weights_default(struct hm_weights *w)
{
	for (int i = 0; i < HM_SYM_COUNT; i++)
		w->w[i] = hm_symdefs[i].weight;
}

void hm_symbols_add(struct hm_symbols *s, const char *name, double weight, const char *detail)
{
	struct hm_fired *f;

	if (s->count == HM_FIRED_MAX) {
		s->dropped++;
		s->dropped_weight += weight;
		return;
	}
	f = &s->fired[s->count++];
	snprintf(f->name, sizeof(f->name), "%s", name);
	f->weight = weight;
	snprintf(f->detail, sizeof(f->detail), "%s", detail ? detail : "");
}

void hm_symbols_fire(struct hm_symbols *s, const struct hm_weights *w, enum hm_sym sym,
		     const char *detail)
{
	if ((unsigned)sym >= HM_SYM_COUNT)
		return;
	hm_symbols_add(s, hm_symdefs[sym].name, w->w[sym], detail);
}

bool hm_symbols_has(const struct hm_symbols *s, const char *name)
{
	for (size_t i = 0; i < s->count; i++)
		if (strcasecmp(s->fired[i].name, name) == 0)
			return true;
	return false;
}

double hm_symbols_score(const struct hm_symbols *s)
{
	double sum = s->dropped_weight;

	for (size_t i = 0; i < s->count; i++)
		sum += s->fired[i].weight;
	return sum;
}

int hm_symbols_format(const struct hm_symbols *s, struct hm_strbuf *out)
{
	for (size_t i = 0; i < s->count; i++)
		hm_strbuf_printf(out, "%s%s(%.2f)", i ? "," : "", s->fired[i].name, s->fired[i].weight);
	if (s->dropped)
		hm_strbuf_printf(out, "%s+%zu_MORE(%.2f)", s->count ? "," : "", s->dropped,
				 s->dropped_weight);
	return out->failed ? -1 : 0;
}
