/*
 * main.c - hosterra-milter: command line, start-up, signals, reload, stop.
 *
 *   hosterra-milter [-c FILE] [-f] [-t] [-O] [-V] [-h]
 *   hosterra-milter [-c FILE] --scan FILE ...		(scanmode.c)
 *   hosterra-milter [-c FILE] --learn spam|ham ...	(learn.c)
 *   hosterra-milter [-c FILE] --calibrate ...		(learn.c)
 *
 * Threads: libmilter's listener and connection threads run in a "milter"
 * thread started here; the main thread only handles signals.  libmilter has
 * its own signal thread that treats SIGHUP as "stop", so the main thread keeps
 * SIGHUP, SIGUSR1, SIGTERM and SIGINT unblocked with handlers of its own (the
 * kernel hands a process signal to the main thread first when it accepts it)
 * while every other thread blocks them.  SIGHUP and SIGUSR1 reload the
 * configuration; SIGTERM and SIGINT stop: no new transactions (MAIL FROM
 * gets 451), messages in flight get shutdown_timeout seconds to finish, then
 * the listener closes.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "milter/callbacks.h"
#include "milter/clsmodel.h"
#include "milter/conf.h"
#include "milter/context.h"
#include "milter/daemon.h"
#include "milter/learn.h"
#include "milter/listen.h"
#include "util/log.h"
#include "milter/metrics-http.h"
#include "milter/metrics.h"
#include "milter/runtime.h"
#include "milter/scanmode.h"

#ifndef HM_DEFAULT_CONF
#define HM_DEFAULT_CONF "/etc/hosterra-milter/hosterra-milter.conf"
#endif

/*
 * The largest milter command libmilter takes.  Its default, 65,535 bytes, is
 * below Postfix's header_size_limit (102,400): a longer header field made it
 * drop the connection, and Postfix tempfailed the message on every retry.
 * 1 MiB leaves room for an operator who raises the limit.
 */
#define HM_MILTER_MAX_DATA (1024 * 1024)

#define HM_MAX_CAL_PATHS 256		/* --spam and --ham paths of --calibrate, each */

static int signal_pipe[2] = { -1, -1 };

static void usage(FILE *out)
{
	fprintf(out,
		"usage: hosterra-milter [-c FILE] [-f] [-t] [-O] [-V] [-h]\n"
		"       hosterra-milter [-c FILE] --scan FILE [FILE...] [--client-ip IP] [--helo NAME]\n"
		"                       [--from ADDR] [--rcpt ADDR]... [--outbound] [--json]\n"
		"  -c FILE  configuration file (default %s)\n"
		"  -f       stay in the foreground and log to stderr\n"
		"  -t       check the configuration and exit (0: OK, 1: errors)\n"
		"  -O       list every configuration option with its default and exit\n"
		"  -V       print the version and exit\n"
		"  -h       print this help and exit\n"
		"  --scan FILE       run the milter's checks on a message file (\"-\": stdin)\n"
		"                    and print symbols, score, outcome and header edits;\n"
		"                    further FILEs are scanned the same way (JSON: a line each)\n"
		"  --client-ip IP    the SMTP client (default: a local client, no IP checks)\n"
		"  --helo NAME       its HELO name\n"
		"  --from ADDR       MAIL FROM (default: the null sender)\n"
		"  --rcpt ADDR       a recipient, repeatable\n"
		"  --outbound        as authenticated submission: not judged\n"
		"  --json            machine-readable output\n"
		"       hosterra-milter [-c FILE] --learn spam|ham [--user NAME] PATH...\n"
		"       hosterra-milter [-c FILE] --calibrate --spam PATH... --ham PATH...\n"
		"  --learn CLASS     teach the content model these messages as spam or ham;\n"
		"                    PATH: a message file, a directory of them, a Maildir,\n"
		"                    an mbox, or \"-\" (one message on stdin)\n"
		"  --user NAME       the user teaching (learning rate limit per user)\n"
		"  --calibrate       fit the model's calibration to messages it has not\n"
		"                    learned: --spam PATH and --ham PATH, each repeatable\n",
		HM_DEFAULT_CONF);
}

static void report_to_stderr(void *arg, const char *line)
{
	fprintf(stderr, "%s\n", line);
}

static void report_to_log(void *arg, const char *line)
{
	hm_log(HM_LOG_ERR, "%s", line);
}

