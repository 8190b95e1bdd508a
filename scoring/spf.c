/*
 * spf.c - SPF (RFC 7208) with libspf2 evaluating records and our resolver
 * answering its queries.
 *
 * libspf2 interprets a compiled record; everything around it is ours:
 *
 *  - Record lookup (the top-level one and those of include/redirect, through
 *    the layer's get_spf hook): TXT only (type 99 is never asked), the
 *    strings of a TXT record joined, records other than "v=spf1" followed
 *    by a space or the end ignored, several records a permerror, the text
 *    checked against the RFC 7208 ABNF before libspf2 compiles it (libspf2
 *    answers neutral for many malformed records, and a record it cannot
 *    compile becomes a permerror here).
 *
 *  - A custom SPF_dns_server_t layer whose lookup() asks hm_dns_lookup()
 *    and counts, per check, what RFC 7208 4.6.4 limits: DNS-querying terms
 *    (libspf2 restarts its count inside every include), void lookups
 *    (libspf2 has no such limit), MX names (more than 10: permerror) and
 *    PTR names (more than 10: the rest ignored, where libspf2 gives
 *    permerror).  A limit hit stops the evaluation: the layer records the
 *    verdict and answers TRY_AGAIN to everything after, and the verdict
 *    replaces whatever libspf2 concludes.
 *
 *  - Valid records libspf2 mishandles are rewritten before it compiles them
 *    (spf-record.c): unknown modifiers it refuses, redirect= it evaluates in
 *    place rather than last, CIDR lengths of 0 it refuses.  An "a" or "mx"
 *    with a CIDR length of 0 for the client's address family (RFC 7208
 *    5.3, 5.4: any address of that family matches, as long as the name
 *    has one) cannot be written in a form libspf2 accepts: its target name
 *    gets our marker suffix instead, and the DNS layer answers an address
 *    lookup of a marked name that has addresses of the family with the
 *    client's own address, which libspf2 then matches at full length.
 *
 *  - PTR trouble: a failed PTR lookup, or a failed address lookup of one of
 *    its names, makes the name not match (RFC 7208 5.5) instead of
 *    libspf2's temperror.
 *
 *  - The top-level call: libspf2's SPF_request_query_mailfrom() passes any
 *    loopback client unchecked, so we fetch the record and call
 *    SPF_record_interpret() ourselves.
 *
 * The state of a check lives in a thread-local variable: the layer's hooks
 * get no per-call argument of ours, and a check runs in one thread from
 * start to end.  The SPF_server_t itself is read-only during checks.
 * Explanations (exp=) are never fetched: nothing of ours uses them, and
 * RFC 7208 6.2 lets a receiver skip them.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include <sys/random.h>

#include <spf2/spf.h>
#include <spf2/spf_dns.h>

#include "scoring/spf.h"
#include "scoring/spf-record.h"

#define MAX_DNS_TERMS 10	/* RFC 7208 4.6.4 */
#define MAX_VOID 2
#define MAX_MX 10
#define MAX_PTR 10
#define CHECK_TIME_LIMIT 20	/* seconds for a whole check (RFC 7208 4.6.4) */

/*
 * The marker of a /0 target name: random per process, so that no name in
 * a record or a DNS answer can carry it by accident or on purpose.
 */
#define MARKER_MAX 32

struct hm_spf {
	struct hm_dns *dns;
	SPF_server_t *server;
	SPF_dns_server_t layer;
	char marker[MARKER_MAX];	/* ".cidr0-<16 hex digits>" */
};

/* The state of the check running in this thread. */
struct check {
	int terms, voids;
	/* Names from the last MX or PTR answer, looked up next by libspf2. */
	char sub[MAX_PTR > MAX_MX ? MAX_PTR : MAX_MX][HM_DOMAIN_MAX];
	int nsub, subnext;
	bool sub_ptr;
	bool sub_any;			/* they came from a /0 "mx" */
	/* The client's address, the answer to a marked lookup that matches. */
	struct in_addr a4;
	struct in6_addr a6;
	/* A verdict that ends the check (a limit, the time limit). */
	bool v6;			/* the client is IPv6 */
	bool stopped;
	enum hm_spf_result verdict;
	char reason[HM_REASON_MAX];	/* first trouble seen */
	time_t deadline;
};

