/* test_certs.c - the generated webhook certificates (certs.h): made,
 * read back (SANs, dates, CA flag), checked against their CA, and the
 * renewal decisions on times the test chooses. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "certs.h"
#include "xalloc.h"

#define DAY 86400LL

static const char *const svcs[] = { "profileguard-webhook", "profileguard-telemetry" };

/* The names for the two Services in namespace pg. */
static size_t names(const char *out[CERTS_MAX_NAMES], char *store, size_t n)
{
	int r = certs_dns_names("pg", svcs, 2, out, store, n);

	ck_assert_int_eq(r, 8);
	return (size_t)r;
}

/* A fresh CA and leaf made at @now. */
static void fresh(struct certs_bundle *b, int64_t now, const char *const *nm, size_t nn)
{
	memset(b, 0, sizeof(*b));
	ck_assert_int_eq(certs_renew(b, CERTS_NEW_CA, nm, nn, now), 0);
	ck_assert_ptr_nonnull(b->cert);
	ck_assert_ptr_nonnull(b->key);
	ck_assert_ptr_nonnull(b->ca_cert);
	ck_assert_ptr_nonnull(b->ca_key);
}

START_TEST(dns_names)
{
	const char *out[CERTS_MAX_NAMES];
	char store[4096];
	const char *const one[] = { "wh", NULL, "", "wh" };

	names(out, store, sizeof(store));
	ck_assert_str_eq(out[0], "profileguard-webhook");
	ck_assert_str_eq(out[1], "profileguard-webhook.pg");
	ck_assert_str_eq(out[2], "profileguard-webhook.pg.svc");
	ck_assert_str_eq(out[3], "profileguard-webhook.pg.svc.cluster.local");
	ck_assert_str_eq(out[7], "profileguard-telemetry.pg.svc.cluster.local");
	/* Empty services are skipped, a repeated one adds nothing. */
	ck_assert_int_eq(certs_dns_names("pg", one, 4, out, store, sizeof(store)), 4);
	ck_assert_int_eq(certs_dns_names("pg", one + 1, 2, out, store, sizeof(store)), -EINVAL);
	ck_assert_int_eq(certs_dns_names("Bad_NS", svcs, 2, out, store, sizeof(store)), -EINVAL);
	ck_assert_int_eq(certs_dns_names("pg", (const char *const[]){ "a.b" }, 1, out, store,
					 sizeof(store)), -EINVAL);
	ck_assert_int_eq(certs_dns_names("pg", svcs, 2, out, store, 40), -E2BIG);
}
END_TEST

START_TEST(generate_and_parse_back)
{
	const char *nm[CERTS_MAX_NAMES];
	char store[4096], why[128];
	size_t nn = names(nm, store, sizeof(store));
	int64_t now = (int64_t)time(NULL);
	struct certs_bundle b;
	struct certs_info ci;

	fresh(&b, now, nm, nn);
	ck_assert_ptr_nonnull(strstr(b.cert, "-----BEGIN CERTIFICATE-----"));
	ck_assert_ptr_nonnull(strstr(b.key, "-----BEGIN PRIVATE KEY-----"));
	/* The CA: ten years, CA:TRUE, no SANs. */
	ck_assert_int_eq(certs_parse(b.ca_cert, &ci), 0);
	ck_assert(ci.is_ca);
	ck_assert_int_eq(ci.nnames, 0);
	ck_assert_int_ge(ci.not_after, now + CERTS_CA_DAYS * DAY - 5);
	ck_assert_int_le(ci.not_after, now + CERTS_CA_DAYS * DAY + 5);
	ck_assert_int_le(ci.not_before, now);
	/* The leaf: one year, every name, not a CA. */
	ck_assert_int_eq(certs_parse(b.cert, &ci), 0);
	ck_assert(!ci.is_ca);
	ck_assert_int_ge(ci.not_after, now + CERTS_LEAF_DAYS * DAY - 5);
	ck_assert_int_le(ci.not_after, now + CERTS_LEAF_DAYS * DAY + 5);
	ck_assert_int_eq(ci.nnames, nn);
	for (size_t i = 0; i < nn; i++)
		ck_assert_str_eq(ci.names[i], nm[i]);
	ck_assert(certs_key_matches(b.cert, b.key));
	ck_assert(certs_key_matches(b.ca_cert, b.ca_key));
	ck_assert(!certs_key_matches(b.cert, b.ca_key));
	ck_assert(certs_signed_by(b.cert, b.ca_cert));
	ck_assert(!certs_signed_by(b.ca_cert, b.cert));
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_KEEP);
	certs_bundle_clear(&b);
	ck_assert_ptr_null(b.cert);
	ck_assert_ptr_null(b.ca_key);
	certs_bundle_clear(NULL);
}
END_TEST

