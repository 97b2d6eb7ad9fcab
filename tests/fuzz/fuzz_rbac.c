/* fuzz_rbac.c - RBAC objects and ServiceAccounts (JSON): the model's
 * readers, then the identity index and the risk rules over what they
 * read: a role and a binding of one input judged for every account the
 * binding names. */
#include <stdint.h>
#include <stdlib.h>

#include "arena.h"
#include "errlist.h"
#include "identity.h"
#include "jval.h"
#include "rbac.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The input is one JSON value: an object, or an array of objects judged
 * together (roles first into the index, then bindings). */
static void one(struct identity_index *x, const struct jval *obj)
{
	struct errlist errs;
	struct rbac_role *role = NULL;
	struct rbac_binding *b = NULL;
	struct rbac_account *sa = NULL;

	errlist_init(&errs, 4);
	switch (rbac_kind_of(obj)) {
	case RBAC_ROLE:
	case RBAC_CLUSTER_ROLE:
		if (rbac_role_parse(obj, "default", &errs, &role) == 0) {
			rbac_aggregate(&role, 1, &errs);
			identity_index_put_role(x, role, NULL, NULL);
		}
		break;
	case RBAC_ROLE_BINDING:
	case RBAC_CLUSTER_ROLE_BINDING:
		if (rbac_binding_parse(obj, "default", &errs, &b) == 0)
			identity_index_put_binding(x, b, NULL, NULL);
		break;
	case RBAC_SERVICE_ACCOUNT:
		if (rbac_account_parse(obj, "default", &errs, &sa) == 0)
			rbac_account_free(sa);
		break;
	default:
		break;
	}
	errlist_free(&errs);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct jval_limits lim = { 32, 20000 };
	struct arena *a = arena_new(4096);
	struct identity_index *x = NULL;
	const struct jval *v, *it;
	struct jval_error err;
	struct risk_result *res = malloc(sizeof(*res));
	size_t i;

	if (!a || !res || identity_index_new(&x) < 0)
		goto out;
	if (jval_parse((const char *)data, size, &lim, a, &v, &err) < 0)
		goto out;
	if (jval_is_array(v)) {
		jval_foreach_item(v, i, it)
			one(x, it);
	} else {
		one(x, v);
	}
	/* Every binding the corpus writes names default/default. */
	identity_index_judge(x, "default", "default", res);
out:
	identity_index_free(x);
	arena_free(a);
	free(res);
	return 0;
}
