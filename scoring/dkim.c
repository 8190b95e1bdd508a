/*
 * dkim.c - DKIM verification with libopendkim, key lookups through hm_dns:
 * the verifier's life cycle (new, begin, header, end of headers, body,
 * finish, free).
 *
 * libopendkim parses the signatures, canonicalizes and hashes the headers,
 * fetches the keys and checks the signatures; these files feed it, give it
 * our resolver and turn its per-signature state into RFC 8601 results,
 * correcting what the library gets wrong or leaves to the caller (see
 * dkim.h for the result table):
 *
 *  - Body hashes: made by dkim-body.c, several times faster than the
 *    library's, whenever the signatures allow (see plan_own_body()).
 *  - Keys and latency (dkim-keys.c): the library's DNS hooks are ours, so
 *    a deleted key is "no key", not a temporary failure; every key query
 *    is started at end of headers and resolves while the body streams in.
 *  - Signature floods (dkim-select.c): DKIM-Signature headers are held
 *    back until the end of the headers, and only as many as a message
 *    may cost are handed to the library.
 *  - Results (dkim-result.c): rsa-sha1 and small RSA keys are "policy"
 *    (RFC 8301).
 *
 * What the files share is in dkim-int.h.
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "util/address.h"
#include "scoring/dkim-body.h"
#include "scoring/dkim-int.h"
#include "scoring/dkim-keycache.h"
#include "scoring/dkim.h"

#define HEADER_MAX (256 * 1024)		/* one header field, name and value */

/*
 * Check the first HM_DKIM_MAX_SIGS signatures, count and skip the rest.
 * select_sigs() already hands over no more: a safety net only.
 */
static DKIM_CBSTAT prescreen(DKIM *d, DKIM_SIGINFO **sigs, int nsigs)
{
	struct hm_dkim_verify *v = dkim_get_user_context(d);

	for (int i = HM_DKIM_MAX_SIGS; i < nsigs; i++) {
		dkim_sig_ignore(sigs[i]);
		if (v != NULL)
			v->ignored++;
	}
	return DKIM_CBSTAT_CONTINUE;
}

int hm_dkim_new(struct hm_dns *dns, const struct hm_dkim_conf *conf,
		struct hm_dkim **dk_r, char *err, size_t errlen)
{
	struct hm_dkim *dk;
	unsigned int flags = DKIM_LIBFLAGS_DELAYSIGPROC | DKIM_LIBFLAGS_BADSIGHANDLES;
	uint64_t drift = conf && conf->clock_drift > 0 ? (uint64_t)conf->clock_drift : 300;
	unsigned int minbits = conf && conf->min_key_bits > 0 ? conf->min_key_bits : 1024;

	*dk_r = NULL;
	dk = calloc(1, sizeof(*dk));
	if (dk == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	dk->dns = dns;
	dk->min_key_bits = minbits;
	dk->lib = dkim_init(NULL, NULL);
	if (dk->lib == NULL) {
		snprintf(err, errlen, "dkim_init() failed");
		free(dk);
		return -1;
	}
	if (dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_FLAGS, &flags,
			 sizeof(flags)) != DKIM_STAT_OK ||
	    dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_CLOCKDRIFT, &drift,
			 sizeof(drift)) != DKIM_STAT_OK ||
	    dkim_options(dk->lib, DKIM_OP_SETOPT, DKIM_OPTS_MINKEYBITS, &minbits,
			 sizeof(minbits)) != DKIM_STAT_OK ||
	    dkim_set_prescreen(dk->lib, prescreen) != DKIM_STAT_OK) {
		snprintf(err, errlen, "libopendkim refused an option");
		dkim_close(dk->lib);
		free(dk);
		return -1;
	}
	/* Every query the library makes goes through hm_dns. */
	if (dkimv_install_hooks(dk) < 0) {
		/* A resolver the library set up by itself: we have no way to close it. */
		snprintf(err, errlen, "libopendkim started its own resolver");
		dkim_close(dk->lib);
		free(dk);
		return -1;
	}
	dk->ed25519 = dkim_libfeature(dk->lib, DKIM_FEATURE_ED25519);
	hm_dkim_keycache_enable(true);
	*dk_r = dk;
	return 0;
}

