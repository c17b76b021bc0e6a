/* Docker's default seccomp profile, as our own data: the semantics of moby's
 * profiles/seccomp/default.json (docker 20.10), resolved for one container the way dockerd
 * resolves it before writing config.json: rules that depend on a capability are kept or
 * dropped by the container's bounding set, and only this machine's architectures appear.
 *
 * Shape of the filter:
 *  - default action ERRNO (EPERM), architectures x86_64 + x86 + x32;
 *  - one big allow list of the syscalls an ordinary program needs;
 *  - personality(2) only with the domains PER_LINUX, PER_LINUX32, UNAME26 (and their mix)
 *    and the query value 0xffffffff;
 *  - clone(2) only without namespace flags unless CAP_SYS_ADMIN (a masked compare), and
 *    clone3(2) answered with ENOSYS then, because its flags live in memory seccomp cannot
 *    read: libc falls back to clone(2), where the mask applies;
 *  - syscalls that are only safe with a capability (mount with CAP_SYS_ADMIN, reboot with
 *    CAP_SYS_BOOT, ...) allowed only when the container holds that capability.
 * The list was checked against the config.json dockerd 20.10.24 writes on this machine. */
#include "engine/ocispec_internal.h"

#include <errno.h>
#include <linux/capability.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>
#include <sys/utsname.h>

#include "runtime/spec.h"

/* ptrace is in the base list: the profile allows it from kernel 4.8 on, where seccomp is
 * no longer bypassable through ptrace; keel does not run on older kernels. */
