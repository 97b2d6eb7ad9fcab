/* test_tel_auth.c - telemetry senders: the JWT exp claim, the SHA-256
 * cache key, the TokenReview cache (one review per token, bounded by the
 * token's expiry and the cap, negative answers kept briefly, least
 * recently used evicted), allowed users (exact and patterns), client
 * certificates and the node they name. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "tel_auth.h"
#include "xalloc.h"

static int64_t clock_s = 1795341600;
static unsigned reviews;
static int review_error;
static char last_token[256], last_audience[64];

static int64_t fake_now(void)
{
	return clock_s;
}

/* Tokens "good-*" are the agent on node-a (bound to a pod), "falco-*"
 * the central Falco, "other-*" a user nobody listed; anything else is
 * refused.  JWT-shaped tokens are matched on their signature part. */
static int review(void *ud, const char *token, const char *audience, struct tel_auth_review *ret)
{
	const char *t = strrchr(token, '.') ? strrchr(token, '.') + 1 : token;

	reviews++;
	snprintf(last_token, sizeof(last_token), "%s", token);
	snprintf(last_audience, sizeof(last_audience), "%s", audience ? audience : "");
	if (review_error)
		return review_error;
	if (!strncmp(t, "good-", 5)) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "system:serviceaccount:profileguard:profileguard-agent");
		snprintf(ret->node, sizeof(ret->node), "node-a");
		snprintf(ret->pod_name, sizeof(ret->pod_name), "agent-x1");
		snprintf(ret->pod_uid, sizeof(ret->pod_uid), "u-agent");
	} else if (!strncmp(t, "falco-", 6)) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "system:serviceaccount:falco:falco");
	} else if (!strncmp(t, "other-", 6)) {
		ret->authenticated = true;
		snprintf(ret->username, sizeof(ret->username), "system:serviceaccount:default:default");
	} else {
		snprintf(ret->error, sizeof(ret->error), "[invalid bearer token]");
	}
	return 0;
}

static struct tel_auth *mk(size_t max, const char *audience)
{
	static const char *const users[] = {
		"system:serviceaccount:profileguard:profileguard-agent",
		"system:serviceaccount:falco:falco", "system:node:*", "audit-backend",
	};
	struct tel_auth_config cfg = {
		.allowed_users = users, .nallowed = 4, .audience = audience, .review = review,
		.cache_max = max, .now = fake_now,
	};
	struct tel_auth *a = NULL;

	reviews = 0;
	review_error = 0;
	ck_assert_int_eq(tel_auth_new(&cfg, &a), 0);
	return a;
}

/* A JWT with @payload (JSON) and signature @sig. */
static char *jwt(char *out, size_t n, const char *payload, const char *sig)
{
	static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
	size_t len = strlen(payload), o;
	const unsigned char *p = (const unsigned char *)payload;

	o = (size_t)snprintf(out, n, "eyJhbGciOiJSUzI1NiJ9.");
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)p[i] << 16 | (i + 1 < len ? (uint32_t)p[i + 1] << 8 : 0) |
			     (i + 2 < len ? p[i + 2] : 0);

		out[o++] = tbl[(v >> 18) & 63];
		out[o++] = tbl[(v >> 12) & 63];
		if (i + 1 < len)
			out[o++] = tbl[(v >> 6) & 63];
		if (i + 2 < len)
			out[o++] = tbl[v & 63];
	}
	snprintf(out + o, n - o, ".%s", sig);
	return out;
}

static enum tel_auth_status check(struct tel_auth *a, const char *token, struct tel_auth_principal *p)
{
	char h[4096], why[512];

	snprintf(h, sizeof(h), "Bearer %s", token);
	return tel_auth_check(a, h, NULL, false, p, why, sizeof(why));
}