static _Thread_local struct check *cur;

/* Keep the first trouble of a check as its reason. */
static void __attribute__((format(printf, 2, 3)))
note(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

/* A verdict that ends the check, whatever libspf2 makes of it. */
static void stop(struct check *c, enum hm_spf_result verdict, const char *reason)
{
	if (c->stopped)
		return;
	c->stopped = true;
	c->verdict = verdict;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
}

/* --- names ----------------------------------------------------------- */

/*
 * A name DNS can carry: labels of 1-63 bytes, 253 in all, an optional
 * final dot.  With fqdn, also at least two labels of letters, digits,
 * '-' and '_' (what an identity's domain must look like, RFC 7208 4.3).
 */
static bool name_ok(const char *name, bool fqdn)
{
	size_t len = strlen(name), label = 0, labels = 0;

	if (len > 0 && name[len - 1] == '.')
		len--;
	if (len == 0 || len > 253)
		return false;
	for (size_t i = 0; i <= len; i++) {
		if (i == len || name[i] == '.') {
			if (label == 0 || label > 63)
				return false;
			labels++;
			label = 0;
			continue;
		}
		if (fqdn && !isalnum((unsigned char)name[i]) && name[i] != '-' &&
		    name[i] != '_')
			return false;
		label++;
	}
	return !fqdn || labels >= 2;
}

/* --- the DNS layer --------------------------------------------------- */

static SPF_dns_rr_t *make_rr(SPF_dns_server_t *srv, const char *name, ns_type type,
			     int herrno)
{
	return SPF_dns_rr_new_init(srv, name, type, 0, herrno);
}

static int herrno_of(enum hm_dns_status st)
{
	switch (st) {
	case HM_DNS_OK:
		return NETDB_SUCCESS;
	case HM_DNS_NXDOMAIN:
		return HOST_NOT_FOUND;
	case HM_DNS_NODATA:
		return NO_DATA;
	default:
		return TRY_AGAIN;
	}
}

/*
 * Copy the records of an answer into a libspf2 RR set; 0 or -1 (memory).
 * MX names get marker appended (NULL: none), c->sub[] keeps them bare.
 */
static int fill_rr(struct check *c, SPF_dns_rr_t *rr, const struct hm_dns_answer *ans,
		   ns_type type, const char *marker)
{
	int n = 0;

	for (size_t i = 0; i < ans->count; i++) {
		const unsigned char *d = ans->data[i];
		size_t len = ans->len[i];
		char name[HM_DOMAIN_MAX];
		unsigned pref;

		switch (type) {
		case ns_t_a:
			if (len != 4)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, n, sizeof(SPF_dns_rr_data_t)) != SPF_E_SUCCESS)
				return -1;
			memcpy(&rr->rr[n]->a, d, 4);
			break;
		case ns_t_aaaa:
			if (len != 16)
				continue;
			if (SPF_dns_rr_buf_realloc(rr, n, sizeof(SPF_dns_rr_data_t)) != SPF_E_SUCCESS)
				return -1;
			memcpy(&rr->rr[n]->aaaa, d, 16);
			break;
		case ns_t_mx:
		case ns_t_ptr:
			if (type == ns_t_mx ? hm_dns_mx(d, len, &pref, name, sizeof(name)) < 0
					    : hm_dns_name(d, len, name, sizeof(name)) < 0)
				continue;
			/* RFC 7208 4.6.4: only the first 10 PTR names count. */
			if (type == ns_t_ptr && n >= MAX_PTR)
				continue;
			if (marker == NULL)
				marker = "";
			if (SPF_dns_rr_buf_realloc(rr, n, strlen(name) + strlen(marker) + 1) !=
			    SPF_E_SUCCESS)
				return -1;
			strcpy(rr->rr[n]->ptr, name);
			strcat(rr->rr[n]->ptr, marker);
			if (c && n < (int)(sizeof(c->sub) / sizeof(c->sub[0]))) {
				snprintf(c->sub[n], sizeof(c->sub[n]), "%s", name);
				c->nsub = n + 1;
			}
			break;
		default:
			continue;
		}
		n++;
	}
	rr->num_rr = n;
	return 0;
}

