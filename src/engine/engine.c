/* engine.c - the admission rules of SPEC §2 over a compact pod.
 * Every message has the SPEC §3 form:
 *   <field.path>: <what is wrong> <verb> by <ns>/<profile> <rule>
 * e.g. spec.containers[1].image: "nginx:latest" not allowed by
 *      payments/payments-api images.allow */
#include "engine.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "buf.h"
#include "judge.h"
#include "image.h"
#include "strutil.h"
#include "xalloc.h"

static const char *const reason_names[R__COUNT] = {
	[R_ADMISSION_DRIFT] = "AdmissionDrift",
	[R_UNEXPECTED_EXECUTABLE] = "UnexpectedExecutable",
	[R_UNEXPECTED_EGRESS] = "UnexpectedEgress",
	[R_UNEXPECTED_FILE_ACCESS] = "UnexpectedFileAccess",
	[R_UNEXPECTED_API_CALL] = "UnexpectedAPICall",
	[R_API_RATE_EXCEEDED] = "APIRateExceeded",
	[R_LEGACY_TOKEN] = "LegacyToken",
	[R_TOKEN_TTL_EXCEEDED] = "TokenTTLExceeded",
	[R_STALE_TOKEN] = "StaleToken",
	[R_SERVICE_ACCOUNT_MISSING] = "ServiceAccountMissing",
	[R_TOKEN_REPLAY] = "TokenReplay",
	[R_SERVICE_ACCOUNT_BORROWED] = "ServiceAccountBorrowed",
	[R_IDENTITY_RISK_EXCEEDED] = "IdentityRiskExceeded",
};

const char *reason_name(enum reason r)
{
	return r < R__COUNT ? reason_names[r] : "Unknown";
}

void findings_init(struct findings *f, size_t max)
{
	memset(f, 0, sizeof(*f));
	f->max = max ? max : FINDINGS_DEFAULT_MAX;
}

size_t findings_count(const struct findings *f, enum pg_mode mode)
{
	size_t n = 0;

	for (size_t i = 0; i < f->n; i++)
		n += f->v[i].mode == mode;
	return n;
}

void findings_clear(struct findings *f)
{
	for (size_t i = 0; i < f->n; i++) {
		pg_free(f->v[i].path);
		pg_free(f->v[i].value);
		pg_free(f->v[i].message);
	}
	f->n = 0;
	f->dropped = 0;
}

void findings_free(struct findings *f)
{
	if (!f)
		return;
	findings_clear(f);
	pg_free(f->v);
	f->v = NULL;
	f->cap = 0;
}

bool finding_same(const struct finding *a, const struct finding *b)
{
	return a->reason == b->reason && str_eq(a->rule, b->rule) && str_eq(a->path, b->path) &&
	       str_eq(a->value, b->value) && str_eq(a->profile->namespace, b->profile->namespace) &&
	       str_eq(a->profile->name, b->profile->name);
}

/* ---- judging ------------------------------------------------------------- */

/* Room for one more finding: 1, 0 when past the cap (counted), or -ENOMEM. */
static int judge_room(struct judge *j)
{
	struct findings *f = j->out;

	if (j->err)
		return 0;
	if (f->n >= f->max) {
		f->dropped++;
		return 0;
	}
	if (f->n == f->cap) {
		size_t ncap = f->cap ? f->cap * 2 : 8;
		struct finding *v = pg_realloc(f->v, ncap * sizeof(*v));

		if (!v) {
			j->err = -ENOMEM;
			return -ENOMEM;
		}
		f->v = v;
		f->cap = ncap;
	}
	return 1;
}

/* Appends the finding whose sentence is in @b (taken, freed on failure). */
static void judge_push(struct judge *j, enum reason reason, const char *rule, const char *path,
		       const char *value, struct buf *b)
{
	struct finding *nf = &j->out->v[j->out->n];

	memset(nf, 0, sizeof(*nf));
	nf->reason = reason;
	nf->evidence = j->evidence;
	nf->mode = j->prof->mode;
	nf->profile = j->prof;
	nf->rule = rule;
	nf->path = pg_strdup(path);
	nf->value = value ? pg_strdup(value) : NULL;
	if (!nf->path || (value && !nf->value)) {
		buf_free(b);
		goto oom;
	}
	nf->message = buf_steal(b);
	if (!nf->message)
		goto oom;
	j->out->n++;
	return;
oom:
	pg_free(nf->path);
	pg_free(nf->value);
	j->err = -ENOMEM;
}

