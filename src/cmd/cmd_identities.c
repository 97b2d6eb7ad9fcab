/* cmd_identities.c - `profileguard identities`: the identity inventory of
 * a set of manifests, offline.  Every ServiceAccount the files define or
 * a pod template names, what RBAC in the files grants it (the engine of
 * the controller: identity.h, risk.h), its pods, workloads and tokens,
 * and its last use from captured audit events.  Exit 0, 1 when an
 * identity is at or above --fail-on, 2 for bad input (docs/identities.md). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "errlist.h"
#include "hash.h"
#include "identity.h"
#include "idreport.h"
#include "jval.h"
#include "manifest.h"
#include "pod.h"
#include "rbac.h"
#include "strutil.h"
#include "telemetry.h"
#include "xalloc.h"

#define SA_TOKEN_TYPE "kubernetes.io/service-account-token"
#define SA_NAME_ANNOTATION "kubernetes.io/service-account.name"
#define SA_USER_PREFIX "system:serviceaccount:"
/* Bounds on one run: each is a refusal naming it, never a cut. */
#define IDS_MAX_ACCOUNTS 100000
#define IDS_MAX_OBJECTS 1000000     /* roles, bindings, pods and templates together */

/* One identity being inventoried, indexed by "NS/NAME". */
struct account {
	struct smap_node node;
	char *key;
	char *namespace;
	char *name;
	struct rbac_account *sa;        /* NULL: no manifest defines it */
	uint32_t pods, templates, legacy;
	uint32_t bound;                 /* pods and templates with a projected token */
	uint32_t bound_if_automount;    /* ... and those that leave it to the account */
	char **workloads;
	size_t nworkloads, capworkloads;
	int64_t last_used;
};

struct inv {
	const char *default_ns;
	struct errlist errs;
	struct account **acc;
	size_t nacc, capacc;
	struct smap by_key;
	struct rbac_set rbac;           /* until indexed */
	size_t objects;
	bool oom;
	bool over;                      /* a bound of the run was reached */
};

static void account_free(struct account *a)
{
	for (size_t k = 0; k < a->nworkloads; k++)
		pg_free(a->workloads[k]);
	pg_free(a->workloads);
	rbac_account_free(a->sa);
	pg_free(a->key);
	pg_free(a->namespace);
	pg_free(a->name);
	pg_free(a);
}

/* The account @ns/@name, added when absent; NULL when out of memory or
 * past IDS_MAX_ACCOUNTS. */
static struct account *account_get(struct inv *v, const char *ns, const char *name)
{
	struct account *a, **acc;
	struct smap_node *n;
	char key[600];

	snprintf(key, sizeof(key), "%s/%s", ns, name);
	if ((n = smap_get(&v->by_key, key)))
		return smap_entry(n, struct account, node);
	if (v->nacc == IDS_MAX_ACCOUNTS) {
		if (!v->over)
			errlist_add(&v->errs, "more than %d ServiceAccounts (profileguard's limit)", IDS_MAX_ACCOUNTS);
		v->over = true;
		return NULL;
	}
	if (!(acc = pg_grow(v->acc, &v->capacc, v->nacc, sizeof(*acc), 16)))
		goto oom;
	v->acc = acc;
	if (!(a = pg_calloc(1, sizeof(*a))))
		goto oom;
	a->last_used = -1;
	a->key = pg_strdup(key);
	a->namespace = pg_strdup(ns);
	a->name = pg_strdup(name);
	a->node.key = a->key;
	if (!a->key || !a->namespace || !a->name || smap_put(&v->by_key, &a->node) < 0) {
		account_free(a);
		goto oom;
	}
	v->acc[v->nacc++] = a;
	return a;
oom:
	v->oom = true;
	return NULL;
}

static int count_object(struct inv *v, const struct manifest_origin *o)
{
	if (++v->objects <= IDS_MAX_OBJECTS)
		return 0;
	errlist_add(&v->errs, "%s: document %zu: more than %d objects (profileguard's limit)", o->file, o->doc,
		    IDS_MAX_OBJECTS);
	return -E2BIG;
}

