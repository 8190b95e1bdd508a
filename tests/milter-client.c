/*
 * milter-client.c - the MTA side of the milter protocol (see milter-client.h).
 *
 * Wire format: every packet is a 4-byte big-endian length (command byte plus
 * payload), the command byte, then the payload.  Strings are NUL-terminated.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfdef.h>

#include "tests/milter-client.h"

/* Protocol steps this client knows how to honour. */
#define MC_KNOWN_PROTOCOL (SMFIP_NOCONNECT | SMFIP_NOHELO | SMFIP_NOMAIL | SMFIP_NORCPT | \
			   SMFIP_NOBODY | SMFIP_NOHDRS | SMFIP_NOEOH | SMFIP_NR_HDR | \
			   SMFIP_NOUNKNOWN | SMFIP_NODATA | SMFIP_SKIP | SMFIP_NR_CONN | \
			   SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT | SMFIP_NR_DATA | \
			   SMFIP_NR_UNKN | SMFIP_NR_EOH | SMFIP_NR_BODY | SMFIP_HDR_LEADSPC)

struct mc_buf {
	unsigned char *p;
	size_t len, cap;
};

struct mc_macro {
	char *name, *value;
};

struct mc_conn {
	int fd;
	bool dead;
	struct mc_options opt;
	uint32_t version, actions, protocol;	/* what the filter chose */
	char *symlist[MC_ST_COUNT];
	struct mc_macro *macros[MC_ST_COUNT];
	size_t nmacros[MC_ST_COUNT];
	struct mc_buf out, in;
	char err[256];
};

/* Per stage: command byte, "do not send" flag, "no reply" flag, name. */
static const struct {
	char cmd;
	uint32_t no, nr;
	const char *name;
} stages[MC_ST_COUNT] = {
	[MC_ST_CONNECT] = { SMFIC_CONNECT, SMFIP_NOCONNECT, SMFIP_NR_CONN, "connect" },
	[MC_ST_HELO] = { SMFIC_HELO, SMFIP_NOHELO, SMFIP_NR_HELO, "helo" },
	[MC_ST_MAIL] = { SMFIC_MAIL, SMFIP_NOMAIL, SMFIP_NR_MAIL, "mail" },
	[MC_ST_RCPT] = { SMFIC_RCPT, SMFIP_NORCPT, SMFIP_NR_RCPT, "rcpt" },
	[MC_ST_DATA] = { SMFIC_DATA, SMFIP_NODATA, SMFIP_NR_DATA, "data" },
	[MC_ST_HEADER] = { SMFIC_HEADER, SMFIP_NOHDRS, SMFIP_NR_HDR, "header" },
	[MC_ST_EOH] = { SMFIC_EOH, SMFIP_NOEOH, SMFIP_NR_EOH, "eoh" },
	[MC_ST_BODY] = { SMFIC_BODY, SMFIP_NOBODY, SMFIP_NR_BODY, "body" },
	[MC_ST_EOM] = { SMFIC_BODYEOB, 0, 0, "eom" },
	[MC_ST_UNKNOWN] = { SMFIC_UNKNOWN, SMFIP_NOUNKNOWN, SMFIP_NR_UNKN, "unknown" },
};

