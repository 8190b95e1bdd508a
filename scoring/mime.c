/*
 * mime.c - the streaming MIME decoder: splits the body into lines, follows
 * the part structure (a stack of multipart boundaries and embedded
 * messages), reads each part's headers, and runs the text of text/plain
 * and text/html parts through transfer decoding (xfer.c), conversion to
 * UTF-8 (charset.c) and, for HTML, html.c, to the sink; other parts are
 * reduced to their type and file-name extension.  See mime.h.
 *
 * Memory is one decoder struct and its boundary stack, both allocated at
 * begin: a line longer than the line buffer is passed on in pieces (such a
 * line cannot be a boundary), a header field longer than its buffer is cut.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/charset.h"
#include "scoring/html.h"
#include "scoring/mime.h"
#include "scoring/mimehdr.h"
#include "scoring/rfc2047.h"
#include "scoring/urlhost.h"
#include "scoring/xfer.h"

#define LINE_MAX_ 1024			/* longer lines are passed on in pieces */
#define FIELD_MAX 4096			/* a part's header field, cut beyond */
#define OUT_CHUNK 2048			/* body text passed to the sink at once */
#define HOSTS_MAX 256			/* URL hosts emitted per message */
#define PARTS_EMIT_MAX 256		/* PART/ATTACHMENT items emitted per message */
#define DEPTH_HARD_MAX 64		/* whatever the limits say */
#define HDR_DECODE_MAX 4096		/* one decoded header text */
/*
 * Decoded bytes read from text parts per message: HTML that is all markup
 * (or text that is all blanks or NULs) gives no text to reach text_max,
 * and would otherwise be parsed to the end of a 50 MB message.
 */
#define DECODED_MAX (1u << 20)

enum mode { M_HEADERS, M_TEXT, M_SKIP };

/* An enclosing container: a multipart (with its boundary) or an embedded message. */
struct level {
	bool message;
	bool digest;			/* multipart/digest: parts default to message/rfc822 */
	size_t blen;
	char boundary[HM_BOUNDARY_MAX + 1];
};

/* The part whose headers are being read, or whose body is being decoded. */
struct part {
	char type[HM_MIME_TYPE_MAX];
	enum hm_cte cte;
	bool in_message;		/* the headers are those of an embedded message */
	bool told;			/* its HM_TEXT_PART went out (under the cap) */
	size_t text_start;		/* text_used when its text began */
	bool subject_seen;
	struct hm_mimehdr_params ct, disp;
};

struct hm_mime {
	struct hm_mime_limits lim;
	struct hm_text_sink sink;
	struct hm_mime_stats st;
	bool eoh, finished, top_subject_seen, saw_plain, saw_html, html;
	enum mode mode;

	unsigned char line[LINE_MAX_];	/* the line being assembled */
	size_t linelen;
	bool midline;			/* part of the current line was passed on */

	char field[FIELD_MAX + 1];	/* a part's header field being assembled */
	size_t fieldlen;

	struct level *lv;
	unsigned nlv, nmulti, depth_cap;

	struct part cur;
	struct hm_b64 b64;
	struct hm_qp qp;
	struct hm_charset cs;		/* body text */
	struct hm_charset hcs;		/* header text */
	struct hm_html htm;
	struct hm_urlscan us;

	char out[OUT_CHUNK];
	size_t outlen;
	size_t text_used, header_used;
	size_t decoded;			/* bytes out of transfer decoding, all text parts */
	unsigned hosts, emitted;

	unsigned char dec[LINE_MAX_ + 40];	/* room for hm_qp_decode */
	char hbuf[HDR_DECODE_MAX];
};

static void emit(struct hm_mime *m, enum hm_text_kind kind, const char *s, size_t n)
{
	if (m->sink.emit != NULL)
		m->sink.emit(m->sink.arg, kind, s, n);
}

/* The longest prefix of s (at most max bytes) that ends on a whole character. */
static size_t utf8_cut(const char *s, size_t n, size_t max)
{
	if (n <= max)
		return n;
	while (max > 0 && ((unsigned char)s[max] & 0xc0) == 0x80)
		max--;
	return max;
}

/* Remove NULs in place; the new length. */
static size_t strip_nul(char *s, size_t n)
{
	size_t o = 0;

	for (size_t i = 0; i < n; i++)
		if (s[i] != '\0')
			s[o++] = s[i];
	return o;
}

/* ---- body text out ---- */

static void out_flush(struct hm_mime *m)
{
	if (m->outlen > 0)
		emit(m, HM_TEXT_BODY, m->out, m->outlen);
	m->outlen = 0;
}

