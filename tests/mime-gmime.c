/*
 * mime-gmime.c - the MIME decoder (scoring/mime.h) against a reference
 * parser, GMime.
 *
 * Each message is parsed by both.  Per message they must agree on the
 * multiset of leaf parts' content types, and on the decoded text of each
 * text/plain part (whitespace runs made one space, ends trimmed).  The
 * program speaks TAP: one case per message named on the command line (a
 * file, or a directory read recursively), and, when the directory in
 * $HM_CORPUS exists, one case summing up a whole corpus: its agreement
 * rates, each differing message listed as a TAP comment (and whether it
 * differs only in non-ASCII characters: text whose charset is missing or
 * wrong, read as windows-1252 by us and as U+FFFD by GMime).  The corpus
 * case fails only when agreement falls under HM_CORPUS_MIN percent
 * (default 0).
 *
 *	mime-gmime FILE|DIR...
 */
#include "config.h"

#include <ctype.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <gmime/gmime.h>

#include "scoring/mime.h"
#include "tests/mime-feed.h"

/* One side's view of a message: leaf types, and the text/plain texts. */
struct view {
	char **types;
	size_t ntypes;
	char **texts;
	size_t ntexts;
};

static void view_add(char ***v, size_t *n, const char *s, size_t len)
{
	char *c = malloc(len + 1);

	*v = realloc(*v, (*n + 1) * sizeof(**v));
	if (c == NULL || *v == NULL)
		abort();
	memcpy(c, s, len);
	c[len] = '\0';
	(*v)[(*n)++] = c;
}

static void view_free(struct view *v)
{
	for (size_t i = 0; i < v->ntypes; i++)
		free(v->types[i]);
	for (size_t i = 0; i < v->ntexts; i++)
		free(v->texts[i]);
	free(v->types);
	free(v->texts);
	memset(v, 0, sizeof(*v));
}

/* Whitespace runs to one space, ends trimmed, in place. */
static void normalise(char *s)
{
	size_t o = 0;
	bool space = false;

	for (size_t i = 0; s[i] != '\0'; i++) {
		if (isspace((unsigned char)s[i])) {
			space = o > 0;
			continue;
		}
		if (space)
			s[o++] = ' ';
		space = false;
		s[o++] = s[i];
	}
	s[o] = '\0';
}

/* Do a and b agree once non-ASCII characters are dropped from both? */
static bool ascii_agree(const char *a, const char *b)
{
	char *x = strdup(a), *y = strdup(b);
	bool eq;
	size_t o;

	if (x == NULL || y == NULL)
		abort();
	for (char *s = x; s != NULL; s = s == x ? y : NULL) {
		o = 0;
		for (size_t i = 0; s[i] != '\0'; i++)
			if ((unsigned char)s[i] < 0x80)
				s[o++] = s[i];
		s[o] = '\0';
		normalise(s);
	}
	eq = strcmp(x, y) == 0;
	free(x);
	free(y);
	return eq;
}

/* ---- GMime ---- */

static void gm_walk(GMimeObject *o, struct view *v, int depth)
{
	if (o == NULL || depth > 50)
		return;
	if (GMIME_IS_MULTIPART(o)) {
		GMimeMultipart *mp = GMIME_MULTIPART(o);

		for (int i = 0; i < g_mime_multipart_get_count(mp); i++)
			gm_walk(g_mime_multipart_get_part(mp, i), v, depth + 1);
		return;
	}
	if (GMIME_IS_MESSAGE_PART(o)) {
		GMimeMessage *msg = g_mime_message_part_get_message(GMIME_MESSAGE_PART(o));

		if (msg != NULL)
			gm_walk(g_mime_message_get_mime_part(msg), v, depth + 1);
		return;
	}
	char *type = g_mime_content_type_get_mime_type(g_mime_object_get_content_type(o));

	for (char *p = type; *p != '\0'; p++)
		*p = (char)tolower((unsigned char)*p);
	view_add(&v->types, &v->ntypes, type, strlen(type));
	if (strcmp(type, "text/plain") == 0 && GMIME_IS_TEXT_PART(o)) {
		char *text = g_mime_text_part_get_text(GMIME_TEXT_PART(o));

		if (text == NULL)
			text = g_strdup("");
		normalise(text);
		view_add(&v->texts, &v->ntexts, text, strlen(text));
		g_free(text);
	}
	g_free(type);
}

