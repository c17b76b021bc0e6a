/* `docker run` / `docker create` options: the parsed form of the command line, before any
 * image is looked at.
 *
 * keel_runopts_parse() reads argv from *i up to the image name with Docker's (pflag's)
 * syntax: `-e X=1`, `--env=X=1`, `--env X=1`, combined short booleans (`-dit`), a short
 * option's value glued on (`-eX=1`, `-m64m`), `--` ending the options, repeatable flags
 * accumulating. It validates values the way the docker CLI and dockerd do and reports
 * failures with the docker CLI's own words (`unknown flag: --foo`,
 * `invalid argument "abc" for "-m, --memory" flag: invalid size: 'abc'`). Mapping to a
 * config.json is ocispec.h's job; nothing here touches the filesystem except --env-file,
 * --label-file and the existence check of bind sources and --device paths (as dockerd does).
 *
 * Ownership: a struct keel_run_opts owns every string and array it points to;
 * keel_runopts_free() releases them (the struct itself is the caller's). */
#ifndef KEEL_RUNOPTS_H
#define KEEL_RUNOPTS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine/restart.h"
#include "util/error.h"

enum keel_mount_kind {
	KEEL_MOUNT_BIND,
	KEEL_MOUNT_TMPFS,
	KEEL_MOUNT_VOLUME, /* named volumes: parsed, refused by the generator until volumes exist */
};

/* One -v, --mount or --tmpfs. */
struct keel_mount_opt {
	enum keel_mount_kind kind;
	char *source;      /* host path (bind) or volume name; NULL for tmpfs */
	char *target;      /* absolute path in the container */
	bool readonly;
	bool from_volume_flag; /* -v/--tmpfs (dockerd: rprivate) rather than --mount */
	char *propagation; /* "rprivate", "rslave", ... or NULL for the default */
	char **options;    /* extra mount options: tmpfs "size=1m", "mode=1770", -v "z"...; NULL-terminated */
};

/* One --ulimit name=soft[:hard]. */
struct keel_ulimit_opt {
	char *name; /* "nofile" */
	int resource; /* RLIMIT_* */
	uint64_t soft, hard;
};

/* One --device HOST[:CTR[:PERMS]]. */
struct keel_device_opt {
	char *host, *container;
	char perms[4]; /* subset of "rwm" */
};

enum keel_network_mode {
	KEEL_NETWORK_NONE, /* keel's default until bridge networking exists */
	KEEL_NETWORK_HOST,
};

struct keel_run_opts {
	bool detach, interactive, tty, rm, read_only, privileged, init;
	bool no_new_privileges, seccomp_unconfined;
	bool systempaths_unconfined; /* --security-opt systempaths=unconfined: no masked paths */
	bool help;                   /* --help seen: the CLI prints usage, nothing else happens */
	char *name, *workdir, *user, *hostname;
	bool has_entrypoint; /* --entrypoint given; "" clears the image's ENTRYPOINT */
	char *entrypoint;
	char *seccomp_profile; /* --security-opt seccomp=FILE: the file's text */

	/* NULL-terminated string vectors, NULL when empty. env entries are "K=V", or a bare
	 * "K" for `-e K` with K unset in keel's environment (Docker: removes K). */
	char **env, **labels, **cap_add, **cap_drop, **group_add, **add_hosts;
	char **sysctls; /* "key=value" */
	char **dns, **dns_search, **dns_options; /* recorded for when networks exist */

	struct keel_mount_opt *mounts;
	size_t n_mounts;
	struct keel_ulimit_opt *ulimits;
	size_t n_ulimits;
	struct keel_device_opt *devices;
	size_t n_devices;

	/* resources; 0 = not set, as in Docker's HostConfig */
	int64_t memory, memory_swap, memory_reservation, shm_size; /* bytes; swap -1 = unlimited */
	int64_t nano_cpus;  /* --cpus * 1e9 */
	int64_t cpu_shares;
	int64_t cpu_period, cpu_quota;
	char *cpuset_cpus, *cpuset_mems;
	bool has_pids_limit;
	int64_t pids_limit; /* <= 0: unlimited */
	int oom_score_adj;

	enum keel_restart_mode restart; /* restart.h's, the monitor's own type */
	int restart_max; /* on-failure:N, 0 = unlimited */
	char *stop_signal; /* as given ("SIGUSR1", "USR1", "10"); NULL = image or SIGTERM */
	int stop_signal_num; /* parsed; 0 when stop_signal is NULL */
	bool has_stop_timeout;
	int stop_timeout;

	/* The command after the image (argv past it), NULL-terminated; NULL = the image's CMD.
	 * Set by the caller with keel_runopts_set_cmd(). */
	char **cmd;

	char *log_driver; /* --log-driver: json-file (NULL = default) or none */
	/* the foreground attach of run: --detach-keys (NULL = ctrl-p,ctrl-q; checked by the CLI)
	 * and --sig-proxy=false (signals to keel are not passed on to the container) */
	char *detach_keys;
	bool no_sig_proxy;
	char **log_opts;  /* --log-opt "k=v", as given (engine/logconfig.h checks them) */

	enum keel_network_mode network;
	char *platform, *pull, *cidfile; /* accepted and recorded */
};

/* Parses argv[*i..] up to the first non-option (the image), or argc. On return *i indexes
 * the image name (== argc when there is none; the caller reports "requires at least 1
 * argument"). o must be zeroed by the caller (or come from a previous call: flags add up).
 * Returns 0, or -1 with *err set to the docker CLI's message (the caller exits 125). */
int keel_runopts_parse(int argc, char **argv, int *i, struct keel_run_opts *o, keel_error_t *err);

/* Stores argv[0..argc) (what follows the image name) as o->cmd. Returns 0 or -1 (ENOMEM). */
int keel_runopts_set_cmd(struct keel_run_opts *o, int argc, char *const *argv, keel_error_t *err);

/* Releases everything o owns and zeroes it. NULL is allowed. */
void keel_runopts_free(struct keel_run_opts *o);

/* Docker's size syntax (go-units RAMInBytes): "64m", "1.5g", "1024", "10kb", case-insensitive,
 * binary multiples. Returns 0 and *out, or -1 with *err "invalid size: 'x'" /
 * "invalid suffix: 'x'". */
int keel_parse_size(const char *s, int64_t *out, keel_error_t *err);

/* A signal by name ("SIGTERM", "term", case-insensitive) or number; 0 when unknown. */
int keel_signal_from_name(const char *s);

/* The help text of the flags, one per line ("  -d, --detach   Run container in background and
 * print container ID"), for the CLI's --help. Static storage. */
const char *keel_runopts_help(void);

#endif
