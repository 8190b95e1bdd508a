/*
 * scan.c - a message's way through SPF, DKIM, DMARC, the header checks, the
 * operator's rules and the content classifier.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scoring/authres.h"
#include "scoring/content.h"
#include "scoring/dkim.h"
#include "scoring/dmarc.h"
#include "scoring/scan.h"
#include "scoring/spf.h"

struct hm_scan {
	struct hm_engine *engine;
	struct hm_scan_opts opts;
	struct hm_msgcheck msgcheck;
	struct hm_rules_match *rules;	/* NULL without rules */
	char *client_ip, *helo, *mail_from;
	struct hm_dkim_verify *dkim;
	struct hm_from_list from;
	bool dkim_failed;		/* the verifier refused input: temperror */
	struct hm_cls_model *model;	/* the snapshot judged with; NULL: no classifier */
	struct hm_content *content;	/* its features, as the message streams */
	struct hm_cls_points points;
};

static const struct hm_cls_points default_points = HM_CLS_POINTS_DEFAULT;

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct hm_scan *hm_scan_begin(struct hm_engine *engine, const struct hm_scan_opts *opts,
			      const struct hm_envelope *env, const char *id)
{
	struct hm_scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->engine = engine;
	s->opts = *opts;
	hm_from_init(&s->from);
	hm_msgcheck_init(&s->msgcheck);
	if (opts->rules && (s->rules = hm_rules_begin(opts->rules)) == NULL) {
		hm_scan_free(&s);
		return NULL;
	}
	s->points = opts->points ? *opts->points : default_points;
	if (opts->model && (s->model = hm_cls_slot_acquire(opts->model)) != NULL) {
		/* A model that would stay silent is not worth the features. */
		if (s->model->spam < s->points.min_spam || s->model->ham < s->points.min_ham)
			hm_cls_model_release(&s->model);
		else if ((s->content = hm_content_begin(s->model->key)) == NULL) {
			hm_scan_free(&s);
			return NULL;
		}
	}
	if ((env->client_ip && (s->client_ip = strdup(env->client_ip)) == NULL) ||
	    (env->helo && (s->helo = dup_or_null(env->helo)) == NULL) ||
	    (env->mail_from && (s->mail_from = dup_or_null(env->mail_from)) == NULL) ||
	    (s->dkim = hm_dkim_verify_begin(engine->dkim, id)) == NULL) {
		hm_scan_free(&s);
		return NULL;
	}
	return s;
}

int hm_scan_header(struct hm_scan *s, const char *name, const char *value)
{
	/* A From that does not parse is noted in s->from (DMARC says so). */
	if (strcasecmp(name, "From") == 0)
		(void)hm_from_parse(&s->from, value, NULL, 0);
	/* A header the verifier cannot take only fails the signatures over it. */
	(void)hm_dkim_verify_header(s->dkim, name, value);
	hm_msgcheck_header(&s->msgcheck, name, value);
	if (s->rules)
		hm_rules_header(s->rules, name, value);
	if (s->content && hm_content_header(s->content, name, value) < 0)
		return -1;
	return 0;
}

int hm_scan_eoh(struct hm_scan *s)
{
	if (hm_dkim_verify_eoh(s->dkim) < 0)
		s->dkim_failed = true;
	if (s->content && hm_content_eoh(s->content) < 0)
		return -1;
	return 0;
}

int hm_scan_body(struct hm_scan *s, const unsigned char *chunk, size_t len)
{
	if (!s->dkim_failed && hm_dkim_verify_body(s->dkim, chunk, len) < 0)
		s->dkim_failed = true;
	if (s->rules)
		hm_rules_body(s->rules, chunk, len);
	if (s->content && hm_content_body(s->content, chunk, len) < 0)
		return -1;
	return 0;
}

