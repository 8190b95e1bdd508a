/*
 * bench-milter.c - load generator of the milter benchmark (make bench-milter).
 *
 *   bench-milter -s SOCKET [-c CONCURRENCY] [-d SECONDS] [-n MESSAGES]
 *                [-k MESSAGES-PER-CONNECTION] [-p FILTER-PID] [-l LABEL] DIR
 *
 * Replays the corpus DIR (tests/bench-corpus.py: DIR/index names each
 * message file and its envelope) against a milter the way Postfix talks to
 * one: CONCURRENCY threads (default 8), each opening a connection (connect
 * with the client address, HELO), sending -k transactions on it (default 1,
 * as a one-message SMTP session does: MAIL, RCPT, DATA, headers, end of
 * headers, body, end of message) and closing it, until -d seconds have
 * passed (default 10) or -n messages were sent.  The stages the filter asked
 * not to get or not to answer are honoured (tests/milter-client.c).
 *
 * Prints one line:
 *   LABEL: N msgs in S s, R msg/s, latency p50 A ms p99 B ms,
 *          filter cpu C us/msg rss K KiB (peak P KiB), accept a reject r
 *          tempfail t other o errors e
 * Latency runs from MAIL FROM to the end-of-message reply.  CPU and RSS are
 * the filter's (-p, from /proc), so they are left out without it.  Exit 0,
 * or 1 on a usage error, 2 when nothing could be sent.
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "tests/bench-index.h"
#include "tests/mc-message.h"
#include "tests/milter-client.h"

struct item {
	struct mc_message msg;
	char *from, *rcpt, *ip, *helo;	/* envelope, from the index */
};

struct corpus {
	struct item *items;
	size_t n;
};

struct tally {
	unsigned long sent, accept, reject, tempfail, other, errors;
	double *lat_ms;			/* one per message answered */
	size_t nlat, cap;
};

struct run {
	const char *socket;
	const struct corpus *corpus;
	unsigned long max_msgs, per_conn;
	double deadline;		/* CLOCK_MONOTONIC seconds */
	atomic_ulong next;		/* messages handed out */
};

struct worker {
	pthread_t tid;
	struct run *run;
	struct tally t;
};

static char *bracketed(const char *addr)
{
	size_t n = strlen(addr) + 3;
	char *d = malloc(n);

	if (d == NULL) {
		fprintf(stderr, "bench-milter: out of memory\n");
		exit(2);
	}
	snprintf(d, n, "<%s>", addr);
	return d;
}

/* The corpus (tests/bench-index.h), each message split as Postfix sends it. */
static int load_corpus(const char *dir, struct corpus *c)
{
	struct bench_msg *m;
	size_t n;

	if (bench_index_load(dir, "bench-milter", &m, &n) < 0)
		return -1;
	if ((c->items = calloc(n, sizeof(*c->items))) == NULL) {
		fprintf(stderr, "bench-milter: out of memory\n");
		exit(2);
	}
	for (size_t i = 0; i < n; i++) {
		struct item *it = &c->items[i];

		if (mc_message_parse(m[i].text, m[i].len, &it->msg) < 0) {
			fprintf(stderr, "bench-milter: out of memory\n");
			exit(2);
		}
		it->from = bracketed(m[i].from);
		it->rcpt = bracketed(m[i].rcpt);
		it->ip = m[i].ip;
		it->helo = m[i].helo;
		m[i].ip = m[i].helo = NULL;	/* the item's now */
	}
	c->n = n;
	bench_index_free(m, n);
	return 0;
}

static void tally_latency(struct tally *t, double ms)
{
	if (t->nlat == t->cap) {
		t->cap = t->cap ? t->cap * 2 : 4096;
		if ((t->lat_ms = realloc(t->lat_ms, t->cap * sizeof(*t->lat_ms))) == NULL) {
			fprintf(stderr, "bench-milter: out of memory\n");
			exit(2);
		}
	}
	t->lat_ms[t->nlat++] = ms;
}

static bool goes_on(const struct mc_reply *r)
{
	return r->verdict == MC_CONTINUE || r->verdict == MC_NO_REPLY || r->verdict == MC_NOT_SENT;
}

