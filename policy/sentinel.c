/*
 * sentinel.c - the Redis primary, as Redis Sentinel says (sentinel.h).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/sentinel.h"

#define HOST_MAX 256

struct addr {
	char host[HOST_MAX];
	int port;
};

struct hm_sentinel {
	struct addr *addrs;
	size_t naddrs;
	char *master, *password;
	long timeout_ms;
	pthread_mutex_t lock;
	size_t first;			/* the sentinel that answered last: asked first */
	/* the watcher */
	pthread_t thread;
	bool watching;
	atomic_bool stop;
	int wake[2];
	void (*switched)(void *arg, const char *host, int port);
	void *arg;
};

int hm_sentinel_parse_addr(const char *a, char *host, size_t hostlen, int *port,
			   char *err, size_t errlen)
{
	const char *colon, *h = a;
	size_t hl;
	char *end;
	long p;

	if (a[0] == '[') {
		const char *close = strchr(a, ']');

		if (close == NULL || close[1] != ':') {
			snprintf(err, errlen, "\"%s\": expected [IPV6]:PORT", a);
			return -1;
		}
		h = a + 1;
		hl = (size_t)(close - h);
		colon = close + 1;
	} else {
		colon = strrchr(a, ':');
		if (colon == NULL || memchr(a, ':', (size_t)(colon - a))) {
			snprintf(err, errlen, "\"%s\": expected HOST:PORT (an IPv6 address in brackets)", a);
			return -1;
		}
		hl = (size_t)(colon - a);
	}
	errno = 0;
	p = strtol(colon + 1, &end, 10);
	if (hl == 0 || hl >= hostlen || colon[1] == '\0' || *end != '\0' || errno || p < 1 || p > 65535) {
		snprintf(err, errlen, "\"%s\": expected HOST:PORT with a port from 1 to 65535", a);
		return -1;
	}
	memcpy(host, h, hl);
	host[hl] = '\0';
	*port = (int)p;
	return 0;
}

int hm_sentinel_new(const struct hm_sentinel_conf *conf, struct hm_sentinel **s_r,
		    char *err, size_t errlen)
{
	struct hm_sentinel *s;

	if (conf->naddrs == 0 || conf->master == NULL || conf->master[0] == '\0') {
		snprintf(err, errlen, "sentinel: at least one sentinel address and a master name are needed");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		snprintf(err, errlen, "sentinel: out of memory");
		return -1;
	}
	s->wake[0] = s->wake[1] = -1;
	pthread_mutex_init(&s->lock, NULL);
	if ((s->addrs = calloc(conf->naddrs, sizeof(*s->addrs))) == NULL ||
	    (s->master = strdup(conf->master)) == NULL ||
	    (conf->password && conf->password[0] && (s->password = strdup(conf->password)) == NULL)) {
		snprintf(err, errlen, "sentinel: out of memory");
		hm_sentinel_free(&s);
		return -1;
	}
	s->naddrs = conf->naddrs;
	s->timeout_ms = conf->timeout_ms > 0 ? conf->timeout_ms : 500;
	for (size_t i = 0; i < conf->naddrs; i++) {
		char why[300];

		if (hm_sentinel_parse_addr(conf->addrs[i], s->addrs[i].host, sizeof(s->addrs[i].host),
					   &s->addrs[i].port, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "sentinel: %s", why);
			hm_sentinel_free(&s);
			return -1;
		}
	}
	*s_r = s;
	return 0;
}

static struct timeval ms_tv(long ms)
{
	struct timeval tv = { ms / 1000, (ms % 1000) * 1000 };

	return tv;
}

/* A connection to host:port, authenticated when a password is set; NULL with err. */
static redisContext *dial(const char *host, int port, const char *password, long ms,
			  char *err, size_t errlen)
{
	redisContext *c = redisConnectWithTimeout(host, port, ms_tv(ms));

	if (c == NULL || c->err) {
		snprintf(err, errlen, "%s:%d: %s", host, port, c ? c->errstr : "out of memory");
		redisFree(c);
		return NULL;
	}
	if (redisSetTimeout(c, ms_tv(ms)) != REDIS_OK) {
		snprintf(err, errlen, "%s:%d: cannot set a timeout", host, port);
		redisFree(c);
		return NULL;
	}
	if (password) {
		redisReply *r = redisCommand(c, "AUTH %s", password);

		if (r == NULL || r->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s:%d: AUTH: %s", host, port,
				 r ? r->str : c->errstr);
			freeReplyObject(r);
			redisFree(c);
			return NULL;
		}
		freeReplyObject(r);
	}
	return c;
}