void judge_add(struct judge *j, enum reason reason, const char *rule, const char *path,
	       const char *value, const char *verb, const char *fmt, ...)
{
	struct buf b = BUF_INIT(8192);
	va_list ap;
	int r;

	if (judge_room(j) <= 0)
		return;
	r = buf_printf(&b, "%s: ", path);
	va_start(ap, fmt);
	if (r == 0)
		r = buf_vprintf(&b, fmt, ap);
	va_end(ap);
	if (r == 0)
		r = buf_printf(&b, " %s by %s/%s %s", verb, j->prof->namespace, j->prof->name, rule);
	if (r < 0) {
		buf_free(&b);
		j->err = -ENOMEM;
		return;
	}
	judge_push(j, reason, rule, path, value, &b);
}

const char *judge_quote(const char *s, char *tmp, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0, in = 0, left = 0;

	/* Escapes straight into @tmp: nothing to allocate, so a message is
	 * never silently different under memory pressure. */
	if (n < 8) {
		if (n)
			tmp[0] = '\0';
		return tmp;
	}
	tmp[o++] = '"';
	for (const unsigned char *p = (const unsigned char *)s; *p; p++, in++) {
		char esc[7];
		size_t k = 0;

		/* A cut never falls inside a UTF-8 sequence (a cut one would
		 * make the Event or the review answer invalid): at its lead
		 * byte the whole sequence must fit, and its continuation
		 * bytes then follow.  A stray continuation byte counts as a
		 * character of its own. */
		if (left && (*p & 0xc0) == 0x80) {
			left--;
		} else {
			size_t need = *p >= 0xf0 ? 4 : *p >= 0xe0 ? 3 : *p >= 0xc0 ? 2 : 1;

			if (in + need > 240 || o + (need > 1 ? need : 6) + 5 >= n) {
				memcpy(tmp + o, "...", 3);
				o += 3;
				break;
			}
			left = need - 1;
		}
		if (*p == '"' || *p == '\\') {
			esc[k++] = '\\';
			esc[k++] = (char)*p;
		} else if (*p == '\n') {
			esc[k++] = '\\';
			esc[k++] = 'n';
		} else if (*p == '\t') {
			esc[k++] = '\\';
			esc[k++] = 't';
		} else if (*p < 0x20 || *p == 0x7f) {
			memcpy(esc, "\\u00", 4);
			esc[4] = hex[*p >> 4];
			esc[5] = hex[*p & 15];
			k = 6;
		} else {
			esc[k++] = (char)*p;
		}
		memcpy(tmp + o, esc, k);
		o += k;
	}
	tmp[o++] = '"';
	tmp[o] = '\0';
	return tmp;
}

static void container_path(const struct pod *pod, const struct container *c, char *out,
			   size_t n, const char *suffix)
{
	snprintf(out, n, "%s.%s[%u]%s%s", pod->spec_root, container_list_name(c->kind), c->index,
		 suffix ? "." : "", suffix ? suffix : "");
}

static bool strv_has(const struct strv *v, const char *s)
{
	for (size_t i = 0; i < v->n; i++)
		if (strcmp(v->v[i], s) == 0)
			return true;
	return false;
}