/* The authentication results as symbols. */
static void auth_symbols(struct hm_scan_result *r, const struct hm_weights *w)
{
	static const enum hm_sym spf_sym[] = {
		[HM_SPF_NONE] = HM_SYM_SPF_NONE, [HM_SPF_NEUTRAL] = HM_SYM_SPF_NEUTRAL,
		[HM_SPF_PASS] = HM_SYM_SPF_PASS, [HM_SPF_FAIL] = HM_SYM_SPF_FAIL,
		[HM_SPF_SOFTFAIL] = HM_SYM_SPF_SOFTFAIL, [HM_SPF_TEMPERROR] = HM_SYM_SPF_TEMPERROR,
		[HM_SPF_PERMERROR] = HM_SYM_SPF_PERMERROR,
	};
	const struct hm_dkim_sig *detail = NULL;
	enum hm_sym dkim = HM_SYM_DKIM_NONE;

	if (r->spf_checked && (unsigned)r->spf.result < sizeof(spf_sym) / sizeof(spf_sym[0]))
		hm_symbols_fire(&r->symbols, w, spf_sym[r->spf.result], r->spf.domain);

	/* One DKIM symbol: a valid signature wins, then a temporary error (it
	 * may verify later), then a failed one, then an unusable one. */
	for (int rank = 0; rank < 4 && detail == NULL; rank++)
		for (size_t i = 0; i < r->dkim.nsigs && detail == NULL; i++) {
			enum hm_dkim_result res = r->dkim.sigs[i].result;
			static const enum hm_sym by_rank[] = { HM_SYM_DKIM_VALID, HM_SYM_DKIM_TEMPERROR,
				HM_SYM_DKIM_INVALID, HM_SYM_DKIM_PERMERROR };
			bool hit = (rank == 0 && res == HM_DKIM_PASS) ||
				   (rank == 1 && res == HM_DKIM_TEMPERROR) ||
				   (rank == 2 && (res == HM_DKIM_FAIL || res == HM_DKIM_POLICY)) ||
				   (rank == 3 && (res == HM_DKIM_PERMERROR || res == HM_DKIM_NEUTRAL));
			if (hit) {
				detail = &r->dkim.sigs[i];
				dkim = by_rank[rank];
			}
		}
	hm_symbols_fire(&r->symbols, w, dkim, detail ? detail->domain : NULL);

	switch (r->dmarc.result) {
	case HM_DMARC_PASS:
		hm_symbols_fire(&r->symbols, w, HM_SYM_DMARC_PASS, r->dmarc.from_domain);
		break;
	case HM_DMARC_FAIL:
		/* What the domain asks for this message (after pct=). */
		hm_symbols_fire(&r->symbols, w,
				r->dmarc.disposition == HM_DMARC_POLICY_REJECT ? HM_SYM_DMARC_FAIL_REJECT :
				r->dmarc.disposition == HM_DMARC_POLICY_QUARANTINE ?
				HM_SYM_DMARC_FAIL_QUARANTINE : HM_SYM_DMARC_FAIL_NONE,
				r->dmarc.from_domain);
		break;
	case HM_DMARC_NONE:
		hm_symbols_fire(&r->symbols, w, HM_SYM_DMARC_NONE, r->dmarc.from_domain);
		break;
	case HM_DMARC_TEMPERROR:
		hm_symbols_fire(&r->symbols, w, HM_SYM_DMARC_TEMPERROR, r->dmarc.from_domain);
		break;
	case HM_DMARC_PERMERROR:
		hm_symbols_fire(&r->symbols, w, HM_SYM_DMARC_PERMERROR, r->dmarc.reason);
		break;
	}
}

/* The verdicts as content features: a valid signature, else the first's. */
static void content_auth(const struct hm_scan_result *r, struct hm_content_auth *a)
{
	a->spf = r->spf_checked ? r->spf.result : HM_SPF_NONE;
	a->dkim = r->dkim.nsigs ? r->dkim.sigs[0].result : HM_DKIM_NONE;
	for (size_t i = 0; i < r->dkim.nsigs; i++)
		if (r->dkim.sigs[i].result == HM_DKIM_PASS)
			a->dkim = HM_DKIM_PASS;
	a->dmarc = r->dmarc.result;
}

