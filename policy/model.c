/*
 * model.c - the content model in Redis: reading it (see model.h).  The
 * meta hash parsed (version, counts, hash key, calibration), the version
 * asked for cheaply, the whole model read in one MULTI/EXEC, and the model
 * a learner starts from (made, with a new hash key, when none is stored).
 *
 * The daemon reads the model in its refresher thread (model-refresh.c) and
 * publishes a snapshot into the slot; messages only ever take a reference
 * from the slot.  The learner (a command) talks to the primary
 * (model-learn.c, model-replay.c).  The connection: model-wire.c.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/model-int.h"

/* ---- meta ---- */

static int hexval(int ch)
{
	if (ch >= '0' && ch <= '9')
		return ch - '0';
	if (ch >= 'a' && ch <= 'f')
		return ch - 'a' + 10;
	if (ch >= 'A' && ch <= 'F')
		return ch - 'A' + 10;
	return -1;
}

static int parse_key(const char *s, size_t len, unsigned char *key)
{
	if (len != 2 * HM_CLS_KEY_LEN)
		return -1;
	for (size_t i = 0; i < HM_CLS_KEY_LEN; i++) {
		int hi = hexval((unsigned char)s[2 * i]), lo = hexval((unsigned char)s[2 * i + 1]);

		if (hi < 0 || lo < 0)
			return -1;
		key[i] = (unsigned char)(hi << 4 | lo);
	}
	return 0;
}

static void key_hex(const unsigned char *key, char out[2 * HM_CLS_KEY_LEN + 1])
{
	static const char digits[] = "0123456789abcdef";

	for (size_t i = 0; i < HM_CLS_KEY_LEN; i++) {
		out[2 * i] = digits[key[i] >> 4];
		out[2 * i + 1] = digits[key[i] & 15];
	}
	out[2 * HM_CLS_KEY_LEN] = '\0';
}

bool model_parse_ull(const char *s, unsigned long long *v)
{
	char *end;

	if (s == NULL || *s == '\0' || *s == '-')
		return false;
	errno = 0;
	*v = strtoull(s, &end, 10);
	return errno == 0 && *end == '\0';
}

static bool parse_count(const char *s, unsigned long *v)
{
	char *end;
	long long x;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	x = strtoll(s, &end, 10);
	if (errno || *end)
		return false;
	*v = x < 0 ? 0 : (unsigned long)x;	/* a relearn race may dip below 0 */
	return true;
}

static bool parse_double(const char *s, double *v)
{
	char *end;

	if (s == NULL || *s == '\0')
		return false;
	errno = 0;
	*v = strtod(s, &end);
	return errno == 0 && *end == '\0' && isfinite(*v);
}

/* The fields of a meta hash, as name/value pairs. */
struct meta {
	bool has_key;
	unsigned char key[HM_CLS_KEY_LEN];
	unsigned long long version;
	unsigned long spam, ham;
	bool has_cal;
	double cal_a, cal_b;
};

static void meta_field(struct meta *m, const char *name, const char *value, size_t vlen)
{
	if (strcmp(name, "key") == 0) {
		m->has_key = parse_key(value, vlen, m->key) == 0;
		if (!m->has_key)
			hm_log(HM_LOG_WARNING, "content model: the meta hash's key \"%.40s\" is not "
			       "%d hex digits; no model", value, 2 * HM_CLS_KEY_LEN);
	} else if (strcmp(name, "version") == 0) {
		(void)model_parse_ull(value, &m->version);
	} else if (strcmp(name, "spam") == 0) {
		(void)parse_count(value, &m->spam);
	} else if (strcmp(name, "ham") == 0) {
		(void)parse_count(value, &m->ham);
	}
}

/* cal_a and cal_b are taken only together and only when both parse. */
static void meta_from_pairs(struct meta *m, const char *const *names, const char *const *values,
			    const size_t *vlens, size_t n)
{
	bool a = false, b = false;

	memset(m, 0, sizeof(*m));
	for (size_t i = 0; i < n; i++) {
		meta_field(m, names[i], values[i], vlens[i]);
		if (strcmp(names[i], "cal_a") == 0)
			a = parse_double(values[i], &m->cal_a);
		else if (strcmp(names[i], "cal_b") == 0)
			b = parse_double(values[i], &m->cal_b);
	}
	m->has_cal = a && b;
}

int hm_model_meta_version(const struct hm_rvalue *v, unsigned long long *version_r,
			  unsigned char *key_r)
{
	struct meta m = { 0 };

	if (v == NULL || v->type != HM_RV_HASH)
		return 0;
	for (size_t i = 0; i + 1 < v->n; i += 2) {
		if (strcmp(v->items[i], "key") == 0)
			m.has_key = parse_key(v->items[i + 1], strlen(v->items[i + 1]), m.key) == 0;
		else if (strcmp(v->items[i], "version") == 0)
			(void)model_parse_ull(v->items[i + 1], &m.version);
	}
	if (!m.has_key)
		return 0;
	*version_r = m.version;
	if (key_r)
		memcpy(key_r, m.key, HM_CLS_KEY_LEN);
	return 1;
}

