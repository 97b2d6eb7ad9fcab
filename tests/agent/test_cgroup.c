/* test_cgroup.c - pod UID and container ID from /proc/PID/cgroup:
 * recorded files of each runtime and driver (containerd, CRI-O, Docker x
 * systemd, cgroupfs x v1, v2, hybrid), QoS classes, cgroup namespaces,
 * host processes and garbage, as folders of input + expected output
 * (tests/agent/data/cgroup/NAME.cgroup, NAME.expected). */
#include <check.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cgroup.h"
#include "doc.h"
#include "xalloc.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif
#define DATA SOURCE_ROOT "/tests/agent/data/cgroup"

static const char *runtime_name(enum cgroup_runtime rt)
{
	switch (rt) {
	case CGROUP_RUNTIME_CONTAINERD: return "containerd";
	case CGROUP_RUNTIME_CRIO: return "cri-o";
	case CGROUP_RUNTIME_DOCKER: return "docker";
	default: return "unknown";
	}
}

/* The parse of @data as the one line the .expected files hold. */
static void describe(const char *data, size_t len, char *out, size_t n)
{
	struct cgroup_ident id;

	if (cgroup_parse(data, len, &id) < 0) {
		snprintf(out, n, "none");
		return;
	}
	snprintf(out, n, "pod=%s container=%s runtime=%s qos=%s", id.pod_uid,
		 id.container_id[0] ? id.container_id : "-", runtime_name(id.runtime), cgroup_qos_name(id.qos));
}

static char *slurp(const char *path, size_t *len)
{
	char *data = NULL;
	int r = doc_read_file(path, 1 << 20, &data, len);

	ck_assert_msg(r == 0, "%s: %s", path, strerror(-r));
	return data;
}

START_TEST(recorded_files)
{
	DIR *d = opendir(DATA);
	struct dirent *de;
	size_t cases = 0;

	ck_assert_ptr_nonnull(d);
	while ((de = readdir(d))) {
		char in[1024], exp_path[1024], got[512];
		size_t n = strlen(de->d_name), len, elen;
		char *data, *expected;

		if (n < 8 || strcmp(de->d_name + n - 7, ".cgroup") != 0)
			continue;
		snprintf(in, sizeof(in), "%s/%s", DATA, de->d_name);
		snprintf(exp_path, sizeof(exp_path), "%s/%.*s.expected", DATA, (int)(n - 7), de->d_name);
		data = slurp(in, &len);
		expected = slurp(exp_path, &elen);
		while (elen && expected[elen - 1] == '\n')
			expected[--elen] = '\0';
		describe(data, len, got, sizeof(got));
		ck_assert_msg(strcmp(got, expected) == 0, "%s:\n  got      %s\n  expected %s", de->d_name, got,
			      expected);
		pg_free(data);
		pg_free(expected);
		cases++;
	}
	closedir(d);
	/* every runtime x driver x version is there, and the odd ones */
	ck_assert_uint_ge(cases, 40);
}
END_TEST

START_TEST(systemd_uid_unescaped)
{
	static const char p[] = "/kubepods.slice/kubepods-besteffort.slice/"
		"kubepods-besteffort-pod0a1b2c3d_4e5f_6071_8293_a4b5c6d7e8f9.slice/"
		"crio-0000000000000000000000000000000000000000000000000000000000000abc.scope";
	struct cgroup_ident id;

	ck_assert_int_eq(cgroup_parse_path(p, strlen(p), &id), 0);
	ck_assert_str_eq(id.pod_uid, "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
	ck_assert_str_eq(id.container_id, "0000000000000000000000000000000000000000000000000000000000000abc");
	ck_assert_int_eq(id.runtime, CGROUP_RUNTIME_CRIO);
	ck_assert_str_eq(cgroup_runtime_scheme(id.runtime), "cri-o://");
	ck_assert_int_eq(id.qos, CGROUP_QOS_BESTEFFORT);
}
END_TEST

START_TEST(uid_case_folded)
{
	static const char p[] = "/kubepods/burstable/pod0A1B2C3D-4E5F-6071-8293-A4B5C6D7E8F9/"
		"1111111111111111111111111111111111111111111111111111111111111111";
	struct cgroup_ident id;

	ck_assert_int_eq(cgroup_parse_path(p, strlen(p), &id), 0);
	ck_assert_str_eq(id.pod_uid, "0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");
}
END_TEST

START_TEST(length_is_respected)
{
	/* the path is given by length: what follows it is not read */
	static const char p[] = "/kubepods/burstable/pod0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9/"
		"1111111111111111111111111111111111111111111111111111111111111111";
	struct cgroup_ident id;
	size_t pod_end = strlen("/kubepods/burstable/pod0a1b2c3d-4e5f-6071-8293-a4b5c6d7e8f9");

	ck_assert_int_eq(cgroup_parse_path(p, pod_end, &id), 0);
	ck_assert_str_eq(id.container_id, "");
	ck_assert_int_eq(cgroup_parse_path(p, pod_end - 1, &id), -ENOENT);
	ck_assert_int_eq(cgroup_parse_path(p, 0, &id), -ENOENT);
}
END_TEST

START_TEST(failure_leaves_output_alone)
{
	struct cgroup_ident id;

	memset(&id, 0x5a, sizeof(id));
	ck_assert_int_eq(cgroup_parse("0::/system.slice/sshd.service\n", 30, &id), -ENOENT);
	ck_assert_int_eq(((unsigned char *)&id)[0], 0x5a);
	ck_assert_int_eq(((unsigned char *)&id)[sizeof(id) - 1], 0x5a);
}
END_TEST

START_TEST(every_prefix_and_byte)
{
	/* Truncations and single-byte corruptions of a real line never crash
	 * and never invent an ID that is not 64 hex. */
	static const char line[] = "0::/kubepods.slice/kubepods-burstable.slice/"
		"kubepods-burstable-pod5ed8a4f6_db4e_4b7e_a87c_67da390d031d.slice/"
		"cri-containerd-d0f631ca1ddba8db3bcfcb9e057cdc98d0379f1bee00e75a545147a27dadd982.scope\n";
	char buf[sizeof(line)];

	for (size_t n = 0; n < sizeof(line); n++) {
		struct cgroup_ident id;

		if (cgroup_parse(line, n, &id) == 0)
			ck_assert(id.container_id[0] == '\0' || strlen(id.container_id) == 64);
	}
	for (size_t i = 0; i + 1 < sizeof(line); i++) {
		struct cgroup_ident id;

		memcpy(buf, line, sizeof(line));
		buf[i] = '/';
		if (cgroup_parse(buf, sizeof(line) - 1, &id) == 0)
			ck_assert(id.container_id[0] == '\0' || strlen(id.container_id) == 64);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent_cgroup");
	TCase *tc = tcase_create("parse");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, recorded_files);
	tcase_add_test(tc, systemd_uid_unescaped);
	tcase_add_test(tc, uid_case_folded);
	tcase_add_test(tc, length_is_respected);
	tcase_add_test(tc, failure_leaves_output_alone);
	tcase_add_test(tc, every_prefix_and_byte);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
