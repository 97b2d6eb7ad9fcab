/* fuzz_profile.c - WorkloadProfile YAML/JSON: documents, then validation. */
#include <stdint.h>
#include <stdlib.h>

#include "doc.h"
#include "engine.h"
#include "errlist.h"
#include "profile.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int on_doc(void *ud, size_t index, const struct jval *doc)
{
	struct errlist errs;
	struct profile *p = NULL;

	errlist_init(&errs, 0);
	if (profile_parse(doc, "default", &errs, &p) == 0)
		profile_free(p);
	errlist_free(&errs);
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct doc_limits lim = { 32, 20000, 64 };
	struct doc_error err;

	doc_parse_jval((const char *)data, size, &lim, on_doc, NULL, &err);
	return 0;
}
