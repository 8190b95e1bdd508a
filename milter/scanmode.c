/*
 * scanmode.c - the milter's transaction on a message file, with a report.
 *
 * The envelope from the command line and the file are fed to the same
 * transaction as the daemon's (milter/transaction.h), stage by stage, and
 * what it returned is printed.  The file is read the way the MTA hands a
 * message to the milter: header fields one by one (the value is
 * everything after the colon, leading space and folded lines included),
 * then the body as CRLF text in chunks.  Nothing is kept but the current
 * header field (bounded).
 */
#include "config.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include "milter/context.h"
#include "milter/scanmode.h"
#include "milter/transaction.h"
#include "milter/verdict.h"
#include "policy/model.h"
#include "policy/store.h"
#include "util/log.h"

#define FIELD_MAX (256 * 1024)		/* one header field, folded lines included */

struct feeder {
	struct hm_conn *conn;
	struct hm_strbuf field;		/* the header field being read */
	bool in_body;
	int error;
	char *err;			/* feed_file()'s: says why error is set */
	size_t errlen;
};

/* Hand one complete header field ("Name: value...") to the checks. */
static void flush_field(struct feeder *f)
{
	char *text = f->field.s, *colon;

	if (f->field.len == 0)
		return;
	colon = strchr(text, ':');
	if (colon == NULL || colon == text) {
		char shown[64];

		fprintf(stderr, "hosterra-milter: ignoring a header line without a name: %s\n",
			hm_log_escape_text(shown, sizeof(shown), text));
	} else {
		char *end = colon;

		*colon = '\0';
		while (end > text && (end[-1] == ' ' || end[-1] == '\t'))
			*--end = '\0';	/* as Postfix: no space before the colon */
		/* A failure is the transaction's: said at end of message. */
		(void)hm_txn_header(f->conn, text, colon + 1);
	}
	hm_strbuf_free(&f->field);
}

/* Feed one line of the header section (without its line end). */
static void header_line(struct feeder *f, const char *line, size_t len)
{
	if (len == 0) {			/* the empty line: end of headers */
		flush_field(f);
		f->in_body = true;
		(void)hm_txn_eoh(f->conn);
		return;
	}
	if (line[0] == ' ' || line[0] == '\t') {
		/* A folded line: joined with CRLF, as the message has it. */
		if (f->field.len == 0) {
			fprintf(stderr, "hosterra-milter: ignoring a continuation line before any header\n");
			return;
		}
		hm_strbuf_add(&f->field, "\r\n", 2);
	} else {
		flush_field(f);
	}
	if (hm_strbuf_add(&f->field, line, len) < 0 && f->field.len == 0) {
		snprintf(f->err, f->errlen, "out of memory");
		f->error = ENOMEM;
	} else if (f->field.failed) {
		snprintf(f->err, f->errlen, "a header field longer than %d bytes", FIELD_MAX);
		f->error = E2BIG;
	}
}

static void body_bytes(struct feeder *f, const unsigned char *p, size_t n)
{
	if (n)
		(void)hm_txn_body(f->conn, p, n);
}

/* The body in blocks, bare LF turned into CRLF as the MTA sends it. */
static void feed_body(struct feeder *f, FILE *in)
{
	static const size_t block = 65536;
	unsigned char *buf = malloc(block), *out = malloc(2 * block);
	bool prev_cr = false;
	size_t n;

	if (buf == NULL || out == NULL) {
		snprintf(f->err, f->errlen, "out of memory");
		f->error = ENOMEM;
		goto done;
	}
	while (!f->error && (n = fread(buf, 1, block, in)) > 0) {
		size_t o = 0;

		for (size_t i = 0; i < n; i++) {
			if (buf[i] == '\n' && !prev_cr)
				out[o++] = '\r';
			out[o++] = buf[i];
			prev_cr = buf[i] == '\r';
		}
		body_bytes(f, out, o);
	}
done:
	free(buf);
	free(out);
}

