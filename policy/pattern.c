/*
 * pattern.c - sender patterns and compiled pattern lists (see pattern.h).
 *
 * Matching is the classic two-pointer glob: on a mismatch after a '*', go
 * back to that '*' and let it swallow one more byte.  Only the last '*'
 * is remembered, which is enough for a glob (an earlier '*' never needs to
 * take back what a later one has already matched), so the worst case is
 * O(pattern * address) and never exponential.
 *
 * A list sorts its patterns once by kind, then most specific first, then
 * text; duplicates become neighbours and are dropped.  Exact addresses and
 * "*@domain" patterns go into two open-addressing hash tables (linear
 * probing, at most half full) keyed by the address and by the domain; the
 * rest stay in that sorted order for the scan.
 */
#include "config.h"

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "policy/pattern.h"

#define HM_STR2(x) #x
#define HM_STR(x) HM_STR2(x)

static inline unsigned char ascii_lower(unsigned char c)
{
	return c >= 'A' && c <= 'Z' ? (unsigned char)(c - 'A' + 'a') : c;
}

/* An invalid pattern: errno EINVAL, so that ENOMEM stays distinguishable. */
static void set_err(char *err, size_t errlen, const char *msg)
{
	errno = EINVAL;
	snprintf(err, errlen, "%s", msg);
}

int hm_pattern_parse(const char *text, struct hm_pattern *p, char *err, size_t errlen)
{
	char buf[HM_PATTERN_MAX + 2];
	size_t n = 0, ats = 0, wildcards = 0, stars = 0;
	const char *at;
	bool domain_literal = false;

	memset(p, 0, sizeof(*p));
	if (text == NULL || *text == '\0') {
		set_err(err, errlen, "empty pattern");
		return -1;
	}
	if (strnlen(text, HM_PATTERN_MAX + 1) > HM_PATTERN_MAX) {
		set_err(err, errlen, "longer than " HM_STR(HM_PATTERN_MAX) " bytes");
		return -1;
	}
	if (text[0] == '@') {
		buf[n++] = '*';		/* "@d" is "*@d" */
		wildcards++;
		stars++;
	}
	for (const unsigned char *s = (const unsigned char *)text; *s != '\0'; s++) {
		if (*s < 0x20 || *s == 0x7f) {
			set_err(err, errlen, "control character");
			return -1;
		}
		if (*s == ' ') {
			set_err(err, errlen, "space");
			return -1;
		}
		if (strchr("<>,;\"", *s) != NULL) {
			char msg[64];

			snprintf(msg, sizeof(msg), "'%c' not allowed (one address per pattern)", *s);
			set_err(err, errlen, msg);
			return -1;
		}
		if (*s == '*' && n > 0 && buf[n - 1] == '*')
			continue;	/* "**" matches what "*" matches */
		if (*s == '@')
			ats++;
		if (*s == '*')
			stars++;
		if (*s == '*' || *s == '?')
			wildcards++;
		buf[n++] = (char)ascii_lower(*s);
	}
	buf[n] = '\0';
	/* Only the expansion of "@d" can push it over. */
	if (n > HM_PATTERN_MAX) {
		set_err(err, errlen, "longer than " HM_STR(HM_PATTERN_MAX) " bytes");
		return -1;
	}
	if (ats == 0) {
		set_err(err, errlen, "no '@'");
		return -1;
	}
	if (ats > 1) {
		set_err(err, errlen, "more than one '@'");
		return -1;
	}
	at = strchr(buf, '@');
	if (at[1] == '\0') {
		set_err(err, errlen, "nothing after '@'");
		return -1;
	}
	for (const char *d = at + 1; *d != '\0'; d++)
		if (*d != '*' && *d != '?' && *d != '.')
			domain_literal = true;
	if (!domain_literal) {
		set_err(err, errlen, "the domain part is only wildcards (would match almost anything)");
		return -1;
	}
	if (wildcards > HM_PATTERN_MAX_WILDCARDS) {
		set_err(err, errlen, "more than " HM_STR(HM_PATTERN_MAX_WILDCARDS) " wildcards");
		return -1;
	}
	p->text = strdup(buf);
	if (p->text == NULL) {
		set_err(err, errlen, "out of memory");
		errno = ENOMEM;
		return -1;
	}
	p->wildcards = (unsigned)wildcards;
	p->stars = (unsigned)stars;
	p->literal = n - wildcards;
	return 0;
}

