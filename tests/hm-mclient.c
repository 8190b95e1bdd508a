/*
 * hm-mclient.c - drive a milter over the wire the way Postfix does, and print
 * what it answers, one line per event.
 *
 *   hm-mclient -s SOCKET [options] [MESSAGE-FILE]
 *
 *   -s, --socket SPEC         unix:/path, inet:PORT@HOST or inet6:PORT@HOST
 *   --client ADDR|unix[:PATH]|unknown
 *                             SMTP client: an IPv4 or IPv6 address (family
 *                             4 / 6), a unix-domain client (L) or unknown (U);
 *                             default 127.0.0.1
 *   --client-port N           client port sent with 4 / 6 (default 49152)
 *   --client-name NAME        client host name (default "[ADDR]", as Postfix)
 *   --helo NAME               HELO name (default client.example.com)
 *   --from ADDR               MAIL FROM (default <sender@example.com>; "" is <>)
 *   --rcpt ADDR               RCPT TO, repeatable (default <rcpt@example.org>)
 *   --macro STAGE:NAME=VALUE  extra macro sent before STAGE (connect, helo,
 *                             mail, rcpt, data, header, eoh, body, eom),
 *                             repeatable; overrides the defaults
 *   --queue-id ID             macro i from MAIL FROM on (as Postfix); with
 *                             --messages N > 1 message K gets ID followed by K
 *   --messages N              transactions on the connection (default 1)
 *   --connections N           connections, one after the other (default 1)
 *   --abort-after STAGE[:K]   send ABORT after STAGE of message K (default 1)
 *                             and go on with the next message
 *   --disconnect-after STAGE[:K]
 *                             close the socket after STAGE of message K and
 *                             exit 0
 *   --pause-after STAGE:SEC   sleep SEC seconds after STAGE of message 1
 *                             Checkpoint STAGEs: open, negotiate, connect,
 *                             helo, mail, rcpt (all recipients), data,
 *                             header (the first), eoh, body (the first
 *                             chunk), eom
 *   --chunk BYTES             body bytes per packet, 1..65535 (default 65535)
 *   --timeout SEC             per-read timeout (default 10)
 *   --actions HEX             actions offered (default all: 0x1ff)
 *   --protocol HEX            protocol steps offered (default all known)
 *   -h, --help
 *
 * The message (default: a small built-in one; "-" reads stdin) is RFC 5322
 * text with LF or CRLF line ends: its headers (folded lines joined with "\n"
 * as Postfix does) go out as header commands, the body as CRLF text.
 *
 * Output lines:  negotiate: version 6 actions 0x.. protocol 0x..
 *   connect: continue | helo: ... | message: K | size: BYTES
 *   mail <a@b>: VERDICT | rcpt <b@c>: replycode 550 5.7.1 text | data: not-sent
 *   header NAME: VERDICT | eoh: ... | body: ... | abort: sent
 *   mod: addheader NAME "VALUE" | mod: insheader INDEX NAME "VALUE"
 *   mod: chgheader NAME INDEX "VALUE" | mod: addrcpt <x> | ... | eom: VERDICT
 * VERDICT: continue, accept, reject, tempfail, discard, skip, replycode TEXT,
 * no-reply (stage marked so by the filter), not-sent (stage it declined).
 * Values are printed C-escaped (\" \\ \n \r \t \xHH).
 *
 * Exit: 0 when every transaction ran to a verdict (whatever it is), 1 on a
 * usage error, 2 on a socket or protocol error (message on stderr).
 */
#include "config.h"

#include <errno.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "tests/mc-message.h"
#include "tests/milter-client.h"

#define MAX_MESSAGE (64UL * 1024 * 1024)
#define MAX_RCPTS 1000
#define MAX_MACROS 64

/* A checkpoint: after STAGE of message K do something. */
struct point {
	bool set;
	char stage[16];
	unsigned long msg;		/* 0: connection stages */
	double seconds;
};

struct args {
	const char *socket, *client, *client_name, *helo, *from, *queue_id, *file;
	const char *rcpts[MAX_RCPTS];
	size_t nrcpts;
	struct { enum mc_stage st; char *name, *value; } macros[MAX_MACROS];
	size_t nmacros;
	unsigned long messages, connections, client_port;
	struct point abort_at, disconnect_at, pause_at;
	struct mc_options opt;
};

