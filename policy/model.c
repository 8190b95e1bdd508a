/*
 * model.c - the content model in Redis: read, learn, refresh (see model.h).
 *
 * Plain blocking hiredis with a socket timeout: nothing here is on a
 * message's path.  The daemon reads the model in its refresher thread and
 * publishes a snapshot into the slot; messages only ever take a reference
 * from the slot.  The learner (a command) talks to the primary.
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
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/random.h>
#include <time.h>

#include <hiredis/hiredis.h>

#include "util/log.h"
#include "policy/model.h"
#include "policy/sentinel.h"

#define BITFIELD_CHUNK 1000		/* features per BITFIELD command */
#define LEARN_TRIES 5			/* EXEC aborted by a concurrent learner */
#define RATE_KEY_TTL 7200		/* seconds: the hour counted, and some slack */

struct hm_model_conn {
	redisContext *rc;
	char *host, *unix_path, *password, *prefix;
	int port, db;
	long connect_ms, timeout_ms;
};

static char *dup_or_null(const char *s)
{
	return s && *s ? strdup(s) : NULL;
}

struct hm_model_conn *hm_model_conn_new(const struct hm_store_conf *sc, long timeout_ms)
{
	struct hm_model_conn *c = calloc(1, sizeof(*c));

	if (c == NULL)
		return NULL;
	c->host = strdup(sc->host && *sc->host ? sc->host : HM_STORE_HOST);
	c->unix_path = dup_or_null(sc->unix_path);
	c->password = dup_or_null(sc->password);
	c->prefix = strdup(sc->prefix && *sc->prefix ? sc->prefix : HM_STORE_PREFIX);
	c->port = sc->port > 0 ? sc->port : HM_STORE_PORT;
	c->db = sc->db;
	c->connect_ms = sc->connect_timeout_ms > 0 ? sc->connect_timeout_ms :
						      HM_STORE_CONNECT_TIMEOUT_MS;
	c->timeout_ms = timeout_ms > 0 ? timeout_ms : 5000;
	if (c->host == NULL || c->prefix == NULL || (sc->unix_path && *sc->unix_path && !c->unix_path) ||
	    (sc->password && *sc->password && !c->password)) {
		hm_model_conn_free(&c);
		return NULL;
	}
	return c;
}

struct hm_model_conn *hm_model_conn_primary(const struct hm_store_conf *sc, long timeout_ms,
					    char *err, size_t errlen)
{
	struct hm_sentinel_conf snc = {
		.addrs = sc->sentinels, .naddrs = sc->nsentinels, .master = sc->sentinel_master,
		.password = sc->sentinel_password,
		.timeout_ms = sc->connect_timeout_ms > 0 ? sc->connect_timeout_ms :
							    HM_STORE_CONNECT_TIMEOUT_MS,
	};
	struct hm_store_conf at = *sc;
	struct hm_sentinel *snt = NULL;
	struct hm_model_conn *c;
	char host[256];
	int port;

	if (sc->nsentinels == 0) {
		if ((c = hm_model_conn_new(sc, timeout_ms)) == NULL)
			snprintf(err, errlen, "out of memory");
		return c;
	}
	if (hm_sentinel_new(&snc, &snt, err, errlen) < 0)
		return NULL;
	if (hm_sentinel_primary(snt, host, sizeof(host), &port, err, errlen) < 0) {
		hm_sentinel_free(&snt);
		return NULL;
	}
	hm_sentinel_free(&snt);
	at.host = host;
	at.port = port;
	at.unix_path = NULL;		/* the local socket is the replica's */
	if ((c = hm_model_conn_new(&at, timeout_ms)) == NULL)
		snprintf(err, errlen, "out of memory");
	return c;
}

void hm_model_conn_free(struct hm_model_conn **cp)
{
	struct hm_model_conn *c = *cp;

	if (c == NULL)
		return;
	if (c->rc)
		redisFree(c->rc);
	free(c->host);
	free(c->unix_path);
	free(c->password);
	free(c->prefix);
	free(c);
	*cp = NULL;
}

static void where(const struct hm_model_conn *c, char *out, size_t outlen)
{
	if (c->unix_path)
		snprintf(out, outlen, "%s", c->unix_path);
	else
		snprintf(out, outlen, "%s:%d", c->host, c->port);
}

/* A context that failed is dead (hiredis): drop it, the next use redials. */
static void conn_drop(struct hm_model_conn *c)
{
	if (c->rc)
		redisFree(c->rc);
	c->rc = NULL;
}

