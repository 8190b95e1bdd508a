/*
 * milter-client.h - the MTA side of the Sendmail milter protocol, version 6.
 *
 * What Postfix's smtpd/cleanup do towards a filter, as a small library for
 * the integration tests (tests/hm-mclient) and the benchmark tool:
 *
 *	struct mc_options o;
 *	mc_options_default(&o);
 *	struct mc_conn *c = mc_open("unix:/run/x.sock", &o, err, sizeof(err));
 *	mc_negotiate(c);
 *	mc_macro_set(c, MC_ST_EOM, "i", "4ABCD");
 *	mc_connect(c, "[192.0.2.1]", MC_FAM_INET, 4321, "192.0.2.1", &reply);
 *	mc_helo(c, ...); mc_mail(c, ...); mc_rcpt(c, ...); mc_data(c, ...);
 *	mc_header(c, "Subject", " hello", &reply); ... mc_eoh(c, &reply);
 *	mc_body(c, buf, len, &reply);
 *	mc_eom(c, &eom);  ... eom.reply, eom.mods[] ...  mc_eom_free(&eom);
 *	mc_quit(c); mc_close(&c);
 *
 * One struct mc_conn per connection, used by one thread at a time.
 * Every stage function returns 0 and fills in the filter's reply, or -1 on a
 * socket or protocol error; mc_error() then says what went wrong and the
 * connection is dead: every later call fails (close it and open another).
 *
 * The filter's negotiated protocol flags are honoured: a stage it asked not
 * to get is not sent (verdict MC_NOT_SENT, its macros neither), a stage it
 * marked no-reply is sent without waiting (MC_NO_REPLY), and header values
 * keep their leading space only if it negotiated SMFIP_HDR_LEADSPC.
 *
 * Output is buffered the way Postfix buffers it: commands that expect no
 * reply stay in the buffer and go out in one write with the next command
 * that does (or at mc_flush / mc_quit).  Every read has a timeout; replies
 * are bounded to MC_MAX_PACKET bytes.
 */
#ifndef HM_MILTER_CLIENT_H
#define HM_MILTER_CLIENT_H

#include <stddef.h>
#include <stdint.h>

#define MC_MAX_CHUNK	65535		/* body bytes per SMFIC_BODY packet */
#define MC_MAX_PACKET	(1024 * 1024 + 64)	/* longest reply accepted */
#define MC_MAX_TEXT	4096		/* reply text kept (longer: cut, "...") */

/* Action bits of SMFIC_OPTNEG (libmilter's SMFIF_*, from its filter-side
 * header; the wire values are fixed by the protocol). */
#define MC_ACT_ADDHDRS		0x001
#define MC_ACT_CHGBODY		0x002
#define MC_ACT_ADDRCPT		0x004
#define MC_ACT_DELRCPT		0x008
#define MC_ACT_CHGHDRS		0x010
#define MC_ACT_QUARANTINE	0x020
#define MC_ACT_CHGFROM		0x040
#define MC_ACT_ADDRCPT_PAR	0x080
#define MC_ACT_SETSYMLIST	0x100

/* Protocol stages, in transaction order. */
enum mc_stage {
	MC_ST_CONNECT, MC_ST_HELO, MC_ST_MAIL, MC_ST_RCPT, MC_ST_DATA,
	MC_ST_HEADER, MC_ST_EOH, MC_ST_BODY, MC_ST_EOM, MC_ST_UNKNOWN,
	MC_ST_COUNT
};

/* Client address families of SMFIC_CONNECT. */
enum mc_family {
	MC_FAM_INET = '4', MC_FAM_INET6 = '6', MC_FAM_UNIX = 'L', MC_FAM_UNKNOWN = 'U'
};

enum mc_verdict {
	MC_NOT_SENT,		/* the filter asked not to get this stage */
	MC_NO_REPLY,		/* sent; the filter asked not to answer it */
	MC_CONTINUE, MC_ACCEPT, MC_REJECT, MC_TEMPFAIL, MC_DISCARD,
	MC_REPLYCODE,		/* text holds "550 5.7.1 text" */
	MC_SKIP,		/* body: send no more chunks */
	MC_CONNFAIL, MC_SHUTDOWN
};

struct mc_reply {
	enum mc_verdict verdict;
	char text[MC_MAX_TEXT];		/* MC_REPLYCODE only, else "" */
};

/* One modification action received at end of message. */
struct mc_mod {
	char type;			/* SMFIR_ADDHEADER, SMFIR_CHGHEADER, ... */
	uint32_t index;			/* insheader, chgheader */
	char *name;			/* header name; recipient; sender; reason */
	char *value;			/* header value; ESMTP args; else NULL */
	unsigned char *data;		/* replbody chunk */
	size_t len;			/* its length */
};

