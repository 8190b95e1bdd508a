/*
 * transaction.h - one SMTP connection's transactions, stage by stage.
 *
 * The one place that knows the order of the stages and what each decides:
 * connect, HELO, MAIL FROM, RCPT TO, each header, end of headers, body
 * chunks, end of message, abort.  It knows nothing of libmilter: the
 * milter's callbacks (milter/callbacks.c) turn its answers into replies,
 * and the scan mode (milter/scanmode.c) feeds it a message file and
 * prints them, so both give the same answer about the same message.
 *
 * Every stage returns a struct hm_txn_reply: continue, or a reject or a
 * tempfail with the SMTP reply to give.  An internal failure (allocation,
 * a check that could not run) is a tempfail 451 4.7.0 with `internal`
 * naming it; it is also remembered, so that a caller that cannot answer
 * at that stage gets it again at the next stage that answers: MAIL FROM
 * for connect and HELO, end of message for header, end of headers and
 * body.  End of message adds the header edits, the outcome per recipient
 * (in conn->msg->rcpts) and the word the log line says; the caller
 * applies the edits, writes the log line and calls hm_txn_end().
 */
#ifndef HM_TRANSACTION_H
#define HM_TRANSACTION_H

#include <stdbool.h>
#include <stddef.h>

#include "milter/context.h"
#include "milter/verdict.h"

enum hm_txn_action {
	HM_TXN_CONTINUE,		/* go on (at end of message: accept, with the edits) */
	HM_TXN_REJECT,			/* 5xx */
	HM_TXN_TEMPFAIL,		/* 4xx */
};

#define HM_TXN_INTERNAL_MAX 120	/* what an internal failure says, NUL included */

struct hm_txn_reply {
	enum hm_txn_action action;
	const char *code;		/* "550", "451", "452"; NULL to continue */
	const char *xcode;		/* enhanced status code */
	char text[400];
	char internal[HM_TXN_INTERNAL_MAX];	/* an internal failure: what failed; else "" */
};

/* A header to delete: its name and 1-based occurrence index. */
struct hm_txn_del {
	const char *name;		/* lives as long as the message */
	unsigned index;
};

/* What end of message decided, beside its reply. */
struct hm_txn_eom {
	const char *log_action;		/* accept, tag, reject, tempfail */
	struct hm_txn_del *del;		/* deletions first, highest index of a name first */
	size_t ndel, del_cap;
	struct hm_header_add add[HM_VERDICT_MAX_HEADERS];	/* then these, in order */
	size_t nadd;
};

/*
 * A client connected: host as the MTA named it, family AF_INET, AF_INET6,
 * AF_UNIX or AF_UNSPEC, addr its text form (ignored unless an IP family).
 * Starts the client checks, except for our own networks.
 */
struct hm_txn_reply hm_txn_connect(struct hm_conn *conn, const char *host, int family,
				   const char *addr);
struct hm_txn_reply hm_txn_helo(struct hm_conn *conn, const char *helo);

/*
 * MAIL FROM: a new transaction (any one in progress ends).  authenticated:
 * the client logged in; with an internal client it makes the mail
 * outbound, not judged.  queue_id names the message in log lines.
 */
struct hm_txn_reply hm_txn_mail(struct hm_conn *conn, const char *from, bool authenticated,
				const char *queue_id);

/* RCPT TO: 550 on a black list, 452 past the limit or with split_recipients
 * another policy class, 451 for a policy unavailable (on_failure = tempfail). */
struct hm_txn_reply hm_txn_rcpt(struct hm_conn *conn, const char *rcpt);

struct hm_txn_reply hm_txn_header(struct hm_conn *conn, const char *name, const char *value);
struct hm_txn_reply hm_txn_eoh(struct hm_conn *conn);
struct hm_txn_reply hm_txn_body(struct hm_conn *conn, const unsigned char *chunk, size_t len);

/*
 * End of message: the verdict (once, milter/verdict.h), its reply and,
 * when the message is accepted or tagged, the header edits in *eom.  The
 * message stays in conn->msg until hm_txn_end(): the caller reads it for
 * the log line.
 */
struct hm_txn_reply hm_txn_eom(struct hm_conn *conn, const char *queue_id, struct hm_txn_eom *eom);

/* Free the edits and end the message (after end of message or abort). */
void hm_txn_end(struct hm_conn *conn, struct hm_txn_eom *eom);

#endif
