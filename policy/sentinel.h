/*
 * sentinel.h - where the Redis primary is, asked of Redis Sentinel.
 *
 * An MX host reads policy from its local replica; learning writes go to the
 * primary, and reads fall back to it when the replica is gone (DESIGN §8).
 * Which server is the primary is Sentinel's to say: hm_sentinel_primary()
 * asks the configured sentinels in turn ("SENTINEL get-master-addr-by-name
 * NAME"), the first that answers is asked first next time, and the address
 * it gives is checked with ROLE, so that a sentinel with a stale view (one
 * partitioned away during a failover) is not believed.
 *
 * hm_sentinel_watch() follows failovers as they happen: a thread subscribes
 * to "+switch-master" on one sentinel after another and calls back with the
 * new primary's address, so that connections to the old one can be dropped.
 *
 * hiredis has no Sentinel client: this is the small part we need, and only
 * policy/ uses it.  Thread-safe: every function may be called from any
 * thread; hm_sentinel_free() needs the callers gone.
 */
#ifndef HM_SENTINEL_H
#define HM_SENTINEL_H

#include <stddef.h>

struct hm_sentinel_conf {
	const char *const *addrs;	/* "HOST:PORT" or "[IPV6]:PORT", at least one */
	size_t naddrs;
	const char *master;		/* the name the sentinels monitor it under */
	const char *password;		/* the sentinels' requirepass; NULL or "": none */
	long timeout_ms;		/* connect and reply, per sentinel */
};

struct hm_sentinel;

/*
 * Check the settings and keep a copy; nothing is contacted yet.  0, or -1
 * with the reason in err (an address that does not parse, no master name).
 */
int hm_sentinel_new(const struct hm_sentinel_conf *conf, struct hm_sentinel **s_r,
		    char *err, size_t errlen);

/*
 * The current primary: 0 with its host (an address, as the sentinels give
 * it) and port, or -1 with why in err (no sentinel answered, none knows the
 * name, the address they give is not a primary).  Blocks at most timeout_ms
 * per sentinel asked, plus one for the ROLE check.
 */
int hm_sentinel_primary(struct hm_sentinel *s, char *host, size_t hostlen, int *port,
			char *err, size_t errlen);

/*
 * Start the failover watcher: switched(arg, host, port) is called from its
 * thread for every "+switch-master" of our master name.  Call at most once,
 * after fork()ing into the background.  0, or -1 (thread creation).
 */
int hm_sentinel_watch(struct hm_sentinel *s,
		      void (*switched)(void *arg, const char *host, int port), void *arg);

/* Stop the watcher and free; *s becomes NULL.  NULL is fine. */
void hm_sentinel_free(struct hm_sentinel **s);

/* Parse "HOST:PORT" / "[IPV6]:PORT" (for -t): 0, or -1 with why in err. */
int hm_sentinel_parse_addr(const char *addr, char *host, size_t hostlen, int *port,
			   char *err, size_t errlen);

#endif