static void judge_identity(struct judge *j)
{
	const struct profile *pr = j->prof;
	const struct pod *pod = j->pod;
	char path[512], tmp[600];

	if (pr->identity.service_accounts.set) {
		const char *sa = pod_service_account(pod);

		if (!strv_has(&pr->identity.service_accounts, sa)) {
			snprintf(path, sizeof(path), "%s.serviceAccountName", pod->spec_root);
			judge_add(j, R_ADMISSION_DRIFT, "identity.serviceAccountNames", path, sa, "not allowed",
			    "%s%s", judge_quote(sa, tmp, sizeof(tmp)),
			    pod->service_account && *pod->service_account ? "" : " (unset)");
		}
	}
	if (pr->identity.token_automount == KNOB_FORBID && pod->ntokens == 0 &&
	    !j->ctx->sa_admission_done && pod->automount != OPT_FALSE) {
		snprintf(path, sizeof(path), "%s.automountServiceAccountToken", pod->spec_root);
		judge_add(j, R_ADMISSION_DRIFT, "identity.tokenAutomount", path, NULL, "forbidden",
		    "%s, so a service-account token would be mounted,",
		    pod->automount == OPT_TRUE ? "true" : "not false");
	}
	for (size_t i = 0; i < pod->ntokens; i++) {
		const struct token_source *t = &pod->tokens[i];
		int64_t exp = t->expiration < 0 ? 3600 : t->expiration;

		snprintf(path, sizeof(path), "%s.volumes[%u].projected.sources[%u].serviceAccountToken",
			 pod->spec_root, t->volume, t->source);
		if (pr->identity.token_automount == KNOB_FORBID)
			judge_add(j, R_ADMISSION_DRIFT, "identity.tokenAutomount", path, NULL, "forbidden",
			    "service-account token projected into the pod");
		snprintf(path + strlen(path), sizeof(path) - strlen(path), ".expirationSeconds");
		if (pr->identity.max_token_expiration >= 0 && exp > pr->identity.max_token_expiration)
			judge_add(j, R_TOKEN_TTL_EXCEEDED, "identity.maxTokenExpirationSeconds", path,
			    NULL, "not allowed", "%lld%s exceeds %lld,", (long long)exp,
			    t->expiration < 0 ? " (the default)" : "",
			    (long long)pr->identity.max_token_expiration);
		if (pr->identity.extended_tokens == KNOB_FORBID && exp == 3607)
			judge_add(j, R_TOKEN_TTL_EXCEEDED, "identity.extendedTokens", path, NULL, "forbidden",
			    "3607 is silently extended to one year by the API server,");
	}
	if (pr->identity.legacy_token_secrets == KNOB_FORBID && j->ctx->is_token_secret) {
		for (size_t i = 0; i < pod->nsecrets; i++) {
			const struct secret_use *u = &pod->secrets[i];

			if (!j->ctx->is_token_secret(j->ctx->ud, pod->namespace, u->secret))
				continue;
			switch (u->kind) {
			case SU_VOLUME:
				snprintf(path, sizeof(path), "%s.volumes[%u].secret.secretName",
					 pod->spec_root, u->a);
				break;
			case SU_PROJECTED:
				snprintf(path, sizeof(path), "%s.volumes[%u].projected.sources[%u].secret.name",
					 pod->spec_root, u->a, u->b);
				break;
			case SU_ENV:
				snprintf(path, sizeof(path), "%s.%s[%u].env[%u].valueFrom.secretKeyRef.name",
					 pod->spec_root, container_list_name(u->ckind), u->a, u->b);
				break;
			default:
				snprintf(path, sizeof(path), "%s.%s[%u].envFrom[%u].secretRef.name",
					 pod->spec_root, container_list_name(u->ckind), u->a, u->b);
				break;
			}
			judge_add(j, R_LEGACY_TOKEN, "identity.legacyTokenSecrets", path, u->secret, "forbidden",
			    "%s is a legacy service-account token Secret,",
			    judge_quote(u->secret, tmp, sizeof(tmp)));
		}
	}
}

_Static_assert(RISK_LOW == 1 && RISK_CRITICAL == 4, "identity.maxRisk counts as enum risk_level");

/* identity.maxRisk: the account's risk above the profile's ceiling names
 * each finding above it and the binding it comes through (at most as
 * many as fit a message; the rest are counted). */
static void judge_identity_risk(struct judge *j)
{
	const struct profile *pr = j->prof;
	const struct pod *pod = j->pod;
	const struct risk_result *rr = NULL;
	const char *sa = pod_service_account(pod);
	struct buf list = BUF_INIT(4096);
	char path[512], tmp[600], line[RISK_GRANT_TEXT + RISK_VIA_TEXT + 64];
	size_t listed = 0, above = 0;

	if (pr->identity.max_risk == PROFILE_RISK_UNSET || !j->ctx->identity_risk ||
	    j->ctx->identity_risk(j->ctx->ud, pod->namespace, sa, &rr) < 0 || !rr ||
	    (int)rr->level <= pr->identity.max_risk)
		return;
	for (size_t i = 0; i < rr->nfindings; i++) {
		if ((int)risk_rule_severity(rr->findings[i].rule) <= pr->identity.max_risk)
			continue;
		above++;
		risk_finding_format(&rr->findings[i], line, sizeof(line));
		if (list.len + strlen(line) + 2 < 4000 && buf_printf(&list, "%s%s", listed ? "; " : "", line) == 0)
			listed++;
	}
	above += rr->omitted;   /* omitted ones are the least severe: counted, maybe above */
	if (above > listed)
		buf_printf(&list, "%s%zu more", listed ? "; and " : "", above - listed);
	snprintf(path, sizeof(path), "%s.serviceAccountName", pod->spec_root);
	judge_add(j, R_IDENTITY_RISK_EXCEEDED, "identity.maxRisk", path, sa, "not allowed",
	    "ServiceAccount %s has RBAC risk %s, above %s (%s),", judge_quote(sa, tmp, sizeof(tmp)),
	    risk_level_name(rr->level), risk_level_name((enum risk_level)pr->identity.max_risk),
	    buf_str(&list));
	buf_free(&list);
}

