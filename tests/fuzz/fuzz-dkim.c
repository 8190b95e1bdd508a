/*
 * fuzz-dkim.c - libFuzzer target: DKIM-Signature headers and the message
 * around them (scoring/dkim*.c on libopendkim): the header hand-over (bare
 * LF to CRLF), the prescreen that caps the signatures checked, the key
 * prefetch, and the classification and description of every signature
 * whatever its tags hold.  Keys are asked of a resolver pointed at a
 * loopback port nobody answers on, with a short time-out: every signature
 * ends in a key temperror, after all its parsing.
 * Input: header lines "Name: value" separated by NUL bytes; after an empty
 * piece, the body.
 */
#include "config.h"

#include "scoring/dkim.h"
#include "scoring/dns.h"
#include "tests/fuzz/fuzz.h"

#define MAX_PIECES 40

static struct hm_dkim *setup(void)
{
	static struct hm_dns *dns;
	static struct hm_dkim *dk;
	static const char *const ns[] = { "127.0.0.1@9" };	/* discard: nobody */
	struct hm_dns_conf dc = { .nameservers = ns, .nnameservers = 1, .timeout_ms = 2 };
	struct hm_dkim_conf kc = { 0 };
	char err[256];

	if (dk != NULL)
		return dk;
	fuzz_quiet();
	if (hm_dns_new(&dc, &dns, err, sizeof(err)) < 0 ||
	    hm_dkim_new(dns, &kc, &dk, err, sizeof(err)) < 0) {
		fprintf(stderr, "fuzz-dkim: %s\n", err);
		abort();
	}
	return dk;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_dkim *dk = setup();
	struct hm_dkim_verify *v;
	struct hm_dkim_outcome *out;
	char *pieces[MAX_PIECES];
	size_t n, i;
	char *buf;

	if (size > 32768)
		return 0;
	buf = fuzz_split(data, size, '\0', pieces, MAX_PIECES, &n);
	out = calloc(1, sizeof(*out));
	if (buf == NULL || out == NULL || (v = hm_dkim_verify_begin(dk, "FUZZ1")) == NULL) {
		free(out);
		free(buf);
		return 0;
	}
	for (i = 0; i < n && pieces[i][0] != '\0'; i++) {
		char *colon = strchr(pieces[i], ':');

		if (colon == NULL)
			continue;
		*colon = '\0';
		(void)hm_dkim_verify_header(v, pieces[i], colon + 1);
	}
	(void)hm_dkim_verify_eoh(v);
	for (i++; i < n; i++)
		(void)hm_dkim_verify_body(v, (const unsigned char *)pieces[i], strlen(pieces[i]));
	if (hm_dkim_verify_finish(v, out) == 0 && out->nsigs > HM_DKIM_MAX_SIGS)
		abort();
	hm_dkim_verify_free(&v);
	free(out);
	free(buf);
	return 0;
}
