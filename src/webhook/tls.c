/* tls.c - the serving certificate store of webhook_tls.h.  Each loaded
 * pair is refcounted: the store holds one reference, every connection that
 * was served it holds another until it closes, so a rotation frees the old
 * pair only once no session can still point at it (GnuTLS keeps the
 * pointers the retrieve callback returns for the session's life). */
#include "webhook_tls.h"

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
	atomic_uint refs;
	gnutls_pcert_st pcerts[TLS_MAX_CHAIN];
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

struct tls_store {
	char *cert_path;
	char *key_path;
	pthread_mutex_t lock;           /* guards cur and the file ids */
	struct tls_pair *cur;
	struct file_id cert_id, key_id; /* of the last attempt, good or bad */
	atomic_uint_least64_t generation;
	_Atomic int64_t not_after;
};

/* Per connection: the store it asks, the pair it was served. */
struct tls_conn {
	struct tls_store *store;
	struct tls_pair *pair;
};

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

static void pair_release(struct tls_pair *p)
{
	if (!p || atomic_fetch_sub_explicit(&p->refs, 1, memory_order_acq_rel) != 1)
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

static int pair_load(const char *cert_path, const char *key_path, struct tls_pair **ret,
		     char *err, size_t errsz)
{
	struct tls_pair *p;
	char *cert = NULL, *keydata = NULL;
	size_t cert_len = 0, key_len = 0;
	gnutls_datum_t d;
	gnutls_x509_crt_t crt = NULL;
	int r, g;

	r = doc_read_file(cert_path, TLS_MAX_PEM_BYTES, &cert, &cert_len);
	if (r < 0)
		return errf(err, errsz, r, "%s: %s", cert_path, strerror(-r));
	r = doc_read_file(key_path, TLS_MAX_PEM_BYTES, &keydata, &key_len);
	if (r < 0) {
		pg_free(cert);
		return errf(err, errsz, r, "%s: %s", key_path, strerror(-r));
	}
	p = pg_calloc(1, sizeof(*p));
	if (!p) {
		r = -ENOMEM;
		goto out;
	}
	atomic_init(&p->refs, 1);
	d.data = (unsigned char *)cert;
	d.size = (unsigned)cert_len;
	p->npcerts = TLS_MAX_CHAIN;
	g = gnutls_pcert_list_import_x509_raw(p->pcerts, &p->npcerts, &d, GNUTLS_X509_FMT_PEM, 0);
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
	pair_release(p);
	pg_free(cert);
	if (keydata) {
		gnutls_memset(keydata, 0, key_len);
		pg_free(keydata);
	}
	return r;
}

int tls_store_new(const char *cert_path, const char *key_path, struct tls_store **ret,
		  char *err, size_t errsz)
{
	struct tls_store *s;
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
		tls_store_free(s);
		return -ENOMEM;
	}
	file_id_get(cert_path, &s->cert_id);
	file_id_get(key_path, &s->key_id);
	r = pair_load(cert_path, key_path, &s->cur, err, errsz);
	if (r < 0) {
		tls_store_free(s);
		return r;
	}
	atomic_init(&s->generation, 1);
	atomic_init(&s->not_after, s->cur->not_after);
	*ret = s;
	return 0;
}

struct tls_store *tls_store_free(struct tls_store *s)
{
	if (!s)
		return NULL;
	pair_release(s->cur);
	pg_free(s->cert_path);
	pg_free(s->key_path);
	pthread_mutex_destroy(&s->lock);
	pg_free(s);
	return NULL;
}

int tls_store_check(struct tls_store *s, char *err, size_t errsz)
{
	struct file_id cid, kid;
	struct tls_pair *p = NULL, *old;
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
	old = s->cur;
	s->cur = p;
	pthread_mutex_unlock(&s->lock);
	atomic_store(&s->not_after, p->not_after);
	atomic_fetch_add(&s->generation, 1);
	pair_release(old);
	return 1;
}

int64_t tls_store_not_after(struct tls_store *s)
{
	return atomic_load(&s->not_after);
}

uint64_t tls_store_generation(struct tls_store *s)
{
	return atomic_load(&s->generation);
}

int tls_store_conn_attach(struct tls_store *s, gnutls_session_t session)
{
	struct tls_conn *c = pg_calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	c->store = s;
	gnutls_session_set_ptr(session, c);
	return 0;
}

void tls_store_conn_detach(gnutls_session_t session)
{
	struct tls_conn *c = gnutls_session_get_ptr(session);

	if (!c)
		return;
	gnutls_session_set_ptr(session, NULL);
	pair_release(c->pair);
	pg_free(c);
}

int tls_store_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length,
		       gnutls_privkey_t *pkey)
{
	struct tls_conn *c = gnutls_session_get_ptr(session);
	struct tls_pair *p;

	if (!c)
		return -1;
	pthread_mutex_lock(&c->store->lock);
	p = c->store->cur;
	atomic_fetch_add_explicit(&p->refs, 1, memory_order_relaxed);
	pthread_mutex_unlock(&c->store->lock);
	/* A second handshake on the connection moves it to the new pair. */
	pair_release(c->pair);
	c->pair = p;
	*pcert = p->pcerts;
	*pcert_length = p->npcerts;
	*pkey = p->key;
	return 0;
}
