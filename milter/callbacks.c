/*
 * callbacks.c - the libmilter callbacks.
 *
 * Each callback is thin: it feeds the connection / message context and hands
 * off.  Any internal failure (allocation, an unexpected libmilter error)
 * answers 451 so the MTA keeps the message and retries: mail is never lost
 * and never accepted unchecked.  This and milter/main.c are the only files
 * that include libmilter's header.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "milter/callbacks.h"
#include "milter/clsmodel.h"
#include "milter/context.h"
#include "util/log.h"
#include "milter/msglog.h"
#include "milter/verdict.h"
#include "util/strbuf.h"

static atomic_bool stopping;

void hm_callbacks_stopping(void)
{
	atomic_store(&stopping, true);
}

static struct hm_conn *conn_of(SMFICTX *ctx)
{
	return smfi_getpriv(ctx);
}

static const char *queue_id_of(SMFICTX *ctx)
{
	const char *qid = smfi_getsymval(ctx, "i");

	return qid && *qid ? qid : "NOQUEUE";
}

/* Tempfail this transaction for an internal reason, with a log line. */
static sfsistat internal_error(SMFICTX *ctx, const char *what)
{
	hm_log(HM_LOG_ERR, "%s: internal error: %s: answering 451", queue_id_of(ctx), what);
	smfi_setreply(ctx, "451", "4.7.0", "Temporary internal error, please try again later");
	return SMFIS_TEMPFAIL;
}

/*
 * The answer of a stage the MTA may have been told not to wait for: with
 * its no-reply bit negotiated, libmilter must be given SMFIS_NOREPLY.
 */
static sfsistat carry_on(const struct hm_conn *conn, unsigned long nr_bit)
{
	return conn && (conn->noreply & nr_bit) ? SMFIS_NOREPLY : SMFIS_CONTINUE;
}

/*
 * An internal failure at a stage that may be unanswered.  Answered stages
 * say 451 at once.  At a no-reply stage libmilter would drop our 451, so the
 * failure is kept and answered at the next stage that has a reply: MAIL FROM
 * for a failure of the connection (connect, HELO), end of message for one of
 * the message (header, end of headers, body).
 */
static sfsistat stage_error(SMFICTX *ctx, struct hm_conn *conn, unsigned long nr_bit,
			    const char *what)
{
	if (conn == NULL || !(conn->noreply & nr_bit))
		return internal_error(ctx, what);
	hm_log(HM_LOG_ERR, "%s: internal error: %s: answering 451 at the next reply",
	       queue_id_of(ctx), what);
	if (nr_bit & (SMFIP_NR_CONN | SMFIP_NR_HELO)) {
		if (conn->failed == NULL)
			conn->failed = what;
	} else if (conn->msg && conn->msg->failed == NULL) {
		conn->msg->failed = what;
	}
	return SMFIS_NOREPLY;
}

