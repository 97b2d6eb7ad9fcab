/* podjudge.h - the drift controller's judge (podjudge.c): one pod held
 * to its namespace's profiles, what is new handed to the actions, and the
 * memory of what was reported per pod.  Private to src/controller; every
 * call is made under the controller's lock. */
#ifndef PG_PODJUDGE_H
#define PG_PODJUDGE_H

#include <stdbool.h>

#include "hash.h"

struct actions;
struct kube_informer;
struct kube_object;
struct profcache;
struct risk_result;

/* What a judgement reads and where it reports, all borrowed. */
struct podjudge_env {
	struct profcache *profs;
	struct actions *actions;
	struct kube_informer *sas;      /* ServiceAccounts (struct identities_sa) */
	/* The namespace is never judged (the controller's own, an ignored one). */
	bool (*ns_ignored)(void *ud, const char *ns);
	/* A service-account-token Secret of that name exists (engine_ctx). */
	bool (*is_token_secret)(void *ud, const char *ns, const char *name);
	/* The account's RBAC risk now (engine_ctx.identity_risk). */
	int (*identity_risk)(void *ud, const char *ns, const char *name, const struct risk_result **ret);
	void *ud;
};

/* The judge's memory: "ns/name" -> the groups reported, for pods with
 * findings only.  Zeroed: empty. */
struct podjudge {
	struct smap pods;
};

/* Judges the pod @obj (NULL: gone) under @key ("ns/name"): submits the
 * finding groups not reported yet and remembers what was.  Out of memory
 * it logs and forgets, so the next look reports again. */
void podjudge_pod(struct podjudge *j, const struct podjudge_env *env, const char *key,
		  struct kube_object *obj);
/* Forgets every pod: a new term starts from the cluster's state. */
void podjudge_forget_all(struct podjudge *j);

#endif
