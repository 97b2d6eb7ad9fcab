/* test_learn.c - learn's danger table (data: each kind it names, and
 * near misses it must not), which directories may be folded, and
 * learn_render() itself: images by repository, the folding threshold,
 * never folding over a dangerous file, review marks, --exact, and YAML
 * that reads back (doc_parse, the YAML 1.1 reader check and the webhook
 * use) as exactly the strings seen, and as a profile the validator takes
 * and that allows every event it was learned from. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "doc.h"
#include "errlist.h"
#include "learn.h"
#include "pod.h"
#include "profile.h"
#include "runtime.h"
#include "../lib/testutil.h"
#include "xalloc.h"

/* ---- the danger table ---------------------------------------------------------- */

START_TEST(danger_files)
{
	static const char *const read_bad[] = {
		"/etc/shadow", "/etc/gshadow", "/etc/shadow-", "/etc/sudoers", "/etc/sudoers.d/90-cloud",
		"/root/.ssh/id_rsa", "/home/app/.ssh/authorized_keys", "/srv/id_ed25519", "/etc/ssh/ssh_host_rsa_key",
		"/app/tls/server.key", "/app/tls/server.pem", "/var/run/secrets/kubernetes.io/serviceaccount/token",
		"/run/secrets/db", "/proc/1/mem", "/proc/self/environ", "/proc/1/task/2/mem", NULL,
	};
	static const char *const read_ok[] = {
		"/etc/passwd", "/etc/group", "/etc/hosts", "/etc/ssl/certs/ca-certificates.crt", "/etc/shadowsocks",
		"/proc/self/status", "/proc/1/maps", "/app/keys.txt", "/app/key", "/var/run/app.pid", "/tmp/x", NULL,
	};
	static const char *const write_bad[] = {
		"/etc/passwd", "/etc/group", "/etc/ld.so.preload", "/etc/cron.d/job", "/usr/local/bin/x",
		"/bin/ls", "/sbin/init", "/lib/x.so", "/lib64/ld.so", "/boot/vmlinuz", "/proc/sys/kernel/x",
		"/sys/kernel/x", "/etc/shadow", NULL,
	};
	static const char *const write_ok[] = { "/tmp/x", "/var/cache/app/x", "/app/data/db", "/home/app/x", NULL };

	for (const char *const *p = read_bad; *p; p++) {
		ck_assert_msg(learn_danger(LEARN_ON_READ, *p, NULL), "read %s", *p);
		ck_assert_msg(learn_danger(LEARN_ON_WRITE, *p, NULL), "write %s", *p);
	}
	for (const char *const *p = read_ok; *p; p++)
		ck_assert_msg(!learn_danger(LEARN_ON_READ, *p, NULL), "read %s", *p);
	for (const char *const *p = write_bad; *p; p++)
		ck_assert_msg(learn_danger(LEARN_ON_WRITE, *p, NULL), "write %s", *p);
	for (const char *const *p = write_ok; *p; p++)
		ck_assert_msg(!learn_danger(LEARN_ON_WRITE, *p, NULL), "write %s", *p);
	ck_assert_str_eq(learn_danger(LEARN_ON_READ, "/etc/shadow", NULL), "credential file: password hashes");
	ck_assert_str_eq(learn_danger(LEARN_ON_WRITE, "/etc/passwd", NULL), "write to the user database");
	/* a path is never an executable's danger */
	ck_assert_ptr_null(learn_danger(LEARN_ON_READ, "/bin/sh", NULL));
}
END_TEST

