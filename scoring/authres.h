/*
 * authres.h - the Authentication-Results header (RFC 8601).
 *
 * hm_authres_format() writes the header value we add:
 *
 *   mx.example.org; spf=pass smtp.mailfrom=a@example.net;
 *	dkim=pass header.d=example.net header.s=sel header.b="Ab/c+123";
 *	dmarc=pass (p=reject dis=none) header.from=example.net
 *
 * one method per result, one dkim result per signature, values quoted when
 * RFC 2045 token syntax does not allow them bare, lines folded with "\n\t"
 * (the milter protocol's way of writing a folded header value).
 *
 * hm_authres_authserv_id() reads the authserv-id of an existing header, so
 * that headers claiming to be ours can be removed before ours is added.
 */
#ifndef HM_AUTHRES_H
#define HM_AUTHRES_H

#include <stdbool.h>
#include <stddef.h>

#include "scoring/results.h"
#include "util/strbuf.h"

struct hm_authres_input {
	const char *authserv_id;
	const struct hm_spf_outcome *spf;	/* NULL: not checked */
	const struct hm_dkim_outcome *dkim;	/* NULL: not checked */
	const struct hm_dmarc_outcome *dmarc;	/* NULL: not checked */
};

/* Append the header value to out.  0, or -1 if out's maximum was reached. */
int hm_authres_format(struct hm_strbuf *out, const struct hm_authres_input *in);

/*
 * The authserv-id of an Authentication-Results header value, unquoted, into
 * out.  0, or -1 if the value has none (malformed) or it does not fit.
 */
int hm_authres_authserv_id(const char *value, char *out, size_t outlen);

/* Does this header value claim our authserv-id (case-insensitive)? */
bool hm_authres_is_ours(const char *value, const char *authserv_id);

#endif
