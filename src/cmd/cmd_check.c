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
#include "judge.h"
#include "pod.h"
#include "telemetry.h"
#include "xalloc.h"

static void print_text(const struct judge_item *it, const struct pod *pod, const struct findings *f)
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


static json_t *result_json(const struct judge_item *it, const struct pod *pod, const struct findings *f,
			   const struct judge_by *j)
{
	json_t *res, *viol = json_array(), *warn = json_array(), *profs = json_array();

	for (size_t i = 0; i < f->n; i++)
		json_array_append_new(f->v[i].mode == MODE_AUDIT ? warn : viol, judge_finding_json(&f->v[i]));
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
	[JUDGE_W_PROFILE_IN_MANIFESTS] = "ProfileInManifests",
	[JUDGE_W_NOT_JUDGED] = "NotJudged",
	[JUDGE_W_SELECTS_NOTHING] = "ProfileSelectsNothing",
};

static json_t *warning_json(const struct judge_warning *w)
{
	json_t *j = json_pack("{s:s, s:s, s:I, s:s, s:s, s:s, s:s}", "type", warn_type_names[w->type], "file",
			      w->file, "document", (json_int_t)w->doc, "kind", w->kind, "namespace", w->ns,
			      "name", w->name, "message", w->text);

	if (j && w->sub)
		json_object_set_new(j, "item", json_integer((json_int_t)w->sub));
	return j;
}

/* What check does with each judged item and event: print it, or add it to
 * the JSON arrays. */
struct check_out {
	json_t *results;        /* JSON mode: the "results" array */
	json_t *findings;       /* JSON mode: one --events input's findings */
};

static int on_item(void *ud, const struct judge_item *it, const struct findings *f, const struct judge_by *jb)
{
	struct check_out *o = ud;

	if (o->results)
		json_array_append_new(o->results, result_json(it, it->pod, f, jb));
	else
		print_text(it, it->pod, f);
	return 0;
}