static int fail(struct mc_conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Record the first error; the connection is unusable from now on. */
static int fail(struct mc_conn *c, const char *fmt, ...)
{
	va_list ap;

	if (!c->dead) {
		va_start(ap, fmt);
		vsnprintf(c->err, sizeof(c->err), fmt, ap);
		va_end(ap);
		c->dead = true;
	}
	return -1;
}

static int buf_reserve(struct mc_buf *b, size_t more)
{
	size_t cap;
	unsigned char *p;

	if (b->len + more <= b->cap)
		return 0;
	if (more > SIZE_MAX / 2 - b->len)
		return -1;
	cap = b->cap ? b->cap : 1024;
	while (cap < b->len + more)
		cap *= 2;
	if ((p = realloc(b->p, cap)) == NULL)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

static int buf_put(struct mc_buf *b, const void *d, size_t n)
{
	if (buf_reserve(b, n) < 0)
		return -1;
	if (n)
		memcpy(b->p + b->len, d, n);
	b->len += n;
	return 0;
}

static int buf_put_str(struct mc_buf *b, const char *s)
{
	return buf_put(b, s, strlen(s) + 1);
}

static int buf_put_u32(struct mc_buf *b, uint32_t v)
{
	uint32_t n = htonl(v);

	return buf_put(b, &n, 4);
}

/* A packet is built in place in c->out: pkt_begin, payload, pkt_end. */
static int pkt_begin(struct mc_conn *c, char cmd, size_t *start_r)
{
	*start_r = c->out.len;
	if (buf_put_u32(&c->out, 0) < 0 || buf_put(&c->out, &cmd, 1) < 0)
		return fail(c, "out of memory");
	return 0;
}

static int pkt_end(struct mc_conn *c, size_t start, int put_failed)
{
	size_t len = c->out.len - start - 4;
	uint32_t n;

	if (put_failed)
		return fail(c, "out of memory");
	if (len > UINT32_MAX)
		return fail(c, "packet too long");
	n = htonl((uint32_t)len);
	memcpy(c->out.p + start, &n, 4);
	return 0;
}

static long long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Wait until fd is ready for events, or the deadline passes. */
static int wait_fd(struct mc_conn *c, short events, long long deadline, const char *what)
{
	for (;;) {
		long long left = deadline - now_ms();
		struct pollfd pfd = { .fd = c->fd, .events = events };
		int n;

		if (left <= 0)
			return fail(c, "timeout %s the filter (%d ms)", what, c->opt.timeout_ms);
		n = poll(&pfd, 1, left > 1000000 ? 1000000 : (int)left);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return fail(c, "poll: %s", strerror(errno));
	}
}

int mc_flush(struct mc_conn *c)
{
	size_t off = 0;
	long long deadline = now_ms() + c->opt.timeout_ms;

	if (c->dead)
		return -1;
	while (off < c->out.len) {
		ssize_t n = send(c->fd, c->out.p + off, c->out.len - off, MSG_NOSIGNAL | MSG_DONTWAIT);

		if (n >= 0) {
			off += (size_t)n;
			continue;
		}
		if (errno == EINTR)
			continue;
		if (errno != EAGAIN && errno != EWOULDBLOCK)
			return fail(c, "write to the filter: %s", strerror(errno));
		if (wait_fd(c, POLLOUT, deadline, "writing to") < 0)
			return -1;
	}
	c->out.len = 0;
	return 0;
}

/* Queue packets until 64 KiB wait; a reply-bearing command flushes anyway. */
static int maybe_flush(struct mc_conn *c)
{
	return c->out.len >= 65536 ? mc_flush(c) : 0;
}

static int read_full(struct mc_conn *c, void *dst, size_t len, long long deadline)
{
	size_t off = 0;

	while (off < len) {
		ssize_t n;

		if (wait_fd(c, POLLIN, deadline, "reading from") < 0)
			return -1;
		n = recv(c->fd, (char *)dst + off, len - off, MSG_DONTWAIT);
		if (n > 0) {
			off += (size_t)n;
		} else if (n == 0) {
			return fail(c, "connection closed by the filter%s", off ? " in mid-packet" : "");
		} else if (errno != EINTR && errno != EAGAIN && errno != EWOULDBLOCK) {
			return fail(c, "read from the filter: %s", strerror(errno));
		}
	}
	return 0;
}

/* Read one packet into c->in (payload only, NUL appended). */
static int read_packet(struct mc_conn *c, char *cmd_r)
{
	unsigned char hdr[5];
	uint32_t len;
	long long deadline = now_ms() + c->opt.timeout_ms;

	if (c->dead || mc_flush(c) < 0)
		return -1;
	if (read_full(c, hdr, sizeof(hdr) - 1, deadline) < 0)
		return -1;
	memcpy(&len, hdr, 4);
	len = ntohl(len);
	if (len == 0)
		return fail(c, "protocol error: empty packet from the filter");
	if (len > MC_MAX_PACKET)
		return fail(c, "protocol error: packet of %u bytes from the filter (limit %d)",
			    len, MC_MAX_PACKET);
	if (read_full(c, hdr + 4, 1, deadline) < 0)
		return -1;
	c->in.len = 0;
	if (buf_reserve(&c->in, len) < 0)
		return fail(c, "out of memory");
	if (read_full(c, c->in.p, len - 1, deadline) < 0)
		return -1;
	c->in.len = len - 1;
	c->in.p[c->in.len] = '\0';
	*cmd_r = (char)hdr[4];
	return 0;
}

int mc_read_packet(struct mc_conn *c, char *cmd_r, size_t *len_r)
{
	if (read_packet(c, cmd_r) < 0)
		return -1;
	*len_r = c->in.len;
	return 0;
}

/* Take a NUL-terminated string at *off of the payload; NULL if there is none. */
static char *take_str(struct mc_conn *c, size_t *off)
{
	char *s = (char *)c->in.p + *off;
	char *nul;

	if (*off >= c->in.len || (nul = memchr(s, '\0', c->in.len - *off)) == NULL)
		return NULL;
	*off += (size_t)(nul - s) + 1;
	return s;
}

static int take_u32(struct mc_conn *c, size_t *off, uint32_t *v)
{
	if (c->in.len - *off < 4 || *off > c->in.len)
		return -1;
	memcpy(v, c->in.p + *off, 4);
	*v = ntohl(*v);
	*off += 4;
	return 0;
}

/* Map a final reply packet; 1 if cmd is a final reply, 0 if not. */
static int final_reply(struct mc_conn *c, char cmd, struct mc_reply *r)
{
	r->text[0] = '\0';
	switch (cmd) {
	case SMFIR_CONTINUE: r->verdict = MC_CONTINUE; return 1;
	case SMFIR_ACCEPT: r->verdict = MC_ACCEPT; return 1;
	case SMFIR_REJECT: r->verdict = MC_REJECT; return 1;
	case SMFIR_TEMPFAIL: r->verdict = MC_TEMPFAIL; return 1;
	case SMFIR_DISCARD: r->verdict = MC_DISCARD; return 1;
	case SMFIR_SKIP: r->verdict = MC_SKIP; return 1;
	case SMFIR_CONN_FAIL: r->verdict = MC_CONNFAIL; return 1;
	case SMFIR_SHUTDOWN: r->verdict = MC_SHUTDOWN; return 1;
	case SMFIR_REPLYCODE: {
		size_t n = strnlen((char *)c->in.p, c->in.len);

		r->verdict = MC_REPLYCODE;
		if (n < sizeof(r->text)) {
			memcpy(r->text, c->in.p, n);
			r->text[n] = '\0';
		} else {
			memcpy(r->text, c->in.p, sizeof(r->text) - 4);
			strcpy(r->text + sizeof(r->text) - 4, "...");
		}
		return 1;
	}
	default:
		return 0;
	}
}

static int read_reply(struct mc_conn *c, enum mc_stage st, struct mc_reply *r)
{
	char cmd;

	for (;;) {
		if (read_packet(c, &cmd) < 0)
			return -1;
		if (cmd == SMFIR_PROGRESS)
			continue;
		if (final_reply(c, cmd, r))
			break;
		return fail(c, "protocol error: unexpected reply '%c' (0x%02x) to %s",
			    cmd >= 0x20 && cmd < 0x7f ? cmd : '?', (unsigned char)cmd, stages[st].name);
	}
	if (r->verdict == MC_SKIP && (st != MC_ST_BODY || !(c->protocol & SMFIP_SKIP)))
		return fail(c, "protocol error: skip reply to %s", stages[st].name);
	return 0;
}

/* Queue the stage's macros (SMFIC_MACRO) if it has any. */
static int put_macros(struct mc_conn *c, enum mc_stage st)
{
	size_t start;
	int bad = 0;

	if (c->nmacros[st] == 0)
		return 0;
	if (pkt_begin(c, SMFIC_MACRO, &start) < 0)
		return -1;
	bad |= buf_put(&c->out, &stages[st].cmd, 1);
	for (size_t i = 0; i < c->nmacros[st]; i++) {
		bad |= buf_put_str(&c->out, c->macros[st][i].name);
		bad |= buf_put_str(&c->out, c->macros[st][i].value);
	}
	return pkt_end(c, start, bad);
}

/* A piece of a command's payload. */
struct part {
	const void *p;
	size_t len;
};

/*
 * Queue one stage's macros and command (payload: nparts pieces), then read
 * the reply, unless the filter asked not to get the stage (MC_NOT_SENT) or
 * not to answer it (MC_NO_REPLY).
 */

static int stage(struct mc_conn *c, enum mc_stage st, const struct part *parts, size_t nparts,
		 struct mc_reply *r)
{
	size_t start;
	int bad = 0;

	r->verdict = MC_NOT_SENT;
	r->text[0] = '\0';
	if (c->dead)
		return -1;
	if (c->protocol & stages[st].no)
		return 0;
	if (put_macros(c, st) < 0 || pkt_begin(c, stages[st].cmd, &start) < 0)
		return -1;
	for (size_t i = 0; i < nparts; i++)
		bad |= buf_put(&c->out, parts[i].p, parts[i].len);
	if (pkt_end(c, start, bad) < 0)
		return -1;
	if (c->protocol & stages[st].nr) {
		r->verdict = MC_NO_REPLY;
		return maybe_flush(c);
	}
	return read_reply(c, st, r);
}

void mc_options_default(struct mc_options *opt)
{
	opt->timeout_ms = 10000;
	opt->version = SMFI_PROT_VERSION;
	opt->actions = SMFI_CURR_ACTS;
	opt->protocol = MC_KNOWN_PROTOCOL;
	opt->chunk = MC_MAX_CHUNK;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	int fd;

	if (strlen(path) >= sizeof(sun.sun_path)) {
		snprintf(err, errlen, "unix socket path too long: %s", path);
		return -1;
	}
	strcpy(sun.sun_path, path);
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0) {
		snprintf(err, errlen, "socket: %s", strerror(errno));
		return -1;
	}
	if (connect(fd, (struct sockaddr *)&sun, sizeof(sun)) < 0) {
		snprintf(err, errlen, "connect to unix:%s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

static int open_inet(const char *spec, int family, const char *rest, char *err, size_t errlen)
{
	char port[16], host[256];
	const char *at = strchr(rest, '@');
	struct addrinfo hints = { .ai_family = family, .ai_socktype = SOCK_STREAM };
	struct addrinfo *res = NULL;
	int fd = -1, one = 1, rc;
	size_t plen = at ? (size_t)(at - rest) : strlen(rest);

	if (plen == 0 || plen >= sizeof(port) || (at && strlen(at + 1) >= sizeof(host))) {
		snprintf(err, errlen, "bad socket \"%s\": expected inet:PORT@HOST or inet6:PORT@HOST", spec);
		return -1;
	}
	memcpy(port, rest, plen);
	port[plen] = '\0';
	snprintf(host, sizeof(host), "%s", at ? at + 1 : (family == AF_INET6 ? "::1" : "127.0.0.1"));
	/* Accept [::1] as well as ::1. */
	if (host[0] == '[' && host[strlen(host) - 1] == ']') {
		memmove(host, host + 1, strlen(host) - 2);
		host[strlen(host) - 2] = '\0';
	}
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		snprintf(err, errlen, "%s: %s", spec, gai_strerror(rc));
		return -1;
	}
	for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
		if ((fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol)) < 0)
			continue;
		if (connect(fd, ai->ai_addr, ai->ai_addrlen) == 0)
			break;
		snprintf(err, errlen, "connect to %s: %s", spec, strerror(errno));
		close(fd);
		fd = -1;
	}
	freeaddrinfo(res);
	if (fd < 0) {
		if (err[0] == '\0')
			snprintf(err, errlen, "connect to %s: no usable address", spec);
		return -1;
	}
	/* Small commands and replies: never wait for Nagle. */
	if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0) {
		snprintf(err, errlen, "setsockopt TCP_NODELAY: %s", strerror(errno));
		close(fd);
		return -1;
	}
	return fd;
}

