/* sender.c - the agent's queue and its one sending thread.  The sampling
 * loop only ever appends under the lock and never waits on the network;
 * the thread copies a batch out, POSTs it unlocked, and removes it from
 * the queue only after a 2xx, so a controller that is away costs memory
 * up to the queue bound, never events below it. */
#include "sender.h"

#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

#include "arena.h"
#include "buf.h"
#include "jval.h"
#include "metrics.h"
#include "pglog.h"
#include "ticker.h"
#include "xalloc.h"

#define REPLY_MAX (64u * 1024)

struct qent {
	char *line;
	size_t len;
};

struct sender {
	/* configuration, owned copies */
	char *url;
	char *ca_file;
	char *token_file;
	size_t max_queue, max_batch, max_batch_bytes;
	unsigned connect_timeout_ms, timeout_ms, backoff_min_ms, backoff_max_ms, token_reread_s;

	pthread_t thread;
	bool started;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	/* under the lock */
	struct qent *ring;
	size_t head, count;
	uint64_t head_seq;              /* sequence number of ring[head] */
	bool kicked;
	bool stopping;
	uint64_t flush_deadline_ms;     /* CLOCK_MONOTONIC, when stopping */
	bool dropping;                  /* inside an episode of drops, logged once */
	struct sender_stats st;

	/* the thread's own */
	CURL *curl;
	struct curl_slist *headers;
	char *token;                    /* the bearer token; zeroed when replaced */
	uint64_t token_read_ms;
	bool token_missing_logged;
	unsigned failures;
	uint64_t retry_at_ms;
	size_t batch_limit;             /* lowered after a 413 */
	uint64_t rnd;
	struct buf body;
	struct buf reply;

	struct metric *m_accepted, *m_rejected, *m_dropped, *m_ok, *m_failed, *m_queue;
};

static uint64_t next_rand(struct sender *s)
{
	/* xorshift64*: jitter only, never a secret */
	s->rnd ^= s->rnd >> 12;
	s->rnd ^= s->rnd << 25;
	s->rnd ^= s->rnd >> 27;
	return s->rnd * 0x2545f4914f6cdd1dULL;
}

unsigned sender_backoff_ms(unsigned failures, unsigned min_ms, unsigned max_ms, uint64_t rnd)
{
	uint64_t d = min_ms ? min_ms : 1;

	for (unsigned i = 1; i < failures && d < max_ms; i++)
		d *= 2;
	if (d > max_ms)
		d = max_ms;
	/* "equal jitter": half fixed, half random, so a retry never comes
	 * sooner than half the nominal delay */
	return (unsigned)(d - (d / 2 ? rnd % (d / 2 + 1) : 0));
}

/* ---- the queue (caller holds the lock) --------------------------------- */

static void drop_oldest(struct sender *s)
{
	struct qent *e = &s->ring[s->head];

	pg_free(e->line);
	e->line = NULL;
	s->head = (s->head + 1) % s->max_queue;
	s->count--;
	s->head_seq++;
	s->st.dropped++;
	metric_inc(s->m_dropped);
}

int sender_push(struct sender *s, const char *line, size_t len)
{
	char *copy = pg_strndup(line, len);
	bool first_drop = false;

	if (!copy)
		return -ENOMEM;
	pthread_mutex_lock(&s->lock);
	if (s->count == s->max_queue) {
		drop_oldest(s);
		first_drop = !s->dropping;
		s->dropping = true;
	}
	s->ring[(s->head + s->count) % s->max_queue] = (struct qent){ copy, len };
	s->count++;
	s->st.queued++;
	metric_set(s->m_queue, (double)s->count);
	if (s->count >= s->max_batch)
		pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (first_drop)
		pglog(PGLOG_WARN, "telemetry queue full: dropping the oldest events until the controller "
		      "takes them", NULL);
	return 0;
}

void sender_kick(struct sender *s)
{
	pthread_mutex_lock(&s->lock);
	s->kicked = true;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
}

void sender_get_stats(struct sender *s, struct sender_stats *ret)
{
	pthread_mutex_lock(&s->lock);
	*ret = s->st;
	ret->queue_len = s->count;
	pthread_mutex_unlock(&s->lock);
}

/* Copies up to a batch into s->body; returns how many events it holds.
 * Caller holds the lock. */
static size_t take_batch(struct sender *s)
{
	size_t n = 0, limit = s->batch_limit < s->max_batch ? s->batch_limit : s->max_batch;

	buf_reset(&s->body);
	while (n < s->count && n < limit) {
		const struct qent *e = &s->ring[(s->head + n) % s->max_queue];

		if (n && s->body.len + e->len + 1 > s->max_batch_bytes)
			break;
		if (buf_add(&s->body, e->line, e->len) < 0 || buf_addc(&s->body, '\n') < 0)
			break;
		n++;
	}
	return n;
}

