/*
 * engine.c - build and free the shared checkers.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>

#include "scoring/dkim.h"
#include "scoring/dmarc.h"
#include "scoring/engine.h"
#include "scoring/spf.h"

int hm_engine_new(const struct hm_engine_conf *conf, struct hm_engine **engine_r,
		  char *err, size_t errlen)
{
	struct hm_engine *e = calloc(1, sizeof(*e));
	char why[400];

	*engine_r = NULL;
	if (e == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	if (hm_dns_new(&conf->dns, &e->dns, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "resolver: %s", why);
		goto fail;
	}
	if (hm_spf_new(e->dns, conf->receiver, &e->spf, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "SPF: %s", why);
		goto fail;
	}
	if (hm_dkim_new(e->dns, NULL, &e->dkim, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "DKIM: %s", why);
		goto fail;
	}
	if (hm_dmarc_new(e->dns, conf->psl_path, &e->dmarc, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "DMARC: %s", why);
		goto fail;
	}
	*engine_r = e;
	return 0;
fail:
	hm_engine_free(&e);
	return -1;
}

void hm_engine_free(struct hm_engine **enginep)
{
	struct hm_engine *e = *enginep;

	if (e == NULL)
		return;
	/* The checkers use the resolver: it goes last. */
	hm_dmarc_free(&e->dmarc);
	hm_dkim_free(&e->dkim);
	hm_spf_free(&e->spf);
	hm_dns_free(&e->dns);
	free(e);
	*enginep = NULL;
}