START_TEST(danger_exec)
{
	static const char *const bad[] = {
		"/bin/sh", "/bin/bash", "/usr/bin/dash", "/bin/zsh", "/bin/ash", "/bin/busybox", "sh",
		"/usr/bin/apt", "/usr/bin/apt-get", "/usr/bin/dpkg", "/sbin/apk", "/usr/bin/yum", "/usr/bin/dnf",
		"/usr/bin/rpm", "/usr/local/bin/pip", "/usr/bin/pip3", "/usr/bin/pip3.12", "/usr/bin/npm",
		"/usr/bin/gem", NULL,
	};
	static const char *const ok[] = {
		"/app/server", "/usr/bin/shasum", "/usr/bin/bash-completion", "/usr/bin/aptitude-x", "/usr/bin/gemini",
		"/usr/bin/npx", "/opt/sh/tool", "/usr/bin/rpmbuild", "/bin/flash", NULL,
	};

	for (const char *const *p = bad; *p; p++)
		ck_assert_msg(learn_danger(LEARN_ON_EXEC, *p, NULL), "exec %s", *p);
	for (const char *const *p = ok; *p; p++)
		ck_assert_msg(!learn_danger(LEARN_ON_EXEC, *p, NULL), "exec %s", *p);
	ck_assert_str_eq(learn_danger(LEARN_ON_EXEC, "/bin/sh", NULL), "a shell");
	ck_assert_str_eq(learn_danger(LEARN_ON_EXEC, "/usr/bin/pip3", NULL), "a package manager");
}
END_TEST

START_TEST(danger_api)
{
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "secrets", "get"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "secrets", "list"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "pods/exec", "create"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "pods/exec", "get"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "pods/attach", "create"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "serviceaccounts/token", "create"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "rbac.authorization.k8s.io/clusterroles", "bind"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "rbac.authorization.k8s.io/roles", "escalate"));
	ck_assert_ptr_nonnull(learn_danger(LEARN_ON_API, "users", "impersonate"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "configmaps", "get"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "pods", "create"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "pods/log", "get"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "serviceaccounts/token", "get"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "secretstores", "get"));
	ck_assert_ptr_null(learn_danger(LEARN_ON_API, "rbac.authorization.k8s.io/roles", "get"));
	/* the API table is not a file table */
	ck_assert_ptr_null(learn_danger(LEARN_ON_READ, "secrets", NULL));
}
END_TEST

START_TEST(dir_foldable)
{
	static const char *const never[] = {
		"", "/", "relative", "/etc", "/proc", "/proc/self", "/proc/1", "/var", "/var/run", "/var/run/secrets",
		"/var/run/secrets/kubernetes.io/serviceaccount", "/run/secrets", "/etc/sudoers.d", "/etc/ssh",
		"/app/*", "/app/x?", NULL,
	};
	static const char *const read_ok[] = {
		"/etc/ssl/certs", "/etc/ssl", "/etc/nginx/conf.d", "/usr/lib/python3", "/app/conf", "/tmp", "/var/lib/app",
		"/run/app", "/proc-like", "/etcetera", NULL,
	};
	static const char *const write_never[] = { "/etc/app", "/usr/local/lib", "/bin", "/lib/x", "/sys/fs", NULL };

	for (const char *const *p = never; *p; p++) {
		ck_assert_msg(!learn_dir_foldable(LEARN_ON_READ, *p), "read %s", *p);
		ck_assert_msg(!learn_dir_foldable(LEARN_ON_WRITE, *p), "write %s", *p);
	}
	for (const char *const *p = read_ok; *p; p++)
		ck_assert_msg(learn_dir_foldable(LEARN_ON_READ, *p), "read %s", *p);
	for (const char *const *p = write_never; *p; p++) {
		ck_assert_msg(!learn_dir_foldable(LEARN_ON_WRITE, *p), "write %s", *p);
		ck_assert_msg(learn_dir_foldable(LEARN_ON_READ, *p), "read %s", *p);
	}
	ck_assert(learn_dir_foldable(LEARN_ON_WRITE, "/tmp/work"));
}
END_TEST

/* ---- learn_render() -------------------------------------------------------------- */

static struct container ctr;
static struct pod pod;
static struct learn *l;
static struct buf out;