struct mc_conn *mc_open(const char *spec, const struct mc_options *opt, char *err, size_t errlen)
{
	struct mc_conn *c;
	int fd;

	err[0] = '\0';
	if (opt->chunk == 0 || opt->chunk > MC_MAX_CHUNK || opt->timeout_ms <= 0) {
		snprintf(err, errlen, "bad options: chunk must be 1..%d, timeout positive", MC_MAX_CHUNK);
		return NULL;
	}
	if (strncmp(spec, "unix:", 5) == 0)
		fd = open_unix(spec + 5, err, errlen);
	else if (strncmp(spec, "local:", 6) == 0)
		fd = open_unix(spec + 6, err, errlen);
	else if (spec[0] == '/')
		fd = open_unix(spec, err, errlen);
	else if (strncmp(spec, "inet:", 5) == 0)
		fd = open_inet(spec, AF_INET, spec + 5, err, errlen);
	else if (strncmp(spec, "inet6:", 6) == 0)
		fd = open_inet(spec, AF_INET6, spec + 6, err, errlen);
	else {
		snprintf(err, errlen, "bad socket \"%s\": expected unix:/path, inet:PORT@HOST or inet6:PORT@HOST",
			 spec);
		return NULL;
	}
	if (fd < 0)
		return NULL;
	if ((c = calloc(1, sizeof(*c))) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return NULL;
	}
	c->fd = fd;
	c->opt = *opt;
	/* Until negotiation, assume the filter wants every stage answered. */
	c->protocol = 0;
	c->actions = 0;
	return c;
}

