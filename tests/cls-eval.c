/*
 * cls-eval.c - cross-validation of the content classifier on a corpus,
 * in process (no Redis, no DNS): the tuning bench.
 *
 *	cls-eval [options] DIR
 *
 * DIR holds ham/ and spam/ with one message per file (an mbox "From " line
 * at the top is skipped).  Each message is fed to hm_content as scan mode
 * feeds the milter (header fields with their folding, then the body as CRLF
 * text in chunks), once; the folds are fixed by a hash of the file name.
 * (Return-Path, which delivery writes, is not a header the daemon sees:
 * dropped, as the learner does, or with --envelope given as the envelope
 * sender.)  For each fold a fresh model learns the other folds in a shuffled order
 * (hm_cls_step, as the learner does), then each held-out message is judged
 * the daemon's way (margin, calibration, points) and its score is the
 * points plus --base, what the other symbols give a message.  The figures
 * at the server thresholds 8 and 15, the AUC and the classification cost
 * are printed; with --tsv, one line per message as well.
 */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "scoring/classifier.h"
#include "scoring/content.h"
#include "scoring/features.h"

struct msg {
	char *name;
	bool spam;
	int fold;
	uint32_t *idx;
	size_t n;
	size_t bytes;
	double us;			/* CPU to extract its features */
	double margin;			/* held-out */
	double score;
	bool speaks;
};

struct opts {
	int folds, passes;
	int only_folds;			/* run only the first N folds (0: all) */
	unsigned limit;			/* at most this many of each class (0: all) */
	struct hm_cls_learn learn;
	struct hm_cls_points points;
	double base;
	double cal_a, cal_b;
	bool fit;			/* fit the calibration on the learning margins */
	const char *tsv;
	int order;			/* 0 shuffled, 1 spam first, 2 ham first */
	int replay, replay_n;		/* replay buffer per class, replays per message */
	int consolidate;		/* passes over the kept sets at the end */
};

static double now_us(void)
{
	struct timespec ts;

	/* CPU time: what classification costs, whatever else the machine runs. */
	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec * 1e6 + ts.tv_nsec / 1e3;
}

static uint64_t fnv(const char *s)
{
	uint64_t h = 1469598103934665603ull;

	for (; *s; s++)
		h = (h ^ (unsigned char)*s) * 1099511628211ull;
	return h;
}

/* A deterministic generator for the shuffles. */
static uint64_t rng_next(uint64_t *s)
{
	*s ^= *s << 13;
	*s ^= *s >> 7;
	*s ^= *s << 17;
	return *s;
}

static char *slurp(const char *path, size_t *len_r)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, len = 0, got;

	if (f == NULL)
		return NULL;
	do {
		if (len + 65536 + 1 > cap) {
			char *nb = realloc(buf, cap = len + 65536 + 1);

			if (nb == NULL) {
				free(buf);
				fclose(f);
				return NULL;
			}
			buf = nb;
		}
		got = fread(buf + len, 1, 65536, f);
		len += got;
	} while (got > 0);
	fclose(f);
	buf[len] = '\0';
	*len_r = len;
	return buf;
}

/*
 * Feed a message the way scan mode does: header fields (name, then the
 * value after the colon with its folding as CRLF), the body with CRLF line
 * ends in 16 KiB chunks.
 */
static const unsigned char eval_key[HM_CLS_KEY_LEN] = "cls-eval key 01";
static bool use_envelope;

