/*
 * spamhdr.c - X-Spam-Score and X-Spam-Status values.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>

#include "scoring/spamhdr.h"

#define FOLD_AT 72			/* fold before a symbol past this column */

int hm_spamhdr_score(struct hm_strbuf *out, double score)
{
	return hm_strbuf_printf(out, "%.2f", score);
}

int hm_spamhdr_status(struct hm_strbuf *out, bool spam, double score, double tag,
		      double reject, const struct hm_symbols *symbols)
{
	size_t line_start = out->len;

	hm_strbuf_printf(out, "%s, score=%.2f tag=%.2f reject=%.2f tests=", spam ? "Yes" : "No",
			 score, tag, reject);
	if (symbols->count == 0 && symbols->dropped == 0)
		hm_strbuf_puts(out, "none");
	for (size_t i = 0; i < symbols->count; i++) {
		char item[HM_SYM_NAME_MAX + 16];
		size_t n = (size_t)snprintf(item, sizeof(item), "%s%s(%.2f)", i ? "," : "",
					    symbols->fired[i].name, symbols->fired[i].weight);

		/* "X-Spam-Status: " takes 15 columns of the first line. */
		if (out->len - line_start + n + (line_start == 0 ? 15 : 0) > FOLD_AT && i > 0) {
			hm_strbuf_puts(out, ",\n\t");
			line_start = out->len;
			hm_strbuf_puts(out, item + 1);
		} else {
			hm_strbuf_puts(out, item);
		}
	}
	if (symbols->dropped)
		hm_strbuf_printf(out, ",+%zu_MORE(%.2f)", symbols->dropped, symbols->dropped_weight);
	return out->failed ? -1 : 0;
}
