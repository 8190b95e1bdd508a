/*
 * model-learn.c - learning into the content model in Redis (see model.h):
 * the signature of a message's feature set that keeps it from being
 * learned twice (and lets it be relearned as the other class), the user's
 * hourly rate limit, the BITFIELD updates of the weights, and storing the
 * calibration.
 *
 * Learning one message is two round trips: WATCH the signature key and read
 * it (and the user's rate counter), decide locally, then one MULTI/EXEC with
 * every write.  WATCH makes two learners of the same message at once safe:
 * the second one's EXEC fails and it starts over, seeing the first one's
 * signature.
 */
#include "config.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/model-int.h"

#define BITFIELD_CHUNK 1000		/* features per BITFIELD command */
#define LEARN_TRIES 5			/* EXEC aborted by a concurrent learner */
#define RATE_KEY_TTL "7200"		/* seconds: the hour counted, and some slack */

/* splitmix64's finaliser: a good 64-bit mix. */
static uint64_t mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/*
 * Order-independent: the sum and the xor of a mix of each index, for two
 * seeds (128 bits), and the count.  The features are distinct, so this is
 * a signature of the set whatever order the extractor returned them in.
 */
void hm_model_signature(const uint32_t *idx, size_t n, char out[33])
{
	uint64_t a = 0x9e3779b97f4a7c15ULL * (n + 1), b = mix64(n + 0x51);

	for (size_t i = 0; i < n; i++) {
		a += mix64(idx[i] ^ 0x243f6a8885a308d3ULL);
		b ^= mix64((uint64_t)idx[i] * 0x9e3779b97f4a7c15ULL + 0x13198a2e03707344ULL);
	}
	snprintf(out, 33, "%016" PRIx64 "%016" PRIx64, mix64(a), mix64(b ^ a));
}

bool hm_model_user_valid(const char *u)
{
	size_t n = strlen(u);

	if (n == 0 || n > 256)
		return false;
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)u[i] <= ' ' || u[i] == ':' || (unsigned char)u[i] >= 0x7f)
			return false;
	return true;
}

/* A signature value "spam DELTA": 1 with class and delta, 0 if damaged. */
static int parse_sig(const redisReply *r, bool *spam_r, long *delta_r)
{
	char buf[64], *end;
	const char *sp;

	if (r->type != REDIS_REPLY_STRING || r->len >= sizeof(buf))
		return 0;
	memcpy(buf, r->str, r->len);
	buf[r->len] = '\0';
	if (strncmp(buf, "spam ", 5) == 0)
		*spam_r = true, sp = buf + 5;
	else if (strncmp(buf, "ham ", 4) == 0)
		*spam_r = false, sp = buf + 4;
	else
		return 0;
	errno = 0;
	*delta_r = strtol(sp, &end, 10);
	if (errno || *end || end == sp || labs(*delta_r) > 2 * INT16_MAX)
		return 0;
	return 1;
}

/*
 * Append the BITFIELD commands that read (get) the features' weights, or
 * add d to each of them (saturating), BITFIELD_CHUNK features a command.
 */
int model_append_bitfield(struct hm_model_conn *c, const char *wk, const uint32_t *idx,
			   size_t n, bool get, long d, size_t *ncmd)
{
	const size_t per = BITFIELD_CHUNK;
	const char **argv = malloc(sizeof(*argv) * (4 + 4 * per));
	char (*pos)[16] = malloc(sizeof(*pos) * per);
	char delta[24];
	int rc = 0;

	if (argv == NULL || pos == NULL) {
		free(argv);
		free(pos);
		return -1;
	}
	snprintf(delta, sizeof(delta), "%ld", d);
	for (size_t at = 0; at < n && rc == 0; at += per) {
		size_t k = n - at < per ? n - at : per;
		int argc = 0;

		argv[argc++] = "BITFIELD";
		argv[argc++] = wk;
		if (!get) {
			argv[argc++] = "OVERFLOW";
			argv[argc++] = "SAT";
		}
		for (size_t i = 0; i < k; i++) {
			snprintf(pos[i], sizeof(pos[i]), "#%" PRIu32, idx[at + i]);
			argv[argc++] = get ? "GET" : "INCRBY";
			argv[argc++] = "i16";
			argv[argc++] = pos[i];
			if (!get)
				argv[argc++] = delta;
		}
		rc = model_append(c, argc, argv, NULL);
		(*ncmd)++;
	}
	free(argv);
	free(pos);
	return rc;
}

