/* test_actions.c - the actions' queue at its real bounds, with the
 * worker not started (so nothing is taken and no API server is needed):
 * a pod's flood of findings folds into one report; a namespace at its
 * bound refuses its own overflow, naming the bound, while other namespaces
 * and an Enforce action still get in; the total bound gives room to a
 * smaller namespace and to an action. */
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "actions.h"
#include "kube_client.h"
#include "kubeconfig.h"
#include "metrics.h"
#include "pglog.h"
#include "xalloc.h"

static struct kubeconfig cfg;
static struct kube_client *client;
static FILE *log_file;

static void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	/* Never reached: the worker is not started. */
	cfg.server = pg_strdup("https://127.0.0.1:1");
	cfg.namespace = pg_strdup("default");
	ck_assert_int_eq(kube_client_new(&cfg, NULL, &client), 0);
	log_file = tmpfile();
	ck_assert_ptr_nonnull(log_file);
	pglog_setup(PGLOG_JSON, PGLOG_DEBUG, log_file);
}

static void teardown(void)
{
	pglog_setup(PGLOG_JSON, PGLOG_INFO, stderr);
	fclose(log_file);
	client = kube_client_free(client);
	pg_free(cfg.server);
	pg_free(cfg.namespace);
}

static struct actions *new_actions(void)
{
	struct actions_config ac = { .client = client, .identity = "test" };
	struct actions *a = NULL;

	ck_assert_int_eq(actions_new(&ac, &a), 0);
	return a;
}

/* One finding of @reason on pod @pod (its UID derived from the name). */
static int submit(struct actions *a, const char *ns, const char *pod, enum pg_mode mode,
		  enum reason reason, const char *evidence)
{
	const char *ev[1] = { evidence };
	struct drift_group g = { reason, ev, 1 };
	char uid[300];
	struct drift_report r = {
		.namespace = ns, .pod = pod, .uid = uid, .profile = "p", .profile_uid = "p-uid",
		.mode = mode, .action = ACTION_DELETE, .grace_period = -1, .evidence = EV_NODE,
		.groups = &g, .ngroups = 1,
	};

	snprintf(uid, sizeof(uid), "uid-%s-%s", ns, pod);
	return actions_submit(a, &r);
}

static char *log_text(void)
{
	long n;
	char *s;

	fflush(log_file);
	n = ftell(log_file);
	s = pg_calloc(1, (size_t)n + 1);
	rewind(log_file);
	ck_assert_uint_eq(fread(s, 1, (size_t)n, log_file), (size_t)n);
	return s;
}

/* 21,000 distinct exec paths from one pod: one waiting report (before:
 * 20,000 queued reports and 1,000 refused). */
START_TEST(flood_of_one_pod_folds)
{
	struct actions *a = new_actions();
	char exe[64];

	for (int i = 0; i < 21000; i++) {
		snprintf(exe, sizeof(exe), "exec \"/tmp/x%05d\" not allowed", i);
		ck_assert_int_eq(submit(a, "tenant", "noisy", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE,
					exe), 0);
	}
	ck_assert_uint_eq(actions_pending(a), 1);
	/* Another reason of the same pod folds into the same report; an
	 * Enforce report of the pod is another class, so another report. */
	ck_assert_int_eq(submit(a, "tenant", "noisy", MODE_AUDIT, R_UNEXPECTED_EGRESS, "egress"), 0);
	ck_assert_uint_eq(actions_pending(a), 1);
	ck_assert_int_eq(submit(a, "tenant", "noisy", MODE_ENFORCE, R_UNEXPECTED_EGRESS, "egress"), 0);
	ck_assert_uint_eq(actions_pending(a), 2);
	actions_free(a);
}
END_TEST

/* A namespace at ACTIONS_NS_MAX_PENDING: its next record is refused (and
 * the log names the bound); others still get in, an Enforce action of
 * another namespace, and one of its own (in place of its oldest record). */
