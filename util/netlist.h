/*
 * netlist.h - lists of networks (CIDR), e.g. internal_networks.
 *
 * Entries are "192.0.2.0/24", "2001:db8::/32" or a bare address (a /32 or
 * /128).  An IPv4 entry also matches the IPv4-mapped IPv6 form of its
 * addresses (::ffff:192.0.2.1), as some MTAs report IPv4 clients that way.
 * A built list is read-only, so threads share it without locks.
 */
#ifndef HM_NETLIST_H
#define HM_NETLIST_H

#include <stdbool.h>
#include <stddef.h>

struct hm_net {
	unsigned char addr[16];		/* IPv4 in the first 4 bytes */
	unsigned bits;
	bool v6;
};

struct hm_netlist {
	struct hm_net *nets;
	size_t count;
};

/* Parse one entry.  0, or -1 with the reason in err. */
int hm_net_parse(const char *text, struct hm_net *net, char *err, size_t errlen);

/* Append an entry to a list.  0, or -1 with the reason in err. */
int hm_netlist_add(struct hm_netlist *list, const char *text, char *err, size_t errlen);

/* Does ip (text form) fall in one of the networks?  false for a non-address. */
bool hm_netlist_match(const struct hm_netlist *list, const char *ip);

void hm_netlist_free(struct hm_netlist *list);

#endif