static redisReply *command(struct hm_model_conn *c, int argc, const char **argv, char *err,
			   size_t errlen);

int hm_model_conn_check(struct hm_model_conn *c, char *err, size_t errlen)
{
	struct timeval ct = { c->connect_ms / 1000, (c->connect_ms % 1000) * 1000 };
	struct timeval tt = { c->timeout_ms / 1000, (c->timeout_ms % 1000) * 1000 };
	char w[300];

	if (c->rc)
		return 0;
	where(c, w, sizeof(w));
	c->rc = c->unix_path ? redisConnectUnixWithTimeout(c->unix_path, ct)
		: redisConnectWithTimeout(c->host, c->port, ct);
	if (c->rc == NULL || c->rc->err) {
		snprintf(err, errlen, "connect %s: %s", w, c->rc ? c->rc->errstr : "out of memory");
		conn_drop(c);
		return -1;
	}
	if (redisSetTimeout(c->rc, tt) != REDIS_OK) {
		snprintf(err, errlen, "connect %s: cannot set the timeout", w);
		conn_drop(c);
		return -1;
	}
	if (c->password) {
		const char *a[] = { "AUTH", c->password };
		redisReply *r = command(c, 2, a, err, errlen);

		if (r == NULL) {
			conn_drop(c);	/* never used unauthenticated */
			return -1;
		}
		freeReplyObject(r);
	}
	if (c->db) {
		char num[16];
		const char *a[] = { "SELECT", num };
		redisReply *r;

		snprintf(num, sizeof(num), "%d", c->db);
		if ((r = command(c, 2, a, err, errlen)) == NULL) {
			conn_drop(c);	/* never used on database 0 */
			return -1;
		}
		freeReplyObject(r);
	}
	return 0;
}

/*
 * Send the n commands queued on the context and read n replies into rep.
 * An error reply is returned as such (the caller judges it); -1 only when
 * the connection failed (then it is dropped).
 */
static int exchange(struct hm_model_conn *c, size_t n, redisReply **rep, char *err, size_t errlen)
{
	size_t got = 0;

	for (; got < n; got++) {
		void *r = NULL;

		if (redisGetReply(c->rc, &r) != REDIS_OK || r == NULL) {
			char w[300];

			where(c, w, sizeof(w));
			snprintf(err, errlen, "redis %s: %s", w,
				 c->rc->errstr[0] ? c->rc->errstr : "connection error");
			while (got > 0)
				freeReplyObject(rep[--got]);
			conn_drop(c);
			return -1;
		}
		rep[got] = r;
	}
	return 0;
}

static void free_replies(redisReply **rep, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (rep[i])
			freeReplyObject(rep[i]);
}

static int append(struct hm_model_conn *c, int argc, const char **argv, const size_t *lens)
{
	return redisAppendCommandArgv(c->rc, argc, argv, lens) == REDIS_OK ? 0 : -1;
}

