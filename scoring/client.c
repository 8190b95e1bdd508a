/*
 * client.c - connection-level checks: DNSBL listings, reverse DNS (FCrDNS)
 * and HELO syntax and forgery.
 *
 * The lookups that need only the client IP (PTR, one A query per DNSBL
 * zone) start at connect and are collected at the first end of message;
 * their verdicts are kept in the check, so later messages of the
 * connection fire the same symbols without asking DNS again.  The forward
 * lookups of the PTR names run in parallel once the PTR answer is in.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/address.h"
#include "scoring/client.h"

#define NAME_LEN 256			/* a domain name as text, NUL included */
#define CODES_MAX 16			/* distinct answers kept per DNSBL zone */
#define DETAIL_TEXT (HM_SYM_DETAIL_MAX - 1)	/* a detail is cut to this length */

enum rdns_state { RDNS_UNKNOWN, RDNS_CONFIRMED, RDNS_NO_PTR, RDNS_NO_MATCH, RDNS_FAILED };
enum zone_state { ZONE_CLEAN, ZONE_LISTED, ZONE_ERROR };

struct zone_result {
	struct hm_dns_query *q;		/* until collected */
	enum zone_state state;
	double weight;			/* when listed */
	char detail[HM_SYM_DETAIL_MAX];
};

struct hm_client_check {
	struct hm_dns *dns;
	const struct hm_client_conf *conf;
	bool silent;			/* local client: no check at all */
	bool dns_checks;		/* public address and a resolver */
	bool ours;			/* the client is one of our_addrs */
	bool v6;
	unsigned char addr[16];		/* IPv4 in the first 4 bytes */
	char ip[INET6_ADDRSTRLEN];	/* canonical text, IPv4-mapped → IPv4 */
	bool collected;
	struct hm_dns_query *ptr_q;
	enum rdns_state rdns;
	char rdns_name[NAME_LEN];	/* the confirmed name */
	char rdns_detail[HM_SYM_DETAIL_MAX];
	size_t nzones;
	struct zone_result zones[];
};

/* --- addresses ------------------------------------------------------- */

enum addr_class { ADDR_PUBLIC, ADDR_PRIVATE, ADDR_LOOPBACK };

/*
 * Addresses that have no public PTR or DNSBL entry: asking about them
 * costs time and leaks the internal network to the DNSBL operator.
 */
static enum addr_class classify(const unsigned char *a, bool v6)
{
	static const unsigned char zero[16];

	if (!v6) {
		if (a[0] == 127)
			return ADDR_LOOPBACK;
		if (a[0] == 0 || a[0] == 10 ||
		    (a[0] == 172 && (a[1] & 0xf0) == 16) ||
		    (a[0] == 192 && a[1] == 168) ||
		    (a[0] == 169 && a[1] == 254) ||
		    (a[0] == 100 && (a[1] & 0xc0) == 64) ||	/* RFC 6598 shared space */
		    a[0] >= 224)				/* multicast, reserved */
			return ADDR_PRIVATE;
		return ADDR_PUBLIC;
	}
	if (memcmp(a, zero, 15) == 0 && a[15] == 1)
		return ADDR_LOOPBACK;
	if (memcmp(a, zero, 16) == 0 ||
	    (a[0] & 0xfe) == 0xfc ||				/* fc00::/7 unique local */
	    (a[0] == 0xfe && (a[1] & 0xc0) == 0x80))		/* fe80::/10 link-local */
		return ADDR_PRIVATE;
	return ADDR_PUBLIC;
}

/* Parse ip into c->addr / c->v6 / c->ip; IPv4-mapped IPv6 becomes IPv4. */
static int parse_ip(struct hm_client_check *c, const char *ip)
{
	static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };
	unsigned char a[16];

	if (inet_pton(AF_INET, ip, a) == 1) {
		c->v6 = false;
		memcpy(c->addr, a, 4);
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		c->v6 = memcmp(a, v4mapped, sizeof(v4mapped)) != 0;
		memcpy(c->addr, c->v6 ? a : a + 12, c->v6 ? 16 : 4);
	} else {
		return -1;
	}
	if (inet_ntop(c->v6 ? AF_INET6 : AF_INET, c->addr, c->ip, sizeof(c->ip)) == NULL)
		return -1;
	return 0;
}

/* --- start ----------------------------------------------------------- */