static void copy_bounded(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

static sfsistat cb_negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1,
			     unsigned long f2, unsigned long f3, unsigned long *pf0,
			     unsigned long *pf1, unsigned long *pf2, unsigned long *pf3)
{
	/*
	 * Ask for header values byte-exact (DKIM "simple" needs the leading
	 * space).  Which stages are answered follows the transport:
	 * - over TCP every stage is answered: anything the MTA sends without
	 *   waiting for an answer leaves its next write waiting on our delayed
	 *   ACK (~40 ms).  That includes SMFIP_NODATA: Postfix still sends the
	 *   DATA stage's macros, unanswered (measured by tests/e2e-postfix.test),
	 *   so DATA is left on and libmilter answers it;
	 * - over a unix socket there is no Nagle and no delayed ACK, so the
	 *   stages whose answer is always "continue" (connect, HELO, headers,
	 *   end of headers, body) are not answered and DATA is not sent: two
	 *   wake-ups fewer per header and per body chunk.  MAIL FROM, RCPT TO
	 *   and end of message keep their answers (451, 550, 452 live there).
	 */
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC;
	unsigned long noreply = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_HDR | SMFIP_NR_EOH |
				SMFIP_NR_BODY;
	struct hm_conn *conn;

	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	*pf2 = 0;
	*pf3 = 0;
	if ((*pf0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) {
		hm_log(HM_LOG_ERR, "the MTA does not allow adding and changing headers (actions 0x%lx)", f0);
		return SMFIS_REJECT;	/* libmilter: fail negotiation */
	}
	if ((conn = hm_conn_new()) == NULL) {
		hm_log(HM_LOG_ERR, "out of memory at connection start");
		return SMFIS_REJECT;
	}
	if (conn->conf && conn->conf->socket.kind == HM_SOCK_UNIX)
		want |= noreply | SMFIP_NODATA;
	*pf1 = f1 & want;
	conn->noreply = *pf1 & noreply;
	conn->leading_space = (*pf1 & SMFIP_HDR_LEADSPC) != 0;
	smfi_setpriv(ctx, conn);
	return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *hostname, _SOCK_ADDR *sa)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL) {
		/* MTAs that skip negotiation options still reach here. */
		if ((conn = hm_conn_new()) == NULL)
			return internal_error(ctx, "out of memory");	/* MAIL FROM says 451 too */
		smfi_setpriv(ctx, conn);
	}
	copy_bounded(conn->host, sizeof(conn->host), hostname);
	conn->family = sa ? sa->sa_family : AF_UNSPEC;
	switch (conn->family) {
	case AF_INET:
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, conn->addr, sizeof(conn->addr));
		break;
	case AF_INET6:
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, conn->addr, sizeof(conn->addr));
		break;
	case AF_UNIX:
		strcpy(conn->addr, "local");
		break;
	default:
		conn->family = AF_UNSPEC;
		strcpy(conn->addr, "unknown");
	}
	conn->ip_client = conn->family == AF_INET || conn->family == AF_INET6;
	/* Lookups that need only the IP start now, to overlap the dialogue;
	 * not for our own networks, whose mail is not judged. */
	if (conn->ip_client && conn->client == NULL && conn->conf && conn->conf->engine &&
	    !hm_netlist_match(&conn->conf->internal, conn->addr)) {
		conn->client_conf = hm_conf_acquire();
		if (conn->client_conf == NULL || conn->client_conf->engine == NULL ||
		    (conn->client = hm_client_check_start(conn->client_conf->engine->dns,
							  &conn->client_conf->client,
							  conn->addr)) == NULL)
			return stage_error(ctx, conn, SMFIP_NR_CONN, "cannot start the client checks");
	}
	return carry_on(conn, SMFIP_NR_CONN);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL)
		return internal_error(ctx, "HELO before connection context");	/* MAIL FROM: 451 */
	copy_bounded(conn->helo, sizeof(conn->helo), helo);
	return carry_on(conn, SMFIP_NR_HELO);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL)
		return internal_error(ctx, "MAIL FROM before connection context");
	if (conn->failed)
		return internal_error(ctx, conn->failed);
	if (atomic_load(&stopping)) {
		hm_msg_free(&conn->msg);
		smfi_setreply(ctx, "451", "4.3.2", "Mail filter shutting down, please try again later");
		return SMFIS_TEMPFAIL;
	}
	const char *from = argv && argv[0] ? argv[0] : "<>";
	struct hm_msg *msg = hm_msg_begin(conn, from);

	if (msg == NULL)
		return internal_error(ctx, "out of memory");
	/* Our own users' mail (authenticated, or from inside) is not judged. */
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	msg->outbound = (auth && *auth) ||
			(conn->ip_client && hm_netlist_match(&conn->conf->internal, conn->addr));
	if (msg->outbound)
		return SMFIS_CONTINUE;
	struct hm_envelope env = {
		.client_ip = conn->ip_client ? conn->addr : NULL,
		.helo = conn->helo[0] ? conn->helo : NULL,
		.mail_from = from,
	};
	struct hm_scan_opts opts = {
		.weights = &conn->conf->weights,
		.rules = conn->conf->compiled_rules,
		.model = conn->conf->classifier.enabled ? hm_clsmodel_slot() : NULL,
		.points = &conn->conf->cls_points,
	};
	if (conn->conf->engine == NULL ||
	    (msg->scan = hm_scan_begin(conn->conf->engine, &opts, &env, queue_id_of(ctx))) == NULL)
		return internal_error(ctx, "cannot start the checks (out of memory)");
	return SMFIS_CONTINUE;
}

/*
 * Load a judged recipient's policy and answer for it: 550 when the sender
 * is on its deciding black list, 452 4.5.3 when its policy class differs
 * from the first accepted recipient's (split_recipients), 451 when the
 * policy is unavailable and on_failure = tempfail.
 */