static void setup_pod(const char *image)
{
	memset(&ctr, 0, sizeof(ctr));
	memset(&pod, 0, sizeof(pod));
	ctr.name = "c";
	ctr.image = image;
	ctr.run_as_user = -1;
	pod.kind = WK_POD;
	pod.namespace = "ns";
	pod.name = "web";
	pod.run_as_user = -1;
	pod.containers = &ctr;
	pod.ncontainers = 1;
}

static void start(const char *image, bool exact)
{
	setup_pod(image);
	l = learn_new(&(struct learn_opts){ .name = "web", .namespace = "ns", .mode = "Enforce", .exact = exact });
	ck_assert_ptr_nonnull(l);
	learn_set_pod(l, &pod, "test");
	buf_init(&out, 1u << 24);
}

static void finish(void)
{
	l = learn_free(l);
	buf_free(&out);
}

static void add_open(const char *path, bool write)
{
	struct telemetry_event e = { .pod_namespace = "ns", .pod_name = "web", .received = -1 };

	e.ev.kind = RUNTIME_OPEN;
	e.ev.time = 1795341600;
	e.ev.path = path;
	e.ev.write = write;
	ck_assert_int_eq(learn_add(l, &e), 0);
}

static void add_exec(const char *exe)
{
	struct telemetry_event e = { .pod_namespace = "ns", .pod_name = "web", .received = -1 };

	e.ev.kind = RUNTIME_EXEC;
	e.ev.time = 1795341600;
	e.ev.exe = exe;
	ck_assert_int_eq(learn_add(l, &e), 0);
}

/* A get of the configmap @name by the pod's identity. */
static void add_get(const char *name)
{
	struct telemetry_event e = { .pod_namespace = "ns", .received = -1 };

	e.ev.kind = RUNTIME_API;
	e.ev.time = 1795341600;
	e.ev.username = "system:serviceaccount:ns:default";
	e.ev.verb = "get";
	e.ev.resource = "configmaps";
	e.ev.object_name = name;
	ck_assert_int_eq(learn_add(l, &e), 0);
}

/* Renders, reads the YAML back and validates it as a profile. */
static struct profile *render(json_t **ret_doc)
{
	struct errlist errs;
	struct profile *prof = NULL;
	json_t *doc;

	ck_assert_int_eq(learn_render(l, &out), 0);
	doc = tu_yaml(buf_str(&out));
	errlist_init(&errs, 10);
	ck_assert_msg(profile_parse(tu_jv(doc), "ns", &errs, &prof) == 0, "%s\n%s", errs.n ? errs.msgs[0] : "?",
		      buf_str(&out));
	errlist_free(&errs);
	if (ret_doc)
		*ret_doc = doc;
	else
		json_decref(doc);
	return prof;
}

static bool allows_open(const struct profile *prof, const char *path, bool write)
{
	struct runtime_event ev = { .kind = RUNTIME_OPEN, .time = 1795341600, .path = path, .write = write };
	struct findings f;
	bool ok;

	findings_init(&f, 8);
	ck_assert_int_eq(runtime_judge(prof, &pod, &ev, &f), 0);
	ok = f.n == 0;
	findings_free(&f);
	return ok;
}

static const char *list_item(json_t *doc, const char *which, size_t i)
{
	json_t *v = json_array_get(json_object_get(json_object_get(json_object_get(json_object_get(doc, "spec"),
									"runtime"), "files"), which), i);

	return json_string_value(v);
}

static size_t list_len(json_t *doc, const char *which)
{
	return json_array_size(json_object_get(json_object_get(json_object_get(json_object_get(doc, "spec"),
									   "runtime"), "files"), which));
}

