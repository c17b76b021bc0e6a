/* cgroup v2 backend: one unified hierarchy. Controllers are enabled top-down through each
 * ancestor's cgroup.subtree_control; devices are policed by an eBPF program
 * (BPF_PROG_TYPE_CGROUP_DEVICE) instead of a controller file. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/bpf.h>

#include "runtime/cgroup_backend.h"
#include "util/cleanup.h"
#include "util/fs.h"

/* ---------- create ---------- */

static int v2_init(struct keel_cgroup *cg, keel_error_t *err)
{
	return keel_cgroup_add_hier(cg, "", cg->root, true, err);
}

/* Writes "+cpu +memory ..." to dir/cgroup.subtree_control. All at once first; if the
 * kernel refuses one (not available at this level, or a threaded/busy cgroup), the rest
 * are enabled one by one and the refused ones skipped: a limit on a controller that could
 * not be enabled fails later, in apply, naming its knob. */
static void enable_controllers(const char *dir, const char *controllers)
{
	cleanup_free char *all = NULL, *copy = strdup(controllers);
	char *save = NULL;
	size_t len = 0;

	all = calloc(1, strlen(controllers) * 2 + 2);
	if (!all || !copy)
		return;
	for (char *c = strtok_r(copy, " \n", &save); c; c = strtok_r(NULL, " \n", &save))
		len += (size_t)sprintf(all + len, "%s+%s", len ? " " : "", c);
	if (len == 0 || keel_cgroup_write(dir, "cgroup.subtree_control", all, NULL) == 0)
		return;
	for (char *c = strtok_r(all, " ", &save); c; c = strtok_r(NULL, " ", &save))
		keel_cgroup_write(dir, "cgroup.subtree_control", c, NULL);
}

static int v2_create(struct keel_cgroup *cg, keel_error_t *err)
{
	cleanup_free char *controllers = NULL;
	char cur[PATH_MAX];
	const char *p = cg->path;

	if (keel_mkdir_p(cg->hiers[0].dir, 0755, err) < 0)
		return keel_err_wrap(err, "cgroup");
	if (keel_cgroup_read(cg->root, "cgroup.controllers", &controllers, NULL) < 0 ||
	    !controllers[0])
		return 0;
	/* Every ancestor, root included, delegates to the level below; the leaf itself
	 * does not (it holds the processes: "no internal processes"). */
	snprintf(cur, sizeof(cur), "%s", cg->root);
	while (*p) {
		const char *next = strchr(p + 1, '/');
		enable_controllers(cur, controllers);
		if (!next)
			break;
		snprintf(cur + strlen(cur), sizeof(cur) - strlen(cur), "%.*s", (int)(next - p), p);
		p = next;
	}
	return 0;
}

/* ---------- apply ---------- */

static int write_limit(const char *dir, const char *knob, int64_t v, keel_error_t *err)
{
	if (v < 0)
		return keel_cgroup_write(dir, knob, "max", err);
	return keel_cgroup_writef(dir, knob, err, "%" PRId64, v);
}

/* The spec's memory.swap is memory+swap (the v1 meaning); v2's memory.swap.max is swap
 * alone. Same rules as runc's ConvertMemorySwapToCgroupV2Value; 0 = leave unset. */
static int swap_v2(int64_t swap, int64_t mem, int64_t *out, keel_error_t *err)
{
	if (mem == -1 && swap == 0) {
		*out = -1;
		return 0;
	}
	if (swap == -1 || swap == 0) {
		*out = swap;
		return 0;
	}
	if (mem == 0 || mem == -1)
		return keel_err(err, EINVAL,
				"cgroup: memory.swap.max: a swap limit needs a "
				"memory limit");
	if (mem < 0 || swap < mem)
		return keel_err(err, EINVAL,
				"cgroup: memory.swap.max: memory+swap (%" PRId64
				") is below the memory limit (%" PRId64 ")",
				swap, mem);
	*out = swap - mem;
	return 0;
}

