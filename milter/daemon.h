/*
 * daemon.h - process set-up: privileges, pidfile, detaching.
 *
 * Functions return 0, or -1 with a reason in err.
 */
#ifndef HM_DAEMON_H
#define HM_DAEMON_H

#include <stddef.h>

/* Switch to USER (its uid, gid and groups) when running as root; "" keeps the
 * current identity.  0, or -1 with the reason in err. */
int hm_daemon_drop_privileges(const char *user, char *err, size_t errlen);

/*
 * Create and lock PATH and write our pid into it; fails when another live
 * process holds the lock.  The file stays open (and locked) until
 * hm_daemon_pidfile_remove().  "" does nothing.  0, or -1 with the reason
 * in err.
 */
int hm_daemon_pidfile_create(const char *path, char *err, size_t errlen);
void hm_daemon_pidfile_remove(void);

/*
 * Fork into the background, new session, stdio on /dev/null.  The process
 * that called it waits until the daemon calls hm_daemon_ready() and exits
 * with the status given there (or 1 if the daemon died first), so whoever
 * started the daemon learns whether it came up.  0 in the daemon, or -1
 * with the reason in err.
 */
int hm_daemon_detach(char *err, size_t errlen);

/* Tell the waiting parent (if any) that start-up succeeded (ok) or failed. */
void hm_daemon_ready(int ok);

#endif
