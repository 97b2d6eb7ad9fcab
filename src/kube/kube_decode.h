/* kube_decode.h - ready-made informer decoders: the compact forms the
 * controller and webhook cache.  Each pair fits kube_informer_opts'
 * decode/free_data (decode_ud unused, may be NULL, but for the pod
 * decoders' struct kube_pod_refused). */
#ifndef PG_KUBE_DECODE_H
#define PG_KUBE_DECODE_H

#include <stddef.h>
#include <stdint.h>

#include "selector.h"

struct arena;
struct jval;

/* Pods as the engine judges them (pod.h, pod_from_jval_kind: the kind is
 * known, list items do not say it): a pod the
 * model refuses (e.g. over its limits) is left out of the cache.  The pod
 * is compacted for a long stay: one exact-size block, and the strings
 * pods share (namespace, labels, images, owner...) held once for the
 * process, reference-counted.  Free it with kube_free_pod() only, never
 * with pod_free(). */
int kube_decode_pod(void *ud, const struct jval *obj, void **ret_pod);
/* The pod decoders' decode_ud: NULL, or this, told of each pod the model
 * refuses with the first problem (a field path and what is wrong, e.g. the
 * cap it is over; never a value), so the caller can say which pod is left
 * out of the cache and why.  Called on the informer's thread. */
struct kube_pod_refused {
	void (*fn)(void *ud, const char *ns, const char *name, const char *why);
	void *ud;
};
void kube_free_pod(void *ud, void *pod);
/* Distinct shared strings held now (for tests and metrics). */
size_t kube_decode_shared_strings(void);

/* What metadata-only informers keep (ServiceAccounts, token Secrets):
 * labels, annotations, creation time and the controller owner. */
struct kube_meta {
	struct arena *arena;        /* owns everything below */
	struct labels labels;
	struct labels annotations;
	int64_t created;            /* creationTimestamp, epoch seconds; -1 */
	const char *owner_kind;     /* the controller ownerReference; NULL */
	const char *owner_name;
	const char *owner_uid;
};

int kube_decode_meta(void *ud, const struct jval *obj, void **ret_meta);
void kube_free_meta(void *ud, void *meta);

#endif
