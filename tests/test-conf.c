/*
 * test-conf.c - unit tests of milter/conf*.c: the defaults of an empty file
 * (and that the policy store has the same ones), each option's limits,
 * every kind of error with its line (and all of them in one load), the
 * file check behind "file" options, and the reference-counted snapshot.
 * Table-driven: one TAP case per row, named after it.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <syslog.h>
#include <unistd.h>

#include <cmocka.h>

#include "milter/conf.h"
#include "util/log.h"
#include "policy/store.h"

/* A failure with its case and what differed, as a TAP comment. */
#define FAIL(...) do { \
	print_message("# "); print_message(__VA_ARGS__); print_message("\n"); fail(); \
} while (0)

static char dir[] = "/tmp/hm-test-conf.XXXXXX";
static char conf_path[sizeof(dir) + 32];

/* Every line reported by a load, each ended by a newline. */
struct report {
	char text[8192];
};

static void collect(void *arg, const char *line)
{
	struct report *r = arg;
	size_t used = strlen(r->text);

	snprintf(r->text + used, sizeof(r->text) - used, "%s\n", line);
}

static void write_file(const char *path, const char *content)
{
	FILE *f = fopen(path, "w");

	assert_non_null(f);
	assert_int_equal(fputs(content, f) >= 0, 1);
	assert_int_equal(fclose(f), 0);
}

static struct hm_conf *load_text(const char *content, struct report *r)
{
	write_file(conf_path, content);
	r->text[0] = '\0';
	return hm_conf_load(conf_path, collect, r);
}

/* "@:" in an expected report stands for the file name and its colon. */
static void expand(char *out, size_t len, const char *want)
{
	size_t o = 0;

	for (; *want && o + 1 < len; want++) {
		if (want[0] == '@' && want[1] == ':') {
			o += (size_t)snprintf(out + o, len - o, "%s:", conf_path);
			want++;
		} else {
			out[o++] = *want;
		}
	}
	out[o < len ? o : len - 1] = '\0';
}

static int group_setup(void **state)
{
	(void)state;
	if (mkdtemp(dir) == NULL)
		return -1;
	snprintf(conf_path, sizeof(conf_path), "%s/hm.conf", dir);
	return 0;
}