/* Signal handlers only note the signal; the main loop acts on it. */
static void on_signal(int sig)
{
	int saved = errno;
	unsigned char c = (unsigned char)sig;

	if (write(signal_pipe[1], &c, 1) < 0) {
		/* Pipe full: a signal of each kind is already waiting. */
	}
	errno = saved;
}

static int install_signal_handlers(void)
{
	struct sigaction sa;
	const int sigs[] = { SIGHUP, SIGUSR1, SIGTERM, SIGINT };

	if (pipe(signal_pipe) < 0)
		return -1;
	for (int i = 0; i < 2; i++) {
		int fl = fcntl(signal_pipe[i], F_GETFL);

		fcntl(signal_pipe[i], F_SETFL, fl | O_NONBLOCK);
		fcntl(signal_pipe[i], F_SETFD, FD_CLOEXEC);
	}
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	/* No SA_RESTART needed: the main loop retries poll().  SA_NODEFER keeps
	 * the signal unblocked in this thread even while a handler runs. */
	sa.sa_flags = SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) < 0)
			return -1;
	signal(SIGPIPE, SIG_IGN);
	return 0;
}

/* Reload on SIGHUP: a new snapshot, or the old one kept if the file is bad. */
static void reload(const char *path)
{
	struct hm_conf *old = hm_conf_acquire();
	struct hm_conf *fresh = hm_conf_load(path, report_to_log, NULL);

	char err[512];

	if (fresh == NULL) {
		hm_log(HM_LOG_ERR, "reload refused: %s has errors; keeping the running configuration", path);
		hm_conf_release(&old);
		return;
	}
	/* Same Redis settings: the same store, its cache and connections. */
	bool kept = hm_runtime_inherit_store(fresh, old);

	if (hm_runtime_build(fresh, true, err, sizeof(err)) < 0) {
		hm_log(HM_LOG_ERR, "reload refused: %s: %s; keeping the running configuration", path, err);
		hm_conf_release(&fresh);
		hm_conf_release(&old);
		return;
	}
	if (strcmp(fresh->socket.text, old->socket.text) != 0 || strcmp(fresh->user, old->user) != 0 ||
	    strcmp(fresh->pidfile, old->pidfile) != 0 || fresh->socket_mode != old->socket_mode ||
	    fresh->listen_backlog != old->listen_backlog || fresh->syslog_facility != old->syslog_facility)
		hm_log(HM_LOG_WARNING, "reload: socket, socket_mode, listen_backlog, user, pidfile and "
		       "syslog_facility changes take effect only after a restart");
	hm_log_set_level(fresh->log_level);
	smfi_settimeout((int)fresh->milter_timeout);
	if (hm_metrics_http_apply(fresh, err, sizeof(err)) < 0)
		hm_log(HM_LOG_ERR, "reload: metrics: %s; %s", err, hm_metrics_http_where()[0] ?
		       "the listener stays where it was" : "no listener");
	hm_conf_publish(fresh);
	hm_conf_release(&old);
	hm_log(HM_LOG_NOTICE, "configuration reloaded from %s (policy cache %s)", path,
	       kept ? "kept: Redis settings unchanged" : "new: Redis settings changed");
}

struct milter_thread {
	pthread_t tid;
	int done_pipe[2];
	int rc;
};

static void *run_milter(void *arg)
{
	struct milter_thread *mt = arg;
	unsigned char c = 1;

	mt->rc = smfi_main();
	if (write(mt->done_pipe[1], &c, 1) < 0) {
		/* The main loop also notices through pthread_join at stop. */
	}
	return NULL;
}

/* Start smfi_main() in a thread that blocks the signals the main thread handles. */
static int start_milter_thread(struct milter_thread *mt)
{
	sigset_t block, old;
	int rc;

	if (pipe(mt->done_pipe) < 0)
		return -1;
	sigemptyset(&block);
	sigaddset(&block, SIGHUP);
	sigaddset(&block, SIGUSR1);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	pthread_sigmask(SIG_BLOCK, &block, &old);
	rc = pthread_create(&mt->tid, NULL, run_milter, mt);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return rc == 0 ? 0 : -1;
}

static void wait_for_messages(long timeout_s)
{
	struct timespec tick = { 0, 50 * 1000000L };
	long waited_ms = 0;
	unsigned n;

	while ((n = hm_msg_in_flight()) > 0 && waited_ms < timeout_s * 1000) {
		nanosleep(&tick, NULL);
		waited_ms += 50;
	}
	if (n > 0)
		hm_log(HM_LOG_WARNING, "stopping with %u message(s) still in flight: the MTA will tempfail them", n);
}

