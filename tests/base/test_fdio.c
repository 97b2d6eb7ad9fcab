/* test_fdio.c - base/fdio.c: a descriptor read whole, across short reads
 * (a pipe fed in pieces), to its end, and its errors. */
#include <check.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fdio.h"

struct feeder {
	int fd;
	const char *text;
};

/* Writes its text a byte at a time, so each read() gets what is there. */
static void *feed(void *arg)
{
	struct feeder *f = arg;

	for (const char *p = f->text; *p; p++) {
		ck_assert_int_eq(write(f->fd, p, 1), 1);
		usleep(200);
	}
	close(f->fd);
	return NULL;
}

START_TEST(test_fdio_short_reads_continued)
{
	int p[2];
	pthread_t t;
	char buf[64];
	struct feeder f;

	ck_assert_int_eq(pipe2(p, O_CLOEXEC), 0);
	f.fd = p[1];
	f.text = "abcdefghij";
	ck_assert_int_eq(pthread_create(&t, NULL, feed, &f), 0);
	/* as much as asked for, though it came one byte at a time */
	ck_assert_int_eq(fdio_read_full(p[0], buf, 4), 4);
	ck_assert(memcmp(buf, "abcd", 4) == 0);
	/* fewer only at the end */
	ck_assert_int_eq(fdio_read_full(p[0], buf, sizeof(buf)), 6);
	ck_assert(memcmp(buf, "efghij", 6) == 0);
	ck_assert_int_eq(fdio_read_full(p[0], buf, sizeof(buf)), 0);
	pthread_join(t, NULL);
	close(p[0]);
}
END_TEST

START_TEST(test_fdio_errors)
{
	char buf[4];
	int p[2];

	ck_assert_int_eq(fdio_read_full(-1, buf, sizeof(buf)), -EBADF);
	/* a non-blocking pipe with nothing in it: -EAGAIN, never a wait */
	ck_assert_int_eq(pipe2(p, O_CLOEXEC | O_NONBLOCK), 0);
	ck_assert_int_eq(fdio_read_full(p[0], buf, sizeof(buf)), -EAGAIN);
	ck_assert_int_eq(fdio_read_full(p[0], buf, 0), 0);
	close(p[0]);
	close(p[1]);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("fdio");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_fdio_short_reads_continued);
	tcase_add_test(tc, test_fdio_errors);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