static void judge_pod_privileges(struct judge *j)
{
	const struct profile *pr = j->prof;
	const struct pod *pod = j->pod;
	char path[512], tmp[600];

	if (pr->privileges.host_namespaces == KNOB_FORBID) {
		static const char *const names[] = { "hostNetwork", "hostPID", "hostIPC" };
		const bool on[] = { pod->host_network, pod->host_pid, pod->host_ipc };

		for (int i = 0; i < 3; i++) {
			if (!on[i])
				continue;
			snprintf(path, sizeof(path), "%s.%s", pod->spec_root, names[i]);
			judge_add(j, R_ADMISSION_DRIFT, "privileges.hostNamespaces", path, NULL, "forbidden", "true");
		}
	}
	if (pr->privileges.host_paths.set) {
		for (size_t i = 0; i < pod->nhost_paths; i++) {
			const struct host_path *h = &pod->host_paths[i];
			char clean[4200];
			bool ok = false;

			if (path_clean(h->path, clean, sizeof(clean)) == 0)
				for (size_t k = 0; k < pr->privileges.host_paths.n && !ok; k++)
					ok = path_has_prefix(clean, pr->privileges.host_paths.v[k]);
			if (ok)
				continue;
			snprintf(path, sizeof(path), "%s.volumes[%u].hostPath.path", pod->spec_root, h->volume);
			judge_add(j, R_ADMISSION_DRIFT, "privileges.allowedHostPaths", path, h->path, "not allowed", "%s",
			    judge_quote(h->path, tmp, sizeof(tmp)));
		}
	}
}

static void judge_image(struct judge *j, const struct container *c)
{
	const struct profile *pr = j->prof;
	char path[512], tmp[600], norm[IMAGE_REF_MAX + 64];
	const char *image = c->image ? c->image : "";
	bool valid;

	if (!pr->images.allow.set && !pr->images.require_digest)
		return;
	/* Paths are built only for findings: the controller re-judges every
	 * cached pod when a profile changes, and most pods pass. */
	valid = image_normalize(image, norm, sizeof(norm)) == 0;
	if (pr->images.allow.set) {
		bool ok = false;

		for (size_t i = 0; valid && i < pr->images.allow.n && !ok; i++)
			ok = image_pattern_match(pr->images.allow.v[i], norm);
		if (!ok) {
			container_path(j->pod, c, path, sizeof(path), "image");
			judge_add(j, R_ADMISSION_DRIFT, "images.allow", path, image, "not allowed", "%s%s",
			    judge_quote(image, tmp, sizeof(tmp)), valid ? "" : " (not an image reference)");
		}
	}
	if (pr->images.require_digest && !image_has_digest(image)) {
		container_path(j->pod, c, path, sizeof(path), "image");
		judge_add(j, R_ADMISSION_DRIFT, "images.requireDigest", path, image, "required",
		    "%s has no @sha256 digest, one is", judge_quote(image, tmp, sizeof(tmp)));
	}
}

