/* jval.c - one-pass JSON reader into an arena.  Children of an open
 * container are collected on a scratch stack and copied into the arena
 * when it closes, so each container is one contiguous array. */
#include "jval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "strutil.h"
#include "xalloc.h"

struct jp {
	const char *p, *start, *end;
	const struct jval_limits *lim;
	struct arena *a;
	struct jval_error *err;
	struct jmember *stack;  /* scratch: pending members/items */
	size_t sp, cap;
	size_t depth;
	int rc;
};

static int jp_fail(struct jp *j, int rc, const char *msg)
{
	if (j->rc == 0) {
		j->rc = rc;
		if (j->err) {
			j->err->offset = (size_t)(j->p - j->start);
			snprintf(j->err->msg, sizeof(j->err->msg), "%s at byte %zu", msg,
				 (size_t)(j->p - j->start));
		}
	}
	return j->rc;
}

static void skip_ws(struct jp *j)
{
	while (j->p < j->end && (*j->p == ' ' || *j->p == '\n' || *j->p == '\r' || *j->p == '\t'))
		j->p++;
}

static struct jmember *push(struct jp *j)
{
	if (j->sp == j->cap) {
		size_t ncap = j->cap ? j->cap * 2 : 64;
		struct jmember *s = pg_realloc(j->stack, ncap * sizeof(*s));

		if (!s) {
			jp_fail(j, -ENOMEM, "out of memory");
			return NULL;
		}
		j->stack = s;
		j->cap = ncap;
	}
	return &j->stack[j->sp++];
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

static long read_hex4(const char *p)
{
	long v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hexval(p[i]);

		if (h < 0)
			return -1;
		v = (v << 4) | h;
	}
	return v;
}

