/*
 * model-refresh.c - the daemon's refresher of the content model (see
 * model.h): a thread that notices a new version of the stored model (from
 * the policy store's tracked cache, or by asking Redis every second),
 * reads it and publishes it into the slot, keeping the last model through
 * an outage and reading around a lost replica from the sentinels' primary.
 * It uses only model.h's interface.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "util/log.h"
#include "policy/model.h"

/* ---- the refresher ---- */

#define POLL_MS 1000			/* without a store: ask for the version this often */
#define MIN_LOAD_MS 300			/* between two reads of the weights */

struct hm_model_refresher {
	struct hm_cls_slot *slot;
	struct hm_model_source_ops ops;
	long tick_ms;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	bool stop;

	/* The thread's own. */
	struct hm_model_conn *conn;
	char *settings;			/* of conn, to notice a reload changing them */
	bool have;			/* a model (or "none stored") was read */
	unsigned long long version;
	unsigned char key[HM_CLS_KEY_LEN];
	int64_t last_load, last_poll;
	bool down_logged;

	/* Under lock, for stats. */
	unsigned long loads, failures;
	unsigned long long published;
	time_t loaded_at;		/* when the published model was read */
	bool up;
};

static int64_t mono_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The settings a connection depends on, as one string. */
static char *settings_of(const struct hm_store_conf *sc)
{
	char *s = NULL;

	if (asprintf(&s, "%s|%d|%s|%s|%d|%s|%ld|%ld|%zu|%s|%s", sc->host ? sc->host : "",
		     sc->port, sc->unix_path ? sc->unix_path : "", sc->password ? sc->password : "",
		     sc->db, sc->prefix ? sc->prefix : "", sc->connect_timeout_ms,
		     sc->command_timeout_ms, sc->nsentinels,
		     sc->nsentinels ? sc->sentinels[0] : "",
		     sc->sentinel_master ? sc->sentinel_master : "") < 0)
		return NULL;
	return s;
}

static void note_result(struct hm_model_refresher *r, bool ok, const char *why)
{
	pthread_mutex_lock(&r->lock);
	r->up = ok;
	if (!ok)
		r->failures++;
	pthread_mutex_unlock(&r->lock);
	if (!ok && !r->down_logged) {
		if (r->have)
			hm_log(HM_LOG_WARNING, "content model: %s; keeping the model of version %llu",
			       why, r->version);
		else
			hm_log(HM_LOG_WARNING, "content model: %s; no content classification until "
			       "it can be read", why);
		r->down_logged = true;
	} else if (ok && r->down_logged) {
		hm_log(HM_LOG_NOTICE, "content model: Redis answers again");
		r->down_logged = false;
	}
}

/* Read the model and publish it (or that there is none). */
static void load(struct hm_model_refresher *r, const struct hm_store_conf *sc)
{
	struct hm_cls_model *m = NULL;
	char err[640];
	int rc;

	r->last_load = mono_ms();
	rc = hm_model_fetch(r->conn, &m, err, sizeof(err));
	if (rc < 0 && sc->nsentinels > 0) {
		/* The local replica is gone: read the primary the sentinels
		 * name, as the policy store does (asked anew each time: the
		 * model changes seldom, and the replica may be back). */
		struct hm_model_conn *pc;
		char why[200];

		pc = hm_model_conn_primary(sc, sc->command_timeout_ms > 5000 ? sc->command_timeout_ms
					   : 5000, why, sizeof(why));
		if (pc && (rc = hm_model_fetch(pc, &m, why, sizeof(why))) < 0)
			snprintf(err + strlen(err), sizeof(err) - strlen(err), "; the primary: %s", why);
		else if (pc == NULL)
			snprintf(err + strlen(err), sizeof(err) - strlen(err), "; %s", why);
		hm_model_conn_free(&pc);
	}
	if (rc < 0) {
		note_result(r, false, err);
		return;
	}
	note_result(r, true, NULL);
	if (rc == 0) {
		if (r->have && r->version != 0)
			hm_log(HM_LOG_NOTICE, "content model: no model in Redis any more");
		r->version = 0;
		memset(r->key, 0, sizeof(r->key));
		r->have = true;
		hm_cls_slot_publish(r->slot, NULL);
		pthread_mutex_lock(&r->lock);
		r->published = 0;
		pthread_mutex_unlock(&r->lock);
		return;
	}
	hm_log(HM_LOG_INFO, "content model: version %llu loaded (%lu spam, %lu ham learned)",
	       m->version, m->spam, m->ham);
	r->version = m->version;
	memcpy(r->key, m->key, HM_CLS_KEY_LEN);
	r->have = true;
	hm_cls_slot_publish(r->slot, m);
	pthread_mutex_lock(&r->lock);
	r->loads++;
	r->published = m->version;
	r->loaded_at = time(NULL);
	pthread_mutex_unlock(&r->lock);
}

