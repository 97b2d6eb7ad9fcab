/* cmd_test.c - `profileguard test`: suites of manifests with the results
 * they are expected to get, judged with check's code (judge.c), reported
 * per case as text, JSON or JUnit XML for CI.  Exit 0 every case passed,
 * 1 a case failed, 2 bad input.  The format is documented in docs/test.md. */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>

#include "buf.h"
#include "cmd.h"
#include "dirwalk.h"
#include "doc.h"
#include "judge.h"
#include "manifest.h"
#include "pod.h"
#include "strutil.h"
#include "xalloc.h"

/* What a user's test files may make us hold; over any is a refusal naming
 * the cap. */
#define TEST_FILE_NAME "profileguard-test.yaml"
#define TEST_MAX_FILE_BYTES (1024u * 1024)      /* one test file */
#define TEST_MAX_FILES 1000                     /* test files in one run */
#define TEST_MAX_CASES 1000                     /* results in one file */
#define TEST_MAX_PATHS 100                      /* profiles, resources, events of one file */
#define TEST_MAX_SET 64                         /* reasons or rules of one case */
#define TEST_MAX_STRING 1024                    /* any string of a test file */
#define TEST_MAX_FINDINGS 100                   /* findings listed per case; the rest counted */
#define TEST_MAX_REPORT_BYTES (512u * 1024 * 1024)
#define TEST_MAX_DEPTH MANIFEST_MAX_DEPTH       /* directory nesting searched */

_Static_assert(R__COUNT <= 32, "reasons are a 32-bit mask");

enum result { RES_ALLOW, RES_DENY, RES_WARN, RES_UNJUDGED, RES__COUNT };

static const char *const result_names[RES__COUNT] = {
	[RES_ALLOW] = "allow", [RES_DENY] = "deny", [RES_WARN] = "warn", [RES_UNJUDGED] = "unjudged",
};

/* One entry of `results`, what was expected and what the judge said. */
struct tcase {
	char *resource;         /* "Kind/ns/name", the namespace filled in */
	char *kind, *ns, *name;
	enum result want;
	bool has_reasons, has_rules;
	uint32_t want_reasons;  /* bit per enum reason */
	char **want_rules;      /* sorted, unique */
	size_t nwant_rules;

	size_t objects;         /* items of the resources that are this resource */
	char *where;            /* the first one's "file: document N" */
	bool judged, enforce;
	uint32_t got_reasons;
	const char **got_rules; /* the engine's static rule names, unique */
	size_t ngot_rules;
	json_t *findings;       /* up to TEST_MAX_FINDINGS, docs/check.md's finding */
	size_t findings_dropped;
	enum result got;
	bool passed;
	char *message;          /* why it failed; NULL when it passed */
};

/* Paths of a test file, resolved against its directory. */
struct paths {
	char **v;
	size_t n;
};

struct suite {
	char *file;             /* the test file as found */
	char *name;             /* `name`, else the file */
	char *dir;              /* the file's directory: paths are relative to it */
	char *namespace;        /* `namespace`, else "default" */
	struct paths profiles, resources, events;
	struct tcase *cases;
	size_t ncases;
	struct errlist errs;    /* bad input: the file's and the judge's */
};

struct run {
	struct suite *suites;
	size_t nsuites;
	struct errlist errs;    /* about operands: not found, no test file in a directory */
	size_t cases, passed, failed, errors;
};

/* ---- reading a test file ------------------------------------------- */

/* The allowed word a typo most likely meant, or NULL. */
static int suite_err(struct suite *s, const char *path, const char *msg)
{
	return errlist_add(&s->errs, "%s: %s%s%s", s->file, path ? path : "", path ? ": " : "", msg);
}

/* What other tools' suites call our top-level keys (kyverno test, gator
 * verify), for the did-you-mean. */
static const char *const key_aliases[][2] = {
	{ "policies", "profiles" }, { "policy", "profiles" }, { "manifests", "resources" },
	{ "tests", "results" }, { "cases", "results" }, { "expect", "results" },
};

/* Refuses keys not in @allowed, with the one a typo most likely meant.
 * @where is the object's path ("" for the top level).  1 when a key was
 * refused, 0, or -ENOMEM. */
static int check_keys(struct suite *s, json_t *obj, const char *where, const char *const *allowed, size_t n)
{
	const char *k;
	json_t *v;
	int bad = 0;

	json_object_foreach(obj, k, v) {
		const char *near;
		char path[1300], msg[400];
		size_t i;

		for (i = 0; i < n; i++)
			if (!strcmp(k, allowed[i]))
				break;
		if (i < n)
			continue;
		near = str_closest(k, allowed, n);
		for (size_t a = 0; !near && a < sizeof(key_aliases) / sizeof(*key_aliases); a++)
			if (!strcmp(k, key_aliases[a][0]) && !*where)
				near = key_aliases[a][1];
		snprintf(path, sizeof(path), "%s%s%.*s%s", where, *where ? "." : "", (int)str_utf8_cut(k, 200), k,
			 k[str_utf8_cut(k, 200)] ? "..." : "");
		snprintf(msg, sizeof(msg), "unknown key%s%s%s", near ? " (did you mean \"" : "", near ? near : "",
			 near ? "\"?)" : "");
		if (suite_err(s, path, msg) < 0)
			return -ENOMEM;
		bad = 1;
	}
	return bad;
}

