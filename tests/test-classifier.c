/*
 * test-classifier.c - unit tests of scoring/classifier.c: the margin and
 * the learning step, saturation, loading the Redis layout, calibration,
 * points and caps, the silent untrained model, and the slot under threads.
 */
#include "config.h"

#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "scoring/classifier.h"

static const unsigned char key[HM_CLS_KEY_LEN] = "0123456789abcdef";

static void test_new_model(void **state)
{
	struct hm_cls_model *m = hm_cls_model_new(key), *r;
	uint32_t idx[] = { 0, 1, HM_CLS_BUCKETS - 1 };

	assert_non_null(m);
	assert_memory_equal(m->key, key, HM_CLS_KEY_LEN);
	assert_true(m->cal_a == HM_CLS_CAL_A && m->cal_b == HM_CLS_CAL_B);
	assert_true(m->spam == 0 && m->ham == 0);
	assert_true(hm_cls_margin(m, idx, 3) == 0.0);
	assert_true(hm_cls_margin(m, idx, 0) == 0.0);
	r = hm_cls_model_ref(m);
	assert_ptr_equal(r, m);
	hm_cls_model_release(&r);
	assert_null(r);
	hm_cls_model_release(&m);
	hm_cls_model_release(&m);	/* NULL: nothing */
}

/* The margin: sum of weights / (WSCALE * sqrt(n)). */
static void test_margin(void **state)
{
	static const struct {
		int16_t w[4];
		size_t n;
		double margin;
	} cases[] = {
		{ { 1024, 0, 0, 0 }, 1, 1.0 },
		{ { 1024, 1024, 1024, 1024 }, 4, 2.0 },
		{ { 2048, -2048, 0, 0 }, 2, 0.0 },
		{ { -1024, -1024, -1024, -1024 }, 4, -2.0 },
		{ { INT16_MAX, INT16_MAX, 0, 0 }, 1, INT16_MAX / 1024.0 },
	};

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct hm_cls_model *m = hm_cls_model_new(key);
		uint32_t idx[4] = { 7, 70000, 5, HM_CLS_BUCKETS - 1 };

		for (int i = 0; i < 4; i++)
			m->w[idx[i]] = cases[c].w[i];
		if (fabs(hm_cls_margin(m, idx, cases[c].n) - cases[c].margin) > 1e-9)
			fail_msg("case %zu: margin %f, want %f", c, hm_cls_margin(m, idx, cases[c].n),
				 cases[c].margin);
		hm_cls_model_release(&m);
	}
}

/* A step moves the margin toward the true class, and stops when confident. */
static void test_step(void **state)
{
	struct hm_cls_model *m = hm_cls_model_new(key);
	uint32_t idx[100];
	struct hm_cls_learn learn = HM_CLS_LEARN_DEFAULT;
	int delta, steps = 0;
	double before;

	for (int i = 0; i < 100; i++)
		idx[i] = (uint32_t)i * 977;
	/* First step at margin 0: eta * 0.5 / sqrt(100) units per feature. */
	assert_int_equal(hm_cls_step_with(m, &learn, idx, 100, true, &delta), 1);
	assert_int_equal(delta, (int)lround(learn.eta * 0.5 * HM_CLS_WSCALE / 10));
	assert_int_equal(hm_cls_step_with(m, &learn, idx, 100, false, &delta), 1);
	assert_int_equal(delta, -(int)lround(learn.eta * 0.5 * HM_CLS_WSCALE / 10));
	/* The default parameters are hm_cls_step's. */
	assert_int_equal(hm_cls_step(m, idx, 100, true, &delta), 1);
	assert_int_equal(delta, (int)lround(HM_CLS_ETA * 0.5 * HM_CLS_WSCALE / 10));

	/* Learning spam until confident: the margin rises past the learn margin. */
	while (hm_cls_step(m, idx, 100, true, &delta) == 1 && steps < 1000) {
		before = hm_cls_margin(m, idx, 100);
		assert_true(delta > 0);
		hm_cls_model_apply(m, idx, 100, delta);
		assert_true(hm_cls_margin(m, idx, 100) > before);
		steps++;
	}
	assert_true(steps > 0 && steps < 1000);
	assert_true(hm_cls_margin(m, idx, 100) >= HM_CLS_LEARN_MARGIN);
	/* Confident of spam: nothing to learn as spam, much to learn as ham. */
	assert_int_equal(hm_cls_step(m, idx, 100, true, &delta), 0);
	assert_int_equal(hm_cls_step(m, idx, 100, false, &delta), 1);
	assert_true(delta < 0);
	/* No features, nothing to learn. */
	assert_int_equal(hm_cls_step(m, idx, 0, true, &delta), 0);
	hm_cls_model_release(&m);
}

