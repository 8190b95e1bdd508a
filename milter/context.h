/*
 * context.h - per-connection and per-message state.
 *
 * A struct hm_conn lives in libmilter's private slot from connect to close
 * (in the scan mode, for one file), and milter/transaction.c runs its
 * stages.  It holds the configuration snapshot the connection runs with and at most
 * one struct hm_msg, the transaction in progress.  Everything a message owns
 * hangs off its hm_msg and is released by hm_msg_free(), the one place that
 * frees it: called at end of message, abort, close and the next MAIL FROM.
 * Free functions take the address of the pointer and clear it, so calling
 * them twice is harmless.
 */
#ifndef HM_CONTEXT_H
#define HM_CONTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "milter/conf.h"
#include "milter/headers.h"
#include "milter/verdict.h"
#include "scoring/scan.h"

#define HM_MAX_RCPTS 1000		/* Postfix's smtpd_recipient_limit default */

struct hm_msg {
	struct timespec started;
	char *from;			/* MAIL FROM as given, with <> */
	struct hm_rcpt *rcpts;		/* every RCPT TO, and what became of it */
	size_t nrcpts, rcpt_cap;
	struct hm_header_track headers;	/* incoming headers we may remove */
	size_t nheaders;
	unsigned long long header_bytes, body_bytes;
	bool outbound;			/* authenticated or internal: not judged */
	struct hm_scan *scan;		/* the checks in progress; NULL if outbound */
	struct hm_scan_result *result;	/* filled at end of message */
	struct hm_verdict verdict;	/* the message's, once decided */
	int outcome;			/* enum hm_outcome, once decided */
	bool decided;
	const char *failed;		/* a header or body stage failed: 451 at end of message */
	struct timespec eom_started;	/* end of message began (0: not reached) */
};

struct hm_conn {
	struct hm_conf *conf;		/* snapshot this connection runs with */
	int family;			/* AF_INET, AF_INET6, AF_UNIX or AF_UNSPEC */
	char addr[64];			/* client address, "local" or "unknown" */
	char host[256];			/* client host name as the MTA gave it */
	char helo[256];
	bool ip_client;			/* family AF_INET or AF_INET6: IP checks apply */
	struct hm_client_check *client;	/* DNSBL, rDNS, HELO; NULL for local clients */
	struct hm_conf *client_conf;	/* the snapshot the client checks started with */
	bool leading_space;		/* header values arrive with their leading space */
	unsigned long noreply;		/* SMFIP_NR_* stages the MTA does not wait for */
	const char *failed;		/* connect or HELO failed: 451 at MAIL FROM */
	struct hm_cls_slot *model;	/* content model; NULL: the daemon's */
	struct hm_msg *msg;
	unsigned long messages;		/* transactions begun on this connection */
};

struct hm_conn *hm_conn_new(void);
void hm_conn_free(struct hm_conn **conn);

/* Start a new transaction, ending any one in progress; NULL if out of memory. */
struct hm_msg *hm_msg_begin(struct hm_conn *conn, const char *from);
void hm_msg_free(struct hm_msg **msg);
/*
 * Record a recipient (status accepted, no policy yet): its record, or NULL
 * when out of memory or past HM_MAX_RCPTS (errno ENOMEM / E2BIG).
 */
struct hm_rcpt *hm_msg_add_rcpt(struct hm_msg *msg, const char *rcpt);

/* The first accepted recipient with a policy, or NULL. */
const struct hm_rcpt *hm_msg_first_accepted(const struct hm_msg *msg);

/* Messages begun and not yet freed, process-wide (for a graceful stop). */
unsigned hm_msg_in_flight(void);

/* Connection contexts alive now, process-wide (for the metrics). */
unsigned hm_conn_open(void);

/* Note that end of message began: its latency is measured from here. */
void hm_msg_mark_eom(struct hm_msg *msg);

/* Milliseconds since the message began. */
long hm_msg_elapsed_ms(const struct hm_msg *msg);

#endif
