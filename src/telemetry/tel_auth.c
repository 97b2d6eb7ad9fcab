/* tel_auth.c - telemetry senders: client certificates and bearer tokens,
 * allowed users, and the TokenReview cache.  The cache is keyed by the
 * token's SHA-256 and holds what the API server said (user, node and pod
 * claims, or "not authenticated" for a short while), bounded in size with
 * the least recently used entry evicted first. */
#include "tel_auth.h"

#include <errno.h>
#include <openssl/evp.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "arena.h"
#include "base64.h"
#include "jval.h"
#include "strutil.h"
#include "xalloc.h"

struct entry {
	struct entry *next;             /* bucket chain */
	struct entry *older, *newer;    /* use order: the sentinel's newer is the LRU */
	uint8_t key[TEL_AUTH_SHA256_LEN];
	int64_t expires;                /* epoch seconds */
	bool authenticated;
	char *username, *node, *pod_name, *pod_uid;     /* in the same allocation */
};

struct tel_auth {
	struct tel_auth_config cfg;
	char **allowed;
	char *audience;
	pthread_mutex_t mu;
	struct entry **b;
	size_t cap;                     /* buckets, a power of two */
	struct entry lru;               /* sentinel */
	size_t n;
	uint64_t hits, misses, reviews, evictions;
};

static int64_t wall_now(void)
{
	return (int64_t)time(NULL);
}

/* ---- pieces --------------------------------------------------------------------- */

void tel_auth_token_hash(const char *token, size_t len, uint8_t out[TEL_AUTH_SHA256_LEN])
{
	unsigned int n = TEL_AUTH_SHA256_LEN;

	if (EVP_Digest(token, len, out, &n, EVP_sha256(), NULL) != 1)
		memset(out, 0, TEL_AUTH_SHA256_LEN);        /* never seen: libcrypto broken */
}

int tel_auth_jwt_exp(const char *token, size_t len, int64_t *ret)
{
	const char *dot1, *dot2, *payload;
	struct jval_limits lim = { 8, 256 };
	unsigned char buf[TEL_AUTH_MAX_TOKEN];
	const struct jval *v, *exp;
	struct arena *a;
	size_t plen;
	long n;
	int r;

	if (len > TEL_AUTH_MAX_TOKEN)
		return -EINVAL;
	dot1 = memchr(token, '.', len);
	if (!dot1)
		return -EINVAL;
	payload = dot1 + 1;
	dot2 = memchr(payload, '.', len - (size_t)(payload - token));
	if (!dot2 || dot2 == payload || memchr(dot2 + 1, '.', len - (size_t)(dot2 + 1 - token)))
		return -EINVAL;
	plen = (size_t)(dot2 - payload);
	n = base64url_decode(payload, plen, buf);
	if (n <= 0)
		return -EINVAL;
	a = arena_new(4096);
	if (!a)
		return -ENOMEM;
	r = jval_parse((const char *)buf, (size_t)n, &lim, a, &v, NULL);
	if (r == 0 && !jval_is_object(v))
		r = -EINVAL;
	if (r == 0) {
		exp = jval_get(v, "exp");
		if (jval_is_int(exp))
			*ret = exp->u.i;
		else
			r = -ENOENT;
	} else if (r != -ENOMEM) {
		r = -EINVAL;
	}
	arena_free(a);
	return r;
}

bool tel_auth_cert_node(const char *cn, char *out, size_t n)
{
	static const char prefix[] = "system:node:";

	if (!cn || !str_has_prefix(cn, prefix) || !cn[sizeof(prefix) - 1])
		return false;
	return (size_t)snprintf(out, n, "%s", cn + sizeof(prefix) - 1) < n;
}

bool tel_auth_allowed(const struct tel_auth *a, const char *user)
{
	if (!user || !*user)
		return false;
	for (size_t i = 0; i < a->cfg.nallowed; i++)
		if (glob_match(a->allowed[i], user))
			return true;
	return false;
}

