/* selector.c - label selector parsing and matching, as apimachinery does. */
#include "selector.h"

#include <errno.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "jval.h"
#include "strutil.h"

const char *labels_get(const struct labels *l, const char *key)
{
	for (size_t i = 0; i < l->n; i++)
		if (strcmp(l->keys[i], key) == 0)
			return l->values[i];
	return NULL;
}

int labels_from_jval(const struct jval *obj, struct arena *a, struct fpath *path,
		     struct errlist *errs, struct labels *ret)
{
	size_t n = 0;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (jval_is_null(obj))
		return 0;
	if (!jval_is_object(obj)) {
		errlist_add(errs, "%s: must be a map of strings", fpath_str(path));
		return -EINVAL;
	}
	if (obj->n > LABELS_MAX) {
		errlist_add(errs, "%s: more than %d labels (profileguard's limit)", fpath_str(path),
			    LABELS_MAX);
		return -EINVAL;
	}
	ret->keys = arena_alloc(a, (obj->n + 1) * sizeof(char *));
	ret->values = arena_alloc(a, (obj->n + 1) * sizeof(char *));
	if (!ret->keys || !ret->values)
		return -ENOMEM;
	jval_foreach_member(obj, m) {
		size_t mark = fpath_key(path, m->key);

		if (jval_has_nul(&m->val)) {
			/* Matched as C strings, "a\u0000b" would pass for "a". */
			errlist_add(errs, "%s: must not contain NUL", fpath_str(path));
			r = -EINVAL;
		} else if (!jval_is_string(&m->val)) {
			errlist_add(errs, "%s: must be a string", fpath_str(path));
			r = -EINVAL;
		} else {
			/* The tree lives in a caller's arena that may be
			 * shorter-lived than @a: copy. */
			ret->keys[n] = arena_strdup(a, m->key);
			ret->values[n] = arena_strdup(a, m->val.u.s);
			if (!ret->keys[n] || !ret->values[n])
				return -ENOMEM;
			n++;
		}
		fpath_pop(path, mark);
	}
	ret->n = n;
	return r;
}

/* selector_parse() reads strings with jval_cstr(): a selector is read
 * inside a profile, whose check_nul() refuses every string holding U+0000
 * and names it, so such a string reads up to the NUL and no second
 * message is added for it. */
static int parse_values(const struct jval *arr, struct arena *a, struct fpath *path,
			struct errlist *errs, struct sel_req *req)
{
	size_t i;
	const struct jval *v;
	int r = 0;

	if (!jval_is_array(arr)) {
		errlist_add(errs, "%s: must be a list of strings", fpath_str(path));
		return -EINVAL;
	}
	if (jval_size(arr) > SELECTOR_MAX_VALUES) {
		errlist_add(errs, "%s: more than %d values (profileguard's limit)", fpath_str(path),
			    SELECTOR_MAX_VALUES);
		return -EINVAL;
	}
	req->values = arena_alloc(a, (jval_size(arr) + 1) * sizeof(char *));
	if (!req->values)
		return -ENOMEM;
	jval_foreach_item(arr, i, v) {
		size_t mark = fpath_index(path, i);

		if (!jval_cstr(v) || !str_is_label_value(jval_cstr(v))) {
			errlist_add(errs, "%s: must be a valid label value", fpath_str(path));
			r = -EINVAL;
		} else if (!(req->values[req->nvalues++] = arena_strdup(a, jval_cstr(v)))) {
			return -ENOMEM;
		}
		fpath_pop(path, mark);
	}
	return r;
}

static int parse_expression(const struct jval *e, struct arena *a, struct fpath *path,
			    struct errlist *errs, struct sel_req *req)
{
	const struct jval *key, *op, *values;
	int r = 0;
	size_t mark;

	if (!jval_is_object(e)) {
		errlist_add(errs, "%s: must be an object", fpath_str(path));
		return -EINVAL;
	}
	jval_foreach_member(e, mem) {
		const char *k = mem->key;

		if (strcmp(k, "key") && strcmp(k, "operator") && strcmp(k, "values")) {
			mark = fpath_key(path, k);
			errlist_add(errs, "%s: unknown field", fpath_str(path));
			fpath_pop(path, mark);
			r = -EINVAL;
		}
	}
	key = jval_get(e, "key");
	op = jval_get(e, "operator");
	values = jval_get(e, "values");

	mark = fpath_key(path, "key");
	if (!jval_cstr(key) || !str_is_label_key(jval_cstr(key))) {
		errlist_add(errs, "%s: %s", fpath_str(path),
			    key ? "must be a valid label key" : "required");
		r = -EINVAL;
	} else if (!(req->key = arena_strdup(a, jval_cstr(key)))) {
		return -ENOMEM;
	}
	fpath_pop(path, mark);

	mark = fpath_key(path, "operator");
	if (!op) {
		errlist_add(errs, "%s: required", fpath_str(path));
		r = -EINVAL;
	} else if (jval_cstr(op) && strcmp(jval_cstr(op), "In") == 0) {
		req->op = SEL_IN;
	} else if (jval_cstr(op) && strcmp(jval_cstr(op), "NotIn") == 0) {
		req->op = SEL_NOT_IN;
	} else if (jval_cstr(op) && strcmp(jval_cstr(op), "Exists") == 0) {
		req->op = SEL_EXISTS;
	} else if (jval_cstr(op) && strcmp(jval_cstr(op), "DoesNotExist") == 0) {
		req->op = SEL_DOES_NOT_EXIST;
	} else {
		errlist_add(errs, "%s: must be one of In, NotIn, Exists, DoesNotExist",
			    fpath_str(path));
		r = -EINVAL;
		op = NULL;
	}
	fpath_pop(path, mark);

