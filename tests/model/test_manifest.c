/* test_manifest.c - model/manifest.c on files and trees made here: every
 * object with its origin (file, document, List item), Lists expanded,
 * what is not a Kubernetes object named and skipped, directories in name
 * order with only .yaml/.yml/.json read, the caps (file size, nesting),
 * a callback's error stopping the walk, and allocation failures. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "errlist.h"
#include "jval.h"
#include "manifest.h"

#include "../lib/allocfail.h"
#include "../lib/tmptree.h"

static char root[64];

/* The objects seen, one line each: "FILE doc.item Kind/name". */
struct seen {
	char lines[32][256];
	size_t n;
	int stop_at;            /* return -ECANCELED at this object (1-based); 0: never */
};

static const char *rel(const char *path)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 ? path + n + 1 : path;
}

/* The only function that looks into an object. */
static int record(void *ud, const struct manifest_origin *o, const struct jval *obj)
{
	struct seen *s = ud;
	const char *kind = jval_str(jval_get(obj, "kind"));
	const char *name = jval_str(jval_get(jval_get(obj, "metadata"), "name"));

	ck_assert_uint_lt(s->n, 32);
	snprintf(s->lines[s->n++], sizeof(s->lines[0]), "%s %zu.%zu %s/%s", rel(o->file), o->doc, o->item,
		 kind ? kind : "-", name ? name : "-");
	return s->stop_at && s->n == (size_t)s->stop_at ? -ECANCELED : 0;
}

static void put(const char *rel, const char *text)
{
	tt_put(root, rel, text);
}

static const char *path_of(const char *rel)
{
	return tt_path(root, rel);
}

static void setup(void)
{
	tt_make(root, sizeof(root), "manifest");
}

static void teardown(void)
{
	tt_remove(root);
}

static void expect(const struct seen *s, const char *const *want, size_t n)
{
	for (size_t i = 0; i < s->n && i < n; i++)
		ck_assert_str_eq(s->lines[i], want[i]);
	ck_assert_uint_eq(s->n, n);
}

static void expect_errs(const struct errlist *e, const char *const *want, size_t n)
{
	for (size_t i = 0; i < e->n && i < n; i++)
		ck_assert_str_eq(rel(e->msgs[i]), want[i]);
	ck_assert_uint_eq(e->n, n);
}

#define POD(name) "apiVersion: v1\nkind: Pod\nmetadata: {name: " name "}\n"