void hm_pattern_free(struct hm_pattern *p)
{
	if (p == NULL)
		return;
	free(p->text);
	memset(p, 0, sizeof(*p));
}

static bool glob_match(const char *pat, const char *s)
{
	const char *star = NULL;	/* the last '*' seen */
	const char *resume = NULL;	/* where that '*' stopped swallowing */

	while (*s != '\0') {
		if (*pat == '*') {
			star = pat++;
			resume = s;
		} else if (*pat != '\0' &&
			   (*pat == '?' || (unsigned char)*pat == ascii_lower((unsigned char)*s))) {
			pat++;
			s++;
		} else if (star != NULL) {
			pat = star + 1;
			s = ++resume;
		} else {
			return false;
		}
	}
	while (*pat == '*')
		pat++;
	return *pat == '\0';
}

bool hm_pattern_match(const struct hm_pattern *p, const char *addr)
{
	if (p == NULL || p->text == NULL || addr == NULL)
		return false;
	return glob_match(p->text, addr);
}

int hm_pattern_specificity_cmp(const struct hm_pattern *a, const struct hm_pattern *b)
{
	if (a == NULL || b == NULL)
		return (a != NULL) - (b != NULL);
	if (a->wildcards != b->wildcards)
		return a->wildcards < b->wildcards ? 1 : -1;
	if (a->literal != b->literal)
		return a->literal > b->literal ? 1 : -1;
	if (a->stars != b->stars)
		return a->stars < b->stars ? 1 : -1;
	return 0;
}

/* ---- compiled lists ---- */

enum kind { KIND_EXACT, KIND_DOMAIN, KIND_OTHER };

/* One open-addressing table; a slot holds a pattern index + 1, 0 = empty. */
struct table {
	size_t mask;
	struct slot {
		uint64_t hash;
		size_t idx1;
	} *slots;
};

struct hm_patlist {
	struct hm_pattern *pats;	/* sorted: exact, domain, other */
	size_t npats;
	size_t other_start;		/* pats[other_start..npats): scanned */
	struct table exact;		/* key: the whole text */
	struct table domain;		/* key: the text after "*@" */
};

static enum kind pattern_kind(const struct hm_pattern *p)
{
	if (p->wildcards == 0)
		return KIND_EXACT;
	if (p->wildcards == 1 && p->text[0] == '*' && p->text[1] == '@')
		return KIND_DOMAIN;	/* the one wildcard is that '*' */
	return KIND_OTHER;
}

/* FNV-1a over the ASCII-lower-cased key, so lookups need no copy. */
static uint64_t key_hash(const char *k)
{
	uint64_t h = 0xcbf29ce484222325ULL;

	for (; *k != '\0'; k++) {
		h ^= ascii_lower((unsigned char)*k);
		h *= 0x100000001b3ULL;
	}
	return h;
}

static bool key_equal(const char *stored, const char *k)
{
	/* stored is lower-case already */
	for (; *stored != '\0' && *k != '\0'; stored++, k++)
		if ((unsigned char)*stored != ascii_lower((unsigned char)*k))
			return false;
	return *stored == *k;
}

static const char *table_key(const struct hm_patlist *l, const struct table *t, size_t idx)
{
	const char *text = l->pats[idx].text;

	return t == &l->domain ? text + 2 : text;
}

static int table_init(struct table *t, size_t count)
{
	size_t cap = 8;

	while (cap < count * 2) {
		if (cap > SIZE_MAX / 2 / sizeof(struct slot))
			return -1;
		cap *= 2;
	}
	t->slots = calloc(cap, sizeof(struct slot));
	if (t->slots == NULL)
		return -1;
	t->mask = cap - 1;
	return 0;
}

