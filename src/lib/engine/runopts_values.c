/* `docker run` flag values: sizes, signals, volumes and mounts, ulimits, devices, restart
 * policies, security options, and the cross-flag checks dockerd makes. Messages are the
 * docker CLI's or dockerd's own, so scripts that match on them keep working. */
#include "engine/runopts_internal.h"

#include <ctype.h>
#include <errno.h>
#include <math.h> /* isfinite: a macro, no libm */
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/logconfig.h"
#include "util/cleanup.h"
#include "util/fs.h"

int keel_msg(keel_error_t *err, int errnum, const char *fmt, ...)
{
	va_list ap;

	if (!err)
		return -1;
	va_start(ap, fmt);
	vsnprintf(err->msg, sizeof(err->msg), fmt, ap);
	va_end(ap);
	err->errnum = errnum;
	return -1;
}

/* ---------- string vectors ---------- */

size_t keel_strv_len(char *const *v)
{
	size_t n = 0;

	while (v && v[n])
		n++;
	return n;
}

int keel_strv_push(char ***v, const char *s)
{
	size_t n = keel_strv_len(*v);
	char *copy = strdup(s);
	char **nv;

	if (!copy)
		return -1;
	nv = realloc(*v, (n + 2) * sizeof(*nv));
	if (!nv) {
		free(copy);
		return -1;
	}
	nv[n] = copy;
	nv[n + 1] = NULL;
	*v = nv;
	return 0;
}

void keel_strv_free(char **v)
{
	for (size_t k = 0; v && v[k]; k++)
		free(v[k]);
	free(v);
}

static int oom_fail(keel_error_t *err)
{
	keel_msg(err, ENOMEM, "out of memory");
	return OPT_FAIL;
}

/* ---------- scalars ---------- */

int keel_runopt_int(const char *s, int64_t *out, keel_error_t *err)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (!*s || *end || isspace((unsigned char)*s)) {
		keel_msg(err, EINVAL, "strconv.ParseInt: parsing \"%s\": invalid syntax", s);
		return OPT_BAD_VALUE;
	}
	if (errno == ERANGE) {
		keel_msg(err, ERANGE, "strconv.ParseInt: parsing \"%s\": value out of range", s);
		return OPT_BAD_VALUE;
	}
	*out = v;
	return 0;
}

int keel_runopt_bool(const char *s, bool *out, keel_error_t *err)
{
	static const char *const yes[] = { "1", "t", "T", "TRUE", "true", "True" };
	static const char *const no[] = { "0", "f", "F", "FALSE", "false", "False" };

	for (size_t k = 0; k < 6; k++) {
		if (strcmp(s, yes[k]) == 0)
			return *out = true, 0;
		if (strcmp(s, no[k]) == 0)
			return *out = false, 0;
	}
	keel_msg(err, EINVAL, "strconv.ParseBool: parsing \"%s\": invalid syntax", s);
	return OPT_BAD_VALUE;
}

int keel_parse_size(const char *s, int64_t *out, keel_error_t *err)
{
	static const char units[] = "kmgtp";
	const char *p = s, *u;
	double num, mult = 1;
	char *end;

	while (isdigit((unsigned char)*p) || *p == '.')
		p++;
	if (p == s || !isdigit((unsigned char)s[0]))
		return keel_msg(err, EINVAL, "invalid size: '%s'", s);
	num = strtod(s, &end);
	if (end != p)
		return keel_msg(err, EINVAL, "invalid size: '%s'", s);
	if (*p == ' ')
		p++;
	u = *p ? strchr(units, tolower((unsigned char)*p)) : NULL;
	if (u) {
		for (const char *x = units; x <= u; x++)
			mult *= 1024;
		p++;
		if (*p == 'i' || *p == 'I')
			p++;
	}
	if (*p == 'b' || *p == 'B')
		p++;
	if (*p)
		return keel_msg(err, EINVAL, "invalid suffix: '%s'", u ? p : s + (end - s));
	if (num * mult >= 9.2e18)
		return keel_msg(err, ERANGE, "invalid size: '%s'", s);
	*out = (int64_t)(num * mult);
	return 0;
}

