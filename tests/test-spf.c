/*
 * test-spf.c - the SPF check (scoring/spf.c) against the test DNS server.
 *
 * Run by tests/spf.test, which starts tests/dns-server.py on
 * tests/data/spf/spf.zone and passes its address in HM_TEST_DNS
 * ("127.0.0.1@PORT").  One table row per scenario, one TAP case per row;
 * many rows are scenarios of the RFC 7208 test suite (rfc7208-tests.yml)
 * on our own zone data, named after the suite's test where there is one.
 */
#include "config.h"

#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "scoring/dns.h"
#include "scoring/spf.h"
#include "scoring/spf-record.h"

#define TIMEOUT_MS 1000

/* Clients (see the zone file's header). */
#define C4 "192.0.2.10"
#define C4B "192.0.2.20"
#define C4F "192.0.2.99"
#define C6 "2001:db8::10"
#define C6B "2001:db8:1::99"

#define R(x) (1u << HM_SPF_##x)

struct row {
	const char *name;
	const char *ip, *helo, *from;
	unsigned want;			/* acceptable results, R(PASS) | ... */
	const char *domain;		/* expected outcome fields, NULL: unchecked */
	const char *identity;
	const char *reason;		/* a substring of the reason */
	int helo_identity;		/* -1: unchecked */
};

#define ROW(n, ip, from, want) { n, ip, "mail.example.org", from, want, NULL, NULL, NULL, -1 }

