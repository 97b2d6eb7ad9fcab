/* fuzz_learn.c - `profileguard learn` over arbitrary telemetry.  The first
 * byte picks the format ('n', 'f', 't', 'a'; anything else: detect, as the
 * command does).  The workload is the pod the first event names (a Pod
 * manifest of that name, as the command would be given).  Oracles: the
 * profile learned is valid (the one validator check, the webhook and the
 * controller use), rendering is deterministic, the profile allows every
 * exec, open and connection of the workload's pod, and no event that names
 * another pod adds anything the workload's own did not. */
#include <errno.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "errlist.h"
#include "learn.h"
#include "profile.h"
#include "runtime.h"
#include "strutil.h"
#include "telemetry.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

struct pass {
	char ns[254];                   /* the namespace of the first event */
	char pod[254];                  /* and the pod it names: the workload */
	char *own_exes[64];             /* executables the workload's pod ran */
	size_t nown;
	bool own_overflow;              /* more than own_exes holds: that oracle is off */
	bool unnamed;                   /* events naming no pod: they may be tied */
	struct learn *l;
	struct profile *prof;
	int failed;
};

static int first_ns(void *ud, const struct telemetry_event *e)
{
	struct pass *p = ud;

	size_t n = e->pod_namespace ? strlen(e->pod_namespace) : 0;

	/* learn's caller checks the namespace, as cmd_learn does */
	if (!p->ns[0] && n && n < sizeof(p->ns) && str_is_dns1123_label(e->pod_namespace)) {
		memcpy(p->ns, e->pod_namespace, n + 1);
		if (e->pod_name && strlen(e->pod_name) < sizeof(p->pod))
			memcpy(p->pod, e->pod_name, strlen(e->pod_name) + 1);
	}
	return 0;
}

static int add(void *ud, const struct telemetry_event *e)
{
	return learn_add(((struct pass *)ud)->l, e);
}

/* Every exec, open and connect of the learned namespace must pass the
 * profile learned from it. */
static int rejudge(void *ud, const struct telemetry_event *e)
{
	struct pass *p = ud;
	struct pod pod = { .namespace = p->ns, .name = "fuzz", .run_as_user = -1 };
	struct findings f;

	if (!e->pod_namespace || strcmp(e->pod_namespace, p->ns) != 0 || !e->pod_name ||
	    strcmp(e->pod_name, p->pod) != 0)
		return 0;
	if (e->ev.kind != RUNTIME_EXEC && e->ev.kind != RUNTIME_OPEN && e->ev.kind != RUNTIME_CONNECT)
		return 0;
	/* left out, and said so: no profile can hold such a string */
	if ((e->ev.exe && strlen(e->ev.exe) > PROFILE_MAX_STRING) ||
	    (e->ev.path && strlen(e->ev.path) > PROFILE_MAX_STRING))
		return 0;
	findings_init(&f, 16);
	if (runtime_judge(p->prof, &pod, &e->ev, &f) == 0 && f.n > 0)
		p->failed = 1;
	findings_free(&f);
	return 0;
}

static bool own_event(const struct pass *p, const struct telemetry_event *e)
{
	return e->pod_namespace && e->pod_name && !strcmp(e->pod_namespace, p->ns) && !strcmp(e->pod_name, p->pod);
}

static int collect_own(void *ud, const struct telemetry_event *e)
{
	struct pass *p = ud;

	if (!(e->pod_namespace && e->pod_name))
		p->unnamed = true;
	if (!own_event(p, e) || e->ev.kind != RUNTIME_EXEC)
		return 0;
	if (p->nown == sizeof(p->own_exes) / sizeof(p->own_exes[0])) {
		p->own_overflow = true;
		return 0;
	}
	pg_alloc_hold(true);
	p->own_exes[p->nown] = strdup(e->ev.exe);
	pg_alloc_hold(false);
	if (p->own_exes[p->nown])
		p->nown++;
	else
		p->own_overflow = true;
	return 0;
}

