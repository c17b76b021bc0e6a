/* `docker run` flags: the flag table and pflag's command-line syntax.
 *
 * The syntax is that of spf13/pflag with interspersed arguments off, as the docker CLI uses
 * it: options end at the first non-option (the image) or at `--`; a long option takes its
 * value after `=` or as the next argument (booleans only after `=`); short booleans combine
 * (`-dit`) and a short option with a value takes the rest of its word or the next one. */
#include "engine/runopts_internal.h"

#include <arpa/inet.h>
#include <errno.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "runtime/spec.h"
#include "util/cleanup.h"
#include "util/fs.h"

typedef int (*opt_fn)(struct keel_run_opts *o, const char *v, keel_error_t *err);

struct flag {
	const char *lname;
	char sname; /* 0: long only */
	bool is_bool;
	opt_fn fn;
	const char *help;
};

/* ---------- simple handlers ---------- */

static int oom_fail(keel_error_t *err)
{
	keel_msg(err, ENOMEM, "out of memory");
	return OPT_FAIL;
}

static int set_bool(bool *dst, const char *v, keel_error_t *err)
{
	return keel_runopt_bool(v, dst, err);
}

#define BOOL_HANDLER(field)                                                                        \
	static int opt_##field(struct keel_run_opts *o, const char *v, keel_error_t *err)          \
	{                                                                                          \
		return set_bool(&o->field, v, err);                                                \
	}
BOOL_HANDLER(detach)
BOOL_HANDLER(interactive)
BOOL_HANDLER(tty)
BOOL_HANDLER(rm)
BOOL_HANDLER(read_only)
BOOL_HANDLER(privileged)
BOOL_HANDLER(init)
BOOL_HANDLER(help)

static int set_str(char **dst, const char *v, keel_error_t *err)
{
	char *s = strdup(v);

	if (!s)
		return oom_fail(err);
	free(*dst);
	*dst = s;
	return 0;
}

#define STR_HANDLER(field)                                                                         \
	static int opt_##field(struct keel_run_opts *o, const char *v, keel_error_t *err)          \
	{                                                                                          \
		return set_str(&o->field, v, err);                                                 \
	}
STR_HANDLER(workdir)
STR_HANDLER(user)
STR_HANDLER(hostname)
STR_HANDLER(cpuset_mems)
STR_HANDLER(platform)
STR_HANDLER(pull)
STR_HANDLER(cidfile)
STR_HANDLER(log_driver)
STR_HANDLER(detach_keys)

static int opt_sig_proxy(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	bool on = true;
	int r = set_bool(&on, v, err);
	o->no_sig_proxy = !on;
	return r;
}

static int push(char ***v, const char *s, keel_error_t *err)
{
	if (keel_strv_push(v, s) < 0) {
		keel_msg(err, ENOMEM, "out of memory");
		return OPT_FAIL;
	}
	return 0;
}

#define LIST_HANDLER(name, field)                                                                  \
	static int opt_##name(struct keel_run_opts *o, const char *v, keel_error_t *err)           \
	{                                                                                          \
		return push(&o->field, v, err);                                                    \
	}
LIST_HANDLER(group_add, group_add)
LIST_HANDLER(dns, dns)
LIST_HANDLER(dns_search, dns_search)
LIST_HANDLER(dns_option, dns_options)
LIST_HANDLER(log_opt, log_opts)

static int opt_ignore(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	(void)o, (void)v, (void)err;
	return 0;
}

static int opt_name(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	regex_t re;
	int bad;

	/* dockerd's rule; a leading '/' is how names are stored and is accepted. */
	if (regcomp(&re, "^/?[a-zA-Z0-9][a-zA-Z0-9_.-]+$", REG_EXTENDED | REG_NOSUB) != 0)
		return oom_fail(err);
	bad = regexec(&re, v, 0, NULL, 0) != 0;
	regfree(&re);
	if (bad) {
		keel_msg(err, EINVAL,
			 "Invalid container name (%s), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed", v);
		return OPT_FAIL;
	}
	return set_str(&o->name, v[0] == '/' ? v + 1 : v, err);
}

static int opt_entrypoint(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	o->has_entrypoint = true;
	return set_str(&o->entrypoint, v, err);
}