static int memory_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	int64_t mem = r->has_memory_limit ? r->memory_limit : 0, swap = 0;

	if (swap_v2(r->has_memory_swap ? r->memory_swap : 0, mem, &swap, err) < 0)
		return -1;
	/* Swap first, as runc: lowering memory.max with swap.max still high never fails,
	 * and a kernel without swap accounting has no memory.swap.max: fine for "max". */
	if (swap != 0) {
		keel_error_t e;
		if (write_limit(dir, "memory.swap.max", swap, &e) < 0 &&
		    !(swap == -1 && e.errnum == ENOENT)) {
			if (err)
				*err = e;
			return -1;
		}
	}
	if (mem != 0 && write_limit(dir, "memory.max", mem, err) < 0)
		return -1;
	if (r->has_memory_reservation && r->memory_reservation != 0 &&
	    write_limit(dir, "memory.low", r->memory_reservation, err) < 0)
		return -1;
	/* kernel/kernelTCP/swappiness/oom_kill_disable have no v2 knob: ignored, as runc. */
	return 0;
}

/* runc's ConvertCPUSharesToCgroupV2Value: shares 2..262144 onto weight 1..10000. */
static uint64_t shares_to_weight(uint64_t shares)
{
	if (shares < 2)
		shares = 2;
	if (shares > 262144)
		shares = 262144;
	return 1 + ((shares - 2) * 9999) / 262142;
}

static int cpu_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	int64_t quota = r->has_cpu_quota ? r->cpu_quota : 0;
	uint64_t period = r->has_cpu_period ? r->cpu_period : 0;

	if ((r->has_cpu_realtime_period && r->cpu_realtime_period) ||
	    (r->has_cpu_realtime_runtime && r->cpu_realtime_runtime))
		return keel_err(err, EINVAL,
				"cgroup: cpu.rt_*: realtime limits are not "
				"supported on cgroup v2");
	if (r->has_cpu_shares && r->cpu_shares != 0 &&
	    keel_cgroup_writef(dir, "cpu.weight", err, "%" PRIu64,
			       shares_to_weight(r->cpu_shares)) < 0)
		return -1;
	if (quota != 0 || period != 0) {
		char v[64];
		int n = quota > 0 ? snprintf(v, sizeof(v), "%" PRId64, quota)
				  : snprintf(v, sizeof(v), "max");
		if (period != 0)
			snprintf(v + n, sizeof(v) - (size_t)n, " %" PRIu64, period);
		if (keel_cgroup_write(dir, "cpu.max", v, err) < 0)
			return -1;
	}
	if (r->has_cpu_burst &&
	    keel_cgroup_writef(dir, "cpu.max.burst", err, "%" PRIu64, r->cpu_burst) < 0)
		return -1;
	if (r->has_cpu_idle &&
	    keel_cgroup_writef(dir, "cpu.idle", err, "%" PRId64, r->cpu_idle) < 0)
		return -1;
	return 0;
}

static int cpuset_pids_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	if (r->cpu_cpus && *r->cpu_cpus &&
	    keel_cgroup_write(dir, "cpuset.cpus", r->cpu_cpus, err) < 0)
		return -1;
	if (r->cpu_mems && *r->cpu_mems &&
	    keel_cgroup_write(dir, "cpuset.mems", r->cpu_mems, err) < 0)
		return -1;
	if (r->has_pids_limit &&
	    write_limit(dir, "pids.max", r->pids_limit > 0 ? r->pids_limit : -1, err) < 0)
		return -1;
	return 0;
}

/* runc's ConvertBlkIOToIOWeightValue: blkio 10..1000 onto io.weight 1..10000. */
static uint64_t blkio_to_io_weight(uint64_t w)
{
	return w < 10 ? 1 : 1 + ((w - 10) * 9999) / 990;
}

static const char *const io_max_keys[4] = {
    [KEEL_BLKIO_READ_BPS] = "rbps",
    [KEEL_BLKIO_WRITE_BPS] = "wbps",
    [KEEL_BLKIO_READ_IOPS] = "riops",
    [KEEL_BLKIO_WRITE_IOPS] = "wiops",
};