static int on_event(void *ud, const char *file, const struct judge_item *it, const struct findings *f)
{
	struct check_out *o = ud;
	const struct pod *pod = it->pod;

	for (size_t i = 0; i < f->n; i++) {
		if (o->findings) {
			json_t *j = judge_finding_json(&f->v[i]);

			json_object_set_new(j, "kind", json_string(workload_kind_name((enum workload_kind)pod->kind)));
			json_object_set_new(j, "namespace", json_string(pod->namespace));
			json_object_set_new(j, "workload", json_string(pod->name));
			json_array_append_new(o->findings, j);
		} else {
			printf("%s: %s %s/%s: %s%s\n", file, workload_kind_name((enum workload_kind)pod->kind),
			       pod->namespace, pod->name, f->v[i].mode == MODE_AUDIT ? "warning: " : "",
			       f->v[i].message);
		}
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
	struct cmd_common_opts common = { 0 };
	struct strlist profiles = { 0 }, manifests = { 0 }, events = { 0 };
	const char *events_format = NULL;
	const char *output = "text";
	const char *namespace = NULL;
	bool require_profile = false;
	const struct flag flags[] = {
		{ "profiles", 'p', FLAG_STRINGS, &profiles, "PATH", "WorkloadProfiles: file, directory or -" },
		{ "filename", 'f', FLAG_STRINGS, &manifests, "PATH", "manifests to check: file, directory or -" },
		CMD_OUTPUT_FLAG(&output, "text|json", "output format (default text)"),
		{ "namespace", 'n', FLAG_STRING, &namespace, "NS", "namespace of manifests and profiles that name none, as kubectl apply -n (default: default)" },
		{ "require-profile", 0, FLAG_BOOL, &require_profile, NULL, "fail (exit 1) on objects no profile judges" },
		{ "events", 'e', FLAG_STRINGS, &events, "PATH", "captured telemetry to judge against the profiles of the manifests' workloads" },
		{ "events-format", 0, FLAG_ENUM, &events_format, "native|falco|tetragon|audit", "format of --events (default: detect)" },
		CMD_LOG_FLAGS(&common),
		{ 0 },
	};
	struct judge c = { 0 };
	struct check_out co = { 0 };
	json_t *events_json = NULL;
	int optind_, r, rc = CMD_EXIT_PASS;
	bool json_out;

	r = flags_parse(flags, argc, argv, "check", synopsis, &optind_);
	if (r != 0)
		return r > 0 ? CMD_EXIT_PASS : CMD_EXIT_BAD_INPUT;
	/* Operands are manifests too, as with kubectl apply -f. */
	for (int i = optind_; i < argc; i++) {
		const char **v = pg_realloc(manifests.v, (manifests.n + 1) * sizeof(*v));

		if (!v)
			goto oom;
		manifests.v = v;
		v[manifests.n++] = argv[i];
	}
	if (cmd_common_setup("check", &common) < 0)
		goto bad_usage;
	if (events_format) {
		enum telemetry_source src;

		if (telemetry_source_parse(events_format, &src) < 0) {
			fprintf(stderr, "profileguard check: --events-format must be native, falco, tetragon or audit\n");
			goto bad_usage;
		}
	}
	if (strcmp(output, "text") && strcmp(output, "json")) {
		fprintf(stderr, "profileguard check: -o must be text or json\n");
		goto bad_usage;
	}
	json_out = strcmp(output, "json") == 0;
	if (namespace && cmd_check_namespace("check", namespace) < 0)
		goto bad_usage;
	if (profiles.n == 0 || manifests.n == 0) {
		fprintf(stderr, "profileguard check: need -p PROFILES and -f MANIFESTS (see --help)\n");
		goto bad_usage;
	}
	judge_init(&c, namespace ? namespace : "default");
	if (judge_load(&c, profiles.v, profiles.n, manifests.v, manifests.n) < 0)
		goto oom;
	if (json_out && !(co.results = json_array()))
		goto oom;
	if (judge_eval(&c, on_item, &co) < 0)
		goto oom;
	for (size_t i = 0; i < events.n; i++) {
		if (json_out) {
			if (!events_json && !(events_json = json_array()))
				goto oom;
			if (!(co.findings = json_array()))
				goto oom;
		}
		r = judge_events(&c, events.v[i], events_format, on_event, &co);
		/* An input that could not be read has an error, not an entry. */
		if (co.findings && r == 0)
			json_array_append_new(events_json, json_pack("{s:s, s:o}", "file", events.v[i], "findings",
								     co.findings));
		else
			json_decref(co.findings);
		co.findings = NULL;
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
		out = json_pack("{s:o, s:o, s:o, s:{s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}}", "results", co.results,
				"warnings", warns, "errors", errors, "summary", "objects",
				(json_int_t)(c.passed + c.denied + c.warned + c.unjudged), "passed", (json_int_t)c.passed,
				"denied", (json_int_t)c.denied, "warned", (json_int_t)c.warned, "unjudged",
				(json_int_t)c.unjudged, "skipped", (json_int_t)c.skipped, "errors",
				(json_int_t)errlist_count(&c.errs), "warnings",
				(json_int_t)(c.nwarns + c.warns_dropped));
		co.results = NULL;
		if (out && events_json) {
			json_object_set_new(out, "events", events_json);
			events_json = NULL;
		}
		if (out && events.n)
			json_object_set_new(json_object_get(out, "summary"), "events",
					    json_pack("{s:I, s:I, s:I, s:I}", "judged", (json_int_t)c.ev.events,
						      "findings", (json_int_t)c.ev.findings, "enforce",
						      (json_int_t)c.ev.enforce, "unattributed",
						      (json_int_t)c.ev.unattributed));
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
				c.warns_dropped, JUDGE_MAX_WARNINGS);
		if (events.n)
			printf("%zu event%s judged: %zu finding%s (%zu Enforce), %zu not attributed to a manifest\n",
			       c.ev.events, c.ev.events == 1 ? "" : "s", c.ev.findings,
			       c.ev.findings == 1 ? "" : "s", c.ev.enforce, c.ev.unattributed);
		size_t objects = c.passed + c.denied + c.warned + c.unjudged;
		char unj[64] = "";

		/* Said only when it happens, where no one reading "passed" can miss it. */
		if (c.unjudged)
			snprintf(unj, sizeof(unj), "; %zu not judged by any profile", c.unjudged);
		printf("%zu object%s checked: %zu passed, %zu denied, %zu allowed with warnings%s; "
		       "%zu other object%s skipped%s\n", objects, objects == 1 ? "" : "s", c.passed, c.denied, c.warned,
		       unj, c.skipped, c.skipped == 1 ? "" : "s",
		       errlist_count(&c.errs) ? "; bad input, see errors above" : "");
	}
	if (errlist_count(&c.errs))
		rc = CMD_EXIT_BAD_INPUT;
	else if (c.denied || c.ev.enforce || (require_profile && c.unjudged))
		rc = CMD_EXIT_VIOLATIONS;
	goto out;
oom:
	fprintf(stderr, "profileguard check: out of memory\n");
	rc = CMD_EXIT_BAD_INPUT;
	goto out;
bad_usage:
	rc = CMD_EXIT_BAD_INPUT;
out:
	json_decref(co.results);
	json_decref(events_json);
	judge_free(&c);
	strlist_free(&profiles);
	strlist_free(&manifests);
	strlist_free(&events);
	return rc;
}
