/*
 * clsmodel.c - the daemon's content model slot and its refresher (see
 * clsmodel.h).
 */
#include "config.h"

#include "milter/clsmodel.h"
#include "milter/conf.h"
#include "policy/model.h"
#include "policy/store.h"

#define TICK_MS 200			/* a cache hit of the store while tracking is up */

static struct hm_cls_slot slot = HM_CLS_SLOT_INIT;
static struct hm_model_refresher *refresher;

struct hm_cls_slot *hm_clsmodel_slot(void)
{
	return &slot;
}

/* The running configuration's Redis settings and policy store. */
static int source_acquire(void *arg, struct hm_model_source *src)
{
	struct hm_conf *conf = hm_conf_acquire();

	(void)arg;
	if (conf == NULL)
		return -1;
	if (!conf->classifier.enabled) {
		hm_conf_release(&conf);
		return -1;
	}
	hm_conf_store_conf(conf, false, &src->conf);
	src->store = conf->store;
	src->hold = conf;
	return 0;
}

static void source_release(void *arg, struct hm_model_source *src)
{
	struct hm_conf *conf = src->hold;

	(void)arg;
	hm_conf_release(&conf);
	src->hold = NULL;
}

int hm_clsmodel_start(char *err, size_t errlen)
{
	const struct hm_model_source_ops ops = { source_acquire, source_release, NULL };

	return hm_model_refresher_start(&slot, &ops, TICK_MS, &refresher, err, errlen);
}

bool hm_clsmodel_stats(struct hm_model_refresher_stats *st)
{
	if (refresher == NULL)
		return false;
	hm_model_refresher_stats(refresher, st);
	return true;
}

void hm_clsmodel_stop(void)
{
	hm_model_refresher_stop(&refresher);
	hm_cls_slot_publish(&slot, NULL);
}
