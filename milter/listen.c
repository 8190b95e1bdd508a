/*
 * listen.c - socket string parsing and listening-socket tuning.
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdbool.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter/listen.h"

static int parse_port(const char *s, size_t len, unsigned *port_r)
{
	unsigned long v = 0;

	if (len == 0 || len > 5)
		return -1;
	for (size_t i = 0; i < len; i++) {
		if (!isdigit((unsigned char)s[i]))
			return -1;
		v = v * 10 + (unsigned long)(s[i] - '0');
	}
	if (v == 0 || v > 65535)
		return -1;
	*port_r = (unsigned)v;
	return 0;
}

/*
 * The host after '@': a name or an address, or an address in brackets as
 * libmilter also takes them ("inet6:PORT@[::1]").  Stored without brackets.
 * IPv6 addresses (with ':') only for inet6.
 */
static int parse_host(const char *h, enum hm_socket_kind kind, char *out, size_t outlen,
		      char *err, size_t errlen)
{
	size_t len = strlen(h);
	bool v6 = kind == HM_SOCK_INET6;

	if (len == 0) {
		snprintf(err, errlen, "empty host after '@'");
		return -1;
	}
	if (h[0] == '[') {
		if (len < 3 || h[len - 1] != ']') {
			snprintf(err, errlen, "unbalanced brackets around the host");
			return -1;
		}
		h++;
		len -= 2;
	}
	if (len >= outlen) {
		snprintf(err, errlen, "host name too long");
		return -1;
	}
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)h[i];

		if (c == ':' && !v6) {
			snprintf(err, errlen, "an IPv6 address needs inet6:PORT@HOST");
			return -1;
		}
		if (!isalnum(c) && strchr(".-_:", c) == NULL) {
			snprintf(err, errlen, "bad character in the host");
			return -1;
		}
	}
	memcpy(out, h, len);
	out[len] = '\0';
	return 0;
}

int hm_socket_parse(const char *spec, struct hm_socket_spec *out,
		    char *err, size_t errlen)
{
	const char *rest;

	memset(out, 0, sizeof(*out));
	if (strlen(spec) >= sizeof(out->text)) {
		snprintf(err, errlen, "socket string longer than %zu bytes", sizeof(out->text) - 1);
		return -1;
	}
	strcpy(out->text, spec);
	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		rest = strchr(spec, ':') + 1;
		if (rest[0] != '/') {
			snprintf(err, errlen, "socket \"%s\": the unix socket path must be absolute", spec);
			return -1;
		}
		if (strlen(rest) >= sizeof(out->path)) {
			snprintf(err, errlen, "socket \"%s\": path longer than %zu bytes",
				 spec, sizeof(out->path) - 1);
			return -1;
		}
		out->kind = HM_SOCK_UNIX;
		strcpy(out->path, rest);
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0) {
		out->kind = HM_SOCK_INET;
		rest = spec + 5;
	} else if (strncmp(spec, "inet6:", 6) == 0) {
		out->kind = HM_SOCK_INET6;
		rest = spec + 6;
	} else {
		snprintf(err, errlen, "socket \"%s\": expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST", spec);
		return -1;
	}
	const char *at = strchr(rest, '@');
	size_t port_len = at ? (size_t)(at - rest) : strlen(rest);
	if (parse_port(rest, port_len, &out->port) < 0) {
		/* The commonest mistake: Postfix's spelling in our config. */
		const char *colon = strrchr(rest, ':');
		unsigned port;

		if (colon && !at && colon > rest &&
		    parse_port(colon + 1, strlen(colon + 1), &port) == 0) {
			int hlen = (int)(colon - rest);

			snprintf(err, errlen, "socket \"%s\": this is Postfix's inet:HOST:PORT "
				 "spelling; the milter writes inet:PORT@HOST: %s:%u@%.*s", spec,
				 rest[0] == '[' ? "inet6" : "inet", port, hlen, rest);
		} else if (colon && !at)
			snprintf(err, errlen, "socket \"%s\": bad port; this looks like Postfix's "
				 "inet:HOST:PORT spelling, the milter writes inet:PORT@HOST", spec);
		else
			snprintf(err, errlen, "socket \"%s\": port must be a number from 1 to 65535", spec);
		return -1;
	}
	if (at) {
		char why[64];

		if (parse_host(at + 1, out->kind, out->host, sizeof(out->host), why,
			       sizeof(why)) < 0) {
			snprintf(err, errlen, "socket \"%s\": %s", spec, why);
			return -1;
		}
	}
	return 0;
}

void hm_socket_postfix_spelling(const struct hm_socket_spec *spec,
				char *buf, size_t len)
{
	switch (spec->kind) {
	case HM_SOCK_UNIX:
		snprintf(buf, len, "unix:%s", spec->path);
		break;
	case HM_SOCK_INET:
		snprintf(buf, len, "inet:%s:%u", spec->host[0] ? spec->host : "127.0.0.1", spec->port);
		break;
	case HM_SOCK_INET6:
		snprintf(buf, len, "inet:[%s]:%u", spec->host[0] ? spec->host : "::1", spec->port);
		break;
	}
}

/* Is fd a listening TCP socket? */
static int is_tcp_listener(int fd)
{
	int val;
	socklen_t len = sizeof(val);

	if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &val, &len) < 0 || !val)
		return 0;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &val, &len) < 0 ||
	    (val != AF_INET && val != AF_INET6))
		return 0;
	len = sizeof(val);
	if (getsockopt(fd, SOL_SOCKET, SO_PROTOCOL, &val, &len) < 0 || val != IPPROTO_TCP)
		return 0;
	return 1;
}

int hm_socket_set_nodelay_on_listeners(void)
{
	DIR *dir = opendir("/proc/self/fd");
	struct dirent *de;
	int count = 0, one = 1;

	if (dir == NULL)
		return -1;
	while ((de = readdir(dir)) != NULL) {
		char *end;
		long fd = strtol(de->d_name, &end, 10);

		if (*end != '\0' || de->d_name[0] == '\0' || fd == dirfd(dir))
			continue;
		if (!is_tcp_listener((int)fd))
			continue;
		if (setsockopt((int)fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
			closedir(dir);
			return -1;
		}
		count++;
	}
	closedir(dir);
	return count;
}