void hm_dkim_free(struct hm_dkim **dkp)
{
	struct hm_dkim *dk = *dkp;

	if (dk == NULL)
		return;
	dkim_close(dk->lib);
	free(dk);
	*dkp = NULL;
	hm_dkim_keycache_clear();	/* only a cache: the next key is decoded anew */
}

bool hm_dkim_has_ed25519(const struct hm_dkim *dk)
{
	return dk->ed25519;
}

struct hm_dkim_verify *hm_dkim_verify_begin(struct hm_dkim *dk, const char *id)
{
	struct hm_dkim_verify *v = calloc(1, sizeof(*v));
	DKIM_STAT st = DKIM_STAT_OK;

	if (v == NULL)
		return NULL;
	v->dk = dk;
	hm_from_init(&v->from);
	snprintf(v->id, sizeof(v->id), "%s", id ? id : "");
	v->d = dkim_verify(dk->lib, (const unsigned char *)v->id, NULL, &st);
	if (v->d == NULL || st != DKIM_STAT_OK ||
	    dkim_set_user_context(v->d, v) != DKIM_STAT_OK) {
		if (v->d != NULL)
			dkim_free(v->d);
		free(v);
		return NULL;
	}
	v->state = V_HEADERS;
	return v;
}

static void set_broken(struct hm_dkim_verify *v, const char *what, DKIM_STAT st)
{
	const char *e = dkim_geterror(v->d);

	v->state = V_BROKEN;
	snprintf(v->broken, sizeof(v->broken), "%s: %s%s%s", what,
		 dkim_getresultstr(st), e && *e ? ": " : "", e && *e ? e : "");
}

int hm_dkim_verify_header(struct hm_dkim_verify *v, const char *name,
			  const char *value)
{
	size_t nlen = strlen(name), vlen = strlen(value), need, n = 0;
	unsigned char prev = 0;

	if (v->state != V_HEADERS)
		return -1;
	/* Each bare LF (a fold as libmilter joins them) becomes CRLF. */
	need = nlen + 1 + vlen + 1;
	for (size_t i = 0; i < vlen; i++)
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			need++;
	if (need > HEADER_MAX)
		return -1;
	if (need > v->hcap) {
		size_t cap = need < 1024 ? 1024 : need;
		unsigned char *p = realloc(v->hbuf, cap);

		if (p == NULL)
			return -1;
		v->hbuf = p;
		v->hcap = cap;
	}
	memcpy(v->hbuf, name, nlen);
	n = nlen;
	v->hbuf[n++] = ':';
	for (size_t i = 0; i < vlen; i++) {
		unsigned char c = (unsigned char)value[i];

		if (c == '\n' && prev != '\r')
			v->hbuf[n++] = '\r';
		v->hbuf[n++] = c;
		prev = c;
	}
	/*
	 * Signatures wait for the end of the headers (dkim-select.c).  Handing
	 * them over later changes their place only relative to headers of other
	 * names, and a signature selects the headers it covers by name.
	 */
	if (dkimv_is_sig_name(name))
		return dkimv_hold_sig(v, v->hbuf, n);
	if (strcasecmp(name, "From") == 0)
		(void)hm_from_parse(&v->from, value, NULL, 0);	/* bad: ranks nothing */
	/*
	 * A header the library refuses (e.g. no valid name) is left out, as
	 * any verifier would; a signature covering it then fails.
	 */
	return dkim_header(v->d, v->hbuf, n) == DKIM_STAT_OK ? 0 : -1;
}

/*
 * The body hashes, made here (dkim-body.c) when they can be: the library
 * canonicalizes a byte at a time, which was about half of the milter's CPU
 * on common mail.  When every signature the library will check needs only
 * its bh= compared with a hash of the whole body, the body goes to our
 * hashes and the library gets none of it: it still checks each header
 * signature, and reports the hash of an empty body, which dkimv_classify()
 * replaces with ours.  A signature with l= (the library checks it against
 * the body it saw) or a conditional one (!cd=, judged on the library's
 * body hash) leaves the body to the library, as does any doubt.
 */
static bool own_hash_kind(DKIM_SIGINFO *sig, enum hm_dkim_body_canon *canon,
			  enum hm_dkim_body_alg *alg)
{
	dkim_canon_t hc = DKIM_CANON_UNKNOWN, bc = DKIM_CANON_UNKNOWN;
	dkim_alg_t a = DKIM_SIGN_UNKNOWN;

