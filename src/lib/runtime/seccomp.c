/* linux.seccomp -> a libseccomp filter, with runc's semantics:
 *  - syscall names neither libseccomp nor the kernel know are skipped, so one profile works
 *    across kernels and architectures;
 *  - a rule whose action equals the default action is skipped (libseccomp refuses it);
 *  - several comparisons on the same argument become one rule each (OR), since a single
 *    libseccomp rule ANDs its comparisons and refuses two on one argument.
 *
 * libseccomp functions return -errno; we pass that to keel_err as a positive errno. */
#include "runtime/seccomp.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include <limits.h>
#include <linux/seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "util/cleanup.h"
#include "util/fs.h"

/* OCI "flags" -> libseccomp filter attributes, each set to 1 (0: nothing to set). */
static const struct {
	const char *name;
	enum scmp_filter_attr attr;
} flag_table[] = {
    {"SECCOMP_FILTER_FLAG_TSYNC", SCMP_FLTATR_CTL_TSYNC},
    {"SECCOMP_FILTER_FLAG_LOG", SCMP_FLTATR_CTL_LOG},
    {"SECCOMP_FILTER_FLAG_SPEC_ALLOW", SCMP_FLTATR_CTL_SSB},
    /* Only changes how a notify listener's waits end; listeners are refused, so it has
     * no effect (and libseccomp 2.5 has no attribute for it). */
    {"SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV", 0},
};

/* The seccomp(2) argument limit: BPF sees six syscall arguments. */
#define SECCOMP_MAX_ARGS 6

/* For refusals of what the spec asks: the message says it all, strerror would only add
 * noise, but callers still get an errno. */
static int refuse(keel_error_t *err, int errnum, const char *what, const char *arg)
{
	if (arg)
		keel_err(err, 0, "%s \"%s\"", what, arg);
	else
		keel_err(err, 0, "%s", what);
	if (err)
		err->errnum = errnum;
	return -1;
}

static void seccomp_releasep(scmp_filter_ctx *ctx)
{
	if (*ctx)
		seccomp_release(*ctx);
}
#define cleanup_seccomp __attribute__((cleanup(seccomp_releasep)))

/* ERRNO and TRACE carry their return value in the low 16 bits. The spec parser already
 * folds errnoRet in; doing it again here is idempotent and keeps hand-built specs honest. */
static uint32_t fold_errno(uint32_t action, bool has_ret, unsigned ret)
{
	uint32_t kind = action & 0xffff0000U;

	if (!has_ret)
		return action;
	if (kind == SCMP_ACT_ERRNO(0))
		return SCMP_ACT_ERRNO(ret);
	if (kind == SCMP_ACT_TRACE(0))
		return SCMP_ACT_TRACE(ret);
	return action;
}

static int set_attrs(scmp_filter_ctx ctx, char **flags, keel_error_t *err)
{
	int rc;

	/* keel sets no_new_privs itself when process.noNewPrivileges says so; libseccomp must
	 * not force it on every container. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_CTL_NNP, 0);
	if (rc < 0)
		return keel_err(err, -rc, "seccomp: clearing the no_new_privs attribute");
	/* Report the kernel's own errno from seccomp_load instead of libseccomp's ECANCELED. */
	rc = seccomp_attr_set(ctx, SCMP_FLTATR_API_SYSRAWRC, 1);
	if (rc < 0)
		return keel_err(err, -rc, "seccomp: enabling raw error codes");

	for (size_t i = 0; flags && flags[i]; i++) {
		size_t j = 0;

		while (j < sizeof(flag_table) / sizeof(flag_table[0]) &&
		       strcmp(flags[i], flag_table[j].name) != 0)
			j++;
		if (j == sizeof(flag_table) / sizeof(flag_table[0]))
			return refuse(err, EINVAL, "seccomp: unsupported flag", flags[i]);
		rc = flag_table[j].attr ? seccomp_attr_set(ctx, flag_table[j].attr, 1) : 0;
		if (rc < 0)
			return keel_err(err, -rc, "seccomp: setting flag %s", flags[i]);
	}
	return 0;
}

