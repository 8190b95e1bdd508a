/*
 * fuzz-conf.c - libFuzzer target: the configuration file (milter/conf.c),
 * as "hosterra-milter -t" and a SIGHUP read it: the unknown-option scan,
 * libconfuse, every value converter and check.  A file with errors gives
 * no configuration, one without gives a whole one; neither may crash.
 * Input: the file's bytes, written to a temporary file (the loader reads
 * a path).
 */
#include "config.h"

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#include "milter/conf.h"
#include "tests/fuzz/fuzz.h"

static void report(void *arg, const char *line)
{
	(*(unsigned *)arg)++;
	if (line == NULL || *line == '\0')
		abort();	/* every error has a message */
}

static char path[4096];
static int fd = -1;

/* The loader reads a path; the file goes when the fuzzer ends. */
static void remove_file(void)
{
	unlink(path);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_conf *c;
	unsigned errors = 0;

	fuzz_quiet();
	if (size > 65536)
		return 0;
	if (fd < 0) {
		snprintf(path, sizeof(path), "%s/hm-fuzz-conf.XXXXXX",
			 getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp");
		if ((fd = mkstemp(path)) < 0)
			abort();
		atexit(remove_file);
	}
	if (ftruncate(fd, 0) < 0 || pwrite(fd, data, size, 0) != (ssize_t)size)
		abort();
	c = hm_conf_load(path, report, &errors);
	if ((c == NULL) == (errors == 0))
		abort();	/* a configuration or errors, never both or neither */
	hm_conf_release(&c);
	return 0;
}