int mc_negotiate(struct mc_conn *c)
{
	size_t start, off = 0;
	char cmd;
	int bad = 0;

	if (c->dead || pkt_begin(c, SMFIC_OPTNEG, &start) < 0)
		return -1;
	bad |= buf_put_u32(&c->out, c->opt.version);
	bad |= buf_put_u32(&c->out, c->opt.actions);
	bad |= buf_put_u32(&c->out, c->opt.protocol);
	if (pkt_end(c, start, bad) < 0 || read_packet(c, &cmd) < 0)
		return -1;
	if (cmd != SMFIC_OPTNEG)
		return fail(c, "negotiation refused by the filter (reply '%c')",
			    cmd >= 0x20 && cmd < 0x7f ? cmd : '?');
	if (take_u32(c, &off, &c->version) < 0 || take_u32(c, &off, &c->actions) < 0 ||
	    take_u32(c, &off, &c->protocol) < 0)
		return fail(c, "protocol error: short negotiation reply (%zu bytes)", c->in.len);
	if (c->version < 2 || c->version > c->opt.version)
		return fail(c, "protocol error: filter speaks version %u, we offered %u",
			    c->version, c->opt.version);
	if (c->actions & ~c->opt.actions)
		return fail(c, "protocol error: filter wants actions 0x%x, we offered 0x%x",
			    c->actions, c->opt.actions);
	/* libmilter may echo its internal size bits; anything else must be offered. */
	if (c->protocol & ~c->opt.protocol & ~SMFI_INTERNAL)
		return fail(c, "protocol error: filter wants protocol steps 0x%x, we offered 0x%x",
			    c->protocol, c->opt.protocol);
	/* Optional macro lists: (uint32 stage, "names\0") pairs. */
	while (off < c->in.len) {
		uint32_t where;
		char *names;
		/* Stage numbers of smfi_setsymlist (SMFIM_CONNECT = 0 ... SMFIM_EOH = 6). */
		static const enum mc_stage by_index[] = {
			MC_ST_CONNECT, MC_ST_HELO, MC_ST_MAIL, MC_ST_RCPT, MC_ST_DATA, MC_ST_EOM, MC_ST_EOH,
		};

		if (take_u32(c, &off, &where) < 0 || (names = take_str(c, &off)) == NULL)
			return fail(c, "protocol error: malformed macro list in negotiation");
		if (where >= sizeof(by_index) / sizeof(by_index[0]))
			continue;	/* unknown stage: ignore, as Postfix does */
		free(c->symlist[by_index[where]]);
		if ((c->symlist[by_index[where]] = strdup(names)) == NULL)
			return fail(c, "out of memory");
	}
	return 0;
}