static int add_arches(scmp_filter_ctx ctx, const struct keel_spec_seccomp *s, keel_error_t *err)
{
	for (size_t i = 0; i < s->n_architectures; i++) {
		int rc = seccomp_arch_add(ctx, s->architectures[i]);

		/* The native architecture is in every new filter already. */
		if (rc < 0 && rc != -EEXIST)
			return keel_err(err, -rc, "seccomp: adding architecture 0x%x",
					s->architectures[i]);
	}
	return 0;
}

static void to_cmp(const struct keel_spec_syscall_arg *a, struct scmp_arg_cmp *c)
{
	c->arg = a->index;
	c->op = (enum scmp_compare)a->op;
	c->datum_a = a->value;
	/* Only MASKED_EQ reads a second operand (value & datum_a == datum_b). */
	c->datum_b = a->op == SCMP_CMP_MASKED_EQ ? a->value_two : 0;
}

static bool same_arg_twice(const struct keel_spec_syscall *sc)
{
	unsigned seen = 0;

	for (size_t i = 0; i < sc->n_args; i++) {
		if (seen & (1U << sc->args[i].index))
			return true;
		seen |= 1U << sc->args[i].index;
	}
	return false;
}

/* One syscall number with the rule's comparisons. */
static int add_rule(scmp_filter_ctx ctx, const struct keel_spec_syscall *sc, uint32_t action,
		    int nr, const char *name, keel_error_t *err)
{
	struct scmp_arg_cmp cmps[SECCOMP_MAX_ARGS];
	int rc;

	if (sc->n_args > SECCOMP_MAX_ARGS)
		return keel_err(err, EINVAL, "seccomp: %s: more than %d argument comparisons", name,
				SECCOMP_MAX_ARGS);
	for (size_t i = 0; i < sc->n_args; i++) {
		if (sc->args[i].index >= SECCOMP_MAX_ARGS)
			return keel_err(err, EINVAL, "seccomp: %s: argument index %u out of range",
					name, sc->args[i].index);
		to_cmp(&sc->args[i], &cmps[i]);
	}

	if (!same_arg_twice(sc)) {
		rc = seccomp_rule_add_array(ctx, action, nr, (unsigned)sc->n_args,
					    sc->n_args ? cmps : NULL);
	} else {
		rc = 0;
		for (size_t i = 0; i < sc->n_args && rc >= 0; i++)
			rc = seccomp_rule_add_array(ctx, action, nr, 1, &cmps[i]);
	}
	if (rc < 0)
		return keel_err(err, -rc, "seccomp: adding a rule for %s", name);
	return 0;
}

static int add_syscalls(scmp_filter_ctx ctx, const struct keel_spec_seccomp *s,
			uint32_t default_action, keel_error_t *err)
{
	for (size_t i = 0; i < s->n_syscalls; i++) {
		const struct keel_spec_syscall *sc = &s->syscalls[i];
		uint32_t action = fold_errno(sc->action, sc->has_errno_ret, sc->errno_ret);

		if (action == default_action)
			continue;
		/* Without a listener nobody would answer: the syscalls would fail oddly. */
		if (action == SCMP_ACT_NOTIFY)
			return refuse(err, ENOTSUP,
				      "seccomp notify (SCMP_ACT_NOTIFY) is not supported", NULL);
		for (char **name = sc->names; name && *name; name++) {
			/* Pseudo-syscalls (negative numbers other than __NR_SCMP_ERROR) are
			 * legitimate: libseccomp maps them per architecture. */
			int nr = seccomp_syscall_resolve_name(*name);

			if (nr == __NR_SCMP_ERROR)
				continue;
			if (add_rule(ctx, sc, action, nr, *name, err) < 0)
				return -1;
		}
	}
	return 0;
}

