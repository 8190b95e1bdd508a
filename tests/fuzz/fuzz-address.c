/*
 * fuzz-address.c - libFuzzer target: From header values and envelope
 * addresses (util/address.c), the addresses every sender sets.
 * Input: newline-separated values; the first is also tried as a MAIL FROM
 * argument, and every parsed address is formatted back.
 */
#include "config.h"

#include "util/address.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct hm_from_list list;
	struct hm_addr a;
	char *vals[HM_FROM_MAX + 4], out[HM_LOCAL_MAX + HM_DOMAIN_MAX + 8];
	char err[128];
	size_t n;
	char *buf;

	if (size > HM_FROM_VALUE_MAX * 2)
		return 0;
	buf = fuzz_split(data, size, '\n', vals, sizeof(vals) / sizeof(vals[0]), &n);
	if (buf == NULL)
		return 0;
	if (n > 0 && hm_addr_parse_envelope(vals[0], &a, err, sizeof(err)) == 0) {
		(void)hm_addr_is_null(&a);
		if (hm_addr_format(&a, out, sizeof(out)) == 0)
			(void)hm_domain_valid(a.domain);
	}
	hm_from_init(&list);
	for (size_t i = 0; i < n; i++)
		(void)hm_from_parse(&list, vals[i], err, sizeof(err));
	if (list.count > HM_FROM_MAX)
		abort();
	for (size_t i = 0; i < list.count; i++) {
		(void)hm_addr_format(&list.addrs[i], out, sizeof(out));
		(void)hm_domain_valid(list.addrs[i].domain);
	}
	free(buf);
	return 0;
}
