/*
 * scan.h - one message through the sender-authentication checks.
 *
 * The milter callbacks (and the scan mode) feed a message to a struct
 * hm_scan in SMTP order; hm_scan_finish() runs what is left (SPF, the DKIM
 * verdicts, DMARC, the header checks, the operator's rules and the content
 * classifier), turns every finding into symbols and fills a struct
 * hm_scan_result with them and the score.  The body is streamed into the
 * DKIM verifier, the body rules and the content features, never kept.  The connection-level checks (DNSBL, rDNS, HELO) belong to
 * the connection: their symbols are added by the caller (hm_client_check).
 *
 *	s = hm_scan_begin(engine, &envelope, queue_id);
 *	hm_scan_header(s, name, value);		each header, in order
 *	hm_scan_eoh(s);
 *	hm_scan_body(s, chunk, len);		any number of chunks
 *	hm_scan_finish(s, client_symbols, &result);
 *	hm_scan_free(&s);			at any point (abort)
 *
 * A scan is used by one thread at a time; the engine is shared.
 */
#ifndef HM_SCAN_H
#define HM_SCAN_H

#include <stdbool.h>
#include <stddef.h>

#include <time.h>

#include "util/address.h"
#include "scoring/classifier.h"
#include "scoring/engine.h"
#include "scoring/msgcheck.h"
#include "scoring/rules.h"
#include "scoring/symbols.h"
#include "scoring/results.h"
#include "util/strbuf.h"

struct hm_envelope {
	const char *client_ip;		/* NULL: a local or unknown client, no IP checks */
	const char *helo;		/* may be NULL */
	const char *mail_from;		/* MAIL FROM argument; NULL or "<>": null sender */
};

struct hm_scan_result {
	bool spf_checked;		/* false for clients without an IP */
	struct hm_spf_outcome spf;
	struct hm_dkim_outcome dkim;
	size_t dkim_ignored;		/* signatures past HM_DKIM_MAX_SIGS */
	struct hm_dmarc_outcome dmarc;
	struct hm_from_list from;	/* the From header addresses */
	struct hm_symbols symbols;	/* every symbol fired */
	double score;			/* their sum */
};

/* What a scan is judged with; shared and read-only. */
struct hm_scan_opts {
	const struct hm_weights *weights;
	const struct hm_rules *rules;	/* NULL: no operator rules */
	time_t now;			/* to judge Date against; 0: the clock */
	/*
	 * The content model (NULL: no classifier): the scan takes the snapshot
	 * published at begin and judges with it; none published, or one that
	 * has not learned enough (points->min_spam/min_ham), costs nothing more.
	 */
	struct hm_cls_slot *model;
	const struct hm_cls_points *points;	/* NULL: HM_CLS_POINTS_DEFAULT */
};

struct hm_scan;

/* A new message (the envelope strings are copied); NULL: out of memory. */
struct hm_scan *hm_scan_begin(struct hm_engine *engine, const struct hm_scan_opts *opts,
			      const struct hm_envelope *env, const char *id);

/* Each returns 0, or -1 on an internal failure (out of memory). */
int hm_scan_header(struct hm_scan *s, const char *name, const char *value);
int hm_scan_eoh(struct hm_scan *s);
int hm_scan_body(struct hm_scan *s, const unsigned char *chunk, size_t len);

/*
 * Run the remaining checks and fill *r, symbols and score included: the
 * symbols of more (the client checks'; NULL: none) are added after the
 * message's, before the score is summed, once.  0, or -1 on an internal
 * failure.
 */
int hm_scan_finish(struct hm_scan *s, const struct hm_symbols *more, struct hm_scan_result *r);

void hm_scan_free(struct hm_scan **s);

/* The Authentication-Results value for a result.  0, or -1 (too long). */
int hm_scan_authres(const struct hm_scan_result *r, const char *authserv_id,
		    struct hm_strbuf *out);

#endif
