/* tokens.c - a projected token's claims without its credential.  The
 * payload is decoded into a scratch buffer that is zeroed before it is
 * freed, as is the buffer the file was read into; the claims are copied
 * out as numbers and a UID.  And, for the sampler, the tokens of every pod
 * under the kubelet's pod directory: which are new or renewed since the
 * last sample, and which volumes are gone. */
#include "tokens.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "arena.h"
#include "base64.h"
#include "cgroup.h"
#include "fdio.h"
#include "jval.h"
#include "ktab.h"
#include "xalloc.h"

/* An integer claim; JSON numbers like 1.7e9 are not what the API server
 * writes and are refused with the rest. */
static int int_claim(const struct jval *obj, const char *key, int64_t *ret)
{
	const struct jval *v = jval_get(obj, key);

	if (!v) {
		*ret = -1;
		return 0;
	}
	if (!jval_is_int(v) || v->u.i < 0)
		return -EINVAL;
	*ret = v->u.i;
	return 0;
}

static int claims_of(const struct jval *payload, struct tokens_claims *c)
{
	const struct jval *kio, *pod, *uid;

	if (!jval_is_object(payload))
		return -EINVAL;
	if (int_claim(payload, "iat", &c->iat) < 0 || int_claim(payload, "exp", &c->exp) < 0 ||
	    int_claim(payload, "nbf", &c->nbf) < 0)
		return -EINVAL;
	c->pod_uid[0] = '\0';
	kio = jval_get(payload, "kubernetes.io");
	pod = jval_get(kio, "pod");
	uid = jval_get(pod, "uid");
	if (uid) {
		if (!jval_is_string(uid) || uid->n == 0 || uid->n >= sizeof(c->pod_uid))
			return -EINVAL;
		/* a UID is printable ASCII; keep it so, it ends up in logs */
		for (uint32_t i = 0; i < uid->n; i++)
			if ((unsigned char)uid->u.s[i] <= 0x20 || (unsigned char)uid->u.s[i] >= 0x7f)
				return -EINVAL;
		memcpy(c->pod_uid, uid->u.s, uid->n + 1);
	}
	return 0;
}

int tokens_decode(const char *jwt, size_t len, struct tokens_claims *ret)
{
	const char *p = jwt, *end = jwt + len, *dot1, *dot2;
	const struct jval *payload;
	struct jval_limits lim = { 8, 256 };
	struct jval_error err;
	struct tokens_claims c;
	struct arena *a = NULL;
	unsigned char *dec = NULL;
	size_t plen;
	long n;
	int r;

	if (len > TOKENS_MAX_BYTES)
		return -E2BIG;
	while (p < end && (*p == ' ' || *p == '\n' || *p == '\r' || *p == '\t'))
		p++;
	while (end > p && (end[-1] == ' ' || end[-1] == '\n' || end[-1] == '\r' || end[-1] == '\t'))
		end--;
	dot1 = memchr(p, '.', (size_t)(end - p));
	if (!dot1 || dot1 == p)
		return -EINVAL;
	dot2 = memchr(dot1 + 1, '.', (size_t)(end - dot1 - 1));
	/* header.payload.signature: an unsigned JWT (empty signature) or a
	 * JWE (five segments) is not a projected token */
	if (!dot2 || dot2 == dot1 + 1 || dot2 + 1 == end || memchr(dot2 + 1, '.', (size_t)(end - dot2 - 1)))
		return -EINVAL;
	plen = (size_t)(dot2 - dot1 - 1);
	dec = pg_malloc(plen * 3 / 4 + 1);
	if (!dec)
		return -ENOMEM;
	n = base64url_decode(dot1 + 1, plen, dec);
	if (n < 0) {
		r = -EINVAL;
		goto out;
	}
	a = arena_new(4096);
	if (!a) {
		r = -ENOMEM;
		goto out;
	}
	r = jval_parse((const char *)dec, (size_t)n, &lim, a, &payload, &err);
	if (r == -E2BIG)
		r = -EINVAL;
	if (r < 0)
		goto out;
	/* Whole, padding and the unused tail of pod_uid too: the struct is
	 * copied out, and nothing uninitialised should travel with it. */
	memset(&c, 0, sizeof(c));
	r = claims_of(payload, &c);
	if (r == 0)
		*ret = c;
out:
	/* The payload alone authenticates no one, but its raw bytes are
	 * the token's: leave them nowhere in freed memory. */
	if (dec) {
		explicit_bzero(dec, plen * 3 / 4 + 1);
		pg_free(dec);
	}
	arena_free(a);
	return r;
}