/* The message file through the transaction.  0, or -1 with err. */
static int feed_file(struct feeder *f, FILE *in, char *err, size_t errlen)
{
	struct hm_strbuf line;
	int c;

	f->err = err;
	f->errlen = errlen;
	hm_strbuf_init(&line, FIELD_MAX);
	hm_strbuf_init(&f->field, FIELD_MAX);
	/* The header section, line by line. */
	while (!f->in_body && !f->error && (c = getc(in)) != EOF) {
		char ch = (char)c;

		if (c != '\n') {
			if (hm_strbuf_add(&line, &ch, 1) < 0) {
				snprintf(err, errlen, "a header line longer than %d bytes", FIELD_MAX);
				f->error = E2BIG;
			}
			continue;
		}
		size_t len = line.len;
		if (len && line.s[len - 1] == '\r')
			len--;
		header_line(f, line.s ? line.s : "", len);
		hm_strbuf_free(&line);
	}
	if (!f->error && !f->in_body) {
		/* A message without a body: the headers still end. */
		if (line.len)
			header_line(f, line.s, line.len);
		header_line(f, "", 0);
	}
	hm_strbuf_free(&line);
	hm_strbuf_free(&f->field);
	if (!f->error)
		feed_body(f, in);
	if (ferror(in)) {
		snprintf(err, errlen, "reading the message: %s", strerror(errno));
		return -1;
	}
	return f->error ? -1 : 0;
}

/* --- output -------------------------------------------------------------- */

static void json_string(FILE *out, const char *s)
{
	fputc('"', out);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(out, "\\%c", c);
		else if (c == '\n')
			fputs("\\n", out);
		else if (c == '\r')
			fputs("\\r", out);
		else if (c == '\t')
			fputs("\\t", out);
		else if (c < 0x20 || c >= 0x7f)
			fprintf(out, "\\u%04x", c);
		else
			fputc(c, out);
	}
	fputc('"', out);
}

/*
 * The text report shows what came from the message (header names, domains,
 * reasons, addresses) through the log's escaping: no terminal escape
 * sequence, no line break of the sender's.  T() escapes into one of a few
 * rotating buffers, enough for the values of one fprintf(); the report is
 * written by one thread.
 */
#define T_BUFS 8
#define T_BUF_SIZE 2048
static const char *T(const char *s)
{
	static char bufs[T_BUFS][T_BUF_SIZE];
	static unsigned next;

	return hm_log_escape_text(bufs[next++ % T_BUFS], T_BUF_SIZE, s ? s : "");
}

/* A value of any length, escaped; a header's folds shown as such. */
static void put_text(FILE *out, const char *s, bool folded)
{
	while (*s != '\0') {
		size_t n = folded ? strcspn(s, "\n") : strlen(s);
		char *piece = strndup(s, n), *esc = NULL;

		if (piece != NULL && n > 0 && piece[n - 1] == '\r' && folded)
			piece[n - 1] = '\0';
		if (piece != NULL && (esc = malloc(4 * n + 4)) != NULL)
			fputs(hm_log_escape_text(esc, 4 * n + 4, piece), out);
		else
			fputs("(out of memory)", out);
		free(esc);
		free(piece);
		s += n;
		if (*s == '\n') {	/* a fold: "\n" and its blanks, shown as one tab */
			fputs("\n\t", out);
			s += strspn(s + 1, " \t") + 1;
		}
	}
}

/* What the transaction returned for one file. */
struct report {
	const struct hm_scanmode_args *a;
	const struct hm_msg *msg;
	const struct hm_scan_result *r;	/* NULL: not judged */
	const struct hm_verdict *v;
	const struct hm_txn_reply *reply;	/* end of message's */
	const struct hm_txn_eom *eom;	/* its header edits */
	const struct hm_txn_reply *rcpt_reply;	/* each RCPT TO's */
	const long *rec;		/* each RCPT TO's record in msg->rcpts, or -1 */
};

static const struct hm_rcpt *rcpt_of(const struct report *p, size_t i)
{
	return p->rec[i] < 0 ? NULL : &p->msg->rcpts[p->rec[i]];
}

