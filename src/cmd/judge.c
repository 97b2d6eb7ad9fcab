/* judge.c - profiles and manifests read from files and judged by the
 * engine offline, for `check` and `test`: what is loaded, how an object's
 * namespace is found, which profiles judged it and how captured events are
 * attributed to a manifest's workload are decided here once. */
#include <ctype.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "judge.h"
#include "arena.h"
#include "doc.h"
#include "identity.h"
#include "jval.h"
#include "manifest.h"
#include "pod.h"
#include "rbac.h"
#include "runtime.h"
#include "strutil.h"
#include "telemetry.h"
#include "xalloc.h"

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
/* Strings here are read with jval_cstr(), a NUL ending them: what an
 * object is (kind, type) and what it is named decide only where it goes;
 * the readers of the model refuse and name a NUL. */
static const char *obj_ns(const struct judge *c, const struct jval *obj)
{
	const char *ns = jval_cstr(jval_get(jval_get(obj, "metadata"), "namespace"));

	return ns && *ns ? ns : c->default_ns;
}

static const char *obj_name(const struct jval *obj)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *n = jval_cstr(jval_get(meta, "name"));

	if (!n)
		n = jval_cstr(jval_get(meta, "generateName"));
	return n ? n : "";
}

static int add_token_secret(struct judge *c, const struct jval *obj)
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

static bool is_token_secret_obj(const struct jval *obj)
{
	return str_eq(jval_cstr(jval_get(obj, "kind")), "Secret") &&
	       str_eq(jval_cstr(jval_get(obj, "type")), "kubernetes.io/service-account-token");
}

static bool is_profile_obj(const struct jval *obj)
{
	return str_eq(jval_cstr(jval_get(obj, "kind")), "WorkloadProfile");
}

/* Validation errors come back as "path: msg"; prefix where they are. */
static int move_errors(struct judge *c, struct errlist *from, const char *label)
{
	for (size_t i = 0; i < from->n; i++)
		if (errlist_add(&c->errs, "%s: %s", label, from->msgs[i]) < 0)
			return -ENOMEM;
	if (from->dropped && errlist_add(&c->errs, "%s: %zu more errors", label, from->dropped) < 0)
		return -ENOMEM;
	return 0;
}

static int add_warning(struct judge *c, enum judge_warn_type type, const char *file, size_t doc, size_t sub,
		       const char *kind, const char *ns, const char *name, const char *text)
{
	struct judge_warning *w;

	if (c->nwarns >= JUDGE_MAX_WARNINGS) {
		c->warns_dropped++;
		return 0;
	}
	w = pg_realloc(c->warns, (c->nwarns + 1) * sizeof(*w));
	if (!w)
		return -ENOMEM;
	c->warns = w;
	w = &c->warns[c->nwarns];
	*w = (struct judge_warning){ .type = type, .doc = doc, .sub = sub, .file = pg_strdup(file),
			       .kind = pg_strdup(kind), .ns = pg_strdup(ns), .name = pg_strdup(name),
			       .text = pg_strdup(text) };
	c->nwarns++;
	if (!w->file || !w->kind || !w->ns || !w->name || !w->text)
		return -ENOMEM;
	return 0;
}

static struct judge_pdef *find_pdef(struct judge *c, const char *key)
{
	for (size_t i = 0; i < c->npdefs; i++)
		if (!strcmp(c->pdefs[i].key, key))
			return &c->pdefs[i];
	return NULL;
}

static int pdef_cmp(const void *a, const void *b)
{
	return strcmp(((const struct judge_pdef *)a)->key, ((const struct judge_pdef *)b)->key);
}

static struct judge_pdef *lookup_pdef(struct judge *c, const char *ns, const char *name)
{
	char key[600];
	struct judge_pdef k = { .key = key };

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return c->npdefs ? bsearch(&k, c->pdefs, c->npdefs, sizeof(k), pdef_cmp) : NULL;
}

/* Records where @p came from; a second profile of one namespace/name is
 * an error naming both, never a silent replacement.  Takes @p. */
