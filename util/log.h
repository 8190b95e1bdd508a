/*
 * log.h - the one place hosterra-milter writes log lines.
 *
 * hm_log_open() picks the destination: syslog (daemon) or stderr
 * (foreground, "-f").  hm_log() writes one line at a level; lines below the
 * configured level are dropped before any formatting is done.  Safe to call
 * from any thread.  On stderr, info lines carry no prefix (they are the
 * greppable per-message lines); the other levels are prefixed with the level
 * name, Postfix style ("warning: ...").
 *
 * Error text, everywhere in the tree, goes one way: a function that can
 * fail and has something to say takes `char *err, size_t errlen` (last
 * but for an output flag), returns -1 (or its documented failure value)
 * and writes one NUL-terminated line into err with snprintf, no trailing
 * period, no level prefix.  A caller that wants no text passes NULL, 0
 * (snprintf writes nothing into a zero-length buffer); err is never NULL
 * with errlen > 0.  The function does not log the failure itself: its
 * caller does, once, adding its context ("start-up failed: %s").  No
 * static strings through `const char **`.
 */
#ifndef HM_LOG_H
#define HM_LOG_H

#include <stdbool.h>
#include <stddef.h>

enum hm_log_level {
	HM_LOG_ERR = 0,
	HM_LOG_WARNING,
	HM_LOG_NOTICE,
	HM_LOG_INFO,
	HM_LOG_DEBUG,
};

void hm_log_open(const char *ident, bool to_stderr, int syslog_facility);
void hm_log_set_level(enum hm_log_level level);
bool hm_log_enabled(enum hm_log_level level);
void hm_log(enum hm_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

/* Name <-> value for the config ("info" -> HM_LOG_INFO); -1 when unknown. */
int hm_log_level_from_name(const char *name);
int hm_log_facility_from_name(const char *name);

/*
 * Copy untrusted wire text into buf for a key=value log field: bytes outside
 * printable ASCII, space, '\' and '"' become \xHH.  What does not fit is
 * cut, never in the middle of an escape, and the cut marked with "..."
 * (fewer dots in a buffer under 4 bytes).  Returns buf.
 */
char *hm_log_escape(char *buf, size_t len, const char *src);
/*
 * The same for text shown to a person (scan mode's report): printable
 * ASCII, space, '"' and '\\' included, stays as it is (some of it comes
 * escaped already, e.g. rule excerpts); every other byte becomes \xHH, so
 * no terminal escape sequence or line break from a message reaches the
 * screen.
 */
char *hm_log_escape_text(char *buf, size_t len, const char *src);

#endif