uint32_t mc_filter_version(const struct mc_conn *c) { return c->version; }
uint32_t mc_filter_actions(const struct mc_conn *c) { return c->actions; }
uint32_t mc_filter_protocol(const struct mc_conn *c) { return c->protocol; }

const char *mc_filter_symlist(const struct mc_conn *c, enum mc_stage st)
{
	return st < MC_ST_COUNT ? c->symlist[st] : NULL;
}

int mc_macro_set(struct mc_conn *c, enum mc_stage st, const char *name, const char *value)
{
	struct mc_macro *m;
	char *v;

	if (st >= MC_ST_COUNT)
		return -1;
	if ((v = strdup(value)) == NULL)
		return -1;
	for (size_t i = 0; i < c->nmacros[st]; i++) {
		if (strcmp(c->macros[st][i].name, name) == 0) {
			free(c->macros[st][i].value);
			c->macros[st][i].value = v;
			return 0;
		}
	}
	m = realloc(c->macros[st], (c->nmacros[st] + 1) * sizeof(*m));
	if (m == NULL) {
		free(v);
		return -1;
	}
	c->macros[st] = m;
	if ((m[c->nmacros[st]].name = strdup(name)) == NULL) {
		free(v);
		return -1;
	}
	m[c->nmacros[st]++].value = v;
	return 0;
}