static int feed(struct hm_content *c, const char *text, size_t len)
{
	const char *p = text, *end = text + len;
	char *field = NULL;
	size_t flen = 0;
	unsigned char chunk[16384 + 2];
	size_t cl = 0;
	int rc = 0;

	if (len >= 5 && memcmp(p, "From ", 5) == 0) {
		const char *nl = memchr(p, '\n', len);

		p = nl ? nl + 1 : end;
	}
	field = malloc(len + 1);
	if (field == NULL)
		return -1;
	for (;;) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		const char *le = nl ? nl : end;
		size_t ll = (size_t)(le - p);

		if (ll > 0 && p[ll - 1] == '\r')
			ll--;
		if (ll == 0 || (p[0] != ' ' && p[0] != '\t')) {
			if (flen > 0) {
				char *colon;

				field[flen] = '\0';
				if ((colon = strchr(field, ':')) != NULL && colon != field) {
					char *e = colon;

					*colon = '\0';
					while (e > field && (e[-1] == ' ' || e[-1] == '\t'))
						*--e = '\0';
					/* Delivery wrote it: no header the daemon sees;
					 * with --envelope, the envelope sender. */
					if (strcasecmp(field, "Return-Path") != 0)
						rc |= hm_content_header(c, field, colon + 1);
					else if (use_envelope)
						rc |= hm_content_envelope(c, colon + 1);
				}
				flen = 0;
			}
		} else if (flen > 0) {
			memcpy(field + flen, "\r\n", 2);
			flen += 2;
		}
		if (ll == 0 || nl == NULL) {
			p = nl ? nl + 1 : end;
			break;
		}
		memcpy(field + flen, p, ll);
		flen += ll;
		p = nl + 1;
	}
	free(field);
	rc |= hm_content_eoh(c);
	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t ll = nl ? (size_t)(nl - p) : (size_t)(end - p);

		if (nl && ll > 0 && p[ll - 1] == '\r')
			ll--;
		while (ll > 0) {
			size_t take = ll < sizeof(chunk) - 2 - cl ? ll : sizeof(chunk) - 2 - cl;

			memcpy(chunk + cl, p, take);
			cl += take;
			p += take;
			ll -= take;
			if (cl >= sizeof(chunk) - 2) {
				rc |= hm_content_body(c, chunk, cl);
				cl = 0;
			}
		}
		if (nl) {
			chunk[cl++] = '\r';
			chunk[cl++] = '\n';
			p = nl + 1;
			if (cl >= sizeof(chunk) - 2) {
				rc |= hm_content_body(c, chunk, cl);
				cl = 0;
			}
		} else {
			p = end;
		}
	}
	if (cl)
		rc |= hm_content_body(c, chunk, cl);
	return rc;
}


/* Extract one message's features (the timed part, with the margin). */
static int extract(struct msg *m, const char *path, double *us_r)
{
	size_t len, n;
	char *text = slurp(path, &len);
	const uint32_t *idx;
	struct hm_content *c;
	double t0;

	if (text == NULL)
		return -1;
	t0 = now_us();
	if ((c = hm_content_begin(eval_key)) == NULL || feed(c, text, len) < 0 ||
	    hm_content_finish(c, &idx, &n) < 0) {
		hm_content_free(&c);
		free(text);
		return -1;
	}
	*us_r = now_us() - t0;
	m->idx = malloc((n ? n : 1) * sizeof(*idx));
	if (m->idx == NULL) {
		hm_content_free(&c);
		free(text);
		return -1;
	}
	memcpy(m->idx, idx, n * sizeof(*idx));
	m->n = n;
	m->bytes = len;
	hm_content_free(&c);
	free(text);
	return 0;
}

