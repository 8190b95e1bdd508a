/*
 * model.h - the content model in Redis (DESIGN §9): reading it, learning
 * into it, and keeping the daemon's in-process copy fresh.
 *
 * Keys, under the configured prefix (default "hm:"):
 *
 *   <prefix>cls:w          string: HM_CLS_BUCKETS big-endian int16 weights
 *                          (BITFIELD's i16 at #index layout)
 *   <prefix>cls:meta       hash: version, spam, ham (messages learned of each
 *                          class), key (hex of the feature hash key, set once
 *                          at the first learn, never changed), cal_a, cal_b
 *   <prefix>cls:sig:<hex>  string "spam DELTA" / "ham DELTA": a message
 *                          learned, by the signature of its feature set, and
 *                          the delta its step added to each of its weights
 *   <prefix>cls:rate:<user>:<hour>   messages <user> learned in that hour
 *   <prefix>cls:keep:spam, <prefix>cls:keep:ham   lists: the packed feature
 *                          sets of the last messages learned, rehearsed by
 *                          learners (replay, below)
 *
 * Reads (hm_model_fetch, the refresher) work on a read-only replica.
 * Learning writes go to the primary: one MULTI/EXEC per message with
 * "BITFIELD <prefix>cls:w OVERFLOW SAT INCRBY i16 #i delta ..." for all its
 * features, the signature, HINCRBY of the counts and the version.
 *
 * A struct hm_model_conn is one Redis connection, used by one thread at a
 * time; after an error it reconnects at its next use.
 */
#ifndef HM_MODEL_H
#define HM_MODEL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "policy/store.h"
#include "scoring/classifier.h"

struct hm_model_conn;

/*
 * A connection with the settings of sc (host or unix socket, password,
 * database, prefix; the strings are copied), not yet connected.  timeout_ms
 * bounds one command (the weights are 2 MiB: give them time).  NULL when out
 * of memory.
 */
struct hm_model_conn *hm_model_conn_new(const struct hm_store_conf *sc, long timeout_ms);
void hm_model_conn_free(struct hm_model_conn **c);

/*
 * The same for learning's writes: with sentinels in sc (DESIGN §8), to the
 * primary they name now (asked once: a learn run is short); else to sc's
 * server.  NULL with the reason in err (no sentinel knows the primary, out
 * of memory).
 */
struct hm_model_conn *hm_model_conn_primary(const struct hm_store_conf *sc, long timeout_ms,
					    char *err, size_t errlen);

/* Connect now if needed: 0, or -1 with the reason in err. */
int hm_model_conn_check(struct hm_model_conn *c, char *err, size_t errlen);

/*
 * Read the whole model (meta and weights, in one MULTI/EXEC).  1 with a new
 * snapshot in *m_r (one reference, the caller's), 0 when none is stored yet
 * (no meta key or no hash key: nothing was ever learned), -1 with the reason
 * in err (Redis failed, or the stored data is damaged).
 */
int hm_model_fetch(struct hm_model_conn *c, struct hm_cls_model **m_r, char *err, size_t errlen);

/*
 * The version and the hash key of the stored model, cheaply (HMGET): 1, 0
 * when none is stored, -1 with the reason in err.  *version_r is what the
 * meta hash says; key_r (HM_CLS_KEY_LEN bytes) may be NULL.
 */
int hm_model_version(struct hm_model_conn *c, unsigned long long *version_r,
		     unsigned char *key_r, char *err, size_t errlen);

/*
 * The version and key of the model from a HGETALL reply of the meta hash
 * (HM_RV_HASH, as struct hm_store returns it): 1, 0 when it holds no model.
 */
int hm_model_meta_version(const struct hm_rvalue *meta, unsigned long long *version_r,
			  unsigned char *key_r);

/* The meta hash key, without the prefix: what to pass to hm_store_get(). */
#define HM_MODEL_META_KEY "cls:meta"

/* ---- learning (on the primary) ---------------------------------------- */

/*
 * The model to learn into: the stored one, or a new empty model whose hash
 * key is created now (random, HSETNX: two first learners agree on one).
 * With weights, the whole model is read (2 MiB, once for a batch: the
 * learner then updates its copy as it writes, so a batch learns
 * sequentially); without, only the meta (for one message: learn with
 * read_weights, which reads just its features' weights).  0 with *m_r (the
 * caller's reference), or -1 with the reason in err.
 */
int hm_model_open_for_learning(struct hm_model_conn *c, bool weights, struct hm_cls_model **m_r,
			       char *err, size_t errlen);

enum hm_learn_outcome {
	HM_LEARN_LEARNED,	/* new message, weights changed */
	HM_LEARN_CONFIDENT,	/* new message, the model already agreed: counted, no weight changed */
	HM_LEARN_KNOWN,		/* learned before as this class: nothing done */
	HM_LEARN_RELEARNED,	/* learned before as the other class: that step undone, this one done */
	HM_LEARN_REFUSED,	/* the user's learning rate limit is reached */
};

