/* A plain HTTP(S) download for the build's remote ADD. It lives in keel-registry.so (which
 * links libcurl); keel-engine.so, where the build runs, reaches it through dlopen
 * (src/lib/build/exec_fetch.c), so the engine itself never links libcurl. */
#ifndef KEEL_REGISTRY_HTTP_FETCH_H
#define KEEL_REGISTRY_HTTP_FETCH_H

#include <stdint.h>

#include "util/error.h"

/* GETs url (http:// or https:// only; redirects followed, at most 10) into fd, a regular
 * file opened for writing. *mtime gets the Last-Modified time in seconds since the epoch,
 * or -1 when the server sent none. Fails on an HTTP status >= 400 ("GET URL: 404 Not
 * Found"). The signature is keel_http_fetch_fn: the engine looks it up by name. */
int keel_http_fetch(const char *url, int fd, int64_t *mtime, keel_error_t *err);
typedef int (*keel_http_fetch_fn)(const char *url, int fd, int64_t *mtime, keel_error_t *err);

#endif
