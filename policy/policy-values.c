/*
 * policy-values.c - what the per-recipient policy reads from Redis, parsed
 * and checked: a list's patterns compiled (with the most specific one and
 * a digest of the members), a thresholds hash, an alias string (see
 * policy.h for what each key holds).
 *
 * Each is attached to the cached value with hm_rvalue_derive(): it is built
 * and checked once per fetched value, shared by every message until the
 * store drops the value, and its warnings come out once per fetch, not
 * once per message, and at most WARN_BURST a WARN_WINDOW process-wide.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "policy/pattern.h"
#include "policy/policy-int.h"
#include "util/address.h"

/* ---- warnings: bad data is reported, never once per message ---- */

/* At most WARN_BURST warnings per WARN_WINDOW seconds, process-wide. */
#define WARN_BURST 20
#define WARN_WINDOW 60

static pthread_mutex_t warn_lock = PTHREAD_MUTEX_INITIALIZER;
static time_t warn_window_start;
static unsigned warn_count;
static unsigned long warn_suppressed;

static void policy_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void policy_warn(const char *fmt, ...)
{
	struct timespec ts;
	unsigned long suppressed = 0;
	bool emit = false;
	char line[768];
	va_list ap;

	if (!hm_log_enabled(HM_LOG_WARNING))
		return;
	clock_gettime(CLOCK_MONOTONIC, &ts);
	pthread_mutex_lock(&warn_lock);
	if (warn_window_start == 0 || ts.tv_sec - warn_window_start >= WARN_WINDOW) {
		suppressed = warn_suppressed;
		warn_suppressed = 0;
		warn_window_start = ts.tv_sec;
		warn_count = 0;
	}
	if (warn_count < WARN_BURST) {
		warn_count++;
		emit = true;
	} else {
		warn_suppressed++;
	}
	pthread_mutex_unlock(&warn_lock);

	if (suppressed)
		hm_log(HM_LOG_WARNING, "policy: %lu warnings suppressed in the last %d s",
		       suppressed, WARN_WINDOW);
	if (!emit)
		return;
	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	hm_log(HM_LOG_WARNING, "policy: %s", line);
}

/* ---- derived data: compiled lists ---- */
/* A 64-bit hash of one member: FNV-1a, then a finalizer to spread it. */
static uint64_t member_hash(const char *m)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *m; m++)
		h = (h ^ (unsigned char)*m) * 0x100000001b3ULL;
	h ^= h >> 33;
	h *= 0xff51afd7ed558ccdULL;
	h ^= h >> 33;
	return h;
}

void policy_list_free(void *p)
{
	struct policy_list *pl = p;

	if (pl == NULL)
		return;
	hm_patlist_free(&pl->list);
	hm_pattern_free(&pl->top);
	free(pl);
}

void *policy_make_list(const struct hm_rvalue *v, void *arg)
{
	const char *key = arg;
	struct policy_list *pl = calloc(1, sizeof(*pl));
	char err[256] = "", ekey[KEY_MAX];
	size_t invalid = 0, n = v->type == HM_RV_SET ? v->n : 0;

	if (pl == NULL)
		return NULL;
	hm_log_escape(ekey, sizeof(ekey), key);
	if (v->type != HM_RV_SET)
		policy_warn("%s: not a set of patterns, ignored", ekey);
	pl->list = hm_patlist_build((const char *const *)v->items, n, &invalid, err, sizeof(err));
	if (pl->list == NULL) {
		free(pl);
		return NULL;
	}
	if (invalid)
		policy_warn("%s: %zu invalid pattern%s ignored (%s)", ekey, invalid,
			    invalid == 1 ? "" : "s", err);
	/* A sum: the members of a set come in no particular order. */
	pl->count = n;
	for (size_t i = 0; i < n; i++)
		pl->digest += member_hash(v->items[i]);
	/* The most specific pattern bounds what this list can ever beat (RCPT time). */
	for (size_t i = 0; i < n; i++) {
		struct hm_pattern q;

		if (hm_pattern_parse(v->items[i], &q, NULL, 0) < 0)
			continue;
		if (pl->top.text == NULL || hm_pattern_specificity_cmp(&q, &pl->top) > 0) {
			hm_pattern_free(&pl->top);
			pl->top = q;
		} else {
			hm_pattern_free(&q);
		}
	}
	return pl;
}