/* The main thread's loop: act on signals until a stop.  Returns exit status. */
static int main_loop(const char *conf_path, struct milter_thread *mt)
{
	struct pollfd pfd[2] = {
		{ .fd = signal_pipe[0], .events = POLLIN },
		{ .fd = mt->done_pipe[0], .events = POLLIN },
	};

	for (;;) {
		unsigned char sig;

		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			hm_log(HM_LOG_ERR, "poll: %s", strerror(errno));
			return 1;
		}
		if (pfd[1].revents) {
			hm_log(HM_LOG_ERR, "the milter library stopped on its own (rc=%d); exiting", mt->rc);
			return 1;
		}
		while (read(signal_pipe[0], &sig, 1) == 1) {
			if (sig == SIGHUP || sig == SIGUSR1) {
				reload(conf_path);
				continue;
			}
			hm_log(HM_LOG_NOTICE, "stopping on signal %d", sig);
			return 0;
		}
	}
}

/* The milter socket, ready for connections.  0, or -1 with err. */
static int open_socket(const struct hm_conf *conf, char *err, size_t errlen)
{
	char postfix[300];

	if (smfi_setconn((char *)conf->socket.text) != MI_SUCCESS ||
	    smfi_setbacklog((int)conf->listen_backlog) != MI_SUCCESS ||
	    smfi_settimeout((int)conf->milter_timeout) != MI_SUCCESS) {
		snprintf(err, errlen, "socket %s: rejected by libmilter", conf->socket.text);
		return -1;
	}
	(void)smfi_setmaxdatasize(HM_MILTER_MAX_DATA);	/* returns the old size */
	if (smfi_opensocket(true) != MI_SUCCESS) {
		snprintf(err, errlen, "cannot listen on %s: %s", conf->socket.text, strerror(errno));
		return -1;
	}
	if (conf->socket.kind == HM_SOCK_UNIX) {
		if (chmod(conf->socket.path, conf->socket_mode) < 0) {
			snprintf(err, errlen, "chmod %s: %s", conf->socket.path, strerror(errno));
			return -1;
		}
	} else if (hm_socket_set_nodelay_on_listeners() < 1) {
		snprintf(err, errlen, "cannot set TCP_NODELAY on the listening socket %s",
			 conf->socket.text);
		return -1;
	}
	hm_socket_postfix_spelling(&conf->socket, postfix, sizeof(postfix));
	hm_log(HM_LOG_NOTICE, "listening on %s (Postfix: smtpd_milters = %s)", conf->socket.text, postfix);
	return 0;
}

