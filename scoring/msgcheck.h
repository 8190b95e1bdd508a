/*
 * msgcheck.h - header facts of one message and the header symbols:
 * MISSING_DATE, MISSING_MESSAGE_ID, MISSING_FROM, MULTIPLE_FROM,
 * DATE_IN_PAST, DATE_IN_FUTURE.
 *
 * Feed every header to hm_msgcheck_header() (names case-insensitive,
 * values as libmilter gives them: leading space kept, folded lines joined
 * with "\n" or "\r\n"); then hm_msgcheck_finish() fires the symbols.  The
 * state is a plain struct the caller embeds in its message context: no
 * allocation, nothing to free.
 *
 * The rules:
 *  - MISSING_FROM: no From header, or only empty ones (detail "empty");
 *  - MULTIPLE_FROM: more than one From header ("N From headers"), or more
 *    than one address in From ("N addresses").  A Sender header would make
 *    several mailboxes legal (RFC 5322 3.6.2); it is not taken into account;
 *  - MISSING_DATE / MISSING_MESSAGE_ID: the header is absent or its value
 *    is empty (white space only).  A Date that does not parse also fires
 *    MISSING_DATE, with detail "unparseable: REASON": an unusable Date is
 *    as bad as none, and there is no separate symbol for it;
 *  - DATE_IN_PAST: the first Date header lies more than 7 days before now
 *    (detail "N days"); DATE_IN_FUTURE: more than 1 day after now ("N hours"
 *    under two days, else "N days").
 * Only the first Date header is judged.
 */
#ifndef HM_MSGCHECK_H
#define HM_MSGCHECK_H

#include <stdbool.h>
#include <time.h>

#include "util/address.h"
#include "scoring/symbols.h"

#define HM_DATE_PAST_MAX (7 * 86400)	/* DATE_IN_PAST beyond this */
#define HM_DATE_FUTURE_MAX 86400	/* DATE_IN_FUTURE beyond this */
#define HM_DATE_ERR_MAX 48		/* hm_date_parse()'s reasons fit */

enum hm_date_state {
	HM_DATE_ABSENT,			/* no Date header, or only empty ones */
	HM_DATE_BAD,			/* the first non-empty Date did not parse */
	HM_DATE_OK
};

struct hm_msgcheck {
	unsigned from_headers;		/* From headers seen (empty ones too) */
	unsigned from_nonempty;
	unsigned msgid_nonempty;	/* non-empty Message-ID headers */
	enum hm_date_state date_state;
	time_t date;			/* HM_DATE_OK: seconds since the epoch, UTC */
	char date_err[HM_DATE_ERR_MAX];	/* HM_DATE_BAD: why */
};

void hm_msgcheck_init(struct hm_msgcheck *m);

/* Note one header.  NULL name or value: ignored. */
void hm_msgcheck_header(struct hm_msgcheck *m, const char *name, const char *value);

/*
 * Fire the symbols into out.  from: the parsed From list of the message
 * (NULL is taken as no address); now: the time to judge Date against.
 */
void hm_msgcheck_finish(const struct hm_msgcheck *m, const struct hm_from_list *from,
			time_t now, const struct hm_weights *w, struct hm_symbols *out);

/*
 * Parse an RFC 5322 date-time (section 3.3), obsolete forms of section 4.3
 * included: optional day of week, comments and folding white space between
 * the parts, seconds optional, 2-digit years (00-49 are 20xx, 50-99 19xx)
 * and 3-digit years (+1900), the zones UT, GMT and the US names, and the
 * military single letters (taken as -0000, i.e. UTC, as RFC 5322 says).
 * Also accepted: a one-digit hour, as some mailers write it.  Checked: the
 * day exists in its month (leap years), hour <= 23, minute <= 59, second
 * <= 60, zone minutes <= 59, year 1900-9999, a day-of-week name is a real
 * one (whether it agrees with the date is not checked).  Locale-independent.
 * 0 with the UTC time in *t_r, or -1 with the reason in err (at most
 * HM_DATE_ERR_MAX bytes with its NUL).
 */
int hm_date_parse(const char *value, time_t *t_r, char *err, size_t errlen);

#endif
