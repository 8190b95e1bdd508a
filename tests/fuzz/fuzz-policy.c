/*
 * fuzz-policy.c - libFuzzer target: the values a panel (or anyone who can
 * write Redis) stores for a recipient, as policy/policy.c turns them into
 * policy: a thresholds hash, a set of list patterns, an alias string.
 * Bad data must be skipped with a warning, never crash or be half-applied.
 *
 * The converters are static in policy.c: the file is compiled into this
 * target whole, so the code fuzzed is the code shipped.
 * Input: NUL-separated strings; the first byte picks the value type.
 */
#include "policy/policy.c"

#include "tests/fuzz/fuzz.h"

#define MAX_ITEMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *items[MAX_ITEMS];
	struct hm_rvalue v;
	struct policy_thr *pt;
	struct policy_alias *pa;
	size_t n;
	char *buf;

	fuzz_quiet();
	if (size < 1 || size > 16384)
		return 0;
	buf = fuzz_split(data + 1, size - 1, '\0', items, MAX_ITEMS, &n);
	if (buf == NULL)
		return 0;
	memset(&v, 0, sizeof(v));
	v.items = items;
	v.n = n;
	/* Right type first (the usual case), then a wrong one. */
	switch (data[0] % 3) {
	case 0:
		v.type = HM_RV_HASH;
		if ((pt = make_thr(&v, "thr:fuzz@example.org")) != NULL) {
			if (pt->valid && !hm_thresholds_valid(&pt->t))
				abort();
			free(pt);
		}
		v.type = HM_RV_SET;
		free(make_thr(&v, "thr:fuzz@example.org"));
		break;
	case 1:
		v.type = HM_RV_SET;
		policy_list_free(make_list(&v, "wl:fuzz@example.org"));
		v.type = HM_RV_STRING;
		policy_list_free(make_list(&v, "wl:fuzz@example.org"));
		break;
	default:
		v.type = HM_RV_STRING;
		if ((pa = make_alias(&v, "alias:fuzz@example.org")) != NULL) {
			if (pa->kind == ALIAS_ONE && (memchr(pa->target, '\0', sizeof(pa->target)) == NULL ||
						      !hm_domain_valid(pa->domain)))
				abort();
			free(pa);
		}
		v.type = HM_RV_HASH;
		free(make_alias(&v, "alias:fuzz@example.org"));
		break;
	}
	free(buf);
	return 0;
}