START_TEST(namespace_bound)
{
	struct actions *a = new_actions();
	char pod[32], *text;

	for (int i = 0; i < ACTIONS_NS_MAX_PENDING; i++) {
		snprintf(pod, sizeof(pod), "pod-%04d", i);
		ck_assert_int_eq(submit(a, "tenant", pod, MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	}
	ck_assert_uint_eq(actions_pending(a), ACTIONS_NS_MAX_PENDING);
	ck_assert_int_eq(submit(a, "tenant", "one-more", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"),
			 -ENOBUFS);
	/* A repeat of a waiting pod still folds. */
	ck_assert_int_eq(submit(a, "tenant", "pod-0007", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "y"),
			 0);
	ck_assert_int_eq(submit(a, "other", "quiet", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_int_eq(submit(a, "bank", "teller", MODE_ENFORCE, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_uint_eq(actions_pending(a), ACTIONS_NS_MAX_PENDING + 2);
	ck_assert_int_eq(submit(a, "tenant", "bad", MODE_ENFORCE, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_uint_eq(actions_pending(a), ACTIONS_NS_MAX_PENDING + 2);
	text = log_text();
	ck_assert_ptr_nonnull(strstr(text, "\"msg\":\"drift report refused: the action queue is at "
				     "a bound\""));
	ck_assert_ptr_nonnull(strstr(text, "\"bound\":\"per-namespace entries\""));
	ck_assert_ptr_nonnull(strstr(text, "\"limit\":\"1000\""));
	ck_assert_ptr_nonnull(strstr(text, "\"namespace\":\"tenant\""));
	pg_free(text);
	actions_free(a);
}
END_TEST

/* ACTIONS_MAX_PENDING in all (25 namespaces of 800): a namespace holding
 * less than the biggest takes the place of its oldest record; one of the
 * biggest is refused, naming the bound. */
START_TEST(total_bound)
{
	struct actions *a = new_actions();
	int per = 800, full = ACTIONS_MAX_PENDING / per;
	char ns[32], pod[32], *text;

	for (int n = 0; n < full; n++) {
		snprintf(ns, sizeof(ns), "ns-%02d", n);
		for (int i = 0; i < per - (n == 0); i++) {
			snprintf(pod, sizeof(pod), "pod-%04d", i);
			ck_assert_int_eq(submit(a, ns, pod, MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"),
					 0);
		}
	}
	/* One short of the total, then at it. */
	ck_assert_uint_eq(actions_pending(a), ACTIONS_MAX_PENDING - 1);
	ck_assert_int_eq(submit(a, "small", "a", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_uint_eq(actions_pending(a), ACTIONS_MAX_PENDING);
	/* Just past it: ns-01 holds as much as the biggest: refused. */
	ck_assert_int_eq(submit(a, "ns-01", "last", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"),
			 -ENOBUFS);
	/* small (1) is given room, and so is an Enforce action. */
	ck_assert_int_eq(submit(a, "small", "b", MODE_AUDIT, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_int_eq(submit(a, "bank", "teller", MODE_ENFORCE, R_UNEXPECTED_EXECUTABLE, "x"), 0);
	ck_assert_uint_eq(actions_pending(a), ACTIONS_MAX_PENDING);
	text = log_text();
	ck_assert_ptr_nonnull(strstr(text, "\"bound\":\"total entries\""));
	ck_assert_ptr_nonnull(strstr(text, "\"limit\":\"20000\""));
	pg_free(text);
	actions_free(a);
}
END_TEST

/* Each allocation actions_new() makes fails in turn: a clean -ENOMEM
 * every time, and the half-built worker freed (actions_stop() on it was a
 * NULL dereference).  With metrics, whose registration allocates too. */
START_TEST(new_under_allocation_failure)
{
	struct metrics *m = metrics_new();
	struct actions_config ac = { .client = client, .identity = "test", .metrics = m,
				     .max_per_minute = 10 };
	long n;

	ck_assert_ptr_nonnull(m);
	for (n = 0; n < 10000; n++) {
		struct actions *a = NULL;
		int r;

		pg_alloc_fail_at(n);
		r = actions_new(&ac, &a);
		pg_alloc_fail_at(-1);
		if (r == 0) {
			actions_stop(a);
			ck_assert_ptr_null(actions_free(a));
			break;
		}
		ck_assert_msg(r == -ENOMEM, "fail at %ld: %d", n, r);
	}
	ck_assert_int_gt(n, 0);
	ck_assert_int_lt(n, 10000);
	actions_stop(NULL);
	ck_assert_ptr_null(actions_free(NULL));
	metrics_free(m);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_actions");
	TCase *tc = tcase_create("actions");
	SRunner *sr;
	int failed;

	tcase_add_checked_fixture(tc, setup, teardown);
	tcase_set_timeout(tc, 60);
	tcase_add_test(tc, flood_of_one_pod_folds);
	tcase_add_test(tc, namespace_bound);
	tcase_add_test(tc, total_bound);
	tcase_add_test(tc, new_under_allocation_failure);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
