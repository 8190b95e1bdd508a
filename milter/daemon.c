/*
 * daemon.c - privileges, pidfile and detaching from the terminal.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "milter/daemon.h"

static int pidfile_fd = -1;
static char *pidfile_path;

int hm_daemon_drop_privileges(const char *user, char *err, size_t errlen)
{
	struct passwd *pw;

	if (user[0] == '\0' || geteuid() != 0)
		return 0;
	errno = 0;
	if ((pw = getpwnam(user)) == NULL) {
		snprintf(err, errlen, "user \"%s\" does not exist%s%s", user,
			 errno ? ": " : "", errno ? strerror(errno) : "");
		return -1;
	}
	if (initgroups(pw->pw_name, pw->pw_gid) < 0 || setgid(pw->pw_gid) < 0 ||
	    setuid(pw->pw_uid) < 0) {
		snprintf(err, errlen, "cannot switch to user \"%s\": %s", user, strerror(errno));
		return -1;
	}
	/* Make sure there is no way back. */
	if (pw->pw_uid != 0 && setuid(0) == 0) {
		snprintf(err, errlen, "could regain root after switching to \"%s\"", user);
		return -1;
	}
	return 0;
}

int hm_daemon_pidfile_create(const char *path, char *err, size_t errlen)
{
	char buf[32];
	int fd, n;

	if (path[0] == '\0')
		return 0;
	if ((fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644)) < 0) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		return -1;
	}
	if (flock(fd, LOCK_EX | LOCK_NB) < 0) {
		snprintf(err, errlen, "pidfile %s is locked: another hosterra-milter is running", path);
		close(fd);
		return -1;
	}
	n = snprintf(buf, sizeof(buf), "%ld\n", (long)getpid());
	if (ftruncate(fd, 0) < 0 || write(fd, buf, (size_t)n) != n) {
		snprintf(err, errlen, "pidfile %s: %s", path, strerror(errno));
		close(fd);
		return -1;
	}
	if ((pidfile_path = strdup(path)) == NULL) {
		snprintf(err, errlen, "out of memory");
		close(fd);
		return -1;
	}
	pidfile_fd = fd;
	return 0;
}

void hm_daemon_pidfile_remove(void)
{
	if (pidfile_fd < 0)
		return;
	unlink(pidfile_path);
	close(pidfile_fd);
	pidfile_fd = -1;
	free(pidfile_path);
	pidfile_path = NULL;
}

static int ready_fd = -1;

int hm_daemon_detach(char *err, size_t errlen)
{
	int ready[2];
	pid_t pid;
	int fd;

	if (pipe(ready) < 0) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0) {
		unsigned char ok = 0;

		close(ready[1]);
		/* EOF (the daemon died before saying) counts as failure. */
		while (read(ready[0], &ok, 1) < 0 && errno == EINTR)
			;
		if (!ok)
			fprintf(stderr, "hosterra-milter: start-up failed (see the mail log)\n");
		_exit(ok ? 0 : 1);
	}
	close(ready[0]);
	ready_fd = ready[1];
	fcntl(ready_fd, F_SETFD, FD_CLOEXEC);
	if (setsid() < 0) {
		snprintf(err, errlen, "setsid: %s", strerror(errno));
		return -1;
	}
	if ((pid = fork()) < 0) {
		snprintf(err, errlen, "fork: %s", strerror(errno));
		return -1;
	}
	if (pid > 0)
		_exit(0);
	if (chdir("/") < 0 || (fd = open("/dev/null", O_RDWR)) < 0) {
		snprintf(err, errlen, "detach: %s", strerror(errno));
		return -1;
	}
	dup2(fd, STDIN_FILENO);
	dup2(fd, STDOUT_FILENO);
	dup2(fd, STDERR_FILENO);
	if (fd > STDERR_FILENO)
		close(fd);
	return 0;
}

void hm_daemon_ready(int ok)
{
	unsigned char c = ok ? 1 : 0;

	if (ready_fd < 0)
		return;
	if (write(ready_fd, &c, 1) < 0) {
		/* The parent is gone: nobody to tell. */
	}
	close(ready_fd);
	ready_fd = -1;
}
