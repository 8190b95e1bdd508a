/*
 * model-replay.c - the content model's replay lists in Redis (see model.h
 * and classifier.h): keeping the features of the messages learned, reading
 * them back, and one rehearsal step on a kept message, so that a model
 * taught one class after the other does not forget the first.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <hiredis/hiredis.h>

#include "policy/model-int.h"

/* ---- replay (classifier.h: a model must not forget the other class) ---- */

static void keep_key(const struct hm_model_conn *c, bool spam, char *out, size_t outlen)
{
	model_key_of(c, spam ? "cls:keep:spam" : "cls:keep:ham", out, outlen);
}

int hm_model_keep(struct hm_model_conn *c, bool spam, const uint32_t *idx, size_t n,
		  bool relearned, char *err, size_t errlen)
{
	unsigned char *packed = malloc(HM_CLS_PACKED_MAX);
	char kk[128], ok[128], from[24];
	const char *push[] = { "RPUSH", kk, (const char *)packed };
	const char *trim[] = { "LTRIM", kk, from, "-1" };
	const char *rem[] = { "LREM", ok, "0", (const char *)packed };
	size_t lens[] = { 5, 0, 0 }, rlens[] = { 4, 0, 1, 0 };
	redisReply *rep[3] = { NULL, NULL, NULL };
	size_t nrep = relearned ? 3 : 2;
	int rc = -1;

	if (packed == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	keep_key(c, spam, kk, sizeof(kk));
	keep_key(c, !spam, ok, sizeof(ok));
	lens[1] = strlen(kk);
	lens[2] = rlens[3] = hm_cls_pack(idx, n, packed);
	rlens[1] = strlen(ok);
	snprintf(from, sizeof(from), "%d", -HM_CLS_REPLAY_KEEP);
	if (lens[2] == 0 || hm_model_conn_check(c, err, errlen) < 0) {
		free(packed);
		return lens[2] == 0 ? 0 : -1;
	}
	/* Relearned as this class: no longer rehearsed as the other. */
	if (model_append(c, 3, push, lens) < 0 || model_append(c, 4, trim, NULL) < 0 ||
	    (relearned && model_append(c, 4, rem, rlens) < 0)) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
	} else if (model_exchange(c, nrep, rep, err, errlen) == 0) {
		rc = 0;
		for (size_t i = 0; i < nrep && rc == 0; i++)
			if (rep[i]->type == REDIS_REPLY_ERROR) {
				snprintf(err, errlen, "keeping the message for replay: %s", rep[i]->str);
				rc = -1;
			}
		model_free_replies(rep, nrep);
	}
	free(packed);
	return rc;
}

long hm_model_kept(struct hm_model_conn *c, bool spam, bool one,
		   int (*fn)(void *arg, const uint32_t *idx, size_t n), void *arg,
		   char *err, size_t errlen)
{
	char kk[128], at[24];
	const char *llen[] = { "LLEN", kk };
	const char *range[] = { "LRANGE", kk, at, "-1" };
	const char *index[] = { "LINDEX", kk, at };
	uint32_t *idx = malloc(HM_CLS_REPLAY_FEATURES * sizeof(*idx));
	redisReply *r = NULL;
	long done = -1;

	if (idx == NULL) {
		snprintf(err, errlen, "out of memory");
		return -1;
	}
	keep_key(c, spam, kk, sizeof(kk));
	if (one) {
		long long len;

		if ((r = model_command(c, 2, llen, err, errlen)) == NULL)
			goto out;
		len = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
		freeReplyObject(r);
		r = NULL;
		if (len <= 0) {
			done = 0;
			goto out;
		}
		snprintf(at, sizeof(at), "%lld", (long long)(random() % len));
		if ((r = model_command(c, 3, index, err, errlen)) == NULL)
			goto out;
		done = 0;
		if (r->type == REDIS_REPLY_STRING) {
			if (fn(arg, idx, hm_cls_unpack((const unsigned char *)r->str, r->len, idx)) < 0)
				done = -1;
			else
				done = 1;
		}
		goto out;
	}
	snprintf(at, sizeof(at), "0");
	if ((r = model_command(c, 4, range, err, errlen)) == NULL)
		goto out;
	done = 0;
	for (size_t i = 0; r->type == REDIS_REPLY_ARRAY && i < r->elements; i++) {
		const redisReply *e = r->element[i];

		if (e->type != REDIS_REPLY_STRING)
			continue;
		if (fn(arg, idx, hm_cls_unpack((const unsigned char *)e->str, e->len, idx)) < 0) {
			done = -1;
			break;
		}
		done++;
	}
out:
	if (r)
		freeReplyObject(r);
	free(idx);
	return done;
}

int hm_model_rehearse(struct hm_model_conn *c, struct hm_cls_model *m, bool read_weights,
		      const uint32_t *idx, size_t n, bool spam, char *err, size_t errlen)
{
	char wk[128], mk[128];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *ver[] = { "HINCRBY", mk, "version", "1" };
	redisReply **rep = NULL;
	size_t ncmd = 0;
	int delta, rc = -1;

	if (n == 0)
		return 0;
	model_key_of(c, "cls:w", wk, sizeof(wk));
	model_key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	if (read_weights) {
		if (model_append_bitfield(c, wk, idx, n, true, 0, &ncmd) < 0 ||
		    (rep = calloc(ncmd, sizeof(*rep))) == NULL) {
			snprintf(err, errlen, "out of memory");
			model_conn_drop(c);
			return -1;
		}
		if (model_exchange(c, ncmd, rep, err, errlen) < 0) {
			free(rep);
			return -1;
		}
		rc = model_take_weights(m, idx, n, rep);
		model_free_replies(rep, ncmd);
		free(rep);
		rep = NULL;
		if (rc < 0) {
			snprintf(err, errlen, "reading the weights: unexpected reply to BITFIELD");
			return -1;
		}
		rc = -1;
		ncmd = 0;
	}
	if (hm_cls_step(m, idx, n, spam, &delta) == 0)
		return 0;
	if (model_append(c, 1, multi, NULL) < 0 || model_append_bitfield(c, wk, idx, n, false, delta, &ncmd) < 0 ||
	    model_append(c, 4, ver, NULL) < 0 || model_append(c, 1, exec, NULL) < 0 ||
	    (rep = calloc(ncmd + 3, sizeof(*rep))) == NULL) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
		return -1;
	}
	ncmd += 3;
	if (model_exchange(c, ncmd, rep, err, errlen) < 0) {
		free(rep);
		return -1;
	}
	if (rep[ncmd - 1]->type == REDIS_REPLY_ARRAY) {
		hm_cls_model_apply(m, idx, n, delta);
		rc = 1;
	} else {
		snprintf(err, errlen, "rehearsing: %s", rep[ncmd - 1]->type == REDIS_REPLY_ERROR ?
			 rep[ncmd - 1]->str : "unexpected reply to EXEC");
	}
	model_free_replies(rep, ncmd);
	free(rep);
	return rc;
}
