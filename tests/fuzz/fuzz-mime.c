/*
 * fuzz-mime.c - libFuzzer target for the streaming MIME decoder
 * (scoring/mime.h).
 *
 * The input's first byte picks the limits and seeds the chunk sizes; the
 * rest is a message: its header block (up to the first empty line) is
 * given field by field as libmilter would, the body in chunks of varying
 * sizes.  The same message is also fed with the body in one piece, and the
 * two runs must emit the same things.  The sink contract is checked on
 * every call: valid UTF-8, no NUL, a known kind, breaks empty, items
 * non-empty, body and header text within their caps, URL hosts short; the
 * stats within the depth limit.  Any violation aborts.
 *
 *	clang -g -O1 -fsanitize=fuzzer,address,undefined -I. -Ibuild \
 *	    tests/fuzz/fuzz-mime.c scoring/{mime,mimehdr,charset,html,urlhost,rfc2047,xfer}.c
 *	./a.out tests/fuzz/corpus/mime
 */
#include "config.h"

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/mime.h"

struct check {
	const struct hm_mime_limits *lim;
	size_t body, header;
	uint64_t hash;			/* of everything emitted, body as one stream */
};

static void fail(const char *why)
{
	fprintf(stderr, "fuzz-mime: %s\n", why);
	abort();
}

static bool utf8_valid(const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n;) {
		unsigned char c = s[i];
		size_t len;
		uint32_t cp;

		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c < 0xe0)
			len = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c < 0xf0)
			len = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c < 0xf5)
			len = 4, cp = c & 0x07;
		else
			return false;
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

static uint64_t fnv(uint64_t h, const void *p, size_t n)
{
	const unsigned char *s = p;

	for (size_t i = 0; i < n; i++)
		h = (h ^ s[i]) * 0x100000001b3ull;
	return h;
}

static void emit(void *arg, enum hm_text_kind kind, const char *s, size_t n)
{
	struct check *c = arg;
	unsigned char k = (unsigned char)kind;

	if ((unsigned)kind > HM_TEXT_PART)
		fail("unknown kind");
	if (!utf8_valid((const unsigned char *)s, n))
		fail("invalid UTF-8");
	if (memchr(s, '\0', n) != NULL)
		fail("a NUL");
	switch (kind) {
	case HM_TEXT_BREAK:
		if (n != 0)
			fail("a break with text");
		break;
	case HM_TEXT_BODY:
		if (n == 0)
			fail("an empty body piece");
		c->body += n;
		if (c->body > c->lim->text_max)
			fail("body text past text_max");
		c->hash = fnv(c->hash, s, n);	/* pieces may be cut anywhere */
		return;
	case HM_TEXT_SUBJECT:
	case HM_TEXT_FROM_NAME:
		c->header += n;
		if (c->header > c->lim->header_text_max)
			fail("header text past header_text_max");
		/* fall through */
	default:
		if (n == 0)
			fail("an empty item");
		if (kind == HM_TEXT_URL_HOST && n > 253)
			fail("a URL host too long");
		break;
	}
	c->hash = fnv(c->hash, &k, 1);
	c->hash = fnv(c->hash, s, n);
}

/* One run; the hash of what was emitted. */
static uint64_t run(const struct hm_mime_limits *lim, const uint8_t *msg, size_t len,
		    uint32_t seed)
{
	struct check c = { lim, 0, 0, 0xcbf29ce484222325ull };
	struct hm_text_sink sink = { emit, &c };
	struct hm_mime *m = hm_mime_begin(lim, &sink);
	size_t i = 0;

	if (m == NULL)
		fail("out of memory");
	/* Header fields, as libmilter gives them: name, value (folding kept). */
	while (i < len) {
		const uint8_t *nl = memchr(msg + i, '\n', len - i);
		size_t end = nl != NULL ? (size_t)(nl - msg) : len, fend = end;
		char *f, *colon;

		if (end == i || (end == i + 1 && msg[i] == '\r')) {
			i = end + 1;
			break;
		}
		/* Continuation lines belong to the field. */
		while (fend + 1 < len && (msg[fend + 1] == ' ' || msg[fend + 1] == '\t')) {
			nl = memchr(msg + fend + 1, '\n', len - fend - 1);
			fend = nl != NULL ? (size_t)(nl - msg) : len;
		}
		f = malloc(fend - i + 1);
		if (f == NULL)
			fail("out of memory");
		memcpy(f, msg + i, fend - i);
		f[fend - i] = '\0';
		colon = strchr(f, ':');
		if (colon != NULL) {
			*colon = '\0';
			hm_mime_header(m, f, colon[1] == ' ' ? colon + 2 : colon + 1);
		}
		free(f);
		i = fend + 1;
	}
	if (i > len)
		i = len;
	hm_mime_eoh(m);
	while (i < len) {
		size_t k = len - i;

		if (seed != 0) {
			seed = seed * 1103515245u + 12345u;
			k = 1 + (seed >> 16) % (seed & 0x100 ? 7 : 300);
			if (k > len - i)
				k = len - i;
		}
		hm_mime_body(m, msg + i, k);
		i += k;
	}
	hm_mime_finish(m);
	const struct hm_mime_stats *st = hm_mime_stats(m);

	if (st->depth > lim->depth_max)
		fail("depth past depth_max");
	hm_mime_free(&m);
	if (m != NULL)
		fail("hm_mime_free left the pointer");
	return c.hash;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const struct hm_mime_limits limits[4] = {
		{ 32768, 4096, 8 }, { 64, 16, 2 }, { 1, 1, 0 }, { 4096, 256, 40 },
	};
	const struct hm_mime_limits *lim;
	uint64_t a, b;

	if (size < 1)
		return 0;
	lim = &limits[data[0] & 3];
	a = run(lim, data + 1, size - 1, 0);
	b = run(lim, data + 1, size - 1, (uint32_t)data[0] | 1u);
	if (a != b)
		fail("chunking changed what was emitted");
	return 0;
}
