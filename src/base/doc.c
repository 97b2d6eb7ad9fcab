/* doc.c - YAML (libyaml events) and JSON (jansson) to json_t trees. */
#include "doc.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <yaml.h>

#include "arena.h"
#include "fdio.h"
#include "jval.h"
#include "strutil.h"
#include "xalloc.h"

static void set_err(struct doc_error *err, size_t doc, size_t line, size_t col,
		    const char *fmt, ...) __attribute__((format(printf, 5, 6)));

static void set_err(struct doc_error *err, size_t doc, size_t line, size_t col,
		    const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return;
	err->doc = doc;
	err->line = line;
	err->column = col;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
}

/* ---- scalars ----------------------------------------------------------- */

static bool scalar_is(const char *v, const char *const *set)
{
	for (; *set; set++)
		if (strcmp(v, *set) == 0)
			return true;
	return false;
}

static const char *const null_words[] = { "", "~", "null", "Null", "NULL", NULL };
static const char *const true_words[] = { "true", "True", "TRUE", "yes", "Yes", "YES",
					  "y", "Y", "on", "On", "ON", NULL };
static const char *const false_words[] = { "false", "False", "FALSE", "no", "No", "NO",
					   "n", "N", "off", "Off", "OFF", NULL };

/* YAML 1.1 integers as go-yaml reads them: decimal, 0x hex, 0o or leading-0
 * octal, optional sign. */
static bool scalar_int(const char *v, json_int_t *ret)
{
	const char *p = v;
	bool neg = false;
	int base = 10;
	unsigned long long acc = 0;

	if (*p == '+' || *p == '-')
		neg = *p++ == '-';
	if (!*p)
		return false;
	if (p[0] == '0' && (p[1] == 'x' || p[1] == 'X')) {
		base = 16;
		p += 2;
	} else if (p[0] == '0' && p[1] == 'o') {
		base = 8;
		p += 2;
	} else if (p[0] == '0' && p[1]) {
		base = 8;
		p++;
	}
	if (!*p)
		return false;
	for (; *p; p++) {
		int d;

		if (*p >= '0' && *p <= '9')
			d = *p - '0';
		else if (base == 16 && *p >= 'a' && *p <= 'f')
			d = *p - 'a' + 10;
		else if (base == 16 && *p >= 'A' && *p <= 'F')
			d = *p - 'A' + 10;
		else
			return false;
		if (d >= base)
			return false;
		if (acc > (9223372036854775807ULL - (unsigned)d) / (unsigned)base)
			return false;
		acc = acc * (unsigned)base + (unsigned)d;
	}
	*ret = neg ? -(json_int_t)acc : (json_int_t)acc;
	return true;
}

static bool scalar_float(const char *v, double *ret)
{
	const char *p = v;
	bool digits = false;
	char *end;

	if (*p == '+' || *p == '-')
		p++;
	/* Only the YAML float grammar, not everything strtod takes (hex
	 * floats, "inf", "nan" stay strings: JSON cannot hold them). */
	for (const char *q = p; *q; q++) {
		if (*q >= '0' && *q <= '9')
			digits = true;
		else if (*q != '.' && *q != 'e' && *q != 'E' && *q != '+' && *q != '-')
			return false;
	}
	if (!digits || !strchr(p, '.'))
		if (!strpbrk(p, "eE"))
			return false;
	*ret = strtod(v, &end);
	return *end == '\0' && isfinite(*ret);
}

/* Resolves a scalar to a JSON value: tags first, then (for plain scalars
 * only) the YAML 1.1 core schema.  NULL with @why set on a tag mismatch. */
