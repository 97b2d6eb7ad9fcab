/* image.c - reference normalisation after the distribution/reference
 * grammar the container runtimes use. */
#include "image.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "strutil.h"

static bool is_domain(const char *s, size_t n)
{
	/* The first path component is a registry when it has a '.' or a
	 * ':' (port), or is "localhost"; otherwise it is a Docker Hub user. */
	if (n == 9 && memcmp(s, "localhost", 9) == 0)
		return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] == '.' || s[i] == ':')
			return true;
	for (size_t i = 0; i < n; i++)
		if (s[i] >= 'A' && s[i] <= 'Z')
			return true;    /* uppercase is only legal in hosts */
	return false;
}

int image_normalize(const char *ref, char *out, size_t outsz)
{
	const char *at, *name_end, *slash, *last_slash, *colon;
	const char *domain = "docker.io", *lib = "";
	char tag[8] = "";
	size_t dlen = strlen("docker.io");
	const char *rest = ref;
	int n;

	if (!*ref || strlen(ref) > IMAGE_REF_MAX)
		return -EINVAL;
	for (const char *p = ref; *p; p++)
		if ((unsigned char)*p <= ' ' || (unsigned char)*p >= 0x7f)
			return -EINVAL;
	at = strchr(ref, '@');
	name_end = at ? at : ref + strlen(ref);
	if (name_end == ref)
		return -EINVAL;

	slash = memchr(ref, '/', (size_t)(name_end - ref));
	if (slash && is_domain(ref, (size_t)(slash - ref))) {
		domain = ref;
		dlen = (size_t)(slash - ref);
		rest = slash + 1;
	}
	if (rest >= name_end)
		return -EINVAL;

	/* The tag is after the last ':' that follows the last '/'. */
	last_slash = NULL;
	for (const char *p = rest; p < name_end; p++)
		if (*p == '/')
			last_slash = p;
	colon = NULL;
	for (const char *p = last_slash ? last_slash : rest; p < name_end; p++)
		if (*p == ':')
			colon = p;
	if (!colon && !at)
		memcpy(tag, ":latest", sizeof(":latest"));
	if (colon && colon + 1 == name_end)
		return -EINVAL;
	if (dlen == strlen("docker.io") && memcmp(domain, "docker.io", dlen) == 0 &&
	    !memchr(rest, '/', (size_t)(name_end - rest)))
		lib = "library/";
	if (dlen == strlen("index.docker.io") && memcmp(domain, "index.docker.io", dlen) == 0) {
		domain = "docker.io";
		dlen = strlen("docker.io");
		if (!memchr(rest, '/', (size_t)(name_end - rest)))
			lib = "library/";
	}
	if (at && !image_has_digest(at) && !str_has_prefix(at, "@sha"))
		return -EINVAL;
	/* The runtime pulls a reference with a digest by the digest alone:
	 * a tag beside it names nothing that runs, so it must not be what a
	 * tag pattern matches ("nginx:1.25@sha256:<any>" is any build). */
	if (at && colon)
		name_end = colon;

	n = snprintf(out, outsz, "%.*s/%s%.*s%s%s", (int)dlen, domain, lib,
		     (int)(name_end - rest), rest, tag, at ? at : "");
	if (n < 0 || (size_t)n >= outsz)
		return -ENAMETOOLONG;
	return 0;
}

bool image_has_digest(const char *ref)
{
	const char *p = strstr(ref, "@sha256:");
	size_t n = 0;

	if (!p)
		return false;
	for (p += strlen("@sha256:"); *p; p++, n++)
		if (!((*p >= '0' && *p <= '9') || (*p >= 'a' && *p <= 'f')))
			return false;
	return n == 64;
}

bool image_pattern_match(const char *pattern, const char *normalized)
{
	char norm_pat[IMAGE_REF_MAX + 64];
	char no_digest[IMAGE_REF_MAX + 64];
	const char *at = strchr(normalized, '@');

	/* @normalized has no tag beside a digest (image_normalize()), and a
	 * pattern without wildcards is normalised the same way, so a tag
	 * pattern never matches a reference pinned by digest. */
	if (!glob_has_wildcard(pattern)) {
		if (image_normalize(pattern, norm_pat, sizeof(norm_pat)) < 0)
			return false;
		return strcmp(norm_pat, normalized) == 0;
	}
	if (glob_match(pattern, normalized))
		return true;
	if (!at || strchr(pattern, '@'))
		return false;
	/* A repository pattern ("*.io/app") allows the repository pinned by
	 * digest: the name without the digest carries no tag to match. */
	snprintf(no_digest, sizeof(no_digest), "%.*s", (int)(at - normalized), normalized);
	return glob_match(pattern, no_digest);
}