/* ---- the cache ------------------------------------------------------------------- */

static size_t bucket_of(const struct tel_auth *a, const uint8_t key[TEL_AUTH_SHA256_LEN])
{
	uint64_t h;

	memcpy(&h, key, sizeof(h));     /* a SHA-256 is spread already */
	return (size_t)(h & (a->cap - 1));
}

static void lru_unlink(struct entry *e)
{
	e->older->newer = e->newer;
	e->newer->older = e->older;
}

static void lru_append(struct tel_auth *a, struct entry *e)
{
	e->newer = &a->lru;
	e->older = a->lru.older;
	a->lru.older->newer = e;
	a->lru.older = e;
}

static void entry_drop(struct tel_auth *a, struct entry *e)
{
	struct entry **p = &a->b[bucket_of(a, e->key)];

	while (*p != e)
		p = &(*p)->next;
	*p = e->next;
	lru_unlink(e);
	a->n--;
	pg_free(e);
}

static struct entry *cache_get(struct tel_auth *a, const uint8_t key[TEL_AUTH_SHA256_LEN],
			       int64_t now)
{
	struct entry *e;

	for (e = a->b[bucket_of(a, key)]; e; e = e->next)
		if (memcmp(e->key, key, TEL_AUTH_SHA256_LEN) == 0)
			break;
	if (!e)
		return NULL;
	if (e->expires <= now) {
		entry_drop(a, e);
		return NULL;
	}
	lru_unlink(e);
	lru_append(a, e);
	return e;
}

static void cache_put(struct tel_auth *a, const uint8_t key[TEL_AUTH_SHA256_LEN], int64_t expires,
		      const struct tel_auth_review *rv, int64_t now)
{
	size_t lu = strlen(rv->username) + 1, ln = strlen(rv->node) + 1;
	size_t lp = strlen(rv->pod_name) + 1, lq = strlen(rv->pod_uid) + 1;
	struct entry *e, *old;

	if ((old = cache_get(a, key, now)))
		entry_drop(a, old);
	while (a->n >= a->cfg.cache_max) {
		/* Expired entries first, found cheaply at the LRU end; else
		 * the least recently used. */
		entry_drop(a, a->lru.newer);
		a->evictions++;
	}
	e = pg_calloc(1, sizeof(*e) + lu + ln + lp + lq);
	if (!e)
		return;                 /* not cached: asked again next time */
	memcpy(e->key, key, TEL_AUTH_SHA256_LEN);
	e->expires = expires;
	e->authenticated = rv->authenticated;
	e->username = (char *)(e + 1);
	e->node = e->username + lu;
	e->pod_name = e->node + ln;
	e->pod_uid = e->pod_name + lp;
	memcpy(e->username, rv->username, lu);
	memcpy(e->node, rv->node, ln);
	memcpy(e->pod_name, rv->pod_name, lp);
	memcpy(e->pod_uid, rv->pod_uid, lq);
	e->next = a->b[bucket_of(a, key)];
	a->b[bucket_of(a, key)] = e;
	lru_append(a, e);
	a->n++;
}

/* ---- set-up ----------------------------------------------------------------------- */

