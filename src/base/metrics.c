/* metrics.c - the Prometheus registry of metrics.h.  Series live in their
 * own allocations, so a pointer handed out stays valid while the family's
 * series array grows; values are atomics, so updates never lock. */
#include "metrics.h"

#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "buf.h"
#include "xalloc.h"

enum metric_type { MT_COUNTER, MT_GAUGE, MT_HISTOGRAM };

struct metric {
	struct metric_vec *vec;
	char **values;                  /* vec->nlabels label values */
	_Atomic uint64_t u;             /* counter value, or gauge bits */
	_Atomic uint64_t sum_bits;      /* histogram: the sum, as double bits */
	_Atomic uint64_t *counts;       /* histogram: nbuckets + 1 (the +Inf) */
};

struct metric_vec {
	struct metrics *reg;
	enum metric_type type;
	char *name;
	char *help;
	char **labels;
	size_t nlabels;
	double *buckets;
	size_t nbuckets;
	pthread_mutex_t lock;           /* guards series/nseries */
	struct metric **series;
	size_t nseries;
	size_t cap;
};

struct metrics {
	pthread_mutex_t lock;           /* guards vecs/nvecs */
	struct metric_vec **vecs;
	size_t nvecs;
	bool process;
};

static uint64_t dbl_bits(double d)
{
	uint64_t u;

	memcpy(&u, &d, sizeof(u));
	return u;
}

static double bits_dbl(uint64_t u)
{
	double d;

	memcpy(&d, &u, sizeof(d));
	return d;
}

struct metrics *metrics_new(void)
{
	struct metrics *m = pg_calloc(1, sizeof(*m));

	if (!m)
		return NULL;
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

static void series_free(struct metric *s, size_t nlabels)
{
	if (!s)
		return;
	for (size_t i = 0; s->values && i < nlabels; i++)
		pg_free(s->values[i]);
	pg_free(s->values);
	pg_free(s->counts);
	pg_free(s);
}

static void vec_free(struct metric_vec *v)
{
	if (!v)
		return;
	for (size_t i = 0; i < v->nseries; i++)
		series_free(v->series[i], v->nlabels);
	pg_free(v->series);
	for (size_t i = 0; v->labels && i < v->nlabels; i++)
		pg_free(v->labels[i]);
	pg_free(v->labels);
	pg_free(v->buckets);
	pg_free(v->name);
	pg_free(v->help);
	pthread_mutex_destroy(&v->lock);
	pg_free(v);
}

struct metrics *metrics_free(struct metrics *m)
{
	if (!m)
		return NULL;
	for (size_t i = 0; i < m->nvecs; i++)
		vec_free(m->vecs[i]);
	pg_free(m->vecs);
	pthread_mutex_destroy(&m->lock);
	pg_free(m);
	return NULL;
}

void metrics_enable_process(struct metrics *m)
{
	if (m)
		m->process = true;
}

static struct metric_vec *vec_new(struct metrics *m, enum metric_type type, const char *name,
				  const char *help, const char *const *labels,
				  const double *buckets, size_t nbuckets)
{
	struct metric_vec *v, **vv;
	size_t nlabels = 0;

	if (!m || !name || !*name)
		return NULL;
	while (labels && labels[nlabels])
		nlabels++;
	if (nlabels > METRICS_MAX_LABELS || nbuckets > METRICS_MAX_BUCKETS)
		return NULL;
	for (size_t i = 1; i < nbuckets; i++)
		if (!(buckets[i] > buckets[i - 1]))
			return NULL;
	v = pg_calloc(1, sizeof(*v));
	if (!v)
		return NULL;
	pthread_mutex_init(&v->lock, NULL);
	v->reg = m;
	v->type = type;
	v->name = pg_strdup(name);
	v->help = pg_strdup(help ? help : "");
	v->labels = nlabels ? pg_calloc(nlabels, sizeof(char *)) : NULL;
	v->nlabels = nlabels;
	if (!v->name || !v->help || (nlabels && !v->labels))
		goto fail;
	for (size_t i = 0; i < nlabels; i++)
		if (!(v->labels[i] = pg_strdup(labels[i])))
			goto fail;
	if (nbuckets) {
		v->buckets = pg_malloc(nbuckets * sizeof(double));
		if (!v->buckets)
			goto fail;
		memcpy(v->buckets, buckets, nbuckets * sizeof(double));
		v->nbuckets = nbuckets;
	}

	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nvecs; i++) {
		if (strcmp(m->vecs[i]->name, name) == 0) {
			pthread_mutex_unlock(&m->lock);
			goto fail;
		}
	}
	vv = pg_realloc(m->vecs, (m->nvecs + 1) * sizeof(*vv));
	if (!vv) {
		pthread_mutex_unlock(&m->lock);
		goto fail;
	}
	m->vecs = vv;
	m->vecs[m->nvecs++] = v;
	pthread_mutex_unlock(&m->lock);
	return v;
fail:
	vec_free(v);
	return NULL;
}