START_TEST(documents_and_lists)
{
	struct seen s = { .n = 0 };
	struct errlist e;
	static const char *const want[] = {
		"m.yaml 1.0 Pod/a",
		"m.yaml 3.1 Pod/b",             /* items may leave apiVersion to the List */
		"m.yaml 3.3 Deployment/d",
		"m.yaml 4.1 Pod/c",             /* a typed list */
		"m.yaml 5.0 PodList/-",         /* "items" not a list: the object itself */
		"m.yaml 6.0 Pod/e",
	};
	static const char *const errs[] = {
		"m.yaml: document 2: not a Kubernetes object (no apiVersion and kind)",
		"m.yaml: document 3: items[1]: not a Kubernetes object",
		"m.yaml: document 7: not a Kubernetes object (not a mapping)",
	};

	setup();
	errlist_init(&e, 100);
	put("m.yaml", POD("a")
		"---\nkind: Pod\nmetadata: {name: x}\n"
		"---\napiVersion: v1\nkind: List\nitems:\n"
		"- {kind: Pod, metadata: {name: b}}\n- {metadata: {name: nokind}}\n"
		"- {apiVersion: apps/v1, kind: Deployment, metadata: {name: d}}\n"
		"---\napiVersion: v1\nkind: PodList\nitems: [{kind: Pod, metadata: {name: c}}]\n"
		"---\napiVersion: v1\nkind: PodList\nitems: {}\n"
		"---\n" POD("e")
		"---\n- a list\n");
	ck_assert_int_eq(manifest_walk(path_of("m.yaml"), record, &s, &e), 0);
	expect(&s, want, 6);
	expect_errs(&e, errs, 3);
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(bad_files_are_errors_and_the_walk_goes_on)
{
	struct seen s = { .n = 0 };
	struct errlist e;
	static const char *const want[] = { "c.json 1.0 Pod/j", "c.json 2.0 Pod/k", "d.yml 1.0 Pod/yml" };
	static const char *const errs[] = {
		"a.yaml: document 2: line 2, column 1: did not find expected key",
		"b.json: document 1: ",
	};

	setup();
	errlist_init(&e, 100);
	put("a.yaml", POD("fine-but-the-file-is-not") "---\nkey: [\n]x: y\n");
	put("b.json", "{\"apiVersion\": \"v1\", \"kind\":");
	put("c.json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"j\"}}\n"
		      "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"k\"}}\n");
	put("d.yml", POD("yml"));
	ck_assert_int_eq(manifest_walk(root, record, &s, &e), 0);
	/* a.yaml's first document was delivered before its second failed */
	ck_assert_uint_eq(s.n, 4);
	ck_assert_str_eq(s.lines[0], "a.yaml 1.0 Pod/fine-but-the-file-is-not");
	for (size_t i = 0; i < 3; i++)
		ck_assert_str_eq(s.lines[i + 1], want[i]);
	ck_assert_uint_eq(e.n, 2);
	ck_assert_msg(strncmp(rel(e.msgs[0]), errs[0], strlen("a.yaml: document 2: line ")) == 0, "%s",
		      e.msgs[0]);
	ck_assert_msg(strncmp(rel(e.msgs[1]), errs[1], strlen(errs[1])) == 0, "%s", e.msgs[1]);
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(directories_in_name_order)
{
	struct seen s = { .n = 0 };
	struct errlist e;
	char link[512];
	static const char *const want[] = {
		"a/b/deep.yaml 1.0 Pod/deep", "a/z.json 1.0 Pod/z", "b.yml 1.0 Pod/b", "c.yaml 1.0 Pod/c",
	};
	static const char *const errs[] = { "a/dangling.yaml: No such file or directory" };

	setup();
	errlist_init(&e, 100);
	put("c.yaml", POD("c"));
	put("b.yml", POD("b"));
	put("a/z.json", "{\"apiVersion\":\"v1\",\"kind\":\"Pod\",\"metadata\":{\"name\":\"z\"}}");
	put("a/b/deep.yaml", POD("deep"));
	put("a/notes.txt", POD("txt"));                    /* not a manifest name */
	put("a/README", POD("readme"));
	put(".hidden/h.yaml", POD("hidden"));
	put("a/.h.yaml", POD("hidden2"));
	snprintf(link, sizeof(link), "%s/a/dangling.yaml", root);
	ck_assert_int_eq(symlink("/nonexistent/pg-manifest.yaml", link), 0);
	ck_assert_int_eq(manifest_walk(root, record, &s, &e), 0);
	expect(&s, want, 4);
	expect_errs(&e, errs, 1);
	/* a file given by name is read whatever its name */
	s.n = 0;
	ck_assert_int_eq(manifest_walk(path_of("a/notes.txt"), record, &s, &e), 0);
	ck_assert_str_eq(s.lines[0], "a/notes.txt 1.0 Pod/txt");
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(nesting_cap)
{
	struct seen s = { .n = 0 };
	struct errlist e;
	char deep[512] = "", msg[600];

	setup();
	errlist_init(&e, 100);
	for (int i = 0; i < MANIFEST_MAX_DEPTH; i++)
		strncat(deep, "d/", sizeof(deep) - strlen(deep) - 1);
	snprintf(msg, sizeof(msg), "%sok.yaml", deep);
	put(msg, POD("at-the-cap"));
	snprintf(msg, sizeof(msg), "%sd/no.yaml", deep);
	put(msg, POD("past-the-cap"));
	ck_assert_int_eq(manifest_walk(root, record, &s, &e), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_str_eq(s.lines[0] + strlen(deep), "ok.yaml 1.0 Pod/at-the-cap");
	ck_assert_uint_eq(e.n, 1);
	snprintf(msg, sizeof(msg), "%sd: directories nest deeper than %d", deep, MANIFEST_MAX_DEPTH);
	ck_assert_str_eq(rel(e.msgs[0]), msg);
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(file_size_cap)
{
	struct seen s = { .n = 0 };
	struct errlist e;
	char msg[128];
	int fd;

	setup();
	errlist_init(&e, 100);
	/* exactly the cap: read (a pod, then spaces) */
	put("at.yaml", POD("at"));
	fd = open(path_of("at.yaml"), O_WRONLY | O_CLOEXEC);
	ck_assert_int_ge(fd, 0);
	{
		static char spaces[1 << 16];
		off_t off = (off_t)strlen(POD("at"));

		memset(spaces, ' ', sizeof(spaces));
		ck_assert_int_eq(lseek(fd, off, SEEK_SET), off);
		for (size_t left = MANIFEST_MAX_FILE_BYTES - (size_t)off; left;) {
			size_t n = left < sizeof(spaces) ? left : sizeof(spaces);

			ck_assert_int_eq(write(fd, spaces, n), (ssize_t)n);
			left -= n;
		}
	}
	close(fd);
	ck_assert_int_eq(manifest_walk(path_of("at.yaml"), record, &s, &e), 0);
	ck_assert_uint_eq(e.n, 0);
	ck_assert_uint_eq(s.n, 1);
	/* one byte more: refused, naming the cap */
	fd = open(path_of("at.yaml"), O_WRONLY | O_APPEND | O_CLOEXEC);
	ck_assert_int_eq(write(fd, "\n", 1), 1);
	close(fd);
	ck_assert_int_eq(manifest_walk(path_of("at.yaml"), record, &s, &e), 0);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(e.n, 1);
	snprintf(msg, sizeof(msg), "at.yaml: larger than %u bytes", MANIFEST_MAX_FILE_BYTES);
	ck_assert_str_eq(rel(e.msgs[0]), msg);
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(missing_path)
{
	struct seen s = { .n = 0 };
	struct errlist e;

	setup();
	errlist_init(&e, 100);
	ck_assert_int_eq(manifest_walk(path_of("gone.yaml"), record, &s, &e), 0);
	ck_assert_uint_eq(e.n, 1);
	ck_assert_str_eq(rel(e.msgs[0]), "gone.yaml: No such file or directory");
	errlist_free(&e);
	teardown();
}
END_TEST

START_TEST(callback_error_stops)
{
	struct seen s = { .n = 0, .stop_at = 2 };
	struct errlist e;

	setup();
	errlist_init(&e, 100);
	put("a.yaml", POD("a") "---\n" POD("b") "---\n" POD("c"));
	put("b.yaml", POD("d"));
	ck_assert_int_eq(manifest_walk(root, record, &s, &e), -ECANCELED);
	ck_assert_uint_eq(s.n, 2);
	/* in a List too */
	s = (struct seen){ .n = 0, .stop_at = 1 };
	put("l.yaml", "apiVersion: v1\nkind: List\nitems: [{kind: Pod}, {kind: Pod}]\n");
	ck_assert_int_eq(manifest_walk(path_of("l.yaml"), record, &s, &e), -ECANCELED);
	ck_assert_uint_eq(s.n, 1);
	ck_assert_uint_eq(e.n, 0);
	errlist_free(&e);
	teardown();
}
END_TEST

static int walk_root(void *ud)
{
	struct seen *s = ud;
	struct errlist e;
	int r;

	s->n = 0;
	errlist_init(&e, 100);
	r = manifest_walk(root, record, s, &e);
	if (r == 0 && e.oom)
		r = -ENOMEM;
	ck_assert_uint_eq(e.n, r == 0 ? 1 : e.n);       /* b.yaml's, when whole */
	errlist_free(&e);
	return r;
}

START_TEST(allocation_failures)
{
	struct seen s = { .n = 0 };

	setup();
	put("a/x.yaml", POD("a") "---\napiVersion: v1\nkind: List\nitems: [{kind: Pod}]\n");
	put("b.yaml", "- not an object\n");
	af_each(2000, walk_root, &s);
	ck_assert_uint_eq(s.n, 2);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("manifest");
	TCase *tc = tcase_create("manifest");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, documents_and_lists);
	tcase_add_test(tc, bad_files_are_errors_and_the_walk_goes_on);
	tcase_add_test(tc, directories_in_name_order);
	tcase_add_test(tc, nesting_cap);
	tcase_add_test(tc, file_size_cap);
	tcase_add_test(tc, missing_path);
	tcase_add_test(tc, callback_error_stops);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