START_TEST(issuer_check)
{
	const char *nm[CERTS_MAX_NAMES];
	char store[4096], why[128];
	size_t nn = names(nm, store, sizeof(store));
	int64_t now = (int64_t)time(NULL);
	struct certs_bundle a, other;
	char *tmp;

	fresh(&a, now, nm, nn);
	fresh(&other, now, nm, nn);
	ck_assert(!certs_signed_by(a.cert, other.ca_cert));
	/* A leaf from another CA (same CN, so only the signature tells). */
	tmp = a.cert, a.cert = other.cert, other.cert = tmp;
	tmp = a.key, a.key = other.key, other.key = tmp;
	ck_assert_int_eq(certs_check(&a, nm, nn, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_str_eq(why, "tls.crt is not signed by the CA in ca.crt");
	/* A key that is not the leaf's. */
	tmp = a.key, a.key = other.key, other.key = tmp;
	ck_assert_int_eq(certs_check(&a, nm, nn, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_str_eq(why, "tls.key does not match tls.crt");
	/* A CA key that is not the CA's. */
	tmp = a.ca_key, a.ca_key = other.ca_key, other.ca_key = tmp;
	ck_assert_int_eq(certs_check(&a, nm, nn, now, why, sizeof(why)), CERTS_NEW_CA);
	/* A leaf is no CA. */
	pg_free(a.ca_cert);
	a.ca_cert = pg_strdup(other.cert);
	ck_assert_int_eq(certs_check(&a, nm, nn, now, why, sizeof(why)), CERTS_NEW_CA);
	ck_assert_str_eq(why, "ca.crt is not a CA");
	certs_bundle_clear(&a);
	certs_bundle_clear(&other);
}
END_TEST

START_TEST(expiry_decisions)
{
	const char *nm[CERTS_MAX_NAMES];
	char store[4096], why[128];
	size_t nn = names(nm, store, sizeof(store));
	int64_t now = (int64_t)time(NULL);
	struct certs_bundle b;
	char *ca_before;

	fresh(&b, now, nm, nn);
	/* A leaf with 10 days left is renewed, the CA kept. */
	ck_assert_int_eq(certs_make_leaf(&b, nm, nn, now, 10), 0);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_str_eq(why, "tls.crt expires within 30 days");
	ca_before = pg_strdup(b.ca_cert);
	ck_assert_int_eq(certs_renew(&b, CERTS_NEW_LEAF, nm, nn, now), 0);
	ck_assert_str_eq(b.ca_cert, ca_before);
	ck_assert(certs_signed_by(b.cert, b.ca_cert));
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_KEEP);
	/* One with 200 days left is kept. */
	ck_assert_int_eq(certs_make_leaf(&b, nm, nn, now, 200), 0);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_KEEP);
	/* ... until 171 days later. */
	ck_assert_int_eq(certs_check(&b, nm, nn, now + 171 * DAY, why, sizeof(why)),
			 CERTS_NEW_LEAF);
	/* Already expired. */
	ck_assert_int_eq(certs_check(&b, nm, nn, now + 400 * DAY, why, sizeof(why)),
			 CERTS_NEW_LEAF);
	/* A CA with less than a year left: a new CA, the old one still in
	 * ca.crt after it while it is valid. */
	ck_assert_int_eq(certs_make_ca(&b, now, 300), 0);
	ck_assert_int_eq(certs_make_leaf(&b, nm, nn, now, 200), 0);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_CA);
	ck_assert_str_eq(why, "the CA expires within a year");
	pg_free(ca_before);
	ca_before = pg_strdup(b.ca_cert);
	ck_assert_int_eq(certs_renew(&b, CERTS_NEW_CA, nm, nn, now), 0);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_KEEP);
	ck_assert_ptr_nonnull(strstr(b.ca_cert, ca_before));
	ck_assert(strncmp(b.ca_cert, ca_before, strlen(ca_before)) != 0);
	/* A CA made long ago that is now in its last year. */
	ck_assert_int_eq(certs_check(&b, nm, nn, now + (CERTS_CA_DAYS - 300) * DAY, why,
				     sizeof(why)), CERTS_NEW_CA);
	/* Only the newest previous CA is carried: renewing again keeps two. */
	ck_assert_int_eq(certs_renew(&b, CERTS_NEW_CA, nm, nn, now), 0);
	{
		size_t n = 0;

		for (const char *p = b.ca_cert; (p = strstr(p, "BEGIN CERTIFICATE")); p++)
			n++;
		ck_assert_int_eq(n, 2);
	}
	pg_free(ca_before);
	certs_bundle_clear(&b);
}
END_TEST