/* Tiny steps never round to zero: a message with very many features still learns. */
static void test_step_minimum(void **state)
{
	struct hm_cls_model *m = hm_cls_model_new(key);
	size_t n = 1000000;
	uint32_t *idx = calloc(n, sizeof(*idx));
	struct hm_cls_learn learn = { 0.001, 1.0 };
	int delta;

	assert_non_null(idx);
	for (size_t i = 0; i < n; i++)
		idx[i] = (uint32_t)i;
	assert_int_equal(hm_cls_step_with(m, &learn, idx, n, false, &delta), 1);
	assert_int_equal(delta, -1);
	free(idx);
	hm_cls_model_release(&m);
}

/* apply saturates like BITFIELD OVERFLOW SAT. */
static void test_apply_saturates(void **state)
{
	struct hm_cls_model *m = hm_cls_model_new(key);
	uint32_t idx[2] = { 3, 4 };

	m->w[3] = INT16_MAX - 10;
	m->w[4] = INT16_MIN + 10;
	hm_cls_model_apply(m, idx, 1, 100);
	assert_int_equal(m->w[3], INT16_MAX);
	hm_cls_model_apply(m, idx + 1, 1, -100);
	assert_int_equal(m->w[4], INT16_MIN);
	hm_cls_model_apply(m, idx, 2, -5);
	assert_int_equal(m->w[3], INT16_MAX - 5);
	assert_int_equal(m->w[4], INT16_MIN);
	hm_cls_model_release(&m);
}

/* The Redis layout: big-endian i16; short values zero-extended. */
static void test_load_weights(void **state)
{
	struct hm_cls_model *m = hm_cls_model_new(key);
	unsigned char be[6] = { 0x00, 0x01, 0xff, 0xfe, 0x80, 0x00 };

	m->w[3] = 77;
	m->w[HM_CLS_BUCKETS - 1] = 5;
	hm_cls_model_load_weights(m, be, sizeof(be));
	assert_int_equal(m->w[0], 1);
	assert_int_equal(m->w[1], -2);
	assert_int_equal(m->w[2], INT16_MIN);
	assert_int_equal(m->w[3], 0);
	assert_int_equal(m->w[HM_CLS_BUCKETS - 1], 0);
	hm_cls_model_load_weights(m, be, 0);
	assert_int_equal(m->w[0], 0);
	hm_cls_model_release(&m);
}

/* Platt: a clean logistic sample gives back its parameters. */
static void test_calibration_fit(void **state)
{
	static const struct {
		double a, b;
	} cases[] = { { 2.0, 0.0 }, { 1.0, -1.0 }, { 3.5, 0.5 } };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = 20000;
		double *mg = malloc(n * sizeof(*mg)), a, b;
		bool *y = malloc(n * sizeof(*y));
		uint64_t s = 88172645463325252ull;

		for (size_t i = 0; i < n; i++) {
			double u, p;

			mg[i] = -4.0 + 8.0 * (double)i / n;
			p = 1 / (1 + exp(-(cases[c].a * mg[i] + cases[c].b)));
			s ^= s << 13;
			s ^= s >> 7;
			s ^= s << 17;
			u = (double)(s >> 11) / 9007199254740992.0;
			y[i] = u < p;
		}
		assert_int_equal(hm_cls_fit_calibration(mg, y, n, &a, &b), 0);
		if (fabs(a - cases[c].a) > 0.25 || fabs(b - cases[c].b) > 0.25)
			fail_msg("case %zu: fitted a=%f b=%f, want %f %f", c, a, b, cases[c].a,
				 cases[c].b);
		free(mg);
		free(y);
	}
}

