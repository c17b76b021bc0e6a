/* OCI runtime spec (v1.1) config.json parser and validator, Linux parts.
 *
 * The document is parsed once into the structs of spec.h. Every error names the field
 * with its path in the document ("linux.namespaces[2].type") after the origin. Unknown
 * keys are ignored at every level, as the spec requires for forward compatibility, and
 * JSON null counts as absent (Go's encoding/json, which writes most bundles, emits null
 * for nil slices and maps). */
#include "runtime/spec.h"

#include <errno.h>
#include <limits.h>
#include <sched.h>
#include <seccomp.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>

#include "util/cleanup.h"
#include "util/fs.h"

#ifndef CLONE_NEWTIME
#define CLONE_NEWTIME 0x00000080
#endif
#ifndef MS_NOSYMFOLLOW
#define MS_NOSYMFOLLOW 256
#endif

#include "runtime/spec_internal.h"

/* ---------- name tables ---------- */

/* clang-format off */
static const struct {
	const char *name, *proc;
	int flag;
} ns_table[KEEL_NS_TYPES] = {
	[KEEL_NS_PID] = { "pid", "pid", CLONE_NEWPID },
	[KEEL_NS_NET] = { "network", "net", CLONE_NEWNET },
	[KEEL_NS_MNT] = { "mount", "mnt", CLONE_NEWNS },
	[KEEL_NS_IPC] = { "ipc", "ipc", CLONE_NEWIPC },
	[KEEL_NS_UTS] = { "uts", "uts", CLONE_NEWUTS },
	[KEEL_NS_USER] = { "user", "user", CLONE_NEWUSER },
	[KEEL_NS_CGROUP] = { "cgroup", "cgroup", CLONE_NEWCGROUP },
	[KEEL_NS_TIME] = { "time", "time", CLONE_NEWTIME },
};
/* clang-format on */

const char *keel_ns_name(enum keel_ns_type type)
{
	return (unsigned)type < KEEL_NS_TYPES ? ns_table[type].name : NULL;
}

int keel_ns_clone_flag(enum keel_ns_type type)
{
	return (unsigned)type < KEEL_NS_TYPES ? ns_table[type].flag : 0;
}

const char *keel_ns_proc_name(enum keel_ns_type type)
{
	return (unsigned)type < KEEL_NS_TYPES ? ns_table[type].proc : NULL;
}

const struct keel_spec_namespace *keel_spec_namespace(const struct keel_spec *spec,
						      enum keel_ns_type type)
{
	for (size_t i = 0; i < spec->linux.n_namespaces; i++)
		if (spec->linux.namespaces[i].type == type)
			return &spec->linux.namespaces[i];
	return NULL;
}

/* linux/capability.h numbering; a table rather than libcap's cap_from_name() so that the
 * names do not depend on the libcap version installed. */
/* clang-format off */
static const char *const cap_names[] = {
	"CAP_CHOWN",	       "CAP_DAC_OVERRIDE",   "CAP_DAC_READ_SEARCH", "CAP_FOWNER",
	"CAP_FSETID",	       "CAP_KILL",	     "CAP_SETGID",	    "CAP_SETUID",
	"CAP_SETPCAP",	       "CAP_LINUX_IMMUTABLE", "CAP_NET_BIND_SERVICE", "CAP_NET_BROADCAST",
	"CAP_NET_ADMIN",       "CAP_NET_RAW",	     "CAP_IPC_LOCK",	    "CAP_IPC_OWNER",
	"CAP_SYS_MODULE",      "CAP_SYS_RAWIO",	     "CAP_SYS_CHROOT",	    "CAP_SYS_PTRACE",
	"CAP_SYS_PACCT",       "CAP_SYS_ADMIN",	     "CAP_SYS_BOOT",	    "CAP_SYS_NICE",
	"CAP_SYS_RESOURCE",    "CAP_SYS_TIME",	     "CAP_SYS_TTY_CONFIG",  "CAP_MKNOD",
	"CAP_LEASE",	       "CAP_AUDIT_WRITE",    "CAP_AUDIT_CONTROL",   "CAP_SETFCAP",
	"CAP_MAC_OVERRIDE",    "CAP_MAC_ADMIN",	     "CAP_SYSLOG",	    "CAP_WAKE_ALARM",
	"CAP_BLOCK_SUSPEND",   "CAP_AUDIT_READ",     "CAP_PERFMON",	    "CAP_BPF",
	"CAP_CHECKPOINT_RESTORE",
};
/* clang-format on */
#define N_CAPS ((int)(sizeof(cap_names) / sizeof(cap_names[0])))

int keel_cap_from_name(const char *name)
{
	for (int i = 0; i < N_CAPS; i++)
		if (strcmp(cap_names[i], name) == 0)
			return i;
	return -1;
}

const char *keel_cap_name(int cap)
{
	return cap >= 0 && cap < N_CAPS ? cap_names[cap] : NULL;
}

int keel_cap_last(void)
{
	/* Cached: the value cannot change while we run. A race only reads the file twice. */
	static int last = -1;
	char buf[16] = { 0 };
	FILE *f;

	if (last >= 0)
		return last;
	f = fopen("/proc/sys/kernel/cap_last_cap", "re");
	if (f) {
		if (fgets(buf, sizeof(buf), f))
			last = atoi(buf);
		fclose(f);
	}
	if (last <= 0 || last > 63)
		last = N_CAPS - 1;
	return last;
}