struct hm_learn_limits {
	const char *user;		/* NULL or "": no rate limit (the operator) */
	long per_hour;			/* messages a user may learn per hour */
	long sig_ttl_s;			/* how long a signature is kept */
	bool read_weights;		/* the model was opened without its weights: read
					 * each message's from Redis as it is learned */
};

/*
 * Learn one message, whose distinct features are idx[0..n), as spam or
 * ham, into the stored model and into m (the learner's copy, from
 * hm_model_open_for_learning).  0 with *outcome_r, or -1 with the reason
 * in err (Redis failed: nothing of this message was written).
 */
int hm_model_learn(struct hm_model_conn *c, struct hm_cls_model *m, const uint32_t *idx,
		   size_t n, bool spam, const struct hm_learn_limits *lim,
		   enum hm_learn_outcome *outcome_r, char *err, size_t errlen);

/* The signature of a feature set: 32 hex digits and a NUL. */
void hm_model_signature(const uint32_t *idx, size_t n, char out[33]);

/* A valid user name for the rate limit key: printable, no space or ':'. */
bool hm_model_user_valid(const char *user);

/* Store a calibration (and bump the version so daemons reload): 0 or -1. */
int hm_model_store_calibration(struct hm_model_conn *c, double a, double b,
			       char *err, size_t errlen);

/* ---- replay (see classifier.h) ------------------------------------------
 *
 * <prefix>cls:keep:spam, <prefix>cls:keep:ham: lists of the packed feature
 * sets (hm_cls_pack) of the last HM_CLS_REPLAY_KEEP messages learned of
 * each class, which the learner rehearses so that a model taught one
 * class after the other does not forget the first.
 */

/*
 * Keep a learned message's features (RPUSH, LTRIM); a message relearned
 * as this class leaves the other class's list (LREM).  0, or -1 with err.
 */
int hm_model_keep(struct hm_model_conn *c, bool spam, const uint32_t *idx, size_t n,
		  bool relearned, char *err, size_t errlen);

/*
 * Call fn with the features of every kept message of a class, or of one
 * chosen at random (one).  The number of messages passed, or -1 (Redis
 * failed, err set; or fn returned -1).
 */
long hm_model_kept(struct hm_model_conn *c, bool spam, bool one,
		   int (*fn)(void *arg, const uint32_t *idx, size_t n), void *arg,
		   char *err, size_t errlen);

/*
 * One rehearsal step on a kept message into the stored model and m: its
 * weights read first when m lacks them (read_weights), then hm_cls_step,
 * and if the model is not confident of it, BITFIELD and the version in one
 * MULTI/EXEC; no count, no signature.  1 stepped, 0 nothing to learn, -1
 * failed (err).
 */
int hm_model_rehearse(struct hm_model_conn *c, struct hm_cls_model *m, bool read_weights,
		      const uint32_t *idx, size_t n, bool spam, char *err, size_t errlen);

/* ---- the daemon's refresher ------------------------------------------- */

/*
 * Where the refresher reads from, asked for at every tick so that a reload
 * of the configuration takes effect: the read settings, and the policy
 * store (may be NULL) whose invalidation-tracked cache tells cheaply when
 * the meta hash changed.  acquire() fills src and returns 0 (or -1: skip
 * this tick); release() lets go of what acquire() took.
 */
struct hm_model_source {
	struct hm_store_conf conf;
	struct hm_store *store;
	void *hold;			/* for release() */
};

struct hm_model_source_ops {
	int (*acquire)(void *arg, struct hm_model_source *src);
	void (*release)(void *arg, struct hm_model_source *src);
	void *arg;
};

struct hm_model_refresher;

/*
 * Start a thread that loads the model into slot now and again whenever its
 * version changes.  With a store, each tick (every tick_ms) asks it for the
 * meta hash, which costs no round trip while tracking is up; without one,
 * it asks Redis for the version every second.  With sentinels in the
 * settings, a local replica that cannot be read is read around, from the
 * primary they name.  A Redis outage keeps the last model (logged once).  Start it after fork() and privilege drop.  0, or -1
 * with the reason in err.
 */
int hm_model_refresher_start(struct hm_cls_slot *slot, const struct hm_model_source_ops *ops,
			     long tick_ms, struct hm_model_refresher **r_r,
			     char *err, size_t errlen);

/* Stop the thread and free; NULL is fine.  The slot keeps its model. */
void hm_model_refresher_stop(struct hm_model_refresher **r);

/* Counters, for tests and the metrics. */
struct hm_model_refresher_stats {
	unsigned long loads;		/* snapshots published */
	unsigned long failures;		/* reads that failed */
	unsigned long long version;	/* of the published model */
	time_t loaded_at;		/* when it was read (0: none yet) */
	bool up;			/* the last read worked */
};
void hm_model_refresher_stats(struct hm_model_refresher *r, struct hm_model_refresher_stats *st);

#endif
