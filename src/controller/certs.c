/* certs.c - the pure half of certs.h: makes the CA and the serving
 * certificate with OpenSSL, reads them back, and decides when to renew.
 * No I/O and no logging; the caller passes the time.  Private keys only
 * ever live in OpenSSL objects and the bundle's strings, which are wiped
 * when freed. */
#include "certs.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include <openssl/bio.h>
#include <openssl/bn.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include "strutil.h"
#include "xalloc.h"

#define CA_CN "profileguard-ca"
#define BACKDATE_S 300          /* clock skew between us and the API server */

static char *wipe_free(char *s)
{
	if (s) {
		OPENSSL_cleanse(s, strlen(s));
		pg_free(s);
	}
	return NULL;
}

void certs_bundle_clear(struct certs_bundle *b)
{
	if (!b)
		return;
	pg_free(b->cert);
	b->key = wipe_free(b->key);
	pg_free(b->ca_cert);
	b->ca_key = wipe_free(b->ca_key);
	b->cert = b->ca_cert = NULL;
}

int certs_dns_names(const char *ns, const char *const *services, size_t nservices,
		    const char *out[CERTS_MAX_NAMES], char *store, size_t storesz)
{
	static const char *const suffixes[] = { NULL, "", ".svc", ".svc.cluster.local" };
	size_t n = 0, used = 0;

	if (!ns || !str_is_dns1123_label(ns))
		return -EINVAL;
	for (size_t i = 0; i < nservices; i++) {
		const char *svc = services[i];

		if (!svc || !*svc)
			continue;
		if (!str_is_dns1123_label(svc))
			return -EINVAL;
		for (size_t f = 0; f < sizeof(suffixes) / sizeof(suffixes[0]); f++) {
			int len;

			if (n == CERTS_MAX_NAMES)
				return -E2BIG;
			if (used >= storesz)
				return -E2BIG;
			len = suffixes[f] ? snprintf(store + used, storesz - used, "%s.%s%s", svc, ns,
						     suffixes[f])
					  : snprintf(store + used, storesz - used, "%s", svc);
			if (len < 0 || (size_t)len >= storesz - used || len > 253)
				return -E2BIG;
			/* The same Service given twice: one set of names. */
			bool dup = false;

			for (size_t k = 0; k < n; k++)
				dup = dup || strcmp(out[k], store + used) == 0;
			if (dup)
				continue;
			out[n++] = store + used;
			used += (size_t)len + 1;
		}
	}
	return n ? (int)n : -EINVAL;
}

/* ---- PEM in and out ------------------------------------------------------ */

static X509 *cert_read(const char *pem)
{
	BIO *bio;
	X509 *x;

	if (!pem || !*pem)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		return NULL;
	x = PEM_read_bio_X509(bio, NULL, NULL, NULL);
	BIO_free(bio);
	return x;
}

static EVP_PKEY *key_read(const char *pem)
{
	BIO *bio;
	EVP_PKEY *k;

	if (!pem || !*pem)
		return NULL;
	bio = BIO_new_mem_buf(pem, -1);
	if (!bio)
		return NULL;
	/* No passphrase callback: an encrypted key is not ours. */
	k = PEM_read_bio_PrivateKey(bio, NULL, NULL, (void *)"");
	BIO_free(bio);
	return k;
}

/* The BIO's contents as a new NUL-terminated string, the BIO wiped. */
static char *bio_take(BIO *bio)
{
	char *data = NULL, *out;
	long len = BIO_get_mem_data(bio, &data);

	if (len <= 0 || !data)
		return NULL;
	out = pg_strndup(data, (size_t)len);
	OPENSSL_cleanse(data, (size_t)len);
	return out;
}

static char *cert_pem(X509 *x)
{
	BIO *bio = BIO_new(BIO_s_mem());
	char *out = NULL;

	if (bio && PEM_write_bio_X509(bio, x))
		out = bio_take(bio);
	BIO_free(bio);
	return out;
}

static char *key_pem(EVP_PKEY *k)
{
	BIO *bio = BIO_new(BIO_s_secmem());
	char *out = NULL;

	if (!bio)
		bio = BIO_new(BIO_s_mem());
	if (bio && PEM_write_bio_PrivateKey(bio, k, NULL, NULL, 0, NULL, NULL))
		out = bio_take(bio);
	BIO_free(bio);
	return out;
}

