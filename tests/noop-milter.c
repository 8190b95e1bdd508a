/*
 * noop-milter.c - the reference filter of the benchmarks: libmilter and
 * nothing else.  It accepts every message at end of message and keeps no
 * state, so it measures what any libmilter filter costs the MTA.
 *
 *   noop-milter -s SOCKET [-e]
 *
 * Without -e it asks the MTA not to wait for any answer but end of message
 * (every SMFIP_NR_* stage it is offered, and no DATA, no unknown commands):
 * the ceiling of a libmilter filter.  With -e ("every stage") it answers
 * every stage "continue", as a filter that needs to reply does.  Runs in
 * the foreground until SIGTERM or SIGINT (libmilter's own handling).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static bool every_stage;		/* -e */
static const bool answers = true;	/* private slot of a connection that answers */

/* Each connection knows from its negotiation whether it answers. */
static sfsistat go_on(SMFICTX *ctx)
{
	return smfi_getpriv(ctx) ? SMFIS_CONTINUE : SMFIS_NOREPLY;
}

static sfsistat negotiate(SMFICTX *ctx, unsigned long f0, unsigned long f1, unsigned long f2,
			  unsigned long f3, unsigned long *pf0, unsigned long *pf1,
			  unsigned long *pf2, unsigned long *pf3)
{
	unsigned long nr = SMFIP_NR_CONN | SMFIP_NR_HELO | SMFIP_NR_MAIL | SMFIP_NR_RCPT |
			   SMFIP_NR_DATA | SMFIP_NR_UNKN | SMFIP_NR_HDR | SMFIP_NR_EOH |
			   SMFIP_NR_BODY;

	(void)f0;
	(void)f2;
	(void)f3;
	*pf0 = 0;
	*pf1 = every_stage ? 0 : f1 & (nr | SMFIP_NODATA | SMFIP_NOUNKNOWN);
	*pf2 = 0;
	*pf3 = 0;
	/* An MTA that does not offer every no-reply stage gets answers. */
	if (every_stage || (*pf1 & nr) != nr) {
		*pf1 = 0;
		smfi_setpriv(ctx, (void *)&answers);
	}
	return SMFIS_CONTINUE;
}

static sfsistat cb_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)host; (void)sa;
	return go_on(ctx);
}

static sfsistat cb_helo(SMFICTX *ctx, char *helo)
{
	(void)helo;
	return go_on(ctx);
}

static sfsistat cb_argv(SMFICTX *ctx, char **argv)
{
	(void)argv;
	return go_on(ctx);
}

static sfsistat cb_header(SMFICTX *ctx, char *name, char *value)
{
	(void)name; (void)value;
	return go_on(ctx);
}

static sfsistat cb_stage(SMFICTX *ctx)
{
	return go_on(ctx);
}

static sfsistat cb_body(SMFICTX *ctx, unsigned char *chunk, size_t len)
{
	(void)chunk; (void)len;
	return go_on(ctx);
}

static sfsistat cb_eom(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_ACCEPT;
}

int main(int argc, char **argv)
{
	const char *sock = NULL;
	int opt;

	while ((opt = getopt(argc, argv, "s:e")) != -1) {
		if (opt == 's')
			sock = optarg;
		else if (opt == 'e')
			every_stage = true;
		else
			sock = NULL, optind = argc + 1;
	}
	if (sock == NULL || optind != argc) {
		fputs("usage: noop-milter -s SOCKET [-e]\n", stderr);
		return 1;
	}
	struct smfiDesc desc = {
		.xxfi_name = (char *)"noop-milter",
		.xxfi_version = SMFI_VERSION,
		.xxfi_connect = cb_connect,
		.xxfi_helo = cb_helo,
		.xxfi_envfrom = cb_argv,
		.xxfi_envrcpt = cb_argv,
		.xxfi_header = cb_header,
		.xxfi_eoh = cb_stage,
		.xxfi_body = cb_body,
		.xxfi_eom = cb_eom,
		.xxfi_data = cb_stage,
		.xxfi_negotiate = negotiate,
	};
	if (strncmp(sock, "unix:", 5) == 0)
		unlink(sock + 5);
	if (smfi_setconn((char *)sock) != MI_SUCCESS || smfi_register(desc) != MI_SUCCESS ||
	    smfi_opensocket(true) != MI_SUCCESS) {
		fprintf(stderr, "noop-milter: cannot listen on %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
