/*
 * learn.c - the learn and calibrate commands (see learn.h): learning each
 * message read (learn-read.c) into the model in Redis, with replay, or
 * noting its margin under the stored model and fitting the calibration.
 *
 * Each message is learned on its own, in order, so a batch learns as a
 * stream of mail would: a message is only learned where the model
 * (updated by the messages before it) is not already confident.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "util/grow.h"
#include "milter/learn.h"
#include "milter/learn-int.h"
#include "policy/model.h"
#include "policy/store.h"

/* ---- learn ---- */

struct learner {
	struct hm_model_conn *conn;
	struct hm_cls_model *m;
	struct hm_learn_limits lim;
	bool spam;
	unsigned long count[HM_LEARN_REFUSED + 1];
	bool refusal_said;
	unsigned long rehearsed;	/* replay steps taken */
	bool rehearse_spam;		/* the class of what hm_model_kept() passes */
};

/*
 * Replay (classifier.h): every message learned is kept, and one kept
 * message of the other class is rehearsed, so that a batch of one class
 * does not make the model forget the other; a batch of some size ends with
 * passes over both kept sets.
 */
#define CONSOLIDATE_MIN 20		/* messages learned in a batch */
#define CONSOLIDATE_PASSES 2

static int rehearse_one(void *arg, const uint32_t *idx, size_t n)
{
	struct learner *l = arg;
	char err[512];
	int rc = hm_model_rehearse(l->conn, l->m, l->lim.read_weights, idx, n, l->rehearse_spam,
				   err, sizeof(err));

	if (rc < 0) {
		fprintf(stderr, "hosterra-milter: rehearsing: %s\n", err);
		return -1;
	}
	l->rehearsed += (unsigned long)rc;
	return 0;
}

/* A kept set, for the passes at the end of a batch. */
struct kept {
	uint32_t *idx;
	size_t n;
	bool spam;
};

struct kept_list {
	struct kept *v;
	size_t n, cap;
	bool spam;
};

static int collect(void *arg, const uint32_t *idx, size_t n)
{
	struct kept_list *k = arg;

	if (k->n == k->cap) {
		struct kept *v = hm_grow(k->v, &k->cap, sizeof(*v), 256);

		if (v == NULL)
			return -1;
		k->v = v;
	}
	if ((k->v[k->n].idx = malloc((n ? n : 1) * sizeof(*idx))) == NULL)
		return -1;
	memcpy(k->v[k->n].idx, idx, n * sizeof(*idx));
	k->v[k->n].n = n;
	k->v[k->n].spam = k->spam;
	k->n++;
	return 0;
}

/* Passes over both kept sets in a random order.  0, or -1. */
static int consolidate(struct learner *l)
{
	struct kept_list k = { 0 };
	char err[512];
	int rc = 0;

	for (int cls = 0; cls < 2 && rc == 0; cls++) {
		k.spam = cls == 1;
		if (hm_model_kept(l->conn, k.spam, false, collect, &k, err, sizeof(err)) < 0) {
			fprintf(stderr, "hosterra-milter: reading the kept messages: %s\n", err);
			rc = -1;
		}
	}
	for (int pass = 0; pass < CONSOLIDATE_PASSES && rc == 0; pass++) {
		for (size_t i = k.n; i > 1; i--) {
			size_t j = (size_t)random() % i;
			struct kept t = k.v[i - 1];

			k.v[i - 1] = k.v[j];
			k.v[j] = t;
		}
		for (size_t i = 0; i < k.n && rc == 0; i++) {
			l->rehearse_spam = k.v[i].spam;
			rc = rehearse_one(l, k.v[i].idx, k.v[i].n);
		}
	}
	for (size_t i = 0; i < k.n; i++)
		free(k.v[i].idx);
	free(k.v);
	return rc;
}