/* Removes what the batch [seq, seq + n) still holds: some of it may
 * have been dropped as the oldest while the request was out. */
static void remove_batch(struct sender *s, uint64_t seq, size_t n)
{
	while (s->count && s->head_seq < seq + n) {
		struct qent *e = &s->ring[s->head];

		pg_free(e->line);
		e->line = NULL;
		s->head = (s->head + 1) % s->max_queue;
		s->count--;
		s->head_seq++;
	}
	metric_set(s->m_queue, (double)s->count);
}

/* ---- the token ---------------------------------------------------------- */

static void token_clear(struct sender *s)
{
	if (s->token) {
		explicit_bzero(s->token, strlen(s->token));
		pg_free(s->token);
		s->token = NULL;
	}
}

static void headers_rebuild(struct sender *s)
{
	struct curl_slist *h = NULL, *t;
	char *auth = NULL;
	size_t n;

	curl_slist_free_all(s->headers);
	s->headers = NULL;
	h = curl_slist_append(h, "Content-Type: application/x-ndjson");
	if (h && (t = curl_slist_append(h, "Expect:")))
		h = t;
	if (h && s->token) {
		n = strlen(s->token) + sizeof("Authorization: Bearer ");
		auth = pg_malloc(n);
		if (auth) {
			snprintf(auth, n, "Authorization: Bearer %s", s->token);
			t = curl_slist_append(h, auth);
			if (t)
				h = t;
			explicit_bzero(auth, n);
			pg_free(auth);
		}
	}
	s->headers = h;
}

/* Reads the token file (the kubelet replaces it atomically through the
 * volume's ..data link).  On failure the previous token is kept: a
 * token that is about to expire still beats none. */
static void token_reload(struct sender *s)
{
	char *text = NULL, *p, *end;
	size_t len = 0;
	int fd;

	s->token_read_ms = (uint64_t)ticker_now_ms();
	if (!s->token_file)
		return;
	fd = open(s->token_file, O_RDONLY | O_CLOEXEC | O_NONBLOCK);
	if (fd < 0) {
		if (!s->token_missing_logged)
			pglog(PGLOG_WARN, "token file unreadable: sending without a token until it is there",
			      "file", s->token_file, "error", strerror(errno), NULL);
		s->token_missing_logged = true;
		return;
	}
	text = pg_malloc(SENDER_MAX_TOKEN_BYTES + 1);
	if (text) {
		ssize_t n;

		while (len < SENDER_MAX_TOKEN_BYTES &&
		       (n = read(fd, text + len, SENDER_MAX_TOKEN_BYTES - len)) != 0) {
			if (n < 0 && errno == EINTR)
				continue;
			if (n < 0) {
				len = 0;
				break;
			}
			len += (size_t)n;
		}
		text[len] = '\0';
	}
	close(fd);
	if (!text)
		return;
	pthread_mutex_lock(&s->lock);
	s->st.token_reads++;
	pthread_mutex_unlock(&s->lock);
	p = text;
	end = text + len;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
		end--;
	*end = '\0';
	/* a header value cannot hold a line break; a token never has one */
	if (p < end && !memchr(p, '\n', (size_t)(end - p)) && !memchr(p, '\r', (size_t)(end - p)) &&
	    (!s->token || strcmp(s->token, p) != 0)) {
		char *copy = pg_strdup(p);

		if (copy) {
			token_clear(s);
			s->token = copy;
			headers_rebuild(s);
			if (s->token_missing_logged)
				pglog(PGLOG_INFO, "token file readable again", "file", s->token_file, NULL);
			s->token_missing_logged = false;
		}
	}
	explicit_bzero(text, SENDER_MAX_TOKEN_BYTES + 1);
	pg_free(text);
}

/* ---- one request -------------------------------------------------------- */

static size_t on_reply(char *data, size_t size, size_t nmemb, void *ud)
{
	struct sender *s = ud;
	size_t n = size * nmemb;

	/* a long reply is not the controller's: keep the start, discard the
	 * rest (buf_add leaves the buffer as it was when over its max) */
	buf_add(&s->reply, data, n);
	return n;
}

