/*
 * bench-smtp.c - SMTP load generator of the Postfix benchmark
 * (make bench-postfix).
 *
 *   bench-smtp -p PORT [-c SESSIONS] [-d SECONDS] [-n MESSAGES]
 *              [-k MESSAGES-PER-SESSION] [-x] [-q QUEUE-DIR] [-P FILTER-PID]
 *              [-l LABEL] DIR
 *
 * Replays the corpus DIR (tests/bench-corpus.py: DIR/index names each
 * message file and its envelope) to an SMTP server on 127.0.0.1:PORT.
 * SESSIONS threads (default 8) each open a session (greeting, EHLO; with -x
 * an XCLIENT giving the corpus's client address and name, then EHLO again
 * as the corpus's HELO), send -k messages on it (default 1: MAIL, RCPT,
 * DATA, the message, ".") and QUIT, until -d seconds have passed (default
 * 10) or -n messages were sent.  No pipelining: each command waits for its
 * reply, as most senders do.
 *
 * Latency is end of DATA -> reply: the message goes out first, then the
 * clock starts and the lone "." is written (TCP_NODELAY, so our own Nagle
 * is not measured), and it stops when the reply has been read.
 *
 * With -q (the Postfix queue directory), after the last session ends the
 * generator waits until the incoming, active, deferred and hold queues are
 * empty, so every accepted message has been handed to delivery, and counts
 * that time ("drain") in the row's duration.
 *
 * Prints one line of key=value fields:
 *   LABEL: accepted=N tempfail=T reject=R errors=E sessions=S window_s=W
 *          drain_s=D rate=R p50_ms=A p99_ms=B client_cpu_us=C
 *          [filter_cpu_us=F] queue_left=Q
 * rate is accepted / (window + drain); client_cpu_us is this program's own
 * CPU per accepted message (so a reader can see the generator is not the
 * bottleneck), filter_cpu_us that of process -P.  Exit 0, 1 on a usage
 * error, 2 when nothing was accepted.
 *
 * Why C: on the benchmark's two cores every microsecond the generator
 * spends is taken from Postfix and the filter.  A Python client (threads,
 * raw sockets, the same sessions) kept up with Postfix alone, at ~900
 * msg/s, but spent 205-220 us of CPU per message against 110-140 us here,
 * most of which is the kernel's loopback TCP work that any client pays.
 */
#include "config.h"

#include <arpa/inet.h>
#include <dirent.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench-index.h"

#define IO_TIMEOUT_S 60

struct item {
	char *data;			/* CRLF, dot-stuffed, without the final "." */
	size_t len;
	char *from, *rcpt, *ip, *helo;	/* envelope, from the index */
};

struct corpus {
	struct item *items;
	size_t n;
};

struct tally {
	unsigned long accepted, tempfail, reject, errors, sessions;
	double *lat_ms;			/* one per end-of-DATA reply */
	size_t nlat, cap;
};

struct run {
	int port;
	bool xclient;
	const struct corpus *corpus;
	unsigned long max_msgs, per_session;
	double deadline;		/* CLOCK_MONOTONIC seconds */
	atomic_ulong next;		/* messages handed out */
};

struct worker {
	pthread_t tid;
	struct run *run;
	struct tally t;
};

/* One SMTP connection with its read buffer. */
struct conn {
	int fd;
	char buf[8192];
	size_t have;			/* bytes in buf */
};

static void *xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n)) == NULL) {
		fputs("bench-smtp: out of memory\n", stderr);
		exit(2);
	}
	return p;
}

/*
 * The DATA payload of a message file: every line CRLF-terminated (a final
 * line without its line end gets one) and dot-stuffed (RFC 5321 4.5.2).
 */
static void prepare(const char *text, size_t len, struct item *it)
{
	size_t cap = len + len / 16 + 64, o = 0;
	char *d = xrealloc(NULL, cap);
	bool bol = true;

	for (size_t i = 0; i < len; i++) {
		if (o + 4 > cap)
			d = xrealloc(d, cap *= 2);
		if (bol && text[i] == '.')
			d[o++] = '.';
		bol = false;
		if (text[i] == '\n') {
			if (o == 0 || d[o - 1] != '\r')
				d[o++] = '\r';
			bol = true;
		}
		d[o++] = text[i];
	}
	if (!bol) {
		d[o++] = '\r';
		d[o++] = '\n';
	}
	it->data = d;
	it->len = o;
}