struct hm_client_check *hm_client_check_start(struct hm_dns *dns,
					      const struct hm_client_conf *conf,
					      const char *ip)
{
	size_t nzones = conf ? conf->nzones : 0;
	struct hm_client_check *c;
	char name[NAME_LEN];
	enum addr_class cls;

	c = calloc(1, sizeof(*c) + nzones * sizeof(c->zones[0]));
	if (c == NULL)
		return NULL;
	c->dns = dns;
	c->conf = conf;
	c->nzones = nzones;
	if (ip == NULL) {
		c->silent = true;
		return c;
	}
	if (parse_ip(c, ip) < 0)
		return c;	/* not an address: the HELO checks only */
	cls = classify(c->addr, c->v6);
	if (cls == ADDR_LOOPBACK) {
		c->silent = true;	/* the host itself, like a local client */
		return c;
	}
	c->ours = conf && conf->our_addrs && hm_netlist_match(conf->our_addrs, c->ip);
	c->dns_checks = cls == ADDR_PUBLIC && dns != NULL;
	if (!c->dns_checks)
		return c;
	/* A name that cannot be built leaves the query NULL: a temporary error. */
	if (hm_dns_reverse_name(c->ip, NULL, name, sizeof(name)) == 0)
		c->ptr_q = hm_dns_start_kind(dns, HM_DNS_KIND_PTR, name, HM_DNS_PTR);
	for (size_t i = 0; i < nzones; i++)
		if (hm_dns_reverse_name(c->ip, conf->zones[i].zone, name, sizeof(name)) == 0)
			c->zones[i].q = hm_dns_start_kind(dns, HM_DNS_KIND_DNSBL, name, HM_DNS_A);
	return c;
}

/* --- DNSBL ----------------------------------------------------------- */

static double code_weight(const struct hm_dnsbl_zone *z, const unsigned char *code)
{
	for (size_t i = 0; i < z->ncodes; i++)
		if (memcmp(z->codes[i].addr, code, 4) == 0)
			return z->codes[i].weight;
	return z->weight;
}

/* An answer that means "listed": 127.0.0.0/8 but not 127.255.255.0/24. */
static bool is_listing(const unsigned char *a)
{
	return a[0] == 127 && !(a[1] == 255 && a[2] == 255);
}

static int cmp_code(const void *x, const void *y)
{
	uint32_t a = *(const uint32_t *)x, b = *(const uint32_t *)y;

	return a < b ? -1 : a > b;
}

/* "zone=a,b,c" into out (truncated if it must), codes in ascending order. */
static void codes_detail(char *out, size_t outlen, const char *zone,
			 uint32_t *codes, size_t n)
{
	size_t o;
	int k;

	qsort(codes, n, sizeof(codes[0]), cmp_code);
	k = snprintf(out, outlen, "%s=", zone);
	o = k < 0 ? 0 : (size_t)k;
	for (size_t i = 0; i < n && o < outlen; i++) {
		k = snprintf(out + o, outlen - o, "%s%u.%u.%u.%u", i ? "," : "",
			     codes[i] >> 24, (codes[i] >> 16) & 255, (codes[i] >> 8) & 255,
			     codes[i] & 255);
		if (k < 0)
			break;
		o += (size_t)k;
	}
}

static void add_code(uint32_t *codes, size_t *n, const unsigned char *a)
{
	uint32_t v = (uint32_t)a[0] << 24 | (uint32_t)a[1] << 16 | (uint32_t)a[2] << 8 | a[3];

	for (size_t i = 0; i < *n; i++)
		if (codes[i] == v)
			return;
	if (*n < CODES_MAX)
		codes[(*n)++] = v;
}

static void judge_zone(struct zone_result *r, const struct hm_dnsbl_zone *z,
		       enum hm_dns_status st, const struct hm_dns_answer *a)
{
	uint32_t listed[CODES_MAX], errors[CODES_MAX];
	size_t nlisted = 0, nerrors = 0;

