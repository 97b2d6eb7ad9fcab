/* test_agent.c - agent/agent.c's pure pieces: the events URL from
 * --controller-url and --interval durations. */
#include <check.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "agent.h"

START_TEST(events_url)
{
	static const struct {
		const char *in;
		int r;
		const char *out;
	} cases[] = {
		{ "https://profileguard-telemetry.profileguard.svc:9443", 0,
		  "https://profileguard-telemetry.profileguard.svc:9443/telemetry/v1/events" },
		{ "https://ctl:9443/", 0, "https://ctl:9443/telemetry/v1/events" },
		{ "https://ctl:9443/telemetry/v1/events", 0, "https://ctl:9443/telemetry/v1/events" },
		{ "https://[fd00::1]:9443/custom/path", 0, "https://[fd00::1]:9443/custom/path" },
		{ "http://ctl:9443", -EINVAL, NULL },
		{ "ctl:9443", -EINVAL, NULL },
		{ "https://", -EINVAL, NULL },
		{ "https:///path", -EINVAL, NULL },
		{ "https://ctl:9443/a b", -EINVAL, NULL },
		{ "https://ctl\r\nX-Evil: 1", -EINVAL, NULL },
		{ "", -EINVAL, NULL },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char out[256];
		int r = agent_events_url(cases[i].in, out, sizeof(out));

		ck_assert_msg(r == cases[i].r, "%s: %d", cases[i].in, r);
		if (r == 0)
			ck_assert_str_eq(out, cases[i].out);
	}
	{
		char small[16];

		ck_assert_int_eq(agent_events_url("https://ctl:9443", small, sizeof(small)), -ENAMETOOLONG);
	}
}
END_TEST

START_TEST(intervals)
{
	static const struct {
		const char *in;
		int r;
		unsigned ms;
	} cases[] = {
		{ "1s", 0, 1000 }, { "1", 0, 1000 }, { "500ms", 0, 500 }, { "2m", 0, 120000 },
		{ "1.5s", 0, 1500 }, { "0.25", 0, 250 }, { "10ms", 0, 10 }, { "1h", -EINVAL, 0 },
		{ "60m", 0, 3600000 }, { "61m", -EINVAL, 0 }, { "5ms", -EINVAL, 0 }, { "0", -EINVAL, 0 },
		{ "-1s", -EINVAL, 0 }, { "s", -EINVAL, 0 }, { "", -EINVAL, 0 }, { "1 s", -EINVAL, 0 },
		{ "nan", -EINVAL, 0 }, { "inf", -EINVAL, 0 }, { "1e3ms", 0, 1000 }, { "1sec", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned ms = 0;
		int r = agent_parse_interval(cases[i].in, &ms);

		ck_assert_msg(r == cases[i].r, "\"%s\": %d", cases[i].in, r);
		if (r == 0)
			ck_assert_msg(ms == cases[i].ms, "\"%s\": %u", cases[i].in, ms);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("agent");
	TCase *tc = tcase_create("main");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, events_url);
	tcase_add_test(tc, intervals);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