static void host_out(void *arg, const char *host, size_t n)
{
	struct hm_mime *m = arg;

	if (m->hosts >= HOSTS_MAX)
		return;
	m->hosts++;
	emit(m, HM_TEXT_URL_HOST, host, n);
}

static void out_add(struct hm_mime *m, const char *s, size_t n)
{
	hm_urlscan_feed(&m->us, s, n, host_out, m);
	while (n > 0) {
		size_t k = utf8_cut(s, n, sizeof(m->out) - m->outlen);

		memcpy(m->out + m->outlen, s, k);
		m->outlen += k;
		s += k;
		n -= k;
		if (n > 0)
			out_flush(m);
	}
}

/* Body text, whole UTF-8 characters: NULs dropped, the cap applied. */
static void text_out(void *arg, const char *s, size_t n)
{
	struct hm_mime *m = arg;

	if (m->st.truncated)
		return;
	if (n > m->lim.text_max - m->text_used) {
		n = utf8_cut(s, n, m->lim.text_max - m->text_used);
		m->st.truncated = true;
	}
	while (n > 0) {
		const char *z = memchr(s, '\0', n);
		size_t k = z != NULL ? (size_t)(z - s) : n;

		out_add(m, s, k);
		m->text_used += k;
		if (z == NULL)
			break;
		s += k + 1;
		n -= k + 1;
		m->text_used++;
	}
}

static void cs_out(void *arg, const char *s, size_t n)
{
	struct hm_mime *m = arg;

	if (m->html)
		hm_html_feed(&m->htm, s, n);
	else
		text_out(m, s, n);
}

/* ---- header text ---- */

/* A header text (Subject, a name), whole, within the header budget. */
static void header_out(struct hm_mime *m, enum hm_text_kind kind, char *s, size_t n)
{
	n = strip_nul(s, n);
	n = utf8_cut(s, n, m->lim.header_text_max - m->header_used);
	if (n == 0)
		return;
	m->header_used += n;
	emit(m, kind, s, n);
}