static void count_verdict(struct tally *t, const struct mc_reply *r)
{
	switch (r->verdict) {
	case MC_ACCEPT: case MC_CONTINUE:
		t->accept++;
		break;
	case MC_REJECT:
		t->reject++;
		break;
	case MC_TEMPFAIL:
		t->tempfail++;
		break;
	case MC_REPLYCODE:
		if (r->text[0] == '5')
			t->reject++;
		else if (r->text[0] == '4')
			t->tempfail++;
		else
			t->other++;
		break;
	default:
		t->other++;
	}
}

/*
 * One transaction; 0 when it reached a verdict (counted), -1 on a socket or
 * protocol error (the connection is dead).
 */
static int transaction(struct mc_conn *c, const struct item *it, unsigned long serial,
		       struct tally *t)
{
	const struct mc_message *m = &it->msg;
	const char *mail_argv[] = { it->from, NULL }, *rcpt_argv[] = { it->rcpt, NULL };
	struct mc_reply r;
	struct mc_eom e;
	char qid[32];
	double start = bench_now_s();

	snprintf(qid, sizeof(qid), "B%lX", serial);
	for (int st = MC_ST_MAIL; st <= MC_ST_EOM; st++)
		if (mc_macro_set(c, (enum mc_stage)st, "i", qid) < 0)
			return -1;
	t->sent++;
	if (mc_mail(c, mail_argv, &r) < 0)
		return -1;
	if (!goes_on(&r))
		goto early;
	if (mc_rcpt(c, rcpt_argv, &r) < 0)
		return -1;
	if (!goes_on(&r))
		goto early;
	if (mc_data(c, &r) < 0)
		return -1;
	if (!goes_on(&r))
		goto early;
	for (size_t i = 0; i < m->nh; i++) {
		if (mc_header(c, m->h[i].name, m->h[i].value, &r) < 0)
			return -1;
		if (!goes_on(&r))
			goto early;
	}
	if (mc_eoh(c, &r) < 0 || mc_body(c, m->body, m->blen, &r) < 0)
		return -1;
	if (!goes_on(&r) && r.verdict != MC_SKIP)
		goto early;
	if (mc_eom(c, &e) < 0)
		return -1;
	count_verdict(t, &e.reply);
	mc_eom_free(&e);
	tally_latency(t, (bench_now_s() - start) * 1e3);
	return 0;
early:
	/* Decided before the end of message (a 550 at RCPT, say): as smtpd does. */
	count_verdict(t, &r);
	tally_latency(t, (bench_now_s() - start) * 1e3);
	return mc_abort(c);
}

static void *work(void *arg)
{
	struct worker *w = arg;
	struct run *run = w->run;
	struct mc_options opt;
	char err[300], name[300];

	mc_options_default(&opt);
	opt.timeout_ms = 30000;
	while (bench_now_s() < run->deadline) {
		unsigned long k = atomic_fetch_add(&run->next, run->per_conn);

		if (run->max_msgs && k >= run->max_msgs)
			break;
		const struct item *first = &run->corpus->items[k % run->corpus->n];
		struct mc_conn *c = mc_open(run->socket, &opt, err, sizeof(err));
		struct mc_reply r;

		if (c == NULL) {
			w->t.errors++;
			fprintf(stderr, "bench-milter: %s\n", err);
			usleep(10000);
			continue;
		}
		snprintf(name, sizeof(name), "%s", first->helo);
		if (mc_negotiate(c) < 0 ||
		    mc_macro_set(c, MC_ST_CONNECT, "j", "mx.example.org") < 0 ||
		    mc_connect(c, name, MC_FAM_INET, 25, first->ip, &r) < 0 ||
		    mc_helo(c, first->helo, &r) < 0) {
			w->t.errors++;
			mc_close(&c);
			continue;
		}
		for (unsigned long i = 0; i < run->per_conn; i++) {
			unsigned long serial = k + i;

			if (run->max_msgs && serial >= run->max_msgs)
				break;
			if (transaction(c, &run->corpus->items[serial % run->corpus->n], serial,
					&w->t) < 0) {
				w->t.errors++;
				break;
			}
		}
		(void)mc_quit(c);
		mc_close(&c);
	}
	return NULL;
}

