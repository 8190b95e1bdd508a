/*
 * bench-index.h - what the benchmarks' load clients share: the load corpus
 * as written by tests/bench-corpus.py (DIR/index names each message file
 * and its envelope, "file\tfrom\trcpt\tip\thelo" per line), the clock,
 * a filter process's CPU and memory, and latency percentiles.
 */
#ifndef HM_BENCH_INDEX_H
#define HM_BENCH_INDEX_H

#include <stddef.h>

struct bench_msg {
	char *text;			/* the message file, as it is */
	size_t len;
	char *from, *rcpt, *ip, *helo;	/* its envelope, addresses without <> */
};

/*
 * Read DIR/index and every file it names.  0 with the messages in *msgs_r
 * (free with bench_index_free) and their number in *n_r, or -1 after a
 * line on stderr that starts with prog.
 */
int bench_index_load(const char *dir, const char *prog, struct bench_msg **msgs_r, size_t *n_r);
void bench_index_free(struct bench_msg *msgs, size_t n);

/* CLOCK_MONOTONIC, in seconds. */
double bench_now_s(void);
/* utime + stime of a process, in seconds; -1 when unreadable. */
double bench_proc_cpu_s(long pid);
/* A "Vm...:" line of /proc/PID/status (VmRSS, VmHWM) in KiB, or -1. */
long bench_proc_kib(long pid, const char *field);
/* Sort latencies ascending, then their nearest-rank percentile (p in 0..1). */
void bench_sort(double *v, size_t n);
double bench_percentile(const double *v, size_t n, double p);

#endif