static void gm_view(const char *msg, size_t len, struct view *v)
{
	GMimeStream *stream = g_mime_stream_mem_new_with_buffer(msg, len);
	GMimeParser *parser = g_mime_parser_new_with_stream(stream);
	GMimeMessage *m = g_mime_parser_construct_message(parser, NULL);

	if (m != NULL) {
		gm_walk(g_mime_message_get_mime_part(m), v, 0);
		g_object_unref(m);
	}
	g_object_unref(parser);
	g_object_unref(stream);
}

/* ---- ours ---- */

static int hm_view(const char *msg, size_t len, struct view *v)
{
	struct hm_mime_limits lim = { 64u << 20, 64u << 10, 50 };
	struct hm_test_events e;
	struct hm_text_sink sink;
	struct hm_mime *m;
	const char *cur = NULL;
	int rc = 0;

	hm_test_events_init(&e);
	sink = hm_test_sink(&e);
	m = hm_mime_begin(&lim, &sink);
	if (m == NULL)
		abort();
	hm_test_mime_feed(m, msg, len, 4096);
	hm_mime_free(&m);
	/* "P type" lines, and the "B text" of the text/plain part after one. */
	for (char *line = e.s, *nl; *line != '\0'; line = nl + 1) {
		nl = strchr(line, '\n');
		*nl = '\0';
		if (line[0] == 'P') {
			view_add(&v->types, &v->ntypes, line + 2, strlen(line + 2));
			cur = v->types[v->ntypes - 1];
		} else if (line[0] == 'B' && cur != NULL) {
			if (strcmp(cur, "text/plain") == 0) {
				/* The sink escaped newlines and backslashes. */
				char *t = line + 2;
				size_t o = 0;

				for (size_t i = 0; t[i] != '\0'; i++) {
					if (t[i] == '\\' && t[i + 1] != '\0') {
						t[o++] = t[i + 1] == 'n' ? '\n' : t[i + 1];
						i++;
					} else {
						t[o++] = t[i];
					}
				}
				t[o] = '\0';
				normalise(t);
				view_add(&v->texts, &v->ntexts, t, strlen(t));
			}
			cur = NULL;
		}
	}
	if (e.violations > 0) {
		printf("# sink contract: %s\n", e.why);
		rc = -1;
	}
	hm_test_events_free(&e);
	return rc;
}

/* ---- comparison ---- */

