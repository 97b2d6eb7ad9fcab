/* http_tls.h - a serving certificate and key that follow their files.
 * Kubernetes Secret volumes swap a `..data` symlink and cert-manager
 * rewrites in place, so the pair is re-read whenever either file's inode,
 * size or mtime moves; every TLS handshake asks for the current pair
 * (GnuTLS's certificate retrieve callback), so a rotation needs no
 * restart and drops no connection; a replaced pair is freed once the
 * connections that may use it have closed.  A pair that does not load (unreadable,
 * bad PEM, key not matching the certificate) is reported and the previous
 * one kept.  Also used by the controller's telemetry listener. */
#ifndef PG_HTTP_TLS_H
#define PG_HTTP_TLS_H

#include <gnutls/abstract.h>
#include <gnutls/gnutls.h>
#include <stdint.h>

struct http_tls_store;

/* Caps on what the files may hold: past them a pair is refused (the
 * reason names the cap), never cut. */
#define HTTP_TLS_MAX_CHAIN 8                    /* certificates, leaf included */
#define HTTP_TLS_MAX_PEM_BYTES (1024 * 1024)    /* per file */

/* Loads @cert_path (PEM, leaf first, chain after) and @key_path (PEM).
 * 0 with *ret set; -errno with a one-line reason in @err. */
int http_tls_store_new(const char *cert_path, const char *key_path, struct http_tls_store **ret,
		  char *err, size_t errsz);
/* NULL-safe.  Pairs still used by open connections live on until those
 * close; call after the server has stopped.  Returns NULL. */
struct http_tls_store *http_tls_store_free(struct http_tls_store *s);

/* Re-reads the pair when a file changed since the last attempt.  Returns
 * 0 when nothing changed, 1 when a new pair is now served, -errno with
 * @err filled when the changed files do not load (the old pair stays; the
 * same files are not retried until they change again). */
int http_tls_store_check(struct http_tls_store *s, char *err, size_t errsz);

/* The current certificate's notAfter (seconds since the epoch) and the
 * number of pairs loaded so far (1 after http_tls_store_new). */
int64_t http_tls_store_not_after(struct http_tls_store *s);
uint64_t http_tls_store_generation(struct http_tls_store *s);

/* Makes @s the store http_tls_store_retrieve() serves (GnuTLS's callback has
 * no closure: one serving identity per process). */
void http_tls_store_install(struct http_tls_store *s);

/* Per connection, from the server's connection notifications: open
 * returns a token (the store's generation) that close gives back.  Never
 * touches the TLS session, which the HTTP library owns. */
uint64_t http_tls_store_conn_open(struct http_tls_store *s);
void http_tls_store_conn_close(struct http_tls_store *s, uint64_t token);
/* Replaced pairs not yet freed because connections may still use them. */
size_t http_tls_store_retired(struct http_tls_store *s);

/* The gnutls_certificate_retrieve_function2 to give the server (MHD
 * option MHD_OPTION_HTTPS_CERT_CALLBACK): serves the installed store's
 * current pair. */
int http_tls_store_retrieve(gnutls_session_t session, const gnutls_datum_t *req_ca_dn, int nreqs,
		       const gnutls_pk_algorithm_t *pk_algos, int pk_algos_length,
		       gnutls_pcert_st **pcert, unsigned int *pcert_length,
		       gnutls_privkey_t *pkey);

#endif
