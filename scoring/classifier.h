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
 * learner agree: the margin of a message is the sum of the weights of its
 * (distinct) features divided by HM_CLS_WSCALE; a learning step adds the
 * same integer delta to the weight of each of its features, and only where
 * the model is not already confident of the true class.
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

/* The margin of a message's features: > 0 leans spam. */
double hm_cls_margin(const struct hm_cls_model *m, const uint32_t *idx, size_t n);

/*
 * One learning step for a message of the given class.  Returns 0 when the
 * model is already confident (nothing to learn), else 1 with *delta_r the
 * signed amount to add to the weight of each of the n features.
 */
int hm_cls_step(const struct hm_cls_model *m, const uint32_t *idx, size_t n, bool spam,
		int *delta_r);

#endif
