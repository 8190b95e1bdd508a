/*
 * test-grow.c - unit tests of util/grow.h.
 */
#include "config.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>

#include <cmocka.h>

#include "util/grow.h"

static void test_doubles_from_first(void **state)
{
	size_t cap = 0, n = 0;
	int *a = NULL;

	(void)state;
	for (int i = 0; i < 100; i++) {
		if (n == cap) {
			int *more = hm_grow(a, &cap, sizeof(*a), 4);

			assert_non_null(more);
			a = more;
		}
		a[n++] = i;
	}
	/* 4, 8, 16, 32, 64, 128: the values kept through every move. */
	assert_int_equal(cap, 128);
	for (int i = 0; i < 100; i++)
		assert_int_equal(a[i], i);
	free(a);
}

static void test_overflow_leaves_the_array(void **state)
{
	size_t cap = SIZE_MAX / 8;
	char *a = malloc(16);

	(void)state;
	assert_non_null(a);
	/* Twice SIZE_MAX / 8 elements of 8 bytes do not fit in a size_t. */
	assert_null(hm_grow(a, &cap, 8, 4));
	assert_int_equal(cap, SIZE_MAX / 8);
	a[15] = 'x';		/* still ours, still valid */
	free(a);
	cap = 0;
	assert_null(hm_grow(NULL, &cap, 0, 4));
	assert_int_equal(cap, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_doubles_from_first),
		cmocka_unit_test(test_overflow_leaves_the_array),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
