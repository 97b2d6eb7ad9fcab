/* image.h - container image references, normalised as the container
 * runtime reads them, and matched against profile patterns. */
#ifndef PG_IMAGE_H
#define PG_IMAGE_H

#include <stdbool.h>
#include <stddef.h>

/* Longest reference we accept (the registry's own limit is lower). */
#define IMAGE_REF_MAX 1024

/* "nginx" -> "docker.io/library/nginx:latest", "ghcr.io/a/b" ->
 * "ghcr.io/a/b:latest", "a/b@sha256:..." -> "docker.io/a/b@sha256:..."
 * (a digest stays; no tag is added beside it, and a tag beside it is
 * dropped: "nginx:1.25@sha256:..." -> "docker.io/library/nginx@sha256:...",
 * since the runtime pulls by the digest alone).  Writes into @out of
 * @outsz bytes.  0, or -EINVAL for an empty or malformed reference,
 * -ENAMETOOLONG when it does not fit. */
int image_normalize(const char *ref, char *out, size_t outsz);
/* True when the reference carries "@sha256:" and 64 lowercase hex digits. */
bool image_has_digest(const char *ref);
/* A pattern without wildcards is normalised and compared exactly; one with
 * wildcards is matched against the normalised reference.  A wildcard
 * pattern that names no digest also matches the reference with its digest
 * removed ("*.io/app" allows "r.io/app@sha256:...").  A tag pattern never
 * allows a digest reference: "registry/app:1.2" does not allow
 * "registry/app:1.2@sha256:...", which runs whatever the digest names. */
bool image_pattern_match(const char *pattern, const char *normalized);

#endif