	r->state = ZONE_CLEAN;
	if (st == HM_DNS_NXDOMAIN || st == HM_DNS_NODATA)
		return;
	if (st != HM_DNS_OK || a == NULL) {
		r->state = ZONE_ERROR;
		snprintf(r->detail, sizeof(r->detail), "%s=%s", z->zone,
			 a && a->rcode == 2 ? "servfail" : "failed");
		return;
	}
	for (size_t i = 0; i < a->count; i++) {
		const unsigned char *d = a->data[i];

		if (a->len[i] != 4)
			continue;
		if (is_listing(d)) {
			double wt = code_weight(z, d);

			if (nlisted == 0 || wt > r->weight)
				r->weight = wt;
			add_code(listed, &nlisted, d);
		} else {
			add_code(errors, &nerrors, d);
		}
	}
	if (nlisted > 0) {
		r->state = ZONE_LISTED;
		codes_detail(r->detail, sizeof(r->detail), z->zone, listed, nlisted);
	} else {
		/* Only error codes (e.g. "query via a public resolver refused"). */
		r->state = ZONE_ERROR;
		if (nerrors > 0)
			codes_detail(r->detail, sizeof(r->detail), z->zone, errors, nerrors);
		else
			snprintf(r->detail, sizeof(r->detail), "%s=malformed", z->zone);
	}
}

static void wait_zones(struct hm_client_check *c)
{
	for (size_t i = 0; i < c->nzones; i++) {
		struct zone_result *r = &c->zones[i];
		struct hm_dns_answer *a;
		enum hm_dns_status st = hm_dns_wait(c->dns, r->q, &a);

		r->q = NULL;
		judge_zone(r, &c->conf->zones[i], st, a);
		hm_dns_answer_free(&a);
	}
}

/* --- reverse DNS ----------------------------------------------------- */

static bool answer_has_addr(const struct hm_dns_answer *a, const unsigned char *addr,
			    size_t len)
{
	for (size_t i = 0; i < a->count; i++)
		if (a->len[i] == len && memcmp(a->data[i], addr, len) == 0)
			return true;
	return false;
}

/*
 * The PTR answer is in: start the forward lookups of its names (they run
 * while the DNSBL answers are collected), then see whether one confirms.
 */
static void resolve(struct hm_client_check *c)
{
	struct hm_dns_query *fq[HM_RDNS_NAMES_MAX] = { NULL };
	char names[HM_RDNS_NAMES_MAX][NAME_LEN];
	struct hm_dns_answer *a;
	enum hm_dns_status st;
	size_t n = 0;
	bool failed = false;

	st = hm_dns_wait(c->dns, c->ptr_q, &a);
	c->ptr_q = NULL;
	if (st == HM_DNS_OK) {
		for (size_t i = 0; i < a->count && n < HM_RDNS_NAMES_MAX; i++) {
			if (hm_dns_name(a->data[i], a->len[i], names[n], NAME_LEN) < 0 ||
			    !hm_domain_valid(names[n]))
				continue;	/* junk in a PTR confirms nothing */
			fq[n] = hm_dns_start_kind(c->dns, HM_DNS_KIND_PTR, names[n],
						  c->v6 ? HM_DNS_AAAA : HM_DNS_A);
			n++;
		}
	}
	hm_dns_answer_free(&a);
	wait_zones(c);

	switch (st) {
	case HM_DNS_NXDOMAIN:
	case HM_DNS_NODATA:
		c->rdns = RDNS_NO_PTR;
		snprintf(c->rdns_detail, sizeof(c->rdns_detail), "%s", c->ip);
		return;
	case HM_DNS_TEMPFAIL:
		c->rdns = RDNS_FAILED;
		snprintf(c->rdns_detail, sizeof(c->rdns_detail), "PTR %s", c->ip);
		return;
	case HM_DNS_OK:
		break;
	}
	c->rdns = RDNS_NO_MATCH;
	for (size_t i = 0; i < n; i++) {
		if (c->rdns == RDNS_CONFIRMED) {
			hm_dns_cancel(c->dns, fq[i]);	/* not needed any more */
			continue;
		}
		st = hm_dns_wait(c->dns, fq[i], &a);
		if (st == HM_DNS_OK && answer_has_addr(a, c->addr, c->v6 ? 16 : 4)) {
			c->rdns = RDNS_CONFIRMED;
			memcpy(c->rdns_name, names[i], NAME_LEN);
		} else if (st == HM_DNS_TEMPFAIL && !failed) {
			failed = true;
			snprintf(c->rdns_detail, sizeof(c->rdns_detail), "%.*s", DETAIL_TEXT,
				 names[i]);
		}
		hm_dns_answer_free(&a);
	}
	if (c->rdns == RDNS_CONFIRMED)
		return;
	if (failed) {
		c->rdns = RDNS_FAILED;	/* detail: the name whose lookup failed */
		return;
	}
	/* The detail names what the PTR claimed (or that it held no usable name). */
	snprintf(c->rdns_detail, sizeof(c->rdns_detail), "%.*s", DETAIL_TEXT,
		 n > 0 ? names[0] : "bad PTR");
}

