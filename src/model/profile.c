/* profile.c - WorkloadProfile validation and the compact profile form.
 * Validation collects every problem with its field path instead of
 * stopping at the first, so a user fixes a profile in one round. */
#include "profile.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "arena.h"
#include "errlist.h"
#include "fpath.h"
#include "jval.h"
#include "mctx.h"
#include "strutil.h"
#include "xalloc.h"

#define PROFILE_API_VERSION "profileguard.io/v1alpha1"
#define PROFILE_KIND "WorkloadProfile"

/* Strings are read with jval_cstr(): one holding U+0000 is still a string
 * here, read up to the NUL, because check_nul() refuses the profile and
 * names the field; the other messages stay what they are for the part
 * before it. */

static void check_keys(struct mctx *c, const struct jval *obj, const char *const *allowed)
{
	jval_foreach_member(obj, mem) {
		const char *const *a, *k = mem->key;

		for (a = allowed; *a; a++)
			if (strcmp(*a, k) == 0)
				break;
		if (!*a) {
			size_t m = fpath_key(&c->path, k);
			const char *near = str_closest(k, allowed, SIZE_MAX);

			if (near)
				mctx_err(c, "unknown field (did you mean \"%s\"?)", near);
			else
				mctx_err(c, "unknown field");
			fpath_pop(&c->path, m);
		}
	}
}

/* Descends into @key of @obj; NULL (and nothing pushed) when absent or
 * null; an error when present but not an object. */
static const struct jval *enter_object(struct mctx *c, const struct jval *obj, const char *key, size_t *mark)
{
	const struct jval *v = jval_get(obj, key);

	if (!v || jval_is_null(v))
		return NULL;
	*mark = fpath_key(&c->path, key);
	if (!jval_is_object(v)) {
		mctx_err(c, "must be an object");
		fpath_pop(&c->path, *mark);
		return NULL;
	}
	return v;
}

static void get_knob(struct mctx *c, const struct jval *obj, const char *key, const char *allow_word,
		     const char *forbid_word, enum knob *ret)
{
	const struct jval *v = jval_get(obj, key);
	size_t m;
	char tmp[256];

	*ret = KNOB_UNSET;
	if (!v || jval_is_null(v))
		return;
	m = fpath_key(&c->path, key);
	if (jval_cstr(v) && strcmp(jval_cstr(v), allow_word) == 0)
		*ret = KNOB_ALLOW;
	else if (jval_cstr(v) && strcmp(jval_cstr(v), forbid_word) == 0)
		*ret = KNOB_FORBID;
	else if (jval_cstr(v))
		mctx_err(c, "%s must be %s or %s", str_quote(jval_cstr(v), tmp, sizeof(tmp)),
		     forbid_word, allow_word);
	else
		mctx_err(c, "must be %s or %s", forbid_word, allow_word);
	fpath_pop(&c->path, m);
}

static void get_int(struct mctx *c, const struct jval *obj, const char *key, int64_t min, int64_t max,
		    int64_t *ret)
{
	const struct jval *v = jval_get(obj, key);
	size_t m;

	*ret = -1;
	if (!v || jval_is_null(v))
		return;
	m = fpath_key(&c->path, key);
	if (!jval_is_int(v))
		mctx_err(c, "must be an integer");
	else if (v->u.i < min || v->u.i > max)
		mctx_err(c, "%lld is out of range [%lld, %lld]", (long long)v->u.i,
		     (long long)min, (long long)max);
	else
		*ret = v->u.i;
	fpath_pop(&c->path, m);
}

typedef bool (*str_check)(struct mctx *c, const char *s, char *out, size_t outsz);

/* Reads a list of strings; @check may rewrite an item into @out (e.g. to
 * normalise it) and reports its own error.  Absent: set=false. */
static void get_strv(struct mctx *c, const struct jval *obj, const char *key, str_check check,
		     struct strv *ret)
{
	const struct jval *arr = jval_get(obj, key);
	size_t m, i;
	const struct jval *v;

	memset(ret, 0, sizeof(*ret));
	if (!arr || jval_is_null(arr))
		return;
	m = fpath_key(&c->path, key);
	ret->set = true;
	if (!jval_is_array(arr)) {
		mctx_err(c, "must be a list of strings");
		goto out;
	}
	if (jval_size(arr) > PROFILE_MAX_LIST) {
		mctx_err(c, "more than %d items (profileguard's limit)", PROFILE_MAX_LIST);
		goto out;
	}
	ret->v = arena_alloc(c->a, (jval_size(arr) + 1) * sizeof(char *));
	if (!ret->v) {
		c->oom = true;
		goto out;
	}
	jval_foreach_item(arr, i, v) {
		size_t mi = fpath_index(&c->path, i);
		char out[PROFILE_MAX_STRING + 2];
		const char *s;

		if (!jval_cstr(v) || !*jval_cstr(v)) {
			mctx_err(c, "must be a non-empty string");
		} else if (strlen(jval_cstr(v)) > PROFILE_MAX_STRING) {
			mctx_err(c, "longer than %d bytes (profileguard's limit)", PROFILE_MAX_STRING);
		} else {
			s = jval_cstr(v);
			snprintf(out, sizeof(out), "%s", s);
			if (!check || check(c, s, out, sizeof(out))) {
				if (!(ret->v[ret->n++] = arena_strdup(c->a, out)))
					c->oom = true;
			}
		}
		fpath_pop(&c->path, mi);
	}
out:
	fpath_pop(&c->path, m);
}