/* The corpus (tests/bench-index.h), each message as its DATA payload. */
static int load_corpus(const char *dir, struct corpus *c)
{
	struct bench_msg *m;
	size_t n;

	if (bench_index_load(dir, "bench-smtp", &m, &n) < 0)
		return -1;
	c->items = xrealloc(NULL, n * sizeof(*c->items));
	for (size_t i = 0; i < n; i++) {
		struct item *it = &c->items[i];

		prepare(m[i].text, m[i].len, it);
		it->from = m[i].from;
		it->rcpt = m[i].rcpt;
		it->ip = m[i].ip;
		it->helo = m[i].helo;
		m[i].from = m[i].rcpt = m[i].ip = m[i].helo = NULL;	/* the item's now */
	}
	c->n = n;
	bench_index_free(m, n);
	return 0;
}

static void tally_latency(struct tally *t, double ms)
{
	if (t->nlat == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		t->lat_ms = xrealloc(t->lat_ms, t->cap * sizeof(*t->lat_ms));
	}
	t->lat_ms[t->nlat++] = ms;
}

static int conn_open(struct conn *c, int port)
{
	struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port) };
	struct timeval tv = { .tv_sec = IO_TIMEOUT_S };
	int one = 1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->have = 0;
	if ((c->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		return -1;
	if (setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) < 0 ||
	    setsockopt(c->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) < 0 ||
	    connect(c->fd, (struct sockaddr *)&sa, sizeof(sa)) < 0) {
		close(c->fd);
		c->fd = -1;
		return -1;
	}
	return 0;
}

static void conn_close(struct conn *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
}

