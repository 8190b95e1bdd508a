/*
 * metrics-http.c - the metrics' HTTP listener; the only file that includes
 * libmicrohttpd's header.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdbool.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <microhttpd.h>

#include "util/log.h"
#include "milter/metrics-http.h"
#include "milter/metrics.h"

#define CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

static struct MHD_Daemon *daemon_;
static char where[64];			/* the listen value daemon_ runs with */

/* libmicrohttpd's own error messages, into our log. */
static void mhd_log(void *cls, const char *fmt, va_list ap)
	__attribute__((format(printf, 2, 0)));

static void mhd_log(void *cls, const char *fmt, va_list ap)
{
	char line[300];
	size_t n;

	(void)cls;
	vsnprintf(line, sizeof(line), fmt, ap);
	n = strlen(line);
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	hm_log(HM_LOG_WARNING, "metrics: %s", line);
}

static enum MHD_Result reply(struct MHD_Connection *c, unsigned status, const char *text,
			     const char *allow)
{
	struct MHD_Response *r;
	enum MHD_Result rc;

	r = MHD_create_response_from_buffer(strlen(text), (void *)text, MHD_RESPMEM_PERSISTENT);
	if (r == NULL)
		return MHD_NO;
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, "text/plain; charset=utf-8");
	if (allow)
		MHD_add_response_header(r, MHD_HTTP_HEADER_ALLOW, allow);
	rc = MHD_queue_response(c, status, r);
	MHD_destroy_response(r);
	return rc;
}

static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
				  const char *method, const char *version,
				  const char *upload_data, size_t *upload_size, void **req)
{
	static int seen;
	struct MHD_Response *r;
	struct hm_strbuf out;
	struct hm_conf *conf;
	enum MHD_Result rc;
	int ok;

	(void)cls;
	(void)version;
	(void)upload_data;
	/* The first call has the headers only: answer once the request is in. */
	if (*req == NULL) {
		*req = &seen;
		return MHD_YES;
	}
	if (*upload_size) {
		*upload_size = 0;	/* a body is read and ignored */
		return MHD_YES;
	}
	if (strcmp(method, MHD_HTTP_METHOD_GET) != 0 && strcmp(method, MHD_HTTP_METHOD_HEAD) != 0)
		return reply(c, MHD_HTTP_METHOD_NOT_ALLOWED, "Method not allowed: GET or HEAD\n",
			     "GET, HEAD");
	if (strcmp(url, "/metrics") != 0)
		return reply(c, MHD_HTTP_NOT_FOUND, "Not found: the metrics are at /metrics\n", NULL);

	hm_strbuf_init(&out, HM_METRICS_MAX_BYTES);
	conf = hm_conf_acquire();
	ok = hm_metrics_render(&out, conf) == 0;
	hm_conf_release(&conf);
	if (!ok || out.s == NULL) {
		hm_strbuf_free(&out);
		hm_log(HM_LOG_ERR, "metrics: cannot build the exposition (out of memory)");
		return reply(c, MHD_HTTP_INTERNAL_SERVER_ERROR, "Out of memory\n", NULL);
	}
	/* The response takes the text over and frees it. */
	r = MHD_create_response_from_buffer(out.len, out.s, MHD_RESPMEM_MUST_FREE);
	if (r == NULL) {
		hm_strbuf_free(&out);
		return MHD_NO;
	}
	MHD_add_response_header(r, MHD_HTTP_HEADER_CONTENT_TYPE, CONTENT_TYPE);
	rc = MHD_queue_response(c, MHD_HTTP_OK, r);
	MHD_destroy_response(r);
	return rc;
}

/* Start a daemon on a; NULL with err on failure. */
static struct MHD_Daemon *start(const struct hm_metrics_addr *a, char *err, size_t errlen)
{
	unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_POLL | MHD_USE_ERROR_LOG;
	sigset_t all, old;
	struct MHD_Daemon *d;

	if (a->v6)
		flags |= MHD_USE_IPv6;
	/* Its thread inherits this mask: signals stay with the main thread. */
	sigfillset(&all);
	pthread_sigmask(SIG_SETMASK, &all, &old);
	errno = 0;
	d = MHD_start_daemon(flags, (uint16_t)a->port, NULL, NULL,
			     on_request, NULL,
			     /* First, so that no message goes to stderr. */
			     MHD_OPTION_EXTERNAL_LOGGER, mhd_log, NULL,
			     MHD_OPTION_SOCK_ADDR, (const struct sockaddr *)&a->sa,
			     MHD_OPTION_CONNECTION_LIMIT, (unsigned)8,
			     MHD_OPTION_PER_IP_CONNECTION_LIMIT, (unsigned)4,
			     MHD_OPTION_CONNECTION_TIMEOUT, (unsigned)10,
			     MHD_OPTION_END);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (d == NULL)
		snprintf(err, errlen, "cannot listen on %s: %s", a->text,
			 errno ? strerror(errno) : "libmicrohttpd refused");
	return d;
}

static void log_started(const struct hm_metrics_addr *a)
{
	char warn[300];

	hm_log(HM_LOG_NOTICE, "metrics: listening on http://%s/metrics", a->text);
	if (hm_metrics_listen_warning(a->text, warn, sizeof(warn)))
		hm_log(HM_LOG_WARNING, "%s", warn);
}

/* Do two listen addresses use the same port (so one may need the other's)? */
static bool same_port(const struct hm_metrics_addr *a, const struct hm_metrics_addr *b)
{
	return a->port == b->port;
}

int hm_metrics_http_apply(const struct hm_conf *conf, char *err, size_t errlen)
{
	const char *want = conf && conf->metrics.listen ? conf->metrics.listen : "";
	struct hm_metrics_addr a, old;
	struct MHD_Daemon *d;

	hm_metrics_configure(conf);
	if (strcmp(want, where) == 0)
		return 0;
	if (want[0] == '\0') {
		hm_metrics_http_stop();
		hm_log(HM_LOG_NOTICE, "metrics: listener stopped (no metrics { listen })");
		return 0;
	}
	if (hm_metrics_listen_parse(want, &a, err, errlen) < 0)
		return -1;		/* checked by the configuration already */
	d = start(&a, err, errlen);
	if (d == NULL && daemon_ && hm_metrics_listen_parse(where, &old, err, errlen) == 0 &&
	    same_port(&a, &old)) {
		/* e.g. 0.0.0.0:9466 to 127.0.0.1:9466: the old one holds the port. */
		MHD_stop_daemon(daemon_);
		daemon_ = NULL;
		if ((d = start(&a, err, errlen)) == NULL) {
			char again[200];

			daemon_ = start(&old, again, sizeof(again));
			if (daemon_ == NULL) {
				hm_log(HM_LOG_ERR, "metrics: %s", again);
				where[0] = '\0';
			}
		}
	}
	if (d == NULL)
		return -1;
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = d;
	snprintf(where, sizeof(where), "%s", want);
	log_started(&a);
	return 0;
}

const char *hm_metrics_http_where(void)
{
	return where;
}

void hm_metrics_http_stop(void)
{
	if (daemon_)
		MHD_stop_daemon(daemon_);
	daemon_ = NULL;
	where[0] = '\0';
}