/* Does the stored model differ from the published one?  -1: cannot say. */
static int changed(struct hm_model_refresher *r, struct hm_store *store)
{
	unsigned long long v = 0;
	unsigned char key[HM_CLS_KEY_LEN] = { 0 };
	int has;

	if (store) {
		const struct hm_store_key k = { HM_MODEL_META_KEY, HM_RV_HASH };
		struct hm_rvalue *val = NULL;
		enum hm_rv_source src;

		if (hm_store_get(store, &k, 1, &val, &src) != HM_STORE_OK)
			return -1;
		has = hm_model_meta_version(val, &v, key);
		hm_rvalue_release(&val);
		/* During an outage the store answers from its cache: keep the
		 * model, and say (once) that Redis is gone. */
		if (src == HM_SRC_CACHE && !hm_store_up(store))
			return -1;
	} else {
		char err[400];
		int64_t now = mono_ms();

		if (now - r->last_poll < POLL_MS)
			return 0;
		r->last_poll = now;
		if ((has = hm_model_version(r->conn, &v, key, err, sizeof(err))) < 0) {
			note_result(r, false, err);
			return -1;
		}
	}
	if (!has)
		return r->version != 0 || !r->have;
	return !r->have || v != r->version || memcmp(key, r->key, HM_CLS_KEY_LEN) != 0;
}

static void tick(struct hm_model_refresher *r)
{
	struct hm_model_source src;
	char *settings;
	int ch;

	memset(&src, 0, sizeof(src));
	if (r->ops.acquire(r->ops.arg, &src) < 0)
		return;
	settings = settings_of(&src.conf);
	if (settings && (r->settings == NULL || strcmp(settings, r->settings) != 0)) {
		long t = src.conf.command_timeout_ms > 5000 ? src.conf.command_timeout_ms : 5000;

		hm_model_conn_free(&r->conn);
		free(r->settings);
		r->settings = settings;
		settings = NULL;
		r->conn = hm_model_conn_new(&src.conf, t);
		r->have = false;	/* another server: read it whatever its version */
		r->last_load = 0;
	}
	free(settings);
	if (r->conn) {
		ch = changed(r, src.store);
		/* A failed check of a store that tracks nothing may still be an
		 * outage: the weights read below tells (and logs it once). */
		if ((ch > 0 || (ch < 0 && !r->have)) && mono_ms() - r->last_load >= MIN_LOAD_MS)
			load(r, &src.conf);
		else if (ch < 0 && src.store)
			note_result(r, false, "Redis unreachable");
	}
	r->ops.release(r->ops.arg, &src);
}

static void *refresher_main(void *arg)
{
	struct hm_model_refresher *r = arg;

	for (;;) {
		struct timespec until;

		tick(r);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += (r->tick_ms % 1000) * 1000000L;
		until.tv_sec += r->tick_ms / 1000 + until.tv_nsec / 1000000000L;
		until.tv_nsec %= 1000000000L;
		pthread_mutex_lock(&r->lock);
		if (!r->stop)
			pthread_cond_timedwait(&r->wake, &r->lock, &until);
		if (r->stop) {
			pthread_mutex_unlock(&r->lock);
			break;
		}
		pthread_mutex_unlock(&r->lock);
	}
	return NULL;
}

int hm_model_refresher_start(struct hm_cls_slot *slot, const struct hm_model_source_ops *ops,
			     long tick_ms, struct hm_model_refresher **r_r,
			     char *err, size_t errlen)
{
	struct hm_model_refresher *r = calloc(1, sizeof(*r));

	*r_r = NULL;
	if (r == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	r->slot = slot;
	r->ops = *ops;
	r->tick_ms = tick_ms > 0 ? tick_ms : 200;
	pthread_mutex_init(&r->lock, NULL);
	pthread_cond_init(&r->wake, NULL);
	if ((errno = pthread_create(&r->thread, NULL, refresher_main, r)) != 0) {
		snprintf(err, errlen, "cannot start the content model thread: %s", strerror(errno));
		pthread_mutex_destroy(&r->lock);
		pthread_cond_destroy(&r->wake);
		free(r);
		return -1;
	}
	*r_r = r;
	return 0;
}

void hm_model_refresher_stop(struct hm_model_refresher **rp)
{
	struct hm_model_refresher *r = *rp;

	if (r == NULL)
		return;
	pthread_mutex_lock(&r->lock);
	r->stop = true;
	pthread_cond_signal(&r->wake);
	pthread_mutex_unlock(&r->lock);
	pthread_join(r->thread, NULL);
	hm_model_conn_free(&r->conn);
	free(r->settings);
	pthread_mutex_destroy(&r->lock);
	pthread_cond_destroy(&r->wake);
	free(r);
	*rp = NULL;
}

void hm_model_refresher_stats(struct hm_model_refresher *r, struct hm_model_refresher_stats *st)
{
	pthread_mutex_lock(&r->lock);
	st->loads = r->loads;
	st->failures = r->failures;
	st->up = r->up;
	st->version = r->published;
	st->loaded_at = r->loaded_at;
	pthread_mutex_unlock(&r->lock);
}
