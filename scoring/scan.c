/*
 * scan.c - a message's way through SPF, DKIM and DMARC.
 */
#include "config.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "scoring/authres.h"
#include "scoring/dkim.h"
#include "scoring/dmarc.h"
#include "scoring/scan.h"
#include "scoring/spf.h"

struct hm_scan {
	struct hm_engine *engine;
	char *client_ip, *helo, *mail_from;
	struct hm_dkim_verify *dkim;
	struct hm_from_list from;
	bool dkim_failed;		/* the verifier refused input: temperror */
};

static char *dup_or_null(const char *s)
{
	return s ? strdup(s) : NULL;
}

struct hm_scan *hm_scan_begin(struct hm_engine *engine, const struct hm_envelope *env,
			      const char *id)
{
	struct hm_scan *s = calloc(1, sizeof(*s));

	if (s == NULL)
		return NULL;
	s->engine = engine;
	hm_from_init(&s->from);
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
	if (strcasecmp(name, "From") == 0) {
		const char *why;

		/* A From that does not parse is noted in s->from (DMARC says so). */
		(void)hm_from_parse(&s->from, value, &why);
	}
	/* A header the verifier cannot take only fails the signatures over it. */
	(void)hm_dkim_verify_header(s->dkim, name, value);
	return 0;
}

int hm_scan_eoh(struct hm_scan *s)
{
	if (hm_dkim_verify_eoh(s->dkim) < 0)
		s->dkim_failed = true;
	return 0;
}

int hm_scan_body(struct hm_scan *s, const unsigned char *chunk, size_t len)
{
	if (!s->dkim_failed && hm_dkim_verify_body(s->dkim, chunk, len) < 0)
		s->dkim_failed = true;
	return 0;
}

int hm_scan_finish(struct hm_scan *s, struct hm_scan_result *r)
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
	return 0;
}

void hm_scan_free(struct hm_scan **sp)
{
	struct hm_scan *s = *sp;

	if (s == NULL)
		return;
	hm_dkim_verify_free(&s->dkim);
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
