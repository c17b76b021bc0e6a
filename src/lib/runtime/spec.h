/* The OCI runtime specification (v1.1) config.json, as keel's runtime uses it on Linux.
 *
 * keel_spec_load() parses and validates the whole document once; every other runtime
 * module reads these structs and never the JSON. Validation errors name the field in the
 * document's own terms: `config.json: linux.namespaces[2].type: unknown namespace "foo"`.
 *
 * Ownership: a struct keel_spec owns everything it points to; keel_spec_free() releases it.
 * Arrays are counted (`x` + `n_x`); string vectors are NULL-terminated (`char **`).
 * Optional scalars carry a `has_` flag where zero is a meaningful value. */
#ifndef KEEL_SPEC_H
#define KEEL_SPEC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

/* GNU C modes (-std=gnu11) predefine `linux` as 1, which would turn the member
 * `struct keel_spec_linux linux` below into a syntax error. */
#undef linux

/* ---------- process ---------- */

struct keel_spec_rlimit {
	int resource; /* RLIMIT_* number, parsed from "RLIMIT_NOFILE" etc. */
	uint64_t soft, hard;
};

/* Capability sets as 64-bit masks (bit n = capability n, as in linux/capability.h). */
struct keel_spec_caps {
	bool present; /* "capabilities" object given at all */
	uint64_t bounding, effective, inheritable, permitted, ambient;
};

struct keel_spec_process {
	bool terminal;
	bool has_console_size;
	unsigned console_height, console_width;
	uid_t uid;
	gid_t gid;
	bool has_umask;
	mode_t umask;
	gid_t *additional_gids;
	size_t n_additional_gids;
	char **args; /* required, >= 1 element */
	char **env;  /* may be an empty vector, never NULL */
	char *cwd;   /* required, absolute */
	struct keel_spec_caps caps;
	struct keel_spec_rlimit *rlimits;
	size_t n_rlimits;
	bool no_new_privileges;
	bool has_oom_score_adj;
	int oom_score_adj;
	char *apparmor_profile; /* accepted; an error at create time if set (unsupported) */
	char *selinux_label;    /* same */
};

/* ---------- mounts ---------- */

struct keel_spec_mount {
	char *destination; /* required, absolute */
	char *type;        /* may be NULL (then "bind" if options say bind) */
	char *source;      /* may be NULL */
	char **options;    /* raw option strings as written, NULL-terminated */
	/* Parsed from options by keel_spec_mount_flags(): */
	unsigned long flags;     /* MS_* set */
	unsigned long clear;     /* MS_* explicitly cleared (rw, suid, dev, exec, ...) */
	unsigned long propagation; /* MS_PRIVATE/MS_SLAVE/MS_SHARED/MS_UNBINDABLE (|MS_REC), 0 if none */
	bool bind, recursive;     /* "bind" / "rbind" */
	bool tmpcopyup;
	char *data;               /* remaining filesystem options joined by ',' (may be "") */
};

/* ---------- hooks ---------- */

struct keel_spec_hook {
	char *path; /* required, absolute */
	char **args; /* may be NULL */
	char **env;  /* may be NULL */
	bool has_timeout;
	int timeout; /* seconds, > 0 */
};

enum keel_hook_kind {
	KEEL_HOOK_PRESTART,
	KEEL_HOOK_CREATE_RUNTIME,
	KEEL_HOOK_CREATE_CONTAINER,
	KEEL_HOOK_START_CONTAINER,
	KEEL_HOOK_POSTSTART,
	KEEL_HOOK_POSTSTOP,
	KEEL_HOOK_KINDS
};

struct keel_spec_hooks {
	struct keel_spec_hook *list[KEEL_HOOK_KINDS];
	size_t n[KEEL_HOOK_KINDS];
};

/* ---------- linux ---------- */

enum keel_ns_type {
	KEEL_NS_PID,
	KEEL_NS_NET,
	KEEL_NS_MNT,
	KEEL_NS_IPC,
	KEEL_NS_UTS,
	KEEL_NS_USER,
	KEEL_NS_CGROUP,
	KEEL_NS_TIME,
	KEEL_NS_TYPES
};