static int io_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	/* BFQ takes blkio's own scale in io.bfq.weight; io.weight (the io.cost model) its
	 * own. leaf_weight has no v2 equivalent. */
	bool bfq = keel_cgroup_knob_exists(dir, "io.bfq.weight");
	const char *knob = bfq ? "io.bfq.weight" : "io.weight";
	char line[96];

	if (r->has_blkio_weight && r->blkio_weight != 0) {
		snprintf(line, sizeof(line), "default %" PRIu64,
			 bfq ? r->blkio_weight : blkio_to_io_weight(r->blkio_weight));
		if (keel_cgroup_append(dir, knob, line, err) < 0)
			return -1;
	}
	for (size_t i = 0; i < r->n_blkio_weight_devices; i++) {
		const struct keel_spec_weight_device *d = &r->blkio_weight_devices[i];
		if (!d->has_weight)
			continue;
		snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %" PRIu64, d->major, d->minor,
			 bfq ? d->weight : blkio_to_io_weight(d->weight));
		if (keel_cgroup_append(dir, knob, line, err) < 0)
			return -1;
	}
	for (int k = 0; k < 4; k++) {
		for (size_t i = 0; i < r->n_blkio_throttle[k]; i++) {
			const struct keel_spec_throttle_device *t = &r->blkio_throttle[k][i];
			snprintf(line, sizeof(line), "%" PRId64 ":%" PRId64 " %s=%" PRIu64,
				 t->major, t->minor, io_max_keys[k], t->rate);
			if (keel_cgroup_append(dir, "io.max", line, err) < 0)
				return -1;
		}
	}
	return 0;
}

static int hugetlb_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	for (size_t i = 0; i < r->n_hugepage_limits; i++) {
		char knob[96];
		snprintf(knob, sizeof(knob), "hugetlb.%s.max", r->hugepage_limits[i].page_size);
		if (keel_cgroup_writef(dir, knob, err, "%" PRIu64, r->hugepage_limits[i].limit) < 0)
			return -1;
	}
	return 0;
}

/* linux.resources.unified: knob names and values written as given, after the typed
 * fields so they win. A name may not leave the container's directory. */
static int unified_set(const char *dir, const struct keel_spec_resources *r, keel_error_t *err)
{
	for (char **kv = r->unified; kv && kv[0] && kv[1]; kv += 2) {
		if (!kv[0][0] || strchr(kv[0], '/') || kv[0][0] == '.')
			return keel_err(err, EINVAL, "cgroup: unified: invalid knob name \"%s\"",
					kv[0]);
		if (!keel_cgroup_knob_exists(dir, kv[0]))
			return keel_err(err, ENOENT,
					"cgroup: unified: %s: no such knob (is its "
					"controller enabled?)",
					kv[0]);
		if (keel_cgroup_write(dir, kv[0], kv[1], err) < 0)
			return -1;
	}
	return 0;
}

static int v2_apply(struct keel_cgroup *cg, const struct keel_spec_resources *r, keel_error_t *err)
{
	const char *dir = cg->hiers[0].dir;

	if (r->n_devices > 0 &&
	    keel_cgroup_devfilter_attach(dir, r->devices, r->n_devices, err) < 0)
		return -1;
	if (memory_set(dir, r, err) < 0 || cpu_set(dir, r, err) < 0 ||
	    cpuset_pids_set(dir, r, err) < 0 || io_set(dir, r, err) < 0 ||
	    hugetlb_set(dir, r, err) < 0 || unified_set(dir, r, err) < 0)
		return -1;
	return 0;
}

/* ---------- freezer, kill ---------- */

static int v2_freeze(struct keel_cgroup *cg, bool frozen, keel_error_t *err)
{
	const char *dir = cg->hiers[0].dir;

	if (!keel_cgroup_knob_exists(dir, "cgroup.freeze"))
		return keel_err(err, ENOTSUP,
				"cgroup: %s/cgroup.freeze is missing (the v2 "
				"freezer needs Linux 5.2)",
				dir);
	if (keel_cgroup_write(dir, "cgroup.freeze", frozen ? "1" : "0", err) < 0)
		return -1;
	if (keel_cgroup_wait_for(dir, "cgroup.events", frozen ? "frozen 1" : "frozen 0", 5000,
				 err) < 0) {
		if (frozen)
			keel_cgroup_write(dir, "cgroup.freeze", "0", NULL);
		return -1;
	}
	return 0;
}

static int v2_is_frozen(struct keel_cgroup *cg, keel_error_t *err)
{
	const char *dir = cg->hiers[0].dir;
	cleanup_free char *ev = NULL;
	cleanup_json json_t *kv = NULL;

	if (!keel_cgroup_knob_exists(dir, "cgroup.freeze"))
		return 0;
	if (keel_cgroup_read(dir, "cgroup.events", &ev, err) < 0)
		return -1;
	kv = keel_cgroup_flat_keyed(ev);
	return keel_cgroup_json_get(kv, "frozen") == 1;
}

