/*
 * mime-feed.c - feeding whole messages to the MIME decoder and recording
 * what it emits, for its tests and tools.  See mime-feed.h.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/mime-feed.h"

bool hm_test_utf8_valid(const char *str, size_t n)
{
	const unsigned char *s = (const unsigned char *)str;

	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		unsigned long cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c < 0xe0) {
			len = 2;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c < 0xf0) {
			len = 3;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c < 0xf5) {
			len = 4;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + len > n)
			return false;
		for (size_t k = 1; k < len; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (s[i + k] & 0x3f);
		}
		if ((len == 3 && cp < 0x800) || (len == 4 && cp < 0x10000) || cp > 0x10ffff ||
		    (cp >= 0xd800 && cp <= 0xdfff))
			return false;
		i += len;
	}
	return true;
}

static void grow(char **s, size_t *cap, size_t need)
{
	if (need <= *cap)
		return;
	while (*cap < need)
		*cap = *cap ? *cap * 2 : 256;
	*s = realloc(*s, *cap);
	if (*s == NULL)
		abort();
}

static void put(struct hm_test_events *e, const char *s, size_t n)
{
	grow(&e->s, &e->cap, e->len + 2 * n + 1);
	for (size_t i = 0; i < n; i++) {
		if (s[i] == '\n' || s[i] == '\\') {
			e->s[e->len++] = '\\';
			e->s[e->len++] = s[i] == '\n' ? 'n' : '\\';
		} else {
			e->s[e->len++] = s[i];
		}
	}
	e->s[e->len] = '\0';
}

static void newline(struct hm_test_events *e)
{
	grow(&e->s, &e->cap, e->len + 2);
	e->s[e->len++] = '\n';
	e->s[e->len] = '\0';
}

static void violation(struct hm_test_events *e, const char *why)
{
	if (e->violations++ == 0)
		snprintf(e->why, sizeof(e->why), "%s", why);
}

static void sink_emit(void *arg, enum hm_text_kind kind, const char *s, size_t n)
{
	struct hm_test_events *e = arg;
	static const char tags[] = "SNB-HAP";

	if (!hm_test_utf8_valid(s, n))
		violation(e, "invalid UTF-8");
	if (memchr(s, '\0', n) != NULL)
		violation(e, "a NUL");
	if (kind == HM_TEXT_BODY) {
		if (n == 0)
			violation(e, "an empty body piece");
		grow(&e->body, &e->bcap, e->blen + n);
		memcpy(e->body + e->blen, s, n);
		e->blen += n;
		e->body_bytes += n;
		return;
	}
	if (kind == HM_TEXT_BREAK) {
		if (n != 0)
			violation(e, "a break with text");
		put(e, "B ", 2);
		put(e, e->body, e->blen);
		newline(e);
		e->blen = 0;
		return;
	}
	if (n == 0)
		violation(e, "an empty item");
	if (kind == HM_TEXT_SUBJECT || kind == HM_TEXT_FROM_NAME)
		e->header_bytes += n;
	if ((unsigned)kind > HM_TEXT_PART) {
		violation(e, "an unknown kind");
		return;
	}
	char tag[3] = { tags[kind], ' ', '\0' };

	put(e, tag, 2);
	put(e, s, n);
	newline(e);
}

void hm_test_events_init(struct hm_test_events *e)
{
	memset(e, 0, sizeof(*e));
	grow(&e->s, &e->cap, 1);
	e->s[0] = '\0';
}

void hm_test_events_free(struct hm_test_events *e)
{
	free(e->s);
	free(e->body);
	memset(e, 0, sizeof(*e));
}

struct hm_text_sink hm_test_sink(struct hm_test_events *e)
{
	struct hm_text_sink sink = { sink_emit, e };

	return sink;
}

/* The end of the line at p: the byte after its "\n" (or end). */
static const char *line_next(const char *p, const char *end)
{
	const char *nl = memchr(p, '\n', (size_t)(end - p));

	return nl != NULL ? nl + 1 : end;
}

static void feed_header(struct hm_mime *m, const char *f, size_t n)
{
	char *buf = malloc(n + 1), *colon, *v;

	if (buf == NULL)
		abort();
	memcpy(buf, f, n);
	buf[n] = '\0';
	/* Drop the field's final line break; libmilter gives no CR in folding. */
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		buf[--n] = '\0';
	colon = strchr(buf, ':');
	if (colon != NULL) {
		size_t o = 0;

		*colon = '\0';
		v = colon + 1;
		if (*v == ' ')
			v++;
		for (size_t i = 0; v[i] != '\0'; i++)
			if (v[i] != '\r')
				v[o++] = v[i];
		v[o] = '\0';
		hm_mime_header(m, buf, v);
	}
	free(buf);
}

void hm_test_mime_feed(struct hm_mime *m, const char *msg, size_t len, size_t chunk)
{
	const char *p = msg, *end = msg + len, *field = NULL;

	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		p = line_next(p, end);
	while (p < end) {
		const char *next = line_next(p, end);

		if (*p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n')) {
			p = next;
			break;		/* the empty line */
		}
		if ((*p == ' ' || *p == '\t') && field != NULL) {
			p = next;
			continue;	/* folded: part of the field */
		}
		if (field != NULL)
			feed_header(m, field, (size_t)(p - field));
		field = memchr(p, ':', (size_t)(next - p)) != NULL ? p : NULL;
		p = next;
	}
	if (field != NULL)	/* the last field ends at the empty line or at the end */
		feed_header(m, field, (size_t)(p - field));
	hm_mime_eoh(m);
	if (chunk == 0)
		chunk = (size_t)(end - p) > 0 ? (size_t)(end - p) : 1;
	while (p < end) {
		size_t k = (size_t)(end - p) < chunk ? (size_t)(end - p) : chunk;

		hm_mime_body(m, (const unsigned char *)p, k);
		p += k;
	}
	hm_mime_finish(m);
}