/* One recipient: its outcome and what decided it. */
static void explain(const struct report *p, size_t i, struct hm_strbuf *out)
{
	const struct hm_rcpt *rc = rcpt_of(p, i);

	hm_strbuf_init(out, 2048);
	if (rc == NULL)
		hm_strbuf_puts(out, "not recorded");
	else if (p->r || rc->status != HM_RCPT_ACCEPTED)
		hm_verdict_explain(rc, out);
	else if (p->msg->outbound)
		hm_strbuf_puts(out, "accept[not judged]");
	else
		hm_strbuf_puts(out, "undecided");
}

/* Does end of message edit the headers (not refused)? */
static bool edits(const struct report *p)
{
	return p->reply->action == HM_TXN_CONTINUE;
}

static const char *message_outcome(const struct report *p)
{
	if (p->reply->action == HM_TXN_REJECT)
		return "reject";
	if (p->reply->action == HM_TXN_TEMPFAIL)
		return "tempfail";
	return p->r ? hm_outcome_name(p->v->outcome) : "accept";
}

static void print_text(FILE *out, const struct report *p)
{
	const struct hm_scanmode_args *a = p->a;
	const struct hm_scan_result *r = p->r;
	const struct hm_verdict *v = p->v;

	fprintf(out, "envelope: client=%s helo=%s from=%s rcpt=", a->client_ip ? T(a->client_ip) : "local",
		a->helo ? T(a->helo) : "-", a->mail_from ? T(a->mail_from) : "<>");
	for (size_t i = 0; i < a->nrcpts; i++)
		fprintf(out, "%s%s", i ? "," : "", T(a->rcpts[i]));
	fputc('\n', out);
	if (p->msg->outbound) {
		fprintf(out, "not judged: outbound mail (authenticated or internal)\n");
	} else if (r == NULL) {
		fprintf(out, "not judged: refused before the checks\n");
	} else {
		if (r->spf_checked)
			fprintf(out, "spf: %s %s=%s%s%s%s\n", hm_spf_result_name(r->spf.result),
				r->spf.helo_identity ? "helo" : "mailfrom", T(r->spf.identity),
				r->spf.reason[0] ? " (" : "", T(r->spf.reason), r->spf.reason[0] ? ")" : "");
		else
			fprintf(out, "spf: not checked (local client)\n");
		if (r->dkim.nsigs == 0)
			fprintf(out, "dkim: none\n");
		for (size_t i = 0; i < r->dkim.nsigs; i++)
			fprintf(out, "dkim: %s d=%s s=%s a=%s%s%s%s\n",
				hm_dkim_result_name(r->dkim.sigs[i].result), T(r->dkim.sigs[i].domain),
				T(r->dkim.sigs[i].selector), T(r->dkim.sigs[i].algorithm),
				r->dkim.sigs[i].reason[0] ? " (" : "", T(r->dkim.sigs[i].reason),
				r->dkim.sigs[i].reason[0] ? ")" : "");
		fprintf(out, "dmarc: %s from=%s p=%s dis=%s%s%s%s\n", hm_dmarc_result_name(r->dmarc.result),
			r->dmarc.from_domain[0] ? T(r->dmarc.from_domain) : "-",
			hm_dmarc_policy_name(r->dmarc.policy), hm_dmarc_policy_name(r->dmarc.disposition),
			r->dmarc.reason[0] ? " (" : "", T(r->dmarc.reason), r->dmarc.reason[0] ? ")" : "");
		fprintf(out, "symbols:\n");
		for (size_t i = 0; i < r->symbols.count; i++)
			fprintf(out, "  %-24s %7.2f  %s\n", T(r->symbols.fired[i].name),
				r->symbols.fired[i].weight, T(r->symbols.fired[i].detail));
		if (r->symbols.dropped)
			fprintf(out, "  (%zu more, %.2f)\n", r->symbols.dropped, r->symbols.dropped_weight);
		fprintf(out, "score: %.2f (tag %.2f, reject %.2f)\n", r->score, v->thresholds.tag,
			v->thresholds.reject);
		struct hm_strbuf held;

		hm_strbuf_init(&held, 128);
		if (v->outcome == HM_REJECT && v->held) {
			hm_strbuf_puts(&held, " (a reject held back: ");
			hm_verdict_held_why(v->held, &held);
			hm_strbuf_puts(&held, ")");
		}
		fprintf(out, "outcome: %s%s%s\n", hm_verdict_outcome_name(v->outcome, v->held),
			v->dmarc_enforced ? " (dmarc.enforce_reject)" : "", hm_strbuf_str(&held));
		hm_strbuf_free(&held);
	}
	for (size_t i = 0; i < a->nrcpts; i++) {
		const struct hm_txn_reply *rr = &p->rcpt_reply[i];
		struct hm_strbuf why;

		explain(p, i, &why);
		fprintf(out, "  %s: ", T(a->rcpts[i]));
		put_text(out, hm_strbuf_str(&why), false);
		if (rr->action != HM_TXN_CONTINUE) {
			fprintf(out, " (%s %s ", rr->code, rr->xcode);
			put_text(out, rr->text, false);
			fputc(')', out);
		}
		fputc('\n', out);
		hm_strbuf_free(&why);
	}
	if (r && v->conflict)
		fprintf(out, "recipients disagree: the most lenient outcome applies to all\n");
	if (!edits(p)) {
		fprintf(out, "reply: %s %s ", p->reply->code, p->reply->xcode);
		put_text(out, p->reply->text, false);
		fputc('\n', out);
		return;
	}
	fprintf(out, "headers removed:\n");
	for (size_t i = 0; i < p->eom->ndel; i++)
		fprintf(out, "  - %s #%u\n", T(p->eom->del[i].name), p->eom->del[i].index);
	if (p->eom->ndel == 0)
		fprintf(out, "  (none)\n");
	fprintf(out, "headers added:\n");
	for (size_t i = 0; i < p->eom->nadd; i++) {
		const struct hm_header_add *h = &p->eom->add[i];

		fprintf(out, "  %s%s: ", h->at_top ? "(top) " : "", T(h->name));
		put_text(out, hm_strbuf_str(&h->value), true);
		fputc('\n', out);
	}
	if (p->eom->nadd == 0)
		fprintf(out, "  (none)\n");
}