/* cgroup.kill (Linux 5.14) kills the whole subtree atomically, forks included. */
static int v2_kill_fast(struct keel_cgroup *cg, int sig, keel_error_t *err)
{
	if (sig != SIGKILL || !keel_cgroup_knob_exists(cg->hiers[0].dir, "cgroup.kill"))
		return 0;
	if (keel_cgroup_write(cg->hiers[0].dir, "cgroup.kill", "1", err) < 0)
		return -1;
	return 1;
}

/* ---------- stats ---------- */

static json_t *read_keyed(const char *dir, const char *knob)
{
	cleanup_free char *s = NULL;
	keel_cgroup_read(dir, knob, &s, NULL);
	return keel_cgroup_flat_keyed(s);
}

static uint64_t read_or_zero(const char *dir, const char *knob)
{
	uint64_t v = 0;
	if (keel_cgroup_read_u64(dir, knob, &v, NULL) < 0)
		return 0;
	return v;
}

static json_t *cpu_stats(const char *dir)
{
	cleanup_json json_t *s = read_keyed(dir, "cpu.stat");
	json_t *usage = json_object(), *thr = json_object();

	keel_cgroup_json_set_nz(usage, "total", keel_cgroup_json_get(s, "usage_usec") * 1000);
	json_object_set_new(usage, "kernel",
			    keel_cgroup_json_u64(keel_cgroup_json_get(s, "system_usec") * 1000));
	json_object_set_new(usage, "user",
			    keel_cgroup_json_u64(keel_cgroup_json_get(s, "user_usec") * 1000));
	keel_cgroup_json_set_nz(thr, "periods", keel_cgroup_json_get(s, "nr_periods"));
	keel_cgroup_json_set_nz(thr, "throttled_periods", keel_cgroup_json_get(s, "nr_throttled"));
	keel_cgroup_json_set_nz(thr, "throttled_time",
				keel_cgroup_json_get(s, "throttled_usec") * 1000);
	return json_pack("{s:o,s:o}", "usage", usage, "throttling", thr);
}

static uint64_t sat_add(uint64_t a, uint64_t b)
{
	return a > UINT64_MAX - b ? UINT64_MAX : a + b;
}

static json_t *memory_stats(const char *dir)
{
	json_t *raw = read_keyed(dir, "memory.stat"), *o = json_object();
	cleanup_json json_t *events = read_keyed(dir, "memory.events");
	uint64_t usage = read_or_zero(dir, "memory.current"),
		 limit = read_or_zero(dir, "memory.max");
	json_t *u = json_object(), *sw = json_object();

	keel_cgroup_json_set_nz(o, "cache", keel_cgroup_json_get(raw, "file"));
	json_object_set_new(u, "limit", keel_cgroup_json_u64(limit));
	keel_cgroup_json_set_nz(u, "usage", usage);
	keel_cgroup_json_set_nz(u, "max", read_or_zero(dir, "memory.peak"));
	json_object_set_new(u, "failcnt",
			    keel_cgroup_json_u64(keel_cgroup_json_get(events, "max")));
	/* Reported as memory+swap, the v1 meaning runc keeps on v2. */
	json_object_set_new(
	    sw, "limit",
	    keel_cgroup_json_u64(sat_add(read_or_zero(dir, "memory.swap.max"), limit)));
	keel_cgroup_json_set_nz(sw, "usage", usage + read_or_zero(dir, "memory.swap.current"));
	json_object_set_new(sw, "failcnt", json_integer(0));
	json_object_set_new(o, "usage", u);
	json_object_set_new(o, "swap", sw);
	json_object_set_new(o, "kernel", json_pack("{s:i,s:i}", "limit", 0, "failcnt", 0));
	json_object_set_new(o, "kernelTCP", json_pack("{s:i,s:i}", "limit", 0, "failcnt", 0));
	json_object_set_new(o, "raw", raw);
	return o;
}

