/*
 * model-int.h - what the content model's files share (model.c,
 * model-wire.c, model-learn.c, model-replay.c); nothing else includes it.
 * The public interface is model.h.
 */
#ifndef HM_MODEL_INT_H
#define HM_MODEL_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <hiredis/hiredis.h>

#include "policy/model.h"

struct hm_model_conn {
	redisContext *rc;
	char *host, *unix_path, *password, *prefix;
	int port, db;
	long connect_ms, timeout_ms;
};

/* model-wire.c: the connection. */
void model_conn_drop(struct hm_model_conn *c);
int model_exchange(struct hm_model_conn *c, size_t n, redisReply **rep, char *err, size_t errlen);
void model_free_replies(redisReply **rep, size_t n);
int model_append(struct hm_model_conn *c, int argc, const char **argv, const size_t *lens);
redisReply *model_command(struct hm_model_conn *c, int argc, const char **argv, char *err,
			  size_t errlen);
void model_key_of(const struct hm_model_conn *c, const char *name, char *out, size_t outlen);

/* model.c: the meta hash's numbers. */
bool model_parse_ull(const char *s, unsigned long long *v);

/* model-learn.c: reading and adding to the weights of some features. */
int model_append_bitfield(struct hm_model_conn *c, const char *wk, const uint32_t *idx,
			  size_t n, bool get, long d, size_t *ncmd);
int model_take_weights(struct hm_cls_model *m, const uint32_t *idx, size_t n, redisReply **rep);

#endif
