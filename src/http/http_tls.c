/* http_tls.c - the serving certificate store of http_tls.h.  GnuTLS keeps
 * the pointers the retrieve callback returns for the whole session, so a
 * replaced pair is retired, not freed: it is freed once every connection
 * that opened while it (or an older pair) was current has closed.  Open
 * connections are counted per generation of the store, which needs
 * nothing from the TLS session itself (libmicrohttpd owns the session's
 * user pointer and frees the session before its "closed" notification). */
#include "http_tls.h"

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>

#include <gnutls/x509.h>

#include "doc.h"
#include "xalloc.h"

struct tls_pair {
	gnutls_pcert_st pcerts[HTTP_TLS_MAX_CHAIN];
	unsigned npcerts;
	gnutls_privkey_t key;
	int64_t not_after;
};

/* What a file looked like when it was last read. */
struct file_id {
	dev_t dev;
	ino_t ino;
	off_t size;
	struct timespec mtime;
	int err;                        /* stat's errno, 0 when it worked */
};

struct retired {
	struct tls_pair *pair;
	uint64_t generation;            /* the generation it was current in */
};

struct conn_count {
	uint64_t generation;            /* current when these connections opened */
	uint64_t n;
};

struct http_tls_store {
	char *cert_path;
	char *key_path;
	pthread_mutex_t lock;           /* guards everything below but atomics */
	struct tls_pair *cur;
	uint64_t cur_generation;
	struct retired *retired;
	size_t nretired;
	struct conn_count *counts;      /* ascending generations */
	size_t ncounts;
	struct file_id cert_id, key_id; /* of the last attempt, good or bad */
	atomic_uint_least64_t generation;
	_Atomic int64_t not_after;
};

/* The store http_tls_store_retrieve() serves: GnuTLS's callback has no
 * closure, so there is one serving identity per process. */
static _Atomic(struct http_tls_store *) installed;

static int errf(char *err, size_t errsz, int code, const char *fmt, ...)
	__attribute__((format(printf, 4, 5)));

static int errf(char *err, size_t errsz, int code, const char *fmt, ...)
{
	va_list ap;

	if (err && errsz) {
		va_start(ap, fmt);
		vsnprintf(err, errsz, fmt, ap);
		va_end(ap);
	}
	return code;
}

static void pair_free(struct tls_pair *p)
{
	if (!p)
		return;
	for (unsigned i = 0; i < p->npcerts; i++)
		gnutls_pcert_deinit(&p->pcerts[i]);
	if (p->key)
		gnutls_privkey_deinit(p->key);
	pg_free(p);
}

static void file_id_get(const char *path, struct file_id *id)
{
	struct stat st;

	memset(id, 0, sizeof(*id));
	if (stat(path, &st) < 0) {
		id->err = errno;
		return;
	}
	id->dev = st.st_dev;
	id->ino = st.st_ino;
	id->size = st.st_size;
	id->mtime = st.st_mtim;
}

static bool file_id_eq(const struct file_id *a, const struct file_id *b)
{
	return a->err == b->err && a->dev == b->dev && a->ino == b->ino && a->size == b->size &&
	       a->mtime.tv_sec == b->mtime.tv_sec && a->mtime.tv_nsec == b->mtime.tv_nsec;
}

/* The key must be the certificate's: a half-rotated pair (new cert, old
 * key) would fail every handshake. */
static int key_matches(gnutls_privkey_t key, gnutls_pcert_st *leaf)
{
	gnutls_pubkey_t pub = NULL;
	gnutls_datum_t a = { 0 }, b = { 0 };
	int ok = 0;

	if (gnutls_pubkey_init(&pub) < 0)
		return -ENOMEM;
	if (gnutls_pubkey_import_privkey(pub, key, 0, 0) == 0 &&
	    gnutls_pubkey_export2(pub, GNUTLS_X509_FMT_DER, &a) == 0 &&
	    gnutls_pubkey_export2(leaf->pubkey, GNUTLS_X509_FMT_DER, &b) == 0)
		ok = a.size == b.size && memcmp(a.data, b.data, a.size) == 0;
	gnutls_free(a.data);
	gnutls_free(b.data);
	gnutls_pubkey_deinit(pub);
	return ok;
}

/* A PEM file of at most HTTP_TLS_MAX_PEM_BYTES; a larger one is refused
 * naming the cap. */
static int read_pem(const char *path, char **ret, size_t *ret_len, char *err, size_t errsz)
{
	int r = doc_read_file(path, HTTP_TLS_MAX_PEM_BYTES, ret, ret_len);

	if (r == -EFBIG)
		return errf(err, errsz, r, "%s: larger than the cap of %d bytes for a PEM file", path,
			    HTTP_TLS_MAX_PEM_BYTES);
	if (r < 0)
		return errf(err, errsz, r, "%s: %s", path, strerror(-r));
	return 0;
}