/* The weights read by model_append_bitfield(get) into m; -1 if a reply is not theirs. */
int model_take_weights(struct hm_cls_model *m, const uint32_t *idx, size_t n, redisReply **rep)
{
	for (size_t at = 0, r = 0; at < n; at += BITFIELD_CHUNK, r++) {
		size_t k = n - at < BITFIELD_CHUNK ? n - at : BITFIELD_CHUNK;

		if (rep[r]->type != REDIS_REPLY_ARRAY || rep[r]->elements != k)
			return -1;
		for (size_t i = 0; i < k; i++) {
			if (rep[r]->element[i]->type != REDIS_REPLY_INTEGER)
				return -1;
			m->w[idx[at + i]] = (int16_t)rep[r]->element[i]->integer;
		}
	}
	return 0;
}

/*
 * One attempt: 1 done (*outcome_r set), 0 EXEC aborted by a concurrent
 * write of the signature (try again), -1 failed.
 */
static int learn_once(struct hm_model_conn *c, struct hm_cls_model *m, const uint32_t *idx,
		      size_t n, bool spam, const struct hm_learn_limits *lim, const char *sig,
		      enum hm_learn_outcome *outcome_r, char *err, size_t errlen)
{
	char sk[128], rk[400], mk[128], wk[128], sval[64], ttl[24];
	bool limited = lim && lim->user && *lim->user, fresh = lim && lim->read_weights;
	redisReply **rep = NULL, **wrep = NULL;
	bool old_spam = false, had = false;
	long old_delta = 0, total = 0;
	int delta = 0, rc = -1;
	size_t ncmd = 0, nrep = limited ? 3 : 2;

	snprintf(sk, sizeof(sk), "%scls:sig:%s", c->prefix, sig);
	model_key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	model_key_of(c, "cls:w", wk, sizeof(wk));
	if (limited)
		snprintf(rk, sizeof(rk), "%scls:rate:%s:%ld", c->prefix, lim->user,
			 (long)(time(NULL) / 3600));
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	/*
	 * The signature, the user's count, and (a learner without the whole
	 * model) the weights of this message's features as they are now.
	 */
	{
		const char *watch[] = { "WATCH", sk }, *get[] = { "GET", sk }, *rget[] = { "GET", rk };
		size_t nget = 0;

		if (model_append(c, 2, watch, NULL) < 0 || model_append(c, 2, get, NULL) < 0 ||
		    (limited && model_append(c, 2, rget, NULL) < 0) ||
		    (fresh && model_append_bitfield(c, wk, idx, n, true, 0, &nget) < 0) ||
		    (rep = calloc(nrep + nget, sizeof(*rep))) == NULL) {
			snprintf(err, errlen, "out of memory");
			model_conn_drop(c);
			return -1;
		}
		nrep += nget;
		if (model_exchange(c, nrep, rep, err, errlen) < 0) {
			free(rep);
			return -1;
		}
	}
	for (size_t i = 0; i < nrep; i++)
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s", rep[i]->str);
			goto unwatch;
		}
	if (fresh && model_take_weights(m, idx, n, rep + (limited ? 3 : 2)) < 0) {
		snprintf(err, errlen, "reading the weights: unexpected reply to BITFIELD");
		goto unwatch;
	}
	if (rep[1]->type != REDIS_REPLY_NIL) {
		if (parse_sig(rep[1], &old_spam, &old_delta))
			had = true;
		else
			hm_log(HM_LOG_WARNING, "content model: %s is damaged; learning the message anew", sk);
	}
	if (had && old_spam == spam) {
		*outcome_r = HM_LEARN_KNOWN;
		rc = 1;
		goto unwatch;
	}
	if (limited) {
		unsigned long long used = 0;

		if (rep[2]->type == REDIS_REPLY_STRING)
			(void)model_parse_ull(rep[2]->str, &used);
		if (lim->per_hour > 0 && (long long)used >= lim->per_hour) {
			*outcome_r = HM_LEARN_REFUSED;
			rc = 1;
			goto unwatch;
		}
	}
	/* Undo the earlier step first, then judge the message as the model
	 * would have without it. */
	hm_cls_model_apply(m, idx, n, (int)-old_delta);
	if (hm_cls_step(m, idx, n, spam, &delta) == 0)
		delta = 0;
	hm_cls_model_apply(m, idx, n, delta);
	total = delta - old_delta;

	snprintf(sval, sizeof(sval), "%s %d", spam ? "spam" : "ham", delta);
	snprintf(ttl, sizeof(ttl), "%ld", lim && lim->sig_ttl_s > 0 ? lim->sig_ttl_s : 365L * 86400);
	{
		const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
		const char *set[] = { "SET", sk, sval, "EX", ttl };
		const char *inc[] = { "HINCRBY", mk, spam ? "spam" : "ham", "1" };
		const char *dec[] = { "HINCRBY", mk, old_spam ? "spam" : "ham", "-1" };
		const char *ver[] = { "HINCRBY", mk, "version", "1" };
		const char *rinc[] = { "INCR", rk }, *rexp[] = { "EXPIRE", rk, RATE_KEY_TTL };
		int bad = 0;

		bad |= model_append(c, 1, multi, NULL);
		ncmd++;
		if (total != 0)
			bad |= model_append_bitfield(c, wk, idx, n, false, total, &ncmd);
		bad |= model_append(c, 5, set, NULL);
		bad |= model_append(c, 4, inc, NULL);
		ncmd += 2;
		if (had) {
			bad |= model_append(c, 4, dec, NULL);
			ncmd++;
		}
		bad |= model_append(c, 4, ver, NULL);
		ncmd++;
		if (limited) {
			bad |= model_append(c, 2, rinc, NULL);
			bad |= model_append(c, 3, rexp, NULL);
			ncmd += 2;
		}
		bad |= model_append(c, 1, exec, NULL);
		ncmd++;
		if (bad) {
			snprintf(err, errlen, "out of memory");
			model_conn_drop(c);
			goto undo;
		}
	}
	if ((wrep = calloc(ncmd, sizeof(*wrep))) == NULL) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
		goto undo;
	}
	if (model_exchange(c, ncmd, wrep, err, errlen) < 0)
		goto undo;
	{
		redisReply *x = wrep[ncmd - 1];

		if (x->type == REDIS_REPLY_NIL) {
			rc = 0;		/* someone learned this message meanwhile */
			goto undo;
		}
		if (x->type != REDIS_REPLY_ARRAY) {
			snprintf(err, errlen, "learning: %s",
				 x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply to EXEC");
			goto undo;
		}
		for (size_t i = 0; i < x->elements; i++)
			if (x->element[i]->type == REDIS_REPLY_ERROR) {
				/* MULTI runs every command; one failed (a key of
				 * the wrong type, made by hand).  Said, not undone. */
				snprintf(err, errlen, "learning: %s", x->element[i]->str);
				goto out;
			}
	}
	*outcome_r = had ? HM_LEARN_RELEARNED : delta ? HM_LEARN_LEARNED : HM_LEARN_CONFIDENT;
	rc = 1;
	goto out;
undo:
	hm_cls_model_apply(m, idx, n, (int)-total);
out:
	if (wrep)
		model_free_replies(wrep, ncmd);
	free(wrep);
	model_free_replies(rep, nrep);
	free(rep);
	return rc;
unwatch:
	model_free_replies(rep, nrep);
	free(rep);
	{
		const char *a[] = { "UNWATCH" };
		redisReply *r = model_command(c, 1, a, err, errlen);

		if (r == NULL)
			return -1;
		freeReplyObject(r);
	}
	return rc;
}

