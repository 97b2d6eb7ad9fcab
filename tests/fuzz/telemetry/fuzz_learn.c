/* fuzz_learn.c - `profileguard learn` over arbitrary telemetry.  The first
 * byte picks the format ('n', 'f', 't', 'a'; anything else: detect, as the
 * command does).  Oracles: the profile learned is valid (the one validator
 * check, the webhook and the controller use), rendering is deterministic,
 * and the profile allows every exec, open and connection it was learned
 * from. */
#include <errno.h>
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
	struct learn *l;
	struct profile *prof;
	int failed;
};

static int first_ns(void *ud, const struct tel_event *e)
{
	struct pass *p = ud;

	size_t n = e->pod_namespace ? strlen(e->pod_namespace) : 0;

	/* learn's caller checks the namespace, as cmd_learn does */
	if (!p->ns[0] && n && n < sizeof(p->ns) && str_is_dns1123_label(e->pod_namespace))
		memcpy(p->ns, e->pod_namespace, n + 1);
	return 0;
}

static int add(void *ud, const struct tel_event *e)
{
	return learn_add(((struct pass *)ud)->l, e);
}

/* Every exec, open and connect of the learned namespace must pass the
 * profile learned from it. */
static int rejudge(void *ud, const struct tel_event *e)
{
	struct pass *p = ud;
	struct pod pod = { .namespace = p->ns, .name = "fuzz", .run_as_user = -1 };
	struct findings f;

	if (!e->pod_namespace || strcmp(e->pod_namespace, p->ns) != 0)
		return 0;
	if (e->ev.kind != RT_EXEC && e->ev.kind != RT_OPEN && e->ev.kind != RT_CONNECT)
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

static int on_doc(void *ud, size_t index, json_t *doc)
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
	struct pass p = { { 0 }, NULL, NULL, 0 };
	struct buf a = BUF_INIT(1 << 24), b = BUF_INIT(1 << 24);
	struct tel_stats st;
	struct doc_error derr;
	enum tel_source src;
	const char *body;
	size_t len;
	int ra, rb;

	if (size < 1)
		return 0;
	body = (const char *)data + 1;
	len = size - 1;
	switch (data[0]) {
	case 'n': src = TEL_NATIVE; break;
	case 'f': src = TEL_FALCO; break;
	case 't': src = TEL_TETRAGON; break;
	case 'a': src = TEL_AUDIT; break;
	default: src = tel_detect(body, len); break;
	}
	tel_parse(src, body, len, first_ns, &p, &st);
	if (!p.ns[0])
		memcpy(p.ns, "default", sizeof("default"));
	p.l = learn_new(&(struct learn_opts){ .name = "fuzz", .namespace = p.ns });
	if (!p.l)
		return 0;
	if (tel_parse(src, body, len, add, &p, &st) < 0)
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
	if (doc_parse(a.data, a.len, NULL, on_doc, &p, &derr) != 0 && !pg_alloc_refused())
		abort();
	if (p.prof) {
		tel_parse(src, body, len, rejudge, &p, &st);
		if (p.failed && !pg_alloc_refused())
			abort();
		profile_free(p.prof);
	}
out:
	buf_free(&a);
	buf_free(&b);
	learn_free(p.l);
	return 0;
}