static void usage(void)
{
	fputs("usage: bench-milter -s SOCKET [-c CONCURRENCY] [-d SECONDS] [-n MESSAGES]\n"
	      "                    [-k MESSAGES-PER-CONNECTION] [-p FILTER-PID] [-l LABEL] DIR\n",
	      stderr);
	exit(1);
}

int main(int argc, char **argv)
{
	struct run run = { .per_conn = 1 };
	struct corpus corpus;
	unsigned long conc = 8;
	double seconds = 10;
	long pid = 0;
	const char *label = "milter";
	int opt;

	while ((opt = getopt(argc, argv, "s:c:d:n:k:p:l:h")) != -1) {
		switch (opt) {
		case 's': run.socket = optarg; break;
		case 'c': conc = strtoul(optarg, NULL, 10); break;
		case 'd': seconds = strtod(optarg, NULL); break;
		case 'n': run.max_msgs = strtoul(optarg, NULL, 10); break;
		case 'k': run.per_conn = strtoul(optarg, NULL, 10); break;
		case 'p': pid = strtol(optarg, NULL, 10); break;
		case 'l': label = optarg; break;
		default: usage();
		}
	}
	if (run.socket == NULL || optind != argc - 1 || conc < 1 || conc > 256 ||
	    seconds <= 0 || run.per_conn < 1)
		usage();
	if (load_corpus(argv[optind], &corpus) < 0)
		return 2;
	run.corpus = &corpus;

	struct worker *w = calloc(conc, sizeof(*w));
	double cpu0 = pid ? bench_proc_cpu_s(pid) : -1, t0 = bench_now_s();

	if (w == NULL)
		return 2;
	run.deadline = t0 + seconds;
	for (unsigned long i = 0; i < conc; i++) {
		w[i].run = &run;
		if (pthread_create(&w[i].tid, NULL, work, &w[i]) != 0) {
			fprintf(stderr, "bench-milter: cannot start thread %lu\n", i);
			return 2;
		}
	}
	struct tally all = { 0 };

	for (unsigned long i = 0; i < conc; i++) {
		pthread_join(w[i].tid, NULL);
		all.sent += w[i].t.sent;
		all.accept += w[i].t.accept;
		all.reject += w[i].t.reject;
		all.tempfail += w[i].t.tempfail;
		all.other += w[i].t.other;
		all.errors += w[i].t.errors;
		for (size_t j = 0; j < w[i].t.nlat; j++)
			tally_latency(&all, w[i].t.lat_ms[j]);
		free(w[i].t.lat_ms);
	}
	double elapsed = bench_now_s() - t0, cpu1 = pid ? bench_proc_cpu_s(pid) : -1;

	bench_sort(all.lat_ms, all.nlat);
	printf("%s: %lu msgs in %.1f s, %.0f msg/s, latency p50 %.2f ms p99 %.2f ms", label,
	       (unsigned long)all.nlat, elapsed, (double)all.nlat / elapsed,
	       bench_percentile(all.lat_ms, all.nlat, 0.50), bench_percentile(all.lat_ms, all.nlat, 0.99));
	if (pid && cpu0 >= 0 && cpu1 >= 0 && all.nlat)
		printf(", filter cpu %.0f us/msg rss %ld KiB (peak %ld KiB)",
		       (cpu1 - cpu0) * 1e6 / (double)all.nlat, bench_proc_kib(pid, "VmRSS"),
		       bench_proc_kib(pid, "VmHWM"));
	printf(", accept %lu reject %lu tempfail %lu other %lu errors %lu\n", all.accept,
	       all.reject, all.tempfail, all.other, all.errors);
	free(all.lat_ms);
	free(w);
	for (size_t i = 0; i < corpus.n; i++) {
		mc_message_free(&corpus.items[i].msg);
		free(corpus.items[i].from);
		free(corpus.items[i].rcpt);
		free(corpus.items[i].ip);
		free(corpus.items[i].helo);
	}
	free(corpus.items);
	return all.nlat ? 0 : 2;
}
