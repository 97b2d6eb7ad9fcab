/* fuzz_agent_token.c - a projected token's text to its claims: never a
 * crash or a leak, whatever the file holds. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tokens.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct tokens_claims c;

	if (tokens_decode((const char *)data, size, &c) == 0 &&
	    strnlen(c.pod_uid, sizeof(c.pod_uid)) == sizeof(c.pod_uid))
		abort();
	return 0;
}
