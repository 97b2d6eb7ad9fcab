/* test_netaddr.c - base/netaddr.c: addresses and CIDRs, IPv4 and IPv6. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "netaddr.h"

START_TEST(test_cidr)
{
	struct cidr c;
	struct netaddr a;

	ck_assert_int_eq(cidr_parse("10.0.0.0/8", &c), 0);
	ck_assert_int_eq(netaddr_parse("10.200.1.1", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("11.0.0.1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("::ffff:10.1.2.3", &a), 0);   /* mapped form */
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("10.0.0.0/33", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0.0/", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0/8", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("10.0.0.0/+8", &c), -EINVAL);
	ck_assert_int_eq(cidr_parse("fd00::/8", &c), 0);
	ck_assert_int_eq(netaddr_parse("fdab::1", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("fe80::1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("10.9.8.7/12", &c), 0);
	ck_assert_int_eq(netaddr_parse("10.15.255.255", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(cidr_parse("0.0.0.0/0", &c), 0);
	ck_assert_int_eq(netaddr_parse("1.2.3.4", &a), 0);
	ck_assert(cidr_contains(&c, &a));
	ck_assert_int_eq(netaddr_parse("::1", &a), 0);
	ck_assert(!cidr_contains(&c, &a));                          /* families differ */
	ck_assert_int_eq(cidr_parse("192.168.1.7", &c), 0);
	ck_assert_uint_eq(c.prefix, 32);
	ck_assert_int_eq(netaddr_parse("1.2.3.4.5", &a), -EINVAL);
}
END_TEST

static bool sib(const char *x, const char *y)
{
	struct cidr a, b;

	ck_assert_int_eq(cidr_parse(x, &a), 0);
	ck_assert_int_eq(cidr_parse(y, &b), 0);
	return cidr_siblings(&a, &b);
}

START_TEST(test_cidr_siblings)
{
	ck_assert(sib("10.0.0.0/32", "10.0.0.1/32"));
	ck_assert(sib("10.0.0.0/31", "10.0.0.2/31"));
	ck_assert(sib("10.0.0.0/25", "10.0.0.128/25"));
	ck_assert(sib("0.0.0.0/1", "128.0.0.0/1"));
	ck_assert(sib("fd00::/128", "fd00::1/128"));
	ck_assert(!sib("10.0.0.1/32", "10.0.0.0/32"));          /* upper half first */
	ck_assert(!sib("10.0.0.1/32", "10.0.0.2/32"));          /* not one /31 */
	ck_assert(!sib("10.0.0.0/32", "10.0.0.1/31"));          /* prefix lengths differ */
	ck_assert(!sib("10.0.0.0/32", "10.0.1.1/32"));          /* other bits differ */
	ck_assert(!sib("0.0.0.0/0", "0.0.0.0/0"));
	ck_assert(!sib("10.0.0.0/32", "::a00:1/128"));          /* families differ */
}
END_TEST

int main(void)
{
	Suite *s = suite_create("netaddr");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_cidr);
	tcase_add_test(tc, test_cidr_siblings);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
