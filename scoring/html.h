/*
 * html.h - HTML to text, streaming.
 *
 * Fed UTF-8 in pieces of whole characters, it passes on the text a reader
 * sees: tags and comments dropped, the content of script and style
 * dropped, character references decoded (numeric ones and the named ones
 * mail uses), a line break for block elements so that words of two cells
 * or paragraphs are not glued.  The host of each href, src, action and
 * background URL goes to the host callback.  Bounded state, no allocation;
 * any input is accepted (broken markup becomes text or is skipped, as a
 * browser would roughly do).
 */
#ifndef HM_HTML_H
#define HM_HTML_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/urlhost.h"

typedef void hm_html_text_fn(void *arg, const char *s, size_t n);

struct hm_html {
	int state;
	bool endtag;			/* the tag being read is </...> */
	bool want_value;		/* the attribute being read holds a URL */
	unsigned dashes;		/* "-" seen in a row inside a comment */
	unsigned rawmatch;		/* how much of "</script" or "</style" matched */
	char tag[16];			/* tag name, lower-case, cut */
	size_t taglen;
	char attr[16];			/* attribute name, lower-case, cut */
	size_t attrlen;
	char quote;			/* quote of the attribute value */
	char raw[8];			/* "script" or "style" while inside one */
	char ent[32];			/* a character reference being read */
	size_t entlen;
	char val[512];			/* a URL attribute's value, cut */
	size_t vallen;
	char out[1024];			/* text gathered: markup cuts it in tiny runs */
	size_t outlen;
	hm_html_text_fn *text;
	hm_host_fn *host;
	void *arg;
};

void hm_html_init(struct hm_html *h, hm_html_text_fn *text, hm_host_fn *host, void *arg);
/* Start a new document. */
void hm_html_reset(struct hm_html *h);
void hm_html_feed(struct hm_html *h, const char *s, size_t n);
/* End of the document: a pending reference goes out as text. */
void hm_html_flush(struct hm_html *h);

/*
 * Decode the reference in name ("amp", "#233", "#x41"; no "&" or ";") to
 * UTF-8 in out (room for 4): its length, 0 when unknown.
 */
size_t hm_html_entity(const char *name, size_t n, char *out);

#endif