int main(int argc, char **argv)
{
	const char *conf_path = HM_DEFAULT_CONF;
	int foreground = 0, test_only = 0, opt, status;
	struct milter_thread mt = { .done_pipe = { -1, -1 } };
	struct hm_conf *conf;
	char err[512] = "";

	static const struct option longopts[] = {
		{ "scan", required_argument, NULL, 'S' },
		{ "client-ip", required_argument, NULL, 'I' },
		{ "helo", required_argument, NULL, 'H' },
		{ "from", required_argument, NULL, 'F' },
		{ "rcpt", required_argument, NULL, 'R' },
		{ "outbound", no_argument, NULL, 'B' },
		{ "json", no_argument, NULL, 'J' },
		{ "learn", required_argument, NULL, 'L' },
		{ "user", required_argument, NULL, 'U' },
		{ "calibrate", no_argument, NULL, 'C' },
		{ "spam", required_argument, NULL, 's' },
		{ "ham", required_argument, NULL, 'm' },
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	struct hm_scanmode_args scan = { 0 };
	const char *rcpts[HM_MAX_RCPTS];
	const char *learn = NULL, *user = NULL;
	bool calibrate = false;
	/* --spam / --ham paths point into argv, as --rcpt's do. */
	const char *cal_spam[HM_MAX_CAL_PATHS], *cal_ham[HM_MAX_CAL_PATHS];
	size_t ncal_spam = 0, ncal_ham = 0;

	scan.rcpts = rcpts;
	while ((opt = getopt_long(argc, argv, "c:ftOVh", longopts, NULL)) != -1) {
		switch (opt) {
		case 'S': scan.file = optarg; break;
		case 'I': scan.client_ip = optarg; break;
		case 'H': scan.helo = optarg; break;
		case 'F': scan.mail_from = optarg; break;
		case 'R':
			if (scan.nrcpts == HM_MAX_RCPTS) {
				fprintf(stderr, "hosterra-milter: too many --rcpt\n");
				return 1;
			}
			rcpts[scan.nrcpts++] = optarg;
			break;
		case 'B': scan.outbound = true; break;
		case 'J': scan.json = true; break;
		case 'L': learn = optarg; break;
		case 'U': user = optarg; break;
		case 'C': calibrate = true; break;
		case 's':
		case 'm':
			if ((opt == 's' ? ncal_spam : ncal_ham) == HM_MAX_CAL_PATHS) {
				fprintf(stderr, "hosterra-milter: more than %d --%s paths\n",
					HM_MAX_CAL_PATHS, opt == 's' ? "spam" : "ham");
				return 1;
			}
			if (opt == 's')
				cal_spam[ncal_spam++] = optarg;
			else
				cal_ham[ncal_ham++] = optarg;
			break;
		case 'c': conf_path = optarg; break;
		case 'f': foreground = 1; break;
		case 't': test_only = 1; break;
		case 'O': hm_conf_describe(stdout); return 0;
		case 'V': printf("hosterra-milter %s\n", PACKAGE_VERSION); return 0;
		case 'h': usage(stdout); return 0;
		default: usage(stderr); return 1;
		}
	}
	if (learn && strcmp(learn, "spam") != 0 && strcmp(learn, "ham") != 0) {
		fprintf(stderr, "hosterra-milter: --learn spam or --learn ham, not \"%s\"\n", learn);
		return 1;
	}
	if ((learn != NULL) + calibrate + (scan.file != NULL) > 1) {
		fprintf(stderr, "hosterra-milter: --scan, --learn and --calibrate are separate commands\n");
		return 1;
	}
	if ((user && !learn) || ((ncal_spam || ncal_ham) && !calibrate)) {
		fprintf(stderr, "hosterra-milter: --user goes with --learn, --spam and --ham with "
			"--calibrate\n");
		return 1;
	}
	if (learn && optind == argc) {
		fprintf(stderr, "hosterra-milter: --learn needs a PATH (\"-\": standard input)\n");
		return 1;
	}
	if (calibrate && (ncal_spam == 0 || ncal_ham == 0)) {
		fprintf(stderr, "hosterra-milter: --calibrate needs --spam PATH and --ham PATH\n");
		return 1;
	}
	if (learn || calibrate) {
		struct hm_learn_args la = { strcmp(learn ? learn : "", "spam") == 0, user,
			(const char *const *)argv + optind, (size_t)(argc - optind) };
		struct hm_calibrate_args ca = { cal_spam, ncal_spam, cal_ham, ncal_ham };

		if (calibrate && optind < argc) {
			fprintf(stderr, "hosterra-milter: unexpected argument \"%s\" (--spam PATH, "
				"--ham PATH)\n", argv[optind]);
			return 1;
		}
		if ((conf = hm_conf_load(conf_path, report_to_stderr, NULL)) == NULL)
			return 1;
		hm_log_set_level(HM_LOG_ERR);	/* the totals are the output */
		status = learn ? hm_learn_run(conf, &la, stdout) : hm_calibrate_run(conf, &ca, stdout);
		hm_conf_release(&conf);
		return status;
	}
	if (scan.file && optind < argc) {
		/* --scan FILE FILE...: the same envelope for each. */
		scan.more = (const char *const *)argv + optind;
		scan.nmore = (size_t)(argc - optind);
		optind = argc;
	}
	if (optind < argc) {
		fprintf(stderr, "hosterra-milter: unexpected argument \"%s\"\n", argv[optind]);
		usage(stderr);
		return 1;
	}

	if (!scan.file && (scan.client_ip || scan.helo || scan.mail_from || scan.nrcpts ||
			   scan.outbound || scan.json)) {
		fprintf(stderr, "hosterra-milter: --client-ip, --helo, --from, --rcpt, --outbound "
			"and --json go with --scan\n");
		return 1;
	}
	conf = hm_conf_load(conf_path, report_to_stderr, NULL);
	if (scan.file) {
		if (conf == NULL)
			return 1;
		hm_log_set_level(HM_LOG_ERR);	/* the report is the output */
		if (hm_runtime_build(conf, true, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", conf_path, err);
			hm_conf_release(&conf);
			return 1;
		}
		/* The transaction reads the current configuration, as in the daemon. */
		hm_conf_publish(conf);
		status = hm_scanmode_run(conf, &scan, stdout);
		hm_conf_publish(NULL);
		return status;
	}
	if (test_only) {
		/* Also build the checkers: the resolver set-up and the Public
		 * Suffix List are part of a valid configuration. */
		if (conf && hm_runtime_build(conf, false, err, sizeof(err)) < 0) {
			fprintf(stderr, "%s: %s\n", conf_path, err);
			hm_conf_release(&conf);
		}
		status = conf ? 0 : 1;
		if (conf && hm_metrics_listen_warning(conf->metrics.listen, err, sizeof(err)))
			fprintf(stderr, "%s: warning: %s\n", conf_path, err);
		if (conf)
			printf("%s: configuration OK\n", conf_path);
		hm_conf_release(&conf);
		return status;
	}
	if (conf == NULL)
		return 1;

	hm_log_open("hosterra-milter", foreground, conf->syslog_facility);
	hm_log_set_level(conf->log_level);
	if (!foreground && hm_daemon_detach(err, sizeof(err)) < 0) {
		hm_log(HM_LOG_ERR, "%s", err);
		return 1;
	}
	/* The checkers start threads: after the fork, as the final user. */
	if (install_signal_handlers() < 0 ||
	    hm_daemon_drop_privileges(conf->user, err, sizeof(err)) < 0 ||
	    hm_daemon_pidfile_create(conf->pidfile, err, sizeof(err)) < 0 ||
	    hm_runtime_build(conf, true, err, sizeof(err)) < 0) {
		hm_log(HM_LOG_ERR, "start-up failed: %s", err[0] ? err : strerror(errno));
		hm_daemon_pidfile_remove();
		hm_conf_release(&conf);
		hm_daemon_ready(0);
		return 1;
	}
	if (geteuid() == 0)
		hm_log(HM_LOG_WARNING, "running as root: set \"user\" to an unprivileged account");
	hm_conf_publish(conf);
	conf = hm_conf_acquire();
	/* The content model loads in the background: mail flows meanwhile. */
	if (hm_clsmodel_start(err, sizeof(err)) < 0) {
		hm_log(HM_LOG_ERR, "start-up failed: %s", err);
		hm_daemon_pidfile_remove();
		hm_daemon_ready(0);
		return 1;
	}
	/* After the privilege drop, and before the milter socket opens, so a
	 * metrics port in use leaves no socket behind. */
	if (hm_metrics_http_apply(conf, err, sizeof(err)) < 0) {
		hm_log(HM_LOG_ERR, "start-up failed: metrics: %s", err);
		hm_daemon_pidfile_remove();
		hm_daemon_ready(0);
		return 1;
	}
	err[0] = '\0';
	if (hm_callbacks_register() < 0 || open_socket(conf, err, sizeof(err)) < 0 ||
	    start_milter_thread(&mt) < 0) {
		hm_log(HM_LOG_ERR, "start-up failed%s%s", err[0] ? ": " : "", err);
		hm_daemon_pidfile_remove();
		hm_daemon_ready(0);
		return 1;
	}
	hm_conf_release(&conf);
	hm_log(HM_LOG_NOTICE, "hosterra-milter %s started", PACKAGE_VERSION);
	hm_daemon_ready(1);

	status = main_loop(conf_path, &mt);

	/*
	 * Drain before smfi_stop(): Debian's libmilter runs sessions in a
	 * worker pool whose controller and workers stop serving every open
	 * connection as soon as smfi_stop() is called, so messages in flight
	 * could never finish (nor a new MAIL FROM get its 451).
	 */
	hm_callbacks_stopping();
	conf = hm_conf_acquire();
	wait_for_messages(conf->shutdown_timeout);
	hm_conf_release(&conf);
	smfi_stop();
	pthread_join(mt.tid, NULL);
	/* The listener first: a scrape reads the model's refresher. */
	hm_metrics_http_stop();
	hm_clsmodel_stop();
	hm_daemon_pidfile_remove();
	hm_conf_publish(NULL);
	hm_log(HM_LOG_NOTICE, "stopped");
	return status;
}