static const char *const base_allow[] = {
	"accept", "accept4", "access", "adjtimex", "alarm", "bind", "brk", "capget", "capset",
	"chdir", "chmod", "chown", "chown32", "clock_adjtime", "clock_adjtime64", "clock_getres",
	"clock_getres_time64", "clock_gettime", "clock_gettime64", "clock_nanosleep",
	"clock_nanosleep_time64", "close", "close_range", "connect", "copy_file_range", "creat",
	"dup", "dup2", "dup3", "epoll_create", "epoll_create1", "epoll_ctl", "epoll_ctl_old",
	"epoll_pwait", "epoll_pwait2", "epoll_wait", "epoll_wait_old", "eventfd", "eventfd2",
	"execve", "execveat", "exit", "exit_group", "faccessat", "faccessat2", "fadvise64",
	"fadvise64_64", "fallocate", "fanotify_mark", "fchdir", "fchmod", "fchmodat", "fchown",
	"fchown32", "fchownat", "fcntl", "fcntl64", "fdatasync", "fgetxattr", "flistxattr",
	"flock", "fork", "fremovexattr", "fsetxattr", "fstat", "fstat64", "fstatat64", "fstatfs",
	"fstatfs64", "fsync", "ftruncate", "ftruncate64", "futex", "futex_time64", "futex_waitv",
	"futimesat", "getcpu", "getcwd", "getdents", "getdents64", "getegid", "getegid32",
	"geteuid", "geteuid32", "getgid", "getgid32", "getgroups", "getgroups32", "getitimer",
	"getpeername", "getpgid", "getpgrp", "getpid", "getppid", "getpriority", "getrandom",
	"getresgid", "getresgid32", "getresuid", "getresuid32", "getrlimit", "get_robust_list",
	"getrusage", "getsid", "getsockname", "getsockopt", "get_thread_area", "gettid",
	"gettimeofday", "getuid", "getuid32", "getxattr", "inotify_add_watch", "inotify_init",
	"inotify_init1", "inotify_rm_watch", "io_cancel", "ioctl", "io_destroy", "io_getevents",
	"io_pgetevents", "io_pgetevents_time64", "ioprio_get", "ioprio_set", "io_setup",
	"io_submit", "io_uring_enter", "io_uring_register", "io_uring_setup", "ipc", "kill",
	"landlock_add_rule", "landlock_create_ruleset", "landlock_restrict_self", "lchown",
	"lchown32", "lgetxattr", "link", "linkat", "listen", "listxattr", "llistxattr", "_llseek",
	"lremovexattr", "lseek", "lsetxattr", "lstat", "lstat64", "madvise", "membarrier",
	"memfd_create", "memfd_secret", "mincore", "mkdir", "mkdirat", "mknod", "mknodat",
	"mlock", "mlock2", "mlockall", "mmap", "mmap2", "mprotect", "mq_getsetattr", "mq_notify",
	"mq_open", "mq_timedreceive", "mq_timedreceive_time64", "mq_timedsend",
	"mq_timedsend_time64", "mq_unlink", "mremap", "msgctl", "msgget", "msgrcv", "msgsnd",
	"msync", "munlock", "munlockall", "munmap", "nanosleep", "newfstatat", "_newselect",
	"open", "openat", "openat2", "pause", "pidfd_open", "pidfd_send_signal", "pipe", "pipe2",
	"poll", "ppoll", "ppoll_time64", "prctl", "pread64", "preadv", "preadv2", "prlimit64",
	"process_mrelease", "pselect6", "pselect6_time64", "pwrite64", "pwritev", "pwritev2",
	"read", "readahead", "readlink", "readlinkat", "readv", "recv", "recvfrom", "recvmmsg",
	"recvmmsg_time64", "recvmsg", "remap_file_pages", "removexattr", "rename", "renameat",
	"renameat2", "restart_syscall", "rmdir", "rseq", "rt_sigaction", "rt_sigpending",
	"rt_sigprocmask", "rt_sigqueueinfo", "rt_sigreturn", "rt_sigsuspend", "rt_sigtimedwait",
	"rt_sigtimedwait_time64", "rt_tgsigqueueinfo", "sched_getaffinity", "sched_getattr",
	"sched_getparam", "sched_get_priority_max", "sched_get_priority_min",
	"sched_getscheduler", "sched_rr_get_interval", "sched_rr_get_interval_time64",
	"sched_setaffinity", "sched_setattr", "sched_setparam", "sched_setscheduler",
	"sched_yield", "seccomp", "select", "semctl", "semget", "semop", "semtimedop",
	"semtimedop_time64", "send", "sendfile", "sendfile64", "sendmmsg", "sendmsg", "sendto",
	"setfsgid", "setfsgid32", "setfsuid", "setfsuid32", "setgid", "setgid32", "setgroups",
	"setgroups32", "setitimer", "setpgid", "setpriority", "setregid", "setregid32",
	"setresgid", "setresgid32", "setresuid", "setresuid32", "setreuid", "setreuid32",
	"setrlimit", "set_robust_list", "setsid", "setsockopt", "set_thread_area",
	"set_tid_address", "setuid", "setuid32", "setxattr", "shmat", "shmctl", "shmdt", "shmget",
	"shutdown", "sigaltstack", "signalfd", "signalfd4", "sigprocmask", "sigreturn", "socket",
	"socketcall", "socketpair", "splice", "stat", "stat64", "statfs", "statfs64", "statx",
	"symlink", "symlinkat", "sync", "sync_file_range", "syncfs", "sysinfo", "tee", "tgkill",
	"time", "timer_create", "timer_delete", "timer_getoverrun", "timer_gettime",
	"timer_gettime64", "timer_settime", "timer_settime64", "timerfd_create",
	"timerfd_gettime", "timerfd_gettime64", "timerfd_settime", "timerfd_settime64", "times",
	"tkill", "truncate", "truncate64", "ugetrlimit", "umask", "uname", "unlink", "unlinkat",
	"utime", "utimensat", "utimensat_time64", "utimes", "vfork", "vmsplice", "wait4",
	"waitid", "waitpid", "write", "writev",
	"ptrace",
	NULL,
};

#ifndef CAP_PERFMON
#define CAP_PERFMON 38
#endif
#ifndef CAP_BPF
#define CAP_BPF 39
#endif

#define NAMES(...) ((const char *const[]){ __VA_ARGS__, NULL })
#define NO_CAP     (-1)