static int pair_load(const char *cert_path, const char *key_path, struct tls_pair **ret,
		     char *err, size_t errsz)
{
	struct tls_pair *p;
	char *cert = NULL, *keydata = NULL;
	size_t cert_len = 0, key_len = 0;
	gnutls_datum_t d;
	gnutls_x509_crt_t crt = NULL;
	int r, g;

	r = read_pem(cert_path, &cert, &cert_len, err, errsz);
	if (r < 0)
		return r;
	r = read_pem(key_path, &keydata, &key_len, err, errsz);
	if (r < 0) {
		pg_free(cert);
		return r;
	}
	p = pg_calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	d.data = (unsigned char *)cert;
	d.size = (unsigned)cert_len;
	p->npcerts = HTTP_TLS_MAX_CHAIN;
	/* past the cap the import fails rather than keeping the first ones */
	g = gnutls_pcert_list_import_x509_raw(p->pcerts, &p->npcerts, &d, GNUTLS_X509_FMT_PEM,
					      GNUTLS_X509_CRT_LIST_IMPORT_FAIL_IF_EXCEED);
	if (g == GNUTLS_E_SHORT_MEMORY_BUFFER) {
		p->npcerts = 0;
		r = errf(err, errsz, -E2BIG, "%s: more than the cap of %d certificates in a chain", cert_path,
			 HTTP_TLS_MAX_CHAIN);
		goto out;
	}
	if (g < 0 || p->npcerts == 0) {
		p->npcerts = 0;
		r = errf(err, errsz, -EINVAL, "%s: no usable PEM certificate (%s)", cert_path,
			 g < 0 ? gnutls_strerror(g) : "empty");
		goto out;
	}
	g = gnutls_privkey_init(&p->key);
	if (g < 0) {
		p->key = NULL;
		r = -ENOMEM;
		goto out;
	}
	d.data = (unsigned char *)keydata;
	d.size = (unsigned)key_len;
	g = gnutls_privkey_import_x509_raw(p->key, &d, GNUTLS_X509_FMT_PEM, NULL, 0);
	if (g < 0) {
		r = errf(err, errsz, -EINVAL, "%s: no usable PEM private key (%s)", key_path,
			 gnutls_strerror(g));
		goto out;
	}
	r = key_matches(p->key, &p->pcerts[0]);
	if (r <= 0) {
		r = r < 0 ? r : errf(err, errsz, -EINVAL, "%s does not hold the key of %s", key_path,
				     cert_path);
		goto out;
	}
	p->not_after = -1;
	if (gnutls_pcert_export_x509(&p->pcerts[0], &crt) == 0) {
		p->not_after = (int64_t)gnutls_x509_crt_get_expiration_time(crt);
		gnutls_x509_crt_deinit(crt);
	}
	*ret = p;
	p = NULL;
	r = 0;
out:
	pair_free(p);
	pg_free(cert);
	if (keydata) {
		gnutls_memset(keydata, 0, key_len);
		pg_free(keydata);
	}
	return r;
}

int http_tls_store_new(const char *cert_path, const char *key_path, struct http_tls_store **ret,
		  char *err, size_t errsz)
{
	struct http_tls_store *s;
	int r;

	if (!cert_path || !key_path)
		return errf(err, errsz, -EINVAL, "a certificate and a key are both required");
	s = pg_calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	pthread_mutex_init(&s->lock, NULL);
	s->cert_path = pg_strdup(cert_path);
	s->key_path = pg_strdup(key_path);
	if (!s->cert_path || !s->key_path) {
		http_tls_store_free(s);
		return -ENOMEM;
	}
	file_id_get(cert_path, &s->cert_id);
	file_id_get(key_path, &s->key_id);
	r = pair_load(cert_path, key_path, &s->cur, err, errsz);
	if (r < 0) {
		http_tls_store_free(s);
		return r;
	}
	s->cur_generation = 1;
	atomic_init(&s->generation, 1);
	atomic_init(&s->not_after, s->cur->not_after);
	*ret = s;
	return 0;
}

struct http_tls_store *http_tls_store_free(struct http_tls_store *s)
{
	if (!s)
		return NULL;
	{
		struct http_tls_store *self = s;

		atomic_compare_exchange_strong(&installed, &self, NULL);
	}
	pair_free(s->cur);
	for (size_t i = 0; i < s->nretired; i++)
		pair_free(s->retired[i].pair);
	pg_free(s->retired);
	pg_free(s->counts);
	pg_free(s->cert_path);
	pg_free(s->key_path);
	pthread_mutex_destroy(&s->lock);
	pg_free(s);
	return NULL;
}

/* Under the lock: removes and returns (NULL-terminated by a zero
 * generation) the retired pairs no open connection can hold, i.e. those
 * older than the oldest generation a connection opened in. */
