/*
 * fuzz-spf.c - libFuzzer target: SPF record text as a domain publishes it,
 * through what scoring/spf.c does with it before evaluation: the RFC 7208
 * grammar check, then for a valid record the rewrite for libspf2 (for an
 * IPv4 and an IPv6 client) into a buffer of exactly the size the code
 * promises to fit, then libspf2's compiler.
 *
 * The checker and the rewriter are static in spf.c: the file is compiled
 * into this target whole, so the code fuzzed is the code shipped.
 */
#include "scoring/spf.c"

#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct hm_spf *spf;
	char why[HM_REASON_MAX], err[128];
	char *text, *out;

	if (spf == NULL && hm_spf_new(NULL, "mx.test.example", &spf, err, sizeof(err)) < 0)
		abort();
	/* What fetch_record() lets through to the checker. */
	if (size > RECORD_MAX || size < 6 || memchr(data, '\0', size) != NULL)
		return 0;
	if ((text = fuzz_str(data, size)) == NULL)
		return 0;
	if (strncasecmp(text, "v=spf1", 6) != 0 || (text[6] != ' ' && text[6] != '\0') ||
	    hm_spf_record_valid(text, size, why, sizeof(why)) < 0) {
		free(text);
		return 0;
	}
	for (int v6 = 0; v6 <= 1; v6++) {
		SPF_response_t *resp = SPF_response_new(NULL);
		SPF_record_t *rec = NULL;

		size_t outlen = REWRITE_SIZE(size, spf->marker);

		if ((out = malloc(outlen)) == NULL || resp == NULL) {
			free(out);
			SPF_response_free(resp);
			break;
		}
		rewrite(text, size, v6, spf->marker, out);
		if (strlen(out) >= outlen)
			abort();
		(void)SPF_record_compile(spf->server, resp, &rec, out);
		if (rec != NULL)
			SPF_record_free(rec);
		SPF_response_free(resp);
		free(out);
	}
	free(text);
	return 0;
}
