/*
 * msglog.h - the one log line per message.
 *
 *   QUEUEID: client=HOST[ADDR] helo=NAME from=<..> rcpt=<..>,<..> size=N
 *            spf=pass dkim=pass(example.net) dmarc=pass(example.net)
 *            action=accept elapsed_ms=N
 *
 * (checks=skipped(outbound) instead of the results for our own users' mail)
 *
 * Fields are key=value separated by single spaces; values from the wire are
 * escaped (hm_log_escape) so that a field never contains a space.  The queue
 * id is the MTA's ({i} macro), or NOQUEUE when the MTA did not send it.
 *
 * Written once per message, it is also where the message is counted for
 * the metrics (milter/metrics.h).
 */
#ifndef HM_MSGLOG_H
#define HM_MSGLOG_H

#include "milter/context.h"

void hm_msglog_write(const struct hm_conn *conn, const char *queue_id, const char *action);

#endif