/* The errors a parser gave, under the document's name. */
static void add_errors(struct inv *v, const struct manifest_origin *o, const char *kind, struct errlist *e)
{
	for (size_t i = 0; i < e->n; i++)
		errlist_add(&v->errs, "%s: document %zu: %s: %s", o->file, o->doc, kind, e->msgs[i]);
}

/* Kept as they come; report_one() sorts them and drops repeats. */
static int add_workload(struct account *a, const char *text)
{
	char **w;

	if (!(w = pg_grow(a->workloads, &a->capworkloads, a->nworkloads, sizeof(*w), 16)))
		return -ENOMEM;
	a->workloads = w;
	if (!(w[a->nworkloads] = pg_strdup(text)))
		return -ENOMEM;
	a->nworkloads++;
	return 0;
}

/* A pod or a pod template: its account is used. */
static int on_pod(struct inv *v, const struct manifest_origin *o, const struct jval *obj)
{
	struct errlist e;
	struct pod *pod = NULL;
	struct account *a;
	char text[600];
	const char *av = jval_str(jval_get(obj, "apiVersion"));
	int r;

	errlist_init(&e, 16);
	r = pod_from_jval(obj, v->default_ns, &e, &pod);
	if (r == -ENOMEM)
		goto out;
	if (r < 0) {
		add_errors(v, o, "pod spec", &e);
		r = 0;
		goto out;
	}
	if (!(a = account_get(v, pod->namespace, pod_service_account(pod)))) {
		r = v->oom ? -ENOMEM : 0;
		goto out;
	}
	if (pod->kind == WK_POD) {
		a->pods++;
	} else {
		const char *slash = av ? strchr(av, '/') : NULL;

		a->templates++;
		if (slash)
			snprintf(text, sizeof(text), "%.*s/%s/%s", (int)(slash - av), av,
				 workload_kind_name((enum workload_kind)pod->kind), pod->name);
		else
			snprintf(text, sizeof(text), "%s/%s", workload_kind_name((enum workload_kind)pod->kind),
				 pod->name);
		if ((r = add_workload(a, text)) < 0)
			goto out;
	}
	/* A projected token: an explicit source, or the one the API server
	 * injects unless automount is off: the pod's word, else the
	 * account's, known once every file is read (report_one()). */
	if (pod->ntokens || pod->automount == OPT_TRUE)
		a->bound++;
	else if (pod->automount == OPT_UNSET)
		a->bound_if_automount++;
	r = 0;
out:
	pod_free(pod);
	errlist_free(&e);
	return r;
}

/* A Secret: only its type and the account annotation are read, never
 * its data. */
static int on_secret(struct inv *v, const struct jval *obj)
{
	const struct jval *meta = jval_get(obj, "metadata");
	const char *type = jval_str(jval_get(obj, "type"));
	const char *sa = jval_str(jval_get(jval_get(meta, "annotations"), SA_NAME_ANNOTATION));
	const char *ns = jval_str(jval_get(meta, "namespace"));
	struct account *a;

	if (!type || strcmp(type, SA_TOKEN_TYPE) || !sa || !*sa)
		return 0;
	if (!(a = account_get(v, ns && *ns ? ns : v->default_ns, sa)))
		return v->oom ? -ENOMEM : 0;
	a->legacy++;
	return 0;
}

