/*
 * policy-int.h - what the per-recipient policy's files share (policy.c,
 * policy-values.c); nothing else includes it but the fuzz target of the
 * values.  The public interface is policy.h.
 */
#ifndef HM_POLICY_INT_H
#define HM_POLICY_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "policy/pattern.h"
#include "policy/policy.h"
#include "policy/rvalue.h"

#define KEY_MAX (HM_POLICY_ADDR_MAX + 16)

struct policy_list {
	struct hm_patlist *list;
	struct hm_pattern top;		/* the most specific valid pattern (text NULL: none) */
	/* What the value holds, for grouping recipients (same_list()). */
	size_t count;			/* members */
	uint64_t digest;		/* of the members, whatever their order */
};

enum alias_kind { ALIAS_NONE, ALIAS_ONE, ALIAS_MULTI };

struct policy_alias {
	enum alias_kind kind;
	char target[HM_POLICY_ADDR_MAX];	/* ALIAS_ONE: lower-cased mailbox */
	char domain[HM_POLICY_DOMAIN_MAX];
};

/* policy-values.c: a store value's derived data, built at its first use. */
void *policy_make_list(const struct hm_rvalue *v, void *arg);
void policy_list_free(void *p);
const struct policy_list *policy_list_of(struct hm_rvalue *v, const char *key);
bool policy_thr_of(struct hm_rvalue *v, const char *key, struct hm_thresholds *t);
const struct policy_alias *policy_alias_of(struct hm_rvalue *v, const char *key);

/* policy.c: an envelope address lower-cased, and its domain; -1 when none. */
int policy_envelope_norm(const char *arg, char *addr, size_t addrlen, char *domain, size_t domlen);

#endif