START_TEST(images_by_repository)
{
	static const struct {
		const char *seen, *want, *exact;
	} cases[] = {
		{ "app:1.0", "docker.io/library/app:*", "app:1.0" },
		{ "app", "docker.io/library/app:*", "app" },
		{ "team/app:2", "docker.io/team/app:*", "team/app:2" },
		{ "registry.local:5000/a/b:1", "registry.local:5000/a/b:*", "registry.local:5000/a/b:1" },
		{ "r.io/a@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "r.io/a@sha256:*",
		  "r.io/a@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
		{ "r.io/a:1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "r.io/a@sha256:*",
		  "r.io/a:1@sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa" },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		for (int exact = 0; exact < 2; exact++) {
			json_t *doc;
			struct profile *prof;

			start(cases[i].seen, exact);
			add_exec("/app/server");
			prof = render(&doc);
			ck_assert_str_eq(json_string_value(json_array_get(json_object_get(json_object_get(
				json_object_get(doc, "spec"), "images"), "allow"), 0)), exact ? cases[i].exact : cases[i].want);
			json_decref(doc);
			profile_free(prof);
			finish();
		}
	}
}
END_TEST

START_TEST(fold_threshold)
{
	json_t *doc;
	struct profile *prof;

	start("app:1.0", false);
	add_open("/app/two/a", false);
	add_open("/app/two/b", false);
	add_open("/app/three/a", false);
	add_open("/app/three/b", false);
	add_open("/app/three/c", false);
	add_open("/app/three/c", false);        /* once */
	prof = render(&doc);
	ck_assert_uint_eq(list_len(doc, "read"), 3);
	ck_assert_str_eq(list_item(doc, "read", 0), "/app/three/*");
	ck_assert_str_eq(list_item(doc, "read", 1), "/app/two/a");
	ck_assert_str_eq(list_item(doc, "read", 2), "/app/two/b");
	ck_assert(allows_open(prof, "/app/three/d", false));
	ck_assert(!allows_open(prof, "/app/two/c", false));
	ck_assert(!allows_open(prof, "/app/three/d", true));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "# Generalised: images by repository; 1 directory generalised"));
	json_decref(doc);
	profile_free(prof);
	finish();
}
END_TEST

START_TEST(no_fold_over_danger)
{
	const struct learn_review *rev;
	json_t *doc;
	struct profile *prof;

	start("app:1.0", false);
	add_open("/etc/shadow", false);
	add_open("/etc/hosts", false);
	add_open("/etc/resolv.conf", false);
	add_open("/srv/k/a.crt", false);
	add_open("/srv/k/b.crt", false);
	add_open("/srv/k/c.crt", false);
	add_open("/srv/k/deep/tls.key", false);
	/* written: a folded write directory would let the key be read */
	add_open("/data/1", true);
	add_open("/data/2", true);
	add_open("/data/3", true);
	add_open("/data/x/id_rsa", false);
	/* read: a key written in the directory keeps it exact too */
	add_open("/srv/w/a", false);
	add_open("/srv/w/b", false);
	add_open("/srv/w/c", false);
	add_open("/srv/w/tls.key", true);
	prof = render(&doc);
	ck_assert_uint_eq(list_len(doc, "read"), 11);
	ck_assert_uint_eq(list_len(doc, "write"), 4);
	ck_assert(!allows_open(prof, "/srv/w/d", false));
	ck_assert(!allows_open(prof, "/etc/gshadow", false));
	ck_assert(!allows_open(prof, "/srv/k/d.crt", false));
	ck_assert(!allows_open(prof, "/data/4", true));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "        - /etc/shadow  # review: credential file: password hashes\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "        - /srv/k/deep/tls.key  # review: private key file (*.key)\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "0 directories generalised"));
	ck_assert_uint_eq(learn_reviews(l, &rev), 4);
	ck_assert_str_eq(rev[0].field, "runtime.files.read");
	json_decref(doc);
	profile_free(prof);
	finish();
}
END_TEST

START_TEST(exact_keeps_every_path)
{
	json_t *doc;
	struct profile *prof;

	start("app:1.0", true);
	add_open("/app/three/a", false);
	add_open("/app/three/b", false);
	add_open("/app/three/c", false);
	add_exec("/bin/sh");
	prof = render(&doc);
	ck_assert_uint_eq(list_len(doc, "read"), 3);
	ck_assert(!allows_open(prof, "/app/three/d", false));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "# It allows exactly what was seen (--exact).\n"
					      "# 1 entry needs review (marked \"# review:\").\n"));
	ck_assert_ptr_nonnull(strstr(buf_str(&out), "      - /bin/sh  # review: a shell\n"));
	json_decref(doc);
	profile_free(prof);
	finish();
}
END_TEST