static sfsistat rcpt_policy(SMFICTX *ctx, struct hm_conn *conn, struct hm_rcpt *rc)
{
	const struct hm_conf *conf = conn->conf;
	const struct hm_rcpt *first = hm_msg_first_accepted(conn->msg);
	struct hm_policy_defaults d;

	if ((rc->policy = calloc(1, sizeof(*rc->policy))) == NULL)
		return internal_error(ctx, "out of memory");
	hm_verdict_policy_defaults(conf, &d);
	/* -1: not a usable address; its policy is the defaults, which is fine. */
	(void)hm_rcpt_policy_load(conf->store, &d, rc->addr, conn->msg->from, rc->policy);
	if (rc->policy->failed && conf->redis.on_failure == HM_ON_FAILURE_TEMPFAIL) {
		rc->status = HM_RCPT_TEMPFAIL;
		smfi_setreply(ctx, "451", "4.3.0", "Recipient policy temporarily unavailable, "
			      "please try again later");
		return SMFIS_TEMPFAIL;
	}
	if (rc->policy->list == HM_LIST_BLACK) {
		rc->status = HM_RCPT_REJECTED;
		smfi_setreply(ctx, "550", "5.7.1", "Sender blocked by the recipient's policy");
		return SMFIS_REJECT;
	}
	if (conf->split_recipients && first && !hm_rcpt_policy_same_class(first->policy, rc->policy)) {
		rc->status = HM_RCPT_DEFERRED;
		smfi_setreply(ctx, "452", "4.5.3", "Recipient with another policy: "
			      "please send it in a separate transaction");
		return SMFIS_TEMPFAIL;
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_rcpt *rc;

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "RCPT TO outside a transaction");
	if ((rc = hm_msg_add_rcpt(conn->msg, argv && argv[0] ? argv[0] : "<>")) == NULL) {
		if (errno == E2BIG) {
			smfi_setreply(ctx, "452", "4.5.3", "Too many recipients");
			return SMFIS_TEMPFAIL;
		}
		return internal_error(ctx, "out of memory");
	}
	/* Our own users' mail is not judged: no policy. */
	if (conn->msg->outbound)
		return SMFIS_CONTINUE;
	return rcpt_policy(ctx, conn, rc);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_msg *msg = conn ? conn->msg : NULL;

	/* Without a message, end of message answers 451. */
	if (msg == NULL)
		return stage_error(ctx, conn, SMFIP_NR_HDR, "header outside a transaction");
	if (msg->failed)
		return carry_on(conn, SMFIP_NR_HDR);
	msg->nheaders++;
	msg->header_bytes += strlen(name) + strlen(value) + 3;	/* ":" and CRLF */
	if (hm_header_track_seen(&msg->headers, name) < 0)
		return stage_error(ctx, conn, SMFIP_NR_HDR, "out of memory");
	if (strcasecmp(name, "Authentication-Results") == 0)
		hm_header_track_authres(&msg->headers, value, conn->conf->authserv_id);
	if (msg->scan && hm_scan_header(msg->scan, name, value) < 0)
		return stage_error(ctx, conn, SMFIP_NR_HDR, "header check failed");
	return carry_on(conn, SMFIP_NR_HDR);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL || conn->msg == NULL)
		return stage_error(ctx, conn, SMFIP_NR_EOH, "end of headers outside a transaction");
	if (!conn->msg->failed && conn->msg->scan && hm_scan_eoh(conn->msg->scan) < 0)
		return stage_error(ctx, conn, SMFIP_NR_EOH, "end of headers check failed");
	return carry_on(conn, SMFIP_NR_EOH);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL || conn->msg == NULL)
		return stage_error(ctx, conn, SMFIP_NR_BODY, "body outside a transaction");
	conn->msg->body_bytes += len;
	if (!conn->msg->failed && conn->msg->scan && hm_scan_body(conn->msg->scan, chunk, len) < 0)
		return stage_error(ctx, conn, SMFIP_NR_BODY, "body check failed");
	return carry_on(conn, SMFIP_NR_BODY);
}

static int delete_header(const char *name, unsigned index, void *arg)
{
	return smfi_chgheader(arg, (char *)name, (int)index, NULL) == MI_SUCCESS ? 0 : -1;
}

/* Add one header; with SMFIP_HDR_LEADSPC the value carries its space. */
static int add_header(SMFICTX *ctx, const struct hm_conn *conn, const struct hm_header_add *h)
{
	struct hm_strbuf v;
	int rc;

	hm_strbuf_init(&v, h->value.len + 1);
	if (conn->leading_space)
		hm_strbuf_puts(&v, " ");
	hm_strbuf_puts(&v, hm_strbuf_str(&h->value));
	if (v.failed)
		rc = -1;
	else if (h->at_top)
		rc = smfi_insheader(ctx, 0, (char *)h->name, (char *)hm_strbuf_str(&v));
	else
		rc = smfi_addheader(ctx, (char *)h->name, (char *)hm_strbuf_str(&v));
	hm_strbuf_free(&v);
	return rc == MI_SUCCESS ? 0 : -1;
}

