/*
 * bench-mime.c - how long the MIME decoder (scoring/mime.h) takes per
 * message, as the milter runs it: one decoder per message, headers one by
 * one, the body in chunks of up to 64 KiB (Postfix's body chunks), a sink
 * that only counts.
 *
 * Every message under the directories or files given is read into memory
 * first and its header block split into fields (not timed); then the whole
 * set is decoded ROUNDS times (default 20, env HM_BENCH_ROUNDS) and the best
 * round is reported in CPU time: microseconds per message, per 10 KiB of
 * message, and MB/s.
 *
 *	bench-mime DIR|FILE...		e.g. bench-mime /work/corpus
 */
#include "config.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "scoring/mime.h"

struct msg {
	char **names, **values;
	size_t nfields;
	const unsigned char *body;
	size_t blen, len;
	char *buf;
};

static struct msg *msgs;
static size_t nmsgs;

static void *xrealloc(void *p, size_t n)
{
	p = realloc(p, n);
	if (p == NULL) {
		perror("bench-mime");
		exit(2);
	}
	return p;
}

/* Split the header block into fields, the way tests/mime-feed.c does. */
static void load(const char *path)
{
	FILE *f = fopen(path, "rb");
	struct msg m = { 0 };
	size_t cap = 0, n = 0, r;
	char *p, *end, *field = NULL;

	if (f == NULL)
		return;
	do {
		if (n == cap)
			m.buf = xrealloc(m.buf, cap = cap ? 2 * cap : 65536);
		r = fread(m.buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	m.len = n;
	p = m.buf;
	end = m.buf + n;
	if (n >= 5 && memcmp(p, "From ", 5) == 0)
		p = memchr(p, '\n', n) ? (char *)memchr(p, '\n', n) + 1 : end;
	for (;;) {
		char *nl = p < end ? memchr(p, '\n', (size_t)(end - p)) : NULL, *next;
		bool blank = p >= end || *p == '\n' || (*p == '\r' && p + 1 < end && p[1] == '\n');

		next = nl != NULL ? nl + 1 : end;
		if (blank || ((*p != ' ' && *p != '\t') && field != NULL)) {
			if (field != NULL) {
				char *colon = memchr(field, ':', (size_t)(p - field)), *v;
				size_t vl;

				if (colon != NULL) {
					*colon = '\0';
					v = colon + 1 + (colon[1] == ' ');
					vl = (size_t)(p - v);
					while (vl > 0 && (v[vl - 1] == '\n' || v[vl - 1] == '\r'))
						vl--;
					m.names = xrealloc(m.names, (m.nfields + 1) * sizeof(char *));
					m.values = xrealloc(m.values, (m.nfields + 1) * sizeof(char *));
					m.names[m.nfields] = strdup(field);
					m.values[m.nfields] = strndup(v, vl);
					m.nfields++;
				}
			}
			field = NULL;
		}
		if (blank) {
			p = p < end ? next : end;
			break;
		}
		if (*p != ' ' && *p != '\t')
			field = memchr(p, ':', (size_t)(next - p)) != NULL ? p : NULL;
		p = next;
	}
	m.body = (const unsigned char *)p;
	m.blen = (size_t)(end - p);
	msgs = xrealloc(msgs, (nmsgs + 1) * sizeof(*msgs));
	msgs[nmsgs++] = m;
}

static void collect(const char *path)
{
	struct stat st;
	struct dirent **ents;
	int k;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		load(path);
		return;
	}
	k = scandir(path, &ents, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (ents[i]->d_name[0] != '.') {
			char *sub = xrealloc(NULL, strlen(path) + strlen(ents[i]->d_name) + 2);

			sprintf(sub, "%s/%s", path, ents[i]->d_name);
			collect(sub);
			free(sub);
		}
		free(ents[i]);
	}
	if (k >= 0)
		free(ents);
}

static size_t emitted;

static void count(void *arg, enum hm_text_kind kind, const char *s, size_t n)
{
	(void)arg;
	(void)kind;
	(void)s;
	emitted += n;
}

static double now(void)
{
	struct timespec ts;

	/* CPU time, not wall time: the machine may be busy with other work. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
	const struct hm_mime_limits lim = { 32768, 4096, 8 };
	const struct hm_text_sink sink = { count, NULL };
	int rounds = getenv("HM_BENCH_ROUNDS") ? atoi(getenv("HM_BENCH_ROUNDS")) : 20;
	double best = 1e30;
	size_t bytes = 0;

	for (int i = 1; i < argc; i++)
		collect(argv[i]);
	if (nmsgs == 0) {
		fprintf(stderr, "usage: bench-mime DIR|FILE... (no message found)\n");
		return 2;
	}
	for (size_t i = 0; i < nmsgs; i++)
		bytes += msgs[i].len;
	for (int r = 0; r < rounds; r++) {
		double t0 = now();

		for (size_t i = 0; i < nmsgs; i++) {
			const struct msg *m = &msgs[i];
			struct hm_mime *d = hm_mime_begin(&lim, &sink);

			if (d == NULL)
				return 2;
			for (size_t f = 0; f < m->nfields; f++)
				hm_mime_header(d, m->names[f], m->values[f]);
			hm_mime_eoh(d);
			for (size_t off = 0; off < m->blen; off += 65536)
				hm_mime_body(d, m->body + off, m->blen - off < 65536 ? m->blen - off : 65536);
			hm_mime_finish(d);
			hm_mime_free(&d);
		}
		if (now() - t0 < best)
			best = now() - t0;
	}
	printf("%zu messages, %.1f MB, best of %d rounds: %.2f us per message, "
	       "%.2f us per 10 KiB, %.0f MB/s (%zu bytes emitted per round)\n",
	       nmsgs, bytes / 1e6, rounds, best * 1e6 / nmsgs, best * 1e6 / (bytes / 10240.0),
	       bytes / best / 1e6, emitted / (size_t)rounds);
	return 0;
}
