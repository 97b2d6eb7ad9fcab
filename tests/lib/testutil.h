/* testutil.h - helpers shared by the Check suites: YAML literals to
 * objects, profiles and pods, and findings as plain strings. */
#ifndef PG_TESTUTIL_H
#define PG_TESTUTIL_H

#include <check.h>
#include <jansson.h>
#include <string.h>

#include "arena.h"
#include "doc.h"
#include "engine.h"
#include "errlist.h"
#include "jval.h"
#include "pod.h"
#include "profile.h"

/* First document of @yaml as a new reference; fails the test on error. */
static inline int tu_first_doc(void *ud, size_t index, json_t *doc)
{
	json_t **ret = ud;

	if (!*ret)
		*ret = json_incref(doc);
	return 0;
}

static inline json_t *tu_yaml(const char *yaml)
{
	struct doc_error err;
	json_t *ret = NULL;
	int r = doc_parse(yaml, strlen(yaml), NULL, tu_first_doc, &ret, &err);

	ck_assert_msg(r == 0, "YAML in test: line %zu: %s", err.line, err.msg);
	ck_assert_ptr_nonnull(ret);
	return ret;
}

/* @j as the model reads it (jval.h), in an arena that lives as long as
 * the test process: the suites build jansson values and convert them. */
static inline const struct jval *tu_jv(json_t *j)
{
	static struct arena *a;
	const struct jval *v = NULL;

	if (!a)
		a = arena_new(64 * 1024);
	ck_assert_ptr_nonnull(a);
	ck_assert_ptr_nonnull(j);
	ck_assert_int_eq(jval_from_json(j, a, &v), 0);
	return v;
}

/* A profile in namespace "ns" named "p" selecting app=a, with @spec_extra
 * (YAML flow-mapping entries, e.g. "images: {allow: [x]}") in its spec. */
static inline struct profile *tu_profile(const char *spec_extra)
{
	char yaml[8192];
	struct errlist errs;
	struct profile *p = NULL;
	json_t *obj;
	int r;

	snprintf(yaml, sizeof(yaml),
		 "apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		 "metadata: {name: p, namespace: ns}\n"
		 "spec: {selector: {matchLabels: {app: a}}%s%s}\n",
		 *spec_extra ? ", " : "", spec_extra);
	obj = tu_yaml(yaml);
	errlist_init(&errs, 0);
	r = profile_parse(tu_jv(obj), "default", &errs, &p);
	ck_assert_msg(r == 0, "profile in test: %s", errs.n ? errs.msgs[0] : "?");
	errlist_free(&errs);
	json_decref(obj);
	return p;
}

static inline struct pod *tu_pod(const char *yaml)
{
	struct errlist errs;
	struct pod *p = NULL;
	json_t *obj = tu_yaml(yaml);
	int r;

	errlist_init(&errs, 0);
	r = pod_from_jval(tu_jv(obj), "default", &errs, &p);
	ck_assert_msg(r == 0, "pod in test (%d): %s", r, errs.n ? errs.msgs[0] : "?");
	errlist_free(&errs);
	json_decref(obj);
	return p;
}

/* Validation errors of @yaml as one "; "-joined string ("" when valid). */
static inline char *tu_profile_errors(const char *yaml, char *out, size_t n)
{
	struct errlist errs;
	json_t *obj = tu_yaml(yaml);
	size_t len = 0;

	errlist_init(&errs, 0);
	profile_parse(tu_jv(obj), "default", &errs, NULL);
	out[0] = '\0';
	for (size_t i = 0; i < errs.n; i++)
		len += (size_t)snprintf(out + len, len < n ? n - len : 0, "%s%s", i ? "; " : "", errs.msgs[i]);
	errlist_free(&errs);
	json_decref(obj);
	return out;
}

#endif
