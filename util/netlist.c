/*
 * netlist.c - CIDR lists.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/netlist.h"

int hm_net_parse(const char *text, struct hm_net *net, char *err, size_t errlen)
{
	char buf[INET6_ADDRSTRLEN + 8];
	const char *slash = strchr(text, '/');
	size_t alen = slash ? (size_t)(slash - text) : strlen(text);
	unsigned max;

	memset(net, 0, sizeof(*net));
	if (alen == 0 || alen >= sizeof(buf)) {
		snprintf(err, errlen, "\"%s\" is not an address or network", text);
		return -1;
	}
	memcpy(buf, text, alen);
	buf[alen] = '\0';
	if (inet_pton(AF_INET, buf, net->addr) == 1) {
		max = 32;
	} else if (inet_pton(AF_INET6, buf, net->addr) == 1) {
		max = 128;
		net->v6 = true;
	} else {
		snprintf(err, errlen, "\"%s\" is not an address or network", text);
		return -1;
	}
	net->bits = max;
	if (slash) {
		char *end;
		unsigned long bits;

		errno = 0;
		bits = strtoul(slash + 1, &end, 10);
		if (slash[1] < '0' || slash[1] > '9' || *end != '\0' || errno || bits > max) {
			snprintf(err, errlen, "\"%s\": prefix length must be 0 to %u", text, max);
			return -1;
		}
		net->bits = (unsigned)bits;
	}
	/* Keep only the network part, so matching is a plain prefix compare. */
	for (unsigned i = net->bits; i < max; i++)
		net->addr[i / 8] &= (unsigned char)~(0x80u >> (i % 8));
	return 0;
}

int hm_netlist_add(struct hm_netlist *list, const char *text, char *err, size_t errlen)
{
	struct hm_net net, *grown;

	if (hm_net_parse(text, &net, err, errlen) < 0)
		return -1;
	if ((grown = realloc(list->nets, (list->count + 1) * sizeof(*grown))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	list->nets = grown;
	list->nets[list->count++] = net;
	return 0;
}

static bool prefix_equal(const unsigned char *a, const unsigned char *b, unsigned bits)
{
	unsigned full = bits / 8, rest = bits % 8;

	if (memcmp(a, b, full) != 0)
		return false;
	if (rest == 0)
		return true;
	unsigned char mask = (unsigned char)(0xff00u >> rest);
	return (a[full] & mask) == (b[full] & mask);
}

bool hm_netlist_match(const struct hm_netlist *list, const char *ip)
{
	unsigned char a[16];
	bool v6, mapped = false;

	if (inet_pton(AF_INET, ip, a) == 1) {
		v6 = false;
	} else if (inet_pton(AF_INET6, ip, a) == 1) {
		static const unsigned char v4mapped[12] = { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

		v6 = true;
		mapped = memcmp(a, v4mapped, sizeof(v4mapped)) == 0;
	} else {
		return false;
	}
	for (size_t i = 0; i < list->count; i++) {
		const struct hm_net *n = &list->nets[i];

		if (n->v6 == v6 && prefix_equal(a, n->addr, n->bits))
			return true;
		if (!n->v6 && mapped && prefix_equal(a + 12, n->addr, n->bits))
			return true;
	}
	return false;
}

void hm_netlist_free(struct hm_netlist *list)
{
	free(list->nets);
	list->nets = NULL;
	list->count = 0;
}