/* A rule that applies when the container has cap `with` (NO_CAP: always) and lacks cap
 * `without` (NO_CAP: never mind). */
struct sc_rule {
	const char *const *names;
	int with, without;
	int errno_ret;             /* 0: SCMP_ACT_ALLOW; else SCMP_ACT_ERRNO with this errno */
	bool has_arg;              /* one comparison on argument 0 */
	bool masked;               /* SCMP_CMP_MASKED_EQ (value is the mask, valueTwo 0) */
	unsigned long long value;
};

/* CLONE_NEWNS|NEWCGROUP|NEWUTS|NEWIPC|NEWUSER|NEWPID|NEWNET: clone(2) may not create
 * namespaces without CAP_SYS_ADMIN. (CLONE_NEWTIME shares the bit of CSIGNAL's range and
 * cannot be filtered here; unshare(2) and clone3 are refused instead.) */
#define CLONE_NS_MASK 0x7E020000ULL

/* clang-format off */
static const struct sc_rule rules[] = {
	/* personality: PER_LINUX, UNAME26, PER_LINUX32, UNAME26|PER_LINUX32, query */
	{ NAMES("personality"), NO_CAP, NO_CAP, 0, true, false, 0x0 },
	{ NAMES("personality"), NO_CAP, NO_CAP, 0, true, false, 0x8 },
	{ NAMES("personality"), NO_CAP, NO_CAP, 0, true, false, 0x20000 },
	{ NAMES("personality"), NO_CAP, NO_CAP, 0, true, false, 0x20008 },
	{ NAMES("personality"), NO_CAP, NO_CAP, 0, true, false, 0xffffffff },
	/* x86 specifics */
	{ NAMES("arch_prctl"), NO_CAP, NO_CAP, 0, false, false, 0 },
	{ NAMES("modify_ldt"), NO_CAP, NO_CAP, 0, false, false, 0 },
	{ NAMES("open_by_handle_at"), CAP_DAC_READ_SEARCH, NO_CAP, 0, false, false, 0 },
	{ NAMES("bpf", "clone", "clone3", "fanotify_init", "fsconfig", "fsmount", "fsopen",
		"fspick", "lookup_dcookie", "mount", "mount_setattr", "move_mount",
		"name_to_handle_at", "open_tree", "perf_event_open", "quotactl", "quotactl_fd",
		"setdomainname", "sethostname", "setns", "syslog", "umount", "umount2", "unshare"),
	  CAP_SYS_ADMIN, NO_CAP, 0, false, false, 0 },
	{ NAMES("clone"), NO_CAP, CAP_SYS_ADMIN, 0, true, true, CLONE_NS_MASK },
	{ NAMES("clone3"), NO_CAP, CAP_SYS_ADMIN, ENOSYS, false, false, 0 },
	{ NAMES("reboot"), CAP_SYS_BOOT, NO_CAP, 0, false, false, 0 },
	{ NAMES("chroot"), CAP_SYS_CHROOT, NO_CAP, 0, false, false, 0 },
	{ NAMES("delete_module", "init_module", "finit_module"), CAP_SYS_MODULE, NO_CAP, 0, false,
	  false, 0 },
	{ NAMES("acct"), CAP_SYS_PACCT, NO_CAP, 0, false, false, 0 },
	{ NAMES("kcmp", "pidfd_getfd", "process_madvise", "process_vm_readv", "process_vm_writev",
		"ptrace"), CAP_SYS_PTRACE, NO_CAP, 0, false, false, 0 },
	{ NAMES("iopl", "ioperm"), CAP_SYS_RAWIO, NO_CAP, 0, false, false, 0 },
	{ NAMES("settimeofday", "stime", "clock_settime"), CAP_SYS_TIME, NO_CAP, 0, false, false, 0 },
	{ NAMES("vhangup"), CAP_SYS_TTY_CONFIG, NO_CAP, 0, false, false, 0 },
	{ NAMES("get_mempolicy", "mbind", "set_mempolicy"), CAP_SYS_NICE, NO_CAP, 0, false, false,
	  0 },
	{ NAMES("syslog"), CAP_SYSLOG, NO_CAP, 0, false, false, 0 },
	/* Newer moby profiles: the split-out capabilities of 5.8 kernels. */
	{ NAMES("bpf"), CAP_BPF, NO_CAP, 0, false, false, 0 },
	{ NAMES("perf_event_open"), CAP_PERFMON, NO_CAP, 0, false, false, 0 },
};
/* clang-format on */

