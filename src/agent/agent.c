/* agent.c - the agent's loop: sample, queue what changed, wake the
 * sender, sleep out the interval in sigtimedwait() so a stop signal ends
 * the wait at once.  This is where the agent logs. */
#include "agent.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "metrics.h"
#include "pglog.h"
#include "ticker.h"
#include "xalloc.h"

struct agent {
	struct agent_config cfg;
	struct scan *scan;
	struct sender *sender;
	FILE *out;                      /* --once */
	atomic_bool ready;
	int last_err;                   /* the sample error last logged */
	bool slow_logged;
	size_t untracked;

	struct metric *m_samples, *m_failed, *m_exec, *m_connect, *m_token, *m_untracked;
	struct metric *m_duration, *m_pod_procs, *m_containers;
};

int agent_events_url(const char *url, char *out, size_t n)
{
	static const char scheme[] = "https://";
	const char *host, *slash;
	int len;

	if (!url || strncmp(url, scheme, sizeof(scheme) - 1) != 0)
		return -EINVAL;
	host = url + sizeof(scheme) - 1;
	if (!*host || *host == '/' || strpbrk(url, " \t\r\n"))
		return -EINVAL;
	slash = strchr(host, '/');
	if (!slash)
		len = snprintf(out, n, "%s%s", url, AGENT_EVENTS_PATH);
	else if (strcmp(slash, "/") == 0)
		len = snprintf(out, n, "%.*s%s", (int)(slash - url), url, AGENT_EVENTS_PATH);
	else
		len = snprintf(out, n, "%s", url);
	if (len < 0 || (size_t)len >= n)
		return -ENAMETOOLONG;
	return 0;
}

int agent_parse_interval(const char *s, unsigned *ret_ms)
{
	double v, mult;
	char *end;

	if (!s || !*s || !((*s >= '0' && *s <= '9') || *s == '.'))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s)
		return -EINVAL;
	if (!*end || !strcmp(end, "s"))
		mult = 1000;
	else if (!strcmp(end, "ms"))
		mult = 1;
	else if (!strcmp(end, "m"))
		mult = 60000;
	else
		return -EINVAL;
	v *= mult;
	if (!(v >= 10 && v <= 3600 * 1000))
		return -EINVAL;
	*ret_ms = (unsigned)(v + 0.5);
	return 0;
}

static void on_warn(void *ud, const char *what, const char *pod_uid, const char *volume,
		    const char *detail)
{
	pglog(PGLOG_WARN, what, "pod_uid", pod_uid, "volume", volume, "detail", detail, NULL);
}

static void setup_metrics(struct agent *a)
{
	static const char *const kind[] = { "kind", NULL };
	static const double buckets[] = { 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5 };
	struct metrics *m = a->cfg.metrics;
	struct metric_vec *events, *samples;

	if (!m)
		return;
	samples = metrics_counter(m, "profileguard_agent_samples_total",
				  "Samples of /proc, by result.", (const char *const[]){ "result", NULL });
	a->m_samples = metric_vec_get1(samples, "success");
	a->m_failed = metric_vec_get1(samples, "failure");
	events = metrics_counter(m, "profileguard_agent_events_total",
				 "Events found (new since the previous sample), by kind.", kind);
	a->m_exec = metric_vec_get1(events, "exec");
	a->m_connect = metric_vec_get1(events, "connect");
	a->m_token = metric_vec_get1(events, "token");
	a->m_untracked = metric_vec_get(metrics_counter(m, "profileguard_agent_untracked_total",
		"Executables or destinations of a container past the agent's per-container bound, not reported.",
		NULL), NULL);
	a->m_duration = metric_vec_get(metrics_histogram(m, "profileguard_agent_sample_duration_seconds",
		"Wall time of one sample.", NULL, buckets, sizeof(buckets) / sizeof(buckets[0])), NULL);
	a->m_pod_procs = metric_vec_get(metrics_gauge(m, "profileguard_agent_pod_processes",
		"Processes in pod containers in the last sample.", NULL), NULL);
	a->m_containers = metric_vec_get(metrics_gauge(m, "profileguard_agent_containers",
		"Containers with a process in the last sample.", NULL), NULL);
}

int agent_new(const struct agent_config *cfg, struct agent **ret)
{
	struct agent *a = pg_calloc(1, sizeof(*a));
	int r;

	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.interval_ms)
		a->cfg.interval_ms = AGENT_DEFAULT_INTERVAL_MS;
	if (!a->cfg.flush_ms)
		a->cfg.flush_ms = AGENT_DEFAULT_FLUSH_MS;
	a->cfg.scan.warn = on_warn;
	a->cfg.scan.warn_ud = a;
	a->cfg.send.metrics = cfg->metrics;
	atomic_init(&a->ready, false);
	r = scan_new(&a->cfg.scan, &a->scan);
	if (r < 0) {
		pg_free(a);
		return r;
	}
	setup_metrics(a);
	*ret = a;
	return 0;
}