/* Each hostile string, as an executable and as a file name, reads back as
 * itself, and the profile allows the events it came from. */
START_TEST(yaml_round_trip)
{
	static const char *const hostile[] = {
		"a: b", "a #b", "#c", "*star", "&anchor", "!tag", "-dash", "- item", "? key", "\"dq\"", "'sq'",
		"back\\slash", "new\nline", "tab\there", "cr\rx", "unicod\xc3\xa9 \xe2\x9c\x93", "nel\xc2\x85x",
		"ls\xe2\x80\xa8ps\xe2\x80\xa9", "yes", "no", "Yes", "NO", "on", "off", "y", "null", "~", "true", "123",
		"0x1F", "017", "1e3", "1_000", ".inf", ".nan", "12:30", "2026-01-01", "[flow]", "{map}", "%pct",
		"@at", "`tick", "|pipe", ">gt", "<<", "=", " lead", "trail ", "a\x01z", "del\x7f", "---", "...",
	};
	char exes[sizeof(hostile) / sizeof(hostile[0])][64], paths[sizeof(hostile) / sizeof(hostile[0])][64];
	size_t n = sizeof(hostile) / sizeof(hostile[0]);

	for (int exact = 0; exact < 2; exact++) {
		json_t *doc, *got;
		struct profile *prof;

		start("app:1.0", exact);
		for (size_t i = 0; i < n; i++) {
			snprintf(exes[i], sizeof(exes[i]), "/bin/%s", hostile[i]);
			snprintf(paths[i], sizeof(paths[i]), "/d%zu/%s", i, hostile[i]);
			add_exec(exes[i]);
			add_open(paths[i], i % 2);
			add_get(hostile[i]);    /* a bare scalar: "null", "yes", "123" */
		}
		prof = render(&doc);
		got = json_object_get(json_array_get(json_object_get(json_object_get(json_object_get(doc, "spec"), "runtime"),
								     "kubernetesAPI"), 0), "resourceNames");
		ck_assert_uint_eq(json_array_size(got), n);
		for (size_t i = 0; i < n; i++) {
			bool found = false;

			for (size_t k = 0; k < n && !found; k++)
				found = json_is_string(json_array_get(got, k)) &&
					!strcmp(json_string_value(json_array_get(got, k)), hostile[i]);
			ck_assert_msg(found, "resourceName \"%s\" did not read back", hostile[i]);
		}
		got = json_object_get(json_object_get(json_object_get(doc, "spec"), "runtime"), "executables");
		ck_assert_uint_eq(json_array_size(got), n);
		for (size_t i = 0; i < n; i++) {
			struct runtime_event ev = { .kind = RUNTIME_EXEC, .time = 1795341600, .exe = exes[i] };
			struct findings f;
			bool found = false;

			for (size_t k = 0; k < n && !found; k++)
				found = json_is_string(json_array_get(got, k)) &&
					!strcmp(json_string_value(json_array_get(got, k)), exes[i]);
			ck_assert_msg(found, "%s did not read back", exes[i]);
			found = false;
			for (size_t k = 0; k < list_len(doc, i % 2 ? "write" : "read") && !found; k++)
				found = !strcmp(list_item(doc, i % 2 ? "write" : "read", k), paths[i]);
			ck_assert_msg(found, "%s did not read back", paths[i]);
			findings_init(&f, 8);
			ck_assert_int_eq(runtime_judge(prof, &pod, &ev, &f), 0);
			ck_assert_uint_eq(f.n, 0);
			findings_free(&f);
			ck_assert(allows_open(prof, paths[i], i % 2));
		}
		json_decref(doc);
		profile_free(prof);
		finish();
	}
}
END_TEST

