/* leader.c - Lease-based leader election (client-go's algorithm): every
 * retry period, read the Lease; take it when it is free or its record has
 * not changed for a lease duration by our clock; renew it while ours; give
 * up after failing to renew for the renew deadline; clear the holder on a
 * clean stop. */
#include "leader.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "kube_api.h"
#include "kube_util.h"
#include "strutil.h"
#include "ticker.h"
#include "xalloc.h"

struct leader {
	struct leader_config cfg;
	char *ns, *name, *id;
	pthread_t thread;
	bool running;
	pthread_mutex_t mu;             /* guards holder and the sleeps */
	pthread_cond_t cond;
	atomic_bool stop;
	atomic_bool leading;
	_Atomic int64_t renewed_sent_ms;        /* send time of the last good write */

	/* Election thread only. */
	struct kube_api_lease obs;          /* the record last seen */
	bool have_obs;
	int64_t obs_ms;                 /* when it last changed, our clock */
	char holder[256];               /* under mu */
};

enum leader_decision leader_decide(const char *holder, const char *me, int64_t observed_ms,
				   int64_t lease_ms, int64_t now_ms)
{
	if (!holder || !*holder)
		return LEADER_TAKE;
	if (strcmp(holder, me) == 0)
		return LEADER_RENEW;
	return now_ms - observed_ms < lease_ms ? LEADER_WAIT : LEADER_TAKE;
}

int leader_new(const struct leader_config *cfg, struct leader **ret)
{
	struct leader *l;
	pthread_condattr_t ca;

	if (!cfg->client || !cfg->namespace || !*cfg->namespace || !cfg->name || !*cfg->name ||
	    !cfg->identity || !*cfg->identity)
		return -EINVAL;
	l = pg_calloc(1, sizeof(*l));
	if (!l)
		return -ENOMEM;
	l->cfg = *cfg;
	if (l->cfg.lease_ms <= 0)
		l->cfg.lease_ms = 15000;
	if (l->cfg.renew_deadline_ms <= 0)
		l->cfg.renew_deadline_ms = 10000;
	if (l->cfg.retry_ms <= 0)
		l->cfg.retry_ms = 2000;
	l->ns = pg_strdup(cfg->namespace);
	l->name = pg_strdup(cfg->name);
	l->id = pg_strdup(cfg->identity);
	pthread_mutex_init(&l->mu, NULL);
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&l->cond, &ca);
	pthread_condattr_destroy(&ca);
	if (!l->ns || !l->name || !l->id) {
		leader_free(l);
		return -ENOMEM;
	}
	/* client-go refuses these too: a leader must give up before a
	 * follower may take over, and must retry within its deadline. */
	if (l->cfg.renew_deadline_ms >= l->cfg.lease_ms || l->cfg.retry_ms >= l->cfg.renew_deadline_ms ||
	    l->cfg.lease_ms / 1000 < 1) {
		leader_free(l);
		return -EINVAL;
	}
	*ret = l;
	return 0;
}

bool leader_is_leader(struct leader *l)
{
	return atomic_load(&l->leading);
}

bool leader_holds(struct leader *l, int64_t margin_ms)
{
	if (!atomic_load(&l->leading))
		return false;
	return ticker_now_ms() - atomic_load(&l->renewed_sent_ms) < l->cfg.lease_ms - margin_ms;
}

void leader_observed_holder(struct leader *l, char *out, size_t n)
{
	pthread_mutex_lock(&l->mu);
	snprintf(out, n, "%s", l->holder);
	pthread_mutex_unlock(&l->mu);
}

static void report(struct leader *l, int err, const char *what, const struct kube_error *e)
{
	if (l->cfg.on_error && err != -ECANCELED)
		l->cfg.on_error(l->cfg.ud, err, what, e && e->message[0] ? e->message : "");
}

/* Keeps @seen (taken over) as the observed record; its time moves only
 * when the record changed. */
static void observe(struct leader *l, struct kube_api_lease *seen, int64_t now)
{
	bool changed = !l->have_obs || !str_eq(l->obs.resource_version, seen->resource_version) ||
		       !str_eq(l->obs.holder, seen->holder);

	if (changed)
		l->obs_ms = now;
	kube_api_lease_clear(&l->obs);
	l->obs = *seen;
	memset(seen, 0, sizeof(*seen));
	l->have_obs = true;
	pthread_mutex_lock(&l->mu);
	snprintf(l->holder, sizeof(l->holder), "%s", l->obs.holder ? l->obs.holder : "");
	pthread_mutex_unlock(&l->mu);
}

/* One round: 1 when we hold the Lease after it, 0 when another does (or
 * won a race), a negative errno when the API server could not say. */
