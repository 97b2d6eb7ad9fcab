/* fuzz_tel_auth.c - a peer's bytes as a bearer token: the unverified JWT
 * exp claim (base64url, JSON), the SHA-256 cache key, and an
 * Authorization header through the TokenReview cache with a reviewer
 * that believes every third token. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "tel_auth.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static int64_t clock_s = 1795341600;

static int64_t fake_now(void)
{
	return clock_s;
}

static int review(void *ud, const char *token, const char *audience, struct tel_auth_review *ret)
{
	size_t n = strlen(token);

	if (n % 3 == 0) {
		ret->authenticated = true;
		memcpy(ret->username, "system:node:fuzz", sizeof("system:node:fuzz"));
		memcpy(ret->node, token, n < sizeof(ret->node) ? n + 1 : 1);
		ret->node[sizeof(ret->node) - 1] = '\0';
	}
	return n % 7 == 0 ? -5 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char *const users[] = { "system:node:*" };
	struct tel_auth_config cfg = { users, 1, "aud", review, NULL, 4, 0, fake_now };
	static struct tel_auth *a;
	uint8_t key[TEL_AUTH_SHA256_LEN];
	struct tel_auth_principal p;
	char *hdr, why[256];
	int64_t exp;

	if (!a && tel_auth_new(&cfg, &a) < 0)
		return 0;
	tel_auth_jwt_exp((const char *)data, size, &exp);
	tel_auth_token_hash((const char *)data, size, key);
	hdr = malloc(size + 8);
	if (!hdr)
		return 0;
	memcpy(hdr, "Bearer ", 7);
	memcpy(hdr + 7, data, size);
	hdr[size + 7] = '\0';
	tel_auth_check(a, hdr, NULL, false, &p, why, sizeof(why));
	tel_auth_check(a, hdr, size ? hdr + 7 : NULL, size & 1, &p, why, sizeof(why));
	clock_s += (int64_t)(size % 64);
	free(hdr);
	return 0;
}
