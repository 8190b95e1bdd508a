/*
 * dkim-result.c - libopendkim's state of each signature turned into an
 * RFC 8601 result (see dkim.h for the table), correcting what the library
 * gets wrong or leaves to the caller:
 *
 *  - a key that does not exist is "no key" (permerror), a failed lookup a
 *    temperror with its cause (dkim-keys.c hands the library the answers);
 *  - rsa-sha1 (RFC 8301 3.1) is reported "policy" even when it verifies;
 *    RSA keys below the minimum size are "policy" too (RFC 8301 3.2);
 *  - with the body hashed by us (plan_own_body(), dkim.c), the library
 *    checked only the header signature: the body hash verdict is ours.
 */
#include "config.h"

#include <stdio.h>
#include <string.h>
#include <sys/types.h>

#include <opendkim/dkim.h>

#include "util/address.h"
#include "scoring/dkim-int.h"

/* Bounded copy of a value from the wire, printable ASCII only. */
static void copy_clean(char *dst, size_t dstlen, const char *src, bool skip_space)
{
	size_t n = 0;

	if (dstlen == 0)
		return;
	for (; src != NULL && *src != '\0' && n + 1 < dstlen; src++) {
		unsigned char c = (unsigned char)*src;

		if (c == ' ' || c == '\t' || c == '\r' || c == '\n') {
			if (skip_space)
				continue;
			c = ' ';
		}
		dst[n++] = c > 0x20 && c < 0x7f ? (char)c : (c == ' ' ? ' ' : '?');
	}
	dst[n] = '\0';
}

/*
 * Whether the library verified the header signature: passed, its body
 * verdict aside (with no body seen, the library's own body hash may match
 * or not), or found the key too small, which it says only after a match.
 */
static bool header_verified(int err, unsigned int flags)
{
	if (!(flags & DKIM_SIGFLAG_PROCESSED))
		return false;
	if (err == DKIM_SIGERROR_KEYTOOSMALL)
		return true;
	return (flags & DKIM_SIGFLAG_PASSED) &&
	       (err == DKIM_SIGERROR_BADSIG || err == DKIM_SIGERROR_OK);
}

/* Turn the library's verdict on one signature into an RFC 8601 result. */
void dkimv_classify(struct hm_dkim_verify *v, DKIM_SIGINFO *sig,
		   struct hm_dkim_sig *s)
{
	int err = dkim_sig_geterror(sig);
	unsigned int flags = dkim_sig_getflags(sig);
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;
	unsigned int bits = 0;
	bool bh_match = dkim_sig_getbh(sig) == DKIM_SIGBH_MATCH;
	const char *estr;

