/* test_http_tls.c - http/http_tls.c on pairs made by the stand-in's
 * gencerts.sh: a pair loads or is refused with the reason (missing, bad
 * PEM, a key that is not the certificate's, past the chain and size
 * caps), a rotation is picked up once and a broken one keeps the old pair
 * without being retried, replaced pairs live as long as a connection that
 * may use them, the installed store is what the handshake callback
 * serves, and the destructor is NULL-safe. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "http_tls.h"

#include "../lib/allocfail.h"
#include "../lib/tmptree.h"

static char certs[128];         /* gencerts.sh's output, made once */
static char root[64];           /* each test's files */

static char *slurp(const char *name, size_t *len)
{
	char p[256];
	FILE *f;
	char *data;
	long n;

	snprintf(p, sizeof(p), "%s/%s", certs, name);
	f = fopen(p, "rb");
	ck_assert_msg(f != NULL, "%s", p);
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc((size_t)n + 1);
	ck_assert_ptr_nonnull(data);
	ck_assert_uint_eq(fread(data, 1, (size_t)n, f), (size_t)n);
	data[n] = '\0';
	fclose(f);
	*len = (size_t)n;
	return data;
}

static const char *at(const char *name)
{
	return tt_path(root, name);
}

/* Writes @len bytes of @data to @name in the test's directory through a
 * rename, as a Secret volume's swap or cert-manager's rewrite would. */
static void put(const char *name, const char *data, size_t len)
{
	tt_put_n(root, name, data, len);
}

/* Copies gencerts.sh's @from to @name. */
static void put_from(const char *name, const char *from)
{
	size_t len;
	char *d = slurp(from, &len);

	put(name, d, len);
	free(d);
}

static void setup(void)
{
	tt_make(root, sizeof(root), "tls");
	put_from("tls.crt", "server.crt");
	put_from("tls.key", "server.key");
}

static void teardown(void)
{
	tt_remove(root);
}