/* --- HELO ------------------------------------------------------------ */

/* Untrusted text for a symbol detail: printable ASCII only, bounded. */
static void sanitize(char *out, size_t outlen, const char *in)
{
	size_t o = 0;

	for (; *in && o + 1 < outlen; in++)
		out[o++] = *in > 0x20 && *in < 0x7f ? *in : '?';
	out[o] = '\0';
}

static bool our_addr(const struct hm_client_check *c, const char *ip)
{
	return c->conf && c->conf->our_addrs && hm_netlist_match(c->conf->our_addrs, ip);
}

static bool our_name(const struct hm_client_check *c, const char *name, size_t len)
{
	if (c->conf == NULL)
		return false;
	for (size_t i = 0; i < c->conf->nour_names; i++) {
		const char *ours = c->conf->our_names[i];
		size_t olen = strlen(ours);

		if (olen > 0 && ours[olen - 1] == '.')
			olen--;
		if (olen == len && strncasecmp(ours, name, len) == 0)
			return true;
	}
	return false;
}

static void check_helo(const struct hm_client_check *c, const char *helo,
		       const struct hm_weights *w, struct hm_symbols *out)
{
	char buf[NAME_LEN + 8], detail[HM_SYM_DETAIL_MAX];
	unsigned char tmp[16];
	size_t len;

	if (helo == NULL || *helo == '\0') {
		hm_symbols_fire(out, w, HM_SYM_HELO_NOT_FQDN, "no HELO");
		return;
	}
	sanitize(detail, sizeof(detail), helo);
	len = strnlen(helo, sizeof(buf));
	if (len >= sizeof(buf)) {
		hm_symbols_fire(out, w, HM_SYM_HELO_NOT_FQDN, detail);
		return;
	}
	memcpy(buf, helo, len + 1);

	/* Address literal (RFC 5321 4.1.3): fine unless it is one of ours. */
	if (buf[0] == '[') {
		char *inner = buf + 1;
		bool valid;

		if (len < 3 || buf[len - 1] != ']') {
			hm_symbols_fire(out, w, HM_SYM_HELO_NOT_FQDN, detail);
			return;
		}
		buf[len - 1] = '\0';
		if (strncasecmp(inner, "IPv6:", 5) == 0) {
			inner += 5;
			valid = inet_pton(AF_INET6, inner, tmp) == 1;
		} else {
			valid = inet_pton(AF_INET, inner, tmp) == 1;
		}
		if (!valid)
			hm_symbols_fire(out, w, HM_SYM_HELO_NOT_FQDN, detail);
		else if (!c->ours && our_addr(c, inner))
			hm_symbols_fire(out, w, HM_SYM_HELO_FORGED_OURS, detail);
		return;
	}

	if (buf[len - 1] == '.')
		buf[--len] = '\0';
	if (inet_pton(AF_INET, buf, tmp) == 1 || inet_pton(AF_INET6, buf, tmp) == 1) {
		hm_symbols_fire(out, w, HM_SYM_HELO_BARE_IP, detail);
		if (!c->ours && our_addr(c, buf))
			hm_symbols_fire(out, w, HM_SYM_HELO_FORGED_OURS, detail);
		return;
	}
	if (len == 0 || strchr(buf, '.') == NULL || !hm_domain_valid(buf)) {
		hm_symbols_fire(out, w, HM_SYM_HELO_NOT_FQDN, detail);
		return;
	}
	if (!c->ours && our_name(c, buf, len))
		hm_symbols_fire(out, w, HM_SYM_HELO_FORGED_OURS, detail);
}

/* --- collect --------------------------------------------------------- */

