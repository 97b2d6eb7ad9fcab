/* test_source.c - webhook/source.c and source_dir.c: snapshots (sorted,
 * deduplicated lists, references that outlive a publication, versions,
 * readiness, the notify hook), namespaces never judged, token Secrets;
 * the directory source on a tree made here: what it loads and skips, a
 * reload only when the tree moves, a bad reload keeping the last good
 * set (logged, and not retried until the tree moves again), the profile
 * cap at and past it, and NULL-safe, half-built-safe destruction. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "pglog.h"
#include "source.h"

#include "../lib/allocfail.h"
#include "../lib/tmptree.h"

static char root[64];
static FILE *logs;              /* what the source logged */

#define PROFILE(ns, name) \
	"apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n" \
	"metadata: {name: " name ", namespace: " ns "}\n" \
	"spec: {selector: {matchLabels: {app: " name "}}}\n"
#define TOKEN_SECRET(ns, name) \
	"apiVersion: v1\nkind: Secret\ntype: kubernetes.io/service-account-token\n" \
	"metadata: {name: " name ", namespace: " ns "}\n"

static void put(const char *rel, const char *text)
{
	tt_put(root, rel, text);
}

static const char *at(const char *rel)
{
	return tt_path(root, rel);
}

static void setup(void)
{
	tt_make(root, sizeof(root), "source");
	logs = tmpfile();
	ck_assert_ptr_nonnull(logs);
	pglog_setup(PGLOG_TEXT, PGLOG_DEBUG, logs);
}

static void teardown(void)
{
	pglog_setup(PGLOG_TEXT, PGLOG_INFO, stderr);
	fclose(logs);
	tt_remove(root);
}

/* Whether the log so far holds @s; the log is emptied. */
static bool logged(const char *s)
{
	char buf[16384];
	size_t n;

	fflush(logs);
	rewind(logs);
	n = fread(buf, 1, sizeof(buf) - 1, logs);
	buf[n] = '\0';
	rewind(logs);
	ck_assert_int_eq(ftruncate(fileno(logs), 0), 0);
	return strstr(buf, s) != NULL;
}

static bool has_profile(const struct profile_snapshot *s, const char *ns, const char *name)
{
	for (size_t i = 0; i < s->profiles.n; i++)
		if (!strcmp(s->profiles.v[i]->namespace, ns) && !strcmp(s->profiles.v[i]->name, name))
			return true;
	return false;
}

static const struct profile_source_ops plain_ops = { .name = "test" };

static void on_publish(void *ud, const struct profile_snapshot *snap)
{
	uint64_t *seen = ud;

	*seen = snap->version;
}

START_TEST(snapshots_and_references)
{
	struct profile_source src;
	struct profile_snapshot *a, *b, *held;
	static const char *const ns[] = { "kube-system", "b", "kube-system", "a" };
	static const char *const secrets[] = { "x/tok", "a/legacy" };
	uint64_t seen = 0;

	ck_assert_int_eq(source_init(&src, &plain_ops, "profileguard"), 0);
	src.notify = on_publish;
	src.notify_ud = &seen;
	ck_assert(!source_ready(&src));
	ck_assert_ptr_null(source_acquire(&src));

	a = source_snapshot_new();
	ck_assert_ptr_nonnull(a);
	ck_assert_int_eq(source_snapshot_set_ignored(a, ns, 4), 0);
	ck_assert_uint_eq(a->nignored, 3);
	ck_assert_str_eq(a->ignored_ns[0], "a");
	ck_assert_str_eq(a->ignored_ns[1], "b");
	ck_assert_str_eq(a->ignored_ns[2], "kube-system");
	ck_assert_int_eq(source_snapshot_set_token_secrets(a, secrets, 2), 0);
	ck_assert_str_eq(a->token_secrets[0], "a/legacy");
	/* set again: replaced, not appended */
	ck_assert_int_eq(source_snapshot_set_ignored(a, ns + 3, 1), 0);
	ck_assert_uint_eq(a->nignored, 1);
	ck_assert_int_eq(source_snapshot_set_ignored(a, ns, 4), 0);

	source_publish(&src, a);
	ck_assert(source_ready(&src));
	ck_assert_uint_eq(a->version, 1);
	ck_assert_uint_eq(seen, 1);
	held = source_acquire(&src);
	ck_assert_ptr_eq(held, a);

	ck_assert(source_ns_ignored(&src, held, "profileguard"));     /* its own */
	ck_assert(source_ns_ignored(&src, held, "kube-system"));
	ck_assert(source_ns_ignored(&src, held, "a"));
	ck_assert(!source_ns_ignored(&src, held, "shop"));
	ck_assert(source_ns_ignored(&src, NULL, "profileguard"));
	ck_assert(!source_ns_ignored(&src, NULL, "a"));
	ck_assert(source_is_token_secret(&src, held, "x", "tok"));
	ck_assert(source_is_token_secret(&src, held, "a", "legacy"));
	ck_assert(!source_is_token_secret(&src, held, "x", "legacy"));
	ck_assert(!source_is_token_secret(&src, NULL, "x", "tok"));

	/* a new publication: the held one stays readable until released */
	b = source_snapshot_new();
	source_publish(&src, b);
	ck_assert_uint_eq(b->version, 2);
	ck_assert_uint_eq(seen, 2);
	ck_assert_str_eq(held->ignored_ns[0], "a");
	ck_assert_uint_eq(atomic_load(&held->refs), 1);
	source_release(held);
	held = source_acquire(&src);
	ck_assert_ptr_eq(held, b);
	ck_assert(!source_ns_ignored(&src, held, "a"));
	source_release(held);
	source_release(NULL);
	source_destroy(&src);
	source_destroy(&src);           /* twice */
	source_destroy(NULL);
}
END_TEST