static bool has_cap(uint64_t caps, int cap)
{
	return cap >= 0 && cap < 64 && (caps & (UINT64_C(1) << cap));
}

static json_t *names_json(const char *const *names)
{
	json_t *a = json_array();

	for (size_t k = 0; a && names[k]; k++)
		if (json_array_append_new(a, json_string(names[k])) < 0) {
			json_decref(a);
			return NULL;
		}
	return a;
}

static json_t *rule_json(const struct sc_rule *r)
{
	json_t *o = json_pack("{s:o, s:s}", "names", names_json(r->names), "action",
			      r->errno_ret ? "SCMP_ACT_ERRNO" : "SCMP_ACT_ALLOW");

	if (o && r->errno_ret && json_object_set_new(o, "errnoRet", json_integer(r->errno_ret)))
		goto fail;
	if (o && r->has_arg &&
	    json_object_set_new(o, "args",
				json_pack("[{s:i, s:I, s:s}]", "index", 0, "value",
					  (json_int_t)r->value, "op",
					  r->masked ? "SCMP_CMP_MASKED_EQ" : "SCMP_CMP_EQ")))
		goto fail;
	return o;
fail:
	json_decref(o);
	return NULL;
}

json_t *keel_seccomp_default(uint64_t caps, keel_error_t *err)
{
	json_t *calls = json_array();
	json_t *prof = json_pack("{s:s, s:[s,s,s], s:o}", "defaultAction", "SCMP_ACT_ERRNO",
				 "architectures", "SCMP_ARCH_X86_64", "SCMP_ARCH_X86",
				 "SCMP_ARCH_X32", "syscalls", calls);

	if (!prof) {
		keel_msg(err, ENOMEM, "building the default seccomp profile");
		return NULL;
	}
	if (json_array_append_new(calls, json_pack("{s:o, s:s}", "names", names_json(base_allow),
						   "action", "SCMP_ACT_ALLOW")) < 0)
		goto fail;
	for (size_t k = 0; k < sizeof(rules) / sizeof(rules[0]); k++) {
		const struct sc_rule *r = &rules[k];

		if ((r->with != NO_CAP && !has_cap(caps, r->with)) ||
		    (r->without != NO_CAP && has_cap(caps, r->without)))
			continue;
		if (json_array_append_new(calls, rule_json(r)) < 0)
			goto fail;
	}
	return prof;
fail:
	json_decref(prof);
	keel_msg(err, ENOMEM, "building the default seccomp profile");
	return NULL;
}

/* ---------- --security-opt seccomp=FILE ---------- */

static bool str_in(const json_t *arr, const char *s)
{
	size_t k;
	json_t *v;

	json_array_foreach (arr, k, v)
		if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
			return true;
	return false;
}

/* minKernel "4.8": true when the running kernel is at least that. */
static bool kernel_at_least(const char *min)
{
	struct utsname u;
	int want[2] = { 0, 0 }, have[2] = { 0, 0 };

	if (!min || !*min || uname(&u) < 0)
		return true;
	sscanf(min, "%d.%d", &want[0], &want[1]);
	sscanf(u.release, "%d.%d", &have[0], &have[1]);
	return have[0] != want[0] ? have[0] > want[0] : have[1] >= want[1];
}

static bool caps_hold(const json_t *names, uint64_t caps, bool all)
{
	size_t k;
	json_t *v;

	json_array_foreach (names, k, v) {
		int c = json_is_string(v) ? keel_cap_from_name(json_string_value(v)) : -1;
		bool has = has_cap(caps, c);

		if (all != has)
			return !all;
	}
	return all;
}

