/*
 * listen.h - the milter's listening socket: parse and check the socket
 * string, and tune the socket libmilter opened.
 *
 * Socket strings are written the libmilter / Sendmail way:
 *   unix:/path   local:/path   inet:PORT@HOST   inet:PORT   inet6:PORT@HOST
 * Postfix's smtpd_milters spells the same TCP socket inet:HOST:PORT;
 * hm_socket_postfix_spelling() gives that form for log lines and docs.
 */
#ifndef HM_LISTEN_H
#define HM_LISTEN_H

#include <stddef.h>
#include <sys/un.h>

enum hm_socket_kind { HM_SOCK_UNIX, HM_SOCK_INET, HM_SOCK_INET6 };

struct hm_socket_spec {
	char text[sizeof(((struct sockaddr_un *)0)->sun_path) + 8]; /* as written */
	enum hm_socket_kind kind;
	unsigned port;			/* inet, inet6 */
	char host[256];			/* inet, inet6; empty: any address */
	char path[sizeof(((struct sockaddr_un *)0)->sun_path)]; /* unix */
};

/* Parse SPEC into *out.  0 on success; -1 with a reason in err. */
int hm_socket_parse(const char *spec, struct hm_socket_spec *out,
		    char *err, size_t errlen);

/* The Postfix smtpd_milters spelling of a parsed socket. */
void hm_socket_postfix_spelling(const struct hm_socket_spec *spec,
				char *buf, size_t len);

/*
 * Set TCP_NODELAY on the TCP listening socket(s) this process holds, so that
 * every accepted connection inherits it (Linux copies the option to accepted
 * sockets).  libmilter does not hand out its listening descriptor, so this
 * finds it by asking each descriptor whether it is a listening TCP socket;
 * call it right after smfi_opensocket().  Returns how many sockets were set,
 * or -1 on error.
 */
int hm_socket_set_nodelay_on_listeners(void);

#endif
