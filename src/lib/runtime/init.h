/* Internal to the runtime: the container init (the child side of create) and the sync
 * protocol between it and the create process. */
#ifndef KEEL_INIT_H
#define KEEL_INIT_H

#include <stdbool.h>
#include <sys/types.h>


#include "runtime/seccomp.h"
#include "runtime/cgroup.h"
#include "runtime/spec.h"
#include "util/error.h"

enum keel_sync_type {
	KEEL_SYNC_GO = 1,     /* parent -> child: uid/gid maps written; carries the host pid */
	KEEL_SYNC_CGROUP_DONE, /* parent -> child: the init is in its cgroups (the parent moves it
				  there while the init mounts: a v1 attach waits for an RCU grace
				  period, ~10 ms, which this hides) */
	KEEL_SYNC_HOOKS,      /* child -> parent: namespaces and mounts ready, run prestart and
				 createRuntime hooks */
	KEEL_SYNC_HOOKS_DONE, /* parent -> child */
	KEEL_SYNC_READY,      /* child -> parent: exec-ready, blocked on the fifo next */
	KEEL_SYNC_ERROR,      /* child -> parent: carries the error; the child exits */
};

struct keel_sync_msg {
	int type;
	pid_t pid;
	keel_error_t err;
};

int keel_sync_send(int fd, int type, pid_t pid, const keel_error_t *e);
/* Receives one message; EOF is an error "peer exited". */
int keel_sync_recv(int fd, struct keel_sync_msg *m, keel_error_t *err);

/* Everything the init needs, prepared by the create process before clone. */
struct keel_init_args {
	const struct keel_spec *spec;
	const char *id;
	const char *bundle;
	const char *rootfs;
	const char *cgroup_path; /* the container's cgroup, the same in every hierarchy */
	/* set when the init joins its v1 cgroups itself, first thing (cgroup.h) */
	const struct keel_cgroup_join *cgroup_join;
	int sync_fd;
	int fifo_fd;        /* the exec fifo opened O_RDWR, or -1 for `run` without fifo */
	int console_fd;     /* connected console socket or -1 */
	int ns_fds[KEEL_NS_TYPES]; /* namespaces to join (-1 = none) */
	bool new_userns;
	const struct keel_seccomp_prog *seccomp; /* NULL for none */
	int preserve_fds;
	bool no_new_keyring;
};

#define KEEL_SECCOMP_CACHE_DIR "/run/keel/seccomp-cache"

/* Compiles the container's filter through the cache in $KEEL_SECCOMP_CACHE or
 * KEEL_SECCOMP_CACHE_DIR, keyed by the linux.seccomp JSON of config_text. Shared by create
 * and exec. */
int keel_seccomp_for_config(const char *root, const char *config_text, const struct keel_spec_seccomp *s,
		    struct keel_seccomp_prog *out, keel_error_t *err);

/* The init's whole life; never returns. */
__attribute__((noreturn)) void keel_init_main(const struct keel_init_args *a);

/* The state JSON given to hooks ("creating"/"created"/...). malloc'd string. */
char *keel_hook_state(const struct keel_spec *spec, const char *id, const char *bundle,
		      const char *status, pid_t pid);

#endif
