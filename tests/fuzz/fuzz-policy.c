/*
 * fuzz-policy.c - libFuzzer target: what a panel (or anyone who can write
 * Redis) stores for a recipient, from the reply as hiredis hands it over to
 * the policy it becomes: hm_rvalue_from_reply() (policy/rvalue.c), then the
 * thresholds hash, the set of list patterns or the alias string as
 * policy/policy-values.c compiles them.  Bad data must be skipped with a
 * warning: never a crash, never half a policy.
 *
 * The converters are declared in policy/policy-int.h and linked from the
 * milter's own library, so the code fuzzed is the code shipped.
 * Input: the first byte picks the key kind (thresholds, list, alias) and
 * the reply's shape (array of strings or a string, an array with a nil
 * element, an error, nil); the rest are the strings, separated by '\n'
 * (they may hold NUL bytes, as Redis strings may).
 */
#include "config.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "policy/pattern.h"
#include "policy/policy-int.h"
#include "policy/rvalue.h"
#include "util/address.h"

#include "tests/fuzz/fuzz.h"

#define MAX_ITEMS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	redisReply items[MAX_ITEMS + 1], *elems[MAX_ITEMS + 1], top, nil;
	struct hm_thresholds t;
	const struct policy_alias *pa;
	const struct policy_list *pl;
	enum hm_rv_type rvtype;
	struct hm_rvalue *v;
	bool wrongtype;
	size_t n = 0;
	char *buf;
	int kind, shape;

	fuzz_quiet();
	if (size < 1 || size > 16384)
		return 0;
	kind = data[0] % 3;
	shape = (data[0] / 3) % 4;
	/* The strings: copies with a NUL after each, as hiredis makes them. */
	if ((buf = fuzz_str(data + 1, size - 1)) == NULL)
		return 0;
	memset(items, 0, sizeof(items));
	for (char *p = buf, *end = buf + size - 1; n < MAX_ITEMS;) {
		char *nl = memchr(p, '\n', (size_t)(end - p));

		items[n].type = REDIS_REPLY_STRING;
		items[n].str = p;
		items[n].len = nl ? (size_t)(nl - p) : (size_t)(end - p);
		p[items[n].len] = '\0';
		elems[n] = &items[n];
		n++;
		if (nl == NULL)
			break;
		p = nl + 1;
	}
	memset(&top, 0, sizeof(top));
	memset(&nil, 0, sizeof(nil));
	nil.type = REDIS_REPLY_NIL;
	rvtype = kind == 0 ? HM_RV_HASH : kind == 1 ? HM_RV_SET : HM_RV_STRING;
	switch (shape) {
	case 0:			/* what Redis sends for the right type */
	case 1:			/* ... with a nil element in an array */
		if (rvtype == HM_RV_STRING) {
			top = items[0];
		} else {
			if (shape == 1)
				elems[n++] = &nil;
			top.type = REDIS_REPLY_ARRAY;
			top.element = elems;
			top.elements = n;
		}
		break;
	case 2:			/* an error: WRONGTYPE or another */
		top = items[0];
		top.type = REDIS_REPLY_ERROR;
		break;
	default:
		top.type = REDIS_REPLY_NIL;
		break;
	}
	v = hm_rvalue_from_reply(rvtype, &top, &wrongtype);
	if (v == NULL)
		goto out;
	if (v->type != HM_RV_NONE && v->type != rvtype)
		abort();
	/* Twice: the second use finds the derived data attached. */
	for (int pass = 0; pass < 2; pass++) {
		switch (kind) {
		case 0:
			if (policy_thr_of(v, "thr:fuzz@example.org", &t) &&
			    !hm_thresholds_valid(&t))
				abort();
			break;
		case 1:
			if ((pl = policy_list_of(v, "wl:fuzz@example.org")) != NULL &&
			    pl->list != NULL)
				(void)hm_patlist_count(pl->list);
			break;
		default:
			pa = policy_alias_of(v, "alias:fuzz@example.org");
			if (pa != NULL && pa->kind == ALIAS_ONE &&
			    (memchr(pa->target, '\0', sizeof(pa->target)) == NULL ||
			     !hm_domain_valid(pa->domain)))
				abort();
			break;
		}
	}
	hm_rvalue_release(&v);
out:
	free(buf);
	return 0;
}