/* clang-format off */
static const struct {
	const char *name;
	int resource;
} rlimit_table[] = {
	{ "RLIMIT_CPU", RLIMIT_CPU },	      { "RLIMIT_FSIZE", RLIMIT_FSIZE },
	{ "RLIMIT_DATA", RLIMIT_DATA },	      { "RLIMIT_STACK", RLIMIT_STACK },
	{ "RLIMIT_CORE", RLIMIT_CORE },	      { "RLIMIT_RSS", RLIMIT_RSS },
	{ "RLIMIT_NPROC", RLIMIT_NPROC },     { "RLIMIT_NOFILE", RLIMIT_NOFILE },
	{ "RLIMIT_MEMLOCK", RLIMIT_MEMLOCK }, { "RLIMIT_AS", RLIMIT_AS },
	{ "RLIMIT_LOCKS", RLIMIT_LOCKS },     { "RLIMIT_SIGPENDING", RLIMIT_SIGPENDING },
	{ "RLIMIT_MSGQUEUE", RLIMIT_MSGQUEUE }, { "RLIMIT_NICE", RLIMIT_NICE },
	{ "RLIMIT_RTPRIO", RLIMIT_RTPRIO },   { "RLIMIT_RTTIME", RLIMIT_RTTIME },
};
/* clang-format on */

static int rlimit_from_name(const char *name)
{
	for (size_t i = 0; i < sizeof(rlimit_table) / sizeof(rlimit_table[0]); i++)
		if (strcmp(rlimit_table[i].name, name) == 0)
			return rlimit_table[i].resource;
	return -1;
}

/* ---------- process ---------- */

void keel_spec_process_free(struct keel_spec_process *p)
{
	if (!p)
		return;
	free(p->additional_gids);
	strv_free(p->args);
	strv_free(p->env);
	free(p->cwd);
	free(p->rlimits);
	free(p->apparmor_profile);
	free(p->selinux_label);
	free(p);
}

static void process_freep(struct keel_spec_process **p)
{
	keel_spec_process_free(*p);
}

/* (uid_t)-1 means "unchanged" to setresuid(2): not a user. */
static const struct int_field user_fields[] = {
	FIELD(struct keel_spec_process, "uid", uid, 0, UINT32_MAX - 1, 0),
	FIELD(struct keel_spec_process, "gid", gid, 0, UINT32_MAX - 1, 0),
	FIELD_HAS(struct keel_spec_process, "umask", umask, 0, 0777, 0),
	{ NULL },
};

static const struct int_field process_fields[] = {
	FIELD_HAS(struct keel_spec_process, "oomScoreAdj", oom_score_adj, -1000, 1000, 0),
	{ NULL },
};

static int parse_user(struct pctx *c, json_t *proc, const char *path, struct keel_spec_process *p)
{
	char up[PATH_BUF];
	json_t *u, *gids, *e;
	int64_t v = 0;
	size_t i;
	int r;

	/* user is REQUIRED by the spec, but runc takes its absence as uid 0, gid 0. */
	if ((r = get_obj(c, proc, path, "user", &u)) <= 0)
		return r;
	join(up, path, "user");
	if (parse_int_fields(c, u, up, user_fields, p) < 0)
		return -1;
	if ((r = get_array(c, u, up, "additionalGids", &gids)) <= 0)
		return r;
	if (!(p->additional_gids = calloc(json_array_size(gids) + 1, sizeof(gid_t))))
		return oom(c);
	json_array_foreach (gids, i, e) {
		char ep[PATH_BUF];
		join_idx(ep, up, "additionalGids", i);
		if (int_value(c, e, ep, NULL, 0, UINT32_MAX - 1, &v) < 0)
			return -1;
		p->additional_gids[p->n_additional_gids++] = (gid_t)v;
	}
	return 0;
}

static int parse_cap_set(struct pctx *c, json_t *caps, const char *path, const char *key,
			 uint64_t *mask)
{
	json_t *arr, *e;
	size_t i;
	int r;

	if ((r = get_array(c, caps, path, key, &arr)) <= 0)
		return r;
	json_array_foreach (arr, i, e) {
		char ep[PATH_BUF];
		int cap;
		join_idx(ep, path, key, i);
		if (!json_is_string(e))
			return fail(c, ep, NULL, "expected a string");
		cap = keel_cap_from_name(json_string_value(e));
		if (cap < 0)
			return fail(c, ep, NULL, "unknown capability \"%s\"", json_string_value(e));
		/* runc warns and drops capabilities the running kernel lacks; we drop silently
		 * since the library never prints. */
		if (cap <= keel_cap_last())
			*mask |= UINT64_C(1) << cap;
	}
	return 0;
}

