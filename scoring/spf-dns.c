/*
 * spf-dns.c - the SPF check's DNS side (see spf.c for the whole picture):
 * the SPF_dns_server_t layer libspf2 sends every query to, answering from
 * our resolver while counting what RFC 7208 4.6.4 limits and standing in
 * for the /0 marker names, and the lookup of a domain's SPF record, checked
 * and rewritten (spf-record.c) before libspf2 compiles it.
 */
#include "config.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "scoring/spf-int.h"
#include "scoring/spf-record.h"

/* --- names ----------------------------------------------------------- */

/*
 * A name DNS can carry: labels of 1-63 bytes, 253 in all, an optional
 * final dot.  With fqdn, also at least two labels of letters, digits,
 * '-' and '_' (what an identity's domain must look like, RFC 7208 4.3).
 */
bool spf_name_ok(const char *name, bool fqdn)
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

SPF_dns_rr_t *spf_layer_lookup(SPF_dns_server_t *srv, const char *domain,
			       ns_type type, int should_cache)
{
	struct hm_spf *spf = srv->hook;
	struct check *c = spf_cur;
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
			spf_stop(c, HM_SPF_TEMPERROR, "time limit exceeded");
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
				spf_stop(c, HM_SPF_PERMERROR, "too many DNS lookups");
				return make_rr(srv, domain, type, TRY_AGAIN);
			}
		}
	}
	/* A target that is no DNS name does not exist (RFC 7208 4.8). */
	if (!spf_name_ok(domain, false)) {
		st = HM_DNS_NXDOMAIN;
	} else {
		st = hm_dns_lookup_kind(spf->dns, HM_DNS_KIND_SPF, domain, type, &ans);
	}
	if (st == HM_DNS_TEMPFAIL && (type == ns_t_ptr || sub_of_ptr))
		st = HM_DNS_NXDOMAIN;	/* RFC 7208 5.5: no match, not an error */
	if (c && st == HM_DNS_TEMPFAIL)
		spf_note(c, "DNS failure looking up %.120s", domain);
	if (c && term && (st == HM_DNS_NXDOMAIN || st == HM_DNS_NODATA ||
			  (st == HM_DNS_OK && ans->count == 0)) &&
	    ++c->voids > MAX_VOID) {
		hm_dns_answer_free(&ans);
		spf_stop(c, HM_SPF_PERMERROR, "too many void DNS lookups");
		return make_rr(srv, domain, type, TRY_AGAIN);
	}
	if (c && st == HM_DNS_OK && type == ns_t_mx && ans->count > MAX_MX) {
		hm_dns_answer_free(&ans);
		spf_stop(c, HM_SPF_PERMERROR, "more than 10 MX names");
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

/*
 * The SPF record of domain, compiled, in *rec_r (FETCH_OK); otherwise why
 * not, with the reason noted in the check.
 */
enum spf_fetch spf_fetch_record(struct hm_spf *spf, struct check *c, const char *domain,
				SPF_response_t *resp, SPF_record_t **rec_r)
{
	struct hm_dns_answer *ans = NULL;
	enum hm_dns_status st;
	char *text = NULL, *libtext = NULL, why[HM_REASON_MAX];
	size_t textlen = 0;
	int found = 0;
	enum spf_fetch ret = FETCH_NONE;
	SPF_errcode_t err;

	*rec_r = NULL;
	if (!spf_name_ok(domain, false)) {
		spf_note(c, "%.120s: not a domain name", domain);
		return FETCH_NONE;
	}
	st = hm_dns_lookup_kind(spf->dns, HM_DNS_KIND_SPF, domain, HM_DNS_TXT, &ans);
	if (st == HM_DNS_TEMPFAIL) {
		spf_note(c, "DNS failure looking up %.120s", domain);
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
		spf_note(c, "%.120s: no SPF record", domain);
		return FETCH_NONE;
	}
	if (found > 1) {
		spf_note(c, "%.120s: several SPF records", domain);
		ret = FETCH_PERMERROR;
	} else if (strlen(text) != textlen) {
		spf_note(c, "%.120s: NUL byte in the SPF record", domain);
		ret = FETCH_PERMERROR;
	} else if (textlen > HM_SPF_RECORD_MAX) {
		spf_note(c, "%.120s: SPF record too long", domain);
		ret = FETCH_PERMERROR;
	} else if (hm_spf_record_valid(text, textlen, why, sizeof(why)) < 0) {
		spf_note(c, "%.80s: %.70s", domain, why);
		ret = FETCH_PERMERROR;
	} else if ((libtext = malloc(HM_SPF_REWRITE_SIZE(textlen, spf->marker))) == NULL) {
		spf_note(c, "out of memory");
		ret = FETCH_TEMPFAIL;
	} else if (hm_spf_rewrite(text, textlen, c->v6, spf->marker, libtext),
		   (err = SPF_record_compile(spf->server, resp, rec_r, libtext)) != SPF_E_SUCCESS) {
		if (*rec_r) {
			SPF_record_free(*rec_r);
			*rec_r = NULL;
		}
		spf_note(c, "%.80s: %.70s", domain, SPF_strerror(err));
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
	spf_note(c, "out of memory");
	return FETCH_TEMPFAIL;
}

/* get_spf hook: the record of an include or redirect target. */
SPF_errcode_t spf_layer_get_spf(SPF_server_t *server, SPF_request_t *req,
				SPF_response_t *resp, SPF_record_t **rec_r)
{
	struct check *c = spf_cur;
	struct hm_spf *spf = server->resolver->hook;
	struct check none = { .deadline = 0 };

	*rec_r = NULL;
	if (c == NULL)
		c = &none;
	else if (c->stopped)
		return SPF_E_DNS_ERROR;
	c->nsub = c->subnext = 0;
	if (c != &none && ++c->terms > MAX_DNS_TERMS) {
		spf_stop(c, HM_SPF_PERMERROR, "too many DNS lookups");
		return SPF_E_DNS_ERROR;
	}
	switch (spf_fetch_record(spf, c, req->cur_dom, resp, rec_r)) {
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
SPF_errcode_t spf_layer_get_exp(SPF_server_t *server, const char *domain,
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
