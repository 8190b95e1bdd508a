/*
 * runtime.c - the checkers and the policy store a configuration runs with.
 *
 * A configuration is built from the file alone (conf.c); what it needs to
 * run is built here once it is loaded: the engine of checkers, and the
 * policy store, which a reload shares when its settings did not change.
 */
#include "config.h"

#include <stdio.h>

#include "milter/conf.h"
#include "milter/runtime.h"
#include "policy/store.h"
#include "scoring/engine.h"

bool hm_runtime_inherit_store(struct hm_conf *fresh, const struct hm_conf *old)
{
	struct hm_store_conf sc;

	if (fresh->store != NULL || old == NULL || old->store == NULL)
		return false;
	hm_conf_store_conf(fresh, false, &sc);
	if (!hm_store_same_conf(old->store, &sc))
		return false;
	fresh->store = hm_store_ref(old->store);
	return true;
}

int hm_runtime_build(struct hm_conf *c, bool with_store, char *err, size_t errlen)
{
	struct hm_engine_conf ec = {
		.dns = {
			.nameservers = (const char *const *)c->dns.nameservers.items,
			.nnameservers = c->dns.nameservers.count,
			.timeout_ms = c->dns.timeout * 1000,
		},
		.receiver = c->authserv_id,
		.psl_path = c->public_suffix_list[0] ? c->public_suffix_list : NULL,
	};
	struct hm_store_conf sc;
	char why[400];

	hm_engine_free(&c->engine);
	if (!with_store)
		hm_store_free(&c->store);
	if (hm_engine_new(&ec, &c->engine, err, errlen) < 0)
		return -1;
	if (!with_store || c->store != NULL)	/* inherited: hm_runtime_inherit_store() */
		return 0;
	hm_conf_store_conf(c, false, &sc);
	/* Redis may well be down now: the store connects when it can. */
	if (hm_store_new(&sc, &c->store, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "policy store: %s", why);
		hm_engine_free(&c->engine);
		return -1;
	}
	return 0;
}

void hm_runtime_free(struct hm_conf *c)
{
	hm_store_free(&c->store);
	hm_engine_free(&c->engine);
}
