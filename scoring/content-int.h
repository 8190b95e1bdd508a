/*
 * content-int.h - what the content features' files share (content.c,
 * content-text.c); nothing else includes it.  The public interface is
 * content.h.
 */
#ifndef HM_CONTENT_INT_H
#define HM_CONTENT_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "scoring/content.h"
#include "scoring/features.h"
#include "scoring/mime.h"

#define OSB_WINDOW 4			/* word pairs up to this far apart */
#define WORD_MAX 32			/* longer words are one "long word" feature */
#define DOMAIN_KEEP 128

/* The state of one normalised text stream. */
struct textstream {
	enum hm_ns ns_gram, ns_word, ns_osb;	/* ns_gram 0: no 4-grams */
	uint64_t ring;			/* last four characters, 16 bits each */
	unsigned nchars;		/* characters in ring (saturates at 4) */
	bool space;			/* the last character was white space */
	unsigned char word[WORD_MAX];
	size_t wlen;
	bool wlong;
	uint64_t prev[OSB_WINDOW];	/* hashes of the last words, [0] latest */
	unsigned nprev;
	unsigned long letters, upper;	/* for the capitals ratio */
};

struct hm_content {
	struct hm_fkey key;
	struct hm_fset set;
	struct hm_mime *mime;
	bool failed;			/* out of memory on the way */
	struct textstream body, subj, name;
	unsigned urls, names;
	/* Header facts, compared at the end of the headers. */
	char from_dom[DOMAIN_KEEP], reply_dom[DOMAIN_KEEP], env_dom[DOMAIN_KEEP];
	char msgid_dom[DOMAIN_KEEP];
	bool seen_from, seen_reply, seen_env, env_null, seen_msgid, seen_to, seen_mailer;
	unsigned rcpts;
	bool eoh_done, finished;
};

/* One feature into the message's set: inline, it is called for every
 * character of text. */
static inline void content_add(struct hm_content *c, uint64_t h)
{
	if (hm_fset_add(&c->set, hm_fbucket(h)) < 0)
		c->failed = true;
}

/* content-text.c: a text stream's features, into c. */
void content_stream_init(struct textstream *t, enum hm_ns g, enum hm_ns w, enum hm_ns o);
void content_stream_break(struct hm_content *c, struct textstream *t);
void content_stream_text(struct hm_content *c, struct textstream *t, const char *s, size_t len);

#endif