static int group_teardown(void **state)
{
	char path[sizeof(dir) + 32];

	(void)state;
	unlink(conf_path);
	snprintf(path, sizeof(path), "%s/readable", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/unreadable", dir);
	unlink(path);
	rmdir(dir);
	return 0;
}

/* --- defaults ---------------------------------------------------------- */

static void check_defaults(const struct hm_conf *c)
{
	char host[256] = "";

	assert_string_equal(c->socket.text, "unix:/run/hosterra-milter/hosterra-milter.sock");
	assert_int_equal(c->socket.kind, HM_SOCK_UNIX);
	assert_string_equal(c->socket.path, "/run/hosterra-milter/hosterra-milter.sock");
	assert_int_equal(c->socket_mode, 0660);
	assert_int_equal(c->listen_backlog, 128);
	assert_string_equal(c->user, "hosterra-milter");
	assert_string_equal(c->pidfile, "/run/hosterra-milter/hosterra-milter.pid");
	assert_int_equal(c->log_level, HM_LOG_INFO);
	assert_int_equal(c->syslog_facility, LOG_MAIL);
	assert_int_equal(gethostname(host, sizeof(host) - 1), 0);
	assert_string_equal(c->authserv_id, host);
	assert_int_equal(c->milter_timeout, 300);
	assert_int_equal(c->shutdown_timeout, 30);
}

static void test_empty_file_defaults(void **state)
{
	struct report r;
	struct hm_conf *c = load_text("", &r);

	(void)state;
	if (c == NULL)
		FAIL("empty file refused: %s", r.text);
	assert_string_equal(r.text, "");
	assert_string_equal(c->path, conf_path);
	check_defaults(c);
	hm_conf_release(&c);
	assert_null(c);
}

static void test_comments_only_defaults(void **state)
{
	struct report r;
	struct hm_conf *c = load_text("# nothing\n/* at\n all */\n// here\n\n", &r);

	(void)state;
	if (c == NULL)
		FAIL("comments-only file refused: %s", r.text);
	check_defaults(c);
	hm_conf_release(&c);
}

/* --- values accepted --------------------------------------------------- */

struct good_case {
	const char *text;
	size_t offset;			/* field of struct hm_conf */
	char kind;			/* 'l' long, 'i' int, 'u' unsigned, 's' char *, 'S' socket text */
	long num;
	const char *str;
};

#define F(f) offsetof(struct hm_conf, f)

static const struct good_case goods[] = {
	{ "listen_backlog = 1", F(listen_backlog), 'l', 1, NULL },
	{ "listen_backlog = 65535", F(listen_backlog), 'l', 65535, NULL },
	{ "listen_backlog = \"42\"", F(listen_backlog), 'l', 42, NULL },
	{ "milter_timeout = 1", F(milter_timeout), 'l', 1, NULL },
	{ "milter_timeout = 86400", F(milter_timeout), 'l', 86400, NULL },
	{ "shutdown_timeout = 0", F(shutdown_timeout), 'l', 0, NULL },
	{ "shutdown_timeout = 3600", F(shutdown_timeout), 'l', 3600, NULL },
	{ "socket_mode = \"0\"", F(socket_mode), 'u', 0, NULL },
	{ "socket_mode = \"0777\"", F(socket_mode), 'u', 0777, NULL },
	{ "socket_mode = \"660\"", F(socket_mode), 'u', 0660, NULL },
	{ "log_level = \"error\"", F(log_level), 'i', HM_LOG_ERR, NULL },
	{ "log_level = \"warning\"", F(log_level), 'i', HM_LOG_WARNING, NULL },
	{ "log_level = \"notice\"", F(log_level), 'i', HM_LOG_NOTICE, NULL },
	{ "log_level = \"debug\"", F(log_level), 'i', HM_LOG_DEBUG, NULL },
	{ "log_level = DEBUG", F(log_level), 'i', HM_LOG_DEBUG, NULL },
	{ "syslog_facility = \"local7\"", F(syslog_facility), 'i', LOG_LOCAL7, NULL },
	{ "syslog_facility = daemon", F(syslog_facility), 'i', LOG_DAEMON, NULL },
	{ "user = \"\"", F(user), 's', 0, "" },
	{ "user = \"nobody\"", F(user), 's', 0, "nobody" },
	{ "pidfile = \"\"", F(pidfile), 's', 0, "" },
	{ "pidfile = '/tmp/x y.pid'", F(pidfile), 's', 0, "/tmp/x y.pid" },
	{ "authserv_id = \"mx.example.net\"", F(authserv_id), 's', 0, "mx.example.net" },
	{ "socket = \"inet:11332@127.0.0.1\"", F(socket), 'S', 0, "inet:11332@127.0.0.1" },
	{ "socket = \"inet6:11332@[::1]\"", F(socket), 'S', 0, "inet6:11332@[::1]" },
	{ "socket = \"local:/tmp/hm.sock\"", F(socket), 'S', 0, "local:/tmp/hm.sock" },
	/* The last of repeated settings wins. */
	{ "listen_backlog = 5\nlisten_backlog = 6", F(listen_backlog), 'l', 6, NULL },
	/* A quoted option name is the same option. */
	{ "\"listen_backlog\" = 7", F(listen_backlog), 'l', 7, NULL },
	{ "listen_backlog=8 # comment", F(listen_backlog), 'l', 8, NULL },
};

static void test_good(void **state)
{
	const struct good_case *g = *state;
	struct report r;
	struct hm_conf *c = load_text(g->text, &r);
	const char *field;

	if (c == NULL)
		FAIL("\"%s\" refused: %s", g->text, r.text);
	field = (const char *)c + g->offset;
	switch (g->kind) {
	case 'l':
		assert_int_equal(*(const long *)field, g->num);
		break;
	case 'i':
		assert_int_equal(*(const int *)field, g->num);
		break;
	case 'u':
		assert_int_equal(*(const unsigned *)field, g->num);
		break;
	case 's':
		assert_string_equal(*(char *const *)field, g->str);
		break;
	case 'S':
		assert_string_equal(((const struct hm_socket_spec *)field)->text, g->str);
		break;
	}
	hm_conf_release(&c);
}

/* --- errors ------------------------------------------------------------ */

struct bad_case {
	const char *desc;
	const char *text;
	const char *want;		/* the whole report; "@:" is "FILE:" */
};

static const struct bad_case bads[] = {
	{ "integer below its range", "listen_backlog = 0\n",
	  "@:1: option 'listen_backlog': 0 is out of range (1 to 65535)\n" },
	{ "integer above its range", "listen_backlog = 65536\n",
	  "@:1: option 'listen_backlog': 65536 is out of range (1 to 65535)\n" },
	{ "milter_timeout below", "milter_timeout = 0\n",
	  "@:1: option 'milter_timeout': 0 is out of range (1 to 86400)\n" },
	{ "milter_timeout above", "milter_timeout = 86401\n",
	  "@:1: option 'milter_timeout': 86401 is out of range (1 to 86400)\n" },
	{ "shutdown_timeout below", "shutdown_timeout = -1\n",
	  "@:1: option 'shutdown_timeout': -1 is out of range (0 to 3600)\n" },
	{ "shutdown_timeout above", "shutdown_timeout = 3601\n",
	  "@:1: option 'shutdown_timeout': 3601 is out of range (0 to 3600)\n" },
	{ "integer overflow", "milter_timeout = 99999999999999999999\n",
	  "@:1: option 'milter_timeout': \"99999999999999999999\" is not an integer\n" },
	{ "string for an integer", "listen_backlog = \"many\"\n",
	  "@:1: option 'listen_backlog': \"many\" is not an integer\n" },
	{ "float for an integer", "milter_timeout = 1.5\n",
	  "@:1: option 'milter_timeout': \"1.5\" is not an integer\n" },
	{ "empty integer", "milter_timeout = \"\"\n",
	  "@:1: option 'milter_timeout': \"\" is not an integer\n" },
	{ "unknown option", "\nlog_levle = \"debug\"\n",
	  "@:2: unknown option 'log_levle'\n" },
	{ "unknown option with a list", "foo = { 1, 2 }\n", "@:1: unknown option 'foo'\n" },
	{ "unknown section", "mysql {\n  host = \"x\"\n  inner { a = 1 }\n}\nlisten_backlog = 0\n",
	  "@:1: unknown option 'mysql'\n"
	  "@:5: option 'listen_backlog': 0 is out of range (1 to 65535)\n" },
	{ "unknown empty titled section", "sec \"t\" { }\nmilter_timeout = 0\n",
	  "@:1: unknown option 'sec'\n"
	  "@:2: option 'milter_timeout': 0 is out of range (1 to 86400)\n" },
	{ "unknown function call", "include(\"/etc/x\")\n", "@:1: unknown option 'include'\n" },
	{ "option names are case sensitive", "Log_Level = \"info\"\n",
	  "@:1: unknown option 'Log_Level'\n" },
	{ "bad log level", "log_level = \"verbose\"\n",
	  "@:1: option 'log_level': \"verbose\" is not one of error, warning, notice, info, debug\n" },
	{ "bad facility", "syslog_facility = \"kern\"\n",
	  "@:1: option 'syslog_facility': \"kern\" is not a syslog facility (mail, daemon, user, local0..local7)\n" },
	{ "mode not octal", "socket_mode = \"0680\"\n",
	  "@:1: option 'socket_mode': \"0680\" is not an octal mode from 0000 to 0777\n" },
	{ "mode too large", "socket_mode = \"1777\"\n",
	  "@:1: option 'socket_mode': \"1777\" is not an octal mode from 0000 to 0777\n" },
	{ "mode empty", "socket_mode = \"\"\n",
	  "@:1: option 'socket_mode': \"\" is not an octal mode from 0000 to 0777\n" },
	{ "bad socket", "socket = \"unix:relative.sock\"\n",
	  "@:1: option 'socket': socket \"unix:relative.sock\": the unix socket path must be absolute\n" },
	{ "Postfix socket spelling", "socket = \"inet:127.0.0.1:11332\"\n",
	  "@:1: option 'socket': socket \"inet:127.0.0.1:11332\": this is Postfix's inet:HOST:PORT "
	  "spelling; the milter writes inet:PORT@HOST: inet:11332@127.0.0.1\n" },
	{ "missing value", "listen_backlog =\n", "@:2: premature end of file\n" },
	{ "missing equal sign", "listen_backlog 5\n",
	  "@:1: missing equal sign after option 'listen_backlog'\n" },
	{ "list for a single value", "user = { \"a\" }\n", "@:1: unexpected token '{'\n" },
	{ "stray closing brace", "}\n", "@:1: unexpected closing brace\n" },
	{ "unterminated string", "user = 'abc\n", "@:2: unterminated string constant\n" },
	{ "lines stay true after comments",
	  "# one\n/* two\n three */\n// four\nlisten_backlog = 0 # five\n",
	  "@:5: option 'listen_backlog': 0 is out of range (1 to 65535)\n" },
	{ "every error of a file, in line order",
	  "socket = \"inet:localhost:25\"\n"
	  "nosuch = 1\n"
	  "listen_backlog = 0\n"
	  "log_level = \"loud\"\n"
	  "other { x = 1 }\n"
	  "milter_timeout = \"soon\"\n"
	  "socket_mode = \"999\"\n"
	  "third = yes\n",
	  "@:1: option 'socket': socket \"inet:localhost:25\": this is Postfix's inet:HOST:PORT "
	  "spelling; the milter writes inet:PORT@HOST: inet:25@localhost\n"
	  "@:2: unknown option 'nosuch'\n"
	  "@:3: option 'listen_backlog': 0 is out of range (1 to 65535)\n"
	  "@:4: option 'log_level': \"loud\" is not one of error, warning, notice, info, debug\n"
	  "@:5: unknown option 'other'\n"
	  "@:6: option 'milter_timeout': \"soon\" is not an integer\n"
	  "@:7: option 'socket_mode': \"999\" is not an octal mode from 0000 to 0777\n"
	  "@:8: unknown option 'third'\n" },
	{ "errors before a syntax error are kept, none after it",
	  "a = 1\nlisten_backlog = 0\nuser = = 2\nb = 3\nmilter_timeout = 0\n",
	  "@:1: unknown option 'a'\n"
	  "@:2: option 'listen_backlog': 0 is out of range (1 to 65535)\n"
	  "@:3: unexpected token '='\n" },
};

static void test_bad(void **state)
{
	const struct bad_case *b = *state;
	struct report r;
	struct hm_conf *c = load_text(b->text, &r);
	char want[4096];

	expand(want, sizeof(want), b->want);
	if (c != NULL) {
		hm_conf_release(&c);
		FAIL("%s: accepted, expected:\n%s", b->desc, want);
	}
	if (strcmp(r.text, want) != 0)
		FAIL("%s: report differs.\n# got:\n%s# expected:\n%s", b->desc, r.text, want);
}

static void test_missing_file(void **state)
{
	struct report r = { "" };
	char path[sizeof(dir) + 32], want[512];

	(void)state;
	snprintf(path, sizeof(path), "%s/does-not-exist.conf", dir);
	assert_null(hm_conf_load(path, collect, &r));
	snprintf(want, sizeof(want), "%s: cannot read: No such file or directory\n", path);
	assert_string_equal(r.text, want);
}

static void test_directory_as_file(void **state)
{
	struct report r = { "" };
	char want[512];

	(void)state;
	assert_null(hm_conf_load(dir, collect, &r));
	snprintf(want, sizeof(want), "%s: cannot read: not a regular file\n", dir);
	assert_string_equal(r.text, want);
}

/* --- the check behind "file" options ------------------------------------ */

static void test_check_file(void **state)
{
	char path[sizeof(dir) + 32], err[512] = "";

	(void)state;
	assert_int_equal(hm_conf_check_file("", err, sizeof(err)), 0);
	snprintf(path, sizeof(path), "%s/readable", dir);
	write_file(path, "key\n");
	if (hm_conf_check_file(path, err, sizeof(err)) != 0)
		FAIL("%s refused: %s", path, err);
	snprintf(path, sizeof(path), "%s/missing", dir);
	assert_int_equal(hm_conf_check_file(path, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "No such file or directory"));
	assert_non_null(strstr(err, path));
	assert_int_equal(hm_conf_check_file(dir, err, sizeof(err)), -1);
	assert_non_null(strstr(err, "is not a regular file"));
}

/* The check runs after privileges are dropped; as root, test as nobody. */
static void test_check_file_unreadable(void **state)
{
	char path[sizeof(dir) + 32], err[512] = "";
	int status;
	pid_t pid;

	(void)state;
	snprintf(path, sizeof(path), "%s/unreadable", dir);
	write_file(path, "key\n");
	assert_int_equal(chmod(path, 0), 0);
	assert_int_equal(chmod(dir, 0711), 0);
	fflush(stdout);
	if ((pid = fork()) == 0) {
		if (geteuid() == 0 && (setgid(65534) < 0 || setuid(65534) < 0))
			_exit(2);
		if (hm_conf_check_file(path, err, sizeof(err)) != -1 ||
		    strstr(err, "Permission denied") == NULL) {
			printf("# got \"%s\"\n", err);
			_exit(1);
		}
		_exit(0);
	}
	assert_true(pid > 0);
	assert_int_equal(waitpid(pid, &status, 0), pid);
	chmod(dir, 0700);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		FAIL("an unreadable file passed the check (status %d)", status);
}

/* --- the snapshot -------------------------------------------------------- */

/* Learning writes go to redis.write_host/write_port; reads never do. */
static void test_classifier_and_write_host(void **state)
{
	struct report r;
	struct hm_conf *c = load_text("redis { socket = \"/run/redis.sock\" port = 6380 }\n"
				      "classifier { min_spam = 5 scale = 1.5 enabled = no }\n", &r);
	struct hm_store_conf rd, wr;

	(void)state;
	if (c == NULL)
		FAIL("refused: %s", r.text);
	hm_conf_store_conf(c, false, &rd);
	hm_conf_store_conf(c, true, &wr);
	/* No write_host: learning writes where the daemon reads. */
	assert_string_equal(wr.unix_path, "/run/redis.sock");
	assert_int_equal(wr.port, 6380);
	assert_int_equal(c->cls_points.min_spam, 5);
	assert_int_equal(c->cls_points.min_ham, 200);
	assert_true(c->cls_points.scale == 1.5 && c->cls_points.cap_spam == 10);
	assert_int_equal(c->classifier.enabled, 0);
	hm_conf_release(&c);

	c = load_text("redis { socket = \"/run/redis.sock\" write_host = \"10.1.2.3\" "
		      "write_port = 7000 }\n", &r);
	if (c == NULL)
		FAIL("refused: %s", r.text);
	hm_conf_store_conf(c, false, &rd);
	hm_conf_store_conf(c, true, &wr);
	assert_string_equal(rd.unix_path, "/run/redis.sock");
	assert_string_equal(wr.unix_path, "");
	assert_string_equal(wr.host, "10.1.2.3");
	assert_int_equal(wr.port, 7000);
	assert_string_equal(wr.prefix, "hm:");
	hm_conf_release(&c);
}

static void test_snapshot(void **state)
{
	struct report r;
	struct hm_conf *first, *second, *held, *got;

	(void)state;
	assert_null(hm_conf_acquire());
	first = load_text("listen_backlog = 1\n", &r);
	assert_non_null(first);
	assert_int_equal(atomic_load(&first->refs), 1);
	hm_conf_publish(first);			/* the snapshot owns that reference */

	held = hm_conf_acquire();
	assert_ptr_equal(held, first);
	assert_int_equal(atomic_load(&first->refs), 2);

	second = load_text("listen_backlog = 2\n", &r);
	assert_non_null(second);
	hm_conf_publish(second);		/* a reload */
	/* The holder keeps its settings while the new ones are published. */
	assert_int_equal(atomic_load(&held->refs), 1);
	assert_int_equal(held->listen_backlog, 1);
	got = hm_conf_acquire();
	assert_ptr_equal(got, second);
	assert_int_equal(got->listen_backlog, 2);
	assert_int_equal(atomic_load(&second->refs), 2);

	hm_conf_release(&held);			/* frees the first (valgrind checks) */
	assert_null(held);
	hm_conf_release(&got);
	assert_null(got);
	assert_int_equal(atomic_load(&second->refs), 1);
	hm_conf_release(&got);			/* releasing NULL is harmless */

	hm_conf_publish(NULL);			/* frees the second */
	assert_null(hm_conf_acquire());
}

#define MAX_TESTS 128
static struct CMUnitTest tests[MAX_TESTS];
static size_t ntests;

static void add(const char *name, CMUnitTestFunction fn, const void *arg)
{
	if (ntests == MAX_TESTS) {
		fprintf(stderr, "too many test cases\n");
		exit(99);
	}
	tests[ntests++] = (struct CMUnitTest){ strdup(name), fn, NULL, NULL, (void *)arg };
}

/*
 * Defaults defined once: a policy store given no settings has those an
 * empty file gives it (pool, cache, TTL, timeouts, prefix, port).
 */
static void test_store_defaults(void **state)
{
	struct report r;
	struct hm_conf *c = load_text("", &r);
	struct hm_store_conf sc, zero = { 0 };
	struct hm_store *s = NULL;
	char sock[sizeof(dir) + 32], err[256];

	(void)state;
	if (c == NULL)
		FAIL("empty file refused: %s", r.text);
	/* A socket nobody listens on: the store reaches no Redis. */
	snprintf(sock, sizeof(sock), "%s/no-redis.sock", dir);
	zero.unix_path = sock;
	if (hm_store_new(&zero, &s, err, sizeof(err)) < 0)
		FAIL("store without settings: %s", err);
	hm_conf_store_conf(c, false, &sc);
	sc.unix_path = sock;
	if (!hm_store_same_conf(s, &sc))
		FAIL("the store's defaults differ from an empty file's: pool %zu, cache %zu, "
		     "ttl %ld ms, connect %ld ms, command %ld ms", sc.pool_size, sc.cache_max,
		     sc.cache_ttl_ms, sc.connect_timeout_ms, sc.command_timeout_ms);
	hm_store_free(&s);
	hm_conf_release(&c);
}

int main(void)
{
	char name[300];
	int rc;

	add("empty file: every default", test_empty_file_defaults, NULL);
	add("comments only: every default", test_comments_only_defaults, NULL);
	for (size_t i = 0; i < sizeof(goods) / sizeof(goods[0]); i++) {
		snprintf(name, sizeof(name), "accepts: %s", goods[i].text);
		for (char *p = name; *p; p++)
			if (*p == '\n')
				*p = ' ';
		add(name, test_good, &goods[i]);
	}
	for (size_t i = 0; i < sizeof(bads) / sizeof(bads[0]); i++) {
		snprintf(name, sizeof(name), "reports: %s", bads[i].desc);
		add(name, test_bad, &bads[i]);
	}
	add("missing file", test_missing_file, NULL);
	add("directory instead of a file", test_directory_as_file, NULL);
	add("file check: empty, readable, missing, directory", test_check_file, NULL);
	add("file check: unreadable", test_check_file_unreadable, NULL);
	add("snapshot: publish, acquire, release, reload", test_snapshot, NULL);
	add("classifier section and redis.write_host", test_classifier_and_write_host, NULL);
	add("the store's defaults are an empty file's", test_store_defaults, NULL);
	rc = _cmocka_run_group_tests("conf", tests, ntests, group_setup, group_teardown);
	for (size_t i = 0; i < ntests; i++)
		free((char *)tests[i].name);
	return rc;
}