static int learn_message(struct walker *w, const uint32_t *idx, size_t n, const char *where)
{
	struct learner *l = w->arg;
	enum hm_learn_outcome o;
	char err[512];

	if (hm_model_learn(l->conn, l->m, idx, n, l->spam, &l->lim, &o, err, sizeof(err)) < 0) {
		fprintf(stderr, "hosterra-milter: %s: %s\n", where, err);
		return -1;
	}
	l->count[o]++;
	if (o == HM_LEARN_LEARNED || o == HM_LEARN_CONFIDENT || o == HM_LEARN_RELEARNED) {
		if (hm_model_keep(l->conn, l->spam, idx, n, o == HM_LEARN_RELEARNED, err,
				  sizeof(err)) < 0) {
			fprintf(stderr, "hosterra-milter: %s: %s\n", where, err);
			return -1;
		}
		l->rehearse_spam = !l->spam;
		if (hm_model_kept(l->conn, !l->spam, true, rehearse_one, l, err, sizeof(err)) < 0) {
			fprintf(stderr, "hosterra-milter: %s: rehearsing: %s\n", where, err);
			return -1;
		}
	}
	if (o == HM_LEARN_REFUSED && !l->refusal_said) {
		fprintf(stderr, "hosterra-milter: refused: %s has learned %ld messages this hour, "
			"the classifier's learn_rate_limit\n", l->lim.user, l->lim.per_hour);
		l->refusal_said = true;
	}
	return 0;
}

/* Where learning writes (and reads what it learns into): the primary. */
static struct hm_model_conn *write_conn(const struct hm_conf *conf)
{
	struct hm_store_conf sc;
	struct hm_model_conn *c;
	char err[512];

	hm_conf_store_conf(conf, true, &sc);
	c = hm_model_conn_primary(&sc, sc.command_timeout_ms > 10000 ? sc.command_timeout_ms : 10000,
				  err, sizeof(err));
	if (c == NULL)
		fprintf(stderr, "hosterra-milter: the Redis primary: %s\n", err);
	return c;
}