static size_t decode_header(struct hm_mime *m, const char *v, size_t n)
{
	while (n > 0 && (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')) {
		v++;
		n--;
	}
	n = hm_rfc2047_decode(&m->hcs, v, n, m->hbuf, sizeof(m->hbuf));
	while (n > 0 && (m->hbuf[n - 1] == ' ' || m->hbuf[n - 1] == '\t'))
		n--;
	return n;
}

static void from_name(void *arg, const char *name, size_t n)
{
	struct hm_mime *m = arg;

	n = decode_header(m, name, n);
	header_out(m, HM_TEXT_FROM_NAME, m->hbuf, n);
}

/* ---- part structure ---- */

static void part_reset(struct hm_mime *m, bool digest)
{
	memset(&m->cur, 0, sizeof(m->cur));
	strcpy(m->cur.type, digest ? "message/rfc822" : "text/plain");
	m->cur.cte = HM_CTE_NONE;
	m->fieldlen = 0;
}

static void part_header(struct hm_mime *m, const char *name, const char *value, bool top)
{
	char c = (char)(name[0] | 0x20);

	/* Most fields are none of these: one test of the first letter. */
	if (c != 'c' && c != 's' && c != 'f')
		return;
	if (hm_mimehdr_is(name, "Content-Type")) {
		if (!hm_mimehdr_ctype(value, m->cur.type, &m->cur.ct))
			m->st.malformed = true;
	} else if (hm_mimehdr_is(name, "Content-Transfer-Encoding")) {
		m->cur.cte = hm_mimehdr_cte(value);
	} else if (hm_mimehdr_is(name, "Content-Disposition")) {
		hm_mimehdr_disposition(value, &m->cur.disp);
	} else if (hm_mimehdr_is(name, "Subject")) {
		size_t n;

		if (top && !m->top_subject_seen) {
			m->top_subject_seen = true;
			n = decode_header(m, value, strlen(value));
			header_out(m, HM_TEXT_SUBJECT, m->hbuf, n);
		} else if (m->cur.in_message && !m->cur.subject_seen && !m->st.truncated) {
			/* A forwarded message's Subject is text of the body. */
			m->cur.subject_seen = true;
			n = decode_header(m, value, strlen(value));
			hm_urlscan_init(&m->us);
			text_out(m, m->hbuf, n);
			hm_urlscan_flush(&m->us, host_out, m);
			out_flush(m);
			emit(m, HM_TEXT_BREAK, "", 0);
		}
	} else if (top && hm_mimehdr_is(name, "From")) {
		hm_mimehdr_names(value, from_name, m);
	}
}

static void leaf(struct hm_mime *m, bool text)
{
	char item[HM_MIME_TYPE_MAX + HM_EXT_MAX + 1];
	char ext[HM_EXT_MAX];
	const struct hm_mimehdr_params *p;

	bool told = m->emitted < PARTS_EMIT_MAX;

	m->st.parts++;
	if (told) {
		m->emitted++;
		emit(m, HM_TEXT_PART, m->cur.type, strlen(m->cur.type));
	}
	m->cur.told = told;
	m->cur.text_start = m->text_used;
	if (text) {
		m->html = strcmp(m->cur.type, "text/html") == 0;
		if (m->html)
			m->saw_html = true;
		else
			m->saw_plain = true;
		m->st.html_only = m->saw_html && !m->saw_plain;
		if (m->st.truncated) {
			/* No text left to read, but a text part always ends with a break. */
			if (told)
				emit(m, HM_TEXT_BREAK, "", 0);
			m->mode = M_SKIP;
			return;
		}
		hm_b64_init(&m->b64);
		hm_qp_init(&m->qp);
		hm_charset_start(&m->cs, m->cur.ct.charset);
		if (m->html)
			hm_html_reset(&m->htm);
		hm_urlscan_init(&m->us);
		m->mode = M_TEXT;
		return;
	}
	m->mode = M_SKIP;
	if (m->emitted >= PARTS_EMIT_MAX)
		return;
	m->emitted++;
	p = m->cur.disp.fname_len > 0 ? &m->cur.disp : &m->cur.ct;
	ext[0] = '\0';
	if (p->fname_len > 0) {
		size_t n = decode_header(m, p->fname, p->fname_len);

		hm_mimehdr_ext(m->hbuf, n, ext);
	}
	snprintf(item, sizeof(item), "%s %s", m->cur.type, ext);
	emit(m, HM_TEXT_ATTACHMENT, item, strlen(item));
}

static void push(struct hm_mime *m, bool message)
{
	struct level *l = &m->lv[m->nlv++];

	l->message = message;
	l->digest = !message && strcmp(m->cur.type, "multipart/digest") == 0;
	l->blen = message ? 0 : m->cur.ct.boundary_len;
	if (!message) {
		memcpy(l->boundary, m->cur.ct.boundary, l->blen);
		m->nmulti++;
	}
	if (m->nlv > m->st.depth)
		m->st.depth = m->nlv;
}

/* The headers of the current part are complete: what is its body? */
static void body_begin(struct hm_mime *m)
{
	const char *t = m->cur.type;
	bool deep = m->nlv >= m->depth_cap;

	if (strncmp(t, "multipart/", 10) == 0) {
		if (m->cur.ct.boundary_len == 0) {
			/* No usable boundary: its content is read as text. */
			m->st.malformed = true;
			strcpy(m->cur.type, "text/plain");
			leaf(m, true);
		} else if (deep) {
			leaf(m, false);
		} else {
			push(m, false);
			m->mode = M_SKIP;	/* the preamble */
		}
		return;
	}
	if ((strcmp(t, "message/rfc822") == 0 || strcmp(t, "message/global") == 0) &&
	    !deep && (m->cur.cte == HM_CTE_NONE)) {
		push(m, true);
		part_reset(m, false);
		m->cur.in_message = true;
		m->mode = M_HEADERS;
		return;
	}
	leaf(m, strcmp(t, "text/plain") == 0 || strcmp(t, "text/html") == 0);
}

/* The end of a text part: flush every stage, then a break. */
static void text_end(struct hm_mime *m)
{
	unsigned char tail[40];
	size_t n;
	bool bad = false;

	if (m->cur.cte == HM_CTE_B64) {
		hm_b64_finish(&m->b64, &bad);
	} else if (m->cur.cte == HM_CTE_QP) {
		n = hm_qp_finish(&m->qp, tail);
		hm_charset_feed(&m->cs, tail, n);
	}
	hm_charset_flush(&m->cs);
	if (m->html)
		hm_html_flush(&m->htm);
	hm_urlscan_flush(&m->us, host_out, m);
	out_flush(m);
	if (bad || m->cs.bad)
		m->st.malformed = true;
	if (m->cur.told || m->text_used > m->cur.text_start)
		emit(m, HM_TEXT_BREAK, "", 0);
	m->mode = M_SKIP;
}

static void field_done(struct hm_mime *m)
{
	char *colon, *name = m->field, *value;
	size_t nl;

	if (m->fieldlen == 0)
		return;
	m->field[m->fieldlen] = '\0';
	m->fieldlen = 0;
	colon = strchr(m->field, ':');
	if (colon == NULL)
		return;
	*colon = '\0';
	value = colon + 1;
	nl = strlen(name);
	while (nl > 0 && (name[nl - 1] == ' ' || name[nl - 1] == '\t'))
		name[--nl] = '\0';
	part_header(m, name, value, false);
}

static void headers_end(struct hm_mime *m)
{
	field_done(m);
	body_begin(m);
}

/* The current part ends (a boundary, the end of the message). */
static void part_end(struct hm_mime *m)
{
	if (m->mode == M_HEADERS)
		headers_end(m);		/* a part with headers only */
	if (m->mode == M_TEXT)
		text_end(m);
	m->mode = M_SKIP;
}

/* Is line (no line break) a boundary of an enclosing multipart?  Acts on it if so. */
static bool boundary(struct hm_mime *m, const unsigned char *s, size_t n)
{
	for (unsigned k = m->nlv; k-- > 0;) {
		const struct level *l = &m->lv[k];
		size_t i;
		bool close = false;

		if (l->message || n < 2 + l->blen || memcmp(s + 2, l->boundary, l->blen) != 0)
			continue;
		i = 2 + l->blen;
		if (i + 1 < n + 0 && s[i] == '-' && s[i + 1] == '-') {
			close = true;
			i += 2;
		}
		while (i < n && (s[i] == ' ' || s[i] == '\t'))
			i++;
		if (i != n)
			continue;

		part_end(m);
		while (m->nlv > k + 1) {
			if (!m->lv[--m->nlv].message) {
				m->nmulti--;
				m->st.malformed = true;	/* an inner multipart left open */
			}
		}
		if (close) {
			m->nlv--;
			m->nmulti--;
			m->mode = M_SKIP;	/* the epilogue */
		} else {
			part_reset(m, l->digest);
			m->mode = M_HEADERS;
		}
		return true;
	}
	return false;
}

static void field_add(struct hm_mime *m, const unsigned char *s, size_t n)
{
	for (size_t i = 0; i < n && m->fieldlen < FIELD_MAX; i++)
		m->field[m->fieldlen++] = s[i] == '\0' ? ' ' : (char)s[i];
}

static void segment(struct hm_mime *m, const unsigned char *s, size_t n, bool start, bool eol);

static void header_segment(struct hm_mime *m, const unsigned char *s, size_t n, bool start,
			   bool eol)
{
	if (!start) {
		field_add(m, s, n);
		return;
	}
	if (n == 0 && eol) {
		headers_end(m);
		return;
	}
	if (s[0] == ' ' || s[0] == '\t') {
		if (m->fieldlen > 0)
			field_add(m, (const unsigned char *)"\n", 1);
		field_add(m, s, n);
		return;
	}
	/* A field name is printable ASCII up to a colon; anything else starts the body. */
	size_t i = 0;

	while (i < n && s[i] > 0x20 && s[i] < 0x7f && s[i] != ':')
		i++;
	while (i < n && (s[i] == ' ' || s[i] == '\t'))
		i++;
	if (i == 0 || i == n || s[i] != ':') {
		if (!(i == n && !eol)) {
			m->st.malformed = true;
			headers_end(m);
			segment(m, s, n, false, eol);
			return;
		}
	}
	field_done(m);
	field_add(m, s, n);
}

static void text_segment(struct hm_mime *m, const unsigned char *s, size_t n, bool eol)
{
	size_t k;
	bool bad = false;

	if (m->decoded > DECODED_MAX)
		m->st.truncated = true;
	if (m->st.truncated) {
		text_end(m);		/* what was decoded goes out; the rest is skipped */
		return;
	}
	switch (m->cur.cte) {
	case HM_CTE_B64:
		k = hm_b64_decode(&m->b64, s, n, m->dec, &bad);
		hm_charset_feed(&m->cs, m->dec, k);
		break;
	case HM_CTE_QP:
		k = hm_qp_decode(&m->qp, s, n, eol, m->dec, &bad);
		hm_charset_feed(&m->cs, m->dec, k);
		break;
	default:
		k = n + eol;
		hm_charset_feed(&m->cs, s, n);
		if (eol)
			hm_charset_feed(&m->cs, (const unsigned char *)"\n", 1);
		break;
	}
	m->decoded += k;
	if (bad)
		m->st.malformed = true;
}

/* A piece of a line: start if it begins the line, eol if it ends it. */
static void segment(struct hm_mime *m, const unsigned char *s, size_t n, bool start, bool eol)
{
	if (start && eol && m->nmulti > 0 && n >= 2 && s[0] == '-' && s[1] == '-' &&
	    boundary(m, s, n))
		return;
	switch (m->mode) {
	case M_HEADERS:
		header_segment(m, s, n, start, eol);
		break;
	case M_TEXT:
		text_segment(m, s, n, eol);
		break;
	case M_SKIP:
		break;
	}
}

/* A whole line (or its last piece), its "\n" removed; "\r\n" counts as one break. */
static void line_end(struct hm_mime *m, const unsigned char *s, size_t n)
{
	if (n > 0 && s[n - 1] == '\r')
		n--;
	segment(m, s, n, !m->midline, true);
	m->midline = false;
}

/* Buffer part of a line; a full buffer is passed on (but a final "\r" kept). */
static void line_add(struct hm_mime *m, const unsigned char *s, size_t n)
{
	while (n > 0) {
		size_t k = sizeof(m->line) - m->linelen;

		if (k > n)
			k = n;
		memcpy(m->line + m->linelen, s, k);
		m->linelen += k;
		s += k;
		n -= k;
		if (m->linelen == sizeof(m->line)) {
			size_t keep = m->line[m->linelen - 1] == '\r';

			segment(m, m->line, m->linelen - keep, !m->midline, false);
			m->midline = true;
			m->line[0] = '\r';
			m->linelen = keep;
		}
	}
}

/* ---- interface ---- */

struct hm_mime *hm_mime_begin(const struct hm_mime_limits *limits,
			      const struct hm_text_sink *sink)
{
	struct hm_mime *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	m->lim = *limits;
	m->sink = *sink;
	m->depth_cap = limits->depth_max < DEPTH_HARD_MAX ? limits->depth_max : DEPTH_HARD_MAX;
	m->lv = calloc(m->depth_cap + 1, sizeof(*m->lv));
	if (m->lv == NULL) {
		free(m);
		return NULL;
	}
	hm_charset_init(&m->cs, cs_out, m);
	hm_charset_init(&m->hcs, NULL, NULL);
	hm_html_init(&m->htm, text_out, host_out, m);
	hm_urlscan_init(&m->us);
	part_reset(m, false);
	m->mode = M_HEADERS;
	return m;
}

void hm_mime_header(struct hm_mime *m, const char *name, const char *value)
{
	if (m->eoh || m->finished || name == NULL || value == NULL)
		return;
	part_header(m, name, value, true);
}

void hm_mime_eoh(struct hm_mime *m)
{
	if (m->eoh || m->finished)
		return;
	m->eoh = true;
	body_begin(m);
}

void hm_mime_body(struct hm_mime *m, const unsigned char *chunk, size_t len)
{
	if (m->finished)
		return;
	if (!m->eoh)
		hm_mime_eoh(m);
	while (len > 0) {
		const unsigned char *nl = memchr(chunk, '\n', len);
		size_t k;

		if (nl == NULL) {
			line_add(m, chunk, len);
			break;
		}
		k = (size_t)(nl - chunk);
		if (m->linelen == 0 && k < sizeof(m->line)) {
			/* A whole line in the chunk: no copy.  A longer one goes
			 * through the buffer, cut where chunked input cuts it. */
			line_end(m, chunk, k);
		} else {
			line_add(m, chunk, k);
			line_end(m, m->line, m->linelen);
			m->linelen = 0;
		}
		chunk += k + 1;
		len -= k + 1;
	}
}

void hm_mime_finish(struct hm_mime *m)
{
	if (m->finished)
		return;
	if (!m->eoh)
		hm_mime_eoh(m);
	if (m->linelen > 0 || m->midline) {
		line_end(m, m->line, m->linelen);	/* a last line without its break */
		m->linelen = 0;
	}
	part_end(m);
	if (m->nmulti > 0)
		m->st.malformed = true;		/* an unterminated multipart */
	m->finished = true;
}

const struct hm_mime_stats *hm_mime_stats(const struct hm_mime *m)
{
	return &m->st;
}

void hm_mime_free(struct hm_mime **mp)
{
	struct hm_mime *m = *mp;

	if (m == NULL)
		return;
	hm_charset_close(&m->cs);
	hm_charset_close(&m->hcs);
	free(m->lv);
	free(m);
	*mp = NULL;
}
