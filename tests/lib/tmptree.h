/* tmptree.h - a scratch directory tree for the Check suites that read
 * files: made under /tmp, filled with files whose parents are made on the
 * way (each written through a rename, so a rewrite is a new inode as a
 * Secret volume's swap or an editor's save makes it), and removed whole.
 * Header-only; a failure fails the test. */
#ifndef PG_TEST_TMPTREE_H
#define PG_TEST_TMPTREE_H

#include <check.h>
#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A new directory /tmp/pg-@name-XXXXXX into @root (@n bytes). */
static inline void tt_make(char *root, size_t n, const char *name)
{
	snprintf(root, n, "/tmp/pg-%s-XXXXXX", name);
	ck_assert_ptr_nonnull(mkdtemp(root));
}

/* "@root/@rel", in one of four rotating buffers. */
static inline const char *tt_path(const char *root, const char *rel)
{
	static char p[4][512];
	static int k;

	k = (k + 1) % 4;
	ck_assert_uint_lt((size_t)snprintf(p[k], sizeof(p[k]), "%s/%s", root, rel), sizeof(p[k]));
	return p[k];
}

/* Writes @len bytes of @data to @root/@rel, making its directories. */
static inline void tt_put_n(const char *root, const char *rel, const void *data, size_t len)
{
	char p[512], tmp[520];
	FILE *f;

	snprintf(p, sizeof(p), "%s/%s", root, rel);
	for (char *c = p + strlen(root) + 1; (c = strchr(c, '/')); c++) {
		*c = '\0';
		ck_assert_msg(mkdir(p, 0755) == 0 || errno == EEXIST, "mkdir %s", p);
		*c = '/';
	}
	snprintf(tmp, sizeof(tmp), "%s.tmp~", p);
	f = fopen(tmp, "wb");
	ck_assert_msg(f != NULL, "%s", tmp);
	ck_assert_uint_eq(fwrite(data, 1, len, f), len);
	ck_assert_int_eq(fclose(f), 0);
	ck_assert_int_eq(rename(tmp, p), 0);
}

static inline void tt_put(const char *root, const char *rel, const char *text)
{
	tt_put_n(root, rel, text, strlen(text));
}

static inline int tt_rm_one(const char *path, const struct stat *st, int flag, struct FTW *f)
{
	(void)st, (void)flag, (void)f;
	return remove(path);
}

/* rm -rf @root */
static inline void tt_remove(const char *root)
{
	nftw(root, tt_rm_one, 32, FTW_DEPTH | FTW_PHYS);
}

#endif
