/*
 * psl.c - the Public Suffix List: an open-addressing hash set of rule
 * strings, loaded from the published file with UTF-8 labels turned into
 * A-labels by our punycode (RFC 3492) encoder, and the organizational
 * domain (RFC 7489 3.2) looked up in it (see psl.h).
 *
 * Ours rather than libopendmarc's: its lookup ignores case, gets wildcard
 * rules wrong and returns nothing under unlisted TLDs (see dmarc.c).
 */
#include "config.h"

#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/psl.h"
#include "util/address.h"

#define PSL_LINE_MAX 512

struct hm_psl {
	char *arena;		/* NUL-terminated rules, back to back */
	size_t arena_len, arena_cap;
	uint32_t *slots;	/* arena offset + 1; 0 is empty */
	size_t nslots, count;
};

static uint32_t hash_str(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static bool psl_has(const struct hm_psl *p, const char *rule)
{
	if (p->nslots == 0)
		return false;
	for (size_t i = hash_str(rule) & (p->nslots - 1);; i = (i + 1) & (p->nslots - 1)) {
		if (p->slots[i] == 0)
			return false;
		if (strcmp(p->arena + p->slots[i] - 1, rule) == 0)
			return true;
	}
}

static int psl_grow(struct hm_psl *p)
{
	size_t n = p->nslots ? p->nslots * 2 : 16384;
	uint32_t *slots = calloc(n, sizeof(*slots));

	if (slots == NULL)
		return -1;
	for (size_t i = 0; i < p->nslots; i++) {
		if (p->slots[i] == 0)
			continue;
		size_t j = hash_str(p->arena + p->slots[i] - 1) & (n - 1);

		while (slots[j] != 0)
			j = (j + 1) & (n - 1);
		slots[j] = p->slots[i];
	}
	free(p->slots);
	p->slots = slots;
	p->nslots = n;
	return 0;
}

static int psl_add(struct hm_psl *p, const char *rule)
{
	size_t len = strlen(rule) + 1;

	if (psl_has(p, rule))
		return 0;
	if ((p->count + 1) * 2 > p->nslots && psl_grow(p) < 0)
		return -1;
	if (p->arena_len + len > p->arena_cap) {
		size_t cap = p->arena_cap ? p->arena_cap * 2 : 256 * 1024;
		char *a;

		while (cap < p->arena_len + len)
			cap *= 2;
		if (cap > UINT32_MAX || (a = realloc(p->arena, cap)) == NULL)
			return -1;
		p->arena = a;
		p->arena_cap = cap;
	}
	memcpy(p->arena + p->arena_len, rule, len);
	size_t i = hash_str(rule) & (p->nslots - 1);

	while (p->slots[i] != 0)
		i = (i + 1) & (p->nslots - 1);
	p->slots[i] = (uint32_t)p->arena_len + 1;
	p->arena_len += len;
	p->count++;
	return 0;
}

void hm_psl_free(struct hm_psl **psl)
{
	struct hm_psl *p = *psl;

	if (p == NULL)
		return;
	free(p->arena);
	free(p->slots);
	free(p);
	*psl = NULL;
}

/* Punycode (RFC 3492) of one label of code points, "xn--" prefixed. */
static uint32_t puny_adapt(uint32_t delta, uint32_t npoints, bool first)
{
	uint32_t k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / npoints;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return k + (36 * delta) / (delta + 38);
}

static int puny_encode(const uint32_t *cp, size_t n, char *out, size_t outlen)
{
	size_t o = 0, h, b = 0;
	uint32_t next = 128, delta = 0, bias = 72;

#define PUT(ch) do { if (o + 1 >= outlen) return -1; out[o++] = (char)(ch); } while (0)
	PUT('x'); PUT('n'); PUT('-'); PUT('-');
	for (size_t i = 0; i < n; i++)
		if (cp[i] < 128) {
			PUT(cp[i]);
			b++;
		}
	h = b;
	if (b > 0)
		PUT('-');
	while (h < n) {
		uint32_t m = UINT32_MAX;

		for (size_t i = 0; i < n; i++)
			if (cp[i] >= next && cp[i] < m)
				m = cp[i];
		if ((uint64_t)(m - next) * (h + 1) + delta > UINT32_MAX / 2)
			return -1;
		delta += (m - next) * (uint32_t)(h + 1);
		next = m;
		for (size_t i = 0; i < n; i++) {
			if (cp[i] < next)
				delta++;
			if (cp[i] != next)
				continue;
			uint32_t q = delta;

			for (uint32_t k = 36;; k += 36) {
				uint32_t t = k <= bias ? 1 : k >= bias + 26 ? 26 : k - bias;
				uint32_t d;

				if (q < t)
					break;
				d = t + (q - t) % (36 - t);
				PUT(d < 26 ? 'a' + d : '0' + d - 26);
				q = (q - t) / (36 - t);
			}
			PUT(q < 26 ? 'a' + q : '0' + q - 26);
			bias = puny_adapt(delta, (uint32_t)h + 1, h == b);
			delta = 0;
			h++;
		}
		delta++;
		next++;
	}
#undef PUT
	out[o] = '\0';
	return 0;
}

/* A rule's labels in A-label form: UTF-8 labels become "xn--...". */
static int rule_to_ascii(const char *in, char *out, size_t outlen)
{
	size_t o = 0;

	while (*in != '\0') {
		const char *dot = strchr(in, '.');
		size_t len = dot ? (size_t)(dot - in) : strlen(in);
		bool ascii = true;

		for (size_t i = 0; i < len; i++)
			if ((unsigned char)in[i] >= 0x80)
				ascii = false;
		if (ascii) {
			if (o + len + 2 > outlen)
				return -1;
			for (size_t i = 0; i < len; i++)
				out[o++] = (in[i] >= 'A' && in[i] <= 'Z') ? (char)(in[i] + 32) : in[i];
		} else {
			uint32_t cp[64];
			size_t n = 0;

			for (size_t i = 0; i < len;) {
				unsigned char c = (unsigned char)in[i];
				int extra = c < 0x80 ? 0 : c >= 0xf0 ? 3 : c >= 0xe0 ? 2 : c >= 0xc0 ? 1 : -1;

				if (extra < 0 || i + (size_t)extra >= len + (extra ? 0 : 1) || n == 64)
					return -1;
				uint32_t v = extra == 0 ? c : c & (0x3f >> extra);

				for (int k = 1; k <= extra; k++) {
					unsigned char cc = (unsigned char)in[i + (size_t)k];

					if ((cc & 0xc0) != 0x80)
						return -1;
					v = (v << 6) | (cc & 0x3f);
				}
				cp[n++] = v;
				i += (size_t)extra + 1;
			}
			if (puny_encode(cp, n, out + o, outlen - o - 1) < 0)
				return -1;
			o += strlen(out + o);
		}
		in += len;
		if (*in == '.') {
			out[o++] = '.';
			in++;
		}
	}
	out[o] = '\0';
	return 0;
}

/*
 * The PSL file: one rule per line, read up to the first white space;
 * "//" comments.  Rules keep their "!" / "*." prefixes.
 */
static int psl_load(struct hm_psl *p, const char *path, char *err, size_t errlen)
{
	FILE *f = fopen(path, "r");
	char line[PSL_LINE_MAX], rule[PSL_LINE_MAX];

	if (f == NULL) {
		snprintf(err, errlen, "%s: %s", path, strerror(errno));
		return -1;
	}
	while (fgets(line, sizeof(line), f) != NULL) {
		char *s = line, *e;
		size_t pre = 0;

		while (*s == ' ' || *s == '\t')
			s++;
		if (*s == '\0' || *s == '\n' || *s == '\r' || strncmp(s, "//", 2) == 0)
			continue;
		for (e = s; *e != '\0' && *e != ' ' && *e != '\t' && *e != '\r' && *e != '\n'; e++)
			;
		*e = '\0';
		if (*s == '!')
			pre = 1;
		else if (strncmp(s, "*.", 2) == 0)
			pre = 2;
		memcpy(rule, s, pre);
		if (rule_to_ascii(s + pre, rule + pre, sizeof(rule) - pre) < 0)
			continue;	/* a rule we cannot represent matches nothing we see */
		if (psl_add(p, rule) < 0) {
			fclose(f);
			snprintf(err, errlen, "%s: out of memory", path);
			return -1;
		}
	}
	if (ferror(f)) {
		snprintf(err, errlen, "%s: read error", path);
		fclose(f);
		return -1;
	}
	fclose(f);
	if (p->count == 0) {
		snprintf(err, errlen, "%s: no public suffix rules", path);
		return -1;
	}
	return 0;
}

int hm_psl_load(const char *path, struct hm_psl **psl_r, char *err, size_t errlen)
{
	struct hm_psl *p = calloc(1, sizeof(*p));

	*psl_r = NULL;
	if (p == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (psl_load(p, path, err, errlen) < 0) {
		hm_psl_free(&p);
		return -1;
	}
	*psl_r = p;
	return 0;
}

int hm_psl_org_domain(const struct hm_psl *psl, const char *domain, char *out, size_t outlen)
{
	char name[HM_DOMAIN_MAX], key[HM_DOMAIN_MAX + 2];
	size_t pos[128], n = 0, len = strlen(domain), ps;

	if (len > 0 && domain[len - 1] == '.')
		len--;
	if (len == 0 || len >= sizeof(name))
		return -1;
	memcpy(name, domain, len);
	name[len] = '\0';
	hm_domain_lower(name);
	for (size_t i = 0; i < len && n < 128; i++)
		if (i == 0 || name[i - 1] == '.')
			pos[n++] = i;
	/* The longest matching rule; an exception rule wins and loses a label. */
	for (ps = 0; ps < n; ps++) {
		const char *suffix = name + pos[ps];

		snprintf(key, sizeof(key), "!%s", suffix);
		if (psl_has(psl, key)) {
			ps++;
			break;
		}
		if (psl_has(psl, suffix))
			break;
		if (ps + 1 < n) {
			snprintf(key, sizeof(key), "*.%s", name + pos[ps + 1]);
			if (psl_has(psl, key))
				break;
		}
	}
	if (ps == n)
		ps = n - 1;		/* the default rule "*" */
	const char *org = ps == 0 ? name : name + pos[ps - 1];

	if (strlen(org) >= outlen)
		return -1;
	strcpy(out, org);
	return 0;
}