/* -e K=V, -e K (value from keel's own environment, or K removed when unset). */
static int add_env(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	const char *eq = strchr(v, '=');
	const char *val;
	cleanup_free char *kv = NULL;

	if (eq == v) {
		keel_msg(err, EINVAL, "invalid environment variable: %s", v);
		return OPT_BAD_VALUE;
	}
	if (eq || !(val = getenv(v)))
		return push(&o->env, v, err);
	if (asprintf(&kv, "%s=%s", v, val) < 0) {
		kv = NULL;
		keel_msg(err, ENOMEM, "out of memory");
		return OPT_FAIL;
	}
	return push(&o->env, kv, err);
}

static int opt_env(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return add_env(o, v, err);
}

static int opt_label(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	cleanup_free char *kv = NULL;

	if (strchr(v, '='))
		return push(&o->labels, v, err);
	/* `-l key` is the label key with an empty value. */
	if (asprintf(&kv, "%s=", v) < 0) {
		kv = NULL;
		keel_msg(err, ENOMEM, "out of memory");
		return OPT_FAIL;
	}
	return push(&o->labels, kv, err);
}

/* --env-file / --label-file: one entry a line, '#' comments and blank lines skipped,
 * leading blanks trimmed; a key must not contain whitespace (the docker CLI's rules). */
static int read_kv_file(struct keel_run_opts *o, const char *path, opt_fn add, keel_error_t *err)
{
	cleanup_free char *text = NULL;
	char *save = NULL;

	if (keel_read_file(path, &text, err) < 0) {
		char msg[128];

		/* Go's error text is lower case: "open F: no such file or directory". */
		snprintf(msg, sizeof(msg), "%s", strerror(err->errnum));
		msg[0] = (char)(msg[0] >= 'A' && msg[0] <= 'Z' ? msg[0] + 32 : msg[0]);
		keel_msg(err, err->errnum, "open %s: %s", path, msg);
		return OPT_FAIL;
	}
	for (char *line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		size_t n, keylen;

		line += strspn(line, " \t");
		n = strlen(line);
		if (n && line[n - 1] == '\r')
			line[--n] = '\0';
		if (!n || line[0] == '#')
			continue;
		keylen = strcspn(line, "=");
		if (strcspn(line, " \t") < keylen) {
			line[keylen] = '\0';
			keel_msg(err, EINVAL, "variable '%s' contains whitespaces", line);
			return OPT_FAIL;
		}
		if (add(o, line, err) < 0)
			return OPT_FAIL;
	}
	return 0;
}

static int opt_env_file(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return read_kv_file(o, v, add_env, err);
}

static int opt_label_file(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return read_kv_file(o, v, opt_label, err);
}

static int size_field(int64_t *dst, const char *v, keel_error_t *err)
{
	return keel_parse_size(v, dst, err) < 0 ? OPT_BAD_VALUE : 0;
}

static int opt_memory(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return size_field(&o->memory, v, err);
}

static int opt_memory_reservation(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return size_field(&o->memory_reservation, v, err);
}

static int opt_shm_size(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return size_field(&o->shm_size, v, err);
}

static int opt_memory_swap(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	if (strcmp(v, "-1") == 0) {
		o->memory_swap = -1;
		return 0;
	}
	return size_field(&o->memory_swap, v, err);
}

static int opt_cpu_shares(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return keel_runopt_int(v, &o->cpu_shares, err);
}

static int opt_cpu_period(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return keel_runopt_int(v, &o->cpu_period, err);
}

static int opt_cpu_quota(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return keel_runopt_int(v, &o->cpu_quota, err);
}

static int opt_pids_limit(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	o->has_pids_limit = true;
	return keel_runopt_int(v, &o->pids_limit, err);
}

static int int_field(int *dst, const char *v, keel_error_t *err)
{
	int64_t n;
	int r = keel_runopt_int(v, &n, err);

	if (r < 0)
		return r;
	if (n < INT32_MIN || n > INT32_MAX) {
		keel_msg(err, ERANGE, "strconv.ParseInt: parsing \"%s\": value out of range", v);
		return OPT_BAD_VALUE;
	}
	*dst = (int)n;
	return 0;
}