scmp_filter_ctx keel_seccomp_build(const struct keel_spec_seccomp *s, keel_error_t *err)
{
	cleanup_seccomp scmp_filter_ctx ctx = NULL;
	uint32_t default_action;

	if (s->listener_path) {
		refuse(err, ENOTSUP, "seccomp notify (listenerPath) is not supported", NULL);
		return NULL;
	}
	default_action =
	    fold_errno(s->default_action, s->has_default_errno_ret, s->default_errno_ret);
	if (default_action == SCMP_ACT_NOTIFY) {
		refuse(err, ENOTSUP, "seccomp notify (SCMP_ACT_NOTIFY) is not supported", NULL);
		return NULL;
	}
	ctx = seccomp_init(default_action);
	if (!ctx) {
		keel_err(err, EINVAL, "seccomp: invalid default action 0x%x", default_action);
		return NULL;
	}
	if (set_attrs(ctx, s->flags, err) < 0 || add_arches(ctx, s, err) < 0 ||
	    add_syscalls(ctx, s, default_action, err) < 0)
		return NULL;
	return steal_pointer(&ctx);
}

int keel_seccomp_load(scmp_filter_ctx ctx, keel_error_t *err)
{
	int rc = seccomp_load(ctx);

	seccomp_release(ctx);
	if (rc < 0)
		return keel_err(err, -rc, "loading the seccomp filter");
	return 0;
}

/* ---------- compiled programs and their cache ---------- */

#define BPF_MAGIC "KEELBPF2"

/* The file: header, the key it was compiled for, the instructions. The name is a 64-bit
 * FNV-1a of the key; the key itself is compared on read, so a name collision is only a cache
 * miss. (No cryptographic hash needed: the runtime stays free of libcrypto, whose loading
 * would cost every container start.) */
struct bpf_header {
	char magic[8];
	uint32_t flags;
	uint32_t len;     /* instructions */
	uint32_t key_len; /* bytes of key text following the header */
};

static unsigned int kernel_flags(const struct keel_spec_seccomp *s)
{
	unsigned int flags = 0;
	for (char **f = s->flags; f && *f; f++) {
		if (strcmp(*f, "SECCOMP_FILTER_FLAG_TSYNC") == 0)
			flags |= SECCOMP_FILTER_FLAG_TSYNC;
		else if (strcmp(*f, "SECCOMP_FILTER_FLAG_LOG") == 0)
			flags |= SECCOMP_FILTER_FLAG_LOG;
		else if (strcmp(*f, "SECCOMP_FILTER_FLAG_SPEC_ALLOW") == 0)
			flags |= SECCOMP_FILTER_FLAG_SPEC_ALLOW;
	}
	return flags;
}

/* Exports ctx's BPF through a memfd (libseccomp 2.5 can only write to an fd). */
static int export_bpf(scmp_filter_ctx ctx, struct keel_seccomp_prog *out, keel_error_t *err)
{
	cleanup_close int fd = memfd_create("keel-seccomp", MFD_CLOEXEC);
	off_t size;
	int rc;
	if (fd < 0)
		return keel_err_sys(err, "memfd_create");
	rc = seccomp_export_bpf(ctx, fd);
	if (rc < 0)
		return keel_err(err, -rc, "seccomp: exporting the filter");
	size = lseek(fd, 0, SEEK_END);
	if (size <= 0 || size % (off_t)sizeof(struct sock_filter) ||
	    size / (off_t)sizeof(struct sock_filter) > BPF_MAXINSNS)
		return keel_err(err, EINVAL, "seccomp: the filter has %lld bytes", (long long)size);
	out->insns = malloc((size_t)size);
	if (!out->insns)
		return keel_err(err, ENOMEM, "seccomp filter");
	if (pread(fd, out->insns, (size_t)size, 0) != size) {
		free(out->insns);
		out->insns = NULL;
		return keel_err_sys(err, "seccomp: reading the filter");
	}
	out->len = (unsigned short)(size / (off_t)sizeof(struct sock_filter));
	return 0;
}