static int add_profile(struct judge *c, const struct manifest_origin *o, struct profile *p)
{
	char key[600], *real;
	struct judge_pdef *d;

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
	*d = (struct judge_pdef){ .key = pg_strdup(key), .label = origin_label(o), .file = pg_strdup(o->file),
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

static int on_profile_doc(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct judge *c = ud;
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

/* A Role, ClusterRole or binding of the manifests, kept for
 * identity.maxRisk (errors under the document's label). */
static int add_rbac(struct judge *c, const struct manifest_origin *o, const struct jval *obj)
{
	struct errlist errs;
	char *label;
	int r;

	errlist_init(&errs, 0);
	r = rbac_set_add(&c->rbac_objs, obj, c->default_ns, &errs);
	if (r == -EINVAL) {
		label = origin_label(o);
		r = label ? move_errors(c, &errs, label) : -ENOMEM;
		pg_free(label);
	}
	errlist_free(&errs);
	return r;
}

static int on_manifest_doc(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct judge *c = ud;
	enum workload_kind wk;
	struct judge_item *it;
	enum rbac_kind rk = rbac_kind_of(obj);

	if (is_token_secret_obj(obj))
		return add_token_secret(c, obj);
	if (rk == RBAC_ROLE || rk == RBAC_CLUSTER_ROLE || rk == RBAC_ROLE_BINDING || rk == RBAC_CLUSTER_ROLE_BINDING) {
		c->skipped++;   /* not judged itself: it informs identity.maxRisk */
		return add_rbac(c, o, obj);
	}
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
		 * unless -p loaded it too (-p k8s/ -f k8s/).  An invalid one
		 * (p NULL) has said enough with its errors. */
		if (r == 0 && p && !lookup_pdef(c, p->namespace, p->name)) {
			char text[5000];

			snprintf(text, sizeof(text), "%s: WorkloadProfile %s/%s is among the manifests (-f): it is "
				 "checked for validity but judges nothing; pass it with -p", label, p->namespace, p->name);
			r = add_warning(c, JUDGE_W_PROFILE_IN_MANIFESTS, o->file, o->doc, o->item, "WorkloadProfile",
					p->namespace, p->name, text);
		}
		profile_free(p);
		pg_free(label);
		errlist_free(&errs);
		return r;
	}
	if (pod_workload_kind_cstr(obj, &wk) < 0) {
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
	/* Judged once every input is read: the tree outlives its document. */
	it->arena = arena_new(16 * 1024);
	if (!it->label || !it->file || !it->arena || jval_copy(it->arena, obj, &it->obj) < 0) {
		pg_free(it->label);
		pg_free(it->file);
		arena_free(it->arena);
		return -ENOMEM;
	}
	it->doc = o->doc;
	it->sub = o->item;
	it->pod = NULL;
	c->nitems++;
	return 0;
}

static bool lookup_token_secret(void *ud, const char *ns, const char *name)
{
	struct judge *c = ud;
	char key[600];
	const char *k = key;

	if (!c->ntoken_secrets)
		return false;
	snprintf(key, sizeof(key), "%s/%s", ns, name);
	return bsearch(&k, c->token_secrets, c->ntoken_secrets, sizeof(char *), str_ptr_cmp) != NULL;
}

json_t *judge_finding_json(const struct finding *f)
{
	char prof[600];

	snprintf(prof, sizeof(prof), "%s/%s", f->profile->namespace, f->profile->name);
	return json_pack("{s:s, s:s, s:s, s:s, s:s, s:s}", "reason", reason_name(f->reason), "rule",
			 f->rule, "path", f->path, "profile", prof, "mode", mode_name(f->mode),
			 "message", f->message);
}

static int judged_add(struct judge_by *j, const char *ns, const char *name)
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

static int judged_collect(struct judge *c, const struct pod *pod, const struct findings *f, struct judge_by *j)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(&c->profiles, pod->namespace, &first);

	for (size_t i = 0; i < n; i++) {
		struct judge_pdef *d;

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

struct event_judge {
	struct judge *c;
	const char *file;
	judge_event_fn fn;
	void *ud;
};

/* The manifest workload an event belongs to: same namespace, and the pod
 * named exactly like it or like one of its replicas ("api-7d9f-x2" for
 * Deployment "api"); the longest name wins.  For API calls without a pod
 * claim, the workload running as that service account. */
static struct judge_item *attribute(struct judge *c, const struct telemetry_event *e)
{
	struct judge_item *best = NULL;
	size_t best_len = 0;
	const char *sa = NULL;

	if (e->ev.kind == RUNTIME_API && !e->pod_name && e->ev.username) {
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

static int on_check_event(void *ud, const struct telemetry_event *e)
{
	struct event_judge *ej = ud;
	struct judge_item *it = attribute(ej->c, e);
	struct profile *const *first;
	struct findings f;
	size_t n;
	int r = 0;

	ej->c->ev.events++;
	if (!it) {
		ej->c->ev.unattributed++;
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
	r = ej->fn ? ej->fn(ej->ud, ej->file, it, &f) : 0;
	ej->c->ev.findings += f.n;
	ej->c->ev.enforce += findings_count(&f, MODE_ENFORCE);
	findings_free(&f);
	return r;
}

int judge_events(struct judge *c, const char *path, const char *format, judge_event_fn fn, void *ud)
{
	struct event_judge ej = { .c = c, .file = path, .fn = fn, .ud = ud };
	struct telemetry_stats st;
	enum telemetry_source src;
	char *data;
	size_t len;
	int r;

	r = doc_read_file(path, JUDGE_MAX_EVENTS_BYTES, &data, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		r = errlist_add(&c->errs, "%s: %s", path, r == -EFBIG ? "larger than 256 MiB" : strerror(-r));
		return r < 0 ? r : 1;
	}
	if (!format || telemetry_source_parse(format, &src) < 0)
		src = telemetry_detect(data, len);
	r = telemetry_parse(src, data, len, on_check_event, &ej, &st);
	pg_free(data);
	if (r < 0 && r != -E2BIG)
		return r;
	if (r == -E2BIG)
		errlist_add(&c->errs, "%s: more than %u events in one input: split it", path, TELEMETRY_MAX_EVENTS);
	if (st.rejected)
		return errlist_add(&c->errs, "%s: %zu malformed %s record%s (first: %s)", path, st.rejected,
				   telemetry_source_name(src), st.rejected == 1 ? "" : "s", st.first_error);
	return 0;
}

void judge_free(struct judge *c)
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
		struct judge_warning *w = &c->warns[i];

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
		arena_free(c->items[i].arena);
		pod_free(c->items[i].pod);
	}
	pg_free(c->items);
	rbac_set_free(&c->rbac_objs);
	identity_index_free(c->rbac);
	pg_free(c->risk);
}

void judge_init(struct judge *j, const char *default_ns)
{
	*j = (struct judge){ .default_ns = default_ns };
	profile_set_init(&j->profiles);
	errlist_init(&j->errs, JUDGE_MAX_ERRORS);
}

/* The manifests' RBAC into the index the controller judges with. */
static int load_rbac(struct judge *j)
{
	if (!j->rbac_objs.nroles && !j->rbac_objs.nbindings)
		return 0;
	if (identity_index_new(&j->rbac) < 0 || !(j->risk = pg_malloc(sizeof(*j->risk))))
		return -ENOMEM;
	return identity_index_load(j->rbac, j->rbac_objs.roles, j->rbac_objs.nroles, j->rbac_objs.bindings,
				   j->rbac_objs.nbindings, &j->errs);
}

static int lookup_identity_risk(void *ud, const char *ns, const char *name, const struct risk_result **ret)
{
	struct judge *j = ud;
	int r;

	if (!j->rbac)
		return -ENOENT;
	if ((r = identity_index_judge(j->rbac, ns, name, j->risk)) < 0)
		return r;
	*ret = j->risk;
	return 0;
}

int judge_load(struct judge *j, const char *const *profiles, size_t nprofiles,
	       const char *const *manifests, size_t nmanifests)
{
	int r;

	for (size_t i = 0; i < nprofiles; i++) {
		r = manifest_walk(profiles[i], on_profile_doc, j, &j->errs);
		if (r < 0)
			return r;
	}
	if (j->profile_docs == 0 && j->errs.n == 0 &&
	    errlist_add(&j->errs, "no WorkloadProfile found in the -p inputs") < 0)
		return -ENOMEM;
	/* Sorted before the manifests are read: a profile among them is
	 * looked up to know whether it was loaded as a profile too. */
	if (j->npdefs)
		qsort(j->pdefs, j->npdefs, sizeof(*j->pdefs), pdef_cmp);
	for (size_t i = 0; i < nmanifests; i++) {
		r = manifest_walk(manifests[i], on_manifest_doc, j, &j->errs);
		if (r < 0)
			return r;
	}
	if (j->ntoken_secrets)
		qsort(j->token_secrets, j->ntoken_secrets, sizeof(char *), str_ptr_cmp);
	if ((r = load_rbac(j)) < 0)
		return r;
	return j->errs.oom ? -ENOMEM : 0;
}

static int eval_item(struct judge *j, struct judge_item *it, const struct engine_ctx *ctx, judge_item_fn fn,
		     void *ud)
{
	struct errlist perrs;
	struct findings f;
	struct judge_by jb = { 0 };
	struct pod *pod = NULL;
	int r;

	errlist_init(&perrs, 0);
	r = pod_from_jval(it->obj, j->default_ns, &perrs, &pod);
	if (r == -EINVAL)
		r = move_errors(j, &perrs, it->label);
	errlist_free(&perrs);
	if (r < 0 || !pod)
		return r;
	findings_init(&f, 0);
	r = engine_eval_pod(&j->profiles, pod, ctx, &f);
	if (r == 0)
		r = judged_collect(j, pod, &f, &jb);
	if (r == 0 && jb.n == 0) {
		char text[5000];

		snprintf(text, sizeof(text), "%s: %s %s/%s: no profile selects it, nothing judged it", it->label,
			 workload_kind_name((enum workload_kind)pod->kind), pod->namespace, pod->name);
		r = add_warning(j, JUDGE_W_NOT_JUDGED, it->file, it->doc, it->sub,
				workload_kind_name((enum workload_kind)pod->kind), pod->namespace, pod->name, text);
	}
	if (r == 0) {
		if (findings_count(&f, MODE_ENFORCE))
			j->denied++;
		else if (f.n)
			j->warned++;
		else if (jb.n == 0)
			j->unjudged++;
		else
			j->passed++;
		it->pod = pod;
		pod = NULL;
		if (fn)
			r = fn(ud, it, &f, &jb);
	}
	pg_free(jb.v);
	findings_free(&f);
	pod_free(pod);
	return r;
}

int judge_eval(struct judge *j, judge_item_fn fn, void *ud)
{
	struct engine_ctx ctx = { .sa_admission_done = false, .is_token_secret = lookup_token_secret,
				  .identity_risk = lookup_identity_risk, .ud = j };
	int r;

	for (size_t i = 0; i < j->nitems; i++) {
		r = eval_item(j, &j->items[i], &ctx, fn, ud);
		if (r < 0)
			return r;
	}
	/* By namespace/name, the order of the profile set. */
	for (size_t i = 0; i < j->npdefs; i++) {
		struct judge_pdef *d = &j->pdefs[i];
		const char *slash = strchr(d->key, '/');
		char text[5000], ns[300];

		if (d->used || !slash)
			continue;
		snprintf(ns, sizeof(ns), "%.*s", (int)(slash - d->key), d->key);
		snprintf(text, sizeof(text), "profile %s (%s) selects no object in the inputs", d->key, d->label);
		r = add_warning(j, JUDGE_W_SELECTS_NOTHING, d->file, d->doc, d->sub, "WorkloadProfile", ns, slash + 1, text);
		if (r < 0)
			return r;
	}
	return j->errs.oom ? -ENOMEM : 0;
}
