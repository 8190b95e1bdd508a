/*
 * fuzz-dkim-body.c - libFuzzer target: the DKIM body hash of our own
 * (scoring/dkim-body.c) against libopendkim's, on any body.  The first
 * byte picks the canonicalization and the hash, the second where the
 * body is cut into chunks; the rest is the body.  libopendkim is given it
 * in one piece and signs it (tests/dkim-oracle.c); its bh= must be ours,
 * and a relaxed body it refuses must be one we flag as unterminated.
 * Simple canonicalization gets no bare LF (libopendkim mangles those; an
 * MTA never sends one): each becomes a space.
 */
#include "config.h"

#include "scoring/dkim-body.h"
#include "tests/dkim-oracle.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct dkim_oracle *o;
	char want[HM_DKIM_BODYHASH_B64_MAX], got[HM_DKIM_BODYHASH_B64_MAX];
	struct hm_dkim_bodyhash *h;
	bool relaxed, sha1;
	unsigned step;
	uint8_t *body;
	size_t len;
	int lib;

	if (size < 2 || size > 8192)
		return 0;
	if (o == NULL && (o = dkim_oracle_new()) == NULL)
		abort();
	relaxed = data[0] & 1;
	sha1 = data[0] & 2;
	step = 1 + data[1];
	len = size - 2;
	body = malloc(len + 1);
	if (body == NULL)
		return 0;
	memcpy(body, data + 2, len);
	for (size_t i = 0; !relaxed && i < len; i++)
		if (body[i] == '\n' && (i == 0 || body[i - 1] != '\r'))
			body[i] = ' ';
	h = hm_dkim_bodyhash_new(relaxed ? HM_DKIM_BODY_RELAXED : HM_DKIM_BODY_SIMPLE,
				 sha1 ? HM_DKIM_BODY_SHA1 : HM_DKIM_BODY_SHA256);
	if (h == NULL) {
		free(body);
		return 0;
	}
	for (size_t at = 0; at < len; at += step)
		if (hm_dkim_bodyhash_update(h, body + at, len - at < step ? len - at : step) < 0)
			abort();
	lib = dkim_oracle_bodyhash(o, relaxed, sha1, body, len, want, sizeof(want));
	if (lib < 0)
		abort();
	if ((lib == 1) != hm_dkim_bodyhash_unterminated(h)) {
		fprintf(stderr, "fuzz-dkim-body: libopendkim %s, ours %s\n",
			lib == 1 ? "refused the body" : "took it",
			hm_dkim_bodyhash_unterminated(h) ? "flagged it" : "did not flag it");
		abort();
	}
	if (hm_dkim_bodyhash_final(h, got, sizeof(got)) < 0)
		abort();
	if (lib == 0 && strcmp(want, got) != 0) {
		fprintf(stderr, "fuzz-dkim-body: libopendkim bh=%s, ours %s\n", want, got);
		abort();
	}
	hm_dkim_bodyhash_free(&h);
	free(body);
	return 0;
}
