/* test_recorder.c - Event names (the series folding key) and the
 * series cache. */
#include <check.h>
#include <ctype.h>
#include <errno.h>
#include <string.h>

#include "buf.h"
#include "recorder.h"

static void assert_dns_subdomain(const char *s)
{
	size_t n = strlen(s);

	ck_assert_uint_gt(n, 0);
	ck_assert_uint_le(n, 253);
	ck_assert(isalnum((unsigned char)s[0]));
	ck_assert(isalnum((unsigned char)s[n - 1]));
	for (size_t i = 0; i < n; i++)
		ck_assert_msg(islower((unsigned char)s[i]) || isdigit((unsigned char)s[i]) ||
			      s[i] == '-' || s[i] == '.', "bad character in %s", s);
	ck_assert_ptr_null(strstr(s, ".."));
	ck_assert_ptr_null(strstr(s, "-."));
}

START_TEST(names_fold_on_pod_reason_profile)
{
	char a[RECORDER_NAME_MAX], b[RECORDER_NAME_MAX];

	recorder_event_name(a, "api-7d9f-x2", "uid-1", "AdmissionDrift", NULL, "wp-uid-1");
	recorder_event_name(b, "api-7d9f-x2", "uid-1", "AdmissionDrift", NULL, "wp-uid-1");
	ck_assert_str_eq(a, b);
	ck_assert(strncmp(a, "api-7d9f-x2.", 12) == 0);
	ck_assert_uint_eq(strlen(a), strlen("api-7d9f-x2.") + 16);
	assert_dns_subdomain(a);
	/* Any of the three differs: another Event. */
	recorder_event_name(b, "api-7d9f-x2", "uid-2", "AdmissionDrift", NULL, "wp-uid-1");
	ck_assert_str_ne(a, b);
	recorder_event_name(b, "api-7d9f-x2", "uid-1", "LegacyToken", NULL, "wp-uid-1");
	ck_assert_str_ne(a, b);
	recorder_event_name(b, "api-7d9f-x2", "uid-1", "AdmissionDrift", NULL, "wp-uid-2");
	ck_assert_str_ne(a, b);
	/* What was done is part of it: a Delete after a Record is a new
	 * Event; "Record" names what NULL does (names of earlier releases). */
	recorder_event_name(b, "api-7d9f-x2", "uid-1", "AdmissionDrift", "Record", "wp-uid-1");
	ck_assert_str_eq(a, b);
	recorder_event_name(b, "api-7d9f-x2", "uid-1", "AdmissionDrift", "Delete", "wp-uid-1");
	ck_assert_str_ne(a, b);
	recorder_event_name(a, "api-7d9f-x2", "uid-1", "AdmissionDrift", "Evict", "wp-uid-1");
	ck_assert_str_ne(a, b);
	/* Fields do not run into each other. */
	recorder_event_name(a, "p", "ab", "c", NULL, "x");
	recorder_event_name(b, "p", "a", "bc", NULL, "x");
	ck_assert_str_ne(a, b);
}
END_TEST

START_TEST(names_stay_valid)
{
	char name[RECORDER_NAME_MAX], pod[300];

	memset(pod, 'a', sizeof(pod) - 1);
	pod[sizeof(pod) - 1] = '\0';
	recorder_event_name(name, pod, "u", "r", NULL, "p");
	assert_dns_subdomain(name);
	/* A cut that would end on '-' or '.' backs off to a letter. */
	memset(pod, 'b', sizeof(pod) - 1);
	pod[199] = '-';
	pod[198] = '.';
	pod[200] = '\0';
	recorder_event_name(name, pod, "u", "r", NULL, "p");
	assert_dns_subdomain(name);
	recorder_event_name(name, "", "u", "r", NULL, "p");
	ck_assert(strncmp(name, "profileguard.", 13) == 0);
	recorder_event_name(name, NULL, NULL, NULL, NULL, NULL);
	assert_dns_subdomain(name);
}
END_TEST

START_TEST(note_cut_on_character_boundary)
{
	char s[2100];

	memset(s, 'a', 1000);
	s[1000] = '\0';
	ck_assert_uint_eq(recorder_note_len(s), 1000);
	memset(s, 'a', 2000);
	s[2000] = '\0';
	ck_assert_uint_eq(recorder_note_len(s), 1024);
	/* "é" (2 bytes) straddling byte 1024 is dropped whole. */
	memset(s, 'a', 1023);
	s[1023] = (char)0xc3;
	s[1024] = (char)0xa9;
	s[1025] = '\0';
	ck_assert_uint_eq(recorder_note_len(s), 1023);
}
END_TEST

