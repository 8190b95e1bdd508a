/*
 * model-wire.c - the content model's connection to Redis (see model.h):
 * its settings, the primary the sentinels name for learning's writes,
 * connecting (AUTH, SELECT), and the pipelined exchange the other
 * model-*.c files send their commands through.
 *
 * Plain blocking hiredis with a socket timeout: nothing here is on a
 * message's path.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>

#include <hiredis/hiredis.h>

#include "policy/model-int.h"
#include "policy/sentinel.h"

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct hm_model_conn *hm_model_conn_new(const struct hm_store_conf *sc, long timeout_ms)
{
	struct hm_model_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->host = strdup(sc->host && *sc->host ? sc->host : HM_STORE_HOST);
	c->unix_path = dup_or_null(sc->unix_path);
	c->password = dup_or_null(sc->password);
	c->prefix = strdup(sc->prefix && *sc->prefix ? sc->prefix : HM_STORE_PREFIX);
	c->port = sc->port > 0 ? sc->port : HM_STORE_PORT;
	c->db = sc->db;
	c->connect_ms = sc->connect_timeout_ms > 0 ? sc->connect_timeout_ms :
						      HM_STORE_CONNECT_TIMEOUT_MS;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	if (c->host == NULL || c->prefix == NULL || (sc->unix_path && *sc->unix_path && !c->unix_path) ||
	    (sc->password && *sc->password && !c->password)) {
		hm_model_conn_free(&c);
		return NULL;
	}
	return c;
}

struct hm_model_conn *hm_model_conn_primary(const struct hm_store_conf *sc, long timeout_ms,
					    char *err, size_t errlen)
{
	struct hm_sentinel_conf snc = {
		.addrs = sc->sentinels, .naddrs = sc->nsentinels, .master = sc->sentinel_master,
		.password = sc->sentinel_password,
		.timeout_ms = sc->connect_timeout_ms > 0 ? sc->connect_timeout_ms :
							    HM_STORE_CONNECT_TIMEOUT_MS,
	};
	struct hm_store_conf at = *sc;
	struct hm_sentinel *snt = NULL;
	struct hm_model_conn *c;
	char host[256];
	int port;

	if (sc->nsentinels == 0) {
		if ((c = hm_model_conn_new(sc, timeout_ms)) == NULL)
			snprintf(err, errlen, "out of memory");
		return c;
	}
	if (hm_sentinel_new(&snc, &snt, err, errlen) < 0)
		return NULL;
	if (hm_sentinel_primary(snt, host, sizeof(host), &port, err, errlen) < 0) {
		hm_sentinel_free(&snt);
		return NULL;
	}
	hm_sentinel_free(&snt);
	at.host = host;
	at.port = port;
	at.unix_path = NULL;		/* the local socket is the replica's */
	if ((c = hm_model_conn_new(&at, timeout_ms)) == NULL)
		snprintf(err, errlen, "out of memory");
	return c;
}

void hm_model_conn_free(struct hm_model_conn **cp)
{
	struct hm_model_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->rc)
		redisFree(c->rc);
	free(c->host);
	free(c->unix_path);
	free(c->password);
	free(c->prefix);
	free(c);
	*cp = NULL;
}

static void where(const struct hm_model_conn *c, char *out, size_t outlen)
{
	if (c->unix_path)
		snprintf(out, outlen, "%s", c->unix_path);
	else
		snprintf(out, outlen, "%s:%d", c->host, c->port);
}

/* A context that failed is dead (hiredis): drop it, the next use redials. */
void model_conn_drop(struct hm_model_conn *c)
{
	if (c->rc)
		redisFree(c->rc);
	c->rc = NULL;
}


int hm_model_conn_check(struct hm_model_conn *c, char *err, size_t errlen)
{
	struct timeval ct = { c->connect_ms / 1000, (c->connect_ms % 1000) * 1000 };
	struct timeval tt = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
	char w[300];

	if (c->rc)
		return 0;
	where(c, w, sizeof(w));
	c->rc = c->unix_path ? redisConnectUnixWithTimeout(c->unix_path, ct)
		: redisConnectWithTimeout(c->host, c->port, ct);
	if (c->rc == NULL || c->rc->err) {
		snprintf(err, errlen, "connect %s: %s", w, c->rc ? c->rc->errstr : "out of memory");
		model_conn_drop(c);
		return -1;
	}
	if (redisSetTimeout(c->rc, tt) != REDIS_OK) {
		snprintf(err, errlen, "connect %s: cannot set the timeout", w);
		model_conn_drop(c);
		return -1;
	}
	if (c->password) {
		const char *a[] = { "AUTH", c->password };
		redisReply *r = model_command(c, 2, a, err, errlen);

		if (r == NULL) {
			model_conn_drop(c);	/* never used unauthenticated */
			return -1;
		}
		freeReplyObject(r);
	}
	if (c->db) {
		char num[16];
		const char *a[] = { "SELECT", num };
		redisReply *r;

		snprintf(num, sizeof(num), "%d", c->db);
		if ((r = model_command(c, 2, a, err, errlen)) == NULL) {
			model_conn_drop(c);	/* never used on database 0 */
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/*
 * Send the n commands queued on the context and read n replies into rep.
 * An error reply is returned as such (the caller judges it); -1 only when
 * the connection failed (then it is dropped).
 */
int model_exchange(struct hm_model_conn *c, size_t n, redisReply **rep, char *err, size_t errlen)
{
	size_t got = 0;

	for (; got < n; got++) {
		void *r = NULL;

		if (redisGetReply(c->rc, &r) != REDIS_OK || r == NULL) {
			char w[300];

			where(c, w, sizeof(w));
			snprintf(err, errlen, "redis %s: %s", w,
				 c->rc->errstr[0] ? c->rc->errstr : "connection error");
			while (got > 0)
				freeReplyObject(rep[--got]);
			model_conn_drop(c);
			return -1;
		}
		rep[got] = r;
	}
	return 0;
}

void model_free_replies(redisReply **rep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i])
			freeReplyObject(rep[i]);
}

int model_append(struct hm_model_conn *c, int argc, const char **argv, const size_t *lens)
{
	return redisAppendCommandArgv(c->rc, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

/* One command; its reply, or NULL with err (an error reply included). */
redisReply *model_command(struct hm_model_conn *c, int argc, const char **argv, char *err,
			   size_t errlen)
{
	redisReply *r;

	if (hm_model_conn_check(c, err, errlen) < 0)
		return NULL;
	if (model_append(c, argc, argv, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
		return NULL;
	}
	if (model_exchange(c, 1, &r, err, errlen) < 0)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

void model_key_of(const struct hm_model_conn *c, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", c->prefix, name);
}
