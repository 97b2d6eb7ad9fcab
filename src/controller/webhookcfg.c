/* webhookcfg.c - the pure half of arming the ValidatingWebhookConfiguration
 * (webhookcfg.h): what each webhook's state is, what its rules should be,
 * and which endpoint of its Service is ready.  No I/O, no logging. */
#include "webhookcfg.h"

#include <arpa/inet.h>
#include <errno.h>
#include <stdio.h>
#include <string.h>

#define NS_LABEL "kubernetes.io/metadata.name"

void webhookcfg_plan_clear(struct webhookcfg_plan *p)
{
	if (!p)
		return;
	json_decref(p->desired);
	memset(p, 0, sizeof(*p));
}

/* The API server stores a rule without scope as scope "*": compare with
 * that, or an armed webhook would look different every round. */
static int rules_defaulted(json_t *rules)
{
	size_t i;
	json_t *r;

	json_array_foreach(rules, i, r) {
		if (!json_is_object(r))
			return -EINVAL;
		if (!json_object_get(r, "scope") &&
		    json_object_set_new(r, "scope", json_string("*")) < 0)
			return -ENOMEM;
	}
	return 0;
}

static bool in_values(json_t *values, const char *s)
{
	size_t i;
	json_t *v;

	json_array_foreach(values, i, v) {
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	}
	return false;
}

/* Whether @sel leaves @ns out: a NotIn on the namespace's name label.  A
 * selector can only narrow what a webhook sees, so one such expression
 * is enough, whatever else the selector says. */
static bool excludes(json_t *sel, const char *ns)
{
	size_t i;
	json_t *e;

	json_array_foreach(json_object_get(sel, "matchExpressions"), i, e) {
		const char *key = json_string_value(json_object_get(e, "key"));
		const char *op = json_string_value(json_object_get(e, "operator"));

		if (key && op && strcmp(key, NS_LABEL) == 0 && strcmp(op, "NotIn") == 0 &&
		    in_values(json_object_get(e, "values"), ns))
			return true;
	}
	return false;
}

static const char *unsafe_why(json_t *hook, const char *own_ns)
{
	json_t *sel = json_object_get(hook, "namespaceSelector");
	const char *fp = json_string_value(json_object_get(hook, "failurePolicy"));

	if (!excludes(sel, own_ns))
		return "its namespaceSelector does not leave out the controller's namespace, "
		       "so profileguard could not restart itself";
	/* failurePolicy defaults to Fail. */
	if ((!fp || strcmp(fp, "Ignore") != 0) && !excludes(sel, "kube-system"))
		return "with failurePolicy Fail its namespaceSelector must leave out kube-system";
	return NULL;
}

int webhookcfg_plan(json_t *vwc, const char *own_ns, struct webhookcfg_plan *ret, char *err,
		    size_t errsz)
{
	json_t *ann = json_object_get(json_object_get(vwc, "metadata"), "annotations");
	json_t *hooks = json_object_get(vwc, "webhooks");
	const char *text = json_string_value(json_object_get(ann, WEBHOOKCFG_ANNOTATION));
	json_error_t jerr;
	const char *key;
	json_t *val, *h;
	size_t i, len;

	memset(ret, 0, sizeof(*ret));
	if (!text)
		return -ENOENT;
	len = strlen(text);
	if (len > WEBHOOKCFG_MAX_ANNOTATION) {
		snprintf(err, errsz, "annotation %s: %zu bytes, over the cap of %d",
			 WEBHOOKCFG_ANNOTATION, len, WEBHOOKCFG_MAX_ANNOTATION);
		return -E2BIG;
	}
	if (json_array_size(hooks) > WEBHOOKCFG_MAX_HOOKS) {
		snprintf(err, errsz, "%zu webhooks, over the cap of %d", json_array_size(hooks),
			 WEBHOOKCFG_MAX_HOOKS);
		return -E2BIG;
	}
	ret->desired = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);
	if (!json_is_object(ret->desired)) {
		snprintf(err, errsz, "annotation %s: not a JSON object of webhook name to rules",
			 WEBHOOKCFG_ANNOTATION);
		return -EINVAL;
	}
	json_object_foreach(ret->desired, key, val) {
		bool found = false;
		int r;

		if (!json_is_array(val) || (r = rules_defaulted(val)) == -EINVAL) {
			snprintf(err, errsz, "annotation %s: %s: not a list of rules",
				 WEBHOOKCFG_ANNOTATION, key);
			return -EINVAL;
		}
		if (r < 0)
			return r;
		json_array_foreach(hooks, i, h) {
			const char *n = json_string_value(json_object_get(h, "name"));

			found = found || (n && strcmp(n, key) == 0);
		}
		if (!found) {
			snprintf(err, errsz, "annotation %s: no webhook named %s",
				 WEBHOOKCFG_ANNOTATION, key);
			return -EINVAL;
		}
	}
	json_array_foreach(hooks, i, h) {
		struct webhookcfg_hook *w = &ret->hooks[ret->nhooks++];
		json_t *cc = json_object_get(h, "clientConfig");
		json_t *svc = json_object_get(cc, "service");
		json_t *have = json_object_get(h, "rules");

		w->name = json_string_value(json_object_get(h, "name"));
		w->rules = w->name ? json_object_get(ret->desired, w->name) : NULL;
		w->svc_ns = json_string_value(json_object_get(svc, "namespace"));
		w->svc_name = json_string_value(json_object_get(svc, "name"));
		w->ca_bundle = json_string_value(json_object_get(cc, "caBundle"));
		if (w->ca_bundle && !*w->ca_bundle)
			w->ca_bundle = NULL;
		if (!w->rules)
			w->state = WEBHOOKCFG_UNMANAGED;
		else if (json_equal(have, w->rules) ||
			 (json_array_size(have) == 0 && json_array_size(w->rules) == 0))
			/* No rules wanted and none there (the API server drops an
			 * empty list) is armed too, or it would be patched each round. */
			w->state = WEBHOOKCFG_ARMED;
		else if ((w->why = unsafe_why(h, own_ns)))
			w->state = WEBHOOKCFG_UNSAFE;
		else if (json_array_size(have) == 0)
			w->state = WEBHOOKCFG_UNARMED;
		else
			w->state = WEBHOOKCFG_RESYNC;
	}
	return 0;
}

