/*
 * policy.c - per-recipient policy: alias resolution, thresholds and the
 * white/black lists of the domain and the mailbox, evaluated at RCPT TO
 * and at end of message (see policy.h for the rules).
 *
 * What the store's values hold (a compiled list, a thresholds hash, an
 * alias) is parsed and checked once per fetched value by policy-values.c;
 * this file looks the values up and applies them.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "policy/pattern.h"
#include "policy/policy-int.h"
#include "policy/store.h"
#include "util/address.h"

/* Slots of hm_rcpt_policy.lists_. */
enum { L_DOM_WL, L_DOM_BL, L_MB_WL, L_MB_BL, L_COUNT };

/* Addresses judged at end of message: the envelope sender and the From ones. */
#define SENDERS_MAX (HM_FROM_MAX + 1)

/* ---- small string helpers ---- */

static void ascii_lower(char *s)
{
	for (; *s; s++)
		if (*s >= 'A' && *s <= 'Z')
			*s = (char)(*s - 'A' + 'a');
}

/* Bounded copy; false (and dst "") when src does not fit. */
static bool copy_str(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	if (n >= len) {
		dst[0] = '\0';
		return false;
	}
	memcpy(dst, src, n + 1);
	return true;
}

static bool key_join(char *key, size_t len, const char *a, const char *b)
{
	int n = snprintf(key, len, "%s%s", a, b);

	return n > 0 && (size_t)n < len;
}

/* ---- subaddress extensions ---- */

/* Local-parts Postfix never splits: a delimiter inside them is no extension. */
static const char *const unsplit_locals[] = { "postmaster", "mailer-daemon", "double-bounce" };

bool hm_local_strip_extension(char *local, const char *delimiters)
{
	size_t len, n;

	if (local == NULL || delimiters == NULL || delimiters[0] == '\0')
		return false;
	for (size_t i = 0; i < sizeof(unsplit_locals) / sizeof(unsplit_locals[0]); i++)
		if (strcasecmp(local, unsplit_locals[i]) == 0)
			return false;
	if (strchr(delimiters, '-') != NULL) {
		n = strlen(local);
		if (strncasecmp(local, "owner-", 6) == 0 ||
		    (n > 8 && strcasecmp(local + n - 8, "-request") == 0))
			return false;
	}
	len = strcspn(local, delimiters);
	/* "+x@": cutting would leave no local-part, so it is the mailbox's name. */
	if (len == 0 || local[len] == '\0')
		return false;
	local[len] = '\0';
	return true;
}

/*
 * An envelope argument ("<Bob@Example.org>", bare, with a source route)
 * into lower-cased "local@domain" and its domain, the local-part's
 * extension stripped when delimiters is not NULL.  The extension is cut
 * from the local-part as parsed (quotes removed), so a quoted local-part
 * is cut where the MTA cuts it.  -1 for the null sender, a missing
 * local-part or domain, or an address too long.
 */
static int envelope_norm_ext(const char *arg, const char *delimiters, char *addr, size_t addrlen,
			     char *domain, size_t domlen)
{
	struct hm_addr a;

	if (arg == NULL || hm_addr_parse_envelope(arg, &a, NULL, 0) < 0)
		return -1;
	if (hm_addr_is_null(&a) || a.local[0] == '\0' || a.domain[0] == '\0')
		return -1;
	(void)hm_local_strip_extension(a.local, delimiters);
	if (hm_addr_format(&a, addr, addrlen) < 0 || !copy_str(domain, domlen, a.domain))
		return -1;
	ascii_lower(addr);
	ascii_lower(domain);
	return 0;
}

int policy_envelope_norm(const char *arg, char *addr, size_t addrlen, char *domain, size_t domlen)
{
	return envelope_norm_ext(arg, NULL, addr, addrlen, domain, domlen);
}


/* ---- loading ---- */

static void release_vals(struct hm_rvalue **vals, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (vals[i] != NULL)
			hm_rvalue_release(&vals[i]);
}

