/*
 * log.c - syslog or stderr, one line per call, level filter.
 */
#include "config.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <syslog.h>

#include "util/log.h"

static atomic_int log_level = HM_LOG_INFO;
static bool log_to_stderr = true;

static const struct {
	const char *name;
	int syslog_prio;
} levels[] = {
	[HM_LOG_ERR] = { "error", LOG_ERR },
	[HM_LOG_WARNING] = { "warning", LOG_WARNING },
	[HM_LOG_NOTICE] = { "notice", LOG_NOTICE },
	[HM_LOG_INFO] = { "info", LOG_INFO },
	[HM_LOG_DEBUG] = { "debug", LOG_DEBUG },
};

static const struct {
	const char *name;
	int value;
} facilities[] = {
	{ "mail", LOG_MAIL }, { "daemon", LOG_DAEMON }, { "user", LOG_USER },
	{ "local0", LOG_LOCAL0 }, { "local1", LOG_LOCAL1 }, { "local2", LOG_LOCAL2 },
	{ "local3", LOG_LOCAL3 }, { "local4", LOG_LOCAL4 }, { "local5", LOG_LOCAL5 },
	{ "local6", LOG_LOCAL6 }, { "local7", LOG_LOCAL7 },
};

void hm_log_open(const char *ident, bool to_stderr, int syslog_facility)
{
	log_to_stderr = to_stderr;
	if (!to_stderr)
		openlog(ident, LOG_PID | LOG_NDELAY, syslog_facility);
}

void hm_log_set_level(enum hm_log_level level)
{
	atomic_store(&log_level, level);
}

bool hm_log_enabled(enum hm_log_level level)
{
	return (int)level <= atomic_load(&log_level);
}

void hm_log(enum hm_log_level level, const char *fmt, ...)
{
	char line[4096];
	va_list ap;

	if (!hm_log_enabled(level))
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);

	if (!log_to_stderr) {
		syslog(levels[level].syslog_prio, "%s", line);
		return;
	}
	/* One fputs per line: stdio locks the stream, so lines never interleave. */
	char out[sizeof(line) + 16];
	if (level == HM_LOG_INFO)
		snprintf(out, sizeof(out), "%s\n", line);
	else
		snprintf(out, sizeof(out), "%s: %s\n", levels[level].name, line);
	fputs(out, stderr);
}

int hm_log_level_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(levels) / sizeof(levels[0]); i++)
		if (strcasecmp(name, levels[i].name) == 0)
			return (int)i;
	return -1;
}

int hm_log_facility_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(facilities) / sizeof(facilities[0]); i++)
		if (strcasecmp(name, facilities[i].name) == 0)
			return facilities[i].value;
	return -1;
}

/*
 * Printable ASCII stays, but for a key=value log field not ' ', '"' and
 * '\\' (a field must not end early, nor an escape be forged).
 */
static bool escape_plain(unsigned char c, bool text)
{
	if (text)
		return c >= 0x20 && c < 0x7f;
	return c > 0x20 && c < 0x7f && c != '\\' && c != '"';
}

static char *escape(char *buf, size_t len, const char *src, bool text)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, need = 0, room;

	if (len == 0)
		return buf;
	for (const char *p = src; *p; p++)
		need += escape_plain((unsigned char)*p, text) ? 1 : 4;
	/* Cut only what does not fit, and then say so with "...". */
	room = need < len ? need : (len >= 4 ? len - 4 : 0);
	for (; *src; src++) {
		unsigned char c = (unsigned char)*src;
		bool plain = escape_plain(c, text);

		if (o + (plain ? 1 : 4) > room)
			break;		/* never half an escape */
		if (plain) {
			buf[o++] = (char)c;
		} else {
			buf[o++] = '\\';
			buf[o++] = 'x';
			buf[o++] = hex[c >> 4];
			buf[o++] = hex[c & 15];
		}
	}
	if (need >= len)		/* cut: as many dots as fit, up to three */
		for (int dots = 0; dots < 3 && o + 1 < len; dots++)
			buf[o++] = '.';
	buf[o] = '\0';
	return buf;
}

char *hm_log_escape(char *buf, size_t len, const char *src)
{
	return escape(buf, len, src, false);
}

char *hm_log_escape_text(char *buf, size_t len, const char *src)
{
	return escape(buf, len, src, true);
}
