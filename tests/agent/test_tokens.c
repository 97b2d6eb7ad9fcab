/* test_tokens.c - the claims of projected tokens: base64url without
 * padding, every malformed shape refused, the size bound, the kubelet's
 * ..data symlink layout, and no trace of the signature or the token text
 * in what comes out. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "tokens.h"
#include "xalloc.h"

static const char b64url[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";

static void enc(const char *in, size_t len, char *out)
{
	size_t o = 0, i;

	for (i = 0; i + 2 < len; i += 3) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8 | (unsigned char)in[i + 2];

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
		out[o++] = b64url[v & 63];
	}
	if (len - i == 1) {
		unsigned v = (unsigned char)in[i] << 16;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
	} else if (len - i == 2) {
		unsigned v = (unsigned char)in[i] << 16 | (unsigned char)in[i + 1] << 8;

		out[o++] = b64url[v >> 18 & 63];
		out[o++] = b64url[v >> 12 & 63];
		out[o++] = b64url[v >> 6 & 63];
	}
	out[o] = '\0';
}

#define SIGNATURE "c2lnbmF0dXJlLXRoYXQtbXVzdC1uZXZlci1sZWFr"

/* header.payload.signature with @payload JSON. */
static char *jwt(const char *payload)
{
	static const char header[] = "{\"alg\":\"RS256\",\"kid\":\"k1\"}";
	size_t n = strlen(payload) * 2 + 256;
	char *out = pg_malloc(n), *p;

	ck_assert_ptr_nonnull(out);
	enc(header, strlen(header), out);
	p = out + strlen(out);
	*p++ = '.';
	enc(payload, strlen(payload), p);
	p += strlen(p);
	snprintf(p, n - (size_t)(p - out), ".%s", SIGNATURE);
	return out;
}

static const char projected[] =
	"{\"aud\":[\"https://kubernetes.default.svc\"],\"exp\":1795343600,\"iat\":1795340000,"
	"\"iss\":\"https://kubernetes.default.svc\",\"kubernetes.io\":{\"namespace\":\"payments\","
	"\"node\":{\"name\":\"node-a\",\"uid\":\"11111111-2222-3333-4444-555555555555\"},"
	"\"pod\":{\"name\":\"api-7d9f-x2\",\"uid\":\"8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a\"},"
	"\"serviceaccount\":{\"name\":\"payments-api\",\"uid\":\"66666666-7777-8888-9999-000000000000\"},"
	"\"warnafter\":1795342807},\"nbf\":1795340000,\"sub\":\"system:serviceaccount:payments:payments-api\"}";

START_TEST(projected_token)
{
	char *t = jwt(projected);
	struct tokens_claims c;

	ck_assert_int_eq(tokens_decode(t, strlen(t), &c), 0);
	ck_assert_int_eq(c.iat, 1795340000);
	ck_assert_int_eq(c.exp, 1795343600);
	ck_assert_int_eq(c.nbf, 1795340000);
	ck_assert_str_eq(c.pod_uid, "8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a");
	pg_free(t);
}
END_TEST

START_TEST(every_padding_length)
{
	/* payloads of length 0..2 mod 3 give segments of 0, 2, 3 mod 4 */
	static const char *const payloads[] = {
		"{\"iat\":1,\"exp\":2}", "{\"iat\":1,\"exp\":22}", "{\"iat\":1,\"exp\":222}",
	};

	for (size_t i = 0; i < 3; i++) {
		char *t = jwt(payloads[i]);
		struct tokens_claims c;

		ck_assert_int_eq(tokens_decode(t, strlen(t), &c), 0);
		ck_assert_int_eq(c.iat, 1);
		ck_assert_str_eq(c.pod_uid, "");
		pg_free(t);
	}
}
END_TEST

START_TEST(absent_claims)
{
	char *t = jwt("{\"sub\":\"x\"}");
	struct tokens_claims c;

	ck_assert_int_eq(tokens_decode(t, strlen(t), &c), 0);
	ck_assert_int_eq(c.iat, -1);
	ck_assert_int_eq(c.exp, -1);
	ck_assert_int_eq(c.nbf, -1);
	pg_free(t);
}
END_TEST

START_TEST(surrounding_whitespace)
{
	char *t = jwt(projected), *padded = pg_malloc(strlen(t) + 8);
	struct tokens_claims c;

	ck_assert_ptr_nonnull(padded);
	snprintf(padded, strlen(t) + 8, " \n%s\r\n", t);
	ck_assert_int_eq(tokens_decode(padded, strlen(padded), &c), 0);
	ck_assert_int_eq(c.exp, 1795343600);
	pg_free(t);
	pg_free(padded);
}
END_TEST

