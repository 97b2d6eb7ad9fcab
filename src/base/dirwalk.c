/* dirwalk.c - one recursive directory walk in name order, shared by the
 * manifest reader and `profileguard test`'s search for test files. */
#include "dirwalk.h"

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "strutil.h"
#include "xalloc.h"

/* The entries of @d (the directory @dir) as "DIR/name", sorted; *ret_n
 * of them, also on -ENOMEM.  Closes @d. */
static int read_names(DIR *d, const char *dir, char ***ret, size_t *ret_n)
{
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	while ((de = readdir(d))) {
		size_t len;

		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			size_t ncap = cap ? cap * 2 : 32;
			char **p = pg_realloc(names, ncap * sizeof(*p));

			if (!p) {
				r = -ENOMEM;
				break;
			}
			names = p;
			cap = ncap;
		}
		len = strlen(dir) + strlen(de->d_name) + 2;
		if (!(names[n] = pg_malloc(len))) {
			r = -ENOMEM;
			break;
		}
		snprintf(names[n++], len, "%s%s%s", dir, str_has_suffix(dir, "/") ? "" : "/", de->d_name);
	}
	closedir(d);
	if (r == 0 && n > 1)
		qsort(names, n, sizeof(*names), str_ptr_cmp);
	*ret = names;
	*ret_n = n;
	return r;
}

static int walk(const struct dirwalk *w, const char *dir, int depth)
{
	char **names = NULL;
	size_t n = 0;
	DIR *d;
	int r;

	if (depth > w->max_depth)
		return w->fail(w->ud, DIRWALK_TOO_DEEP, dir, 0);
	if (w->dir && (r = w->dir(w->ud, dir)) < 0)
		return r;
	if (!(d = opendir(dir)))
		return w->fail(w->ud, DIRWALK_OPEN, dir, errno);
	r = read_names(d, dir, &names, &n);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;

		if (stat(names[i], &st) < 0)
			r = w->fail(w->ud, DIRWALK_STAT, names[i], errno);
		else if (S_ISDIR(st.st_mode))
			r = walk(w, names[i], depth + 1);
		else if (S_ISREG(st.st_mode))
			r = w->file(w->ud, names[i], &st);
	}
	for (size_t i = 0; i < n; i++)
		pg_free(names[i]);
	pg_free(names);
	return r;
}

int dirwalk(const struct dirwalk *w, const char *dir)
{
	return walk(w, dir, 0);
}
