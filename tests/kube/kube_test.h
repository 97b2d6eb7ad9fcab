/* kube_test.h - helpers shared by the Kubernetes client's Check suites:
 * scratch directories and files. */
#ifndef PG_KUBE_TEST_H
#define PG_KUBE_TEST_H

#include <check.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* A fresh directory under $TMPDIR; the caller removes it with kt_rmrf(). */
static inline char *kt_tmpdir(void)
{
	const char *base = getenv("TMPDIR");
	char tmpl[4096];
	char *d;

	snprintf(tmpl, sizeof(tmpl), "%s/pgkube-XXXXXX", base && *base ? base : "/tmp");
	d = mkdtemp(tmpl);
	ck_assert_ptr_nonnull(d);
	return strdup(d);
}

static inline void kt_write(const char *dir, const char *name, const char *text)
{
	char path[16384];
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "w");
	ck_assert_msg(f != NULL, "cannot write %s", path);
	fputs(text, f);
	fclose(f);
}

static inline void kt_rmrf(char *dir)
{
	char cmd[4200];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
	ck_assert_int_eq(system(cmd), 0);
	free(dir);
}

#endif
