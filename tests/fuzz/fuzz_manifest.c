/* fuzz_manifest.c - pod extraction and evaluation of arbitrary objects
 * against a fixed profile that turns every rule on. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "engine.h"
#include "errlist.h"
#include "pod.h"
#include "profile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char profile_yaml[] =
	"apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
	"metadata: {name: p, namespace: default}\n"
	"spec:\n  selector: {matchExpressions: [{key: x, operator: DoesNotExist}]}\n"
	"  identity: {serviceAccountNames: [a], tokenAutomount: Forbid, maxTokenExpirationSeconds: 3600,\n"
	"             extendedTokens: Forbid, legacyTokenSecrets: Forbid}\n"
	"  images: {allow: [\"r.io/*\"], requireDigest: true}\n"
	"  privileges: {privileged: Forbid, privilegeEscalation: Forbid, hostNamespaces: Forbid,\n"
	"               runAsNonRoot: Require, allowedCapabilities: [NET_ADMIN], allowedHostPaths: [/var/log]}\n";

static struct profile_set set;
static int ready;

static bool always(void *ud, const char *ns, const char *name)
{
	return name[0] == 't';
}

static int on_profile(void *ud, size_t index, const struct jval *doc)
{
	struct errlist errs;
	struct profile *p = NULL;

	errlist_init(&errs, 0);
	if (profile_parse(doc, "default", &errs, &p) == 0)
		profile_set_add(&set, p);
	errlist_free(&errs);
	return 0;
}

static int on_doc(void *ud, size_t index, const struct jval *doc)
{
	struct engine_ctx ctx = { .is_token_secret = always };
	struct errlist errs;
	struct findings f;
	struct pod *pod = NULL;

	errlist_init(&errs, 0);
	if (pod_from_jval(doc, "default", &errs, &pod) == 0) {
		findings_init(&f, 0);
		engine_eval_pod(&set, pod, &ctx, &f);
		ctx.sa_admission_done = true;
		engine_eval_pod(&set, pod, &ctx, &f);
		findings_free(&f);
		pod_free(pod);
	}
	errlist_free(&errs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_limits lim = { 32, 20000, 64 };
	struct doc_error err;

	if (!ready) {
		profile_set_init(&set);
		doc_parse_jval(profile_yaml, strlen(profile_yaml), NULL, on_profile, NULL, &err);
		ready = 1;
	}
	doc_parse_jval((const char *)data, size, &lim, on_doc, NULL, &err);
	return 0;
}