int keel_signal_from_name(const char *s)
{
	/* clang-format off */
	static const struct { const char *name; int sig; } sigs[] = {
		{ "HUP", SIGHUP }, { "INT", SIGINT }, { "QUIT", SIGQUIT }, { "ILL", SIGILL },
		{ "TRAP", SIGTRAP }, { "ABRT", SIGABRT }, { "IOT", SIGIOT }, { "BUS", SIGBUS },
		{ "FPE", SIGFPE }, { "KILL", SIGKILL }, { "USR1", SIGUSR1 }, { "SEGV", SIGSEGV },
		{ "USR2", SIGUSR2 }, { "PIPE", SIGPIPE }, { "ALRM", SIGALRM }, { "TERM", SIGTERM },
		{ "STKFLT", SIGSTKFLT }, { "CHLD", SIGCHLD }, { "CONT", SIGCONT }, { "STOP", SIGSTOP },
		{ "TSTP", SIGTSTP }, { "TTIN", SIGTTIN }, { "TTOU", SIGTTOU }, { "URG", SIGURG },
		{ "XCPU", SIGXCPU }, { "XFSZ", SIGXFSZ }, { "VTALRM", SIGVTALRM }, { "PROF", SIGPROF },
		{ "WINCH", SIGWINCH }, { "IO", SIGIO }, { "POLL", SIGPOLL }, { "PWR", SIGPWR },
		{ "SYS", SIGSYS },
	};
	/* clang-format on */
	char *end;
	long n = strtol(s, &end, 10);

	if (*s && !*end)
		return n > 0 && n <= 64 ? (int)n : 0;
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t k = 0; k < sizeof(sigs) / sizeof(sigs[0]); k++)
		if (strcasecmp(s, sigs[k].name) == 0)
			return sigs[k].sig;
	return 0;
}

int keel_runopt_cpus(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	long ncpu = sysconf(_SC_NPROCESSORS_ONLN);
	char *end;
	double d = strtod(v, &end);

	if (!*v || *end || !isfinite(d)) {
		keel_msg(err, EINVAL, "failed to parse %s as a rational number", v);
		return OPT_BAD_VALUE;
	}
	o->nano_cpus = (int64_t)(d * 1e9 + (d < 0 ? -0.5 : 0.5));
	if (o->nano_cpus != 0 && (o->nano_cpus < 10000000 || o->nano_cpus > ncpu * 1000000000L)) {
		keel_msg(err, EINVAL,
			 "Range of CPUs is from 0.01 to %ld.00, as there are only %ld CPUs available",
			 ncpu, ncpu);
		return OPT_FAIL;
	}
	return 0;
}

/* ---------- volumes and mounts ---------- */

static struct keel_mount_opt *new_mount(struct keel_run_opts *o)
{
	struct keel_mount_opt *m = realloc(o->mounts, (o->n_mounts + 1) * sizeof(*m));

	if (!m)
		return NULL;
	o->mounts = m;
	m = &o->mounts[o->n_mounts++];
	memset(m, 0, sizeof(*m));
	return m;
}

static bool is_propagation(const char *s)
{
	static const char *const p[] = { "private", "rprivate", "shared",
					 "rshared", "slave",	"rslave" };

	for (size_t k = 0; k < 6; k++)
		if (strcmp(s, p[k]) == 0)
			return true;
	return false;
}

/* -v's third field: comma-separated ro|rw, z|Z, nocopy, a propagation, a consistency. */
static int volume_mode(struct keel_mount_opt *m, const char *mode, keel_error_t *err)
{
	cleanup_free char *copy = strdup(mode);
	char *save = NULL;
	int rw_seen = 0;

	if (!copy)
		return oom_fail(err);
	for (char *t = strtok_r(copy, ",", &save); t; t = strtok_r(NULL, ",", &save)) {
		if (strcmp(t, "ro") == 0 || strcmp(t, "rw") == 0) {
			m->readonly = t[1] == 'o';
			rw_seen++;
		} else if (is_propagation(t)) {
			free(m->propagation);
			if (!(m->propagation = strdup(t)))
				return oom_fail(err);
		} else if (strcmp(t, "z") == 0 || strcmp(t, "Z") == 0 || strcmp(t, "nocopy") == 0 ||
			   strcmp(t, "consistent") == 0 || strcmp(t, "cached") == 0 ||
			   strcmp(t, "delegated") == 0) {
			if (keel_strv_push(&m->options, t) < 0)
				return oom_fail(err);
		} else {
			rw_seen = 2;
		}
		if (rw_seen > 1) {
			keel_msg(err, EINVAL, "invalid mode: %s", mode);
			return OPT_FAIL;
		}
	}
	return 0;
}