/* Keys are distinct (the list is deduplicated before), so no lookup first. */
static void table_insert(const struct hm_patlist *l, struct table *t, size_t idx)
{
	uint64_t h = key_hash(table_key(l, t, idx));
	size_t i = (size_t)h & t->mask;

	while (t->slots[i].idx1 != 0)
		i = (i + 1) & t->mask;
	t->slots[i].hash = h;
	t->slots[i].idx1 = idx + 1;
}

static const struct hm_pattern *table_find(const struct hm_patlist *l, const struct table *t,
					   const char *key)
{
	uint64_t h;
	size_t i;

	if (t->slots == NULL)
		return NULL;
	h = key_hash(key);
	for (i = (size_t)h & t->mask; t->slots[i].idx1 != 0; i = (i + 1) & t->mask) {
		size_t idx = t->slots[i].idx1 - 1;

		if (t->slots[i].hash == h && key_equal(table_key(l, t, idx), key))
			return &l->pats[idx];
	}
	return NULL;
}

/* Build order: kind, then most specific first, then text. */
static int build_cmp(const void *va, const void *vb)
{
	const struct hm_pattern *a = va, *b = vb;
	enum kind ka = pattern_kind(a), kb = pattern_kind(b);
	int c;

	if (ka != kb)
		return ka < kb ? -1 : 1;
	c = hm_pattern_specificity_cmp(a, b);
	if (c != 0)
		return -c;
	return strcmp(a->text, b->text);
}

/* Copy text for an error message: printable ASCII only, bounded. */
static void escape_text(const char *text, char *out, size_t outlen)
{
	size_t o = 0;

	if (outlen == 0)
		return;
	for (const unsigned char *s = (const unsigned char *)text; *s != '\0'; s++) {
		char tmp[8];
		int w;

		if (*s >= 0x20 && *s < 0x7f && *s != '\\' && *s != '"')
			w = snprintf(tmp, sizeof(tmp), "%c", *s);
		else
			w = snprintf(tmp, sizeof(tmp), "\\x%02x", *s);
		if (o + (size_t)w + 4 >= outlen) {
			snprintf(out + o, outlen - o, "...");
			return;
		}
		memcpy(out + o, tmp, (size_t)w);
		o += (size_t)w;
	}
	out[o] = '\0';
}

struct hm_patlist *hm_patlist_build(const char *const *texts, size_t n, size_t *invalid_r,
				    char *err, size_t errlen)
{
	struct hm_patlist *l;
	size_t invalid = 0, k, end_exact, end_domain;

	if (errlen > 0)
		err[0] = '\0';
	l = calloc(1, sizeof(*l));
	if (l == NULL)
		return NULL;
	if (n > 0) {
		l->pats = calloc(n, sizeof(*l->pats));
		if (l->pats == NULL)
			goto oom;
	}
	for (size_t i = 0; i < n; i++) {
		char why[128];

		if (hm_pattern_parse(texts[i], &l->pats[l->npats], why, sizeof(why)) == 0) {
			l->npats++;
			continue;
		}
		if (errno == ENOMEM)
			goto oom;
		if (invalid++ == 0 && errlen > 0) {
			char shown[80];

			escape_text(texts[i] != NULL ? texts[i] : "", shown, sizeof(shown));
			snprintf(err, errlen, "pattern \"%s\": %s", shown, why);
		}
	}
	if (invalid_r != NULL)
		*invalid_r = invalid;
	if (l->npats > 1)
		qsort(l->pats, l->npats, sizeof(*l->pats), build_cmp);

	/* Drop duplicates (neighbours now) and find where each kind starts. */
	k = 0;
	for (size_t i = 0; i < l->npats; i++) {
		if (k > 0 && strcmp(l->pats[k - 1].text, l->pats[i].text) == 0) {
			hm_pattern_free(&l->pats[i]);
			continue;
		}
		if (k != i) {
			l->pats[k] = l->pats[i];
			memset(&l->pats[i], 0, sizeof(l->pats[i]));
		}
		k++;
	}
	l->npats = k;
	for (end_exact = 0; end_exact < k && pattern_kind(&l->pats[end_exact]) == KIND_EXACT; end_exact++)
		;
	for (end_domain = end_exact; end_domain < k && pattern_kind(&l->pats[end_domain]) == KIND_DOMAIN;
	     end_domain++)
		;
	l->other_start = end_domain;

	if (end_exact > 0) {
		if (table_init(&l->exact, end_exact) < 0)
			goto oom;
		for (size_t i = 0; i < end_exact; i++)
			table_insert(l, &l->exact, i);
	}
	if (end_domain > end_exact) {
		if (table_init(&l->domain, end_domain - end_exact) < 0)
			goto oom;
		for (size_t i = end_exact; i < end_domain; i++)
			table_insert(l, &l->domain, i);
	}
	return l;

oom:
	snprintf(err, errlen, "out of memory");
	hm_patlist_free(&l);
	return NULL;
}