static void parse_reply(struct sender *s, size_t sent, uint64_t *accepted, uint64_t *rejected)
{
	const struct jval *v, *a, *r;
	struct jval_error err;
	struct arena *ar = arena_new(1024);

	*accepted = sent;
	*rejected = 0;
	if (!ar)
		return;
	if (jval_parse(s->reply.data ? s->reply.data : "", s->reply.len, &JVAL_LIMITS_DEFAULT, ar, &v,
		       &err) == 0) {
		a = jval_get(v, "accepted");
		r = jval_get(v, "rejected");
		if (jval_is_int(a) && a->u.i >= 0)
			*accepted = (uint64_t)a->u.i;
		if (jval_is_int(r) && r->u.i >= 0)
			*rejected = (uint64_t)r->u.i;
	}
	arena_free(ar);
}

enum outcome { SENT, RETRY, UNAUTHORIZED, TOO_LARGE, REFUSED };

static enum outcome post(struct sender *s, size_t nevents, unsigned timeout_ms)
{
	char errbuf[CURL_ERROR_SIZE] = "", code[16], n[24];
	long status = 0;
	CURLcode rc;

	buf_reset(&s->reply);
	curl_easy_setopt(s->curl, CURLOPT_HTTPHEADER, s->headers);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDS, s->body.data);
	curl_easy_setopt(s->curl, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)s->body.len);
	curl_easy_setopt(s->curl, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_ERRORBUFFER, errbuf);
	rc = curl_easy_perform(s->curl);
	if (rc != CURLE_OK) {
		pglog(PGLOG_WARN, "controller unreachable", "url", s->url, "error",
		      errbuf[0] ? errbuf : curl_easy_strerror(rc), NULL);
		return RETRY;
	}
	curl_easy_getinfo(s->curl, CURLINFO_RESPONSE_CODE, &status);
	snprintf(code, sizeof(code), "%ld", status);
	snprintf(n, sizeof(n), "%zu", nevents);
	if (status >= 200 && status < 300)
		return SENT;
	if (status == 401) {
		pglog(PGLOG_WARN, "controller refused the token (401): re-reading the token file", "url",
		      s->url, NULL);
		return UNAUTHORIZED;
	}
	if (status == 413)
		return TOO_LARGE;
	if (status == 400 || status == 422) {
		pglog(PGLOG_ERROR, "controller refused a batch as malformed: dropped", "status", code,
		      "events", n, NULL);
		return REFUSED;
	}
	pglog(PGLOG_WARN, "controller did not take the batch", "status", code, "events", n, NULL);
	return RETRY;
}

