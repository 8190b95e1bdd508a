/*
 * learn-int.h - what the learn and calibrate commands' files share
 * (learn.c, learn-read.c); nothing else includes it.  The public interface
 * is learn.h.
 */
#ifndef HM_LEARN_INT_H
#define HM_LEARN_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "milter/conf.h"

/* What to do with each message's features. */
struct walker {
	const struct hm_conf *conf;
	const unsigned char *key;	/* the model's feature hash key */
	int (*message)(struct walker *w, const uint32_t *idx, size_t n, const char *where);
	void *arg;
	unsigned long unreadable;
	bool stop;			/* a fatal error: Redis gone */
};

/*
 * Read every message under path (a file, an mbox, a directory, a Maildir,
 * or "-": standard input) and call w->message with its features; what
 * cannot be read is said on stderr and counted in w->unreadable.  Stops
 * when w->stop is set.
 */
void learn_walk_path(struct walker *w, const char *path);

#endif
