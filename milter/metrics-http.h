/*
 * metrics-http.h - the metrics' HTTP listener (libmicrohttpd).
 *
 * GET or HEAD /metrics answers the exposition (text/plain; version=0.0.4);
 * any other path is 404, any other method 405.  The listener runs in a
 * thread of libmicrohttpd's with every signal blocked (the main thread
 * handles them), serves one request at a time and a few connections at
 * most: a scrape takes microseconds.
 *
 * Call from the main thread only.
 */
#ifndef HM_METRICS_HTTP_H
#define HM_METRICS_HTTP_H

#include <stddef.h>

#include "milter/conf.h"

/*
 * Apply conf's metrics section (start, reload): register its symbols, and
 * start, move or stop the listener.  A listener already on the same
 * address stays.  A new address is bound before the old one is closed
 * (when the new one needs the old one's port, the old one is closed first
 * and reopened if the new one fails), so a failed move keeps the old
 * listener.  Returns 0, or -1 with the reason in err (the listener then is
 * what it was).
 */
int hm_metrics_http_apply(const struct hm_conf *conf, char *err, size_t errlen);

/* Where the listener is now ("" when off). */
const char *hm_metrics_http_where(void);

/* Stop the listener (at exit); idempotent. */
void hm_metrics_http_stop(void);

#endif
