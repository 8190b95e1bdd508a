/*
 * address.h - mail addresses from the wire: RFC 5322 From header values,
 * envelope addresses as libmilter hands them, and domain-name syntax.
 *
 * hm_from_parse() reads one From header value (an RFC 5322 address-list,
 * obsolete forms included: routes, CFWS around dots, empty list elements)
 * and appends the addr-spec of every mailbox to a bounded list; display
 * names and comments are dropped.  hm_addr_parse_envelope() reads a MAIL
 * FROM / RCPT TO argument.  Both treat their input as hostile: bounded
 * output, limited comment nesting and input length, 8-bit bytes accepted
 * as atext (RFC 6532) but never decoded, no allocation.
 *
 * A local-part is kept in its semantic form (quotes and quoted-pairs
 * removed: "john doe"@x gives local "john doe", quoted = true); a domain is
 * lower-cased (ASCII only; IDNA labels are left as they are).
 * Errors are returned as -1 with a static message in *err_r.
 */
#ifndef HM_ADDRESS_H
#define HM_ADDRESS_H

#include <stdbool.h>
#include <stddef.h>

#define HM_DOMAIN_MAX 254		/* a domain name as text, with NUL */
#define HM_ADDR_MAX 512			/* an address (local-part@domain) */

#define HM_LOCAL_MAX 65			/* local-part, RFC 5321 4.5.3.1.1: 64 octets + NUL */
#define HM_FROM_MAX 16			/* From addresses kept per message */
#define HM_FROM_VALUE_MAX 16384		/* longest From value parsed */

struct hm_addr {
	char local[HM_LOCAL_MAX];
	char domain[HM_DOMAIN_MAX];	/* lower-cased; "[...]" for a domain literal */
	bool quoted;			/* the local-part had quoted parts */
};

/*
 * The addresses of a message's From header(s).  Zero it (or call
 * hm_from_init()) before the first hm_from_parse().
 */
struct hm_from_list {
	size_t count;			/* addresses in addrs[] */
	size_t headers;			/* From values given to hm_from_parse() */
	bool overflow;			/* more than HM_FROM_MAX addresses seen */
	bool bad;			/* some value did not parse */
	struct hm_addr addrs[HM_FROM_MAX];
};

void hm_from_init(struct hm_from_list *list);

/*
 * Parse one From header value and append its addresses.  0 on success
 * (possibly no address, e.g. an empty group); -1 when the value is not an
 * address-list or holds an over-long part: then no address of this value is
 * added, list->bad is set and err says why.  Addresses past HM_FROM_MAX
 * are counted as overflow, not stored.
 */
int hm_from_parse(struct hm_from_list *list, const char *value, char *err, size_t errlen);

/*
 * Parse an envelope address: "<user@example.org>", "<>" (null sender: local
 * and domain empty), "user@example.org" without brackets, a source route
 * "<@a,@b:user@example.org>" (dropped), or a bare local-part "postmaster"
 * (domain empty).  0, or -1 with the reason in err.
 */
int hm_addr_parse_envelope(const char *arg, struct hm_addr *out, char *err, size_t errlen);

/* True for the null sender "<>" as parsed above. */
bool hm_addr_is_null(const struct hm_addr *a);

/* "local@domain" into out, the local-part quoted when needed; -1 if it does not fit. */
int hm_addr_format(const struct hm_addr *a, char *out, size_t outlen);

/* Lower-case the ASCII letters of a domain in place. */
void hm_domain_lower(char *domain);

/*
 * Whether s is a syntactically valid DNS domain name: labels of 1-63
 * letters, digits, hyphens (not first or last) or underscores (as in
 * _dmarc), at most 253 characters, one trailing dot allowed.
 */
bool hm_domain_valid(const char *s);

#endif
