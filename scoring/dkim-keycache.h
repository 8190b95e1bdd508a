/*
 * dkim-keycache.h - decoded DKIM RSA keys, remembered.
 *
 * libopendkim turns every signature's key record into an EVP_PKEY with
 * OpenSSL's d2i_PUBKEY_bio().  With OpenSSL 3 that call runs the generic
 * decoder machinery: some 450 allocations and as many lock operations per
 * signature, about a quarter of all the CPU the milter spent per message,
 * for the same few keys over and over.  The library offers no hook for
 * it, so this module defines d2i_PUBKEY_bio() itself: the milter's own
 * definition is the one the dynamic linker binds libopendkim's call to.
 *
 *  - A key is decoded the first time by OpenSSL's real d2i_PUBKEY_bio()
 *    (found with dlsym(RTLD_NEXT)), which alone decides what is a valid
 *    key.  If it is an RSA key, its modulus and exponent are remembered,
 *    under the exact bytes it was decoded from.
 *  - The same bytes again: a new RSA EVP_PKEY is built from the remembered
 *    numbers, a few allocations and no decoder.  Every caller gets a key
 *    of its own (nothing is shared between threads but the read-only
 *    numbers), consumes the same bytes from its BIO, and frees it as
 *    before.
 *  - Anything else (no memory BIO, an output pointer given, a key that is
 *    not RSA, bytes not seen before, the cache switched off) goes to the
 *    real function, as if this module were not there.
 *
 * At most HM_DKIM_KEYCACHE_SLOTS keys are kept (the oldest goes first);
 * the cache works only once hm_dkim_keycache_enable() was called (by
 * hm_dkim_new()), and is safe for any number of threads.
 */
#ifndef HM_DKIM_KEYCACHE_H
#define HM_DKIM_KEYCACHE_H

#include <stdbool.h>
#include <stddef.h>

#define HM_DKIM_KEYCACHE_SLOTS 512

/* Switch the cache on (false: off, every call to the real function). */
void hm_dkim_keycache_enable(bool on);

struct hm_dkim_keycache_stats {
	unsigned long hits;	/* keys built from remembered numbers */
	unsigned long misses;	/* calls that went to OpenSSL */
	size_t keys;		/* keys remembered now */
};

void hm_dkim_keycache_stats(struct hm_dkim_keycache_stats *st);

/* Forget every key (at exit, for leak checkers; and for tests). */
void hm_dkim_keycache_clear(void);

#endif