static bool check_sa_name(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];

	if (str_is_dns1123_subdomain(s))
		return true;
	mctx_err(c, "%s is not a valid service account name", str_quote(s, tmp, sizeof(tmp)));
	return false;
}

static bool check_capability(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];
	size_t n;

	if (str_has_prefix(s, "CAP_") || str_has_prefix(s, "cap_"))
		s += 4;
	n = strlen(s);
	if (n == 0 || n > 64)
		goto bad;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];

		if (ch >= 'a' && ch <= 'z')
			ch = (char)(ch - 'a' + 'A');
		if (!((ch >= 'A' && ch <= 'Z') || ch == '_' || (ch >= '0' && ch <= '9')))
			goto bad;
		out[i] = ch;
	}
	out[n] = '\0';
	return true;
bad:
	mctx_err(c, "%s is not a capability name", str_quote(s, tmp, sizeof(tmp)));
	return false;
}

static bool check_host_path(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];

	if (path_clean(s, out, outsz) < 0) {
		mctx_err(c, "%s must be an absolute path", str_quote(s, tmp, sizeof(tmp)));
		return false;
	}
	return true;
}

static bool check_abs_pattern(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];

	if (s[0] == '/' || s[0] == '*')
		return true;
	mctx_err(c, "%s must be an absolute path or start with *", str_quote(s, tmp, sizeof(tmp)));
	return false;
}

/* A registry host as the normaliser tells one (model/image.c): a '.' or
 * a ':' or upper case, or "localhost"; else a Docker Hub user. */
static bool image_is_host(const char *s, size_t n)
{
	if (n == 9 && memcmp(s, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':' || (s[i] >= 'A' && s[i] <= 'Z'))
			return true;
	return false;
}

/* Inserts @ins at @at of the string @s of @n bytes (room checked). */
static bool str_insert(char *s, size_t n, size_t at, const char *ins)
{
	size_t len = strlen(s), k = strlen(ins);

	if (len + k + 1 > n)
		return false;
	memmove(s + at + k, s + at, len - at + 1);
	memcpy(s + at, ins, k);
	return true;
}

/* A wildcard pattern is matched against normalised references
 * (SPEC §2): "docker.io/library/redis:7", never "redis:7".  True when
 * the pattern's literal text rules out every normalised reference, with
 * the pattern that was meant in @fix.  Only what normalisation itself
 * rules out is judged: the first component, when literal, must be a
 * registry host (else "docker.io/" is missing; index.docker.io is
 * docker.io); a pattern without any '/' reads as Docker reads "redis:7"
 * (a name, then a tag or digest), so "redis:*" misses
 * "docker.io/library/"; on docker.io a single-component name misses
 * "library/"; and a tag beside a digest is dropped by the normaliser,
 * so ".../app:1@sha256:*" matches nothing.  A pattern without wildcards
 * is normalised before it is compared, so it is never judged here. */
static bool image_pattern_hopeless(const char *s, char *fix, size_t n)
{
	const char *wild = strpbrk(s, "*?"), *slash = strchr(s, '/');
	size_t lit = wild ? (size_t)(wild - s) : 0;
	char *p, *colon, *at;

	if (!wild || (size_t)snprintf(fix, n, "%s", s) >= n)
		return false;
	if (slash && (size_t)(slash - s) < lit) {
		size_t first = (size_t)(slash - s);

		if (first == strlen("index.docker.io") && memcmp(s, "index.docker.io", first) == 0)
			memmove(fix, fix + strlen("index."), strlen(fix + strlen("index.")) + 1);
		else if (!image_is_host(s, first) && !str_insert(fix, n, 0, "docker.io/"))
			return false;
	} else if (!slash && lit > 0) {
		size_t name = strcspn(s, ":@");

		if (name > 0 && name < lit && !image_is_host(s, name) && !str_insert(fix, n, 0, "docker.io/library/"))
			return false;
	}
	if (strncmp(fix, "docker.io/", strlen("docker.io/")) == 0) {
		const char *rest = fix + strlen("docker.io/");
		size_t k = strcspn(rest, "/:@*?");

		if (k > 0 && (rest[k] == ':' || rest[k] == '@') &&
		    !str_insert(fix, n, strlen("docker.io/"), "library/"))
			return false;
	}
	/* A ':' after a '/' and before the '@' can only be a tag. */
	p = strchr(fix, '/');
	colon = p ? strchr(p, ':') : NULL;
	at = colon ? strchr(colon, '@') : NULL;
	if (at)
		memmove(colon, at, strlen(at) + 1);
	return strcmp(fix, s) != 0;
}

static bool check_image_pattern(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256], tmp2[256], fix[PROFILE_MAX_STRING + 32];

	for (const char *p = s; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f) {
			mctx_err(c, "%s contains a space or control character", str_quote(s, tmp, sizeof(tmp)));
			return false;
		}
	if (image_pattern_hopeless(s, fix, sizeof(fix))) {
		mctx_err(c, "%s can never match: references are normalised, write %s", str_quote(s, tmp, sizeof(tmp)),
		     str_quote(fix, tmp2, sizeof(tmp2)));
		return false;
	}
	return true;
}

