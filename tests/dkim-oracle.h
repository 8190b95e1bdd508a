/*
 * dkim-oracle.h - libopendkim's own body hash of a body, for the tests
 * that check scoring/dkim-body.c against the library: the library signs a
 * one-header message (a throwaway 1024-bit key made at start) and the bh=
 * of its signature is read back.  The body is given to it in one piece.
 */
#ifndef HM_TEST_DKIM_ORACLE_H
#define HM_TEST_DKIM_ORACLE_H

#include <stdbool.h>
#include <stddef.h>

struct dkim_oracle;

/* NULL on failure (said on stderr). */
struct dkim_oracle *dkim_oracle_new(void);
void dkim_oracle_free(struct dkim_oracle *o);

/*
 * The library's bh= for body: 0 and the value in bh; 1 when the library
 * refused the body as having no CRLF at its end; -1 on any other failure
 * (said on stderr).
 */
int dkim_oracle_bodyhash(struct dkim_oracle *o, bool relaxed, bool sha1,
			 const unsigned char *body, size_t len, char *bh, size_t bhlen);

#endif
