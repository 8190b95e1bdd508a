/*
 * msglog.c - format and write the per-message log line.
 */
#include "config.h"

#include "util/log.h"
#include "util/strbuf.h"
#include "milter/metrics.h"
#include "milter/msglog.h"


void hm_msglog_write(const struct hm_conn *conn, const char *queue_id, const char *action)
{
	const struct hm_msg *msg = conn->msg;
	/* On the stack, cut with "..." when full: no allocation per message. */
	char line[3800];
	struct hm_strbuf l;
	char a[300], b[300], c[300];

	hm_strbuf_init_fixed(&l, line, sizeof(line));
	/* One buffer per escaped argument: all are evaluated before the call. */
	hm_strbuf_printf(&l, "%s: client=%s[%s] helo=%s", hm_log_escape(a, sizeof(a), queue_id),
			 hm_log_escape(b, sizeof(b), conn->host[0] ? conn->host : "unknown"),
			 conn->addr, conn->helo[0] ? hm_log_escape(c, sizeof(c), conn->helo) : "-");
	hm_strbuf_printf(&l, " from=%s rcpt=", hm_log_escape(a, sizeof(a), msg->from));
	for (size_t i = 0; i < msg->nrcpts; i++)
		hm_strbuf_printf(&l, "%s%s", i ? "," : "",
				 hm_log_escape(a, sizeof(a), msg->rcpts[i].addr));
	if (msg->nrcpts == 0)
		hm_strbuf_puts(&l, "-");
	if (msg->outbound) {
		hm_strbuf_puts(&l, " checks=skipped(outbound)");
	} else if (msg->result) {
		const struct hm_scan_result *r = msg->result;

		hm_strbuf_printf(&l, " spf=%s",
				 r->spf_checked ? hm_spf_result_name(r->spf.result) : "-");
		if (r->dkim.nsigs == 0)
			hm_strbuf_puts(&l, " dkim=none");
		for (size_t i = 0; i < r->dkim.nsigs; i++)
			hm_strbuf_printf(&l, "%s%s(%s)", i ? "," : " dkim=",
					 hm_dkim_result_name(r->dkim.sigs[i].result),
					 hm_log_escape(a, sizeof(a), r->dkim.sigs[i].domain));
		if (r->dkim_ignored > 0)	/* a flood of signatures shows */
			hm_strbuf_printf(&l, " dkim_ignored=%zu", r->dkim_ignored);
		hm_strbuf_printf(&l, " dmarc=%s", hm_dmarc_result_name(r->dmarc.result));
		if (r->dmarc.from_domain[0])
			hm_strbuf_printf(&l, "(%s)",
					 hm_log_escape(a, sizeof(a), r->dmarc.from_domain));
		hm_strbuf_printf(&l, " score=%.2f symbols=", r->score);
		for (size_t i = 0; i < r->symbols.count; i++)
			hm_strbuf_printf(&l, "%s%s(%.2f)", i ? "," : "", r->symbols.fired[i].name,
					 r->symbols.fired[i].weight);
		if (r->symbols.count == 0)
			hm_strbuf_puts(&l, "-");
	}
	/* What decided for each recipient (only when policies were loaded). */
	bool first = true;
	for (size_t i = 0; i < msg->nrcpts; i++) {
		char explained[1025];	/* past b's 300 bytes the escape cuts it anyway */
		struct hm_strbuf why;

		if (msg->rcpts[i].policy == NULL && msg->rcpts[i].status == HM_RCPT_ACCEPTED)
			continue;
		hm_strbuf_init_fixed(&why, explained, sizeof(explained));
		hm_verdict_explain(&msg->rcpts[i], &why);
		hm_strbuf_printf(&l, "%s%s:%s", first ? " outcomes=" : ",",
				 hm_log_escape(a, sizeof(a), msg->rcpts[i].addr),
				 hm_log_escape(b, sizeof(b), hm_strbuf_str(&why)));
		first = false;
	}
	hm_strbuf_printf(&l, " size=%llu action=%s elapsed_ms=%ld",
			 msg->header_bytes + msg->body_bytes, action, hm_msg_elapsed_ms(msg));
	hm_log(HM_LOG_INFO, "%s", line);
	hm_metrics_message(conn, action);
}