static const struct row rows[] = {
	/* Every result. */
	ROW("pass", C4, "alice@pass.example.com", R(PASS)),
	ROW("fail", C4, "alice@fail.example.com", R(FAIL)),
	ROW("softfail", C4, "alice@softfail.example.com", R(SOFTFAIL)),
	ROW("neutral", C4, "alice@neutral.example.com", R(NEUTRAL)),
	ROW("default-result (no all: neutral)", C4, "alice@noall.example.com", R(NEUTRAL)),
	ROW("none: no SPF record among TXT", C4, "alice@nospf.example.com", R(NONE)),
	ROW("none: NXDOMAIN", C4, "alice@nothere.example.com", R(NONE)),
	ROW("temperror: SERVFAIL", C4, "alice@servfail.example.com", R(TEMPERROR)),
	ROW("temperror: server never answers", C4, "alice@drop.example.com", R(TEMPERROR)),
	ROW("permerror: unknown mechanism", C4, "alice@badmech.example.com", R(PERMERROR)),
	ROW("permerror: several records", C4, "alice@multi.example.com", R(PERMERROR)),

	/* Record selection (suite: "Record lookup", "Selecting records"). */
	ROW("empty record: neutral", C4, "alice@empty.example.com", R(NEUTRAL)),
	ROW("nospace1: v=spf1 joined to the next string", C4, "alice@nospace.example.com", R(NONE)),
	ROW("nospace2: v=spf10 ignored", C4, "alice@spf10.example.com", R(PASS)),
	ROW("multitxt2: several records, case-insensitive", C4, "alice@multicase.example.com", R(PERMERROR)),
	ROW("spfonly: type SPF is not looked up", C4, "alice@spfonly.example.com", R(NONE)),
	ROW("spfoverride: TXT wins over type SPF", C4, "alice@spftxt.example.com", R(FAIL)),
	ROW("case-insensitive record", C4, "alice@case.example.com", R(PASS)),
	ROW("case-insensitive v=SpF1 ~aLl", C4, "alice@casesoft.example.com", R(SOFTFAIL)),
	ROW("TXT split in several strings", C4, "alice@split.example.com", R(PASS)),
	ROW("record longer than 255 bytes", C4, "alice@long.example.com", R(PASS)),
	ROW("record longer than 255 bytes, no match", C4B, "alice@long.example.com", R(FAIL)),
	ROW("two-spaces between terms", C4, "alice@twospaces.example.com", R(PASS)),
	ROW("non-ascii-non-spf TXT ignored", C4B, "alice@nospf.example.com", R(NONE)),

	/* Syntax (suite: "Record evaluation", mechanism syntax sections). */
	ROW("detect-errors-anywhere", C4, "alice@trailer.example.com", R(PERMERROR)),
	ROW("modifier-charset-good", C4, "alice@modgood.example.com", R(PASS)),
	ROW("modifier-charset-bad1", C4, "alice@modbad1.example.com", R(PERMERROR)),
	ROW("modifier-charset-bad2", C4, "alice@modbad2.example.com", R(PERMERROR)),
	ROW("redirect-is-modifier", C4, "alice@redircolon.example.com", R(PERMERROR)),
	ROW("invalid-domain (no toplabel)", C4, "alice@baddomain.example.com", R(PERMERROR)),
	ROW("all-dot", C4, "alice@alldot.example.com", R(PERMERROR)),
	ROW("all-arg", C4, "alice@allarg.example.com", R(PERMERROR)),
	ROW("all-cidr", C4, "alice@allcidr.example.com", R(PERMERROR)),
	ROW("all-double", C4, "alice@alldouble.example.com", R(PASS)),
	ROW("ptr-cidr", C4, "alice@ptrcidr.example.com", R(PERMERROR)),
	ROW("ptr-empty-domain", C4, "alice@ptrempty.example.com", R(PERMERROR)),
	ROW("a-bad-cidr4", C4, "alice@acidr4.example.com", R(PERMERROR)),
	ROW("a-bad-cidr6", C4, "alice@acidr6.example.com", R(PERMERROR)),
	ROW("a-cidr6 (//33 is fine)", C4, "alice@acidr6ok.example.com", R(FAIL)),
	ROW("a-dual-cidr-ip4-err", C4, "alice@adualbad.example.com", R(PERMERROR)),
	ROW("a-only-toplabel", C4, "alice@amuseum.example.com", R(PERMERROR)),
	ROW("a-only-toplabel-trailing-dot", C4, "alice@amuseumdot.example.com", R(PERMERROR)),
	ROW("a-numeric-toplabel", C4, "alice@anumeric.example.com", R(PERMERROR)),
	ROW("a-numeric (an IP as a:)", C4, "alice@aip.example.com", R(PERMERROR)),
	ROW("a-bad-domain (port)", C4, "alice@aport.example.com", R(PERMERROR)),
	ROW("a-bad-toplabel", C4, "alice@adash.example.com", R(PERMERROR)),
	ROW("a-empty-domain", C4, "alice@aempty.example.com", R(PERMERROR)),
	ROW("a-null (NUL byte)", C4, "alice@anul.example.com", R(PERMERROR)),
	ROW("NUL byte inside the record", C4, "alice@nulmid.example.com", R(PERMERROR)),
	ROW("NUL byte at the end of the record", C4, "alice@nulend.example.com", R(PERMERROR)),
	ROW("NUL byte as a string of its own", C4, "alice@nulsplit.example.com", R(PERMERROR)),
	ROW("NUL byte right after v=spf1: not an SPF record", C4, "alice@nulver.example.com", R(NONE)),
	ROW("NUL byte right after v=spf1: the other record counts", C4B, "alice@nulverok.example.com", R(FAIL)),
	ROW("NUL byte before v=spf1: not an SPF record", C4, "alice@nulfirst.example.com", R(FAIL)),
	ROW("NUL byte in another TXT record", C4, "alice@nulother.example.com", R(PASS)),
	ROW("NUL byte in an included record", C4, "alice@nulinc.example.com", R(PERMERROR)),
	ROW("cidr4-33", C4, "alice@ip4cidr33.example.com", R(PERMERROR)),
	ROW("cidr4-032", C4, "alice@ip4cidr032.example.com", R(PERMERROR)),
	ROW("bad-ip4-short", C4, "alice@ip4short.example.com", R(PERMERROR)),
	ROW("bad-ip4-port", C4, "alice@ip4port.example.com", R(PERMERROR)),
	ROW("bare-ip4", C4, "alice@ip4bare.example.com", R(PERMERROR)),
	ROW("ip4-dual-cidr", C4, "alice@ip4dual.example.com", R(PERMERROR)),
	ROW("cidr6-129", C4, "alice@ip6cidr.example.com", R(PERMERROR)),
	ROW("ip6-bad1", C4, "alice@ip6bad.example.com", R(PERMERROR)),
	ROW("exists-implicit", C4, "alice@exbare.example.com", R(PERMERROR)),
	ROW("exists-empty-domain", C4, "alice@exempty.example.com", R(PERMERROR)),
	ROW("exists-cidr", C4, "alice@excidr.example.com", R(PERMERROR)),
	ROW("include-empty-domain", C4, "alice@incempty.example.com", R(PERMERROR)),
	ROW("include-cidr", C4, "alice@inccidr.example.com", R(PERMERROR)),
	ROW("invalid-macro-char", C4, "alice@macparen.example.com", R(PERMERROR)),
	ROW("invalid-trailing-macro-char", C4, "alice@macpct.example.com", R(PERMERROR)),
	ROW("undef-macro", C4, "alice@macundef.example.com", R(PERMERROR)),
	ROW("exp-only-macro-char", C4, "alice@macexp.example.com", R(PERMERROR)),
	ROW("unknown-modifier-syntax", C4, "alice@unkmodsyn.example.com", R(PERMERROR)),
	ROW("redirect-twice", C4, "alice@redirtwice.example.com", R(PERMERROR)),
	ROW("exp-twice", C4, "alice@exptwice.example.com", R(PERMERROR)),
	ROW("exp-empty-domain", C4, "alice@expempty.example.com", R(PERMERROR)),
	ROW("redirect-empty-domain", C4, "alice@redirempty.example.com", R(PERMERROR)),
	ROW("invalid-modifier (name starts with a digit)", C4, "alice@modnum.example.com", R(PERMERROR)),
	ROW("empty-modifier-name", C4, "alice@modempty.example.com", R(PERMERROR)),
	ROW("control-char-policy", C4, "alice@ctrl.example.com", R(PERMERROR)),
	ROW("non-ascii-policy", C4, "alice@nonascii.example.com", R(PERMERROR)),
	ROW("non-ascii-mech", C4, "alice@nonascii2.example.com", R(PERMERROR)),
	ROW("default-modifier-obsolete", C4, "alice@defaultmod.example.com", R(NEUTRAL)),

	/* include and redirect. */
	ROW("include pass", C4, "alice@incpass.example.com", R(PASS)),
	ROW("include-fail: no match", C4, "alice@incfail.example.com", R(SOFTFAIL)),
	ROW("include-softfail: no match", C4, "alice@incsoft.example.com", R(PASS)),
	ROW("include-neutral: no match", C4, "alice@incneutral.example.com", R(FAIL)),
	ROW("include-temperror", C4, "alice@inctemp.example.com", R(TEMPERROR)),
	ROW("include-permerror", C4, "alice@incperm.example.com", R(PERMERROR)),
	ROW("include-none: no record", C4, "alice@incnone.example.com", R(PERMERROR)),
	ROW("include-none: NXDOMAIN", C4, "alice@incnx.example.com", R(PERMERROR)),
	ROW("include of a record > 255 bytes", C4, "alice@inclong.example.com", R(PASS)),
	ROW("redirect", C4, "alice@redir.example.com", R(PASS)),
	ROW("redirect-none", C4, "alice@redirnone.example.com", R(PERMERROR)),
	ROW("redirect-after-mechanisms2", C4, "alice@redirafter.example.com", R(FAIL)),
	ROW("redirect-after-mechanisms1 (all wins)", C4, "alice@redirall.example.com", R(SOFTFAIL)),
	ROW("redirect-loop", C4, "alice@rloop.example.com", R(PERMERROR)),
	ROW("include-loop", C4, "alice@iloop1.example.com", R(PERMERROR)),
	ROW("redirect-implicit (%{d} follows redirect)", C4, "alice@redirimpl.example.com", R(PASS)),

	/* Processing limits (RFC 7208 4.6.4). */
	ROW("10 includes: at the limit", C4, "alice@inc10.example.com", R(PASS)),
	ROW("11 includes: over the limit", C4, "alice@inc11.example.com", R(PERMERROR)),
	ROW("mech-at-limit", C4, "alice@atlimit.example.com", R(PASS)),
	ROW("mech-over-limit", C4, "alice@overlimit.example.com", R(PERMERROR)),
	ROW("include-at-limit", C4, "alice@incatlimit.example.com", R(PASS)),
	ROW("include-over-limit", C4, "alice@incoverlimit.example.com", R(PERMERROR)),
	ROW("void-at-limit (2)", C4, "alice@void2.example.com", R(NEUTRAL)),
	ROW("void-over-limit (3)", C4, "alice@void3.example.com", R(PERMERROR)),
	ROW("exp-void: exp= not counted", C4, "alice@voidexp.example.com", R(FAIL)),
	ROW("10 MX names", C4, "alice@mx10.example.com", R(PASS)),
	ROW("mx-limit: 11 MX names", C4, "alice@mx11.example.com", R(PERMERROR)),
	ROW("false-a-limit: 21 A records", C4, "alice@manya.example.com", R(PASS)),
	ROW("ptr-limit: names past 10 ignored", C4B, "alice@ptrlimit.example.com", R(NEUTRAL) | R(PASS)),

	/* Mechanisms. */
	ROW("a-multi-ip with /24", C4, "alice@amatch.example.com", R(PASS)),
	ROW("a-nxdomain (a/0, no A)", C4, "alice@anx.example.com", R(FAIL)),
	ROW("a-cidr4-0", C4, "alice@a0.example.com", R(PASS)),
	ROW("a-cidr4-0-ip6", C6, "alice@a0.example.com", R(FAIL)),
	ROW("a-cidr6-0-ip4", C4, "alice@a60.example.com", R(FAIL)),
	ROW("a-cidr6-0-ip6", C6, "alice@a60.example.com", R(PASS)),
	ROW("a-cidr6-0-nxdomain (only A)", C6, "alice@a60only4.example.com", R(FAIL)),
	ROW("a:host/0//0, IPv4 client", C4, "alice@a0both.example.com", R(PASS)),
	ROW("a:host/0//0, IPv6 client", C6, "alice@a0both.example.com", R(PASS)),
	ROW("a:host/0//0, IPv4-mapped client", "::ffff:192.0.2.10", "alice@a0both.example.com", R(PASS)),
	ROW("a:host/0//0, IPv6 client, host has only A", C6, "alice@a0only4.example.com", R(FAIL)),
	ROW("a:host/0//0, IPv4 client, host has only A", C4, "alice@a0only4.example.com", R(PASS)),
	ROW("a:host/0//0, host does not exist (IPv4)", C4, "alice@a0nx.example.com", R(FAIL)),
	ROW("a:host/0//0, host does not exist (IPv6)", C6, "alice@a0nx.example.com", R(FAIL)),
	ROW("a/24//0, IPv6 client: any address", C6B, "alice@a24v60.example.com", R(PASS)),
	ROW("a/24//0, IPv4 client in the /24", C4, "alice@a24v60.example.com", R(PASS)),
	ROW("a/24//0, IPv4 client outside the /24", "198.51.100.7", "alice@a24v60.example.com", R(FAIL)),
	ROW("a:%{l}.../0 with macros", C4, "alice@a0mac.example.com", R(PASS)),
	ROW("a:%{l}.../0 with macros, no such name", C4, "bob@a0mac.example.com", R(FAIL)),
	ROW("a:%{d}//0 with macros, IPv6", C6, "alice@a0mac.example.com", R(PASS)),
	ROW("mx-cidr4-0", C4, "alice@mx0.example.com", R(PASS)),
	ROW("mx-cidr4-0-ip6", C6, "alice@mx0.example.com", R(FAIL)),
	ROW("mx-cidr6-0-ip6", C6, "alice@mx60.example.com", R(PASS)),
	ROW("mx-cidr6-0-ip4", C4, "alice@mx60.example.com", R(FAIL)),
	ROW("mx-cidr6-0-ip4mapped", "::ffff:192.0.2.10", "alice@mx60.example.com", R(FAIL)),
	ROW("mx:d/0//0, IPv4 client", C4, "alice@mx0both.example.com", R(PASS)),
	ROW("mx:d/0//0, IPv6 client", C6, "alice@mx0both.example.com", R(PASS)),
	ROW("mx/0//0, second MX host has addresses", C4, "alice@mx0second.example.com", R(PASS)),
	ROW("mx/0//0, second MX host has addresses (IPv6)", C6B, "alice@mx0second.example.com", R(PASS)),
	ROW("mx-nxdomain (mx/0, MX host without addresses)", C4, "alice@mx0noaddr.example.com", R(FAIL)),
	ROW("mx-cidr6-0-nxdomain (IPv6)", C6, "alice@mx0noaddr.example.com", R(FAIL)),
	ROW("mx/0//0, domain does not exist", C4, "alice@mx0nx.example.com", R(FAIL)),
	ROW("mx/0, 11 MX names: permerror", C4, "alice@mx0many.example.com", R(PERMERROR)),
	ROW("/0 lookups count as void lookups", C6, "alice@mx0void.example.com", R(PERMERROR)),
	ROW("mx/0 through redirect", C4B, "alice@mx0redir.example.com", R(PASS)),
	ROW("-mx/0//0: the qualifier applies", C4, "alice@mx0neg.example.com", R(FAIL)),
	ROW("-mx/0//0: the qualifier applies (IPv6)", C6, "alice@mx0neg.example.com", R(FAIL)),
	ROW("mx/0//0 and a null MX: no match", C4, "alice@mx0null.example.com", R(NEUTRAL)),
	ROW("a:host./0//0 (trailing dot)", C4B, "alice@a0dot.example.com", R(PASS)),
	ROW("300 /0 terms after the match", C4, "alice@many0.example.com", R(PASS)),
	ROW("300 /0 terms: over the DNS term limit", C4B, "alice@many0.example.com", R(PERMERROR)),
	ROW("a:host./0//0 (trailing dot, IPv6)", C6B, "alice@a0dot.example.com", R(PASS)),
	ROW("mx-nxdomain: no match", C4, "alice@mxnx.example.com", R(NEUTRAL)),
	ROW("mx-nxdomain twice: at the void limit", C4, "alice@mxnx2.example.com", R(NEUTRAL)),
	ROW("mx-nxdomain three times: over the void limit", C4, "alice@mxnx3.example.com", R(PERMERROR)),
	ROW("mx-nodata and mx-nxdomain: at the void limit", C4, "alice@mxnodata.example.com", R(NEUTRAL)),
	ROW("mx-nodata and 2 mx-nxdomain: over the void limit", C4, "alice@mxnodata3.example.com", R(PERMERROR)),
	ROW("mx host does not exist: no match", C4, "alice@mxnxhost.example.com", R(NEUTRAL)),
	ROW("mx host does not exist: no match (IPv6)", C6, "alice@mxnxhost.example.com", R(NEUTRAL)),
	ROW("mx-nxdomain (IPv6)", C6, "alice@mxnx.example.com", R(NEUTRAL)),
	ROW("mx-nxdomain with CIDR lengths", C4, "alice@mxnxcidr.example.com", R(FAIL)),
	ROW("mx-nxdomain with CIDR lengths (IPv6)", C6, "alice@mxnxcidr.example.com", R(FAIL)),
	ROW("mx-nxdomain in an include, void counted across it", C4B, "alice@mxnxinc.example.com", R(FAIL)),
	ROW("mx-nxdomain twice in an include (IPv6)", C6B, "alice@mxnxinc.example.com", R(FAIL)),
	ROW("three MX hosts do not exist, the fourth matches", C4, "alice@mxnxhosts.example.com", R(PASS)),
	ROW("three MX hosts do not exist, no match", C4B, "alice@mxnxhosts.example.com", R(FAIL)),
	ROW("MX hosts that do not exist are no void lookups", C4B, "alice@mxnxhostsvoid.example.com", R(NEUTRAL)),
	ROW("MX host lookups are part of the mx term", C4, "alice@mxterms.example.com", R(PASS)),
	ROW("MX host lookups are part of the mx term, no match", C4B, "alice@mxterms.example.com", R(FAIL)),
	ROW("a-dual-cidr-ip4-match", C4, "alice@adual.example.com", R(PASS)),
	ROW("a-dual-cidr-ip6-match", C6, "alice@adual.example.com", R(PASS)),
	ROW("mx second name matches", C4, "alice@mxmatch.example.com", R(PASS)),
	ROW("mx AAAA (IPv6 client)", C6, "alice@mxmatch.example.com", R(PASS)),
	ROW("mx no match", C4B, "alice@mxmatch.example.com", R(FAIL)),
	ROW("mx-implicit (no MX, no A fallback)", C4, "alice@mximplicit.example.com", R(NEUTRAL)),
	ROW("mx-empty (null MX)", C4, "alice@nullmx.example.com", R(NEUTRAL)),
	ROW("ptr-match-implicit", C4, "alice@ptr.example.com", R(PASS)),
	ROW("ptr-match-ip6", C6, "alice@ptr.example.com", R(PASS)),
	ROW("ptr no PTR record", C4B, "alice@ptr.example.com", R(FAIL)),
	ROW("ptr other domain", C4, "alice@ptrother.example.com", R(FAIL)),
	ROW("ptr lookup SERVFAIL: no match", C4F, "alice@ptrfail.example.com", R(NEUTRAL)),
	ROW("exists-ip4", C4, "alice@exmatch.example.com", R(PASS)),
	ROW("exists-ip6 (A lookup)", C6, "alice@exmatch.example.com", R(PASS)),
	ROW("exists no match", C4, "alice@exnomatch.example.com", R(FAIL)),
	ROW("exists-dnserr: time-out", C4, "alice@extemp.example.com", R(TEMPERROR)),
	ROW("ip6 match", C6, "alice@ip6.example.com", R(PASS)),
	ROW("ip6 no match", C6B, "alice@ip6.example.com", R(FAIL)),
	ROW("cidr6-0-ip4", C4, "alice@ip6ip4.example.com", R(NEUTRAL)),
	ROW("ip4-mapped-ip6 is IPv4", "::ffff:192.0.2.10", "alice@mapped.example.com", R(FAIL)),
	ROW("IPv4-mapped client, ip4: pass", "::FFFF:192.0.2.10", "alice@pass.example.com", R(PASS)),

	/* Macros. */
	ROW("%{i} IPv4", C4, "alice@maci.example.com", R(PASS)),
	ROW("%{i} no match", C4B, "alice@maci.example.com", R(FAIL)),
	ROW("%{ir}.%{v} IPv4", C4, "alice@macir.example.com", R(PASS)),
	ROW("%{ir}.%{v} IPv6", C6, "alice@macir.example.com", R(PASS)),
	ROW("%{d}", C4, "alice@macd.example.com", R(PASS)),
	ROW("%{l} alice", C4, "alice@macl.example.com", R(PASS)),
	ROW("%{l} bob", C4, "bob@macl.example.com", R(FAIL)),
	ROW("%{l} is postmaster without local-part", C4, "@macl.example.com", R(PASS)),
	ROW("%{s}", C4, "alice@macs.example.com", R(PASS)),
	ROW("macro-reverse-split-on-dash", C4, "philip-gladstone-test@macsplit.example.com", R(PASS)),
	ROW("macro-mania-in-domain", C4, "alice@macpp.example.com", R(PASS)),

	/* Identities. */
	{ "null sender checks HELO", C4, "helo.example.org", "<>", R(PASS),
	  "helo.example.org", "helo.example.org", NULL, 1 },
	{ "null sender (empty) checks HELO", C4B, "helo.example.org", "", R(FAIL),
	  "helo.example.org", "helo.example.org", NULL, 1 },
	{ "null sender (NULL) checks HELO", C4, "helo.example.org", NULL, R(PASS),
	  "helo.example.org", "helo.example.org", NULL, 1 },
	{ "HELO identity: %{l} is postmaster", C4, "helol.example.org", "<>", R(PASS),
	  "helol.example.org", NULL, NULL, 1 },
	{ "helo-not-fqdn", C4, "A2345678", "<>", R(NONE), NULL, "A2345678", "not a valid domain", 1 },
	{ "helo-domain-literal", C4, "[192.0.2.10]", "<>", R(NONE), NULL, NULL, NULL, 1 },
	{ "no HELO, null sender", C4, NULL, "<>", R(NONE), NULL, NULL, NULL, 1 },
	{ "MAIL FROM in <>", C4, "x.example.org", "<alice@fail.example.com>", R(FAIL),
	  "fail.example.com", "alice@fail.example.com", "not authorized", 0 },
	{ "nolocalpart", C4, "x.example.org", "<@fail.example.com>", R(FAIL),
	  "fail.example.com", "postmaster@fail.example.com", NULL, 0 },
	{ "no @: postmaster@domain", C4, "x.example.org", "pass.example.com", R(PASS),
	  "pass.example.com", "postmaster@pass.example.com", NULL, 0 },
	{ "source route dropped", C4, "x.example.org", "<@relay.example.net:alice@pass.example.com>",
	  R(PASS), "pass.example.com", "alice@pass.example.com", NULL, 0 },
	{ "domain-literal", C4, "x.example.org", "alice@[192.0.2.10]", R(NONE), NULL, NULL, NULL, 0 },
	{ "emptylabel", C4, "x.example.org", "alice@A...example.com", R(NONE), NULL, NULL, NULL, 0 },
	{ "toolonglabel", C4, "x.example.org",
	  "alice@A123456789012345678901234567890123456789012345678901234567890123.example.com",
	  R(NONE), NULL, NULL, NULL, 0 },
	{ "single-label domain", C4, "x.example.org", "alice@localhost", R(NONE), NULL, NULL, NULL, 0 },
	{ "trailing dot", C4, "x.example.org", "alice@pass.example.com.", R(PASS), NULL, NULL, NULL, 0 },
	{ "upper-case domain", C4, "x.example.org", "Alice@PASS.Example.COM", R(PASS), NULL, NULL, NULL, 0 },
	{ "MAIL FROM wins over HELO", C4, "helo.example.org", "alice@fail.example.com", R(FAIL),
	  NULL, NULL, NULL, 0 },
	{ "loopback client gets no free pass", "127.0.0.1", "x.example.org", "alice@fail.example.com",
	  R(FAIL), NULL, NULL, NULL, 0 },
	{ "not an IP", "bogus", "x.example.org", "alice@pass.example.com", R(NONE), NULL, NULL, NULL, 0 },

	/* Reasons. */
	{ "reason: too many DNS lookups", C4, "x.example.org", "a@inc11.example.com", R(PERMERROR),
	  "inc11.example.com", NULL, "too many DNS lookups", 0 },
	{ "reason: void lookups", C4, "x.example.org", "a@void3.example.com", R(PERMERROR),
	  NULL, NULL, "void", 0 },
	{ "reason: several records", C4, "x.example.org", "a@multi.example.com", R(PERMERROR),
	  NULL, NULL, "several SPF records", 0 },
	{ "reason: unknown mechanism", C4, "x.example.org", "a@badmech.example.com", R(PERMERROR),
	  NULL, NULL, "unknown mechanism", 0 },
	{ "reason: DNS failure", C4, "x.example.org", "a@servfail.example.com", R(TEMPERROR),
	  NULL, NULL, "DNS failure looking up servfail.example.com", 0 },
	{ "reason: included domain without record", C4, "x.example.org", "a@incnone.example.com",
	  R(PERMERROR), "incnone.example.com", NULL, "nospf.example.com: no SPF record", 0 },
	{ "reason: MX limit", C4, "x.example.org", "a@mx11.example.com", R(PERMERROR),
	  NULL, NULL, "MX", 0 },
	{ "reason: NUL byte", C4, "x.example.org", "a@nulmid.example.com", R(PERMERROR),
	  NULL, NULL, "NUL byte", 0 },
	{ "reason: mx void lookups", C4, "x.example.org", "a@mxnx3.example.com", R(PERMERROR),
	  NULL, NULL, "void", 0 },
	{ "reason: no record", C4, "x.example.org", "a@nospf.example.com", R(NONE),
	  "nospf.example.com", NULL, "no SPF record", 0 },
};