struct metric_vec *metrics_counter(struct metrics *m, const char *name, const char *help,
				   const char *const *labels)
{
	return vec_new(m, MT_COUNTER, name, help, labels, NULL, 0);
}

struct metric_vec *metrics_gauge(struct metrics *m, const char *name, const char *help,
				 const char *const *labels)
{
	return vec_new(m, MT_GAUGE, name, help, labels, NULL, 0);
}

struct metric_vec *metrics_histogram(struct metrics *m, const char *name, const char *help,
				     const char *const *labels, const double *buckets,
				     size_t nbuckets)
{
	if (nbuckets && !buckets)
		return NULL;
	return vec_new(m, MT_HISTOGRAM, name, help, labels, buckets, nbuckets);
}

static bool series_matches(const struct metric *s, const char *const *values, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(s->values[i], values[i] ? values[i] : "") != 0)
			return false;
	return true;
}

static struct metric *series_new(struct metric_vec *v, const char *const *values)
{
	struct metric *s = pg_calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->vec = v;
	if (v->nlabels) {
		s->values = pg_calloc(v->nlabels, sizeof(char *));
		if (!s->values)
			goto fail;
		for (size_t i = 0; i < v->nlabels; i++)
			if (!(s->values[i] = pg_strdup(values[i] ? values[i] : "")))
				goto fail;
	}
	if (v->type == MT_HISTOGRAM) {
		s->counts = pg_calloc(v->nbuckets + 1, sizeof(*s->counts));
		if (!s->counts)
			goto fail;
		for (size_t i = 0; i <= v->nbuckets; i++)
			atomic_init(&s->counts[i], 0);
	}
	atomic_init(&s->u, v->type == MT_GAUGE ? dbl_bits(0.0) : 0);
	atomic_init(&s->sum_bits, dbl_bits(0.0));
	return s;
fail:
	series_free(s, v->nlabels);
	return NULL;
}

struct metric *metric_vec_get(struct metric_vec *v, const char *const *values)
{
	struct metric *s = NULL;

	if (!v || (v->nlabels && !values))
		return NULL;
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->nseries; i++) {
		if (series_matches(v->series[i], values, v->nlabels)) {
			s = v->series[i];
			goto out;
		}
	}
	if (v->nseries >= METRICS_MAX_SERIES)
		goto out;
	if (v->nseries == v->cap) {
		size_t ncap = v->cap ? v->cap * 2 : 4;
		struct metric **ns = pg_realloc(v->series, ncap * sizeof(*ns));

		if (!ns)
			goto out;
		v->series = ns;
		v->cap = ncap;
	}
	s = series_new(v, values);
	if (s)
		v->series[v->nseries++] = s;
out:
	pthread_mutex_unlock(&v->lock);
	return s;
}

struct metric *metric_vec_cached(_Atomic(struct metric *) *slot, struct metric_vec *v,
				 const char *const *values)
{
	struct metric *m = atomic_load_explicit(slot, memory_order_acquire);

	if (!m && v) {
		m = metric_vec_get(v, values);
		atomic_store_explicit(slot, m, memory_order_release);
	}
	return m;
}

struct metric *metric_vec_get1(struct metric_vec *v, const char *value)
{
	const char *vals[1] = { value };

	return metric_vec_get(v, vals);
}

struct metric *metric_vec_get2(struct metric_vec *v, const char *a, const char *b)
{
	const char *vals[2] = { a, b };

	return metric_vec_get(v, vals);
}

void metric_inc(struct metric *s)
{
	if (s)
		atomic_fetch_add_explicit(&s->u, 1, memory_order_relaxed);
}

void metric_add(struct metric *s, uint64_t n)
{
	if (s)
		atomic_fetch_add_explicit(&s->u, n, memory_order_relaxed);
}

void metric_set(struct metric *s, double value)
{
	if (s)
		atomic_store_explicit(&s->u, dbl_bits(value), memory_order_relaxed);
}