static int parse_caps(struct pctx *c, json_t *proc, const char *path, struct keel_spec_caps *caps)
{
	char cp[PATH_BUF];
	json_t *o;
	int r;

	if ((r = get_obj(c, proc, path, "capabilities", &o)) <= 0)
		return r;
	join(cp, path, "capabilities");
	caps->present = true;
	if (parse_cap_set(c, o, cp, "bounding", &caps->bounding) < 0 ||
	    parse_cap_set(c, o, cp, "effective", &caps->effective) < 0 ||
	    parse_cap_set(c, o, cp, "inheritable", &caps->inheritable) < 0 ||
	    parse_cap_set(c, o, cp, "permitted", &caps->permitted) < 0 ||
	    parse_cap_set(c, o, cp, "ambient", &caps->ambient) < 0)
		return -1;
	return 0;
}

/* JSON integers above INT64_MAX do not survive jansson; RLIM_INFINITY is written as a
 * huge number only by hand-made configs. */
static const struct int_field rlimit_fields[] = {
	FIELD(struct keel_spec_rlimit, "soft", soft, 0, INT64_MAX, F_REQUIRED),
	FIELD(struct keel_spec_rlimit, "hard", hard, 0, INT64_MAX, F_REQUIRED),
	{ NULL },
};

static int parse_rlimit(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_rlimit *rls = arr, *rl = &rls[i];
	cleanup_free char *type = NULL;

	if (get_str(c, e, ep, "type", true, &type) < 0)
		return -1;
	rl->resource = rlimit_from_name(type);
	if (rl->resource < 0)
		return fail(c, ep, "type", "unknown rlimit \"%s\"", type);
	for (size_t j = 0; j < i; j++)
		if (rls[j].resource == rl->resource)
			return fail(c, ep, "type", "duplicate rlimit \"%s\"", type);
	if (parse_int_fields(c, e, ep, rlimit_fields, rl) < 0)
		return -1;
	if (rl->soft > rl->hard)
		return fail(c, ep, "soft", "%llu exceeds the hard limit %llu",
			    (unsigned long long)rl->soft, (unsigned long long)rl->hard);
	return 0;
}

static const struct int_field console_fields[] = {
	FIELD(struct keel_spec_process, "height", console_height, 0, UINT16_MAX, F_REQUIRED),
	FIELD(struct keel_spec_process, "width", console_width, 0, UINT16_MAX, F_REQUIRED),
	{ NULL },
};

static int parse_console_size(struct pctx *c, json_t *proc, const char *path,
			      struct keel_spec_process *p)
{
	char cp[PATH_BUF];
	json_t *o;
	int r;

	if ((r = get_obj(c, proc, path, "consoleSize", &o)) <= 0)
		return r;
	join(cp, path, "consoleSize");
	p->has_console_size = true;
	return parse_int_fields(c, o, cp, console_fields, p);
}

static int parse_env(struct pctx *c, json_t *proc, const char *path, struct keel_spec_process *p)
{
	if (get_strv(c, proc, path, "env", &p->env) < 0)
		return -1;
	if (!p->env && !(p->env = calloc(1, sizeof(char *))))
		return oom(c);
	for (size_t i = 0; p->env[i]; i++) {
		char ep[PATH_BUF];
		const char *eq = strchr(p->env[i], '=');
		/* runc refuses these too, at exec time; better to say so at parse time. */
		if (!eq || eq == p->env[i]) {
			join_idx(ep, path, "env", i);
			return fail(c, ep, NULL, "\"%s\" is not NAME=VALUE", p->env[i]);
		}
	}
	return 0;
}

/* The fields of a process object; `path` is "process" inside config.json, "" alone. */
static int parse_process_fields(struct pctx *c, json_t *o, const char *path,
				struct keel_spec_process *p)
{
	if (get_strv(c, o, path, "args", &p->args) < 0 || !p->args || !p->args[0])
		return fail(c, path, "args", "must be a non-empty array of strings");
	if (get_str(c, o, path, "cwd", true, &p->cwd) < 0 ||
	    require_absolute(c, path, "cwd", p->cwd) < 0)
		return -1;
	if (get_bool(c, o, path, "terminal", &p->terminal) < 0 ||
	    parse_console_size(c, o, path, p) < 0 || parse_user(c, o, path, p) < 0 ||
	    parse_env(c, o, path, p) < 0 || parse_caps(c, o, path, &p->caps) < 0 ||
	    parse_list(c, o, path, "rlimits", sizeof(*p->rlimits), parse_rlimit, &p->rlimits,
		       &p->n_rlimits) < 0 ||
	    get_bool(c, o, path, "noNewPrivileges", &p->no_new_privileges) < 0 ||
	    get_str(c, o, path, "apparmorProfile", false, &p->apparmor_profile) < 0 ||
	    get_str(c, o, path, "selinuxLabel", false, &p->selinux_label) < 0 ||
	    parse_int_fields(c, o, path, process_fields, p) < 0)
		return -1;
	return 0;
}

static struct keel_spec_process *process_from_json(struct pctx *c, json_t *o, const char *path)
{
	__attribute__((cleanup(process_freep))) struct keel_spec_process *p = NULL;

	if (!json_is_object(o)) {
		fail(c, path, NULL, "expected an object");
		return NULL;
	}
	if (!(p = calloc(1, sizeof(*p)))) {
		oom(c);
		return NULL;
	}
	if (parse_process_fields(c, o, path, p) < 0)
		return NULL;
	return steal_pointer(&p);
}

