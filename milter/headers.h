/*
 * headers.h - which incoming headers the milter removes at end of message.
 *
 * The milter protocol deletes a header by name and 1-based occurrence index
 * among the headers of that name.  Incoming X-Spam-* headers are always
 * removed (a sender must not pre-tag its own mail), so it is enough to count,
 * per distinct X-Spam-* name, how many there were: hm_header_track_seen()
 * is called for every header, and the edits are replayed from the counts,
 * last occurrence first so that indexes stay valid whatever the MTA does.
 *
 * Authentication-Results headers that claim our authserv-id are forged (or
 * ours from an earlier pass) and are removed too (RFC 8601 §5):
 * hm_header_track_authres() is called for every Authentication-Results
 * header and remembers the occurrence indexes of those to delete.
 */
#ifndef HM_HEADERS_H
#define HM_HEADERS_H

#include <stdbool.h>
#include <stddef.h>

#define HM_TRACK_MAX_NAMES 64		/* distinct X-Spam-* names per message */
#define HM_TRACK_MAX_AUTHRES 64		/* our-id Authentication-Results per message */

struct hm_header_count {
	char *name;
	unsigned count;
};

struct hm_header_track {
	struct hm_header_count names[HM_TRACK_MAX_NAMES];
	size_t nnames;
	bool overflow;			/* more than we can track: removal incomplete */
	unsigned authres_seen;		/* Authentication-Results headers so far */
	unsigned authres_ours[HM_TRACK_MAX_AUTHRES];	/* indexes (1-based) to delete */
	size_t nauthres_ours;
};

/* Does the milter own headers of this name (X-Spam-*, any case)? */
bool hm_header_is_ours(const char *name);

/* Note one incoming header.  -1 when out of memory. */
int hm_header_track_seen(struct hm_header_track *t, const char *name);

/* Note one incoming Authentication-Results header with its value. */
void hm_header_track_authres(struct hm_header_track *t, const char *value,
			     const char *authserv_id);

/*
 * Call del(name, index, arg) for every tracked occurrence, highest index of
 * each name first.  Stops at and returns the first non-zero result of del.
 */
int hm_header_track_replay(const struct hm_header_track *t,
			   int (*del)(const char *name, unsigned index, void *arg), void *arg);

void hm_header_track_clear(struct hm_header_track *t);

#endif