static int on_object(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct inv *v = ud;
	enum rbac_kind k = rbac_kind_of(obj);
	enum workload_kind wk;
	struct errlist e;
	int r = 0;

	if ((r = count_object(v, o)) < 0)
		return r;
	errlist_init(&e, 16);
	switch (k) {
	case RBAC_ROLE:
	case RBAC_CLUSTER_ROLE:
	case RBAC_ROLE_BINDING:
	case RBAC_CLUSTER_ROLE_BINDING:
		r = rbac_set_add(&v->rbac, obj, v->default_ns, &e);
		break;
	case RBAC_SERVICE_ACCOUNT: {
		struct rbac_account *sa;
		struct account *a;

		r = rbac_account_parse(obj, v->default_ns, &e, &sa);
		if (r == 0) {
			if (!(a = account_get(v, sa->namespace, sa->name))) {
				rbac_account_free(sa);
				r = v->oom ? -ENOMEM : 0;
				break;
			}
			if (a->sa) {
				errlist_add(&v->errs, "%s: document %zu: ServiceAccount %s/%s is defined twice",
					    o->file, o->doc, sa->namespace, sa->name);
				rbac_account_free(sa);
				break;
			}
			a->sa = sa;
		}
		break;
	}
	default:
		if (pod_workload_kind(obj, &wk) == 0)
			r = on_pod(v, o, obj);
		else if (str_eq(jval_str(jval_get(obj, "kind")), "Secret") &&
			 str_eq(jval_str(jval_get(obj, "apiVersion")), "v1"))
			r = on_secret(v, obj);
		break;
	}
	if (r == -EINVAL) {
		add_errors(v, o, rbac_kind_name(k), &e);
		r = 0;
	}
	errlist_free(&e);
	return r;
}

/* Audit events: the last successful call of each account. */
static int on_audit(void *ud, const struct telemetry_event *e)
{
	struct inv *v = ud;
	const char *rest, *colon;
	struct smap_node *n;
	char key[600];

	if (e->ev.kind != RUNTIME_API || e->code >= 400 || e->code == 0 || !str_has_prefix(e->ev.username, SA_USER_PREFIX))
		return 0;
	rest = e->ev.username + strlen(SA_USER_PREFIX);
	if (!(colon = strchr(rest, ':')) || !colon[1] || strlen(rest) >= sizeof(key))
		return 0;
	snprintf(key, sizeof(key), "%.*s/%s", (int)(colon - rest), rest, colon + 1);
	if ((n = smap_get(&v->by_key, key))) {
		struct account *a = smap_entry(n, struct account, node);

		if (e->ev.time > a->last_used)
			a->last_used = e->ev.time;
	}
	return 0;
}

static int account_cmp(const void *pa, const void *pb)
{
	const struct account *a = *(struct account *const *)pa, *b = *(struct account *const *)pb;
	int d = strcmp(a->namespace, b->namespace);

	return d ? d : strcmp(a->name, b->name);
}

struct out {
	bool json;
	json_t *list;
	size_t by_level[RISK_CRITICAL + 1];
	size_t failing;
	enum risk_level fail_on;
	bool has_fail_on;
};

static int report_one(struct out *out, struct identity_index *x, struct account *a)
{
	struct risk_result *risk = pg_malloc(sizeof(*risk));
	struct idreport rep = { 0 };
	size_t k = 0;
	json_t *st;
	int r;

	if (!risk)
		return -ENOMEM;
	if ((r = identity_index_judge(x, a->namespace, a->name, risk)) < 0) {
		pg_free(risk);
		return r;
	}
	if (a->nworkloads > 1)  /* qsort(NULL, 0) is undefined */
		qsort(a->workloads, a->nworkloads, sizeof(*a->workloads), str_ptr_cmp);
	for (size_t i = 0; i < a->nworkloads; i++) {
		if (k && !strcmp(a->workloads[i], a->workloads[k - 1]))
			pg_free(a->workloads[i]);
		else
			a->workloads[k++] = a->workloads[i];
	}
	a->nworkloads = k;
	rep.uid = a->sa ? a->sa->uid : NULL;
	rep.state = a->pods || a->templates ? IDSTATE_ACTIVE : IDSTATE_UNKNOWN;
	rep.state_since = -1;
	rep.pods = a->pods;
	rep.workloads = (const char *const *)a->workloads;
	rep.nworkloads = a->nworkloads;
	rep.tokens.automount = !a->sa || a->sa->automount != 0;
	rep.tokens.bound = a->bound + (rep.tokens.automount ? a->bound_if_automount : 0);
	rep.tokens.legacy_secrets = a->legacy;
	rep.tokens.extended = 0;
	rep.last_used = a->last_used;
	rep.risk = risk;
	rep.evaluated = -1;
	out->by_level[risk->level]++;
	if (out->has_fail_on && risk->level >= out->fail_on && risk->level > RISK_NONE)
		out->failing++;
	if (out->json) {
		if (!(st = idreport_status(&rep)) ||
		    json_object_set_new(st, "namespace", json_string(a->namespace)) < 0 ||
		    json_object_set_new(st, "name", json_string(a->name)) < 0 ||
		    json_object_set_new(st, "defined", json_boolean(a->sa != NULL)) < 0 ||
		    json_array_append_new(out->list, st) < 0) {
			pg_free(risk);
			return -ENOMEM;
		}
	} else {
		char day[11];

		printf("%s/%s: %s", a->namespace, a->name, risk_level_name(risk->level));
		printf(" (pods %u, workloads %zu%s", a->pods, a->nworkloads, a->sa ? "" : ", not defined in the files");
		if (a->last_used >= 0) {
			idreport_day(a->last_used, day);
			printf(", last used %s", day);
		}
		printf(")\n");
		for (size_t i = 0; i < a->nworkloads; i++)
			printf("  workload: %s\n", a->workloads[i]);
		for (size_t i = 0; i < risk->nfindings; i++) {
			char line[RISK_GRANT_TEXT + RISK_VIA_TEXT + 64];

			risk_finding_format(&risk->findings[i], line, sizeof(line));
			printf("  %s\n", line);
		}
		if (risk->omitted)
			printf("  ... and %zu more findings\n", risk->omitted);
	}
	pg_free(risk);
	return 0;
}

