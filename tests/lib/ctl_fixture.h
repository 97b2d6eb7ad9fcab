/* ctl_fixture.h - the fixture of the controller's allocation-failure
 * suites (tests/controller/): a client aimed at an address never reached,
 * the log in a temporary file, a controller configuration around them,
 * and a controller made from it.  Nothing is started, so no API server is
 * needed. */
#ifndef PG_TEST_CTL_FIXTURE_H
#define PG_TEST_CTL_FIXTURE_H

#include <check.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "controller.h"
#include "kube_client.h"
#include "kubeconfig.h"
#include "metrics.h"
#include "pglog.h"
#include "xalloc.h"

#define TRIES 100000

static struct kubeconfig cfg;
static struct kube_client *client;
static FILE *log_file;

static inline void setup(void)
{
	memset(&cfg, 0, sizeof(cfg));
	cfg.server = pg_strdup("https://127.0.0.1:1");  /* never reached */
	cfg.namespace = pg_strdup("default");
	ck_assert_int_eq(kube_client_new(&cfg, NULL, &client), 0);
	log_file = tmpfile();
	ck_assert_ptr_nonnull(log_file);
	pglog_setup(PGLOG_JSON, PGLOG_INFO, log_file);
}

static inline void teardown(void)
{
	pglog_setup(PGLOG_JSON, PGLOG_INFO, stderr);
	fclose(log_file);
	client = kube_client_free(client);
	pg_free(cfg.server);
	pg_free(cfg.namespace);
}

static const char *const ignored[] = { "kube-system", "kube-public" };

static inline void controller_config(struct controller_config *cc, struct metrics *m, bool elect)
{
	*cc = (struct controller_config){
		.client = client, .metrics = m, .namespace = "profileguard",
		.ignored_ns = ignored, .nignored = 2, .identity = "pod-0", .leader_elect = elect,
	};
}

/* For the suites of the controller's loops: a controller (leader
 * election on, never started, so never leading) and its metrics. */
static struct controller *ctl;
static struct metrics *met;

static inline void setup_controller(void)
{
	struct controller_config cc;

	setup();
	met = metrics_new();
	ck_assert_ptr_nonnull(met);
	controller_config(&cc, met, true);
	ck_assert_int_eq(controller_new(&cc, &ctl), 0);
}

static inline void teardown_controller(void)
{
	ctl = controller_free(ctl);
	metrics_free(met);
	met = NULL;
	teardown();
}

#endif
