/*
 * content.c - a message's content features (DESIGN §9), as it streams.
 *
 * The MIME decoder (mime.h) hands over decoded text; each text stream (the
 * body, the Subject, a From display name) is normalised one character at a
 * time (lower-case, digits folded to 0, runs of white space to one space)
 * and gives character 4-grams, words and word pairs at distances 1 to
 * OSB_WINDOW, each in its own namespace (content-text.c).  URL hosts,
 * attachments and part types come whole.  Top-level headers give a curated
 * set of features chosen to describe the sender's software and habits;
 * everything a receiving system adds (Received, Delivered-To, Date-like
 * trace fields, X-Spam-*, Authentication-Results, mail-client flags such as
 * X-Status or X-Keywords) is simply never read, so it cannot leak a label.
 * Nor is Return-Path, which delivery writes and the daemon never sees
 * (Postfix drops a sender's): the envelope sender comes through
 * hm_content_envelope() instead, from MAIL FROM in the daemon and from the
 * stored message's Return-Path in the learner.
 */
#include "config.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "util/address.h"
#include "scoring/content.h"
#include "scoring/content-int.h"
#include "scoring/features.h"
#include "scoring/mime.h"

/* The decoder's bounds: enough text to judge, a bounded cost per message. */
static const struct hm_mime_limits content_limits = {
	.text_max = 16 * 1024,
	.header_text_max = 4 * 1024,
	.depth_max = 8,
};

static void add_str(struct hm_content *c, enum hm_ns ns, const char *s, size_t len)
{
	content_add(c, hm_fhash(&c->key, ns, s, len));
}

/* A "key=value" feature; the value is lower-cased and cut at 96 bytes. */
static void add_kv(struct hm_content *c, enum hm_ns ns, const char *k, const char *v, size_t vlen)
{
	char buf[160];
	size_t n = strlen(k);

	if (n > 60)
		n = 60;
	memcpy(buf, k, n);
	buf[n++] = '=';
	if (vlen > 96)
		vlen = 96;
	for (size_t i = 0; i < vlen; i++)
		buf[n++] = (char)tolower((unsigned char)v[i]);
	add_str(c, ns, buf, n);
}

static void add_kvs(struct hm_content *c, enum hm_ns ns, const char *k, const char *v)
{
	add_kv(c, ns, k, v, strlen(v));
}

/* Bucket a count: 0, 1, 2, 3-4, 5-8, 9-16, ... */
static unsigned log_bucket(unsigned long n)
{
	unsigned b = 0;

	while (n > 0 && b < 12) {
		b++;
		n >>= 1;
	}
	return b;
}

static void add_count(struct hm_content *c, const char *k, unsigned long n)
{
	char v[8];

	snprintf(v, sizeof(v), "%u", log_bucket(n));
	add_kvs(c, HM_NS_SHAPE, k, v);
}
static void stream_shape(struct hm_content *c, const struct textstream *t, const char *k)
{
	char v[8];

	if (t->letters < 8)
		return;
	snprintf(v, sizeof(v), "%u", (unsigned)(t->upper * 10 / t->letters));
	add_kvs(c, HM_NS_SHAPE, k, v);
}

/* ---- domains --------------------------------------------------------- */

/*
 * The registered domain, approximately: the last two labels, or three
 * when the second-level label is a short one under a country code
 * ("example.co.uk").  Features need consistency, not the Public Suffix
 * List's precision.
 */
static const char *reg_domain(const char *d)
{
	const char *dot[3] = { NULL, NULL, NULL };	/* the last three dots, right to left */
	size_t len = strlen(d), found = 0;

	for (const char *p = d + len; p > d && found < 3; p--)
		if (p[-1] == '.')
			dot[found++] = p - 1;
	if (found < 2)
		return d;		/* "example" or "example.org" */
	/* "example.co.uk": a 2-letter TLD under a label of up to 3 letters. */
	if (len - (size_t)(dot[0] - d) == 3 && dot[0] - dot[1] - 1 <= 3)
		return found == 3 ? dot[2] + 1 : d;
	return dot[1] + 1;
}

