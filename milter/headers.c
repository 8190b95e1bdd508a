/*
 * headers.c - counting incoming X-Spam-* headers for removal.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "milter/headers.h"
#include "scoring/authres.h"

bool hm_header_is_ours(const char *name)
{
	return strncasecmp(name, "X-Spam-", 7) == 0;
}

int hm_header_track_seen(struct hm_header_track *t, const char *name)
{
	if (!hm_header_is_ours(name))
		return 0;
	for (size_t i = 0; i < t->nnames; i++) {
		if (strcasecmp(t->names[i].name, name) == 0) {
			t->names[i].count++;
			return 0;
		}
	}
	if (t->nnames == HM_TRACK_MAX_NAMES) {
		t->overflow = true;
		return 0;
	}
	if ((t->names[t->nnames].name = strdup(name)) == NULL)
		return -1;
	t->names[t->nnames++].count = 1;
	return 0;
}

void hm_header_track_authres(struct hm_header_track *t, const char *value,
			     const char *authserv_id)
{
	t->authres_seen++;
	if (!hm_authres_is_ours(value, authserv_id))
		return;
	if (t->nauthres_ours == HM_TRACK_MAX_AUTHRES) {
		t->overflow = true;
		return;
	}
	t->authres_ours[t->nauthres_ours++] = t->authres_seen;
}

int hm_header_track_replay(const struct hm_header_track *t,
			   int (*del)(const char *name, unsigned index, void *arg), void *arg)
{
	for (size_t i = 0; i < t->nnames; i++)
		for (unsigned idx = t->names[i].count; idx > 0; idx--) {
			int rc = del(t->names[i].name, idx, arg);

			if (rc != 0)
				return rc;
		}
	/* Recorded in increasing order: delete from the last. */
	for (size_t i = t->nauthres_ours; i > 0; i--) {
		int rc = del("Authentication-Results", t->authres_ours[i - 1], arg);

		if (rc != 0)
			return rc;
	}
	return 0;
}

void hm_header_track_clear(struct hm_header_track *t)
{
	for (size_t i = 0; i < t->nnames; i++)
		free(t->names[i].name);
	memset(t, 0, sizeof(*t));
}