struct keel_spec_namespace {
	enum keel_ns_type type;
	char *path; /* NULL: create a new one; else join this one */
};

struct keel_spec_idmap {
	uint32_t container_id, host_id, size;
};

struct keel_spec_device {
	char *path;  /* absolute, inside the container */
	char type;   /* 'c', 'b', 'u' or 'p' */
	int64_t major, minor; /* -1 when not given (only legal for 'p') */
	bool has_mode, has_uid, has_gid;
	mode_t mode; /* permission bits */
	uid_t uid;
	gid_t gid;
};

struct keel_spec_device_rule {
	bool allow;
	char type;           /* 'a', 'c' or 'b'; 'a' when not given */
	int64_t major, minor; /* -1 = wildcard */
	char access[4];      /* subset of "rwm", "" = "rwm" */
};

struct keel_spec_weight_device {
	int64_t major, minor;
	bool has_weight, has_leaf_weight;
	uint16_t weight, leaf_weight;
};

struct keel_spec_throttle_device {
	int64_t major, minor;
	uint64_t rate;
};

struct keel_spec_hugepage_limit {
	char *page_size; /* "2MB", "1GB", ... */
	uint64_t limit;
};

/* Resources. Every scalar has a has_ flag: absent means "leave as it is". For memory
 * values -1 means unlimited, as in the spec. */
struct keel_spec_resources {
	struct keel_spec_device_rule *devices;
	size_t n_devices;

	bool has_memory_limit, has_memory_reservation, has_memory_swap, has_memory_kernel,
		has_memory_kernel_tcp, has_memory_swappiness, has_disable_oom_killer,
		has_use_hierarchy;
	int64_t memory_limit, memory_reservation, memory_swap, memory_kernel, memory_kernel_tcp;
	uint64_t memory_swappiness;
	bool disable_oom_killer, use_hierarchy;

	bool has_cpu_shares, has_cpu_quota, has_cpu_period, has_cpu_realtime_runtime,
		has_cpu_realtime_period, has_cpu_burst, has_cpu_idle;
	uint64_t cpu_shares, cpu_period, cpu_realtime_period, cpu_burst;
	int64_t cpu_quota, cpu_realtime_runtime, cpu_idle;
	char *cpu_cpus; /* cpuset "0-1", NULL when unset */
	char *cpu_mems;

	bool has_pids_limit;
	int64_t pids_limit; /* <= 0 means unlimited */

	bool has_blkio_weight, has_blkio_leaf_weight;
	uint16_t blkio_weight, blkio_leaf_weight;
	struct keel_spec_weight_device *blkio_weight_devices;
	size_t n_blkio_weight_devices;
	/* read_bps, write_bps, read_iops, write_iops */
	struct keel_spec_throttle_device *blkio_throttle[4];
	size_t n_blkio_throttle[4];

	struct keel_spec_hugepage_limit *hugepage_limits;
	size_t n_hugepage_limits;

	/* cgroup v2 only: "unified": {"memory.high": "..."} — key/value pairs, NULL-terminated
	 * alternating vector k0,v0,k1,v1,... */
	char **unified;
};

enum keel_blkio_throttle_kind {
	KEEL_BLKIO_READ_BPS,
	KEEL_BLKIO_WRITE_BPS,
	KEEL_BLKIO_READ_IOPS,
	KEEL_BLKIO_WRITE_IOPS
};

struct keel_spec_syscall_arg {
	unsigned index;
	uint64_t value, value_two;
	int op; /* enum scmp_compare value (SCMP_CMP_EQ, ...) */
};

struct keel_spec_syscall {
	char **names;
	uint32_t action; /* SCMP_ACT_* value (for ERRNO/TRACE with errno_ret folded in) */
	bool has_errno_ret;
	unsigned errno_ret;
	struct keel_spec_syscall_arg *args;
	size_t n_args;
};

