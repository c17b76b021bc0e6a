/* linux.resources and linux.seccomp of config.json (split from spec.c by concern). */
#include <errno.h>
#include <limits.h>
#include <seccomp.h>
#include <stdarg.h>

#include "runtime/spec_internal.h"
#include "util/cleanup.h"

/* ---------- resources ---------- */

void keel_spec_resources_free(struct keel_spec_resources *r)
{
	if (!r)
		return;
	free(r->devices);
	free(r->cpu_cpus);
	free(r->cpu_mems);
	free(r->blkio_weight_devices);
	for (int i = 0; i < 4; i++)
		free(r->blkio_throttle[i]);
	for (size_t i = 0; i < r->n_hugepage_limits; i++)
		free(r->hugepage_limits[i].page_size);
	free(r->hugepage_limits);
	strv_free(r->unified);
	free(r);
}

static void resources_freep(struct keel_spec_resources **r)
{
	keel_spec_resources_free(*r);
}

static int parse_device_rule(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_device_rule *d = (struct keel_spec_device_rule *)arr + i;
	cleanup_free char *type = NULL, *access = NULL;
	int r;

	if ((r = get_bool(c, e, ep, "allow", &d->allow)) <= 0)
		return r < 0 ? -1 : fail(c, ep, "allow", "required");
	if (get_str(c, e, ep, "type", false, &type) < 0 ||
	    get_str(c, e, ep, "access", false, &access) < 0)
		return -1;
	d->type = type ? type[0] : 'a';
	if (type && (strlen(type) != 1 || !strchr("acb", type[0])))
		return fail(c, ep, "type", "must be \"a\", \"c\" or \"b\", not \"%s\"", type);
	d->major = d->minor = -1; /* wildcards */
	if (get_int(c, e, ep, "major", -1, INT64_MAX, &d->major) < 0 ||
	    get_int(c, e, ep, "minor", -1, INT64_MAX, &d->minor) < 0)
		return -1;
	if (access) {
		size_t n = strlen(access);
		bool bad = n > 3 || strspn(access, "rwm") != n;
		for (size_t j = 0; j < n && !bad; j++)
			bad = strchr(access + j + 1, access[j]) != NULL;
		if (bad)
			return fail(c, ep, "access", "must be a subset of \"rwm\", not \"%s\"",
				    access);
		memcpy(d->access, access, n + 1);
	}
	return 0;
}

#define RES(key, f, min, max, zero_unset)                                                          \
	FIELD_HAS(struct keel_spec_resources, key, f, min, max, zero_unset)
static const struct int_field memory_fields[] = {
	RES("limit", memory_limit, -1, INT64_MAX, 0),
	RES("reservation", memory_reservation, -1, INT64_MAX, F_ZERO_UNSET),
	RES("swap", memory_swap, -1, INT64_MAX, 0),
	RES("kernel", memory_kernel, -1, INT64_MAX, F_ZERO_UNSET),
	RES("kernelTCP", memory_kernel_tcp, -1, INT64_MAX, 0),
	RES("swappiness", memory_swappiness, 0, 100, 0),
	{ NULL },
};

static const struct int_field cpu_fields[] = {
	RES("shares", cpu_shares, 0, INT64_MAX, 0),
	RES("quota", cpu_quota, -1, INT64_MAX, 0),
	RES("burst", cpu_burst, 0, INT64_MAX, 0),
	RES("period", cpu_period, 0, INT64_MAX, 0),
	RES("realtimeRuntime", cpu_realtime_runtime, -1, INT64_MAX, 0),
	RES("realtimePeriod", cpu_realtime_period, 0, INT64_MAX, 0),
	RES("idle", cpu_idle, 0, 1, 0),
	{ NULL },
};

static const struct int_field pids_fields[] = {
	RES("limit", pids_limit, INT64_MIN, INT64_MAX, 0),
	{ NULL },
};

static const struct int_field blkio_fields[] = {
	RES("weight", blkio_weight, 0, UINT16_MAX, F_ZERO_UNSET),
	RES("leafWeight", blkio_leaf_weight, 0, UINT16_MAX, 0),
	{ NULL },
};
#undef RES

static const struct int_field weight_device_fields[] = {
	FIELD(struct keel_spec_weight_device, "major", major, 0, INT64_MAX, F_REQUIRED),
	FIELD(struct keel_spec_weight_device, "minor", minor, 0, INT64_MAX, F_REQUIRED),
	FIELD_HAS(struct keel_spec_weight_device, "weight", weight, 0, UINT16_MAX, 0),
	FIELD_HAS(struct keel_spec_weight_device, "leafWeight", leaf_weight, 0, UINT16_MAX, 0),
	{ NULL },
};

