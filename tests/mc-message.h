/*
 * mc-message.h - a message file as the milter test clients send it.
 *
 * mc_message_parse() splits RFC 5322 text (LF or CRLF line ends) into header
 * fields and body the way Postfix hands them to a filter: folded header
 * lines joined by "\n" followed by their white space, each value as it
 * follows the colon (leading space included), the body with CRLF line ends.
 * A line that is not a header field before the blank line starts the body.
 *
 *	struct mc_message m;
 *	if (mc_message_parse(text, len, &m) < 0) ... out of memory
 *	... m.h[i].name, m.h[i].value, m.body, m.blen ...
 *	mc_message_free(&m);
 */
#ifndef HM_MC_MESSAGE_H
#define HM_MC_MESSAGE_H

#include <stddef.h>

struct mc_header {
	char *name, *value;
};

struct mc_message {
	struct mc_header *h;
	size_t nh, cap;
	char *body;			/* CRLF line ends; not NUL-terminated */
	size_t blen, bcap;
	unsigned long long size;	/* header and body bytes as sent */
};

/* 0, or -1 when out of memory (m is then empty). */
int mc_message_parse(const char *text, size_t len, struct mc_message *m);
void mc_message_free(struct mc_message *m);

/*
 * Read a whole file ("-": stdin) of at most max bytes into a new buffer.
 * 0 with *buf_r (free it) and *len_r, or -1 with errno (EFBIG past max).
 */
int mc_read_file(const char *path, size_t max, char **buf_r, size_t *len_r);

#endif
