/*
 * test-policy.c - tests of policy/policy.c against a real redis-server
 * (started by tests/policy.test, port in HM_TEST_REDIS_PORT; without it
 * every test is skipped).
 *
 * The precedence rules of DESIGN §5.3 and §5.4 are one table: each row
 * seeds Redis (after FLUSHDB) with redis commands, loads one recipient's
 * policy through a fresh store, checks the RCPT-time verdict, then decides
 * at end of message and checks the outcome and why.  Each row is its own
 * TAP case, named after what it shows.  Then: grouping classes, round
 * trips and lists compiled once per cached value, warnings not repeated
 * per message, and last (it stops Redis) the outage behaviour.
 */
#include "config.h"

#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>
#include <hiredis.h>

#include "util/log.h"
#include "policy/policy.h"
#include "policy/store.h"

static int redis_port;

static const struct hm_policy_defaults defaults = { 8, 15, true };

/* ---- Redis helpers ---- */

static redisContext *redis_connect(void)
{
	struct timeval tv = { 2, 0 };
	redisContext *c = redisConnectWithTimeout("127.0.0.1", redis_port, tv);

	if (c == NULL || c->err)
		fail_msg("cannot connect to the test redis on port %d: %s", redis_port,
			 c ? c->errstr : "out of memory");
	return c;
}

/* Run one command given as words separated by '|' (values may hold spaces). */
static void redis_run(redisContext *c, const char *cmd)
{
	char buf[1024], *argv[16], *save = NULL;
	int argc = 0;
	redisReply *r;

	snprintf(buf, sizeof(buf), "%s", cmd);
	for (char *w = strtok_r(buf, "|", &save); w && argc < 16; w = strtok_r(NULL, "|", &save))
		argv[argc++] = w;
	r = redisCommandArgv(c, argc, (const char **)argv, NULL);
	if (r == NULL || r->type == REDIS_REPLY_ERROR)
		fail_msg("redis command \"%s\" failed: %s", cmd,
			 r ? r->str : c->errstr);
	freeReplyObject(r);
}

static struct hm_store *store_new(void)
{
	struct hm_store_conf conf = { 0 };
	struct hm_store *s = NULL;
	char err[256] = "";

	conf.host = "127.0.0.1";
	conf.port = redis_port;
	conf.command_timeout_ms = 1000;
	if (hm_store_new(&conf, &s, err, sizeof(err)) != 0)
		fail_msg("hm_store_new: %s", err);
	return s;
}

/* Without a test redis (run outside tests/policy.test), skip. */
#define NEED_REDIS() do { if (redis_port == 0) skip(); } while (0)

/* ---- the precedence table ---- */

#define NONE HM_LIST_NONE
#define WHITE HM_LIST_WHITE
#define BLACK HM_LIST_BLACK
#define L_NONE HM_LEVEL_NONE
#define L_DOM HM_LEVEL_DOMAIN
#define L_MB HM_LEVEL_MAILBOX
#define L_DEF HM_LEVEL_DEFAULT

struct pcase {
	const char *name;
	const char *seed[8];		/* redis commands, words separated by '|' */
	const char *rcpt, *env;
	const char *from[3];
	bool spf_pass;
	const char *spf_domain;
	bool dkim;
	unsigned from_fields;		/* From header fields; 0: one */
	const char *delims;		/* recipient_delimiter; NULL: "+" */
	bool no_auth_needed;		/* whitelist_requires_auth = no */
	double score;
	/* expected at RCPT time */
	enum hm_list_verdict rcpt_list;
	enum hm_level rcpt_level;
	/* expected at end of message */
	enum hm_outcome outcome;
	enum hm_list_verdict list;
	enum hm_level level;
	const char *pattern, *matched;	/* NULL: not checked */
	bool ignored;			/* white_ignored_unauth */
	double tag, reject;		/* 0, 0: the defaults 8, 15 */
	enum hm_level thr_from;		/* L_NONE: L_DEF */
	const char *mailbox, *domain;	/* NULL: not checked */
	const char *address;		/* NULL: not checked */
};