json_t *webhookcfg_armed_hooks(json_t *vwc, const struct webhookcfg_plan *p, const bool *arm)
{
	json_t *hooks = json_deep_copy(json_object_get(vwc, "webhooks"));
	size_t i;
	json_t *h;

	if (!hooks)
		return NULL;
	json_array_foreach(hooks, i, h) {
		if (i >= p->nhooks || !arm[i] || !p->hooks[i].rules)
			continue;
		if (json_object_set_new(h, "rules", json_deep_copy(p->hooks[i].rules)) < 0) {
			json_decref(hooks);
			return NULL;
		}
	}
	return hooks;
}

static bool cond_is(json_t *ep, const char *cond, bool dflt)
{
	json_t *v = json_object_get(json_object_get(ep, "conditions"), cond);

	return json_is_boolean(v) ? json_is_true(v) : dflt;
}

/* The slice's port the Service's https port maps to. */
static int slice_port(json_t *slice)
{
	json_t *ports = json_object_get(slice, "ports"), *p = NULL, *q;
	size_t i;

	if (json_array_size(ports) == 1) {
		p = json_array_get(ports, 0);
	} else {
		json_array_foreach(ports, i, q) {
			const char *n = json_string_value(json_object_get(q, "name"));

			if (n && strcmp(n, "https") == 0)
				p = q;
		}
	}
	if (!json_is_integer(json_object_get(p, "port")))
		return -1;
	json_int_t port = json_integer_value(json_object_get(p, "port"));

	return port > 0 && port < 65536 ? (int)port : -1;
}

int webhookcfg_ready_endpoint(json_t *slices, char *addr, size_t addrsz, int *ret_port)
{
	size_t i, j;
	json_t *s, *ep;

	json_array_foreach(json_object_get(slices, "items"), i, s) {
		const char *type = json_string_value(json_object_get(s, "addressType"));
		int port = slice_port(s);

		if (!type || (strcmp(type, "IPv4") != 0 && strcmp(type, "IPv6") != 0) || port < 0)
			continue;
		int af = strcmp(type, "IPv4") == 0 ? AF_INET : AF_INET6;

		json_array_foreach(json_object_get(s, "endpoints"), j, ep) {
			const char *a = json_string_value(json_array_get(
				json_object_get(ep, "addresses"), 0));
			unsigned char bin[16];

			/* An address that is not an IP literal is never dialled. */
			if (!a || strlen(a) >= addrsz || inet_pton(af, a, bin) != 1 ||
			    !cond_is(ep, "ready", true) || cond_is(ep, "terminating", false))
				continue;
			memcpy(addr, a, strlen(a) + 1);
			*ret_port = port;
			return 0;
		}
	}
	return -ENOENT;
}
