/*
 * classifier.h - the content model: online logistic regression on hashed
 * features (DESIGN §9).
 *
 * A model is an immutable snapshot: HM_CLS_BUCKETS int16 weights, the hash
 * key its features were hashed with, how much of each class it has learned
 * and the calibration from margin to log-odds.  Snapshots are reference
 * counted and published through a slot: readers (every message) take a
 * reference without blocking, a refresher (policy/, which reads the model
 * from Redis) publishes a new snapshot when the stored version changes, and
 * the old one is freed when its last reader lets go.
 *
 * The math is here and nowhere else, so the daemon, scan mode and the
 * learner agree: a message is the binary vector of its n distinct features,
 * scaled to unit length (each feature counts 1/sqrt(n), so a long message
 * does not shout down a short one); its margin is the sum of the weights of
 * its features divided by HM_CLS_WSCALE * sqrt(n); a learning step adds the
 * same integer delta to the weight of each of its features (the logistic
 * gradient, eta * (1 - p(true class)) / sqrt(n), in weight units), and only
 * where the model is not already confident of the true class (margin for
 * the true class under the learn margin).
 *
 * In Redis the weights are one string of HM_CLS_BUCKETS signed 16-bit
 * big-endian integers (the layout of BITFIELD's i16 at #index), updated with
 * "BITFIELD key OVERFLOW SAT INCRBY i16 #index delta ...".
 */
#ifndef HM_CLASSIFIER_H
#define HM_CLASSIFIER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HM_CLS_BITS 20
#define HM_CLS_BUCKETS (1u << HM_CLS_BITS)
#define HM_CLS_KEY_LEN 16		/* bytes of feature hash key */
#define HM_CLS_WSCALE 1024.0		/* weight units per unit of margin */

struct hm_cls_model {
	atomic_uint refs;
	unsigned long long version;	/* bumped by every learning write */
	unsigned char key[HM_CLS_KEY_LEN];
	unsigned long spam, ham;	/* messages learned of each class */
	double cal_a, cal_b;		/* log-odds = cal_a * margin + cal_b */
	int16_t *w;			/* HM_CLS_BUCKETS weights, host order */
};

/*
 * A new, empty (all-zero) model with the default calibration and the given
 * key, one reference held by the caller; NULL when out of memory.
 */
struct hm_cls_model *hm_cls_model_new(const unsigned char key[HM_CLS_KEY_LEN]);
/* Take / drop a reference; the last drop frees.  Release clears *m. */
struct hm_cls_model *hm_cls_model_ref(struct hm_cls_model *m);
void hm_cls_model_release(struct hm_cls_model **m);

/* Load weights from the Redis string layout (big-endian i16); len must be
 * HM_CLS_BUCKETS * 2, a shorter value is zero-extended (a fresh key). */
void hm_cls_model_load_weights(struct hm_cls_model *m, const unsigned char *be, size_t len);

/*
 * Where the current snapshot lives; one per process.  The lock covers only
 * the pointer copy and the reference count, never a Redis read, so a reader
 * never waits on a refresh.
 */
struct hm_cls_slot {
	pthread_mutex_t lock;
	struct hm_cls_model *current;	/* NULL until one is published */
};

#define HM_CLS_SLOT_INIT { PTHREAD_MUTEX_INITIALIZER, NULL }

/* The current model with a reference taken, or NULL when none was published. */
struct hm_cls_model *hm_cls_slot_acquire(struct hm_cls_slot *slot);
/* Publish m (the slot takes the caller's reference); the previous one is released. */
void hm_cls_slot_publish(struct hm_cls_slot *slot, struct hm_cls_model *m);

/* The margin of a message's features: > 0 leans spam; 0 without features. */
double hm_cls_margin(const struct hm_cls_model *m, const uint32_t *idx, size_t n);

/* How the model learns; HM_CLS_LEARN_DEFAULT is what hm_cls_step uses. */
struct hm_cls_learn {
	double eta;			/* step size, in margin units */
	double margin;			/* learn while margin for the true class < this */
};

#define HM_CLS_ETA 4.0
#define HM_CLS_LEARN_MARGIN 1.5
#define HM_CLS_LEARN_DEFAULT { HM_CLS_ETA, HM_CLS_LEARN_MARGIN }

/*
 * One learning step for a message of the given class.  Returns 0 when the
 * model is already confident (nothing to learn) or the message has no
 * features, else 1 with *delta_r the signed amount (never 0) to add to the
 * weight of each of the n features.
 */