	if (dkim_sig_getcanons(sig, &hc, &bc) != DKIM_STAT_OK ||
	    dkim_sig_getsignalg(sig, &a) != DKIM_STAT_OK ||
	    (bc != DKIM_CANON_SIMPLE && bc != DKIM_CANON_RELAXED) ||
	    (a != DKIM_SIGN_RSASHA1 && a != DKIM_SIGN_RSASHA256 &&
	     a != DKIM_SIGN_ED25519SHA256))
		return false;
	*canon = bc == DKIM_CANON_SIMPLE ? HM_DKIM_BODY_SIMPLE : HM_DKIM_BODY_RELAXED;
	*alg = a == DKIM_SIGN_RSASHA1 ? HM_DKIM_BODY_SHA1 : HM_DKIM_BODY_SHA256;
	return true;
}

static struct own_hash *find_hash(struct hm_dkim_verify *v, enum hm_dkim_body_canon canon,
				  enum hm_dkim_body_alg alg)
{
	for (size_t i = 0; i < v->noh; i++)
		if (v->oh[i].canon == canon && v->oh[i].alg == alg)
			return &v->oh[i];
	return NULL;
}

struct own_hash *dkimv_own_hash_for(struct hm_dkim_verify *v, DKIM_SIGINFO *sig)
{
	enum hm_dkim_body_canon canon;
	enum hm_dkim_body_alg alg;

	return own_hash_kind(sig, &canon, &alg) ? find_hash(v, canon, alg) : NULL;
}

static void own_hashes_free(struct hm_dkim_verify *v)
{
	for (size_t i = 0; i < v->noh; i++)
		hm_dkim_bodyhash_free(&v->oh[i].h);
	v->noh = 0;
	v->own_body = false;
}

static void plan_own_body(struct hm_dkim_verify *v)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;

	if (dkim_getsiglist(v->d, &sigs, &nsigs) != DKIM_STAT_OK)
		return;
	for (int i = 0; i < nsigs; i++) {
		enum hm_dkim_body_canon canon;
		enum hm_dkim_body_alg alg;
		struct own_hash *oh;

		if ((dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE) ||
		    dkim_sig_geterror(sigs[i]) != DKIM_SIGERROR_UNKNOWN)
			continue;	/* the library will not check it */
		if (dkim_sig_gettagvalue(sigs[i], 0, (u_char *)"l") != NULL ||
		    dkim_sig_gettagvalue(sigs[i], 0, (u_char *)"!cd") != NULL ||
		    !own_hash_kind(sigs[i], &canon, &alg))
			goto library;
		if (find_hash(v, canon, alg) != NULL)
			continue;
		if (v->noh == HM_DKIM_MAX_BODY_HASHES)
			goto library;
		oh = &v->oh[v->noh];
		memset(oh, 0, sizeof(*oh));
		oh->canon = canon;
		oh->alg = alg;
		oh->h = hm_dkim_bodyhash_new(canon, alg);
		if (oh->h == NULL)
			goto library;
		v->noh++;
	}
	v->own_body = true;
	return;
library:
	own_hashes_free(v);
}

/*
 * End of body for our hashes.  A relaxed body ending in text without CRLF
 * is one the library refuses as a whole ("CRLF at end of body missing"):
 * a byte of text makes it see that end too, so the verdict stays its own.
 */
static void own_hashes_final(struct hm_dkim_verify *v)
{
	bool unterminated = false;

	for (size_t i = 0; i < v->noh; i++) {
		struct own_hash *oh = &v->oh[i];

		unterminated |= hm_dkim_bodyhash_unterminated(oh->h);
		oh->done = hm_dkim_bodyhash_final(oh->h, oh->b64, sizeof(oh->b64)) == 0;
	}
	if (unterminated)
		(void)dkim_body(v->d, (unsigned char *)(uintptr_t)"x", 1);
}

int hm_dkim_verify_eoh(struct hm_dkim_verify *v)
{
	DKIM_STAT st;

	if (v->state != V_HEADERS)
		return v->state == V_BROKEN ? -1 : 0;
	dkimv_release_sigs(v);
	st = dkim_eoh(v->d);
	switch (st) {
	case DKIM_STAT_OK:
		v->state = V_BODY;
		dkimv_prefetch_keys(v);
		plan_own_body(v);
		return 0;
	case DKIM_STAT_NOSIG:
		v->state = V_UNSIGNED;
		return 0;
	default:
		/* e.g. SYNTAX: the signatures are still reported at the end */
		v->state = V_BODY;
		dkimv_prefetch_keys(v);
		plan_own_body(v);
		return 0;
	}
}