static int curl_setup(struct sender *s, char *err, size_t errsz)
{
	s->curl = curl_easy_init();
	if (!s->curl) {
		snprintf(err, errsz, "curl_easy_init failed");
		return -ENOMEM;
	}
	curl_easy_setopt(s->curl, CURLOPT_URL, s->url);
	curl_easy_setopt(s->curl, CURLOPT_POST, 1L);
	curl_easy_setopt(s->curl, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(s->curl, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS_STR, "https");
#else
	curl_easy_setopt(s->curl, CURLOPT_PROTOCOLS, (long)CURLPROTO_HTTPS);
#endif
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYPEER, 1L);
	curl_easy_setopt(s->curl, CURLOPT_SSL_VERIFYHOST, 2L);
	curl_easy_setopt(s->curl, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	if (s->ca_file)
		curl_easy_setopt(s->curl, CURLOPT_CAINFO, s->ca_file);
#if LIBCURL_VERSION_NUM >= 0x075700
	/* the CA is a mounted Secret that rotates: never trust a cached copy long */
	curl_easy_setopt(s->curl, CURLOPT_CA_CACHE_TIMEOUT, 60L);
#endif
	curl_easy_setopt(s->curl, CURLOPT_CONNECTTIMEOUT_MS, (long)s->connect_timeout_ms);
	curl_easy_setopt(s->curl, CURLOPT_WRITEFUNCTION, on_reply);
	curl_easy_setopt(s->curl, CURLOPT_WRITEDATA, s);
	curl_easy_setopt(s->curl, CURLOPT_USERAGENT, "profileguard-agent");
	return 0;
}

/* ---- the thread --------------------------------------------------------- */

static void timed_wait(struct sender *s, uint64_t until_ms)
{
	struct timespec ts;

	ts.tv_sec = (time_t)(until_ms / 1000);
	ts.tv_nsec = (long)(until_ms % 1000) * 1000000;
	pthread_cond_timedwait(&s->cond, &s->lock, &ts);
}

/* Sends one batch; called with the lock held, drops it around the
 * request.  False when the thread should wait (backoff, or nothing
 * left). */
static bool send_one(struct sender *s)
{
	uint64_t seq = s->head_seq, t = (uint64_t)ticker_now_ms(), acc, rej;
	unsigned timeout = s->timeout_ms;
	size_t n = take_batch(s);
	enum outcome o;
	bool stopping = s->stopping;

	if (n == 0)
		return false;
	if (stopping) {
		if (t >= s->flush_deadline_ms)
			return false;
		if (s->flush_deadline_ms - t < timeout)
			timeout = (unsigned)(s->flush_deadline_ms - t);
	}
	pthread_mutex_unlock(&s->lock);
	if (t - s->token_read_ms >= (uint64_t)s->token_reread_s * 1000)
		token_reload(s);
	o = post(s, n, timeout);
	if (o == SENT)
		parse_reply(s, n, &acc, &rej);
	else if (o == UNAUTHORIZED)
		token_reload(s);
	pthread_mutex_lock(&s->lock);
	switch (o) {
	case SENT:
		remove_batch(s, seq, n);
		s->st.posts++;
		s->st.accepted += acc;
		s->st.rejected += rej;
		metric_inc(s->m_ok);
		metric_add(s->m_accepted, acc);
		metric_add(s->m_rejected, rej);
		if (s->failures) {
			char f[16];

			snprintf(f, sizeof(f), "%u", s->failures);
			pglog(PGLOG_INFO, "controller reachable again", "failed_attempts", f, NULL);
		}
		if (rej) {
			char a[24], r[24];

			snprintf(a, sizeof(a), "%llu", (unsigned long long)acc);
			snprintf(r, sizeof(r), "%llu", (unsigned long long)rej);
			pglog(PGLOG_WARN, "controller rejected events", "accepted", a, "rejected", r, NULL);
		}
		s->failures = 0;
		s->dropping = false;
		if (s->batch_limit < s->max_batch)
			s->batch_limit = s->batch_limit * 2 < s->max_batch ? s->batch_limit * 2 : s->max_batch;
		return true;
	case TOO_LARGE:
		metric_inc(s->m_failed);
		s->st.failures++;
		if (n > 1) {
			s->batch_limit = n / 2;
			return true;
		}
		pglog(PGLOG_ERROR, "controller refused a single event as too large: dropped", NULL);
		remove_batch(s, seq, n);
		s->st.dropped += n;
		metric_add(s->m_dropped, n);
		return true;
	case REFUSED:
		metric_inc(s->m_failed);
		s->st.failures++;
		remove_batch(s, seq, n);
		s->st.dropped += n;
		metric_add(s->m_dropped, n);
		return true;
	case RETRY:
	case UNAUTHORIZED:
		break;
	}
	metric_inc(s->m_failed);
	s->st.failures++;
	s->failures++;
	s->retry_at_ms = (uint64_t)ticker_now_ms() + sender_backoff_ms(s->failures, s->backoff_min_ms,
						      s->backoff_max_ms, next_rand(s));
	return false;
}

static void *sender_main(void *ud)
{
	struct sender *s = ud;

	token_reload(s);
	pthread_mutex_lock(&s->lock);
	for (;;) {
		uint64_t t = (uint64_t)ticker_now_ms();

		if (s->stopping) {
			/* one last effort, backoff ignored, bounded by the deadline */
			while (send_one(s))
				;
			break;
		}
		if (s->count && t < s->retry_at_ms) {
			timed_wait(s, s->retry_at_ms);
			continue;
		}
		if (s->count && (s->kicked || s->count >= s->max_batch || s->failures)) {
			s->kicked = false;
			while (!s->stopping && send_one(s))
				;
			continue;
		}
		s->kicked = false;
		pthread_cond_wait(&s->cond, &s->lock);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* timed waits measure CLOCK_MONOTONIC, like (uint64_t)ticker_now_ms() */
static int cond_init(pthread_cond_t *c)
{
	pthread_condattr_t a;
	int r;

	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	r = pthread_cond_init(c, &a);
	pthread_condattr_destroy(&a);
	return -r;
}

static void sender_release(struct sender *s)
{
	for (size_t i = 0; s->ring && i < s->count; i++)
		pg_free(s->ring[(s->head + i) % s->max_queue].line);
	pg_free(s->ring);
	token_clear(s);
	curl_slist_free_all(s->headers);
	if (s->curl)
		curl_easy_cleanup(s->curl);
	buf_free(&s->body);
	buf_free(&s->reply);
	pg_free(s->url);
	pg_free(s->ca_file);
	pg_free(s->token_file);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	pg_free(s);
}

static void setup_metrics(struct sender *s, struct metrics *m)
{
	static const char *const result[] = { "result", NULL };
	struct metric_vec *posts;

	if (!m)
		return;
	s->m_accepted = metric_vec_get(metrics_counter(m, "profileguard_agent_events_accepted_total",
		"Events the controller accepted.", NULL), NULL);
	s->m_rejected = metric_vec_get(metrics_counter(m, "profileguard_agent_events_rejected_total",
		"Events the controller rejected as malformed.", NULL), NULL);
	s->m_dropped = metric_vec_get(metrics_counter(m, "profileguard_agent_events_dropped_total",
		"Events dropped: oldest out of a full queue, or in a batch the controller refused.", NULL), NULL);
	s->m_queue = metric_vec_get(metrics_gauge(m, "profileguard_agent_queue_events",
		"Events waiting for the controller.", NULL), NULL);
	posts = metrics_counter(m, "profileguard_agent_posts_total",
				"Batches POSTed to the controller, by result.", result);
	s->m_ok = metric_vec_get1(posts, "success");
	s->m_failed = metric_vec_get1(posts, "failure");
}

int sender_new(const struct sender_config *cfg, struct sender **ret, char *err, size_t errsz)
{
	struct sender *s = pg_calloc(1, sizeof(*s));
	int r;

	if (!s) {
		snprintf(err, errsz, "out of memory");
		return -ENOMEM;
	}
	s->max_queue = cfg->max_queue ? cfg->max_queue : SENDER_DEFAULT_MAX_QUEUE;
	s->max_batch = cfg->max_batch ? cfg->max_batch : SENDER_DEFAULT_MAX_BATCH;
	s->max_batch_bytes = cfg->max_batch_bytes ? cfg->max_batch_bytes : SENDER_DEFAULT_MAX_BATCH_BYTES;
	s->connect_timeout_ms = cfg->connect_timeout_ms ? cfg->connect_timeout_ms : 5000;
	s->timeout_ms = cfg->timeout_ms ? cfg->timeout_ms : 30000;
	s->backoff_min_ms = cfg->backoff_min_ms ? cfg->backoff_min_ms : 500;
	s->backoff_max_ms = cfg->backoff_max_ms ? cfg->backoff_max_ms : 30000;
	s->token_reread_s = cfg->token_reread_s ? cfg->token_reread_s : 60;
	s->batch_limit = s->max_batch;
	if (getrandom(&s->rnd, sizeof(s->rnd), GRND_NONBLOCK) != sizeof(s->rnd) || !s->rnd)
		s->rnd = 0x9e3779b97f4a7c15ULL ^ (uint64_t)getpid();
	/* a batch of max_batch events of up to 64 KiB each is bounded too */
	buf_init(&s->body, s->max_batch_bytes + 64 * 1024 + 1);
	buf_init(&s->reply, REPLY_MAX);
	r = pthread_mutex_init(&s->lock, NULL);
	if (r == 0)
		r = -cond_init(&s->cond);
	if (r != 0) {
		snprintf(err, errsz, "pthread init: %s", strerror(r));
		pg_free(s);
		return -r;
	}
	s->url = pg_strdup(cfg->url);
	s->ca_file = cfg->ca_file ? pg_strdup(cfg->ca_file) : NULL;
	s->token_file = cfg->token_file ? pg_strdup(cfg->token_file) : NULL;
	s->ring = pg_calloc(s->max_queue, sizeof(*s->ring));
	if (!s->url || (cfg->ca_file && !s->ca_file) || (cfg->token_file && !s->token_file) || !s->ring) {
		snprintf(err, errsz, "out of memory");
		sender_release(s);
		return -ENOMEM;
	}
	headers_rebuild(s);
	r = curl_setup(s, err, errsz);
	if (r < 0) {
		sender_release(s);
		return r;
	}
	setup_metrics(s, cfg->metrics);
	r = pthread_create(&s->thread, NULL, sender_main, s);
	if (r != 0) {
		snprintf(err, errsz, "pthread_create: %s", strerror(r));
		sender_release(s);
		return -r;
	}
	s->started = true;
	*ret = s;
	return 0;
}

struct sender *sender_stop(struct sender *s, unsigned flush_ms)
{
	size_t left;

	if (!s)
		return NULL;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	s->flush_deadline_ms = (uint64_t)ticker_now_ms() + flush_ms;
	pthread_cond_signal(&s->cond);
	pthread_mutex_unlock(&s->lock);
	if (s->started)
		pthread_join(s->thread, NULL);
	left = s->count;
	if (left) {
		char n[24];

		s->st.dropped += left;
		metric_add(s->m_dropped, left);
		snprintf(n, sizeof(n), "%zu", left);
		pglog(PGLOG_WARN, "stopping with events the controller did not take", "events", n, NULL);
	}
	sender_release(s);
	return NULL;
}
