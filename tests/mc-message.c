/*
 * mc-message.c - message files split as Postfix sends them (mc-message.h).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tests/mc-message.h"

static int body_add(struct mc_message *m, const char *p, size_t n)
{
	if (m->blen + n + 2 > m->bcap) {
		size_t cap = (m->blen + n + 2) * 2;
		char *b = realloc(m->body, cap);

		if (b == NULL)
			return -1;
		m->body = b;
		m->bcap = cap;
	}
	memcpy(m->body + m->blen, p, n);
	memcpy(m->body + m->blen + n, "\r\n", 2);
	m->blen += n + 2;
	return 0;
}

/* "Name:" at the start of a header line: length of the name, or 0. */
static size_t header_name_len(const char *line, size_t len)
{
	size_t i = 0, end;

	while (i < len && line[i] > ' ' && line[i] < 0x7f && line[i] != ':')
		i++;
	end = i;
	while (i < len && (line[i] == ' ' || line[i] == '\t'))
		i++;
	return end > 0 && i < len && line[i] == ':' ? end : 0;
}

/* Folded: Postfix sends the lines joined by a bare newline. */
static int header_unfold(struct mc_header *h, const char *line, size_t n)
{
	size_t old = strlen(h->value);
	char *v = realloc(h->value, old + n + 2);

	if (v == NULL)
		return -1;
	v[old] = '\n';
	memcpy(v + old + 1, line, n);
	v[old + 1 + n] = '\0';
	h->value = v;
	return 0;
}

static int header_add(struct mc_message *m, const char *line, size_t n, size_t nlen)
{
	const char *colon = memchr(line, ':', n);

	if (m->nh == m->cap) {
		size_t cap = m->cap ? m->cap * 2 : 16;
		struct mc_header *h = realloc(m->h, cap * sizeof(*h));

		if (h == NULL)
			return -1;
		m->h = h;
		m->cap = cap;
	}
	m->h[m->nh].name = strndup(line, nlen);
	m->h[m->nh].value = strndup(colon + 1, n - (size_t)(colon + 1 - line));
	m->nh++;
	return m->h[m->nh - 1].name && m->h[m->nh - 1].value ? 0 : -1;
}

int mc_message_parse(const char *text, size_t len, struct mc_message *m)
{
	bool in_headers = true;
	size_t off = 0;
	int rc = 0;

	memset(m, 0, sizeof(*m));
	while (rc == 0 && off < len) {
		const char *line = text + off, *nl = memchr(line, '\n', len - off);
		size_t n = nl ? (size_t)(nl - line) : len - off, nlen;

		off += n + (nl ? 1 : 0);
		if (n > 0 && line[n - 1] == '\r')
			n--;
		if (!in_headers)
			rc = body_add(m, line, n);
		else if (n == 0)
			in_headers = false;
		else if ((line[0] == ' ' || line[0] == '\t') && m->nh > 0)
			rc = header_unfold(&m->h[m->nh - 1], line, n);
		else if ((nlen = header_name_len(line, n)) > 0)
			rc = header_add(m, line, n, nlen);
		else {
			in_headers = false;	/* not a header: the body starts here */
			rc = body_add(m, line, n);
		}
	}
	if (rc < 0) {
		mc_message_free(m);
		return -1;
	}
	for (size_t i = 0; i < m->nh; i++)
		m->size += strlen(m->h[i].name) + strlen(m->h[i].value) + 3;
	m->size += m->blen;
	return 0;
}

void mc_message_free(struct mc_message *m)
{
	for (size_t i = 0; i < m->nh; i++) {
		free(m->h[i].name);
		free(m->h[i].value);
	}
	free(m->h);
	free(m->body);
	memset(m, 0, sizeof(*m));
}

int mc_read_file(const char *path, size_t max, char **buf_r, size_t *len_r)
{
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	char *buf = NULL;
	size_t len = 0, cap = 0;
	int err = 0;

	if (f == NULL)
		return -1;
	for (;;) {
		if (len == cap) {
			char *b;

			if (cap >= max) {
				err = EFBIG;
				break;
			}
			cap = cap ? cap * 2 : 65536;
			if ((b = realloc(buf, cap)) == NULL) {
				err = ENOMEM;
				break;
			}
			buf = b;
		}
		size_t n = fread(buf + len, 1, cap - len, f);

		if (n == 0)
			break;
		len += n;
	}
	if (err == 0 && ferror(f))
		err = EIO;
	if (f != stdin)
		fclose(f);
	if (err) {
		free(buf);
		errno = err;
		return -1;
	}
	*buf_r = buf;
	*len_r = len;
	return 0;
}