static void judge_container_privileges(struct judge *j, const struct container *c)
{
	const struct profile *pr = j->prof;
	const struct pod *pod = j->pod;
	char path[512], tmp[600];

	if (pr->privileges.privileged == KNOB_FORBID && c->privileged == OPT_TRUE) {
		container_path(pod, c, path, sizeof(path), "securityContext.privileged");
		judge_add(j, R_ADMISSION_DRIFT, "privileges.privileged", path, NULL, "forbidden", "true");
	}
	if (pr->privileges.privilege_escalation == KNOB_FORBID && c->allow_escalation != OPT_FALSE) {
		container_path(pod, c, path, sizeof(path), "securityContext.allowPrivilegeEscalation");
		judge_add(j, R_ADMISSION_DRIFT, "privileges.privilegeEscalation", path, NULL, "forbidden",
		    "%s", c->allow_escalation == OPT_TRUE ? "true" : "unset (defaults to true)");
	}
	if (pr->privileges.run_as_non_root == KNOB_FORBID) {
		/* Kubernetes resolves container settings over the pod's. */
		int64_t uid = c->run_as_user >= 0 ? c->run_as_user : pod->run_as_user;
		uint8_t nonroot = c->run_as_non_root != OPT_UNSET ? c->run_as_non_root : pod->run_as_non_root;

		if (uid == 0) {
			container_path(pod, c, path, sizeof(path), "securityContext.runAsUser");
			judge_add(j, R_ADMISSION_DRIFT, "privileges.runAsNonRoot", path, NULL, "forbidden",
			    "0 (root)%s", c->run_as_user >= 0 ? "" : ", from the pod securityContext,");
		} else if (uid < 0 && nonroot != OPT_TRUE) {
			container_path(pod, c, path, sizeof(path), "securityContext.runAsNonRoot");
			judge_add(j, R_ADMISSION_DRIFT, "privileges.runAsNonRoot", path, NULL, "required",
			    "%s and no non-zero runAsUser: a non-root user is",
			    nonroot == OPT_FALSE ? "false" : "unset");
		}
	}
	if (pr->privileges.capabilities.set) {
		for (size_t i = 0; i < c->ncaps; i++) {
			const char *cap = c->caps_add[i];
			char norm[80];
			size_t n;

			if (str_has_prefix(cap, "CAP_") || str_has_prefix(cap, "cap_"))
				cap += 4;
			for (n = 0; cap[n] && n < sizeof(norm) - 1; n++)
				norm[n] = (cap[n] >= 'a' && cap[n] <= 'z') ? (char)(cap[n] - 32) : cap[n];
			norm[n] = '\0';
			if (strv_has(&pr->privileges.capabilities, norm))
				continue;
			container_path(pod, c, path, sizeof(path), "securityContext.capabilities.add");
			snprintf(path + strlen(path), sizeof(path) - strlen(path), "[%zu]", i);
			judge_add(j, R_ADMISSION_DRIFT, "privileges.allowedCapabilities", path, c->caps_add[i], "not allowed",
			    "%s", judge_quote(c->caps_add[i], tmp, sizeof(tmp)));
		}
	}
}

bool engine_counts(const struct pod *pod, enum evidence ev)
{
	bool finished = pod->phase == PHASE_SUCCEEDED || pod->phase == PHASE_FAILED;

	return !finished || ev == EV_AUDIT;
}

bool engine_selects(const struct profile *prof, const struct pod *pod)
{
	return strcmp(prof->namespace, pod->namespace) == 0 &&
	       selector_matches(&prof->selector, &pod->labels);
}

bool engine_binds(const struct profile *prof, const struct pod *pod)
{
	const char *sa = pod_service_account(pod);

	/* "default" is every namespace's fallback, not an identity anyone
	 * owns: binding it would deny every pod that sets no account. */
	return prof->identity.set && prof->identity.bind_service_accounts &&
	       prof->identity.service_accounts.set && strcmp(sa, "default") != 0 &&
	       strcmp(prof->namespace, pod->namespace) == 0 &&
	       strv_has(&prof->identity.service_accounts, sa);
}

/* Identity binding over the profiles of the pod's namespace: when some
 * bind its account and none of those selects it, each reports
 * ServiceAccountBorrowed.  The one sentence `check`, the webhook and the
 * controller all print. */