/* io.stat: "8:0 rbytes=1 wbytes=2 rios=3 wios=4 dbytes=0 dios=0" per device. */
static json_t *io_stats(const char *dir)
{
	cleanup_free char *s = NULL;
	json_t *bytes = json_array(), *ios = json_array(), *o = json_object();
	char *save = NULL;

	keel_cgroup_read(dir, "io.stat", &s, NULL);
	for (char *l = s ? strtok_r(s, "\n", &save) : NULL; l; l = strtok_r(NULL, "\n", &save)) {
		unsigned maj, min;
		int off = 0;
		if (sscanf(l, "%u:%u%n", &maj, &min, &off) != 2)
			continue;
		for (char *kv = strtok(l + off, " "); kv; kv = strtok(NULL, " ")) {
			unsigned long long v;
			char key[16];
			json_t *dst;
			const char *op;
			if (sscanf(kv, "%15[a-z]=%llu", key, &v) != 2)
				continue;
			dst = strstr(key, "bytes") ? bytes : ios;
			op = key[0] == 'r' ? "Read" : key[0] == 'w' ? "Write" : "Discard";
			json_array_append_new(dst, json_pack("{s:i,s:i,s:s,s:o}", "major", (int)maj,
							     "minor", (int)min, "op", op, "value",
							     keel_cgroup_json_u64(v)));
		}
	}
	if (json_array_size(bytes))
		json_object_set_new(o, "ioServiceBytesRecursive", bytes);
	else
		json_decref(bytes);
	if (json_array_size(ios))
		json_object_set_new(o, "ioServicedRecursive", ios);
	else
		json_decref(ios);
	return o;
}

static json_t *hugetlb_stats(const char *dir)
{
	struct dirent **ents = NULL;
	json_t *o = json_object();
	int n = scandir(dir, &ents, NULL, alphasort);

	for (int i = 0; i < n; i++) {
		const char *name = ents[i]->d_name;
		size_t nl = strlen(name);
		char size[32], k[96];
		if (strncmp(name, "hugetlb.", 8) == 0 && nl > 16 && nl - 16 < sizeof(size) &&
		    strcmp(name + nl - 8, ".current") == 0 && !strstr(name, ".rsvd.")) {
			cleanup_json json_t *ev = NULL;
			json_t *e = json_object();
			snprintf(size, sizeof(size), "%.*s", (int)(nl - 16), name + 8);
			keel_cgroup_json_set_nz(e, "usage", read_or_zero(dir, name));
			snprintf(k, sizeof(k), "hugetlb.%s.events", size);
			ev = read_keyed(dir, k);
			json_object_set_new(e, "failcnt",
					    keel_cgroup_json_u64(keel_cgroup_json_get(ev, "max")));
			json_object_set_new(o, size, e);
		}
		free(ents[i]);
	}
	free(ents);
	return o;
}

static json_t *v2_stats(struct keel_cgroup *cg, keel_error_t *err)
{
	const char *dir = cg->hiers[0].dir;
	json_t *pids = json_object();
	uint64_t pmax = read_or_zero(dir, "pids.max");

	keel_cgroup_json_set_nz(pids, "current", read_or_zero(dir, "pids.current"));
	keel_cgroup_json_set_nz(pids, "limit", pmax == UINT64_MAX ? 0 : pmax);
	return json_pack("{s:o,s:o,s:o,s:o,s:o}", "cpu", cpu_stats(dir), "memory",
			 memory_stats(dir), "pids", pids, "blkio", io_stats(dir), "hugetlb",
			 hugetlb_stats(dir));
}

/* ---------- device filter (eBPF) ---------- */

#define INSN(c, d, s, o, i)                                                                        \
	((struct bpf_insn){.code = (c), .dst_reg = (d), .src_reg = (s), .off = (o), .imm = (i)})
#define LDX_W(dst, src, off)  INSN(BPF_LDX | BPF_MEM | BPF_W, dst, src, off, 0)
#define ALU32_K(op, dst, imm) INSN(BPF_ALU | (op) | BPF_K, dst, 0, 0, imm)
#define MOV32_X(dst, src)     INSN(BPF_ALU | BPF_MOV | BPF_X, dst, src, 0, 0)
#define MOV64_K(dst, imm)     INSN(BPF_ALU64 | BPF_MOV | BPF_K, dst, 0, 0, imm)
#define JNE_K(dst, imm)	      INSN(BPF_JMP | BPF_JNE | BPF_K, dst, 0, 0, imm)
#define JNE_X(dst, src)	      INSN(BPF_JMP | BPF_JNE | BPF_X, dst, src, 0, 0)
#define JEQ_K(dst, imm)	      INSN(BPF_JMP | BPF_JEQ | BPF_K, dst, 0, 0, imm)
#define EXIT()		      INSN(BPF_JMP | BPF_EXIT, 0, 0, 0, 0)

/* Registers after the prologue: r2 device type, r3 requested access, r4 major, r5
 * minor (struct bpf_cgroup_dev_ctx: access_type = access << 16 | type). */
enum { R0, R1, R2, R3, R4, R5 };