/* ---------- mounts ---------- */

enum mopt_kind { MOPT_SET, MOPT_CLEAR, MOPT_PROPAGATION, MOPT_BIND, MOPT_RBIND, MOPT_TMPCOPYUP };

/* Mount options as runc (libcontainer/specconv) maps them. The "r" forms (rro, rnosuid,
 * ...) ask for the attribute on every submount: that needs mount_setattr(2) with
 * AT_RECURSIVE, which rootfs may use by looking at `options`; for flags they count as
 * the plain form. */
/* clang-format off */
static const struct {
	const char *name;
	enum mopt_kind kind;
	unsigned long flag;
} mount_options[] = {
	{ "defaults", MOPT_SET, 0 },
	{ "ro", MOPT_SET, MS_RDONLY },		{ "rw", MOPT_CLEAR, MS_RDONLY },
	{ "nosuid", MOPT_SET, MS_NOSUID },	{ "suid", MOPT_CLEAR, MS_NOSUID },
	{ "nodev", MOPT_SET, MS_NODEV },	{ "dev", MOPT_CLEAR, MS_NODEV },
	{ "noexec", MOPT_SET, MS_NOEXEC },	{ "exec", MOPT_CLEAR, MS_NOEXEC },
	{ "sync", MOPT_SET, MS_SYNCHRONOUS },	{ "async", MOPT_CLEAR, MS_SYNCHRONOUS },
	{ "remount", MOPT_SET, MS_REMOUNT },	{ "dirsync", MOPT_SET, MS_DIRSYNC },
	{ "mand", MOPT_SET, MS_MANDLOCK },	{ "nomand", MOPT_CLEAR, MS_MANDLOCK },
	{ "atime", MOPT_CLEAR, MS_NOATIME },	{ "noatime", MOPT_SET, MS_NOATIME },
	{ "diratime", MOPT_CLEAR, MS_NODIRATIME }, { "nodiratime", MOPT_SET, MS_NODIRATIME },
	{ "relatime", MOPT_SET, MS_RELATIME },	{ "norelatime", MOPT_CLEAR, MS_RELATIME },
	{ "strictatime", MOPT_SET, MS_STRICTATIME }, { "nostrictatime", MOPT_CLEAR, MS_STRICTATIME },
	{ "lazytime", MOPT_SET, MS_LAZYTIME },	{ "nolazytime", MOPT_CLEAR, MS_LAZYTIME },
	{ "iversion", MOPT_SET, MS_I_VERSION }, { "noiversion", MOPT_CLEAR, MS_I_VERSION },
	{ "silent", MOPT_SET, MS_SILENT },	{ "loud", MOPT_CLEAR, MS_SILENT },
	{ "nosymfollow", MOPT_SET, MS_NOSYMFOLLOW }, { "symfollow", MOPT_CLEAR, MS_NOSYMFOLLOW },
	{ "rro", MOPT_SET, MS_RDONLY },		{ "rrw", MOPT_CLEAR, MS_RDONLY },
	{ "rnosuid", MOPT_SET, MS_NOSUID },	{ "rsuid", MOPT_CLEAR, MS_NOSUID },
	{ "rnodev", MOPT_SET, MS_NODEV },	{ "rdev", MOPT_CLEAR, MS_NODEV },
	{ "rnoexec", MOPT_SET, MS_NOEXEC },	{ "rexec", MOPT_CLEAR, MS_NOEXEC },
	{ "rnodiratime", MOPT_SET, MS_NODIRATIME }, { "rdiratime", MOPT_CLEAR, MS_NODIRATIME },
	{ "rrelatime", MOPT_SET, MS_RELATIME }, { "rnorelatime", MOPT_CLEAR, MS_RELATIME },
	{ "rnoatime", MOPT_SET, MS_NOATIME },	{ "ratime", MOPT_CLEAR, MS_NOATIME },
	{ "rstrictatime", MOPT_SET, MS_STRICTATIME },
	{ "rnostrictatime", MOPT_CLEAR, MS_STRICTATIME },
	{ "rnosymfollow", MOPT_SET, MS_NOSYMFOLLOW }, { "rsymfollow", MOPT_CLEAR, MS_NOSYMFOLLOW },
	{ "bind", MOPT_BIND, MS_BIND },		{ "rbind", MOPT_RBIND, MS_BIND | MS_REC },
	{ "private", MOPT_PROPAGATION, MS_PRIVATE },
	{ "rprivate", MOPT_PROPAGATION, MS_PRIVATE | MS_REC },
	{ "shared", MOPT_PROPAGATION, MS_SHARED },
	{ "rshared", MOPT_PROPAGATION, MS_SHARED | MS_REC },
	{ "slave", MOPT_PROPAGATION, MS_SLAVE },
	{ "rslave", MOPT_PROPAGATION, MS_SLAVE | MS_REC },
	{ "unbindable", MOPT_PROPAGATION, MS_UNBINDABLE },
	{ "runbindable", MOPT_PROPAGATION, MS_UNBINDABLE | MS_REC },
	{ "tmpcopyup", MOPT_TMPCOPYUP, 0 },
};
/* clang-format on */

