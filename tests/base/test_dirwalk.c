/* test_dirwalk.c - base/dirwalk.c on a tree made here: name order, hidden
 * entries and non-regular files passed over, the depth cap, each kind of
 * failure handed to the caller (and a negative answer stopping the walk),
 * and allocation failures. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"

#include "../lib/allocfail.h"
#include "../lib/tmptree.h"

static char root[64];

/* What the walk did, one line per call: "F path" or "E what errno path". */
struct log {
	char lines[32][256];
	size_t n;
	int stop_file;          /* return this from the file callback (0: go on) */
	int stop_fail;
	int stop_dir;
};

static const char *rel(const char *path)
{
	size_t n = strlen(root);

	return strncmp(path, root, n) == 0 ? path + n : path;
}

static int on_file(void *ud, const char *path, const struct stat *st)
{
	struct log *l = ud;

	ck_assert_uint_lt(l->n, 32);
	ck_assert(S_ISREG(st->st_mode));
	ck_assert_int_eq(st->st_size, 2);       /* what build() writes */
	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "F %s", rel(path));
	return l->stop_file;
}

static int on_dir(void *ud, const char *path)
{
	struct log *l = ud;

	ck_assert_uint_lt(l->n, 32);
	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "D %s", rel(path));
	return l->stop_dir;
}

static int on_fail(void *ud, enum dirwalk_fail what, const char *path, int err)
{
	struct log *l = ud;
	static const char *names[] = { "deep", "open", "stat" };

	ck_assert_uint_lt(l->n, 32);
	snprintf(l->lines[l->n++], sizeof(l->lines[0]), "E %s %d %s", names[what], err, rel(path));
	return l->stop_fail;
}

/* b.txt, c.txt, a/z.txt, a/b/c.txt, a/b/d/e.txt; hidden .h/x.txt and
 * .dot; a fifo p; a dangling link a/dangling. */
static void build(void)
{

	static const char *const files[] = { "c.txt", "b.txt", "a/z.txt", "a/b/c.txt", "a/b/d/e.txt",
					     ".h/x.txt", ".dot" };

	tt_make(root, sizeof(root), "dirwalk");
	for (size_t i = 0; i < sizeof(files) / sizeof(files[0]); i++)
		tt_put(root, files[i], "x\n");
	ck_assert_int_eq(mkfifo(tt_path(root, "p"), 0644), 0);
	ck_assert_int_eq(symlink("/nonexistent/pg-dirwalk", tt_path(root, "a/dangling")), 0);
}

static void teardown(void)
{
	tt_remove(root);
}

static void expect(const struct log *l, const char *const *want, size_t n)
{
	for (size_t i = 0; i < l->n && i < n; i++)
		ck_assert_str_eq(l->lines[i], want[i]);
	ck_assert_uint_eq(l->n, n);
}

START_TEST(name_order_and_failures)
{
	struct log l = { .n = 0 };
	struct dirwalk w = { .max_depth = 16, .file = on_file, .fail = on_fail, .ud = &l };
	char dir[80];
	static const char *const want[] = {
		"F /a/b/c.txt", "F /a/b/d/e.txt", "E stat 2 /a/dangling", "F /a/z.txt", "F /b.txt", "F /c.txt",
	};
	static const char *const with_dirs[] = {
		"D ", "D /a", "D /a/b", "F /a/b/c.txt", "D /a/b/d", "F /a/b/d/e.txt", "E stat 2 /a/dangling",
		"F /a/z.txt", "F /b.txt", "F /c.txt",
	};

	build();
	ck_assert_int_eq(dirwalk(&w, root), 0);
	expect(&l, want, 6);
	/* a trailing slash is not doubled */
	l.n = 0;
	snprintf(dir, sizeof(dir), "%s/", root);
	ck_assert_int_eq(dirwalk(&w, dir), 0);
	expect(&l, want, 6);
	/* each directory is told before it is read, the top one too */
	l.n = 0;
	w.dir = on_dir;
	ck_assert_int_eq(dirwalk(&w, root), 0);
	expect(&l, with_dirs, 10);
	/* and a negative answer stops the walk there */
	l = (struct log){ .n = 0, .stop_dir = -ENOTDIR };
	ck_assert_int_eq(dirwalk(&w, root), -ENOTDIR);
	expect(&l, with_dirs, 1);
	teardown();
}
END_TEST

START_TEST(depth_cap)
{
	struct log l = { .n = 0 };
	struct dirwalk w = { .max_depth = 1, .file = on_file, .fail = on_fail, .ud = &l };
	static const char *const want[] = {
		"F /a/b/c.txt", "E deep 0 /a/b/d", "E stat 2 /a/dangling", "F /a/z.txt", "F /b.txt", "F /c.txt",
	};
	static const char *const top[] = {
		"E deep 0 /a", "F /b.txt", "F /c.txt",
	};

	build();
	/* depth 0 is the top, so a/b/d (depth 3) is past a cap of 2 */
	w.max_depth = 2;
	ck_assert_int_eq(dirwalk(&w, root), 0);
	expect(&l, want, 6);
	l.n = 0;
	w.max_depth = 0;
	ck_assert_int_eq(dirwalk(&w, root), 0);
	expect(&l, top, 3);
	teardown();
}
END_TEST

START_TEST(a_negative_answer_stops)
{
	struct log l = { .n = 0, .stop_fail = -ECANCELED };
	struct dirwalk w = { .max_depth = 16, .file = on_file, .fail = on_fail, .ud = &l };
	static const char *const at_fail[] = { "F /a/b/c.txt", "F /a/b/d/e.txt", "E stat 2 /a/dangling" };
	static const char *const at_file[] = { "F /a/b/c.txt" };

	build();
	ck_assert_int_eq(dirwalk(&w, root), -ECANCELED);
	expect(&l, at_fail, 3);
	l = (struct log){ .n = 0, .stop_file = -EIO };
	ck_assert_int_eq(dirwalk(&w, root), -EIO);
	expect(&l, at_file, 1);
	teardown();
}
END_TEST

START_TEST(unreadable_top)
{
	struct log l = { .n = 0 };
	struct dirwalk w = { .max_depth = 16, .file = on_file, .fail = on_fail, .ud = &l };

	snprintf(root, sizeof(root), "/nonexistent");
	ck_assert_int_eq(dirwalk(&w, "/nonexistent/pg-dirwalk"), 0);
	ck_assert_uint_eq(l.n, 1);
	ck_assert_str_eq(l.lines[0], "E open 2 /pg-dirwalk");
	l = (struct log){ .n = 0, .stop_fail = -ENOENT };
	ck_assert_int_eq(dirwalk(&w, "/nonexistent/pg-dirwalk"), -ENOENT);
}
END_TEST

static int walk_all(void *ud)
{
	struct log *l = ud;
	struct dirwalk w = { .max_depth = 16, .file = on_file, .fail = on_fail, .ud = l };

	l->n = 0;
	return dirwalk(&w, root);
}

START_TEST(allocation_failures)
{
	struct log l = { .n = 0 };

	build();
	af_each(100, walk_all, &l);
	ck_assert_uint_eq(l.n, 6);      /* the run that refused nothing saw it all */
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("dirwalk");
	TCase *tc = tcase_create("dirwalk");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, name_order_and_failures);
	tcase_add_test(tc, depth_cap);
	tcase_add_test(tc, a_negative_answer_stops);
	tcase_add_test(tc, unreadable_top);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