static void set_defaults(struct hm_rcpt_policy *p, const struct hm_policy_defaults *d)
{
	struct hm_thresholds t = { HM_DEFAULT_TAG, HM_DEFAULT_REJECT };

	if (d != NULL) {
		struct hm_thresholds c = { d->tag, d->reject };

		if (hm_thresholds_valid(&c))
			t = c;
	}
	p->tag = t.tag;
	p->reject = t.reject;
	p->thresholds_from = HM_LEVEL_DEFAULT;
}

static void note_source(enum hm_rv_source *acc, const enum hm_rv_source *src, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (src[i] == HM_SRC_REDIS)
			*acc = HM_SRC_REDIS;
}

static void set_match(struct hm_rcpt_policy *p, enum hm_list_verdict v, enum hm_level level,
		      const struct hm_pattern *pat, const char *addr)
{
	p->list = v;
	p->list_level = level;
	copy_str(p->list_pattern, sizeof(p->list_pattern), pat ? pat->text : "");
	copy_str(p->list_matched, sizeof(p->list_matched), addr ? addr : "");
}

static const struct policy_list *plist(const struct hm_rcpt_policy *p, int slot)
{
	/* Already derived at load: no key needed, the make function is not run again. */
	return policy_list_of(p->lists_[slot], "");
}

static const struct hm_pattern *best(const struct policy_list *pl, const char *const *addrs,
				     size_t n, size_t *which_r)
{
	if (pl == NULL || n == 0)
		return NULL;
	return hm_patlist_best(pl->list, addrs, n, which_r);
}

/* Can some white pattern of w beat black pattern b (strictly more specific)? */
static bool white_can_beat(const struct policy_list *w, const struct hm_pattern *b)
{
	return w != NULL && w->top.text != NULL && hm_pattern_specificity_cmp(&w->top, b) > 0;
}

/*
 * The RCPT-time verdict, from the envelope sender alone.  At end of
 * message more addresses (the From ones) are judged, and white matches may
 * turn out authenticated, so a black match seen now is final only when
 * nothing that can appear later overturns it:
 *   - domain black B: final unless the domain white list holds a pattern
 *     more specific than B (at end of message the best domain black is at
 *     least as specific as B, and a white needs to be strictly more
 *     specific to win);
 *   - mailbox black B (the domain black list did not match the envelope
 *     sender): final only if the domain white list is empty (a domain white
 *     match on a From address would decide at the domain level and skip the
 *     mailbox lists) and no mailbox white pattern is more specific than B.
 *     A domain black match on a From address later only confirms black.
 * White is never final at RCPT time: authentication is not known yet.
 */
static void rcpt_verdict(struct hm_rcpt_policy *p, const char *env)
{
	const struct policy_list *dw = plist(p, L_DOM_WL), *db = plist(p, L_DOM_BL);
	const struct policy_list *mw = plist(p, L_MB_WL), *mb = plist(p, L_MB_BL);
	const char *addrs[1] = { env };
	const struct hm_pattern *b;

	b = best(db, addrs, 1, NULL);
	if (b != NULL) {
		if (!white_can_beat(dw, b))
			set_match(p, HM_LIST_BLACK, HM_LEVEL_DOMAIN, b, env);
		return;
	}
	if (dw != NULL && hm_patlist_count(dw->list) > 0)
		return;
	b = best(mb, addrs, 1, NULL);
	if (b != NULL && !white_can_beat(mw, b))
		set_match(p, HM_LIST_BLACK, HM_LEVEL_MAILBOX, b, env);
}

