/*
 * urlhost.h - the host part of http(s) URLs, from an attribute value or
 * found in running text.
 *
 * A host is returned lower-cased (ASCII letters; UTF-8 of IDN labels is
 * kept as it is), without user info, port or trailing dot, and only when it
 * has a dot and at most HM_URLHOST_MAX bytes: "http://User@WWW.Example.COM.:8080/x"
 * gives "www.example.com".  The text scanner is fed text in pieces cut
 * anywhere and reports each host whole, once its end is seen; there a host
 * ends at the first non-ASCII byte.
 */
#ifndef HM_URLHOST_H
#define HM_URLHOST_H

#include <stdbool.h>
#include <stddef.h>

#define HM_URLHOST_MAX 253

typedef void hm_host_fn(void *arg, const char *host, size_t len);

/*
 * The host of url (n bytes): "http://", "https://" (any case) or "//"
 * then the authority; leading blanks skipped.  Written to out (room for
 * HM_URLHOST_MAX + 1 bytes); its length, 0 when there is none.
 */
size_t hm_url_host(const char *url, size_t n, char *out);

struct hm_urlscan {
	unsigned idx;			/* slashes seen after "http(s):" */
	int state;			/* 0 looking for ":", 1 host, 2 after ':', 3 "//" */
	unsigned char back[5];		/* the last bytes before the current piece */
	char host[HM_URLHOST_MAX + 1];
	size_t hlen;
	bool toolong;
};

void hm_urlscan_init(struct hm_urlscan *u);
void hm_urlscan_feed(struct hm_urlscan *u, const char *s, size_t n, hm_host_fn *fn, void *arg);
/* End of a text: a host running to the end is reported. */
void hm_urlscan_flush(struct hm_urlscan *u, hm_host_fn *fn, void *arg);

#endif