static size_t put_utf8(char *o, unsigned long cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | (cp >> 6));
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | (cp >> 12));
		o[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | (cp >> 18));
	o[1] = (char)(0x80 | ((cp >> 12) & 0x3f));
	o[2] = (char)(0x80 | ((cp >> 6) & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

/* At the opening quote.  Decoded text never outgrows the source, so one
 * arena allocation of the raw length suffices. */
static int parse_string(struct jp *j, const char **ret, uint32_t *ret_len, uint8_t *ret_flags)
{
	const char *s = ++j->p, *q = s;
	bool escapes = false;
	char *out, *o;

	while (q < j->end && *q != '"') {
		unsigned char c = (unsigned char)*q;

		if (c == '\\') {
			if (j->end - q < 2) {
				j->p = j->end;
				return jp_fail(j, -EINVAL, "unterminated string");
			}
			escapes = true;
			q += 2;
			continue;
		}
		if (c < 0x20) {
			j->p = q;
			return jp_fail(j, -EINVAL, "control character in string");
		}
		if (c >= 0x80) {
			size_t n = str_utf8_len(q, (size_t)(j->end - q));

			if (!n) {
				j->p = q;
				return jp_fail(j, -EINVAL, "invalid UTF-8");
			}
			q += n;
			continue;
		}
		q++;
	}
	if (q >= j->end) {
		j->p = j->end;
		return jp_fail(j, -EINVAL, "unterminated string");
	}
	if ((size_t)(q - s) > UINT32_MAX / 2)
		return jp_fail(j, -E2BIG, "string too long");
	out = arena_alloc(j->a, (size_t)(q - s) + 1);
	if (!out)
		return jp_fail(j, -ENOMEM, "out of memory");
	if (!escapes) {
		memcpy(out, s, (size_t)(q - s));
		*ret = out;
		*ret_len = (uint32_t)(q - s);
		j->p = q + 1;
		return 0;
	}
	for (o = out; s < q;) {
		long cp, lo;

		if (*s != '\\') {
			*o++ = *s++;
			continue;
		}
		switch (s[1]) {
		case '"': *o++ = '"'; break;
		case '\\': *o++ = '\\'; break;
		case '/': *o++ = '/'; break;
		case 'b': *o++ = '\b'; break;
		case 'f': *o++ = '\f'; break;
		case 'n': *o++ = '\n'; break;
		case 'r': *o++ = '\r'; break;
		case 't': *o++ = '\t'; break;
		case 'u':
			if (q - s < 6 || (cp = read_hex4(s + 2)) < 0) {
				j->p = s;
				return jp_fail(j, -EINVAL, "bad \\u escape");
			}
			if (cp >= 0xd800 && cp <= 0xdbff) {
				if (q - s < 12 || s[6] != '\\' || s[7] != 'u' ||
				    (lo = read_hex4(s + 8)) < 0xdc00 || lo > 0xdfff) {
					j->p = s;
					return jp_fail(j, -EINVAL, "unpaired surrogate");
				}
				cp = 0x10000 + ((cp - 0xd800) << 10) + (lo - 0xdc00);
				s += 6;
			} else if (cp >= 0xdc00 && cp <= 0xdfff) {
				j->p = s;
				return jp_fail(j, -EINVAL, "unpaired surrogate");
			}
			if (cp == 0)
				*ret_flags |= JVF_NUL;
			o += put_utf8(o, (unsigned long)cp);
			s += 6;
			continue;
		default:
			j->p = s;
			return jp_fail(j, -EINVAL, "bad escape");
		}
		s += 2;
	}
	*o = '\0';
	*ret = out;
	*ret_len = (uint32_t)(o - out);
	j->p = q + 1;
	return 0;
}

static int parse_number(struct jp *j, struct jval *v)
{
	const char *s = j->p, *q = s;
	bool real = false;
	char tmp[64];

	if (q < j->end && *q == '-')
		q++;
	if (q >= j->end || *q < '0' || *q > '9')
		return jp_fail(j, -EINVAL, "bad number");
	if (*q == '0' && q + 1 < j->end && q[1] >= '0' && q[1] <= '9')
		return jp_fail(j, -EINVAL, "leading zero in number");
	while (q < j->end && *q >= '0' && *q <= '9')
		q++;
	if (q < j->end && *q == '.') {
		real = true;
		q++;
		if (q >= j->end || *q < '0' || *q > '9')
			return jp_fail(j, -EINVAL, "bad number");
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (q < j->end && (*q == 'e' || *q == 'E')) {
		real = true;
		q++;
		if (q < j->end && (*q == '+' || *q == '-'))
			q++;
		if (q >= j->end || *q < '0' || *q > '9')
			return jp_fail(j, -EINVAL, "bad number");
		while (q < j->end && *q >= '0' && *q <= '9')
			q++;
	}
	if (!real) {
		int64_t acc = 0;
		bool neg = *s == '-';
		const char *d = s + neg;

		for (; d < q; d++) {
			int dig = *d - '0';

			if (acc > (INT64_MAX - dig) / 10) {
				real = true;    /* out of range: keep as a real */
				break;
			}
			acc = acc * 10 + dig;
		}
		if (!real) {
			v->type = JV_INT;
			v->u.i = neg ? -acc : acc;
			j->p = q;
			return 0;
		}
	}
	{
		/* Valid JSON numbers may be long ("0e999..."); strtod needs a
		 * terminated copy, from the arena when it does not fit. */
		char *copy = (size_t)(q - s) < sizeof(tmp) ? tmp : arena_alloc(j->a, (size_t)(q - s) + 1);

		if (!copy)
			return jp_fail(j, -ENOMEM, "out of memory");
		memcpy(copy, s, (size_t)(q - s));
		copy[q - s] = '\0';
		v->type = JV_REAL;
		v->u.d = strtod(copy, NULL);
	}
	j->p = q;
	return 0;
}

static int parse_value(struct jp *j, struct jval *v);

static int dup_keys(const struct jmember *m, size_t n)
{
	for (size_t a = 1; a < n; a++)
		for (size_t b = 0; b < a; b++)
			if (m[a].key[0] == m[b].key[0] && strcmp(m[a].key, m[b].key) == 0)
				return 1;
	return 0;
}

static int key_cmp(const void *x, const void *y)
{
	return strcmp(*(const char *const *)x, *(const char *const *)y);
}

static int has_dup_keys(struct jp *j, const struct jmember *m, size_t n)
{
	const char **keys;
	int dup = 0;

	if (n <= 64)
		return dup_keys(m, n);
	keys = pg_malloc(n * sizeof(*keys));
	if (!keys)
		return jp_fail(j, -ENOMEM, "out of memory");
	for (size_t i = 0; i < n; i++)
		keys[i] = m[i].key;
	qsort(keys, n, sizeof(*keys), key_cmp);
	for (size_t i = 1; i < n && !dup; i++)
		dup = strcmp(keys[i - 1], keys[i]) == 0;
	pg_free(keys);
	return dup;
}

static int parse_container(struct jp *j, struct jval *v, bool object)
{
	size_t base = j->sp, n;
	char close = object ? '}' : ']';

	if (++j->depth > j->lim->max_depth)
		return jp_fail(j, -E2BIG, "nesting too deep");
	j->p++;
	skip_ws(j);
	if (j->p < j->end && *j->p == close) {
		j->p++;
		goto done;
	}
	for (;;) {
		struct jmember *m = push(j);
		struct jval tmp;
		size_t idx;

		if (!m)
			return j->rc;
		idx = j->sp - 1;
		if (j->sp - base > j->lim->max_members)
			return jp_fail(j, -E2BIG, "too many members");
		if (object) {
			uint32_t klen;
			uint8_t kflags = 0;
			const char *key;

			skip_ws(j);
			if (j->p >= j->end || *j->p != '"')
				return jp_fail(j, -EINVAL, "expected a string key");
			if (parse_string(j, &key, &klen, &kflags) < 0)
				return j->rc;
			if (kflags & JVF_NUL)
				return jp_fail(j, -EINVAL, "NUL in key");
			j->stack[idx].key = key;
			skip_ws(j);
			if (j->p >= j->end || *j->p != ':')
				return jp_fail(j, -EINVAL, "expected ':'");
			j->p++;
		} else {
			j->stack[idx].key = NULL;
		}
		/* The stack may move while the value parses: fill a copy. */
		if (parse_value(j, &tmp) < 0)
			return j->rc;
		j->stack[idx].val = tmp;
		skip_ws(j);
		if (j->p < j->end && *j->p == ',') {
			j->p++;
			continue;
		}
		if (j->p < j->end && *j->p == close) {
			j->p++;
			break;
		}
		return jp_fail(j, -EINVAL, object ? "expected ',' or '}'" : "expected ',' or ']'");
	}
done:
	n = j->sp - base;
	v->type = object ? JV_OBJECT : JV_ARRAY;
	v->n = (uint32_t)n;
	if (object) {
		int d;

		v->u.members = arena_alloc(j->a, (n ? n : 1) * sizeof(struct jmember));
		if (!v->u.members)
			return jp_fail(j, -ENOMEM, "out of memory");
		if (n)
			memcpy(v->u.members, j->stack + base, n * sizeof(struct jmember));
		d = has_dup_keys(j, v->u.members, n);
		if (d < 0)
			return d;
		if (d)
			return jp_fail(j, -EINVAL, "duplicate key");
	} else {
		v->u.items = arena_alloc(j->a, (n ? n : 1) * sizeof(struct jval));
		if (!v->u.items)
			return jp_fail(j, -ENOMEM, "out of memory");
		for (size_t i = 0; i < n; i++)
			v->u.items[i] = j->stack[base + i].val;
	}
	j->sp = base;
	j->depth--;
	return 0;
}

static int match_word(struct jp *j, const char *w, size_t n)
{
	if ((size_t)(j->end - j->p) < n || memcmp(j->p, w, n) != 0)
		return jp_fail(j, -EINVAL, "unexpected token");
	j->p += n;
	return 0;
}

static int parse_value(struct jp *j, struct jval *v)
{
	memset(v, 0, sizeof(*v));
	skip_ws(j);
	if (j->p >= j->end)
		return jp_fail(j, -EINVAL, "unexpected end of input");
	switch (*j->p) {
	case '{':
		return parse_container(j, v, true);
	case '[':
		return parse_container(j, v, false);
	case '"':
		v->type = JV_STRING;
		return parse_string(j, &v->u.s, &v->n, &v->flags);
	case 't':
		v->type = JV_TRUE;
		return match_word(j, "true", 4);
	case 'f':
		v->type = JV_FALSE;
		return match_word(j, "false", 5);
	case 'n':
		v->type = JV_NULL;
		return match_word(j, "null", 4);
	default:
		return parse_number(j, v);
	}
}

int jval_parse(const char *data, size_t len, const struct jval_limits *lim, struct arena *a,
	       const struct jval **ret_val, struct jval_error *err)
{
	struct jval_limits def = JVAL_LIMITS_DEFAULT;
	struct jp j = { .p = data, .start = data, .end = data + len, .lim = lim ? lim : &def,
			.a = a, .err = err };
	struct jval *root = arena_alloc(a, sizeof(*root));

	if (err)
		memset(err, 0, sizeof(*err));
	if (!root)
		return -ENOMEM;
	if (parse_value(&j, root) == 0) {
		skip_ws(&j);
		if (j.p != j.end)
			jp_fail(&j, -EINVAL, "trailing data after the JSON value");
	}
	pg_free(j.stack);
	if (j.rc)
		return j.rc;
	*ret_val = root;
	return 0;
}

static int from_json(json_t *js, struct arena *a, struct jval *v, int depth)
{
	memset(v, 0, sizeof(*v));
	if (depth > 128)
		return -E2BIG;
	switch (json_typeof(js)) {
	case JSON_OBJECT: {
		const char *k;
		json_t *x;
		size_t i = 0;

		v->type = JV_OBJECT;
		v->n = (uint32_t)json_object_size(js);
		v->u.members = arena_alloc(a, (v->n ? v->n : 1) * sizeof(struct jmember));
		if (!v->u.members)
			return -ENOMEM;
		json_object_foreach(js, k, x) {
			int r;

			/* Jansson keys are C strings but may be longer (2.14
			 * keeps a key's length): a cut key could shadow a
			 * real one. */
			if (json_object_iter_key_len(json_object_key_to_iter(k)) != strlen(k))
				return -EINVAL;
			if (!(v->u.members[i].key = arena_strdup(a, k)))
				return -ENOMEM;
			r = from_json(x, a, &v->u.members[i].val, depth + 1);
			if (r < 0)
				return r;
			i++;
		}
		return 0;
	}
	case JSON_ARRAY: {
		size_t i;
		json_t *x;

		v->type = JV_ARRAY;
		v->n = (uint32_t)json_array_size(js);
		v->u.items = arena_alloc(a, (v->n ? v->n : 1) * sizeof(struct jval));
		if (!v->u.items)
			return -ENOMEM;
		json_array_foreach(js, i, x) {
			int r = from_json(x, a, &v->u.items[i], depth + 1);

			if (r < 0)
				return r;
		}
		return 0;
	}
	case JSON_STRING:
		v->type = JV_STRING;
		v->n = (uint32_t)json_string_length(js);
		{
			char *s = arena_alloc(a, (size_t)v->n + 1);

			/* All n bytes, NULs included (JSON_ALLOW_NUL, YAML
			 * "\0"): readers see a NUL through JVF_NUL, never a
			 * shorter string. */
			if (!s)
				return -ENOMEM;
			memcpy(s, json_string_value(js), v->n);
			s[v->n] = '\0';
			v->u.s = s;
			if (memchr(s, '\0', v->n))
				v->flags |= JVF_NUL;
		}
		return 0;
	case JSON_INTEGER:
		v->type = JV_INT;
		v->u.i = json_integer_value(js);
		return 0;
	case JSON_REAL:
		v->type = JV_REAL;
		v->u.d = json_real_value(js);
		return 0;
	case JSON_TRUE:
		v->type = JV_TRUE;
		return 0;
	case JSON_FALSE:
		v->type = JV_FALSE;
		return 0;
	default:
		v->type = JV_NULL;
		return 0;
	}
}

int jval_from_json(json_t *j, struct arena *a, const struct jval **ret_val)
{
	struct jval *v = arena_alloc(a, sizeof(*v));
	int r;

	if (!v)
		return -ENOMEM;
	r = from_json(j, a, v, 0);
	if (r < 0)
		return r;
	*ret_val = v;
	return 0;
}

static json_t *to_json(const struct jval *v, int depth)
{
	json_t *j;

	if (depth > 128)
		return NULL;
	switch (v->type) {
	case JV_OBJECT:
		if (!(j = json_object()))
			return NULL;
		for (uint32_t i = 0; i < v->n; i++)
			if (json_object_set_new(j, v->u.members[i].key,
						to_json(&v->u.members[i].val, depth + 1)) < 0) {
				json_decref(j);
				return NULL;
			}
		return j;
	case JV_ARRAY:
		if (!(j = json_array()))
			return NULL;
		for (uint32_t i = 0; i < v->n; i++)
			if (json_array_append_new(j, to_json(&v->u.items[i], depth + 1)) < 0) {
				json_decref(j);
				return NULL;
			}
		return j;
	case JV_STRING:
		return json_stringn_nocheck(v->u.s, v->n);
	case JV_INT:
		return json_integer(v->u.i);
	case JV_REAL:
		return json_real(v->u.d);
	case JV_TRUE:
		return json_true();
	case JV_FALSE:
		return json_false();
	default:
		return json_null();
	}
}

json_t *jval_to_json(const struct jval *v)
{
	return to_json(v, 0);
}

static int copy_val(struct arena *a, const struct jval *v, struct jval *out)
{
	*out = *v;
	switch (v->type) {
	case JV_STRING: {
		char *s = arena_alloc(a, (size_t)v->n + 1);

		if (!s)
			return -ENOMEM;
		memcpy(s, v->u.s, (size_t)v->n + 1);
		out->u.s = s;
		return 0;
	}
	case JV_ARRAY:
		out->u.items = arena_alloc(a, (v->n ? v->n : 1) * sizeof(struct jval));
		if (!out->u.items)
			return -ENOMEM;
		for (uint32_t i = 0; i < v->n; i++)
			if (copy_val(a, &v->u.items[i], &out->u.items[i]) < 0)
				return -ENOMEM;
		return 0;
	case JV_OBJECT:
		out->u.members = arena_alloc(a, (v->n ? v->n : 1) * sizeof(struct jmember));
		if (!out->u.members)
			return -ENOMEM;
		for (uint32_t i = 0; i < v->n; i++) {
			if (!(out->u.members[i].key = arena_strdup(a, v->u.members[i].key)) ||
			    copy_val(a, &v->u.members[i].val, &out->u.members[i].val) < 0)
				return -ENOMEM;
		}
		return 0;
	default:
		return 0;
	}
}

int jval_copy(struct arena *a, const struct jval *v, const struct jval **ret_val)
{
	struct jval *out = arena_alloc(a, sizeof(*out));

	if (!out || copy_val(a, v, out) < 0)
		return -ENOMEM;
	*ret_val = out;
	return 0;
}

struct jval *jval_object_new(struct arena *a)
{
	struct jval *o = arena_alloc(a, sizeof(*o));

	if (o)
		o->type = JV_OBJECT;
	return o;
}

struct jval *jval_object_copy(struct arena *a, const struct jval *obj)
{
	struct jval *o;

	if (!jval_is_object(obj) || !(o = jval_object_new(a)))
		return NULL;
	if (obj->n && !(o->u.members = arena_alloc(a, obj->n * sizeof(struct jmember))))
		return NULL;
	if (obj->n)
		memcpy(o->u.members, obj->u.members, obj->n * sizeof(struct jmember));
	o->n = obj->n;
	return o;
}

int jval_object_set(struct arena *a, struct jval *obj, const char *key, const struct jval *val)
{
	struct jmember *m;

	for (uint32_t i = 0; i < obj->n; i++)
		if (strcmp(obj->u.members[i].key, key) == 0) {
			obj->u.members[i].val = *val;
			return 0;
		}
	/* Arena memory is not given back: the old array stays until the
	 * arena goes, which is fine for the few members built this way. */
	m = arena_alloc(a, ((size_t)obj->n + 1) * sizeof(*m));
	if (!m)
		return -ENOMEM;
	if (obj->n)
		memcpy(m, obj->u.members, obj->n * sizeof(*m));
	m[obj->n].key = key;
	m[obj->n].val = *val;
	obj->u.members = m;
	obj->n++;
	return 0;
}

void jval_object_del(struct jval *obj, const char *key)
{
	for (uint32_t i = 0; i < obj->n; i++)
		if (strcmp(obj->u.members[i].key, key) == 0) {
			memmove(&obj->u.members[i], &obj->u.members[i + 1],
				(obj->n - i - 1) * sizeof(struct jmember));
			obj->n--;
			return;
		}
}

const struct jval *jval_get(const struct jval *v, const char *key)
{
	if (!jval_is_object(v))
		return NULL;
	for (uint32_t i = 0; i < v->n; i++)
		if (v->u.members[i].key[0] == key[0] && strcmp(v->u.members[i].key, key) == 0)
			return &v->u.members[i].val;
	return NULL;
}

const char *jval_str(const struct jval *v)
{
	return jval_is_string(v) ? v->u.s : NULL;
}

const struct jval *jval_at(const struct jval *v, size_t i)
{
	return jval_is_array(v) && i < v->n ? &v->u.items[i] : NULL;
}

size_t jval_size(const struct jval *v)
{
	return v && (v->type == JV_ARRAY || v->type == JV_OBJECT) ? v->n : 0;
}