START_TEST(bad_input)
{
	char ok[512], payload[512];
	struct tokens_claims c;
	static const char *const bad_payloads[] = {
		"[1,2]", "\"s\"", "{\"iat\":\"1795340000\"}", "{\"exp\":1.5e9}", "{\"iat\":-5}",
		"{\"iat\":1,\"iat\":2}", "{\"kubernetes.io\":{\"pod\":{\"uid\":5}}}",
		"{\"kubernetes.io\":{\"pod\":{\"uid\":\"a b\"}}}", "{\"kubernetes.io\":{\"pod\":{\"uid\":\"\"}}}",
		"{\"kubernetes.io\":{\"pod\":{\"uid\":\"0123456789012345678901234567890123456789\"}}}",
		"{not json", "{\"a\":\"\xff\"}",
	};
	static const char *const bad_tokens[] = {
		"", "abc", "a.b", ".b.c", "a..c", "a.b.", "a.b.c.d.e",
		"eyJhbGciOiJub25lIn0.eyJpYXQiOjF9.",                     /* unsigned */
		"eyJhbGciOiJub25lIn0.eyJpYXQiOjF9=.sig",                  /* padding */
		"eyJhbGciOiJub25lIn0.eyJp+XQiOjF9.sig",                   /* standard alphabet */
		"eyJhbGciOiJub25lIn0.eyJpYXQiOjF9A.sig",                  /* length 1 mod 4 */
		"eyJhbGciOiJub25lIn0.eyJpYXQiOjF9fQ.sig",                 /* {"iat":1}} */
	};

	for (size_t i = 0; i < sizeof(bad_payloads) / sizeof(bad_payloads[0]); i++) {
		char *t = jwt(bad_payloads[i]);

		memset(&c, 0x5a, sizeof(c));
		ck_assert_msg(tokens_decode(t, strlen(t), &c) == -EINVAL, "payload %zu", i);
		ck_assert_int_eq(((unsigned char *)&c)[0], 0x5a);
		pg_free(t);
	}
	for (size_t i = 0; i < sizeof(bad_tokens) / sizeof(bad_tokens[0]); i++)
		ck_assert_msg(tokens_decode(bad_tokens[i], strlen(bad_tokens[i]), &c) == -EINVAL,
			      "token %zu: %s", i, bad_tokens[i]);
	/* non-zero leftover bits: "eyJpYXQiOjF9" is {"iat":1}; change the
	 * last character so its low bits are not zero */
	enc("{\"iat\":1,\"exp\":2}", 17, payload);
	payload[strlen(payload) - 1] = (char)(payload[strlen(payload) - 1] == 'Q' ? 'R' : payload[strlen(payload) - 1] + 1);
	snprintf(ok, sizeof(ok), "eyJhbGciOiJub25lIn0.%s.sig", payload);
	ck_assert_int_eq(tokens_decode(ok, strlen(ok), &c), -EINVAL);
}
END_TEST

START_TEST(oversized)
{
	size_t n = TOKENS_MAX_BYTES + 1;
	char *big = pg_malloc(n + 1), *payload = pg_malloc(TOKENS_MAX_BYTES), *t;
	struct tokens_claims c;

	memset(big, 'A', n);
	big[n] = '\0';
	big[10] = '.';
	big[20] = '.';
	ck_assert_int_eq(tokens_decode(big, n, &c), -E2BIG);
	/* just under the bound, a large valid payload still decodes */
	snprintf(payload, TOKENS_MAX_BYTES, "{\"iat\":7,\"exp\":8,\"pad\":\"%0*d\"}", 10000, 0);
	t = jwt(payload);
	ck_assert_uint_lt(strlen(t), TOKENS_MAX_BYTES);
	ck_assert_int_eq(tokens_decode(t, strlen(t), &c), 0);
	ck_assert_int_eq(c.exp, 8);
	pg_free(t);
	pg_free(payload);
	pg_free(big);
}
END_TEST