/* An exec of another pod that no executable of the workload's own pod
 * covers must be flagged by the profile: a capture's other pods never
 * widen it. */
static int other_pods(void *ud, const struct telemetry_event *e)
{
	struct pass *p = ud;
	struct pod pod = { .namespace = p->ns, .name = "fuzz", .run_as_user = -1 };
	struct findings f;

	/* no exec of the workload seen: executables are not profiled */
	if (!e->pod_namespace || !e->pod_name || own_event(p, e) || e->ev.kind != RUNTIME_EXEC ||
	    !p->prof->runtime.executables.set)
		return 0;
	for (size_t i = 0; i < p->nown; i++)
		if (glob_match(p->own_exes[i], e->ev.exe))
			return 0;
	findings_init(&f, 16);
	if (runtime_judge(p->prof, &pod, &e->ev, &f) == 0 && f.n == 0)
		p->failed = 1;
	findings_free(&f);
	return 0;
}

static int on_doc(void *ud, size_t index, const struct jval *doc)
{
	struct pass *p = ud;
	struct errlist errs;
	struct profile *prof = NULL;

	errlist_init(&errs, 0);
	if (index != 1 || p->prof || profile_parse(doc, "default", &errs, &prof) != 0) {
		if (!pg_alloc_refused())
			abort();        /* learn wrote something the validator refuses */
	} else {
		p->prof = prof;
	}
	errlist_free(&errs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct pass p = { 0 };
	struct pod workload = { .kind = WK_POD, .run_as_user = -1 };
	struct buf a = BUF_INIT(1 << 24), b = BUF_INIT(1 << 24);
	struct telemetry_stats st;
	struct doc_error derr;
	enum telemetry_source src;
	const char *body;
	size_t len;
	int ra, rb;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	switch (data[0]) {
	case 'n': src = TELEMETRY_NATIVE; break;
	case 'f': src = TELEMETRY_FALCO; break;
	case 't': src = TELEMETRY_TETRAGON; break;
	case 'a': src = TELEMETRY_AUDIT; break;
	default: src = telemetry_detect(body, len); break;
	}
	telemetry_parse(src, body, len, first_ns, &p, &st);
	if (!p.ns[0])
		memcpy(p.ns, "default", sizeof("default"));
	p.l = learn_new(&(struct learn_opts){ .name = "fuzz", .namespace = p.ns });
	if (!p.l)
		return 0;
	workload.namespace = p.ns;
	workload.name = p.pod;
	learn_set_pod(p.l, &workload, "fuzz");
	if (telemetry_parse(src, body, len, add, &p, &st) < 0)
		goto out;
	ra = learn_render(p.l, &a);
	rb = learn_render(p.l, &b);
	if (ra != rb && !pg_alloc_refused())
		abort();
	if (ra != 0 || rb != 0) {
		/* all or nothing, and a list too long is said in words */
		if ((ra && a.len) || (rb && b.len) || (ra == -E2BIG && !learn_error(p.l)))
			abort();
		goto out;
	}
	if (!pg_alloc_refused() && (a.len != b.len || memcmp(a.data, b.data, a.len) != 0))
		abort();
	if (doc_parse_jval(a.data, a.len, NULL, on_doc, &p, &derr) != 0 && !pg_alloc_refused())
		abort();
	if (p.prof) {
		telemetry_parse(src, body, len, rejudge, &p, &st);
		if (p.failed && !pg_alloc_refused())
			abort();
		telemetry_parse(src, body, len, collect_own, &p, &st);
		if (!p.unnamed && !p.own_overflow && !pg_alloc_refused()) {
			telemetry_parse(src, body, len, other_pods, &p, &st);
			if (p.failed)
				abort();
		}
		for (size_t i = 0; i < p.nown; i++)
			free(p.own_exes[i]);
		profile_free(p.prof);
	}
out:
	buf_free(&a);
	buf_free(&b);
	learn_free(p.l);
	return 0;
}