static const struct pcase cases[] = {
	{ .name = "no policy: default thresholds, score decides",
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 9,
	  .outcome = HM_TAG, .mailbox = "bob@d.test", .domain = "d.test" },
	{ .name = "domain white beats mailbox black",
	  .seed = { "SADD|hm:wl:@d.test|*@partner.test", "SADD|hm:bl:bob@d.test|*@partner.test" },
	  .rcpt = "<bob@d.test>", .env = "<news@partner.test>", .spf_pass = true,
	  .spf_domain = "partner.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_DOM, .pattern = "*@partner.test",
	  .matched = "news@partner.test" },
	{ .name = "domain black beats mailbox white (also at RCPT time)",
	  .seed = { "SADD|hm:bl:@d.test|*@spam.test", "SADD|hm:wl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@spam.test>", .spf_pass = true,
	  .spf_domain = "spam.test", .score = -5,
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "*@spam.test" },
	{ .name = "one level: exact white beats wildcard black; RCPT cannot decide",
	  .seed = { "SADD|hm:wl:@d.test|good@spam.test", "SADD|hm:bl:@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<good@spam.test>", .spf_pass = true,
	  .spf_domain = "spam.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_DOM, .pattern = "good@spam.test" },
	{ .name = "one level: exact black beats wildcard white, final at RCPT",
	  .seed = { "SADD|hm:wl:@d.test|*@ok.test", "SADD|hm:bl:@d.test|bad@ok.test" },
	  .rcpt = "<bob@d.test>", .env = "<bad@ok.test>", .spf_pass = true,
	  .spf_domain = "ok.test",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "bad@ok.test" },
	{ .name = "one level: fewer wildcards beats longer literal part",
	  .seed = { "SADD|hm:wl:@d.test|*@*.very-long-subdomain.ok.test",
		    "SADD|hm:bl:@d.test|*@mx.very-long-subdomain.ok.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@mx.very-long-subdomain.ok.test>", .spf_pass = true,
	  .spf_domain = "mx.very-long-subdomain.ok.test",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM },
	{ .name = "one level: same wildcards, longer literal white wins",
	  .seed = { "SADD|hm:wl:@d.test|*@mail.ok.test", "SADD|hm:bl:@d.test|*@ok.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@mail.ok.test>", .spf_pass = true,
	  .spf_domain = "mail.ok.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_DOM, .pattern = "*@mail.ok.test" },
	{ .name = "tie goes to black (same pattern, shorthand on one side)",
	  .seed = { "SADD|hm:wl:@d.test|*@tie.test", "SADD|hm:bl:@d.test|@tie.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@tie.test>", .spf_pass = true,
	  .spf_domain = "tie.test",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "*@tie.test" },
	{ .name = "tie goes to black (different patterns, equal specificity)",
	  .seed = { "SADD|hm:wl:@d.test|a?@tie.test", "SADD|hm:bl:@d.test|?b@tie.test" },
	  .rcpt = "<bob@d.test>", .env = "<ab@tie.test>", .spf_pass = true,
	  .spf_domain = "tie.test",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "?b@tie.test" },
	{ .name = "mailbox black alone, final at RCPT",
	  .seed = { "SADD|hm:bl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@spam.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_MB,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@spam.test",
	  .matched = "a@spam.test" },
	{ .name = "mailbox white, SPF pass for the sender's domain: accept over score",
	  .seed = { "SADD|hm:wl:bob@d.test|friend@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<friend@f.test>", .spf_pass = true,
	  .spf_domain = "F.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "friend@f.test" },
	{ .name = "unauthenticated white ignored: score decides",
	  .seed = { "SADD|hm:wl:bob@d.test|friend@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<friend@f.test>", .score = 10,
	  .outcome = HM_TAG, .ignored = true },
	{ .name = "SPF pass for another domain does not authenticate",
	  .seed = { "SADD|hm:wl:bob@d.test|friend@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<friend@f.test>", .spf_pass = true,
	  .spf_domain = "other.test", .score = 20,
	  .outcome = HM_REJECT, .ignored = true },
	{ .name = "DKIM aligned with From authenticates the From address",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<bounce@mailer.test>", .from = { "Boss@F.test" },
	  .dkim = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "boss@f.test",
	  .matched = "boss@f.test" },
	{ .name = "DKIM aligned with From does not authenticate the envelope sender",
	  .seed = { "SADD|hm:wl:bob@d.test|bounce@mailer.test" },
	  .rcpt = "<bob@d.test>", .env = "<bounce@mailer.test>", .from = { "boss@f.test" },
	  .dkim = true, .score = 30,
	  .outcome = HM_REJECT, .ignored = true },
	{ .name = "DKIM counts for no From address when there are two From fields",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<mallory@f.test>",
	  .from = { "boss@f.test", "mallory@f.test" }, .from_fields = 2, .dkim = true,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@f.test",
	  .ignored = true },
	{ .name = "two From fields: the envelope sender = From is not DKIM-authenticated",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<boss@f.test>",
	  .from = { "boss@f.test", "boss@f.test" }, .from_fields = 2, .dkim = true, .score = 30,
	  .outcome = HM_REJECT, .ignored = true },
	{ .name = "two From fields: SPF still authenticates the envelope sender",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<boss@f.test>", .spf_pass = true, .spf_domain = "f.test",
	  .from = { "x@f.test", "boss@f.test" }, .from_fields = 2, .dkim = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .matched = "boss@f.test" },
	{ .name = "one From field with two addresses of the signed domain: both covered",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<bounce@mailer.test>",
	  .from = { "mallory@f.test", "boss@f.test" }, .dkim = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "boss@f.test" },
	{ .name = "DKIM does not count with From addresses in two domains",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<bounce@mailer.test>",
	  .from = { "boss@f.test", "x@other.test" }, .dkim = true, .score = 30,
	  .outcome = HM_REJECT, .ignored = true },
	{ .name = "envelope sender = From, DKIM only: authenticated once merged",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<boss@f.test>", .from = { "Boss@F.test" },
	  .dkim = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "boss@f.test",
	  .matched = "boss@f.test" },
	{ .name = "envelope sender = From, SPF only: authenticated once merged",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<Boss@f.test>", .from = { "boss@F.TEST" },
	  .spf_pass = true, .spf_domain = "f.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "boss@f.test",
	  .matched = "boss@f.test" },
	{ .name = "envelope sender = From, neither SPF nor DKIM: white ignored",
	  .seed = { "SADD|hm:wl:bob@d.test|boss@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<boss@f.test>", .from = { "boss@f.test" },
	  .score = -5,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@f.test",
	  .matched = "boss@f.test", .ignored = true },
	{ .name = "forged From on the domain white list cannot pass a mailbox black",
	  .seed = { "SADD|hm:wl:@d.test|ceo@d.test", "SADD|hm:bl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<x@spam.test>", .from = { "ceo@d.test" },
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@spam.test",
	  .ignored = true },
	{ .name = "forged From on the domain white list cannot pass a domain black",
	  .seed = { "SADD|hm:wl:@d.test|ceo@d.test", "SADD|hm:bl:@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<x@spam.test>", .from = { "ceo@d.test" },
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .matched = "x@spam.test",
	  .ignored = true },
	{ .name = "authenticated From, more specific white, beats black envelope",
	  .seed = { "SADD|hm:wl:@d.test|ceo@d.test", "SADD|hm:bl:@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<x@spam.test>", .from = { "ceo@d.test" },
	  .dkim = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_DOM, .matched = "ceo@d.test" },
	{ .name = "black match on a From address, not the envelope",
	  .seed = { "SADD|hm:bl:@d.test|*@evil.test" },
	  .rcpt = "<bob@d.test>", .env = "<ok@fine.test>", .from = { "x@evil.test" },
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .matched = "x@evil.test" },
	{ .name = "null sender: From still judged",
	  .seed = { "SADD|hm:bl:@d.test|*@evil.test" },
	  .rcpt = "<bob@d.test>", .env = "<>", .from = { "x@evil.test" },
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM },
	{ .name = "case-insensitive: pattern, recipient and senders",
	  .seed = { "SADD|hm:bl:@d.test|*@SPAM.Test" },
	  .rcpt = "<Bob@D.Test>", .env = "<X@Spam.TEST>",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "*@spam.test",
	  .matched = "x@spam.test", .mailbox = "bob@d.test", .domain = "d.test" },
	{ .name = "@domain shorthand",
	  .seed = { "SADD|hm:bl:bob@d.test|@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<anyone@spam.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_MB,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@spam.test" },
	{ .name = "invalid patterns skipped, valid ones kept",
	  .seed = { "SADD|hm:bl:@d.test|*@*|has space@x.test|noat|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@spam.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .pattern = "*@spam.test" },
	{ .name = "mailbox black not final at RCPT when the domain has a white list",
	  .seed = { "SADD|hm:wl:@d.test|partner@p.test", "SADD|hm:bl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@spam.test>",
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB },
	{ .name = "mailbox black not final at RCPT when a mailbox white is more specific",
	  .seed = { "SADD|hm:wl:bob@d.test|ok@spam.test", "SADD|hm:bl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob@d.test>", .env = "<a@spam.test>",
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB },
	{ .name = "whitelist_requires_auth = no: white without authentication",
	  .seed = { "SADD|hm:wl:bob@d.test|friend@f.test" },
	  .rcpt = "<bob@d.test>", .env = "<friend@f.test>", .no_auth_needed = true, .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB },
	{ .name = "thresholds: mailbox over domain",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|3|reject|6", "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 4,
	  .outcome = HM_TAG, .tag = 3, .reject = 6, .thr_from = L_MB },
	{ .name = "thresholds: domain when the mailbox has none",
	  .seed = { "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 11,
	  .outcome = HM_REJECT, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: mailbox tag > reject falls back to domain",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|9|reject|6", "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 7,
	  .outcome = HM_TAG, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: mailbox non-numeric falls back to domain",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|six|reject|12",
		    "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: mailbox negative falls back to domain",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|-1|reject|12",
		    "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: mailbox with tag only falls back to domain",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|2", "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: invalid mailbox and domain fall back to the default",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|1e999|reject|12",
		    "HSET|hm:thr:@d.test|tag|5|reject|4.5x" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 9,
	  .outcome = HM_TAG, .tag = 8, .reject = 15, .thr_from = L_DEF },
	{ .name = "thresholds: wrong key type is ignored",
	  .seed = { "SET|hm:thr:bob@d.test|5", "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 5, .reject = 10, .thr_from = L_DOM },
	{ .name = "thresholds: tag == reject with blanks and decimals",
	  .seed = { "HSET|hm:thr:bob@d.test|tag| 6.5 |reject|6.5" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 6.5,
	  .outcome = HM_TAG, .tag = 6.5, .reject = 6.5, .thr_from = L_MB },
	{ .name = "direct alias gets the mailbox's thresholds and lists",
	  .seed = { "SET|hm:alias:info@d.test|bob@d.test", "HSET|hm:thr:bob@d.test|tag|2|reject|4",
		    "SADD|hm:bl:bob@d.test|*@spam.test", "HSET|hm:thr:info@d.test|tag|7|reject|9" },
	  .rcpt = "<info@d.test>", .env = "<a@spam.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_MB,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB,
	  .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test", .domain = "d.test" },
	{ .name = "direct alias: target in brackets and upper case",
	  .seed = { "SET|hm:alias:info@d.test|<Bob@D.Test>", "HSET|hm:thr:bob@d.test|tag|2|reject|4" },
	  .rcpt = "<info@d.test>", .env = "<a@x.test>", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "multi-target alias: domain policy only",
	  .seed = { "SET|hm:alias:team@d.test|bob@d.test, carol@d.test",
		    "HSET|hm:thr:bob@d.test|tag|2|reject|4", "HSET|hm:thr:team@d.test|tag|1|reject|2",
		    "SADD|hm:bl:team@d.test|*@x.test", "SADD|hm:bl:bob@d.test|*@x.test",
		    "HSET|hm:thr:@d.test|tag|5|reject|10" },
	  .rcpt = "<team@d.test>", .env = "<a@x.test>", .score = 4,
	  .outcome = HM_ACCEPT, .tag = 5, .reject = 10, .thr_from = L_DOM,
	  .mailbox = "", .domain = "d.test" },
	{ .name = "multi-target alias (blank separated): default thresholds, domain lists",
	  .seed = { "SET|hm:alias:team@d.test|bob@d.test carol@d.test",
		    "SADD|hm:bl:@d.test|*@x.test", "HSET|hm:thr:team@d.test|tag|1|reject|2" },
	  .rcpt = "<team@d.test>", .env = "<a@x.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .thr_from = L_DEF, .mailbox = "" },
	{ .name = "alias to another domain: the target domain's lists and thresholds",
	  .seed = { "SET|hm:alias:bob@old.test|bob@new.test", "SADD|hm:bl:@old.test|*@x.test",
		    "SADD|hm:bl:@new.test|*@y.test", "HSET|hm:thr:@new.test|tag|4|reject|9",
		    "HSET|hm:thr:@old.test|tag|1|reject|2" },
	  .rcpt = "<bob@old.test>", .env = "<a@x.test>", .score = 5,
	  .outcome = HM_TAG, .tag = 4, .reject = 9, .thr_from = L_DOM,
	  .mailbox = "bob@new.test", .domain = "new.test" },
	{ .name = "alias to another domain: its black list applies",
	  .seed = { "SET|hm:alias:bob@old.test|bob@new.test", "SADD|hm:bl:@new.test|*@y.test" },
	  .rcpt = "<bob@old.test>", .env = "<a@y.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_DOM,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_DOM, .domain = "new.test" },
	{ .name = "invalid alias value ignored: the address is its own mailbox",
	  .seed = { "SET|hm:alias:bob@d.test|not-an-address",
		    "HSET|hm:thr:bob@d.test|tag|3|reject|6" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>", .score = 4,
	  .outcome = HM_TAG, .tag = 3, .reject = 6, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "alias to itself",
	  .seed = { "SET|hm:alias:bob@d.test|bob@d.test", "HSET|hm:thr:bob@d.test|tag|3|reject|6" },
	  .rcpt = "<bob@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 3, .reject = 6, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "subaddress: bob+news@ gets bob@'s thresholds; the address is kept",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|2|reject|4",
		    "HSET|hm:thr:bob+news@d.test|tag|7|reject|9" },
	  .rcpt = "<Bob+News@d.test>", .env = "<a@x.test>", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test",
	  .address = "bob+news@d.test" },
	{ .name = "subaddress: bob+x@ gets bob@'s black list at RCPT time",
	  .seed = { "SADD|hm:bl:bob@d.test|*@spam.test" },
	  .rcpt = "<bob+x@d.test>", .env = "<a@spam.test>",
	  .rcpt_list = BLACK, .rcpt_level = L_MB,
	  .outcome = HM_REJECT, .list = BLACK, .level = L_MB, .pattern = "*@spam.test" },
	{ .name = "subaddress: bob+x@ gets bob@'s white list at end of message",
	  .seed = { "SADD|hm:wl:bob@d.test|friend@f.test", "SADD|hm:bl:bob@d.test|*@f.test" },
	  .rcpt = "<bob+x@d.test>", .env = "<friend@f.test>", .spf_pass = true,
	  .spf_domain = "f.test", .score = 30,
	  .outcome = HM_ACCEPT, .list = WHITE, .level = L_MB, .pattern = "friend@f.test" },
	{ .name = "subaddress: several delimiters, the first one cuts",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|2|reject|4" },
	  .rcpt = "<bob-a+b@d.test>", .env = "<a@x.test>", .delims = "+-", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "subaddress: empty recipient_delimiter strips nothing",
	  .seed = { "HSET|hm:thr:bob@d.test|tag|2|reject|4" },
	  .rcpt = "<bob+x@d.test>", .env = "<a@x.test>", .delims = "", .score = 3,
	  .outcome = HM_ACCEPT, .mailbox = "bob+x@d.test" },
	{ .name = "subaddress: '+' first is the name, not an extension",
	  .seed = { "HSET|hm:thr:+bob@d.test|tag|2|reject|4" },
	  .rcpt = "<+bob@d.test>", .env = "<a@x.test>", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "+bob@d.test" },
	{ .name = "subaddress: the alias is looked up without the extension",
	  .seed = { "SET|hm:alias:info@d.test|bob@d.test", "HSET|hm:thr:bob@d.test|tag|2|reject|4" },
	  .rcpt = "<info+sales@d.test>", .env = "<a@x.test>", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "subaddress: an alias to bob+sales@ gets bob@'s policy",
	  .seed = { "SET|hm:alias:info@d.test|bob+sales@d.test",
		    "HSET|hm:thr:bob@d.test|tag|2|reject|4" },
	  .rcpt = "<info@d.test>", .env = "<a@x.test>", .score = 3,
	  .outcome = HM_TAG, .tag = 2, .reject = 4, .thr_from = L_MB, .mailbox = "bob@d.test" },
	{ .name = "alias is one hop: the target's own alias is not followed",
	  .seed = { "SET|hm:alias:a@d.test|b@d.test", "SET|hm:alias:b@d.test|c@d.test",
		    "HSET|hm:thr:b@d.test|tag|3|reject|6", "HSET|hm:thr:c@d.test|tag|1|reject|2" },
	  .rcpt = "<a@d.test>", .env = "<a@x.test>",
	  .outcome = HM_ACCEPT, .tag = 3, .reject = 6, .thr_from = L_MB, .mailbox = "b@d.test" },
};

#define NCASES (sizeof(cases) / sizeof(cases[0]))

struct diffs {
	char buf[2048];
	size_t len;
};

static void differ(struct diffs *d, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void differ(struct diffs *d, const char *fmt, ...)
{
	va_list ap;
	int n;

	if (d->len >= sizeof(d->buf) - 1)
		return;
	va_start(ap, fmt);
	n = vsnprintf(d->buf + d->len, sizeof(d->buf) - d->len, fmt, ap);
	va_end(ap);
	if (n > 0)
		d->len += (size_t)n < sizeof(d->buf) - d->len ? (size_t)n : sizeof(d->buf) - d->len - 1;
}

static void check_str(struct diffs *d, const char *what, const char *got, const char *want)
{
	if (want != NULL && strcmp(got, want) != 0)
		differ(d, "\n  %s: \"%s\", want \"%s\"", what, got, want);
}

static void run_case(void **state)
{
	const struct pcase *c = *state;
	struct hm_policy_defaults d = defaults;
	struct hm_auth_facts auth = { c->spf_pass, c->spf_domain, c->dkim,
				      c->from_fields ? c->from_fields : 1 };
	const char *from[3];
	size_t nfrom = 0;
	redisContext *rc;
	struct hm_store *s;
	struct hm_rcpt_policy p;
	struct diffs df = { .len = 0 };
	double tag = c->tag || c->reject ? c->tag : 8, reject = c->tag || c->reject ? c->reject : 15;
	enum hm_level thr_from = c->thr_from == L_NONE ? L_DEF : c->thr_from;
	enum hm_list_verdict rcpt_list;
	enum hm_outcome got;

	NEED_REDIS();
	rc = redis_connect();
	redis_run(rc, "FLUSHDB");
	for (size_t i = 0; i < 8 && c->seed[i]; i++)
		redis_run(rc, c->seed[i]);
	redisFree(rc);
	d.whitelist_requires_auth = !c->no_auth_needed;
	d.recipient_delimiter = c->delims ? c->delims : "+";
	while (nfrom < 3 && c->from[nfrom])
		from[nfrom] = c->from[nfrom], nfrom++;

	s = store_new();
	if (hm_rcpt_policy_load(s, &d, c->rcpt, c->env, &p) != 0)
		differ(&df, "\n  load returned -1");
	if (p.failed)
		differ(&df, "\n  load failed (store down?)");
	if (p.rcpt_list != c->rcpt_list || (c->rcpt_list != NONE && p.list_level != c->rcpt_level))
		differ(&df, "\n  RCPT verdict: %s at %s (pattern \"%s\"), want %s at %s",
		       hm_list_verdict_name(p.rcpt_list), hm_level_name(p.list_level),
		       p.list_pattern, hm_list_verdict_name(c->rcpt_list),
		       hm_level_name(c->rcpt_level));
	if (p.tag != tag || p.reject != reject || p.thresholds_from != thr_from)
		differ(&df, "\n  thresholds: %g/%g from %s, want %g/%g from %s", p.tag, p.reject,
		       hm_level_name(p.thresholds_from), tag, reject, hm_level_name(thr_from));
	check_str(&df, "mailbox", p.mailbox, c->mailbox);
	check_str(&df, "address", p.address, c->address);
	check_str(&df, "domain", p.domain, c->domain);

	rcpt_list = p.rcpt_list;
	got = hm_rcpt_policy_decide(&p, c->env, from, nfrom, &auth, c->score);
	if (got != c->outcome)
		differ(&df, "\n  outcome: %s, want %s", hm_outcome_name(got),
		       hm_outcome_name(c->outcome));
	if (p.list != c->list || p.list_level != c->level)
		differ(&df, "\n  list: %s at %s (pattern \"%s\" matched \"%s\"), want %s at %s",
		       hm_list_verdict_name(p.list), hm_level_name(p.list_level), p.list_pattern,
		       p.list_matched, hm_list_verdict_name(c->list), hm_level_name(c->level));
	check_str(&df, "pattern", p.list_pattern, c->pattern);
	check_str(&df, "matched", p.list_matched, c->matched);
	if (p.white_ignored_unauth != c->ignored)
		differ(&df, "\n  white_ignored_unauth: %d, want %d", p.white_ignored_unauth,
		       c->ignored);
	if (p.rcpt_list != rcpt_list)
		differ(&df, "\n  rcpt_list changed by decide");

	hm_rcpt_policy_release(&p);
	hm_rcpt_policy_release(&p);	/* idempotent */
	hm_store_free(&s);
	if (df.len)
		fail_msg("%s:%s", c->name, df.buf);
}

/* ---- beyond the table ---- */

static void seed(const char *const *cmds)
{
	redisContext *rc = redis_connect();

	redis_run(rc, "FLUSHDB");
	for (; *cmds; cmds++)
		redis_run(rc, *cmds);
	redisFree(rc);
}

static void load_ok(struct hm_store *s, const char *rcpt, const char *env, struct hm_rcpt_policy *p)
{
	if (hm_rcpt_policy_load(s, &defaults, rcpt, env, p) != 0 || p->failed)
		fail_msg("load %s: returned -1 or failed", rcpt);
}

/* Recipient grouping uses the thresholds and the RCPT-time verdict only. */
static void test_same_class(void **state)
{
	static const char *const cmds[] = {
		"HSET|hm:thr:a@d.test|tag|5|reject|10", "HSET|hm:thr:b@d.test|tag|5|reject|10",
		"HSET|hm:thr:c@d.test|tag|5|reject|11", "SADD|hm:bl:e@d.test|*@x.test",
		"SADD|hm:wl:f@d.test|*@x.test", NULL,
	};
	struct hm_store *s;
	struct hm_rcpt_policy a, b, c, dd, e, f;
	struct hm_auth_facts auth = { true, "x.test", false };

	NEED_REDIS();
	seed(cmds);
	s = store_new();
	load_ok(s, "<a@d.test>", "<m@x.test>", &a);
	load_ok(s, "<b@d.test>", "<m@x.test>", &b);
	load_ok(s, "<c@d.test>", "<m@x.test>", &c);
	load_ok(s, "<d@d.test>", "<m@x.test>", &dd);
	load_ok(s, "<e@d.test>", "<m@x.test>", &e);
	load_ok(s, "<f@d.test>", "<m@x.test>", &f);
	assert_true(hm_rcpt_policy_same_class(&a, &b));
	assert_false(hm_rcpt_policy_same_class(&a, &c));	/* reject differs */
	assert_false(hm_rcpt_policy_same_class(&dd, &e));	/* RCPT-time black */
	/* A white list only f has can accept for f what the score refuses for dd. */
	assert_false(hm_rcpt_policy_same_class(&dd, &f));
	/* An end-of-message white does not change the class. */
	assert_int_equal(hm_rcpt_policy_decide(&f, "<m@x.test>", NULL, 0, &auth, 50), HM_ACCEPT);
	assert_true(hm_rcpt_policy_same_class(&f, &f));
	assert_false(hm_rcpt_policy_same_class(&dd, &f));
	hm_rcpt_policy_release(&a);
	hm_rcpt_policy_release(&b);
	hm_rcpt_policy_release(&c);
	hm_rcpt_policy_release(&dd);
	hm_rcpt_policy_release(&e);
	hm_rcpt_policy_release(&f);
	hm_store_free(&s);
}

/*
 * Lists are part of the class even when the envelope sender matched
 * nothing at RCPT time: a black list that matches only the From header
 * is known at end of message, when one verdict must do for every
 * recipient.  Shared values (the domain's lists) and lists with the same
 * members (in another order, or another copy of the value) are one class.
 */
static void test_class_lists(void **state)
{
	static const char *const cmds[] = {
		"SADD|hm:bl:bob@d.test|*@evil.test", "SADD|hm:wl:@d.test|*@partner.test",
		"SADD|hm:bl:carol@d.test|a@x.test|b@x.test|c@x.test",
		"SADD|hm:bl:dan@d.test|c@x.test|b@x.test|a@x.test",
		"SADD|hm:bl:erin@d.test|a@x.test|b@x.test|d@x.test",
		"SADD|hm:wl:fred@d.test|*@evil.test",
		"SADD|hm:bl:bob@e.test|*@evil.test", NULL,
	};
	const char *from[] = { "x@evil.test" };
	struct hm_auth_facts auth = { false, NULL, false };
	struct hm_store *s;
	struct hm_rcpt_policy alice, alice2, bob, carol, dan, erin, fred, bob_e, gina_e;

	NEED_REDIS();
	seed(cmds);
	s = store_new();
	load_ok(s, "<alice@d.test>", "<ok@fine.test>", &alice);
	load_ok(s, "<alice2@d.test>", "<ok@fine.test>", &alice2);
	load_ok(s, "<bob@d.test>", "<ok@fine.test>", &bob);
	load_ok(s, "<carol@d.test>", "<ok@fine.test>", &carol);
	load_ok(s, "<dan@d.test>", "<ok@fine.test>", &dan);
	load_ok(s, "<erin@d.test>", "<ok@fine.test>", &erin);
	load_ok(s, "<fred@d.test>", "<ok@fine.test>", &fred);
	load_ok(s, "<bob@e.test>", "<ok@fine.test>", &bob_e);
	load_ok(s, "<gina@e.test>", "<ok@fine.test>", &gina_e);
	/* Nothing matched at RCPT time, thresholds equal: only the lists differ. */
	assert_int_equal(bob.rcpt_list, HM_LIST_NONE);
	assert_true(hm_rcpt_policy_same_class(&alice, &alice2));	/* the domain's lists */
	assert_false(hm_rcpt_policy_same_class(&alice, &bob));
	assert_false(hm_rcpt_policy_same_class(&bob, &alice));
	assert_true(hm_rcpt_policy_same_class(&carol, &dan));		/* same members */
	assert_false(hm_rcpt_policy_same_class(&carol, &erin));		/* one differs */
	assert_false(hm_rcpt_policy_same_class(&bob, &fred));		/* white, not black */
	/* The same mailbox list under another domain's lists is another class. */
	assert_false(hm_rcpt_policy_same_class(&bob, &bob_e));
	assert_false(hm_rcpt_policy_same_class(&bob_e, &gina_e));
	/* Why it matters: the From decides differently for them. */
	assert_int_equal(hm_rcpt_policy_decide(&bob, "<ok@fine.test>", from, 1, &auth, 0),
			 HM_REJECT);
	assert_int_equal(hm_rcpt_policy_decide(&alice, "<ok@fine.test>", from, 1, &auth, 0),
			 HM_ACCEPT);
	hm_rcpt_policy_release(&alice);
	hm_rcpt_policy_release(&alice2);
	hm_rcpt_policy_release(&bob);
	hm_rcpt_policy_release(&carol);
	hm_rcpt_policy_release(&dan);
	hm_rcpt_policy_release(&erin);
	hm_rcpt_policy_release(&fred);
	hm_rcpt_policy_release(&bob_e);
	hm_rcpt_policy_release(&gina_e);
	hm_store_free(&s);
}

/*
 * Two copies of one value (another store, as when the cache cannot be
 * trusted and every lookup fetches afresh) are still one class.
 */
static void test_class_copies(void **state)
{
	static const char *const cmds[] = {
		"SADD|hm:bl:@d.test|*@evil.test|*@spam.test", "SADD|hm:wl:bob@d.test|a@x.test", NULL,
	};
	struct hm_store *s1, *s2;
	struct hm_rcpt_policy p1, p2;

	NEED_REDIS();
	seed(cmds);
	s1 = store_new();
	s2 = store_new();
	load_ok(s1, "<bob@d.test>", "<ok@fine.test>", &p1);
	load_ok(s2, "<bob@d.test>", "<ok@fine.test>", &p2);
	assert_true(hm_rcpt_policy_same_class(&p1, &p2));
	hm_rcpt_policy_release(&p1);
	hm_rcpt_policy_release(&p2);
	hm_store_free(&s1);
	hm_store_free(&s2);
}

/* Subaddress extensions cut the way Postfix's recipient_delimiter cuts. */
static void test_strip_extension(void **state)
{
	static const struct {
		const char *local, *delims, *want;
	} t[] = {
		{ "bob+x", "+", "bob" },
		{ "bob+x+y", "+", "bob" },		/* the first delimiter cuts */
		{ "bob+", "+", "bob" },			/* empty extension */
		{ "+bob", "+", "+bob" },		/* nothing would be left */
		{ "+", "+", "+" },
		{ "bob", "+", "bob" },
		{ "bob+x", "", "bob+x" },		/* empty setting: off */
		{ "bob+x", NULL, "bob+x" },
		{ "bob-x+y", "+-", "bob" },		/* any one of several */
		{ "bob+x-y", "+-", "bob" },
		{ "bob-x", "+", "bob-x" },		/* '-' not a delimiter here */
		{ "bob-x", "-", "bob" },
		{ "bob.x", "+.", "bob" },
		{ "-bob+x", "+-", "-bob+x" },		/* the first one is at the start */
		{ "owner-list", "+-", "owner-list" },	/* owner_request_special */
		{ "list-request", "+-", "list-request" },
		{ "owner+x", "+", "owner" },		/* only with '-' a delimiter */
		{ "list-request+x", "+", "list-request" },
		{ "postmaster", "st", "postmaster" },	/* never split */
		{ "MAILER-DAEMON", "+-", "MAILER-DAEMON" },
		{ "double-bounce", "-", "double-bounce" },
		{ "john doe+x", "+", "john doe" },	/* a quoted local-part, as parsed */
	};
	char buf[128];

	for (size_t i = 0; i < sizeof(t) / sizeof(t[0]); i++) {
		bool stripped;

		snprintf(buf, sizeof(buf), "%s", t[i].local);
		stripped = hm_local_strip_extension(buf, t[i].delims);
		if (strcmp(buf, t[i].want) != 0 || stripped != (strcmp(t[i].local, t[i].want) != 0))
			fail_msg("\"%s\" with delimiters \"%s\": \"%s\" (stripped %d), want \"%s\"",
				 t[i].local, t[i].delims ? t[i].delims : "(null)", buf, stripped,
				 t[i].want);
	}
	assert_false(hm_local_strip_extension(NULL, "+"));
}

/*
 * One round trip for a mailbox, two for a direct alias, none once cached;
 * a list is compiled once and shared by every policy using the value.
 */
static void test_round_trips_and_sharing(void **state)
{
	static const char *const cmds[] = {
		"SADD|hm:bl:@d.test|*@x.test", "SET|hm:alias:info@d.test|bob@d.test",
		"SADD|hm:bl:bob@d.test|*@y.test", NULL,
	};
	struct hm_store *s;
	struct hm_store_stats st0, st1;
	struct hm_rcpt_policy p1, p2, p3;

	NEED_REDIS();
	seed(cmds);
	s = store_new();
	hm_store_stats(s, &st0);
	load_ok(s, "<bob@d.test>", "<m@z.test>", &p1);
	hm_store_stats(s, &st1);
	assert_int_equal(st1.round_trips - st0.round_trips, 1);
	assert_int_equal(p1.source, HM_SRC_REDIS);

	load_ok(s, "<bob@d.test>", "<m@z.test>", &p2);
	hm_store_stats(s, &st0);
	assert_int_equal(st0.round_trips - st1.round_trips, 0);
	assert_int_equal(p2.source, HM_SRC_CACHE);
	/* The compiled lists are the same objects. */
	assert_non_null(p1.lists_[1]);
	assert_ptr_equal(atomic_load(&p1.lists_[1]->derived), atomic_load(&p2.lists_[1]->derived));

	load_ok(s, "<info@d.test>", "<m@z.test>", &p3);
	hm_store_stats(s, &st1);
	/* The alias and its domain keys miss, then the target's keys: both cached already. */
	assert_int_equal(st1.round_trips - st0.round_trips, 1);
	assert_string_equal(p3.mailbox, "bob@d.test");
	hm_rcpt_policy_release(&p3);
	hm_store_free(&s);

	/* A fresh store: a direct alias costs exactly two round trips. */
	s = store_new();
	hm_store_stats(s, &st0);
	load_ok(s, "<info@d.test>", "<m@y.test>", &p3);
	hm_store_stats(s, &st1);
	assert_int_equal(st1.round_trips - st0.round_trips, 2);
	assert_int_equal(p3.rcpt_list, HM_LIST_BLACK);
	assert_int_equal(p3.list_level, HM_LEVEL_MAILBOX);
	hm_rcpt_policy_release(&p1);
	hm_rcpt_policy_release(&p2);
	hm_rcpt_policy_release(&p3);
	hm_store_free(&s);
}

/* An edit made with redis-cli is seen by the next load within a second. */
static void test_edit_seen(void **state)
{
	static const char *const cmds[] = { "HSET|hm:thr:bob@d.test|tag|3|reject|6", NULL };
	struct hm_store *s;
	struct hm_rcpt_policy p;
	redisContext *rc;
	double t0;
	struct timespec ts;
	bool seen = false;

	NEED_REDIS();
	seed(cmds);
	s = store_new();
	load_ok(s, "<bob@d.test>", "<m@z.test>", &p);
	assert_true(p.tag == 3);
	hm_rcpt_policy_release(&p);
	rc = redis_connect();
	redis_run(rc, "SADD|hm:bl:bob@d.test|*@z.test");
	redis_run(rc, "HSET|hm:thr:bob@d.test|tag|4");
	redisFree(rc);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = (double)ts.tv_sec + ts.tv_nsec / 1e9;
	for (;;) {
		load_ok(s, "<bob@d.test>", "<m@z.test>", &p);
		seen = p.tag == 4 && p.rcpt_list == HM_LIST_BLACK;
		hm_rcpt_policy_release(&p);
		clock_gettime(CLOCK_MONOTONIC, &ts);
		if (seen || (double)ts.tv_sec + ts.tv_nsec / 1e9 - t0 > 1.0)
			break;
		usleep(10000);
	}
	hm_store_free(&s);
	if (!seen)
		fail_msg("the edit was not seen within one second");
}

/* Count the lines of a file holding needle. */
static int count_lines(const char *path, const char *needle)
{
	FILE *f = fopen(path, "r");
	char line[2048];
	int n = 0;

	if (f == NULL)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (strstr(line, needle))
			n++;
	fclose(f);
	return n;
}

/* Bad data is warned about once per fetched value, not once per message. */
static void test_warn_once(void **state)
{
	static const char *const cmds[] = {
		"HSET|hm:thr:bob@d.test|tag|9|reject|3", "SADD|hm:wl:@d.test|*@*|*@ok.test",
		"SET|hm:alias:x@d.test|@@@", NULL,
	};
	char path[] = "/tmp/hm-test-policy-log.XXXXXX";
	struct hm_store *s;
	int fd, saved, thr, wl, alias;

	NEED_REDIS();
	fd = mkstemp(path);
	saved = dup(2);
	assert_true(fd >= 0 && saved >= 0);
	seed(cmds);
	s = store_new();
	fflush(stderr);
	dup2(fd, 2);
	for (int i = 0; i < 50; i++) {
		struct hm_rcpt_policy p;

		load_ok(s, "<bob@d.test>", "<m@z.test>", &p);
		hm_rcpt_policy_release(&p);
		load_ok(s, "<x@d.test>", "<m@z.test>", &p);
		hm_rcpt_policy_release(&p);
	}
	fflush(stderr);
	dup2(saved, 2);
	close(saved);
	close(fd);
	hm_store_free(&s);
	thr = count_lines(path, "thr:bob@d.test");
	wl = count_lines(path, "wl:@d.test");
	alias = count_lines(path, "alias:x@d.test");
	unlink(path);
	if (thr != 1 || wl != 1 || alias != 1)
		fail_msg("warnings in 100 loads: thresholds %d, list %d, alias %d; want 1 each",
			 thr, wl, alias);
}

/* Addresses that are no recipient, and no store at all. */
static void test_edges(void **state)
{
	struct hm_rcpt_policy p;
	struct hm_policy_defaults bad = { 20, 10, true };

	assert_int_equal(hm_rcpt_policy_load(NULL, &defaults, "<postmaster>", "<a@b.test>", &p), -1);
	assert_true(p.tag == 8 && p.reject == 15 && p.thresholds_from == HM_LEVEL_DEFAULT);
	hm_rcpt_policy_release(&p);
	assert_int_equal(hm_rcpt_policy_load(NULL, &defaults, "<>", NULL, &p), -1);
	hm_rcpt_policy_release(&p);
	assert_int_equal(hm_rcpt_policy_load(NULL, &defaults, "<Bob@D.test>", NULL, &p), 0);
	assert_string_equal(p.address, "bob@d.test");
	assert_false(p.failed);
	assert_int_equal(hm_rcpt_policy_decide(&p, NULL, NULL, 0, NULL, 16), HM_REJECT);
	hm_rcpt_policy_release(&p);
	/* Invalid server defaults never reach hm_decide(). */
	assert_int_equal(hm_rcpt_policy_load(NULL, &bad, "<bob@d.test>", NULL, &p), 0);
	assert_true(p.tag == HM_DEFAULT_TAG && p.reject == HM_DEFAULT_REJECT);
	hm_rcpt_policy_release(&p);
}

/*
 * Last: Redis stops.  A cached recipient keeps its policy (stale beats
 * defaults); one never cached gets failed + defaults + no lists.
 */
static void test_redis_down(void **state)
{
	static const char *const cmds[] = {
		"HSET|hm:thr:bob@d.test|tag|3|reject|6", "SADD|hm:bl:@d.test|*@spam.test",
		"HSET|hm:thr:@e.test|tag|1|reject|2", NULL,
	};
	struct hm_store *s;
	struct hm_rcpt_policy p;
	redisContext *rc;
	redisReply *r;

	NEED_REDIS();
	seed(cmds);
	s = store_new();
	load_ok(s, "<bob@d.test>", "<a@spam.test>", &p);
	hm_rcpt_policy_release(&p);

	rc = redis_connect();
	r = redisCommand(rc, "SHUTDOWN NOSAVE");	/* no reply when it works */
	if (r != NULL)
		freeReplyObject(r);
	redisFree(rc);
	redis_port = 0;					/* nothing after this needs it */
	usleep(200000);

	assert_int_equal(hm_rcpt_policy_load(s, &defaults, "<bob@d.test>", "<a@spam.test>", &p), 0);
	assert_false(p.failed);
	assert_int_equal(p.source, HM_SRC_CACHE);
	assert_true(p.tag == 3 && p.reject == 6);
	assert_int_equal(p.rcpt_list, HM_LIST_BLACK);
	hm_rcpt_policy_release(&p);

	assert_int_equal(hm_rcpt_policy_load(s, &defaults, "<carol@e.test>", "<a@spam.test>", &p), 0);
	assert_true(p.failed);
	assert_int_equal(p.source, HM_SRC_NONE);
	assert_true(p.tag == 8 && p.reject == 15 && p.thresholds_from == HM_LEVEL_DEFAULT);
	assert_int_equal(p.rcpt_list, HM_LIST_NONE);
	assert_string_equal(p.mailbox, "carol@e.test");
	assert_int_equal(hm_rcpt_policy_decide(&p, "<a@spam.test>", NULL, 0, NULL, 9), HM_TAG);
	hm_rcpt_policy_release(&p);
	hm_store_free(&s);
}

int main(void)
{
	static const struct CMUnitTest extra[] = {
		cmocka_unit_test(test_same_class),
		cmocka_unit_test(test_class_lists),
		cmocka_unit_test(test_class_copies),
		cmocka_unit_test(test_strip_extension),
		cmocka_unit_test(test_round_trips_and_sharing),
		cmocka_unit_test(test_edit_seen),
		cmocka_unit_test(test_warn_once),
		cmocka_unit_test(test_edges),
		cmocka_unit_test(test_redis_down),	/* last: stops Redis */
	};
	const size_t nextra = sizeof(extra) / sizeof(extra[0]);
	static struct CMUnitTest tests[NCASES + sizeof(extra) / sizeof(extra[0])];
	const char *port = getenv("HM_TEST_REDIS_PORT");

	if (port != NULL)
		redis_port = atoi(port);
	hm_log_open("test-policy", true, 0);
	hm_log_set_level(HM_LOG_WARNING);
	for (size_t i = 0; i < NCASES; i++) {
		tests[i].name = cases[i].name;
		tests[i].test_func = run_case;
		tests[i].initial_state = (void *)&cases[i];
	}
	for (size_t i = 0; i < nextra; i++)
		tests[NCASES + i] = extra[i];
	return _cmocka_run_group_tests("policy", tests, NCASES + nextra, NULL, NULL);
}