/* ---- making certificates ------------------------------------------------- */

static int add_ext(X509 *x, X509 *issuer, int nid, const char *value)
{
	X509V3_CTX ctx;
	X509_EXTENSION *ext;
	int ok;

	X509V3_set_ctx(&ctx, issuer, x, NULL, NULL, 0);
	ext = X509V3_EXT_nconf_nid(NULL, &ctx, nid, value);
	if (!ext)
		return -EIO;
	ok = X509_add_ext(x, ext, -1);
	X509_EXTENSION_free(ext);
	return ok ? 0 : -EIO;
}

/* A certificate for @key, subject CN @cn, valid from @now - skew for
 * @days; self-issued when @issuer is NULL.  Extensions are added by the
 * caller before signing. */
static X509 *cert_new(EVP_PKEY *key, const char *cn, X509 *issuer, int64_t now, int days)
{
	unsigned char serial[16];
	X509 *x = X509_new();
	X509_NAME *name = NULL;
	BIGNUM *bn = NULL;
	time_t t = (time_t)now;
	bool ok = false;

	if (!x)
		return NULL;
	/* A random positive 127-bit serial (RFC 5280: at most 20 octets). */
	if (RAND_bytes(serial, sizeof(serial)) != 1)
		goto out;
	serial[0] &= 0x7f;
	serial[0] |= 0x01 << 6;
	bn = BN_bin2bn(serial, sizeof(serial), NULL);
	name = X509_NAME_new();
	if (!bn || !name || !X509_set_version(x, 2) ||
	    !BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)) ||
	    !X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_UTF8, (const unsigned char *)cn, -1,
					-1, 0) ||
	    !X509_set_subject_name(x, name) ||
	    !X509_set_issuer_name(x, issuer ? X509_get_subject_name(issuer) : name) ||
	    !X509_time_adj_ex(X509_getm_notBefore(x), 0, -BACKDATE_S, &t) ||
	    !X509_time_adj_ex(X509_getm_notAfter(x), days, 0, &t) ||
	    !X509_set_pubkey(x, key))
		goto out;
	ok = true;
out:
	BN_free(bn);
	X509_NAME_free(name);
	if (!ok) {
		X509_free(x);
		return NULL;
	}
	return x;
}

/* PEM-encodes @x and @key into @cert_slot and @key_slot, freeing (the key
 * wiped) what they held.  0 or -ENOMEM, the slots untouched on failure. */
static int store_pair(X509 *x, EVP_PKEY *key, char **cert_slot, char **key_slot)
{
	char *cpem = cert_pem(x), *kpem = key_pem(key);

	if (!cpem || !kpem) {
		pg_free(cpem);
		wipe_free(kpem);
		return -ENOMEM;
	}
	pg_free(*cert_slot);
	wipe_free(*key_slot);
	*cert_slot = cpem;
	*key_slot = kpem;
	return 0;
}

int certs_make_ca(struct certs_bundle *b, int64_t now, int days)
{
	EVP_PKEY *key = EVP_EC_gen("P-256");
	X509 *x = NULL;
	int r = -EIO;

	if (!key)
		goto out;
	x = cert_new(key, CA_CN, NULL, now, days);
	if (!x || add_ext(x, x, NID_basic_constraints, "critical,CA:TRUE") < 0 ||
	    add_ext(x, x, NID_key_usage, "critical,keyCertSign,cRLSign") < 0 ||
	    add_ext(x, x, NID_subject_key_identifier, "hash") < 0 ||
	    !X509_sign(x, key, EVP_sha256()))
		goto out;
	r = store_pair(x, key, &b->ca_cert, &b->ca_key);
out:
	X509_free(x);
	EVP_PKEY_free(key);
	return r;
}