static struct hm_dns *dns;
static struct hm_spf *spf;

static int setup(void **state)
{
	const char *server = getenv("HM_TEST_DNS");
	const char *servers[1] = { server };
	struct hm_dns_conf conf = { servers, 1, NULL, TIMEOUT_MS };
	char err[256];

	(void)state;
	if (server == NULL) {
		fprintf(stderr, "HM_TEST_DNS is not set: run me through tests/spf.test\n");
		return -1;
	}
	if (hm_dns_new(&conf, &dns, err, sizeof(err)) < 0 ||
	    hm_spf_new(dns, "mx.example.net", &spf, err, sizeof(err)) < 0) {
		fprintf(stderr, "setup: %s\n", err);
		return -1;
	}
	return 0;
}

static int teardown(void **state)
{
	(void)state;
	hm_spf_free(&spf);
	hm_spf_free(&spf);	/* idempotent */
	hm_dns_free(&dns);
	return 0;
}

static void run_row(void **state)
{
	const struct row *r = *state;
	struct hm_spf_outcome out;

	hm_spf_check(spf, r->ip, r->helo, r->from, &out);
	if (!(r->want & (1u << out.result)))
		fail_msg("%s: from=%s ip=%s: got %s (reason \"%s\")", r->name,
			 r->from ? r->from : "(null)", r->ip, hm_spf_result_name(out.result),
			 out.reason);
	if (r->domain && strcmp(out.domain, r->domain) != 0)
		fail_msg("%s: domain \"%s\", want \"%s\"", r->name, out.domain, r->domain);
	if (r->identity && strcmp(out.identity, r->identity) != 0)
		fail_msg("%s: identity \"%s\", want \"%s\"", r->name, out.identity, r->identity);
	if (r->reason && strstr(out.reason, r->reason) == NULL)
		fail_msg("%s: reason \"%s\", want it to contain \"%s\"", r->name, out.reason,
			 r->reason);
	if (r->helo_identity >= 0 && out.helo_identity != (r->helo_identity == 1))
		fail_msg("%s: helo_identity %d", r->name, out.helo_identity);
	if (out.reason[0] == '\0')
		fail_msg("%s: empty reason", r->name);
}

