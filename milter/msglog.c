/*
 * msglog.c - format and write the per-message log line.
 */
#include "config.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/log.h"
#include "milter/metrics.h"
#include "milter/msglog.h"


struct line {
	char buf[3800];
	size_t len;
};

static void add(struct line *l, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (l->len >= sizeof(l->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(l->buf + l->len, sizeof(l->buf) - l->len, fmt, ap);
	va_end(ap);
	if (n < 0)
		return;
	l->len += (size_t)n;
	if (l->len >= sizeof(l->buf) - 1) {
		l->len = sizeof(l->buf) - 1;
		memcpy(l->buf + l->len - 3, "...", 3);	/* mark the cut */
	}
}

void hm_msglog_write(const struct hm_conn *conn, const char *queue_id, const char *action)
{
	const struct hm_msg *msg = conn->msg;
	struct line l = { .len = 0 };
	char a[300], b[300], c[300];

	l.buf[0] = '\0';
	/* One buffer per escaped argument: all are evaluated before the call. */
	add(&l, "%s: client=%s[%s] helo=%s", hm_log_escape(a, sizeof(a), queue_id),
	    hm_log_escape(b, sizeof(b), conn->host[0] ? conn->host : "unknown"), conn->addr,
	    conn->helo[0] ? hm_log_escape(c, sizeof(c), conn->helo) : "-");
	add(&l, " from=%s rcpt=", hm_log_escape(a, sizeof(a), msg->from));
	for (size_t i = 0; i < msg->nrcpts; i++)
		add(&l, "%s%s", i ? "," : "", hm_log_escape(a, sizeof(a), msg->rcpts[i].addr));
	if (msg->nrcpts == 0)
		add(&l, "-");
	if (msg->outbound) {
		add(&l, " checks=skipped(outbound)");
	} else if (msg->result) {
		const struct hm_scan_result *r = msg->result;

		add(&l, " spf=%s", r->spf_checked ? hm_spf_result_name(r->spf.result) : "-");
		if (r->dkim.nsigs == 0)
			add(&l, " dkim=none");
		for (size_t i = 0; i < r->dkim.nsigs; i++)
			add(&l, "%s%s(%s)", i ? "," : " dkim=", hm_dkim_result_name(r->dkim.sigs[i].result),
			    hm_log_escape(a, sizeof(a), r->dkim.sigs[i].domain));
		if (r->dkim_ignored > 0)	/* a flood of signatures shows */
			add(&l, " dkim_ignored=%zu", r->dkim_ignored);
		add(&l, " dmarc=%s", hm_dmarc_result_name(r->dmarc.result));
		if (r->dmarc.from_domain[0])
			add(&l, "(%s)", hm_log_escape(a, sizeof(a), r->dmarc.from_domain));
		add(&l, " score=%.2f symbols=", r->score);
		for (size_t i = 0; i < r->symbols.count; i++)
			add(&l, "%s%s(%.2f)", i ? "," : "", r->symbols.fired[i].name,
			    r->symbols.fired[i].weight);
		if (r->symbols.count == 0)
			add(&l, "-");
	}
	/* What decided for each recipient (only when policies were loaded). */
	bool first = true;
	for (size_t i = 0; i < msg->nrcpts; i++) {
		struct hm_strbuf why;

		if (msg->rcpts[i].policy == NULL && msg->rcpts[i].status == HM_RCPT_ACCEPTED)
			continue;
		hm_strbuf_init(&why, 1024);
		hm_verdict_explain(&msg->rcpts[i], &why);
		add(&l, "%s%s:%s", first ? " outcomes=" : ",",
		    hm_log_escape(a, sizeof(a), msg->rcpts[i].addr),
		    hm_log_escape(b, sizeof(b), hm_strbuf_str(&why)));
		hm_strbuf_free(&why);
		first = false;
	}
	add(&l, " size=%llu action=%s elapsed_ms=%ld", msg->header_bytes + msg->body_bytes,
	    action, hm_msg_elapsed_ms(msg));
	hm_log(HM_LOG_INFO, "%s", l.buf);
	hm_metrics_message(conn, action);
}