/* dockerd's filter: includes must all hold, excludes must not (on amd64). */
static bool rule_applies(const json_t *rule, uint64_t caps)
{
	const json_t *inc = json_object_get(rule, "includes");
	const json_t *exc = json_object_get(rule, "excludes");

	if (json_array_size(json_object_get(inc, "arches")) &&
	    !str_in(json_object_get(inc, "arches"), "amd64"))
		return false;
	if (str_in(json_object_get(exc, "arches"), "amd64"))
		return false;
	if (json_array_size(json_object_get(inc, "caps")) &&
	    !caps_hold(json_object_get(inc, "caps"), caps, true))
		return false;
	if (json_array_size(json_object_get(exc, "caps")) &&
	    caps_hold(json_object_get(exc, "caps"), caps, false))
		return false;
	if (!kernel_at_least(json_string_value(json_object_get(inc, "minKernel"))))
		return false;
	return true;
}

static json_t *oci_rule(const json_t *rule)
{
	const json_t *names = json_object_get(rule, "names");
	const char *name = json_string_value(json_object_get(rule, "name"));
	json_t *o = json_object();
	static const char *const copied[] = { "action", "errnoRet", "args" };

	if (!o)
		return NULL;
	if (json_array_size(names))
		json_object_set_new(o, "names", json_deep_copy(names));
	else if (name)
		json_object_set_new(o, "names", json_pack("[s]", name));
	for (size_t k = 0; k < 3; k++) {
		json_t *v = json_object_get(rule, copied[k]);
		if (v && !json_is_null(v))
			json_object_set_new(o, copied[k], json_deep_copy(v));
	}
	return o;
}

static json_t *profile_arches(const json_t *doc)
{
	const json_t *arches = json_object_get(doc, "architectures");
	size_t k;
	json_t *m;

	if (json_array_size(arches))
		return json_deep_copy(arches);
	json_array_foreach (json_object_get(doc, "archMap"), k, m) {
		const char *a = json_string_value(json_object_get(m, "architecture"));
		json_t *out;

		if (!a || strcmp(a, "SCMP_ARCH_X86_64") != 0)
			continue;
		out = json_pack("[s]", a);
		if (out && json_is_array(json_object_get(m, "subArchitectures")))
			json_array_extend(out, json_object_get(m, "subArchitectures"));
		return out;
	}
	return json_array();
}

json_t *keel_seccomp_from_docker(const char *text, uint64_t caps, keel_error_t *err)
{
	json_error_t jerr;
	json_t *doc = json_loads(text, 0, &jerr), *out = NULL, *calls, *v;
	const char *def = json_string_value(json_object_get(doc, "defaultAction"));
	size_t k;

	if (!doc || !def || (json_object_get(doc, "syscalls") &&
			     !json_is_array(json_object_get(doc, "syscalls")))) {
		keel_msg(err, EINVAL, "decoding seccomp profile failed: %s",
			 doc ? "no defaultAction or bad syscalls" : jerr.text);
		goto out;
	}
	out = json_pack("{s:s, s:o, s:[]}", "defaultAction", def, "architectures",
			profile_arches(doc), "syscalls");
	if (!out)
		goto oom;
	if ((v = json_object_get(doc, "defaultErrnoRet")))
		json_object_set(out, "defaultErrnoRet", v);
	if ((v = json_object_get(doc, "flags")) && json_is_array(v))
		json_object_set(out, "flags", v);
	calls = json_object_get(out, "syscalls");
	json_array_foreach (json_object_get(doc, "syscalls"), k, v)
		if (rule_applies(v, caps) && json_array_append_new(calls, oci_rule(v)) < 0)
			goto oom;
	goto out;
oom:
	keel_msg(err, ENOMEM, "out of memory");
	json_decref(out);
	out = NULL;
out:
	json_decref(doc);
	return out;
}