struct mc_eom {
	struct mc_reply reply;
	struct mc_mod *mods;		/* in the order received */
	size_t nmods, cap;
	unsigned progress;		/* SMFIR_PROGRESS packets seen */
};

struct mc_options {
	int timeout_ms;			/* per read and per write; default 10000 */
	uint32_t version;		/* offered protocol version; default 6 */
	uint32_t actions;		/* offered actions; default SMFI_CURR_ACTS */
	uint32_t protocol;		/* offered protocol steps; default all known */
	size_t chunk;			/* body bytes per packet, 1..MC_MAX_CHUNK */
};

struct mc_conn;

void mc_options_default(struct mc_options *opt);

/*
 * Connect to unix:/path (or local:/path, or a bare /path), inet:PORT@HOST or
 * inet6:PORT@HOST (TCP_NODELAY set).  NULL with a message in err on failure.
 * The caller frees the result with mc_close().
 */
struct mc_conn *mc_open(const char *spec, const struct mc_options *opt,
			char *err, size_t errlen);
/* Send SMFIC_OPTNEG and read the filter's choice.  0 or -1. */
int mc_negotiate(struct mc_conn *c);
uint32_t mc_filter_version(const struct mc_conn *c);
uint32_t mc_filter_actions(const struct mc_conn *c);
uint32_t mc_filter_protocol(const struct mc_conn *c);
/* Macro names the filter asked for at a stage (smfi_setsymlist), or NULL. */
const char *mc_filter_symlist(const struct mc_conn *c, enum mc_stage st);

/*
 * Macros sent (SMFIC_MACRO) before each command of the stage, until changed.
 * A name set twice keeps the last value.  0, or -1 when out of memory.
 */
int mc_macro_set(struct mc_conn *c, enum mc_stage st, const char *name, const char *value);
void mc_macro_clear(struct mc_conn *c, enum mc_stage st);

/* addr: the address as text ("192.0.2.1", "2001:db8::1", a socket path);
 * ignored for MC_FAM_UNKNOWN. */
int mc_connect(struct mc_conn *c, const char *hostname, enum mc_family fam,
	       unsigned port, const char *addr, struct mc_reply *r);
int mc_helo(struct mc_conn *c, const char *helo, struct mc_reply *r);
/* argv: NULL-terminated, "<address>" then ESMTP parameters. */
int mc_mail(struct mc_conn *c, const char *const *argv, struct mc_reply *r);
int mc_rcpt(struct mc_conn *c, const char *const *argv, struct mc_reply *r);
int mc_data(struct mc_conn *c, struct mc_reply *r);
/* value: everything after the colon, leading space included ("Subject",
 * " hi"); folded lines joined by "\n" followed by the white space, as
 * Postfix sends them.  The space goes out only if HDR_LEADSPC was agreed. */
int mc_header(struct mc_conn *c, const char *name, const char *value, struct mc_reply *r);
int mc_eoh(struct mc_conn *c, struct mc_reply *r);
/*
 * Send body bytes (CRLF line ends) in chunks of opt->chunk.  Stops at the
 * first reply other than continue / no-reply and returns it; *r is
 * MC_CONTINUE or MC_NO_REPLY when all went out.  len 0 sends nothing.
 */
int mc_body(struct mc_conn *c, const void *data, size_t len, struct mc_reply *r);
/* End of message: collect modifications until the final reply.  On success
 * the caller frees *res with mc_eom_free(); on error nothing is left. */
int mc_eom(struct mc_conn *c, struct mc_eom *res);
void mc_eom_free(struct mc_eom *res);
int mc_unknown(struct mc_conn *c, const char *command, struct mc_reply *r);
/* Abort the transaction (no reply), quit (no reply; the filter closes). */
int mc_abort(struct mc_conn *c);
int mc_quit(struct mc_conn *c);
int mc_flush(struct mc_conn *c);
/* Close the socket at once and free everything; *c becomes NULL. */
void mc_close(struct mc_conn **c);

/* For malformed-input tests: queue raw bytes, and read one packet's command
 * byte and payload length (payload discarded). */
int mc_send_raw(struct mc_conn *c, const void *data, size_t len);
int mc_read_packet(struct mc_conn *c, char *cmd_r, size_t *len_r);

const char *mc_error(const struct mc_conn *c);
int mc_fd(const struct mc_conn *c);

const char *mc_verdict_name(enum mc_verdict v);
/* "addheader", "chgheader", ... for an SMFIR_* modification type. */
const char *mc_mod_name(char type);
const char *mc_stage_name(enum mc_stage st);
/* MC_ST_COUNT if unknown. */
enum mc_stage mc_stage_from_name(const char *name);

#endif