/* A string of at most TEST_MAX_STRING bytes, else an error at @path. */
static int get_string(struct suite *s, json_t *v, const char *path, const char **ret)
{
	char msg[200];
	const char *str = json_string_value(v);

	if (!str)
		return suite_err(s, path, "must be a string") < 0 ? -ENOMEM : 1;
	if (strlen(str) > TEST_MAX_STRING) {
		snprintf(msg, sizeof(msg), "longer than the cap of %d bytes", TEST_MAX_STRING);
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	if (!*str)
		return suite_err(s, path, "must not be empty") < 0 ? -ENOMEM : 1;
	*ret = str;
	return 0;
}

/* `profiles`, `resources`, `events`: a list of paths (or one path),
 * relative to the test file's directory. */
static int get_paths(struct suite *s, json_t *v, const char *key, struct paths *out)
{
	char path[64], msg[200];
	size_t n = json_is_array(v) ? json_array_size(v) : 1;
	int r = 0;

	if (!json_is_array(v) && !json_is_string(v))
		return suite_err(s, key, "must be a list of paths (files or directories)") < 0 ? -ENOMEM : 1;
	if (n > TEST_MAX_PATHS) {
		snprintf(msg, sizeof(msg), "%zu paths, more than the cap of %d", n, TEST_MAX_PATHS);
		return suite_err(s, key, msg) < 0 ? -ENOMEM : 1;
	}
	if (!(out->v = pg_calloc(n ? n : 1, sizeof(*out->v))))
		return -ENOMEM;
	for (size_t i = 0; i < n && r == 0; i++) {
		json_t *e = json_is_array(v) ? json_array_get(v, i) : v;
		const char *p;
		char *full;
		size_t len;

		snprintf(path, sizeof(path), "%s[%zu]", key, i);
		if ((r = get_string(s, e, json_is_array(v) ? path : key, &p)))
			break;
		if (!strcmp(p, "-")) {
			r = suite_err(s, path, "\"-\" (stdin) cannot be read from a test file") < 0 ? -ENOMEM : 1;
			break;
		}
		len = strlen(s->dir) + strlen(p) + 2;
		if (!(full = pg_malloc(len)))
			return -ENOMEM;
		if (p[0] == '/' || !strcmp(s->dir, "."))
			snprintf(full, len, "%s", p);
		else
			snprintf(full, len, "%s/%s", s->dir, p);
		out->v[out->n++] = full;
	}
	if (r == 0 && n == 0 && strcmp(key, "events"))
		r = suite_err(s, key, "must name at least one path") < 0 ? -ENOMEM : 1;
	return r;
}

static const char *const case_keys[] = { "resource", "result", "reasons", "rules" };

/* The kinds check judges, as pod.c names them. */
#define NKINDS ((size_t)WK_REPLICATIONCONTROLLER + 1)

/* "Kind/name" or "Kind/namespace/name" into @c. */
static int parse_resource(struct suite *s, struct tcase *c, const char *res, const char *path)
{
	const char *kinds[NKINDS];
	const char *a = strchr(res, '/'), *b = a ? strchr(a + 1, '/') : NULL, *near;
	char msg[600], q[300];
	size_t nk = NKINDS, i;

	if (!a || a == res || !a[1] || (b && (b == a + 1 || !b[1] || strchr(b + 1, '/')))) {
		snprintf(msg, sizeof(msg), "%s is not Kind/name or Kind/namespace/name", str_quote(res, q, sizeof(q)));
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	c->kind = pg_strndup(res, (size_t)(a - res));
	c->ns = b ? pg_strndup(a + 1, (size_t)(b - a - 1)) : pg_strdup(s->namespace);
	c->name = pg_strdup(b ? b + 1 : a + 1);
	if (!c->kind || !c->ns || !c->name)
		return -ENOMEM;
	for (i = 0; i < nk; i++) {
		kinds[i] = workload_kind_name((enum workload_kind)i);
		if (!strcmp(c->kind, kinds[i]))
			break;
	}
	if (i == nk) {
		near = str_closest(c->kind, kinds, nk);
		if (!near)
			for (i = 0; i < nk && !near; i++)
				if (!strcasecmp(c->kind, kinds[i]))
					near = kinds[i];
		snprintf(msg, sizeof(msg), "kind %s is not a Pod or a pod template kind (Pod, Deployment, ReplicaSet, "
			 "StatefulSet, DaemonSet, Job, CronJob, ReplicationController)%s%s%s", str_quote(c->kind, q, sizeof(q)),
			 near ? "; did you mean \"" : "", near ? near : "", near ? "\"?" : "");
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	if (!str_is_dns1123_label(c->ns)) {
		snprintf(msg, sizeof(msg), "namespace %s is not a namespace name", str_quote(c->ns, q, sizeof(q)));
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	i = strlen(c->kind) + strlen(c->ns) + strlen(c->name) + 3;
	if (!(c->resource = pg_malloc(i)))
		return -ENOMEM;
	snprintf(c->resource, i, "%s/%s/%s", c->kind, c->ns, c->name);
	return 0;
}

/* `reasons` (into a mask) or `rules` (into a sorted set). */
static int parse_set(struct suite *s, struct tcase *c, json_t *v, const char *path, bool reasons)
{
	const char *names[R__COUNT];
	char msg[600], p[128], q[300];
	size_t n = json_array_size(v);

	if (!json_is_array(v))
		return suite_err(s, path, reasons ? "must be a list of reasons" : "must be a list of rules") < 0 ? -ENOMEM : 1;
	if (n > TEST_MAX_SET) {
		snprintf(msg, sizeof(msg), "%zu entries, more than the cap of %d", n, TEST_MAX_SET);
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	for (size_t i = 0; i < R__COUNT; i++)
		names[i] = reason_name((enum reason)i);
	if (!reasons && !(c->want_rules = pg_calloc(n ? n : 1, sizeof(char *))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		const char *str;
		size_t k;
		int r;

		snprintf(p, sizeof(p), "%s[%zu]", path, i);
		if ((r = get_string(s, json_array_get(v, i), p, &str)))
			return r;
		if (!reasons) {
			for (k = 0; k < c->nwant_rules; k++)
				if (!strcmp(c->want_rules[k], str))
					break;
			if (k == c->nwant_rules && !(c->want_rules[c->nwant_rules++] = pg_strdup(str)))
				return -ENOMEM;
			continue;
		}
		for (k = 0; k < R__COUNT; k++)
			if (!strcmp(str, names[k]))
				break;
		if (k == R__COUNT) {
			const char *near = str_closest(str, names, R__COUNT);

			snprintf(msg, sizeof(msg), "%s is not a reason%s%s%s", str_quote(str, q, sizeof(q)),
				 near ? " (did you mean \"" : "", near ? near : "", near ? "\"?)" : "");
			return suite_err(s, p, msg) < 0 ? -ENOMEM : 1;
		}
		c->want_reasons |= UINT32_C(1) << k;
	}
	if (!reasons && c->nwant_rules > 1)
		qsort(c->want_rules, c->nwant_rules, sizeof(char *), str_ptr_cmp);
	return 0;
}

static int parse_case(struct suite *s, struct tcase *c, json_t *v, size_t idx)
{
	char path[64], p[96], msg[400], q[300];
	json_t *x;
	const char *str;
	int r, bad = 0;

	snprintf(path, sizeof(path), "results[%zu]", idx);
	if (!json_is_object(v))
		return suite_err(s, path, "must be a mapping with resource and result") < 0 ? -ENOMEM : 1;
	/* An unknown key is named and the rest still read, so that every
	 * mistake of the file is listed in one run. */
	if ((r = check_keys(s, v, path, case_keys, sizeof(case_keys) / sizeof(*case_keys))) < 0)
		return r;
	snprintf(p, sizeof(p), "%s.resource", path);
	if (!(x = json_object_get(v, "resource")))
		r = suite_err(s, p, "required: Kind/name or Kind/namespace/name");
	else if ((r = get_string(s, x, p, &str)) == 0)
		r = parse_resource(s, c, str, p);
	if (r < 0)
		return r;
	bad |= r;
	snprintf(p, sizeof(p), "%s.result", path);
	c->want = RES__COUNT;
	if (!(x = json_object_get(v, "result")))
		r = suite_err(s, p, "required: allow, deny, warn or unjudged");
	else if ((r = get_string(s, x, p, &str)) == 0) {
		for (c->want = 0; c->want < RES__COUNT; c->want++)
			if (!strcmp(str, result_names[c->want]))
				break;
		if (c->want == RES__COUNT) {
			const char *near = str_closest(str, result_names, RES__COUNT);

			/* "denied", "warning": the word check prints, not the one asked
			 * for; "pass", "fail", "skip": kyverno test's. */
			for (size_t k = 0; k < RES__COUNT && !near; k++)
				if (!strncasecmp(str, result_names[k], 3))
					near = result_names[k];
			if (!near && !strcmp(str, "pass"))
				near = result_names[RES_ALLOW];
			else if (!near && !strcmp(str, "fail"))
				near = result_names[RES_DENY];
			else if (!near && !strcmp(str, "skip"))
				near = result_names[RES_UNJUDGED];
			snprintf(msg, sizeof(msg), "%s is not allow, deny, warn or unjudged%s%s%s",
				 str_quote(str, q, sizeof(q)), near ? " (did you mean \"" : "", near ? near : "",
				 near ? "\"?)" : "");
			r = suite_err(s, p, msg);
		}
	}
	if (r < 0)
		return r;
	bad |= r;
	if ((x = json_object_get(v, "reasons"))) {
		snprintf(p, sizeof(p), "%s.reasons", path);
		c->has_reasons = true;
		if ((r = parse_set(s, c, x, p, true)) < 0)
			return r;
		bad |= r;
	}
	if ((x = json_object_get(v, "rules"))) {
		snprintf(p, sizeof(p), "%s.rules", path);
		c->has_rules = true;
		if ((r = parse_set(s, c, x, p, false)) < 0)
			return r;
		bad |= r;
	}
	if ((c->want == RES_ALLOW || c->want == RES_UNJUDGED) && (c->want_reasons || c->nwant_rules)) {
		snprintf(msg, sizeof(msg), "result %s has no findings, so no reasons or rules", result_names[c->want]);
		return suite_err(s, path, msg) < 0 ? -ENOMEM : 1;
	}
	return bad;
}

static const char *const suite_keys[] = { "name", "profiles", "resources", "namespace", "events", "results" };

/* The one document of a test file: 0, 1 when it is refused (errors in
 * s->errs), -ENOMEM.  Every key is read even after a mistake, so that all
 * the mistakes of a file are named in one run. */
static int parse_suite(struct suite *s, json_t *doc)
{
	json_t *v;
	const char *str, *ns = "default";
	char msg[400];
	size_t n;
	int r;

	if (!json_is_object(doc))
		return suite_err(s, NULL, "a test file is a mapping with profiles, resources and results") < 0 ? -ENOMEM : 1;
	if ((r = check_keys(s, doc, "", suite_keys, sizeof(suite_keys) / sizeof(*suite_keys))) < 0)
		return r;
	if ((v = json_object_get(doc, "name")) && (r = get_string(s, v, "name", &str)) == 0) {
		pg_free(s->name);
		if (!(s->name = pg_strdup(str)))
			return -ENOMEM;
	}
	if (r < 0)
		return r;
	if ((v = json_object_get(doc, "namespace")) && (r = get_string(s, v, "namespace", &str)) == 0) {
		if (strlen(str) > 63 || !str_is_dns1123_label(str)) {
			char q[300];

			snprintf(msg, sizeof(msg), "%s is not a namespace name (RFC 1123 label: a-z, 0-9 and '-', "
				 "at most 63 characters)", str_quote(str, q, sizeof(q)));
			r = suite_err(s, "namespace", msg);
		} else {
			ns = str;
		}
	}
	if (r < 0 || !(s->namespace = pg_strdup(ns)))
		return -ENOMEM;
	if (!(v = json_object_get(doc, "profiles")))
		r = suite_err(s, "profiles", "required: the WorkloadProfiles to judge with (files or directories)");
	else
		r = get_paths(s, v, "profiles", &s->profiles);
	if (r < 0)
		return r;
	if (!(v = json_object_get(doc, "resources")))
		r = suite_err(s, "resources", "required: the manifests to judge (files or directories)");
	else
		r = get_paths(s, v, "resources", &s->resources);
	if (r < 0)
		return r;
	if ((v = json_object_get(doc, "events")) && (r = get_paths(s, v, "events", &s->events)) < 0)
		return r;
	v = json_object_get(doc, "results");
	n = json_array_size(v);
	if (!json_is_array(v) || n == 0)
		return suite_err(s, "results", "required: a list of at least one {resource, result}") < 0 ? -ENOMEM : 1;
	if (n > TEST_MAX_CASES) {
		snprintf(msg, sizeof(msg), "%zu cases, more than the cap of %d: split the file", n, TEST_MAX_CASES);
		return suite_err(s, "results", msg) < 0 ? -ENOMEM : 1;
	}
	if (!(s->cases = pg_calloc(n, sizeof(*s->cases))))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		s->ncases++;
		if ((r = parse_case(s, &s->cases[i], json_array_get(v, i), i)) < 0)
			return r;
	}
	return s->errs.n || s->errs.dropped ? 1 : 0;
}

struct doc_grab {
	json_t *doc;
	size_t n;
};

static int on_test_doc(void *ud, size_t index, json_t *doc)
{
	struct doc_grab *g = ud;

	(void)index;
	if (g->n++ == 0)
		g->doc = json_incref(doc);
	return 0;
}

/* Reads and checks @s->file.  0, 1 refused (s->errs), -ENOMEM. */
static int load_suite(struct suite *s)
{
	struct doc_limits lim = { .max_depth = 16, .max_nodes = 200000, .max_docs = 16 };
	struct doc_grab g = { 0 };
	struct doc_error derr = { 0 };
	char *data, *slash, msg[300];
	size_t len;
	int r;

	slash = strrchr(s->file, '/');
	s->dir = slash ? pg_strndup(s->file, slash == s->file ? 1 : (size_t)(slash - s->file)) : pg_strdup(".");
	if (!(s->name = pg_strdup(s->file)) || !s->dir)
		return -ENOMEM;
	r = doc_read_file(s->file, TEST_MAX_FILE_BYTES, &data, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (r == -EFBIG)
			snprintf(msg, sizeof(msg), "larger than the cap of %u bytes for a test file", TEST_MAX_FILE_BYTES);
		return suite_err(s, NULL, r == -EFBIG ? msg : strerror(-r)) < 0 ? -ENOMEM : 1;
	}
	r = doc_parse(data, len, &lim, on_test_doc, &g, &derr);
	pg_free(data);
	if (r == -ENOMEM) {
		json_decref(g.doc);
		return r;
	}
	if (r < 0) {
		json_decref(g.doc);
		if (derr.line)
			return errlist_add(&s->errs, "%s: line %zu, column %zu: %s", s->file, derr.line, derr.column,
					   derr.msg) < 0 ? -ENOMEM : 1;
		return suite_err(s, NULL, derr.msg) < 0 ? -ENOMEM : 1;
	}
	if (g.n != 1) {
		json_decref(g.doc);
		snprintf(msg, sizeof(msg), "%zu documents: a test file is one document", g.n);
		return suite_err(s, NULL, g.n ? msg : "empty: a test file is one document with profiles, "
				 "resources and results") < 0 ? -ENOMEM : 1;
	}
	r = parse_suite(s, g.doc);
	json_decref(g.doc);
	return r;
}

/* ---- judging ------------------------------------------------------- */

static bool case_is(const struct tcase *c, const struct pod *pod)
{
	return !strcmp(c->kind, workload_kind_name((enum workload_kind)pod->kind)) && !strcmp(c->ns, pod->namespace) &&
	       !strcmp(c->name, pod->name);
}

static int case_add_findings(struct tcase *c, const struct findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		const struct finding *x = &f->v[i];
		size_t k;

		c->got_reasons |= UINT32_C(1) << x->reason;
		if (x->mode == MODE_ENFORCE)
			c->enforce = true;
		for (k = 0; k < c->ngot_rules; k++)
			if (!strcmp(c->got_rules[k], x->rule))
				break;
		if (k == c->ngot_rules) {
			const char **v = pg_realloc(c->got_rules, (k + 1) * sizeof(*v));

			if (!v)
				return -ENOMEM;
			c->got_rules = v;
			v[c->ngot_rules++] = x->rule;
		}
		if (json_array_size(c->findings) >= TEST_MAX_FINDINGS) {
			c->findings_dropped++;
			continue;
		}
		if (json_array_append_new(c->findings, judge_finding_json(x)) < 0)
			return -ENOMEM;
	}
	c->findings_dropped += f->dropped;
	return 0;
}

static int on_item(void *ud, const struct judge_item *it, const struct findings *f, const struct judge_by *jb)
{
	struct suite *s = ud;

	for (size_t i = 0; i < s->ncases; i++) {
		struct tcase *c = &s->cases[i];

		if (!case_is(c, it->pod))
			continue;
		if (c->objects++ == 0 && !(c->where = pg_strdup(it->label)))
			return -ENOMEM;
		if (jb->n)
			c->judged = true;
		if (case_add_findings(c, f) < 0)
			return -ENOMEM;
	}
	return 0;
}

static int on_event(void *ud, const char *file, const struct judge_item *it, const struct findings *f)
{
	struct suite *s = ud;

	(void)file;
	for (size_t i = 0; i < s->ncases; i++)
		if (case_is(&s->cases[i], it->pod) && case_add_findings(&s->cases[i], f) < 0)
			return -ENOMEM;
	return 0;
}

/* "A, B" of the reasons in @mask; "none" when empty. */
static void reasons_str(uint32_t mask, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (unsigned i = 0; i < R__COUNT; i++)
		if (mask & (UINT32_C(1) << i) && len < n)
			len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", reason_name((enum reason)i));
	if (!len)
		snprintf(out, n, "none");
}

static void rules_str(const char *const *v, size_t nv, char *out, size_t n)
{
	size_t len = 0;

	out[0] = '\0';
	for (size_t i = 0; i < nv && len < n; i++)
		len += (size_t)snprintf(out + len, n - len, "%s%s", len ? ", " : "", v[i]);
	if (!len)
		snprintf(out, n, "none");
}

/* "Kind/ns/name" of the item closest to @c's, for "did you mean". */
static const char *closest_resource(const struct judge *j, const struct tcase *c, char *out, size_t n)
{
	size_t best_d = 4;
	bool found = false;

	for (size_t i = 0; i < j->nitems; i++) {
		const struct pod *p = j->items[i].pod;
		char key[1200];
		size_t d;

		if (!p)
			continue;
		snprintf(key, sizeof(key), "%s/%s/%s", workload_kind_name((enum workload_kind)p->kind), p->namespace,
			 p->name);
		d = str_edit_distance(c->resource, strlen(c->resource), key, strlen(key));
		/* Same name in another namespace: the test's namespace is likely wrong. */
		if (d >= best_d && !strcmp(c->name, p->name) &&
		    !strcmp(c->kind, workload_kind_name((enum workload_kind)p->kind)))
			d = best_d - 1;
		if (d < best_d) {
			best_d = d;
			snprintf(out, n, "%s", key);
			found = true;
		}
	}
	return found ? out : NULL;
}

static int case_finish(const struct judge *j, struct tcase *c)
{
	char msg[3000], a[800], b[800];
	size_t len = 0;

	if (c->ngot_rules > 1)
		qsort(c->got_rules, c->ngot_rules, sizeof(char *), str_ptr_cmp);
	if (c->objects == 0) {
		const char *near = closest_resource(j, c, a, sizeof(a));

		snprintf(msg, sizeof(msg), "no such resource: no %s named %s in namespace %s among the resources%s%s%s",
			 c->kind, c->name, c->ns, near ? " (did you mean " : "", near ? near : "", near ? "?)" : "");
		c->got = RES__COUNT;
		return (c->message = pg_strdup(msg)) ? 0 : -ENOMEM;
	}
	c->got = c->enforce ? RES_DENY : c->got_reasons ? RES_WARN : c->judged ? RES_ALLOW : RES_UNJUDGED;
	if (c->objects > 1) {
		snprintf(msg, sizeof(msg), "%zu objects among the resources are %s (the first at %s): a case names "
			 "one object", c->objects, c->resource, c->where);
		return (c->message = pg_strdup(msg)) ? 0 : -ENOMEM;
	}
	if (c->got != c->want)
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "expected %s, got %s", result_names[c->want],
					result_names[c->got]);
	if (c->has_reasons && c->want_reasons != c->got_reasons && len < sizeof(msg)) {
		reasons_str(c->want_reasons, a, sizeof(a));
		reasons_str(c->got_reasons, b, sizeof(b));
		len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%sexpected reasons [%s], got [%s]",
					len ? "; " : "", a, b);
	}
	if (c->has_rules && len < sizeof(msg)) {
		bool same = c->nwant_rules == c->ngot_rules;

		for (size_t i = 0; same && i < c->nwant_rules; i++)
			same = !strcmp(c->want_rules[i], c->got_rules[i]);
		if (!same) {
			rules_str((const char *const *)c->want_rules, c->nwant_rules, a, sizeof(a));
			rules_str(c->got_rules, c->ngot_rules, b, sizeof(b));
			len += (size_t)snprintf(msg + len, sizeof(msg) - len, "%sexpected rules [%s], got [%s]",
						len ? "; " : "", a, b);
		}
	}
	if (!len) {
		c->passed = true;
		return 0;
	}
	return (c->message = pg_strdup(msg)) ? 0 : -ENOMEM;
}

/* Judges @s's resources with its profiles as check does, then each case. */
static int run_suite(struct suite *s)
{
	struct judge j;
	int r;

	for (size_t i = 0; i < s->ncases; i++)
		if (!(s->cases[i].findings = json_array()))
			return -ENOMEM;
	judge_init(&j, s->namespace);
	r = judge_load(&j, (const char *const *)s->profiles.v, s->profiles.n,
		       (const char *const *)s->resources.v, s->resources.n);
	if (r == 0)
		r = judge_eval(&j, on_item, s);
	/* An unreadable capture (1) is an error in j.errs: go on. */
	for (size_t i = 0; i < s->events.n && r >= 0; i++)
		r = judge_events(&j, s->events.v[i], NULL, on_event, s);
	if (r > 0)
		r = 0;
	for (size_t i = 0; i < s->ncases && r == 0; i++)
		r = case_finish(&j, &s->cases[i]);
	/* The judge's errors are check's, word for word. */
	for (size_t i = 0; i < j.errs.n && r == 0; i++)
		r = errlist_add(&s->errs, "%s", j.errs.msgs[i]);
	if (r == 0 && j.errs.dropped)
		r = errlist_add(&s->errs, "%zu more errors", j.errs.dropped);
	if (r == 0 && (j.errs.oom || s->errs.oom))
		r = -ENOMEM;
	judge_free(&j);
	return r;
}

/* ---- finding the test files ---------------------------------------- */

static int add_suite(struct run *run, const char *file)
{
	struct suite *v;

	if (run->nsuites >= TEST_MAX_FILES)
		return errlist_add(&run->errs, "%s: more than the cap of %d test files in one run", file, TEST_MAX_FILES);
	v = pg_realloc(run->suites, (run->nsuites + 1) * sizeof(*v));
	if (!v)
		return -ENOMEM;
	run->suites = v;
	v = &run->suites[run->nsuites++];
	*v = (struct suite){ 0 };
	errlist_init(&v->errs, 100);
	return (v->file = pg_strdup(file)) ? 0 : -ENOMEM;
}

/* The test files under a directory operand. */
struct find {
	struct run *run;
	size_t found;
};

static int find_file(void *ud, const char *path, const struct stat *st)
{
	struct find *f = ud;

	if (strcmp(strrchr(path, '/') + 1, TEST_FILE_NAME) != 0)
		return 0;
	f->found++;
	return add_suite(f->run, path);
}

static int find_fail(void *ud, enum dirwalk_fail what, const char *path, int err)
{
	struct find *f = ud;

	if (what == DIRWALK_STAT)
		return 0;       /* a dangling link is not a test */
	if (what == DIRWALK_TOO_DEEP)
		return errlist_add(&f->run->errs, "%s: directories nest deeper than the cap of %d", path,
				   TEST_MAX_DEPTH);
	return errlist_add(&f->run->errs, "%s: %s", path, strerror(err));
}

static int find_operand(struct run *run, const char *path)
{
	struct find f = { .run = run };
	const struct dirwalk w = { .max_depth = TEST_MAX_DEPTH, .file = find_file, .fail = find_fail, .ud = &f };
	struct stat st;
	int r;

	if (stat(path, &st) < 0)
		return errlist_add(&run->errs, "%s: %s", path, strerror(errno));
	if (!S_ISDIR(st.st_mode))
		return add_suite(run, path);
	r = dirwalk(&w, path);
	if (r == 0 && f.found == 0)
		r = errlist_add(&run->errs, "%s: no %s in this directory or below it", path, TEST_FILE_NAME);
	return r;
}

/* ---- reports ------------------------------------------------------- */

/* A report being written: the first error (-E2BIG past the cap, -ENOMEM)
 * is kept and every later write skipped, so a report is whole or not
 * written at all, never cut short. */
struct report {
	struct buf b;
	int err;
};

static int rep_add(struct report *o, const void *p, size_t n)
{
	if (o->err == 0)
		o->err = buf_add(&o->b, p, n);
	return o->err;
}

static int rep_adds(struct report *o, const char *s)
{
	return rep_add(o, s, strlen(s));
}

static int rep_addc(struct report *o, char c)
{
	return rep_add(o, &c, 1);
}

static __attribute__((format(printf, 2, 3))) int rep_printf(struct report *o, const char *fmt, ...)
{
	va_list ap;

	if (o->err)
		return o->err;
	va_start(ap, fmt);
	o->err = buf_vprintf(&o->b, fmt, ap);
	va_end(ap);
	return o->err;
}

static size_t suite_failed(const struct suite *s)
{
	size_t n = 0;

	for (size_t i = 0; i < s->ncases; i++)
		n += !s->cases[i].passed;
	return n;
}

static void print_text(struct report *out, const struct run *run)
{
	for (size_t i = 0; i < run->nsuites; i++) {
		const struct suite *s = &run->suites[i];

		for (size_t k = 0; k < s->ncases && !s->errs.n; k++) {
			const struct tcase *c = &s->cases[k];
			char rs[800];

			if (c->passed) {
				reasons_str(c->got_reasons, rs, sizeof(rs));
				rep_printf(out, "PASS %s: %s: %s%s%s%s\n", s->name, c->resource, result_names[c->got],
					   c->got_reasons ? " (" : "", c->got_reasons ? rs : "", c->got_reasons ? ")" : "");
				continue;
			}
			rep_printf(out, "FAIL %s: %s: %s\n", s->name, c->resource, c->message);
			for (size_t f = 0; f < json_array_size(c->findings); f++) {
				json_t *x = json_array_get(c->findings, f);

				rep_printf(out, "    %s%s\n", str_eq(json_string_value(json_object_get(x, "mode")), "Audit") ?
					   "warning: " : "", json_string_value(json_object_get(x, "message")));
			}
			if (c->findings_dropped)
				rep_printf(out, "    ... and %zu more\n", c->findings_dropped);
		}
	}
	rep_printf(out, "%zu case%s: %zu passed, %zu failed", run->cases, run->cases == 1 ? "" : "s", run->passed,
		   run->failed);
	if (run->errors)
		rep_printf(out, "; %zu error%s: bad input, see above", run->errors, run->errors == 1 ? "" : "s");
	rep_addc(out, '\n');
}

static json_t *strs_json(const char *const *v, size_t n)
{
	json_t *a = json_array();

	for (size_t i = 0; i < n && a; i++)
		json_array_append_new(a, json_string(v[i]));
	return a;
}

static json_t *reasons_json(uint32_t mask)
{
	json_t *a = json_array();

	for (unsigned i = 0; i < R__COUNT && a; i++)
		if (mask & (UINT32_C(1) << i))
			json_array_append_new(a, json_string(reason_name((enum reason)i)));
	return a;
}

static json_t *case_json(const struct tcase *c)
{
	json_t *want = json_pack("{s:s}", "result", result_names[c->want]);
	json_t *got = c->got < RES__COUNT ?
		json_pack("{s:s, s:o, s:o, s:O, s:I}", "result", result_names[c->got], "reasons",
			  reasons_json(c->got_reasons), "rules", strs_json(c->got_rules, c->ngot_rules), "findings",
			  c->findings, "findingsNotListed", (json_int_t)c->findings_dropped) :
		json_null();

	if (want && c->has_reasons)
		json_object_set_new(want, "reasons", reasons_json(c->want_reasons));
	if (want && c->has_rules)
		json_object_set_new(want, "rules", strs_json((const char *const *)c->want_rules, c->nwant_rules));
	return json_pack("{s:s, s:s, s:s, s:s, s:b, s:s?, s:I, s:o, s:o}", "resource", c->resource, "kind", c->kind,
			 "namespace", c->ns, "name", c->name, "passed", c->passed, "message", c->message, "objects",
			 (json_int_t)c->objects, "expected", want, "got", got);
}

static void print_json(struct report *out, const struct run *run)
{
	json_t *suites = json_array(), *root;
	char *text;

	for (size_t i = 0; i < run->nsuites && suites; i++) {
		const struct suite *s = &run->suites[i];
		json_t *cases = json_array(), *errs = json_array();

		for (size_t k = 0; k < s->ncases && !s->errs.n && cases; k++)
			json_array_append_new(cases, case_json(&s->cases[k]));
		for (size_t k = 0; k < s->errs.n && errs; k++)
			json_array_append_new(errs, json_string(s->errs.msgs[k]));
		json_array_append_new(suites, json_pack("{s:s, s:s, s:b, s:o, s:o}", "file", s->file, "name", s->name,
							"passed", !s->errs.n && suite_failed(s) == 0, "cases",
							cases, "errors", errs));
	}
	root = json_pack("{s:o, s:[], s:{s:I, s:I, s:I, s:I, s:I}}", "suites", suites, "errors", "summary", "suites",
			 (json_int_t)run->nsuites, "cases", (json_int_t)run->cases, "passed", (json_int_t)run->passed,
			 "failed", (json_int_t)run->failed, "errors", (json_int_t)run->errors);
	for (size_t k = 0; root && k < run->errs.n; k++)
		json_array_append_new(json_object_get(root, "errors"), json_string(run->errs.msgs[k]));
	text = root ? json_dumps(root, JSON_INDENT(2) | JSON_ENSURE_ASCII) : NULL;
	json_decref(root);
	if (!text) {
		out->err = out->err ? out->err : -ENOMEM;
		return;
	}
	rep_adds(out, text);
	rep_addc(out, '\n');
	free(text);
}

/* @s as XML 1.0 text or attribute value: the five markup characters as
 * entities, line ends as character references (attributes keep them),
 * other control characters and bytes that are not UTF-8 (XML has no
 * way to say them) as U+FFFD. */
static int xml_escaped(struct report *out, const char *s)
{
	static const char repl[] = "\xef\xbf\xbd";
	int r = 0;

	for (size_t n = strlen(s); *s && r == 0;) {
		unsigned char ch = (unsigned char)*s;
		size_t l;

		switch (ch) {
		case '&': r = rep_adds(out, "&amp;"); break;
		case '<': r = rep_adds(out, "&lt;"); break;
		case '>': r = rep_adds(out, "&gt;"); break;
		case '"': r = rep_adds(out, "&quot;"); break;
		case '\'': r = rep_adds(out, "&apos;"); break;
		case '\n': r = rep_adds(out, "&#10;"); break;
		case '\r': r = rep_adds(out, "&#13;"); break;
		case '\t': r = rep_adds(out, "&#9;"); break;
		default:
			if (ch < 0x20) {
				r = rep_adds(out, repl);
				break;
			}
			l = str_utf8_len(s, n);
			/* U+FFFE and U+FFFF are not XML characters either. */
			if (!l || (l == 3 && !memcmp(s, "\xef\xbf", 2) && (unsigned char)s[2] >= 0xbe)) {
				r = rep_adds(out, repl);
				l = l ? l : 1;
				break;
			}
			r = rep_add(out, s, l);
			s += l;
			n -= l;
			continue;
		}
		s++;
		n--;
	}
	return r;
}

/* One <testsuite> per test file, one <testcase> per case; a test file
 * with bad input is one <testcase name="bad input"> with an <error>, so
 * CI shows it where it shows failures. */
static void print_junit(struct report *out, const struct run *run)
{
	size_t errors = run->errors;

	rep_printf(out, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<testsuites name=\"profileguard test\" "
		   "tests=\"%zu\" failures=\"%zu\" errors=\"%zu\">\n", run->cases + errors, run->failed, errors);
	if (run->errs.n) {
		rep_adds(out, "  <testsuite name=\"profileguard test\" tests=\"1\" failures=\"0\" errors=\"1\">\n"
			 "    <testcase classname=\"profileguard test\" name=\"bad input\">\n      <error type=\"BadInput\" message=\"");
		xml_escaped(out, run->errs.msgs[0]);
		rep_adds(out, "\">");
		for (size_t k = 0; k < run->errs.n; k++) {
			xml_escaped(out, run->errs.msgs[k]);
			rep_adds(out, "\n");
		}
		rep_adds(out, "</error>\n    </testcase>\n  </testsuite>\n");
	}
	for (size_t i = 0; i < run->nsuites; i++) {
		const struct suite *s = &run->suites[i];
		bool bad = s->errs.n > 0;
		size_t cases = bad ? 0 : s->ncases;

		rep_adds(out, "  <testsuite name=\"");
		xml_escaped(out, s->name);
		rep_adds(out, "\" file=\"");
		xml_escaped(out, s->file);
		rep_printf(out, "\" tests=\"%zu\" failures=\"%zu\" errors=\"%d\">\n", cases + bad,
			   bad ? 0 : suite_failed(s), bad);
		for (size_t k = 0; k < cases; k++) {
			const struct tcase *c = &s->cases[k];

			rep_adds(out, "    <testcase classname=\"");
			xml_escaped(out, s->name);
			rep_adds(out, "\" name=\"");
			xml_escaped(out, c->resource);
			rep_adds(out, "\" file=\"");
			xml_escaped(out, s->file);
			if (c->passed) {
				rep_adds(out, "\"/>\n");
				continue;
			}
			rep_adds(out, "\">\n      <failure type=\"");
			rep_adds(out, c->objects == 1 ? "ResultMismatch" : c->objects ? "AmbiguousResource" : "NoSuchResource");
			rep_adds(out, "\" message=\"");
			xml_escaped(out, c->message);
			rep_adds(out, "\">");
			xml_escaped(out, c->message);
			rep_adds(out, "\n");
			for (size_t f = 0; f < json_array_size(c->findings); f++) {
				json_t *x = json_array_get(c->findings, f);

				if (str_eq(json_string_value(json_object_get(x, "mode")), "Audit"))
					rep_adds(out, "warning: ");
				xml_escaped(out, json_string_value(json_object_get(x, "message")));
				rep_adds(out, "\n");
			}
			if (c->findings_dropped)
				rep_printf(out, "... and %zu more\n", c->findings_dropped);
			rep_adds(out, "</failure>\n    </testcase>\n");
		}
		if (bad) {
			rep_adds(out, "    <testcase classname=\"");
			xml_escaped(out, s->name);
			rep_adds(out, "\" name=\"bad input\" file=\"");
			xml_escaped(out, s->file);
			rep_adds(out, "\">\n      <error type=\"BadInput\" message=\"");
			xml_escaped(out, s->errs.msgs[0]);
			rep_adds(out, "\">");
			for (size_t k = 0; k < s->errs.n; k++) {
				xml_escaped(out, s->errs.msgs[k]);
				rep_adds(out, "\n");
			}
			if (s->errs.dropped)
				rep_printf(out, "... and %zu more errors\n", s->errs.dropped);
			rep_adds(out, "</error>\n    </testcase>\n");
		}
		rep_adds(out, "  </testsuite>\n");
	}
	rep_adds(out, "</testsuites>\n");
}

static void tcase_free(struct tcase *c)
{
	pg_free(c->resource);
	pg_free(c->kind);
	pg_free(c->ns);
	pg_free(c->name);
	for (size_t i = 0; i < c->nwant_rules; i++)
		pg_free(c->want_rules[i]);
	pg_free(c->want_rules);
	pg_free(c->where);
	pg_free(c->got_rules);
	json_decref(c->findings);
	pg_free(c->message);
}

static void paths_free(struct paths *l)
{
	for (size_t i = 0; i < l->n; i++)
		pg_free(l->v[i]);
	pg_free(l->v);
}

static void run_free(struct run *run)
{
	for (size_t i = 0; i < run->nsuites; i++) {
		struct suite *s = &run->suites[i];

		pg_free(s->file);
		pg_free(s->name);
		pg_free(s->dir);
		pg_free(s->namespace);
		paths_free(&s->profiles);
		paths_free(&s->resources);
		paths_free(&s->events);
		for (size_t k = 0; k < s->ncases; k++)
			tcase_free(&s->cases[k]);
		pg_free(s->cases);
		errlist_free(&s->errs);
	}
	pg_free(run->suites);
	errlist_free(&run->errs);
}

/* Writes @out to @path (created 0644, or truncated), or stdout. */
static int write_report(const struct buf *out, const char *path)
{
	FILE *f = path ? fopen(path, "we") : stdout;
	int r = 0;

	if (!f) {
		fprintf(stderr, "profileguard test: --output-file %s: %s\n", path, strerror(errno));
		return -errno;
	}
	if (fwrite(buf_str(out), 1, out->len, f) != out->len)
		r = -EIO;
	if ((path ? fclose(f) : fflush(f)) != 0 && r == 0)
		r = -EIO;
	if (r < 0)
		fprintf(stderr, "profileguard test: %s: write failed\n", path ? path : "stdout");
	return r;
}

int cmd_test(int argc, char **argv)
{
	static const char synopsis[] = "[-o text|json|junit] [--output-file PATH] [PATH...]\n\n"
		"Runs test suites: each test file names WorkloadProfiles, manifests, and the result each\n"
		"manifest must get (allow, deny, warn or unjudged, optionally the exact reasons and\n"
		"rules).  The manifests are judged exactly as `profileguard check` judges them.\n"
		"PATH is a test file, or a directory searched recursively for files named\n"
		TEST_FILE_NAME " (default: the current directory).\n"
		"Exit 0: every case passed; 1: a case failed; 2: bad input.\n"
		"The file format and the JSON and JUnit reports are described in docs/test.md.";
	struct cmd_common_opts common = { 0 };
	const char *output = "text", *output_file = NULL;
	const struct flag flags[] = {
		CMD_OUTPUT_FLAG(&output, "text|json|junit", "report format (default text)"),
		CMD_OUTPUT_FILE_FLAG(&output_file),
		CMD_LOG_FLAGS(&common),
		{ 0 },
	};
	struct run run = { 0 };
	struct report out = { .b = BUF_INIT(TEST_MAX_REPORT_BYTES) };
	int optind_, r, rc = CMD_EXIT_PASS;

	errlist_init(&run.errs, 100);
	r = flags_parse(flags, argc, argv, "test", synopsis, &optind_);
	if (r != 0)
		return r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
	if (cmd_common_setup("test", &common) < 0)
		return CMD_EXIT_BAD_INPUT;
	if (output_file && !*output_file) {
		fprintf(stderr, "profileguard test: --output-file needs a path\n");
		return CMD_EXIT_BAD_INPUT;
	}
	for (int i = optind_; i < argc || (i == optind_ && optind_ == argc); i++) {
		if ((r = find_operand(&run, i < argc ? argv[i] : ".")) < 0)
			goto oom;
		if (i >= argc)
			break;
	}
	for (size_t i = 0; i < run.nsuites; i++) {
		struct suite *s = &run.suites[i];

		r = load_suite(s);
		if (r == 0)
			r = run_suite(s);
		if (r < 0)
			goto oom;
		if (s->errs.n || s->errs.dropped) {
			run.errors++;
			continue;
		}
		for (size_t k = 0; k < s->ncases; k++) {
			run.cases++;
			if (s->cases[k].passed)
				run.passed++;
			else
				run.failed++;
		}
	}
	run.errors += run.errs.n + run.errs.dropped;
	if (run.errs.oom)
		goto oom;

	/* Bad input goes to stderr whatever the format, so a CI log shows
	 * it even when the report goes to a file. */
	for (size_t i = 0; i < run.errs.n; i++)
		fprintf(stderr, "profileguard test: %s\n", run.errs.msgs[i]);
	for (size_t i = 0; i < run.nsuites; i++) {
		const struct suite *s = &run.suites[i];

		for (size_t k = 0; k < s->errs.n; k++)
			fprintf(stderr, "profileguard test: %s\n", s->errs.msgs[k]);
		if (s->errs.dropped)
			fprintf(stderr, "profileguard test: %s: ... and %zu more errors\n", s->file, s->errs.dropped);
	}
	if (!strcmp(output, "json"))
		print_json(&out, &run);
	else if (!strcmp(output, "junit"))
		print_junit(&out, &run);
	else
		print_text(&out, &run);
	if (out.err == -E2BIG) {
		fprintf(stderr, "profileguard test: the report is larger than the cap of %u bytes: run fewer suites at once\n",
			TEST_MAX_REPORT_BYTES);
		rc = CMD_EXIT_BAD_INPUT;
		goto out;
	}
	if (out.err < 0)
		goto oom;
	if (write_report(&out.b, output_file) < 0) {
		rc = CMD_EXIT_BAD_INPUT;
		goto out;
	}
	/* The report went to a file: the CI log still gets the verdict. */
	if (output_file)
		printf("%zu case%s: %zu passed, %zu failed%s\n", run.cases, run.cases == 1 ? "" : "s", run.passed,
		       run.failed, run.errors ? "; bad input, see errors above" : "");
	rc = run.errors ? CMD_EXIT_BAD_INPUT : run.failed ? CMD_EXIT_VIOLATIONS : CMD_EXIT_PASS;
	goto out;
oom:
	fprintf(stderr, "profileguard test: out of memory\n");
	rc = CMD_EXIT_BAD_INPUT;
out:
	buf_free(&out.b);
	run_free(&run);
	return rc;
}
