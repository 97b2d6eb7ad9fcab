/* fuzz_agent_cgroup.c - /proc/PID/cgroup text to a pod and container:
 * never a crash, and what comes out is always a well-formed UID and a
 * 64-hex ID (or none), whatever the bytes. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int hexish(const char *s, size_t n, int dashes)
{
	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (dashes && (i == 8 || i == 13 || i == 18 || i == 23)) {
			if (c != '-')
				return 0;
		} else if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) {
			return 0;
		}
	}
	return 1;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct cgroup_ident id;
	size_t n;

	if (cgroup_parse((const char *)data, size, &id) != 0)
		return 0;
	n = strnlen(id.pod_uid, sizeof(id.pod_uid));
	if (!((n == 36 && hexish(id.pod_uid, 36, 1)) || (n == 32 && hexish(id.pod_uid, 32, 0))))
		abort();
	n = strnlen(id.container_id, sizeof(id.container_id));
	if (n != 0 && !(n == 64 && hexish(id.container_id, 64, 0)))
		abort();
	if (n == 0 && id.runtime != CGROUP_RUNTIME_UNKNOWN)
		abort();
	return 0;
}