bool profile_verb_valid(const char *s)
{
	static const char *const verbs[] = { "get", "list", "watch", "create", "update",
					     "patch", "delete", "deletecollection", NULL };

	for (const char *const *v = verbs; *v; v++)
		if (strcmp(*v, s) == 0)
			return true;
	return false;
}

static bool check_verb(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];

	if (strcmp(s, "*") == 0 || profile_verb_valid(s))
		return true;
	mctx_err(c, "%s is not a Kubernetes verb (get, list, watch, create, update, patch, delete, deletecollection, *)",
	     str_quote(s, tmp, sizeof(tmp)));
	return false;
}

static bool check_resource(struct mctx *c, const char *s, char *out, size_t outsz)
{
	char tmp[256];

	/* "resource", "group/resource", "resource/sub", "group/resource/sub",
	 * or "*": lower-case DNS-ish segments, at most three. */
	int slashes = 0;

	if (strcmp(s, "*") == 0)
		return true;
	for (const char *p = s; *p; p++) {
		if (*p == '/')
			slashes++;
		else if (!((*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') || *p == '.' ||
			   *p == '-' || *p == '*'))
			goto bad;
	}
	if (slashes <= 2 && s[0] != '/' && !str_has_suffix(s, "/") && !strstr(s, "//"))
		return true;
bad:
	mctx_err(c, "%s is not a resource (\"configmaps\", \"apps/deployments\", \"pods/log\")",
	     str_quote(s, tmp, sizeof(tmp)));
	return false;
}

/* ---- sections ------------------------------------------------------------- */

static void parse_identity(struct mctx *c, const struct jval *spec, struct profile *p)
{
	static const char *const keys[] = { "serviceAccountNames", "bindServiceAccounts",
					     "tokenAutomount", "maxTokenExpirationSeconds",
					     "extendedTokens", "legacyTokenSecrets",
					     "maxTokenAgeSeconds", "maxRisk", NULL };
	static const char *const risks[] = { "Low", "Medium", "High", "Critical" };
	size_t m, mm;
	const struct jval *o = enter_object(c, spec, "identity", &m), *bind;

	p->identity.max_token_expiration = -1;
	p->identity.max_token_age = -1;
	p->identity.bind_service_accounts = true;
	if (!o)
		return;
	p->identity.set = true;
	check_keys(c, o, keys);
	get_strv(c, o, "serviceAccountNames", check_sa_name, &p->identity.service_accounts);
	bind = jval_get(o, "bindServiceAccounts");
	if (bind && !jval_is_null(bind)) {
		mm = fpath_key(&c->path, "bindServiceAccounts");
		if (!jval_is_bool(bind))
			mctx_err(c, "must be true or false");
		else
			p->identity.bind_service_accounts = jval_is_true(bind);
		fpath_pop(&c->path, mm);
	}
	get_knob(c, o, "tokenAutomount", "Allow", "Forbid", &p->identity.token_automount);
	/* The API server accepts expirationSeconds from 600 s to 2^32 s. */
	get_int(c, o, "maxTokenExpirationSeconds", 600, 4294967296LL, &p->identity.max_token_expiration);
	get_knob(c, o, "extendedTokens", "Allow", "Forbid", &p->identity.extended_tokens);
	get_knob(c, o, "legacyTokenSecrets", "Allow", "Forbid", &p->identity.legacy_token_secrets);
	get_int(c, o, "maxTokenAgeSeconds", 1, 4294967296LL, &p->identity.max_token_age);
	p->identity.max_risk = PROFILE_RISK_UNSET;
	bind = jval_get(o, "maxRisk");
	if (bind && !jval_is_null(bind)) {
		char tmp[256];

		mm = fpath_key(&c->path, "maxRisk");
		for (int i = 0; i < 4 && jval_cstr(bind); i++)
			if (!strcmp(jval_cstr(bind), risks[i]))
				p->identity.max_risk = (int8_t)(i + 1);
		if (p->identity.max_risk == PROFILE_RISK_UNSET && jval_cstr(bind))
			mctx_err(c, "%s must be Low, Medium, High or Critical", str_quote(jval_cstr(bind), tmp, sizeof(tmp)));
		else if (p->identity.max_risk == PROFILE_RISK_UNSET)
			mctx_err(c, "must be Low, Medium, High or Critical");
		fpath_pop(&c->path, mm);
	}
	fpath_pop(&c->path, m);
}

static void parse_images(struct mctx *c, const struct jval *spec, struct profile *p)
{
	static const char *const keys[] = { "allow", "requireDigest", NULL };
	size_t m, mm;
	const struct jval *o = enter_object(c, spec, "images", &m), *rd;

	if (!o)
		return;
	check_keys(c, o, keys);
	get_strv(c, o, "allow", check_image_pattern, &p->images.allow);
	rd = jval_get(o, "requireDigest");
	if (rd && !jval_is_null(rd)) {
		mm = fpath_key(&c->path, "requireDigest");
		if (!jval_is_bool(rd))
			mctx_err(c, "must be true or false");
		else
			p->images.require_digest = jval_is_true(rd);
		fpath_pop(&c->path, mm);
	}
	fpath_pop(&c->path, m);
}

static void parse_privileges(struct mctx *c, const struct jval *spec, struct profile *p)
{
	static const char *const keys[] = { "privileged", "privilegeEscalation", "hostNamespaces",
					     "runAsNonRoot", "allowedCapabilities",
					     "allowedHostPaths", NULL };
	size_t m;
	const struct jval *o = enter_object(c, spec, "privileges", &m);

	if (!o)
		return;
	check_keys(c, o, keys);
	get_knob(c, o, "privileged", "Allow", "Forbid", &p->privileges.privileged);
	get_knob(c, o, "privilegeEscalation", "Allow", "Forbid", &p->privileges.privilege_escalation);
	get_knob(c, o, "hostNamespaces", "Allow", "Forbid", &p->privileges.host_namespaces);
	get_knob(c, o, "runAsNonRoot", "Any", "Require", &p->privileges.run_as_non_root);
	get_strv(c, o, "allowedCapabilities", check_capability, &p->privileges.capabilities);
	get_strv(c, o, "allowedHostPaths", check_host_path, &p->privileges.host_paths);
	fpath_pop(&c->path, m);
}

/* Enters the list @key of rules: NULL when absent (nothing pushed) or
 * refused (an error, nothing pushed); otherwise *ret_v is an arena array
 * of its length + 1 elements of @elem bytes and *mark is to be popped. */
static const struct jval *enter_rules(struct mctx *c, const struct jval *obj, const char *key, size_t elem,
			   void **ret_v, bool *ret_set, size_t *mark)
{
	const struct jval *arr = jval_get(obj, key);

	if (!arr || jval_is_null(arr))
		return NULL;
	*ret_set = true;
	*mark = fpath_key(&c->path, key);
	if (!jval_is_array(arr))
		mctx_err(c, "must be a list");
	else if (jval_size(arr) > PROFILE_MAX_LIST)
		mctx_err(c, "more than %d rules (profileguard's limit)", PROFILE_MAX_LIST);
	else if (!(*ret_v = arena_alloc(c->a, (jval_size(arr) + 1) * elem)))
		c->oom = true;
	else
		return arr;
	fpath_pop(&c->path, *mark);
	return NULL;
}

static void parse_egress(struct mctx *c, const struct jval *rt, struct profile *p)
{
	static const char *const keys[] = { "cidr", "ports", NULL };
	void *v = NULL;
	size_t m, i;
	const struct jval *arr = enter_rules(c, rt, "egress", sizeof(struct egress_rule), &v,
				  &p->runtime.egress_set, &m), *e;
	char tmp[256];

	if (!arr)
		return;
	p->runtime.egress = v;
	jval_foreach_item(arr, i, e) {
		struct egress_rule *r = &p->runtime.egress[p->runtime.negress];
		size_t mi = fpath_index(&c->path, i), mk;
		const struct jval *cidr, *ports;
		bool ok = true;

		/* A refused rule leaves its slot to the next one: nothing of it
		 * (its port count above all) may carry over. */
		memset(r, 0, sizeof(*r));
		if (!jval_is_object(e)) {
			mctx_err(c, "must be an object with cidr and ports");
			fpath_pop(&c->path, mi);
			continue;
		}
		check_keys(c, e, keys);
		cidr = jval_get(e, "cidr");
		mk = fpath_key(&c->path, "cidr");
		if (!cidr) {
			mctx_err(c, "required");
			ok = false;
		} else if (!jval_cstr(cidr)) {
			mctx_err(c, "must be a string");
			ok = false;
		} else if (cidr_parse(jval_cstr(cidr), &r->net) < 0) {
			mctx_err(c, "%s is not a CIDR", str_quote(jval_cstr(cidr), tmp, sizeof(tmp)));
			ok = false;
		} else if (!(r->cidr_text = arena_strdup(c->a, jval_cstr(cidr)))) {
			c->oom = true;
		}
		fpath_pop(&c->path, mk);

		ports = jval_get(e, "ports");
		if (ports && !jval_is_null(ports)) {
			size_t j;
			const struct jval *pv;

			mk = fpath_key(&c->path, "ports");
			if (!jval_is_array(ports)) {
				mctx_err(c, "must be a list of port numbers");
				ok = false;
			} else if (jval_size(ports) > PROFILE_MAX_PORTS) {
				mctx_err(c, "more than %d ports (profileguard's limit)", PROFILE_MAX_PORTS);
				ok = false;
			} else {
				r->ports = arena_alloc(c->a, (jval_size(ports) + 1) * sizeof(uint16_t));
				if (!r->ports)
					c->oom = true;
				jval_foreach_item(ports, j, pv) {
					size_t mj = fpath_index(&c->path, j);

					if (!jval_is_int(pv) || pv->u.i < 1 ||
					    pv->u.i > 65535) {
						if (jval_is_int(pv))
							mctx_err(c, "%lld is not a port (1-65535)",
							     (long long)pv->u.i);
						else
							mctx_err(c, "must be a port number (1-65535)");
						ok = false;
					} else if (r->ports) {
						r->ports[r->nports++] = (uint16_t)pv->u.i;
					}
					fpath_pop(&c->path, mj);
				}
			}
			fpath_pop(&c->path, mk);
		}
		if (ok)
			p->runtime.negress++;
		fpath_pop(&c->path, mi);
	}
	fpath_pop(&c->path, m);
}

static void parse_files(struct mctx *c, const struct jval *rt, struct profile *p)
{
	static const char *const keys[] = { "read", "write", NULL };
	size_t m;
	const struct jval *o = enter_object(c, rt, "files", &m);

	if (!o)
		return;
	check_keys(c, o, keys);
	get_strv(c, o, "read", check_abs_pattern, &p->runtime.files_read);
	get_strv(c, o, "write", check_abs_pattern, &p->runtime.files_write);
	fpath_pop(&c->path, m);
}

static void parse_api(struct mctx *c, const struct jval *rt, struct profile *p)
{
	static const char *const keys[] = { "verbs", "resources", "resourceNames", NULL };
	void *v = NULL;
	size_t m, i;
	const struct jval *arr = enter_rules(c, rt, "kubernetesAPI", sizeof(struct api_rule), &v,
				  &p->runtime.api_set, &m), *e;

	if (!arr)
		return;
	p->runtime.api = v;
	jval_foreach_item(arr, i, e) {
		struct api_rule *r = &p->runtime.api[p->runtime.napi];
		size_t mi = fpath_index(&c->path, i);

		memset(r, 0, sizeof(*r));      /* as in parse_egress */
		if (!jval_is_object(e)) {
			mctx_err(c, "must be an object with verbs and resources");
		} else {
			check_keys(c, e, keys);
			get_strv(c, e, "verbs", check_verb, &r->verbs);
			get_strv(c, e, "resources", check_resource, &r->resources);
			get_strv(c, e, "resourceNames", NULL, &r->names);
			if (!r->verbs.set || !r->resources.set) {
				size_t mk = fpath_key(&c->path, r->verbs.set ? "resources" : "verbs");

				mctx_err(c, "required");
				fpath_pop(&c->path, mk);
			} else {
				p->runtime.napi++;
			}
		}
		fpath_pop(&c->path, mi);
	}
	fpath_pop(&c->path, m);
}

static void parse_runtime(struct mctx *c, const struct jval *spec, struct profile *p)
{
	static const char *const keys[] = { "executables", "egress", "files", "kubernetesAPI",
					     "maxAPICallsPerMinute", NULL };
	size_t m;
	const struct jval *o = enter_object(c, spec, "runtime", &m);

	p->runtime.max_api_calls_per_minute = -1;
	if (!o)
		return;
	check_keys(c, o, keys);
	get_strv(c, o, "executables", check_abs_pattern, &p->runtime.executables);
	parse_egress(c, o, p);
	parse_files(c, o, p);
	parse_api(c, o, p);
	get_int(c, o, "maxAPICallsPerMinute", 1, 100000000, &p->runtime.max_api_calls_per_minute);
	fpath_pop(&c->path, m);
}

static void parse_response(struct mctx *c, const struct jval *spec, struct profile *p)
{
	static const char *const keys[] = { "action", "gracePeriodSeconds", NULL };
	size_t m, mm;
	const struct jval *o = enter_object(c, spec, "response", &m), *a;
	char tmp[256];

	p->response.action = ACTION_DELETE;
	p->response.grace_period = -1;
	if (!o)
		return;
	check_keys(c, o, keys);
	a = jval_get(o, "action");
	if (a && !jval_is_null(a)) {
		const char *s = jval_cstr(a) ? jval_cstr(a) : "";

		mm = fpath_key(&c->path, "action");
		if (strcmp(s, "Delete") == 0)
			p->response.action = ACTION_DELETE;
		else if (strcmp(s, "Evict") == 0)
			p->response.action = ACTION_EVICT;
		else if (strcmp(s, "None") == 0)
			p->response.action = ACTION_NONE;
		else if (jval_cstr(a))
			mctx_err(c, "%s must be Delete, Evict or None", str_quote(s, tmp, sizeof(tmp)));
		else
			mctx_err(c, "must be Delete, Evict or None");
		fpath_pop(&c->path, mm);
	}
	get_int(c, o, "gracePeriodSeconds", 0, 86400 * 365, &p->response.grace_period);
	fpath_pop(&c->path, m);
}

static void parse_metadata(struct mctx *c, const struct jval *obj, const char *default_ns, struct profile *p)
{
	/* ObjectMeta as the API server returns it: anything else is a typo. */
	static const char *const keys[] = { "name", "namespace", "labels", "annotations", "uid",
					     "resourceVersion", "generation", "creationTimestamp",
					     "deletionTimestamp", "deletionGracePeriodSeconds",
					     "finalizers", "ownerReferences", "managedFields",
					     "generateName", "selfLink", NULL };
	size_t m = fpath_key(&c->path, "metadata"), mm;
	const struct jval *meta = jval_get(obj, "metadata"), *v;
	char tmp[256];

	if (!jval_is_object(meta)) {
		mctx_err(c, meta ? "must be an object" : "required");
		goto out;
	}
	check_keys(c, meta, keys);
	v = jval_get(meta, "name");
	mm = fpath_key(&c->path, "name");
	if (!jval_cstr(v))
		mctx_err(c, "required");
	else if (!str_is_dns1123_subdomain(jval_cstr(v)))
		mctx_err(c, "%s is not a valid name (RFC 1123 subdomain)",
		     str_quote(jval_cstr(v), tmp, sizeof(tmp)));
	else if (!(p->name = arena_strdup(c->a, jval_cstr(v))))
		c->oom = true;
	fpath_pop(&c->path, mm);

	v = jval_get(meta, "namespace");
	mm = fpath_key(&c->path, "namespace");
	if (v && !jval_is_null(v) && (!jval_cstr(v) || !str_is_dns1123_label(jval_cstr(v))))
		mctx_err(c, "must be a valid namespace name");
	else if (!(p->namespace = arena_strdup(c->a, jval_cstr(v) ? jval_cstr(v)
								    : default_ns)))
		c->oom = true;
	fpath_pop(&c->path, mm);

	v = jval_get(meta, "uid");
	if (jval_cstr(v) && !(p->uid = arena_strdup(c->a, jval_cstr(v))))
		c->oom = true;
	v = jval_get(meta, "resourceVersion");
	if (jval_cstr(v) && !(p->resource_version = arena_strdup(c->a, jval_cstr(v))))
		c->oom = true;
	v = jval_get(meta, "generation");
	p->generation = jval_is_int(v) ? v->u.i : 0;
out:
	fpath_pop(&c->path, m);
}

/* Refuses every string holding U+0000 (JSON "\u0000", YAML "\0"): the
 * readers below see C strings, and "Forbid\u0000x" or "r.io/app\u0000evil"
 * would be read as the part before the NUL. */
static void check_nul(struct mctx *c, const struct jval *v, int depth)
{
	const struct jval *x;
	size_t i, m;

	if (depth > 64)
		return;         /* deeper than any field we read */
	switch (v->type) {
	case JV_STRING:
		if (jval_has_nul(v))
			mctx_err(c, "must not contain NUL");
		break;
	case JV_OBJECT:
		jval_foreach_member(v, mem) {
			m = fpath_key(&c->path, mem->key);
			check_nul(c, &mem->val, depth + 1);
			fpath_pop(&c->path, m);
		}
		break;
	case JV_ARRAY:
		jval_foreach_item(v, i, x) {
			m = fpath_index(&c->path, i);
			check_nul(c, x, depth + 1);
			fpath_pop(&c->path, m);
		}
		break;
	default:
		break;
	}
}

int profile_parse(const struct jval *obj, const char *default_ns, struct errlist *errs,
		  struct profile **ret_profile)
{
	static const char *const top_keys[] = { "apiVersion", "kind", "metadata", "spec", "status", NULL };
	static const char *const spec_keys[] = { "selector", "mode", "identity", "images", "privileges",
						  "runtime", "response", NULL };
	struct mctx c = { .errs = errs };
	struct profile *p;
	const struct jval *v, *spec;
	size_t m, mm;
	char tmp[256];

	fpath_init(&c.path, NULL);
	p = pg_calloc(1, sizeof(*p));
	c.a = arena_new(1024);
	if (!p || !c.a) {
		pg_free(p);
		arena_free(c.a);
		return -ENOMEM;
	}
	p->arena = c.a;
	if (!jval_is_object(obj)) {
		mctx_err(&c, "a WorkloadProfile must be an object");
		goto done;
	}
	check_keys(&c, obj, top_keys);
	check_nul(&c, obj, 0);
	v = jval_get(obj, "apiVersion");
	m = fpath_key(&c.path, "apiVersion");
	if (!jval_cstr(v) || strcmp(jval_cstr(v), PROFILE_API_VERSION) != 0)
		mctx_err(&c, "must be %s", PROFILE_API_VERSION);
	fpath_pop(&c.path, m);
	v = jval_get(obj, "kind");
	m = fpath_key(&c.path, "kind");
	if (!jval_cstr(v) || strcmp(jval_cstr(v), PROFILE_KIND) != 0)
		mctx_err(&c, "must be %s", PROFILE_KIND);
	fpath_pop(&c.path, m);
	parse_metadata(&c, obj, default_ns ? default_ns : "default", p);

	spec = jval_get(obj, "spec");
	m = fpath_key(&c.path, "spec");
	if (!jval_is_object(spec)) {
		mctx_err(&c, spec ? "must be an object" : "required");
		fpath_pop(&c.path, m);
		goto done;
	}
	check_keys(&c, spec, spec_keys);

	mm = fpath_key(&c.path, "selector");
	v = jval_get(spec, "selector");
	if (!v || jval_is_null(v)) {
		mctx_err(&c, "required: a profile must select its pods");
	} else {
		static const char *const sel_keys[] = { "matchLabels", "matchExpressions", NULL };
		size_t nerr = errs->n + errs->dropped;
		struct jval *known = NULL;
		int r = 0;

		/* A typo in the selector's own keys gets the suggestion the
		 * other fields get; the keys known are still checked. */
		if (jval_is_object(v))
			check_keys(&c, v, sel_keys);
		if (errs->n + errs->dropped == nerr) {
			r = selector_parse(v, c.a, &c.path, errs, &p->selector);
		} else if (!(known = jval_object_new(c.a))) {
			r = -ENOMEM;
		} else {
			for (const char *const *k = sel_keys; *k; k++)
				if (jval_get(v, *k) && jval_object_set(c.a, known, *k, jval_get(v, *k)) < 0)
					r = -ENOMEM;
			if (r == 0 && jval_size(known))
				r = selector_parse(known, c.a, &c.path, errs, &p->selector);
		}
		if (r == -ENOMEM)
			c.oom = true;
		else if (r < 0)
			c.failed = true;
	}
	fpath_pop(&c.path, mm);

	v = jval_get(spec, "mode");
	/* Absent: Audit (SPEC §2).  A profile acts on pods only once it says
	 * Enforce, so one applied to try the tool deletes nothing. */
	p->mode = MODE_AUDIT;
	if (v && !jval_is_null(v)) {
		mm = fpath_key(&c.path, "mode");
		if (jval_cstr(v) && strcmp(jval_cstr(v), "Enforce") == 0)
			p->mode = MODE_ENFORCE;
		else if (jval_cstr(v) && strcmp(jval_cstr(v), "Audit") == 0)
			p->mode = MODE_AUDIT;
		else if (jval_cstr(v))
			mctx_err(&c, "%s must be Enforce or Audit", str_quote(jval_cstr(v), tmp, sizeof(tmp)));
		else
			mctx_err(&c, "must be Enforce or Audit");
		fpath_pop(&c.path, mm);
	}
	parse_identity(&c, spec, p);
	parse_images(&c, spec, p);
	parse_privileges(&c, spec, p);
	parse_runtime(&c, spec, p);
	parse_response(&c, spec, p);
	fpath_pop(&c.path, m);
done:
	if (c.oom || errs->oom) {
		profile_free(p);
		return -ENOMEM;
	}
	if (c.failed) {
		profile_free(p);
		return -EINVAL;
	}
	if (ret_profile)
		*ret_profile = p;
	else
		profile_free(p);
	return 0;
}

struct profile *profile_free(struct profile *p)
{
	if (!p)
		return NULL;
	arena_free(p->arena);
	pg_free(p);
	return NULL;
}

const char *mode_name(enum pg_mode m)
{
	return m == MODE_AUDIT ? "Audit" : "Enforce";
}

const char *action_name(enum action a)
{
	switch (a) {
	case ACTION_EVICT: return "Evict";
	case ACTION_NONE: return "None";
	default: return "Delete";
	}
}

/* ---- sets ---------------------------------------------------------------- */

void profile_set_init(struct profile_set *s)
{
	memset(s, 0, sizeof(*s));
}

static int profile_cmp(const char *ns1, const char *n1, const char *ns2, const char *n2)
{
	int r = strcmp(ns1, ns2);

	return r ? r : strcmp(n1, n2);
}

/* First index whose (ns, name) is >= the key. */
static size_t lower_bound(const struct profile_set *s, const char *ns, const char *name)
{
	size_t lo = 0, hi = s->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (profile_cmp(s->v[mid]->namespace, s->v[mid]->name, ns, name) < 0)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

int profile_set_add(struct profile_set *s, struct profile *p)
{
	size_t i = lower_bound(s, p->namespace, p->name);

	if (i < s->n && profile_cmp(s->v[i]->namespace, s->v[i]->name, p->namespace, p->name) == 0) {
		profile_free(s->v[i]);
		s->v[i] = p;
		return 0;
	}
	if (s->n == s->cap) {
		size_t ncap = s->cap ? s->cap * 2 : 16;
		struct profile **v = pg_realloc(s->v, ncap * sizeof(*v));

		if (!v) {
			profile_free(p);
			return -ENOMEM;
		}
		s->v = v;
		s->cap = ncap;
	}
	memmove(s->v + i + 1, s->v + i, (s->n - i) * sizeof(*s->v));
	s->v[i] = p;
	s->n++;
	return 0;
}

int profile_set_remove(struct profile_set *s, const char *ns, const char *name)
{
	size_t i = lower_bound(s, ns, name);

	if (i >= s->n || profile_cmp(s->v[i]->namespace, s->v[i]->name, ns, name) != 0)
		return -ENOENT;
	profile_free(s->v[i]);
	memmove(s->v + i, s->v + i + 1, (s->n - i - 1) * sizeof(*s->v));
	s->n--;
	return 0;
}

size_t profile_set_namespace(const struct profile_set *s, const char *ns,
			     struct profile *const **ret_first)
{
	size_t i, j;

	if (s->n == 0) {
		*ret_first = NULL;
		return 0;
	}
	i = lower_bound(s, ns, "");
	j = i;
	while (j < s->n && strcmp(s->v[j]->namespace, ns) == 0)
		j++;
	*ret_first = s->v + i;
	return j - i;
}

void profile_set_free(struct profile_set *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++)
		profile_free(s->v[i]);
	pg_free(s->v);
	profile_set_init(s);
}

int profile_restore_enforced(const struct jval *obj, struct profile **ret_profile,
			     int64_t *ret_generation, char *why, size_t whysz)
{
	const struct jval *meta = jval_get(obj, "metadata"), *st = jval_get(obj, "status");
	const struct jval *spec = jval_get(st, "enforcedSpec"), *g = jval_get(st, "enforcedGeneration");
	const struct jval *mg = jval_get(meta, "generation");
	struct jval *stored = NULL, *smeta = NULL, genv = { .type = JV_INT };
	struct arena *a;
	struct errlist errs;
	json_t *out;
	size_t bytes;
	int64_t gen;
	int r;

	*ret_profile = NULL;
	*ret_generation = 0;
	snprintf(why, whysz, "%s", "");
	if (!jval_is_int(g))
		return -ENOENT;
	gen = g->u.i;
	/* The current generation, even invalid, is what status follows: a
	 * record of it or of a later one is not a last valid generation. */
	if (gen <= 0 || gen >= (jval_is_int(mg) ? mg->u.i : 0)) {
		snprintf(why, whysz, "status.enforcedGeneration %lld is not older than the spec",
			 (long long)gen);
		return -ENOENT;
	}
	if (!jval_is_object(spec)) {
		snprintf(why, whysz, "status.enforcedGeneration is %lld but status.enforcedSpec is absent "
			 "(over the cap of %d bytes when it was recorded?)", (long long)gen,
			 PROFILE_ENFORCED_SPEC_MAX);
		return -ENOENT;
	}
	/* Measured as the controller wrote it (compact, by jansson), so the
	 * cap means the same bytes on both sides. */
	if (!(out = jval_to_json(spec)))
		return -ENOMEM;
	bytes = json_dumpb(out, NULL, 0, JSON_COMPACT);
	json_decref(out);
	if (bytes > PROFILE_ENFORCED_SPEC_MAX) {
		snprintf(why, whysz, "status.enforcedSpec is %zu bytes, over the cap of %d", bytes,
			 PROFILE_ENFORCED_SPEC_MAX);
		return -EINVAL;
	}
	/* The object as it was at that generation: this one's identity, the
	 * recorded spec, no status.  Shallow: the children are @obj's. */
	genv.u.i = gen;
	a = arena_new(1024);
	if (a) {
		smeta = jval_is_object(meta) ? jval_object_copy(a, meta) : jval_object_new(a);
		stored = jval_object_copy(a, obj);
	}
	if (!smeta || !stored || jval_object_set(a, smeta, "generation", &genv) < 0) {
		arena_free(a);
		return -ENOMEM;
	}
	jval_object_del(stored, "status");
	if (jval_object_set(a, stored, "metadata", smeta) < 0 ||
	    jval_object_set(a, stored, "spec", spec) < 0) {
		arena_free(a);
		return -ENOMEM;
	}
	errlist_init(&errs, 1);
	r = profile_parse(stored, "default", &errs, ret_profile);
	arena_free(a);
	if (r == -ENOMEM || errs.oom) {
		errlist_free(&errs);
		profile_free(*ret_profile);
		*ret_profile = NULL;
		return -ENOMEM;
	}
	if (r < 0) {
		snprintf(why, whysz, "status.enforcedSpec of generation %lld does not validate: %s",
			 (long long)gen, errs.n ? errs.msgs[0] : "invalid");
		errlist_free(&errs);
		return -EINVAL;
	}
	errlist_free(&errs);
	*ret_generation = gen;
	return 0;
}