/* One command; its reply, or NULL with err (an error reply included). */
static redisReply *command(struct hm_model_conn *c, int argc, const char **argv, char *err,
			   size_t errlen)
{
	redisReply *r;

	if (hm_model_conn_check(c, err, errlen) < 0)
		return NULL;
	if (append(c, argc, argv, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
		return NULL;
	}
	if (exchange(c, 1, &r, err, errlen) < 0)
		return NULL;
	if (r->type == REDIS_REPLY_ERROR) {
		snprintf(err, errlen, "%s: %s", argv[0], r->str);
		freeReplyObject(r);
		return NULL;
	}
	return r;
}

static void key_of(const struct hm_model_conn *c, const char *name, char *out, size_t outlen)
{
	snprintf(out, outlen, "%s%s", c->prefix, name);
}

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

static bool parse_ull(const char *s, unsigned long long *v)
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
		(void)parse_ull(value, &m->version);
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
			(void)parse_ull(v->items[i + 1], &m.version);
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

	key_of(c, HM_MODEL_META_KEY, k, sizeof(k));
	if ((r = command(c, 4, a, err, errlen)) == NULL)
		return -1;
	if (r->type == REDIS_REPLY_ARRAY && r->elements == 2 &&
	    r->element[1]->type == REDIS_REPLY_STRING) {
		unsigned char key[HM_CLS_KEY_LEN];

		if (parse_key(r->element[1]->str, r->element[1]->len, key) == 0) {
			*version_r = 0;
			if (r->element[0]->type == REDIS_REPLY_STRING)
				(void)parse_ull(r->element[0]->str, version_r);
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
	key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	key_of(c, "cls:w", wk, sizeof(wk));
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	/* MULTI: the weights and the meta of one moment, even while learners
	 * write.  Without the weights, STRLEN checks the key's type. */
	if (append(c, 1, multi, NULL) < 0 || append(c, 2, hgetall, NULL) < 0 ||
	    append(c, 2, get, NULL) < 0 || append(c, 1, exec, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
		return -1;
	}
	if (exchange(c, 4, rep, err, errlen) < 0)
		return -1;
	x = rep[3];
	if (x->type != REDIS_REPLY_ARRAY || x->elements != 2) {
		snprintf(err, errlen, "reading the model: %s",
			 x->type == REDIS_REPLY_ERROR ? x->str : "unexpected reply to EXEC");
		free_replies(rep, 4);
		return -1;
	}
	if (x->element[0]->type != REDIS_REPLY_ARRAY ||
	    (weights && x->element[1]->type != REDIS_REPLY_STRING &&
	     x->element[1]->type != REDIS_REPLY_NIL) ||
	    (!weights && x->element[1]->type != REDIS_REPLY_INTEGER)) {
		snprintf(err, errlen, "reading the model: %s or %s is not of the right type", mk, wk);
		free_replies(rep, 4);
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
		free_replies(rep, 4);
		return 0;
	}
	if (x->element[1]->type == REDIS_REPLY_STRING &&
	    x->element[1]->len > (size_t)HM_CLS_BUCKETS * 2) {
		snprintf(err, errlen, "%s is %zu bytes, more than the %u of a model", wk,
			 x->element[1]->len, HM_CLS_BUCKETS * 2);
		free_replies(rep, 4);
		return -1;
	}
	if ((m = hm_cls_model_new(meta.key)) == NULL) {
		snprintf(err, errlen, "out of memory");
		free_replies(rep, 4);
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
	free_replies(rep, 4);
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
	key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	if ((r = command(c, 4, a, err, errlen)) == NULL)
		return -1;
	freeReplyObject(r);
	if ((rc = fetch(c, weights, m_r, err, errlen)) <= 0) {
		if (rc == 0)
			snprintf(err, errlen, "%s has no usable key after HSETNX", mk);
		return -1;
	}
	return 0;
}

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
static int append_bitfield(struct hm_model_conn *c, const char *wk, const uint32_t *idx,
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
		rc = append(c, argc, argv, NULL);
		(*ncmd)++;
	}
	free(argv);
	free(pos);
	return rc;
}

/* The weights read by append_bitfield(get) into m; -1 if a reply is not theirs. */
static int take_weights(struct hm_cls_model *m, const uint32_t *idx, size_t n, redisReply **rep)
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
	key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	key_of(c, "cls:w", wk, sizeof(wk));
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

		if (append(c, 2, watch, NULL) < 0 || append(c, 2, get, NULL) < 0 ||
		    (limited && append(c, 2, rget, NULL) < 0) ||
		    (fresh && append_bitfield(c, wk, idx, n, true, 0, &nget) < 0) ||
		    (rep = calloc(nrep + nget, sizeof(*rep))) == NULL) {
			snprintf(err, errlen, "out of memory");
			conn_drop(c);
			return -1;
		}
		nrep += nget;
		if (exchange(c, nrep, rep, err, errlen) < 0) {
			free(rep);
			return -1;
		}
	}
	for (size_t i = 0; i < nrep; i++)
		if (rep[i]->type == REDIS_REPLY_ERROR) {
			snprintf(err, errlen, "%s", rep[i]->str);
			goto unwatch;
		}
	if (fresh && take_weights(m, idx, n, rep + (limited ? 3 : 2)) < 0) {
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
			(void)parse_ull(rep[2]->str, &used);
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
		const char *rinc[] = { "INCR", rk }, *rexp[] = { "EXPIRE", rk, "7200" };
		int bad = 0;

		bad |= append(c, 1, multi, NULL);
		ncmd++;
		if (total != 0)
			bad |= append_bitfield(c, wk, idx, n, false, total, &ncmd);
		bad |= append(c, 5, set, NULL);
		bad |= append(c, 4, inc, NULL);
		ncmd += 2;
		if (had) {
			bad |= append(c, 4, dec, NULL);
			ncmd++;
		}
		bad |= append(c, 4, ver, NULL);
		ncmd++;
		if (limited) {
			bad |= append(c, 2, rinc, NULL);
			bad |= append(c, 3, rexp, NULL);
			ncmd += 2;
		}
		bad |= append(c, 1, exec, NULL);
		ncmd++;
		if (bad) {
			snprintf(err, errlen, "out of memory");
			conn_drop(c);
			goto undo;
		}
	}
	if ((wrep = calloc(ncmd, sizeof(*wrep))) == NULL) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
		goto undo;
	}
	if (exchange(c, ncmd, wrep, err, errlen) < 0)
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
		free_replies(wrep, ncmd);
	free(wrep);
	free_replies(rep, nrep);
	free(rep);
	return rc;
unwatch:
	free_replies(rep, nrep);
	free(rep);
	{
		const char *a[] = { "UNWATCH" };
		redisReply *r = command(c, 1, a, err, errlen);

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
	key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	snprintf(as, sizeof(as), "%.9g", a);
	snprintf(bs, sizeof(bs), "%.9g", b);
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	if (append(c, 1, multi, NULL) < 0 || append(c, 6, hset, NULL) < 0 ||
	    append(c, 4, ver, NULL) < 0 || append(c, 1, exec, NULL) < 0) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
		return -1;
	}
	if (exchange(c, 4, rep, err, errlen) < 0)
		return -1;
	if (rep[3]->type == REDIS_REPLY_ARRAY)
		rc = 0;
	else
		snprintf(err, errlen, "storing the calibration: %s",
			 rep[3]->type == REDIS_REPLY_ERROR ? rep[3]->str : "unexpected reply");
	free_replies(rep, 4);
	return rc;
}