/*
 * A name carrying the /0 marker (see the top): the bare name in bare, and
 * true.  Only libspf2 puts the marker there, from our rewritten record.
 */
static bool strip_marker(const struct hm_spf *spf, const char *domain, char *bare,
			 size_t barelen)
{
	size_t dl = strlen(domain), ml = strlen(spf->marker);

	if (ml == 0 || dl <= ml || dl - ml >= barelen ||
	    strcasecmp(domain + dl - ml, spf->marker) != 0)
		return false;
	memcpy(bare, domain, dl - ml);
	bare[dl - ml] = '\0';
	return true;
}

/*
 * The address records of a /0 target stand for "any address of this
 * family": one record, the client's own address, or none.
 */
static void any_address(const struct check *c, SPF_dns_rr_t *rr, ns_type type)
{
	if (rr->num_rr == 0)
		return;
	if (type == ns_t_a)
		rr->rr[0]->a = c->a4;
	else
		rr->rr[0]->aaaa = c->a6;
	rr->num_rr = 1;
}

static SPF_dns_rr_t *layer_lookup(SPF_dns_server_t *srv, const char *domain,
				  ns_type type, int should_cache)
{
	struct hm_spf *spf = srv->hook;
	struct check *c = cur;
	struct hm_dns_answer *ans = NULL;
	enum hm_dns_status st;
	bool term = false, sub_of_ptr = false, any = false;
	char bare[HM_DOMAIN_MAX + 8];
	SPF_dns_rr_t *rr;

	(void)should_cache;
	if (type != ns_t_a && type != ns_t_aaaa && type != ns_t_mx && type != ns_t_ptr)
		return make_rr(srv, domain, type, NO_DATA);	/* TXT is get_spf's */
	if (c && type != ns_t_ptr && strip_marker(spf, domain, bare, sizeof(bare))) {
		any = true;
		domain = bare;
	}
	if (c) {
		if (c->stopped)
			return make_rr(srv, domain, type, TRY_AGAIN);
		if (time(NULL) > c->deadline) {
			stop(c, HM_SPF_TEMPERROR, "time limit exceeded");
			return make_rr(srv, domain, type, TRY_AGAIN);
		}
		/*
		 * An address lookup of the next name of an MX/PTR answer is part
		 * of that term; anything else starts a term.  Only a term's own
		 * query counts as a void lookup (RFC 7208 4.6.4 limits "terms"
		 * whose lookups are void): an "mx" or "a" whose target name does
		 * not exist is one, an MX host that does not exist is not (it is
		 * bounded by the 10 MX names already).
		 */
		if ((type == ns_t_a || type == ns_t_aaaa) && c->subnext < c->nsub &&
		    any == (c->sub_any && !c->sub_ptr) &&
		    strcasecmp(domain, c->sub[c->subnext]) == 0) {
			c->subnext++;
			sub_of_ptr = c->sub_ptr;
		} else {
			c->nsub = c->subnext = 0;
			term = true;
			if (++c->terms > MAX_DNS_TERMS) {
				stop(c, HM_SPF_PERMERROR, "too many DNS lookups");
				return make_rr(srv, domain, type, TRY_AGAIN);
			}
		}
	}
	/* A target that is no DNS name does not exist (RFC 7208 4.8). */
	if (!name_ok(domain, false)) {
		st = HM_DNS_NXDOMAIN;
	} else {
		st = hm_dns_lookup_kind(spf->dns, HM_DNS_KIND_SPF, domain, type, &ans);
	}
	if (st == HM_DNS_TEMPFAIL && (type == ns_t_ptr || sub_of_ptr))
		st = HM_DNS_NXDOMAIN;	/* RFC 7208 5.5: no match, not an error */
	if (c && st == HM_DNS_TEMPFAIL)
		note(c, "DNS failure looking up %.120s", domain);
	if (c && term && (st == HM_DNS_NXDOMAIN || st == HM_DNS_NODATA ||
			  (st == HM_DNS_OK && ans->count == 0)) &&
	    ++c->voids > MAX_VOID) {
		hm_dns_answer_free(&ans);
		stop(c, HM_SPF_PERMERROR, "too many void DNS lookups");
		return make_rr(srv, domain, type, TRY_AGAIN);
	}
	if (c && st == HM_DNS_OK && type == ns_t_mx && ans->count > MAX_MX) {
		hm_dns_answer_free(&ans);
		stop(c, HM_SPF_PERMERROR, "more than 10 MX names");
		return make_rr(srv, domain, type, TRY_AGAIN);
	}
	rr = make_rr(srv, domain, type, herrno_of(st));
	if (rr && st == HM_DNS_OK) {
		/* The names of this answer (fill_rr()) are the ones looked up
		 * next; an address answer, of one of those names, leaves the
		 * rest of them to come. */
		if (c && (type == ns_t_mx || type == ns_t_ptr)) {
			c->nsub = c->subnext = 0;
			c->sub_ptr = type == ns_t_ptr;
			c->sub_any = any;
		}
		if (fill_rr(type == ns_t_mx || type == ns_t_ptr ? c : NULL, rr, ans, type,
			    any && type == ns_t_mx ? spf->marker : NULL) < 0) {
			SPF_dns_rr_free(rr);
			rr = make_rr(srv, domain, type, TRY_AGAIN);
		} else if (any && type != ns_t_mx) {
			any_address(c, rr, type);
		}
	}
	hm_dns_answer_free(&ans);
	return rr;
}

