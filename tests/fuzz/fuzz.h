/*
 * fuzz.h - helpers shared by the libFuzzer targets in tests/fuzz/: the
 * input as NUL-terminated pieces (the parsers take C strings, as the
 * milter hands them over), and logging kept quiet.
 */
#ifndef HM_FUZZ_H
#define HM_FUZZ_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/log.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A NUL-terminated copy of data (embedded NULs end the string early, as in
 * every C-string interface of the milter).  NULL when out of memory. */
static inline char *fuzz_str(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);

	if (s != NULL) {
		memcpy(s, data, size);
		s[size] = '\0';
	}
	return s;
}

/*
 * Split a copy of data at each byte sep into at most max pieces (the last
 * piece takes the rest).  Returns the copy to free; *n_r pieces in out[].
 */
static inline char *fuzz_split(const uint8_t *data, size_t size, char sep, char **out,
			       size_t max, size_t *n_r)
{
	char *s = fuzz_str(data, size), *p;
	size_t n = 0;

	*n_r = 0;
	if (s == NULL || max == 0)
		return s;
	p = s;
	out[n++] = p;
	while (n < max && (p = memchr(p, sep, (size_t)(s + size - p))) != NULL) {
		*p++ = '\0';
		out[n++] = p;
	}
	*n_r = n;
	return s;
}

/* Errors only, to stderr: the parsers' warnings would drown the fuzzer. */
static inline void fuzz_quiet(void)
{
	static int done;

	if (!done) {
		hm_log_open("fuzz", true, 0);
		hm_log_set_level(HM_LOG_ERR);
		done = 1;
	}
}

#endif