static int apply_mount_option(struct keel_spec_mount *m, const char *opt)
{
	for (size_t i = 0; i < sizeof(mount_options) / sizeof(mount_options[0]); i++) {
		if (strcmp(mount_options[i].name, opt) != 0)
			continue;
		unsigned long f = mount_options[i].flag;
		switch (mount_options[i].kind) {
		case MOPT_SET:
			m->flags |= f;
			m->clear &= ~f;
			break;
		case MOPT_CLEAR:
			m->flags &= ~f;
			m->clear |= f;
			break;
		case MOPT_PROPAGATION:
			m->propagation = f; /* the last one wins, as with mount(8) */
			break;
		case MOPT_BIND:
		case MOPT_RBIND:
			m->bind = true;
			m->recursive |= mount_options[i].kind == MOPT_RBIND;
			m->flags |= f;
			break;
		case MOPT_TMPCOPYUP:
			m->tmpcopyup = true;
			break;
		}
		return 1;
	}
	return 0;
}

/* Splits m->options into flags and the filesystem data string. */
static int mount_flags(struct pctx *c, struct keel_spec_mount *m)
{
	size_t len = 1;
	char *d;

	for (char **o = m->options; o && *o; o++)
		len += strlen(*o) + 1;
	if (!(m->data = d = calloc(1, len)))
		return oom(c);
	for (char **o = m->options; o && *o; o++) {
		if (apply_mount_option(m, *o))
			continue;
		if (d != m->data)
			*d++ = ',';
		d = stpcpy(d, *o);
	}
	return 0;
}

static void mount_clear(struct keel_spec_mount *m)
{
	free(m->destination);
	free(m->type);
	free(m->source);
	strv_free(m->options);
	free(m->data);
}

static int parse_mount(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_mount *m = (struct keel_spec_mount *)arr + i;

	if (get_str(c, e, ep, "destination", true, &m->destination) < 0 ||
	    require_absolute(c, ep, "destination", m->destination) < 0 ||
	    get_str(c, e, ep, "type", false, &m->type) < 0 ||
	    get_str(c, e, ep, "source", false, &m->source) < 0 ||
	    get_strv(c, e, ep, "options", &m->options) < 0)
		return -1;
	return mount_flags(c, m);
}

/* ---------- hooks ---------- */

static const char *const hook_keys[KEEL_HOOK_KINDS] = {
	[KEEL_HOOK_PRESTART] = "prestart",
	[KEEL_HOOK_CREATE_RUNTIME] = "createRuntime",
	[KEEL_HOOK_CREATE_CONTAINER] = "createContainer",
	[KEEL_HOOK_START_CONTAINER] = "startContainer",
	[KEEL_HOOK_POSTSTART] = "poststart",
	[KEEL_HOOK_POSTSTOP] = "poststop",
};

static int parse_hook(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_hook *h = (struct keel_spec_hook *)arr + i;
	int64_t t = 0;
	int r;

	if (get_str(c, e, ep, "path", true, &h->path) < 0 ||
	    require_absolute(c, ep, "path", h->path) < 0 ||
	    get_strv(c, e, ep, "args", &h->args) < 0 || get_strv(c, e, ep, "env", &h->env) < 0)
		return -1;
	if ((r = get_int(c, e, ep, "timeout", 1, INT_MAX, &t)) < 0)
		return -1;
	h->has_timeout = r;
	h->timeout = r ? (int)t : 0;
	return 0;
}

static int parse_hooks(struct pctx *c, json_t *root, struct keel_spec_hooks *hooks)
{
	json_t *o;
	int r;

	if ((r = get_obj(c, root, "", "hooks", &o)) <= 0)
		return r;
	for (int k = 0; k < KEEL_HOOK_KINDS; k++)
		if (parse_list(c, o, "hooks", hook_keys[k], sizeof(struct keel_spec_hook),
			       parse_hook, &hooks->list[k], &hooks->n[k]) < 0)
			return -1;
	return 0;
}

static void hooks_clear(struct keel_spec_hooks *hooks)
{
	for (int k = 0; k < KEEL_HOOK_KINDS; k++) {
		for (size_t i = 0; i < hooks->n[k]; i++) {
			free(hooks->list[k][i].path);
			strv_free(hooks->list[k][i].args);
			strv_free(hooks->list[k][i].env);
		}
		free(hooks->list[k]);
	}
}

/* ---------- linux ---------- */

static int parse_namespace(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_namespace *all = arr, *ns = &all[i];
	cleanup_free char *type = NULL;
	int t;

	if (get_str(c, e, ep, "type", true, &type) < 0)
		return -1;
	for (t = 0; t < KEEL_NS_TYPES && strcmp(ns_table[t].name, type) != 0; t++)
		;
	if (t == KEEL_NS_TYPES)
		return fail(c, ep, "type", "unknown namespace \"%s\"", type);
	for (size_t j = 0; j < i; j++)
		if (all[j].type == (enum keel_ns_type)t)
			return fail(c, ep, "type", "duplicate namespace \"%s\"", type);
	ns->type = t;
	if (get_str(c, e, ep, "path", false, &ns->path) < 0 ||
	    (ns->path && require_absolute(c, ep, "path", ns->path) < 0))
		return -1;
	return 0;
}