static int send_all(struct conn *c, const char *p, size_t n)
{
	while (n > 0) {
		ssize_t w = send(c->fd, p, n, MSG_NOSIGNAL);

		if (w < 0 && errno == EINTR)
			continue;
		if (w <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

/*
 * Read one reply, multi-line or not; its code (the last line's), or -1 on
 * a socket error, a time-out or a malformed line.
 */
static int read_reply(struct conn *c)
{
	for (;;) {
		char *eol = memchr(c->buf, '\n', c->have);

		if (eol == NULL) {
			if (c->have == sizeof(c->buf))
				return -1;		/* a line longer than any reply */
			ssize_t r = recv(c->fd, c->buf + c->have, sizeof(c->buf) - c->have, 0);

			if (r < 0 && errno == EINTR)
				continue;
			if (r <= 0)
				return -1;
			c->have += (size_t)r;
			continue;
		}
		size_t llen = (size_t)(eol - c->buf) + 1;
		const char *l = c->buf;
		bool last = llen < 5 || l[3] != '-';
		int code = -1;

		if (llen >= 4 && l[0] >= '2' && l[0] <= '5' && l[1] >= '0' && l[1] <= '9' &&
		    l[2] >= '0' && l[2] <= '9')
			code = (l[0] - '0') * 100 + (l[1] - '0') * 10 + (l[2] - '0');
		memmove(c->buf, c->buf + llen, c->have - llen);
		c->have -= llen;
		if (code < 0)
			return -1;
		if (last)
			return code;
	}
}

/* Send a command line and read its reply: the code, or -1. */
static int command(struct conn *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static int command(struct conn *c, const char *fmt, ...)
{
	char line[2048];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(line, sizeof(line), fmt, ap);

	va_end(ap);

	if (n < 0 || (size_t)n >= sizeof(line))
		return -1;
	if (send_all(c, line, (size_t)n) < 0)
		return -1;
	return read_reply(c);
}

static void count_reply(struct tally *t, int code)
{
	if (code / 100 == 2)
		t->accepted++;
	else if (code / 100 == 4)
		t->tempfail++;
	else
		t->reject++;
}

/*
 * One transaction; 0 when it reached a reply that ends it (counted), -1 on
 * a socket or protocol error (the session is dead).
 */
static int transaction(struct conn *c, const struct item *it, struct tally *t)
{
	int code;

	if ((code = command(c, "MAIL FROM:<%s>\r\n", it->from)) < 0)
		return -1;
	if (code / 100 != 2)
		goto refused;
	if ((code = command(c, "RCPT TO:<%s>\r\n", it->rcpt)) < 0)
		return -1;
	if (code / 100 != 2)
		goto refused;
	if ((code = command(c, "DATA\r\n")) < 0)
		return -1;
	if (code != 354)
		goto refused;
	if (send_all(c, it->data, it->len) < 0)
		return -1;
	double t0 = bench_now_s();

	if (send_all(c, ".\r\n", 3) < 0 || (code = read_reply(c)) < 0)
		return -1;
	tally_latency(t, (bench_now_s() - t0) * 1e3);
	count_reply(t, code);
	return 0;
refused:
	/* Refused before the message (milter 4xx/5xx at MAIL or RCPT). */
	count_reply(t, code);
	return command(c, "RSET\r\n") / 100 == 2 ? 0 : -1;
}

/* Greeting, EHLO, and with -x XCLIENT and the second EHLO: 0 or -1. */
static int session_start(struct conn *c, const struct run *run, const struct item *first)
{
	if (read_reply(c) != 220 || command(c, "EHLO bench.example.net\r\n") != 250)
		return -1;
	if (!run->xclient)
		return 0;
	/* Postfix answers XCLIENT with a new greeting. */
	if (command(c, "XCLIENT ADDR=%s NAME=%s\r\n", first->ip, first->helo) != 220)
		return -1;
	return command(c, "EHLO %s\r\n", first->helo) == 250 ? 0 : -1;
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct conn c = { .fd = -1 };

	while (bench_now_s() < run->deadline) {
		unsigned long k = atomic_fetch_add(&run->next, run->per_session);

		if (run->max_msgs && k >= run->max_msgs)
			break;
		const struct item *first = &run->corpus->items[k % run->corpus->n];

		if (conn_open(&c, run->port) < 0) {
			w->t.errors++;
			fprintf(stderr, "bench-smtp: connect to port %d: %s\n", run->port,
				strerror(errno));
			usleep(10000);
			continue;
		}
		w->t.sessions++;
		if (session_start(&c, run, first) < 0) {
			w->t.errors++;
			conn_close(&c);
			continue;
		}
		bool dead = false;

		for (unsigned long i = 0; i < run->per_session; i++) {
			unsigned long serial = k + i;

			if (run->max_msgs && serial >= run->max_msgs)
				break;
			if (transaction(&c, &run->corpus->items[serial % run->corpus->n],
					&w->t) < 0) {
				w->t.errors++;
				dead = true;
				break;
			}
		}
		if (!dead)
			(void)command(&c, "QUIT\r\n");
		conn_close(&c);
	}
	return NULL;
}

/* Files under DIR, recursively (deferred and defer are hashed); 0 if none. */
static long count_files(const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	long n = 0;
	char path[4096];

	if (d == NULL)
		return 0;
	while ((e = readdir(d)) != NULL) {
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, e->d_name);
		if (lstat(path, &st) < 0)
			continue;
		n += S_ISDIR(st.st_mode) ? count_files(path) : 1;
	}
	closedir(d);
	return n;
}

static long queued(const char *qdir)
{
	static const char *const queues[] = { "incoming", "active", "deferred", "hold" };
	char path[4096];
	long n = 0;

	for (size_t i = 0; i < sizeof(queues) / sizeof(queues[0]); i++) {
		snprintf(path, sizeof(path), "%s/%s", qdir, queues[i]);
		n += count_files(path);
	}
	return n;
}

static double self_cpu_s(void)
{
	struct rusage ru;

	if (getrusage(RUSAGE_SELF, &ru) < 0)
		return 0;
	return (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
	       (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
}

static void usage(void)
{
	fputs("usage: bench-smtp -p PORT [-c SESSIONS] [-d SECONDS] [-n MESSAGES]\n"
	      "                  [-k MESSAGES-PER-SESSION] [-x] [-q QUEUE-DIR] [-P FILTER-PID]\n"
	      "                  [-l LABEL] DIR\n", stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	struct run run = { .per_session = 1 };
	struct corpus corpus;
	unsigned long conc = 8;
	double seconds = 10;
	long pid = 0;
	const char *label = "postfix", *qdir = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "p:c:d:n:k:xq:P:l:h")) != -1) {
		switch (opt) {
		case 'p': run.port = atoi(optarg); break;
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 'd': seconds = strtod(optarg, NULL); break;
		case 'n': run.max_msgs = strtoul(optarg, NULL, 10); break;
		case 'k': run.per_session = strtoul(optarg, NULL, 10); break;
		case 'x': run.xclient = true; break;
		case 'q': qdir = optarg; break;
		case 'P': pid = strtol(optarg, NULL, 10); break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	if (run.port <= 0 || run.port > 65535 || optind != argc - 1 || conc < 1 ||
	    conc > 256 || seconds <= 0 || run.per_session < 1)
		usage();
	if (load_corpus(argv[optind], &corpus) < 0)
		return 2;
	run.corpus = &corpus;

	struct worker *w = calloc(conc, sizeof(*w));
	double cpu0 = pid ? bench_proc_cpu_s(pid) : -1, self0 = self_cpu_s(), t0 = bench_now_s();

	if (w == NULL)
		return 2;
	run.deadline = t0 + seconds;
	for (unsigned long i = 0; i < conc; i++) {
		w[i].run = &run;
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "bench-smtp: cannot start thread %lu\n", i);
			return 2;
		}
	}
	struct tally all = { 0 };

	for (unsigned long i = 0; i < conc; i++) {
		pthread_join(w[i].tid, NULL);
		all.accepted += w[i].t.accepted;
		all.tempfail += w[i].t.tempfail;
		all.reject += w[i].t.reject;
		all.errors += w[i].t.errors;
		all.sessions += w[i].t.sessions;
		for (size_t j = 0; j < w[i].t.nlat; j++)
			tally_latency(&all, w[i].t.lat_ms[j]);
		free(w[i].t.lat_ms);
	}
	double t1 = bench_now_s(), self1 = self_cpu_s(), drain = 0;
	long left = 0;

	/* Until every accepted message has left the queue (60 s at most). */
	if (qdir != NULL) {
		while ((left = queued(qdir)) > 0 && bench_now_s() - t1 < 60)
			usleep(5000);
		drain = bench_now_s() - t1;
	}
	double cpu1 = pid ? bench_proc_cpu_s(pid) : -1, total = (t1 - t0) + drain;

	bench_sort(all.lat_ms, all.nlat);
	printf("%s: accepted=%lu tempfail=%lu reject=%lu errors=%lu sessions=%lu window_s=%.3f "
	       "drain_s=%.3f rate=%.1f p50_ms=%.3f p99_ms=%.3f client_cpu_us=%.0f", label,
	       all.accepted, all.tempfail, all.reject, all.errors, all.sessions, t1 - t0, drain,
	       (double)all.accepted / total, bench_percentile(all.lat_ms, all.nlat, 0.50),
	       bench_percentile(all.lat_ms, all.nlat, 0.99),
	       all.accepted ? (self1 - self0) * 1e6 / (double)all.accepted : 0.0);
	if (pid && cpu0 >= 0 && cpu1 >= 0 && all.accepted)
		printf(" filter_cpu_us=%.0f", (cpu1 - cpu0) * 1e6 / (double)all.accepted);
	printf(" queue_left=%ld\n", left);
	free(all.lat_ms);
	free(w);
	for (size_t i = 0; i < corpus.n; i++) {
		free(corpus.items[i].data);
		free(corpus.items[i].from);
		free(corpus.items[i].rcpt);
		free(corpus.items[i].ip);
		free(corpus.items[i].helo);
	}
	free(corpus.items);
	return all.accepted ? 0 : 2;
}
