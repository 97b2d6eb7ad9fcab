/* cmd_check.c - `profileguard check`: the engine over manifests, offline,
 * with the webhook's exact messages.  Exit 0 pass, 1 Enforce violations,
 * 2 bad input (SPEC §6).  An object no profile judged, or a profile that
 * judged nothing, is said out loud: a run that judged nothing must never
 * read like a pass.  The JSON it prints is documented in docs/check.md. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "engine.h"
#include "doc.h"
#include "errlist.h"
#include "manifest.h"
#include "pod.h"
#include "profile.h"
#include "runtime.h"
#include "telemetry.h"
#include "strutil.h"
#include "xalloc.h"

struct item {
	char *label;            /* "file: document N" */
	char *file;
	size_t doc, sub;
	json_t *obj;            /* owned reference */
	struct pod *pod;        /* after evaluation; NULL when it failed */
};

/* A profile loaded from -p, where it came from and whether it selected
 * anything: kept sorted by key after loading. */
struct pdef {
	char *key;              /* "ns/name" */
	char *label;            /* "file: document N" */
	char *file;
	char *real;             /* realpath(file), else file: one file named two ways */
	size_t doc, sub;
	bool used;
};

enum warn_type { W_PROFILE_IN_MANIFESTS, W_NOT_JUDGED, W_SELECTS_NOTHING };

struct warning {
	enum warn_type type;
	char *file, *kind, *ns, *name;
	size_t doc, sub;
	char *text;             /* the stderr line, without the prefix */
};

/* Warnings are one per input object or profile; past this many they are
 * counted, as errors are. */
#define CHECK_MAX_WARNINGS 1000

struct check {
	struct profile_set profiles;
	struct errlist errs;
	char **token_secrets;   /* "ns/name", sorted after loading */
	size_t ntoken_secrets;
	struct item *items;
	size_t nitems;
	size_t skipped;
	size_t profile_docs;
	const char *default_ns; /* -n, else "default" */
	struct pdef *pdefs;
	size_t npdefs;
	struct warning *warns;
	size_t nwarns, warns_dropped;
	int oom;
};

static char *origin_label(const struct manifest_origin *o)
{
	char tmp[4200];

	if (o->item)
		snprintf(tmp, sizeof(tmp), "%s: document %zu, item %zu", o->file, o->doc, o->item);
	else
		snprintf(tmp, sizeof(tmp), "%s: document %zu", o->file, o->doc);
	return pg_strdup(tmp);
}

/* An object that names no namespace is in -n's, as kubectl apply -n puts it. */
static const char *obj_ns(const struct check *c, json_t *obj)
{
	const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));

	return ns && *ns ? ns : c->default_ns;
}

static const char *obj_name(json_t *obj)
{
	json_t *meta = json_object_get(obj, "metadata");
	const char *n = json_string_value(json_object_get(meta, "name"));

	if (!n)
		n = json_string_value(json_object_get(meta, "generateName"));
	return n ? n : "";
}