static const struct int_field idmap_fields[] = {
	FIELD(struct keel_spec_idmap, "containerID", container_id, 0, UINT32_MAX, F_REQUIRED),
	FIELD(struct keel_spec_idmap, "hostID", host_id, 0, UINT32_MAX, F_REQUIRED),
	FIELD(struct keel_spec_idmap, "size", size, 1, UINT32_MAX, F_REQUIRED),
	{ NULL },
};

static int parse_idmap(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	return parse_int_fields(c, e, ep, idmap_fields, (struct keel_spec_idmap *)arr + i);
}

static const struct int_field device_fields[] = {
	FIELD(struct keel_spec_device, "major", major, 0, INT64_MAX, 0),
	FIELD(struct keel_spec_device, "minor", minor, 0, INT64_MAX, 0),
	FIELD_HAS(struct keel_spec_device, "fileMode", mode, 0, UINT32_MAX, 0),
	FIELD_HAS(struct keel_spec_device, "uid", uid, 0, UINT32_MAX - 1, 0),
	FIELD_HAS(struct keel_spec_device, "gid", gid, 0, UINT32_MAX - 1, 0),
	{ NULL },
};

static int parse_device(struct pctx *c, json_t *e, const char *ep, void *arr, size_t i)
{
	struct keel_spec_device *d = (struct keel_spec_device *)arr + i;
	cleanup_free char *type = NULL;

	if (get_str(c, e, ep, "path", true, &d->path) < 0 ||
	    require_absolute(c, ep, "path", d->path) < 0 ||
	    get_str(c, e, ep, "type", true, &type) < 0)
		return -1;
	if (strlen(type) != 1 || !strchr("cbup", type[0]))
		return fail(c, ep, "type", "must be \"c\", \"b\", \"u\" or \"p\", not \"%s\"",
			    type);
	d->type = type[0];
	d->major = d->minor = -1;
	if (parse_int_fields(c, e, ep, device_fields, d) < 0)
		return -1;
	/* A fifo has no device number; the others need both. */
	if (d->type != 'p' && d->major < 0)
		return fail(c, ep, "major", "required");
	if (d->type != 'p' && d->minor < 0)
		return fail(c, ep, "minor", "required");
	/* Docker has sent the type bits with the mode (020666); only permissions matter. */
	d->mode &= 07777;
	return 0;
}

/* clang-format off */
static const struct {
	const char *name;
	unsigned long flags;
} propagations[] = {
	{ "private", MS_PRIVATE },	       { "rprivate", MS_PRIVATE | MS_REC },
	{ "slave", MS_SLAVE },		       { "rslave", MS_SLAVE | MS_REC },
	{ "shared", MS_SHARED },	       { "rshared", MS_SHARED | MS_REC },
	{ "unbindable", MS_UNBINDABLE },       { "runbindable", MS_UNBINDABLE | MS_REC },
};
/* clang-format on */

static int parse_propagation(struct pctx *c, json_t *o, struct keel_spec_linux *l)
{
	cleanup_free char *s = NULL;
	int r;

	if ((r = get_str(c, o, "linux", "rootfsPropagation", false, &s)) <= 0)
		return r;
	for (size_t i = 0; i < sizeof(propagations) / sizeof(propagations[0]); i++) {
		if (strcmp(propagations[i].name, s) == 0) {
			l->rootfs_propagation = propagations[i].flags;
			return 0;
		}
	}
	return fail(c, "linux", "rootfsPropagation", "unknown propagation \"%s\"", s);
}

static int parse_personality(struct pctx *c, json_t *o, struct keel_spec_linux *l)
{
	cleanup_free char *domain = NULL;
	json_t *p;
	int r;

	if ((r = get_obj(c, o, "linux", "personality", &p)) <= 0)
		return r;
	if (get_str(c, p, "linux.personality", "domain", true, &domain) < 0)
		return -1;
	if (strcmp(domain, "LINUX") == 0)
		l->personality = PER_LINUX;
	else if (strcmp(domain, "LINUX32") == 0)
		l->personality = PER_LINUX32;
	else
		return fail(c, "linux.personality", "domain", "unknown domain \"%s\"", domain);
	l->has_personality = true;
	return 0;
}

static int parse_clock_offset(struct pctx *c, json_t *o, const char *path, int64_t *secs,
			      uint32_t *nsecs)
{
	int64_t v = 0;

	if (!json_is_object(o))
		return fail(c, path, NULL, "expected an object");
	if (get_int(c, o, path, "secs", INT64_MIN, INT64_MAX, secs) < 0 ||
	    get_int(c, o, path, "nanosecs", 0, 999999999, &v) < 0)
		return -1;
	*nsecs = (uint32_t)v;
	return 0;
}

