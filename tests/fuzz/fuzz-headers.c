/*
 * fuzz-headers.c - libFuzzer target: header values a sender writes and the
 * milter reads: Date (scoring/msgcheck.c), incoming Authentication-Results
 * (the authserv-id read by scoring/authres.c and the removal bookkeeping of
 * milter/headers.c), and the per-message header checks.
 * Input: "Name: value" lines separated by NUL bytes.
 */
#include "config.h"

#include <strings.h>
#include <time.h>

#include "milter/headers.h"
#include "scoring/authres.h"
#include "scoring/msgcheck.h"
#include "tests/fuzz/fuzz.h"

static int count_del(const char *name, unsigned index, void *arg)
{
	(*(unsigned *)arg)++;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_msgcheck mc;
	struct hm_header_track *track;
	struct hm_from_list from;
	struct hm_symbols *syms;
	struct hm_weights w;
	char *hdrs[64], id[256], err[128];
	unsigned deleted = 0;
	time_t t;
	size_t n;
	char *buf;

	if (size > 65536)
		return 0;
	buf = fuzz_split(data, size, '\0', hdrs, sizeof(hdrs) / sizeof(hdrs[0]), &n);
	track = calloc(1, sizeof(*track));
	syms = calloc(1, sizeof(*syms));
	if (buf == NULL || track == NULL || syms == NULL)
		goto out;
	hm_msgcheck_init(&mc);
	hm_from_init(&from);
	for (size_t i = 0; i < n; i++) {
		char *name = hdrs[i], *value = strchr(hdrs[i], ':');

		if (value == NULL) {
			/* A bare value: every parser gets it. */
			(void)hm_date_parse(name, &t, err, sizeof(err));
			(void)hm_authres_authserv_id(name, id, sizeof(id));
			(void)hm_authres_is_ours(name, "mx.test.example");
			continue;
		}
		*value++ = '\0';
		(void)hm_header_is_ours(name);
		(void)hm_header_track_seen(track, name);
		if (strcasecmp(name, "Authentication-Results") == 0)
			hm_header_track_authres(track, value, "mx.test.example");
		if (strcasecmp(name, "From") == 0)
			(void)hm_from_parse(&from, value, err, sizeof(err));
		hm_msgcheck_header(&mc, name, value);
	}
	(void)hm_header_track_replay(track, count_del, &deleted);
	hm_weights_default(&w);
	hm_msgcheck_finish(&mc, &from, (time_t)1700000000, &w, syms);
	hm_header_track_clear(track);
out:
	free(syms);
	free(track);
	free(buf);
	return 0;
}