static int parse_weight_device(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	return parse_int_fields(c, e, ep, weight_device_fields,
				(struct keel_spec_weight_device *)arr + i);
}

/* In the order of enum keel_blkio_throttle_kind. */
static const char *const throttle_keys[4] = {
	"throttleReadBpsDevice",
	"throttleWriteBpsDevice",
	"throttleReadIOPSDevice",
	"throttleWriteIOPSDevice",
};

static const struct int_field throttle_fields[] = {
	FIELD(struct keel_spec_throttle_device, "major", major, 0, INT64_MAX, F_REQUIRED),
	FIELD(struct keel_spec_throttle_device, "minor", minor, 0, INT64_MAX, F_REQUIRED),
	FIELD(struct keel_spec_throttle_device, "rate", rate, 0, INT64_MAX, F_REQUIRED),
	{ NULL },
};

static int parse_throttle(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	return parse_int_fields(c, e, ep, throttle_fields,
				(struct keel_spec_throttle_device *)arr + i);
}

static int parse_blkio(struct pctx *c, json_t *res_o, const char *path,
		       struct keel_spec_resources *res)
{
	char bp[PATH_BUF];
	json_t *o;
	int r;

	if ((r = get_obj(c, res_o, path, "blockIO", &o)) <= 0)
		return r;
	join(bp, path, "blockIO");
	if (parse_int_fields(c, o, bp, blkio_fields, res) < 0 ||
	    parse_list(c, o, bp, "weightDevice", sizeof(struct keel_spec_weight_device),
		       parse_weight_device, &res->blkio_weight_devices,
		       &res->n_blkio_weight_devices) < 0)
		return -1;
	for (int k = 0; k < 4; k++)
		if (parse_list(c, o, bp, throttle_keys[k], sizeof(struct keel_spec_throttle_device),
			       parse_throttle, &res->blkio_throttle[k],
			       &res->n_blkio_throttle[k]) < 0)
			return -1;
	return 0;
}

static int parse_hugepage(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	static const struct int_field fields[] = {
		FIELD(struct keel_spec_hugepage_limit, "limit", limit, 0, INT64_MAX, F_REQUIRED),
		{ NULL },
	};
	struct keel_spec_hugepage_limit *h = (struct keel_spec_hugepage_limit *)arr + i;

	if (get_str(c, e, ep, "pageSize", true, &h->page_size) < 0)
		return -1;
	return parse_int_fields(c, e, ep, fields, h);
}

/* One sub-object ("memory", "cpu", ...) of integer fields. */
static int parse_int_section(struct pctx *c, json_t *res_o, const char *path, const char *key,
			     const struct int_field *fields, struct keel_spec_resources *res,
			     json_t **out)
{
	char sp[PATH_BUF];
	int r;

	if ((r = get_obj(c, res_o, path, key, out)) <= 0)
		return r;
	join(sp, path, key);
	return parse_int_fields(c, *out, sp, fields, res) < 0 ? -1 : 1;
}

static int parse_resources_fields(struct pctx *c, json_t *o, const char *path,
				  struct keel_spec_resources *res)
{
	char sp[PATH_BUF];
	json_t *mem, *cpu, *pids;
	int r;

	if (parse_list(c, o, path, "devices", sizeof(*res->devices), parse_device_rule,
		       &res->devices, &res->n_devices) < 0)
		return -1;
	if ((r = parse_int_section(c, o, path, "memory", memory_fields, res, &mem)) < 0)
		return -1;
	if (r) {
		join(sp, path, "memory");
		if ((r = get_bool(c, mem, sp, "disableOOMKiller", &res->disable_oom_killer)) < 0)
			return -1;
		res->has_disable_oom_killer = r;
		if ((r = get_bool(c, mem, sp, "useHierarchy", &res->use_hierarchy)) < 0)
			return -1;
		res->has_use_hierarchy = r;
	}
	if ((r = parse_int_section(c, o, path, "cpu", cpu_fields, res, &cpu)) < 0)
		return -1;
	if (r) {
		join(sp, path, "cpu");
		if (get_str(c, cpu, sp, "cpus", false, &res->cpu_cpus) < 0 ||
		    get_str(c, cpu, sp, "mems", false, &res->cpu_mems) < 0)
			return -1;
	}
	if (parse_int_section(c, o, path, "pids", pids_fields, res, &pids) < 0 ||
	    parse_blkio(c, o, path, res) < 0 ||
	    parse_list(c, o, path, "hugepageLimits", sizeof(*res->hugepage_limits), parse_hugepage,
		       &res->hugepage_limits, &res->n_hugepage_limits) < 0 ||
	    get_str_map(c, o, path, "unified", &res->unified) < 0)
		return -1;
	return 0;
}