static int add_token_secret(struct check *c, json_t *obj)
{
	char key[600];
	char **v;

	snprintf(key, sizeof(key), "%s/%s", obj_ns(c, obj), obj_name(obj));
	v = pg_realloc(c->token_secrets, (c->ntoken_secrets + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	c->token_secrets = v;
	if (!(v[c->ntoken_secrets] = pg_strdup(key)))
		return -ENOMEM;
	c->ntoken_secrets++;
	return 0;
}

static bool is_token_secret_obj(json_t *obj)
{
	return str_eq(json_string_value(json_object_get(obj, "kind")), "Secret") &&
	       str_eq(json_string_value(json_object_get(obj, "type")), "kubernetes.io/service-account-token");
}

static bool is_profile_obj(json_t *obj)
{
	return str_eq(json_string_value(json_object_get(obj, "kind")), "WorkloadProfile");
}

/* Validation errors come back as "path: msg"; prefix where they are. */
static int move_errors(struct check *c, struct errlist *from, const char *label)
{
	for (size_t i = 0; i < from->n; i++)
		if (errlist_add(&c->errs, "%s: %s", label, from->msgs[i]) < 0)
			return -ENOMEM;
	if (from->dropped && errlist_add(&c->errs, "%s: %zu more errors", label, from->dropped) < 0)
		return -ENOMEM;
	return 0;
}

static int add_warning(struct check *c, enum warn_type type, const char *file, size_t doc, size_t sub,
		       const char *kind, const char *ns, const char *name, const char *text)
{
	struct warning *w;

	if (c->nwarns >= CHECK_MAX_WARNINGS) {
		c->warns_dropped++;
		return 0;
	}
	w = pg_realloc(c->warns, (c->nwarns + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	c->warns = w;
	w = &c->warns[c->nwarns];
	*w = (struct warning){ .type = type, .doc = doc, .sub = sub, .file = pg_strdup(file),
			       .kind = pg_strdup(kind), .ns = pg_strdup(ns), .name = pg_strdup(name),
			       .text = pg_strdup(text) };
	c->nwarns++;
	if (!w->file || !w->kind || !w->ns || !w->name || !w->text)
		return -ENOMEM;
	return 0;
}

static struct pdef *find_pdef(struct check *c, const char *key)
{
	for (size_t i = 0; i < c->npdefs; i++)
		if (!strcmp(c->pdefs[i].key, key))
			return &c->pdefs[i];
	return NULL;
}

static int pdef_cmp(const void *a, const void *b)
{
	return strcmp(((const struct pdef *)a)->key, ((const struct pdef *)b)->key);
}

static struct pdef *lookup_pdef(struct check *c, const char *ns, const char *name)
{
	char key[600];
	struct pdef k = { .key = key };

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return c->npdefs ? bsearch(&k, c->pdefs, c->npdefs, sizeof(k), pdef_cmp) : NULL;
}

/* Records where @p came from; a second profile of one namespace/name is
 * an error naming both, never a silent replacement.  Takes @p. */
static int add_profile(struct check *c, const struct manifest_origin *o, struct profile *p)
{
	char key[600], *real;
	struct pdef *d;

	snprintf(key, sizeof(key), "%s/%s", p->namespace, p->name);
	if ((d = find_pdef(c, key))) {
		char *label = origin_label(o);
		bool same;
		int r;

		/* The same document named twice (-p dir -p ./dir/a.yaml) is
		 * one profile, not two. */
		real = realpath(o->file, NULL);
		same = d->doc == o->doc && d->sub == o->item && !strcmp(d->real, real ? real : o->file);
		free(real);
		if (same) {
			pg_free(label);
			profile_free(p);
			return 0;
		}
		r = label ? errlist_add(&c->errs, "%s: WorkloadProfile %s is also defined at %s; two profiles "
					"with one namespace/name: the last would silently win",
					label, key, d->label) : -ENOMEM;
		pg_free(label);
		profile_free(p);
		return r;
	}
	d = pg_realloc(c->pdefs, (c->npdefs + 1) * sizeof(*d));
	if (!d) {
		profile_free(p);
		return -ENOMEM;
	}
	c->pdefs = d;
	d = &c->pdefs[c->npdefs];
	*d = (struct pdef){ .key = pg_strdup(key), .label = origin_label(o), .file = pg_strdup(o->file),
			    .doc = o->doc, .sub = o->item };
	real = realpath(o->file, NULL);
	d->real = pg_strdup(real ? real : o->file);
	free(real);
	c->npdefs++;
	if (!d->key || !d->label || !d->file || !d->real) {
		profile_free(p);
		return -ENOMEM;
	}
	return profile_set_add(&c->profiles, p);
}

static int on_profile_doc(void *ud, const struct manifest_origin *o, json_t *obj)
{
	struct check *c = ud;
	struct errlist errs;
	struct profile *p = NULL;
	char *label;
	int r;

	if (is_token_secret_obj(obj))
		return add_token_secret(c, obj);
	if (!is_profile_obj(obj))
		return 0;
	c->profile_docs++;
	errlist_init(&errs, 0);
	r = profile_parse(obj, c->default_ns, &errs, &p);
	if (r == 0) {
		r = add_profile(c, o, p);
	} else if (r == -EINVAL) {
		label = origin_label(o);
		r = label ? move_errors(c, &errs, label) : -ENOMEM;
		pg_free(label);
	}
	errlist_free(&errs);
	return r;
}

static int on_manifest_doc(void *ud, const struct manifest_origin *o, json_t *obj)
{
	struct check *c = ud;
	enum workload_kind wk;
	struct item *it;

	if (is_token_secret_obj(obj))
		return add_token_secret(c, obj);
	if (is_profile_obj(obj)) {
		/* A profile among the manifests is checked for validity, so a
		 * broken profile fails CI before it reaches the cluster. */
		struct errlist errs;
		struct profile *p = NULL;
		char *label;
		int r;

		errlist_init(&errs, 0);
		r = profile_parse(obj, c->default_ns, &errs, &p);
		label = origin_label(o);
		if (!label)
			r = -ENOMEM;
		if (r == -EINVAL)
			r = move_errors(c, &errs, label);
		/* Passed with -f instead of -p, it judges nothing: say so,
		 * unless -p loaded it too (-p k8s/ -f k8s/). */
		if (r == 0 && !lookup_pdef(c, p->namespace, p->name)) {
			char text[5000];

			snprintf(text, sizeof(text), "%s: WorkloadProfile %s/%s is among the manifests (-f): it is "
				 "checked for validity but judges nothing; pass it with -p", label, p->namespace, p->name);
			r = add_warning(c, W_PROFILE_IN_MANIFESTS, o->file, o->doc, o->item, "WorkloadProfile",
					p->namespace, p->name, text);
		}
		profile_free(p);
		pg_free(label);
		errlist_free(&errs);
		return r;
	}
	if (pod_workload_kind(obj, &wk) < 0) {
		c->skipped++;
		return 0;
	}
	it = pg_realloc(c->items, (c->nitems + 1) * sizeof(*it));
	if (!it)
		return -ENOMEM;
	c->items = it;
	it = &c->items[c->nitems];
	it->label = origin_label(o);
	it->file = pg_strdup(o->file);
	if (!it->label || !it->file) {
		pg_free(it->label);
		pg_free(it->file);
		return -ENOMEM;
	}
	it->doc = o->doc;
	it->sub = o->item;
	it->pod = NULL;
	it->obj = json_incref(obj);
	c->nitems++;
	return 0;
}

static int str_cmp(const void *a, const void *b)
{
	return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static bool lookup_token_secret(void *ud, const char *ns, const char *name)
{
	struct check *c = ud;
	char key[600];
	const char *k = key;

	if (!c->ntoken_secrets)
		return false;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return bsearch(&k, c->token_secrets, c->ntoken_secrets, sizeof(char *), str_cmp) != NULL;
}

static void print_text(const struct item *it, const struct pod *pod, const struct findings *f)
{
	size_t enforce = findings_count(f, MODE_ENFORCE);

	if (f->n == 0)
		return;
	printf("%s: %s %s/%s: %s\n", it->label, workload_kind_name((enum workload_kind)pod->kind),
	       pod->namespace, pod->name, enforce ? "denied" : "allowed with warnings");
	for (size_t i = 0; i < f->n; i++)
		printf("  %s%s\n", f->v[i].mode == MODE_AUDIT ? "warning: " : "", f->v[i].message);
	if (f->dropped)
		printf("  ... and %zu more\n", f->dropped);
}

static json_t *finding_json(const struct finding *f)
{
	char prof[600];

	snprintf(prof, sizeof(prof), "%s/%s", f->profile->namespace, f->profile->name);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "reason", reason_name(f->reason), "rule",
			 f->rule, "path", f->path, "profile", prof, "mode", mode_name(f->mode),
			 "message", f->message);
}

/* The profiles that judged an object: those that select it, and those
 * that reported on it without selecting it (identity binding), as
 * "ns/name", sorted and unique. */
struct judged_by {
	char (*v)[600];
	size_t n;
};

static int judged_add(struct judged_by *j, const char *ns, const char *name)
{
	char key[600];
	char (*v)[600];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	for (size_t i = 0; i < j->n; i++)
		if (!strcmp(j->v[i], key))
			return 0;
	v = pg_realloc(j->v, (j->n + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	j->v = v;
	memcpy(v[j->n++], key, sizeof(key));
	return 0;
}

static int key_cmp(const void *a, const void *b)
{
	return strcmp(a, b);
}

static int judged_collect(struct check *c, const struct pod *pod, const struct findings *f, struct judged_by *j)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(&c->profiles, pod->namespace, &first);

	for (size_t i = 0; i < n; i++) {
		struct pdef *d;

		if (!selector_matches(&first[i]->selector, &pod->labels))
			continue;
		if (judged_add(j, first[i]->namespace, first[i]->name) < 0)
			return -ENOMEM;
		if ((d = lookup_pdef(c, first[i]->namespace, first[i]->name)))
			d->used = true;
	}
	for (size_t i = 0; i < f->n; i++)
		if (judged_add(j, f->v[i].profile->namespace, f->v[i].profile->name) < 0)
			return -ENOMEM;
	if (j->n > 1)
		qsort(j->v, j->n, sizeof(*j->v), key_cmp);
	return 0;
}

static json_t *result_json(const struct item *it, const struct pod *pod, const struct findings *f,
			   const struct judged_by *j)
{
	json_t *res, *viol = json_array(), *warn = json_array(), *profs = json_array();

	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(f->v[i].mode == MODE_AUDIT ? warn : viol, finding_json(&f->v[i]));
	for (size_t i = 0; i < j->n; i++)
		json_array_append_new(profs, json_string(j->v[i]));
	res = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:b, s:o, s:o, s:o}", "file", it->file, "document",
			(json_int_t)it->doc, "kind", workload_kind_name((enum workload_kind)pod->kind),
			"namespace", pod->namespace, "name", pod->name, "allowed",
			findings_count(f, MODE_ENFORCE) == 0, "judged", j->n > 0, "profiles", profs,
			"violations", viol, "warnings", warn);
	if (res && it->sub)
		json_object_set_new(res, "item", json_integer((json_int_t)it->sub));
	return res;
}

struct event_counts {
	size_t events;
	size_t findings;
	size_t enforce;
	size_t unattributed;
};

struct event_judge {
	struct check *c;
	const char *file;
	json_t *results;        /* JSON mode: findings appended here */
	struct event_counts *n;
};

/* The manifest workload an event belongs to: same namespace, and the pod
 * named exactly like it or like one of its replicas ("api-7d9f-x2" for
 * Deployment "api"); the longest name wins.  For API calls without a pod
 * claim, the workload running as that service account. */
static struct item *attribute(struct check *c, const struct tel_event *e)
{
	struct item *best = NULL;
	size_t best_len = 0;
	const char *sa = NULL;

	if (e->ev.kind == RT_API && !e->pod_name && e->ev.username) {
		sa = strrchr(e->ev.username, ':');
		sa = sa ? sa + 1 : NULL;
	}
	for (size_t i = 0; i < c->nitems; i++) {
		struct pod *p = c->items[i].pod;
		size_t n;

		if (!p || !e->pod_namespace || strcmp(p->namespace, e->pod_namespace))
			continue;
		if (sa) {
			if (!strcmp(pod_service_account(p), sa) && !best)
				best = &c->items[i];
			continue;
		}
		if (!e->pod_name)
			continue;
		n = strlen(p->name);
		if (n > best_len && (!strcmp(e->pod_name, p->name) ||
				     (!strncmp(e->pod_name, p->name, n) && e->pod_name[n] == '-'))) {
			best = &c->items[i];
			best_len = n;
		}
	}
	return best;
}

static int on_check_event(void *ud, const struct tel_event *e)
{
	struct event_judge *ej = ud;
	struct item *it = attribute(ej->c, e);
	struct profile *const *first;
	struct findings f;
	size_t n;
	int r = 0;

	ej->n->events++;
	if (!it) {
		ej->n->unattributed++;
		return 0;
	}
	findings_init(&f, 0);
	n = profile_set_namespace(&ej->c->profiles, it->pod->namespace, &first);
	for (size_t i = 0; i < n && r == 0; i++)
		if (selector_matches(&first[i]->selector, &it->pod->labels))
			r = runtime_judge(first[i], it->pod, &e->ev, &f);
	if (r < 0) {
		findings_free(&f);
		return r;
	}
	for (size_t i = 0; i < f.n; i++) {
		if (ej->results) {
			json_t *j = finding_json(&f.v[i]);

			json_object_set_new(j, "kind", json_string(workload_kind_name((enum workload_kind)it->pod->kind)));
			json_object_set_new(j, "namespace", json_string(it->pod->namespace));
			json_object_set_new(j, "workload", json_string(it->pod->name));
			json_array_append_new(ej->results, j);
		} else {
			printf("%s: %s %s/%s: %s%s\n", ej->file, workload_kind_name((enum workload_kind)it->pod->kind),
			       it->pod->namespace, it->pod->name, f.v[i].mode == MODE_AUDIT ? "warning: " : "",
			       f.v[i].message);
		}
	}
	ej->n->findings += f.n;
	ej->n->enforce += findings_count(&f, MODE_ENFORCE);
	findings_free(&f);
	return 0;
}

/* @results: the top-level "events" array in JSON mode, one object per
 * input; pod results have an array of their own, so each array holds one
 * shape (docs/check.md). */
static int judge_events(struct check *c, const char *path, const char *format, json_t *results,
			struct event_counts *n)
{
	struct event_judge ej = { .c = c, .file = path, .n = n };
	struct tel_stats st;
	enum tel_source src;
	char *data;
	size_t len;
	int r;

	r = doc_read_file(path, 256u * 1024 * 1024, &data, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0)
		return errlist_add(&c->errs, "%s: %s", path, r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
	if (!format || tel_source_parse(format, &src) < 0)
		src = tel_detect(data, len);
	if (results) {
		ej.results = json_array();
		if (!ej.results) {
			pg_free(data);
			return -ENOMEM;
		}
	}
	r = tel_parse(src, data, len, on_check_event, &ej, &st);
	pg_free(data);
	if (results)
		json_array_append_new(results, json_pack("{s:s, s:o}", "file", path, "findings", ej.results));
	if (r == -ENOMEM)
		return r;
	if (r == -E2BIG)
		errlist_add(&c->errs, "%s: more than %u events in one input: split it", path, TEL_MAX_EVENTS);
	if (st.rejected)
		return errlist_add(&c->errs, "%s: %zu malformed %s record%s (first: %s)", path, st.rejected,
				   tel_source_name(src), st.rejected == 1 ? "" : "s", st.first_error);
	return 0;
}

static void check_free(struct check *c)
{
	profile_set_free(&c->profiles);
	errlist_free(&c->errs);
	for (size_t i = 0; i < c->ntoken_secrets; i++)
		pg_free(c->token_secrets[i]);
	pg_free(c->token_secrets);
	for (size_t i = 0; i < c->npdefs; i++) {
		pg_free(c->pdefs[i].key);
		pg_free(c->pdefs[i].label);
		pg_free(c->pdefs[i].file);
		pg_free(c->pdefs[i].real);
	}
	pg_free(c->pdefs);
	for (size_t i = 0; i < c->nwarns; i++) {
		struct warning *w = &c->warns[i];

		pg_free(w->file);
		pg_free(w->kind);
		pg_free(w->ns);
		pg_free(w->name);
		pg_free(w->text);
	}
	pg_free(c->warns);
	for (size_t i = 0; i < c->nitems; i++) {
		pg_free(c->items[i].label);
		pg_free(c->items[i].file);
		json_decref(c->items[i].obj);
		pod_free(c->items[i].pod);
	}
	pg_free(c->items);
}

/* Skips "N" at *p into *ret; false when there is no number. */
static bool take_num(const char **p, size_t *ret)
{
	const char *q = *p;
	size_t v = 0;

	if (!isdigit((unsigned char)*q))
		return false;
	for (; isdigit((unsigned char)*q); q++) {
		if (v > (SIZE_MAX - 9) / 10)
			return false;
		v = v * 10 + (size_t)(*q - '0');
	}
	*p = q;
	*ret = v;
	return true;
}

static bool take(const char **p, const char *lit)
{
	size_t n = strlen(lit);

	if (strncmp(*p, lit, n))
		return false;
	*p += n;
	return true;
}

/* A field path ("spec.containers[0].image", "items[2]") ends at ": " and
 * holds no space; anything else is prose. */
static size_t path_len(const char *s)
{
	size_t n = strcspn(s, " :");

	return n && s[n] == ':' && s[n + 1] == ' ' && isalpha((unsigned char)s[0]) ? n : 0;
}

/* One error as the JSON object of docs/check.md.  Every error of the run
 * is written where the fact is known in the one form all inputs share,
 * "FILE: document N[, item M]: [line L, column C: ][PATH: ]MESSAGE" or
 * "FILE: MESSAGE" (manifest_walk(), the validators, the event parsers),
 * so it is taken apart here rather than carried as a second, parallel
 * structure through every layer. */
static json_t *error_json(const char *msg)
{
	json_t *e = json_object();
	const char *p = strstr(msg, ": document "), *q;
	size_t doc, item, line, col, n;

	if (!e)
		return NULL;
	if (p && (q = p + strlen(": document "), take_num(&q, &doc))) {
		json_object_set_new(e, "file", json_stringn(msg, (size_t)(p - msg)));
		json_object_set_new(e, "document", json_integer((json_int_t)doc));
		if (take(&q, ", item ") && take_num(&q, &item))
			json_object_set_new(e, "item", json_integer((json_int_t)item));
		take(&q, ": ");
		p = q;
		if (take(&q, "line ") && take_num(&q, &line) && take(&q, ", column ") && take_num(&q, &col) &&
		    take(&q, ": ")) {
			json_object_set_new(e, "line", json_integer((json_int_t)line));
			json_object_set_new(e, "column", json_integer((json_int_t)col));
			p = q;
		}
		if ((n = path_len(p))) {
			json_object_set_new(e, "path", json_stringn(p, n));
			p += n + 2;
		}
	} else if ((p = strstr(msg, ": "))) {
		json_object_set_new(e, "file", json_stringn(msg, (size_t)(p - msg)));
		p += 2;
	} else {
		p = msg;
	}
	json_object_set_new(e, "message", json_string(p));
	return e;
}

static const char *const warn_type_names[] = {
	[W_PROFILE_IN_MANIFESTS] = "ProfileInManifests",
	[W_NOT_JUDGED] = "NotJudged",
	[W_SELECTS_NOTHING] = "ProfileSelectsNothing",
};

static json_t *warning_json(const struct warning *w)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "type", warn_type_names[w->type], "file",
			      w->file, "document", (json_int_t)w->doc, "kind", w->kind, "namespace", w->ns,
			      "name", w->name, "message", w->text);

	if (j && w->sub)
		json_object_set_new(j, "item", json_integer((json_int_t)w->sub));
	return j;
}

#define NS_MAX 63

/* -n takes what kubectl apply -n does: an RFC 1123 label. */
static int check_namespace(const char *ns)
{
	size_t n = strlen(ns);
	bool ok = n > 0 && isalnum((unsigned char)ns[0]) && isalnum((unsigned char)ns[n - 1]);

	if (n > NS_MAX) {
		fprintf(stderr, "profileguard check: -n: a namespace name is at most %d characters (got %zu)\n",
			NS_MAX, n);
		return -EINVAL;
	}
	for (size_t i = 0; i < n && ok; i++)
		ok = (ns[i] >= 'a' && ns[i] <= 'z') || (ns[i] >= '0' && ns[i] <= '9') || ns[i] == '-';
	if (!ok) {
		json_t *q = json_string(ns);
		char *quoted = q ? json_dumps(q, JSON_ENCODE_ANY) : NULL;

		fprintf(stderr, "profileguard check: -n: %s is not a namespace name (RFC 1123 label: a-z, 0-9 and '-')\n",
			quoted ? quoted : "the value");
		free(quoted);
		json_decref(q);
		return -EINVAL;
	}
	return 0;
}

int cmd_check(int argc, char **argv)
{
	static const char synopsis[] = "-p PROFILES -f MANIFESTS [-n NS] [--require-profile] [-o text|json]\n\n"
		"Evaluates each Pod and pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet,\n"
		"Job, CronJob, ReplicationController) against WorkloadProfiles, with the webhook's\n"
		"messages.  PROFILES and\n"
		"MANIFESTS are files, directories or - (stdin); both flags repeat.\n"
		"--events judges captured telemetry (any format profileguard ingests) offline with the\n"
		"controller's runtime rules, attributing each event to a manifest's workload by\n"
		"namespace and pod name (a pod of Deployment \"api\" is named \"api-...\").\n"
		"Objects no profile selects, and profiles that select nothing, are warned about;\n"
		"-n gives manifests without metadata.namespace a namespace, as kubectl apply -n does.\n"
		"Exit 0: all pass; 1: Enforce violations (or, with --require-profile, objects no\n"
		"profile judged); 2: bad input.  The JSON output is described in docs/check.md.";
	struct common_opts common = { 0 };
	struct strlist profiles = { 0 }, manifests = { 0 }, events = { 0 };
	const char *events_format = NULL;
	struct event_counts ev_counts = { 0 };
	const char *output = "text";
	const char *namespace = NULL;
	bool require_profile = false;
	const struct flag flags[] = {
		{ "profiles", 'p', FLAG_STRINGS, &profiles, "PATH", "WorkloadProfiles: file, directory or -" },
		{ "filename", 'f', FLAG_STRINGS, &manifests, "PATH", "manifests to check: file, directory or -" },
		OUTPUT_FLAG(&output, "text|json", "output format (default text)"),
		{ "namespace", 'n', FLAG_STRING, &namespace, "NS", "namespace of manifests and profiles that name none, as kubectl apply -n (default: default)" },
		{ "require-profile", 0, FLAG_BOOL, &require_profile, NULL, "fail (exit 1) on objects no profile judges" },
		{ "events", 'e', FLAG_STRINGS, &events, "PATH", "captured telemetry to judge against the profiles of the manifests' workloads" },
		{ "events-format", 0, FLAG_ENUM, &events_format, "native|falco|tetragon|audit", "format of --events (default: detect)" },
		LOG_FLAGS(&common),
		{ 0 },
	};
	struct engine_ctx ctx = { .sa_admission_done = false, .is_token_secret = lookup_token_secret };
	struct check c = { 0 };
	size_t passed = 0, denied = 0, warned = 0, unjudged = 0;
	json_t *events_json = NULL;
	json_t *results = NULL;
	int optind_, r, rc = EXIT_PASS;
	bool json_out;

	r = flags_parse(flags, argc, argv, "check", synopsis, &optind_);
	if (r != 0)
		return r > 0 ? EXIT_PASS : EXIT_BAD_INPUT;
	/* Operands are manifests too, as with kubectl apply -f. */
	for (int i = optind_; i < argc; i++) {
		const char **v = pg_realloc(manifests.v, (manifests.n + 1) * sizeof(*v));

		if (!v)
			goto oom;
		manifests.v = v;
		v[manifests.n++] = argv[i];
	}
	if (common_setup("check", &common) < 0)
		goto bad_usage;
	if (events_format) {
		enum tel_source src;

		if (tel_source_parse(events_format, &src) < 0) {
			fprintf(stderr, "profileguard check: --events-format must be native, falco, tetragon or audit\n");
			goto bad_usage;
		}
	}
	if (strcmp(output, "text") && strcmp(output, "json")) {
		fprintf(stderr, "profileguard check: -o must be text or json\n");
		goto bad_usage;
	}
	json_out = strcmp(output, "json") == 0;
	if (namespace && check_namespace(namespace) < 0)
		goto bad_usage;
	c.default_ns = namespace ? namespace : "default";
	if (profiles.n == 0 || manifests.n == 0) {
		fprintf(stderr, "profileguard check: need -p PROFILES and -f MANIFESTS (see --help)\n");
		goto bad_usage;
	}
	profile_set_init(&c.profiles);
	errlist_init(&c.errs, 1000);
	ctx.ud = &c;

	for (size_t i = 0; i < profiles.n; i++) {
		r = manifest_walk(profiles.v[i], on_profile_doc, &c, &c.errs);
		if (r < 0)
			goto oom;
	}
	if (c.profile_docs == 0 && c.errs.n == 0)
		errlist_add(&c.errs, "no WorkloadProfile found in the -p inputs");
	if (c.npdefs)
		qsort(c.pdefs, c.npdefs, sizeof(*c.pdefs), pdef_cmp);
	for (size_t i = 0; i < manifests.n; i++) {
		r = manifest_walk(manifests.v[i], on_manifest_doc, &c, &c.errs);
		if (r < 0)
			goto oom;
	}
	if (c.ntoken_secrets)
		qsort(c.token_secrets, c.ntoken_secrets, sizeof(char *), str_cmp);

	if (json_out && !(results = json_array()))
		goto oom;
	for (size_t i = 0; i < c.nitems; i++) {
		struct item *it = &c.items[i];
		struct errlist perrs;
		struct findings f;
		struct judged_by jb = { 0 };
		struct pod *pod = NULL;

		errlist_init(&perrs, 0);
		r = pod_from_object(it->obj, c.default_ns, &perrs, &pod);
		if (r == -EINVAL) {
			r = move_errors(&c, &perrs, it->label);
			errlist_free(&perrs);
			if (r < 0)
				goto oom;
			continue;
		}
		errlist_free(&perrs);
		if (r < 0)
			goto oom;
		findings_init(&f, 0);
		r = engine_eval_pod(&c.profiles, pod, &ctx, &f);
		if (r < 0) {
			findings_free(&f);
			pod_free(pod);
			goto oom;
		}
		r = judged_collect(&c, pod, &f, &jb);
		if (r == 0 && jb.n == 0) {
			char text[5000];

			snprintf(text, sizeof(text), "%s: %s %s/%s: no profile selects it, nothing judged it",
				 it->label, workload_kind_name((enum workload_kind)pod->kind), pod->namespace, pod->name);
			r = add_warning(&c, W_NOT_JUDGED, it->file, it->doc, it->sub,
					workload_kind_name((enum workload_kind)pod->kind), pod->namespace, pod->name, text);
		}
		if (r < 0) {
			pg_free(jb.v);
			findings_free(&f);
			pod_free(pod);
			goto oom;
		}
		if (findings_count(&f, MODE_ENFORCE))
			denied++;
		else if (f.n)
			warned++;
		else if (jb.n == 0)
			unjudged++;
		else
			passed++;
		if (json_out)
			json_array_append_new(results, result_json(it, pod, &f, &jb));
		else
			print_text(it, pod, &f);
		pg_free(jb.v);
		findings_free(&f);
		it->pod = pod;
	}
	/* By namespace/name, the order of the profile set. */
	for (size_t i = 0; i < c.npdefs; i++) {
		struct pdef *d = &c.pdefs[i];
		const char *slash = strchr(d->key, '/');
		char text[5000], ns[300];

		if (d->used || !slash)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - d->key), d->key);
		snprintf(text, sizeof(text), "profile %s (%s) selects no object in the inputs", d->key, d->label);
		if (add_warning(&c, W_SELECTS_NOTHING, d->file, d->doc, d->sub, "WorkloadProfile", ns, slash + 1,
				text) < 0)
			goto oom;
	}
	for (size_t i = 0; i < events.n; i++) {
		if (json_out && !events_json && !(events_json = json_array()))
			goto oom;
		r = judge_events(&c, events.v[i], events_format, events_json, &ev_counts);
		if (r < 0)
			goto oom;
	}
	if (c.errs.oom)
		goto oom;

	if (json_out) {
		json_t *errors = json_array(), *warns = json_array(), *out;

		for (size_t i = 0; i < c.errs.n; i++)
			json_array_append_new(errors, error_json(c.errs.msgs[i]));
		if (c.errs.dropped) {
			char more[80];

			snprintf(more, sizeof(more), "%zu more errors not listed", c.errs.dropped);
			json_array_append_new(errors, json_pack("{s:s}", "message", more));
		}
		for (size_t i = 0; i < c.nwarns; i++)
			json_array_append_new(warns, warning_json(&c.warns[i]));
		out = json_pack("{s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "results", results,
				"warnings", warns, "errors", errors, "summary", "objects",
				(json_int_t)(passed + denied + warned + unjudged), "passed", (json_int_t)passed,
				"denied", (json_int_t)denied, "warned", (json_int_t)warned, "unjudged",
				(json_int_t)unjudged, "skipped", (json_int_t)c.skipped, "errors",
				(json_int_t)errlist_count(&c.errs), "warnings",
				(json_int_t)(c.nwarns + c.warns_dropped));
		results = NULL;
		if (out && events_json) {
			json_object_set_new(out, "events", events_json);
			events_json = NULL;
		}
		if (out && events.n)
			json_object_set_new(json_object_get(out, "summary"), "events",
					    json_pack("{s:I, s:I, s:I, s:I}", "judged", (json_int_t)ev_counts.events,
						      "findings", (json_int_t)ev_counts.findings, "enforce",
						      (json_int_t)ev_counts.enforce, "unattributed",
						      (json_int_t)ev_counts.unattributed));
		if (!out || json_dumpf(out, stdout, JSON_INDENT(2) | JSON_ENSURE_ASCII) < 0) {
			json_decref(out);
			goto oom;
		}
		putchar('\n');
		json_decref(out);
	} else {
		for (size_t i = 0; i < c.errs.n; i++)
			fprintf(stderr, "profileguard check: %s\n", c.errs.msgs[i]);
		if (c.errs.dropped)
			fprintf(stderr, "profileguard check: ... and %zu more errors\n", c.errs.dropped);
		for (size_t i = 0; i < c.nwarns; i++)
			fprintf(stderr, "profileguard check: warning: %s\n", c.warns[i].text);
		if (c.warns_dropped)
			fprintf(stderr, "profileguard check: warning: ... and %zu more warnings (the first %d are listed)\n",
				c.warns_dropped, CHECK_MAX_WARNINGS);
		if (events.n)
			printf("%zu event%s judged: %zu finding%s (%zu Enforce), %zu not attributed to a manifest\n",
			       ev_counts.events, ev_counts.events == 1 ? "" : "s", ev_counts.findings,
			       ev_counts.findings == 1 ? "" : "s", ev_counts.enforce, ev_counts.unattributed);
		size_t objects = passed + denied + warned + unjudged;
		char unj[64] = "";

		/* Said only when it happens, where no one reading "passed" can miss it. */
		if (unjudged)
			snprintf(unj, sizeof(unj), "; %zu not judged by any profile", unjudged);
		printf("%zu object%s checked: %zu passed, %zu denied, %zu allowed with warnings%s; "
		       "%zu other object%s skipped%s\n", objects, objects == 1 ? "" : "s", passed, denied, warned,
		       unj, c.skipped, c.skipped == 1 ? "" : "s",
		       errlist_count(&c.errs) ? "; bad input, see errors above" : "");
	}
	if (errlist_count(&c.errs))
		rc = EXIT_BAD_INPUT;
	else if (denied || ev_counts.enforce || (require_profile && unjudged))
		rc = EXIT_VIOLATIONS;
	goto out;
oom:
	fprintf(stderr, "profileguard check: out of memory\n");
	rc = EXIT_BAD_INPUT;
	goto out;
bad_usage:
	rc = EXIT_BAD_INPUT;
out:
	json_decref(results);
	json_decref(events_json);
	check_free(&c);
	strlist_free(&profiles);
	strlist_free(&manifests);
	strlist_free(&events);
	return rc;
}