static void json_reply(FILE *out, const struct hm_txn_reply *rr)
{
	fprintf(out, ",\"reply\":{\"code\":\"%s\",\"status\":\"%s\",\"text\":", rr->code, rr->xcode);
	json_string(out, rr->text);
	fputc('}', out);
}

static void print_json(FILE *out, const struct report *p)
{
	const struct hm_scanmode_args *a = p->a;
	const struct hm_scan_result *r = p->r;
	const struct hm_verdict *v = p->v;
	const char *outcome = message_outcome(p);

	fputc('{', out);
	if (a->nmore) {
		fputs("\"file\":", out);
		json_string(out, a->file);
		fputc(',', out);
	}
	fprintf(out, "\"judged\":%s,\"outcome\":\"%s\"", r ? "true" : "false",
		r ? hm_verdict_outcome_name(v->outcome, v->held) : outcome);
	if (!edits(p))
		json_reply(out, p->reply);
	if (r) {
		fprintf(out, ",\"score\":%.2f,\"thresholds\":{\"tag\":%.2f,\"reject\":%.2f}",
			r->score, v->thresholds.tag, v->thresholds.reject);
		fprintf(out, ",\"dmarc_enforced\":%s", v->dmarc_enforced ? "true" : "false");
		fputs(",\"symbols\":[", out);
		for (size_t i = 0; i < r->symbols.count; i++) {
			fprintf(out, "%s{\"name\":", i ? "," : "");
			json_string(out, r->symbols.fired[i].name);
			fprintf(out, ",\"weight\":%.2f,\"detail\":", r->symbols.fired[i].weight);
			json_string(out, r->symbols.fired[i].detail);
			fputc('}', out);
		}
		fputs("],\"spf\":", out);
		if (r->spf_checked) {
			fprintf(out, "{\"result\":\"%s\",\"identity\":", hm_spf_result_name(r->spf.result));
			json_string(out, r->spf.identity);
			fprintf(out, ",\"helo\":%s,\"reason\":", r->spf.helo_identity ? "true" : "false");
			json_string(out, r->spf.reason);
			fputc('}', out);
		} else {
			fputs("null", out);
		}
		fputs(",\"dkim\":[", out);
		for (size_t i = 0; i < r->dkim.nsigs; i++) {
			fprintf(out, "%s{\"result\":\"%s\",\"domain\":", i ? "," : "",
				hm_dkim_result_name(r->dkim.sigs[i].result));
			json_string(out, r->dkim.sigs[i].domain);
			fputs(",\"selector\":", out);
			json_string(out, r->dkim.sigs[i].selector);
			fputs(",\"reason\":", out);
			json_string(out, r->dkim.sigs[i].reason);
			fputc('}', out);
		}
		fprintf(out, "],\"dmarc\":{\"result\":\"%s\",\"policy\":\"%s\",\"disposition\":\"%s\","
			"\"from_domain\":", hm_dmarc_result_name(r->dmarc.result),
			hm_dmarc_policy_name(r->dmarc.policy), hm_dmarc_policy_name(r->dmarc.disposition));
		json_string(out, r->dmarc.from_domain);
		fputc('}', out);
	}
	fputs(",\"recipients\":[", out);
	for (size_t i = 0; i < a->nrcpts; i++) {
		const struct hm_rcpt *rc = rcpt_of(p, i);
		const struct hm_txn_reply *rr = &p->rcpt_reply[i];
		struct hm_strbuf why;

		explain(p, i, &why);
		fprintf(out, "%s{\"address\":", i ? "," : "");
		json_string(out, a->rcpts[i]);
		fprintf(out, ",\"outcome\":\"%s\",\"why\":",
			rr->action == HM_TXN_REJECT ? "reject" :
			rr->action == HM_TXN_TEMPFAIL ? "tempfail" :
			r && rc && rc->decided ? hm_verdict_outcome_name(rc->outcome, rc->held) : outcome);
		json_string(out, hm_strbuf_str(&why));
		if (rr->action != HM_TXN_CONTINUE)
			json_reply(out, rr);
		fputc('}', out);
		hm_strbuf_free(&why);
	}
	fputs("],\"headers_removed\":[", out);
	for (size_t i = 0; edits(p) && i < p->eom->ndel; i++) {
		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, p->eom->del[i].name);
		fprintf(out, ",\"index\":%u}", p->eom->del[i].index);
	}
	fputs("],\"headers_added\":[", out);
	for (size_t i = 0; edits(p) && i < p->eom->nadd; i++) {
		const struct hm_header_add *h = &p->eom->add[i];

		fprintf(out, "%s{\"name\":", i ? "," : "");
		json_string(out, h->name);
		fprintf(out, ",\"top\":%s,\"value\":", h->at_top ? "true" : "false");
		json_string(out, hm_strbuf_str(&h->value));
		fputc('}', out);
	}
	fputs("]}\n", out);
}