/* ---- replay (classifier.h: a model must not forget the other class) ---- */

static void keep_key(const struct hm_model_conn *c, bool spam, char *out, size_t outlen)
{
	key_of(c, spam ? "cls:keep:spam" : "cls:keep:ham", out, outlen);
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
	if (append(c, 3, push, lens) < 0 || append(c, 4, trim, NULL) < 0 ||
	    (relearned && append(c, 4, rem, rlens) < 0)) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
	} else if (exchange(c, nrep, rep, err, errlen) == 0) {
		rc = 0;
		for (size_t i = 0; i < nrep && rc == 0; i++)
			if (rep[i]->type == REDIS_REPLY_ERROR) {
				snprintf(err, errlen, "keeping the message for replay: %s", rep[i]->str);
				rc = -1;
			}
		free_replies(rep, nrep);
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

		if ((r = command(c, 2, llen, err, errlen)) == NULL)
			goto out;
		len = r->type == REDIS_REPLY_INTEGER ? r->integer : 0;
		freeReplyObject(r);
		r = NULL;
		if (len <= 0) {
			done = 0;
			goto out;
		}
		snprintf(at, sizeof(at), "%lld", (long long)(random() % len));
		if ((r = command(c, 3, index, err, errlen)) == NULL)
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
	if ((r = command(c, 4, range, err, errlen)) == NULL)
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
	key_of(c, "cls:w", wk, sizeof(wk));
	key_of(c, HM_MODEL_META_KEY, mk, sizeof(mk));
	if (hm_model_conn_check(c, err, errlen) < 0)
		return -1;
	if (read_weights) {
		if (append_bitfield(c, wk, idx, n, true, 0, &ncmd) < 0 ||
		    (rep = calloc(ncmd, sizeof(*rep))) == NULL) {
			snprintf(err, errlen, "out of memory");
			conn_drop(c);
			return -1;
		}
		if (exchange(c, ncmd, rep, err, errlen) < 0) {
			free(rep);
			return -1;
		}
		rc = take_weights(m, idx, n, rep);
		free_replies(rep, ncmd);
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
	if (append(c, 1, multi, NULL) < 0 || append_bitfield(c, wk, idx, n, false, delta, &ncmd) < 0 ||
	    append(c, 4, ver, NULL) < 0 || append(c, 1, exec, NULL) < 0 ||
	    (rep = calloc(ncmd + 3, sizeof(*rep))) == NULL) {
		snprintf(err, errlen, "out of memory");
		conn_drop(c);
		return -1;
	}
	ncmd += 3;
	if (exchange(c, ncmd, rep, err, errlen) < 0) {
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
	free_replies(rep, ncmd);
	free(rep);
	return rc;
}

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