int keel_runopt_volume(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	cleanup_free char *copy = strdup(v);
	char *parts[4] = { 0 };
	size_t n = 0;
	struct keel_mount_opt *m;
	const char *src, *dst;

	if (!copy)
		return oom_fail(err);
	for (char *p = copy, *c; n < 4; p = c + 1) {
		parts[n++] = p;
		if (!(c = strchr(p, ':')))
			break;
		*c = '\0';
	}
	if (n > 3 || strchr(v, ':') == v || !*parts[n - 1]) {
		keel_msg(err, EINVAL, "invalid volume specification: '%s'", v);
		return OPT_FAIL;
	}
	src = n > 1 ? parts[0] : NULL;
	dst = n > 1 ? parts[1] : parts[0];
	if (dst[0] != '/') {
		keel_msg(err, EINVAL,
			 "invalid volume specification: '%s': invalid mount config for type \"%s\": "
			 "invalid mount path: '%s' mount path must be absolute",
			 v, src && src[0] == '/' ? "bind" : "volume", dst);
		return OPT_FAIL;
	}
	if (strcmp(dst, "/") == 0) {
		keel_msg(err, EINVAL, "invalid specification: destination can't be '/'");
		return OPT_FAIL;
	}
	if (!(m = new_mount(o)))
		return oom_fail(err);
	m->kind = src && src[0] == '/' ? KEEL_MOUNT_BIND : KEEL_MOUNT_VOLUME;
	m->from_volume_flag = true;
	if ((src && !(m->source = strdup(src))) || !(m->target = strdup(dst)))
		return oom_fail(err);
	return n == 3 ? volume_mode(m, parts[2], err) : 0;
}

/* --mount's key=value fields. Returns 0, or an OPT_ code. */
static int mount_field(struct keel_mount_opt *m, char **type, const char *field,
		       keel_error_t *err)
{
	const char *eq = strchr(field, '=');
	size_t klen = eq ? (size_t)(eq - field) : strlen(field);
	const char *val = eq ? eq + 1 : NULL;
	char key[32];
	bool b = true;

	snprintf(key, sizeof(key), "%.*s", (int)klen, field);
	if (strcmp(key, "readonly") == 0 || strcmp(key, "ro") == 0 ||
	    strcmp(key, "volume-nocopy") == 0 || strcmp(key, "bind-nonrecursive") == 0) {
		if (val && keel_runopt_bool(val, &b, err) < 0) {
			keel_msg(err, EINVAL, "invalid value for %s: %s", key, val);
			return OPT_BAD_VALUE;
		}
		if (key[0] == 'r')
			m->readonly = b;
		else if (b && key[0] == 'b' && keel_strv_push(&m->options, "bind-nonrecursive") < 0)
			return oom_fail(err);
		return 0;
	}
	if (!val) {
		keel_msg(err, EINVAL, "invalid field '%s' must be a key=value pair", field);
		return OPT_BAD_VALUE;
	}
	if (strcmp(key, "type") == 0) {
		free(*type);
		*type = strdup(val);
		return *type ? 0 : oom_fail(err);
	}
	if (strcmp(key, "source") == 0 || strcmp(key, "src") == 0) {
		free(m->source);
		m->source = strdup(val);
		return m->source ? 0 : oom_fail(err);
	}
	if (strcmp(key, "target") == 0 || strcmp(key, "destination") == 0 ||
	    strcmp(key, "dst") == 0) {
		free(m->target);
		m->target = strdup(val);
		return m->target ? 0 : oom_fail(err);
	}
	if (strcmp(key, "bind-propagation") == 0) {
		if (!is_propagation(val)) {
			keel_msg(err, EINVAL, "invalid value for %s: %s", key, val);
			return OPT_BAD_VALUE;
		}
		free(m->propagation);
		m->propagation = strdup(val);
		return m->propagation ? 0 : oom_fail(err);
	}
	if (strcmp(key, "tmpfs-size") == 0 || strcmp(key, "tmpfs-mode") == 0) {
		int64_t n;
		char *end, opt[64];

		if (key[6] == 's' ? keel_parse_size(val, &n, err) < 0
				  : ((n = strtoll(val, &end, 8)), !*val || *end || n < 0)) {
			keel_msg(err, EINVAL, "invalid value for %s: %s", key, val);
			return OPT_BAD_VALUE;
		}
		if (key[6] == 's')
			snprintf(opt, sizeof(opt), "size=%lld", (long long)n);
		else
			snprintf(opt, sizeof(opt), "mode=%llo", (unsigned long long)n);
		return keel_strv_push(&m->options, opt) < 0 ? oom_fail(err) : 0;
	}
	if (strcmp(key, "consistency") == 0 || strcmp(key, "volume-driver") == 0 ||
	    strcmp(key, "volume-label") == 0 || strcmp(key, "volume-opt") == 0 ||
	    strcmp(key, "volume-subpath") == 0 || strcmp(key, "bind-recursive") == 0)
		return 0;
	keel_msg(err, EINVAL, "unexpected key '%s' in '%s'", key, field);
	return OPT_BAD_VALUE;
}