static struct retired *take_unused(struct http_tls_store *s)
{
	uint64_t oldest = s->ncounts ? s->counts[0].generation : UINT64_MAX;
	struct retired *out;
	size_t n = 0, k = 0;

	for (size_t i = 0; i < s->nretired; i++)
		n += s->retired[i].generation < oldest;
	if (!n)
		return NULL;
	out = pg_calloc(n + 1, sizeof(*out));
	if (!out)
		return NULL;            /* freed on a later pass */
	for (size_t i = 0; i < s->nretired; i++) {
		if (s->retired[i].generation < oldest)
			out[k++] = s->retired[i];
		else
			s->retired[i - k] = s->retired[i];
	}
	s->nretired -= k;
	return out;
}

static void release_all(struct retired *list)
{
	for (struct retired *r = list; r && r->pair; r++)
		pair_free(r->pair);
	pg_free(list);
}

int http_tls_store_check(struct http_tls_store *s, char *err, size_t errsz)
{
	struct file_id cid, kid;
	struct tls_pair *p = NULL;
	struct retired *rv, *old;
	int r;

	file_id_get(s->cert_path, &cid);
	file_id_get(s->key_path, &kid);
	pthread_mutex_lock(&s->lock);
	if (file_id_eq(&cid, &s->cert_id) && file_id_eq(&kid, &s->key_id)) {
		pthread_mutex_unlock(&s->lock);
		return 0;
	}
	/* Remember the attempt whatever its outcome: a broken pair is
	 * reported once, and retried when a file moves again. */
	s->cert_id = cid;
	s->key_id = kid;
	pthread_mutex_unlock(&s->lock);

	r = pair_load(s->cert_path, s->key_path, &p, err, errsz);
	if (r < 0)
		return r;
	pthread_mutex_lock(&s->lock);
	rv = pg_realloc(s->retired, (s->nretired + 1) * sizeof(*rv));
	if (!rv) {
		pthread_mutex_unlock(&s->lock);
		pair_free(p);
		return errf(err, errsz, -ENOMEM, "out of memory");
	}
	s->retired = rv;
	s->retired[s->nretired++] = (struct retired){ s->cur, s->cur_generation };
	s->cur = p;
	s->cur_generation++;
	old = take_unused(s);
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->not_after, p->not_after);
	atomic_fetch_add(&s->generation, 1);
	release_all(old);
	return 1;
}

int64_t http_tls_store_not_after(struct http_tls_store *s)
{
	return atomic_load(&s->not_after);
}

uint64_t http_tls_store_generation(struct http_tls_store *s)
{
	return atomic_load(&s->generation);
}

void http_tls_store_install(struct http_tls_store *s)
{
	atomic_store(&installed, s);
}

uint64_t http_tls_store_conn_open(struct http_tls_store *s)
{
	uint64_t gen;
	size_t i;

	pthread_mutex_lock(&s->lock);
	gen = s->cur_generation;
	/* Generations only grow: the current one is last, if present. */
	i = s->ncounts;
	if (i && s->counts[i - 1].generation == gen) {
		s->counts[i - 1].n++;
	} else {
		struct conn_count *c = pg_realloc(s->counts, (i + 1) * sizeof(*c));

		if (c) {
			s->counts = c;
			s->counts[i] = (struct conn_count){ gen, 1 };
			s->ncounts++;
		} else {
			/* Count it against the oldest entry instead: that only
			 * keeps pairs alive longer. */
			gen = s->ncounts ? s->counts[0].generation : 0;
			if (s->ncounts)
				s->counts[0].n++;
		}
	}
	pthread_mutex_unlock(&s->lock);
	return gen;
}

void http_tls_store_conn_close(struct http_tls_store *s, uint64_t generation)
{
	struct retired *unused = NULL;

	pthread_mutex_lock(&s->lock);
	for (size_t i = 0; i < s->ncounts; i++) {
		if (s->counts[i].generation != generation)
			continue;
		if (--s->counts[i].n == 0) {
			memmove(&s->counts[i], &s->counts[i + 1], (s->ncounts - i - 1) * sizeof(*s->counts));
			s->ncounts--;
			if (s->nretired)
				unused = take_unused(s);
		}
		break;
	}
	pthread_mutex_unlock(&s->lock);
	release_all(unused);
}

size_t http_tls_store_retired(struct http_tls_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->lock);
	n = s->nretired;
	pthread_mutex_unlock(&s->lock);
	return n;
}

int http_tls_store_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length,
		       gnutls_privkey_t *pkey)
{
	struct http_tls_store *s = atomic_load(&installed);
	struct tls_pair *p;

	if (!s)
		return -1;
	/* Current now, so no newer than this connection's generation: it
	 * stays allocated until the connection closes. */
	pthread_mutex_lock(&s->lock);
	p = s->cur;
	pthread_mutex_unlock(&s->lock);
	*pcert = p->pcerts;
	*pcert_length = p->npcerts;
	*pkey = p->key;
	return 0;
}