/* The record syntax checker on its own. */
static void test_record_syntax(void **state)
{
	static const struct {
		const char *rec;
		int ok;
	} cases[] = {
		{ "v=spf1", 1 }, { "v=spf1 ", 1 }, { "V=SPF1 -ALL", 1 },
		{ "v=spf1 a mx ptr -all", 1 }, { "v=spf1 a:%{d}", 1 },
		{ "v=spf1 exists:%{ir}.%{l1r+-}._spf.%{d}", 1 },
		{ "v=spf1 a:foo.example.xn--zckzah -all", 1 },
		{ "v=spf1 a:foo:bar/baz.example.com", 1 },
		{ "v=spf1 ip6:2001:db8::/32 ip4:192.0.2.0/24 ~all", 1 },
		{ "v=spf1 exp=explain.%{d} -all", 1 },
		{ "v=spf1 moo=%{c}%{r}%{t}", 1 },
		{ "v=spf1 a/24//64 mx//0", 1 },
		{ "v=spf1 redirect=_spf.example.com.", 1 },
		{ "v=spf10", 0 }, { "v=spf1\t-all", 0 }, { "v=spf1 -all foo", 0 },
		{ "v=spf1 a:%{d0}", 0 }, { "v=spf1 a:%{x}.example.com", 0 },
		{ "v=spf1 a:%{d", 0 }, { "v=spf1 ip4:256.0.0.1", 0 },
		{ "v=spf1 ip4:01.2.3.4", 0 }, { "v=spf1 ?all:x", 0 }, { "v=spf1 +", 0 },
		{ "v=spf1 mx/", 0 }, { "v=spf1 a:-foo.example.com", 1 },
		{ "v=spf1 include:example.com.-", 0 },
	};
	char why[160];

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		int rc = hm_spf_record_valid(cases[i].rec, strlen(cases[i].rec), why, sizeof(why));

		if ((rc == 0) != cases[i].ok)
			fail_msg("\"%s\": %s (%s)", cases[i].rec, rc == 0 ? "accepted" : "rejected",
				 rc == 0 ? "" : why);
	}
}

