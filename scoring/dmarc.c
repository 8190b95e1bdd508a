/*
 * dmarc.c - DMARC evaluation (RFC 7489) around libopendmarc (see dmarc.h).
 *
 * Division of work, and why (measured on Debian 12's libopendmarc 1.4.2):
 *
 * - Policy discovery (RFC 7489 6.6.3) is ours: TXT lookups through the one
 *   resolver (libopendmarc's own query uses the libc resolver, so it is
 *   never called, nor are fetch_rua/fetch_ruf, which query DNS too).
 *   Every lookup a message may need, _dmarc of each From domain and of
 *   its organizational domain, starts at once before any is waited for:
 *   a message waits at most one DNS time-out, not one per From domain and
 *   level.  The organizational domain's record is fetched whether or not
 *   the From domain has one of its own (one query more, mostly answered
 *   from the cache, as all of an organization's subdomains share it) and
 *   only used when it has none, as 6.6.3 says.
 * - The organizational domain (3.2) and identifier alignment (3.1) are
 *   ours, from our own copy of the Public Suffix List (psl.c).
 *   libopendmarc reads the PSL file format directly (no conversion needed)
 *   into one global table, but its lookup ignores case ("EXAMPLE.COM" has no org domain),
 *   gets wildcard rules wrong (x.y.ck gives y.ck, a public suffix), returns
 *   nothing for names under unlisted TLDs, and its alignment test calls
 *   a.co.uk and b.co.uk aligned even in strict mode, and example.com
 *   aligned with d=com in relaxed mode.
 * - libopendmarc parses the record (p, sp, pct, adkim, aspf) and picks the
 *   policy (p, or sp for a subdomain) with opendmarc_get_policy_to_enforce().
 *   We hand it the SPF and DKIM results already judged: an aligned passing
 *   identifier as the From domain itself (which its test cannot misjudge),
 *   anything else as not passing.  libopendmarc has no softfail / neutral
 *   inputs either; only an aligned SPF pass counts (RFC 7489 4.2), and the
 *   A-R reports our own SPF result, not the library's.
 * - pct= is applied here (the library ignores it).
 *
 * Global state in libopendmarc: opendmarc_policy_library_init() copies its
 * argument into a static without a lock and (with a TLD file) swaps a global
 * hash table, freeing the one from two loads ago.  We call it once per
 * process (pthread_once) without a TLD file and never touch the TLD table,
 * so a config reload (new hm_dmarc, new PSL) changes no library state.
 * Per-message DMARC_POLICY_T contexts are private to the calling thread.
 */
#include "config.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>

#include <opendmarc/dmarc.h>

#include "scoring/dmarc.h"
#include "scoring/psl.h"

#define RECORD_MAX 2048		/* a DMARC record we evaluate */

struct hm_dmarc {
	struct hm_dns *dns;
	struct hm_psl *psl;
	unsigned (*sample)(void *arg);
	void *sample_arg;
};

/* ---- Creation ---- */

static pthread_once_t lib_once = PTHREAD_ONCE_INIT;
static int lib_status;

static void lib_init(void)
{
	OPENDMARC_LIB_T lib;

	memset(&lib, 0, sizeof(lib));
	lib.tld_type = OPENDMARC_TLD_TYPE_NONE;	/* no global TLD table: see the top */
	lib_status = opendmarc_policy_library_init(&lib);
}

static unsigned default_sample(void *arg)
{
	uint32_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) != (ssize_t)sizeof(v)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		v = (uint32_t)ts.tv_nsec ^ (uint32_t)ts.tv_sec;
	}
	return v % 100;
}

