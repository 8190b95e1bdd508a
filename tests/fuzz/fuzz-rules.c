/*
 * fuzz-rules.c - libFuzzer target: a sender's headers and raw body through
 * the operator's regular-expression rules (scoring/rules.c): header values
 * unfolded, the body cut into lines across chunk boundaries, excerpts of
 * matches escaped for the log, PCRE2's limits on a pathological pattern.
 * Input: first byte the chunk size seed; then headers "Name: value"
 * separated by NUL bytes; after an empty piece, the body (NULs and all).
 */
#include "config.h"

#include "scoring/rules.h"
#include "tests/fuzz/fuzz.h"

#define MAX_HEADERS 32

static const struct hm_rule_def defs[] = {
	{ "FZ_SUBJECT", HM_RULE_HEADER, "Subject", "\\b(lottery|jackpot)\\b", 3, true },
	{ "FZ_FROM", HM_RULE_HEADER, "From", "@[a-z0-9.-]+\\.(ru|cn)>?$", 1, true },
	{ "FZ_SLOW", HM_RULE_HEADER, "X-Slow", "^(a+)+$", 1, false },
	{ "FZ_WIRE", HM_RULE_BODY, NULL, "wire transfer of \\$[0-9,]+", 2, false },
	{ "FZ_EMPTY", HM_RULE_BODY, NULL, "^$", 0.1, false },
	{ "FZ_BYTES", HM_RULE_BODY, NULL, "\\x00|\\xff\\xfe|\\r", 0.5, false },
	{ "FZ_SLOWBODY", HM_RULE_BODY, NULL, "(x+x+)+y", 1, true },
};

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hm_rules *rules;
	struct hm_rules_match *m;
	struct hm_symbols *syms;
	char *pieces[MAX_HEADERS + 1], err[256];
	const char *first;
	size_t n, i, chunk;
	char *buf;

	if (rules == NULL &&
	    hm_rules_compile(defs, sizeof(defs) / sizeof(defs[0]), &rules, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz-rules: %s\n", err);
		abort();
	}
	if (size < 1 || size > 65536)
		return 0;
	chunk = (size_t)data[0] * 13 + 1;
	buf = fuzz_split(data + 1, size - 1, '\0', pieces, MAX_HEADERS + 1, &n);
	syms = calloc(1, sizeof(*syms));
	if (buf == NULL || syms == NULL || (m = hm_rules_begin(rules)) == NULL) {
		free(syms);
		free(buf);
		return 0;
	}
	for (i = 0; i < n && i < MAX_HEADERS && pieces[i][0] != '\0'; i++) {
		char *colon = strchr(pieces[i], ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		hm_rules_header(m, pieces[i], colon + 1);
	}
	if (i + 1 < n) {
		const uint8_t *body = data + 1 + (size_t)(pieces[i + 1] - buf);
		size_t blen = size - 1 - (size_t)(pieces[i + 1] - buf);

		for (size_t off = 0; off < blen; off += chunk) {
			size_t len = blen - off < chunk ? blen - off : chunk;
			unsigned char *c = malloc(len);

			if (c == NULL)
				break;
			memcpy(c, body + off, len);	/* exact size: overreads caught */
			hm_rules_body(m, c, len);
			free(c);
		}
	}
	hm_rules_finish(m, syms);
	(void)hm_rules_limit_hits(m, &first);
	/* Each rule fires at most once. */
	if (syms->count > sizeof(defs) / sizeof(defs[0]))
		abort();
	hm_rules_free_match(&m);
	free(syms);
	free(buf);
	return 0;
}
