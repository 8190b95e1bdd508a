/*
 * pattern.h - sender patterns of the white and black lists (DESIGN §5.2),
 * and compiled lists of them.
 *
 * A pattern is a case-insensitive glob on the full address "local@domain":
 * '*' matches any run of bytes (also none), '?' exactly one byte, every
 * other byte itself (ASCII letters in either case).  "@example.org" is
 * shorthand for "*@example.org".
 *
 * Accepted patterns (hm_pattern_parse), anything else is rejected:
 *   - not empty, at most HM_PATTERN_MAX bytes once normalized;
 *   - no control characters, spaces, DEL, nor any of  < > , ; "  (a pasted
 *     "Name <addr>" or a list in one member is a mistake, not a pattern);
 *   - exactly one '@', with something before it (after the shorthand is
 *     expanded) and after it;
 *   - not absurd: the domain part holds at least one literal byte other than
 *     '.', so "*@*", "bob@*", "*@*.*" and "?@?" are rejected while
 *     "*@example.org", "*@*.example.org" and "*@*.xyz" are accepted;
 *   - at most HM_PATTERN_MAX_WILDCARDS wildcards.
 * Normalization: ASCII lower-cased, the shorthand expanded, a run of '*'
 * collapsed into one (they match the same addresses).  Bytes >= 0x80 are
 * kept as they are (internationalized addresses) and compared exactly.
 *
 * Specificity (hm_pattern_specificity_cmp) is a total preorder, from most
 * to least specific:
 *   1. fewer wildcards ('*' and '?' together);
 *   2. then more literal bytes (every byte that is not a wildcard, '@'
 *      included);
 *   3. then fewer '*' (a '?' matches less than a '*').
 * Patterns equal on all three compare 0 (e.g. "a?@x.org" and "?b@x.org");
 * the caller breaks that tie (DESIGN §5.3: white against black, black wins).
 * An exact address is therefore more specific than any wildcard pattern,
 * and "*@mail.example.org" more than "*@example.org".
 */
#ifndef HM_PATTERN_H
#define HM_PATTERN_H

#include <stdbool.h>
#include <stddef.h>

#define HM_PATTERN_MAX 512
#define HM_PATTERN_MAX_WILDCARDS 8

struct hm_pattern {
	char *text;		/* normalized: lower-cased, "@d" expanded to "*@d" */
	unsigned wildcards;	/* number of '*' and '?' */
	size_t literal;		/* number of literal bytes */
	unsigned stars;		/* number of '*' (of wildcards) */
};

/*
 * Parse and validate text into *p (p->text is allocated; free it with
 * hm_pattern_free).  Returns 0, or -1 with a one-line reason in err (NULL,
 * 0 for none) and *p left empty: an invalid pattern (errno EINVAL), or out
 * of memory (errno ENOMEM).
 */
int hm_pattern_parse(const char *text, struct hm_pattern *p, char *err, size_t errlen);

/* Free p->text and clear *p; safe on a cleared or already freed pattern. */
void hm_pattern_free(struct hm_pattern *p);

/*
 * Does p match addr ("local@domain", normally already lower-cased; ASCII
 * case is ignored anyway)?  Worst case O(len(pattern) * len(addr)), no
 * exponential backtracking.  False for a NULL addr.
 */
bool hm_pattern_match(const struct hm_pattern *p, const char *addr);

/*
 * >0 if a is more specific than b, <0 if less, 0 if equally specific (the
 * order above).  NULL is less specific than any pattern; two NULLs are
 * equal, so the best matches of two lists can be compared directly.
 */
int hm_pattern_specificity_cmp(const struct hm_pattern *a, const struct hm_pattern *b);

/*
 * A compiled list (one Redis set): read-only after build, so any number of
 * threads may use it at once without a lock.  Exact addresses and
 * "*@domain" patterns sit in hash tables (a lookup costs the same with 10
 * or 100,000 of them, and allocates nothing); the other wildcard patterns
 * are scanned, most specific first, stopping as soon as none left can beat
 * the best match found.
 */
struct hm_patlist;

/*
 * Build a list from n strings.  Invalid ones are skipped; their number goes
 * to *invalid_r (may be NULL) and the reason for the first one, with the
 * offending text escaped, to err (NULL, 0 for none).  Duplicates after
 * normalization ("@d" and "*@D") count once and are not invalid.  Returns
 * NULL only when out of memory; n == 0 gives an empty list.
 */
struct hm_patlist *hm_patlist_build(const char *const *texts, size_t n, size_t *invalid_r,
				    char *err, size_t errlen);

/* Free *l and set it to NULL; safe on NULL. */
void hm_patlist_free(struct hm_patlist **l);

/* Number of distinct valid patterns in l (0 for NULL). */
size_t hm_patlist_count(const struct hm_patlist *l);

/*
 * The most specific pattern of l, matching or not (equally specific ones:
 * the smallest text), or NULL for an empty or NULL list.  Lets a caller
 * skip a lookup that could not change its answer: e.g. a white list whose
 * top is not more specific than a black match already found.
 */
const struct hm_pattern *hm_patlist_top(const struct hm_patlist *l);

/*
 * The most specific pattern of l matching any of addrs (lower-cased
 * "local@domain"; NULL entries are skipped), or NULL if none does (or l is
 * NULL).  Among equally specific matches the one for the earliest address
 * wins, then the smallest pattern text (strcmp), so the answer is
 * deterministic.  *which_r (may be NULL) gets the index in addrs of the
 * address it matched.  The pattern belongs to l.
 */
const struct hm_pattern *hm_patlist_best(const struct hm_patlist *l, const char *const *addrs,
					 size_t naddrs, size_t *which_r);

#endif