static void test_calibration_refuses(void **state)
{
	double mg[3] = { 1, 2, 3 }, a = 42, b = 43;
	bool all_spam[3] = { true, true, true };
	bool mixed[3] = { true, false, true };
	double bad[3] = { 1, NAN, 3 };

	assert_int_equal(hm_cls_fit_calibration(mg, all_spam, 3, &a, &b), -1);
	assert_int_equal(hm_cls_fit_calibration(mg, mixed, 0, &a, &b), -1);
	assert_int_equal(hm_cls_fit_calibration(bad, mixed, 3, &a, &b), -1);
	assert_true(a == 42 && b == 43);
	/* Separable data: the fit stays finite (Platt's targets). */
	assert_int_equal(hm_cls_fit_calibration(mg, mixed, 3, &a, &b), 0);
	assert_true(isfinite(a) && isfinite(b));
}

/* Points: scale * log-odds, capped, silent below the learned minimum. */
static void test_points(void **state)
{
	static const struct {
		unsigned long spam, ham;
		double margin;
		bool speaks, spam_side;
		double points;
	} cases[] = {
		/* cal a=2 b=0, scale 2, caps 10/3, min 10/10 */
		{ 10, 10, 1.0, true, true, 4.0 },
		{ 10, 10, 2.0, true, true, 8.0 },
		{ 10, 10, 5.0, true, true, 10.0 },	/* capped */
		{ 10, 10, -0.5, true, false, -2.0 },
		{ 10, 10, -5.0, true, false, -3.0 },	/* capped */
		{ 10, 10, 0.0, false, false, 0.0 },	/* p = 0.5: nothing to say */
		{ 10, 10, 0.001, false, false, 0.0 },	/* under 0.01 point */
		{ 9, 10, 5.0, false, false, 0.0 },	/* not enough spam learned */
		{ 10, 9, -5.0, false, false, 0.0 },	/* not enough ham learned */
	};
	struct hm_cls_points pp = { 2.0, 10.0, 3.0, 10, 10 };

	for (size_t c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		struct hm_cls_model *m = hm_cls_model_new(key);
		struct hm_cls_verdict v;

		m->cal_a = 2.0;
		m->cal_b = 0.0;
		m->spam = cases[c].spam;
		m->ham = cases[c].ham;
		hm_cls_points(m, &pp, cases[c].margin, &v);
		if (v.speaks != cases[c].speaks || (v.speaks && (v.spam != cases[c].spam_side ||
								  fabs(v.points - cases[c].points) > 1e-9)))
			fail_msg("case %zu: speaks %d spam %d points %f", c, v.speaks, v.spam, v.points);
		if (v.speaks && fabs(v.p - 1 / (1 + exp(-2.0 * cases[c].margin))) > 1e-9)
			fail_msg("case %zu: p %f", c, v.p);
		hm_cls_model_release(&m);
	}
}

/* No model (none published): no symbol. */
static void test_points_no_model(void **state)
{
	struct hm_cls_points pp = HM_CLS_POINTS_DEFAULT;
	struct hm_cls_verdict v;

	hm_cls_points(NULL, &pp, 10.0, &v);
	assert_false(v.speaks);
	assert_true(v.points == 0);
}

/* By default content alone files into Junk (8) but cannot reject (15). */
static void test_points_defaults(void **state)
{
	struct hm_cls_points pp = HM_CLS_POINTS_DEFAULT;
	struct hm_cls_model *m = hm_cls_model_new(key);
	struct hm_cls_verdict v;

	m->spam = m->ham = 100000;
	hm_cls_points(m, &pp, 100.0, &v);
	assert_true(v.speaks && v.spam);
	assert_true(2.5 + v.points >= 8 && 2.5 + v.points < 15);
	assert_true(pp.cap_spam < 15 - 2.5);
	hm_cls_model_release(&m);
}

