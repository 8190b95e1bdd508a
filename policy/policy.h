/*
 * policy.h - what one recipient gets: thresholds and sender lists from the
 * policy store (DESIGN §5), and the per-recipient outcome.
 *
 * hm_rcpt_policy_load() runs at RCPT TO: it resolves a direct alias, reads
 * the thresholds and the four lists (domain and mailbox, white and black)
 * in at most two store round trips (usually none: the store caches), and
 * gives the RCPT-time verdict from the envelope sender alone: p->list is
 * HM_LIST_BLACK only when no white match of the same or a higher
 * precedence could overturn it at end of message, so the milter may
 * answer 550 for this recipient at once.
 *
 * hm_rcpt_policy_decide() runs at end of message with the From addresses
 * and the authentication facts, and returns reject / tag / accept.
 *
 * Precedence (§5.3): domain lists, then mailbox lists (only when the
 * domain lists matched nothing), then the score against the thresholds.
 * At one level, white against black: the more specific pattern wins, a tie
 * goes to black.  A white match counts only for an authenticated address
 * (whitelist_requires_auth): the envelope sender when SPF passed for its
 * domain, the From addresses when a valid DKIM signature is aligned with
 * the From domain.  An unauthenticated white match is ignored as if the
 * pattern did not exist (white_ignored_unauth is set), so a forged From
 * never gets past a black list, at either level, nor past the score.
 *
 * Every key names the recipient without its subaddress extension
 * (recipient_delimiter): bob+x@ is delivered to bob@ and gets bob@'s
 * aliases, lists and thresholds.
 *
 * A direct alias (hm:alias:<address> naming exactly one valid mailbox)
 * gets the target mailbox's policy, domain lists and thresholds of the
 * target's domain included.  A multi-target alias gets the recipient
 * domain's lists and thresholds, never a mailbox's (mailbox = "").
 *
 * Bad data in the store (unparsable numbers, tag > reject, invalid
 * patterns, an alias that is not an address) is skipped with a warning,
 * logged once per fetched value and rate-limited process-wide.
 *
 * A struct hm_rcpt_policy holds references to cached lists: release it
 * with hm_rcpt_policy_release() (idempotent; a zeroed struct is released).
 * Thread-safe: a policy belongs to one thread, the lists it refers to are
 * read-only and shared.
 */
#ifndef HM_POLICY_H
#define HM_POLICY_H

#include <stdbool.h>
#include <stddef.h>

#include "policy/decide.h"
#include "policy/store.h"

struct hm_policy_defaults {
	double tag, reject;		/* server thresholds (invalid: HM_DEFAULT_TAG/REJECT) */
	bool whitelist_requires_auth;
	/*
	 * Characters that separate a local-part from its extension
	 * (recipient_delimiter, as in Postfix): bob+x@ gets bob@'s policy.
	 * NULL or "": extensions are not stripped.
	 */
	const char *recipient_delimiter;
};

enum hm_list_verdict { HM_LIST_NONE, HM_LIST_WHITE, HM_LIST_BLACK };
enum hm_level { HM_LEVEL_NONE, HM_LEVEL_DOMAIN, HM_LEVEL_MAILBOX, HM_LEVEL_DEFAULT };

#define HM_POLICY_ADDR_MAX 512
#define HM_POLICY_DOMAIN_MAX 256

/* What one recipient gets, and why (for the log line and the scan mode). */
struct hm_rcpt_policy {
	char address[HM_POLICY_ADDR_MAX];	/* the recipient as given, lower-cased */
	char mailbox[HM_POLICY_ADDR_MAX];	/* whose policy applies (no extension); "" for domain only */
	char domain[HM_POLICY_DOMAIN_MAX];	/* whose domain lists/thresholds apply */
	double tag, reject;
	enum hm_level thresholds_from;		/* mailbox, domain or default */
	/*
	 * The list verdict: after load, the RCPT-time one (NONE or BLACK);
	 * after decide, the end-of-message one.
	 */
	enum hm_list_verdict list;
	enum hm_level list_level;		/* which level decided, if any */
	char list_pattern[HM_POLICY_ADDR_MAX];	/* the pattern that matched */
	char list_matched[HM_POLICY_ADDR_MAX];	/* the sender address it matched */
	bool white_ignored_unauth;		/* a white match was ignored: not authenticated */
	enum hm_rv_source source;		/* cache / redis / none (defaults) */
	bool failed;				/* store failed, nothing cached: defaults */