START_TEST(loads_a_pair)
{
	struct http_tls_store *s = NULL;
	char err[256] = "";

	setup();
	ck_assert_int_eq(http_tls_store_new(at("tls.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	ck_assert_uint_eq(http_tls_store_generation(s), 1);
	/* gencerts.sh signs for 825 days */
	ck_assert_int_gt(http_tls_store_not_after(s), (int64_t)time(NULL) + 800 * 86400);
	ck_assert_int_lt(http_tls_store_not_after(s), (int64_t)time(NULL) + 826 * 86400);
	ck_assert_uint_eq(http_tls_store_retired(s), 0);
	/* nothing moved: nothing reloaded */
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 0);
	ck_assert_uint_eq(http_tls_store_generation(s), 1);
	ck_assert_ptr_null(http_tls_store_free(s));
	ck_assert_ptr_null(http_tls_store_free(NULL));
	teardown();
}
END_TEST

static void refused(const char *cert, const char *key, int code, const char *want)
{
	struct http_tls_store *s = NULL;
	char err[512] = "", full[512] = "";

	ck_assert_int_eq(http_tls_store_new(cert, key, &s, err, sizeof(err)), code);
	ck_assert_ptr_null(s);
	/* ROOT in @want is the test's directory */
	for (const char *w = want; *w;) {
		size_t len = strlen(full);

		if (!strncmp(w, "ROOT", 4)) {
			snprintf(full + len, sizeof(full) - len, "%s", root);
			w += 4;
		} else {
			snprintf(full + len, sizeof(full) - len, "%c", *w++);
		}
	}
	ck_assert_msg(strncmp(err, full, strlen(full)) == 0, "got \"%s\", want \"%s\"", err, full);
}

START_TEST(refusals_name_the_reason)
{
	setup();
	refused(NULL, at("tls.key"), -EINVAL, "a certificate and a key are both required");
	refused(at("tls.crt"), NULL, -EINVAL, "a certificate and a key are both required");
	refused(at("gone.crt"), at("tls.key"), -ENOENT, "ROOT/gone.crt: No such file or directory");
	refused(at("tls.crt"), at("gone.key"), -ENOENT, "ROOT/gone.key: No such file or directory");
	put("junk.pem", "not PEM\n", 8);
	refused(at("junk.pem"), at("tls.key"), -EINVAL, "ROOT/junk.pem: no usable PEM certificate (");
	refused(at("tls.crt"), at("junk.pem"), -EINVAL, "ROOT/junk.pem: no usable PEM private key (");
	/* the key is a certificate's, but not this one's */
	put_from("client.key", "client.key");
	refused(at("tls.crt"), at("client.key"), -EINVAL, "ROOT/client.key does not hold the key of ROOT/tls.crt");
	/* the certificate and the key swapped */
	refused(at("tls.key"), at("tls.crt"), -EINVAL, "ROOT/tls.key: no usable PEM certificate (");
	teardown();
}
END_TEST

START_TEST(chain_cap)
{
	struct http_tls_store *s = NULL;
	char err[256] = "", *leaf, *ca, *chain;
	size_t llen, clen, n = 0;

	setup();
	leaf = slurp("server.crt", &llen);
	ca = slurp("ca.crt", &clen);
	chain = malloc(llen + HTTP_TLS_MAX_CHAIN * clen);
	ck_assert_ptr_nonnull(chain);
	memcpy(chain, leaf, llen);
	n = llen;
	for (int i = 1; i < HTTP_TLS_MAX_CHAIN; i++, n += clen)
		memcpy(chain + n, ca, clen);
	/* the leaf and seven more: the cap */
	put("chain.crt", chain, n);
	ck_assert_int_eq(http_tls_store_new(at("chain.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	http_tls_store_free(s);
	/* one more: refused, not cut to the first eight */
	memcpy(chain + n, ca, clen);
	put("chain.crt", chain, n + clen);
	s = NULL;
	ck_assert_int_eq(http_tls_store_new(at("chain.crt"), at("tls.key"), &s, err, sizeof(err)), -E2BIG);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "chain.crt: more than the cap of 8 certificates in a chain") != NULL, "%s", err);
	free(chain);
	free(ca);
	free(leaf);
	teardown();
}
END_TEST

START_TEST(size_cap)
{
	struct http_tls_store *s = NULL;
	char err[256] = "", *leaf, *big;
	size_t llen;

	setup();
	leaf = slurp("server.crt", &llen);
	big = malloc(HTTP_TLS_MAX_PEM_BYTES + 1);
	ck_assert_ptr_nonnull(big);
	memset(big, '\n', HTTP_TLS_MAX_PEM_BYTES + 1);
	memcpy(big, leaf, llen);
	/* exactly the cap: read */
	put("big.crt", big, HTTP_TLS_MAX_PEM_BYTES);
	ck_assert_int_eq(http_tls_store_new(at("big.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	http_tls_store_free(s);
	/* a byte more: refused */
	put("big.crt", big, HTTP_TLS_MAX_PEM_BYTES + 1);
	s = NULL;
	ck_assert_int_eq(http_tls_store_new(at("big.crt"), at("tls.key"), &s, err, sizeof(err)), -EFBIG);
	ck_assert_ptr_null(s);
	ck_assert_msg(strstr(err, "big.crt: larger than the cap of 1048576 bytes for a PEM file") != NULL, "%s",
		      err);
	free(big);
	free(leaf);
	teardown();
}
END_TEST

START_TEST(rotation)
{
	struct http_tls_store *s = NULL;
	char err[256] = "";
	int64_t first;

	setup();
	ck_assert_int_eq(http_tls_store_new(at("tls.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	first = http_tls_store_not_after(s);

	/* half a rotation (a new certificate, the old key): refused, the old
	 * pair served, and not retried while the files stay as they are */
	put_from("tls.crt", "ca.crt");
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), -EINVAL);
	ck_assert_msg(strstr(err, "does not hold the key of") != NULL, "%s", err);
	ck_assert_uint_eq(http_tls_store_generation(s), 1);
	ck_assert_int_eq(http_tls_store_not_after(s), first);
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 0);

	/* the key follows: the new pair is served (the CA's ten years) */
	put_from("tls.key", "ca.key");
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 1);
	ck_assert_uint_eq(http_tls_store_generation(s), 2);
	ck_assert_int_gt(http_tls_store_not_after(s), first + 365 * 86400);
	/* no connection held the old pair: freed at once */
	ck_assert_uint_eq(http_tls_store_retired(s), 0);
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 0);

	/* a file that disappears is an error, and the pair stays */
	ck_assert_int_eq(unlink(at("tls.key")), 0);
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), -ENOENT);
	ck_assert_uint_eq(http_tls_store_generation(s), 2);
	http_tls_store_free(s);
	teardown();
}
END_TEST

START_TEST(replaced_pairs_live_while_connections_do)
{
	struct http_tls_store *s = NULL;
	char err[256] = "";
	uint64_t c1, c2, c3;

	setup();
	ck_assert_int_eq(http_tls_store_new(at("tls.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	c1 = http_tls_store_conn_open(s);
	c2 = http_tls_store_conn_open(s);
	ck_assert_uint_eq(c1, 1);
	ck_assert_uint_eq(c2, 1);
	put_from("tls.crt", "ca.crt");
	put_from("tls.key", "ca.key");
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 1);
	ck_assert_uint_eq(http_tls_store_retired(s), 1);
	c3 = http_tls_store_conn_open(s);
	ck_assert_uint_eq(c3, 2);
	put_from("tls.crt", "server.crt");
	put_from("tls.key", "server.key");
	ck_assert_int_eq(http_tls_store_check(s, err, sizeof(err)), 1);
	ck_assert_uint_eq(http_tls_store_retired(s), 2);
	/* generation 1's pair goes when its last connection closes */
	http_tls_store_conn_close(s, c1);
	ck_assert_uint_eq(http_tls_store_retired(s), 2);
	http_tls_store_conn_close(s, c2);
	ck_assert_uint_eq(http_tls_store_retired(s), 1);
	http_tls_store_conn_close(s, c3);
	ck_assert_uint_eq(http_tls_store_retired(s), 0);
	/* a close with a token never given is harmless */
	http_tls_store_conn_close(s, 77);
	http_tls_store_free(s);
	teardown();
}
END_TEST

START_TEST(installed_store_is_served)
{
	struct http_tls_store *s = NULL;
	char err[256] = "";
	gnutls_pcert_st *pcert = NULL;
	unsigned int n = 0;
	gnutls_privkey_t key = NULL;

	setup();
	ck_assert_int_eq(http_tls_store_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &key), -1);
	ck_assert_int_eq(http_tls_store_new(at("tls.crt"), at("tls.key"), &s, err, sizeof(err)), 0);
	http_tls_store_install(s);
	ck_assert_int_eq(http_tls_store_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &key), 0);
	ck_assert_ptr_nonnull(pcert);
	ck_assert_uint_eq(n, 1);
	ck_assert_ptr_nonnull(key);
	/* freeing the installed store uninstalls it */
	http_tls_store_free(s);
	ck_assert_int_eq(http_tls_store_retrieve(NULL, NULL, 0, NULL, 0, &pcert, &n, &key), -1);
	teardown();
}
END_TEST

/* A store made, a connection opened, a rotation taken (to the other pair
 * each run), freed. */
static int store_life(void *ud)
{
	int *run = ud;
	struct http_tls_store *s = NULL;
	char err[256] = "";
	int r = http_tls_store_new(at("tls.crt"), at("tls.key"), &s, err, sizeof(err));

	if (r == 0) {
		put_from("tls.crt", ++*run % 2 ? "ca.crt" : "server.crt");
		put_from("tls.key", *run % 2 ? "ca.key" : "server.key");
		http_tls_store_conn_open(s);
		r = http_tls_store_check(s, err, sizeof(err));
		r = r > 0 ? 0 : r;
	}
	http_tls_store_free(s);
	return r;
}

START_TEST(allocation_failures)
{
	/* each of the store's own allocations fails in turn */
	int run = 0;

	setup();
	af_each(100, store_life, &run);
	teardown();
}
END_TEST

int main(void)
{
	Suite *s = suite_create("http_tls");
	TCase *tc = tcase_create("http_tls");
	SRunner *sr;
	char cmd[512];
	int failed;

	snprintf(certs, sizeof(certs), "%s/certs-http-tls", BUILD_DIR);
	snprintf(cmd, sizeof(cmd), "sh '%s/tests/standin/gencerts.sh' '%s'", SOURCE_ROOT, certs);
	if (system(cmd) != 0) {
		fprintf(stderr, "gencerts.sh failed: %s\n", cmd);
		return EXIT_FAILURE;
	}
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, loads_a_pair);
	tcase_add_test(tc, refusals_name_the_reason);
	tcase_add_test(tc, chain_cap);
	tcase_add_test(tc, size_cap);
	tcase_add_test(tc, rotation);
	tcase_add_test(tc, replaced_pairs_live_while_connections_do);
	tcase_add_test(tc, installed_store_is_served);
	tcase_add_test(tc, allocation_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