static int opt_stop_timeout(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	o->has_stop_timeout = true;
	return int_field(&o->stop_timeout, v, err);
}

static int opt_oom_score_adj(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	int r = int_field(&o->oom_score_adj, v, err);

	if (r == 0 && (o->oom_score_adj < -1000 || o->oom_score_adj > 1000)) {
		keel_msg(err, EINVAL, "Invalid value %d, range for oom score adj is [-1000, 1000]",
			 o->oom_score_adj);
		return OPT_FAIL;
	}
	return r;
}

static int opt_stop_signal(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	int sig = keel_signal_from_name(v);

	if (sig <= 0) {
		keel_msg(err, EINVAL, "Invalid signal: %s", v);
		return OPT_FAIL;
	}
	o->stop_signal_num = sig;
	return set_str(&o->stop_signal, v, err);
}

/* A cpuset list "0-3,5": what dockerd checks before it reaches the kernel. */
static int opt_cpuset_cpus(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	regex_t re;
	int bad;

	if (regcomp(&re, "^[0-9]+(-[0-9]+)?(,[0-9]+(-[0-9]+)?)*$", REG_EXTENDED | REG_NOSUB))
		return oom_fail(err);
	bad = regexec(&re, v, 0, NULL, 0) != 0;
	regfree(&re);
	if (bad) {
		keel_msg(err, EINVAL, "Invalid value %s for cpuset cpus: invalid format: %s", v, v);
		return OPT_FAIL;
	}
	return set_str(&o->cpuset_cpus, v, err);
}

/* --cap-add/--cap-drop: "ALL", or a name with or without CAP_, any case. Stored as
 * "CAP_X" / "ALL"; unknown names are dockerd's error. */
static int add_cap(char ***list, const char *v, const char *which, keel_error_t *err)
{
	char name[64];
	size_t n = 0;

	if (strcasecmp(v, "ALL") == 0)
		return push(list, "ALL", err);
	if (strncasecmp(v, "CAP_", 4) != 0)
		n = (size_t)snprintf(name, sizeof(name), "CAP_");
	snprintf(name + n, sizeof(name) - n, "%s", v);
	for (char *p = name; *p; p++)
		*p = (char)(*p >= 'a' && *p <= 'z' ? *p - 'a' + 'A' : *p);
	if (keel_cap_from_name(name) < 0) {
		keel_msg(err, EINVAL, "invalid %s: unknown capability: \"%s\"", which, name);
		return OPT_FAIL;
	}
	return push(list, name, err);
}

static int opt_cap_add(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return add_cap(&o->cap_add, v, "CapAdd", err);
}

static int opt_cap_drop(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	return add_cap(&o->cap_drop, v, "CapDrop", err);
}

static int opt_network(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	if (strcmp(v, "none") == 0) {
		o->network = KEEL_NETWORK_NONE;
		return 0;
	}
	if (strcmp(v, "host") == 0) {
		o->network = KEEL_NETWORK_HOST;
		return 0;
	}
	if (strcmp(v, "bridge") == 0 || strcmp(v, "default") == 0)
		keel_msg(err, ENOTSUP,
			 "bridge networking is not available yet: use --network none or --network host");
	else if (strncmp(v, "container:", 10) == 0)
		keel_msg(err, ENOTSUP, "--network %s is not available yet", v);
	else
		keel_msg(err, ENOENT, "network %s not found", v);
	return OPT_FAIL;
}

static int opt_add_host(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	/* host:ip, or host=ip (newer CLIs; needed for IPv6 addresses). */
	const char *sep = strchr(v, '=');
	char ip[64];

	if (!sep)
		sep = strchr(v, ':');
	if (!sep || sep == v) {
		keel_msg(err, EINVAL, "bad format for add-host: \"%s\"", v);
		return OPT_BAD_VALUE;
	}
	snprintf(ip, sizeof(ip), "%s", sep + 1);
	if (strcmp(ip, "host-gateway") != 0) {
		unsigned char buf[16];
		if (inet_pton(AF_INET, ip, buf) != 1 && inet_pton(AF_INET6, ip, buf) != 1) {
			keel_msg(err, EINVAL, "invalid IP address in add-host: \"%s\"", ip);
			return OPT_BAD_VALUE;
		}
	}
	return push(&o->add_hosts, v, err);
}