static int parse_time_offsets(struct pctx *c, json_t *o, struct keel_spec_linux *l)
{
	const char *clock;
	json_t *t, *v;
	int r;

	if ((r = get_obj(c, o, "linux", "timeOffsets", &t)) <= 0)
		return r;
	l->has_time_offsets = true;
	json_object_foreach (t, clock, v) {
		char cp[PATH_BUF];
		join(cp, "linux.timeOffsets", clock);
		if (strcmp(clock, "boottime") == 0)
			r = parse_clock_offset(c, v, cp, &l->boottime_secs, &l->boottime_nanosecs);
		else if (strcmp(clock, "monotonic") == 0)
			r = parse_clock_offset(c, v, cp, &l->monotonic_secs,
					       &l->monotonic_nanosecs);
		else
			r = fail(c, cp, NULL, "unknown clock (boottime or monotonic)");
		if (r < 0)
			return -1;
	}
	return 0;
}

static int parse_linux_sections(struct pctx *c, json_t *o, struct keel_spec_linux *l)
{
	json_t *v;
	int r;

	if ((r = get_obj(c, o, "linux", "resources", &v)) < 0)
		return -1;
	if (r && !(l->resources = spec_resources_from_json(c, v, "linux.resources")))
		return -1;
	if ((r = get_obj(c, o, "linux", "seccomp", &v)) < 0)
		return -1;
	if (r) {
		if (!(l->seccomp = calloc(1, sizeof(*l->seccomp))))
			return oom(c);
		if (spec_parse_seccomp(c, v, "linux.seccomp", l->seccomp) < 0)
			return -1;
	}
	if ((r = get_obj(c, o, "linux", "intelRdt", &v)) < 0)
		return -1;
	l->has_intel_rdt = r;
	return 0;
}

static int parse_linux(struct pctx *c, json_t *root, struct keel_spec_linux *l)
{
	json_t *o;
	int r;

	if ((r = get_obj(c, root, "", "linux", &o)) <= 0)
		return r;
	if (parse_list(c, o, "linux", "namespaces", sizeof(*l->namespaces), parse_namespace,
		       &l->namespaces, &l->n_namespaces) < 0 ||
	    parse_list(c, o, "linux", "uidMappings", sizeof(*l->uid_mappings), parse_idmap,
		       &l->uid_mappings, &l->n_uid_mappings) < 0 ||
	    parse_list(c, o, "linux", "gidMappings", sizeof(*l->gid_mappings), parse_idmap,
		       &l->gid_mappings, &l->n_gid_mappings) < 0 ||
	    parse_list(c, o, "linux", "devices", sizeof(*l->devices), parse_device, &l->devices,
		       &l->n_devices) < 0 ||
	    get_str(c, o, "linux", "cgroupsPath", false, &l->cgroups_path) < 0 ||
	    get_str_map(c, o, "linux", "sysctl", &l->sysctl) < 0 ||
	    get_strv(c, o, "linux", "maskedPaths", &l->masked_paths) < 0 ||
	    get_strv(c, o, "linux", "readonlyPaths", &l->readonly_paths) < 0 ||
	    parse_propagation(c, o, l) < 0 ||
	    get_str(c, o, "linux", "mountLabel", false, &l->mount_label) < 0 ||
	    parse_personality(c, o, l) < 0 || parse_time_offsets(c, o, l) < 0)
		return -1;
	return parse_linux_sections(c, o, l);
}

static void linux_clear(struct keel_spec_linux *l)
{
	for (size_t i = 0; i < l->n_namespaces; i++)
		free(l->namespaces[i].path);
	free(l->namespaces);
	free(l->uid_mappings);
	free(l->gid_mappings);
	for (size_t i = 0; i < l->n_devices; i++)
		free(l->devices[i].path);
	free(l->devices);
	free(l->cgroups_path);
	keel_spec_resources_free(l->resources);
	strv_free(l->sysctl);
	spec_seccomp_free(l->seccomp);
	strv_free(l->masked_paths);
	strv_free(l->readonly_paths);
	free(l->mount_label);
}

/* ---------- the document ---------- */

void keel_spec_free(struct keel_spec *spec)
{
	if (!spec)
		return;
	free(spec->oci_version);
	keel_spec_process_free(spec->process);
	free(spec->root_path);
	free(spec->hostname);
	free(spec->domainname);
	for (size_t i = 0; i < spec->n_mounts; i++)
		mount_clear(&spec->mounts[i]);
	free(spec->mounts);
	hooks_clear(&spec->hooks);
	if (spec->annotations)
		json_decref(spec->annotations);
	linux_clear(&spec->linux);
	free(spec);
}

static void spec_freep(struct keel_spec **s)
{
	keel_spec_free(*s);
}

/* Parses text into a JSON object; syntax errors carry jansson's line and column. */
static json_t *load_object(struct pctx *c, const char *text, size_t len)
{
	json_error_t jerr;
	json_t *root = json_loadb(text, len, JSON_REJECT_DUPLICATES, &jerr);

	if (!root) {
		if (jerr.line > 0)
			keel_err(c->err, 0, "%s: %d:%d: invalid JSON: %s", c->origin, jerr.line,
				 jerr.column, jerr.text);
		else
			keel_err(c->err, 0, "%s: invalid JSON: %s", c->origin, jerr.text);
		if (c->err)
			c->err->errnum = EINVAL;
		return NULL;
	}
	if (!json_is_object(root)) {
		json_decref(root);
		fail(c, "", NULL, "expected a JSON object");
		return NULL;
	}
	return root;
}