int hm_client_check_collect(struct hm_client_check *c, const char *helo,
			    const struct hm_weights *w, struct hm_symbols *out)
{
	char errors[HM_SYM_DETAIL_MAX] = "";
	size_t o = 0;

	if (c == NULL || w == NULL || out == NULL)
		return -1;
	if (c->silent)
		return 0;
	if (c->dns_checks && !c->collected)
		resolve(c);
	c->collected = true;

	if (c->dns_checks) {
		switch (c->rdns) {
		case RDNS_NO_PTR:
			hm_symbols_fire(out, w, HM_SYM_RDNS_NONE, c->rdns_detail);
			break;
		case RDNS_NO_MATCH:
			hm_symbols_fire(out, w, HM_SYM_RDNS_MISMATCH, c->rdns_detail);
			break;
		case RDNS_FAILED:
			hm_symbols_fire(out, w, HM_SYM_RDNS_TEMPERROR, c->rdns_detail);
			break;
		case RDNS_UNKNOWN:
		case RDNS_CONFIRMED:
			break;
		}
		for (size_t i = 0; i < c->nzones; i++) {
			const struct zone_result *r = &c->zones[i];

			if (r->state == ZONE_LISTED) {
				hm_symbols_add(out, c->conf->zones[i].name, r->weight, r->detail);
			} else if (r->state == ZONE_ERROR && o < sizeof(errors)) {
				/* One DNSBL_TEMPERROR for all the zones that failed. */
				int k = snprintf(errors + o, sizeof(errors) - o, "%s%s",
						 o ? ";" : "", r->detail);
				o = k < 0 ? sizeof(errors) : o + (size_t)k;
			}
		}
		if (errors[0])
			hm_symbols_fire(out, w, HM_SYM_DNSBL_TEMPERROR, errors);
	}
	check_helo(c, helo, w, out);
	return 0;
}

const char *hm_client_check_rdns(const struct hm_client_check *c)
{
	return c && c->rdns == RDNS_CONFIRMED ? c->rdns_name : NULL;
}

void hm_client_check_free(struct hm_client_check **cp)
{
	struct hm_client_check *c = *cp;

	if (c == NULL)
		return;
	hm_dns_cancel(c->dns, c->ptr_q);
	for (size_t i = 0; i < c->nzones; i++)
		hm_dns_cancel(c->dns, c->zones[i].q);
	free(c);
	*cp = NULL;
}

/* --- configuration helpers ------------------------------------------- */

int hm_dnsbl_code_parse(const char *text, struct hm_dnsbl_code *code,
			char *err, size_t errlen)
{
	const char *eq = strchr(text, '='), *p = text, *end;
	char addr[INET_ADDRSTRLEN];
	size_t len;
	double wt;
	char *ep;

	if (eq == NULL) {
		snprintf(err, errlen, "\"%s\": want ADDRESS=WEIGHT, e.g. 127.0.0.2=6.5", text);
		return -1;
	}
	while (p < eq && (*p == ' ' || *p == '\t'))
		p++;
	end = eq;
	while (end > p && (end[-1] == ' ' || end[-1] == '\t'))
		end--;
	len = (size_t)(end - p);
	if (len == 0 || len >= sizeof(addr)) {
		snprintf(err, errlen, "\"%s\": not an IPv4 address before '='", text);
		return -1;
	}
	memcpy(addr, p, len);
	addr[len] = '\0';
	if (inet_pton(AF_INET, addr, code->addr) != 1) {
		snprintf(err, errlen, "\"%s\": \"%s\" is not an IPv4 address", text, addr);
		return -1;
	}
	if (!is_listing(code->addr)) {
		snprintf(err, errlen, "\"%s\": a DNSBL listing code is in 127.0.0.0/8, "
			 "outside the error codes 127.255.255.0/24", text);
		return -1;
	}
	errno = 0;
	wt = strtod(eq + 1, &ep);
	while (*ep == ' ' || *ep == '\t')
		ep++;
	if (ep == eq + 1 || *ep != '\0' || errno == ERANGE || !isfinite(wt) ||
	    wt < -1000 || wt > 1000) {
		snprintf(err, errlen, "\"%s\": the weight must be a number from -1000 to 1000",
			 text);
		return -1;
	}
	code->weight = wt;
	return 0;
}

bool hm_dnsbl_name_valid(const char *name)
{
	size_t i;

	if (!(name[0] >= 'A' && name[0] <= 'Z'))
		return false;
	for (i = 0; name[i]; i++)
		if (!((name[i] >= 'A' && name[i] <= 'Z') || (name[i] >= '0' && name[i] <= '9') ||
		      name[i] == '_') || i + 1 >= HM_SYM_NAME_MAX)
			return false;
	return true;
}