static void atomic_add_double(_Atomic uint64_t *p, double delta)
{
	uint64_t old = atomic_load_explicit(p, memory_order_relaxed);

	while (!atomic_compare_exchange_weak_explicit(p, &old, dbl_bits(bits_dbl(old) + delta),
						      memory_order_relaxed, memory_order_relaxed))
		;
}

void metric_gauge_add(struct metric *s, double delta)
{
	if (s)
		atomic_add_double(&s->u, delta);
}

void metric_observe(struct metric *s, double value)
{
	struct metric_vec *v;
	size_t i;

	if (!s || !s->counts)
		return;
	v = s->vec;
	/* Few buckets: a linear scan beats a binary search's branches. */
	for (i = 0; i < v->nbuckets && value > v->buckets[i]; i++)
		;
	atomic_fetch_add_explicit(&s->counts[i], 1, memory_order_relaxed);
	atomic_add_double(&s->sum_bits, value);
}

double metric_value(const struct metric *s)
{
	uint64_t u;

	if (!s)
		return 0;
	u = atomic_load_explicit(&s->u, memory_order_relaxed);
	return s->vec->type == MT_GAUGE ? bits_dbl(u) : (double)u;
}

uint64_t metric_count(const struct metric *s)
{
	uint64_t n = 0;

	if (!s || !s->counts)
		return 0;
	for (size_t i = 0; i <= s->vec->nbuckets; i++)
		n += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
	return n;
}

/* ---- rendering ----------------------------------------------------------- */

/* The shortest text that reads back as the same double. */
static void fmt_double(char *out, size_t n, double d)
{
	if (isnan(d)) {
		snprintf(out, n, "NaN");
		return;
	}
	if (isinf(d)) {
		snprintf(out, n, "%s", d > 0 ? "+Inf" : "-Inf");
		return;
	}
	if (fabs(d) < 9007199254740992.0 && d == (double)(int64_t)d) {
		snprintf(out, n, "%lld", (long long)d);
		return;
	}
	for (int prec = 1; prec <= 17; prec++) {
		snprintf(out, n, "%.*g", prec, d);
		if (strtod(out, NULL) == d)
			return;
	}
}

static int add_escaped(struct buf *b, const char *s, bool quote)
{
	int r = 0;

	for (; *s && r == 0; s++) {
		if (*s == '\\')
			r = buf_adds(b, "\\\\");
		else if (*s == '\n')
			r = buf_adds(b, "\\n");
		else if (quote && *s == '"')
			r = buf_adds(b, "\\\"");
		else
			r = buf_addc(b, *s);
	}
	return r;
}

/* {a="x",b="y"[,le="0.5"]}; nothing when there are no labels at all. */
static int add_labels(struct buf *b, const struct metric *s, const char *le)
{
	const struct metric_vec *v = s->vec;
	int r = 0;

	if (!v->nlabels && !le)
		return 0;
	r = buf_addc(b, '{');
	for (size_t i = 0; i < v->nlabels && r == 0; i++) {
		r = buf_printf(b, "%s%s=\"", i ? "," : "", v->labels[i]);
		if (r == 0)
			r = add_escaped(b, s->values[i], true);
		if (r == 0)
			r = buf_addc(b, '"');
	}
	if (le && r == 0)
		r = buf_printf(b, "%sle=\"%s\"", v->nlabels ? "," : "", le);
	if (r == 0)
		r = buf_addc(b, '}');
	return r;
}

static int render_series(struct buf *b, const struct metric *s)
{
	const struct metric_vec *v = s->vec;
	char num[64];
	uint64_t cum = 0;
	int r;

	if (v->type != MT_HISTOGRAM) {
		uint64_t u = atomic_load_explicit(&s->u, memory_order_relaxed);

		if (v->type == MT_GAUGE)
			fmt_double(num, sizeof(num), bits_dbl(u));
		else
			snprintf(num, sizeof(num), "%llu", (unsigned long long)u);
		r = buf_adds(b, v->name);
		if (r == 0)
			r = add_labels(b, s, NULL);
		return r ? r : buf_printf(b, " %s\n", num);
	}
	/* Cumulative buckets, and a count that agrees with them even while
	 * observations race with this scrape. */
	for (size_t i = 0; i <= v->nbuckets; i++) {
		char le[64];

		cum += atomic_load_explicit(&s->counts[i], memory_order_relaxed);
		if (i < v->nbuckets)
			fmt_double(le, sizeof(le), v->buckets[i]);
		else
			snprintf(le, sizeof(le), "+Inf");
		r = buf_printf(b, "%s_bucket", v->name);
		if (r == 0)
			r = add_labels(b, s, le);
		if (r == 0)
			r = buf_printf(b, " %llu\n", (unsigned long long)cum);
		if (r < 0)
			return r;
	}
	fmt_double(num, sizeof(num),
		   bits_dbl(atomic_load_explicit(&s->sum_bits, memory_order_relaxed)));
	r = buf_printf(b, "%s_sum", v->name);
	if (r == 0)
		r = add_labels(b, s, NULL);
	if (r == 0)
		r = buf_printf(b, " %s\n%s_count", num, v->name);
	if (r == 0)
		r = add_labels(b, s, NULL);
	return r ? r : buf_printf(b, " %llu\n", (unsigned long long)cum);
}