static int cmpstr(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool types_agree(struct view *a, struct view *b)
{
	if (a->ntypes != b->ntypes)
		return false;
	qsort(a->types, a->ntypes, sizeof(char *), cmpstr);
	qsort(b->types, b->ntypes, sizeof(char *), cmpstr);
	for (size_t i = 0; i < a->ntypes; i++)
		if (strcmp(a->types[i], b->types[i]) != 0)
			return false;
	return true;
}

static void print_types(const char *who, const struct view *v)
{
	printf("#   %s types:", who);
	for (size_t i = 0; i < v->ntypes; i++)
		printf(" %s", v->types[i]);
	printf("\n");
}

/* Where two texts first differ, with some context. */
static void print_text_diff(const char *a, const char *b)
{
	size_t i = 0;

	while (a[i] != '\0' && a[i] == b[i])
		i++;
	size_t from = i > 40 ? i - 40 : 0;

	printf("#   texts differ at byte %zu:\n#     gmime: \"%.100s\"\n#     ours:  \"%.100s\"\n",
	       i, a + from, b + from);
}

/* Compare one message; true when both agree.  verbose: say how they differ. */
static bool compare(const char *name, const char *msg, size_t len, bool verbose,
		    bool *types_ok, bool *texts_ok, bool *ascii_ok)
{
	struct view g = { 0 }, h = { 0 };
	const char *body = msg;
	bool ok;

	/* GMime reads an mbox "From " line as a broken header: skip it as the feeder does. */
	if (len >= 5 && memcmp(msg, "From ", 5) == 0) {
		const char *nl = memchr(msg, '\n', len);

		body = nl != NULL ? nl + 1 : msg + len;
	}
	gm_view(body, len - (size_t)(body - msg), &g);
	if (hm_view(msg, len, &h) != 0) {
		*types_ok = *texts_ok = *ascii_ok = false;
		printf("# %s: our decoder failed\n", name);
		view_free(&g);
		view_free(&h);
		return false;
	}
	*texts_ok = *ascii_ok = g.ntexts == h.ntexts;
	for (size_t i = 0; *texts_ok && i < g.ntexts; i++)
		*texts_ok = strcmp(g.texts[i], h.texts[i]) == 0;
	for (size_t i = 0; *ascii_ok && i < g.ntexts; i++)
		*ascii_ok = ascii_agree(g.texts[i], h.texts[i]);
	*types_ok = types_agree(&g, &h);
	ok = *types_ok && *texts_ok;
	if (!ok && verbose) {
		printf("# %s differs%s:\n", name,
		       *types_ok && *ascii_ok ? " (in non-ASCII characters only)" : "");
		if (!*types_ok) {
			print_types("gmime", &g);
			print_types("ours ", &h);
		}
		if (!*texts_ok && g.ntexts != h.ntexts)
			printf("#   text/plain parts: gmime %zu, ours %zu\n", g.ntexts, h.ntexts);
		for (size_t i = 0; !*texts_ok && i < g.ntexts && i < h.ntexts; i++)
			if (strcmp(g.texts[i], h.texts[i]) != 0) {
				print_text_diff(g.texts[i], h.texts[i]);
				break;
			}
	}
	view_free(&g);
	view_free(&h);
	return ok;
}

static char *slurp(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n = 0, r;

	if (f == NULL)
		return NULL;
	do {
		if (n == cap) {
			cap = cap ? cap * 2 : 65536;
			buf = realloc(buf, cap);
			if (buf == NULL)
				abort();
		}
		r = fread(buf + n, 1, cap - n, f);
		n += r;
	} while (r > 0);
	fclose(f);
	*len = n;
	return buf;
}

/* Files under path (itself if a file), sorted, appended to list. */
static void collect(const char *path, char ***list, size_t *n)
{
	struct stat st;
	struct dirent **ents;
	int k;

	if (stat(path, &st) != 0)
		return;
	if (!S_ISDIR(st.st_mode)) {
		view_add(list, n, path, strlen(path));
		return;
	}
	k = scandir(path, &ents, NULL, alphasort);
	for (int i = 0; i < k; i++) {
		if (ents[i]->d_name[0] != '.') {
			char *sub = g_strdup_printf("%s/%s", path, ents[i]->d_name);

			collect(sub, list, n);
			g_free(sub);
		}
		free(ents[i]);
	}
	if (k >= 0)
		free(ents);
}

int main(int argc, char **argv)
{
	char **files = NULL, **corpus = NULL;
	size_t nfiles = 0, ncorpus = 0;
	const char *cdir = getenv("HM_CORPUS");
	int failed = 0, tn = 0;

	g_mime_init();
	for (int i = 1; i < argc; i++) {
		collect(argv[i], &files, &nfiles);
	}
	if (cdir != NULL && *cdir != '\0')
		collect(cdir, &corpus, &ncorpus);
	printf("1..%zu\n", nfiles + (ncorpus > 0));

	for (size_t i = 0; i < nfiles; i++) {
		size_t len;
		char *msg = slurp(files[i], &len);
		bool t, x, a, ok = msg != NULL && compare(files[i], msg, len, true, &t, &x, &a);

		printf("%s %d - %s agrees with GMime\n", ok ? "ok" : "not ok", ++tn, files[i]);
		failed += !ok;
		free(msg);
	}

	if (ncorpus > 0) {
		size_t agree = 0, tagree = 0, xagree = 0, aagree = 0, read = 0;
		double min = getenv("HM_CORPUS_MIN") ? atof(getenv("HM_CORPUS_MIN")) : 0.0;

		for (size_t i = 0; i < ncorpus; i++) {
			size_t len;
			char *msg = slurp(corpus[i], &len);
			bool t = false, x = false, a = false;

			if (msg == NULL)
				continue;
			read++;
			agree += compare(corpus[i], msg, len, true, &t, &x, &a);
			tagree += t;
			xagree += x;
			aagree += a;
			free(msg);
		}
		printf("# corpus %s: %zu messages; leaf types agree %zu (%.2f%%), "
		       "text/plain texts agree %zu (%.2f%%), both %zu (%.2f%%); "
		       "texts agree but for non-ASCII characters %zu (%.2f%%)\n",
		       cdir, read, tagree, 100.0 * tagree / read, xagree, 100.0 * xagree / read,
		       agree, 100.0 * agree / read, aagree, 100.0 * aagree / read);
		bool ok = 100.0 * agree / read >= min;

		printf("%s %d - corpus agreement %.2f%% (minimum %.2f%%)\n", ok ? "ok" : "not ok",
		       ++tn, 100.0 * agree / read, min);
		failed += !ok;
	}
	for (size_t i = 0; i < nfiles; i++)
		free(files[i]);
	for (size_t i = 0; i < ncorpus; i++)
		free(corpus[i]);
	free(files);
	free(corpus);
	return failed > 0;
}