int hm_model_learn(struct hm_model_conn *c, struct hm_cls_model *m, const uint32_t *idx,
		   size_t n, bool spam, const struct hm_learn_limits *lim,
		   enum hm_learn_outcome *outcome_r, char *err, size_t errlen)
{
	char sig[33];

	hm_model_signature(idx, n, sig);
	for (int i = 0; i < LEARN_TRIES; i++) {
		int rc = learn_once(c, m, idx, n, spam, lim, sig, outcome_r, err, errlen);

		if (rc != 0)
			return rc < 0 ? -1 : 0;
	}
	snprintf(err, errlen, "the message's signature kept changing under concurrent learners");
	return -1;
}

int hm_model_store_calibration(struct hm_model_conn *c, double a, double b,
			       char *err, size_t errlen)
{
	char mk[128], as[64], bs[64];
	const char *multi[] = { "MULTI" }, *exec[] = { "EXEC" };
	const char *hset[] = { "HSET", mk, "cal_a", as, "cal_b", bs };
	const char *ver[] = { "HINCRBY", mk, "version", "1" };
	redisReply *rep[4] = { NULL };
	int rc = -1;

	if (!isfinite(a) || !isfinite(b)) {
		snprintf(err, errlen, "calibration %g, %g is not finite", a, b);
		return -1;
	}
	model_key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	snprintf(as, sizeof(as), "%.9g", a);
	snprintf(bs, sizeof(bs), "%.9g", b);
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	if (model_append(c, 1, multi, NULL) < 0 || model_append(c, 6, hset, NULL) < 0 ||
	    model_append(c, 4, ver, NULL) < 0 || model_append(c, 1, exec, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		model_conn_drop(c);
		return -1;
	}
	if (model_exchange(c, 4, rep, err, errlen) < 0)
		return -1;
	if (rep[3]->type == REDIS_REPLY_ARRAY)
		rc = 0;
	else
		snprintf(err, errlen, "storing the calibration: %s",
			 rep[3]->type == REDIS_REPLY_ERROR ? rep[3]->str : "unexpected reply");
	model_free_replies(rep, 4);
	return rc;
}