void mc_macro_clear(struct mc_conn *c, enum mc_stage st)
{
	if (st >= MC_ST_COUNT)
		return;
	for (size_t i = 0; i < c->nmacros[st]; i++) {
		free(c->macros[st][i].name);
		free(c->macros[st][i].value);
	}
	free(c->macros[st]);
	c->macros[st] = NULL;
	c->nmacros[st] = 0;
}

int mc_connect(struct mc_conn *c, const char *hostname, enum mc_family fam, unsigned port,
	       const char *addr, struct mc_reply *r)
{
	unsigned char f = (unsigned char)fam;
	uint16_t nport = htons((uint16_t)(fam == MC_FAM_UNIX ? 0 : port));
	struct part parts[] = {
		{ hostname, strlen(hostname) + 1 },
		{ &f, 1 },
		{ &nport, 2 },
		{ addr ? addr : "", addr ? strlen(addr) + 1 : 1 },
	};

	if (fam != MC_FAM_INET && fam != MC_FAM_INET6 && fam != MC_FAM_UNIX && fam != MC_FAM_UNKNOWN)
		return fail(c, "bad address family '%c'", (char)fam);
	return stage(c, MC_ST_CONNECT, parts, fam == MC_FAM_UNKNOWN ? 2 : 4, r);
}

int mc_helo(struct mc_conn *c, const char *helo, struct mc_reply *r)
{
	struct part p = { helo, strlen(helo) + 1 };

	return stage(c, MC_ST_HELO, &p, 1, r);
}

static int argv_stage(struct mc_conn *c, enum mc_stage st, const char *const *argv, struct mc_reply *r)
{
	struct part parts[64];
	size_t n = 0;

	for (; argv && argv[n]; n++) {
		if (n == sizeof(parts) / sizeof(parts[0]))
			return fail(c, "%s: more than %zu arguments", stages[st].name, n);
		parts[n].p = argv[n];
		parts[n].len = strlen(argv[n]) + 1;
	}
	if (n == 0)
		return fail(c, "%s: no address given", stages[st].name);
	return stage(c, st, parts, n, r);
}

int mc_mail(struct mc_conn *c, const char *const *argv, struct mc_reply *r)
{
	return argv_stage(c, MC_ST_MAIL, argv, r);
}

int mc_rcpt(struct mc_conn *c, const char *const *argv, struct mc_reply *r)
{
	return argv_stage(c, MC_ST_RCPT, argv, r);
}

int mc_data(struct mc_conn *c, struct mc_reply *r)
{
	return stage(c, MC_ST_DATA, NULL, 0, r);
}

int mc_header(struct mc_conn *c, const char *name, const char *value, struct mc_reply *r)
{
	/* Without HDR_LEADSPC the MTA eats one space (not a tab) after the colon. */
	if (!(c->protocol & SMFIP_HDR_LEADSPC) && value[0] == ' ')
		value++;
	struct part parts[] = { { name, strlen(name) + 1 }, { value, strlen(value) + 1 } };

	return stage(c, MC_ST_HEADER, parts, 2, r);
}

int mc_eoh(struct mc_conn *c, struct mc_reply *r)
{
	return stage(c, MC_ST_EOH, NULL, 0, r);
}

int mc_body(struct mc_conn *c, const void *data, size_t len, struct mc_reply *r)
{
	const unsigned char *p = data;

	r->verdict = (c->protocol & SMFIP_NOBODY) ? MC_NOT_SENT :
		     (c->protocol & SMFIP_NR_BODY) ? MC_NO_REPLY : MC_CONTINUE;
	r->text[0] = '\0';
	if (c->dead)
		return -1;
	while (len > 0) {
		size_t n = len < c->opt.chunk ? len : c->opt.chunk;
		struct part part = { p, n };

		if (stage(c, MC_ST_BODY, &part, 1, r) < 0)
			return -1;
		if (r->verdict != MC_CONTINUE && r->verdict != MC_NO_REPLY)
			break;
		p += n;
		len -= n;
	}
	return 0;
}

