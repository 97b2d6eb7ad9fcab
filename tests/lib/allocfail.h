/* allocfail.h - the allocation-failure loop of the Check suites: runs a
 * step with the allocation numbered 0, 1, 2, ... (and every later one)
 * failing, until a run where nothing was refused.  Each run must end in 0
 * or, when an allocation was refused, -ENOMEM; never a crash or a leak
 * (the sanitizer build checks those).  Header-only. */
#ifndef PG_TEST_ALLOCFAIL_H
#define PG_TEST_ALLOCFAIL_H

#include <check.h>
#include <errno.h>
#include <stdbool.h>

#include "xalloc.h"

/* @step does the work and frees what it made whatever happened; it
 * returns 0 or a negative errno.  @max bounds the number of runs; the
 * last one must have refused nothing.  Returns how many runs failed. */
static inline long af_each(long max, int (*step)(void *ud), void *ud)
{
	for (long i = 0; i < max; i++) {
		bool refused;
		int r;

		pg_alloc_fail_at(i);
		r = step(ud);
		refused = pg_alloc_refused();
		pg_alloc_fail_at(-1);
		ck_assert_msg(r == 0 || (refused && r == -ENOMEM), "%d with allocation %ld failing", r, i);
		if (!refused)
			return i;
	}
	ck_abort_msg("every one of %ld runs had an allocation refused", max);
	return max;
}

#endif