static int judge_binding(struct profile *const *first, size_t n, const struct pod *pod,
			 const struct engine_ctx *ctx, struct findings *out)
{
	char path[512], tmp[600];
	bool bound = false;
	const char *sa;

	for (size_t i = 0; i < n; i++) {
		if (!engine_binds(first[i], pod))
			continue;
		if (selector_matches(&first[i]->selector, &pod->labels))
			return 0;
		bound = true;
	}
	if (!bound)
		return 0;
	sa = pod_service_account(pod);
	snprintf(path, sizeof(path), "%s.serviceAccountName", pod->spec_root);
	judge_quote(sa, tmp, sizeof(tmp));
	for (size_t i = 0; i < n; i++) {
		struct judge j = { .prof = first[i], .pod = pod, .ctx = ctx, .out = out };
		struct buf b = BUF_INIT(8192);

		if (!engine_binds(first[i], pod))
			continue;
		if (judge_room(&j) <= 0)
			return j.err;
		if (buf_printf(&b, "%s: %s is bound to %s/%s (identity.bindServiceAccounts); "
			       "this pod is not selected by it", path, tmp, first[i]->namespace,
			       first[i]->name) < 0) {
			buf_free(&b);
			return -ENOMEM;
		}
		judge_push(&j, R_SERVICE_ACCOUNT_BORROWED, "identity.bindServiceAccounts", path, sa, &b);
		if (j.err)
			return j.err;
	}
	return 0;
}

int engine_eval_profile(const struct profile *prof, const struct pod *pod,
			const struct engine_ctx *ctx, struct findings *out)
{
	static const struct engine_ctx no_ctx;
	struct judge j = { .prof = prof, .pod = pod, .ctx = ctx ? ctx : &no_ctx, .out = out };

	judge_identity(&j);
	judge_identity_risk(&j);
	judge_pod_privileges(&j);
	for (size_t i = 0; i < pod->ncontainers; i++) {
		judge_image(&j, &pod->containers[i]);
		judge_container_privileges(&j, &pod->containers[i]);
	}
	return j.err;
}

int engine_eval_pod(const struct profile_set *set, const struct pod *pod,
		    const struct engine_ctx *ctx, struct findings *out)
{
	struct profile *const *first;
	size_t n = profile_set_namespace(set, pod->namespace, &first);

	for (size_t i = 0; i < n; i++) {
		int r;

		if (!selector_matches(&first[i]->selector, &pod->labels))
			continue;
		r = engine_eval_profile(first[i], pod, ctx, out);
		if (r < 0)
			return r;
	}
	return judge_binding(first, n, pod, ctx, out);
}

static void judge_service_account(struct judge *j, const struct sa_facts *sa)
{
	const struct pod *pod = j->pod;
	char path[512], tmp[600];

	snprintf(path, sizeof(path), "%s.serviceAccountName", pod->spec_root);
	if (!sa->exists) {
		judge_add(j, R_SERVICE_ACCOUNT_MISSING, "identity", path, pod_service_account(pod),
		    "reported", "ServiceAccount %s no longer exists: the pod runs on a zombie identity,",
		    judge_quote(pod_service_account(pod), tmp, sizeof(tmp)));
		return;
	}
	/* Both creationTimestamps come from the API server's clock; the
	 * pod's startTime is the kubelet's, and a node a few seconds behind
	 * would make a fresh pod look older than its account.  Kubernetes
	 * stamps times in seconds: an account made in the same second as the
	 * pod is not provably newer. */
	if (sa->created >= 0 && pod->created >= 0 && sa->created > pod->created)
		judge_add(j, R_SERVICE_ACCOUNT_MISSING, "identity", path, pod_service_account(pod),
		    "reported", "ServiceAccount %s was recreated after the pod was created: its tokens "
		    "name the old one,", judge_quote(pod_service_account(pod), tmp, sizeof(tmp)));
}

int engine_eval_running(const struct profile_set *set, const struct pod *pod,
			const struct engine_ctx *ctx, const struct sa_facts *sa,
			struct findings *out)
{
	struct engine_ctx rctx = ctx ? *ctx : (struct engine_ctx){ 0 };
	struct profile *const *first;
	size_t n;

	if (!engine_counts(pod, EV_SPEC))
		return 0;
	n = profile_set_namespace(set, pod->namespace, &first);
	rctx.sa_admission_done = true;
	for (size_t i = 0; i < n; i++) {
		struct judge j = { .prof = first[i], .pod = pod, .ctx = &rctx, .out = out };
		int r;

		if (!selector_matches(&first[i]->selector, &pod->labels))
			continue;
		r = engine_eval_profile(first[i], pod, &rctx, out);
		if (r < 0)
			return r;
		/* An identity reason: only a profile with an identity
		 * section judges it (what is absent constrains nothing). */
		if (sa && first[i]->identity.set)
			judge_service_account(&j, sa);
		if (j.err)
			return j.err;
	}
	return judge_binding(first, n, pod, &rctx, out);
}