int hm_model_version(struct hm_model_conn *c, unsigned long long *version_r,
		     unsigned char *key_r, char *err, size_t errlen)
{
	char k[128];
	const char *a[] = { "HMGET", k, "version", "key" };
	redisReply *r;
	int rc = 0;

	model_key_of(c, HM_MODEL_META_KEY, k, sizeof(k));
	if ((r = model_command(c, 4, a, err, errlen)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		unsigned char key[HM_CLS_KEY_LEN];

		if (parse_key(r->element[1]->str, r->element[1]->len, key) == 0) {
			*version_r = 0;
			if (r->element[0]->type == REDIS_REPLY_STRING)
				(void)model_parse_ull(r->element[0]->str, version_r);
			if (key_r)
				memcpy(key_r, key, HM_CLS_KEY_LEN);
			rc = 1;
		}
	}
	freeReplyObject(r);
	return rc;
}

/* ---- reading the model ---- */

/* The model, with its weights or (learning) only its meta: see hm_model_fetch. */
static int fetch(struct hm_model_conn *c, bool weights, struct hm_cls_model **m_r, char *err,
		 size_t errlen)
{
	char mk[128], wk[128];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *hgetall[] = { "HGETALL", mk }, *get[] = { weights ? "GET" : "STRLEN", wk };
	redisReply *rep[4] = { NULL }, *x;
	struct hm_cls_model *m;
	struct meta meta;
	const char *names[64], *values[64];	/* a hand-made field or two more is fine */
	size_t vlens[64], nf = 0;

	*m_r = NULL;
	model_key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	model_key_of(c, "cls:w", wk, sizeof(wk));
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	/* MULTI: the weights and the meta of one moment, even while learners
	 * write.  Without the weights, STRLEN checks the key's type. */
	if (model_append(c, 1, multi, NULL) < 0 || model_append(c, 2, hgetall, NULL) < 0 ||
	    model_append(c, 2, get, NULL) < 0 || model_append(c, 1, exec, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
		return -1;
	}
	if (model_exchange(c, 4, rep, err, errlen) < 0)
		return -1;
	x = rep[3];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
		snprintf(err, errlen, "reading the model: %s",
			 x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply to EXEC");
		model_free_replies(rep, 4);
		return -1;
	}
	if (x->element[0]->type != REDIS_REPLY_ARRAY ||
	    (weights && x->element[1]->type != REDIS_REPLY_STRING &&
	     x->element[1]->type != REDIS_REPLY_NIL) ||
	    (!weights && x->element[1]->type != REDIS_REPLY_INTEGER)) {
		snprintf(err, errlen, "reading the model: %s or %s is not of the right type", mk, wk);
		model_free_replies(rep, 4);
		return -1;
	}
	for (size_t i = 0; i + 1 < x->element[0]->elements && nf < 64; i += 2) {
		redisReply *n = x->element[0]->element[i], *v = x->element[0]->element[i + 1];

		names[nf] = n->str;
		values[nf] = v->str;
		vlens[nf++] = v->len;
	}
	meta_from_pairs(&meta, names, values, vlens, nf);
	if (!meta.has_key) {
		model_free_replies(rep, 4);
		return 0;
	}
	if (x->element[1]->type == REDIS_REPLY_STRING &&
	    x->element[1]->len > (size_t)HM_CLS_BUCKETS * 2) {
		snprintf(err, errlen, "%s is %zu bytes, more than the %u of a model", wk,
			 x->element[1]->len, HM_CLS_BUCKETS * 2);
		model_free_replies(rep, 4);
		return -1;
	}
	if ((m = hm_cls_model_new(meta.key)) == NULL) {
		snprintf(err, errlen, "out of memory");
		model_free_replies(rep, 4);
		return -1;
	}
	if (x->element[1]->type == REDIS_REPLY_STRING)
		hm_cls_model_load_weights(m, (const unsigned char *)x->element[1]->str,
					  x->element[1]->len);
	m->version = meta.version;
	m->spam = meta.spam;
	m->ham = meta.ham;
	if (meta.has_cal) {
		m->cal_a = meta.cal_a;
		m->cal_b = meta.cal_b;
	}
	model_free_replies(rep, 4);
	*m_r = m;
	return 1;
}

int hm_model_fetch(struct hm_model_conn *c, struct hm_cls_model **m_r, char *err, size_t errlen)
{
	return fetch(c, true, m_r, err, errlen);
}

/* ---- learning ---- */

int hm_model_open_for_learning(struct hm_model_conn *c, bool weights, struct hm_cls_model **m_r,
			       char *err, size_t errlen)
{
	unsigned char key[HM_CLS_KEY_LEN];
	char mk[128], hex[2 * HM_CLS_KEY_LEN + 1];
	const char *a[] = { "HSETNX", mk, "key", hex };
	redisReply *r;
	int rc;

	*m_r = NULL;
	if ((rc = fetch(c, weights, m_r, err, errlen)) != 0)
		return rc < 0 ? -1 : 0;
	/* Nothing learned yet: make the key.  HSETNX, so that of two first
	 * learners at once one key wins, and both then read it. */
	if (getrandom(key, sizeof(key), 0) != (ssize_t)sizeof(key)) {
		snprintf(err, errlen, "getrandom: %s", strerror(errno));
		return -1;
	}
	key_hex(key, hex);
	model_key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	if ((r = model_command(c, 4, a, err, errlen)) == NULL)
		return -1;
	freeReplyObject(r);
	if ((rc = fetch(c, weights, m_r, err, errlen)) <= 0) {
		if (rc == 0)
			snprintf(err, errlen, "%s has no usable key after HSETNX", mk);
		return -1;
	}
	return 0;
}