int tokens_read_at(int dirfd, const char *name, struct tokens_claims *ret)
{
	char *text;
	struct stat st;
	size_t len = 0;
	ssize_t n;
	int fd, r = 0;

	fd = openat(dirfd, name, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return -EINVAL;
	}
	if (st.st_size > (off_t)TOKENS_MAX_BYTES) {
		close(fd);
		return -E2BIG;
	}
	text = pg_malloc(TOKENS_MAX_BYTES + 1);
	if (!text) {
		close(fd);
		return -ENOMEM;
	}
	n = fdio_read_full(fd, text, TOKENS_MAX_BYTES + 1);
	if (n < 0)
		r = (int)n;
	else
		len = (size_t)n;
	close(fd);
	if (r == 0)
		r = len > TOKENS_MAX_BYTES ? -E2BIG : tokens_decode(text, len, ret);
	explicit_bzero(text, TOKENS_MAX_BYTES + 1);
	pg_free(text);
	return r;
}

/* ---- the pods' projected tokens, sample by sample -------------------------- */

/* What was last seen and reported of one projected volume's token. */
struct tok {
	char *key;                      /* "<pod uid>/<volume>" */
	size_t uid_len;
	int64_t iat, exp;
	uint64_t gen;
	int last_err;                   /* the problem last told, 0 none */
	bool reported;
};

struct tokens_scan_ctx {
	const struct tokens_sink *sink;
	uint64_t seed, gen;
};

static void tok_warn(const struct tokens_sink *sink, struct tok *t, int err, const char *what,
		     const char *detail)
{
	char uid[CGROUP_POD_UID_MAX + 1];

	if (t->last_err == err)
		return;
	t->last_err = err;
	if (!sink->warn)
		return;
	snprintf(uid, sizeof(uid), "%.*s", (int)t->uid_len, t->key);
	sink->warn(sink->warn_ud, what, uid, t->key + t->uid_len + 1, detail);
}

static int tok_get(struct tokens_seen *ts, uint64_t seed, const char *uid, const char *vol,
		   struct tok **ret)
{
	char key[512];
	int n = snprintf(key, sizeof(key), "%s/%s", uid, vol);
	struct ktab_entry *e;
	struct tok *t;
	uint64_t h;

	if (n < 0 || (size_t)n >= sizeof(key))
		return -EINVAL;
	h = ktab_hash(seed, key, (size_t)n);
	e = ktab_find(&ts->toks, h, key, (size_t)n);
	if (e) {
		*ret = e->val;
		return 0;
	}
	t = pg_calloc(1, sizeof(*t));
	if (!t || !(t->key = pg_strdup(key))) {
		pg_free(t);
		return -ENOMEM;
	}
	t->uid_len = strlen(uid);
	if (ktab_add(&ts->toks, h, t->key, (size_t)n, t) < 0) {
		pg_free(t->key);
		pg_free(t);
		return -ENOMEM;
	}
	*ret = t;
	return 0;
}