int hm_dkim_verify_body(struct hm_dkim_verify *v, const unsigned char *chunk,
			size_t len)
{
	DKIM_STAT st;

	if (v->state == V_UNSIGNED || v->state == V_BROKEN)
		return v->state == V_BROKEN ? -1 : 0;
	if (v->state != V_BODY)
		return -1;
	if (len == 0)
		return 0;
	if (v->own_body) {
		for (size_t i = 0; i < v->noh; i++)
			if (hm_dkim_bodyhash_update(v->oh[i].h, chunk, len) < 0) {
				set_broken(v, "body hash", DKIM_STAT_INTERNAL);
				return -1;
			}
		return 0;
	}
	/* dkim_body() does not write to the buffer; its prototype is old. */
	st = dkim_body(v->d, (unsigned char *)(uintptr_t)chunk, len);
	if (st != DKIM_STAT_OK) {
		set_broken(v, "body", st);
		return -1;
	}
	return 0;
}

size_t hm_dkim_verify_ignored(const struct hm_dkim_verify *v)
{
	return v->ignored;
}

int hm_dkim_verify_finish(struct hm_dkim_verify *v, struct hm_dkim_outcome *out)
{
	DKIM_SIGINFO **sigs = NULL;
	int nsigs = 0;
	DKIM_STAT st;

	memset(out, 0, sizeof(*out));
	if (v->state == V_HEADERS)
		(void)hm_dkim_verify_eoh(v);
	if (v->state == V_UNSIGNED || v->state == V_DONE)
		return 0;
	dkimv_prefetch_wait(v);
	if (v->state == V_BODY) {
		if (v->own_body)
			own_hashes_final(v);
		st = dkimv_eom_prefetched(v);
		v->state = V_DONE;
		/* Per-signature verdicts are read below; only a breakdown counts. */
		if (st == DKIM_STAT_NORESOURCE || st == DKIM_STAT_INTERNAL ||
		    st == DKIM_STAT_INVALID) {
			set_broken(v, "end of message", st);
		} else if (st == DKIM_STAT_SYNTAX) {
			/* The message, not a signature (e.g. no CRLF at the end). */
			const char *e = dkim_geterror(v->d);

			snprintf(v->msgerr, sizeof(v->msgerr), "%s",
				 e && *e ? e : "message syntax error");
		}
	}
	if (dkim_getsiglist(v->d, &sigs, &nsigs) != DKIM_STAT_OK)
		nsigs = 0;
	for (int i = 0; i < nsigs && out->nsigs < HM_DKIM_MAX_SIGS; i++) {
		struct hm_dkim_sig *s = &out->sigs[out->nsigs];

		if (dkim_sig_getflags(sigs[i]) & DKIM_SIGFLAG_IGNORE)
			continue;
		dkimv_describe(v, sigs[i], s);
		dkimv_classify(v, sigs[i], s);
		out->nsigs++;
	}
	if (v->broken[0] != '\0') {
		for (size_t i = 0; i < out->nsigs; i++)
			if (out->sigs[i].result == HM_DKIM_PASS) {
				out->sigs[i].result = HM_DKIM_TEMPERROR;
				snprintf(out->sigs[i].reason, sizeof(out->sigs[i].reason),
					 "%s", v->broken);
			}
		return -1;
	}
	return 0;
}

void hm_dkim_verify_free(struct hm_dkim_verify **vp)
{
	struct hm_dkim_verify *v = *vp;

	if (v == NULL)
		return;
	for (size_t i = 0; i < v->npf; i++) {
		/* Started, never collected (an aborted transaction): do not make
		 * the MTA's thread wait for a key nobody needs any more. */
		if (v->pf[i].q != NULL)
			hm_dns_cancel(v->dk->dns, v->pf[i].q);
		hm_dns_answer_free(&v->pf[i].ans);
	}
	for (size_t i = 0; i < v->nsighdrs; i++)
		free(v->sighdrs[i].text);
	free(v->sighdrs);
	own_hashes_free(v);
	if (v->d != NULL)
		dkim_free(v->d);
	free(v->hbuf);
	free(v);
	*vp = NULL;
}
