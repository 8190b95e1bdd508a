/*
 * fuzz-spf.c - libFuzzer target: SPF record text as a domain publishes it,
 * through what scoring/spf-record.c does with it before evaluation: the
 * RFC 7208 grammar check, then for a valid record the rewrite for libspf2
 * (for an IPv4 and an IPv6 client) into a buffer of exactly the size the
 * code promises to fit, then libspf2's compiler.
 *
 * The marker has the form of spf.c's (".cidr0-" and 16 hex digits), which
 * makes up a new one per process.
 */
#include <netinet/in.h>
#include <strings.h>

#include <spf2/spf.h>

#include "scoring/spf-record.h"

#include "tests/fuzz/fuzz.h"

static const char marker[] = ".cidr0-0123456789abcdef";

/* libspf2's warnings about records are not the target's output. */
static void spf_quiet(const char *file, int line, const char *msg)
{
	(void)file;
	(void)line;
	(void)msg;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static SPF_server_t *server;
	char why[160];
	char *text, *out;

	if (server == NULL) {
		SPF_warning_handler = spf_quiet;
		SPF_info_handler = spf_quiet;
		SPF_debug_handler = spf_quiet;
		if ((server = SPF_server_new(SPF_DNS_RESOLV, 0)) == NULL)
			abort();
	}
	/* What spf.c's fetch_record() lets through to the checker. */
	if (size > HM_SPF_RECORD_MAX || size < 6 || memchr(data, '\0', size) != NULL)
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

		size_t outlen = HM_SPF_REWRITE_SIZE(size, marker);

		if ((out = malloc(outlen)) == NULL || resp == NULL) {
			free(out);
			SPF_response_free(resp);
			break;
		}
		hm_spf_rewrite(text, size, v6, marker, out);
		if (strlen(out) >= outlen)
			abort();
		(void)SPF_record_compile(server, resp, &rec, out);
		if (rec != NULL)
			SPF_record_free(rec);
		SPF_response_free(resp);
		free(out);
	}
	free(text);
	return 0;
}
