/*
 * dkim-select.c - the DKIM-Signature headers held back and the ones
 * libopendkim gets (see dkim.c).
 *
 * Signature floods: the library sets up a body hash for every distinct
 * (c=, a=, l=) of every signature it is given, before any callback can
 * tell it to skip one, and hashes the whole body once per body hash.
 * So DKIM-Signature headers are held back until the end of the headers
 * (the other headers go to the library as they come) and only
 * HM_DKIM_MAX_SIGS of them, needing at most HM_DKIM_MAX_BODY_HASHES
 * body hashes, are handed over; the rest are counted, never parsed by
 * the library.  Which ones: see select_sigs().
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include <opendkim/dkim.h>

#include "util/grow.h"
#include "util/address.h"
#include "scoring/dkim-int.h"

#define SIGHDR_MAX_BYTES (1024 * 1024)	/* DKIM-Signature headers held back */
#define SIGHDR_MAX_COUNT 1024		/* ... and how many of them */

/* A DKIM-Signature header?  The library, too, ignores blanks before the colon. */
bool dkimv_is_sig_name(const char *name)
{
	size_t n = strlen(name);

	while (n > 0 && (name[n - 1] == ' ' || name[n - 1] == '\t' ||
			 name[n - 1] == '\r' || name[n - 1] == '\n'))
		n--;
	return n == 14 && strncasecmp(name, "DKIM-Signature", 14) == 0;
}

/* Keep a DKIM-Signature header for select_sigs(); past the bounds, count it. */
int dkimv_hold_sig(struct hm_dkim_verify *v, const unsigned char *text, size_t len)
{
	struct sighdr *h;

	if (v->nsighdrs >= SIGHDR_MAX_COUNT || v->sighdr_bytes + len > SIGHDR_MAX_BYTES) {
		v->ignored++;
		return 0;
	}
	if (v->nsighdrs == v->sighdr_cap) {
		struct sighdr *p = hm_grow(v->sighdrs, &v->sighdr_cap, sizeof(*p), 16);

		if (p == NULL)
			return -1;
		v->sighdrs = p;
	}
	h = &v->sighdrs[v->nsighdrs];
	memset(h, 0, sizeof(*h));
	if ((h->text = malloc(len)) == NULL)
		return -1;
	memcpy(h->text, text, len);
	h->len = len;
	v->nsighdrs++;
	v->sighdr_bytes += len;
	return 0;
}


/*
 * The value of tag NAME in a signature header ("DKIM-Signature:tag-list")
 * the way the library reads it: tag names in any case, the last occurrence
 * wins, every blank removed.  1 found (in out), 0 absent, -1 too long.
 */
static int sig_tag(const struct sighdr *h, const char *name, char *out, size_t outlen)
{
	const unsigned char *p = memchr(h->text, ':', h->len), *end = h->text + h->len;
	size_t nlen = strlen(name);
	int found = 0;

	if (p == NULL)
		return 0;
	for (p++; p < end; ) {
		const unsigned char *semi = memchr(p, ';', (size_t)(end - p));
		const unsigned char *stop = semi ? semi : end, *eq, *t, *te;

		eq = memchr(p, '=', (size_t)(stop - p));
		for (t = p; t < stop && (*t == ' ' || *t == '\t' || *t == '\r' || *t == '\n'); t++)
			;
		for (te = eq ? eq : stop; te > t && (te[-1] == ' ' || te[-1] == '\t' ||
						    te[-1] == '\r' || te[-1] == '\n'); te--)
			;
		if (eq != NULL && (size_t)(te - t) == nlen &&
		    strncasecmp((const char *)t, name, nlen) == 0) {
			size_t o = 0;

			found = 1;
			for (const unsigned char *q = eq + 1; q < stop; q++) {
				if (*q == ' ' || *q == '\t' || *q == '\r' || *q == '\n')
					continue;
				if (o + 1 >= outlen) {
					found = -1;
					break;
				}
				out[o++] = (char)*q;
			}
			if (found > 0)
				out[o] = '\0';
			else
				return -1;
		}
		p = stop + 1;
	}
	return found;
}

/* The part of a domain made of its last two labels, or NULL (one label). */
static const char *last_two_labels(const char *d)
{
	const char *last = strrchr(d, '.'), *p;

	if (last == NULL || last == d)
		return NULL;
	for (p = last - 1; p > d && *p != '.'; p--)
		;
	return *p == '.' ? p + 1 : d;
}

/*
 * How much a signature matters for DMARC, which needs a valid signature
 * whose d= aligns with the From domain: tier 0 d= is a From domain (strict
 * alignment), 1 they share their last two labels (relaxed alignment is
 * likely; the Public Suffix List decides later, in DMARC), 2 any other.
 * Within a tier, signatures without l= first: l= is rare in real mail and
 * each distinct l= costs a body hash of its own, the cheapest way for a
 * flood to use up HM_DKIM_MAX_BODY_HASHES.  rsa-sha1 can never pass (RFC
 * 8301): after all the others.  0 .. RANK_MAX, lower is checked first.
 */
