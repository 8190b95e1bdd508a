/*
 * transaction.c - the stages of a transaction and what each decides.
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>

#include "util/grow.h"
#include "milter/clsmodel.h"
#include "milter/transaction.h"
#include "util/log.h"

static struct hm_txn_reply go_on(void)
{
	return (struct hm_txn_reply){ .action = HM_TXN_CONTINUE };
}

static struct hm_txn_reply answer(enum hm_txn_action action, const char *code, const char *xcode,
				  const char *text)
{
	struct hm_txn_reply r = { .action = action, .code = code, .xcode = xcode };

	snprintf(r.text, sizeof(r.text), "%s", text);
	return r;
}

/* An internal failure: 451, and what failed for the log. */
static struct hm_txn_reply internal(const char *what)
{
	struct hm_txn_reply r = answer(HM_TXN_TEMPFAIL, "451", "4.7.0",
				       "Temporary internal error, please try again later");

	snprintf(r.internal, sizeof(r.internal), "%s", what);
	return r;
}

/* A failure of the connection, answered at MAIL FROM at the latest. */
static struct hm_txn_reply conn_failed(struct hm_conn *conn, const char *what)
{
	if (conn->failed == NULL)
		conn->failed = what;
	return internal(what);
}

/* A failure of the message, answered at end of message at the latest. */
static struct hm_txn_reply msg_failed(struct hm_msg *msg, const char *what)
{
	if (msg && msg->failed == NULL)
		msg->failed = what;
	return internal(what);
}

static void copy_bounded(char *dst, size_t len, const char *src)
{
	snprintf(dst, len, "%s", src ? src : "");
}

struct hm_txn_reply hm_txn_connect(struct hm_conn *conn, const char *host, int family,
				   const char *addr)
{
	copy_bounded(conn->host, sizeof(conn->host), host);
	conn->family = family;
	switch (family) {
	case AF_INET:
	case AF_INET6:
		copy_bounded(conn->addr, sizeof(conn->addr), addr);
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
			return conn_failed(conn, "cannot start the client checks");
	}
	return go_on();
}

struct hm_txn_reply hm_txn_helo(struct hm_conn *conn, const char *helo)
{
	copy_bounded(conn->helo, sizeof(conn->helo), helo);
	return go_on();
}

struct hm_txn_reply hm_txn_mail(struct hm_conn *conn, const char *from, bool authenticated,
				const char *queue_id)
{
	struct hm_msg *msg;

	if (conn->failed)
		return internal(conn->failed);
	if ((msg = hm_msg_begin(conn, from)) == NULL)
		return internal("out of memory");
	if (conn->conf == NULL)
		return msg_failed(msg, "no configuration");
	/* Our own users' mail (authenticated, or from inside) is not judged. */
	msg->outbound = authenticated ||
			(conn->ip_client && hm_netlist_match(&conn->conf->internal, conn->addr));
	if (msg->outbound)
		return go_on();
	struct hm_envelope env = {
		.client_ip = conn->ip_client ? conn->addr : NULL,
		.helo = conn->helo[0] ? conn->helo : NULL,
		.mail_from = msg->from,
	};
	struct hm_scan_opts opts = {
		.weights = &conn->conf->weights,
		.rules = conn->conf->compiled_rules,
		.model = !conn->conf->classifier.enabled ? NULL :
			 conn->model ? conn->model : hm_clsmodel_slot(),
		.points = &conn->conf->cls_points,
	};
	if (conn->conf->engine == NULL ||
	    (msg->scan = hm_scan_begin(conn->conf->engine, &opts, &env, queue_id)) == NULL)
		return internal("cannot start the checks (out of memory)");
	return go_on();
}

/*
 * Load a judged recipient's policy and answer for it: 550 when the sender
 * is on its deciding black list, 452 4.5.3 when its policy class differs
 * from the first accepted recipient's (split_recipients), 451 when the
 * policy is unavailable and on_failure = tempfail.
 */
static struct hm_txn_reply rcpt_policy(struct hm_conn *conn, struct hm_rcpt *rc)
{
	const struct hm_conf *conf = conn->conf;
	const struct hm_rcpt *first = hm_msg_first_accepted(conn->msg);
	struct hm_policy_defaults d;

	if ((rc->policy = calloc(1, sizeof(*rc->policy))) == NULL)
		return internal("out of memory");
	hm_verdict_policy_defaults(conf, &d);
	/* -1: not a usable address; its policy is the defaults, which is fine. */
	(void)hm_rcpt_policy_load(conf->store, &d, rc->addr, conn->msg->from, rc->policy);
	if (rc->policy->failed && conf->redis.on_failure == HM_ON_FAILURE_TEMPFAIL) {
		rc->status = HM_RCPT_TEMPFAIL;
		return answer(HM_TXN_TEMPFAIL, "451", "4.3.0", "Recipient policy temporarily "
			      "unavailable, please try again later");
	}
	if (rc->policy->list == HM_LIST_BLACK) {
		rc->status = HM_RCPT_REJECTED;
		return answer(HM_TXN_REJECT, "550", "5.7.1", "Sender blocked by the recipient's policy");
	}
	if (conf->split_recipients && first && !hm_rcpt_policy_same_class(first->policy, rc->policy)) {
		rc->status = HM_RCPT_DEFERRED;
		return answer(HM_TXN_TEMPFAIL, "452", "4.5.3", "Recipient with another policy: "
			      "please send it in a separate transaction");
	}
	return go_on();
}

struct hm_txn_reply hm_txn_rcpt(struct hm_conn *conn, const char *rcpt)
{
	struct hm_rcpt *rc;