static const char default_message[] =
	"From: Sender <sender@example.com>\n"
	"To: Recipient <rcpt@example.org>\n"
	"Subject: hm-mclient test message\n"
	"Date: Mon, 1 Jan 2024 12:00:00 +0000\n"
	"Message-ID: <hm-mclient@example.com>\n"
	"\n"
	"Hello.\n";

static void usage(FILE *out)
{
	fputs("usage: hm-mclient -s SOCKET [--client ADDR|unix[:PATH]|unknown] [--client-port N]\n"
	      "         [--client-name NAME] [--helo NAME] [--from ADDR] [--rcpt ADDR]...\n"
	      "         [--macro STAGE:NAME=VALUE]... [--queue-id ID] [--messages N]\n"
	      "         [--connections N] [--abort-after STAGE[:K]] [--disconnect-after STAGE[:K]]\n"
	      "         [--pause-after STAGE:SEC] [--chunk BYTES] [--timeout SEC]\n"
	      "         [--actions HEX] [--protocol HEX] [MESSAGE-FILE|-]\n"
	      "SOCKET: unix:/path, inet:PORT@HOST or inet6:PORT@HOST.\n"
	      "STAGE (checkpoints): open negotiate connect helo mail rcpt data header eoh body eom;\n"
	      "STAGE (macros): connect helo mail rcpt data header eoh body eom.\n"
	      "Prints one line per event; exit 0 when every transaction reached a verdict,\n"
	      "1 on usage errors, 2 on socket or protocol errors.\n", out);
}

static void die(int status, const char *fmt, ...) __attribute__((format(printf, 2, 3), noreturn));

static void die(int status, const char *fmt, ...)
{
	va_list ap;

	fflush(stdout);
	fputs("hm-mclient: ", stderr);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(status);
}

static void *xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n ? n : 1)) == NULL)
		die(2, "out of memory");
	return p;
}

static char *xstrndup(const char *s, size_t n)
{
	char *d = strndup(s, n);

	if (d == NULL)
		die(2, "out of memory");
	return d;
}

/* Print s C-escaped between quotes. */
static void print_quoted(const char *s, size_t len)
{
	putchar('"');
	for (size_t i = 0; i < len; i++) {
		unsigned char ch = (unsigned char)s[i];

		switch (ch) {
		case '"': fputs("\\\"", stdout); break;
		case '\\': fputs("\\\\", stdout); break;
		case '\n': fputs("\\n", stdout); break;
		case '\r': fputs("\\r", stdout); break;
		case '\t': fputs("\\t", stdout); break;
		default:
			if (ch < 0x20 || ch >= 0x7f)
				printf("\\x%02x", ch);
			else
				putchar(ch);
		}
	}
	putchar('"');
}

static void print_reply(const char *what, const struct mc_reply *r)
{
	printf("%s: %s", what, mc_verdict_name(r->verdict));
	if (r->verdict == MC_REPLYCODE)
		printf(" %s", r->text);
	putchar('\n');
	fflush(stdout);
}

static bool goes_on(const struct mc_reply *r)
{
	return r->verdict == MC_CONTINUE || r->verdict == MC_NO_REPLY || r->verdict == MC_NOT_SENT;
}

/* ---- command line ---- */

static unsigned long parse_ulong(const char *opt, const char *s, unsigned long min, unsigned long max,
				 int base)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, base);
	if (errno || end == s || *end || v < min || v > max || s[0] == '-') {
		fprintf(stderr, "hm-mclient: %s: \"%s\" is not a number from %lu to %lu\n", opt, s, min, max);
		exit(1);
	}
	return v;
}

static const char *const checkpoints[] = {
	"open", "negotiate", "connect", "helo", "mail", "rcpt", "data", "header", "eoh", "body", "eom",
};

static bool is_connection_stage(const char *st)
{
	return strcmp(st, "open") == 0 || strcmp(st, "negotiate") == 0 || strcmp(st, "connect") == 0 ||
	       strcmp(st, "helo") == 0;
}