#define RANK_MAX 11
static int sig_rank(const struct hm_dkim_verify *v, const struct sighdr *h, const char *a,
		    bool has_l)
{
	char d[HM_DOMAIN_MAX];
	const char *dl;
	int tier = 2;

	if (sig_tag(h, "d", d, sizeof(d)) == 1 && (dl = last_two_labels(d)) != NULL) {
		for (size_t i = 0; i < v->from.count && tier > 0; i++) {
			const char *f = v->from.addrs[i].domain, *fl = last_two_labels(f);

			if (strcasecmp(f, d) == 0)
				tier = 0;
			else if (fl != NULL && strcasecmp(fl, dl) == 0)
				tier = 1;
		}
	}
	return (a != NULL && strcasecmp(a, "rsa-sha1") == 0 ? 6 : 0) + 2 * tier + has_l;
}

/*
 * The body hash a signature makes the library compute: the body part of
 * c=, the hash of a=, and l=, as text.  Equal texts mean one shared hash
 * (the library shares a body hash of equal canonicalization, hash and
 * length); "" when a value is too long to compare: counted as a hash of
 * its own.  Different texts may still share one: that only errs on the
 * safe side.
 */
static void sig_bodyhash(struct sighdr *h, char *a, size_t alen, bool *has_l)
{
	char c[TAG_MAX], l[TAG_MAX];
	const char *body, *hash;
	int rc, ra, rl;

	h->bodyhash[0] = '\0';
	rc = sig_tag(h, "c", c, sizeof(c));
	ra = sig_tag(h, "a", a, alen);
	rl = sig_tag(h, "l", l, sizeof(l));
	*has_l = rl != 0;
	if (ra != 1)
		a[0] = '\0';
	if (rc < 0 || ra < 0 || rl < 0)
		return;
	body = rc == 0 ? "simple" : strchr(c, '/') ? strchr(c, '/') + 1 : "simple";
	hash = ra == 0 ? "" : strrchr(a, '-') ? strrchr(a, '-') + 1 : a;
	snprintf(h->bodyhash, sizeof(h->bodyhash), "%s|%s|%s", body, hash,
		 rl == 1 ? l : "");
}

/*
 * Choose the signatures the library gets: at most HM_DKIM_MAX_SIGS, needing
 * at most HM_DKIM_MAX_BODY_HASHES body hashes, taken by rank (sig_rank())
 * and within a rank in header order.  So the CPU a message costs does not
 * grow with its signatures, and a flood of forged ones cannot push out the
 * signature that authenticates the From domain: to crowd it out they must
 * claim that domain themselves, and then only the sender's own mail is hurt.
 */
static void select_sigs(struct hm_dkim_verify *v)
{
	char hashes[HM_DKIM_MAX_BODY_HASHES][sizeof(v->sighdrs[0].bodyhash)];
	size_t nhashes = 0, kept = 0;
	char a[TAG_MAX];

	for (size_t i = 0; i < v->nsighdrs; i++) {
		bool has_l = false;

		sig_bodyhash(&v->sighdrs[i], a, sizeof(a), &has_l);
		v->sighdrs[i].rank = sig_rank(v, &v->sighdrs[i], a[0] ? a : NULL, has_l);
	}
	for (int rank = 0; rank <= RANK_MAX && kept < HM_DKIM_MAX_SIGS; rank++)
		for (size_t i = 0; i < v->nsighdrs && kept < HM_DKIM_MAX_SIGS; i++) {
			struct sighdr *h = &v->sighdrs[i];
			size_t j = 0;

			if (h->rank != rank)
				continue;
			if (h->bodyhash[0] != '\0')
				for (j = 0; j < nhashes; j++)
					if (strcmp(hashes[j], h->bodyhash) == 0)
						break;
			if (h->bodyhash[0] == '\0' || j == nhashes) {
				if (nhashes == HM_DKIM_MAX_BODY_HASHES)
					continue;	/* one more hash of the body */
				memcpy(hashes[nhashes++], h->bodyhash, sizeof(h->bodyhash));
			}
			h->keep = true;
			kept++;
		}
}

/* Hand the chosen signatures to the library, in their order; free them all. */
void dkimv_release_sigs(struct hm_dkim_verify *v)
{
	select_sigs(v);
	for (size_t i = 0; i < v->nsighdrs; i++) {
		struct sighdr *h = &v->sighdrs[i];

		/* One the library refuses is reported by it as it would be in place. */
		if (h->keep)
			(void)dkim_header(v->d, h->text, h->len);
		else
			v->ignored++;
		free(h->text);
		h->text = NULL;
	}
	v->nsighdrs = 0;
}
