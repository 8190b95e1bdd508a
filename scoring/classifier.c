/*
 * classifier.c - the content model's snapshots, slot, margin, learning step,
 * calibration and points (DESIGN §9).
 */
#include "config.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "scoring/classifier.h"

struct hm_cls_model *hm_cls_model_new(const unsigned char key[HM_CLS_KEY_LEN])
{
	struct hm_cls_model *m = calloc(1, sizeof(*m));

	if (m == NULL)
		return NULL;
	if ((m->w = calloc(HM_CLS_BUCKETS, sizeof(*m->w))) == NULL) {
		free(m);
		return NULL;
	}
	atomic_init(&m->refs, 1);
	memcpy(m->key, key, HM_CLS_KEY_LEN);
	m->cal_a = HM_CLS_CAL_A;
	m->cal_b = HM_CLS_CAL_B;
	return m;
}

struct hm_cls_model *hm_cls_model_ref(struct hm_cls_model *m)
{
	if (m)
		atomic_fetch_add_explicit(&m->refs, 1, memory_order_relaxed);
	return m;
}

void hm_cls_model_release(struct hm_cls_model **mp)
{
	struct hm_cls_model *m = *mp;

	*mp = NULL;
	if (m == NULL)
		return;
	/* acq_rel: the last owner sees every other owner's reads finished. */
	if (atomic_fetch_sub_explicit(&m->refs, 1, memory_order_acq_rel) != 1)
		return;
	free(m->w);
	free(m);
}

void hm_cls_model_load_weights(struct hm_cls_model *m, const unsigned char *be, size_t len)
{
	size_t n = len / 2;

	if (n > HM_CLS_BUCKETS)
		n = HM_CLS_BUCKETS;
	for (size_t i = 0; i < n; i++)
		m->w[i] = (int16_t)(uint16_t)((unsigned)be[2 * i] << 8 | be[2 * i + 1]);
	memset(m->w + n, 0, (HM_CLS_BUCKETS - n) * sizeof(*m->w));
}

struct hm_cls_model *hm_cls_slot_acquire(struct hm_cls_slot *slot)
{
	struct hm_cls_model *m;

	pthread_mutex_lock(&slot->lock);
	m = hm_cls_model_ref(slot->current);
	pthread_mutex_unlock(&slot->lock);
	return m;
}

void hm_cls_slot_publish(struct hm_cls_slot *slot, struct hm_cls_model *m)
{
	struct hm_cls_model *old;

	pthread_mutex_lock(&slot->lock);
	old = slot->current;
	slot->current = m;
	pthread_mutex_unlock(&slot->lock);
	/* Outside the lock: freeing 2 MiB must not hold up readers. */
	hm_cls_model_release(&old);
}

double hm_cls_margin(const struct hm_cls_model *m, const uint32_t *idx, size_t n)
{
	long long sum = 0;

	if (n == 0)
		return 0.0;
	for (size_t i = 0; i < n; i++)
		sum += m->w[idx[i] & (HM_CLS_BUCKETS - 1)];
	return (double)sum / (HM_CLS_WSCALE * sqrt((double)n));
}

static double sigmoid(double x)
{
	return 1.0 / (1.0 + exp(-x));
}

int hm_cls_step_with(const struct hm_cls_model *m, const struct hm_cls_learn *learn,
		     const uint32_t *idx, size_t n, bool spam, int *delta_r)
{
	double y = spam ? 1.0 : -1.0, ym, d;
	long delta;

	if (n == 0)
		return 0;
	ym = y * hm_cls_margin(m, idx, n);
	if (ym >= learn->margin)
		return 0;
	/* d(log-loss)/dw_i for x_i = 1/sqrt(n), in weight units. */
	d = learn->eta * (1.0 - sigmoid(ym)) * HM_CLS_WSCALE / sqrt((double)n);
	delta = lround(d);
	if (delta < 1)
		delta = 1;		/* a step that rounds away would never learn */
	if (delta > INT16_MAX)
		delta = INT16_MAX;
	*delta_r = spam ? (int)delta : -(int)delta;
	return 1;
}

int hm_cls_step(const struct hm_cls_model *m, const uint32_t *idx, size_t n, bool spam,
		int *delta_r)
{
	static const struct hm_cls_learn learn = HM_CLS_LEARN_DEFAULT;

	return hm_cls_step_with(m, &learn, idx, n, spam, delta_r);
}

void hm_cls_model_apply(struct hm_cls_model *m, const uint32_t *idx, size_t n, int delta)
{
	for (size_t i = 0; i < n; i++) {
		int16_t *w = &m->w[idx[i] & (HM_CLS_BUCKETS - 1)];
		int v = *w + delta;

		*w = (int16_t)(v > INT16_MAX ? INT16_MAX : v < INT16_MIN ? INT16_MIN : v);
	}
}

