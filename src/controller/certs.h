/* certs.h - the webhook's generated certificates (SPEC §8): a CA and a
 * serving certificate made with OpenSSL, kept in one Secret, renewed
 * before they expire, the CA handed to the ValidatingWebhookConfiguration
 * as its caBundle.
 *
 * Two halves.  certs_* are pure (no I/O, no logging, time passed in) so
 * the decisions are unit-testable; certs_ops_* (certs_ops.h) is the controller's
 * loop that reads and writes the Secret and patches the caBundle, on the
 * leader only.  Key material never reaches a log line or an error text. */
#ifndef PG_CERTS_H
#define PG_CERTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define CERTS_CA_DAYS 3650
#define CERTS_LEAF_DAYS 365
#define CERTS_LEAF_RENEW_S (30 * 86400LL)      /* renew a leaf with less left */
#define CERTS_CA_RENEW_S (365 * 86400LL)       /* a new CA with less left */
#define CERTS_MAX_NAMES 16
#define CERTS_MAX_PEM (64 * 1024)               /* per Secret key */

/* The Secret's keys (tls.crt, tls.key, ca.crt) plus the CA's key, kept
 * in the same Secret as ca.key (the webhook pods mount tls.* only).  PEM,
 * NUL-terminated, owned; any may be NULL.  ca_cert may hold several
 * certificates: the first is the signing CA, the others are CAs still
 * trusted while a replaced CA's leaves are in use. */
struct certs_bundle {
	char *cert;
	char *key;
	char *ca_cert;
	char *ca_key;
};

/* Frees the strings, wiping the keys first; the bundle is left empty.
 * NULL-safe. */
void certs_bundle_clear(struct certs_bundle *b);

/* The DNS names a certificate for these Services in @ns carries: for each
 * service <svc>, <svc>.<ns>, <svc>.<ns>.svc, <svc>.<ns>.svc.cluster.local.
 * NULL or empty services are skipped.  @out has room for CERTS_MAX_NAMES
 * strings, each written to @store (the caller's, @storesz bytes).
 * Returns how many names, or -EINVAL (a name that is not a DNS label,
 * no service) / -E2BIG. */
int certs_dns_names(const char *ns, const char *const *services, size_t nservices,
		    const char *out[CERTS_MAX_NAMES], char *store, size_t storesz);

/* A new CA (EC P-256, CN profileguard-ca, @days from @now, CA:TRUE,
 * keyCertSign) into b->ca_cert and b->ca_key, replacing what they held.
 * 0, -ENOMEM or -EIO (OpenSSL failed). */
int certs_make_ca(struct certs_bundle *b, int64_t now, int days);
/* A new serving certificate (EC P-256, the SANs @names, @days from @now,
 * serverAuth) signed by the first certificate of b->ca_cert with
 * b->ca_key, into b->cert and b->key.  0, -EINVAL (no usable CA), -ENOMEM,
 * -EIO. */
int certs_make_leaf(struct certs_bundle *b, const char *const *names, size_t nnames,
		    int64_t now, int days);

/* What certs_parse() read from the first certificate of a PEM text. */
struct certs_info {
	int64_t not_before, not_after;          /* epoch seconds */
	bool is_ca;                             /* basicConstraints CA:TRUE */
	size_t nnames;
	char names[CERTS_MAX_NAMES][254];       /* DNS SANs */
	bool too_many_names;
};

/* Parses the first certificate of @pem into *ret.  0 or -EINVAL (no
 * certificate, malformed). */
int certs_parse(const char *pem, struct certs_info *ret);
/* Whether the first certificate of @cert_pem was issued and signed by
 * the first certificate of @ca_pem. */
bool certs_signed_by(const char *cert_pem, const char *ca_pem);
/* Whether @key_pem is the private key of the first certificate of
 * @cert_pem. */
bool certs_key_matches(const char *cert_pem, const char *key_pem);

enum certs_verdict {
	CERTS_KEEP,             /* everything is fine */
	CERTS_NEW_LEAF,         /* keep the CA, issue a new serving certificate */
	CERTS_NEW_CA,           /* a new CA and a new serving certificate */
};

/* What to do with @have for the names @names at @now; a reason ("tls.crt
 * expires within 30 days") in @why.  A CA is replaced when it is
 * missing, malformed, not a CA, not matching ca.key, or valid for less
 * than a year; a leaf when missing, malformed, not matching tls.key, not
 * signed by the CA, not naming exactly @names, or valid for less than 30
 * days. */
enum certs_verdict certs_check(const struct certs_bundle *have, const char *const *names,
			       size_t nnames, int64_t now, char *why, size_t whysz);

/* Renews what @verdict says in @b (for CERTS_NEW_CA the previous first CA
 * of b->ca_cert, when it parses and has not expired, stays in ca.crt
 * after the new one, so leaves it signed stay trusted until the webhook
 * loads the new one).  0 or -errno; @b is unchanged on failure. */
int certs_renew(struct certs_bundle *b, enum certs_verdict verdict, const char *const *names,
		size_t nnames, int64_t now);

#endif