static void keep_domain(char *dst, const char *src, size_t len)
{
	size_t n = 0;

	while (len > 0 && (src[len - 1] == '.' || src[len - 1] == '>' || isspace((unsigned char)src[len - 1])))
		len--;
	for (size_t i = 0; i < len && n + 1 < DOMAIN_KEEP; i++)
		dst[n++] = (char)tolower((unsigned char)src[i]);
	dst[n] = '\0';
}

/* The domain of the first "local@domain" in a header value. */
static void value_domain(const char *v, char *dst)
{
	const char *at = strchr(v, '@'), *e;

	dst[0] = '\0';
	if (at == NULL)
		return;
	e = at + 1;
	while (*e && (isalnum((unsigned char)*e) || *e == '.' || *e == '-' || *e == '[' || *e == ']'))
		e++;
	keep_domain(dst, at + 1, (size_t)(e - at - 1));
}

static bool same_org(const char *a, const char *b)
{
	return *a && *b && strcmp(reg_domain(a), reg_domain(b)) == 0;
}

/* ---- the decoder's output -------------------------------------------- */

static void on_text(void *arg, enum hm_text_kind kind, const char *s, size_t len)
{
	struct hm_content *c = arg;
	char host[DOMAIN_KEEP];

	switch (kind) {
	case HM_TEXT_SUBJECT:
		content_stream_text(c, &c->subj, s, len);
		content_stream_break(c, &c->subj);
		break;
	case HM_TEXT_FROM_NAME:
		if (c->names++ < 4) {
			content_stream_text(c, &c->name, s, len);
			content_stream_break(c, &c->name);
			add_kv(c, HM_NS_NAME, "", s, len);
		}
		break;
	case HM_TEXT_BODY:
		content_stream_text(c, &c->body, s, len);
		break;
	case HM_TEXT_BREAK:
		content_stream_break(c, &c->body);
		break;
	case HM_TEXT_URL_HOST:
		c->urls++;
		keep_domain(host, s, len);
		add_str(c, HM_NS_URL_HOST, host, strlen(host));
		add_kvs(c, HM_NS_URL_DOMAIN, "", reg_domain(host));
		if (host[0] && strspn(host, "0123456789.") == strlen(host))
			add_kvs(c, HM_NS_SHAPE, "url", "ip");
		break;
	case HM_TEXT_ATTACHMENT: {
		const char *sp = memchr(s, ' ', len);

		add_kv(c, HM_NS_ATTACH, "", s, len);
		add_kv(c, HM_NS_ATTACH, "type", s, sp ? (size_t)(sp - s) : len);
		if (sp && sp + 1 < s + len)
			add_kv(c, HM_NS_ATTACH, "ext", sp + 1, (size_t)(s + len - sp - 1));
		break;
	}
	case HM_TEXT_PART:
		add_kv(c, HM_NS_PART, "", s, len);
		break;
	}
}

/* ---- the API ---------------------------------------------------------- */

struct hm_content *hm_content_begin(const unsigned char key[HM_CLS_KEY_LEN])
{
	struct hm_content *c = calloc(1, sizeof(*c));
	struct hm_text_sink sink;

	if (c == NULL)
		return NULL;
	hm_fkey_init(&c->key, key);
	content_stream_init(&c->body, HM_NS_GRAM, HM_NS_WORD, HM_NS_OSB);
	content_stream_init(&c->subj, HM_NS_SUBJ_GRAM, HM_NS_SUBJ_WORD, HM_NS_SUBJ_OSB);
	/* Display names: words and pairs; their 4-grams would only echo the words. */
	content_stream_init(&c->name, 0, HM_NS_NAME_WORD, HM_NS_NAME_WORD);
	sink.emit = on_text;
	sink.arg = c;
	if (hm_fset_init(&c->set) < 0 || (c->mime = hm_mime_begin(&content_limits, &sink)) == NULL) {
		hm_content_free(&c);
		return NULL;
	}
	add_str(c, HM_NS_BIAS, "", 0);
	return c;
}

/* The value without leading white space, folding turned into spaces, cut. */
static void clean_value(const char *v, char *out, size_t max)
{
	size_t n = 0;

	while (*v == ' ' || *v == '\t' || *v == '\r' || *v == '\n')
		v++;
	for (; *v && n + 1 < max; v++)
		out[n++] = (*v == '\r' || *v == '\n' || *v == '\t') ? ' ' : *v;
	while (n > 0 && out[n - 1] == ' ')
		n--;
	out[n] = '\0';
}

