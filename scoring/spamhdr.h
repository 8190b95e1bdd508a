/*
 * spamhdr.h - the X-Spam-* headers we add (DESIGN §3):
 *
 *   X-Spam-Score: 9.50
 *   X-Spam-Status: Yes, score=9.50 tag=8.00 reject=15.00
 *	tests=SPF_FAIL(3.00),DKIM_NONE(0.50),...
 *   X-Spam-Flag: YES			(only for mail tagged as spam)
 *
 * Values are built without the leading space; long lists are folded with
 * "\n\t" between symbols.
 */
#ifndef HM_SPAMHDR_H
#define HM_SPAMHDR_H

#include <stdbool.h>

#include "util/strbuf.h"
#include "scoring/symbols.h"

int hm_spamhdr_score(struct hm_strbuf *out, double score);

int hm_spamhdr_status(struct hm_strbuf *out, bool spam, double score, double tag,
		      double reject, const struct hm_symbols *symbols);

#endif