static int render_vec(struct buf *b, struct metric_vec *v)
{
	static const char *const type_names[] = { "counter", "gauge", "histogram" };
	int r;

	r = buf_printf(b, "# HELP %s ", v->name);
	if (r == 0)
		r = add_escaped(b, v->help, false);
	if (r == 0)
		r = buf_printf(b, "\n# TYPE %s %s\n", v->name, type_names[v->type]);
	pthread_mutex_lock(&v->lock);
	for (size_t i = 0; i < v->nseries && r == 0; i++)
		r = render_series(b, v->series[i]);
	pthread_mutex_unlock(&v->lock);
	return r;
}

/* /proc/self/stat fields 14, 15 (utime, stime), 22 (starttime), 23
 * (vsize) and 24 (rss); the command name may hold spaces and parens, so
 * fields are counted from the last ')'. */
static int render_process(struct buf *b)
{
	char stat[1024], line[256], num[64];
	unsigned long long utime = 0, stime = 0, start = 0, vsize = 0, btime = 0;
	long long rss = 0;
	long tick = sysconf(_SC_CLK_TCK), page = sysconf(_SC_PAGESIZE);
	size_t n = 0, fds = 0;
	FILE *f;
	DIR *d;
	char *p;
	int r;

	f = fopen("/proc/self/stat", "re");
	if (!f)
		return 0;
	n = fread(stat, 1, sizeof(stat) - 1, f);
	fclose(f);
	stat[n] = '\0';
	p = strrchr(stat, ')');
	if (!p || sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %*d %*d %*d %*d "
			 "%*d %*d %llu %llu %lld", &utime, &stime, &start, &vsize, &rss) != 5)
		return 0;
	f = fopen("/proc/stat", "re");
	if (f) {
		while (fgets(line, sizeof(line), f))
			if (sscanf(line, "btime %llu", &btime) == 1)
				break;
		fclose(f);
	}
	d = opendir("/proc/self/fd");
	if (d) {
		struct dirent *de;

		while ((de = readdir(d)))
			fds += de->d_name[0] != '.';
		closedir(d);
		fds--;          /* the directory stream's own descriptor */
	}
	if (tick <= 0)
		tick = 100;
	fmt_double(num, sizeof(num), (double)(utime + stime) / (double)tick);
	r = buf_printf(b,
		       "# HELP process_cpu_seconds_total Total user and system CPU time spent in seconds.\n"
		       "# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total %s\n", num);
	if (r == 0)
		r = buf_printf(b,
			       "# HELP process_resident_memory_bytes Resident memory size in bytes.\n"
			       "# TYPE process_resident_memory_bytes gauge\nprocess_resident_memory_bytes %lld\n"
			       "# HELP process_virtual_memory_bytes Virtual memory size in bytes.\n"
			       "# TYPE process_virtual_memory_bytes gauge\nprocess_virtual_memory_bytes %llu\n"
			       "# HELP process_open_fds Number of open file descriptors.\n"
			       "# TYPE process_open_fds gauge\nprocess_open_fds %zu\n",
			       rss * page, vsize, fds);
	if (r == 0 && btime) {
		fmt_double(num, sizeof(num), (double)btime + (double)start / (double)tick);
		r = buf_printf(b,
			       "# HELP process_start_time_seconds Start time of the process since unix epoch in seconds.\n"
			       "# TYPE process_start_time_seconds gauge\nprocess_start_time_seconds %s\n", num);
	}
	return r;
}

int metrics_render(struct metrics *m, struct buf *out)
{
	int r = 0;

	if (!m)
		return 0;
	pthread_mutex_lock(&m->lock);
	for (size_t i = 0; i < m->nvecs && r == 0; i++)
		r = render_vec(out, m->vecs[i]);
	pthread_mutex_unlock(&m->lock);
	if (r == 0 && m->process)
		r = render_process(out);
	return r;
}