/* Many threads at once: every check gives its own answer. */
#define THREADS 8
#define PER_THREAD 40

struct worker {
	int id;
	long bad;
};

static void *hammer(void *arg)
{
	static const struct {
		const char *from;
		enum hm_spf_result want;
	} mix[] = {
		{ "a@pass.example.com", HM_SPF_PASS },
		{ "a@fail.example.com", HM_SPF_FAIL },
		{ "a@inc11.example.com", HM_SPF_PERMERROR },
		{ "a@void3.example.com", HM_SPF_PERMERROR },
		{ "a@inc10.example.com", HM_SPF_PASS },
		{ "a@incfail.example.com", HM_SPF_SOFTFAIL },
		{ "alice@macl.example.com", HM_SPF_PASS },
		{ "a@servfail.example.com", HM_SPF_TEMPERROR },
	};
	struct worker *w = arg;

	for (int i = 0; i < PER_THREAD; i++) {
		size_t k = (size_t)(i + w->id) % (sizeof(mix) / sizeof(mix[0]));
		struct hm_spf_outcome out;

		hm_spf_check(spf, C4, "x.example.org", mix[k].from, &out);
		if (out.result != mix[k].want) {
			if (w->bad++ == 0)
				fprintf(stderr, "# thread %d: %s gave %s (%s)\n", w->id, mix[k].from,
					hm_spf_result_name(out.result), out.reason);
		}
	}
	return NULL;
}

