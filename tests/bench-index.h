/*
 * bench-index.h - the load corpus of the benchmarks, as written by
 * tests/bench-corpus.py: DIR/index names each message file and its
 * envelope ("file\tfrom\trcpt\tip\thelo" per line).
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

#endif