/* Every allocation failing in turn, over folding, review marks and a
 * left-out verb: -ENOMEM and nothing written, or the whole profile;
 * never a crash or a leak (ASan). */
START_TEST(alloc_failures)
{
	static const char *const reads[] = { "/etc/shadow", "/etc/hosts", "/app/c/a", "/app/c/b", "/app/c/c",
					     "/app/c/d/e", "/tmp/w/k.key", NULL };
	static const char *const writes[] = { "/tmp/w/1", "/tmp/w/2", "/tmp/w/3", "/srv/1", "/srv/2", "/srv/3",
					      "/etc/passwd", NULL };
	static const char *const verbs[][2] = { { "get", "secrets" }, { "bind", "clusterroles" },
						{ "impersonate", "users" }, { "list", "secrets" }, { NULL, NULL } };
	bool done = false;

	setup_pod("app:1.0");
	for (long n = 0; !done; n++) {
		struct learn_opts o = { .name = "web", .namespace = "ns" };
		struct buf b = BUF_INIT(1u << 20);
		int r = 0;

		ck_assert_int_lt(n, 20000);
		pg_alloc_fail_at(n);
		l = learn_new(&o);
		if (l) {
			learn_set_pod(l, &pod, "test");
			for (const char *const *p = reads; *p && r == 0; p++)
				r = learn_add(l, &(struct telemetry_event){ .pod_namespace = "ns", .pod_name = "web", .received = -1,
					.ev = { .kind = RUNTIME_OPEN, .time = 1795341600, .path = *p } });
			for (const char *const *p = writes; *p && r == 0; p++)
				r = learn_add(l, &(struct telemetry_event){ .pod_namespace = "ns", .pod_name = "web", .received = -1,
					.ev = { .kind = RUNTIME_OPEN, .time = 1795341600, .path = *p, .write = true } });
			for (size_t i = 0; verbs[i][0] && r == 0; i++)
				r = learn_add(l, &(struct telemetry_event){ .pod_namespace = "ns", .received = -1,
					.ev = { .kind = RUNTIME_API, .time = 1795341600, .verb = verbs[i][0], .resource = verbs[i][1],
						.username = "system:serviceaccount:ns:default", .object_name = "x" } });
			r = r ? r : learn_add(l, &(struct telemetry_event){ .pod_namespace = "ns", .pod_name = "web", .received = -1,
				.ev = { .kind = RUNTIME_EXEC, .time = 1795341600, .exe = "/bin/sh" } });
			r = r ? r : learn_render(l, &b);
			ck_assert_msg(r == 0 || r == -ENOMEM, "r=%d", r);
			ck_assert(r == 0 || b.len == 0);
		}
		done = !pg_alloc_refused();
		pg_alloc_fail_at(-1);
		if (done)
			ck_assert_ptr_nonnull(strstr(buf_str(&b), "# 7 entries need review"));
		l = learn_free(l);
		buf_free(&b);
	}
}
END_TEST

static Suite *suite(void)
{
	Suite *s = suite_create("learn");
	TCase *t = tcase_create("danger");

	tcase_add_test(t, danger_files);
	tcase_add_test(t, danger_exec);
	tcase_add_test(t, danger_api);
	tcase_add_test(t, dir_foldable);
	suite_add_tcase(s, t);
	t = tcase_create("render");
	tcase_add_test(t, images_by_repository);
	tcase_add_test(t, fold_threshold);
	tcase_add_test(t, no_fold_over_danger);
	tcase_add_test(t, exact_keeps_every_path);
	tcase_add_test(t, yaml_round_trip);
	tcase_add_test(t, alloc_failures);
	suite_add_tcase(s, t);
	return s;
}

int main(void)
{
	SRunner *r = srunner_create(suite());
	int failed;

	srunner_run_all(r, CK_NORMAL);
	failed = srunner_ntests_failed(r);
	srunner_free(r);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
