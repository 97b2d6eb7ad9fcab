/* fuzz_jval.c - differential: the fast reader must agree with jansson on
 * every input: both accept (with equal trees) or both refuse.  Known,
 * deliberate differences are excluded: integers beyond int64 (jansson
 * refuses, jval keeps a real) and NUL inside strings (jval accepts them in
 * values, as JSON allows). */
#include <assert.h>
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "jval.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int equal(const struct jval *v, json_t *j)
{
	size_t i;

	switch (v->type) {
	case JV_NULL: return json_is_null(j);
	case JV_TRUE: return json_is_true(j);
	case JV_FALSE: return json_is_false(j);
	case JV_INT: return json_is_integer(j) && json_integer_value(j) == v->u.i;
	case JV_REAL: return json_is_real(j) && (json_real_value(j) == v->u.d ||
						(json_real_value(j) != json_real_value(j) && v->u.d != v->u.d));
	case JV_STRING:
		return json_is_string(j) && json_string_length(j) == v->n &&
		       memcmp(json_string_value(j), v->u.s, v->n) == 0;
	case JV_ARRAY:
		if (!json_is_array(j) || json_array_size(j) != v->n)
			return 0;
		for (i = 0; i < v->n; i++)
			if (!equal(&v->u.items[i], json_array_get(j, i)))
				return 0;
		return 1;
	case JV_OBJECT:
		if (!json_is_object(j) || json_object_size(j) != v->n)
			return 0;
		for (i = 0; i < v->n; i++) {
			json_t *x = json_object_get(j, v->u.members[i].key);

			if (!x || !equal(&v->u.members[i].val, x))
				return 0;
		}
		return 1;
	}
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct arena *a = arena_new(4096);
	const struct jval *v = NULL;
	json_error_t jerr;
	json_t *j;
	int r;

	if (!a)
		return 0;
	r = jval_parse((const char *)data, size, NULL, a, &v, NULL);
	/* jansson is the reference here, not the subject: keep it out of the
	 * torture (its lexer asserts when an allocation fails mid-token). */
	pg_alloc_hold(true);
	j = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY | JSON_ALLOW_NUL, &jerr);
	pg_alloc_hold(false);
	if (pg_alloc_refused())
		/* Only jval allocates unheld: a refusal must fail the parse, never
		 * yield a partial tree. */
		assert(r == -ENOMEM);
	else if (r == 0 && j)
		assert(equal(v, j));
	else if (r == 0 && !j)
		/* jansson refuses integers past int64; jval reads them as reals. */
		assert(strstr(jerr.text, "too big") || strstr(jerr.text, "overflow") ||
		       strstr(jerr.text, "nesting") || strstr(jerr.text, "NUL"));
	else if (r != 0 && j)
		/* jval refuses NUL in keys and nests at most 64 deep. */
		assert(r == -E2BIG || memchr(data, 0, size) || memmem(data, size, "\\u0000", 6));
	json_decref(j);
	arena_free(a);
	return 0;
}
