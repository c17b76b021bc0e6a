/* Docker's image reference grammar (distribution/reference) and its normalisation:
 *   busybox                 -> docker.io/library/busybox:latest
 *   me/app:1                -> docker.io/me/app:1
 *   host:5000/ns/repo:tag   -> host:5000/ns/repo:tag
 *   name@sha256:<64 hex>    -> digest references (tag and digest may both be given)
 * "Familiar" is the short form docker prints (busybox:latest, me/app:1). */
#ifndef KEEL_REFERENCE_H
#define KEEL_REFERENCE_H

#include <stdbool.h>

#include "util/error.h"

struct keel_ref {
	char *domain; /* "docker.io" */
	char *path;   /* "library/busybox" */
	char *tag;    /* NULL when not given (see keel_ref_default_tag) */
	char *digest; /* "sha256:..." or NULL */
};

/* Parses and normalises s. EINVAL with Docker's message ("invalid reference format...") on
 * bad input. Release with keel_ref_free. */
int keel_ref_parse(const char *s, struct keel_ref *out, keel_error_t *err);
void keel_ref_free(struct keel_ref *r);

/* Adds tag "latest" when neither tag nor digest is set. */
int keel_ref_default_tag(struct keel_ref *r, keel_error_t *err);

/* "docker.io/library/busybox" (caller frees). */
char *keel_ref_name(const struct keel_ref *r);
/* Full form: name[:tag][@digest] (caller frees). */
char *keel_ref_string(const struct keel_ref *r);
/* Familiar form of any full reference string: docker.io/library/x:t -> x:t, docker.io/a/b ->
 * a/b (caller frees). */
char *keel_ref_familiarize(const char *full);

/* True for 64 lowercase hex digits (an image id without "sha256:"). */
bool keel_is_hex64(const char *s);
/* True when s could be an id or id prefix: "sha256:<hex>" or 1..64 lowercase hex digits. */
bool keel_is_id_prefix(const char *s);

#endif
