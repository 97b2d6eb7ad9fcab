/* fuzz_admission.c - the AdmissionReview parser, the pod and profile
 * judgements, and the response renderer, on arbitrary bytes.  Oracle
 * beyond "no crash": whatever is rendered is valid JSON that echoes the
 * uid, and a denial always carries a message. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "admission.h"
#include "doc.h"
#include "errlist.h"
#include "profile.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static const char profiles_yaml[] =
	"apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
	"metadata: {name: strict, namespace: default}\n"
	"spec:\n  selector: {matchExpressions: [{key: x, operator: DoesNotExist}]}\n"
	"  identity: {serviceAccountNames: [a], tokenAutomount: Forbid, maxTokenExpirationSeconds: 3600,\n"
	"             extendedTokens: Forbid, legacyTokenSecrets: Forbid}\n"
	"  images: {allow: [\"r.io/*\"], requireDigest: true}\n"
	"  privileges: {privileged: Forbid, privilegeEscalation: Forbid, hostNamespaces: Forbid,\n"
	"               runAsNonRoot: Require, allowedCapabilities: [NET_ADMIN], allowedHostPaths: [/var/log]}\n"
	"---\n"
	"apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
	"metadata: {name: audit, namespace: default}\n"
	"spec:\n  selector: {matchLabels: {app: a}}\n  mode: Audit\n"
	"  images: {allow: []}\n";

static struct profile_set set;
static int ready;

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

static bool ignored(void *ud, const char *ns)
{
	return strcmp(ns, "kube-system") == 0;
}

static bool token_secret(void *ud, const char *ns, const char *name)
{
	return name[0] == 't';
}

static void check_rendered(const struct admission_review *rv, const struct admission_response *r)
{
	struct buf out = BUF_INIT(8 * 1024 * 1024);
	json_t *j, *resp;

	if (admission_response_render(rv, r, &out) != 0) {
		buf_free(&out);
		return;
	}
	/* What was judged and rendered must be whole even if allocations were
	 * refused on the way: the check itself allocates freely. */
	pg_alloc_hold(true);
	j = json_loadb(out.data, out.len, 0, NULL);
	if (!j)
		abort();
	resp = json_object_get(j, "response");
	if (strcmp(json_string_value(json_object_get(resp, "uid")), rv->uid) != 0)
		abort();
	if (!r->allowed && !*json_string_value(json_object_get(json_object_get(resp, "status"), "message")))
		abort();
	if (json_array_size(json_object_get(resp, "warnings")) > ADMISSION_MAX_WARNINGS)
		abort();
	json_decref(j);
	buf_free(&out);
	pg_alloc_hold(false);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct admission_policy pol = { .profiles = &set, .ns_ignored = ignored,
					.is_token_secret = token_secret };
	struct admission_review rv;
	struct admission_response r;
	struct doc_error derr;
	char err[256];

	if (!ready) {
		profile_set_init(&set);
		doc_parse_jval(profiles_yaml, strlen(profiles_yaml), NULL, on_profile, NULL, &derr);
		ready = 1;
	}
	if (admission_review_parse((const char *)data, size, &rv, err, sizeof(err)) != 0)
		return 0;
	admission_response_init(&r);
	if (admission_judge_pod(&rv, &pol, &r) == 0)
		check_rendered(&rv, &r);
	admission_response_free(&r);
	admission_response_init(&r);
	if (admission_judge_profile(&rv, &r) == 0)
		check_rendered(&rv, &r);
	admission_response_free(&r);
	admission_review_free(&rv);
	return 0;
}