int tel_auth_new(const struct tel_auth_config *cfg, struct tel_auth **ret)
{
	struct tel_auth *a;
	size_t cap = 16;

	for (size_t i = 0; i < cfg->nallowed; i++)
		if (!cfg->allowed_users[i] || !*cfg->allowed_users[i])
			return -EINVAL;
	a = pg_calloc(1, sizeof(*a));
	if (!a)
		return -ENOMEM;
	a->cfg = *cfg;
	if (!a->cfg.cache_max)
		a->cfg.cache_max = TEL_AUTH_DEFAULT_CACHE;
	if (a->cfg.cache_ttl_s <= 0)
		a->cfg.cache_ttl_s = TEL_AUTH_DEFAULT_TTL_S;
	if (!a->cfg.now)
		a->cfg.now = wall_now;
	a->lru.older = a->lru.newer = &a->lru;
	pthread_mutex_init(&a->mu, NULL);
	while (cap < a->cfg.cache_max * 2 && cap < ((size_t)1 << 24))
		cap *= 2;
	a->cap = cap;
	a->b = pg_calloc(cap, sizeof(*a->b));
	a->allowed = pg_calloc(cfg->nallowed ? cfg->nallowed : 1, sizeof(*a->allowed));
	if (!a->b || !a->allowed)
		goto oom;
	for (size_t i = 0; i < cfg->nallowed; i++)
		if (!(a->allowed[i] = pg_strdup(cfg->allowed_users[i])))
			goto oom;
	if (cfg->audience && *cfg->audience && !(a->audience = pg_strdup(cfg->audience)))
		goto oom;
	a->cfg.allowed_users = NULL;
	a->cfg.audience = a->audience;
	*ret = a;
	return 0;
oom:
	tel_auth_free(a);
	return -ENOMEM;
}

struct tel_auth *tel_auth_free(struct tel_auth *a)
{
	if (!a)
		return NULL;
	while (a->b && a->n)
		entry_drop(a, a->lru.newer);
	pg_free(a->b);
	if (a->allowed)
		for (size_t i = 0; i < a->cfg.nallowed; i++)
			pg_free(a->allowed[i]);
	pg_free(a->allowed);
	pg_free(a->audience);
	pthread_mutex_destroy(&a->mu);
	pg_free(a);
	return NULL;
}

void tel_auth_stats(struct tel_auth *a, struct tel_auth_stats *ret)
{
	pthread_mutex_lock(&a->mu);
	ret->entries = a->n;
	ret->hits = a->hits;
	ret->misses = a->misses;
	ret->reviews = a->reviews;
	ret->evictions = a->evictions;
	pthread_mutex_unlock(&a->mu);
}

/* ---- one request -------------------------------------------------------------------- */

static void copy(char *dst, size_t n, const char *src)
{
	snprintf(dst, n, "%s", src ? src : "");
}

static enum tel_auth_status decide(struct tel_auth *a, struct tel_auth_principal *p, char *why,
				   size_t whysz)
{
	if (!tel_auth_allowed(a, p->username)) {
		snprintf(why, whysz, "user is not in --telemetry-allowed-users");
		return TEL_AUTH_FORBIDDEN;
	}
	return TEL_AUTH_OK;
}

static enum tel_auth_status check_cert(struct tel_auth *a, const char *cn,
				       struct tel_auth_principal *p, char *why, size_t whysz)
{
	p->via_cert = true;
	copy(p->username, sizeof(p->username), cn);
	if (!tel_auth_cert_node(cn, p->node, sizeof(p->node)))
		p->node[0] = '\0';
	return decide(a, p, why, whysz);
}

/* The token of "Bearer <token>" (scheme case-insensitive), or NULL. */
static const char *bearer(const char *h, size_t *ret_len)
{
	size_t n;

	if (!h || strncasecmp(h, "Bearer ", 7) != 0)
		return NULL;
	h += 7;
	while (*h == ' ')
		h++;
	n = strlen(h);
	while (n && (h[n - 1] == ' ' || h[n - 1] == '\t'))
		n--;
	*ret_len = n;
	return n ? h : NULL;
}

static void fill_from_entry(struct tel_auth_principal *p, const struct entry *e)
{
	copy(p->username, sizeof(p->username), e->username);
	copy(p->node, sizeof(p->node), e->node);
	copy(p->pod_name, sizeof(p->pod_name), e->pod_name);
	copy(p->pod_uid, sizeof(p->pod_uid), e->pod_uid);
}