int hm_rcpt_policy_load(struct hm_store *s, const struct hm_policy_defaults *d, const char *rcpt,
			const char *env_sender, struct hm_rcpt_policy *p)
{
	enum { K_ALIAS, K_MB_THR, K_DOM_THR, K_MB_WL, K_MB_BL, K_DOM_WL, K_DOM_BL, K_N };
	char keys[K_N][KEY_MAX], keys2[K_N][KEY_MAX];
	struct hm_store_key sk[K_N];
	struct hm_rvalue *vals[K_N] = { NULL }, *vals2[K_N] = { NULL };
	enum hm_rv_source src[K_N];
	/* Where each role's value is: vals (first fetch) or vals2 (alias target). */
	struct hm_rvalue **mb_thr, **dom_thr, **mb_wl, **mb_bl, **dom_wl, **dom_bl;
	const char *mb_thr_key, *dom_thr_key, *mb_wl_key, *mb_bl_key, *dom_wl_key, *dom_bl_key;
	const struct policy_alias *alias;
	char env[HM_POLICY_ADDR_MAX], envdom[HM_POLICY_DOMAIN_MAX];
	char mbox[HM_POLICY_ADDR_MAX], target[HM_POLICY_ADDR_MAX];
	const char *delims = d != NULL ? d->recipient_delimiter : NULL;
	struct hm_thresholds t;
	enum hm_rv_source source = HM_SRC_CACHE;
	size_t n2 = 0;

	memset(p, 0, sizeof(*p));
	p->whitelist_requires_auth = d != NULL ? d->whitelist_requires_auth : true;
	p->source = HM_SRC_NONE;
	set_defaults(p, d);
	if (policy_envelope_norm(rcpt, p->address, sizeof(p->address), p->domain,
				 sizeof(p->domain)) < 0)
		return -1;
	/*
	 * bob+x@ is delivered to bob@ (Postfix, Dovecot), so it gets bob@'s
	 * policy: every key below is the address without its extension.  The
	 * address as given stays in p->address, for the log.
	 */
	if (envelope_norm_ext(rcpt, delims, mbox, sizeof(mbox), envdom, sizeof(envdom)) < 0)
		return -1;
	copy_str(p->mailbox, sizeof(p->mailbox), mbox);
	if (s == NULL)
		return 0;

	/* Everything the recipient needs if it is its own mailbox: one round trip. */
	if (!key_join(keys[K_ALIAS], KEY_MAX, "alias:", mbox) ||
	    !key_join(keys[K_MB_THR], KEY_MAX, "thr:", mbox) ||
	    !key_join(keys[K_DOM_THR], KEY_MAX, "thr:@", p->domain) ||
	    !key_join(keys[K_MB_WL], KEY_MAX, "wl:", mbox) ||
	    !key_join(keys[K_MB_BL], KEY_MAX, "bl:", mbox) ||
	    !key_join(keys[K_DOM_WL], KEY_MAX, "wl:@", p->domain) ||
	    !key_join(keys[K_DOM_BL], KEY_MAX, "bl:@", p->domain))
		return -1;
	for (int i = 0; i < K_N; i++) {
		sk[i].key = keys[i];
		sk[i].type = i == K_ALIAS ? HM_RV_STRING :
			     i == K_MB_THR || i == K_DOM_THR ? HM_RV_HASH : HM_RV_SET;
	}
	if (hm_store_get(s, sk, K_N, vals, src) != HM_STORE_OK)
		goto failed;
	note_source(&source, src, K_N);

	mb_thr = &vals[K_MB_THR], mb_thr_key = keys[K_MB_THR];
	dom_thr = &vals[K_DOM_THR], dom_thr_key = keys[K_DOM_THR];
	mb_wl = &vals[K_MB_WL], mb_wl_key = keys[K_MB_WL];
	mb_bl = &vals[K_MB_BL], mb_bl_key = keys[K_MB_BL];
	dom_wl = &vals[K_DOM_WL], dom_wl_key = keys[K_DOM_WL];
	dom_bl = &vals[K_DOM_BL], dom_bl_key = keys[K_DOM_BL];

	alias = policy_alias_of(vals[K_ALIAS], keys[K_ALIAS]);
	/* An alias to bob+sales@ delivers to bob@: the target's policy is bob@'s. */
	if (alias != NULL && alias->kind == ALIAS_ONE &&
	    envelope_norm_ext(alias->target, delims, target, sizeof(target), envdom,
			      sizeof(envdom)) < 0)
		copy_str(target, sizeof(target), alias->target);
	if (alias != NULL && alias->kind == ALIAS_MULTI) {
		/* Mail to several mailboxes: no one mailbox's policy is theirs. */
		p->mailbox[0] = '\0';
		mb_thr = mb_wl = mb_bl = NULL;
	} else if (alias != NULL && alias->kind == ALIAS_ONE && strcmp(target, mbox) != 0) {
		/*
		 * A direct alias gets the target mailbox's whole policy, the
		 * domain lists and thresholds of the target's domain
		 * included: the mailbox is governed by its own domain, and
		 * it is the same policy whichever address the mail used.
		 */
		bool other_domain = strcmp(alias->domain, p->domain) != 0;
		size_t i = 0;

		copy_str(p->mailbox, sizeof(p->mailbox), target);
		copy_str(p->domain, sizeof(p->domain), alias->domain);
		if (!key_join(keys2[0], KEY_MAX, "thr:", p->mailbox) ||
		    !key_join(keys2[1], KEY_MAX, "wl:", p->mailbox) ||
		    !key_join(keys2[2], KEY_MAX, "bl:", p->mailbox) ||
		    !key_join(keys2[3], KEY_MAX, "thr:@", p->domain) ||
		    !key_join(keys2[4], KEY_MAX, "wl:@", p->domain) ||
		    !key_join(keys2[5], KEY_MAX, "bl:@", p->domain))
			goto failed;
		n2 = other_domain ? 6 : 3;
		for (i = 0; i < n2; i++) {
			sk[i].key = keys2[i];
			sk[i].type = i % 3 == 0 ? HM_RV_HASH : HM_RV_SET;
		}
		if (hm_store_get(s, sk, n2, vals2, src) != HM_STORE_OK)
			goto failed;
		note_source(&source, src, n2);
		mb_thr = &vals2[0], mb_thr_key = keys2[0];
		mb_wl = &vals2[1], mb_wl_key = keys2[1];
		mb_bl = &vals2[2], mb_bl_key = keys2[2];
		if (other_domain) {
			dom_thr = &vals2[3], dom_thr_key = keys2[3];
			dom_wl = &vals2[4], dom_wl_key = keys2[4];
			dom_bl = &vals2[5], dom_bl_key = keys2[5];
		}
	}

	if (mb_thr != NULL && policy_thr_of(*mb_thr, mb_thr_key, &t)) {
		p->tag = t.tag, p->reject = t.reject, p->thresholds_from = HM_LEVEL_MAILBOX;
	} else if (policy_thr_of(*dom_thr, dom_thr_key, &t)) {
		p->tag = t.tag, p->reject = t.reject, p->thresholds_from = HM_LEVEL_DOMAIN;
	}

	/* Compile (once per cached value) and keep the lists this recipient uses. */
	if (policy_list_of(*dom_wl, dom_wl_key) != NULL)
		p->lists_[L_DOM_WL] = *dom_wl, *dom_wl = NULL;
	if (policy_list_of(*dom_bl, dom_bl_key) != NULL)
		p->lists_[L_DOM_BL] = *dom_bl, *dom_bl = NULL;
	if (mb_wl != NULL && policy_list_of(*mb_wl, mb_wl_key) != NULL)
		p->lists_[L_MB_WL] = *mb_wl, *mb_wl = NULL;
	if (mb_bl != NULL && policy_list_of(*mb_bl, mb_bl_key) != NULL)
		p->lists_[L_MB_BL] = *mb_bl, *mb_bl = NULL;
	release_vals(vals, K_N);
	release_vals(vals2, n2);

	p->source = source;
	if (policy_envelope_norm(env_sender, env, sizeof(env), envdom, sizeof(envdom)) == 0)
		rcpt_verdict(p, env);
	p->rcpt_list = p->list;
	return 0;

failed:
	/*
	 * Some value is neither cached nor fetched: all defaults, no lists.
	 * Half a policy could invert the precedence (a mailbox black list
	 * without the domain white list that overrides it).
	 */
	release_vals(vals, K_N);
	release_vals(vals2, n2);
	copy_str(p->mailbox, sizeof(p->mailbox), mbox);
	policy_envelope_norm(rcpt, p->address, sizeof(p->address), p->domain, sizeof(p->domain));
	set_defaults(p, d);
	p->failed = true;
	p->source = HM_SRC_NONE;
	return 0;
}