START_TEST(series_cache)
{
	struct recorder *rc = recorder_new(3, 1000);

	ck_assert_int_eq(recorder_count(rc, "e1", 0), 0);
	ck_assert_int_eq(recorder_store(rc, "e1", 1, 0), 0);
	ck_assert_int_eq(recorder_count(rc, "e1", 10), 1);
	ck_assert_int_eq(recorder_store(rc, "e1", 2, 20), 0);
	ck_assert_int_eq(recorder_count(rc, "e1", 30), 2);
	recorder_store(rc, "e2", 1, 40);
	recorder_store(rc, "e3", 1, 50);
	/* Full, nothing expired. */
	ck_assert_int_eq(recorder_store(rc, "e4", 1, 60), -ENOMEM);
	/* The API server drops Events after an hour; so does the cache. */
	ck_assert_int_eq(recorder_count(rc, "e1", 1021), 0);
	ck_assert_uint_eq(recorder_size(rc), 2);
	ck_assert_int_eq(recorder_store(rc, "e4", 1, 2000), 0);
	ck_assert_uint_eq(recorder_size(rc), 3);
	/* Full again: the expired ones make room. */
	ck_assert_int_eq(recorder_store(rc, "e5", 7, 2000), 0);
	ck_assert_uint_eq(recorder_size(rc), 2);
	ck_assert_int_eq(recorder_count(rc, "e5", 2000), 7);
	recorder_forget(rc, "e4");
	ck_assert_int_eq(recorder_count(rc, "e4", 2000), 0);
	recorder_clear(rc);
	ck_assert_uint_eq(recorder_size(rc), 0);
	recorder_free(rc);
}
END_TEST


/* When an Event was last written: what a record waits on to fold. */
START_TEST(written_time)
{
	struct recorder *rc = recorder_new(3, 1000);

	ck_assert_int_eq(recorder_written_ms(rc, "e1", 0), -1);
	recorder_store(rc, "e1", 1, 100);
	ck_assert_int_eq(recorder_written_ms(rc, "e1", 200), 100);
	recorder_store(rc, "e1", 5, 300);
	ck_assert_int_eq(recorder_written_ms(rc, "e1", 400), 300);
	/* Expired: not known. */
	ck_assert_int_eq(recorder_written_ms(rc, "e1", 1301), -1);
	recorder_free(rc);
}
END_TEST

/* A folded note: the count, then a few earlier findings named, then the
 * latest; one finding: its evidence alone.  What does not fit is left out
 * whole, the count never. */
START_TEST(fold_note)
{
	const char *samples[] = { "exec /a", "exec /b", "exec /c" };
	struct buf b = BUF_INIT(4096);
	char big[1100];

	ck_assert_int_eq(recorder_fold_note(&b, 1, "exec /z", samples, 3), 0);
	ck_assert_str_eq(buf_str(&b), "exec /z");
	buf_reset(&b);
	ck_assert_int_eq(recorder_fold_note(&b, 21000, "exec /z", samples, 3), 0);
	ck_assert_str_eq(buf_str(&b), "21000 findings of this reason since the last Event; "
				      "earlier ones, e.g.: exec /a; exec /b; exec /c; latest: exec /z");
	buf_reset(&b);
	ck_assert_int_eq(recorder_fold_note(&b, 2, "exec /z", samples, 0), 0);
	ck_assert_str_eq(buf_str(&b), "2 findings of this reason since the last Event; "
				      "latest: exec /z");
	buf_free(&b);
	/* A buffer with room for the head and one sample. */
	buf_init(&b, 80);
	ck_assert_int_lt(recorder_fold_note(&b, 9, "exec /z", samples, 3), 0);
	ck_assert_str_eq(buf_str(&b), "9 findings of this reason since the last Event; "
				      "earlier ones, e.g.: exec /a");
	buf_free(&b);
	/* A long latest evidence: the API's cut keeps the count and the
	 * names. */
	memset(big, 'x', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	buf_init(&b, 4096);
	ck_assert_int_eq(recorder_fold_note(&b, 7, big, samples, 3), 0);
	ck_assert_uint_gt(b.len, 1024);
	ck_assert_uint_eq(recorder_note_len(buf_str(&b)), 1024);
	ck_assert_ptr_nonnull(strstr(buf_str(&b), "exec /c; latest: xxx"));
	ck_assert_int_eq(strncmp(buf_str(&b), "7 findings", 10), 0);
	buf_free(&b);
}
END_TEST

int main(void)
{
	Suite *s = suite_create("ctl_recorder");
	TCase *tc = tcase_create("recorder");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, names_fold_on_pod_reason_profile);
	tcase_add_test(tc, names_stay_valid);
	tcase_add_test(tc, note_cut_on_character_boundary);
	tcase_add_test(tc, series_cache);
	tcase_add_test(tc, written_time);
	tcase_add_test(tc, fold_note);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? 1 : 0;
}
