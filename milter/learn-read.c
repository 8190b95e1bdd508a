/*
 * learn-read.c - the mail the learn and calibrate commands read (see
 * learn.h): a path walked (a message file, an mbox, a directory, a
 * Maildir's cur/ and new/, or "-" for standard input), split into
 * messages, and each message's features extracted and handed to the
 * walker's callback (learn-int.h).
 *
 * Files are mapped, not read: an mbox may be large.  A message is split
 * into header fields and body as the MTA hands them to the milter (the
 * value is everything after the colon, folded lines joined with CRLF; the
 * body with CRLF line ends; no Return-Path, which only delivery adds) and
 * fed to the same feature extractor as the daemon's, with the verdicts of
 * the Authentication-Results header the milter added at delivery.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/grow.h"
#include "milter/learn-int.h"
#include "scoring/authres.h"
#include "scoring/content.h"
#include "scoring/results.h"

#define STDIN_MAX (64u * 1024 * 1024)	/* one message on standard input */
#define FIELD_MAX (256 * 1024)		/* one header field, as the scan mode */
#define BODY_CHUNK 65536		/* as libmilter hands the body over */

/* ---- the message's own verdicts ---- */

static bool word_is(const char *s, size_t n, const char *w)
{
	return strlen(w) == n && strncasecmp(s, w, n) == 0;
}