/* dockerd's checks of a --mount once all fields are known. */
static int mount_check(const struct keel_mount_opt *m, const char *type, keel_error_t *err)
{
	struct stat st;

	if (m->target[0] != '/')
		keel_msg(err, EINVAL,
			 "invalid mount config for type \"%s\": invalid mount path: '%s' mount "
			 "path must be absolute",
			 type, m->target);
	else if (m->kind == KEEL_MOUNT_BIND && !m->source)
		keel_msg(err, EINVAL,
			 "invalid mount config for type \"bind\": field Source must not be empty");
	else if (m->kind == KEEL_MOUNT_BIND && m->source[0] != '/')
		keel_msg(err, EINVAL,
			 "invalid mount config for type \"bind\": invalid mount path: '%s' mount "
			 "path must be absolute",
			 m->source);
	else if (m->kind == KEEL_MOUNT_BIND && stat(m->source, &st) < 0)
		keel_msg(err, ENOENT,
			 "invalid mount config for type \"bind\": bind source path does not "
			 "exist: %s",
			 m->source);
	else if (m->kind == KEEL_MOUNT_TMPFS && m->source)
		keel_msg(err, EINVAL,
			 "invalid mount config for type \"tmpfs\": field Source must not be "
			 "specified");
	else
		return 0;
	return OPT_FAIL;
}

int keel_runopt_mount(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	cleanup_free char *copy = strdup(v), *type = NULL;
	struct keel_mount_opt *m;
	char *save = NULL;
	int r;

	if (!copy || !(m = new_mount(o)))
		return oom_fail(err);
	for (char *f = strtok_r(copy, ",", &save); f; f = strtok_r(NULL, ",", &save))
		if ((r = mount_field(m, &type, f, err)) < 0)
			return r;
	if (!m->target) {
		keel_msg(err, EINVAL, "target is required");
		return OPT_BAD_VALUE;
	}
	if (!type || strcmp(type, "volume") == 0) {
		m->kind = KEEL_MOUNT_VOLUME;
	} else if (strcmp(type, "bind") == 0) {
		m->kind = KEEL_MOUNT_BIND;
	} else if (strcmp(type, "tmpfs") == 0) {
		m->kind = KEEL_MOUNT_TMPFS;
	} else {
		keel_msg(err, EINVAL, "invalid mount config for type \"%s\": mount type unknown",
			 type);
		return OPT_FAIL;
	}
	return mount_check(m, type ? type : "volume", err);
}

int keel_runopt_tmpfs(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	const char *colon = strchr(v, ':');
	size_t plen = colon ? (size_t)(colon - v) : strlen(v);
	struct keel_mount_opt *m;
	cleanup_free char *opts = colon ? strdup(colon + 1) : NULL;
	char *save = NULL;

	if (v[0] != '/') {
		keel_msg(err, EINVAL, "invalid mount path: '%.*s' mount path must be absolute",
			 (int)plen, v);
		return OPT_FAIL;
	}
	if ((colon && !opts) || !(m = new_mount(o)))
		return oom_fail(err);
	m->kind = KEEL_MOUNT_TMPFS;
	m->from_volume_flag = true;
	if (!(m->target = strndup(v, plen)))
		return oom_fail(err);
	for (char *t = opts ? strtok_r(opts, ",", &save) : NULL; t; t = strtok_r(NULL, ",", &save))
		if (keel_strv_push(&m->options, t) < 0)
			return oom_fail(err);
	return 0;
}

