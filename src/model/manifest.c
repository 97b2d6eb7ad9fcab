/* manifest.c - files and directories of Kubernetes objects. */
#include "manifest.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "dirwalk.h"
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

bool manifest_is_manifest_name(const char *name)
{
	return str_has_suffix(name, ".yaml") || str_has_suffix(name, ".yml") ||
	       str_has_suffix(name, ".json");
}

/* A directory's files: the manifests among them, read in turn. */
struct dir_walk {
	manifest_fn fn;
	void *ud;
	struct errlist *errs;
};

static int dir_file(void *ud, const char *path, const struct stat *st)
{
	struct dir_walk *w = ud;

	return manifest_is_manifest_name(path) ? walk_file(path, w->fn, w->ud, w->errs) : 0;
}

static int dir_fail(void *ud, enum dirwalk_fail what, const char *path, int err)
{
	struct dir_walk *w = ud;

	if (what == DIRWALK_TOO_DEEP)
		return errlist_add(w->errs, "%s: directories nest deeper than %d", path, MANIFEST_MAX_DEPTH);
	return errlist_add(w->errs, "%s: %s", path, strerror(err));
}

int manifest_walk(const char *path, manifest_fn fn, void *ud, struct errlist *errs)
{
	struct stat st;

	if (strcmp(path, "-") != 0 && stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		struct dir_walk w = { fn, ud, errs };
		const struct dirwalk dw = { .max_depth = MANIFEST_MAX_DEPTH, .file = dir_file, .fail = dir_fail,
					   .ud = &w };

		return dirwalk(&dw, path);
	}
	return walk_file(path, fn, ud, errs);
}
