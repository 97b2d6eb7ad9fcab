/* fuzz_tel.h - the body of the four telemetry fuzz targets: each
 * fuzz_tel_<source>.c defines FUZZ_TEL_SOURCE and includes this. */
#ifndef PG_FUZZ_TEL_H
#define PG_FUZZ_TEL_H

#include <stdint.h>
#include <stdlib.h>

#include "telemetry.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int sink(void *ud, const struct telemetry_event *e)
{
	/* touch what a consumer reads, so bad pointers show up under ASan */
	size_t *n = ud;

	*n += (e->pod_namespace ? 1 : 0) + (e->container_id ? 1 : 0) + (size_t)e->ev.kind;
	return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct telemetry_stats st;
	size_t n = 0;

	telemetry_parse(FUZZ_TEL_SOURCE, (const char *)data, size, sink, &n, &st);
	return 0;
}

#endif