int certs_make_leaf(struct certs_bundle *b, const char *const *names, size_t nnames,
		    int64_t now, int days)
{
	X509 *ca = cert_read(b->ca_cert), *x = NULL;
	EVP_PKEY *ca_key = key_read(b->ca_key), *key = NULL;
	char san[CERTS_MAX_NAMES * 260] = "";
	size_t used = 0;
	int r = -EINVAL;

	if (!ca || !ca_key || !nnames || nnames > CERTS_MAX_NAMES ||
	    X509_check_private_key(ca, ca_key) != 1)
		goto out;
	for (size_t i = 0; i < nnames; i++) {
		int len = snprintf(san + used, sizeof(san) - used, "%sDNS:%s", i ? "," : "",
				   names[i]);

		if (len < 0 || (size_t)len >= sizeof(san) - used || strchr(names[i], ','))
			goto out;
		used += (size_t)len;
	}
	r = -EIO;
	key = EVP_EC_gen("P-256");
	if (!key)
		goto out;
	x = cert_new(key, names[0], ca, now, days);
	if (!x || add_ext(x, ca, NID_basic_constraints, "critical,CA:FALSE") < 0 ||
	    add_ext(x, ca, NID_key_usage, "critical,digitalSignature") < 0 ||
	    add_ext(x, ca, NID_ext_key_usage, "serverAuth") < 0 ||
	    add_ext(x, ca, NID_subject_alt_name, san) < 0 ||
	    add_ext(x, ca, NID_authority_key_identifier, "keyid:always") < 0 ||
	    !X509_sign(x, ca_key, EVP_sha256()))
		goto out;
	r = store_pair(x, key, &b->cert, &b->key);
out:
	X509_free(x);
	X509_free(ca);
	EVP_PKEY_free(key);
	EVP_PKEY_free(ca_key);
	return r;
}

/* ---- reading them back --------------------------------------------------- */

static int asn1_epoch(const ASN1_TIME *t, int64_t *ret)
{
	struct tm tm;

	if (!t || !ASN1_TIME_to_tm(t, &tm))
		return -EINVAL;
	*ret = (int64_t)timegm(&tm);
	return 0;
}

int certs_parse(const char *pem, struct certs_info *ret)
{
	X509 *x = cert_read(pem);
	GENERAL_NAMES *gens = NULL;
	BASIC_CONSTRAINTS *bc = NULL;
	int r = -EINVAL;

	memset(ret, 0, sizeof(*ret));
	if (!x)
		return -EINVAL;
	if (asn1_epoch(X509_get0_notBefore(x), &ret->not_before) < 0 ||
	    asn1_epoch(X509_get0_notAfter(x), &ret->not_after) < 0)
		goto out;
	bc = X509_get_ext_d2i(x, NID_basic_constraints, NULL, NULL);
	ret->is_ca = bc && bc->ca;
	gens = X509_get_ext_d2i(x, NID_subject_alt_name, NULL, NULL);
	for (int i = 0; gens && i < sk_GENERAL_NAME_num(gens); i++) {
		const GENERAL_NAME *g = sk_GENERAL_NAME_value(gens, i);
		const unsigned char *s;
		int len;

		if (g->type != GEN_DNS)
			continue;
		s = ASN1_STRING_get0_data(g->d.dNSName);
		len = ASN1_STRING_length(g->d.dNSName);
		if (ret->nnames == CERTS_MAX_NAMES || len <= 0 ||
		    (size_t)len >= sizeof(ret->names[0]) || memchr(s, '\0', (size_t)len)) {
			ret->too_many_names = true;
			continue;
		}
		memcpy(ret->names[ret->nnames], s, (size_t)len);
		ret->names[ret->nnames++][len] = '\0';
	}
	r = 0;
out:
	GENERAL_NAMES_free(gens);
	BASIC_CONSTRAINTS_free(bc);
	X509_free(x);
	return r;
}

bool certs_signed_by(const char *cert_pem, const char *ca_pem)
{
	X509 *x = cert_read(cert_pem), *ca = cert_read(ca_pem);
	EVP_PKEY *pub = ca ? X509_get0_pubkey(ca) : NULL;
	bool ok = x && pub && X509_check_issued(ca, x) == X509_V_OK && X509_verify(x, pub) == 1;

	X509_free(x);
	X509_free(ca);
	return ok;
}

bool certs_key_matches(const char *cert_pem, const char *key_pem)
{
	X509 *x = cert_read(cert_pem);
	EVP_PKEY *k = key_read(key_pem);
	bool ok = x && k && X509_check_private_key(x, k) == 1;

	X509_free(x);
	EVP_PKEY_free(k);
	return ok;
}

/* ---- deciding -------------------------------------------------------------- */

static bool same_names(const struct certs_info *ci, const char *const *names, size_t n)
{
	if (ci->too_many_names || ci->nnames != n)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool found = false;

		for (size_t k = 0; k < ci->nnames && !found; k++)
			found = strcmp(ci->names[k], names[i]) == 0;
		if (!found)
			return false;
	}
	return true;
}