struct keel_spec_resources *spec_resources_from_json(struct pctx *c, json_t *o, const char *path)
{
	__attribute__((cleanup(resources_freep))) struct keel_spec_resources *res = NULL;

	if (!json_is_object(o)) {
		fail(c, path, NULL, "expected an object");
		return NULL;
	}
	if (!(res = calloc(1, sizeof(*res)))) {
		oom(c);
		return NULL;
	}
	if (parse_resources_fields(c, o, path, res) < 0)
		return NULL;
	return steal_pointer(&res);
}

/* ---------- seccomp ---------- */

static const struct {
	const char *name;
	uint32_t action;
	bool takes_errno;
} seccomp_actions[] = {
	{ "SCMP_ACT_KILL", SCMP_ACT_KILL, false },
	{ "SCMP_ACT_KILL_PROCESS", SCMP_ACT_KILL_PROCESS, false },
	{ "SCMP_ACT_KILL_THREAD", SCMP_ACT_KILL_THREAD, false },
	{ "SCMP_ACT_TRAP", SCMP_ACT_TRAP, false },
	{ "SCMP_ACT_ERRNO", SCMP_ACT_ERRNO(0), true },
	{ "SCMP_ACT_TRACE", SCMP_ACT_TRACE(0), true },
	{ "SCMP_ACT_ALLOW", SCMP_ACT_ALLOW, false },
	{ "SCMP_ACT_LOG", SCMP_ACT_LOG, false },
	{ "SCMP_ACT_NOTIFY", SCMP_ACT_NOTIFY, false },
};

/* clang-format off */
static const struct {
	const char *name;
	int op;
} seccomp_ops[] = {
	{ "SCMP_CMP_NE", SCMP_CMP_NE }, { "SCMP_CMP_LT", SCMP_CMP_LT },
	{ "SCMP_CMP_LE", SCMP_CMP_LE }, { "SCMP_CMP_EQ", SCMP_CMP_EQ },
	{ "SCMP_CMP_GE", SCMP_CMP_GE }, { "SCMP_CMP_GT", SCMP_CMP_GT },
	{ "SCMP_CMP_MASKED_EQ", SCMP_CMP_MASKED_EQ },
};
/* clang-format on */

static const char *const seccomp_flags[] = {
	"SECCOMP_FILTER_FLAG_TSYNC",
	"SECCOMP_FILTER_FLAG_LOG",
	"SECCOMP_FILTER_FLAG_SPEC_ALLOW",
	"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV",
};

/* An action and its errno: ERRNO and TRACE take errnoRet (EPERM when absent, as runc
 * does) folded into the action value; the others refuse it, as the spec requires. */
static int parse_action(struct pctx *c, json_t *o, const char *path, const char *akey,
			const char *ekey, uint32_t *action, bool *has_errno, unsigned *errno_ret)
{
	cleanup_free char *name = NULL;
	size_t i, n = sizeof(seccomp_actions) / sizeof(seccomp_actions[0]);
	int64_t e = EPERM;
	int r;

	if (get_str(c, o, path, akey, true, &name) < 0)
		return -1;
	for (i = 0; i < n && strcmp(seccomp_actions[i].name, name) != 0; i++)
		;
	if (i == n)
		return fail(c, path, akey, "unknown seccomp action \"%s\"", name);
	if ((r = get_int(c, o, path, ekey, 0, UINT16_MAX, &e)) < 0)
		return -1;
	if (r && !seccomp_actions[i].takes_errno)
		return fail(c, path, ekey, "not allowed with %s", name);
	*has_errno = r;
	*errno_ret = seccomp_actions[i].takes_errno ? (unsigned)e : 0;
	*action = seccomp_actions[i].action | (seccomp_actions[i].takes_errno ? (uint32_t)e : 0);
	return 0;
}

static int parse_arch(struct pctx *c, const char *ep, const char *name, uint32_t *arch)
{
	char lower[32];
	size_t i;

	if (strncmp(name, "SCMP_ARCH_", 10) != 0 || strlen(name + 10) >= sizeof(lower))
		return fail(c, ep, NULL, "unknown seccomp architecture \"%s\"", name);
	for (i = 0; name[10 + i]; i++)
		lower[i] = (char)((name[10 + i] >= 'A' && name[10 + i] <= 'Z') ? name[10 + i] + 32
									       : name[10 + i]);
	lower[i] = 0;
	*arch = seccomp_arch_resolve_name(lower);
	if (*arch == 0)
		return fail(c, ep, NULL, "unknown seccomp architecture \"%s\"", name);
	return 0;
}