const struct policy_list *policy_list_of(struct hm_rvalue *v, const char *key)
{
	if (v == NULL || v->type == HM_RV_NONE)
		return NULL;
	return hm_rvalue_derive(v, policy_make_list, (void *)key, policy_list_free);
}

/* ---- derived data: thresholds ---- */

struct policy_thr {
	bool valid;
	struct hm_thresholds t;
};

/* A whole string as a number; surrounding blanks allowed. */
static bool parse_number(const char *s, double *out)
{
	char *end;

	errno = 0;
	*out = strtod(s, &end);
	if (end == s || errno == ERANGE)
		return false;
	while (*end == ' ' || *end == '\t')
		end++;
	return *end == '\0';
}

static void *make_thr(const struct hm_rvalue *v, void *arg)
{
	const char *key = arg;
	struct policy_thr *pt = calloc(1, sizeof(*pt));
	const char *tag = NULL, *reject = NULL;
	char ekey[KEY_MAX], e1[64], e2[64];

	if (pt == NULL)
		return NULL;
	hm_log_escape(ekey, sizeof(ekey), key);
	if (v->type != HM_RV_HASH) {
		policy_warn("%s: not a hash of tag and reject, ignored", ekey);
		return pt;
	}
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		if (strcmp(v->items[i], "tag") == 0)
			tag = v->items[i + 1];
		else if (strcmp(v->items[i], "reject") == 0)
			reject = v->items[i + 1];
	}
	/* Both or nothing: half a level mixed with another level's half is nobody's policy. */
	if (tag == NULL || reject == NULL) {
		policy_warn("%s: needs both tag and reject, ignored", ekey);
		return pt;
	}
	if (!parse_number(tag, &pt->t.tag) || !parse_number(reject, &pt->t.reject) ||
	    !hm_thresholds_valid(&pt->t)) {
		policy_warn("%s: invalid thresholds tag=\"%s\" reject=\"%s\" (numbers, "
			    "0 <= tag <= reject), ignored", ekey,
			    hm_log_escape(e1, sizeof(e1), tag), hm_log_escape(e2, sizeof(e2), reject));
		return pt;
	}
	pt->valid = true;
	return pt;
}

bool policy_thr_of(struct hm_rvalue *v, const char *key, struct hm_thresholds *t)
{
	const struct policy_thr *pt;

	if (v == NULL || v->type == HM_RV_NONE)
		return false;
	pt = hm_rvalue_derive(v, make_thr, (void *)key, free);
	if (pt == NULL || !pt->valid)
		return false;
	*t = pt->t;
	return true;
}

/* ---- derived data: aliases ---- */
static void *make_alias(const struct hm_rvalue *v, void *arg)
{
	const char *key = arg;
	struct policy_alias *pa = calloc(1, sizeof(*pa));
	char ekey[KEY_MAX], eval[HM_POLICY_ADDR_MAX], tok[HM_POLICY_ADDR_MAX];
	const char *s, *first = NULL;
	size_t ntok = 0, firstlen = 0;

	if (pa == NULL)
		return NULL;
	hm_log_escape(ekey, sizeof(ekey), key);
	if (v->type != HM_RV_STRING || v->n < 1) {
		policy_warn("%s: not a string, ignored", ekey);
		return pa;
	}
	/* Targets separated by commas or blanks. */
	for (s = v->items[0]; *s;) {
		size_t len = strcspn(s, ", \t\r\n");

		if (len) {
			if (ntok++ == 0) {
				first = s;
				firstlen = len;
			}
			s += len;
		} else {
			s++;
		}
	}
	if (ntok > 1) {
		pa->kind = ALIAS_MULTI;
		return pa;
	}
	if (ntok == 1 && firstlen < sizeof(tok)) {
		memcpy(tok, first, firstlen);
		tok[firstlen] = '\0';
		if (policy_envelope_norm(tok, pa->target, sizeof(pa->target), pa->domain,
				  sizeof(pa->domain)) == 0 && hm_domain_valid(pa->domain)) {
			pa->kind = ALIAS_ONE;
			return pa;
		}
	}
	policy_warn("%s: \"%s\" is not a mailbox address, alias ignored", ekey,
		    hm_log_escape(eval, sizeof(eval), v->items[0]));
	pa->target[0] = pa->domain[0] = '\0';
	return pa;
}

const struct policy_alias *policy_alias_of(struct hm_rvalue *v, const char *key)
{
	if (v == NULL || v->type == HM_RV_NONE)
		return NULL;
	return hm_rvalue_derive(v, make_alias, (void *)key, free);
}
