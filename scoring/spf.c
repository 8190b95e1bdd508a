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

#include "scoring/spf-int.h"

/* The check running in this thread: the DNS layer's hooks get no argument of ours. */
_Thread_local struct check *spf_cur;

/* Keep the first trouble of a check as its reason. */
void __attribute__((format(printf, 2, 3)))
spf_note(struct check *c, const char *fmt, ...)
{
	va_list ap;

	if (c->reason[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(c->reason, sizeof(c->reason), fmt, ap);
	va_end(ap);
}

/* A verdict that ends the check, whatever libspf2 makes of it. */
void spf_stop(struct check *c, enum hm_spf_result verdict, const char *reason)
{
	if (c->stopped)
		return;
	c->stopped = true;
	c->verdict = verdict;
	snprintf(c->reason, sizeof(c->reason), "%s", reason);
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
	spf->layer.lookup = spf_layer_lookup;
	spf->layer.get_spf = spf_layer_get_spf;
	spf->layer.get_exp = spf_layer_get_exp;
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
	if (local[0] == '\0' || !spf_name_ok(domain, true)) {
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
	spf_cur = c;

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
	switch (spf_fetch_record(spf, c, domain, resp, &rec)) {
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
	spf_cur = NULL;
	free(c);
	return rc;
}