static void test_threads(void **state)
{
	pthread_t t[THREADS];
	struct worker w[THREADS];
	long total = 0;
	struct timespec a, b;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < THREADS; i++) {
		w[i] = (struct worker){ i, 0 };
		assert_int_equal(pthread_create(&t[i], NULL, hammer, &w[i]), 0);
	}
	for (int i = 0; i < THREADS; i++) {
		pthread_join(t[i], NULL);
		total += w[i].bad;
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "# %d concurrent checks in %.0f ms\n", THREADS * PER_THREAD,
		(double)(b.tv_sec - a.tv_sec) * 1e3 + (double)(b.tv_nsec - a.tv_nsec) / 1e6);
	if (total != 0)
		fail_msg("%ld of %d concurrent checks gave the wrong result", total,
			 THREADS * PER_THREAD);
}

/* RFC 7208 3.1: records are looked up as TXT only, never as type SPF (99). */
static void test_no_type_spf(void **state)
{
	const char *path = getenv("HM_TEST_QUERY_LOG");
	char line[512];
	int txt = 0, spf99 = 0;
	FILE *f;

	(void)state;
	if (path == NULL)
		skip();
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f)) {
		char name[300], type[32];

		if (sscanf(line, "%299s %31s", name, type) != 2)
			continue;
		if (strcmp(type, "TXT") == 0)
			txt++;
		else if (strcmp(type, "SPF") == 0 || strcmp(type, "TYPE99") == 0) {
			if (spf99++ == 0)
				fprintf(stderr, "# type SPF query: %s", line);
		}
	}
	fclose(f);
	if (txt == 0)
		fail_msg("no TXT query in %s: is it the right log?", path);
	if (spf99 != 0)
		fail_msg("%d queries of type SPF were sent", spf99);
}

