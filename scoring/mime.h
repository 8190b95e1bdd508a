/*
 * mime.h - a streaming MIME decoder that turns a message into the text a
 * content classifier reads.
 *
 * The message is fed in SMTP order, as the milter receives it: the top-level
 * headers one by one, the end of headers, then body chunks of any size.  The
 * decoder never holds the whole message: it walks the MIME structure
 * (nested multiparts, boundaries), undoes base64 and quoted-printable,
 * converts every charset to UTF-8 (iconv; sequences split across chunks are
 * carried over), decodes RFC 2047 encoded-words in Subject and display
 * names, turns text/html into text (tags dropped, entities decoded, the
 * hosts of href/src URLs kept), and reduces every other part to its content
 * type and file-name extension.  What it finds goes to a sink, as it is
 * found.
 *
 * Bounded: at most limits.text_max bytes of body text and
 * limits.header_text_max bytes of header text are emitted per message, at
 * most 1 MiB of text parts is decoded (markup without text reaches no
 * text_max), and parts nested deeper than limits.depth_max are treated as
 * opaque.  Malformed
 * input (a missing boundary, broken base64, an unknown charset, 8-bit bytes
 * where 7-bit was promised, NULs) degrades: the decoder emits what it can and
 * notes the anomaly in its stats; it never fails a message for its content.
 * Only hm_mime_begin() allocates: feeding a message cannot fail.
 *
 *	m = hm_mime_begin(&limits, &sink);
 *	hm_mime_header(m, name, value);		each top-level header, in order
 *	hm_mime_eoh(m);
 *	hm_mime_body(m, chunk, len);		any number of chunks
 *	hm_mime_finish(m);			flushes what is pending
 *	hm_mime_free(&m);			at any point (abort)
 *
 * A decoder is used by one thread at a time.
 */
#ifndef HM_MIME_H
#define HM_MIME_H

#include <stdbool.h>
#include <stddef.h>

/* What a piece of emitted text is. */
enum hm_text_kind {
	HM_TEXT_SUBJECT,	/* the Subject, decoded (RFC 2047), whole, once */
	HM_TEXT_FROM_NAME,	/* the From display name, decoded, whole, once per address */
	HM_TEXT_BODY,		/* text of a text/plain or text/html part, in pieces */
	HM_TEXT_BREAK,		/* end of one text part: no word spans it (len 0) */
	HM_TEXT_URL_HOST,	/* the host of a URL (href/src, or http(s):// in text),
				 * lower-case, whole */
	HM_TEXT_ATTACHMENT,	/* a non-text leaf part: "type/subtype ext" (ext may be
				 * empty, lower-case), whole */
	HM_TEXT_PART,		/* every leaf part's "type/subtype", lower-case, whole */
};

/*
 * Where the decoder sends what it finds.  s is UTF-8 (never a partial
 * character; NULs removed), not NUL-terminated; it is valid only during the
 * call.  HM_TEXT_BODY pieces may cut a word: the receiver joins them until
 * HM_TEXT_BREAK.
 */
struct hm_text_sink {
	void (*emit)(void *arg, enum hm_text_kind kind, const char *s, size_t len);
	void *arg;
};

/*
 * Order and forms, which receivers may rely on:
 * - each leaf part gives HM_TEXT_PART when its headers end, before anything
 *   else of it; a text/plain or text/html part then gives its HM_TEXT_BODY
 *   pieces (none once text_max is reached) and the HM_TEXT_URL_HOSTs found
 *   in them, as they are found, then one HM_TEXT_BREAK; any other leaf
 *   gives one HM_TEXT_ATTACHMENT, "type/subtype ext" with a single space
 *   even when ext is empty ("application/pdf pdf", "application/octet-stream ");
 * - the Subject of an embedded message (message/rfc822) is body text: one
 *   HM_TEXT_BODY then HM_TEXT_BREAK, before the parts of that message;
 * - HM_TEXT_SUBJECT and HM_TEXT_FROM_NAME come from hm_mime_header(), as
 *   the headers are given;
 * - at most 256 URL hosts and 256 PART/ATTACHMENT items per message (past
 *   those, a text part without text gives no break either);
 * - body pieces hold whole characters and are cut where the decoder's
 *   buffer fills, so the same message gives the same calls whatever the
 *   chunks it was fed in.
 */

struct hm_mime_limits {
	size_t text_max;		/* body text bytes emitted per message, e.g. 32 KiB */
	size_t header_text_max;		/* header text bytes (Subject, names), e.g. 4 KiB */
	unsigned depth_max;		/* multipart nesting, e.g. 8 */
};

/* What the decoder noticed, for features and the log. */
struct hm_mime_stats {
	unsigned parts;			/* leaf parts seen */
	unsigned depth;			/* deepest nesting reached */
	bool truncated;			/* text_max reached: the rest was not decoded */
	bool malformed;			/* broken structure or encoding was met */
	bool html_only;			/* text/html with no text/plain alternative */
};

struct hm_mime;

/* A new decoder (limits and sink are copied); NULL when out of memory. */
struct hm_mime *hm_mime_begin(const struct hm_mime_limits *limits,
			      const struct hm_text_sink *sink);

void hm_mime_header(struct hm_mime *m, const char *name, const char *value);
void hm_mime_eoh(struct hm_mime *m);
void hm_mime_body(struct hm_mime *m, const unsigned char *chunk, size_t len);
void hm_mime_finish(struct hm_mime *m);

const struct hm_mime_stats *hm_mime_stats(const struct hm_mime *m);

void hm_mime_free(struct hm_mime **m);

#endif