/* Ask one sentinel; 0 with the address, -1 with err. */
static int ask(struct hm_sentinel *s, const struct addr *a, char *host, size_t hostlen,
	       int *port, char *err, size_t errlen)
{
	redisContext *c = dial(a->host, a->port, s->password, s->timeout_ms, err, errlen);
	redisReply *r;
	int rc = -1;

	if (c == NULL)
		return -1;
	r = redisCommand(c, "SENTINEL get-master-addr-by-name %s", s->master);
	if (r == NULL)
		snprintf(err, errlen, "sentinel %s:%d: %s", a->host, a->port, c->errstr);
	else if (r->type == REDIS_REPLY_ERROR)
		snprintf(err, errlen, "sentinel %s:%d: %s", a->host, a->port, r->str);
	else if (r->type != REDIS_REPLY_ARRAY || r->elements != 2 ||
		 r->element[0]->type != REDIS_REPLY_STRING || r->element[1]->type != REDIS_REPLY_STRING)
		snprintf(err, errlen, "sentinel %s:%d does not know master \"%s\"", a->host, a->port,
			 s->master);
	else {
		long p = strtol(r->element[1]->str, NULL, 10);

		if (p < 1 || p > 65535 || r->element[0]->len >= hostlen) {
			snprintf(err, errlen, "sentinel %s:%d: unusable address", a->host, a->port);
		} else {
			snprintf(host, hostlen, "%s", r->element[0]->str);
			*port = (int)p;
			rc = 0;
		}
	}
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

/* Is host:port a primary now?  (ROLE's first element.) */
static int is_primary(struct hm_sentinel *s, const char *host, int port, char *err, size_t errlen)
{
	redisContext *c = dial(host, port, NULL, s->timeout_ms, err, errlen);
	redisReply *r;
	int rc = -1;

	if (c == NULL)
		return -1;
	r = redisCommand(c, "ROLE");
	if (r && r->type == REDIS_REPLY_ARRAY && r->elements > 0 &&
	    r->element[0]->type == REDIS_REPLY_STRING && strcmp(r->element[0]->str, "master") == 0)
		rc = 0;
	else if (r && r->type == REDIS_REPLY_ERROR && strncmp(r->str, "NOAUTH", 6) == 0)
		rc = 0;		/* password-protected: the sentinels' word is all we have */
	else
		snprintf(err, errlen, "%s:%d is not a primary (%s)", host, port,
			 r == NULL ? c->errstr : r->type == REDIS_REPLY_ERROR ? r->str : "ROLE says so");
	freeReplyObject(r);
	redisFree(c);
	return rc;
}

int hm_sentinel_primary(struct hm_sentinel *s, char *host, size_t hostlen, int *port,
			char *err, size_t errlen)
{
	size_t first;

	pthread_mutex_lock(&s->lock);
	first = s->first;
	pthread_mutex_unlock(&s->lock);
	snprintf(err, errlen, "no sentinel answered");
	for (size_t k = 0; k < s->naddrs; k++) {
		size_t i = (first + k) % s->naddrs;

		if (ask(s, &s->addrs[i], host, hostlen, port, err, errlen) < 0)
			continue;
		pthread_mutex_lock(&s->lock);
		s->first = i;
		pthread_mutex_unlock(&s->lock);
		/* A sentinel cut off during a failover may name the old primary:
		 * the next one may know better. */
		if (is_primary(s, host, *port, err, errlen) == 0)
			return 0;
	}
	return -1;
}

/* ---- the watcher ---- */

/* "NAME OLDIP OLDPORT NEWIP NEWPORT" of our master: call back. */
static void on_switch(struct hm_sentinel *s, const char *msg)
{
	char name[256], oldh[HOST_MAX], newh[HOST_MAX];
	int oldp, newp;

	if (sscanf(msg, "%255s %255s %d %255s %d", name, oldh, &oldp, newh, &newp) != 5 ||
	    strcmp(name, s->master) != 0 || newp < 1 || newp > 65535)
		return;
	hm_log(HM_LOG_NOTICE, "redis sentinel: master %s switched from %s:%d to %s:%d", name,
	       oldh, oldp, newh, newp);
	s->switched(s->arg, newh, newp);
}

/* Wait for input on fd or a wake-up, at most ms.  1 readable, 0 not, -1 stop. */
static int wait_readable(struct hm_sentinel *s, int fd, int ms)
{
	struct pollfd p[2] = { { .fd = fd, .events = POLLIN }, { .fd = s->wake[0], .events = POLLIN } };

	if (poll(p, 2, ms) < 0 && errno != EINTR)
		return 0;
	if (atomic_load(&s->stop))
		return -1;
	return (p[0].revents & (POLLIN | POLLHUP | POLLERR)) ? 1 : 0;
}

/* Read messages on a subscribed connection until it fails or we stop. */
static void listen_switches(struct hm_sentinel *s, redisContext *c)
{
	for (;;) {
		int w = wait_readable(s, c->fd, 1000);
		void *reply;

		if (w < 0)
			return;
		if (w == 0)
			continue;
		if (redisBufferRead(c) != REDIS_OK)
			return;
		for (;;) {
			if (redisGetReplyFromReader(c, &reply) != REDIS_OK)
				return;
			if (reply == NULL)
				break;
			redisReply *r = reply;

			if (r->type == REDIS_REPLY_ARRAY && r->elements == 3 &&
			    r->element[0]->type == REDIS_REPLY_STRING &&
			    strcmp(r->element[0]->str, "message") == 0 &&
			    r->element[2]->type == REDIS_REPLY_STRING)
				on_switch(s, r->element[2]->str);
			freeReplyObject(r);
		}
	}
}

static void *watch_main(void *arg)
{
	struct hm_sentinel *s = arg;
	size_t i = 0;
	bool warned = false;

	while (!atomic_load(&s->stop)) {
		const struct addr *a = &s->addrs[i];
		char err[300];
		redisContext *c = dial(a->host, a->port, s->password, s->timeout_ms, err, sizeof(err));
		redisReply *r = c ? redisCommand(c, "SUBSCRIBE +switch-master") : NULL;

		if (r && r->type == REDIS_REPLY_ARRAY) {
			freeReplyObject(r);
			if (warned)
				hm_log(HM_LOG_NOTICE, "redis sentinel %s:%d: following failovers again",
				       a->host, a->port);
			warned = false;
			listen_switches(s, c);
		} else {
			freeReplyObject(r);
			if (!warned)
				hm_log(HM_LOG_WARNING, "redis sentinel %s:%d: cannot follow failovers: %s; "
				       "trying the others", a->host, a->port,
				       c ? (c->err ? c->errstr : "SUBSCRIBE refused") : err);
			warned = true;
		}
		redisFree(c);
		i = (i + 1) % s->naddrs;
		if (wait_readable(s, -1, 200) < 0)
			break;
	}
	return NULL;
}

int hm_sentinel_watch(struct hm_sentinel *s,
		      void (*switched)(void *arg, const char *host, int port), void *arg)
{
	if (s->watching || pipe(s->wake) < 0)
		return -1;
	s->switched = switched;
	s->arg = arg;
	if (pthread_create(&s->thread, NULL, watch_main, s) != 0) {
		close(s->wake[0]);
		close(s->wake[1]);
		s->wake[0] = s->wake[1] = -1;
		return -1;
	}
	s->watching = true;
	return 0;
}

void hm_sentinel_free(struct hm_sentinel **sp)
{
	struct hm_sentinel *s = *sp;

	if (s == NULL)
		return;
	if (s->watching) {
		atomic_store(&s->stop, true);
		(void)!write(s->wake[1], "x", 1);
		pthread_join(s->thread, NULL);
	}
	if (s->wake[0] >= 0) {
		close(s->wake[0]);
		close(s->wake[1]);
	}
	pthread_mutex_destroy(&s->lock);
	free(s->addrs);
	free(s->master);
	free(s->password);
	free(s);
	*sp = NULL;
}
