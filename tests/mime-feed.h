/*
 * mime-feed.h - test helpers for the MIME decoder (scoring/mime.h): feed a
 * whole message as the milter would (headers one by one, then the body in
 * chunks of a given size), and a sink that records what the decoder emits
 * as readable lines while checking the sink contract.
 */
#ifndef HM_TEST_MIME_FEED_H
#define HM_TEST_MIME_FEED_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/mime.h"

/*
 * Feed msg (len bytes: header block, empty line, body) to m and finish it.
 * Header values are given as libmilter gives them: after the colon, one
 * leading blank removed, folding kept ("\n" + the next line).  A leading
 * mbox "From " line is skipped.  The body goes in chunks of chunk bytes (0:
 * all at once).
 */
void hm_test_mime_feed(struct hm_mime *m, const char *msg, size_t len, size_t chunk);

/*
 * What a sink received, one line per item:
 *	S <subject>	N <from name>	P <type>	A <attachment>	H <host>
 *	B <body text of one part, pieces joined, ended by a break>
 * Newlines inside texts are written as "\n" (backslash, n), backslashes
 * as "\\".  Violations
 * of the contract (invalid UTF-8, a NUL, a break with text, an empty
 * item...) are counted and described in why.
 */
struct hm_test_events {
	char *s;			/* the lines, NUL-terminated */
	size_t len, cap;
	char *body;			/* body pieces since the last break */
	size_t blen, bcap;
	size_t body_bytes, header_bytes;	/* totals received */
	unsigned violations;
	char why[200];
};

void hm_test_events_init(struct hm_test_events *e);
void hm_test_events_free(struct hm_test_events *e);
/* A sink writing into e. */
struct hm_text_sink hm_test_sink(struct hm_test_events *e);

/* Is s (n bytes) valid UTF-8? */
bool hm_test_utf8_valid(const char *s, size_t n);

#endif
