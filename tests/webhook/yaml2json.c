/* yaml2json.c - prints every document of a YAML or JSON file as one line
 * of compact JSON, with profileguard's own reader, so the integration
 * tests (Python standard library only) can use the YAML examples. */
#include <stdio.h>
#include <stdlib.h>

#include "doc.h"
#include "xalloc.h"

static int print_doc(void *ud, size_t index, json_t *doc)
{
	if (json_dumpf(doc, stdout, JSON_COMPACT | JSON_ENSURE_ASCII) < 0)
		return -1;
	putchar('\n');
	return 0;
}

int main(int argc, char **argv)
{
	struct doc_error err;
	char *data;
	size_t len;
	int r;

	if (argc != 2) {
		fprintf(stderr, "usage: yaml2json FILE\n");
		return 2;
	}
	if (doc_read_file(argv[1], 64u << 20, &data, &len) < 0) {
		perror(argv[1]);
		return 1;
	}
	r = doc_parse(data, len, NULL, print_doc, NULL, &err);
	pg_free(data);
	if (r < 0) {
		fprintf(stderr, "%s: document %zu line %zu: %s\n", argv[1], err.doc, err.line, err.msg);
		return 1;
	}
	return 0;
}
