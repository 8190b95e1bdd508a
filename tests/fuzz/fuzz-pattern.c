/*
 * fuzz-pattern.c - libFuzzer target: white/black list patterns as a panel
 * or an operator writes them into Redis (policy/pattern.c): parsing, the
 * list index, matching and specificity against addresses.
 * Input: newline-separated lines; lines starting with '=' are addresses
 * to match, the others patterns.
 */
#include "config.h"

#include "policy/pattern.h"
#include "tests/fuzz/fuzz.h"

#define MAX_LINES 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *lines[MAX_LINES], err[256];
	const char *pats[MAX_LINES], *addrs[MAX_LINES];
	size_t n, np = 0, na = 0, invalid = 0, which;
	struct hm_patlist *l;
	char *buf;

	if (size > 16384)
		return 0;
	buf = fuzz_split(data, size, '\n', lines, MAX_LINES, &n);
	if (buf == NULL)
		return 0;
	for (size_t i = 0; i < n; i++) {
		if (lines[i][0] == '=') {
			/* Lower-cased, as policy/ gives them. */
			for (char *c = lines[i]; *c; c++)
				if (*c >= 'A' && *c <= 'Z')
					*c = (char)(*c - 'A' + 'a');
			addrs[na++] = lines[i] + 1;
		}
		else
			pats[np++] = lines[i];
	}
	/* Each pattern alone, against each address and each other. */
	for (size_t i = 0; i < np && i < 8; i++) {
		struct hm_pattern p, q;

		if (hm_pattern_parse(pats[i], &p, err, sizeof(err)) < 0)
			continue;
		for (size_t j = 0; j < na; j++)
			(void)hm_pattern_match(&p, addrs[j]);
		if (i > 0 && hm_pattern_parse(pats[i - 1], &q, NULL, 0) == 0) {
			int c1 = hm_pattern_specificity_cmp(&p, &q), c2 = hm_pattern_specificity_cmp(&q, &p);

			/* An order: antisymmetric. */
			if ((c1 > 0 && c2 >= 0) || (c1 < 0 && c2 <= 0) || (c1 == 0 && c2 != 0))
				abort();
			hm_pattern_free(&q);
		}
		hm_pattern_free(&p);
	}
	/* The whole list, as policy/ builds it from a Redis set. */
	l = hm_patlist_build(pats, np, &invalid, err, sizeof(err));
	if (l != NULL) {
		const struct hm_pattern *best;

		/* Duplicates are dropped, invalid ones counted. */
		if (hm_patlist_count(l) + invalid > np)
			abort();
		(void)hm_patlist_top(l);
		best = hm_patlist_best(l, addrs, na, &which);
		/* The best pattern matches the address it names. */
		if (best != NULL && (which >= na || !hm_pattern_match(best, addrs[which])))
			abort();
		/* The index finds what trying every pattern finds (addresses with '@'). */
		for (size_t i = 0; i < np; i++) {
			struct hm_pattern p;

			if (hm_pattern_parse(pats[i], &p, NULL, 0) < 0)
				continue;
			for (size_t j = 0; j < na; j++)
				if (strchr(addrs[j], '@') != NULL && hm_pattern_match(&p, addrs[j]) &&
				    (best == NULL || hm_pattern_specificity_cmp(&p, best) > 0))
					abort();
			hm_pattern_free(&p);
		}
		hm_patlist_free(&l);
	}
	free(buf);
	return 0;
}