static void dir_source(struct profile_source *src, size_t max_profiles)
{
	static const char *const ignored[] = { "kube-system" };
	struct source_dir_opts o = { .dir = root, .ignored_ns = ignored, .nignored = 1,
				     .max_profiles = max_profiles };

	ck_assert_int_eq(source_dir_new(&o, "profileguard", src), 0);
}

START_TEST(dir_loads_what_check_reads)
{
	struct profile_source src;
	struct profile_snapshot *s;

	setup();
	put("shop.yaml", PROFILE("shop", "cart") "---\n" PROFILE("shop", "pay"));
	put("sub/batch.json", "{\"apiVersion\":\"profileguard.io/v1alpha1\",\"kind\":\"WorkloadProfile\","
			      "\"metadata\":{\"name\":\"nightly\",\"namespace\":\"batch\"},"
			      "\"spec\":{\"selector\":{\"matchLabels\":{\"app\":\"n\"}}}}");
	put("secrets.yaml", TOKEN_SECRET("x", "tok") "---\napiVersion: v1\nkind: Secret\n"
		"metadata: {name: opaque, namespace: x}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: p}\n");
	put("notes.txt", PROFILE("skip", "txt"));
	put(".hidden.yaml", PROFILE("skip", "hidden"));
	dir_source(&src, 0);
	ck_assert(!source_ready(&src));
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	ck_assert(source_ready(&src));
	ck_assert(logged("profiles loaded"));
	s = source_acquire(&src);
	ck_assert_uint_eq(s->profiles.n, 3);
	ck_assert(has_profile(s, "shop", "cart"));
	ck_assert(has_profile(s, "shop", "pay"));
	ck_assert(has_profile(s, "batch", "nightly"));
	ck_assert(source_is_token_secret(&src, s, "x", "tok"));
	ck_assert(!source_is_token_secret(&src, s, "x", "opaque"));
	ck_assert(source_ns_ignored(&src, s, "kube-system"));
	ck_assert(source_ns_ignored(&src, s, "profileguard"));
	source_release(s);
	source_destroy(&src);
	teardown();
}
END_TEST

START_TEST(dir_reloads_when_the_tree_moves)
{
	struct profile_source src;
	struct profile_snapshot *s;

	setup();
	put("a.yaml", PROFILE("shop", "cart"));
	dir_source(&src, 0);
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	ck_assert_int_eq(source_dir_reload(&src, false), 1);        /* nothing moved */
	/* files the walk does not read do not count */
	put("notes.txt", "x");
	put(".swp.yaml", "x");
	ck_assert_int_eq(source_dir_reload(&src, false), 1);
	/* a new file, in a new directory */
	put("deep/b.yaml", PROFILE("shop", "pay"));
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	s = source_acquire(&src);
	ck_assert_uint_eq(s->version, 2);
	ck_assert_uint_eq(s->profiles.n, 2);
	source_release(s);
	/* a file rewritten */
	put("a.yaml", PROFILE("shop", "cart") "---\n" PROFILE("web", "front"));
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	/* a file removed */
	ck_assert_int_eq(unlink(at("deep/b.yaml")), 0);
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	s = source_acquire(&src);
	ck_assert_uint_eq(s->version, 4);
	ck_assert_uint_eq(s->profiles.n, 2);
	ck_assert(!has_profile(s, "shop", "pay"));
	source_release(s);
	/* forced: reloaded though nothing moved */
	ck_assert_int_eq(source_dir_reload(&src, true), 0);
	source_destroy(&src);
	teardown();
}
END_TEST

