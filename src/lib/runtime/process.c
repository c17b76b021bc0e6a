#include "runtime/process.h"

#include <errno.h>
#include <fcntl.h>
#include <grp.h>
#include <pwd.h>
#include <dirent.h>
#include <limits.h>
#include <signal.h>
#include <linux/close_range.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/personality.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/capability.h>

#include "runtime/caps.h"
#include "runtime/seccomp.h"
#include "util/log.h"

#define DEFAULT_PATH "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"

static const char *env_get(char **env, const char *key)
{
	size_t klen = strlen(key);
	for (char **e = env; e && *e; e++)
		if (strncmp(*e, key, klen) == 0 && (*e)[klen] == '=')
			return *e + klen + 1;
	return NULL;
}

static int check_exe(const char *name, const char *path, keel_error_t *err)
{
	struct stat st;
	if (stat(path, &st) < 0)
		return keel_err(err, errno, "exec: \"%s\": stat %s", name, path);
	if (S_ISDIR(st.st_mode) || access(path, X_OK) < 0)
		return keel_err(err, EACCES, "exec: \"%s\"", name);
	return 0;
}

int keel_process_resolve(const struct keel_spec_process *p, char *out, size_t len,
			 keel_error_t *err)
{
	const char *name = p->args[0];
	const char *path;

	if (strchr(name, '/')) {
		if (check_exe(name, name, err) < 0)
			return -1;
		snprintf(out, len, "%s", name);
		return 0;
	}
	path = env_get(p->env, "PATH");
	if (!path)
		path = DEFAULT_PATH;
	while (*path) {
		const char *end = strchrnul(path, ':');
		int n = (end == path) ? snprintf(out, len, "./%s", name)
				      : snprintf(out, len, "%.*s/%s", (int)(end - path), path, name);
		struct stat st;
		if (n > 0 && (size_t)n < len && stat(out, &st) == 0 && S_ISREG(st.st_mode) &&
		    access(out, X_OK) == 0)
			return 0;
		path = *end ? end + 1 : end;
	}
	return keel_err(err, ENOENT, "exec: \"%s\": executable file not found in $PATH", name);
}

static int apply_rlimits(const struct keel_spec_process *p, keel_error_t *err)
{
	for (size_t i = 0; i < p->n_rlimits; i++) {
		const struct keel_spec_rlimit *r = &p->rlimits[i];
		struct rlimit want = {.rlim_cur = r->soft, .rlim_max = r->hard};
		if (setrlimit(r->resource, &want) < 0)
			return keel_err_sys(err, "error setting rlimit type %d", r->resource);
	}
	return 0;
}

static bool have_cap(int cap)
{
	struct __user_cap_header_struct hdr = {.version = _LINUX_CAPABILITY_VERSION_3};
	struct __user_cap_data_struct data[2];
	if (syscall(SYS_capget, &hdr, data) < 0)
		return false;
	return (data[cap / 32].effective >> (cap % 32)) & 1;
}

void keel_process_clamp_rlimits(struct keel_spec_process *p)
{
	if (p->n_rlimits == 0 || have_cap(CAP_SYS_RESOURCE))
		return;
	for (size_t i = 0; i < p->n_rlimits; i++) {
		struct keel_spec_rlimit *r = &p->rlimits[i];
		struct rlimit cur;
		if (getrlimit(r->resource, &cur) < 0 || cur.rlim_max == RLIM_INFINITY ||
		    r->hard <= cur.rlim_max)
			continue;
		keel_log(KEEL_LOG_WARN,
			 "rlimit %d: hard limit %llu is above the host's %llu and raising it needs "
			 "CAP_SYS_RESOURCE: clamped to %llu",
			 r->resource, (unsigned long long)r->hard, (unsigned long long)cur.rlim_max,
			 (unsigned long long)cur.rlim_max);
		r->hard = cur.rlim_max;
		if (r->soft > r->hard)
			r->soft = r->hard;
	}
}