/* --sysctl: the namespaced ones Docker allows (IPC and network); `kernel.foo` is refused. */
static int opt_sysctl(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	static const char *const ipc[] = { "kernel.msgmax", "kernel.msgmnb", "kernel.msgmni",
					   "kernel.sem", "kernel.shmall", "kernel.shmmax",
					   "kernel.shmmni", "kernel.shm_rmid_forced" };
	const char *eq = strchr(v, '=');
	size_t klen = eq ? (size_t)(eq - v) : 0;
	bool ok = false;

	for (size_t k = 0; eq && k < sizeof(ipc) / sizeof(ipc[0]); k++)
		ok |= strlen(ipc[k]) == klen && strncmp(v, ipc[k], klen) == 0;
	if (eq && (strncmp(v, "fs.mqueue.", 10) == 0 || strncmp(v, "net.", 4) == 0))
		ok = klen > 4;
	if (!ok) {
		keel_msg(err, EINVAL, "sysctl '%s' is not allowed", v);
		return OPT_BAD_VALUE;
	}
	return push(&o->sysctls, v, err);
}

/* clang-format off */
static const struct flag flags[] = {
	{ "add-host", 0, false, opt_add_host, "Add a custom host-to-IP mapping (host:ip)" },
	{ "cap-add", 0, false, opt_cap_add, "Add Linux capabilities" },
	{ "cap-drop", 0, false, opt_cap_drop, "Drop Linux capabilities" },
	{ "cidfile", 0, false, opt_cidfile, "Write the container ID to the file" },
	{ "cpu-period", 0, false, opt_cpu_period, "Limit CPU CFS (Completely Fair Scheduler) period" },
	{ "cpu-quota", 0, false, opt_cpu_quota, "Limit CPU CFS (Completely Fair Scheduler) quota" },
	{ "cpu-shares", 'c', false, opt_cpu_shares, "CPU shares (relative weight)" },
	{ "cpus", 0, false, keel_runopt_cpus, "Number of CPUs" },
	{ "cpuset-cpus", 0, false, opt_cpuset_cpus, "CPUs in which to allow execution (0-3, 0,1)" },
	{ "cpuset-mems", 0, false, opt_cpuset_mems, "MEMs in which to allow execution (0-3, 0,1)" },
	{ "detach", 'd', true, opt_detach, "Run container in background and print container ID" },
	{ "detach-keys", 0, false, opt_detach_keys, "Override the key sequence for detaching a container" },
	{ "device", 0, false, keel_runopt_device, "Add a host device to the container" },
	{ "dns", 0, false, opt_dns, "Set custom DNS servers" },
	{ "dns-option", 0, false, opt_dns_option, "Set DNS options" },
	{ "dns-search", 0, false, opt_dns_search, "Set custom DNS search domains" },
	{ "entrypoint", 0, false, opt_entrypoint, "Overwrite the default ENTRYPOINT of the image" },
	{ "env", 'e', false, opt_env, "Set environment variables" },
	{ "env-file", 0, false, opt_env_file, "Read in a file of environment variables" },
	{ "group-add", 0, false, opt_group_add, "Add additional groups to join" },
	{ "help", 0, true, opt_help, "Print usage" },
	{ "hostname", 'h', false, opt_hostname, "Container host name" },
	{ "init", 0, true, opt_init, "Run an init inside the container that forwards signals and reaps processes" },
	{ "interactive", 'i', true, opt_interactive, "Keep STDIN open even if not attached" },
	{ "label", 'l', false, opt_label, "Set meta data on a container" },
	{ "label-file", 0, false, opt_label_file, "Read in a line delimited file of labels" },
	{ "log-driver", 0, false, opt_log_driver, "Logging driver for the container (json-file or none)" },
	{ "log-opt", 0, false, opt_log_opt, "Log driver options" },
	{ "memory", 'm', false, opt_memory, "Memory limit" },
	{ "memory-reservation", 0, false, opt_memory_reservation, "Memory soft limit" },
	{ "memory-swap", 0, false, opt_memory_swap, "Swap limit equal to memory plus swap: '-1' to enable unlimited swap" },
	{ "mount", 0, false, keel_runopt_mount, "Attach a filesystem mount to the container" },
	{ "name", 0, false, opt_name, "Assign a name to the container" },
	{ "net", 0, false, opt_network, "Connect a container to a network (none or host; bridge networking is not available yet)" },
	{ "network", 0, false, opt_network, "Connect a container to a network: none (default) or host; bridge networking is not available yet" },
	{ "oom-score-adj", 0, false, opt_oom_score_adj, "Tune host's OOM preferences (-1000 to 1000)" },
	{ "pids-limit", 0, false, opt_pids_limit, "Tune container pids limit (set -1 for unlimited)" },
	{ "platform", 0, false, opt_platform, "Set platform if server is multi-platform capable" },
	{ "privileged", 0, true, opt_privileged, "Give extended privileges to this container" },
	{ "pull", 0, false, opt_pull, "Pull image before running (\"always\"|\"missing\"|\"never\")" },
	{ "quiet", 'q', true, opt_ignore, "Suppress the pull output" },
	{ "read-only", 0, true, opt_read_only, "Mount the container's root filesystem as read only" },
	{ "restart", 0, false, keel_runopt_restart, "Restart policy to apply when a container exits" },
	{ "rm", 0, true, opt_rm, "Automatically remove the container when it exits" },
	{ "security-opt", 0, false, keel_runopt_security, "Security Options" },
	{ "shm-size", 0, false, opt_shm_size, "Size of /dev/shm" },
	{ "sig-proxy", 0, true, opt_sig_proxy, "Proxy received signals to the process" },
	{ "stop-signal", 0, false, opt_stop_signal, "Signal to stop a container" },
	{ "stop-timeout", 0, false, opt_stop_timeout, "Timeout (in seconds) to stop a container" },
	{ "sysctl", 0, false, opt_sysctl, "Sysctl options" },
	{ "tmpfs", 0, false, keel_runopt_tmpfs, "Mount a tmpfs directory" },
	{ "tty", 't', true, opt_tty, "Allocate a pseudo-TTY" },
	{ "ulimit", 0, false, keel_runopt_ulimit, "Ulimit options" },
	{ "user", 'u', false, opt_user, "Username or UID (format: <name|uid>[:<group|gid>])" },
	{ "volume", 'v', false, keel_runopt_volume, "Bind mount a volume" },
	{ "workdir", 'w', false, opt_workdir, "Working directory inside the container" },
};
/* clang-format on */
#define N_FLAGS (sizeof(flags) / sizeof(flags[0]))