/* --- record lookup --------------------------------------------------- */

enum fetch { FETCH_OK, FETCH_NONE, FETCH_TEMPFAIL, FETCH_PERMERROR };

/*
 * The SPF record of domain, compiled, in *rec_r (FETCH_OK); otherwise why
 * not, with the reason noted in the check.
 */
static enum fetch fetch_record(struct hm_spf *spf, struct check *c, const char *domain,
			       SPF_response_t *resp, SPF_record_t **rec_r)
{
	struct hm_dns_answer *ans = NULL;
	enum hm_dns_status st;
	char *text = NULL, *libtext = NULL, why[HM_REASON_MAX];
	size_t textlen = 0;
	int found = 0;
	enum fetch ret = FETCH_NONE;
	SPF_errcode_t err;

	*rec_r = NULL;
	if (!name_ok(domain, false)) {
		note(c, "%.120s: not a domain name", domain);
		return FETCH_NONE;
	}
	st = hm_dns_lookup_kind(spf->dns, HM_DNS_KIND_SPF, domain, HM_DNS_TXT, &ans);
	if (st == HM_DNS_TEMPFAIL) {
		note(c, "DNS failure looking up %.120s", domain);
		hm_dns_answer_free(&ans);
		return FETCH_TEMPFAIL;
	}
	for (size_t i = 0; st == HM_DNS_OK && i < ans->count; i++) {
		const unsigned char *d = ans->data[i];
		size_t len = ans->len[i], strings = 0, want;
		char *t = malloc(len + 1);

		if (t == NULL)
			goto oom;
		for (size_t j = 0; j < len; j += (size_t)d[j] + 1)
			strings++;
		if (hm_dns_txt(d, len, t, len + 1) < 0) {
			free(t);
			continue;
		}
		want = len - strings;
		/*
		 * RFC 7208 4.5: a record is SPF when it begins with "v=spf1"
		 * followed by a space or its end.  A NUL byte is neither: a
		 * record with one at or before that point is not an SPF
		 * record and is ignored like any other TXT.  A NUL byte after
		 * "v=spf1 " is in an SPF record, and is a syntax error there
		 * (3: the record is US-ASCII text; 12: no term has one), so
		 * the record is a permerror (4.6), as for any other invalid
		 * character; the RFC 7208 test suite (a-null) agrees.  Cutting
		 * the text at the NUL instead would evaluate a record that is
		 * not what the domain published.
		 */
		if (strncasecmp(t, "v=spf1", 6) != 0 || (t[6] != ' ' && want != 6)) {
			free(t);
			continue;	/* not SPF, or another version */
		}
		found++;
		free(text);
		text = t;
		textlen = want;
	}
	hm_dns_answer_free(&ans);
	if (found == 0) {
		note(c, "%.120s: no SPF record", domain);
		return FETCH_NONE;
	}
	if (found > 1) {
		note(c, "%.120s: several SPF records", domain);
		ret = FETCH_PERMERROR;
	} else if (strlen(text) != textlen) {
		note(c, "%.120s: NUL byte in the SPF record", domain);
		ret = FETCH_PERMERROR;
	} else if (textlen > HM_SPF_RECORD_MAX) {
		note(c, "%.120s: SPF record too long", domain);
		ret = FETCH_PERMERROR;
	} else if (hm_spf_record_valid(text, textlen, why, sizeof(why)) < 0) {
		note(c, "%.80s: %.70s", domain, why);
		ret = FETCH_PERMERROR;
	} else if ((libtext = malloc(HM_SPF_REWRITE_SIZE(textlen, spf->marker))) == NULL) {
		note(c, "out of memory");
		ret = FETCH_TEMPFAIL;
	} else if (hm_spf_rewrite(text, textlen, c->v6, spf->marker, libtext),
		   (err = SPF_record_compile(spf->server, resp, rec_r, libtext)) != SPF_E_SUCCESS) {
		if (*rec_r) {
			SPF_record_free(*rec_r);
			*rec_r = NULL;
		}
		note(c, "%.80s: %.70s", domain, SPF_strerror(err));
		ret = err == SPF_E_NO_MEMORY ? FETCH_TEMPFAIL : FETCH_PERMERROR;
	} else {
		ret = FETCH_OK;
	}
	free(text);
	free(libtext);
	return ret;
oom:
	free(text);
	hm_dns_answer_free(&ans);
	note(c, "out of memory");
	return FETCH_TEMPFAIL;
}