START_TEST(nothing_of_the_credential_kept)
{
	/* What comes out is numbers and a UID: its size says so, and neither
	 * the signature nor any segment of the token is in it. */
	char *t = jwt(projected);
	struct tokens_claims c;

	ck_assert_uint_eq(sizeof(c), 3 * sizeof(int64_t) + 40);
	memset(&c, 0, sizeof(c));
	ck_assert_int_eq(tokens_decode(t, strlen(t), &c), 0);
	ck_assert_ptr_null(memmem(&c, sizeof(c), SIGNATURE, 8));
	ck_assert_ptr_null(memmem(&c, sizeof(c), t, 8));
	ck_assert_ptr_null(memmem(&c, sizeof(c), strchr(t, '.') + 1, 8));
	ck_assert_ptr_null(memmem(&c, sizeof(c), "payments", 8));
	pg_free(t);
}
END_TEST

static void write_file(int dfd, const char *name, const char *text)
{
	int fd = openat(dfd, name, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	ck_assert_int_ge(fd, 0);
	ck_assert_int_eq(write(fd, text, strlen(text)), (ssize_t)strlen(text));
	close(fd);
}

START_TEST(kubelet_layout)
{
	/* <volume>/token -> ..data/token, ..data -> ..2026_11_22_10_00_00.123 */
	char dir[] = "/tmp/pg-tokens-XXXXXX";
	char *t = jwt(projected), *big;
	struct tokens_claims c;
	int dfd;

	ck_assert_ptr_nonnull(mkdtemp(dir));
	dfd = open(dir, O_RDONLY | O_DIRECTORY);
	ck_assert_int_eq(mkdirat(dfd, "vol", 0700), 0);
	ck_assert_int_eq(mkdirat(dfd, "vol/..2026_11_22_10_00_00.123", 0700), 0);
	write_file(dfd, "vol/..2026_11_22_10_00_00.123/token", t);
	ck_assert_int_eq(symlinkat("..2026_11_22_10_00_00.123", dfd, "vol/..data"), 0);
	ck_assert_int_eq(symlinkat("..data/token", dfd, "vol/token"), 0);
	ck_assert_int_eq(tokens_read_at(dfd, "vol/token", &c), 0);
	ck_assert_int_eq(c.iat, 1795340000);
	ck_assert_int_eq(tokens_read_at(dfd, "vol/missing", &c), -ENOENT);
	/* a directory or a FIFO is not a token, and never blocks */
	ck_assert_int_eq(tokens_read_at(dfd, "vol", &c), -EINVAL);
	ck_assert_int_eq(mkfifoat(dfd, "vol/fifo", 0600), 0);
	ck_assert_int_eq(tokens_read_at(dfd, "vol/fifo", &c), -EINVAL);
	/* a file over the bound is refused by its size, unread */
	big = pg_malloc(TOKENS_MAX_BYTES + 2);
	memset(big, 'A', TOKENS_MAX_BYTES + 1);
	big[TOKENS_MAX_BYTES + 1] = '\0';
	write_file(dfd, "vol/big", big);
	ck_assert_int_eq(tokens_read_at(dfd, "vol/big", &c), -E2BIG);
	write_file(dfd, "vol/garbage", "not a jwt\n");
	ck_assert_int_eq(tokens_read_at(dfd, "vol/garbage", &c), -EINVAL);
	unlinkat(dfd, "vol/garbage", 0);
	unlinkat(dfd, "vol/big", 0);
	unlinkat(dfd, "vol/fifo", 0);
	unlinkat(dfd, "vol/token", 0);
	unlinkat(dfd, "vol/..data", 0);
	unlinkat(dfd, "vol/..2026_11_22_10_00_00.123/token", 0);
	unlinkat(dfd, "vol/..2026_11_22_10_00_00.123", AT_REMOVEDIR);
	unlinkat(dfd, "vol", AT_REMOVEDIR);
	close(dfd);
	rmdir(dir);
	pg_free(big);
	pg_free(t);
}
END_TEST

START_TEST(allocation_failures)
{
	char *t = jwt(projected);

	for (long i = 0; i < 50; i++) {
		struct tokens_claims c;
		int r;

		pg_alloc_fail_at(i);
		r = tokens_decode(t, strlen(t), &c);
		pg_alloc_fail_at(-1);
		ck_assert(r == 0 || r == -ENOMEM);
		if (r == 0)
			ck_assert_int_eq(c.exp, 1795343600);
	}
	pg_free(t);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_tokens");
	TCase *tc = tcase_create("tokens");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, projected_token);
	tcase_add_test(tc, every_padding_length);
	tcase_add_test(tc, absent_claims);
	tcase_add_test(tc, surrounding_whitespace);
	tcase_add_test(tc, bad_input);
	tcase_add_test(tc, oversized);
	tcase_add_test(tc, nothing_of_the_credential_kept);
	tcase_add_test(tc, kubelet_layout);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