/* "method=result" items of an Authentication-Results value (comments skipped). */
static void parse_authres(const char *v, struct hm_content_auth *a, bool *any)
{
	bool dkim_seen = false;
	const char *p = strchr(v, ';');	/* past the authserv-id */

	while (p && *p) {
		const char *m, *r;
		size_t mn, rn;
		int depth = 0;

		p++;
		/* Skip white space and comments before the method. */
		while (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n' || *p == '(' || depth) {
			if (*p == '(')
				depth++;
			else if (*p == ')')
				depth--;
			else if (*p == '\0')
				return;
			p++;
		}
		m = p;
		while (*p && *p != '=' && *p != ';' && *p != ' ' && *p != '/')
			p++;
		mn = (size_t)(p - m);
		while (*p && *p != '=' && *p != ';')
			p++;
		if (*p == '=') {
			r = ++p;
			while (*p == ' ')
				r = ++p;
			while (*p && *p != ';' && *p != ' ' && *p != '\t' && *p != '(' && *p != '\r')
				p++;
			rn = (size_t)(p - r);
			if (word_is(m, mn, "spf")) {
				for (int i = HM_SPF_NONE; i <= HM_SPF_PERMERROR; i++)
					if (word_is(r, rn, hm_spf_result_name(i)))
						a->spf = i, *any = true;
			} else if (word_is(m, mn, "dkim")) {
				/* The best signature's: a pass wins, else the first. */
				for (int i = HM_DKIM_NONE; i <= HM_DKIM_PERMERROR; i++)
					if (word_is(r, rn, hm_dkim_result_name(i)) &&
					    (!dkim_seen || i == HM_DKIM_PASS))
						a->dkim = i, dkim_seen = true, *any = true;
			} else if (word_is(m, mn, "dmarc")) {
				for (int i = HM_DMARC_NONE; i <= HM_DMARC_PERMERROR; i++)
					if (word_is(r, rn, hm_dmarc_result_name(i)))
						a->dmarc = i, *any = true;
			}
		}
		/* On to the next item, past quoted strings and comments. */
		depth = 0;
		while (*p && (*p != ';' || depth)) {
			if (*p == '(')
				depth++;
			else if (*p == ')' && depth)
				depth--;
			else if (*p == '"') {
				for (p++; *p && *p != '"'; p++)
					if (*p == '\\' && p[1])
						p++;
				if (!*p)
					break;
			}
			p++;
		}
	}
}

/* ---- one message ---- */

struct feed {
	struct hm_content *c;
	const char *authserv_id;
	struct hm_content_auth auth;
	bool auth_found;
	int error;
};

static void field(struct feed *f, char *text, size_t len)
{
	char *colon = memchr(text, ':', len), *end;

	text[len] = '\0';
	if (colon == NULL || colon == text)
		return;			/* no name: the scan mode ignores it too */
	end = colon;
	*colon = '\0';
	while (end > text && (end[-1] == ' ' || end[-1] == '\t'))
		*--end = '\0';
	/*
	 * Return-Path is written by the delivery agent; Postfix's cleanup
	 * drops any a sender wrote before the milter sees the headers
	 * (message_drop_headers), so the daemon never has one: neither may
	 * the learner, or it would learn features the daemon never sees.
	 */
	if (strcasecmp(text, "Return-Path") == 0)
		return;
	/* Ours, the topmost: added at delivery, after any forged one was removed. */
	if (!f->auth_found && strcasecmp(text, "Authentication-Results") == 0 &&
	    hm_authres_is_ours(colon + 1, f->authserv_id)) {
		bool any = false;

		parse_authres(colon + 1, &f->auth, &any);
		f->auth_found = any;
	}
	if (hm_content_header(f->c, text, colon + 1) < 0)
		f->error = ENOMEM;
}

/*
 * Feed msg[0..len) (LF or CRLF line ends).  mboxrd: each line of ">From ",
 * ">>From "... loses one '>'.  0, or -1.
 */
static int feed_message(struct feed *f, const char *msg, size_t len, bool mbox)
{
	char *fld = malloc(FIELD_MAX + 3), *out = NULL;
	size_t flen = 0, i = 0, o;
	bool dropped = false;

	if (fld == NULL)
		return -1;
	/* The header section, line by line. */
	while (i < len && !f->error) {
		const char *nl = memchr(msg + i, '\n', len - i);
		size_t end = nl ? (size_t)(nl - msg) : len, l = end - i;

		if (l && msg[i + l - 1] == '\r')
			l--;
		if (l == 0) {
			i = end + 1;
			break;
		}
		if (msg[i] == ' ' || msg[i] == '\t') {
			if (flen && !dropped && flen + 2 + l <= FIELD_MAX) {
				memcpy(fld + flen, "\r\n", 2);
				memcpy(fld + flen + 2, msg + i, l);
				flen += 2 + l;
			} else {
				dropped = flen != 0;
			}
		} else {
			if (flen && !dropped)
				field(f, fld, flen);
			dropped = l > FIELD_MAX;
			flen = dropped ? 0 : l;
			if (!dropped)
				memcpy(fld, msg + i, l);
		}
		i = end + 1;
	}
	if (flen && !dropped && !f->error)
		field(f, fld, flen);
	free(fld);
	if (f->error || hm_content_eoh(f->c) < 0)
		return -1;
	if (i > len)
		i = len;
	/* The body in chunks, CRLF line ends, mboxrd quoting undone. */
	if ((out = malloc(2 * BODY_CHUNK + 2)) == NULL)
		return -1;
	o = 0;
	for (bool bol = true; i < len; i++) {
		char ch = msg[i];

		if (mbox && bol && ch == '>') {
			size_t j = i;

			while (j < len && msg[j] == '>')
				j++;
			if (len - j >= 5 && memcmp(msg + j, "From ", 5) == 0) {
				bol = false;
				continue;	/* drop this one '>' */
			}
		}
		if (ch == '\n' && (i == 0 || msg[i - 1] != '\r'))
			out[o++] = '\r';
		out[o++] = ch;
		bol = ch == '\n';
		if (o >= 2 * BODY_CHUNK) {
			if (hm_content_body(f->c, (const unsigned char *)out, o) < 0) {
				free(out);
				return -1;
			}
			o = 0;
		}
	}
	if (o && hm_content_body(f->c, (const unsigned char *)out, o) < 0) {
		free(out);
		return -1;
	}
	free(out);
	if (f->auth_found && hm_content_auth(f->c, &f->auth) < 0)
		return -1;
	return 0;
}

static void one_message(struct walker *w, const char *msg, size_t len, bool mbox,
			const char *where)
{
	struct feed f = { .authserv_id = w->conf->authserv_id };
	const uint32_t *idx;
	size_t n;

	f.auth.spf = HM_SPF_NONE;
	f.auth.dkim = HM_DKIM_NONE;
	f.auth.dmarc = HM_DMARC_NONE;
	if ((f.c = hm_content_begin(w->key)) == NULL || feed_message(&f, msg, len, mbox) < 0 ||
	    hm_content_finish(f.c, &idx, &n) < 0) {
		fprintf(stderr, "hosterra-milter: %s: out of memory\n", where);
		w->unreadable++;
	} else if (n == 0) {
		fprintf(stderr, "hosterra-milter: %s: no content to learn from\n", where);
		w->unreadable++;
	} else if (w->message(w, idx, n, where) < 0) {
		w->stop = true;
	}
	hm_content_free(&f.c);
}

/* ---- paths ---- */

/* An mbox: messages start at "From " lines; the separator line is dropped. */
static void walk_mbox(struct walker *w, const char *p, size_t len, const char *path)
{
	size_t at = 0;
	unsigned count = 0;

	while (at < len && !w->stop) {
		const char *nl = memchr(p + at, '\n', len - at);
		size_t start = nl ? (size_t)(nl - p) + 1 : len, end = start;
		char where[4200];

		/* The next "From " at the start of a line ends this message. */
		while (end < len) {
			if (len - end >= 5 && memcmp(p + end, "From ", 5) == 0)
				break;
			nl = memchr(p + end, '\n', len - end);
			end = nl ? (size_t)(nl - p) + 1 : len;
		}
		snprintf(where, sizeof(where), "%s, message %u", path, ++count);
		{
			size_t mlen = end - start;

			/* The empty line before the next separator is mbox's, not the message's. */
			if (end < len && mlen >= 2 && p[start + mlen - 1] == '\n' &&
			    p[start + mlen - 2] == '\n')
				mlen--;
			else if (end < len && mlen >= 3 && memcmp(p + start + mlen - 3, "\n\r\n", 3) == 0)
				mlen -= 2;
			one_message(w, p + start, mlen, true, where);
		}
		at = end;
	}
}

static void walk_buffer(struct walker *w, const char *p, size_t len, const char *path)
{
	if (len >= 5 && memcmp(p, "From ", 5) == 0)
		walk_mbox(w, p, len, path);
	else
		one_message(w, p, len, false, path);
}

static void walk_file(struct walker *w, const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	void *p;

	if (fd < 0 || fstat(fd, &st) < 0) {
		fprintf(stderr, "hosterra-milter: %s: %s\n", path, strerror(errno));
		w->unreadable++;
		if (fd >= 0)
			close(fd);
		return;
	}
	if (!S_ISREG(st.st_mode)) {
		fprintf(stderr, "hosterra-milter: %s: not a file, directory or Maildir\n", path);
		w->unreadable++;
		close(fd);
		return;
	}
	if (st.st_size == 0) {
		fprintf(stderr, "hosterra-milter: %s: empty\n", path);
		w->unreadable++;
		close(fd);
		return;
	}
	p = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
	close(fd);
	if (p == MAP_FAILED) {
		fprintf(stderr, "hosterra-milter: %s: %s\n", path, strerror(errno));
		w->unreadable++;
		return;
	}
	(void)madvise(p, (size_t)st.st_size, MADV_SEQUENTIAL);
	walk_buffer(w, p, (size_t)st.st_size, path);
	munmap(p, (size_t)st.st_size);
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The regular files of a directory, in name order (hidden ones skipped). */
static void walk_dir_files(struct walker *w, const char *dir)
{
	DIR *d = opendir(dir);
	struct dirent *e;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (d == NULL) {
		fprintf(stderr, "hosterra-milter: %s: %s\n", dir, strerror(errno));
		w->unreadable++;
		return;
	}
	while ((e = readdir(d)) != NULL) {
		char *full;
		struct stat st;

		if (e->d_name[0] == '.')
			continue;
		if (asprintf(&full, "%s/%s", dir, e->d_name) < 0)
			break;
		if (stat(full, &st) < 0 || !S_ISREG(st.st_mode)) {
			free(full);
			continue;
		}
		if (n == cap) {
			char **more = hm_grow(names, &cap, sizeof(*names), 256);

			if (more == NULL) {
				free(full);
				break;
			}
			names = more;
		}
		names[n++] = full;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	for (size_t i = 0; i < n; i++) {
		if (!w->stop)
			walk_file(w, names[i]);
		free(names[i]);
	}
	free(names);
}

static bool is_dir(const char *path)
{
	struct stat st;

	return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

static void walk_stdin(struct walker *w)
{
	size_t cap = 65536, len = 0;
	char *buf = malloc(cap);
	ssize_t got;

	while (buf) {
		if (len == cap) {
			char *more = cap >= STDIN_MAX ? NULL : realloc(buf, cap * 2);

			if (more == NULL) {
				fprintf(stderr, "hosterra-milter: standard input: more than %u bytes\n",
					STDIN_MAX);
				free(buf);
				w->unreadable++;
				return;
			}
			buf = more;
			cap *= 2;
		}
		got = read(0, buf + len, cap - len);
		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0) {
			fprintf(stderr, "hosterra-milter: standard input: %s\n", strerror(errno));
			free(buf);
			w->unreadable++;
			return;
		}
		if (got == 0)
			break;
		len += (size_t)got;
	}
	if (buf == NULL || len == 0) {
		fprintf(stderr, "hosterra-milter: standard input: %s\n", buf ? "empty" : "out of memory");
		w->unreadable++;
	} else {
		/* One message; a leading "From " line is dropped, as in a file. */
		const char *p = buf;
		size_t l = len;

		if (l >= 5 && memcmp(p, "From ", 5) == 0) {
			const char *nl = memchr(p, '\n', l);

			l = nl ? l - (size_t)(nl + 1 - p) : 0;
			p = nl ? nl + 1 : p + len;
		}
		one_message(w, p, l, false, "standard input");
	}
	free(buf);
}

void learn_walk_path(struct walker *w, const char *path)
{
	if (strcmp(path, "-") == 0) {
		walk_stdin(w);
	} else if (is_dir(path)) {
		char cur[4200], new_[4200];

		snprintf(cur, sizeof(cur), "%s/cur", path);
		snprintf(new_, sizeof(new_), "%s/new", path);
		if (is_dir(cur) || is_dir(new_)) {	/* a Maildir */
			if (is_dir(cur))
				walk_dir_files(w, cur);
			if (is_dir(new_) && !w->stop)
				walk_dir_files(w, new_);
		} else {
			walk_dir_files(w, path);
		}
	} else {
		walk_file(w, path);
	}
}