static void inv_free(struct inv *v)
{
	smap_clear(&v->by_key, NULL, NULL);
	for (size_t i = 0; i < v->nacc; i++)
		account_free(v->acc[i]);
	pg_free(v->acc);
	rbac_set_free(&v->rbac);
	errlist_free(&v->errs);
}

int cmd_identities(int argc, char **argv)
{
	static const char synopsis[] =
		"-f MANIFESTS [-f AUDIT_EVENTS] [-n NS] [-o text|json] [--fail-on LEVEL]\n\n"
		"The identity inventory of a set of manifests: every ServiceAccount they define or a\n"
		"pod template names, what the Roles, ClusterRoles and bindings in them grant it, its\n"
		"risk findings (the controller's rules), pods, workloads and tokens, and, from captured\n"
		"audit events (a file the audit backend wrote), the day it last made a successful call.\n"
		"Exit 0: pass; 1: an identity at or above --fail-on; 2: bad input.\n"
		"The output is described in docs/identities.md.";
	struct cmd_common_opts common = { 0 };
	struct strlist files = { 0 };
	const char *output = "text", *namespace = NULL, *fail_on = NULL;
	const struct flag flags[] = {
		{ "filename", 'f', FLAG_STRINGS, &files, "PATH", "manifests or audit events: file, directory or -" },
		CMD_OUTPUT_FLAG(&output, "text|json", "output format (default text)"),
		{ "namespace", 'n', FLAG_STRING, &namespace, "NS", "namespace of manifests that name none, as kubectl apply -n (default: default)" },
		{ "fail-on", 0, FLAG_ENUM, &fail_on, "Low|Medium|High|Critical", "exit 1 when an identity's risk is at or above this level" },
		CMD_LOG_FLAGS(&common),
		{ 0 },
	};
	struct inv v = { 0 };
	struct out out = { 0 };
	struct identity_index *x = NULL;
	int optind_, r, rc = CMD_EXIT_PASS;

	r = flags_parse(flags, argc, argv, "identities", synopsis, &optind_);
	if (r != 0)
		return r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
	if (optind_ < argc) {
		fprintf(stderr, "profileguard identities: unexpected argument \"%s\" (inputs go after -f)\n",
			argv[optind_]);
		goto usage;
	}
	if (cmd_common_setup("identities", &common) < 0)
		goto usage;
	if (strcmp(output, "text") && strcmp(output, "json")) {
		fprintf(stderr, "profileguard identities: -o must be text or json\n");
		goto usage;
	}
	if (fail_on && (risk_level_parse(fail_on, &out.fail_on) < 0 || out.fail_on == RISK_NONE)) {
		fprintf(stderr, "profileguard identities: --fail-on must be Low, Medium, High or Critical\n");
		goto usage;
	}
	out.has_fail_on = fail_on != NULL;
	if (namespace && cmd_check_namespace("identities", namespace) < 0)
		goto usage;
	if (files.n == 0) {
		fprintf(stderr, "profileguard identities: need -f MANIFESTS (see --help)\n");
		goto usage;
	}
	out.json = !strcmp(output, "json");
	v.default_ns = namespace ? namespace : "default";
	errlist_init(&v.errs, 1000);
	/* Manifests first, audit events after: the accounts must be known
	 * before their use is. */
	for (int pass = 0; pass < 2; pass++) {
		for (size_t i = 0; i < files.n; i++) {
			if (cmd_is_audit_file(files.v[i]) != (pass == 1))
				continue;
			r = pass ? cmd_read_audit(files.v[i], on_audit, &v, &v.errs) : manifest_walk(files.v[i], on_object, &v, &v.errs);
			if (r == -ENOMEM || v.oom)
				goto oom;
			if (r == -E2BIG)
				break;
		}
	}
	if (identity_index_new(&x) < 0 ||
	    identity_index_load(x, v.rbac.roles, v.rbac.nroles, v.rbac.bindings, v.rbac.nbindings, &v.errs) < 0)
		goto oom;
	if (v.nacc > 1)
		qsort(v.acc, v.nacc, sizeof(*v.acc), account_cmp);
	if (out.json && !(out.list = json_array()))
		goto oom;
	for (size_t i = 0; i < v.nacc; i++)
		if (report_one(&out, x, v.acc[i]) < 0)
			goto oom;
	if (out.json) {
		json_t *doc = json_pack("{s:o, s:{s:I, s:{s:I, s:I, s:I, s:I, s:I}, s:I}}", "identities", out.list,
					"summary", "identities", (json_int_t)v.nacc, "byRisk",
					"Critical", (json_int_t)out.by_level[RISK_CRITICAL],
					"High", (json_int_t)out.by_level[RISK_HIGH],
					"Medium", (json_int_t)out.by_level[RISK_MEDIUM],
					"Low", (json_int_t)out.by_level[RISK_LOW],
					"None", (json_int_t)out.by_level[RISK_NONE],
					"failing", (json_int_t)out.failing);
		out.list = NULL;
		if (!doc)
			goto oom;
		if (fail_on)
			json_object_set_new(json_object_get(doc, "summary"), "failOn", json_string(fail_on));
		if (json_dumpf(doc, stdout, JSON_INDENT(2) | JSON_SORT_KEYS) < 0) {
			json_decref(doc);
			goto oom;
		}
		putchar('\n');
		json_decref(doc);
	} else {
		printf("%zu identities: Critical %zu, High %zu, Medium %zu, Low %zu, None %zu\n", v.nacc,
		       out.by_level[RISK_CRITICAL], out.by_level[RISK_HIGH], out.by_level[RISK_MEDIUM],
		       out.by_level[RISK_LOW], out.by_level[RISK_NONE]);
		if (fail_on)
			printf("%zu at or above %s\n", out.failing, fail_on);
	}
	for (size_t i = 0; i < v.errs.n; i++)
		fprintf(stderr, "profileguard identities: %s\n", v.errs.msgs[i]);
	if (v.errs.dropped)
		fprintf(stderr, "profileguard identities: %zu more errors not listed\n", v.errs.dropped);
	if (v.errs.n || v.errs.dropped)
		rc = CMD_EXIT_BAD_INPUT;
	else if (out.failing)
		rc = CMD_EXIT_VIOLATIONS;
	identity_index_free(x);
	inv_free(&v);
	strlist_free(&files);
	return rc;
oom:
	fprintf(stderr, "profileguard identities: out of memory\n");
	json_decref(out.list);
	identity_index_free(x);
	inv_free(&v);
	strlist_free(&files);
	return CMD_EXIT_BAD_INPUT;
usage:
	strlist_free(&files);
	return CMD_EXIT_BAD_INPUT;
}
