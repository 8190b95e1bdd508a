/*
 * grow.h - room for more elements in an array that grows by doubling.
 *
 *	if (n == cap) {
 *		struct item *more = hm_grow(items, &cap, sizeof(*items), 16);
 *
 *		if (more == NULL)
 *			return -1;		(items and cap as they were)
 *		items = more;
 *	}
 *
 * The array is reallocated to twice its capacity (to first elements when
 * it has none yet) and *cap updated.  NULL when out of memory or when the
 * size would overflow: the array is then untouched, still the caller's,
 * and *cap unchanged.
 */
#ifndef HM_GROW_H
#define HM_GROW_H

#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

static inline void *hm_grow(void *array, size_t *cap, size_t elem, size_t first)
{
	size_t n = *cap ? *cap : first;
	void *p;

	if (elem == 0 || n > SIZE_MAX / 2 / elem)
		return NULL;
	if (*cap)
		n *= 2;
	if ((p = realloc(array, n * elem)) == NULL)
		return NULL;
	*cap = n;
	return p;
}

#endif