/* In a user namespace whose gid_map was written unprivileged, setgroups is denied. */
static bool setgroups_denied(void)
{
	char buf[16] = "";
	int fd = open("/proc/self/setgroups", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return false;
	if (read(fd, buf, sizeof(buf) - 1) < 0)
		buf[0] = '\0';
	close(fd);
	return strncmp(buf, "deny", 4) == 0;
}

static int switch_user(const struct keel_process_final *f, keel_error_t *err)
{
	const struct keel_spec_process *p = f->proc;
	if (f->set_groups && !setgroups_denied() &&
	    setgroups(p->n_additional_gids, p->n_additional_gids ? p->additional_gids : NULL) < 0)
		return keel_err_sys(err, "setgroups");
	if (setresgid(p->gid, p->gid, p->gid) < 0)
		return keel_err_sys(err, "setgid %u", p->gid);
	if (setresuid(p->uid, p->uid, p->uid) < 0)
		return keel_err_sys(err, "setuid %u", p->uid);
	return 0;
}

int keel_process_enter_cwd(const char *cwd, keel_error_t *err)
{
	char buf[PATH_MAX];
	if (chdir(cwd) < 0)
		return keel_err_sys(err, "chdir to cwd (\"%s\") set in config.json failed", cwd);
	/* A cwd reached through an fd outside the root reads "(unreachable)/..." (the
	 * CVE-2024-21626 pattern): refuse it. */
	if (!getcwd(buf, sizeof(buf)) || buf[0] != '/')
		return keel_err(err, EPERM, "current working directory is outside of container root");
	return 0;
}

/* The container's process starts with every signal at its default and none blocked, as
 * with runc: ignored signals and the mask would otherwise be inherited through execve from
 * whoever called the runtime (a shim, a monitor, a shell with SIGINT ignored). */
static void reset_signals(void)
{
	sigset_t none;
	for (int sig = 1; sig < NSIG; sig++)
		if (sig != SIGKILL && sig != SIGSTOP)
			signal(sig, SIG_DFL);
	sigemptyset(&none);
	sigprocmask(SIG_SETMASK, &none, NULL);
}

/* Marks every fd but stdio and the preserved ones close-on-exec; where close_range is missing
 * or refused (a seccomp profile), walks /proc/self/fd. */
static int cloexec_fds(int first, keel_error_t *err)
{
	DIR *d;
	struct dirent *de;
	if (syscall(SYS_close_range, (unsigned)first, ~0U, CLOSE_RANGE_CLOEXEC) == 0)
		return 0;
	d = opendir("/proc/self/fd");
	if (!d)
		return keel_err_sys(err, "close_range");
	while ((de = readdir(d))) {
		int fd = atoi(de->d_name);
		if (fd >= first && fd != dirfd(d))
			fcntl(fd, F_SETFD, FD_CLOEXEC);
	}
	closedir(d);
	return 0;
}

/* "HOME=..." for a process whose env has no HOME ("" when it has one): set in prepare (as root,
 * before the switch to the user), added to the env in finish. Per forked child. */
static char home_env[PATH_MAX + 8];

/* runc's setupUser: without HOME in process.env, HOME is the home directory of the uid in the
 * container's /etc/passwd, or "/" when it has no entry (libcontainer/user's default). Parsed
 * with fgetpwent, never getpwuid: NSS could load modules from the container's filesystem into
 * this process. A FIFO or a device planted as /etc/passwd is not read. */
static void find_home(const struct keel_spec_process *p)
{
	struct passwd *pw;
	struct stat st;
	FILE *f = NULL;
	int fd;

	home_env[0] = '\0';
	if (env_get(p->env, "HOME"))
		return;
	snprintf(home_env, sizeof(home_env), "HOME=/");
	fd = open("/etc/passwd", O_RDONLY | O_NONBLOCK | O_NOCTTY | O_CLOEXEC);
	if (fd < 0)
		return;
	if (fstat(fd, &st) < 0 || !S_ISREG(st.st_mode) || !(f = fdopen(fd, "r"))) {
		close(fd);
		return;
	}
	while ((pw = fgetpwent(f)))
		if (pw->pw_uid == p->uid) {
			snprintf(home_env, sizeof(home_env), "HOME=%s", pw->pw_dir);
			break;
		}
	fclose(f);
}

/* process.env, plus HOME when find_home found it missing. */
static char **final_env(char **env)
{
	size_t n = 0;
	char **v;

	if (!home_env[0])
		return env;
	while (env[n])
		n++;
	if (!(v = calloc(n + 2, sizeof(*v))))
		return env;
	memcpy(v, env, n * sizeof(*v));
	v[n] = home_env;
	return v;
}

int keel_process_prepare(const struct keel_process_final *f, keel_error_t *err)
{
	const struct keel_spec_process *p = f->proc;

	if (cloexec_fds(3 + f->preserve_fds, err) < 0)
		return -1;
	if (apply_rlimits(p, err) < 0)
		return -1;
	if (f->has_personality && personality(f->personality) < 0)
		return keel_err_sys(err, "personality");
	/* Without no_new_privs, loading a filter needs CAP_SYS_ADMIN: load it while we have it. */
	if (f->seccomp && !p->no_new_privileges && keel_seccomp_prog_load(f->seccomp, err) < 0)
		return -1;
	/* No "capabilities" in the config means none at all (as runc), not root's full set:
	 * the zeroed struct drops every capability. */
	if (keel_caps_drop_bounding(&p->caps, err) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
		return keel_err_sys(err, "keepcaps");
	find_home(p);
	if (switch_user(f, err) < 0)
		return -1;
	if (prctl(PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
		return keel_err_sys(err, "keepcaps");
	if (keel_caps_apply(&p->caps, err) < 0)
		return -1;
	if (p->has_umask)
		umask(p->umask);
	if (keel_process_enter_cwd(p->cwd, err) < 0)
		return -1;
	if (p->no_new_privileges && prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return keel_err_sys(err, "no_new_privs");
	return 0;
}

int keel_process_finish(const struct keel_process_final *f, keel_error_t *err)
{
	const struct keel_spec_process *p = f->proc;
	reset_signals();
	/* With no_new_privs the filter goes last, as close to execve as possible. */
	if (f->seccomp && p->no_new_privileges && keel_seccomp_prog_load(f->seccomp, err) < 0)
		return -1;
	execve(f->exe, p->args, final_env(p->env));
	return keel_err(err, errno, "exec: \"%s\"", p->args[0]);
}

static int cmp_int(const void *a, const void *b)
{
	return *(const int *)a - *(const int *)b;
}

int keel_process_isolate_fds(const int *keep, size_t n, int preserve_fds, keel_error_t *err)
{
	int sorted[64];
	size_t m = 0;
	unsigned int lo = 3 + (unsigned int)preserve_fds;

	keel_log_forget();
	if (prctl(PR_SET_DUMPABLE, 0, 0, 0, 0) < 0)
		return keel_err_sys(err, "prctl(PR_SET_DUMPABLE)");
	for (size_t k = 0; k < n && m < sizeof(sorted) / sizeof(sorted[0]); k++)
		if (keep[k] >= (int)lo)
			sorted[m++] = keep[k];
	qsort(sorted, m, sizeof(int), cmp_int);
	for (size_t k = 0; k <= m; k++) {
		unsigned int hi = k < m ? (unsigned int)sorted[k] - 1 : ~0U;
		if (hi >= lo && syscall(SYS_close_range, lo, hi, 0) < 0)
			return keel_err_sys(err, "close_range");
		if (k < m)
			lo = (unsigned int)sorted[k] + 1;
	}
	return 0;
}