static int try_once(struct leader *l)
{
	struct kube_error err = { 0 };
	struct kube_api_lease cur = { 0 }, next = { 0 }, got = { 0 };
	struct timespec wall;
	int64_t now = ticker_now_ms(), sent;
	int32_t lease_s = (int32_t)(l->cfg.lease_ms / 1000);
	enum leader_decision d;
	int r;

	ticker_wall(&wall);
	r = kube_api_lease_get(l->cfg.client, l->ns, l->name, &cur, &err);
	if (r == -ENOENT) {
		next.holder = l->id;
		next.duration_s = lease_s;
		next.acquire = next.renew = wall;
		sent = ticker_now_ms();
		r = kube_api_lease_create(l->cfg.client, l->ns, l->name, &next, &got, &err);
		if (r == -ESTALE)
			return 0;
		if (r < 0) {
			report(l, r, "create lease", &err);
			return r;
		}
		observe(l, &got, now);
		atomic_store(&l->renewed_sent_ms, sent);
		return 1;
	}
	if (r < 0) {
		report(l, r, "read lease", &err);
		return r;
	}
	observe(l, &cur, now);
	d = leader_decide(l->obs.holder, l->id, l->obs_ms, l->cfg.lease_ms, now);
	if (d == LEADER_WAIT)
		return 0;
	next.holder = l->id;
	next.duration_s = lease_s;
	next.renew = wall;
	next.resource_version = l->obs.resource_version;
	if (d == LEADER_RENEW && atomic_load(&l->leading)) {
		next.acquire = l->obs.acquire;
		next.transitions = l->obs.transitions;
	} else {
		next.acquire = wall;
		next.transitions = l->obs.transitions + 1;
	}
	sent = ticker_now_ms();
	r = kube_api_lease_update(l->cfg.client, l->ns, l->name, &next, &got, &err);
	if (r == -ESTALE)
		return 0;
	if (r < 0) {
		report(l, r, "update lease", &err);
		return r;
	}
	observe(l, &got, ticker_now_ms());
	atomic_store(&l->renewed_sent_ms, sent);
	return 1;
}

/* Sleeps @ms unless stopped first. */
static void pause_ms(struct leader *l, int64_t ms)
{
	struct timespec dl;

	ticker_deadline(ms, &dl);
	pthread_mutex_lock(&l->mu);
	while (!atomic_load(&l->stop) && pthread_cond_timedwait(&l->cond, &l->mu, &dl) != ETIMEDOUT)
		;
	pthread_mutex_unlock(&l->mu);
}

static void step_down(struct leader *l)
{
	if (!atomic_exchange(&l->leading, false))
		return;
	if (l->cfg.on_stopped)
		l->cfg.on_stopped(l->cfg.ud);
}

static void *leader_main(void *arg)
{
	struct leader *l = arg;

	while (!atomic_load(&l->stop)) {
		int r = try_once(l);
		int64_t wait = l->cfg.retry_ms;

		if (atomic_load(&l->stop))
			break;
		if (atomic_load(&l->leading)) {
			bool other = l->have_obs && l->obs.holder && *l->obs.holder &&
				     strcmp(l->obs.holder, l->id) != 0;

			/* Another holder is final; a failed renewal is not,
			 * until the deadline passes. */
			if (r <= 0 && (other || ticker_now_ms() - atomic_load(&l->renewed_sent_ms) >=
					       l->cfg.renew_deadline_ms))
				step_down(l);
		} else if (r == 1) {
			atomic_store(&l->leading, true);
			if (l->cfg.on_started)
				l->cfg.on_started(l->cfg.ud);
		} else {
			/* Candidates spread out (client-go's JitterFactor 1.2). */
			wait += (int64_t)(kube_rand() % (uint64_t)(l->cfg.retry_ms / 5 + 1));
		}
		pause_ms(l, wait);
	}
	return NULL;
}

int leader_start(struct leader *l)
{
	int r;

	if (l->running)
		return 0;
	atomic_store(&l->stop, false);
	r = pthread_create(&l->thread, NULL, leader_main, l);
	if (r != 0)
		return -r;
	l->running = true;
	return 0;
}

/* Clears the holder, so a follower need not wait out the lease. */
static void release(struct leader *l)
{
	struct kube_error err = { 0 };
	struct kube_api_lease rel = { 0 };
	struct timespec wall;
	int r;

	if (!l->have_obs || !l->obs.resource_version)
		return;
	ticker_wall(&wall);
	rel.holder = NULL;
	rel.duration_s = 1;
	rel.acquire = wall;
	rel.renew = wall;
	rel.transitions = l->obs.transitions;
	rel.resource_version = l->obs.resource_version;
	r = kube_api_lease_update(l->cfg.client, l->ns, l->name, &rel, NULL, &err);
	if (r < 0)
		report(l, r, "release lease", &err);
}

void leader_stop(struct leader *l, bool rel)
{
	bool was;

	if (!l)
		return;
	if (l->running) {
		pthread_mutex_lock(&l->mu);
		atomic_store(&l->stop, true);
		pthread_cond_broadcast(&l->cond);
		pthread_mutex_unlock(&l->mu);
		pthread_join(l->thread, NULL);
		l->running = false;
	}
	was = atomic_load(&l->leading);
	step_down(l);
	if (rel && was)
		release(l);
}

struct leader *leader_free(struct leader *l)
{
	if (!l)
		return NULL;
	leader_stop(l, true);
	kube_api_lease_clear(&l->obs);
	pthread_mutex_destroy(&l->mu);
	pthread_cond_destroy(&l->cond);
	pg_free(l->ns);
	pg_free(l->name);
	pg_free(l->id);
	pg_free(l);
	return NULL;
}