/* Which negotiated action allows a modification type. */
static uint32_t action_for(char type)
{
	switch (type) {
	case SMFIR_ADDHEADER: case SMFIR_INSHEADER: return MC_ACT_ADDHDRS;
	case SMFIR_CHGHEADER: return MC_ACT_CHGHDRS;
	case SMFIR_ADDRCPT: return MC_ACT_ADDRCPT;
	case SMFIR_ADDRCPT_PAR: return MC_ACT_ADDRCPT_PAR;
	case SMFIR_DELRCPT: return MC_ACT_DELRCPT;
	case SMFIR_REPLBODY: return MC_ACT_CHGBODY;
	case SMFIR_CHGFROM: return MC_ACT_CHGFROM;
	case SMFIR_QUARANTINE: return MC_ACT_QUARANTINE;
	case SMFIR_SETSYMLIST: return MC_ACT_SETSYMLIST;
	default: return 0;
	}
}

static char *dup_or_null(const char *s, bool *oom)
{
	char *d;

	if (s == NULL)
		return NULL;
	if ((d = strdup(s)) == NULL)
		*oom = true;
	return d;
}

/* Parse the modification in c->in into m; -1 on malformed input. */
static int parse_mod(struct mc_conn *c, char type, struct mc_mod *m)
{
	size_t off = 0;
	const char *name = NULL, *value = NULL;
	bool oom = false;

	memset(m, 0, sizeof(*m));
	m->type = type;
	switch (type) {
	case SMFIR_INSHEADER:
	case SMFIR_CHGHEADER:
		if (take_u32(c, &off, &m->index) < 0)
			return -1;
		/* fall through */
	case SMFIR_ADDHEADER:
		if ((name = take_str(c, &off)) == NULL || (value = take_str(c, &off)) == NULL)
			return -1;
		break;
	case SMFIR_ADDRCPT_PAR:
		if ((name = take_str(c, &off)) == NULL)
			return -1;
		value = take_str(c, &off);	/* ESMTP args, may be absent */
		break;
	case SMFIR_CHGFROM:
		if ((name = take_str(c, &off)) == NULL)
			return -1;
		value = take_str(c, &off);
		break;
	case SMFIR_ADDRCPT:
	case SMFIR_DELRCPT:
	case SMFIR_QUARANTINE:
		if ((name = take_str(c, &off)) == NULL)
			return -1;
		break;
	case SMFIR_SETSYMLIST:
		if (take_u32(c, &off, &m->index) < 0 || (name = take_str(c, &off)) == NULL)
			return -1;
		break;
	case SMFIR_REPLBODY:
		if ((m->data = malloc(c->in.len ? c->in.len : 1)) == NULL)
			return fail(c, "out of memory");
		memcpy(m->data, c->in.p, c->in.len);
		m->len = c->in.len;
		return 0;
	default:
		return -1;
	}
	m->name = dup_or_null(name, &oom);
	m->value = dup_or_null(value, &oom);
	if (oom) {
		free(m->name);
		free(m->value);
		return fail(c, "out of memory");
	}
	return 0;
}

static void mod_free(struct mc_mod *m)
{
	free(m->name);
	free(m->value);
	free(m->data);
}

void mc_eom_free(struct mc_eom *res)
{
	for (size_t i = 0; i < res->nmods; i++)
		mod_free(&res->mods[i]);
	free(res->mods);
	memset(res, 0, sizeof(*res));
}

int mc_eom(struct mc_conn *c, struct mc_eom *res)
{
	size_t start;
	char cmd;

	memset(res, 0, sizeof(*res));
	if (c->dead)
		return -1;
	if (put_macros(c, MC_ST_EOM) < 0 || pkt_begin(c, SMFIC_BODYEOB, &start) < 0 ||
	    pkt_end(c, start, 0) < 0)
		return -1;
	for (;;) {
		if (read_packet(c, &cmd) < 0)
			goto failed;
		if (cmd == SMFIR_PROGRESS) {
			res->progress++;
			continue;
		}
		if (final_reply(c, cmd, &res->reply)) {
			if (res->reply.verdict == MC_SKIP) {
				fail(c, "protocol error: skip reply to end of message");
				goto failed;
			}
			return 0;
		}
		uint32_t need = action_for(cmd);

		if (need == 0) {
			fail(c, "protocol error: unexpected reply '%c' (0x%02x) to end of message",
			     cmd >= 0x20 && cmd < 0x7f ? cmd : '?', (unsigned char)cmd);
			goto failed;
		}
		if (!(c->actions & need)) {
			fail(c, "protocol error: %s without the negotiated action 0x%x",
			     mc_mod_name(cmd), need);
			goto failed;
		}
		if (res->nmods == res->cap) {
			size_t cap = res->cap ? res->cap * 2 : 8;
			struct mc_mod *grown = realloc(res->mods, cap * sizeof(*grown));

			if (grown == NULL) {
				fail(c, "out of memory");
				goto failed;
			}
			res->mods = grown;
			res->cap = cap;
		}
		if (parse_mod(c, cmd, &res->mods[res->nmods]) < 0) {
			fail(c, "protocol error: malformed %s reply (%zu bytes)", mc_mod_name(cmd), c->in.len);
			goto failed;
		}
		res->nmods++;
	}
failed:
	mc_eom_free(res);
	return -1;
}