/* ---------- ulimits, devices ---------- */

int keel_runopt_ulimit(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	/* clang-format off */
	static const struct { const char *name; int res; } names[] = {
		{ "core", RLIMIT_CORE }, { "cpu", RLIMIT_CPU }, { "data", RLIMIT_DATA },
		{ "fsize", RLIMIT_FSIZE }, { "locks", RLIMIT_LOCKS }, { "memlock", RLIMIT_MEMLOCK },
		{ "msgqueue", RLIMIT_MSGQUEUE }, { "nice", RLIMIT_NICE }, { "nofile", RLIMIT_NOFILE },
		{ "nproc", RLIMIT_NPROC }, { "rss", RLIMIT_RSS }, { "rtprio", RLIMIT_RTPRIO },
		{ "rttime", RLIMIT_RTTIME }, { "sigpending", RLIMIT_SIGPENDING },
		{ "stack", RLIMIT_STACK },
	};
	/* clang-format on */
	const char *eq = strchr(v, '=');
	cleanup_free char *vals = NULL;
	struct keel_ulimit_opt *u;
	int64_t soft, hard;
	char *colon;
	size_t k;

	if (!eq) {
		keel_msg(err, EINVAL, "invalid ulimit argument: %s", v);
		return OPT_BAD_VALUE;
	}
	for (k = 0; k < sizeof(names) / sizeof(names[0]); k++)
		if (strlen(names[k].name) == (size_t)(eq - v) &&
		    strncmp(v, names[k].name, (size_t)(eq - v)) == 0)
			break;
	if (k == sizeof(names) / sizeof(names[0])) {
		keel_msg(err, EINVAL, "invalid ulimit type: %.*s", (int)(eq - v), v);
		return OPT_BAD_VALUE;
	}
	if (!(vals = strdup(eq + 1)))
		return oom_fail(err);
	if ((colon = strchr(vals, ':')))
		*colon = '\0';
	if (keel_runopt_int(vals, &soft, err) < 0 ||
	    keel_runopt_int(colon ? colon + 1 : vals, &hard, err) < 0)
		return OPT_BAD_VALUE;
	if (soft > hard) {
		keel_msg(err, EINVAL,
			 "ulimit soft limit must be less than or equal to hard limit: %lld > %lld",
			 (long long)soft, (long long)hard);
		return OPT_BAD_VALUE;
	}
	if (!(u = realloc(o->ulimits, (o->n_ulimits + 1) * sizeof(*u))))
		return oom_fail(err);
	o->ulimits = u;
	u = &o->ulimits[o->n_ulimits];
	/* A negative value is RLIM_INFINITY, as dockerd's int64 -> uint64 conversion makes it. */
	*u = (struct keel_ulimit_opt){ .name = strndup(v, (size_t)(eq - v)),
				       .resource = names[k].res,
				       .soft = (uint64_t)soft,
				       .hard = (uint64_t)hard };
	if (!u->name)
		return oom_fail(err);
	o->n_ulimits++;
	return 0;
}

static bool device_mode_ok(const char *s)
{
	if (!*s || strlen(s) > 3)
		return false;
	for (const char *p = s; *p; p++)
		if (!strchr("rwm", *p) || strchr(p + 1, *p))
			return false;
	return true;
}