static json_t *scalar_value(const yaml_event_t *ev, const char **why)
{
	const char *v = (const char *)ev->data.scalar.value;
	const char *tag = (const char *)ev->data.scalar.tag;
	bool plain = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE;
	json_int_t i;
	double d;

	if (tag && strcmp(tag, "!") != 0) {
		if (strcmp(tag, YAML_STR_TAG) == 0)
			return json_stringn(v, ev->data.scalar.length);
		if (strcmp(tag, YAML_NULL_TAG) == 0)
			return json_null();
		if (strcmp(tag, YAML_BOOL_TAG) == 0) {
			if (scalar_is(v, true_words))
				return json_true();
			if (scalar_is(v, false_words))
				return json_false();
			*why = "value tagged !!bool is not a boolean";
			return NULL;
		}
		if (strcmp(tag, YAML_INT_TAG) == 0) {
			if (scalar_int(v, &i))
				return json_integer(i);
			*why = "value tagged !!int is not an integer";
			return NULL;
		}
		if (strcmp(tag, YAML_FLOAT_TAG) == 0) {
			if (scalar_int(v, &i))
				return json_real((double)i);
			if (scalar_float(v, &d))
				return json_real(d);
			*why = "value tagged !!float is not a number";
			return NULL;
		}
		/* Unknown local tags (!foo) keep the scalar as a string, as
		 * sigs.k8s.io/yaml does. */
		return json_stringn(v, ev->data.scalar.length);
	}
	if (!plain || (tag && strcmp(tag, "!") == 0))
		return json_stringn(v, ev->data.scalar.length);
	if (scalar_is(v, null_words))
		return json_null();
	if (scalar_is(v, true_words))
		return json_true();
	if (scalar_is(v, false_words))
		return json_false();
	if (scalar_int(v, &i))
		return json_integer(i);
	if (scalar_float(v, &d))
		return json_real(d);
	return json_stringn(v, ev->data.scalar.length);
}

/* ---- the YAML composer -------------------------------------------------- */

struct frame {
	json_t *node;           /* object or array under construction */
	char *anchor;           /* owned, registered when the node ends */
	char *key;              /* pending mapping key, owned */
	bool key_is_merge;
	size_t nodes_at_start;
	json_t *merges;         /* array of mappings from "<<" keys */
};

struct anchor {
	char *name;
	json_t *node;
	size_t weight;          /* nodes it stands for */
};

struct composer {
	const struct doc_limits *lim;
	struct doc_error *err;
	size_t doc;
	struct frame *stack;
	size_t depth;
	size_t stack_cap;
	struct anchor *anchors;
	size_t nanchors, anchors_cap;
	size_t nodes;
	json_t *root;
};

static void composer_reset_doc(struct composer *c)
{
	for (size_t i = 0; i < c->depth; i++) {
		json_decref(c->stack[i].node);
		json_decref(c->stack[i].merges);
		pg_free(c->stack[i].anchor);
		pg_free(c->stack[i].key);
	}
	c->depth = 0;
	for (size_t i = 0; i < c->nanchors; i++) {
		pg_free(c->anchors[i].name);
		json_decref(c->anchors[i].node);
	}
	c->nanchors = 0;
	c->nodes = 0;
	json_decref(c->root);
	c->root = NULL;
}

static struct anchor *anchor_find(struct composer *c, const char *name)
{
	/* Latest definition wins, as YAML redefinition demands. */
	for (size_t i = c->nanchors; i > 0; i--)
		if (strcmp(c->anchors[i - 1].name, name) == 0)
			return &c->anchors[i - 1];
	return NULL;
}