START_TEST(names_must_match)
{
	const char *nm[CERTS_MAX_NAMES];
	char store[4096], why[128];
	size_t nn = names(nm, store, sizeof(store));
	int64_t now = (int64_t)time(NULL);
	struct certs_bundle b;

	fresh(&b, now, nm, 4);  /* the webhook's names only */
	ck_assert_int_eq(certs_check(&b, nm, 4, now, why, sizeof(why)), CERTS_KEEP);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_str_eq(why, "tls.crt does not name the services");
	ck_assert_int_eq(certs_check(&b, nm, 3, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_int_eq(certs_check(&b, nm + 4, 4, now, why, sizeof(why)), CERTS_NEW_LEAF);
	certs_bundle_clear(&b);
}
END_TEST

START_TEST(bad_pem)
{
	static const char garbage[] = "-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydA==\n"
				      "-----END CERTIFICATE-----\n";
	const char *nm[CERTS_MAX_NAMES];
	char store[4096], why[128];
	size_t nn = names(nm, store, sizeof(store));
	int64_t now = (int64_t)time(NULL);
	struct certs_bundle b = { 0 };
	struct certs_info ci;

	ck_assert_int_eq(certs_parse(NULL, &ci), -EINVAL);
	ck_assert_int_eq(certs_parse("", &ci), -EINVAL);
	ck_assert_int_eq(certs_parse("hello", &ci), -EINVAL);
	ck_assert_int_eq(certs_parse(garbage, &ci), -EINVAL);
	ck_assert(!certs_signed_by(garbage, garbage));
	ck_assert(!certs_key_matches(garbage, "nope"));
	/* Nothing at all: everything new. */
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_CA);
	ck_assert_str_eq(why, "no CA yet");
	/* A broken CA: everything new; a leaf of garbage: a new leaf. */
	fresh(&b, now, nm, nn);
	pg_free(b.cert);
	b.cert = pg_strdup(garbage);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_LEAF);
	ck_assert_str_eq(why, "tls.crt is not a PEM certificate");
	pg_free(b.ca_cert);
	b.ca_cert = pg_strdup(garbage);
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_NEW_CA);
	ck_assert_str_eq(why, "ca.crt is not a PEM certificate");
	/* A new leaf needs a usable CA. */
	ck_assert_int_eq(certs_make_leaf(&b, nm, nn, now, 10), -EINVAL);
	ck_assert_int_eq(certs_renew(&b, CERTS_NEW_LEAF, nm, nn, now), -EINVAL);
	ck_assert_str_eq(b.ca_cert, garbage);   /* unchanged on failure */
	/* A new CA over a broken one carries nothing of it. */
	ck_assert_int_eq(certs_renew(&b, CERTS_NEW_CA, nm, nn, now), 0);
	ck_assert_ptr_null(strstr(b.ca_cert, "bm90IGEgY2VydA"));
	ck_assert_int_eq(certs_check(&b, nm, nn, now, why, sizeof(why)), CERTS_KEEP);
	certs_bundle_clear(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("certs");
	TCase *tc = tcase_create("certs");
	SRunner *sr;
	int failed;

	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, dns_names);
	tcase_add_test(tc, generate_and_parse_back);
	tcase_add_test(tc, issuer_check);
	tcase_add_test(tc, expiry_decisions);
	tcase_add_test(tc, names_must_match);
	tcase_add_test(tc, bad_pem);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