static int emit_print(void *ud, const char *line, size_t len)
{
	struct agent *a = ud;

	if (fwrite(line, 1, len, a->out) != len || fputc('\n', a->out) == EOF)
		return -EIO;
	return 0;
}

static int emit_queue(void *ud, const char *line, size_t len)
{
	struct agent *a = ud;

	return sender_push(a->sender, line, len);
}

/* One sample with its logs and metrics. */
static int sample(struct agent *a, scan_emit_fn emit)
{
	struct scan_stats st;
	struct timespec wall;
	int64_t t0 = ticker_now_ns();
	double dt;
	int r;

	ticker_wall(&wall);
	r = scan_sample(a->scan, &wall, emit, a, &st);
	dt = (double)(ticker_now_ns() - t0) / 1e9;
	if (r < 0) {
		metric_inc(a->m_failed);
		if (r != a->last_err)
			pglog(PGLOG_ERROR, "sample failed", "proc_root", a->cfg.scan.proc_root, "error",
			      strerror(-r), NULL);
		a->last_err = r;
		return r;
	}
	if (a->last_err)
		pglog(PGLOG_INFO, "sampling again", "proc_root", a->cfg.scan.proc_root, NULL);
	a->last_err = 0;
	metric_inc(a->m_samples);
	metric_observe(a->m_duration, dt);
	metric_add(a->m_exec, st.execs);
	metric_add(a->m_connect, st.connects);
	metric_add(a->m_token, st.tokens);
	metric_add(a->m_untracked, st.untracked);
	metric_set(a->m_pod_procs, (double)st.pod_processes);
	metric_set(a->m_containers, (double)st.containers);
	if (st.untracked && !a->untracked)
		pglog(PGLOG_WARN, "a container has more executables or destinations than the agent "
		      "tracks: new ones are counted, not reported", NULL);
	a->untracked += st.untracked;
	if (pglog_enabled(PGLOG_DEBUG)) {
		char f[8][24];

		snprintf(f[0], sizeof(f[0]), "%zu", st.processes);
		snprintf(f[1], sizeof(f[1]), "%zu", st.pod_processes);
		snprintf(f[2], sizeof(f[2]), "%zu", st.containers);
		snprintf(f[3], sizeof(f[3]), "%zu", st.netns);
		snprintf(f[4], sizeof(f[4]), "%zu", st.execs);
		snprintf(f[5], sizeof(f[5]), "%zu", st.connects);
		snprintf(f[6], sizeof(f[6]), "%zu", st.tokens);
		snprintf(f[7], sizeof(f[7]), "%.6f", dt);
		pglog(PGLOG_DEBUG, "sample", "processes", f[0], "pod_processes", f[1], "containers", f[2],
		      "netns", f[3], "exec", f[4], "connect", f[5], "token", f[6], "seconds", f[7], NULL);
	}
	if (dt * 1000 > a->cfg.interval_ms && !a->slow_logged) {
		char s[24];

		snprintf(s, sizeof(s), "%.3f", dt);
		pglog(PGLOG_WARN, "a sample took longer than the interval", "seconds", s, NULL);
		a->slow_logged = true;
	}
	atomic_store(&a->ready, true);
	return 0;
}

int agent_once(struct agent *a, FILE *out)
{
	int r;

	a->out = out;
	r = sample(a, emit_print);
	if (fflush(out) != 0 && r == 0)
		r = -EIO;
	return r;
}

int agent_run(struct agent *a, const sigset_t *stop)
{
	char err[256];
	int r, sig = 0;

	/* before any thread of ours uses curl */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		pglog(PGLOG_ERROR, "curl_global_init failed", NULL);
		return -ENOMEM;
	}
	r = sender_new(&a->cfg.send, &a->sender, err, sizeof(err));
	if (r < 0) {
		pglog(PGLOG_ERROR, "sender did not start", "error", err, NULL);
		curl_global_cleanup();
		return r;
	}
	while (sig <= 0) {
		int64_t t0 = ticker_now_ns();
		double left;
		struct timespec ts;

		sample(a, emit_queue);
		sender_kick(a->sender);
		for (;;) {
			left = (double)a->cfg.interval_ms / 1000 - (double)(ticker_now_ns() - t0) / 1e9;
			if (left <= 0) {
				sig = 0;
				break;
			}
			ts.tv_sec = (time_t)left;
			ts.tv_nsec = (long)((left - (double)ts.tv_sec) * 1e9);
			sig = sigtimedwait(stop, NULL, &ts);
			if (sig > 0 || errno != EINTR)
				break;
		}
	}
	a->sender = sender_stop(a->sender, a->cfg.flush_ms);
	curl_global_cleanup();
	return sig;
}

bool agent_ready(void *ud)
{
	struct agent *a = ud;

	return atomic_load(&a->ready);
}

struct agent *agent_free(struct agent *a)
{
	if (!a)
		return NULL;
	a->sender = sender_stop(a->sender, 0);
	a->scan = scan_free(a->scan);
	pg_free(a);
	return NULL;
}
