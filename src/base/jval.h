/* jval.h - a fast, read-only JSON reader into one arena: the one tree the
 * model reads (profiles, selectors, pods, manifests), from AdmissionReviews
 * at the webhook, list pages and watch events in every informer, and YAML
 * documents copied over by doc_parse_jval().  Jansson (45 MB/s here, a
 * malloc per node) stays for writing and cold paths; this reader does one
 * pass, no per-node malloc, and is strict: valid UTF-8, no duplicate keys
 * (a key read twice is how a parser differential smuggles a field past a
 * policy), bounded depth. */
#ifndef PG_JVAL_H
#define PG_JVAL_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct arena;

enum jtype { JV_NULL, JV_FALSE, JV_TRUE, JV_INT, JV_REAL, JV_STRING, JV_ARRAY, JV_OBJECT };

struct jmember;

/* jval.flags */
#define JVF_NUL 0x01            /* a string holding U+0000 (from "\u0000") */

struct jval {
	uint8_t type;           /* enum jtype */
	uint8_t flags;          /* JVF_* */
	uint32_t n;             /* members, items, or string length */
	union {
		int64_t i;
		double d;
		/* NUL-terminated after its n bytes; holds a NUL of its own
		 * only when JVF_NUL is set, and then jval_str() refuses it. */
		const char *s;
		struct jval *items;
		struct jmember *members;
	} u;
};

struct jmember {
	const char *key;
	struct jval val;
};

struct jval_limits {
	size_t max_depth;
	size_t max_members;     /* per object or array */
};

#define JVAL_LIMITS_DEFAULT ((struct jval_limits){ 64, 1 << 20 })

struct jval_error {
	size_t offset;
	char msg[128];
};

/* Parses one JSON value filling @len bytes (whitespace around allowed)
 * into @a.  Returns 0 with *ret_val (in the arena), -EINVAL with @err for
 * bad input, -E2BIG for a limit hit, -ENOMEM. */
int jval_parse(const char *data, size_t len, const struct jval_limits *lim, struct arena *a,
	       const struct jval **ret_val, struct jval_error *err);
/* Copies a jansson value into @a (the YAML path uses it): -EINVAL for a
 * key holding a NUL, -E2BIG past a depth of 128, -ENOMEM. */
int jval_from_json(json_t *j, struct arena *a, const struct jval **ret_val);
/* A new jansson value equal to @v (NULs in strings kept), for writing
 * out or measuring what was read: NULL on allocation failure or past a
 * depth of 128. */
json_t *jval_to_json(const struct jval *v);

/* A deep copy of @v into @a, for a tree kept past the arena it was read
 * into.  0 or -ENOMEM. */
int jval_copy(struct arena *a, const struct jval *v, const struct jval **ret_val);

/* Building objects in @a, for the few places that derive one object from
 * another (cold paths).  Keys are borrowed: they must outlive the object.
 * Values are copied shallowly, sharing their children. */
struct jval *jval_object_new(struct arena *a);
/* A new object holding @obj's members, in order; NULL when @obj is not
 * an object or on allocation failure. */
struct jval *jval_object_copy(struct arena *a, const struct jval *obj);
/* Replaces @key's value in place, or appends the member: the order
 * jansson's json_object_set() gives.  0 or -ENOMEM. */
int jval_object_set(struct arena *a, struct jval *obj, const char *key, const struct jval *val);
/* Removes @key, keeping the order of the others. */
void jval_object_del(struct jval *obj, const char *key);

/* Lookups: NULL when @v is not an object or has no such key. */
const struct jval *jval_get(const struct jval *v, const char *key);
/* Borrowed string, NULL unless @v is a string without an embedded NUL:
 * a C string cut at a NUL would be judged as its prefix ("x\u0000evil"
 * read as "x"), so such a string reads as no string at all, and
 * jval_is_string() says the same.  Readers that must name the problem
 * test jval_has_nul() first. */
const char *jval_str(const struct jval *v);
/* Any string, one holding U+0000 included, read as a C string (so only
 * up to its first NUL), as jansson's json_string_value() reads it; NULL
 * when @v is not a string.  For the readers that sort objects by a field
 * (kind, apiVersion) or that validate and leave naming the NUL to a check
 * of their own (profile_parse()): never for a value that is judged. */
static inline const char *jval_cstr(const struct jval *v) { return v && v->type == JV_STRING ? v->u.s : NULL; }
/* True when @v is a string holding U+0000. */
static inline bool jval_has_nul(const struct jval *v) { return v && v->type == JV_STRING && (v->flags & JVF_NUL); }
/* Item @i of an array, NULL when out of range or not an array. */
const struct jval *jval_at(const struct jval *v, size_t i);
/* Number of items (array) or members (object); 0 otherwise. */
size_t jval_size(const struct jval *v);

static inline bool jval_is_null(const struct jval *v) { return !v || v->type == JV_NULL; }
static inline bool jval_is_object(const struct jval *v) { return v && v->type == JV_OBJECT; }
static inline bool jval_is_array(const struct jval *v) { return v && v->type == JV_ARRAY; }
/* A string without an embedded NUL (see jval_str()). */
static inline bool jval_is_string(const struct jval *v) { return v && v->type == JV_STRING && !(v->flags & JVF_NUL); }
static inline bool jval_is_bool(const struct jval *v) { return v && (v->type == JV_TRUE || v->type == JV_FALSE); }
static inline bool jval_is_true(const struct jval *v) { return v && v->type == JV_TRUE; }
static inline bool jval_is_int(const struct jval *v) { return v && v->type == JV_INT; }

#define jval_foreach_member(obj, m) \
	for (const struct jmember *m = jval_is_object(obj) ? (obj)->u.members : NULL; \
	     m && m < (obj)->u.members + (obj)->n; m++)
/* @idx is a size_t and @it a const struct jval * of the caller's. */
#define jval_foreach_item(arr, idx, it) \
	for ((idx) = 0; jval_is_array(arr) && (idx) < (arr)->n && ((it) = &(arr)->u.items[idx]); (idx)++)

#endif
