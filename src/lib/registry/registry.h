/* keel's registry client: pull, push, login and logout against OCI Distribution registries
 * (docs/registry.md). Everything returns >= 0 on success and -1 with *err set; nothing here
 * prints. Progress goes to an optional callback, which may be called from several worker
 * threads at once (the callee serialises). */
#ifndef KEEL_REGISTRY_H
#define KEEL_REGISTRY_H

#include <stdbool.h>
#include <stdint.h>

#include "store/digest.h"
#include "store/store.h"
#include "util/error.h"

enum keel_reg_state {
	KEEL_REG_MESSAGE,     /* a whole line in text ("latest: Pulling from library/busybox") */
	KEEL_REG_WAITING,     /* "Pulling fs layer" / "Preparing" */
	KEEL_REG_EXISTS,      /* "Already exists" (pull) / "Layer already exists" (push) */
	KEEL_REG_DOWNLOADING, /* current/total bytes */
	KEEL_REG_RETRYING,    /* connection dropped: resuming with Range */
	KEEL_REG_VERIFYING,   /* "Verifying Checksum" */
	KEEL_REG_EXTRACTING,  /* waiting for the unpacker that ran alongside the download */
	KEEL_REG_PULLED,      /* "Pull complete" */
	KEEL_REG_PUSHING,     /* current/total bytes (total 0 when compressing on the fly) */
	KEEL_REG_PUSHED,      /* "Pushed" */
	KEEL_REG_MOUNTED,     /* "Mounted from <text>" */
};

struct keel_reg_event {
	enum keel_reg_state state;
	const char *id; /* 12 hex digits naming the layer (NULL for MESSAGE) */
	int64_t current, total;
	const char *text; /* MESSAGE line, MOUNTED source, RETRYING reason */
};

struct keel_reg_options {
	const char *platform; /* "os/arch[/variant]", NULL: linux and the host's architecture */
	int parallel;	      /* layers transferred at once; 0: 3 */
	bool all_tags;	      /* push: every tag of the repository */
	void (*progress)(void *ud, const struct keel_reg_event *ev); /* may be NULL */
	void *progress_ud;
};

struct keel_pull_result {
	char id[KEEL_DIGEST_SIZE];     /* image id */
	char digest[KEEL_DIGEST_SIZE]; /* manifest digest (of the platform's manifest) */
	char name[512];		       /* full reference as pulled: docker.io/library/x:latest */
	bool downloaded;	       /* false: the tag already pointed at this image */
};

/* `pull`: resolves ref (any reference form) at its registry, picks the platform's manifest
 * from an index, downloads config and layers (verified by digest and size, layers unpacked
 * while they download), then records the image and its tag. On failure nothing of the
 * image is kept (unreferenced blobs and layers are collected). */
int keel_registry_pull(struct keel_store *s, const char *ref, const struct keel_reg_options *o,
		       struct keel_pull_result *out, keel_error_t *err);

/* `push`: uploads the image named ref (and with o->all_tags every tag of its repository) to
 * its registry; progress events carry Docker's lines, including
 * "<tag>: digest: sha256:... size: N". */
int keel_registry_push(struct keel_store *s, const char *ref, const struct keel_reg_options *o,
		       keel_error_t *err);

/* `login`: checks user/pass against server (NULL: Docker Hub) and stores them in the
 * Docker config.json (keel_auth_config_path). */
int keel_registry_login(const char *server, const char *user, const char *pass, keel_error_t *err);
/* `logout`: forgets server's credentials; ENOENT when there were none. */
int keel_registry_logout(const char *server, keel_error_t *err);

/* The key login uses for server in config.json: "https://index.docker.io/v1/" for Docker
 * Hub, else host[:port]. Caller frees. */
char *keel_auth_server_key(const char *server);

/* The credentials file: $KEEL_AUTH_CONFIG (a file), else $DOCKER_CONFIG/config.json, else
 * ~/.docker/config.json. Caller frees. */
char *keel_auth_config_path(void);

#endif