void hm_patlist_free(struct hm_patlist **lp)
{
	struct hm_patlist *l;

	if (lp == NULL || *lp == NULL)
		return;
	l = *lp;
	/* Patterns past npats were freed when deduplicated, or never filled. */
	for (size_t i = 0; i < l->npats; i++)
		hm_pattern_free(&l->pats[i]);
	free(l->pats);
	free(l->exact.slots);
	free(l->domain.slots);
	free(l);
	*lp = NULL;
}

size_t hm_patlist_count(const struct hm_patlist *l)
{
	return l != NULL ? l->npats : 0;
}

/* Each kind's range starts with its most specific pattern. */
const struct hm_pattern *hm_patlist_top(const struct hm_patlist *l)
{
	const struct hm_pattern *top = NULL;

	if (l == NULL)
		return NULL;
	for (size_t i = 0; i < l->npats; i++) {
		const struct hm_pattern *p = &l->pats[i];
		int c;

		if (i > 0 && pattern_kind(p) == pattern_kind(&l->pats[i - 1]))
			continue;
		c = hm_pattern_specificity_cmp(p, top);
		if (c > 0 || (c == 0 && strcmp(p->text, top->text) < 0))
			top = p;
	}
	return top;
}

struct best {
	const struct hm_pattern *p;
	size_t which;
};

/*
 * Would cand, matching address i, beat the best so far?  Addresses come in
 * order, so an equal pattern of a later address never does.
 */
static bool beats(const struct best *b, const struct hm_pattern *cand, size_t i)
{
	int c;

	if (b->p == NULL)
		return true;
	c = hm_pattern_specificity_cmp(cand, b->p);
	if (c != 0)
		return c > 0;
	return b->which == i && strcmp(cand->text, b->p->text) < 0;
}

static void consider(struct best *b, const struct hm_pattern *cand, size_t i)
{
	if (cand != NULL && beats(b, cand, i)) {
		b->p = cand;
		b->which = i;
	}
}

const struct hm_pattern *hm_patlist_best(const struct hm_patlist *l, const char *const *addrs,
					 size_t naddrs, size_t *which_r)
{
	struct best b = { NULL, 0 };

	if (l == NULL || addrs == NULL)
		return NULL;
	for (size_t i = 0; i < naddrs; i++) {
		const char *a = addrs[i], *at;

		if (a == NULL)
			continue;
		at = strrchr(a, '@');
		if (at == NULL)
			continue;	/* every pattern holds one '@' */
		consider(&b, table_find(l, &l->exact, a), i);
		consider(&b, table_find(l, &l->domain, at + 1), i);
		/* Sorted most specific first: the first that cannot win ends it. */
		for (size_t j = l->other_start; j < l->npats; j++) {
			const struct hm_pattern *p = &l->pats[j];

			if (!beats(&b, p, i))
				break;
			if (glob_match(p->text, a)) {
				consider(&b, p, i);
				break;
			}
		}
	}
	if (b.p != NULL && which_r != NULL)
		*which_r = b.which;
	return b.p;
}
