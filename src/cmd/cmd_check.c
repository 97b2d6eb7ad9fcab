/* cmd_check.c - `profileguard check`: the engine over manifests, offline,
 * with the webhook's exact messages.  Exit 0 pass, 1 Enforce violations,
 * 2 bad input (SPEC §6). */
#include <errno.h>
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

struct check {
	struct profile_set profiles;
	struct errlist errs;
	char **token_secrets;   /* "ns/name", sorted after loading */
	size_t ntoken_secrets;
	struct item *items;
	size_t nitems;
	size_t skipped;
	size_t profile_docs;
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

static const char *obj_ns(json_t *obj)
{
	const char *ns = json_string_value(json_object_get(json_object_get(obj, "metadata"), "namespace"));

	return ns && *ns ? ns : "default";
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

	snprintf(key, sizeof(key), "%s/%s", obj_ns(obj), obj_name(obj));
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
	r = profile_parse(obj, "default", &errs, &p);
	if (r == 0) {
		r = profile_set_add(&c->profiles, p);
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
		char *label;
		int r;

		errlist_init(&errs, 0);
		r = profile_parse(obj, "default", &errs, NULL);
		if (r == -EINVAL) {
			label = origin_label(o);
			r = label ? move_errors(c, &errs, label) : -ENOMEM;
			pg_free(label);
		}
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

static json_t *result_json(const struct item *it, const struct pod *pod, const struct findings *f)
{
	json_t *res, *viol = json_array(), *warn = json_array();

	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(f->v[i].mode == MODE_AUDIT ? warn : viol, finding_json(&f->v[i]));
	res = json_pack("{s:s, s:I, s:s, s:s, s:s, s:b, s:o, s:o}", "file", it->file, "document",
			(json_int_t)it->doc, "kind", workload_kind_name((enum workload_kind)pod->kind),
			"namespace", pod->namespace, "name", pod->name, "allowed",
			findings_count(f, MODE_ENFORCE) == 0, "violations", viol, "warnings", warn);
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

			json_object_set_new(j, "events", json_string(ej->file));
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
		json_array_append_new(results, json_pack("{s:s, s:o}", "events", path, "findings", ej.results));
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
	for (size_t i = 0; i < c->nitems; i++) {
		pg_free(c->items[i].label);
		pg_free(c->items[i].file);
		json_decref(c->items[i].obj);
		pod_free(c->items[i].pod);
	}
	pg_free(c->items);
}

int cmd_check(int argc, char **argv)
{
	static const char synopsis[] = "-p PROFILES -f MANIFESTS [-o text|json]\n\n"
		"Evaluates each Pod and pod template (Deployment, ReplicaSet, StatefulSet, DaemonSet,\n"
		"Job, CronJob, ReplicationController) against WorkloadProfiles, with the webhook's\n"
		"messages.  PROFILES and\n"
		"MANIFESTS are files, directories or - (stdin); both flags repeat.\n"
		"--events judges captured telemetry (any format profileguard ingests) offline with the\n"
		"controller's runtime rules, attributing each event to a manifest's workload by\n"
		"namespace and pod name (a pod of Deployment \"api\" is named \"api-...\").\n"
		"Exit 0: all pass; 1: Enforce violations; 2: bad input.";
	struct common_opts common = { 0 };
	struct strlist profiles = { 0 }, manifests = { 0 }, events = { 0 };
	const char *events_format = NULL;
	struct event_counts ev_counts = { 0 };
	const char *output = "text";
	const struct flag flags[] = {
		{ "profiles", 'p', FLAG_STRINGS, &profiles, "PATH", "WorkloadProfiles: file, directory or -" },
		{ "filename", 'f', FLAG_STRINGS, &manifests, "PATH", "manifests to check: file, directory or -" },
		OUTPUT_FLAG(&output, "text|json", "output format (default text)"),
		{ "events", 'e', FLAG_STRINGS, &events, "PATH", "captured telemetry to judge against the profiles of the manifests' workloads" },
		{ "events-format", 0, FLAG_ENUM, &events_format, "native|falco|tetragon|audit", "format of --events (default: detect)" },
		LOG_FLAGS(&common),
		{ 0 },
	};
	struct engine_ctx ctx = { .sa_admission_done = false, .is_token_secret = lookup_token_secret };
	struct check c = { 0 };
	size_t passed = 0, denied = 0, warned = 0;
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
		struct pod *pod = NULL;

		errlist_init(&perrs, 0);
		r = pod_from_object(it->obj, "default", &perrs, &pod);
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
		if (findings_count(&f, MODE_ENFORCE))
			denied++;
		else if (f.n)
			warned++;
		else
			passed++;
		if (json_out)
			json_array_append_new(results, result_json(it, pod, &f));
		else
			print_text(it, pod, &f);
		findings_free(&f);
		it->pod = pod;
	}
	for (size_t i = 0; i < events.n; i++) {
		r = judge_events(&c, events.v[i], events_format, json_out ? results : NULL, &ev_counts);
		if (r < 0)
			goto oom;
	}
	if (c.errs.oom)
		goto oom;

	if (json_out) {
		json_t *errors = json_array(), *out;

		for (size_t i = 0; i < c.errs.n; i++)
			json_array_append_new(errors, json_string(c.errs.msgs[i]));
		out = json_pack("{s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I}}", "results", results,
				"errors", errors, "summary", "objects", (json_int_t)(passed + denied + warned),
				"passed", (json_int_t)passed, "denied", (json_int_t)denied, "warned",
				(json_int_t)warned, "skipped", (json_int_t)c.skipped, "errors",
				(json_int_t)errlist_count(&c.errs));
		results = NULL;
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
		if (events.n)
			printf("%zu event%s judged: %zu finding%s (%zu Enforce), %zu not attributed to a manifest\n",
			       ev_counts.events, ev_counts.events == 1 ? "" : "s", ev_counts.findings,
			       ev_counts.findings == 1 ? "" : "s", ev_counts.enforce, ev_counts.unattributed);
		printf("%zu object%s checked: %zu passed, %zu denied, %zu allowed with warnings; "
		       "%zu other object%s skipped%s\n",
		       passed + denied + warned, passed + denied + warned == 1 ? "" : "s", passed, denied,
		       warned, c.skipped, c.skipped == 1 ? "" : "s",
		       errlist_count(&c.errs) ? "; bad input, see errors above" : "");
	}
	if (errlist_count(&c.errs))
		rc = EXIT_BAD_INPUT;
	else if (denied || ev_counts.enforce)
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
	check_free(&c);
	strlist_free(&profiles);
	strlist_free(&manifests);
	strlist_free(&events);
	return rc;
}
