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
#include "milter/context.h"
#include "milter/log.h"
#include "milter/msglog.h"
#include "scoring/strbuf.h"

#define AUTHRES_MAX 65536		/* our Authentication-Results value, at most */

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
	 * space).  Every stage is answered: over TCP, anything the MTA sends
	 * without waiting for an answer leaves its next write waiting on our
	 * delayed ACK (~40 ms).  That includes SMFIP_NODATA: Postfix still
	 * sends the DATA stage's macros, unanswered (measured by
	 * tests/e2e-postfix.test), so DATA is left on and libmilter answers it.
	 */
	unsigned long want = SMFIP_NOUNKNOWN | SMFIP_HDR_LEADSPC;

	*pf0 = f0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS);
	*pf1 = f1 & want;
	*pf2 = 0;
	*pf3 = 0;
	if ((*pf0 & (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) != (SMFIF_ADDHDRS | SMFIF_CHGHDRS)) {
		hm_log(HM_LOG_ERR, "the MTA does not allow adding and changing headers (actions 0x%lx)", f0);
		return SMFIS_REJECT;	/* libmilter: fail negotiation */
	}
	struct hm_conn *conn = hm_conn_new();

	if (conn == NULL) {
		hm_log(HM_LOG_ERR, "out of memory at connection start");
		return SMFIS_REJECT;
	}
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
			return internal_error(ctx, "out of memory");
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
	return SMFIS_CONTINUE;
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL)
		return internal_error(ctx, "HELO before connection context");
	copy_bounded(conn->helo, sizeof(conn->helo), helo);
	return SMFIS_CONTINUE;
}

static sfsistat cb_envfrom(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL)
		return internal_error(ctx, "MAIL FROM before connection context");
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
	if (conn->conf->engine == NULL ||
	    (msg->scan = hm_scan_begin(conn->conf->engine, &env, queue_id_of(ctx))) == NULL)
		return internal_error(ctx, "cannot start the checks (out of memory)");
	return SMFIS_CONTINUE;
}

static sfsistat cb_envrcpt(SMFICTX *ctx, char **argv)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "RCPT TO outside a transaction");
	if (hm_msg_add_rcpt(conn->msg, argv && argv[0] ? argv[0] : "<>") < 0) {
		if (errno == E2BIG) {
			smfi_setreply(ctx, "452", "4.5.3", "Too many recipients");
			return SMFIS_TEMPFAIL;
		}
		return internal_error(ctx, "out of memory");
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	struct hm_conn *conn = conn_of(ctx);
	struct hm_msg *msg = conn ? conn->msg : NULL;

	if (msg == NULL)
		return internal_error(ctx, "header outside a transaction");
	msg->nheaders++;
	msg->header_bytes += strlen(name) + strlen(value) + 3;	/* ":" and CRLF */
	if (hm_header_track_seen(&msg->headers, name) < 0)
		return internal_error(ctx, "out of memory");
	if (strcasecmp(name, "Authentication-Results") == 0)
		hm_header_track_authres(&msg->headers, value, conn->conf->authserv_id);
	if (msg->scan && hm_scan_header(msg->scan, name, value) < 0)
		return internal_error(ctx, "header check failed");
	return SMFIS_CONTINUE;
}

static sfsistat cb_eoh(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "end of headers outside a transaction");
	if (conn->msg->scan && hm_scan_eoh(conn->msg->scan) < 0)
		return internal_error(ctx, "end of headers check failed");
	return SMFIS_CONTINUE;
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "body outside a transaction");
	conn->msg->body_bytes += len;
	if (conn->msg->scan && hm_scan_body(conn->msg->scan, chunk, len) < 0)
		return internal_error(ctx, "body check failed");
	return SMFIS_CONTINUE;
}

static int delete_header(const char *name, unsigned index, void *arg)
{
	return smfi_chgheader(arg, (char *)name, (int)index, NULL) == MI_SUCCESS ? 0 : -1;
}

/*
 * Run the checks left for the end of message.  0, or -1 on an internal
 * failure (then *what says which).
 */
static int finish_checks(struct hm_conn *conn, const char **what)
{
	struct hm_msg *msg = conn->msg;

	if (msg->scan == NULL)
		return 0;
	if ((msg->result = calloc(1, sizeof(*msg->result))) == NULL) {
		*what = "out of memory";
		return -1;
	}
	if (hm_scan_finish(msg->scan, msg->result) < 0) {
		*what = "the checks failed";
		return -1;
	}
	return 0;
}

/* Header edits: remove what must go, then add ours at the top. */
static int edit_headers(SMFICTX *ctx, struct hm_conn *conn, const char **what)
{
	struct hm_msg *msg = conn->msg;
	struct hm_strbuf ar;
	int rc = 0;

	if (hm_header_track_replay(&msg->headers, delete_header, ctx) < 0) {
		*what = "removing incoming headers failed";
		return -1;
	}
	if (msg->result == NULL)
		return 0;
	hm_strbuf_init(&ar, AUTHRES_MAX);
	/* With SMFIP_HDR_LEADSPC the MTA writes our value right after the colon. */
	if (conn->leading_space)
		hm_strbuf_puts(&ar, " ");
	if (hm_scan_authres(msg->result, conn->conf->authserv_id, &ar) < 0) {
		*what = "Authentication-Results too long";
		rc = -1;
	} else if (smfi_insheader(ctx, 0, (char *)"Authentication-Results",
				  (char *)hm_strbuf_str(&ar)) != MI_SUCCESS) {
		*what = "adding Authentication-Results failed";
		rc = -1;
	}
	hm_strbuf_free(&ar);
	return rc;
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);
	const char *qid = queue_id_of(ctx), *what = NULL;
	sfsistat verdict = SMFIS_ACCEPT;

	if (conn == NULL || conn->msg == NULL)
		return internal_error(ctx, "end of message outside a transaction");
	if (conn->msg->headers.overflow) {
		/* We could not note every header to remove: a pre-tag or a
		 * forged Authentication-Results might slip through. */
		hm_log(HM_LOG_WARNING, "%s: too many X-Spam-* names or forged "
		       "Authentication-Results headers: answering 451", qid);
		smfi_setreply(ctx, "451", "4.7.0", "Too many spam-filter headers, please try again later");
		hm_msglog_write(conn, qid, "tempfail");
		verdict = SMFIS_TEMPFAIL;
	} else if (finish_checks(conn, &what) < 0 || edit_headers(ctx, conn, &what) < 0) {
		verdict = internal_error(ctx, what);
		hm_msglog_write(conn, qid, "tempfail");
	} else {
		hm_msglog_write(conn, qid, "accept");
	}
	hm_msg_free(&conn->msg);
	return verdict;
}

static sfsistat cb_abort(SMFICTX *ctx)
{
	struct hm_conn *conn = conn_of(ctx);

	if (conn && conn->msg) {
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
