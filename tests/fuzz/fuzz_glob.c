/* fuzz_glob.c - differential: glob_match() must answer as the simple
 * matcher it replaced (kept here as the oracle) on every pattern and
 * string.  The input is the pattern, a NUL, then the string; without a
 * NUL the first half is the pattern.  Under torture a refused allocation
 * may only turn a match into no match (glob_match fails closed). */
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../lib/glob_reference.h"
#include "strutil.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The reference is O(n * m), so inputs are capped below to keep each run
 * short. */
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nul;
	char *p, *s;
	size_t np;
	bool got, want;

	if (size > 16384)
		return 0;
	nul = memchr(data, 0, size);
	np = nul ? (size_t)(nul - data) : size / 2;
	pg_alloc_hold(true);
	p = strndup((const char *)data, np);
	s = strndup((const char *)data + np + (nul ? 1 : 0), size - np - (nul ? 1 : 0));
	pg_alloc_hold(false);
	if (!p || !s)
		abort();
	got = glob_match(p, s);
	want = glob_reference(p, s);
	if (got != want && !(pg_alloc_refused() && !got))
		abort();
	free(p);
	free(s);
	return 0;
}