/* ---- end of message ---- */

/*
 * One level: the best black match against the best honoured white match.
 * An unauthenticated white match is ignored as if the pattern did not
 * exist: it can neither beat a black match at this level nor stop the
 * evaluation from going on to the mailbox level and the score, so
 * forging a white-listed From gains nothing.
 */
static enum hm_list_verdict judge_level(struct hm_rcpt_policy *p, enum hm_level level,
					const struct policy_list *w, const struct policy_list *b,
					const char *const *all, size_t nall,
					const char *const *authed, size_t nauthed)
{
	size_t bi = 0, wi = 0, ai = 0;
	const struct hm_pattern *bp = best(b, all, nall, &bi);
	const struct hm_pattern *wall = best(w, all, nall, &ai);
	const struct hm_pattern *wp = p->whitelist_requires_auth ?
				      best(w, authed, nauthed, &wi) : wall;

	if (!p->whitelist_requires_auth)
		wi = ai;
	if (wp != NULL && hm_pattern_specificity_cmp(wp, bp) > 0) {
		set_match(p, HM_LIST_WHITE, level, wp,
			  p->whitelist_requires_auth ? authed[wi] : all[wi]);
		return HM_LIST_WHITE;
	}
	if (wall != NULL && hm_pattern_specificity_cmp(wall, bp) > 0)
		p->white_ignored_unauth = true;
	if (bp != NULL) {
		set_match(p, HM_LIST_BLACK, level, bp, all[bi]);
		return HM_LIST_BLACK;
	}
	return HM_LIST_NONE;
}