/* The first run of letters, lower-case: "Microsoft Outlook 6.0" -> "microsoft". */
static void family(const char *v, char *out, size_t max)
{
	size_t n = 0;

	while (*v && !isalpha((unsigned char)*v))
		v++;
	while (*v && isalpha((unsigned char)*v) && n + 1 < max)
		out[n++] = (char)tolower((unsigned char)*v++);
	out[n] = '\0';
}

/* A Message-ID's local part as character classes, runs collapsed. */
static void msgid_shape(struct hm_content *c, const char *v)
{
	char shape[24];
	size_t n = 0, len = 0;
	const char *p = strchr(v, '<');

	p = p ? p + 1 : v;
	for (; *p && *p != '@' && *p != '>'; p++, len++) {
		char k = isdigit((unsigned char)*p) ? '9' : isupper((unsigned char)*p) ? 'A' :
			 islower((unsigned char)*p) ? 'a' : *p;

		if (n + 1 < sizeof(shape) && (n == 0 || shape[n - 1] != k))
			shape[n++] = k;
	}
	shape[n] = '\0';
	add_kvs(c, HM_NS_HEADER, "msgid.shape", shape);
	add_count(c, "msgid.len", len);
}

/* Addresses in a To or Cc value. */
static unsigned count_addrs(const char *v)
{
	unsigned n = 0;

	for (; *v; v++)
		n += *v == '@';
	return n;
}

/* The headers read, and what each is. */
enum hkind {
	HK_FROM, HK_REPLY_TO, HK_SENDER, HK_CT, HK_CTE, HK_MAILER, HK_MSGID,
	HK_TO, HK_CC, HK_LIST_ID, HK_PRECEDENCE, HK_REPLY, HK_PRIO, HK_MIME_VERSION,
	HK_ORGANIZATION, HK_PRESENT,
};

#define H(name, kind) { name, sizeof(name) - 1, kind }

/*
 * Every other header is ignored.  HK_PRESENT: headers whose mere presence
 * describes the sender's software (the author's mail client, a list
 * server, a bulk mailer).  Only these: a receiving system's own fields
 * (trace, filters, mail stores) must never become features, and an allow
 * list cannot let one in by accident.
 */
static const struct {
	const char *name;
	size_t len;
	enum hkind kind;
} headers[] = {
	H("From", HK_FROM), H("Reply-To", HK_REPLY_TO),
	H("Sender", HK_SENDER), H("Content-Type", HK_CT),
	H("Content-Transfer-Encoding", HK_CTE), H("X-Mailer", HK_MAILER),
	H("User-Agent", HK_MAILER), H("Message-ID", HK_MSGID), H("To", HK_TO), H("Cc", HK_CC),
	H("List-Id", HK_LIST_ID), H("Precedence", HK_PRECEDENCE), H("In-Reply-To", HK_REPLY),
	H("References", HK_REPLY), H("X-Priority", HK_PRIO), H("X-MSMail-Priority", HK_PRIO),
	H("Importance", HK_PRIO), H("MIME-Version", HK_MIME_VERSION),
	H("Organization", HK_ORGANIZATION),
	H("List-Unsubscribe", HK_PRESENT), H("List-Subscribe", HK_PRESENT),
	H("List-Owner", HK_PRESENT), H("List-Post", HK_PRESENT), H("List-Help", HK_PRESENT),
	H("List-Archive", HK_PRESENT), H("Errors-To", HK_PRESENT),
	H("X-Mailman-Version", HK_PRESENT), H("X-BeenThere", HK_PRESENT),
	H("Mailing-List", HK_PRESENT), H("X-Mailing-List", HK_PRESENT),
	H("X-List-Host", HK_PRESENT), H("X-List-Admin", HK_PRESENT),
	H("X-Unsubscription-Info", HK_PRESENT), H("X-Mailer-Version", HK_PRESENT),
	H("X-URL", HK_PRESENT), H("X-MimeOLE", HK_PRESENT), H("Thread-Index", HK_PRESENT),
	H("Thread-Topic", HK_PRESENT), H("Content-Class", HK_PRESENT),
	H("X-Originating-IP", HK_PRESENT), H("Mail-Followup-To", HK_PRESENT),
	H("X-Face", HK_PRESENT), H("X-Accept-Language", HK_PRESENT),
	H("X-Operating-System", HK_PRESENT), H("X-Sender", HK_PRESENT),
	H("Disposition-Notification-To", HK_PRESENT), H("Return-Receipt-To", HK_PRESENT),
	H("X-Confirm-Reading-To", HK_PRESENT), H("Comments", HK_PRESENT),
	H("Keywords", HK_PRESENT), H("X-Message-Flag", HK_PRESENT),
	H("X-MS-Has-Attach", HK_PRESENT), H("X-MS-TNEF-Correlator", HK_PRESENT),
	H("X-Bulkmail", HK_PRESENT),
};