enum certs_verdict certs_check(const struct certs_bundle *have, const char *const *names,
			       size_t nnames, int64_t now, char *why, size_t whysz)
{
	struct certs_info ci;

#define VERDICT(v, ...) do { snprintf(why, whysz, __VA_ARGS__); return (v); } while (0)
	if (!have->ca_cert || !have->ca_key)
		VERDICT(CERTS_NEW_CA, "no CA yet");
	if (certs_parse(have->ca_cert, &ci) < 0)
		VERDICT(CERTS_NEW_CA, "ca.crt is not a PEM certificate");
	if (!ci.is_ca)
		VERDICT(CERTS_NEW_CA, "ca.crt is not a CA");
	if (!certs_key_matches(have->ca_cert, have->ca_key))
		VERDICT(CERTS_NEW_CA, "ca.key does not match ca.crt");
	if (ci.not_after - now < CERTS_CA_RENEW_S)
		VERDICT(CERTS_NEW_CA, "the CA expires within a year");
	if (ci.not_before > now + BACKDATE_S)
		VERDICT(CERTS_NEW_CA, "the CA is not valid yet");
	if (!have->cert || !have->key)
		VERDICT(CERTS_NEW_LEAF, "no serving certificate yet");
	if (certs_parse(have->cert, &ci) < 0)
		VERDICT(CERTS_NEW_LEAF, "tls.crt is not a PEM certificate");
	if (!certs_key_matches(have->cert, have->key))
		VERDICT(CERTS_NEW_LEAF, "tls.key does not match tls.crt");
	if (!certs_signed_by(have->cert, have->ca_cert))
		VERDICT(CERTS_NEW_LEAF, "tls.crt is not signed by the CA in ca.crt");
	if (!same_names(&ci, names, nnames))
		VERDICT(CERTS_NEW_LEAF, "tls.crt does not name the services");
	if (ci.not_after - now < CERTS_LEAF_RENEW_S)
		VERDICT(CERTS_NEW_LEAF, "tls.crt expires within 30 days");
	if (ci.not_before > now + BACKDATE_S)
		VERDICT(CERTS_NEW_LEAF, "tls.crt is not valid yet");
	VERDICT(CERTS_KEEP, "valid");
#undef VERDICT
}

/* The first PEM certificate block of @pem: a pointer into it and its
 * length (through the END line and its newline). */
static size_t first_block(const char *pem)
{
	static const char end[] = "-----END CERTIFICATE-----";
	const char *e = pem ? strstr(pem, end) : NULL;

	if (!e)
		return 0;
	e += sizeof(end) - 1;
	if (*e == '\n')
		e++;
	return (size_t)(e - pem);
}

int certs_renew(struct certs_bundle *b, enum certs_verdict verdict, const char *const *names,
		size_t nnames, int64_t now)
{
	struct certs_bundle nb = { 0 };
	struct certs_info old;
	int r = -ENOMEM;

	if (verdict == CERTS_KEEP)
		return 0;
	if (verdict == CERTS_NEW_CA) {
		r = certs_make_ca(&nb, now, CERTS_CA_DAYS);
		if (r < 0)
			goto out;
		/* The old CA, still valid, stays trusted next to the new one. */
		if (certs_parse(b->ca_cert, &old) == 0 && old.is_ca && old.not_after > now) {
			size_t n = first_block(b->ca_cert), have = strlen(nb.ca_cert);
			char *both = n ? pg_malloc(have + n + 2) : NULL;

			if (n && !both) {
				r = -ENOMEM;
				goto out;
			}
			if (both) {
				memcpy(both, nb.ca_cert, have);
				memcpy(both + have, b->ca_cert, n);
				both[have + n] = '\0';
				if (both[have + n - 1] != '\n') {
					both[have + n] = '\n';
					both[have + n + 1] = '\0';
				}
				pg_free(nb.ca_cert);
				nb.ca_cert = both;
			}
		}
	} else {
		r = -ENOMEM;
		if (!(nb.ca_cert = pg_strdup(b->ca_cert)) || !(nb.ca_key = pg_strdup(b->ca_key)))
			goto out;
	}
	r = certs_make_leaf(&nb, names, nnames, now, CERTS_LEAF_DAYS);
	if (r < 0)
		goto out;
	certs_bundle_clear(b);
	*b = nb;
	return 0;
out:
	certs_bundle_clear(&nb);
	return r;
}