enum hm_outcome hm_rcpt_policy_decide(struct hm_rcpt_policy *p, const char *env_sender,
				      const char *const *from_addrs, size_t nfrom,
				      const struct hm_auth_facts *auth, double score)
{
	char buf[SENDERS_MAX][HM_POLICY_ADDR_MAX], envdom[HM_POLICY_DOMAIN_MAX];
	char fromdom[HM_POLICY_DOMAIN_MAX] = "";
	const char *all[SENDERS_MAX], *authed[SENDERS_MAX];
	size_t nall = 0, nauthed = 0, first_from;
	bool have_env = false, env_auth = false, env_is_from = false, from_auth;
	struct hm_thresholds t = { p->tag, p->reject };

	set_match(p, HM_LIST_NONE, HM_LEVEL_NONE, NULL, NULL);
	p->white_ignored_unauth = false;

	if (policy_envelope_norm(env_sender, buf[0], sizeof(buf[0]), envdom, sizeof(envdom)) == 0) {
		all[nall++] = buf[0];
		have_env = true;
		/* SPF authenticates the envelope sender only for its own domain. */
		env_auth = auth != NULL && auth->spf_pass && auth->spf_domain != NULL &&
			   strcasecmp(auth->spf_domain, envdom) == 0;
	}
	first_from = nall;
	/*
	 * An aligned DKIM signature vouches for the From domain; with From
	 * addresses in several domains we cannot tell which one it was for,
	 * so none counts.  It covers one From field only (the bottom-most,
	 * RFC 6376 5.4.2): a From field added above a signed one keeps the
	 * signature valid and aligned, so with several From fields none of
	 * their addresses is authenticated by it.
	 */
	from_auth = auth != NULL && auth->dkim_aligned_pass && auth->from_fields == 1;
	for (size_t i = 0; i < nfrom && nall < SENDERS_MAX; i++) {
		const char *at;

		if (from_addrs[i] == NULL || !copy_str(buf[nall], sizeof(buf[nall]), from_addrs[i]))
			continue;
		ascii_lower(buf[nall]);
		at = strrchr(buf[nall], '@');
		if (at == NULL || at == buf[nall] || at[1] == '\0')
			continue;
		if (fromdom[0] == '\0')
			copy_str(fromdom, sizeof(fromdom), at + 1);
		else if (strcmp(fromdom, at + 1) != 0)
			from_auth = false;
		/*
		 * Each address is matched once: a From equal to the envelope
		 * sender (most mail) or to an earlier From is not added again.
		 * The merged envelope entry is authenticated by SPF or DKIM.
		 */
		bool dup = false;
		for (size_t j = 0; j < nall && !dup; j++)
			if (strcmp(all[j], buf[nall]) == 0) {
				dup = true;
				if (j == 0 && have_env)
					env_is_from = true;
			}
		if (dup)
			continue;
		all[nall] = buf[nall];
		nall++;
	}
	if (have_env && (env_auth || (from_auth && env_is_from)))
		authed[nauthed++] = buf[0];
	if (from_auth)
		for (size_t i = first_from; i < nall; i++)
			authed[nauthed++] = all[i];

	if (judge_level(p, HM_LEVEL_DOMAIN, plist(p, L_DOM_WL), plist(p, L_DOM_BL), all, nall,
			authed, nauthed) == HM_LIST_NONE)
		judge_level(p, HM_LEVEL_MAILBOX, plist(p, L_MB_WL), plist(p, L_MB_BL), all, nall,
			    authed, nauthed);

	if (p->list == HM_LIST_BLACK)
		return HM_REJECT;
	if (p->list == HM_LIST_WHITE)
		return HM_ACCEPT;
	if (!hm_thresholds_valid(&t)) {
		t.tag = HM_DEFAULT_TAG;
		t.reject = HM_DEFAULT_REJECT;
	}
	return hm_decide(score, &t);
}

