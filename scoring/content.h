/*
 * content.h - one message's content features, extracted as it streams.
 *
 * A struct hm_content runs the MIME decoder (scoring/mime.h) and turns what
 * it emits, together with a curated set of header features and the
 * message's own SPF/DKIM/DMARC verdicts, into hashed feature indexes in
 * [0, HM_CLS_BUCKETS), each distinct index once (DESIGN §9).  The daemon's
 * scan, scan mode and the learner all extract features with this module and
 * nothing else, so a message learned is the message classified.
 *
 *	c = hm_content_begin(key);
 *	hm_content_header(c, name, value);	each top-level header, in order
 *	hm_content_eoh(c);
 *	hm_content_body(c, chunk, len);		any number of chunks
 *	hm_content_envelope(c, mail_from);	the envelope sender (optional)
 *	hm_content_auth(c, &auth);		once the verdicts are known (optional)
 *	hm_content_finish(c, &idx, &n);		the features
 *	hm_content_free(&c);			at any point (abort)
 *
 * Headers that leak labels or that the milter adds or strips (Date,
 * Received, Delivered-To, Return-Path, X-Spam-*, Authentication-Results,
 * ...) are never features.  Memory is bounded whatever the message size.  Each function
 * returns 0, or -1 only when out of memory.  Used by one thread at a time.
 */
#ifndef HM_CONTENT_H
#define HM_CONTENT_H

#include <stddef.h>
#include <stdint.h>

#include "scoring/classifier.h"
#include "scoring/results.h"

/* The message's authentication verdicts, as features. */
struct hm_content_auth {
	enum hm_spf_result spf;		/* HM_SPF_NONE when not checked */
	enum hm_dkim_result dkim;	/* the best signature's, HM_DKIM_NONE without one */
	enum hm_dmarc_result dmarc;
};

struct hm_content;

/* A new extractor hashing with key; NULL when out of memory. */
struct hm_content *hm_content_begin(const unsigned char key[HM_CLS_KEY_LEN]);

int hm_content_header(struct hm_content *c, const char *name, const char *value);
int hm_content_eoh(struct hm_content *c);
int hm_content_body(struct hm_content *c, const unsigned char *chunk, size_t len);
/*
 * The envelope sender: the MAIL FROM argument ("<a@example.org>", "<>" or
 * NULL for the null sender) in the daemon, the value of a stored message's
 * Return-Path (which delivery writes from it) in the learner.  Any time
 * before hm_content_finish().
 */
int hm_content_envelope(struct hm_content *c, const char *mail_from);
/* Before hm_content_finish(). */
int hm_content_auth(struct hm_content *c, const struct hm_content_auth *auth);

/*
 * Finish and return the distinct feature indexes (owned by c, valid until
 * hm_content_free).  0, or -1 when out of memory.
 */
int hm_content_finish(struct hm_content *c, const uint32_t **idx_r, size_t *n_r);

void hm_content_free(struct hm_content **c);

#endif