/* Header edits: remove what must go, then add ours. */
static int edit_headers(SMFICTX *ctx, struct hm_conn *conn, const struct hm_verdict *v,
			const char **what)
{
	struct hm_msg *msg = conn->msg;
	struct hm_header_add h[HM_VERDICT_MAX_HEADERS];
	size_t n = 0;
	int rc = 0;

	if (hm_header_track_replay(&msg->headers, delete_header, ctx) < 0) {
		*what = "removing incoming headers failed";
		return -1;
	}
	if (msg->result == NULL)
		return 0;		/* not judged: nothing to add */
	if (hm_verdict_headers(conn->conf, msg->result, v, h, &n) < 0) {
		*what = "a header we add grew too long";
		rc = -1;
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (add_header(ctx, conn, &h[i]) < 0) {
			*what = "adding our headers failed";
			rc = -1;
		}
	hm_verdict_headers_free(h, n);
	return rc;
}

/* Judge a message that is not outbound.  0, or -1 with *what. */
static int judge(SMFICTX *ctx, struct hm_conn *conn, struct hm_verdict *v, const char **what)
{
	struct hm_msg *msg = conn->msg;

	if (msg->scan == NULL)
		return 0;
	if ((msg->result = calloc(1, sizeof(*msg->result))) == NULL) {
		*what = "out of memory";
		return -1;
	}
	if (hm_verdict_decide(conn->conf, msg->scan, conn->client, conn->helo[0] ? conn->helo : NULL,
			      msg->from, msg->rcpts, msg->nrcpts, msg->result, v, what) < 0)
		return -1;
	if (v->conflict)
		hm_log(HM_LOG_NOTICE, "%s: recipients' outcomes differ: the most lenient, %s, applies "
		       "to all", queue_id_of(ctx), hm_verdict_outcome_name(v->outcome, v->held));
	msg->outcome = v->outcome;
	msg->decided = true;
	return 0;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);
	const char *qid = queue_id_of(ctx), *what = NULL;
	struct hm_verdict v = { .outcome = HM_ACCEPT };
	sfsistat verdict = SMFIS_ACCEPT;

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "end of message outside a transaction");
	hm_msg_mark_eom(conn->msg);
	if (conn->msg->failed) {
		/* A no-reply stage failed: its 451 is said now. */
		verdict = internal_error(ctx, conn->msg->failed);
		hm_msglog_write(conn, qid, "tempfail");
	} else if (conn->msg->headers.overflow) {
		/* We could not note every header to remove: a pre-tag or a
		 * forged Authentication-Results might slip through. */
		hm_log(HM_LOG_WARNING, "%s: too many X-Spam-* names or forged "
		       "Authentication-Results headers: answering 451", qid);
		smfi_setreply(ctx, "451", "4.7.0", "Too many spam-filter headers, please try again later");
		hm_msglog_write(conn, qid, "tempfail");
		verdict = SMFIS_TEMPFAIL;
	} else if (judge(ctx, conn, &v, &what) < 0) {
		verdict = internal_error(ctx, what);
		hm_msglog_write(conn, qid, "tempfail");
	} else if (conn->msg->decided && v.outcome == HM_REJECT) {
		/* A reject that trouble may have caused is held back as 451. */
		smfi_setreply(ctx, (char *)v.reply.code, (char *)v.reply.status, v.reply.text);
		hm_msglog_write(conn, qid, v.held ? "tempfail" : "reject");
		verdict = v.held ? SMFIS_TEMPFAIL : SMFIS_REJECT;
	} else if (edit_headers(ctx, conn, &v, &what) < 0) {
		verdict = internal_error(ctx, what);
		hm_msglog_write(conn, qid, "tempfail");
	} else {
		hm_msglog_write(conn, qid, conn->msg->decided ? hm_outcome_name(v.outcome) : "accept");
	}
	hm_msg_free(&conn->msg);
	return verdict;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn && conn->msg) {
		/* Recipients refused at RCPT time end here: say what decided. */
		if (conn->msg->nrcpts)
			hm_msglog_write(conn, queue_id_of(ctx), "aborted");
		else
			hm_log(HM_LOG_DEBUG, "%s: transaction aborted by the MTA", queue_id_of(ctx));
		hm_msg_free(&conn->msg);
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_close(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn && conn->msg)
		hm_log(HM_LOG_DEBUG, "%s: connection closed in mid-transaction", queue_id_of(ctx));
	hm_conn_free(&conn);
	smfi_setpriv(ctx, NULL);
	return SMFIS_CONTINUE;
}

int hm_callbacks_register(void)
{
	struct smfiDesc desc = {
		.xxfi_name = (char *)"hosterra-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_flags = SMFIF_ADDHDRS | SMFIF_CHGHDRS,
		.xxfi_connect = cb_connect,
		.xxfi_helo = cb_helo,
		.xxfi_envfrom = cb_envfrom,
		.xxfi_envrcpt = cb_envrcpt,
		.xxfi_header = cb_header,
		.xxfi_eoh = cb_eoh,
		.xxfi_body = cb_body,
		.xxfi_eom = cb_eom,
		.xxfi_abort = cb_abort,
		.xxfi_close = cb_close,
		.xxfi_unknown = NULL,
		.xxfi_data = NULL,
		.xxfi_negotiate = cb_negotiate,
	};

	return smfi_register(desc) == MI_SUCCESS ? 0 : -1;
}
