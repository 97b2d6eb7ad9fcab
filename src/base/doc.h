/* doc.h - YAML and JSON documents to jansson values, or to jval trees.
 * One reader for every input: profiles, manifests, kubeconfig, fixtures.
 * YAML follows what kubectl does (sigs.k8s.io/yaml: YAML 1.1 scalars, so
 * `yes` is true and `0644` is octal), anchors and merge keys included, with
 * limits on depth and on nodes (alias expansion counted: no billion laughs). */
#ifndef PG_DOC_H
#define PG_DOC_H

#include <jansson.h>
#include <stddef.h>

struct doc_limits {
	size_t max_depth;   /* nesting of mappings and sequences */
	size_t max_nodes;   /* per document, aliases counted at full size */
	size_t max_docs;    /* documents per stream */
};

#define DOC_LIMITS_DEFAULT ((struct doc_limits){ 64, 2000000, 100000 })

struct doc_error {
	size_t doc;         /* 1-based document number; 0: before any */
	size_t line;        /* 1-based, 0 when unknown */
	size_t column;
	char msg[256];
};

/* Called once per non-empty document, @index 1-based (empty documents are
 * counted but not delivered).  @doc is borrowed: incref to keep it.
 * A negative return stops the parse and is returned by doc_parse(). */
typedef int (*doc_fn)(void *ud, size_t index, json_t *doc);

/* Parses every document of @data.  JSON input (first byte '{' or '[') may
 * hold several concatenated values.  Returns 0, -EINVAL with @err filled
 * for bad input, -E2BIG for a limit hit (with @err), -ENOMEM, or the
 * callback's negative value. */
int doc_parse(const char *data, size_t len, const struct doc_limits *lim,
	      doc_fn fn, void *ud, struct doc_error *err);

struct jval;

/* The same, each document handed over as the fast reader's tree
 * (jval.h): one copy of the document the YAML rules above composed, in an
 * arena that lives until @fn returns (copy what you keep).  The readers
 * of the model take this tree only. */
typedef int (*doc_jval_fn)(void *ud, size_t index, const struct jval *doc);
int doc_parse_jval(const char *data, size_t len, const struct doc_limits *lim,
		   doc_jval_fn fn, void *ud, struct doc_error *err);

/* Reads a whole file (or stdin for "-") of at most @max bytes into a
 * NUL-terminated buffer the caller frees with pg_free().  Negative errno;
 * -EFBIG when larger than @max. */
int doc_read_file(const char *path, size_t max, char **ret_data, size_t *ret_len);

#endif