static int rule_access(const struct keel_spec_device_rule *d, int *mask, keel_error_t *err)
{
	*mask = 0;
	for (const char *a = d->access[0] ? d->access : "rwm"; *a; a++) {
		switch (*a) {
		case 'r':
			*mask |= BPF_DEVCG_ACC_READ;
			break;
		case 'w':
			*mask |= BPF_DEVCG_ACC_WRITE;
			break;
		case 'm':
			*mask |= BPF_DEVCG_ACC_MKNOD;
			break;
		default:
			return keel_err(err, EINVAL, "cgroup: device rule: invalid access \"%s\"",
					d->access);
		}
	}
	return 0;
}

/* One rule: a run of "goto next unless it matches" tests, then return allow/deny.
 * Returns the block's length; *unconditional when nothing was tested. */
static int rule_block(const struct keel_spec_device_rule *d, struct bpf_insn *b,
		      bool *unconditional, keel_error_t *err)
{
	char type = d->type ? d->type : 'a';
	int n = 0, mask;
	bool jumps[8] = {false};

	if (type != 'a' && type != 'c' && type != 'b')
		return keel_err(err, EINVAL, "cgroup: device rule: invalid type '%c'", type);
	/* Compared as sign-extended 32-bit immediates: keep them positive (Linux majors are
	 * 12 bits, minors 20). */
	if (d->major > INT32_MAX || d->minor > INT32_MAX)
		return keel_err(err, EINVAL,
				"cgroup: device rule: %" PRId64 ":%" PRId64 " out of range",
				d->major, d->minor);
	if (rule_access(d, &mask, err) < 0)
		return -1;
	if (type != 'a') {
		jumps[n] = true;
		b[n++] = JNE_K(R2, type == 'c' ? BPF_DEVCG_DEV_CHAR : BPF_DEVCG_DEV_BLOCK);
	}
	if (mask != (BPF_DEVCG_ACC_READ | BPF_DEVCG_ACC_WRITE | BPF_DEVCG_ACC_MKNOD)) {
		/* An allow rule covers a request when it grants every bit asked for
		 * ((r3 & mask) == r3); a deny rule hits when it takes any of them away
		 * ((r3 & mask) != 0), as removing bits from a v1 exception does. */
		b[n++] = MOV32_X(R1, R3);
		b[n++] = ALU32_K(BPF_AND, R1, mask);
		jumps[n] = true;
		b[n++] = d->allow ? JNE_X(R1, R3) : JEQ_K(R1, 0);
	}
	/* Type "a" means every device, numbers ignored, as v1's devices.allow reads it. */
	if (type != 'a' && d->major >= 0) {
		jumps[n] = true;
		b[n++] = JNE_K(R4, (int32_t)d->major);
	}
	if (type != 'a' && d->minor >= 0) {
		jumps[n] = true;
		b[n++] = JNE_K(R5, (int32_t)d->minor);
	}
	*unconditional = n == 0;
	b[n++] = MOV64_K(R0, d->allow ? 1 : 0);
	b[n++] = EXIT();
	for (int i = 0; i < n; i++)
		if (jumps[i])
			b[i].off = (int16_t)(n - i - 1);
	return n;
}

int keel_cgroup_devfilter(const struct keel_spec_device_rule *rules, size_t n,
			  struct bpf_insn **insns, size_t *n_insns, keel_error_t *err)
{
	static const struct bpf_insn prologue[] = {
	    LDX_W(R2, R1, 0), ALU32_K(BPF_AND, R2, 0xffff),
	    LDX_W(R3, R1, 0), ALU32_K(BPF_RSH, R3, 16),
	    LDX_W(R4, R1, 4), LDX_W(R5, R1, 8),
	};
	size_t np = sizeof(prologue) / sizeof(*prologue), len = np;
	cleanup_free struct bpf_insn *p = calloc(np + n * 8 + 2, sizeof(*p));
	bool unconditional = false;

	if (!p)
		return keel_err(err, ENOMEM, "cgroup: device filter");
	memcpy(p, prologue, sizeof(prologue));
	/* Last rule first: the first block that matches decides, as the last write would
	 * on v1. After an unconditional block nothing is reachable, and the verifier
	 * rejects unreachable instructions, so emission stops there. */
	for (size_t i = n; i-- > 0 && !unconditional;) {
		int bl = rule_block(&rules[i], p + len, &unconditional, err);
		if (bl < 0)
			return -1;
		len += (size_t)bl;
	}
	if (!unconditional) {
		p[len++] = MOV64_K(R0, 0);
		p[len++] = EXIT();
	}
	*insns = steal_pointer(&p);
	*n_insns = len;
	return 0;
}

