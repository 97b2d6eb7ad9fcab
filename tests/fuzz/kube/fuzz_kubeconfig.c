/* fuzz_kubeconfig.c - kubeconfig files: YAML, then every field, with and
 * without a --context.  File paths resolve under a directory that does not
 * exist, so relative names read nothing. */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "errlist.h"
#include "kubeconfig.h"
#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const contexts[] = { NULL, "x", "prod" };

	for (size_t i = 0; i < sizeof(contexts) / sizeof(contexts[0]); i++) {
		struct kubeconfig *c = NULL;
		struct errlist errs;
		int r;

		errlist_init(&errs, 0);
		r = kubeconfig_parse((const char *)data, size, "/nonexistent/fuzz/kubeconfig",
				     contexts[i], &errs, &c);
		/* Success has a server; failure says why, once (unless the
		 * torture refused the message itself). */
		if ((r == 0 && (!c || !c->server || !c->namespace)) ||
		    (r < 0 && r != -ENOMEM && errs.n != 1 && !pg_alloc_refused()))
			abort();
		kubeconfig_free(c);
		errlist_free(&errs);
	}
	return 0;
}