void hm_rcpt_policy_release(struct hm_rcpt_policy *p)
{
	if (p == NULL)
		return;
	for (int i = 0; i < L_COUNT; i++)
		if (p->lists_[i] != NULL)
			hm_rvalue_release(&p->lists_[i]);
}

/*
 * Whether two lists give the same verdicts: the same cached value, or two
 * values with the same members (the cache may hold two copies of a key,
 * e.g. while Redis's invalidation channel is down and every lookup fetches
 * afresh).  No list and an empty one are the same.  The digest is not a
 * defence against crafted members: the lists are written by the panel and
 * the operator, not by senders.
 */
static bool same_list(const struct hm_rcpt_policy *a, const struct hm_rcpt_policy *b, int slot)
{
	const struct policy_list *x, *y;
	size_t nx, ny;

	if (a->lists_[slot] == b->lists_[slot])
		return true;
	x = plist(a, slot);
	y = plist(b, slot);
	nx = x != NULL ? x->count : 0;
	ny = y != NULL ? y->count : 0;
	if (nx != ny)
		return false;
	return nx == 0 || x->digest == y->digest;
}

/*
 * The class covers everything that decides at end of message.  Lists
 * matter even when the envelope sender matched nothing at RCPT time: a
 * From-based match is only known at end of message, and if one class
 * held recipients with different lists, the most lenient outcome would
 * let a co-recipient chosen by the sender cancel a black list.
 */
bool hm_rcpt_policy_same_class(const struct hm_rcpt_policy *a, const struct hm_rcpt_policy *b)
{
	if (a->tag != b->tag || a->reject != b->reject || a->rcpt_list != b->rcpt_list)
		return false;
	for (int i = 0; i < L_COUNT; i++)
		if (!same_list(a, b, i))
			return false;
	return true;
}

const char *hm_list_verdict_name(enum hm_list_verdict v)
{
	switch (v) {
	case HM_LIST_NONE: return "none";
	case HM_LIST_WHITE: return "white";
	case HM_LIST_BLACK: return "black";
	}
	return "none";
}

const char *hm_level_name(enum hm_level l)
{
	switch (l) {
	case HM_LEVEL_NONE: return "none";
	case HM_LEVEL_DOMAIN: return "domain";
	case HM_LEVEL_MAILBOX: return "mailbox";
	case HM_LEVEL_DEFAULT: return "default";
	}
	return "none";
}