START_TEST(test_jwt_exp)
{
	char t[1024];
	int64_t exp = 0;

	jwt(t, sizeof(t), "{\"iss\":\"https://kubernetes.default.svc\",\"exp\":1795345200,\"iat\":1795341600}", "sig");
	ck_assert_int_eq(tel_auth_jwt_exp(t, strlen(t), &exp), 0);
	ck_assert_int_eq(exp, 1795345200);
	jwt(t, sizeof(t), "{\"sub\":\"x\"}", "sig");
	ck_assert_int_eq(tel_auth_jwt_exp(t, strlen(t), &exp), -ENOENT);
	jwt(t, sizeof(t), "{\"exp\":\"soon\"}", "sig");
	ck_assert_int_eq(tel_auth_jwt_exp(t, strlen(t), &exp), -ENOENT);
	jwt(t, sizeof(t), "[1,2]", "sig");
	ck_assert_int_eq(tel_auth_jwt_exp(t, strlen(t), &exp), -EINVAL);
	ck_assert_int_eq(tel_auth_jwt_exp("opaque-token", 12, &exp), -EINVAL);
	ck_assert_int_eq(tel_auth_jwt_exp("a.b", 3, &exp), -EINVAL);
	ck_assert_int_eq(tel_auth_jwt_exp("a.b.c.d", 7, &exp), -EINVAL);
	ck_assert_int_eq(tel_auth_jwt_exp("a..c", 4, &exp), -EINVAL);
	ck_assert_int_eq(tel_auth_jwt_exp("a.e30=.c", 8, &exp), -EINVAL);     /* padding */
	ck_assert_int_eq(tel_auth_jwt_exp("a.e31.c", 7, &exp), -EINVAL);      /* not canonical */
	ck_assert_int_eq(tel_auth_jwt_exp("a.e30.c", 7, &exp), -ENOENT);      /* {} */
}
END_TEST

START_TEST(test_token_hash)
{
	uint8_t h[TEL_AUTH_SHA256_LEN];
	static const uint8_t abc[] = {
		0xba, 0x78, 0x16, 0xbf, 0x8f, 0x01, 0xcf, 0xea, 0x41, 0x41, 0x40, 0xde, 0x5d, 0xae,
		0x22, 0x23, 0xb0, 0x03, 0x61, 0xa3, 0x96, 0x17, 0x7a, 0x9c, 0xb4, 0x10, 0xff, 0x61,
		0xf2, 0x00, 0x15, 0xad,
	};

	tel_auth_token_hash("abc", 3, h);
	ck_assert_mem_eq(h, abc, sizeof(abc));
}
END_TEST

