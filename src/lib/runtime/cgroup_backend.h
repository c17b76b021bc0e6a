/* Private to the cgroup module (cgroup.c, cgroup_v1.c, cgroup_v2.c) and its unit test: the
 * struct behind the public handle, the ops table each backend fills, and the knob helpers
 * both backends share. */
#ifndef KEEL_CGROUP_BACKEND_H
#define KEEL_CGROUP_BACKEND_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include <jansson.h>

#include "runtime/cgroup.h"

/* One hierarchy the container lives in. v1: one per mounted hierarchy (co-mounted
 * controllers once, e.g. "cpu,cpuacct"), plus the unified one in hybrid mode; v2: exactly
 * one, the unified hierarchy. */
struct cgroup_hier {
	char *name;   /* "memory", "cpu,cpuacct", "name=systemd"; "" for the unified one */
	char *mount;  /* the hierarchy's root directory, e.g. /sys/fs/cgroup/memory */
	char *dir;    /* mount + container path: the container's directory */
	bool unified; /* a cgroup2 hierarchy */
};

struct keel_cgroup {
	enum keel_cgroup_mode mode; /* never AUTO once opened */
	const struct cgroup_ops *ops;
	char *root;
	char *path; /* normalized, absolute inside each hierarchy, never "/" */
	struct cgroup_hier *hiers;
	size_t n_hiers;
};

/* A backend. Every entry returns >= 0 ok / -1 with *err, like the public functions it
 * serves; cgroup.c does what both versions share (paths, enter, pids, destroy). */
struct cgroup_ops {
	const char *name;
	/* Fills cg->hiers from cg->root and cg->path. Creates nothing. */
	int (*init)(struct keel_cgroup *cg, keel_error_t *err);
	int (*create)(struct keel_cgroup *cg, keel_error_t *err);
	int (*apply)(struct keel_cgroup *cg, const struct keel_spec_resources *res,
		     keel_error_t *err);
	int (*freeze)(struct keel_cgroup *cg, bool frozen, keel_error_t *err);
	int (*is_frozen)(struct keel_cgroup *cg, keel_error_t *err);
	/* Kills every process in one step if the kernel can (v2 cgroup.kill): 1 done, 0 not
	 * possible here (the caller falls back to freeze + signal + thaw). */
	int (*kill_fast)(struct keel_cgroup *cg, int sig, keel_error_t *err);
	json_t *(*stats)(struct keel_cgroup *cg, keel_error_t *err);
};

extern const struct cgroup_ops keel_cgroup_v1_ops;
extern const struct cgroup_ops keel_cgroup_v2_ops;

/* ---- shared helpers (cgroup.c) ---- */

/* Adds a hierarchy to cg->hiers (copies the strings; dir = mount + cg->path). */
int keel_cgroup_add_hier(struct keel_cgroup *cg, const char *name, const char *mount, bool unified,
			 keel_error_t *err);
/* The hierarchy holding controller ctl ("memory", "name=systemd"), or NULL (borrowed). */
struct cgroup_hier *keel_cgroup_hier(struct keel_cgroup *cg, const char *ctl);

/* Knob writes: dir/knob = value. Errors read "cgroup: <knob>: write "<value>": <strerror>".
 * _append opens with O_APPEND and adds a newline: for knobs that take one rule per write
 * (devices.allow, blkio.*_device, io.max); the kernel ignores the offset and strips the
 * newline, and in a fake test tree the rules pile up in order. */
int keel_cgroup_write(const char *dir, const char *knob, const char *value, keel_error_t *err);
int keel_cgroup_writef(const char *dir, const char *knob, keel_error_t *err, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int keel_cgroup_append(const char *dir, const char *knob, const char *value, keel_error_t *err);
/* Reads dir/knob with trailing whitespace removed (*out malloc'd). */
int keel_cgroup_read(const char *dir, const char *knob, char **out, keel_error_t *err);
/* Reads a number; "max" reads as UINT64_MAX, "-1" as UINT64_MAX too. */
int keel_cgroup_read_u64(const char *dir, const char *knob, uint64_t *v, keel_error_t *err);
bool keel_cgroup_knob_exists(const char *dir, const char *knob);

/* Polls dir/knob until its content (trimmed, or the line starting with `want` for
 * multi-line files when want ends in a space-separated value like "frozen 1") matches
 * want; about timeout_ms in all. 0 matched, -1 timeout/error. */
int keel_cgroup_wait_for(const char *dir, const char *knob, const char *want, int timeout_ms,
			 keel_error_t *err);

/* Stats helpers: a JSON integer clamped to INT64_MAX (jansson has no unsigned). */
json_t *keel_cgroup_json_u64(uint64_t v);
/* Sets key to v unless v is 0 (Go's omitempty, which runc's output follows). */
void keel_cgroup_json_set_nz(json_t *obj, const char *key, uint64_t v);
/* Parses "key value\n" lines (memory.stat, cpu.stat) into a JSON object, sorted by key. */
json_t *keel_cgroup_flat_keyed(const char *text);
uint64_t keel_cgroup_json_get(json_t *obj, const char *key);

/* ---- v2 device filter (cgroup_v2.c) ---- */

struct bpf_insn;
/* Translates OCI device rules into a BPF_PROG_TYPE_CGROUP_DEVICE program: the last
 * matching rule decides (as successive writes to v1 devices.allow/deny do), no match
 * denies. *insns is malloc'd. */
int keel_cgroup_devfilter(const struct keel_spec_device_rule *rules, size_t n,
			  struct bpf_insn **insns, size_t *n_insns, keel_error_t *err);
/* Loads the program and attaches it to the cgroup2 directory, replacing the programs keel
 * attached before (runc update). */
int keel_cgroup_devfilter_attach(const char *dir, const struct keel_spec_device_rule *rules,
				 size_t n, keel_error_t *err);

#endif