/* The header's entry, or -1: lengths first, most names end there. */
static int header_kind(const char *name)
{
	size_t len = strlen(name);

	for (size_t i = 0; i < sizeof(headers) / sizeof(headers[0]); i++)
		if (headers[i].len == len && strcasecmp(headers[i].name, name) == 0)
			return (int)i;
	return -1;
}

int hm_content_header(struct hm_content *c, const char *name, const char *value)
{
	char v[256], f[32];
	int k;

	if (c->failed)
		return -1;
	hm_mime_header(c->mime, name, value);
	if ((k = header_kind(name)) < 0)
		return 0;
	clean_value(value, v, sizeof(v));
	switch (headers[k].kind) {
	case HK_FROM: {
		const char *lt = strchr(v, '<');
		bool named = (lt && lt > v) || strchr(v, '(') != NULL;

		c->seen_from = true;
		value_domain(v, c->from_dom);
		add_kvs(c, HM_NS_HEADER, "from.dom", c->from_dom);
		add_kvs(c, HM_NS_HEADER, "from.reg", reg_domain(c->from_dom));
		add_kvs(c, HM_NS_HEADER, "from.named", named ? "1" : "0");
		if (lt && memchr(v, '@', (size_t)(lt - v)))
			add_kvs(c, HM_NS_HEADER, "from.name_has_at", "1");
		break;
	}
	case HK_REPLY_TO:
		c->seen_reply = true;
		value_domain(v, c->reply_dom);
		break;
	case HK_SENDER:
		add_kvs(c, HM_NS_HEADER, "sender", "1");
		break;
	case HK_CT: {
		const char *cs = strcasestr(v, "charset=");

		add_kv(c, HM_NS_HEADER, "ct", v, strcspn(v, "; "));
		if (cs) {
			cs += 8;
			if (*cs == '"')
				cs++;
			add_kv(c, HM_NS_HEADER, "charset", cs, strcspn(cs, "\"; "));
		}
		break;
	}
	case HK_CTE:
		add_kvs(c, HM_NS_HEADER, "cte", v);
		break;
	case HK_MAILER:
		c->seen_mailer = true;
		family(v, f, sizeof(f));
		add_kvs(c, HM_NS_HEADER, "mailer.fam", f);
		add_kvs(c, HM_NS_HEADER, "mailer", v);
		break;
	case HK_MSGID:
		c->seen_msgid = true;
		value_domain(v, c->msgid_dom);
		msgid_shape(c, v);
		break;
	case HK_TO:
		c->seen_to = true;
		/* fall through */
	case HK_CC:
		c->rcpts += count_addrs(value);
		break;
	case HK_LIST_ID: {
		const char *lt = strchr(v, '<');

		add_kvs(c, HM_NS_HEADER, "list", "1");
		if (lt)
			add_kv(c, HM_NS_HEADER, "list.id", lt + 1, strcspn(lt + 1, ">"));
		break;
	}
	case HK_PRECEDENCE:
		add_kvs(c, HM_NS_HEADER, "precedence", v);
		break;
	case HK_REPLY:
		add_kvs(c, HM_NS_HEADER, "reply", "1");
		break;
	case HK_PRIO: {
		char key[40];

		snprintf(key, sizeof(key), "prio.%s", headers[k].name);
		add_kv(c, HM_NS_HEADER, key, v, strcspn(v, " ("));
		break;
	}
	case HK_MIME_VERSION:
		add_kvs(c, HM_NS_HEADER, "mime-version", "1");
		break;
	case HK_ORGANIZATION:
		add_kvs(c, HM_NS_HEADER, "organization", "1");
		break;
	case HK_PRESENT:
		add_kvs(c, HM_NS_HEADER, "has", headers[k].name);
		break;
	}
	return c->failed ? -1 : 0;
}

