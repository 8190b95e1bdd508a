/*
 * strbuf.h - a growable string buffer with a hard maximum.
 *
 * Text built from untrusted input (headers we write, log fields) goes
 * through one of these: it grows as needed up to max bytes, and an append
 * that would pass the maximum fails instead of truncating silently, so the
 * caller decides what to do.  The text is always NUL-terminated.
 * Release with hm_strbuf_free(&sb) (idempotent).
 *
 * Over a caller's buffer (hm_strbuf_init_fixed) it never allocates, for
 * text written on every message such as the log line: there an append
 * that does not fit is cut instead, the cut marked with "...", and fails;
 * later appends fail too.  A text that fills the buffer exactly counts as
 * cut, as nothing more can follow it.
 */
#ifndef HM_STRBUF_H
#define HM_STRBUF_H

#include <stdbool.h>
#include <stddef.h>

struct hm_strbuf {
	char *s;			/* NULL until the first append */
	size_t len, cap, max;
	bool failed;			/* an append failed (too long or no memory) */
	bool fixed;			/* s is the caller's buffer: cut, never grow */
};

/* An empty buffer that may hold up to max bytes of text. */
void hm_strbuf_init(struct hm_strbuf *sb, size_t max);
/* An empty buffer over buf (size bytes, at least 4), for size - 1 bytes of text. */
void hm_strbuf_init_fixed(struct hm_strbuf *sb, char *buf, size_t size);
/* Frees the text (a fixed buffer is only emptied); sb stays usable. */
void hm_strbuf_free(struct hm_strbuf *sb);

/*
 * Append; 0, or -1 (and sb->failed set) when out of memory or past max
 * (over a fixed buffer: when the text was cut).
 */
int hm_strbuf_add(struct hm_strbuf *sb, const char *s, size_t n);
int hm_strbuf_puts(struct hm_strbuf *sb, const char *s);
int hm_strbuf_printf(struct hm_strbuf *sb, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* The text so far ("" when empty). */
const char *hm_strbuf_str(const struct hm_strbuf *sb);

#endif