	if (conn->msg == NULL)
		return internal("RCPT TO outside a transaction");
	if (conn->msg->failed)
		return internal(conn->msg->failed);
	if ((rc = hm_msg_add_rcpt(conn->msg, rcpt)) == NULL) {
		if (errno == E2BIG)
			return answer(HM_TXN_TEMPFAIL, "452", "4.5.3", "Too many recipients");
		return internal("out of memory");
	}
	/* Our own users' mail is not judged: no policy. */
	if (conn->msg->outbound)
		return go_on();
	return rcpt_policy(conn, rc);
}

struct hm_txn_reply hm_txn_header(struct hm_conn *conn, const char *name, const char *value)
{
	struct hm_msg *msg = conn->msg;

	/* Without a message, end of message answers 451. */
	if (msg == NULL)
		return internal("header outside a transaction");
	if (msg->failed)
		return go_on();		/* said at end of message */
	msg->nheaders++;
	msg->header_bytes += strlen(name) + strlen(value) + 3;	/* ":" and CRLF */
	if (hm_header_track_seen(&msg->headers, name) < 0)
		return msg_failed(msg, "out of memory");
	if (strcasecmp(name, "Authentication-Results") == 0)
		hm_header_track_authres(&msg->headers, value, conn->conf->authserv_id);
	if (msg->scan && hm_scan_header(msg->scan, name, value) < 0)
		return msg_failed(msg, "header check failed");
	return go_on();
}

struct hm_txn_reply hm_txn_eoh(struct hm_conn *conn)
{
	if (conn->msg == NULL)
		return internal("end of headers outside a transaction");
	if (!conn->msg->failed && conn->msg->scan && hm_scan_eoh(conn->msg->scan) < 0)
		return msg_failed(conn->msg, "end of headers check failed");
	return go_on();
}

struct hm_txn_reply hm_txn_body(struct hm_conn *conn, const unsigned char *chunk, size_t len)
{
	if (conn->msg == NULL)
		return internal("body outside a transaction");
	conn->msg->body_bytes += len;
	if (!conn->msg->failed && conn->msg->scan && hm_scan_body(conn->msg->scan, chunk, len) < 0)
		return msg_failed(conn->msg, "body check failed");
	return go_on();
}

static int note_del(const char *name, unsigned index, void *arg)
{
	struct hm_txn_eom *eom = arg;

	if (eom->ndel == eom->del_cap) {
		struct hm_txn_del *grown = hm_grow(eom->del, &eom->del_cap, sizeof(*grown), 8);

		if (grown == NULL)
			return -1;
		eom->del = grown;
	}
	eom->del[eom->ndel++] = (struct hm_txn_del){ name, index };
	return 0;
}

/* Judge a message that is not outbound.  0, or -1 with err. */
static int judge(struct hm_conn *conn, const char *queue_id, char *err, size_t errlen)
{
	struct hm_msg *msg = conn->msg;
	struct hm_verdict *v = &msg->verdict;

	if (msg->scan == NULL)
		return 0;
	if ((msg->result = calloc(1, sizeof(*msg->result))) == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (hm_verdict_decide(conn->conf, msg->scan, conn->client, conn->helo[0] ? conn->helo : NULL,
			      msg->from, msg->rcpts, msg->nrcpts, msg->result, v, err, errlen) < 0)
		return -1;
	if (v->conflict)
		hm_log(HM_LOG_NOTICE, "%s: recipients' outcomes differ: the most lenient, %s, applies "
		       "to all", queue_id, hm_verdict_outcome_name(v->outcome, v->held));
	msg->outcome = v->outcome;
	msg->decided = true;
	return 0;
}

struct hm_txn_reply hm_txn_eom(struct hm_conn *conn, const char *queue_id, struct hm_txn_eom *eom)
{
	struct hm_msg *msg = conn->msg;
	const struct hm_verdict *v;
	char what[HM_TXN_INTERNAL_MAX];

	memset(eom, 0, sizeof(*eom));
	eom->log_action = "tempfail";
	if (msg == NULL)
		return internal("end of message outside a transaction");
	hm_msg_mark_eom(msg);
	v = &msg->verdict;
	/* A stage that could not answer failed: its 451 is said now. */
	if (msg->failed)
		return internal(msg->failed);
	if (msg->headers.overflow) {
		/* We could not note every header to remove: a pre-tag or a
		 * forged Authentication-Results might slip through. */
		hm_log(HM_LOG_WARNING, "%s: too many X-Spam-* names or forged "
		       "Authentication-Results headers: answering 451", queue_id);
		return answer(HM_TXN_TEMPFAIL, "451", "4.7.0",
			      "Too many spam-filter headers, please try again later");
	}
	if (judge(conn, queue_id, what, sizeof(what)) < 0)
		return internal(what);
	if (msg->decided && v->outcome == HM_REJECT) {
		/* A reject that trouble may have caused is held back as 451. */
		eom->log_action = v->held ? "tempfail" : "reject";
		return answer(v->held ? HM_TXN_TEMPFAIL : HM_TXN_REJECT, v->reply.code,
			      v->reply.status, v->reply.text);
	}
	/* Header edits: remove what must go, then add ours. */
	if (hm_header_track_replay(&msg->headers, note_del, eom) < 0)
		return internal("out of memory");
	if (msg->result && hm_verdict_headers(conn->conf, msg->result, v, eom->add, &eom->nadd) < 0)
		return internal("a header we add grew too long");
	eom->log_action = msg->decided ? hm_outcome_name(v->outcome) : "accept";
	return go_on();
}

void hm_txn_end(struct hm_conn *conn, struct hm_txn_eom *eom)
{
	if (eom) {
		hm_verdict_headers_free(eom->add, eom->nadd);
		free(eom->del);
		memset(eom, 0, sizeof(*eom));
	}
	hm_msg_free(&conn->msg);
}
