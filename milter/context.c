/*
 * context.c - connection and message lifetimes.
 */
#include "config.h"

#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "util/grow.h"
#include "milter/context.h"

static atomic_uint in_flight, conns_open;

struct hm_conn *hm_conn_new(void)
{
	struct hm_conn *conn = calloc(1, sizeof(*conn));

	if (conn == NULL)
		return NULL;
	conn->conf = hm_conf_acquire();
	strcpy(conn->addr, "unknown");
	atomic_fetch_add_explicit(&conns_open, 1, memory_order_relaxed);
	return conn;
}

void hm_conn_free(struct hm_conn **connp)
{
	struct hm_conn *conn = *connp;

	if (conn == NULL)
		return;
	hm_msg_free(&conn->msg);
	hm_client_check_free(&conn->client);
	hm_conf_release(&conn->client_conf);
	hm_conf_release(&conn->conf);
	free(conn);
	*connp = NULL;
	atomic_fetch_sub_explicit(&conns_open, 1, memory_order_relaxed);
}

struct hm_msg *hm_msg_begin(struct hm_conn *conn, const char *from)
{
	struct hm_msg *msg;

	hm_msg_free(&conn->msg);
	/* A reload applies from the next transaction on. */
	hm_conf_release(&conn->conf);
	conn->conf = hm_conf_acquire();

	if ((msg = calloc(1, sizeof(*msg))) == NULL)
		return NULL;
	if ((msg->from = strdup(from ? from : "<>")) == NULL) {
		free(msg);
		return NULL;
	}
	clock_gettime(CLOCK_MONOTONIC, &msg->started);
	atomic_fetch_add(&in_flight, 1);
	conn->messages++;
	conn->msg = msg;
	return msg;
}

void hm_msg_free(struct hm_msg **msgp)
{
	struct hm_msg *msg = *msgp;

	if (msg == NULL)
		return;
	for (size_t i = 0; i < msg->nrcpts; i++) {
		free(msg->rcpts[i].addr);
		if (msg->rcpts[i].policy)
			hm_rcpt_policy_release(msg->rcpts[i].policy);
		free(msg->rcpts[i].policy);
	}
	free(msg->rcpts);
	free(msg->from);
	hm_header_track_clear(&msg->headers);
	hm_scan_free(&msg->scan);
	free(msg->result);
	free(msg);
	*msgp = NULL;
	atomic_fetch_sub(&in_flight, 1);
}

struct hm_rcpt *hm_msg_add_rcpt(struct hm_msg *msg, const char *rcpt)
{
	struct hm_rcpt *rc;

	if (msg->nrcpts == HM_MAX_RCPTS) {
		errno = E2BIG;
		return NULL;
	}
	if (msg->nrcpts == msg->rcpt_cap) {
		struct hm_rcpt *grown = hm_grow(msg->rcpts, &msg->rcpt_cap, sizeof(*grown), 4);

		if (grown == NULL)
			return NULL;
		msg->rcpts = grown;
	}
	rc = &msg->rcpts[msg->nrcpts];
	memset(rc, 0, sizeof(*rc));
	if ((rc->addr = strdup(rcpt)) == NULL)
		return NULL;
	msg->nrcpts++;
	return rc;
}

const struct hm_rcpt *hm_msg_first_accepted(const struct hm_msg *msg)
{
	for (size_t i = 0; i < msg->nrcpts; i++)
		if (msg->rcpts[i].status == HM_RCPT_ACCEPTED && msg->rcpts[i].policy)
			return &msg->rcpts[i];
	return NULL;
}

unsigned hm_msg_in_flight(void)
{
	return atomic_load(&in_flight);
}

unsigned hm_conn_open(void)
{
	return atomic_load_explicit(&conns_open, memory_order_relaxed);
}

void hm_msg_mark_eom(struct hm_msg *msg)
{
	clock_gettime(CLOCK_MONOTONIC, &msg->eom_started);
}

long hm_msg_elapsed_ms(const struct hm_msg *msg)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (now.tv_sec - msg->started.tv_sec) * 1000L +
	       (now.tv_nsec - msg->started.tv_nsec) / 1000000L;
}