int mc_unknown(struct mc_conn *c, const char *command, struct mc_reply *r)
{
	struct part p = { command, strlen(command) + 1 };

	return stage(c, MC_ST_UNKNOWN, &p, 1, r);
}

static int no_reply_cmd(struct mc_conn *c, char cmd)
{
	size_t start;

	if (c->dead || pkt_begin(c, cmd, &start) < 0 || pkt_end(c, start, 0) < 0)
		return -1;
	return 0;
}

int mc_abort(struct mc_conn *c)
{
	return no_reply_cmd(c, SMFIC_ABORT) < 0 ? -1 : maybe_flush(c);
}

int mc_quit(struct mc_conn *c)
{
	return no_reply_cmd(c, SMFIC_QUIT) < 0 ? -1 : mc_flush(c);
}

int mc_send_raw(struct mc_conn *c, const void *data, size_t len)
{
	if (c->dead)
		return -1;
	if (buf_put(&c->out, data, len) < 0)
		return fail(c, "out of memory");
	return maybe_flush(c);
}

void mc_close(struct mc_conn **cp)
{
	struct mc_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->fd >= 0)
		close(c->fd);
	for (int st = 0; st < MC_ST_COUNT; st++) {
		mc_macro_clear(c, (enum mc_stage)st);
		free(c->symlist[st]);
	}
	free(c->out.p);
	free(c->in.p);
	free(c);
	*cp = NULL;
}

const char *mc_error(const struct mc_conn *c)
{
	return c->dead ? c->err : "no error";
}

int mc_fd(const struct mc_conn *c)
{
	return c->fd;
}

const char *mc_verdict_name(enum mc_verdict v)
{
	static const char *const names[] = {
		[MC_NOT_SENT] = "not-sent", [MC_NO_REPLY] = "no-reply",
		[MC_CONTINUE] = "continue", [MC_ACCEPT] = "accept", [MC_REJECT] = "reject",
		[MC_TEMPFAIL] = "tempfail", [MC_DISCARD] = "discard", [MC_REPLYCODE] = "replycode",
		[MC_SKIP] = "skip", [MC_CONNFAIL] = "connfail", [MC_SHUTDOWN] = "shutdown",
	};

	return (size_t)v < sizeof(names) / sizeof(names[0]) ? names[v] : "?";
}

const char *mc_mod_name(char type)
{
	switch (type) {
	case SMFIR_ADDHEADER: return "addheader";
	case SMFIR_INSHEADER: return "insheader";
	case SMFIR_CHGHEADER: return "chgheader";
	case SMFIR_ADDRCPT: return "addrcpt";
	case SMFIR_ADDRCPT_PAR: return "addrcpt_par";
	case SMFIR_DELRCPT: return "delrcpt";
	case SMFIR_REPLBODY: return "replbody";
	case SMFIR_CHGFROM: return "chgfrom";
	case SMFIR_QUARANTINE: return "quarantine";
	case SMFIR_SETSYMLIST: return "setsymlist";
	case SMFIR_PROGRESS: return "progress";
	default: return "?";
	}
}

const char *mc_stage_name(enum mc_stage st)
{
	return st < MC_ST_COUNT ? stages[st].name : "?";
}

enum mc_stage mc_stage_from_name(const char *name)
{
	for (int st = 0; st < MC_ST_COUNT; st++)
		if (strcmp(name, stages[st].name) == 0)
			return (enum mc_stage)st;
	return MC_ST_COUNT;
}