int hm_learn_run(const struct hm_conf *conf, const struct hm_learn_args *a, FILE *out)
{
	struct learner l = { .spam = a->spam };
	struct walker w = { .conf = conf, .message = learn_message, .arg = &l };
	struct timespec t0, t1;
	char err[512];
	int rc = 1;

	if (a->user && !hm_model_user_valid(a->user)) {
		fprintf(stderr, "hosterra-milter: --user \"%s\": printable characters, no space "
			"or ':'\n", a->user);
		return 1;
	}
	l.lim.user = a->user;
	l.lim.per_hour = conf->classifier.learn_rate_limit;
	l.lim.sig_ttl_s = conf->classifier.signature_days * 86400;
	clock_gettime(CLOCK_MONOTONIC, &t0);
	if ((l.conn = write_conn(conf)) == NULL)
		return 1;
	/* One message (IMAPSieve pipes each one): reading its own features'
	 * weights costs less than the whole model. */
	l.lim.read_weights = a->npaths == 1 && strcmp(a->paths[0], "-") == 0;
	if (hm_model_open_for_learning(l.conn, !l.lim.read_weights, &l.m, err, sizeof(err)) < 0) {
		fprintf(stderr, "hosterra-milter: reading the content model: %s\n", err);
		goto out;
	}
	w.key = l.m->key;
	srandom((unsigned)(t0.tv_nsec ^ getpid()));
	for (size_t i = 0; i < a->npaths && !w.stop; i++)
		learn_walk_path(&w, a->paths[i]);
	if (!w.stop && l.count[HM_LEARN_LEARNED] + l.count[HM_LEARN_CONFIDENT] +
	    l.count[HM_LEARN_RELEARNED] >= CONSOLIDATE_MIN && consolidate(&l) < 0)
		w.stop = true;
	clock_gettime(CLOCK_MONOTONIC, &t1);
	fprintf(out, "%s: learned %lu, already known %lu, relearned %lu, skipped as confident %lu, "
		"refused by rate limit %lu, unreadable %lu (%.1f s)\n",
		a->spam ? "spam" : "ham", l.count[HM_LEARN_LEARNED], l.count[HM_LEARN_KNOWN],
		l.count[HM_LEARN_RELEARNED], l.count[HM_LEARN_CONFIDENT], l.count[HM_LEARN_REFUSED],
		w.unreadable,
		(double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
	fprintf(out, "rehearsed: %lu steps on kept messages\n", l.rehearsed);
	if (w.stop)
		fprintf(stderr, "hosterra-milter: stopped: Redis failed; what was learned before "
			"is kept\n");
	rc = w.stop || w.unreadable || l.count[HM_LEARN_REFUSED] ? 1 : 0;
out:
	hm_cls_model_release(&l.m);
	hm_model_conn_free(&l.conn);
	return rc;
}

/* ---- calibrate ---- */

struct margins {
	const struct hm_cls_model *m;
	double *margin;
	bool *spam;
	size_t n, cap;
	bool cur_spam;
};

static int note_margin(struct walker *w, const uint32_t *idx, size_t n, const char *where)
{
	struct margins *g = w->arg;

	if (g->n == g->cap) {
		size_t cap = g->cap ? 2 * g->cap : 1024;
		double *m = realloc(g->margin, cap * sizeof(*m));
		bool *s;

		if (m == NULL)
			return -1;
		g->margin = m;
		if ((s = realloc(g->spam, cap * sizeof(*s))) == NULL)
			return -1;
		g->spam = s;
		g->cap = cap;
	}
	g->margin[g->n] = hm_cls_margin(g->m, idx, n);
	g->spam[g->n++] = g->cur_spam;
	(void)where;
	return 0;
}

int hm_calibrate_run(const struct hm_conf *conf, const struct hm_calibrate_args *a, FILE *out)
{
	struct hm_model_conn *conn = write_conn(conf);
	struct hm_cls_model *m = NULL;
	struct margins g = { 0 };
	struct walker w = { .conf = conf, .message = note_margin, .arg = &g };
	size_t nspam = 0;
	double ca, cb;
	char err[512];
	int rc = 1, got;

	if (conn == NULL)
		return 1;
	if ((got = hm_model_fetch(conn, &m, err, sizeof(err))) <= 0) {
		fprintf(stderr, "hosterra-milter: reading the content model: %s\n",
			got < 0 ? err : "nothing learned yet");
		goto out;
	}
	g.m = m;
	w.key = m->key;
	g.cur_spam = true;
	for (size_t i = 0; i < a->nspam && !w.stop; i++)
		learn_walk_path(&w, a->spam[i]);
	nspam = g.n;
	g.cur_spam = false;
	for (size_t i = 0; i < a->nham && !w.stop; i++)
		learn_walk_path(&w, a->ham[i]);
	if (w.stop || w.unreadable) {
		fprintf(stderr, "hosterra-milter: %lu message(s) could not be read; nothing stored\n",
			w.unreadable);
		goto out;
	}
	if (hm_cls_fit_calibration(g.margin, g.spam, g.n, &ca, &cb) < 0) {
		fprintf(stderr, "hosterra-milter: the calibration does not fit (%zu spam, %zu ham): "
			"give messages of both classes\n", nspam, g.n - nspam);
		goto out;
	}
	if (!(ca > 0)) {
		/* A falling slope would turn the model's verdicts around. */
		fprintf(stderr, "hosterra-milter: the fitted calibration (cal_a %.4f) does not rise "
			"with the margin: the model does not tell these spam from these ham; nothing "
			"stored\n", ca);
		goto out;
	}
	if (hm_model_store_calibration(conn, ca, cb, err, sizeof(err)) < 0) {
		fprintf(stderr, "hosterra-milter: %s\n", err);
		goto out;
	}
	fprintf(out, "calibration: cal_a %.4f, cal_b %.4f (was %.4f, %.4f), from %zu spam and %zu "
		"ham\n", ca, cb, m->cal_a, m->cal_b, nspam, g.n - nspam);
	rc = 0;
out:
	free(g.margin);
	free(g.spam);
	hm_cls_model_release(&m);
	hm_model_conn_free(&conn);
	return rc;
}