/* ---------- the syntax ---------- */

static const struct flag *find_long(const char *name, size_t len)
{
	for (size_t k = 0; k < N_FLAGS; k++)
		if (strlen(flags[k].lname) == len && strncmp(flags[k].lname, name, len) == 0)
			return &flags[k];
	return NULL;
}

static const struct flag *find_short(char c)
{
	for (size_t k = 0; k < N_FLAGS; k++)
		if (flags[k].sname == c)
			return &flags[k];
	return NULL;
}

/* Runs a flag's handler and turns a value error into pflag's message. */
static int apply(const struct flag *f, struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	int r = f->fn(o, v, err);
	char name[64];

	if (r != OPT_BAD_VALUE)
		return r < 0 ? -1 : 0;
	if (f->sname)
		snprintf(name, sizeof(name), "-%c, --%s", f->sname, f->lname);
	else
		snprintf(name, sizeof(name), "--%s", f->lname);
	return keel_err_wrap(err, "invalid argument \"%s\" for \"%s\" flag", v, name);
}

static int parse_long(int argc, char **argv, int *i, struct keel_run_opts *o, keel_error_t *err)
{
	const char *arg = argv[*i] + 2;
	const char *eq = strchr(arg, '=');
	const struct flag *f = find_long(arg, eq ? (size_t)(eq - arg) : strlen(arg));

	if (!f)
		return keel_msg(err, EINVAL, "unknown flag: --%.*s",
				(int)(eq ? eq - arg : (long)strlen(arg)), arg);
	if (eq)
		return apply(f, o, eq + 1, err);
	if (f->is_bool)
		return apply(f, o, "true", err);
	if (*i + 1 >= argc)
		return keel_msg(err, EINVAL, "flag needs an argument: --%s", f->lname);
	return apply(f, o, argv[++*i], err);
}