/* Features that compare headers, once they have all been seen. */
static void header_relations(struct hm_content *c)
{
	add_kvs(c, HM_NS_HEADER, "reply-to",
		!c->seen_reply ? "none" : same_org(c->reply_dom, c->from_dom) ? "same" : "other");
	add_kvs(c, HM_NS_HEADER, "msgid",
		!c->seen_msgid ? "none" : same_org(c->msgid_dom, c->from_dom) ? "same" :
		c->msgid_dom[0] == '[' || strspn(c->msgid_dom, "0123456789.") == strlen(c->msgid_dom) ?
		"ip" : "other");
	if (!c->seen_from)
		add_kvs(c, HM_NS_HEADER, "from", "none");
	if (!c->seen_mailer)
		add_kvs(c, HM_NS_HEADER, "mailer", "none");
	add_count(c, c->seen_to ? "rcpts" : "rcpts.no-to", c->rcpts);
}

int hm_content_eoh(struct hm_content *c)
{
	if (c->failed)
		return -1;
	if (!c->eoh_done) {
		c->eoh_done = true;
		header_relations(c);
		hm_mime_eoh(c->mime);
	}
	return c->failed ? -1 : 0;
}

int hm_content_body(struct hm_content *c, const unsigned char *chunk, size_t len)
{
	if (c->failed || (!c->eoh_done && hm_content_eoh(c) < 0))
		return -1;
	hm_mime_body(c->mime, chunk, len);
	return c->failed ? -1 : 0;
}

int hm_content_envelope(struct hm_content *c, const char *mail_from)
{
	char v[256];

	if (c->failed)
		return -1;
	clean_value(mail_from ? mail_from : "<>", v, sizeof(v));
	c->seen_env = true;
	c->env_null = v[0] == '\0' || strcmp(v, "<>") == 0;
	value_domain(v, c->env_dom);
	return 0;
}

int hm_content_auth(struct hm_content *c, const struct hm_content_auth *auth)
{
	char v[8];

	if (c->failed)
		return -1;
	snprintf(v, sizeof(v), "%d", (int)auth->spf);
	add_kvs(c, HM_NS_AUTH, "spf", v);
	snprintf(v, sizeof(v), "%d", (int)auth->dkim);
	add_kvs(c, HM_NS_AUTH, "dkim", v);
	snprintf(v, sizeof(v), "%d", (int)auth->dmarc);
	add_kvs(c, HM_NS_AUTH, "dmarc", v);
	return c->failed ? -1 : 0;
}

int hm_content_finish(struct hm_content *c, const uint32_t **idx_r, size_t *n_r)
{
	const struct hm_mime_stats *st;

	if (c->failed || (!c->eoh_done && hm_content_eoh(c) < 0))
		return -1;
	if (!c->finished) {
		c->finished = true;
		hm_mime_finish(c->mime);
		content_stream_break(c, &c->body);
		if (c->seen_env) {
			add_kvs(c, HM_NS_HEADER, "envfrom", c->env_null ? "null" :
				same_org(c->env_dom, c->from_dom) ? "same" : "other");
			if (c->env_dom[0])
				add_kvs(c, HM_NS_HEADER, "envfrom.reg", reg_domain(c->env_dom));
		}
		stream_shape(c, &c->body, "body.caps");
		stream_shape(c, &c->subj, "subject.caps");
		add_count(c, "urls", c->urls);
		st = hm_mime_stats(c->mime);
		add_count(c, "parts", st->parts);
		add_count(c, "depth", st->depth);
		if (st->html_only)
			add_kvs(c, HM_NS_SHAPE, "html-only", "1");
		if (st->malformed)
			add_kvs(c, HM_NS_SHAPE, "malformed", "1");
		if (st->truncated)
			add_kvs(c, HM_NS_SHAPE, "truncated", "1");
		if (c->failed)
			return -1;
	}
	*idx_r = c->set.idx;
	*n_r = c->set.n;
	return 0;
}

void hm_content_free(struct hm_content **cp)
{
	struct hm_content *c = *cp;

	if (c == NULL)
		return;
	hm_mime_free(&c->mime);
	hm_fset_free(&c->set);
	free(c);
	*cp = NULL;
}