	mark = fpath_key(path, "values");
	if (values && !jval_is_null(values)) {
		int r2 = parse_values(values, a, path, errs, req);

		if (r2 == -ENOMEM)
			return r2;
		if (r2 < 0)
			r = r2;
	}
	if (op && (req->op == SEL_IN || req->op == SEL_NOT_IN) && req->nvalues == 0) {
		errlist_add(errs, "%s: must be non-empty when operator is In or NotIn",
			    fpath_str(path));
		r = -EINVAL;
	}
	if (op && (req->op == SEL_EXISTS || req->op == SEL_DOES_NOT_EXIST) && req->nvalues) {
		errlist_add(errs, "%s: must be empty when operator is Exists or DoesNotExist",
			    fpath_str(path));
		r = -EINVAL;
	}
	fpath_pop(path, mark);
	return r;
}

int selector_parse(const struct jval *obj, struct arena *a, struct fpath *path,
		   struct errlist *errs, struct selector *ret)
{
	const struct jval *ml, *me;
	const struct jval *v;
	size_t n = 0, i, mark;
	int r = 0;

	memset(ret, 0, sizeof(*ret));
	if (!jval_is_object(obj)) {
		errlist_add(errs, "%s: must be a label selector object", fpath_str(path));
		return -EINVAL;
	}
	jval_foreach_member(obj, mem) {
		const char *k = mem->key;

		if (strcmp(k, "matchLabels") && strcmp(k, "matchExpressions")) {
			mark = fpath_key(path, k);
			errlist_add(errs, "%s: unknown field", fpath_str(path));
			fpath_pop(path, mark);
			r = -EINVAL;
		}
	}
	ml = jval_get(obj, "matchLabels");
	me = jval_get(obj, "matchExpressions");
	if (ml && !jval_is_null(ml) && !jval_is_object(ml)) {
		mark = fpath_key(path, "matchLabels");
		errlist_add(errs, "%s: must be a map of strings", fpath_str(path));
		fpath_pop(path, mark);
		return -EINVAL;
	}
	if (me && !jval_is_null(me) && !jval_is_array(me)) {
		mark = fpath_key(path, "matchExpressions");
		errlist_add(errs, "%s: must be a list", fpath_str(path));
		fpath_pop(path, mark);
		return -EINVAL;
	}
	if (jval_size(ml) + jval_size(me) == 0) {
		errlist_add(errs, "%s: an empty selector is refused: select pods with matchLabels or matchExpressions",
			    fpath_str(path));
		return -EINVAL;
	}
	if (jval_size(ml) + jval_size(me) > SELECTOR_MAX_REQS) {
		errlist_add(errs, "%s: more than %d requirements (profileguard's limit)", fpath_str(path),
			    SELECTOR_MAX_REQS);
		return -EINVAL;
	}
	ret->reqs = arena_alloc(a, (jval_size(ml) + jval_size(me)) * sizeof(*ret->reqs));
	if (!ret->reqs)
		return -ENOMEM;

	jval_foreach_member(ml, mem) {
		const char *k = mem->key;

		v = &mem->val;

		struct sel_req *req = &ret->reqs[n];

		mark = fpath_key(path, "matchLabels");
		fpath_key(path, k);
		if (!str_is_label_key(k)) {
			errlist_add(errs, "%s: \"%s\" is not a valid label key", fpath_str(path), k);
			r = -EINVAL;
		} else if (!jval_cstr(v) || !str_is_label_value(jval_cstr(v))) {
			errlist_add(errs, "%s: must be a valid label value", fpath_str(path));
			r = -EINVAL;
		} else {
			req->key = arena_strdup(a, k);
			req->values = arena_alloc(a, sizeof(char *));
			if (!req->key || !req->values)
				return -ENOMEM;
			req->values[0] = arena_strdup(a, jval_cstr(v));
			if (!req->values[0])
				return -ENOMEM;
			req->nvalues = 1;
			req->op = SEL_IN;
			n++;
		}
		fpath_pop(path, mark);
	}
	jval_foreach_item(me, i, v) {
		int r2;

		mark = fpath_key(path, "matchExpressions");
		fpath_index(path, i);
		r2 = parse_expression(v, a, path, errs, &ret->reqs[n]);
		fpath_pop(path, mark);
		if (r2 == -ENOMEM)
			return r2;
		if (r2 < 0)
			r = r2;
		else
			n++;
	}
	ret->nreqs = n;
	return r;
}

static bool value_in(const struct sel_req *req, const char *v)
{
	for (size_t i = 0; i < req->nvalues; i++)
		if (strcmp(req->values[i], v) == 0)
			return true;
	return false;
}

bool selector_matches(const struct selector *s, const struct labels *l)
{
	if (s->nreqs == 0)
		return false;   /* never "everything": refused at parse time */
	for (size_t i = 0; i < s->nreqs; i++) {
		const struct sel_req *req = &s->reqs[i];
		const char *v = labels_get(l, req->key);

		switch (req->op) {
		case SEL_IN:
			if (!v || !value_in(req, v))
				return false;
			break;
		case SEL_NOT_IN:
			if (v && value_in(req, v))
				return false;
			break;
		case SEL_EXISTS:
			if (!v)
				return false;
			break;
		case SEL_DOES_NOT_EXIST:
			if (v)
				return false;
			break;
		}
	}
	return true;
}