/* One word of short options: "-dit", "-e" "X=1", "-eX=1", "-d=false". */
static int parse_shorts(int argc, char **argv, int *i, struct keel_run_opts *o, keel_error_t *err)
{
	const char *word = argv[*i];

	for (const char *p = word + 1; *p; p++) {
		const struct flag *f = find_short(*p);

		if (!f)
			return keel_msg(err, EINVAL, "unknown shorthand flag: '%c' in %s", *p, word);
		if (p[1] == '=')
			return apply(f, o, p + 2, err);
		if (f->is_bool) {
			if (apply(f, o, "true", err) < 0)
				return -1;
			continue;
		}
		if (p[1])
			return apply(f, o, p + 1, err);
		if (*i + 1 >= argc)
			return keel_msg(err, EINVAL, "flag needs an argument: '%c' in %s", *p, word);
		return apply(f, o, argv[++*i], err);
	}
	return 0;
}

int keel_runopts_parse(int argc, char **argv, int *i, struct keel_run_opts *o, keel_error_t *err)
{
	for (; *i < argc; (*i)++) {
		const char *a = argv[*i];
		int r;

		if (strcmp(a, "--") == 0) {
			(*i)++;
			break;
		}
		if (a[0] != '-' || a[1] == '\0')
			break;
		r = a[1] == '-' ? parse_long(argc, argv, i, o, err)
				: parse_shorts(argc, argv, i, o, err);
		if (r < 0)
			return -1;
		if (o->help)
			return 0;
	}
	return keel_runopts_validate(o, err);
}

int keel_runopts_set_cmd(struct keel_run_opts *o, int argc, char *const *argv, keel_error_t *err)
{
	keel_strv_free(o->cmd);
	o->cmd = NULL;
	for (int k = 0; k < argc; k++)
		if (keel_strv_push(&o->cmd, argv[k]) < 0)
			return keel_msg(err, ENOMEM, "out of memory");
	return 0;
}

static void mounts_free(struct keel_run_opts *o)
{
	for (size_t k = 0; k < o->n_mounts; k++) {
		free(o->mounts[k].source);
		free(o->mounts[k].target);
		free(o->mounts[k].propagation);
		keel_strv_free(o->mounts[k].options);
	}
	free(o->mounts);
}

void keel_runopts_free(struct keel_run_opts *o)
{
	if (!o)
		return;
	free(o->name), free(o->workdir), free(o->user), free(o->hostname);
	free(o->entrypoint), free(o->seccomp_profile), free(o->cpuset_cpus);
	free(o->cpuset_mems), free(o->stop_signal), free(o->platform), free(o->pull);
	free(o->cidfile), free(o->log_driver), free(o->detach_keys);
	char **vecs[] = { o->env,     o->labels,  o->cap_add, o->cap_drop,    o->group_add,
			  o->add_hosts, o->sysctls, o->dns,	  o->dns_search, o->dns_options,
			  o->cmd,     o->log_opts };
	for (size_t k = 0; k < sizeof(vecs) / sizeof(vecs[0]); k++)
		keel_strv_free(vecs[k]);
	mounts_free(o);
	for (size_t k = 0; k < o->n_ulimits; k++)
		free(o->ulimits[k].name);
	free(o->ulimits);
	for (size_t k = 0; k < o->n_devices; k++)
		free(o->devices[k].host), free(o->devices[k].container);
	free(o->devices);
	memset(o, 0, sizeof(*o));
}

const char *keel_runopts_help(void)
{
	static char text[8192];
	size_t n = 0;

	if (text[0])
		return text;
	for (size_t k = 0; k < N_FLAGS && n < sizeof(text); k++) {
		char left[40];

		if (flags[k].sname)
			snprintf(left, sizeof(left), "-%c, --%s", flags[k].sname, flags[k].lname);
		else
			snprintf(left, sizeof(left), "    --%s", flags[k].lname);
		n += (size_t)snprintf(text + n, sizeof(text) - n, "  %-26s %s\n", left,
				      flags[k].help);
	}
	return text;
}
