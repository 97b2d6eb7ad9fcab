/* test_dirwalk.c - base/dirwalk.c on a tree made here: name order, hidden
 * entries and non-regular files passed over, the depth cap, each kind of
 * failure handed to the caller (and a negative answer stopping the walk),
 * and allocation failures. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "dirwalk.h"
#include "xalloc.h"

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
	ck_assert_int_eq(st->st_size, 2);       /* what put() writes */
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

static void put(const char *relpath)
{
	char p[256];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, relpath);
	for (char *s = p + strlen(root) + 1; (s = strchr(s, '/')); s++) {
		*s = '\0';
		ck_assert(mkdir(p, 0755) == 0 || errno == EEXIST);
		*s = '/';
	}
	f = fopen(p, "w");
	ck_assert_ptr_nonnull(f);
	fputs("x\n", f);
	fclose(f);
}

static int rm_one(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st, (void)flag, (void)ftw;
	return remove(path);
}

/* b.txt, c.txt, a/z.txt, a/b/c.txt, a/b/d/e.txt; hidden .h/x.txt and
 * .dot; a fifo p; a dangling link a/dangling. */
static void build(void)
{
	char p[256];

	snprintf(root, sizeof(root), "/tmp/pg-dirwalk-XXXXXX");
	ck_assert_ptr_nonnull(mkdtemp(root));
	put("c.txt");
	put("b.txt");
	put("a/z.txt");
	put("a/b/c.txt");
	put("a/b/d/e.txt");
	put(".h/x.txt");
	put(".dot");
	snprintf(p, sizeof(p), "%s/p", root);
	ck_assert_int_eq(mkfifo(p, 0644), 0);
	snprintf(p, sizeof(p), "%s/a/dangling", root);
	ck_assert_int_eq(symlink("/nonexistent/pg-dirwalk", p), 0);
}

static void teardown(void)
{
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
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

START_TEST(allocation_failures)
{
	/* every allocation fails in turn: -ENOMEM or the whole walk, never a
	 * crash or a leak (ASan checks) */
	build();
	for (long i = 0; i < 100; i++) {
		struct log l = { .n = 0 };
		struct dirwalk w = { .max_depth = 16, .file = on_file, .fail = on_fail, .ud = &l };
		bool refused;
		int r;

		pg_alloc_fail_at(i);
		r = dirwalk(&w, root);
		refused = pg_alloc_refused();
		pg_alloc_fail_at(-1);
		ck_assert_msg(r == (refused ? -ENOMEM : 0), "%d at %ld", r, i);
		if (!refused) {
			ck_assert_uint_eq(l.n, 6);
			break;
		}
	}
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
