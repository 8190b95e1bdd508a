/*
 * runtime.h - what a configuration runs with: the checkers (resolver, SPF,
 * DKIM, DMARC) and the policy store, built for one struct hm_conf and
 * freed with it.  The configuration holds them (conf->engine, conf->store)
 * so that a message in flight keeps the ones of the snapshot it acquired.
 */
#ifndef HM_RUNTIME_H
#define HM_RUNTIME_H

#include <stdbool.h>
#include <stddef.h>

struct hm_conf;

/*
 * Build the checkers this configuration asks for, and with_store the
 * policy store (its Redis connections) unless it inherited one, and attach
 * them to it.  "-t" builds no store: whether Redis answers now says
 * nothing about the file.  0, or -1 with the reason in err.
 */
int hm_runtime_build(struct hm_conf *conf, bool with_store, char *err, size_t errlen);

/*
 * On reload, before hm_runtime_build(): when the redis { } settings that
 * make the store (everything but on_failure) are those of old, fresh
 * shares old's policy store, its cache and connections (DESIGN §5.5), so a
 * reload during a Redis outage keeps every mailbox's cached policy.  true
 * when it does.
 */
bool hm_runtime_inherit_store(struct hm_conf *fresh, const struct hm_conf *old);

/* Let go of conf's checkers and store (the store may live on, shared). */
void hm_runtime_free(struct hm_conf *conf);

#endif
