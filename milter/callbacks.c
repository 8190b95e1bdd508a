/*
 * callbacks.c - the libmilter callbacks: an adapter to milter/transaction.h.
 *
 * Each callback hands its stage to the transaction and turns the answer
 * into libmilter's: continue, a reject or a tempfail with its reply, and
 * at end of message the header edits.  What is libmilter's stays here:
 * the negotiation, the macros (queue id, authentication), the client's
 * address, the stages the MTA does not wait for, and the header values'
 * leading space.  Any internal failure answers 451 so the MTA keeps the
 * message and retries: mail is never lost and never accepted unchecked.
 * This and milter/main.c are the only files that include libmilter's
 * header.
 */
#include "config.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

#include <libmilter/mfapi.h>

#include "milter/callbacks.h"
#include "milter/context.h"
#include "milter/msglog.h"
#include "milter/transaction.h"
#include "util/log.h"
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
 * libmilter's answer to a stage's reply.  nr_bit: the stage's no-reply bit
 * (0 for a stage always answered).  At a stage the MTA does not wait for,
 * libmilter would drop a 451: the transaction has kept the failure and
 * says it at the next stage that has a reply (MAIL FROM for connect and
 * HELO, end of message for the message's stages).
 */
static sfsistat reply_to(SMFICTX *ctx, const struct hm_conn *conn, unsigned long nr_bit,
			 const struct hm_txn_reply *r)
{
	if (r->action == HM_TXN_CONTINUE)
		return carry_on(conn, nr_bit);
	if (conn && (conn->noreply & nr_bit)) {
		hm_log(HM_LOG_ERR, "%s: internal error: %s: answering 451 at the next reply",
		       queue_id_of(ctx), r->internal[0] ? r->internal : r->text);
		return SMFIS_NOREPLY;
	}
	if (r->internal[0])
		hm_log(HM_LOG_ERR, "%s: internal error: %s: answering 451", queue_id_of(ctx),
		       r->internal);
	smfi_setreply(ctx, (char *)r->code, (char *)r->xcode, (char *)r->text);
	return r->action == HM_TXN_REJECT ? SMFIS_REJECT : SMFIS_TEMPFAIL;
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
	char addr[64] = "";
	struct hm_txn_reply r;

	if (conn == NULL) {
		/* MTAs that skip negotiation options still reach here. */
		if ((conn = hm_conn_new()) == NULL)
			return internal_error(ctx, "out of memory");	/* MAIL FROM says 451 too */
		smfi_setpriv(ctx, conn);
	}
	if (sa && sa->sa_family == AF_INET)
		inet_ntop(AF_INET, &((struct sockaddr_in *)sa)->sin_addr, addr, sizeof(addr));
	else if (sa && sa->sa_family == AF_INET6)
		inet_ntop(AF_INET6, &((struct sockaddr_in6 *)sa)->sin6_addr, addr, sizeof(addr));
	r = hm_txn_connect(conn, hostname, sa ? sa->sa_family : AF_UNSPEC, addr);
	return reply_to(ctx, conn, SMFIP_NR_CONN, &r);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "HELO before connection context");	/* MAIL FROM: 451 */
	r = hm_txn_helo(conn, helo);
	return reply_to(ctx, conn, SMFIP_NR_HELO, &r);
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);
	const char *auth = smfi_getsymval(ctx, "{auth_authen}");
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "MAIL FROM before connection context");
	if (conn->failed == NULL && atomic_load(&stopping)) {
		hm_msg_free(&conn->msg);
		smfi_setreply(ctx, "451", "4.3.2", "Mail filter shutting down, please try again later");
		return SMFIS_TEMPFAIL;
	}
	r = hm_txn_mail(conn, argv && argv[0] ? argv[0] : "<>", auth && *auth, queue_id_of(ctx));
	return reply_to(ctx, conn, 0, &r);
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "RCPT TO outside a transaction");
	r = hm_txn_rcpt(conn, argv && argv[0] ? argv[0] : "<>");
	return reply_to(ctx, conn, 0, &r);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "header outside a connection");
	r = hm_txn_header(conn, name, value);
	return reply_to(ctx, conn, SMFIP_NR_HDR, &r);
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "end of headers outside a connection");
	r = hm_txn_eoh(conn);
	return reply_to(ctx, conn, SMFIP_NR_EOH, &r);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_txn_reply r;

	if (conn == NULL)
		return internal_error(ctx, "body outside a connection");
	r = hm_txn_body(conn, chunk, len);
	return reply_to(ctx, conn, SMFIP_NR_BODY, &r);
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

/* The header edits end of message returned: deletions, then additions; -1 with err. */
static int edit_headers(SMFICTX *ctx, const struct hm_conn *conn, const struct hm_txn_eom *eom,
			char *err, size_t errlen)
{
	for (size_t i = 0; i < eom->ndel; i++)
		if (smfi_chgheader(ctx, (char *)eom->del[i].name, (int)eom->del[i].index, NULL)
		    != MI_SUCCESS) {
			snprintf(err, errlen, "removing incoming headers failed");
			return -1;
		}
	for (size_t i = 0; i < eom->nadd; i++)
		if (add_header(ctx, conn, &eom->add[i]) < 0) {
			snprintf(err, errlen, "adding our headers failed");
			return -1;
		}
	return 0;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);
	const char *qid = queue_id_of(ctx);
	char what[HM_TXN_INTERNAL_MAX];
	struct hm_txn_eom eom;
	struct hm_txn_reply r;
	sfsistat verdict;

	if (conn == NULL)
		return internal_error(ctx, "end of message outside a transaction");
	r = hm_txn_eom(conn, qid, &eom);
	if (r.action != HM_TXN_CONTINUE) {
		verdict = reply_to(ctx, conn, 0, &r);
	} else if (edit_headers(ctx, conn, &eom, what, sizeof(what)) < 0) {
		verdict = internal_error(ctx, what);
		eom.log_action = "tempfail";
	} else {
		verdict = SMFIS_ACCEPT;
	}
	if (conn->msg)
		hm_msglog_write(conn, qid, eom.log_action);
	hm_txn_end(conn, &eom);
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
		hm_txn_end(conn, NULL);
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
