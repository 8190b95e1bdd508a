/*
 * bench-index.c - reading the benchmarks' load corpus (bench-index.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/bench-index.h"
#include "tests/mc-message.h"

#define MAX_MESSAGE (64UL * 1024 * 1024)

void bench_index_free(struct bench_msg *m, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(m[i].text);
		free(m[i].from);
		free(m[i].rcpt);
		free(m[i].ip);
		free(m[i].helo);
	}
	free(m);
}

int bench_index_load(const char *dir, const char *prog, struct bench_msg **msgs_r, size_t *n_r)
{
	char path[4096], line[8192];
	struct bench_msg *m = NULL;
	size_t n = 0, cap = 0;
	FILE *idx;

	snprintf(path, sizeof(path), "%s/index", dir);
	if ((idx = fopen(path, "r")) == NULL) {
		fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), idx)) {
		char *f[5], *p = line;
		int nf = 0;

		line[strcspn(line, "\r\n")] = '\0';
		while (nf < 5 && p) {
			f[nf++] = p;
			if ((p = strchr(p, '\t')) != NULL)
				*p++ = '\0';
		}
		if (nf != 5)
			continue;
		if (n == cap) {
			struct bench_msg *g = realloc(m, (cap = cap ? cap * 2 : 256) * sizeof(*m));

			if (g == NULL)
				goto oom;
			m = g;
		}
		memset(&m[n], 0, sizeof(m[n]));
		snprintf(path, sizeof(path), "%s/%s", dir, f[0]);
		if (mc_read_file(path, MAX_MESSAGE, &m[n].text, &m[n].len) < 0) {
			fprintf(stderr, "%s: %s: %s\n", prog, path, strerror(errno));
			goto fail;
		}
		n++;
		if (!(m[n - 1].from = strdup(f[1])) || !(m[n - 1].rcpt = strdup(f[2])) ||
		    !(m[n - 1].ip = strdup(f[3])) || !(m[n - 1].helo = strdup(f[4])))
			goto oom;
	}
	fclose(idx);
	if (n == 0) {
		fprintf(stderr, "%s: %s/index lists no message\n", prog, dir);
		free(m);
		return -1;
	}
	*msgs_r = m;
	*n_r = n;
	return 0;
oom:
	fprintf(stderr, "%s: out of memory\n", prog);
fail:
	fclose(idx);
	bench_index_free(m, n);
	return -1;
}