/*
 * The content model, read once from Redis as the daemon's refresher would
 * (from the same server, a replica is fine).  Not there or unreadable: the
 * scan goes on without it, as the daemon does.
 */
static void load_model(const struct hm_conf *conf, struct hm_cls_slot *slot)
{
	struct hm_store_conf sc;
	struct hm_model_conn *c;
	struct hm_cls_model *m = NULL;
	char err[400];

	if (!conf->classifier.enabled)
		return;
	hm_conf_store_conf(conf, false, &sc);
	if ((c = hm_model_conn_new(&sc, sc.command_timeout_ms > 5000 ? sc.command_timeout_ms : 5000))
	    == NULL)
		return;
	if (hm_model_fetch(c, &m, err, sizeof(err)) < 0)
		hm_log(HM_LOG_WARNING, "content model not read: %s", err);
	else if (m)
		hm_cls_slot_publish(slot, m);
	hm_model_conn_free(&c);
}

/* A stage's internal failure ends the scan: the daemon would say 451. */
static bool failed(const struct hm_txn_reply *r, char *err, size_t errlen)
{
	if (r->internal[0] == '\0')
		return false;
	snprintf(err, errlen, "%s", r->internal);
	return true;
}

/* One file, through the transaction the daemon runs; slot holds the model. */
static int scan_one(const struct hm_scanmode_args *a, struct hm_cls_slot *slot, FILE *out)
{
	struct hm_conn *conn = hm_conn_new();
	struct hm_txn_reply *rcpt_reply = calloc(a->nrcpts + 1, sizeof(*rcpt_reply));
	long *rec = calloc(a->nrcpts + 1, sizeof(*rec));
	struct hm_txn_eom eom = { 0 };
	struct hm_txn_reply r;
	struct feeder f = { 0 };
	char what[HM_TXN_INTERNAL_MAX] = "out of memory";
	FILE *in = NULL;
	int rc = 1;

	if (conn == NULL || conn->conf == NULL || rcpt_reply == NULL || rec == NULL)
		goto out;
	in = strcmp(a->file, "-") == 0 ? stdin : fopen(a->file, "rb");
	if (in == NULL) {
		fprintf(stderr, "hosterra-milter: %s: %s\n", a->file, strerror(errno));
		what[0] = '\0';
		goto out;
	}
	conn->model = slot;
	r = hm_txn_connect(conn, "scan", a->client_ip == NULL ? AF_UNIX :
			   strchr(a->client_ip, ':') ? AF_INET6 : AF_INET, a->client_ip);
	if (failed(&r, what, sizeof(what)))
		goto out;
	r = hm_txn_helo(conn, a->helo);
	if (failed(&r, what, sizeof(what)))
		goto out;
	r = hm_txn_mail(conn, a->mail_from ? a->mail_from : "<>", a->outbound, "scan");
	if (failed(&r, what, sizeof(what)))
		goto out;
	for (size_t i = 0; i < a->nrcpts; i++) {
		size_t before = conn->msg->nrcpts;

		rcpt_reply[i] = hm_txn_rcpt(conn, a->rcpts[i]);
		if (failed(&rcpt_reply[i], what, sizeof(what)))
			goto out;
		rec[i] = conn->msg->nrcpts > before ? (long)before : -1;
	}
	f.conn = conn;
	if (feed_file(&f, in, what, sizeof(what)) < 0)
		goto out;
	r = hm_txn_eom(conn, "scan", &eom);
	if (failed(&r, what, sizeof(what)))
		goto out;

	struct report p = {
		.a = a, .msg = conn->msg, .r = conn->msg->result, .v = &conn->msg->verdict,
		.reply = &r, .eom = &eom, .rcpt_reply = rcpt_reply, .rec = rec,
	};
	if (a->json) {
		print_json(out, &p);
	} else {
		if (a->nmore)
			fprintf(out, "file: %s\n", a->file);
		print_text(out, &p);
	}
	rc = 0;
out:
	if (rc && what[0])
		fprintf(stderr, "hosterra-milter: scan failed: %s\n", what);
	if (conn)
		hm_txn_end(conn, &eom);
	hm_conn_free(&conn);
	free(rcpt_reply);
	free(rec);
	if (in && in != stdin)
		fclose(in);
	return rc;
}

int hm_scanmode_run(struct hm_conf *conf, const struct hm_scanmode_args *args, FILE *out)
{
	struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
	struct hm_scanmode_args a = *args;
	int rc = 0;

	if (!args->outbound)
		load_model(conf, &slot);
	for (size_t i = 0; i <= args->nmore; i++) {
		if (i > 0)
			a.file = args->more[i - 1];
		rc |= scan_one(&a, &slot, out);
	}
	hm_cls_slot_publish(&slot, NULL);
	return rc;
}