static int load_class(const char *dir, const char *sub, bool spam, unsigned limit, int folds,
		      struct msg **msgs, size_t *nmsgs, size_t *cap, double *us, size_t *bytes)
{
	char path[4096];
	struct dirent **ents;
	int ne;
	unsigned taken = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	if ((ne = scandir(path, &ents, NULL, alphasort)) < 0) {
		fprintf(stderr, "cls-eval: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (int i = 0; i < ne; i++) {
		struct msg *m;
		double t;

		if (ents[i]->d_name[0] == '.' || (limit && taken >= limit)) {
			free(ents[i]);
			continue;
		}
		/* A subset is every k-th file, so it keeps the groups' mix. */
		if (limit && fnv(ents[i]->d_name) % 1000 >= 1000u * limit / (unsigned)ne + 1) {
			free(ents[i]);
			continue;
		}
		if (*nmsgs == *cap) {
			struct msg *nm = realloc(*msgs, (*cap = *cap * 2 + 64) * sizeof(**msgs));

			if (nm == NULL)
				return -1;
			*msgs = nm;
		}
		m = &(*msgs)[(*nmsgs)++];
		memset(m, 0, sizeof(*m));
		m->name = strdup(ents[i]->d_name);
		m->spam = spam;
		m->fold = (int)(fnv(ents[i]->d_name) % (uint64_t)folds);
		snprintf(path, sizeof(path), "%s/%s/%s", dir, sub, ents[i]->d_name);
		free(ents[i]);
		if (m->name == NULL || extract(m, path, &t) < 0) {
			fprintf(stderr, "cls-eval: %s: cannot read or extract\n", path);
			return -1;
		}
		m->us = t;
		*us += t;
		*bytes += m->bytes;
		taken++;
	}
	free(ents);
	return 0;
}

static int cmp_margin(const void *a, const void *b)
{
	double x = (*(const struct msg *const *)a)->margin, y = (*(const struct msg *const *)b)->margin;

	return x < y ? -1 : x > y;
}

/* The probability that a random spam's margin beats a random ham's. */
static double auc(struct msg *msgs, size_t n)
{
	struct msg **v = malloc(n * sizeof(*v));
	double rank_sum = 0, npos = 0, nneg = 0;

	if (v == NULL)
		return NAN;
	for (size_t i = 0; i < n; i++)
		v[i] = &msgs[i];
	qsort(v, n, sizeof(*v), cmp_margin);
	for (size_t i = 0; i < n;) {
		size_t j = i;
		double r;

		while (j < n && v[j]->margin == v[i]->margin)
			j++;
		r = (i + 1 + j) / 2.0;	/* mean rank of ties */
		for (size_t k = i; k < j; k++)
			if (v[k]->spam) {
				rank_sum += r;
				npos++;
			} else {
				nneg++;
			}
		i = j;
	}
	free(v);
	return (rank_sum - npos * (npos + 1) / 2) / (npos * nneg);
}

/* SipHash-1-3 (Aumasson and Bernstein), for comparison with hm_fhash. */
#define ROTL(x, b) (((x) << (b)) | ((x) >> (64 - (b))))
#define SIPROUND \
	do { \
		v0 += v1; v1 = ROTL(v1, 13); v1 ^= v0; v0 = ROTL(v0, 32); \
		v2 += v3; v3 = ROTL(v3, 16); v3 ^= v2; \
		v0 += v3; v3 = ROTL(v3, 21); v3 ^= v0; \
		v2 += v1; v1 = ROTL(v1, 17); v1 ^= v2; v2 = ROTL(v2, 32); \
	} while (0)

static uint64_t siphash13(uint64_t k0, uint64_t k1, const unsigned char *p, size_t len)
{
	uint64_t v0 = k0 ^ 0x736f6d6570736575ull, v1 = k1 ^ 0x646f72616e646f6dull;
	uint64_t v2 = k0 ^ 0x6c7967656e657261ull, v3 = k1 ^ 0x7465646279746573ull;
	uint64_t b = (uint64_t)len << 56, m;
	size_t i;

	for (; len >= 8; p += 8, len -= 8) {
		memcpy(&m, p, 8);	/* little-endian hosts */
		v3 ^= m;
		SIPROUND;
		v0 ^= m;
	}
	for (i = 0; i < len; i++)
		b |= (uint64_t)p[i] << (8 * i);
	v3 ^= b;
	SIPROUND;
	v0 ^= b;
	v2 ^= 0xff;
	SIPROUND;
	SIPROUND;
	SIPROUND;
	return v0 ^ v1 ^ v2 ^ v3;
}

/* ns per hash: 8-byte values (4-grams, pairs) and strings of 6 and 8 bytes (words). */
static void hash_bench(void)
{
	static unsigned char buf[4096][8];
	struct hm_fkey k;
	uint64_t acc = 0, v = 12345;
	const long n = 20000000;
	double t[5];

	hm_fkey_init(&k, eval_key);
	for (size_t i = 0; i < 4096; i++)
		for (size_t j = 0; j < 8; j++)
			buf[i][j] = (unsigned char)('a' + (v = v * 6364136223846793005ull + 1) % 26);
	t[0] = now_us();
	for (long i = 0; i < n; i++)
		acc += hm_fhash64(&k, HM_NS_GRAM, v += 0x9e3779b97f4a7c15ull);
	t[1] = now_us();
	for (long i = 0; i < n; i++)
		acc += hm_fhash(&k, HM_NS_WORD, buf[i & 4095], 6);
	t[2] = now_us();
	for (long i = 0; i < n; i++)
		acc += siphash13(k.k0, k.k1, buf[i & 4095], 6);
	t[3] = now_us();
	for (long i = 0; i < n; i++)
		acc += siphash13(k.k0, k.k1, buf[i & 4095], 8);
	t[4] = now_us();
	printf("hash, ns each: hm_fhash64 %.2f, hm_fhash 6 bytes %.2f; SipHash-1-3 6 bytes %.2f, "
	       "8 bytes %.2f (%llx)\n", (t[1] - t[0]) * 1e3 / n, (t[2] - t[1]) * 1e3 / n,
	       (t[3] - t[2]) * 1e3 / n, (t[4] - t[3]) * 1e3 / n, (unsigned long long)(acc & 0xf));
}

static void usage(void)
{
	fprintf(stderr, "usage: cls-eval [--folds K] [--only-folds N] [--passes P] [--limit N]\n"
		"  [--eta E] [--learn-margin M] [--base B] [--scale S] [--cap-spam C]\n"
		"  [--cap-ham C] [--cal A,B] [--fit] [--envelope] [--order shuffled|spam-first|ham-first]\n"
		"  [--tsv FILE] DIR\n"
		"       cls-eval --hash-bench\n");
	exit(2);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "folds", 1, NULL, 'k' }, { "passes", 1, NULL, 'p' }, { "limit", 1, NULL, 'l' },
		{ "eta", 1, NULL, 'e' }, { "learn-margin", 1, NULL, 'm' }, { "base", 1, NULL, 'b' },
		{ "scale", 1, NULL, 's' }, { "cap-spam", 1, NULL, 'S' }, { "cap-ham", 1, NULL, 'H' },
		{ "cal", 1, NULL, 'c' }, { "fit", 0, NULL, 'f' }, { "tsv", 1, NULL, 't' },
		{ "only-folds", 1, NULL, 'o' }, { "hash-bench", 0, NULL, 'B' },
		{ "envelope", 0, NULL, 'E' }, { "order", 1, NULL, 'O' },
		{ "replay", 1, NULL, 'R' }, { "replay-n", 1, NULL, 'N' },
		{ "consolidate", 1, NULL, 'C' }, { NULL, 0, NULL, 0 },
	};
	struct opts o = {
		.folds = 5, .passes = 1, .learn = HM_CLS_LEARN_DEFAULT, .points = HM_CLS_POINTS_DEFAULT,
		.base = 2.5, .cal_a = HM_CLS_CAL_A, .cal_b = HM_CLS_CAL_B, .replay_n = 1,
	};
	struct msg *msgs = NULL;
	size_t n = 0, cap = 0, bytes = 0, steps = 0;
	double us = 0, judge_us = 0, *lm = NULL;
	bool *ly = NULL;
	size_t nl = 0;
	int ch;

	while ((ch = getopt_long(argc, argv, "", lo, NULL)) != -1) {
		switch (ch) {
		case 'k': o.folds = atoi(optarg); break;
		case 'p': o.passes = atoi(optarg); break;
		case 'l': o.limit = (unsigned)atoi(optarg); break;
		case 'e': o.learn.eta = atof(optarg); break;
		case 'm': o.learn.margin = atof(optarg); break;
		case 'b': o.base = atof(optarg); break;
		case 's': o.points.scale = atof(optarg); break;
		case 'S': o.points.cap_spam = atof(optarg); break;
		case 'H': o.points.cap_ham = atof(optarg); break;
		case 'c':
			if (sscanf(optarg, "%lf,%lf", &o.cal_a, &o.cal_b) != 2)
				usage();
			break;
		case 'f': o.fit = true; break;
		case 't': o.tsv = optarg; break;
		case 'o': o.only_folds = atoi(optarg); break;
		case 'B': hash_bench(); return 0;
		case 'E': use_envelope = true; break;
		case 'R': o.replay = atoi(optarg); break;
		case 'N': o.replay_n = atoi(optarg); break;
		case 'C': o.consolidate = atoi(optarg); break;
		case 'O':
			o.order = strcmp(optarg, "spam-first") == 0 ? 1 : strcmp(optarg, "ham-first") == 0 ? 2 : 0;
			break;
		default: usage();
		}
	}
	if (optind != argc - 1 || o.folds < 2)
		usage();
	if (load_class(argv[optind], "ham", false, o.limit, o.folds, &msgs, &n, &cap, &us, &bytes) < 0 ||
	    load_class(argv[optind], "spam", true, o.limit, o.folds, &msgs, &n, &cap, &us, &bytes) < 0)
		return 1;

	lm = malloc(n * o.passes * sizeof(*lm));
	ly = malloc(n * o.passes * sizeof(*ly));
	if (lm == NULL || ly == NULL)
		return 1;
	for (int fold = 0; fold < (o.only_folds ? o.only_folds : o.folds); fold++) {
		struct hm_cls_model *model = hm_cls_model_new(eval_key);
		size_t *order = malloc(n * sizeof(*order)), nt = 0;
		size_t *rs = calloc((size_t)o.replay + 1, sizeof(*rs)), *rh = calloc((size_t)o.replay + 1, sizeof(*rh));
		size_t nrs = 0, nrh = 0;
		uint64_t seed = 0x9e3779b97f4a7c15ull + (uint64_t)fold;
		double fa, fb;

		if (model == NULL || order == NULL)
			return 1;
		for (size_t i = 0; i < n; i++)
			if (msgs[i].fold != fold)
				order[nt++] = i;
		nl = 0;
		for (int pass = 0; pass < o.passes; pass++) {
			for (size_t i = nt; i > 1; i--) {
				size_t j = rng_next(&seed) % i, t = order[i - 1];

				order[i - 1] = order[j];
				order[j] = t;
			}
			/* Classes one after the other (stable: still shuffled within). */
			if (o.order) {
				size_t w = 0, *tmp = malloc(nt * sizeof(*tmp));

				if (tmp == NULL)
					return 1;
				for (int pass2 = 0; pass2 < 2; pass2++)
					for (size_t k = 0; k < nt; k++)
						if (msgs[order[k]].spam == ((o.order == 1) == (pass2 == 0)))
							tmp[w++] = order[k];
				memcpy(order, tmp, nt * sizeof(*tmp));
				free(tmp);
			}
			for (size_t k = 0; k < nt; k++) {
				struct msg *m = &msgs[order[k]];
				int delta;

				/* The margin before the step is an honest, unseen one. */
				if (pass == 0) {
					lm[nl] = hm_cls_margin(model, m->idx, m->n);
					ly[nl++] = m->spam;
				}
				if (hm_cls_step_with(model, &o.learn, m->idx, m->n, m->spam, &delta)) {
					hm_cls_model_apply(model, m->idx, m->n, delta);
					steps++;
				}
				if (o.replay) {
					/* Keep the last o.replay of each class; replay one of the other. */
					size_t *buf = m->spam ? rs : rh, *nb = m->spam ? &nrs : &nrh;
					size_t *obuf = m->spam ? rh : rs, onb = m->spam ? nrh : nrs;

					buf[(*nb)++ % (size_t)o.replay] = order[k];
					for (int rep = 0; rep < o.replay_n && onb > 0; rep++) {
						size_t lim = onb < (size_t)o.replay ? onb : (size_t)o.replay;
						struct msg *r = &msgs[obuf[rng_next(&seed) % lim]];
						/* As the learner would keep it: packed, cut. */
						static unsigned char packed[HM_CLS_PACKED_MAX];
						static uint32_t kept[HM_CLS_REPLAY_FEATURES];
						size_t nk = hm_cls_unpack(packed, hm_cls_pack(r->idx, r->n, packed), kept);

						if (hm_cls_step_with(model, &o.learn, kept, nk, r->spam, &delta)) {
							hm_cls_model_apply(model, kept, nk, delta);
							steps++;
						}
					}
				}
				if (pass == 0)
					*(m->spam ? &model->spam : &model->ham) += 1;
			}
		}
		/* Consolidation: passes over both kept sets, as a learner would at the end of a batch. */
		for (int pass = 0; pass < o.consolidate && o.replay; pass++) {
			size_t ns = nrs < (size_t)o.replay ? nrs : (size_t)o.replay;
			size_t nh = nrh < (size_t)o.replay ? nrh : (size_t)o.replay;

			for (size_t k = 0; k < ns + nh; k++) {
				size_t pick = rng_next(&seed) % (ns + nh);
				struct msg *r = &msgs[pick < ns ? rs[pick] : rh[pick - ns]];
				int delta;

				if (hm_cls_step_with(model, &o.learn, r->idx, r->n, r->spam, &delta)) {
					hm_cls_model_apply(model, r->idx, r->n, delta);
					steps++;
				}
			}
		}
		model->cal_a = o.cal_a;
		model->cal_b = o.cal_b;
		/* Fit on the second half of the learning margins: the model was young before. */
		if (o.fit && hm_cls_fit_calibration(lm + nl / 2, ly + nl / 2, nl - nl / 2, &fa, &fb) == 0) {
			model->cal_a = fa;
			model->cal_b = fb;
			fprintf(stderr, "fold %d: calibration a=%.3f b=%.3f\n", fold, fa, fb);
		}
		for (size_t i = 0; i < n; i++) {
			struct msg *m = &msgs[i];
			struct hm_cls_verdict v;
			double t0;

			if (m->fold != fold)
				continue;
			t0 = now_us();
			m->margin = hm_cls_margin(model, m->idx, m->n);
			hm_cls_points(model, &o.points, m->margin, &v);
			judge_us += now_us() - t0;
			m->speaks = v.speaks;
			m->score = o.base + (v.speaks ? v.points : 0);
		}
		free(order);
		free(rs);
		free(rh);
		hm_cls_model_release(&model);
	}

	{
		size_t ham[3] = { 0 }, ham8[3] = { 0 }, ham15 = 0, nham = 0, nspam = 0, spam8 = 0,
		       spam15 = 0, judged = 0;
		static const char *group[3] = { "easy-ham-1", "easy-ham-2", "hard-ham-1" };
		struct msg *held = malloc(n * sizeof(*held));
		double *hm = malloc(n * sizeof(*hm)), a, b;
		bool *hy = malloc(n * sizeof(*hy));
		FILE *tsv = o.tsv ? fopen(o.tsv, "w") : NULL;

		if (held == NULL || hm == NULL || hy == NULL)
			return 1;
		for (size_t i = 0; i < n; i++) {
			struct msg *m = &msgs[i];

			if (o.only_folds && m->fold >= o.only_folds)
				continue;
			held[judged] = *m;
			hm[judged] = m->margin;
			hy[judged++] = m->spam;
			if (tsv)
				fprintf(tsv, "%s\t%s\t%.4f\t%.2f\n", m->spam ? "spam" : "ham", m->name,
					m->margin, m->score);
			if (m->spam) {
				nspam++;
				spam8 += m->score >= 8;
				spam15 += m->score > 15;
			} else {
				int g = strncmp(m->name, "hard", 4) == 0 ? 2 :
					strncmp(m->name, "easy-ham-2", 10) == 0 ? 1 : 0;

				nham++;
				ham[g]++;
				ham8[g] += m->score >= 8;
				ham15 += m->score > 15;
			}
		}
		if (tsv)
			fclose(tsv);
		printf("messages: %zu ham, %zu spam; %d folds%s, %d pass(es), %zu learning steps\n",
		       nham, nspam, o.folds, o.only_folds ? " (some)" : "", o.passes, steps);
		printf("learn: eta=%.3f margin=%.2f; points: scale=%.2f cap_spam=%.1f cap_ham=%.1f "
		       "cal a=%.3f b=%.3f%s; base %.2f\n", o.learn.eta, o.learn.margin, o.points.scale,
		       o.points.cap_spam, o.points.cap_ham, o.cal_a, o.cal_b, o.fit ? " (fitted)" : "",
		       o.base);
		for (int g = 0; g < 3; g++)
			if (ham[g])
				printf("ham >= 8 (%s): %zu of %zu = %.2f%%\n", group[g], ham8[g], ham[g],
				       100.0 * ham8[g] / ham[g]);
		printf("ham >= 8: %zu of %zu = %.2f%%\n", ham8[0] + ham8[1] + ham8[2], nham,
		       100.0 * (ham8[0] + ham8[1] + ham8[2]) / (nham ? nham : 1));
		printf("ham > 15: %zu\n", ham15);
		printf("spam >= 8: %zu of %zu = %.2f%%\n", spam8, nspam, 100.0 * spam8 / (nspam ? nspam : 1));
		printf("spam > 15: %zu\n", spam15);
		printf("AUC: %.5f\n", auc(held, judged));
		if (hm_cls_fit_calibration(hm, hy, judged, &a, &b) == 0)
			printf("calibration fitted on the held-out margins: a=%.3f b=%.3f\n", a, b);
		{
			double nf = 0;

			for (size_t i = 0; i < n; i++)
				nf += msgs[i].n;
			printf("features per message: %.0f; bytes per message: %.0f\n", nf / n,
			       (double)bytes / n);
		}
		printf("extraction: %.1f us per message, %.1f us per 10 KiB; judging %.2f us per message\n",
		       us / n, us / ((double)bytes / 10240), judge_us / (judged ? judged : 1));
		{
			double t10 = 0;
			size_t n10 = 0;

			for (size_t i = 0; i < n; i++)
				if (msgs[i].bytes >= 9 * 1024 && msgs[i].bytes < 11 * 1024) {
					t10 += msgs[i].us;
					n10++;
				}
			if (n10)
				printf("messages of 9 to 11 KiB: %zu, %.1f us each (decoding and features)\n",
				       n10, t10 / n10);
		}
		free(held);
		free(hm);
		free(hy);
	}
	for (size_t i = 0; i < n; i++) {
		free(msgs[i].name);
		free(msgs[i].idx);
	}
	free(msgs);
	free(lm);
	free(ly);
	hm_fset_pool_drain();
	return 0;
}
