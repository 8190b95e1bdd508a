/*
 * scanmode.h - "hosterra-milter --scan": the daemon's pipeline on a file.
 *
 * Feeds a message file, with an envelope given on the command line, to
 * the daemon's own transaction (milter/transaction.h: the same stages,
 * configuration, resolver, checks, symbols, thresholds and decision) and
 * prints what it returned: the symbols with their weights, the score, the
 * outcome and RCPT reply per recipient, and the header edits or the reply
 * at end of message: how an operator answers "why was this rejected?".
 * Text for people, or JSON (--json) for programs.
 *
 * With the classifier enabled, the content model is read from Redis once
 * (the read settings, as the daemon's refresher does); without one stored,
 * or when Redis fails (said on stderr), the scan goes on without it, as
 * the daemon would.  Several files are scanned with the same model and
 * envelope, each report after the other (JSON: one line per file, with
 * its name).
 */
#ifndef HM_SCANMODE_H
#define HM_SCANMODE_H

#include <stdbool.h>
#include <stdio.h>

#include "milter/conf.h"

struct hm_scanmode_args {
	const char *file;		/* "-": standard input */
	const char *const *more;	/* further files (none: NULL) */
	size_t nmore;
	const char *client_ip;		/* NULL: a local client (no IP checks) */
	const char *helo;
	const char *mail_from;		/* NULL: the null sender */
	const char *const *rcpts;
	size_t nrcpts;
	bool json;
	bool outbound;			/* as if authenticated: not judged */
};

/*
 * 0 after printing the report to out, 1 on an error (said on stderr).
 * conf must be the published configuration (hm_conf_publish()): the
 * transaction takes it as the daemon's connections do.
 */
int hm_scanmode_run(struct hm_conf *conf, const struct hm_scanmode_args *args, FILE *out);

#endif