size_t hm_cls_pack(const uint32_t *idx, size_t n, unsigned char out[HM_CLS_PACKED_MAX])
{
	if (n > HM_CLS_REPLAY_FEATURES)
		n = HM_CLS_REPLAY_FEATURES;
	for (size_t i = 0; i < n; i++) {
		uint32_t v = idx[i] & (HM_CLS_BUCKETS - 1);

		out[3 * i] = (unsigned char)(v >> 16);
		out[3 * i + 1] = (unsigned char)(v >> 8);
		out[3 * i + 2] = (unsigned char)v;
	}
	return 3 * n;
}

size_t hm_cls_unpack(const unsigned char *in, size_t len, uint32_t *idx)
{
	size_t n = len / 3;

	for (size_t i = 0; i < n; i++)
		idx[i] = ((uint32_t)in[3 * i] << 16 | (uint32_t)in[3 * i + 1] << 8 | in[3 * i + 2]) &
			 (HM_CLS_BUCKETS - 1);
	return n;
}

double hm_cls_log_odds(const struct hm_cls_model *m, double margin)
{
	return m->cal_a * margin + m->cal_b;
}

/* log(1 + e^x) without overflow. */
static double log1pexp(double x)
{
	return x > 30 ? x : x < -30 ? 0 : log1p(exp(x));
}

/* Platt's targets: no probability of exactly 0 or 1 from finite data. */
static double platt_loss(const double *margin, const bool *spam, size_t n, double tpos,
			 double tneg, double a, double b)
{
	double loss = 0;

	for (size_t i = 0; i < n; i++) {
		double f = a * margin[i] + b, t = spam[i] ? tpos : tneg;

		loss += t * log1pexp(-f) + (1 - t) * log1pexp(f);
	}
	return loss;
}

int hm_cls_fit_calibration(const double *margin, const bool *spam, size_t n, double *a_r,
			   double *b_r)
{
	double npos = 0, nneg = 0, tpos, tneg, a = 1.0, b, loss;
	const double lambda = 1e-6;	/* keeps the Hessian invertible */

	for (size_t i = 0; i < n; i++) {
		if (!isfinite(margin[i]))
			return -1;
		if (spam[i])
			npos++;
		else
			nneg++;
	}
	if (npos == 0 || nneg == 0)
		return -1;
	tpos = (npos + 1) / (npos + 2);
	tneg = 1 / (nneg + 2);
	b = log((npos + 1) / (nneg + 1));
	loss = platt_loss(margin, spam, n, tpos, tneg, a, b);
	for (int iter = 0; iter < 100; iter++) {
		double g1 = 0, g2 = 0, h11 = lambda, h22 = lambda, h21 = 0, det, da, db;
		double step = 1, newloss;

		for (size_t i = 0; i < n; i++) {
			double p = sigmoid(a * margin[i] + b), t = spam[i] ? tpos : tneg;
			double d1 = p - t, d2 = p * (1 - p);

			g1 += margin[i] * d1;
			g2 += d1;
			h11 += margin[i] * margin[i] * d2;
			h22 += d2;
			h21 += margin[i] * d2;
		}
		det = h11 * h22 - h21 * h21;
		if (det <= 0)
			return -1;
		da = -(h22 * g1 - h21 * g2) / det;
		db = -(h11 * g2 - h21 * g1) / det;
		if (fabs(da) < 1e-10 && fabs(db) < 1e-10)
			break;
		/* Backtracking: Newton on the log-loss, never uphill. */
		while ((newloss = platt_loss(margin, spam, n, tpos, tneg, a + step * da,
					     b + step * db)) > loss + 1e-12 && step > 1e-10)
			step /= 2;
		if (step <= 1e-10)
			break;
		a += step * da;
		b += step * db;
		loss = newloss;
	}
	if (!isfinite(a) || !isfinite(b))
		return -1;
	*a_r = a;
	*b_r = b;
	return 0;
}

void hm_cls_points(const struct hm_cls_model *m, const struct hm_cls_points *pp, double margin,
		   struct hm_cls_verdict *v)
{
	double lo, pts;

	memset(v, 0, sizeof(*v));
	if (m == NULL || m->spam < pp->min_spam || m->ham < pp->min_ham)
		return;
	lo = hm_cls_log_odds(m, margin);
	v->p = sigmoid(lo);
	pts = pp->scale * lo;
	if (pts > pp->cap_spam)
		pts = pp->cap_spam;
	if (pts < -pp->cap_ham)
		pts = -pp->cap_ham;
	if (fabs(pts) < 0.01)
		return;
	v->speaks = true;
	v->spam = pts > 0;
	v->points = pts;
}
