/* manifest.c - files and directories of Kubernetes objects. */
#include "manifest.h"

#include <dirent.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "doc.h"
#include "errlist.h"
#include "jval.h"
#include "strutil.h"
#include "xalloc.h"

struct walk {
	const char *file;
	manifest_fn fn;
	void *ud;
	struct errlist *errs;
};

static int on_doc(void *ud, size_t index, const struct jval *doc)
{
	struct walk *w = ud;
	struct manifest_origin o = { .file = w->file, .doc = index };
	/* Sorted by kind as ever, a NUL in it left to the readers (jval_cstr()). */
	const char *kind = jval_cstr(jval_get(doc, "kind"));
	const struct jval *items, *it;
	size_t i;

	if (!jval_is_object(doc) || !kind || !jval_cstr(jval_get(doc, "apiVersion"))) {
		if (errlist_add(w->errs, "%s: document %zu: not a Kubernetes object (%s)", w->file, index,
				jval_is_object(doc) ? "no apiVersion and kind" : "not a mapping") < 0)
			return -ENOMEM;
		return 0;
	}
	items = jval_get(doc, "items");
	if (str_has_suffix(kind, "List") && jval_is_array(items)) {
		jval_foreach_item(items, i, it) {
			int r;

			o.item = i + 1;
			if (!jval_is_object(it) || !jval_cstr(jval_get(it, "kind"))) {
				if (errlist_add(w->errs, "%s: document %zu: items[%zu]: not a Kubernetes object",
						w->file, index, i) < 0)
					return -ENOMEM;
				continue;
			}
			/* A List from kubectl may leave apiVersion on the items
			 * only; typed lists imply it from the list. */
			r = w->fn(w->ud, &o, it);
			if (r < 0)
				return r;
		}
		return 0;
	}
	return w->fn(w->ud, &o, doc);
}

static int walk_file(const char *path, manifest_fn fn, void *ud, struct errlist *errs)
{
	struct walk w = { .file = path, .fn = fn, .ud = ud, .errs = errs };
	struct doc_error derr;
	char *data = NULL;
	size_t len = 0;
	int r;

	r = doc_read_file(path, MANIFEST_MAX_FILE_BYTES, &data, &len);
	if (r == -ENOMEM)
		return r;
	if (r < 0) {
		if (r == -EFBIG)
			return errlist_add(errs, "%s: larger than %u bytes", path, MANIFEST_MAX_FILE_BYTES);
		return errlist_add(errs, "%s: %s", path, strerror(-r));
	}
	r = doc_parse_jval(data, len, NULL, on_doc, &w, &derr);
	pg_free(data);
	if (r == -EINVAL || r == -E2BIG) {
		if (derr.line)
			return errlist_add(errs, "%s: document %zu: line %zu, column %zu: %s", path,
					   derr.doc, derr.line, derr.column, derr.msg);
		return errlist_add(errs, "%s: document %zu: %s", path, derr.doc, derr.msg);
	}
	return r;
}

static bool manifest_name(const char *name)
{
	return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") ||
	       str_has_suffix(name, ".json");
}

static int walk_dir(const char *path, int depth, manifest_fn fn, void *ud, struct errlist *errs)
{
	DIR *d;
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;
	int r = 0;

	if (depth > MANIFEST_MAX_DEPTH)
		return errlist_add(errs, "%s: directories nest deeper than %d", path, MANIFEST_MAX_DEPTH);
	d = opendir(path);
	if (!d)
		return errlist_add(errs, "%s: %s", path, strerror(errno));
	while ((de = readdir(d))) {
		char *full;
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
		len = strlen(path) + strlen(de->d_name) + 2;
		full = pg_malloc(len);
		if (!full) {
			r = -ENOMEM;
			break;
		}
		snprintf(full, len, "%s%s%s", path, str_has_suffix(path, "/") ? "" : "/", de->d_name);
		names[n++] = full;
	}
	closedir(d);
	if (r == 0 && n)
		qsort(names, n, sizeof(*names), str_ptr_cmp);
	for (size_t i = 0; i < n && r >= 0; i++) {
		struct stat st;

		if (stat(names[i], &st) < 0)
			r = errlist_add(errs, "%s: %s", names[i], strerror(errno));
		else if (S_ISDIR(st.st_mode))
			r = walk_dir(names[i], depth + 1, fn, ud, errs);
		else if (S_ISREG(st.st_mode) && manifest_name(names[i]))
			r = walk_file(names[i], fn, ud, errs);
	}
	for (size_t i = 0; i < n; i++)
		pg_free(names[i]);
	pg_free(names);
	return r;
}

int manifest_walk(const char *path, manifest_fn fn, void *ud, struct errlist *errs)
{
	struct stat st;

	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode))
		return walk_dir(path, 0, fn, ud, errs);
	return walk_file(path, fn, ud, errs);
}