/* STAGE[:K] (or STAGE:SEC for a pause). */
static void parse_point(const char *opt, const char *s, struct point *p, bool seconds)
{
	const char *colon = strchr(s, ':');
	size_t n = colon ? (size_t)(colon - s) : strlen(s);
	bool known = false;

	for (size_t i = 0; i < sizeof(checkpoints) / sizeof(checkpoints[0]); i++)
		if (strlen(checkpoints[i]) == n && strncmp(s, checkpoints[i], n) == 0)
			known = true;
	if (!known || n >= sizeof(p->stage)) {
		fprintf(stderr, "hm-mclient: %s: unknown stage in \"%s\"\n", opt, s);
		exit(1);
	}
	memcpy(p->stage, s, n);
	p->stage[n] = '\0';
	p->set = true;
	p->msg = 1;
	if (seconds) {
		char *end;

		if (!colon || (p->seconds = strtod(colon + 1, &end)) < 0 || *end || end == colon + 1 ||
		    p->seconds > 3600) {
			fprintf(stderr, "hm-mclient: %s: expected STAGE:SECONDS, got \"%s\"\n", opt, s);
			exit(1);
		}
	} else if (colon) {
		p->msg = parse_ulong(opt, colon + 1, 1, 1000000, 10);
	}
	if (is_connection_stage(p->stage))
		p->msg = 0;
}

static void parse_macro(struct args *a, const char *s)
{
	const char *colon = strchr(s, ':'), *eq;
	char stage[16];

	if (a->nmacros == MAX_MACROS)
		die(1, "--macro: more than %d macros", MAX_MACROS);
	if (colon == NULL || (size_t)(colon - s) >= sizeof(stage) || (eq = strchr(colon, '=')) == NULL ||
	    eq == colon + 1) {
		fprintf(stderr, "hm-mclient: --macro: expected STAGE:NAME=VALUE, got \"%s\"\n", s);
		exit(1);
	}
	memcpy(stage, s, (size_t)(colon - s));
	stage[colon - s] = '\0';
	if ((a->macros[a->nmacros].st = mc_stage_from_name(stage)) == MC_ST_COUNT) {
		fprintf(stderr, "hm-mclient: --macro: unknown stage \"%s\"\n", stage);
		exit(1);
	}
	a->macros[a->nmacros].name = xstrndup(colon + 1, (size_t)(eq - colon - 1));
	a->macros[a->nmacros].value = xstrndup(eq + 1, strlen(eq + 1));
	a->nmacros++;
}