static int report_token(struct tokens_seen *ts, const struct tokens_scan_ctx *x, int voldirfd,
			const char *uid, const char *vol)
{
	char path[300];
	struct tokens_claims cl;
	struct tok *t;
	int r;

	if ((size_t)snprintf(path, sizeof(path), "%s/token", vol) >= sizeof(path))
		return 0;
	r = tokens_read_at(voldirfd, path, &cl);
	if (r == -ENOENT)
		return 0;       /* a projected volume without a token file */
	if (r == -ENOMEM)
		return r;
	if (tok_get(ts, x->seed, uid, vol, &t) < 0)
		return 0;
	t->gen = x->gen;
	if (r < 0) {
		tok_warn(x->sink, t, r, "projected token unreadable", strerror(-r));
		return 0;
	}
	if (cl.iat < 0 || cl.exp < 0) {
		tok_warn(x->sink, t, -ENODATA, "projected token without iat or exp", "");
		return 0;
	}
	if (cl.pod_uid[0] && strcmp(cl.pod_uid, uid) != 0)
		tok_warn(x->sink, t, -EXDEV, "projected token bound to another pod", cl.pod_uid);
	else
		t->last_err = 0;
	if (t->reported && t->iat == cl.iat && t->exp == cl.exp)
		return 0;
	r = x->sink->report(x->sink->ud, uid, vol, cl.iat, cl.exp);
	if (r < 0)
		return r;
	t->iat = cl.iat;
	t->exp = cl.exp;
	t->reported = true;
	return 0;
}

static bool is_pod_uid(const char *name)
{
	size_t n = strlen(name);

	if (n != 36 && n != 32)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = n == 36 && (i == 8 || i == 13 || i == 18 || i == 23);
		char ch = name[i];

		if (dash ? ch != '-' : !((ch >= '0' && ch <= '9') || (ch >= 'a' && ch <= 'f')))
			return false;
	}
	return true;
}

static int scan_pod_tokens(struct tokens_seen *ts, const struct tokens_scan_ctx *x, int podsfd,
			   const char *uid)
{
	char path[128];
	struct dirent *de;
	DIR *d;
	int fd, r = 0;

	snprintf(path, sizeof(path), "%s/volumes/kubernetes.io~projected", uid);
	fd = openat(podsfd, path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (fd < 0)
		return 0;
	d = fdopendir(fd);
	if (!d) {
		close(fd);
		return -ENOMEM;
	}
	while (r == 0 && (de = readdir(d)))
		if (de->d_name[0] != '.')
			r = report_token(ts, x, fd, uid, de->d_name);
	closedir(d);
	return r;
}

int tokens_scan(struct tokens_seen *ts, const char *pods_dir, uint64_t seed, uint64_t gen,
		const struct tokens_sink *sink)
{
	const struct tokens_scan_ctx x = { sink, seed, gen };
	struct dirent *de;
	DIR *d;
	int r = 0;

	if (!pods_dir || !*pods_dir)
		return 0;
	d = opendir(pods_dir);
	if (!d)
		return 0;       /* no kubelet here (yet): nothing to read */
	while (r == 0 && (de = readdir(d)))
		if (is_pod_uid(de->d_name))
			r = scan_pod_tokens(ts, &x, dirfd(d), de->d_name);
	closedir(d);
	return r;
}

void tokens_forget(struct tokens_seen *ts, uint64_t gen)
{
	struct ktab keep = { 0 };

	for (size_t i = 0; i < ts->toks.cap; i++) {
		struct ktab_entry *e = &ts->toks.tab[i];
		struct tok *t = e->val;

		if (!e->key)
			continue;
		if (t->gen == gen && ktab_add(&keep, e->h, e->key, e->len, t) == 0)
			continue;
		pg_free(t->key);
		pg_free(t);
	}
	ktab_free(&ts->toks);
	ts->toks = keep;
}

void tokens_seen_free(struct tokens_seen *ts)
{
	for (size_t i = 0; i < ts->toks.cap; i++)
		if (ts->toks.tab[i].key) {
			struct tok *t = ts->toks.tab[i].val;

			pg_free(t->key);
			pg_free(t);
		}
	ktab_free(&ts->toks);
}