START_TEST(test_cache_one_review_per_token)
{
	struct tel_auth *a = mk(0, NULL);
	struct tel_auth_principal p;
	struct tel_auth_stats st;

	ck_assert_int_eq(check(a, "good-1", &p), TEL_AUTH_OK);
	ck_assert(!p.cached);
	ck_assert_str_eq(p.username, "system:serviceaccount:profileguard:profileguard-agent");
	ck_assert_str_eq(p.node, "node-a");
	ck_assert_str_eq(p.pod_name, "agent-x1");
	ck_assert_str_eq(p.token_id, "6320f087");       /* sha256("good-1")[0:4] */
	ck_assert_int_eq(check(a, "good-1", &p), TEL_AUTH_OK);
	ck_assert(p.cached);
	ck_assert_str_eq(p.node, "node-a");
	ck_assert_uint_eq(reviews, 1);
	ck_assert_int_eq(check(a, "good-2", &p), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 2);
	tel_auth_stats(a, &st);
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(st.hits, 1);
	ck_assert_uint_eq(st.misses, 2);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_cache_bounded_by_expiry)
{
	struct tel_auth *a = mk(0, "profileguard");
	struct tel_auth_principal p;
	char t[1024], claims[128];

	/* A token that expires in 100 s is asked about once, and refused
	 * without a review once it has expired. */
	snprintf(claims, sizeof(claims), "{\"exp\":%lld}", (long long)clock_s + 100);
	jwt(t, sizeof(t), claims, "good-jwt");
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_OK);
	ck_assert_str_eq(last_audience, "profileguard");
	ck_assert_str_eq(last_token, t);
	clock_s += 99;
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 1);
	clock_s += 2;
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_uint_eq(reviews, 1);
	/* A year-long token is kept ten minutes at most. */
	snprintf(claims, sizeof(claims), "{\"exp\":%lld}", (long long)clock_s + 365 * 86400);
	jwt(t, sizeof(t), claims, "good-long");
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_OK);
	clock_s += 599;
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 2);
	clock_s += 2;
	ck_assert_int_eq(check(a, t, &p), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 3);
	/* An opaque token: the cap. */
	ck_assert_int_eq(check(a, "good-opaque", &p), TEL_AUTH_OK);
	clock_s += 601;
	ck_assert_int_eq(check(a, "good-opaque", &p), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 5);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_negative_and_errors)
{
	struct tel_auth *a = mk(0, NULL);
	struct tel_auth_principal p;

	ck_assert_int_eq(check(a, "forged", &p), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(check(a, "forged", &p), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_uint_eq(reviews, 1);
	clock_s += TEL_AUTH_NEGATIVE_TTL_S;
	ck_assert_int_eq(check(a, "forged", &p), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_uint_eq(reviews, 2);
	/* The API server away: 503, and nothing cached. */
	review_error = -ECONNREFUSED;
	ck_assert_int_eq(check(a, "good-9", &p), TEL_AUTH_UNAVAILABLE);
	review_error = 0;
	ck_assert_int_eq(check(a, "good-9", &p), TEL_AUTH_OK);
	ck_assert(!p.cached);
	ck_assert_uint_eq(reviews, 4);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_eviction)
{
	struct tel_auth *a = mk(2, NULL);
	struct tel_auth_principal p;
	struct tel_auth_stats st;

	check(a, "good-a", &p);
	check(a, "good-b", &p);
	check(a, "good-a", &p);         /* a is now the most recent */
	check(a, "good-c", &p);         /* evicts b */
	ck_assert_uint_eq(reviews, 3);
	check(a, "good-a", &p);
	ck_assert_uint_eq(reviews, 3);
	check(a, "good-b", &p);
	ck_assert_uint_eq(reviews, 4);
	tel_auth_stats(a, &st);
	ck_assert_uint_eq(st.entries, 2);
	ck_assert_uint_eq(st.evictions, 2);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_allowed_users)
{
	struct tel_auth *a = mk(0, NULL);
	struct tel_auth_principal p;
	char why[256];

	ck_assert_int_eq(check(a, "falco-1", &p), TEL_AUTH_OK);
	ck_assert_str_eq(p.node, "");
	ck_assert_int_eq(check(a, "other-1", &p), TEL_AUTH_FORBIDDEN);
	ck_assert_str_eq(p.username, "system:serviceaccount:default:default");
	/* Cached, and still refused. */
	ck_assert_int_eq(check(a, "other-1", &p), TEL_AUTH_FORBIDDEN);
	ck_assert(tel_auth_allowed(a, "system:node:node-b"));
	ck_assert(!tel_auth_allowed(a, "system:nodes"));
	ck_assert(!tel_auth_allowed(a, ""));
	ck_assert_int_eq(tel_auth_check(a, NULL, NULL, false, &p, why, sizeof(why)), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_str_eq(why, "no credential");
	ck_assert_int_eq(tel_auth_check(a, "Basic dTpw", NULL, false, &p, why, sizeof(why)),
			 TEL_AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(tel_auth_check(a, "Bearer    ", NULL, false, &p, why, sizeof(why)),
			 TEL_AUTH_UNAUTHENTICATED);
	ck_assert_int_eq(tel_auth_check(a, "bearer falco-2  ", NULL, false, &p, why, sizeof(why)),
			 TEL_AUTH_OK);
	ck_assert_str_eq(last_token, "falco-2");
	tel_auth_free(a);
}
END_TEST

START_TEST(test_nobody_allowed)
{
	struct tel_auth_config cfg = { NULL, 0, NULL, review, NULL, 0, 0, fake_now };
	struct tel_auth *a = NULL;
	struct tel_auth_principal p;
	char why[128];

	/* Telemetry on, no sender wired yet: everyone is refused. */
	ck_assert_int_eq(tel_auth_new(&cfg, &a), 0);
	ck_assert_int_eq(check(a, "good-1", &p), TEL_AUTH_FORBIDDEN);
	ck_assert_int_eq(tel_auth_check(a, NULL, "system:node:n", false, &p, why, sizeof(why)),
			 TEL_AUTH_FORBIDDEN);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_certificates)
{
	struct tel_auth *a = mk(0, NULL);
	struct tel_auth_principal p;
	char why[256], node[64];

	ck_assert_int_eq(tel_auth_check(a, NULL, "system:node:node-b", false, &p, why, sizeof(why)), TEL_AUTH_OK);
	ck_assert(p.via_cert);
	ck_assert_str_eq(p.node, "node-b");
	ck_assert_int_eq(tel_auth_check(a, NULL, "audit-backend", false, &p, why, sizeof(why)), TEL_AUTH_OK);
	ck_assert_str_eq(p.node, "");
	ck_assert_int_eq(tel_auth_check(a, NULL, "mallory", false, &p, why, sizeof(why)), TEL_AUTH_FORBIDDEN);
	ck_assert_int_eq(tel_auth_check(a, NULL, NULL, true, &p, why, sizeof(why)), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_ptr_nonnull(strstr(why, "--telemetry-client-ca"));
	/* A bad certificate with a good token: the token decides. */
	ck_assert_int_eq(tel_auth_check(a, "Bearer falco-3", NULL, true, &p, why, sizeof(why)), TEL_AUTH_OK);
	ck_assert_uint_eq(reviews, 1);
	ck_assert(tel_auth_cert_node("system:node:n1", node, sizeof(node)));
	ck_assert_str_eq(node, "n1");
	ck_assert(!tel_auth_cert_node("system:node:", node, sizeof(node)));
	ck_assert(!tel_auth_cert_node("node-a", node, sizeof(node)));
	tel_auth_free(a);
}
END_TEST

START_TEST(test_long_token)
{
	struct tel_auth *a = mk(0, NULL);
	struct tel_auth_principal p;
	char *h = pg_malloc(TEL_AUTH_MAX_TOKEN + 64), why[128];

	memcpy(h, "Bearer ", 7);
	memset(h + 7, 'x', TEL_AUTH_MAX_TOKEN + 1);
	h[7 + TEL_AUTH_MAX_TOKEN + 1] = '\0';
	ck_assert_int_eq(tel_auth_check(a, h, NULL, false, &p, why, sizeof(why)), TEL_AUTH_UNAUTHENTICATED);
	ck_assert_uint_eq(reviews, 0);
	pg_free(h);
	tel_auth_free(a);
}
END_TEST

START_TEST(test_alloc_failures)
{
	for (long n = 0; n < 40; n++) {
		static const char *const users[] = { "a", "b*" };
		struct tel_auth_config cfg = { users, 2, "aud", review, NULL, 0, 0, fake_now };
		struct tel_auth *a = NULL;
		struct tel_auth_principal p;
		int r;

		pg_alloc_fail_at(n);
		r = tel_auth_new(&cfg, &a);
		if (r == 0) {
			check(a, "good-1", &p);
			check(a, "good-1", &p);
		}
		pg_alloc_fail_at(-1);
		ck_assert(r == 0 || r == -ENOMEM);
		tel_auth_free(a);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("tel_auth");
	TCase *tc = tcase_create("tel_auth");

	tcase_add_test(tc, test_jwt_exp);
	tcase_add_test(tc, test_token_hash);
	tcase_add_test(tc, test_cache_one_review_per_token);
	tcase_add_test(tc, test_cache_bounded_by_expiry);
	tcase_add_test(tc, test_negative_and_errors);
	tcase_add_test(tc, test_eviction);
	tcase_add_test(tc, test_allowed_users);
	tcase_add_test(tc, test_nobody_allowed);
	tcase_add_test(tc, test_certificates);
	tcase_add_test(tc, test_long_token);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	return s;
}

int main(void)
{
	SRunner *sr = srunner_create(suite());
	int failed;

	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
