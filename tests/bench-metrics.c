/*
 * bench-metrics.c - what the metrics cost: hm_metrics_message() for a
 * typical message (3 recipients, 6 symbols, the latency observed), as the
 * per-message log line calls it, with 1 and 2 threads counting at once;
 * and one scrape (hm_metrics_render()) with every built-in symbol and 200
 * operator symbols registered.  Times are each thread's CPU time, so that
 * other work on a shared machine weighs less than on the wall clock.
 *
 * Usage: bench-metrics [-n MESSAGES]
 *
 * A benchmark, not a test: it asserts nothing about timings.  Built and
 * run by "make bench".
 */
#include "config.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milter/metrics.h"

static long n_messages = 2000000;

static double cpu_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* arg: a double, set to the thread's CPU seconds for the loop. */
static void *count_messages(void *arg)
{
	struct hm_rcpt_policy mbox = { .tag = 8, .reject = 15,
				       .thresholds_from = HM_LEVEL_MAILBOX };
	struct hm_rcpt_policy black = { .list = HM_LIST_BLACK, .list_level = HM_LEVEL_DOMAIN };
	struct hm_rcpt rcpts[] = {
		{ .addr = "<a@example.org>", .decided = true, .outcome = HM_TAG, .policy = &mbox },
		{ .addr = "<b@example.org>", .decided = true, .outcome = HM_ACCEPT },
		{ .addr = "<c@example.org>", .status = HM_RCPT_REJECTED, .policy = &black },
	};
	static const char *const fired[] = {
		"SPF_PASS", "DKIM_VALID", "DMARC_PASS", "RDNS_MISMATCH", "RULE_17", "RBL_ZEN",
	};
	struct hm_scan_result *r = calloc(1, sizeof(*r));
	struct hm_msg msg = { .rcpts = rcpts, .nrcpts = 3 };
	struct hm_conn conn = { .msg = &msg };
	double t0;

	if (r == NULL)
		return NULL;
	r->score = 9;
	for (size_t i = 0; i < sizeof(fired) / sizeof(fired[0]); i++)
		hm_symbols_add(&r->symbols, fired[i], 1, NULL);
	msg.result = r;
	clock_gettime(CLOCK_MONOTONIC, &msg.eom_started);
	t0 = cpu_s();
	for (long i = 0; i < n_messages; i++)
		hm_metrics_message(&conn, "tag");
	*(double *)arg = cpu_s() - t0;
	free(r);
	return NULL;
}

static void run(int threads)
{
	pthread_t t[2];
	double cpu[2] = { 0, 0 }, sum = 0;

	for (int i = 0; i < threads; i++)
		pthread_create(&t[i], NULL, count_messages, &cpu[i]);
	for (int i = 0; i < threads; i++) {
		pthread_join(t[i], NULL);
		sum += cpu[i];
	}
	printf("hm_metrics_message, %d thread%s: %.0f ns of CPU per message (%ld messages each)\n",
	       threads, threads > 1 ? "s" : "", sum * 1e9 / (double)(n_messages * threads),
	       n_messages);
}

int main(int argc, char **argv)
{
	struct hm_strbuf out;
	char name[32];
	int opt, scrapes = 200;
	double t0;

	while ((opt = getopt(argc, argv, "n:")) != -1) {
		if (opt != 'n' || (n_messages = atol(optarg)) <= 0) {
			fprintf(stderr, "usage: bench-metrics [-n MESSAGES]\n");
			return 1;
		}
	}
	hm_metrics_configure(NULL);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "RULE_%d", i);
		hm_metrics_symbol(name);
	}
	run(1);
	run(2);
	t0 = cpu_s();
	for (int i = 0; i < scrapes; i++) {
		hm_strbuf_init(&out, HM_METRICS_MAX_BYTES);
		if (hm_metrics_render(&out, NULL) < 0)
			return 1;
		if (i + 1 < scrapes)
			hm_strbuf_free(&out);
	}
	printf("hm_metrics_render: %.0f us per scrape (%zu bytes)\n",
	       (cpu_s() - t0) * 1e6 / scrapes, out.len);
	hm_strbuf_free(&out);
	return 0;
}
