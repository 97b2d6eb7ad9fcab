/* test_image.c - model/image.c: image references normalized, refused and
 * matched against patterns, tags beside digests, digest pins. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "image.h"
#include "../lib/testutil.h"

static const char *const norm_cases[][2] = {
	{ "nginx", "docker.io/library/nginx:latest" },
	{ "nginx:1.25", "docker.io/library/nginx:1.25" },
	{ "bitnami/nginx", "docker.io/bitnami/nginx:latest" },
	{ "docker.io/nginx", "docker.io/library/nginx:latest" },
	{ "index.docker.io/nginx:1", "docker.io/library/nginx:1" },
	{ "ghcr.io/a/b", "ghcr.io/a/b:latest" },
	{ "localhost/app", "localhost/app:latest" },
	{ "localhost:5000/app:dev", "localhost:5000/app:dev" },
	{ "registry.example.com:443/team/app:1.0", "registry.example.com:443/team/app:1.0" },
	{ "nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	/* A tag beside a digest is dropped: the runtime pulls by digest. */
	{ "r.io/a:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "r.io/a@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	{ "nginx:1.25@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "docker.io/library/nginx@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
	{ "localhost:5000/app:dev@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
	  "localhost:5000/app@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef" },
};

START_TEST(test_image_normalize)
{
	char out[IMAGE_REF_MAX + 64];

	ck_assert_int_eq(image_normalize(norm_cases[_i][0], out, sizeof(out)), 0);
	ck_assert_str_eq(out, norm_cases[_i][1]);
}
END_TEST

START_TEST(test_image_invalid)
{
	char out[64];

	ck_assert_int_eq(image_normalize("", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("a b", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("nginx:", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("r.io/", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("@sha256:00", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("nginx@md5:00", out, sizeof(out)), -EINVAL);
	ck_assert_int_eq(image_normalize("registry.example.com/a-very-long/path/that/does/not/fit/in/sixty-four/bytes:1", out, sizeof(out)),
			 -ENAMETOOLONG);
}
END_TEST

START_TEST(test_image_patterns)
{
	const char *d = "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";
	char img[256];

	ck_assert(image_pattern_match("docker.io/library/nginx:*", "docker.io/library/nginx:1.25"));
	ck_assert(!image_pattern_match("nginx:*", "docker.io/library/nginx:1.25"));  /* wildcards are not normalised */
	ck_assert(image_pattern_match("nginx:1.25", "docker.io/library/nginx:1.25"));
	ck_assert_int_eq(image_normalize("r.io/app:1@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
					 img, sizeof(img)), 0);
	ck_assert(!image_pattern_match("r.io/app:1", img));    /* the tag beside a digest is not the tag */
	ck_assert(image_pattern_match("r.io/*", img));
	ck_assert(!image_pattern_match("r.io/app:2", img));
	snprintf(img, sizeof(img), "r.io/app%s", d);
	ck_assert(!image_pattern_match("r.io/app", img));      /* :latest is not the digest */
	ck_assert(image_pattern_match("r.io/app@sha256:*", img));
	ck_assert(image_has_digest(img));
	ck_assert(!image_has_digest("r.io/app@sha256:ABCDEF"));
	ck_assert(!image_has_digest("r.io/app:sha256"));
}
END_TEST

/* `nginx:1.25@sha256:<any>` runs whatever build the digest names: a tag
 * allow list must not admit it (SPEC §2). */
START_TEST(test_image_tag_beside_digest)
{
	const char *any = "@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff";
	char ref[256], norm[IMAGE_REF_MAX + 64];

	snprintf(ref, sizeof(ref), "nginx:1.25%s", any);
	ck_assert_int_eq(image_normalize(ref, norm, sizeof(norm)), 0);
	ck_assert(!image_pattern_match("nginx:1.25", norm));
	ck_assert(!image_pattern_match("docker.io/library/nginx:1.25", norm));
	ck_assert(!image_pattern_match("docker.io/library/nginx:1.25*", norm));
	ck_assert(!image_pattern_match("docker.io/library/nginx:*", norm));
	/* What names the repository or the digest still works. */
	ck_assert(image_pattern_match("docker.io/library/nginx@sha256:*", norm));
	ck_assert(image_pattern_match("docker.io/library/nginx*", norm));
	ck_assert(image_pattern_match(ref, norm));                    /* the same pin, tag and all */
	snprintf(ref, sizeof(ref), "nginx%s", any);
	ck_assert(image_pattern_match(ref, norm));                    /* the same digest */
	/* A tag pattern still allows the tag. */
	ck_assert_int_eq(image_normalize("nginx:1.25", norm, sizeof(norm)), 0);
	ck_assert(image_pattern_match("nginx:1.25", norm));
	ck_assert_int_eq(image_normalize("nginx:@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff",
					 norm, sizeof(norm)), -EINVAL);
}
END_TEST

/* The same through the engine: images.allow [nginx:1.25] is a finding for
 * nginx:1.25@sha256:<any>, learn's own pin still passes. */
START_TEST(test_image_allow_list_digest_pin)
{
	struct profile *p = tu_profile("images: {allow: [\"nginx:1.25\", "
				       "\"r.io/app:2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"]}");
	struct findings f;
	struct pod *pod;

	pod = tu_pod("apiVersion: v1\nkind: Pod\nmetadata: {name: x, namespace: ns, labels: {app: a}}\n"
		     "spec: {containers: [{name: c, image: \"nginx:1.25@sha256:ffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff\"}, "
		     "{name: d, image: nginx:1.25}, "
		     "{name: e, image: \"r.io/app:2@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef\"}]}\n");
	findings_init(&f, 0);
	ck_assert_int_eq(engine_eval_profile(p, pod, NULL, &f), 0);
	ck_assert_uint_eq(f.n, 1);
	ck_assert_str_eq(f.v[0].path, "spec.containers[0].image");
	ck_assert_str_eq(f.v[0].rule, "images.allow");
	findings_free(&f);
	pod_free(pod);
	profile_free(p);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("image");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_loop_test(tc, test_image_normalize, 0, (int)(sizeof(norm_cases) / sizeof(norm_cases[0])));
	tcase_add_test(tc, test_image_invalid);
	tcase_add_test(tc, test_image_patterns);
	tcase_add_test(tc, test_image_tag_beside_digest);
	tcase_add_test(tc, test_image_allow_list_digest_pin);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