/* The key the program depends on: the profile, libseccomp's version, the kernel's API level. */
static char *full_key(const char *key_text)
{
	const struct scmp_version *v = seccomp_version();
	char *k = NULL;
	if (asprintf(&k, "%s|libseccomp %u.%u.%u|api %u", key_text, v->major, v->minor, v->micro,
		     seccomp_api_get()) < 0)
		return NULL;
	return k;
}

static void cache_path(const char *dir, const char *key, char *buf, size_t len)
{
	uint64_t h = 0xcbf29ce484222325ULL;
	for (const unsigned char *p = (const unsigned char *)key; *p; p++)
		h = (h ^ *p) * 0x100000001b3ULL;
	snprintf(buf, len, "%s/%016llx.bpf", dir, (unsigned long long)h);
}

static int cache_read(const char *path, const char *key, struct keel_seccomp_prog *out)
{
	cleanup_free char *data = NULL;
	struct bpf_header h;
	size_t klen = strlen(key);
	ssize_t n = keel_read_file(path, &data, NULL);
	if (n < (ssize_t)sizeof(h))
		return -1;
	memcpy(&h, data, sizeof(h));
	if (memcmp(h.magic, BPF_MAGIC, 8) != 0 || h.len == 0 || h.len > BPF_MAXINSNS ||
	    h.key_len != klen ||
	    (size_t)n != sizeof(h) + klen + h.len * sizeof(struct sock_filter) ||
	    memcmp(data + sizeof(h), key, klen) != 0)
		return -1;
	out->insns = malloc(h.len * sizeof(struct sock_filter));
	if (!out->insns)
		return -1;
	memcpy(out->insns, data + sizeof(h) + klen, h.len * sizeof(struct sock_filter));
	out->len = (unsigned short)h.len;
	out->flags = h.flags;
	return 0;
}

static void cache_write(const char *dir, const char *path, const char *key,
			const struct keel_seccomp_prog *p)
{
	size_t klen = strlen(key);
	struct bpf_header h = {.flags = p->flags, .len = p->len, .key_len = (uint32_t)klen};
	size_t size = sizeof(h) + klen + p->len * sizeof(struct sock_filter);
	cleanup_free char *buf = malloc(size);
	if (!buf || keel_mkdir_p(dir, 0700, NULL) < 0)
		return;
	memcpy(h.magic, BPF_MAGIC, 8);
	memcpy(buf, &h, sizeof(h));
	memcpy(buf + sizeof(h), key, klen);
	memcpy(buf + sizeof(h) + klen, p->insns, p->len * sizeof(struct sock_filter));
	/* A cache miss only costs time: failures to write are ignored. */
	keel_write_file_atomic(path, buf, size, 0600, NULL);
}

int keel_seccomp_compile(const struct keel_spec_seccomp *s, const char *key_text,
			 const char *cache_dir, struct keel_seccomp_prog *out, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *key = cache_dir && key_text ? full_key(key_text) : NULL;
	scmp_filter_ctx ctx;
	int r;

	memset(out, 0, sizeof(*out));
	if (key) {
		cache_path(cache_dir, key, path, sizeof(path));
		if (cache_read(path, key, out) == 0)
			return 0;
	}
	ctx = keel_seccomp_build(s, err);
	if (!ctx)
		return -1;
	r = export_bpf(ctx, out, err);
	seccomp_release(ctx);
	if (r < 0)
		return -1;
	out->flags = kernel_flags(s);
	if (key)
		cache_write(cache_dir, path, key, out);
	return 0;
}

int keel_seccomp_prog_load(const struct keel_seccomp_prog *p, keel_error_t *err)
{
	struct sock_fprog prog = {.len = p->len, .filter = p->insns};
	if (syscall(SYS_seccomp, SECCOMP_SET_MODE_FILTER, p->flags, &prog) < 0)
		return keel_err_sys(err, "loading the seccomp filter");
	return 0;
}

void keel_seccomp_prog_free(struct keel_seccomp_prog *p)
{
	if (!p)
		return;
	free(p->insns);
	p->insns = NULL;
	p->len = 0;
}