	(void)dkim_sig_getsignalg(sig, &alg);
	if (v->own_body && header_verified(err, flags)) {
		/* The library saw no body: the body hash is ours to judge. */
		const struct own_hash *oh = dkimv_own_hash_for(v, sig);
		const char *bh = (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"bh");

		if (oh == NULL || !oh->done) {
			s->result = HM_DKIM_TEMPERROR;
			snprintf(s->reason, sizeof(s->reason), "body hash not computed");
			return;
		}
		if (bh == NULL || strcmp(bh, oh->b64) != 0) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "body hash did not verify");
			return;
		}
		bh_match = true;
		if (err == DKIM_SIGERROR_BADSIG)
			err = DKIM_SIGERROR_OK;
	}
	switch (err) {
	case DKIM_SIGERROR_UNKNOWN:
	case DKIM_SIGERROR_OK:
		if (!(flags & DKIM_SIGFLAG_PROCESSED) && v->msgerr[0] != '\0') {
			s->result = HM_DKIM_PERMERROR;
			snprintf(s->reason, sizeof(s->reason), "%s", v->msgerr);
		} else if (!(flags & DKIM_SIGFLAG_PROCESSED)) {
			s->result = HM_DKIM_TEMPERROR;
			snprintf(s->reason, sizeof(s->reason), "%s",
				 v->broken[0] ? v->broken : "not verified");
		} else if (!(flags & DKIM_SIGFLAG_PASSED)) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "signature did not verify");
		} else if (!bh_match) {
			s->result = HM_DKIM_FAIL;
			snprintf(s->reason, sizeof(s->reason), "body hash did not verify");
		} else if (alg != DKIM_SIGN_ED25519SHA256 &&
			   dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK &&
			   bits < v->dk->min_key_bits) {
			/* The key size first, as the library reports it. */
			s->result = HM_DKIM_POLICY;
			snprintf(s->reason, sizeof(s->reason), "key too small (%u bits)", bits);
		} else if (alg == DKIM_SIGN_RSASHA1) {
			/* RFC 8301 3.1: rsa-sha1 MUST NOT be considered valid. */
			s->result = HM_DKIM_POLICY;
			snprintf(s->reason, sizeof(s->reason), "rsa-sha1 not accepted (RFC 8301)");
		} else {
			ssize_t msglen = -1, canonlen = -1, signlen = -1;

			s->result = HM_DKIM_PASS;
			if (dkim_sig_getcanonlen(v->d, sig, &msglen, &canonlen,
						 &signlen) == DKIM_STAT_OK &&
			    signlen >= 0 && msglen > canonlen)
				snprintf(s->reason, sizeof(s->reason),
					 "l= covers %zd of %zd body bytes", canonlen, msglen);
		}
		return;
	case DKIM_SIGERROR_BADSIG:
		/* The library reports a body hash mismatch as BADSIG too. */
		s->result = HM_DKIM_FAIL;
		snprintf(s->reason, sizeof(s->reason), "%s",
			 dkim_sig_getbh(sig) == DKIM_SIGBH_MISMATCH ?
			 "body hash did not verify" : "signature did not verify");
		return;
	case DKIM_SIGERROR_KEYTOOSMALL:
		s->result = HM_DKIM_POLICY;
		if (dkim_sig_getkeysize(sig, &bits) == DKIM_STAT_OK && bits > 0)
			snprintf(s->reason, sizeof(s->reason), "key too small (%u bits)", bits);
		else
			snprintf(s->reason, sizeof(s->reason), "key too small");
		return;
	case DKIM_SIGERROR_KEYFAIL:
		s->result = HM_DKIM_TEMPERROR;
		dkimv_key_temp_reason(v, s);
		return;
	case DKIM_SIGERROR_NOKEY: {
		const struct prefetch *p = dkimv_find_prefetch(v, s);

		s->result = HM_DKIM_PERMERROR;
		snprintf(s->reason, sizeof(s->reason), "no key%s",
			 p == NULL ? "" : p->status == HM_DNS_NXDOMAIN ? " (NXDOMAIN)" :
			 p->status == HM_DNS_NODATA ? " (no TXT record)" : "");
		return;
	}
	/* The signature cannot be used, for good (RFC 6376 PERMFAIL). */
	case DKIM_SIGERROR_KEYREVOKED:
	case DKIM_SIGERROR_EXPIRED:
	case DKIM_SIGERROR_FUTURE:
	case DKIM_SIGERROR_INVALID_H:		/* From not signed */
	case DKIM_SIGERROR_TOOLARGE_L:
	case DKIM_SIGERROR_SUBDOMAIN:
	case DKIM_SIGERROR_MULTIREPLY:
	case DKIM_SIGERROR_DNSSYNTAX:
	case DKIM_SIGERROR_KEYVERSION:
	case DKIM_SIGERROR_KEYUNKNOWNHASH:
	case DKIM_SIGERROR_KEYHASHMISMATCH:
	case DKIM_SIGERROR_NOTEMAILKEY:
	case DKIM_SIGERROR_KEYTYPEMISSING:
	case DKIM_SIGERROR_KEYTYPEUNKNOWN:
	case DKIM_SIGERROR_KEYDECODE:
	case DKIM_SIGERROR_MBSFAILED:
	case DKIM_SIGERROR_CONDITIONAL:
	case DKIM_SIGERROR_CONDLOOP:
		s->result = HM_DKIM_PERMERROR;
		break;
	/* Syntax errors in the signature: RFC 8601 2.7.1 "neutral". */
	default:
		s->result = HM_DKIM_NEUTRAL;
		break;
	}
	estr = dkim_sig_geterrorstr(err);
	snprintf(s->reason, sizeof(s->reason), "%s", estr ? estr : "signature error");
}

static const char *alg_name(DKIM_SIGINFO *sig)
{
	dkim_alg_t alg = DKIM_SIGN_UNKNOWN;

	if (dkim_sig_getsignalg(sig, &alg) != DKIM_STAT_OK)
		return NULL;
	switch (alg) {
	case DKIM_SIGN_RSASHA1:
		return "rsa-sha1";
	case DKIM_SIGN_RSASHA256:
		return "rsa-sha256";
	case DKIM_SIGN_ED25519SHA256:
		return "ed25519-sha256";
	default:
		return NULL;
	}
}

void dkimv_describe(struct hm_dkim_verify *v, DKIM_SIGINFO *sig,
		   struct hm_dkim_sig *s)
{
	/* a= as written: the parsed value is a default when parsing stopped early. */
	const char *a = (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"a");
	char ident[HM_ADDR_MAX];

	memset(s, 0, sizeof(*s));
	copy_clean(s->domain, sizeof(s->domain),
		   (const char *)dkim_sig_getdomain(sig), true);
	copy_clean(s->selector, sizeof(s->selector),
		   (const char *)dkim_sig_getselector(sig), true);
	copy_clean(s->b, sizeof(s->b),
		   (const char *)dkim_sig_gettagvalue(sig, 0, (u_char *)"b"), true);
	copy_clean(s->algorithm, sizeof(s->algorithm), a ? a : alg_name(sig), true);
	if (dkim_sig_getidentity(v->d, sig, (u_char *)ident, sizeof(ident))
	    == DKIM_STAT_OK)
		copy_clean(s->identity, sizeof(s->identity), ident, true);
}