/* get_spf hook: the record of an include or redirect target. */
static SPF_errcode_t layer_get_spf(SPF_server_t *server, SPF_request_t *req,
				   SPF_response_t *resp, SPF_record_t **rec_r)
{
	struct check *c = cur;
	struct hm_spf *spf = server->resolver->hook;
	struct check none = { .deadline = 0 };

	*rec_r = NULL;
	if (c == NULL)
		c = &none;
	else if (c->stopped)
		return SPF_E_DNS_ERROR;
	c->nsub = c->subnext = 0;
	if (c != &none && ++c->terms > MAX_DNS_TERMS) {
		stop(c, HM_SPF_PERMERROR, "too many DNS lookups");
		return SPF_E_DNS_ERROR;
	}
	switch (fetch_record(spf, c, req->cur_dom, resp, rec_r)) {
	case FETCH_OK:
		return SPF_E_SUCCESS;
	case FETCH_TEMPFAIL:
		return SPF_E_DNS_ERROR;		/* libspf2: temperror */
	case FETCH_NONE:
		return SPF_E_NOT_SPF;		/* libspf2: permerror */
	default:
		return SPF_E_SYNTAX;		/* libspf2: permerror */
	}
}

/* get_exp hook: explanations are not fetched (see the top). */
static SPF_errcode_t layer_get_exp(SPF_server_t *server, const char *domain,
				   char **buf, size_t *buflen)
{
	static const char text[] = "explanation not fetched";
	char *p;

	(void)server;
	(void)domain;
	if (*buflen < sizeof(text)) {
		if ((p = realloc(*buf, sizeof(text))) == NULL)
			return SPF_E_NO_MEMORY;
		*buf = p;
		*buflen = sizeof(text);
	}
	memcpy(*buf, text, sizeof(text));
	return SPF_E_SUCCESS;
}