int keel_runopt_device(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	cleanup_free char *copy = strdup(v);
	char *parts[3] = { 0 }, *perms = "rwm";
	struct keel_device_opt *d;
	size_t n = 0;

	if (!copy)
		return oom_fail(err);
	for (char *p = copy, *c; n < 3; p = c + 1) {
		parts[n++] = p;
		if (!(c = strchr(p, ':')))
			break;
		*c = '\0';
	}
	if (n == 3 || (n == 2 && device_mode_ok(parts[1]))) {
		perms = parts[n - 1];
		if (!device_mode_ok(perms)) {
			keel_msg(err, EINVAL, "bad mode specified: %s", perms);
			return OPT_FAIL;
		}
		parts[--n] = NULL;
	}
	if (n == 2 && parts[1][0] != '/') {
		keel_msg(err, EINVAL, "%s is not an absolute path", parts[1]);
		return OPT_FAIL;
	}
	if (!(d = realloc(o->devices, (o->n_devices + 1) * sizeof(*d))))
		return oom_fail(err);
	o->devices = d;
	d = &o->devices[o->n_devices];
	memset(d, 0, sizeof(*d));
	snprintf(d->perms, sizeof(d->perms), "%s", perms);
	d->host = strdup(parts[0]);
	d->container = strdup(n == 2 ? parts[1] : parts[0]);
	o->n_devices++;
	return d->host && d->container ? 0 : oom_fail(err);
}

/* ---------- restart, security ---------- */

int keel_runopt_restart(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	const char *colon = strchr(v, ':');
	size_t nlen = colon ? (size_t)(colon - v) : strlen(v);
	int64_t max = 0;
	size_t k;

	if (colon && keel_runopt_int(colon + 1, &max, err) < 0) {
		keel_msg(err, EINVAL,
			 "invalid restart policy format: maximum retry count must be an integer");
		return OPT_FAIL;
	}
	for (k = KEEL_RESTART_NO; k <= KEEL_RESTART_UNLESS_STOPPED; k++) {
		const char *name = keel_restart_name((enum keel_restart_mode)k);
		if (strlen(name) == nlen && strncmp(v, name, nlen) == 0)
			break;
	}
	if (nlen == 0)
		k = KEEL_RESTART_NO;
	if (k > KEEL_RESTART_UNLESS_STOPPED) {
		keel_msg(err, EINVAL, "invalid restart policy '%.*s'", (int)nlen, v);
		return OPT_FAIL;
	}
	if (colon && k != KEEL_RESTART_ON_FAILURE) {
		keel_msg(err, EINVAL, "maximum retry count cannot be used with restart policy '%s'",
			 keel_restart_name((enum keel_restart_mode)k));
		return OPT_FAIL;
	}
	if (max < 0 || max > INT32_MAX) {
		keel_msg(err, EINVAL, "invalid restart policy: maximum retry count cannot be negative");
		return OPT_FAIL;
	}
	o->restart = (enum keel_restart_mode)k;
	o->restart_max = (int)max;
	return 0;
}

static int seccomp_opt(struct keel_run_opts *o, const char *val, keel_error_t *err)
{
	if (strcmp(val, "unconfined") == 0) {
		o->seccomp_unconfined = true;
		return 0;
	}
	free(o->seccomp_profile);
	o->seccomp_profile = NULL;
	if (keel_read_file(val, &o->seccomp_profile, err) < 0) {
		char msg[128];

		/* Go's error text is lower case: "no such file or directory". */
		snprintf(msg, sizeof(msg), "%s", strerror(err->errnum));
		msg[0] = (char)tolower((unsigned char)msg[0]);
		keel_msg(err, err->errnum, "opening seccomp profile (%s) failed: open %s: %s", val,
			 val, msg);
		return OPT_FAIL;
	}
	o->seccomp_unconfined = false;
	return 0;
}

int keel_runopt_security(struct keel_run_opts *o, const char *v, keel_error_t *err)
{
	size_t klen = strcspn(v, "=:");
	const char *val = v[klen] ? v + klen + 1 : NULL;

	if (klen == 17 && strncmp(v, "no-new-privileges", klen) == 0) {
		if (!val)
			return o->no_new_privileges = true, 0;
		if (keel_runopt_bool(val, &o->no_new_privileges, err) == 0)
			return 0;
		keel_msg(err, EINVAL, "invalid --security-opt 2: \"%s\"", v);
		return OPT_FAIL;
	}
	if (!val || v[klen] != '=') {
		keel_msg(err, EINVAL, "Invalid --security-opt: \"%s\"", v);
		return OPT_FAIL;
	}
	if (klen == 7 && strncmp(v, "seccomp", 7) == 0)
		return seccomp_opt(o, val, err);
	if (klen == 11 && strncmp(v, "systempaths", 11) == 0 && strcmp(val, "unconfined") == 0)
		return o->systempaths_unconfined = true, 0;
	/* keel applies neither AppArmor nor SELinux; only the settings that ask for nothing
	 * are accepted, anything else would be a silent loss of confinement. */
	if (klen == 8 && strncmp(v, "apparmor", 8) == 0) {
		if (strcmp(val, "unconfined") == 0)
			return 0;
		keel_msg(err, ENOTSUP,
			 "--security-opt %s: keel does not apply AppArmor profiles "
			 "(only apparmor=unconfined is accepted)",
			 v);
		return OPT_FAIL;
	}
	if (klen == 5 && strncmp(v, "label", 5) == 0) {
		if (strcmp(val, "disable") == 0)
			return 0;
		keel_msg(err, ENOTSUP,
			 "--security-opt %s: keel does not apply SELinux labels "
			 "(only label=disable is accepted)",
			 v);
		return OPT_FAIL;
	}
	keel_msg(err, EINVAL, "Invalid --security-opt: \"%s\"", v);
	return OPT_FAIL;
}