	/* Kept from load: the grouping class uses the RCPT-time verdict. */
	enum hm_list_verdict rcpt_list;
	bool whitelist_requires_auth;

	/* private: references to the cached list values */
	struct hm_rvalue *lists_[4];
};

/*
 * Load the policy of rcpt (an RCPT TO argument, "<Bob@Example.org>" or
 * bare) and evaluate the lists against env_sender (a MAIL FROM argument;
 * "<>" or NULL match nothing).  s may be NULL: no store, defaults.
 * *p is overwritten (release a previous policy first).
 *
 * Returns 0 when p holds a policy; p->failed says the store failed and the
 * defaults are in place (the caller chooses tempfail or defaults).
 * Returns -1 when rcpt is not a usable address (no domain, too long):
 * p then holds the defaults too.
 */
int hm_rcpt_policy_load(struct hm_store *s, const struct hm_policy_defaults *d, const char *rcpt,
			const char *env_sender, struct hm_rcpt_policy *p);

/*
 * What authenticated the message: SPF passed for spf_domain (the envelope
 * sender's domain counts only when it equals spf_domain), and a valid DKIM
 * signature is aligned with the From domain.  The signature counts for the
 * From addresses only when the message has exactly one From header field
 * (from_fields == 1) and its addresses share one domain: a signature
 * covers one From instance (libopendkim verifies the bottom-most), so
 * with several From fields an added, unsigned one would ride on it.
 * from_fields is every From field seen, empty or unparsable ones too.
 */
struct hm_auth_facts {
	bool spf_pass;
	const char *spf_domain;
	bool dkim_aligned_pass;
	unsigned from_fields;
};

/*
 * End of message: evaluate the lists against env_sender and the From
 * addresses ("local@domain", any case; the first HM_FROM_MAX of them, as
 * many as the milter keeps), then black -> HM_REJECT, white ->
 * HM_ACCEPT, else hm_decide(score, thresholds).  Updates p->list,
 * list_level, list_pattern, list_matched, white_ignored_unauth.
 * auth may be NULL (nothing authenticated).
 */
enum hm_outcome hm_rcpt_policy_decide(struct hm_rcpt_policy *p, const char *env_sender,
				      const char *const *from_addrs, size_t nfrom,
				      const struct hm_auth_facts *auth, double score);

void hm_rcpt_policy_release(struct hm_rcpt_policy *p);

/*
 * Class for recipient grouping (§5.6): the same thresholds, the same
 * RCPT-time verdict and the same four lists (domain and mailbox, white and
 * black: the same cached values, or values with the same patterns).  Two
 * recipients of one class get the same outcome at end of message, whatever
 * the From header says, so one verdict for the whole message is right for
 * both.
 */
bool hm_rcpt_policy_same_class(const struct hm_rcpt_policy *a, const struct hm_rcpt_policy *b);

/*
 * Strip the extension from a local-part in place, the way Postfix's
 * recipient_delimiter does: cut at the first character that is one of
 * delimiters, unless that is the first character (nothing would be left),
 * and never for postmaster, mailer-daemon and double-bounce, nor, when '-'
 * is a delimiter, for owner-* and *-request (Postfix's
 * owner_request_special).  Case-insensitive.  Returns true when something
 * was stripped.  NULL or "" delimiters: nothing is.
 */
bool hm_local_strip_extension(char *local, const char *delimiters);

const char *hm_list_verdict_name(enum hm_list_verdict v);
const char *hm_level_name(enum hm_level l);

#endif
