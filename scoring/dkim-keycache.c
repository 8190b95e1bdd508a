/*
 * dkim-keycache.c - decoded DKIM RSA keys, remembered (see dkim-keycache.h).
 */
#include "config.h"

/* RSA_new() and friends: the legacy key type is what we hand back. */
#define OPENSSL_SUPPRESS_DEPRECATED

#include <dlfcn.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>

#include "scoring/dkim-keycache.h"

/* A DKIM key record's key: 4096-bit RSA is under 600 bytes of DER. */
#define KEY_BYTES_MAX 2048

struct slot {
	unsigned char *der;	/* the bytes the key was decoded from */
	size_t len;
	uint64_t hash;
	size_t consumed;	/* bytes the real decoder took from its BIO */
	BIGNUM *n, *e;		/* read-only once stored */
};

typedef EVP_PKEY *d2i_fn(BIO *bp, EVP_PKEY **a);

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slot slots[HM_DKIM_KEYCACHE_SLOTS];
static size_t nslots, next_victim;
static unsigned long hits, misses;
static bool enabled;
static pthread_once_t real_once = PTHREAD_ONCE_INIT;
static d2i_fn *real_d2i;

static void find_real(void)
{
	void *f = dlsym(RTLD_NEXT, "d2i_PUBKEY_bio");

	/* Only ever the next definition, never this one (that would loop). */
	if (f != NULL && f != (void *)d2i_PUBKEY_bio)
		memcpy(&real_d2i, &f, sizeof(real_d2i));
}

static uint64_t fnv1a(const unsigned char *p, size_t n)
{
	uint64_t h = 14695981039346656037ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ p[i]) * 1099511628211ull;
	return h;
}

void hm_dkim_keycache_enable(bool on)
{
	__atomic_store_n(&enabled, on, __ATOMIC_RELAXED);
}

void hm_dkim_keycache_stats(struct hm_dkim_keycache_stats *st)
{
	pthread_mutex_lock(&lock);
	st->hits = hits;
	st->misses = misses;
	st->keys = nslots;
	pthread_mutex_unlock(&lock);
}

static void slot_clear(struct slot *s)
{
	free(s->der);
	BN_free(s->n);
	BN_free(s->e);
	memset(s, 0, sizeof(*s));
}

void hm_dkim_keycache_clear(void)
{
	pthread_mutex_lock(&lock);
	for (size_t i = 0; i < nslots; i++)
		slot_clear(&slots[i]);
	nslots = next_victim = 0;
	hits = misses = 0;
	pthread_mutex_unlock(&lock);
}

/* A new RSA public key owning n and e (freed on failure); NULL on failure. */
static EVP_PKEY *rsa_key(BIGNUM *n, BIGNUM *e)
{
	RSA *rsa = RSA_new();
	EVP_PKEY *pkey = EVP_PKEY_new();

	if (n == NULL || e == NULL || rsa == NULL || pkey == NULL ||
	    RSA_set0_key(rsa, n, e, NULL) != 1) {
		BN_free(n);
		BN_free(e);
		RSA_free(rsa);
		EVP_PKEY_free(pkey);
		return NULL;
	}
	if (EVP_PKEY_assign_RSA(pkey, rsa) != 1) {
		RSA_free(rsa);		/* n and e with it */
		EVP_PKEY_free(pkey);
		return NULL;
	}
	return pkey;
}

/*
 * Under the lock: copies of the numbers of the slot holding these bytes
 * (the key is built after the lock is let go).  false: not there.
 */
static bool lookup(const unsigned char *der, size_t len, uint64_t hash, BIGNUM **n,
		   BIGNUM **e, size_t *consumed)
{
	for (size_t i = 0; i < nslots; i++) {
		struct slot *s = &slots[i];

		if (s->hash == hash && s->len == len && memcmp(s->der, der, len) == 0) {
			*n = BN_dup(s->n);
			*e = BN_dup(s->e);
			*consumed = s->consumed;
			return true;
		}
	}
	return false;
}

/* Under the lock: remember an RSA key decoded from these bytes. */
static void store(const unsigned char *der, size_t len, uint64_t hash, size_t consumed,
		  const EVP_PKEY *pkey)
{
	struct slot s = { .len = len, .hash = hash, .consumed = consumed };

	if (EVP_PKEY_get_base_id(pkey) != EVP_PKEY_RSA ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_N, &s.n) != 1 ||
	    EVP_PKEY_get_bn_param(pkey, OSSL_PKEY_PARAM_RSA_E, &s.e) != 1 ||
	    (s.der = malloc(len)) == NULL) {
		slot_clear(&s);
		return;
	}
	memcpy(s.der, der, len);
	for (size_t i = 0; i < nslots; i++)
		if (slots[i].hash == hash && slots[i].len == len &&
		    memcmp(slots[i].der, der, len) == 0) {
			slot_clear(&s);		/* another thread was first */
			return;
		}
	if (nslots < HM_DKIM_KEYCACHE_SLOTS) {
		slots[nslots++] = s;
	} else {
		slot_clear(&slots[next_victim]);
		slots[next_victim] = s;
		next_victim = (next_victim + 1) % HM_DKIM_KEYCACHE_SLOTS;
	}
}

/*
 * OpenSSL's d2i_PUBKEY_bio(), remembering RSA keys (see the header).  The
 * bytes are looked at without being consumed; a key from the cache takes
 * from the BIO what the real decoder took from the same bytes.
 */
EVP_PKEY *d2i_PUBKEY_bio(BIO *bp, EVP_PKEY **a)
{
	const unsigned char *der = NULL;
	unsigned char skip[256];
	size_t consumed = 0, before, after;
	EVP_PKEY *pkey;
	BIGNUM *n = NULL, *e = NULL;
	bool found;
	uint64_t hash;
	long len;

	pthread_once(&real_once, find_real);
	if (real_d2i == NULL)
		return NULL;	/* no OpenSSL below us: cannot happen when linked */
	if (!__atomic_load_n(&enabled, __ATOMIC_RELAXED) || a != NULL || bp == NULL ||
	    BIO_method_type(bp) != BIO_TYPE_MEM ||
	    (len = BIO_get_mem_data(bp, (char **)&der)) <= 0 || len > KEY_BYTES_MAX)
		return real_d2i(bp, a);
	hash = fnv1a(der, (size_t)len);
	pthread_mutex_lock(&lock);
	found = lookup(der, (size_t)len, hash, &n, &e, &consumed);
	if (found)
		hits++;
	else
		misses++;
	pthread_mutex_unlock(&lock);
	/* Out of memory building it: the real decoder, which may do better. */
	if (found && (pkey = rsa_key(n, e)) != NULL) {
		while (consumed > 0) {
			int r = BIO_read(bp, skip, consumed < sizeof(skip) ? (int)consumed
									 : (int)sizeof(skip));

			if (r <= 0)
				break;
			consumed -= (size_t)r;
		}
		return pkey;
	}
	/* der points into the BIO, which the real decoder moves along: copy. */
	{
		unsigned char copy[KEY_BYTES_MAX];

		memcpy(copy, der, (size_t)len);
		before = BIO_ctrl_pending(bp);
		pkey = real_d2i(bp, a);
		after = BIO_ctrl_pending(bp);
		if (pkey != NULL && after <= before) {
			pthread_mutex_lock(&lock);
			if (__atomic_load_n(&enabled, __ATOMIC_RELAXED))
				store(copy, (size_t)len, hash, before - after, pkey);
			pthread_mutex_unlock(&lock);
		}
	}
	return pkey;
}