int hm_dmarc_new(struct hm_dns *dns, const char *psl_path, struct hm_dmarc **dmarc_r,
		 char *err, size_t errlen)
{
	struct hm_dmarc *d;

	*dmarc_r = NULL;
	if (pthread_once(&lib_once, lib_init) != 0 || lib_status != DMARC_PARSE_OKAY) {
		snprintf(err, errlen, "libopendmarc initialisation failed");
		return -1;
	}
	if ((d = calloc(1, sizeof(*d))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	d->dns = dns;
	d->sample = default_sample;
	if (hm_psl_load(psl_path ? psl_path : HM_PSL_DEFAULT, &d->psl, err, errlen) < 0) {
		hm_dmarc_free(&d);
		return -1;
	}
	*dmarc_r = d;
	return 0;
}

void hm_dmarc_free(struct hm_dmarc **dmarc)
{
	if (*dmarc == NULL)
		return;
	hm_psl_free(&(*dmarc)->psl);
	free(*dmarc);
	*dmarc = NULL;
}

int hm_dmarc_org_domain(const struct hm_dmarc *d, const char *domain, char *out, size_t outlen)
{
	return hm_psl_org_domain(d->psl, domain, out, outlen);
}

void hm_dmarc_set_sampler(struct hm_dmarc *d, unsigned (*fn)(void *arg), void *arg)
{
	d->sample = fn ? fn : default_sample;
	d->sample_arg = arg;
}

/* ---- Policy discovery (RFC 7489 6.6.3) ---- */

enum rec_status { REC_FOUND, REC_NONE, REC_MULTI, REC_TEMP };

/* A TXT record that is a DMARC record: starts with v=DMARC1 (6.4). */
static bool is_dmarc_record(const char *s)
{
	if (*s != 'v' && *s != 'V')
		return false;
	s++;
	while (*s == ' ' || *s == '\t')
		s++;
	if (*s++ != '=')
		return false;
	while (*s == ' ' || *s == '\t')
		s++;
	if (strncmp(s, "DMARC1", 6) != 0)
		return false;
	s += 6;
	while (*s == ' ' || *s == '\t')
		s++;
	return *s == ';' || *s == '\0';
}

/* The status of an answer to a _dmarc TXT query, and its one record. */
static enum rec_status read_answer(enum hm_dns_status st, const struct hm_dns_answer *ans,
				   char *rec, size_t reclen)
{
	char txt[RECORD_MAX];
	size_t found = 0;

	switch (st) {
	case HM_DNS_OK:
		break;
	case HM_DNS_NXDOMAIN:
	case HM_DNS_NODATA:
		return REC_NONE;
	default:
		return REC_TEMP;
	}
	for (size_t i = 0; i < ans->count; i++) {
		if (hm_dns_txt(ans->data[i], ans->len[i], txt, sizeof(txt)) < 0 ||
		    !is_dmarc_record(txt))
			continue;
		if (found++ == 0)
			snprintf(rec, reclen, "%s", txt);
	}
	return found == 0 ? REC_NONE : found == 1 ? REC_FOUND : REC_MULTI;
}

/* The _dmarc lookups of one message (see the top). */
struct lookup {
	const char *domain;		/* whose record; points into the caller's data */
	struct hm_dns_query *q;
	bool started;
	enum rec_status st;
	char rec[RECORD_MAX];
};

struct lookups {
	struct lookup l[2 * HM_DMARC_MAX_DOMAINS];
	size_t n;
};

/* Start the lookup of domain's record, unless it is under way already. */
static void lookup_start(struct hm_dmarc *d, struct lookups *ls, const char *domain)
{
	char name[HM_DOMAIN_MAX + 8];
	struct lookup *l;
	int w;

	for (size_t i = 0; i < ls->n; i++)
		if (strcasecmp(ls->l[i].domain, domain) == 0)
			return;
	if (ls->n == sizeof(ls->l) / sizeof(ls->l[0]))
		return;		/* cannot happen: two per From domain at most */
	l = &ls->l[ls->n++];
	l->domain = domain;
	l->st = REC_NONE;
	w = snprintf(name, sizeof(name), "_dmarc.%s", domain);
	if (w < 0 || (size_t)w >= sizeof(name) || strlen(name) > 253)
		return;		/* a name that cannot exist: no record */
	/* NULL (out of memory) is waited for as a failure: temperror. */
	l->q = hm_dns_start_kind(d->dns, HM_DNS_KIND_DMARC, name, HM_DNS_TXT);
	l->started = true;
}

/* Wait for every lookup started; each waits until its own deadline at most. */
static void lookups_finish(struct hm_dmarc *d, struct lookups *ls)
{
	for (size_t i = 0; i < ls->n; i++) {
		struct lookup *l = &ls->l[i];
		struct hm_dns_answer *ans = NULL;
		enum hm_dns_status st;

		if (!l->started)
			continue;
		st = hm_dns_wait(d->dns, l->q, &ans);
		l->q = NULL;
		l->started = false;
		l->st = ans ? read_answer(st, ans, l->rec, sizeof(l->rec)) : REC_TEMP;
		hm_dns_answer_free(&ans);
	}
}

/* The outcome of the lookup of domain's record (started and finished). */
static enum rec_status fetch_record(const struct lookups *ls, const char *domain,
				    char *rec, size_t reclen)
{
	for (size_t i = 0; i < ls->n; i++) {
		if (strcasecmp(ls->l[i].domain, domain) != 0)
			continue;
		if (ls->l[i].st == REC_FOUND)
			snprintf(rec, reclen, "%s", ls->l[i].rec);
		return ls->l[i].st;
	}
	return REC_TEMP;	/* never started: cannot happen */
}

/* ---- Alignment (RFC 7489 3.1) ---- */

static bool aligned(const struct hm_dmarc *d, const char *id_domain, const char *from_domain,
		    const char *from_org, bool strict)
{
	char id[HM_DOMAIN_MAX], org[HM_DOMAIN_MAX];

	if (id_domain == NULL || *id_domain == '\0')
		return false;
	snprintf(id, sizeof(id), "%s", id_domain);
	hm_domain_lower(id);
	if (strcmp(id, from_domain) == 0)
		return true;
	if (strict)
		return false;
	return hm_dmarc_org_domain(d, id, org, sizeof(org)) == 0 && strcmp(org, from_org) == 0;
}

/* The domain SPF evaluated: its domain field, else the identity's domain. */
static const char *spf_domain(const struct hm_spf_outcome *spf)
{
	const char *at;

	if (spf->domain[0] != '\0')
		return spf->domain;
	at = strrchr(spf->identity, '@');
	return at ? at + 1 : spf->identity;
}

struct align {
	bool spf, dkim;			/* an aligned identifier passed */
	bool temp;			/* an aligned identifier's check failed temporarily */
	const struct hm_dkim_sig *dkim_sig;
};

static void check_alignment(const struct hm_dmarc *d, const struct hm_spf_outcome *spf,
			    const struct hm_dkim_outcome *dkim, const char *from,
			    const char *org, bool spf_strict, bool dkim_strict, struct align *a)
{
	memset(a, 0, sizeof(*a));
	if (spf != NULL && aligned(d, spf_domain(spf), from, org, spf_strict)) {
		a->spf = spf->result == HM_SPF_PASS;
		a->temp = spf->result == HM_SPF_TEMPERROR;
	}
	for (size_t i = 0; dkim != NULL && i < dkim->nsigs && i < HM_DKIM_MAX_SIGS; i++) {
		const struct hm_dkim_sig *s = &dkim->sigs[i];

		if (!aligned(d, s->domain, from, org, dkim_strict))
			continue;
		if (s->result == HM_DKIM_PASS && !a->dkim) {
			a->dkim = true;
			a->dkim_sig = s;
		}
		if (s->result == HM_DKIM_TEMPERROR)
			a->temp = true;
	}
}

/* ---- Evaluation of one From domain ---- */

/* The reason is a short detail: truncating a long domain in it is fine. */
static void set_reason(struct hm_dmarc_outcome *out, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void set_reason(struct hm_dmarc_outcome *out, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(out->reason, sizeof(out->reason), fmt, ap);
	va_end(ap);
}

static enum hm_dmarc_policy map_p(int p)
{
	switch (p) {
	case DMARC_RECORD_P_NONE:
		return HM_DMARC_POLICY_NONE;
	case DMARC_RECORD_P_QUARANTINE:
		return HM_DMARC_POLICY_QUARANTINE;
	case DMARC_RECORD_P_REJECT:
		return HM_DMARC_POLICY_REJECT;
	default:
		return HM_DMARC_POLICY_UNSET;
	}
}

static bool valid_alignment_mode(const char *v, size_t n)
{
	return n == 1 && (*v == 'r' || *v == 's' || *v == 'R' || *v == 'S');
}

static bool valid_pct(const char *v, size_t n)
{
	unsigned x = 0;

	if (n == 0 || n > 3)
		return false;
	for (size_t i = 0; i < n; i++) {
		if (v[i] < '0' || v[i] > '9')
			return false;
		x = x * 10 + (unsigned)(v[i] - '0');
	}
	return x <= 100;
}

/*
 * The record with the tags we evaluate, for libopendmarc to parse.  Tags
 * with invalid values other than p and sp are dropped, so their defaults
 * apply (RFC 7489 6.3: "syntax errors in the remainder of the record
 * SHOULD be discarded in favor of default values"); libopendmarc would
 * refuse the whole record instead.  Report-only tags (rua, ruf, fo, rf, ri)
 * and unknown ones (np, from later drafts) are left out; has_rua says
 * whether a reporting URI was there (6.6.3 step 6).
 */
static int canonical_record(const char *rec, char *out, size_t outlen, bool *has_rua)
{
	size_t o = 0;
	const char *s = rec;

	*has_rua = false;
	o = (size_t)snprintf(out, outlen, "v=DMARC1");
	while (*s != '\0') {
		const char *end = strchr(s, ';'), *eq;
		const char *tag = s, *val;
		size_t tlen, vlen;

		if (end == NULL)
			end = s + strlen(s);
		eq = memchr(s, '=', (size_t)(end - s));
		s = *end ? end + 1 : end;
		if (eq == NULL)
			continue;
		while (tag < eq && (*tag == ' ' || *tag == '\t'))
			tag++;
		tlen = (size_t)(eq - tag);
		while (tlen > 0 && (tag[tlen - 1] == ' ' || tag[tlen - 1] == '\t'))
			tlen--;
		val = eq + 1;
		while (val < end && (*val == ' ' || *val == '\t'))
			val++;
		vlen = (size_t)(end - val);
		while (vlen > 0 && (val[vlen - 1] == ' ' || val[vlen - 1] == '\t'))
			vlen--;

		bool keep;

		if ((tlen == 1 && strncasecmp(tag, "p", 1) == 0) ||
		    (tlen == 2 && strncasecmp(tag, "sp", 2) == 0))
			keep = true;
		else if (tlen == 5 && strncasecmp(tag, "adkim", 5) == 0)
			keep = valid_alignment_mode(val, vlen);
		else if (tlen == 4 && strncasecmp(tag, "aspf", 4) == 0)
			keep = valid_alignment_mode(val, vlen);
		else if (tlen == 3 && strncasecmp(tag, "pct", 3) == 0)
			keep = valid_pct(val, vlen);
		else {
			if (tlen == 3 && strncasecmp(tag, "rua", 3) == 0 && vlen > 0)
				*has_rua = true;
			keep = false;
		}
		if (!keep)
			continue;
		int w = snprintf(out + o, outlen - o, "; %.*s=%.*s", (int)tlen, tag, (int)vlen, val);

		if (w < 0 || (size_t)w >= outlen - o)
			return -1;
		o += (size_t)w;
	}
	return 0;
}

static const char *parse_error_text(int status)
{
	switch (status) {
	case DMARC_PARSE_ERROR_BAD_VALUE:
		return "invalid p= or sp= value";
	case DMARC_PARSE_ERROR_NO_REQUIRED_P:
		return "no p= tag";
	case DMARC_PARSE_ERROR_BAD_VERSION:
		return "bad v= tag";
	default:
		return "record does not parse";
	}
}

static int ip_is_v6(const char *ip)
{
	return strchr(ip, ':') != NULL;
}

/* Store the record; 0, a libopendmarc parse status > 0, or -1 (no memory). */
static int store_record(DMARC_POLICY_T *pctx, const char *rec, const char *from,
			const char *org_or_null)
{
	int st = opendmarc_policy_store_dmarc(pctx, (u_char *)rec, (u_char *)from,
					      (u_char *)org_or_null);

	return st == DMARC_PARSE_ERROR_NO_ALLOC ? -1 : st;
}

/* A From domain we evaluate at all (else permerror, no lookup). */
static bool from_domain_ok(const char *from)
{
	return hm_domain_valid(from) && from[strlen(from) - 1] != '.';
}

static int eval_domain(struct hm_dmarc *d, const struct lookups *ls, const char *ip,
		       const char *from, const struct hm_spf_outcome *spf,
		       const struct hm_dkim_outcome *dkim, struct hm_dmarc_outcome *out)
{
	char rec[RECORD_MAX], canon[RECORD_MAX];
	const char *policy_domain = from;
	bool sub = false, has_rua, strict_spf, strict_dkim;
	struct align al;
	DMARC_POLICY_T *pctx;
	int st, p = 0, sp = 0, pct = 100, adkim = 0, aspf = 0;

	memset(out, 0, sizeof(*out));
	snprintf(out->from_domain, sizeof(out->from_domain), "%s", from);
	if (!from_domain_ok(from)) {
		out->result = HM_DMARC_PERMERROR;
		set_reason(out, "From domain is not a domain name");
		return 0;
	}
	if (hm_dmarc_org_domain(d, from, out->org_domain, sizeof(out->org_domain)) < 0)
		snprintf(out->org_domain, sizeof(out->org_domain), "%s", from);
	/* Without a record, alignment is still reported (relaxed, the default). */
	check_alignment(d, spf, dkim, from, out->org_domain, false, false, &al);
	out->spf_aligned = al.spf;
	out->dkim_aligned = al.dkim;

	enum rec_status rs = fetch_record(ls, from, rec, sizeof(rec));

	if (rs == REC_NONE && strcmp(out->org_domain, from) != 0) {
		policy_domain = out->org_domain;
		sub = true;
		rs = fetch_record(ls, policy_domain, rec, sizeof(rec));
	}
	switch (rs) {
	case REC_TEMP:
		out->result = HM_DMARC_TEMPERROR;
		set_reason(out, "DNS error looking up _dmarc.%s",
			 policy_domain);
		return 0;
	case REC_MULTI:
		/* 6.6.3 step 5: several records end policy discovery. */
		out->result = HM_DMARC_NONE;
		set_reason(out, "several DMARC records at _dmarc.%s",
			 policy_domain);
		return 0;
	case REC_NONE:
		out->result = HM_DMARC_NONE;
		set_reason(out, "no DMARC record");
		return 0;
	case REC_FOUND:
		break;
	}

	if (canonical_record(rec, canon, sizeof(canon), &has_rua) < 0) {
		out->result = HM_DMARC_PERMERROR;
		set_reason(out, "DMARC record too long");
		return 0;
	}
	if ((pctx = opendmarc_policy_connect_init((u_char *)(ip ? ip : "0.0.0.0"),
						  ip ? ip_is_v6(ip) : 0)) == NULL)
		return -1;
	if (opendmarc_policy_store_from_domain(pctx, (u_char *)from) != DMARC_PARSE_OKAY)
		goto internal;
	st = store_record(pctx, canon, from, sub ? out->org_domain : NULL);
	if (st < 0)
		goto internal;
	if (st != DMARC_PARSE_OKAY) {
		if (!has_rua) {
			/*
			 * 6.6.3 step 6: no valid p= and no report address means no
			 * DMARC processing; we report it as permerror, the A-R
			 * result for "a syntactically incorrect DMARC record"
			 * (RFC 7489 11.2), so the operator sees the broken record.
			 */
			out->result = HM_DMARC_PERMERROR;
			set_reason(out, "invalid DMARC record at _dmarc.%s: %s",
				 policy_domain, parse_error_text(st));
			opendmarc_policy_connect_shutdown(pctx);
			return 0;
		}
		/* ... with a report address: act as if p=none (step 6). */
		opendmarc_policy_connect_rset(pctx);
		if (opendmarc_policy_store_from_domain(pctx, (u_char *)from) != DMARC_PARSE_OKAY ||
		    store_record(pctx, "v=DMARC1; p=none", from, sub ? out->org_domain : NULL) != 0)
			goto internal;
		set_reason(out, "%s, taken as p=none", parse_error_text(st));
	}
	opendmarc_policy_fetch_p(pctx, &p);
	opendmarc_policy_fetch_sp(pctx, &sp);
	opendmarc_policy_fetch_pct(pctx, &pct);
	opendmarc_policy_fetch_adkim(pctx, &adkim);
	opendmarc_policy_fetch_aspf(pctx, &aspf);
	strict_spf = aspf == DMARC_RECORD_A_STRICT;
	strict_dkim = adkim == DMARC_RECORD_A_STRICT;
	check_alignment(d, spf, dkim, from, out->org_domain, strict_spf, strict_dkim, &al);
	out->spf_aligned = al.spf;
	out->dkim_aligned = al.dkim;

	/* Judged inputs: an aligned pass under the From domain itself. */
	if (al.spf) {
		st = opendmarc_policy_store_spf(pctx, (u_char *)from, DMARC_POLICY_SPF_OUTCOME_PASS,
						spf->helo_identity ? DMARC_POLICY_SPF_ORIGIN_HELO
								   : DMARC_POLICY_SPF_ORIGIN_MAILFROM,
						NULL);
		if (st != DMARC_PARSE_OKAY)
			goto internal;
	}
	if (al.dkim) {
		st = opendmarc_policy_store_dkim(pctx, (u_char *)from,
						 (u_char *)al.dkim_sig->selector,
						 DMARC_POLICY_DKIM_OUTCOME_PASS, NULL);
		if (st != DMARC_PARSE_OKAY)
			goto internal;
	}
	st = opendmarc_get_policy_to_enforce(pctx);
	out->policy = map_p(opendmarc_get_policy_token_used(pctx) == DMARC_USED_POLICY_IS_SP
			    ? sp : p);
	opendmarc_policy_connect_shutdown(pctx);
	pctx = NULL;

	switch (st) {
	case DMARC_POLICY_PASS:
		out->result = HM_DMARC_PASS;
		out->disposition = HM_DMARC_POLICY_NONE;
		return 0;
	case DMARC_POLICY_REJECT:
	case DMARC_POLICY_QUARANTINE:
	case DMARC_POLICY_NONE:
		break;
	default:
		return -1;	/* cannot happen with a stored record */
	}
	out->result = HM_DMARC_FAIL;
	out->disposition = st == DMARC_POLICY_REJECT ? HM_DMARC_POLICY_REJECT
			 : st == DMARC_POLICY_QUARANTINE ? HM_DMARC_POLICY_QUARANTINE
			 : HM_DMARC_POLICY_NONE;
	/*
	 * An aligned identifier whose check failed temporarily might pass
	 * later: temperror, not a fail that could reject (DESIGN 4: a DNS
	 * error is never a reason to reject).
	 */
	if (al.temp) {
		out->result = HM_DMARC_TEMPERROR;
		out->disposition = HM_DMARC_POLICY_NONE;
		set_reason(out, "aligned SPF or DKIM check failed temporarily");
		return 0;
	}
	/* pct= (6.6.4, 6.3): the messages sampled out get the next policy down. */
	if (out->disposition != HM_DMARC_POLICY_NONE && pct < 100 &&
	    d->sample(d->sample_arg) % 100 >= (unsigned)pct) {
		out->disposition = out->disposition == HM_DMARC_POLICY_REJECT
				   ? HM_DMARC_POLICY_QUARANTINE : HM_DMARC_POLICY_NONE;
		set_reason(out, "sampled out by pct=%d", pct);
	}
	return 0;
internal:
	opendmarc_policy_connect_shutdown(pctx);
	return -1;
}

/* ---- Several From addresses ---- */

/* Higher is more severe; ties keep the first domain. */
static int severity(const struct hm_dmarc_outcome *o)
{
	switch (o->result) {
	case HM_DMARC_FAIL:
		return 4 + (int)o->disposition;		/* 5 none .. 7 reject */
	case HM_DMARC_TEMPERROR:
		return 3;
	case HM_DMARC_PERMERROR:
		return 2;
	case HM_DMARC_NONE:
		return 1;
	default:
		return 0;
	}
}

int hm_dmarc_check(struct hm_dmarc *d, const char *client_ip,
		   const struct hm_from_list *from, const struct hm_spf_outcome *spf,
		   const struct hm_dkim_outcome *dkim, struct hm_dmarc_outcome *out)
{
	const char *domains[HM_DMARC_MAX_DOMAINS];
	char orgs[HM_DMARC_MAX_DOMAINS][HM_DOMAIN_MAX];
	struct lookups *ls;
	size_t n = 0;

	memset(out, 0, sizeof(*out));
	/*
	 * No From, or one we cannot read: RFC 5322 requires exactly one From
	 * field and RFC 7489 6.6.1 has no Author Domain to evaluate.  That is
	 * permanent (the message will not grow a From), so permerror with the
	 * reason, never none: "none" would read as "the domain publishes no
	 * policy".  A From we could not parse may be the one a reader sees, so
	 * a bad value spoils the whole evaluation even when another parsed.
	 */
	if (from == NULL || from->bad || from->count == 0 || from->overflow) {
		out->result = HM_DMARC_PERMERROR;
		set_reason(out, "%s",
			 from != NULL && from->bad ? "From header does not parse"
			 : from != NULL && from->overflow ? "too many From addresses"
			 : "no From address");
		return 0;
	}
	for (size_t i = 0; i < from->count; i++) {
		size_t j;

		for (j = 0; j < n; j++)
			if (strcmp(domains[j], from->addrs[i].domain) == 0)
				break;
		if (j < n)
			continue;
		if (n == HM_DMARC_MAX_DOMAINS) {
			out->result = HM_DMARC_PERMERROR;
			set_reason(out, "too many From domains");
			return 0;
		}
		domains[n++] = from->addrs[i].domain;
	}
	/*
	 * Several addresses of one domain are evaluated once.  Different
	 * domains: RFC 7489 6.6.1 says to apply the check to each of them as
	 * the Author Domain and take the strictest policy among those that
	 * fail.  We do that and report the most severe outcome (fail with
	 * the strictest disposition, then temperror, permerror, none, pass),
	 * so adding a second, passing author never hides a failing one.
	 */
	if ((ls = calloc(1, sizeof(*ls))) == NULL)
		return -1;
	for (size_t i = 0; i < n; i++) {
		if (!from_domain_ok(domains[i]))
			continue;
		if (hm_dmarc_org_domain(d, domains[i], orgs[i], sizeof(orgs[i])) < 0)
			snprintf(orgs[i], sizeof(orgs[i]), "%s", domains[i]);
		lookup_start(d, ls, domains[i]);
		if (strcmp(orgs[i], domains[i]) != 0)
			lookup_start(d, ls, orgs[i]);
	}
	lookups_finish(d, ls);
	for (size_t i = 0; i < n; i++) {
		struct hm_dmarc_outcome o;

		if (eval_domain(d, ls, client_ip, domains[i], spf, dkim, &o) < 0) {
			free(ls);
			return -1;
		}
		if (i == 0 || severity(&o) > severity(out))
			*out = o;
	}
	free(ls);
	if (n > 1) {
		size_t len = strlen(out->reason);

		snprintf(out->reason + len, sizeof(out->reason) - len, "%s%zu From domains",
			 len ? "; " : "", n);
	}
	return 0;
}