struct keel_spec_seccomp {
	uint32_t default_action; /* SCMP_ACT_* */
	bool has_default_errno_ret;
	unsigned default_errno_ret;
	uint32_t *architectures; /* SCMP_ARCH_* tokens */
	size_t n_architectures;
	char **flags;             /* "SECCOMP_FILTER_FLAG_LOG", ... */
	char *listener_path;      /* refused with a clear error at create time */
	struct keel_spec_syscall *syscalls;
	size_t n_syscalls;
};

struct keel_spec_linux {
	struct keel_spec_namespace *namespaces;
	size_t n_namespaces;
	struct keel_spec_idmap *uid_mappings, *gid_mappings;
	size_t n_uid_mappings, n_gid_mappings;
	struct keel_spec_device *devices;
	size_t n_devices;
	char *cgroups_path; /* NULL when not given */
	struct keel_spec_resources *resources; /* NULL when not given */
	char **sysctl; /* alternating key/value, NULL-terminated; NULL when none */
	struct keel_spec_seccomp *seccomp; /* NULL when not given */
	char **masked_paths;   /* NULL when none */
	char **readonly_paths; /* NULL when none */
	unsigned long rootfs_propagation; /* MS_* or 0 */
	char *mount_label;       /* ignored */
	bool has_personality;
	unsigned long personality; /* PER_LINUX / PER_LINUX32 */
	bool has_intel_rdt;        /* refused at create time */
	/* time namespace offsets, seconds/nanoseconds */
	bool has_time_offsets;
	int64_t boottime_secs, monotonic_secs;
	uint32_t boottime_nanosecs, monotonic_nanosecs;
};

struct keel_spec {
	char *oci_version; /* required */
	struct keel_spec_process *process; /* NULL when absent (legal for create; needed for start) */
	char *root_path;   /* as written (may be relative to the bundle) */
	bool root_readonly;
	char *hostname, *domainname;
	struct keel_spec_mount *mounts;
	size_t n_mounts;
	struct keel_spec_hooks hooks;
	json_t *annotations; /* JSON object (borrowed by nobody else; freed with the spec), NULL if none */
	struct keel_spec_linux linux;
};

/* Parses and validates config.json text. `origin` names the document in error messages
 * ("config.json"). Returns NULL with *err set to one line naming the field. */
struct keel_spec *keel_spec_parse(const char *text, size_t len, const char *origin,
				  keel_error_t *err);

/* Reads BUNDLE/config.json and parses it. */
struct keel_spec *keel_spec_load(const char *bundle, keel_error_t *err);

void keel_spec_free(struct keel_spec *spec);

/* Parses an OCI "process" object (runc exec --process FILE). origin as above. */
struct keel_spec_process *keel_spec_process_parse(const char *text, size_t len,
						  const char *origin, keel_error_t *err);
void keel_spec_process_free(struct keel_spec_process *p);

/* Parses a LinuxResources object (runc update --resources). */
struct keel_spec_resources *keel_spec_resources_parse(const char *text, size_t len,
						      const char *origin, keel_error_t *err);
void keel_spec_resources_free(struct keel_spec_resources *r);

/* Returns the namespace entry of that type, or NULL (borrowed). */
const struct keel_spec_namespace *keel_spec_namespace(const struct keel_spec *spec,
						      enum keel_ns_type type);

/* Names: "pid", "network", "mount", ... and the CLONE_NEW* flag of each. */
const char *keel_ns_name(enum keel_ns_type type);
int keel_ns_clone_flag(enum keel_ns_type type);
/* The /proc/<pid>/ns/<name> file name of each ("pid", "net", "mnt", ...). */
const char *keel_ns_proc_name(enum keel_ns_type type);

/* Capability name ("CAP_SYS_ADMIN") <-> number; -1 when unknown. */
int keel_cap_from_name(const char *name);
const char *keel_cap_name(int cap);
/* Highest capability number the running kernel knows (from /proc/sys/kernel/cap_last_cap). */
int keel_cap_last(void);

/* The default config.json that `spec` prints (as runc's, rootless = false): a new JSON
 * object the caller owns. */
json_t *keel_spec_default(void);

#endif
