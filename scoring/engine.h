/*
 * engine.h - the process-wide checkers, built from one configuration.
 *
 * An engine holds the resolver and the SPF, DKIM and DMARC checkers that
 * every message shares.  It belongs to a configuration snapshot: a reload
 * builds a new engine with the new settings, and the old one is freed with
 * the old snapshot, once no message uses it any more.
 */
#ifndef HM_ENGINE_H
#define HM_ENGINE_H

#include <stddef.h>

#include "scoring/dns.h"

struct hm_spf;
struct hm_dkim;
struct hm_dmarc;

struct hm_engine_conf {
	struct hm_dns_conf dns;
	const char *receiver;		/* our host name (SPF's %{r}) */
	const char *psl_path;		/* Public Suffix List */
};

struct hm_engine {
	struct hm_dns *dns;
	struct hm_spf *spf;
	struct hm_dkim *dkim;
	struct hm_dmarc *dmarc;
};

/* 0 and the engine in *engine_r, or -1 with the reason in err. */
int hm_engine_new(const struct hm_engine_conf *conf, struct hm_engine **engine_r,
		  char *err, size_t errlen);
void hm_engine_free(struct hm_engine **engine);

#endif
