/* replay.c - runs a fuzz target over every file of its corpus directories,
 * so the corpora are ordinary regression tests in `meson test` (the same
 * target links against libFuzzer when built with -Dfuzz=true).
 *
 * With --torture N it is also the allocation-failure test of every parser,
 * in the manner of curl's torture tests: for up to N inputs of each corpus
 * (spread evenly over the sorted names), it counts the allocations one run
 * makes, then reruns the input once per allocation with that allocation
 * and every later one refused.  A crash, a sanitizer report or (under ASan)
 * a leak fails the test; the targets' oracles hold only for runs in which
 * nothing was refused (pg_alloc_refused()). */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "xalloc.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Inputs whose runs make more allocations than this are tortured at a
 * stride, so one huge seed cannot dominate the test's time. */
#define TORTURE_MAX_STEPS 400

struct stats {
	size_t files, tortured, runs;
};

static int read_file(const char *path, uint8_t **ret_data, size_t *ret_size)
{
	FILE *f = fopen(path, "rb");
	uint8_t *data;
	long n;

	if (!f) {
		perror(path);
		return -1;
	}
	fseek(f, 0, SEEK_END);
	n = ftell(f);
	fseek(f, 0, SEEK_SET);
	data = malloc(n > 0 ? (size_t)n : 1);
	if (!data || (n > 0 && fread(data, 1, (size_t)n, f) != (size_t)n)) {
		fclose(f);
		free(data);
		fprintf(stderr, "%s: read failed\n", path);
		return -1;
	}
	fclose(f);
	*ret_data = data;
	*ret_size = n > 0 ? (size_t)n : 0;
	return 0;
}

static int run_file(const char *path, bool torture, struct stats *st)
{
	uint8_t *data;
	size_t size;
	long total, step;

	if (read_file(path, &data, &size) < 0)
		return -1;
	pg_alloc_fail_at(-1);
	LLVMFuzzerTestOneInput(data, size);
	total = pg_alloc_count();
	st->files++;
	st->runs++;
	if (torture) {
		step = total > TORTURE_MAX_STEPS ? total / TORTURE_MAX_STEPS : 1;
		for (long i = 0; i < total; i += step) {
			pg_alloc_fail_at(i);
			LLVMFuzzerTestOneInput(data, size);
			st->runs++;
		}
		pg_alloc_fail_at(-1);
		st->tortured++;
	}
	free(data);
	return 0;
}

static int cmp_names(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* Every regular file of @dir, sorted, so a torture sample is the same on
 * every machine. */
static int list_dir(const char *dir, char ***ret_names, size_t *ret_n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	char **names = NULL;
	size_t n = 0, cap = 0;

	if (!d) {
		perror(dir);
		return -1;
	}
	while ((de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (n == cap) {
			char **v = realloc(names, (cap = cap ? cap * 2 : 64) * sizeof(*v));

			if (!v)
				goto fail;
			names = v;
		}
		if (!(names[n] = strdup(de->d_name)))
			goto fail;
		n++;
	}
	closedir(d);
	if (n)
		qsort(names, n, sizeof(*names), cmp_names);
	*ret_names = names;
	*ret_n = n;
	return 0;
fail:
	closedir(d);
	for (size_t i = 0; i < n; i++)
		free(names[i]);
	free(names);
	fprintf(stderr, "%s: out of memory\n", dir);
	return -1;
}

static int run_dir(const char *dir, size_t torture, struct stats *st)
{
	char **names;
	size_t n, every;
	int rc = 0;

	if (list_dir(dir, &names, &n) < 0)
		return -1;
	every = torture && n > torture ? (n + torture - 1) / torture : 1;
	for (size_t i = 0; i < n; i++) {
		char path[4096];

		snprintf(path, sizeof(path), "%s/%s", dir, names[i]);
		if (rc == 0 && run_file(path, torture && i % every == 0, st) < 0)
			rc = -1;
		free(names[i]);
	}
	free(names);
	return rc;
}

int main(int argc, char **argv)
{
	struct stats st = { 0 };
	size_t torture = 0;
	int first = 1;

	/* As in the binary: jansson allocates through pg_malloc, so the torture
	 * reaches the JSON trees too. */
	pg_alloc_setup_jansson();
	if (argc > 2 && strcmp(argv[1], "--torture") == 0) {
		torture = strtoul(argv[2], NULL, 10);
		first = 3;
	}
	for (int i = first; i < argc; i++) {
		struct stat sb;

		if (stat(argv[i], &sb) < 0) {
			perror(argv[i]);
			return 1;
		}
		if (S_ISDIR(sb.st_mode) ? run_dir(argv[i], torture, &st) < 0
					: run_file(argv[i], torture > 0, &st) < 0)
			return 1;
	}
	if (torture)
		printf("replayed %zu inputs; %zu tortured in %zu runs\n", st.files, st.tortured, st.runs);
	else
		printf("replayed %zu inputs\n", st.files);
	return st.files ? 0 : 1;
}