static int parse_root(struct pctx *c, json_t *doc, struct keel_spec *s)
{
	json_t *root;

	/* root is REQUIRED on Linux. */
	if (get_obj(c, doc, "", "root", &root) < 0)
		return -1;
	if (!root)
		return fail(c, "", "root", "required");
	if (get_str(c, root, "root", "path", true, &s->root_path) < 0 ||
	    get_bool(c, root, "root", "readonly", &s->root_readonly) < 0)
		return -1;
	if (!*s->root_path)
		return fail(c, "root", "path", "must not be empty");
	return 0;
}

static int parse_annotations(struct pctx *c, json_t *doc, struct keel_spec *s)
{
	const char *k;
	json_t *o, *v;
	int r;

	if ((r = get_obj(c, doc, "", "annotations", &o)) <= 0)
		return r;
	json_object_foreach (o, k, v)
		if (!json_is_string(v))
			return fail(c, "annotations", k, "expected a string");
	s->annotations = json_incref(o);
	return 0;
}

static int parse_document(struct pctx *c, json_t *doc, struct keel_spec *s)
{
	json_t *proc;
	int r;

	if (get_str(c, doc, "", "ociVersion", true, &s->oci_version) < 0)
		return -1;
	if (!*s->oci_version)
		return fail(c, "", "ociVersion", "must not be empty");
	if ((r = get_obj(c, doc, "", "process", &proc)) < 0)
		return -1;
	if (r && !(s->process = process_from_json(c, proc, "process")))
		return -1;
	if (parse_root(c, doc, s) < 0 || get_str(c, doc, "", "hostname", false, &s->hostname) < 0 ||
	    get_str(c, doc, "", "domainname", false, &s->domainname) < 0 ||
	    parse_list(c, doc, "", "mounts", sizeof(*s->mounts), parse_mount, &s->mounts,
		       &s->n_mounts) < 0 ||
	    parse_hooks(c, doc, &s->hooks) < 0 || parse_annotations(c, doc, s) < 0 ||
	    parse_linux(c, doc, &s->linux) < 0)
		return -1;
	return 0;
}

struct keel_spec *keel_spec_parse(const char *text, size_t len, const char *origin,
				  keel_error_t *err)
{
	struct pctx c = { origin ? origin : "config.json", err };
	__attribute__((cleanup(spec_freep))) struct keel_spec *s = NULL;
	cleanup_json json_t *doc = load_object(&c, text, len);

	if (!doc)
		return NULL;
	if (!(s = calloc(1, sizeof(*s)))) {
		oom(&c);
		return NULL;
	}
	if (parse_document(&c, doc, s) < 0)
		return NULL;
	return steal_pointer(&s);
}

struct keel_spec *keel_spec_load(const char *bundle, keel_error_t *err)
{
	cleanup_free char *path = NULL, *text = NULL;
	ssize_t n;

	if (asprintf(&path, "%s/config.json", bundle) < 0) {
		path = NULL;
		keel_err(err, ENOMEM, "config.json");
		return NULL;
	}
	n = keel_read_file(path, &text, err);
	if (n < 0)
		return NULL;
	return keel_spec_parse(text, (size_t)n, "config.json", err);
}

struct keel_spec_process *keel_spec_process_parse(const char *text, size_t len, const char *origin,
						  keel_error_t *err)
{
	struct pctx c = { origin ? origin : "process.json", err };
	cleanup_json json_t *doc = load_object(&c, text, len);

	return doc ? process_from_json(&c, doc, "") : NULL;
}

struct keel_spec_resources *keel_spec_resources_parse(const char *text, size_t len,
						      const char *origin, keel_error_t *err)
{
	struct pctx c = { origin ? origin : "resources", err };
	cleanup_json json_t *doc = load_object(&c, text, len);

	return doc ? spec_resources_from_json(&c, doc, "") : NULL;
}

/* ---------- the default spec ---------- */

/* What `runc spec` (1.1.5, not rootless) prints, with our hostname. */
/* clang-format off */
static const char default_spec[] =
	"{\"ociVersion\":\"1.0.2-dev\","
	"\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
	"\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\","
	"\"TERM=xterm\"],\"cwd\":\"/\","
	"\"capabilities\":{"
	"\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
	"\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
	"\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
	"\"ambient\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
	"\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
	"\"noNewPrivileges\":true},"
	"\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
	"\"hostname\":\"keel\","
	"\"mounts\":["
	"{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
	"{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
	"\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
	"{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
	"\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\","
	"\"gid=5\"]},"
	"{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
	"\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
	"{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
	"\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
	"{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
	"\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
	"{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
	"\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
	"\"linux\":{"
	"\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
	"\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},"
	"{\"type\":\"uts\"},{\"type\":\"mount\"}],"
	"\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
	"\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\","
	"\"/proc/sched_debug\",\"/sys/firmware\",\"/proc/scsi\"],"
	"\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\","
	"\"/proc/sysrq-trigger\"]}}";
/* clang-format on */

json_t *keel_spec_default(void)
{
	/* Keys keep their order (jansson >= 2.8), so a dump reads like runc's. */
	return json_loads(default_spec, 0, NULL);
}