static int parse_architectures(struct pctx *c, json_t *o, const char *path,
			       struct keel_spec_seccomp *s)
{
	cleanup_strv char **names = NULL;
	size_t n = 0;
	int r;

	if ((r = get_strv(c, o, path, "architectures", &names)) <= 0)
		return r;
	while (names[n])
		n++;
	if (!(s->architectures = calloc(n ? n : 1, sizeof(uint32_t))))
		return oom(c);
	for (size_t i = 0; i < n; i++) {
		char ep[PATH_BUF];
		join_idx(ep, path, "architectures", i);
		if (parse_arch(c, ep, names[i], &s->architectures[i]) < 0)
			return -1;
		s->n_architectures++;
	}
	return 0;
}

static int parse_flags(struct pctx *c, json_t *o, const char *path, struct keel_spec_seccomp *s)
{
	size_t n = sizeof(seccomp_flags) / sizeof(seccomp_flags[0]);

	if (get_strv(c, o, path, "flags", &s->flags) < 0)
		return -1;
	for (size_t i = 0; s->flags && s->flags[i]; i++) {
		size_t j;
		for (j = 0; j < n && strcmp(seccomp_flags[j], s->flags[i]) != 0; j++)
			;
		if (j == n) {
			char ep[PATH_BUF];
			join_idx(ep, path, "flags", i);
			return fail(c, ep, NULL, "unknown seccomp flag \"%s\"", s->flags[i]);
		}
	}
	return 0;
}

/* A syscall has six arguments. */
static const struct int_field syscall_arg_fields[] = {
	FIELD(struct keel_spec_syscall_arg, "index", index, 0, 5, F_REQUIRED),
	FIELD(struct keel_spec_syscall_arg, "value", value, 0, INT64_MAX, F_REQUIRED),
	FIELD(struct keel_spec_syscall_arg, "valueTwo", value_two, 0, INT64_MAX, 0),
	{ NULL },
};

static int parse_syscall_arg(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_syscall_arg *a = (struct keel_spec_syscall_arg *)arr + i;
	cleanup_free char *op = NULL;
	size_t j, n = sizeof(seccomp_ops) / sizeof(seccomp_ops[0]);

	if (parse_int_fields(c, e, ep, syscall_arg_fields, a) < 0)
		return -1;
	if (get_str(c, e, ep, "op", true, &op) < 0)
		return -1;
	for (j = 0; j < n && strcmp(seccomp_ops[j].name, op) != 0; j++)
		;
	if (j == n)
		return fail(c, ep, "op", "unknown seccomp operator \"%s\"", op);
	a->op = seccomp_ops[j].op;
	return 0;
}

static int parse_syscall(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_syscall *sc = (struct keel_spec_syscall *)arr + i;

	if (get_strv(c, e, ep, "names", &sc->names) < 0 || !sc->names || !sc->names[0])
		return fail(c, ep, "names", "must be a non-empty array of strings");
	if (parse_action(c, e, ep, "action", "errnoRet", &sc->action, &sc->has_errno_ret,
			 &sc->errno_ret) < 0)
		return -1;
	return parse_list(c, e, ep, "args", sizeof(*sc->args), parse_syscall_arg, &sc->args,
			  &sc->n_args);
}

void spec_seccomp_free(struct keel_spec_seccomp *s)
{
	if (!s)
		return;
	free(s->architectures);
	strv_free(s->flags);
	free(s->listener_path);
	for (size_t i = 0; i < s->n_syscalls; i++) {
		strv_free(s->syscalls[i].names);
		free(s->syscalls[i].args);
	}
	free(s->syscalls);
	free(s);
}

int spec_parse_seccomp(struct pctx *c, json_t *o, const char *path,
				struct keel_spec_seccomp *s)
{
	if (parse_action(c, o, path, "defaultAction", "defaultErrnoRet", &s->default_action,
			 &s->has_default_errno_ret, &s->default_errno_ret) < 0 ||
	    parse_architectures(c, o, path, s) < 0 || parse_flags(c, o, path, s) < 0 ||
	    get_str(c, o, path, "listenerPath", false, &s->listener_path) < 0)
		return -1;
	return parse_list(c, o, path, "syscalls", sizeof(*s->syscalls), parse_syscall, &s->syscalls,
			  &s->n_syscalls);
}