static int anchor_add(struct composer *c, char *name, json_t *node, size_t weight)
{
	if (c->nanchors == c->anchors_cap) {
		size_t ncap = c->anchors_cap ? c->anchors_cap * 2 : 8;
		struct anchor *p = pg_realloc(c->anchors, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->anchors = p;
		c->anchors_cap = ncap;
	}
	c->anchors[c->nanchors].name = name;
	c->anchors[c->nanchors].node = json_incref(node);
	c->anchors[c->nanchors].weight = weight;
	c->nanchors++;
	return 0;
}

static void mark(struct composer *c, const yaml_event_t *ev, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void mark(struct composer *c, const yaml_event_t *ev, const char *fmt, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	set_err(c->err, c->doc, ev->start_mark.line + 1, ev->start_mark.column + 1, "%s", msg);
}

/* Places a finished @node (reference stolen) into the parent frame, or
 * makes it the document root. */
static int composer_place(struct composer *c, json_t *node, const yaml_event_t *ev)
{
	struct frame *f;

	if (!node)
		return -ENOMEM;
	if (c->depth == 0) {
		c->root = node;
		return 0;
	}
	f = &c->stack[c->depth - 1];
	if (json_is_array(f->node))
		return json_array_append_new(f->node, node) ? -ENOMEM : 0;

	if (!f->key) {
		/* A key must be a scalar: Kubernetes objects have no others. */
		if (!json_is_string(node) && !json_is_integer(node) && !json_is_boolean(node) &&
		    !json_is_null(node) && !json_is_real(node)) {
			json_decref(node);
			mark(c, ev, "mapping keys must be scalars");
			return -EINVAL;
		}
		json_decref(node);
		return 1;       /* caller stores the key text itself */
	}
	if (f->key_is_merge) {
		pg_free(f->key);
		f->key = NULL;
		if (!json_is_object(node) && !json_is_array(node)) {
			json_decref(node);
			mark(c, ev, "merge key \"<<\" needs a mapping or a list of mappings");
			return -EINVAL;
		}
		if (!f->merges && !(f->merges = json_array())) {
			json_decref(node);
			return -ENOMEM;
		}
		return json_array_append_new(f->merges, node) ? -ENOMEM : 0;
	}
	if (json_object_get(f->node, f->key)) {
		mark(c, ev, "duplicate key \"%s\"", f->key);
		json_decref(node);
		return -EINVAL;
	}
	if (json_object_set_new(f->node, f->key, node)) {
		pg_free(f->key);
		f->key = NULL;
		return -ENOMEM;
	}
	pg_free(f->key);
	f->key = NULL;
	return 0;
}

static int composer_count(struct composer *c, size_t n, const yaml_event_t *ev)
{
	if (n > c->lim->max_nodes || c->nodes > c->lim->max_nodes - n) {
		set_err(c->err, c->doc, ev->start_mark.line + 1, ev->start_mark.column + 1,
			"document has more than %zu nodes (aliases counted at full size)",
			c->lim->max_nodes);
		return -E2BIG;
	}
	c->nodes += n;
	return 0;
}

/* Scalars arrive as keys or values; keys are stored as text. */
static int composer_scalar(struct composer *c, const yaml_event_t *ev)
{
	struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
	const char *why = NULL;
	json_t *v;
	int r;

	r = composer_count(c, 1, ev);
	if (r < 0)
		return r;
	if (f && json_is_object(f->node) && !f->key) {
		const char *text = (const char *)ev->data.scalar.value;

		if (strlen(text) != ev->data.scalar.length) {
			mark(c, ev, "mapping key contains a NUL byte");
			return -EINVAL;
		}
		f->key = pg_strdup(text);
		if (!f->key)
			return -ENOMEM;
		f->key_is_merge = ev->data.scalar.style == YAML_PLAIN_SCALAR_STYLE &&
				  strcmp(text, "<<") == 0;
		if (ev->data.scalar.anchor) {
			json_t *k = json_string(text);
			char *name = pg_strdup((const char *)ev->data.scalar.anchor);

			if (!k || !name || anchor_add(c, name, k, 1) < 0) {
				json_decref(k);
				pg_free(name);
				return -ENOMEM;
			}
			json_decref(k);
		}
		return 0;
	}
	v = scalar_value(ev, &why);
	if (!v) {
		if (why) {
			mark(c, ev, "%s", why);
			return -EINVAL;
		}
		return -ENOMEM;
	}
	if (ev->data.scalar.anchor) {
		char *name = pg_strdup((const char *)ev->data.scalar.anchor);

		if (!name || anchor_add(c, name, v, 1) < 0) {
			pg_free(name);
			json_decref(v);
			return -ENOMEM;
		}
	}
	return composer_place(c, v, ev);
}

static int composer_alias(struct composer *c, const yaml_event_t *ev)
{
	const char *name = (const char *)ev->data.alias.anchor;
	struct frame *f = c->depth ? &c->stack[c->depth - 1] : NULL;
	struct anchor *a = anchor_find(c, name);
	int r;

	if (!a) {
		mark(c, ev, "unknown anchor \"%s\"", name);
		return -EINVAL;
	}
	r = composer_count(c, a->weight, ev);
	if (r < 0)
		return r;
	if (f && json_is_object(f->node) && !f->key) {
		if (!json_is_string(a->node)) {
			mark(c, ev, "alias \"%s\" used as a key is not a string", name);
			return -EINVAL;
		}
		f->key = pg_strdup(json_string_value(a->node));
		f->key_is_merge = false;
		return f->key ? 0 : -ENOMEM;
	}
	/* Sharing the node is safe: anchors register only once complete, so
	 * no cycle can form, and the node count above bounds the expansion. */
	return composer_place(c, json_incref(a->node), ev);
}

static int composer_open(struct composer *c, const yaml_event_t *ev, bool mapping)
{
	const yaml_char_t *anchor = mapping ? ev->data.mapping_start.anchor
					    : ev->data.sequence_start.anchor;
	struct frame *f;
	int r;

	if (c->depth > 0) {
		struct frame *parent = &c->stack[c->depth - 1];

		if (json_is_object(parent->node) && !parent->key) {
			mark(c, ev, "mapping keys must be scalars");
			return -EINVAL;
		}
	}
	if (c->depth >= c->lim->max_depth) {
		set_err(c->err, c->doc, ev->start_mark.line + 1, ev->start_mark.column + 1,
			"document nests deeper than %zu levels", c->lim->max_depth);
		return -E2BIG;
	}
	r = composer_count(c, 1, ev);
	if (r < 0)
		return r;
	if (c->depth == c->stack_cap) {
		size_t ncap = c->stack_cap ? c->stack_cap * 2 : 16;
		struct frame *p = pg_realloc(c->stack, ncap * sizeof(*p));

		if (!p)
			return -ENOMEM;
		c->stack = p;
		c->stack_cap = ncap;
	}
	f = &c->stack[c->depth];
	memset(f, 0, sizeof(*f));
	f->node = mapping ? json_object() : json_array();
	if (!f->node)
		return -ENOMEM;
	if (anchor && !(f->anchor = pg_strdup((const char *)anchor))) {
		json_decref(f->node);
		return -ENOMEM;
	}
	f->nodes_at_start = c->nodes;
	c->depth++;
	return 0;
}

/* Applies "<<" merges: explicit keys win, then earlier sources win. */
static int composer_merge(struct composer *c, struct frame *f, const yaml_event_t *ev)
{
	size_t i;
	json_t *src;

	json_array_foreach(f->merges, i, src) {
		json_t *list = src;
		size_t j;
		json_t *m;

		if (json_is_object(src)) {
			if (json_object_update_missing(f->node, src))
				return -ENOMEM;
			continue;
		}
		json_array_foreach(list, j, m) {
			if (!json_is_object(m)) {
				mark(c, ev, "merge key \"<<\" list holds a non-mapping");
				return -EINVAL;
			}
			if (json_object_update_missing(f->node, m))
				return -ENOMEM;
		}
	}
	return 0;
}

static int composer_close(struct composer *c, const yaml_event_t *ev)
{
	struct frame *f = &c->stack[c->depth - 1];
	json_t *node = f->node;
	size_t weight = c->nodes - f->nodes_at_start;
	char *anchor = f->anchor;
	int r = 0;

	if (f->merges) {
		r = composer_merge(c, f, ev);
		json_decref(f->merges);
		f->merges = NULL;
	}
	pg_free(f->key);
	f->key = NULL;
	f->anchor = NULL;
	c->depth--;
	if (r < 0) {
		pg_free(anchor);
		json_decref(node);
		return r;
	}
	if (anchor && anchor_add(c, anchor, node, weight ? weight : 1) < 0) {
		pg_free(anchor);
		json_decref(node);
		return -ENOMEM;
	}
	return composer_place(c, node, ev);
}

static int yaml_stream(const char *data, size_t len, const struct doc_limits *lim,
		       doc_fn fn, void *ud, struct doc_error *err)
{
	struct composer c = { .lim = lim, .err = err };
	yaml_parser_t parser;
	yaml_event_t ev;
	bool done = false;
	int r = 0;

	if (!yaml_parser_initialize(&parser))
		return -ENOMEM;
	yaml_parser_set_input_string(&parser, (const unsigned char *)data, len);

	while (!done) {
		if (!yaml_parser_parse(&parser, &ev)) {
			set_err(err, c.doc ? c.doc : 1, parser.problem_mark.line + 1,
				parser.problem_mark.column + 1, "YAML syntax error: %s%s%s",
				parser.problem ? parser.problem : "unknown",
				parser.context ? " " : "", parser.context ? parser.context : "");
			r = parser.error == YAML_MEMORY_ERROR ? -ENOMEM : -EINVAL;
			break;
		}
		switch (ev.type) {
		case YAML_STREAM_END_EVENT:
			done = true;
			break;
		case YAML_DOCUMENT_START_EVENT:
			c.doc++;
			if (c.doc > lim->max_docs) {
				set_err(err, c.doc, ev.start_mark.line + 1, 1,
					"more than %zu documents", lim->max_docs);
				r = -E2BIG;
			}
			break;
		case YAML_DOCUMENT_END_EVENT:
			if (c.root && !json_is_null(c.root))
				r = fn(ud, c.doc, c.root);
			composer_reset_doc(&c);
			break;
		case YAML_SCALAR_EVENT:
			r = composer_scalar(&c, &ev);
			break;
		case YAML_ALIAS_EVENT:
			r = composer_alias(&c, &ev);
			break;
		case YAML_SEQUENCE_START_EVENT:
			r = composer_open(&c, &ev, false);
			break;
		case YAML_MAPPING_START_EVENT:
			r = composer_open(&c, &ev, true);
			break;
		case YAML_SEQUENCE_END_EVENT:
		case YAML_MAPPING_END_EVENT:
			r = composer_close(&c, &ev);
			break;
		default:
			break;
		}
		yaml_event_delete(&ev);
		if (r == 1)
			r = 0;
		if (r < 0)
			break;
	}
	if (r == -ENOMEM && err && !err->msg[0])
		set_err(err, c.doc, 0, 0, "out of memory");
	composer_reset_doc(&c);
	pg_free(c.stack);
	pg_free(c.anchors);
	yaml_parser_delete(&parser);
	return r;
}

/* ---- JSON --------------------------------------------------------------- */

static int json_stream(const char *data, size_t len, const struct doc_limits *lim,
		       doc_fn fn, void *ud, struct doc_error *err)
{
	size_t off = 0, index = 0;

	for (;;) {
		json_error_t jerr;
		json_t *v;
		int r;

		while (off < len && strchr(" \t\r\n", data[off]))
			off++;
		if (off >= len)
			return 0;
		if (++index > lim->max_docs) {
			set_err(err, index, 0, 0, "more than %zu documents", lim->max_docs);
			return -E2BIG;
		}
		v = json_loadb(data + off, len - off,
			       JSON_DISABLE_EOF_CHECK | JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
		if (!v) {
			set_err(err, index, (size_t)(jerr.line > 0 ? jerr.line : 0),
				(size_t)(jerr.column > 0 ? jerr.column : 0), "JSON syntax error: %s",
				jerr.text);
			return -EINVAL;
		}
		off += jerr.position;
		r = json_is_null(v) ? 0 : fn(ud, index, v);
		json_decref(v);
		if (r < 0)
			return r;
	}
}

struct counting {
	doc_fn fn;
	void *ud;
	size_t *delivered;
};

static int counting_fn(void *ud, size_t index, json_t *doc)
{
	struct counting *c = ud;

	(*c->delivered)++;
	return c->fn(c->ud, index, doc);
}

int doc_parse(const char *data, size_t len, const struct doc_limits *lim,
	      doc_fn fn, void *ud, struct doc_error *err)
{
	struct doc_limits def = DOC_LIMITS_DEFAULT;
	size_t i = 0;

	if (err)
		memset(err, 0, sizeof(*err));
	if (!lim)
		lim = &def;
	if (len >= 3 && memcmp(data, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	while (i < len && strchr(" \t\r\n", data[i]))
		i++;
	if (i < len && (data[i] == '{' || data[i] == '[')) {
		struct doc_error jerr = { 0 };
		size_t delivered = 0;
		struct counting cnt = { fn, ud, &delivered };
		int r = json_stream(data + i, len - i, lim, counting_fn, &cnt, &jerr);

		/* A YAML flow mapping ("{app: a}") also starts with '{': when
		 * strict JSON fails before delivering anything, read it as
		 * YAML, and keep the JSON error if that fails too. */
		if (r != -EINVAL || delivered > 0) {
			if (err)
				*err = jerr;
			return r;
		}
		r = yaml_stream(data, len, lim, fn, ud, err);
		if (r == -EINVAL && err)
			*err = jerr;
		return r;
	}
	return yaml_stream(data, len, lim, fn, ud, err);
}

struct to_jval {
	doc_jval_fn fn;
	void *ud;
	struct doc_error *err;
};

static int to_jval_fn(void *ud, size_t index, json_t *doc)
{
	struct to_jval *t = ud;
	struct arena *a = arena_new(16 * 1024);
	const struct jval *v;
	int r;

	if (!a)
		return -ENOMEM;
	r = jval_from_json(doc, a, &v);
	if (r == -EINVAL)
		set_err(t->err, index, 0, 0, "a mapping key contains a NUL byte");
	else if (r == -E2BIG)
		set_err(t->err, index, 0, 0, "document nests deeper than 128 levels");
	if (r == 0)
		r = t->fn(t->ud, index, v);
	arena_free(a);
	return r;
}

int doc_parse_jval(const char *data, size_t len, const struct doc_limits *lim,
		   doc_jval_fn fn, void *ud, struct doc_error *err)
{
	struct to_jval t = { fn, ud, err };

	return doc_parse(data, len, lim, to_jval_fn, &t, err);
}

int doc_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len)
{
	bool is_stdin = strcmp(path, "-") == 0;
	int fd = is_stdin ? STDIN_FILENO : open(path, O_RDONLY | O_CLOEXEC);
	size_t len = 0, cap = 0;
	char *data = NULL;
	int r = 0;

	if (fd < 0)
		return -errno;
	for (;;) {
		size_t want;
		ssize_t n;

		if (cap - len < 2) {
			size_t ncap = cap ? cap * 2 : 64 * 1024;
			char *p;

			if (ncap > max + 2)
				ncap = max + 2;
			if (ncap <= cap) {
				r = -EFBIG;
				break;
			}
			p = pg_realloc(data, ncap);
			if (!p) {
				r = -ENOMEM;
				break;
			}
			data = p;
			cap = ncap;
		}
		want = cap - len - 1;
		n = fdio_read_full(fd, data + len, want);
		if (n < 0) {
			r = (int)n;
			break;
		}
		len += (size_t)n;
		if (len > max) {
			r = -EFBIG;
			break;
		}
		if ((size_t)n < want)
			break;          /* short: the end of the file */
	}
	if (!is_stdin)
		close(fd);
	if (r < 0) {
		pg_free(data);
		return r;
	}
	if (!data && !(data = pg_malloc(1)))
		return -ENOMEM;
	data[len] = '\0';
	*ret_data = data;
	*ret_len = len;
	return 0;
}
