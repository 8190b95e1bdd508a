/*
 * fuzz-dns.c - libFuzzer target: record data from DNS answers, which any
 * domain's owner writes (scoring/dns.c): TXT strings (SPF, DKIM keys,
 * DMARC), domain names (PTR, and MX exchanges).
 */
#include "config.h"

#include "scoring/dns.h"
#include "scoring/results.h"
#include "tests/fuzz/fuzz.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	unsigned char *copy;
	char small[64], *big;
	unsigned pref;

	/* An exact copy: reading one byte past the record is caught. */
	if ((copy = malloc(size ? size : 1)) == NULL)
		return 0;
	memcpy(copy, data, size);
	if ((big = malloc(size + 1)) != NULL) {
		if (hm_dns_txt(copy, size, big, size + 1) == 0 && strlen(big) > size)
			abort();
		free(big);
	}
	(void)hm_dns_txt(copy, size, small, sizeof(small));
	if (hm_dns_name(copy, size, small, sizeof(small)) == 0 && strlen(small) >= sizeof(small))
		abort();
	{
		char name[HM_DOMAIN_MAX];

		(void)hm_dns_name(copy, size, name, sizeof(name));
		(void)hm_dns_mx(copy, size, &pref, name, sizeof(name));
	}
	(void)hm_dns_mx(copy, size, &pref, small, sizeof(small));
	free(copy);
	return 0;
}
