/*
 * dkim-oracle.c - libopendkim's body hash of a body (see dkim-oracle.h).
 */
#include "config.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include <opendkim/dkim.h>

#include "tests/dkim-oracle.h"

#define SIGHDR_MAX 4096

struct dkim_oracle {
	DKIM_LIB *lib;
	char *keypem;
};

/* A fresh RSA key in PEM, as dkim_sign() takes it. */
static char *make_key(void)
{
	EVP_PKEY *pkey = EVP_RSA_gen(1024);
	BIO *bio = BIO_new(BIO_s_mem());
	char *pem = NULL, *data;
	long n;

	if (pkey != NULL && bio != NULL &&
	    PEM_write_bio_PrivateKey(bio, pkey, NULL, NULL, 0, NULL, NULL) == 1 &&
	    (n = BIO_get_mem_data(bio, &data)) > 0 && (pem = malloc((size_t)n + 1)) != NULL) {
		memcpy(pem, data, (size_t)n);
		pem[n] = '\0';
	}
	BIO_free(bio);
	EVP_PKEY_free(pkey);
	return pem;
}

struct dkim_oracle *dkim_oracle_new(void)
{
	struct dkim_oracle *o = calloc(1, sizeof(*o));

	if (o == NULL || (o->keypem = make_key()) == NULL ||
	    (o->lib = dkim_init(NULL, NULL)) == NULL) {
		fprintf(stderr, "dkim-oracle: set-up failed\n");
		dkim_oracle_free(o);
		return NULL;
	}
	return o;
}

void dkim_oracle_free(struct dkim_oracle *o)
{
	if (o == NULL)
		return;
	if (o->lib != NULL)
		dkim_close(o->lib);
	free(o->keypem);
	free(o);
}

/* The bh= value of a signature header, whitespace dropped. */
static int read_bh(const char *sighdr, char *bh, size_t bhlen)
{
	const char *p = strstr(sighdr, "bh=");
	size_t n = 0;

	if (p == NULL)
		return -1;
	for (p += 3; *p != '\0' && *p != ';'; p++) {
		if (*p == ' ' || *p == '\t' || *p == '\r' || *p == '\n')
			continue;
		if (n + 1 >= bhlen)
			return -1;
		bh[n++] = *p;
	}
	bh[n] = '\0';
	return 0;
}

int dkim_oracle_bodyhash(struct dkim_oracle *o, bool relaxed, bool sha1,
			 const unsigned char *body, size_t len, char *bh, size_t bhlen)
{
	static const char from[] = "From: someone@example.com";
	dkim_canon_t canon = relaxed ? DKIM_CANON_RELAXED : DKIM_CANON_SIMPLE;
	unsigned char sighdr[SIGHDR_MAX];
	DKIM_STAT st = DKIM_STAT_OK;
	DKIM *d;
	int rc = -1;

	d = dkim_sign(o->lib, (const unsigned char *)"oracle", NULL,
		      (dkim_sigkey_t)o->keypem, (const unsigned char *)"s",
		      (const unsigned char *)"example.com", DKIM_CANON_RELAXED, canon,
		      sha1 ? DKIM_SIGN_RSASHA1 : DKIM_SIGN_RSASHA256, -1, &st);
	if (d == NULL) {
		fprintf(stderr, "dkim-oracle: dkim_sign: %d\n", (int)st);
		return -1;
	}
	if (dkim_header(d, (unsigned char *)(uintptr_t)from, sizeof(from) - 1) != DKIM_STAT_OK ||
	    dkim_eoh(d) != DKIM_STAT_OK ||
	    (len > 0 && dkim_body(d, (unsigned char *)(uintptr_t)body, len) != DKIM_STAT_OK)) {
		fprintf(stderr, "dkim-oracle: feeding failed: %s\n", dkim_geterror(d));
		goto out;
	}
	st = dkim_eom(d, NULL);
	if (st == DKIM_STAT_SYNTAX) {
		rc = 1;
		goto out;
	}
	if (st != DKIM_STAT_OK ||
	    dkim_getsighdr(d, sighdr, sizeof(sighdr), 0) != DKIM_STAT_OK) {
		fprintf(stderr, "dkim-oracle: signing failed: %d %s\n", (int)st, dkim_geterror(d));
		goto out;
	}
	rc = read_bh((const char *)sighdr, bh, bhlen);
out:
	dkim_free(d);
	return rc;
}