int hm_cls_step(const struct hm_cls_model *m, const uint32_t *idx, size_t n, bool spam,
		int *delta_r);
/* The same with explicit learning parameters (tuning, tests). */
int hm_cls_step_with(const struct hm_cls_model *m, const struct hm_cls_learn *learn,
		     const uint32_t *idx, size_t n, bool spam, int *delta_r);

/*
 * Add delta to the weight of each feature, saturating at the int16 bounds
 * as BITFIELD ... OVERFLOW SAT does; for a model nobody reads yet (the
 * learner's own copy, tests, the evaluation tool), never a published one.
 */
void hm_cls_model_apply(struct hm_cls_model *m, const uint32_t *idx, size_t n, int delta);

/*
 * Replay.  Learning is online: a model taught all its spam and then all its
 * ham (two --learn batches) ends up leaning towards the class it learned
 * last, since the features both classes share only ever moved one way
 * (cls-eval --order spam-first: 0.1 % of spam reach 8; ham-first: 98.6 % of
 * ham do).  The cure is to rehearse: keep the feature sets of the last
 * HM_CLS_REPLAY_KEEP messages learned of each class; after each message
 * learned, take one step (hm_cls_step, no count, no signature) on a random
 * kept message of the other class; at the end of a batch, two passes over
 * both kept sets in a random order.  Then class order hardly matters
 * (cls-eval --replay 2000 --consolidate 2, ham >= 8 / spam >= 8: spam
 * first 0.13 % / 93.5 %, ham first 0.27 % / 93.7 %, shuffled 0.13 % /
 * 93.7 %; keeping 1000 gave 92.4 % of spam when spam came first).  A kept
 * set is packed in 3 bytes per index, at most HM_CLS_REPLAY_FEATURES of
 * them (the first the message gave: cutting at
 * 2048 cost 5 points of spam).
 */
#define HM_CLS_REPLAY_KEEP 2000
#define HM_CLS_REPLAY_FEATURES 8192
#define HM_CLS_PACKED_MAX (3 * HM_CLS_REPLAY_FEATURES)

/* Pack up to HM_CLS_REPLAY_FEATURES indexes into out; the bytes written. */
size_t hm_cls_pack(const uint32_t *idx, size_t n, unsigned char out[HM_CLS_PACKED_MAX]);
/* Unpack len bytes into idx (room for len / 3); the number of indexes. */
size_t hm_cls_unpack(const unsigned char *in, size_t len, uint32_t *idx);

/*
 * Calibration: the log-odds of spam for a margin, a * margin + b (Platt).
 * HM_CLS_CAL_A/B are the defaults of a new model (fitted on the development
 * corpus by cross-validation).
 */
#define HM_CLS_CAL_A 3.0
#define HM_CLS_CAL_B 0.0
double hm_cls_log_odds(const struct hm_cls_model *m, double margin);

/*
 * Fit a and b to n labelled margins (Platt's method: regularised targets,
 * Newton steps).  0, or -1 when there is not at least one of each class or
 * the fit does not converge (then *a_r, *b_r are untouched).
 */
int hm_cls_fit_calibration(const double *margin, const bool *spam, size_t n, double *a_r,
			   double *b_r);

/*
 * Points: how a margin becomes a symbol.  The log-odds times scale, capped
 * at cap_spam above and -cap_ham below; silent until the model has learned
 * min_spam spam and min_ham ham, and when the points are under 0.01 either
 * way.  By default content alone can file into Junk but not reject.
 */
struct hm_cls_points {
	double scale;			/* points per unit of log-odds */
	double cap_spam;		/* most points CONTENT_SPAM adds */
	double cap_ham;			/* most points CONTENT_HAM takes away */
	unsigned long min_spam, min_ham;	/* messages learned before it speaks */
};

#define HM_CLS_POINTS_DEFAULT { 2.0, 10.0, 3.0, 200, 200 }

struct hm_cls_verdict {
	bool speaks;			/* false: no symbol */
	bool spam;			/* CONTENT_SPAM, else CONTENT_HAM */
	double points;			/* the symbol's weight (negative for ham) */
	double p;			/* calibrated probability of spam */
};

/* The verdict of model m on a margin; m may be NULL (no symbol). */
void hm_cls_points(const struct hm_cls_model *m, const struct hm_cls_points *pp, double margin,
		   struct hm_cls_verdict *v);

#endif
