/* idusage.c - an identity's bounded usage set (idusage.h). */
#include "idusage.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "idreport.h"
#include "xalloc.h"

#define DAY 86400

static int entry_cmp(const struct idusage_entry *e, const char *resource, const char *ns)
{
	int c = strcmp(e->resource, resource);

	return c ? c : strcmp(e->ns, ns);
}

/* The index of (@resource, @ns) or where it goes; *@found. */
static size_t lower(const struct idusage *u, const char *resource, const char *ns, bool *found)
{
	size_t lo = 0, hi = u->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (entry_cmp(&u->v[mid], resource, ns) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	*found = lo < u->n && entry_cmp(&u->v[lo], resource, ns) == 0;
	return lo;
}

static bool has_verb(const char *verbs, const char *verb, size_t lv)
{
	for (const char *p = verbs; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);

		if (n == lv && memcmp(p, verb, lv) == 0)
			return true;
		p += n + (c ? 1 : 0);
	}
	return false;
}

/* @verbs with @verb inserted in order; NULL out of memory. */
static char *with_verb(const char *verbs, const char *verb, size_t lv)
{
	size_t lo = strlen(verbs);
	char *out = pg_malloc(lo + lv + 2), *w = out;
	bool put = false;

	if (!out)
		return NULL;
	for (const char *p = verbs; *p;) {
		const char *c = strchr(p, ',');
		size_t n = c ? (size_t)(c - p) : strlen(p);
		int cmp = strncmp(p, verb, n < lv ? n : lv);

		if (!put && (cmp > 0 || (cmp == 0 && n > lv))) {
			memcpy(w, verb, lv);
			w += lv;
			*w++ = ',';
			put = true;
		}
		memcpy(w, p, n);
		w += n;
		*w++ = ',';
		p += n + (c ? 1 : 0);
	}
	if (!put) {
		memcpy(w, verb, lv);
		w += lv;
		*w++ = ',';
	}
	w[-1] = '\0';
	return out;
}

static void entry_free(struct idusage_entry *e)
{
	pg_free(e->resource);
	pg_free(e->ns);
	pg_free(e->verbs);
}

static void entry_remove(struct idusage *u, size_t i)
{
	entry_free(&u->v[i]);
	memmove(&u->v[i], &u->v[i + 1], (u->n - i - 1) * sizeof(u->v[0]));
	u->n--;
}

/* The least recently seen entry (the last in order among equals). */
static size_t oldest(const struct idusage *u)
{
	size_t k = 0;

	for (size_t i = 1; i < u->n; i++)
		if (u->v[i].day <= u->v[k].day)
			k = i;
	return k;
}

int idusage_add(struct idusage *u, const char *verb, const char *resource, const char *ns, int64_t when,
		bool *changed)
{
	int64_t day = when >= 0 ? when - when % DAY : 0;
	size_t lv = verb ? strlen(verb) : 0, i;
	struct idusage_entry *e;
	bool found, dummy;

	if (!changed)
		changed = &dummy;
	*changed = false;
	if (!ns)
		ns = "";
	if (!lv || !resource || !*resource || lv > IDUSAGE_VERB_MAX || strchr(verb, ',') ||
	    strlen(resource) > IDUSAGE_RESOURCE_MAX || strlen(ns) > IDUSAGE_NS_MAX) {
		u->omitted++;
		*changed = true;
		return 0;
	}
	i = lower(u, resource, ns, &found);
	if (found) {
		e = &u->v[i];
		if (!has_verb(e->verbs, verb, lv)) {
			char *v;

			if (e->nverbs == IDUSAGE_MAX_VERBS) {
				u->omitted++;
				*changed = true;
				return 0;
			}
			v = with_verb(e->verbs, verb, lv);
			if (!v)
				return -ENOMEM;
			pg_free(e->verbs);
			e->verbs = v;
			e->nverbs++;
			*changed = true;
		}
		if (day > e->day) {
			e->day = day;
			*changed = true;
		}
		return 0;
	}
	if (u->n == IDUSAGE_MAX) {
		size_t k = oldest(u);

		/* The most recent are kept; the one that goes is counted. */
		u->omitted++;
		*changed = true;
		if (u->v[k].day > day)
			return 0;
		entry_remove(u, k);
		if (k < i)
			i--;
	}
	if (u->n == u->cap) {
		size_t cap = u->cap ? u->cap * 2 : 4;
		struct idusage_entry *v;

		if (cap > IDUSAGE_MAX)
			cap = IDUSAGE_MAX;
		v = pg_realloc(u->v, cap * sizeof(u->v[0]));
		if (!v)
			return -ENOMEM;
		u->v = v;
		u->cap = cap;
	}
	{
		struct idusage_entry n = { pg_strdup(resource), pg_strdup(ns), pg_malloc(lv + 1), 1, day };

		if (!n.resource || !n.ns || !n.verbs) {
			entry_free(&n);
			return -ENOMEM;
		}
		memcpy(n.verbs, verb, lv + 1);
		memmove(&u->v[i + 1], &u->v[i], (u->n - i) * sizeof(u->v[0]));
		u->v[i] = n;
		u->n++;
	}
	*changed = true;
	return 0;
}

bool idusage_prune(struct idusage *u, int64_t before)
{
	bool any = false;

	for (size_t i = u->n; i-- > 0;) {
		if (u->v[i].day + DAY <= before) {
			entry_remove(u, i);
			any = true;
		}
	}
	return any;
}

json_t *idusage_json(const struct idusage *u)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < u->n; i++) {
		const struct idusage_entry *e = &u->v[i];
		json_t *o = json_object(), *vs = json_array();
		char day[11];

		if (!o || !vs || json_array_append_new(a, o) < 0) {
			json_decref(vs);
			goto fail;
		}
		for (const char *p = e->verbs; *p;) {
			const char *c = strchr(p, ',');
			size_t n = c ? (size_t)(c - p) : strlen(p);

			if (json_array_append_new(vs, json_stringn(p, n)) < 0) {
				json_decref(vs);
				goto fail;
			}
			p += n + (c ? 1 : 0);
		}
		idreport_day(e->day, day);
		if (json_object_set_new(o, "verbs", vs) < 0 ||
		    json_object_set_new(o, "resource", json_string(e->resource)) < 0 ||
		    (*e->ns && json_object_set_new(o, "namespace", json_string(e->ns)) < 0) ||
		    json_object_set_new(o, "lastSeen", json_string(day)) < 0)
			goto fail;
	}
	return a;
fail:
	json_decref(a);
	return NULL;
}

void idusage_free(struct idusage *u)
{
	for (size_t i = 0; i < u->n; i++)
		entry_free(&u->v[i]);
	pg_free(u->v);
	*u = IDUSAGE_INIT;
}