/* ---------- cross-flag checks ---------- */

static int check_memory(const struct keel_run_opts *o, keel_error_t *err)
{
	if (o->memory > 0 && o->memory < 6 * 1024 * 1024)
		return keel_msg(err, EINVAL, "Minimum memory limit allowed is 6MB");
	if (o->memory_swap > 0 && o->memory == 0)
		return keel_msg(err, EINVAL,
				"You should always set the Memory limit when using Memoryswap "
				"limit, see usage");
	if (o->memory_swap > 0 && o->memory_swap < o->memory)
		return keel_msg(err, EINVAL,
				"Minimum memoryswap limit should be larger than memory limit, see "
				"usage");
	if (o->memory > 0 && o->memory_reservation > 0 && o->memory < o->memory_reservation)
		return keel_msg(err, EINVAL,
				"Minimum memory limit can not be less than memory reservation "
				"limit, see usage");
	return 0;
}

/* docker CLI's parseLoggingOpts, then dockerd's log option validation. */
static int check_logging(const struct keel_run_opts *o, keel_error_t *err)
{
	cleanup_json json_t *lc = NULL;
	if (o->log_driver && strcmp(o->log_driver, "none") == 0 && o->log_opts)
		return keel_msg(err, EINVAL, "invalid logging opts for driver none");
	if (!o->log_driver && !o->log_opts)
		return 0;
	if (!(lc = keel_logconfig_json(o->log_driver, o->log_opts)))
		return keel_msg(err, ENOMEM, "out of memory");
	return keel_logconfig_check(o->log_driver, json_object_get(lc, "Config"), err);
}

int keel_runopts_validate(const struct keel_run_opts *o, keel_error_t *err)
{
	if (check_logging(o, err) < 0)
		return -1;
	if (check_memory(o, err) < 0)
		return -1;
	if (o->nano_cpus && o->cpu_period)
		return keel_msg(err, EINVAL,
				"Conflicting options: Nano CPUs and CPU Period cannot both be set");
	if (o->nano_cpus && o->cpu_quota)
		return keel_msg(err, EINVAL,
				"Conflicting options: Nano CPUs and CPU Quota cannot both be set");
	if (o->cpu_shares < 0)
		return keel_msg(err, EINVAL, "shares: invalid argument");
	if (o->cpu_shares == 1)
		return keel_msg(err, EINVAL, "the minimum allowed cpu-shares is 2");
	if (o->cpu_shares > 262144)
		return keel_msg(err, EINVAL, "the maximum allowed cpu-shares is 262144");
	if (o->rm && o->restart != KEEL_RESTART_NO)
		return keel_msg(err, EINVAL,
				"conflicting options: cannot specify both --restart and --rm");
	if (o->workdir && o->workdir[0] != '/')
		return keel_msg(err, EINVAL,
				"the working directory '%s' is invalid, it needs to be an absolute "
				"path",
				o->workdir);
	for (size_t k = 0; o->network == KEEL_NETWORK_HOST && o->sysctls && o->sysctls[k]; k++)
		if (strncmp(o->sysctls[k], "net.", 4) == 0)
			return keel_msg(err, EINVAL,
					"sysctl \"%.*s\" not allowed in host network namespace",
					(int)strcspn(o->sysctls[k], "="), o->sysctls[k]);
	return 0;
}