/* The marker of a /0 target name (see spf.c) never reaches the DNS. */
static void test_no_marker(void **state)
{
	const char *path = getenv("HM_TEST_QUERY_LOG");
	char line[512];
	int marked = 0, a0 = 0;
	FILE *f;

	(void)state;
	if (path == NULL)
		skip();
	assert_non_null(f = fopen(path, "r"));
	while (fgets(line, sizeof(line), f)) {
		if (strstr(line, ".cidr0-") != NULL && marked++ == 0)
			fprintf(stderr, "# marked query: %s", line);
		if (strncmp(line, "host.a0both.example.com. AAAA", 29) == 0)
			a0++;
	}
	fclose(f);
	if (a0 == 0)
		fail_msg("no AAAA query of host.a0both.example.com in %s", path);
	if (marked != 0)
		fail_msg("%d queries of marked names were sent", marked);
}

/* The cost of a check whose answers are all in the resolver's cache. */
static void test_cost(void **state)
{
	struct hm_spf_outcome out;
	struct timespec a, b;
	int n = 2000;

	(void)state;
	clock_gettime(CLOCK_MONOTONIC, &a);
	for (int i = 0; i < n; i++) {
		hm_spf_check(spf, C4, "x.example.org", "alice@incpass.example.com", &out);
		assert_int_equal(out.result, HM_SPF_PASS);
	}
	clock_gettime(CLOCK_MONOTONIC, &b);
	fprintf(stderr, "# cached check (record + include): %.1f us each\n",
		((double)(b.tv_sec - a.tv_sec) * 1e9 + (double)(b.tv_nsec - a.tv_nsec)) / n / 1e3);
}

int main(void)
{
	size_t n = sizeof(rows) / sizeof(rows[0]);
	struct CMUnitTest *tests = calloc(n + 5, sizeof(*tests));
	int rc;

	if (tests == NULL)
		return 1;
	for (size_t i = 0; i < n; i++) {
		tests[i].name = rows[i].name;
		tests[i].test_func = run_row;
		tests[i].initial_state = (void *)&rows[i];
	}
	tests[n].name = "record syntax checker";
	tests[n].test_func = test_record_syntax;
	tests[n + 1].name = "concurrent checks";
	tests[n + 1].test_func = test_threads;
	tests[n + 2].name = "cost of a cached check";
	tests[n + 2].test_func = test_cost;
	tests[n + 3].name = "no query of type SPF";
	tests[n + 3].test_func = test_no_type_spf;
	tests[n + 4].name = "no query of a marked /0 name";
	tests[n + 4].test_func = test_no_marker;
	rc = _cmocka_run_group_tests("spf", tests, n + 5, setup, teardown);
	free(tests);
	return rc;
}