enum tel_auth_status tel_auth_check(struct tel_auth *a, const char *authorization,
				    const char *cert_cn, bool cert_bad, struct tel_auth_principal *ret,
				    char *why, size_t whysz)
{
	uint8_t key[TEL_AUTH_SHA256_LEN];
	struct tel_auth_review rv;
	const char *token;
	char tok[TEL_AUTH_MAX_TOKEN + 1];
	size_t len = 0;
	int64_t now = a->cfg.now(), exp = -1, until;
	struct entry *e;
	int r;

	memset(ret, 0, sizeof(*ret));
	why[0] = '\0';
	if (cert_cn && *cert_cn)
		return check_cert(a, cert_cn, ret, why, whysz);
	token = bearer(authorization, &len);
	if (!token) {
		snprintf(why, whysz, "%s", cert_bad ? "client certificate not signed by "
			 "--telemetry-client-ca (or expired)" : authorization ?
			 "Authorization is not a bearer token" : "no credential");
		return TEL_AUTH_UNAUTHENTICATED;
	}
	if (len > TEL_AUTH_MAX_TOKEN) {
		snprintf(why, whysz, "bearer token longer than %u bytes", TEL_AUTH_MAX_TOKEN);
		return TEL_AUTH_UNAUTHENTICATED;
	}
	tel_auth_token_hash(token, len, key);
	snprintf(ret->token_id, sizeof(ret->token_id), "%02x%02x%02x%02x", key[0], key[1], key[2],
		 key[3]);

	pthread_mutex_lock(&a->mu);
	e = cache_get(a, key, now);
	if (e) {
		a->hits++;
		ret->cached = true;
		if (e->authenticated)
			fill_from_entry(ret, e);
	} else {
		a->misses++;
	}
	pthread_mutex_unlock(&a->mu);
	if (ret->cached) {
		if (!ret->username[0]) {
			snprintf(why, whysz, "token refused by the API server (cached)");
			return TEL_AUTH_UNAUTHENTICATED;
		}
		return decide(a, ret, why, whysz);
	}

	if (!a->cfg.review) {
		snprintf(why, whysz, "bearer tokens are not accepted here");
		return TEL_AUTH_UNAUTHENTICATED;
	}
	/* The claim is read unverified, for the cache bound and for one
	 * refusal: a token that says it has expired is not worth a review. */
	r = tel_auth_jwt_exp(token, len, &exp);
	if (r == 0 && exp <= now) {
		snprintf(why, whysz, "token expired");
		return TEL_AUTH_UNAUTHENTICATED;
	}
	/* The header is not NUL-terminated at the token's end when padded. */
	memcpy(tok, token, len);
	tok[len] = '\0';
	memset(&rv, 0, sizeof(rv));
	r = a->cfg.review(a->cfg.ud, tok, a->cfg.audience, &rv);
	explicit_bzero(tok, len);
	pthread_mutex_lock(&a->mu);
	a->reviews++;
	pthread_mutex_unlock(&a->mu);
	if (r < 0) {
		snprintf(why, whysz, "TokenReview failed: %s", strerror(-r));
		return TEL_AUTH_UNAVAILABLE;
	}
	if (!rv.authenticated || !rv.username[0]) {
		rv.authenticated = false;
		rv.username[0] = rv.node[0] = rv.pod_name[0] = rv.pod_uid[0] = '\0';
		until = now + TEL_AUTH_NEGATIVE_TTL_S;
	} else {
		until = now + a->cfg.cache_ttl_s;
	}
	if (exp >= 0 && exp < until)
		until = exp;
	pthread_mutex_lock(&a->mu);
	cache_put(a, key, until, &rv, now);
	pthread_mutex_unlock(&a->mu);
	if (!rv.authenticated) {
		snprintf(why, whysz, "token refused by the API server%s%s", rv.error[0] ? ": " : "",
			 rv.error);
		return TEL_AUTH_UNAUTHENTICATED;
	}
	copy(ret->username, sizeof(ret->username), rv.username);
	copy(ret->node, sizeof(ret->node), rv.node);
	copy(ret->pod_name, sizeof(ret->pod_name), rv.pod_name);
	copy(ret->pod_uid, sizeof(ret->pod_uid), rv.pod_uid);
	return decide(a, ret, why, whysz);
}