/* libspf2's warnings about records are ours to report, not its to print. */
static void spf_quiet(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

/* The /0 marker (see the top): unguessable, so no record can forge it. */
static void make_marker(char *out, size_t outlen)
{
	unsigned long long r;

	if (getrandom(&r, sizeof(r), GRND_NONBLOCK) != (ssize_t)sizeof(r)) {
		struct timespec ts;

		clock_gettime(CLOCK_MONOTONIC, &ts);
		r = (unsigned long long)ts.tv_nsec * 2654435761u ^ (unsigned long long)ts.tv_sec;
	}
	snprintf(out, outlen, ".cidr0-%016llx", r);
}

int hm_spf_new(struct hm_dns *dns, const char *receiver, struct hm_spf **spf_r,
	       char *err, size_t errlen)
{
	struct hm_spf *spf = calloc(1, sizeof(*spf));

	*spf_r = NULL;
	if (spf == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	SPF_warning_handler = spf_quiet;
	SPF_info_handler = spf_quiet;
	SPF_debug_handler = spf_quiet;
	spf->dns = dns;
	make_marker(spf->marker, sizeof(spf->marker));
	spf->layer.destroy = NULL;	/* embedded: SPF_server_free() leaves it */
	spf->layer.lookup = layer_lookup;
	spf->layer.get_spf = layer_get_spf;
	spf->layer.get_exp = layer_get_exp;
	spf->layer.layer_below = NULL;
	spf->layer.name = "hosterra";
	spf->layer.hook = spf;
	if ((spf->server = SPF_server_new_dns(&spf->layer, 0)) == NULL) {
		snprintf(err, errlen, "cannot create the SPF server");
		free(spf);
		return -1;
	}
	if (receiver && SPF_server_set_rec_dom(spf->server, receiver) != SPF_E_SUCCESS) {
		snprintf(err, errlen, "out of memory");
		hm_spf_free(&spf);
		return -1;
	}
	*spf_r = spf;
	return 0;
}

void hm_spf_free(struct hm_spf **spfp)
{
	struct hm_spf *spf = *spfp;

	if (spf == NULL)
		return;
	if (spf->server)
		SPF_server_free(spf->server);
	free(spf);
	*spfp = NULL;
}

/* --- the check ------------------------------------------------------- */

/*
 * Split the MAIL FROM argument into local-part and domain (RFC 7208 4.3):
 * brackets and a source route dropped, "postmaster" for a missing
 * local-part.  false for the null sender.  A part that does not fit comes
 * back empty (a local-part is at most 64 bytes, a domain 253).
 */
static bool parse_sender(const char *mail_from, char *local, size_t locallen,
			 char *domain, size_t domlen)
{
	char buf[HM_ADDR_MAX];
	char *p = buf, *at;
	const char *lp = "postmaster", *dp;
	size_t n;

	if (mail_from == NULL)
		return false;
	while (*mail_from == ' ')
		mail_from++;
	snprintf(buf, sizeof(buf), "%s", mail_from);
	n = strlen(p);
	while (n > 0 && p[n - 1] == ' ')
		p[--n] = '\0';
	if (*p == '<') {
		p++;
		n--;
		if (n > 0 && p[n - 1] == '>')
			p[--n] = '\0';
	}
	if (*p == '@' && (at = strchr(p, ':')) != NULL)
		p = at + 1;	/* <@relay,@relay:user@domain> */
	if (*p == '\0')
		return false;
	if ((at = strrchr(p, '@')) == NULL) {
		dp = p;
	} else {
		*at = '\0';
		if (*p)
			lp = p;
		dp = at + 1;
	}
	local[0] = domain[0] = '\0';
	if (strlen(lp) < locallen)
		memcpy(local, lp, strlen(lp) + 1);
	if (strlen(dp) < domlen)
		memcpy(domain, dp, strlen(dp) + 1);
	return true;
}

static void finish(struct hm_spf_outcome *out, enum hm_spf_result r, const char *reason)
{
	out->result = r;
	if (out->reason[0] == '\0')
		snprintf(out->reason, sizeof(out->reason), "%s", reason);
}

static enum hm_spf_result map_result(SPF_result_t r)
{
	switch (r) {
	case SPF_RESULT_PASS:
		return HM_SPF_PASS;
	case SPF_RESULT_FAIL:
		return HM_SPF_FAIL;
	case SPF_RESULT_SOFTFAIL:
		return HM_SPF_SOFTFAIL;
	case SPF_RESULT_NEUTRAL:
		return HM_SPF_NEUTRAL;
	case SPF_RESULT_NONE:
		return HM_SPF_NONE;
	case SPF_RESULT_TEMPERROR:
		return HM_SPF_TEMPERROR;
	default:
		return HM_SPF_PERMERROR;
	}
}

int hm_spf_check(struct hm_spf *spf, const char *client_ip, const char *helo,
		 const char *mail_from, struct hm_spf_outcome *out)
{
	char local[240], domain[HM_DOMAIN_MAX], sender[HM_ADDR_MAX];
	struct in_addr a4 = { 0 };
	struct in6_addr a6 = IN6ADDR_ANY_INIT;
	bool v6 = false;
	struct check *c;
	SPF_request_t *req = NULL;
	SPF_response_t *resp = NULL;
	SPF_record_t *rec = NULL;
	int rc = 0;

	memset(out, 0, sizeof(*out));
	if (helo == NULL)
		helo = "";
	if (parse_sender(mail_from, local, sizeof(local), domain, sizeof(domain))) {
		snprintf(out->identity, sizeof(out->identity), "%s@%s", local, domain);
	} else {
		out->helo_identity = true;
		snprintf(local, sizeof(local), "postmaster");
		if (strlen(helo) < sizeof(domain))
			memcpy(domain, helo, strlen(helo) + 1);
		else
			domain[0] = '\0';
		snprintf(out->identity, sizeof(out->identity), "%s", helo);
	}
	snprintf(sender, sizeof(sender), "%s@%s", local, domain);
	snprintf(out->domain, sizeof(out->domain), "%s", domain);
	{
		size_t n = strlen(domain);

		if (n > 0 && domain[n - 1] == '.')
			domain[n - 1] = '\0';	/* the record is the same */
	}
	if (local[0] == '\0' || !name_ok(domain, true)) {
		finish(out, HM_SPF_NONE, "not a valid domain name");
		return 0;
	}
	if (client_ip == NULL || inet_pton(AF_INET, client_ip, &a4) != 1) {
		if (client_ip == NULL || inet_pton(AF_INET6, client_ip, &a6) != 1) {
			finish(out, HM_SPF_NONE, "client address is not an IP address");
			return 0;
		}
		if (IN6_IS_ADDR_V4MAPPED(&a6))
			memcpy(&a4, &a6.s6_addr[12], 4);	/* RFC 7208 5/9/2 */
		else
			v6 = true;
	}
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		finish(out, HM_SPF_TEMPERROR, "out of memory");
		return -1;
	}
	c->v6 = v6;
	c->a4 = a4;
	c->a6 = a6;
	c->deadline = time(NULL) + CHECK_TIME_LIMIT;
	cur = c;

	if ((req = SPF_request_new(spf->server)) == NULL ||
	    (v6 ? SPF_request_set_ipv6(req, a6) : SPF_request_set_ipv4(req, a4)) != SPF_E_SUCCESS ||
	    SPF_request_set_helo_dom(req, *helo ? helo : "unknown") != SPF_E_SUCCESS ||
	    SPF_request_set_env_from(req, sender) != SPF_E_SUCCESS ||
	    (resp = SPF_response_new(req)) == NULL) {
		finish(out, HM_SPF_TEMPERROR, "out of memory");
		rc = -1;
		goto done;
	}
	req->use_helo = out->helo_identity;
	req->cur_dom = domain;
	switch (fetch_record(spf, c, domain, resp, &rec)) {
	case FETCH_NONE:
		finish(out, HM_SPF_NONE, c->reason);
		goto done;
	case FETCH_TEMPFAIL:
		finish(out, HM_SPF_TEMPERROR, c->reason);
		goto done;
	case FETCH_PERMERROR:
		finish(out, HM_SPF_PERMERROR, c->reason);
		goto done;
	case FETCH_OK:
		break;
	}
	c->reason[0] = '\0';	/* "no record" of the top domain is past */
	resp->spf_record_exp = rec;
	SPF_record_interpret(rec, req, resp, 0);
	if (c->stopped) {
		finish(out, c->verdict, c->reason);
	} else {
		enum hm_spf_result r = map_result(SPF_response_result(resp));

		switch (r) {
		case HM_SPF_PASS:
			finish(out, r, "sender IP authorized");
			break;
		case HM_SPF_FAIL:
		case HM_SPF_SOFTFAIL:
			finish(out, r, "sender IP not authorized");
			break;
		case HM_SPF_NEUTRAL:
			finish(out, r, "no assertion about sender IP");
			break;
		case HM_SPF_TEMPERROR:
			finish(out, r, c->reason[0] ? c->reason : "DNS failure");
			break;
		default:
			finish(out, r, c->reason[0] ? c->reason
				   : SPF_strerror(SPF_response_errcode(resp)));
			break;
		}
	}
done:
	if (rec)
		SPF_record_free(rec);
	if (resp)
		SPF_response_free(resp);
	if (req)
		SPF_request_free(req);
	cur = NULL;
	free(c);
	return rc;
}