/*
 * The content symbol.  Its configured weight is a factor on the computed
 * points (1 by default, 0 silences it); the caps bound the result.
 */
static int content_symbol(struct hm_scan *s, struct hm_scan_result *r)
{
	struct hm_content_auth auth;
	struct hm_cls_verdict v;
	const uint32_t *idx;
	size_t n;
	char detail[16];
	double pts;

	content_auth(r, &auth);
	if (hm_content_envelope(s->content, s->mail_from) < 0 ||
	    hm_content_auth(s->content, &auth) < 0 || hm_content_finish(s->content, &idx, &n) < 0)
		return -1;
	hm_cls_points(s->model, &s->points, hm_cls_margin(s->model, idx, n), &v);
	if (!v.speaks)
		return 0;
	pts = v.points * s->opts.weights->w[v.spam ? HM_SYM_CONTENT_SPAM : HM_SYM_CONTENT_HAM];
	if (pts > s->points.cap_spam)
		pts = s->points.cap_spam;
	if (pts < -s->points.cap_ham)
		pts = -s->points.cap_ham;
	if (pts == 0)
		return 0;
	snprintf(detail, sizeof(detail), "p=%.2f", v.p);
	hm_symbols_add(&r->symbols, hm_symdefs[v.spam ? HM_SYM_CONTENT_SPAM : HM_SYM_CONTENT_HAM].name,
		       pts, detail);
	return 0;
}

int hm_scan_finish(struct hm_scan *s, const struct hm_symbols *more, struct hm_scan_result *r)
{
	memset(r, 0, sizeof(*r));
	if (s->client_ip) {
		r->spf_checked = true;
		if (hm_spf_check(s->engine->spf, s->client_ip, s->helo, s->mail_from, &r->spf) < 0)
			return -1;
	}
	/* finish reports its own failures as temperror signatures. */
	(void)hm_dkim_verify_finish(s->dkim, &r->dkim);
	r->dkim_ignored = hm_dkim_verify_ignored(s->dkim);
	r->from = s->from;
	if (hm_dmarc_check(s->engine->dmarc, s->client_ip, &s->from,
			   r->spf_checked ? &r->spf : NULL, &r->dkim, &r->dmarc) < 0)
		return -1;
	auth_symbols(r, s->opts.weights);
	hm_msgcheck_finish(&s->msgcheck, &s->from, s->opts.now ? s->opts.now : time(NULL),
			   s->opts.weights, &r->symbols);
	if (s->rules)
		hm_rules_finish(s->rules, &r->symbols);
	if (s->content && content_symbol(s, r) < 0)
		return -1;
	for (size_t i = 0; more && i < more->count; i++)
		hm_symbols_add(&r->symbols, more->fired[i].name, more->fired[i].weight,
			       more->fired[i].detail);
	if (more) {
		r->symbols.dropped += more->dropped;
		r->symbols.dropped_weight += more->dropped_weight;
	}
	r->score = hm_symbols_score(&r->symbols);
	return 0;
}

void hm_scan_free(struct hm_scan **sp)
{
	struct hm_scan *s = *sp;

	if (s == NULL)
		return;
	hm_dkim_verify_free(&s->dkim);
	hm_rules_free_match(&s->rules);
	hm_content_free(&s->content);
	hm_cls_model_release(&s->model);
	free(s->client_ip);
	free(s->helo);
	free(s->mail_from);
	free(s);
	*sp = NULL;
}

int hm_scan_authres(const struct hm_scan_result *r, const char *authserv_id,
		    struct hm_strbuf *out)
{
	struct hm_authres_input in = {
		.authserv_id = authserv_id,
		.spf = r->spf_checked ? &r->spf : NULL,
		.dkim = &r->dkim,
		.dmarc = &r->dmarc,
	};

	return hm_authres_format(out, &in);
}