/* Kept feature sets: 3 bytes an index, cut at HM_CLS_REPLAY_FEATURES. */
static void test_pack(void **state)
{
	static const size_t sizes[] = { 0, 1, 7, HM_CLS_REPLAY_FEATURES, HM_CLS_REPLAY_FEATURES + 5 };
	static unsigned char buf[HM_CLS_PACKED_MAX];
	uint32_t *idx = malloc((HM_CLS_REPLAY_FEATURES + 5) * sizeof(*idx));
	uint32_t *back = malloc(HM_CLS_REPLAY_FEATURES * sizeof(*back));

	assert_non_null(idx);
	assert_non_null(back);
	for (size_t i = 0; i < HM_CLS_REPLAY_FEATURES + 5; i++)
		idx[i] = (uint32_t)(i * 2654435761u) & (HM_CLS_BUCKETS - 1);
	idx[0] = HM_CLS_BUCKETS - 1;
	for (size_t c = 0; c < sizeof(sizes) / sizeof(sizes[0]); c++) {
		size_t want = sizes[c] > HM_CLS_REPLAY_FEATURES ? HM_CLS_REPLAY_FEATURES : sizes[c];
		size_t len = hm_cls_pack(idx, sizes[c], buf);

		assert_int_equal(len, 3 * want);
		assert_int_equal(hm_cls_unpack(buf, len, back), want);
		if (want && memcmp(idx, back, want * sizeof(*idx)) != 0)
			fail_msg("case %zu: unpacked indexes differ", c);
	}
	/* A trailing partial index is not one. */
	assert_int_equal(hm_cls_unpack(buf, 5, back), 1);
	free(idx);
	free(back);
}

/* ---- the slot under threads ------------------------------------------ */

struct slot_test {
	struct hm_cls_slot slot;
	atomic_int stop;
	atomic_long reads;
};

static void *reader(void *arg)
{
	struct slot_test *t = arg;

	while (!atomic_load(&t->stop)) {
		struct hm_cls_model *m = hm_cls_slot_acquire(&t->slot);

		if (m) {
			/* Each published model's weights say its version. */
			if (m->w[0] != (int16_t)m->version || m->w[HM_CLS_BUCKETS - 1] != (int16_t)m->version)
				abort();
			atomic_fetch_add(&t->reads, 1);
		}
		hm_cls_model_release(&m);
	}
	return NULL;
}

static void test_slot_threads(void **state)
{
	struct slot_test t = { .slot = HM_CLS_SLOT_INIT };
	pthread_t th[4];
	struct hm_cls_model *m;

	atomic_init(&t.stop, 0);
	atomic_init(&t.reads, 0);
	assert_null(hm_cls_slot_acquire(&t.slot));
	for (int i = 0; i < 4; i++)
		assert_int_equal(pthread_create(&th[i], NULL, reader, &t), 0);
	for (unsigned v = 1; v <= 200; v++) {
		m = hm_cls_model_new(key);
		assert_non_null(m);
		m->version = v;
		m->w[0] = m->w[HM_CLS_BUCKETS - 1] = (int16_t)v;
		hm_cls_slot_publish(&t.slot, m);
	}
	atomic_store(&t.stop, 1);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	m = hm_cls_slot_acquire(&t.slot);
	assert_non_null(m);
	assert_int_equal(m->version, 200);
	/* The slot's reference and ours. */
	assert_int_equal(atomic_load(&m->refs), 2);
	hm_cls_model_release(&m);
	hm_cls_slot_publish(&t.slot, NULL);
	assert_null(hm_cls_slot_acquire(&t.slot));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_model),
		cmocka_unit_test(test_margin),
		cmocka_unit_test(test_step),
		cmocka_unit_test(test_step_minimum),
		cmocka_unit_test(test_apply_saturates),
		cmocka_unit_test(test_load_weights),
		cmocka_unit_test(test_calibration_fit),
		cmocka_unit_test(test_calibration_refuses),
		cmocka_unit_test(test_points),
		cmocka_unit_test(test_points_no_model),
		cmocka_unit_test(test_points_defaults),
		cmocka_unit_test(test_pack),
		cmocka_unit_test(test_slot_threads),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
