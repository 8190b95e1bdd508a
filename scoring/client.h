/*
 * client.h - connection-level checks: DNSBL listings, reverse DNS and HELO.
 *
 * At connect, hm_client_check_start() starts the PTR lookup of the client
 * IP and one DNSBL lookup per configured zone, all at once, so they run
 * while the SMTP dialogue goes on.  At the end of each message,
 * hm_client_check_collect() waits for them (never past the resolver's
 * time-out), checks the PTR names forward (FCrDNS) the first time, and
 * fires this message's symbols:
 *
 *   <zone name>      the client is listed in that DNSBL zone (weight from
 *                    the zone's code map, else the zone's weight; several
 *                    codes: the highest, detail "zone=127.0.0.2,127.0.0.4")
 *   DNSBL_TEMPERROR  a zone failed (SERVFAIL, time-out) or answered only
 *                    error codes (127.255.255.x, or outside 127.0.0.0/8);
 *                    fired once, the zones' details joined by ';'
 *                    ("zen.example.net=127.255.255.254;bl.example.org=failed")
 *   RDNS_NONE        no PTR (NXDOMAIN or NODATA)
 *   RDNS_MISMATCH    no PTR name has an A (AAAA for IPv6) record with the IP
 *   RDNS_TEMPERROR   the PTR or the forward lookups failed, none confirmed
 *   HELO_NOT_FQDN    no HELO, a name without a dot, or not a domain name
 *   HELO_BARE_IP     "192.0.2.1" instead of the literal "[192.0.2.1]"
 *   HELO_FORGED_OURS one of our names or addresses, from a client that is
 *                    not one of our addresses
 *
 * DNS results are kept for the following messages of the connection; HELO
 * is judged per message (it may change with RSET/EHLO).
 *
 * Clients without IP checks: a NULL ip (local client, unix socket) and
 * loopback addresses fire nothing at all; private, link-local and
 * non-unicast ones (RFC 1918, RFC 6598, 169.254/16, 224/3, fc00::/7,
 * fe80::/10, unspecified) have no public PTR or DNSBL entry: only the HELO
 * checks run for them (asking would also tell the DNSBL about our network).
 *
 * Ownership and threads: the conf and the resolver are shared and must
 * outlive every check made from them; a check belongs to one connection
 * and is used by one thread at a time.
 */
#ifndef HM_CLIENT_H
#define HM_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/dns.h"
#include "util/netlist.h"
#include "scoring/symbols.h"

#define HM_RDNS_NAMES_MAX 10		/* PTR names checked forward */

/* An answer of a DNSBL zone (127.0.0.x) and the weight it carries. */
struct hm_dnsbl_code {
	unsigned char addr[4];
	double weight;
};

struct hm_dnsbl_zone {
	char *name;			/* symbol name, e.g. "RBL_ZEN" */
	char *zone;			/* e.g. "zen.example.net" */
	double weight;			/* listed with a code not in codes[] */
	struct hm_dnsbl_code *codes;
	size_t ncodes;
};

/* Filled by the config loader; read-only once built, shared by threads. */
struct hm_client_conf {
	const struct hm_dnsbl_zone *zones;
	size_t nzones;
	const char *const *our_names;	/* host names HELO must not claim */
	size_t nour_names;
	const struct hm_netlist *our_addrs;	/* addresses HELO must not claim; may be NULL */
};

struct hm_client_check;

/*
 * At connect: start the PTR and DNSBL lookups of ip (text IPv4 or IPv6,
 * IPv4-mapped IPv6 taken as IPv4).  NULL only when out of memory.  A NULL
 * ip gives a check that fires nothing; a NULL dns one without DNS checks.
 */
struct hm_client_check *hm_client_check_start(struct hm_dns *dns,
					      const struct hm_client_conf *conf,
					      const char *ip);

/*
 * At the end of a message: wait for the lookups (the first time only),
 * and fire this message's symbols into out with the weights w; helo may
 * be NULL (the client sent none).  0, or -1 on bad arguments.
 */
int hm_client_check_collect(struct hm_client_check *c, const char *helo,
			    const struct hm_weights *w, struct hm_symbols *out);

/* The PTR name confirmed forward (FCrDNS) once collected, or NULL. */
const char *hm_client_check_rdns(const struct hm_client_check *c);

/*
 * Release a check and clear *c; lookups still under way are cancelled
 * without waiting.  NULL and *c == NULL are allowed.
 */
void hm_client_check_free(struct hm_client_check **c);

/*
 * Parse a code map entry "127.0.0.2=6.5" (blanks around '=' allowed): the
 * address must be in 127.0.0.0/8 outside the 127.255.255.0/24 error codes,
 * the weight finite within +-1000.  0, or -1 with the reason in err.
 */
int hm_dnsbl_code_parse(const char *text, struct hm_dnsbl_code *code,
			char *err, size_t errlen);

/* Whether name suits a DNSBL symbol: an upper-case letter, then upper-case
 * letters, digits or "_", 47 characters at most. */
bool hm_dnsbl_name_valid(const char *name);

#endif