static int bpf_call(int cmd, union bpf_attr *attr)
{
	return (int)syscall(__NR_bpf, cmd, attr, sizeof(*attr));
}

static int prog_load(const struct bpf_insn *insns, size_t n, keel_error_t *err)
{
	static char log[16384];
	union bpf_attr a;
	int fd;

	for (int verbose = 0; verbose < 2; verbose++) {
		memset(&a, 0, sizeof(a));
		a.prog_type = BPF_PROG_TYPE_CGROUP_DEVICE;
		a.insns = (uint64_t)(uintptr_t)insns;
		a.insn_cnt = (uint32_t)n;
		a.license = (uint64_t)(uintptr_t) "Apache";
		if (verbose) {
			/* Second try only to get the verifier's words for the error. */
			log[0] = '\0';
			a.log_buf = (uint64_t)(uintptr_t)log;
			a.log_size = sizeof(log);
			a.log_level = 1;
		}
		fd = bpf_call(BPF_PROG_LOAD, &a);
		if (fd >= 0)
			return fd;
	}
	return keel_err_sys(err,
			    "cgroup: loading the device filter (BPF_PROG_LOAD, %zu insns)%s%.200s",
			    n, log[0] ? ": " : "", log);
}

int keel_cgroup_devfilter_attach(const char *dir, const struct keel_spec_device_rule *rules,
				 size_t n, keel_error_t *err)
{
	cleanup_free struct bpf_insn *insns = NULL;
	cleanup_close int dfd = -1, prog = -1;
	uint32_t ids[64];
	union bpf_attr a;
	size_t n_insns;

	if (keel_cgroup_devfilter(rules, n, &insns, &n_insns, err) < 0)
		return -1;
	dfd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0)
		return keel_err_sys(err, "cgroup: device filter: open %s", dir);
	memset(&a, 0, sizeof(a));
	a.query.target_fd = (uint32_t)dfd;
	a.query.attach_type = BPF_CGROUP_DEVICE;
	a.query.prog_ids = (uint64_t)(uintptr_t)ids;
	a.query.prog_cnt = 64;
	if (bpf_call(BPF_PROG_QUERY, &a) < 0)
		return keel_err_sys(err,
				    "cgroup: device filter: %s is not a cgroup2 directory "
				    "(BPF_PROG_QUERY)",
				    dir);
	uint32_t n_old = a.query.prog_cnt;
	prog = prog_load(insns, n_insns, err);
	if (prog < 0)
		return -1;
	memset(&a, 0, sizeof(a));
	a.target_fd = (uint32_t)dfd;
	a.attach_bpf_fd = (uint32_t)prog;
	a.attach_type = BPF_CGROUP_DEVICE;
	a.attach_flags = BPF_F_ALLOW_MULTI;
	if (bpf_call(BPF_PROG_ATTACH, &a) < 0)
		return keel_err_sys(err, "cgroup: device filter: attaching to %s (BPF_PROG_ATTACH)",
				    dir);
	/* The new program is in place: now drop the ones an earlier apply left (the policy
	 * is never absent in between). */
	for (uint32_t i = 0; i < n_old && i < 64; i++) {
		cleanup_close int old = -1;
		memset(&a, 0, sizeof(a));
		a.prog_id = ids[i];
		old = bpf_call(BPF_PROG_GET_FD_BY_ID, &a);
		if (old < 0)
			continue;
		memset(&a, 0, sizeof(a));
		a.target_fd = (uint32_t)dfd;
		a.attach_bpf_fd = (uint32_t)old;
		a.attach_type = BPF_CGROUP_DEVICE;
		if (bpf_call(BPF_PROG_DETACH, &a) < 0)
			return keel_err_sys(err,
					    "cgroup: device filter: detaching old program %u "
					    "from %s",
					    ids[i], dir);
	}
	return 0;
}

const struct cgroup_ops keel_cgroup_v2_ops = {
    .name = "v2",
    .init = v2_init,
    .create = v2_create,
    .apply = v2_apply,
    .freeze = v2_freeze,
    .is_frozen = v2_is_frozen,
    .kill_fast = v2_kill_fast,
    .stats = v2_stats,
};