START_TEST(dir_bad_reload_keeps_the_last_good_set)
{
	struct profile_source src;
	struct profile_snapshot *s;

	setup();
	put("a.yaml", PROFILE("shop", "cart"));
	dir_source(&src, 0);
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	logged("");
	put("a.yaml", PROFILE("shop", "cart") "---\n"
		"apiVersion: profileguard.io/v1alpha1\nkind: WorkloadProfile\n"
		"metadata: {name: bad, namespace: shop}\nspec: {selector: {matchLabels: {app: a}}, mode: Sometimes}\n");
	ck_assert_int_eq(source_dir_reload(&src, false), -EINVAL);
	ck_assert(logged("profiles not reloaded, keeping the previous set"));
	s = source_acquire(&src);
	ck_assert_uint_eq(s->version, 1);
	ck_assert_uint_eq(s->profiles.n, 1);
	source_release(s);
	/* not retried while the tree stays as it is */
	ck_assert_int_eq(source_dir_reload(&src, false), 1);
	ck_assert(!logged("keeping"));
	/* defined twice is an error too */
	put("a.yaml", PROFILE("shop", "cart"));
	put("b.yaml", PROFILE("shop", "cart"));
	ck_assert_int_eq(source_dir_reload(&src, false), -EINVAL);
	ck_assert(logged("profile shop/cart is defined twice"));
	ck_assert_int_eq(unlink(at("b.yaml")), 0);
	ck_assert_int_eq(source_dir_reload(&src, false), 0);
	s = source_acquire(&src);
	ck_assert_uint_eq(s->version, 2);
	source_release(s);
	source_destroy(&src);
	teardown();
}
END_TEST

START_TEST(dir_not_ready_until_a_clean_load)
{
	struct profile_source src;

	setup();
	put("a.yaml", "key: [\n");
	dir_source(&src, 0);
	ck_assert_int_eq(source_dir_reload(&src, false), -EINVAL);
	ck_assert(logged("profiles not loaded, not ready"));
	ck_assert(!source_ready(&src));
	ck_assert_ptr_null(source_acquire(&src));
	put("a.yaml", PROFILE("shop", "cart"));
	ck_assert_int_eq(source_start(&src), 0);    /* the first load is synchronous */
	ck_assert(source_ready(&src));
	source_stop(&src);
	source_stop(&src);
	source_destroy(&src);
	teardown();
}
END_TEST

START_TEST(dir_profile_cap)
{
	struct profile_source src;
	struct profile_snapshot *s;

	setup();
	put("a.yaml", PROFILE("shop", "a") "---\n" PROFILE("shop", "b"));
	dir_source(&src, 2);
	ck_assert_int_eq(source_dir_reload(&src, false), 0);       /* at the cap */
	put("c.yaml", PROFILE("shop", "c"));
	ck_assert_int_eq(source_dir_reload(&src, false), -EINVAL);
	ck_assert(logged("c.yaml: document 1: more than 2 profiles"));
	s = source_acquire(&src);
	ck_assert_uint_eq(s->profiles.n, 2);
	source_release(s);
	source_destroy(&src);
	teardown();
}
END_TEST

START_TEST(destroy_is_null_and_half_built_safe)
{
	struct profile_source src;

	memset(&src, 0, sizeof(src));
	source_destroy(&src);           /* never initialised */
	ck_assert_int_eq(source_init(&src, &plain_ops, NULL), 0);
	ck_assert_ptr_null(src.own_namespace);
	source_destroy(&src);           /* nothing published */
	source_stop(NULL);
}
END_TEST

static int load_once(void *ud)
{
	static const char *const ignored[] = { "kube-system" };
	struct source_dir_opts o = { .dir = root, .ignored_ns = ignored, .nignored = 1 };
	struct profile_source src;
	int r = source_dir_new(&o, "own", &src);

	if (r == 0) {
		r = source_dir_reload(&src, false);
		source_destroy(&src);
	}
	return r;
}

START_TEST(allocation_failures)
{
	setup();
	put("a.yaml", PROFILE("shop", "a") "---\n" TOKEN_SECRET("x", "t"));
	af_each(2000, load_once, NULL);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("source");
	TCase *tc = tcase_create("source");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 120);
	tcase_add_test(tc, snapshots_and_references);
	tcase_add_test(tc, dir_loads_what_check_reads);
	tcase_add_test(tc, dir_reloads_when_the_tree_moves);
	tcase_add_test(tc, dir_bad_reload_keeps_the_last_good_set);
	tcase_add_test(tc, dir_not_ready_until_a_clean_load);
	tcase_add_test(tc, dir_profile_cap);
	tcase_add_test(tc, destroy_is_null_and_half_built_safe);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