static void parse_args(int argc, char **argv, struct args *a)
{
	enum { O_CLIENT = 256, O_CLIENT_PORT, O_CLIENT_NAME, O_HELO, O_FROM, O_RCPT, O_MACRO,
	       O_QUEUE_ID, O_MESSAGES, O_CONNECTIONS, O_ABORT, O_DISCONNECT, O_PAUSE, O_CHUNK,
	       O_TIMEOUT, O_ACTIONS, O_PROTOCOL };
	static const struct option longopts[] = {
		{ "socket", required_argument, NULL, 's' },
		{ "client", required_argument, NULL, O_CLIENT },
		{ "client-port", required_argument, NULL, O_CLIENT_PORT },
		{ "client-name", required_argument, NULL, O_CLIENT_NAME },
		{ "helo", required_argument, NULL, O_HELO },
		{ "from", required_argument, NULL, O_FROM },
		{ "rcpt", required_argument, NULL, O_RCPT },
		{ "macro", required_argument, NULL, O_MACRO },
		{ "queue-id", required_argument, NULL, O_QUEUE_ID },
		{ "messages", required_argument, NULL, O_MESSAGES },
		{ "connections", required_argument, NULL, O_CONNECTIONS },
		{ "abort-after", required_argument, NULL, O_ABORT },
		{ "disconnect-after", required_argument, NULL, O_DISCONNECT },
		{ "pause-after", required_argument, NULL, O_PAUSE },
		{ "chunk", required_argument, NULL, O_CHUNK },
		{ "timeout", required_argument, NULL, O_TIMEOUT },
		{ "actions", required_argument, NULL, O_ACTIONS },
		{ "protocol", required_argument, NULL, O_PROTOCOL },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	int c;

	memset(a, 0, sizeof(*a));
	mc_options_default(&a->opt);
	a->client = "127.0.0.1";
	a->helo = "client.example.com";
	a->from = "<sender@example.com>";
	a->messages = 1;
	a->connections = 1;
	a->client_port = 49152;
	while ((c = getopt_long(argc, argv, "s:h", longopts, NULL)) != -1) {
		switch (c) {
		case 's': a->socket = optarg; break;
		case O_CLIENT: a->client = optarg; break;
		case O_CLIENT_PORT: a->client_port = parse_ulong("--client-port", optarg, 0, 65535, 10); break;
		case O_CLIENT_NAME: a->client_name = optarg; break;
		case O_HELO: a->helo = optarg; break;
		case O_FROM: a->from = optarg; break;
		case O_RCPT:
			if (a->nrcpts == MAX_RCPTS)
				die(1, "--rcpt: more than %d recipients", MAX_RCPTS);
			a->rcpts[a->nrcpts++] = optarg;
			break;
		case O_MACRO: parse_macro(a, optarg); break;
		case O_QUEUE_ID: a->queue_id = optarg; break;
		case O_MESSAGES: a->messages = parse_ulong("--messages", optarg, 1, 1000000, 10); break;
		case O_CONNECTIONS: a->connections = parse_ulong("--connections", optarg, 1, 1000000, 10); break;
		case O_ABORT: parse_point("--abort-after", optarg, &a->abort_at, false); break;
		case O_DISCONNECT: parse_point("--disconnect-after", optarg, &a->disconnect_at, false); break;
		case O_PAUSE: parse_point("--pause-after", optarg, &a->pause_at, true); break;
		case O_CHUNK: a->opt.chunk = parse_ulong("--chunk", optarg, 1, MC_MAX_CHUNK, 10); break;
		case O_TIMEOUT:
			a->opt.timeout_ms = (int)parse_ulong("--timeout", optarg, 1, 86400, 10) * 1000;
			break;
		case O_ACTIONS: a->opt.actions = (uint32_t)parse_ulong("--actions", optarg, 0, 0xffffffffUL, 16); break;
		case O_PROTOCOL: a->opt.protocol = (uint32_t)parse_ulong("--protocol", optarg, 0, 0xffffffffUL, 16); break;
		case 'h': usage(stdout); exit(0);
		default: usage(stderr); exit(1);
		}
	}
	if (a->socket == NULL) {
		fprintf(stderr, "hm-mclient: -s SOCKET is required\n");
		usage(stderr);
		exit(1);
	}
	if (optind + 1 < argc) {
		fprintf(stderr, "hm-mclient: more than one message file\n");
		exit(1);
	}
	a->file = optind < argc ? argv[optind] : NULL;
	if (a->nrcpts == 0)
		a->rcpts[a->nrcpts++] = "<rcpt@example.org>";
}

/* ---- the session ---- */

struct session {
	const struct args *a;
	const struct mc_message *m;
	struct mc_conn *c;
	unsigned long msg;		/* current message number, 0 before the first */
};

static void check(struct session *s, int rc, const char *what)
{
	if (rc < 0)
		die(2, "%s: %s", what, mc_error(s->c));
}

static bool at_point(const struct point *p, const char *stage, unsigned long msg)
{
	return p->set && strcmp(p->stage, stage) == 0 && p->msg == msg;
}

/*
 * After a stage: pause, disconnect (exits) or abort as asked.  Returns true
 * when the message was aborted here.
 */
static bool checkpoint(struct session *s, const char *stage)
{
	unsigned long msg = is_connection_stage(stage) ? 0 : s->msg;

	if (at_point(&s->a->pause_at, stage, msg) && (msg == 0 || msg == 1)) {
		struct timespec ts = { (time_t)s->a->pause_at.seconds,
				       (long)((s->a->pause_at.seconds - (double)(time_t)s->a->pause_at.seconds) * 1e9) };

		check(s, mc_flush(s->c), "flush");
		printf("pause: %s %.3g s\n", stage, s->a->pause_at.seconds);
		fflush(stdout);
		while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
			;
	}
	if (at_point(&s->a->disconnect_at, stage, msg)) {
		/* Whatever is queued goes out first: the disconnect is after STAGE. */
		check(s, mc_flush(s->c), "flush");
		printf("disconnect: after %s\n", stage);
		fflush(stdout);
		mc_close(&s->c);
		exit(0);
	}
	if (msg && at_point(&s->a->abort_at, stage, msg)) {
		check(s, mc_abort(s->c), "abort");
		printf("abort: sent\n");
		return true;
	}
	return false;
}

static char *with_brackets(const char *addr)
{
	size_t n = strlen(addr);
	char *d;

	if (n > 0 && addr[0] == '<')
		return xstrndup(addr, n);
	d = xrealloc(NULL, n + 3);
	snprintf(d, n + 3, "<%s>", addr);
	return d;
}

static void print_mods(const struct mc_eom *e)
{
	for (size_t i = 0; i < e->nmods; i++) {
		const struct mc_mod *m = &e->mods[i];

		printf("mod: %s", mc_mod_name(m->type));
		switch (m->type) {
		case 'h':
			printf(" %s ", m->name);
			print_quoted(m->value, strlen(m->value));
			break;
		case 'i':
			printf(" %u %s ", m->index, m->name);
			print_quoted(m->value, strlen(m->value));
			break;
		case 'm':
			printf(" %s %u ", m->name, m->index);
			print_quoted(m->value, strlen(m->value));
			break;
		case 'b':
			printf(" %zu ", m->len);
			print_quoted((const char *)m->data, m->len);
			break;
		case 'l':
			printf(" %u %s", m->index, m->name);
			break;
		default:
			printf(" %s", m->name);
			if (m->value) {
				putchar(' ');
				print_quoted(m->value, strlen(m->value));
			}
		}
		putchar('\n');
	}
	if (e->progress)
		printf("progress: %u\n", e->progress);
}

/* One transaction.  Ends with a verdict, an abort, or exits. */
static void run_message(struct session *s)
{
	const struct args *a = s->a;
	const struct mc_message *m = s->m;
	struct mc_reply r;
	struct mc_eom e;
	char line[600], qid[256];
	char *from = a->from[0] ? with_brackets(a->from) : xstrndup("<>", 2);
	size_t accepted = 0;
	bool done = false;

	printf("message: %lu\nsize: %llu\n", s->msg, m->size);
	if (a->queue_id) {
		if (a->messages > 1)
			snprintf(qid, sizeof(qid), "%s%lu", a->queue_id, s->msg);
		else
			snprintf(qid, sizeof(qid), "%s", a->queue_id);
		for (int st = MC_ST_MAIL; st <= MC_ST_EOM; st++)
			if (st != MC_ST_RCPT)
				check(s, mc_macro_set(s->c, (enum mc_stage)st, "i", qid), "macro");
		/* User macros win over the queue id default. */
		for (size_t i = 0; i < a->nmacros; i++)
			check(s, mc_macro_set(s->c, a->macros[i].st, a->macros[i].name, a->macros[i].value),
			      "macro");
	}

	const char *mail_argv[] = { from, NULL };

	check(s, mc_mail(s->c, mail_argv, &r), "mail");
	snprintf(line, sizeof(line), "mail %s", from);
	print_reply(line, &r);
	if (!goes_on(&r) || checkpoint(s, "mail"))
		goto end_early;
	for (size_t i = 0; i < a->nrcpts; i++) {
		char *rcpt = with_brackets(a->rcpts[i]);
		const char *rcpt_argv[] = { rcpt, NULL };

		check(s, mc_rcpt(s->c, rcpt_argv, &r), "rcpt");
		snprintf(line, sizeof(line), "rcpt %s", rcpt);
		print_reply(line, &r);
		free(rcpt);
		if (r.verdict == MC_ACCEPT || r.verdict == MC_DISCARD)
			goto end_early;	/* the whole message is decided */
		if (goes_on(&r))
			accepted++;
	}
	if (accepted == 0 || checkpoint(s, "rcpt"))
		goto end_early;
	check(s, mc_data(s->c, &r), "data");
	print_reply("data", &r);
	if (!goes_on(&r) || checkpoint(s, "data"))
		goto end_early;
	for (size_t i = 0; i < m->nh; i++) {
		check(s, mc_header(s->c, m->h[i].name, m->h[i].value, &r), "header");
		snprintf(line, sizeof(line), "header %s", m->h[i].name);
		print_reply(line, &r);
		if (!goes_on(&r) || (i == 0 && checkpoint(s, "header")))
			goto end_early;
	}
	check(s, mc_eoh(s->c, &r), "eoh");
	print_reply("eoh", &r);
	if (!goes_on(&r) || checkpoint(s, "eoh"))
		goto end_early;
	r.verdict = MC_CONTINUE;
	for (size_t off = 0; off < m->blen; off += a->opt.chunk) {
		size_t n = m->blen - off < a->opt.chunk ? m->blen - off : a->opt.chunk;

		check(s, mc_body(s->c, m->body + off, n, &r), "body");
		if (!goes_on(&r))
			break;
		if (off == 0 && checkpoint(s, "body"))
			goto end_early;
	}
	if (m->blen > 0)
		print_reply("body", &r);
	if (r.verdict != MC_SKIP && !goes_on(&r))
		goto end_early;
	check(s, mc_eom(s->c, &e), "eom");
	print_mods(&e);
	print_reply("eom", &e.reply);
	mc_eom_free(&e);
	done = true;
	checkpoint(s, "eom");
end_early:
	/* As smtpd does after a transaction ended before its end of message. */
	if (!done)
		check(s, mc_abort(s->c), "abort");
	free(from);
	fflush(stdout);
}

static void client_family(const struct args *a, enum mc_family *fam, const char **addr)
{
	if (strcmp(a->client, "unknown") == 0) {
		*fam = MC_FAM_UNKNOWN;
		*addr = NULL;
	} else if (strcmp(a->client, "unix") == 0) {
		*fam = MC_FAM_UNIX;
		*addr = "/var/run/hm-mclient.sock";
	} else if (strncmp(a->client, "unix:", 5) == 0) {
		*fam = MC_FAM_UNIX;
		*addr = a->client + 5;
	} else {
		*fam = strchr(a->client, ':') ? MC_FAM_INET6 : MC_FAM_INET;
		*addr = a->client;
	}
}

static void run_connection(const struct args *a, const struct mc_message *m)
{
	struct session s = { .a = a, .m = m };
	struct mc_reply r;
	enum mc_family fam;
	const char *addr;
	char err[300], name[300];

	if ((s.c = mc_open(a->socket, &a->opt, err, sizeof(err))) == NULL)
		die(2, "%s", err);
	checkpoint(&s, "open");
	check(&s, mc_negotiate(s.c), "negotiate");
	printf("negotiate: version %u actions 0x%x protocol 0x%x\n", mc_filter_version(s.c),
	       mc_filter_actions(s.c), mc_filter_protocol(s.c));
	checkpoint(&s, "negotiate");

	/* Defaults Postfix sends; --macro overrides them. */
	check(&s, mc_macro_set(s.c, MC_ST_CONNECT, "j", "mx.example.net"), "macro");
	check(&s, mc_macro_set(s.c, MC_ST_CONNECT, "{daemon_name}", "hm-mclient"), "macro");
	for (size_t i = 0; i < a->nmacros; i++)
		check(&s, mc_macro_set(s.c, a->macros[i].st, a->macros[i].name, a->macros[i].value), "macro");

	client_family(a, &fam, &addr);
	if (a->client_name)
		snprintf(name, sizeof(name), "%s", a->client_name);
	else if (fam == MC_FAM_INET || fam == MC_FAM_INET6)
		snprintf(name, sizeof(name), "[%s]", addr);
	else
		snprintf(name, sizeof(name), "%s", fam == MC_FAM_UNIX ? "localhost" : "unknown");
	check(&s, mc_connect(s.c, name, fam, (unsigned)a->client_port, addr, &r), "connect");
	print_reply("connect", &r);
	if (!goes_on(&r))
		goto quit;
	checkpoint(&s, "connect");
	check(&s, mc_helo(s.c, a->helo, &r), "helo");
	print_reply("helo", &r);
	if (!goes_on(&r))
		goto quit;
	checkpoint(&s, "helo");
	for (s.msg = 1; s.msg <= a->messages; s.msg++)
		run_message(&s);
quit:
	check(&s, mc_quit(s.c), "quit");
	mc_close(&s.c);
}

int main(int argc, char **argv)
{
	struct args a;
	struct mc_message m;
	char *text;
	size_t len;

	parse_args(argc, argv, &a);
	if (a.file) {
		if (mc_read_file(a.file, MAX_MESSAGE, &text, &len) < 0)
			die(1, "%s: %s", a.file, errno == EFBIG ? "longer than 64 MiB" : strerror(errno));
	} else {
		len = sizeof(default_message) - 1;
		text = xstrndup(default_message, len);
	}
	if (mc_message_parse(text, len, &m) < 0)
		die(2, "out of memory");
	free(text);
	for (unsigned long i = 0; i < a.connections; i++)
		run_connection(&a, &m);
	mc_message_free(&m);
	for (size_t i = 0; i < a.nmacros; i++) {
		free(a.macros[i].name);
		free(a.macros[i].value);
	}
	return fflush(stdout) == 0 ? 0 : 2;
}
