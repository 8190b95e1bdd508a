/*
 * strbuf.c - growable string buffer with a maximum.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/strbuf.h"

void hm_strbuf_init(struct hm_strbuf *sb, size_t max)
{
	memset(sb, 0, sizeof(*sb));
	sb->max = max;
}

void hm_strbuf_init_fixed(struct hm_strbuf *sb, char *buf, size_t size)
{
	hm_strbuf_init(sb, size - 1);
	sb->s = buf;
	sb->cap = size;
	sb->fixed = true;
	buf[0] = '\0';
}

void hm_strbuf_free(struct hm_strbuf *sb)
{
	if (sb->fixed) {
		hm_strbuf_init_fixed(sb, sb->s, sb->cap);
		return;
	}
	free(sb->s);
	hm_strbuf_init(sb, sb->max);
}

/*
 * A fixed buffer after an append of n bytes of which what fitted is in
 * place: a text that reached max is cut, and the cut marked.
 */
static int fixed_done(struct hm_strbuf *sb, size_t n)
{
	if (n < sb->max - sb->len) {
		sb->len += n;
		return 0;
	}
	sb->len = sb->max;
	memcpy(sb->s + sb->len - 3, "...", 3);
	sb->s[sb->len] = '\0';
	sb->failed = true;
	return -1;
}

static int reserve(struct hm_strbuf *sb, size_t extra)
{
	size_t need, cap;
	char *grown;

	if (sb->failed || extra > sb->max - sb->len) {
		sb->failed = true;
		return -1;
	}
	need = sb->len + extra + 1;
	if (need <= sb->cap)
		return 0;
	cap = sb->cap ? sb->cap : 128;
	while (cap < need)
		cap *= 2;
	if (cap > sb->max + 1)
		cap = sb->max + 1;
	if ((grown = realloc(sb->s, cap)) == NULL) {
		sb->failed = true;
		return -1;
	}
	sb->s = grown;
	sb->cap = cap;
	return 0;
}

int hm_strbuf_add(struct hm_strbuf *sb, const char *s, size_t n)
{
	/* A fixed buffer once cut goes on to reserve(), which refuses it. */
	if (sb->fixed && !sb->failed) {
		size_t room = sb->max - sb->len;

		memcpy(sb->s + sb->len, s, n < room ? n : room);
		sb->s[sb->len + (n < room ? n : room)] = '\0';
		return fixed_done(sb, n);
	}
	if (reserve(sb, n) < 0)
		return -1;
	memcpy(sb->s + sb->len, s, n);
	sb->len += n;
	sb->s[sb->len] = '\0';
	return 0;
}

int hm_strbuf_puts(struct hm_strbuf *sb, const char *s)
{
	return hm_strbuf_add(sb, s, strlen(s));
}

int hm_strbuf_printf(struct hm_strbuf *sb, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (sb->fixed && !sb->failed) {
		va_start(ap, fmt);
		n = vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
		va_end(ap);
		if (n < 0) {
			sb->s[sb->len] = '\0';
			sb->failed = true;
			return -1;
		}
		return fixed_done(sb, (size_t)n);
	}
	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || reserve(sb, (size_t)n) < 0) {
		sb->failed = true;
		return -1;
	}
	va_start(ap, fmt);
	vsnprintf(sb->s + sb->len, sb->cap - sb->len, fmt, ap);
	va_end(ap);
	sb->len += (size_t)n;
	return 0;
}

const char *hm_strbuf_str(const struct hm_strbuf *sb)
{
	return sb->s ? sb->s : "";
}
