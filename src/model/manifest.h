/* manifest.h - walks files, directories and stdin for Kubernetes objects:
 * multi-document YAML or JSON, `kind: List` (and *List) expanded, errors
 * named by file, document and line.  Shared by `check`, `learn` and the
 * webhook's --profiles directory. */
#ifndef PG_MANIFEST_H
#define PG_MANIFEST_H

#include <stdbool.h>
#include <stddef.h>

struct errlist;
struct jval;

/* Where an object came from. */
struct manifest_origin {
	const char *file;       /* as given, or the path under a directory */
	size_t doc;             /* 1-based document number */
	size_t item;            /* 1-based index inside a List; 0 otherwise */
};

/* @obj is borrowed.  A negative return stops the walk with that value. */
typedef int (*manifest_fn)(void *ud, const struct manifest_origin *o, const struct jval *obj);

#define MANIFEST_MAX_FILE_BYTES (64u * 1024 * 1024)
#define MANIFEST_MAX_DEPTH 16   /* directory nesting */

/* Walks @path: "-" is stdin, a directory is read recursively in name
 * order (files ending .yaml, .yml or .json; names starting with '.' are
 * skipped), anything else is read as one file.  Bad input (unreadable,
 * syntax error, a document that is not an object with apiVersion and
 * kind) is added to @errs as "FILE: document N: ..." and the walk goes
 * on.  Returns 0 (check @errs), -ENOMEM, or the callback's error. */
int manifest_walk(const char *path, manifest_fn fn, void *ud, struct errlist *errs);

/* Whether a directory walk reads @name: it ends .yaml, .yml or .json. */
bool manifest_is_manifest_name(const char *name);

#endif
