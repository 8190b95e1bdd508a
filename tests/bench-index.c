/*
 * bench-index.c - what the benchmarks' load clients share (bench-index.h).
 */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

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

double bench_now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

double bench_proc_cpu_s(long pid)
{
	char path[64], buf[2048], *p;
	unsigned long long ut, st;
	FILE *f;
	size_t n;

	snprintf(path, sizeof(path), "/proc/%ld/stat", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	n = fread(buf, 1, sizeof(buf) - 1, f);
	fclose(f);
	buf[n] = '\0';
	/* Fields after the command name, which may hold spaces: from ')'. */
	if ((p = strrchr(buf, ')')) == NULL ||
	    sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
		return -1;
	return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}

long bench_proc_kib(long pid, const char *field)
{
	char path[64], line[256];
	size_t fl = strlen(field);
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%ld/status", pid);
	if ((f = fopen(path, "r")) == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strncmp(line, field, fl) == 0 && line[fl] == ':')
			v = strtol(line + fl + 1, NULL, 10);
	fclose(f);
	return v;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void bench_sort(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), cmp_double);
}

double bench_percentile(const double *v, size_t n, double p)
{
	double want = p * (double)n;
	size_t k = (size_t)want;

	if (n == 0)
		return 0;
	if ((double)k < want)
		k++;			/* rank = ceil(p * n), at least 1 */
	if (k < 1)
		k = 1;
	return v[(k <= n ? k : n) - 1];
}
