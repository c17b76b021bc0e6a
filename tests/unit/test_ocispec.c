/* keel_ocispec_generate: the config.json for image configs and run options, checked field by
 * field against what dockerd 20.10 writes, parsed back with keel_spec_parse, and (as root,
 * with busybox-static) run end to end under keel-runtime with Docker-like visible results.
 * The end-to-end test finds keel-runtime in $KEEL_RUNTIME or ../../build/keel-runtime. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <fcntl.h>
#include <linux/capability.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ocispec.h"
#include "runtime/spec.h"
#include "util/fs.h"

#define ID "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"

static char rootfs[64];
static char e2e_bundle[64]; /* the end-to-end bundle, removed by teardown even after a failure */

static void write_in(const char *rel, const char *text)
{
	char p[256];
	keel_error_t err;

	snprintf(p, sizeof(p), "%s/%s", rootfs, rel);
	if (keel_write_file(p, text, strlen(text), 0644, &err) < 0)
		fail_msg("%s", err.msg);
}

static int setup_rootfs(void **state)
{
	char p[256];

	(void)state;
	snprintf(rootfs, sizeof(rootfs), "/tmp/keel-ocispec-XXXXXX");
	if (!mkdtemp(rootfs))
		return -1;
	snprintf(p, sizeof(p), "%s/etc", rootfs);
	mkdir(p, 0755);
	/* /etc/passwd is an absolute symlink: it must resolve inside the rootfs. */
	write_in("etc/real-passwd", "root:x:0:0:root:/root:/bin/sh\n"
				    "user:x:1000:1000:user:/home:/bin/sh\n"
				    "nobody:x:65534:65534::/:/bin/false\n");
	snprintf(p, sizeof(p), "%s/etc/passwd", rootfs);
	if (symlink("/etc/real-passwd", p) < 0)
		return -1;
	write_in("etc/group", "root:x:0:\nwheel:x:10:user,other\nuser:x:1000:\n"
			      "audio:x:29:user\nnogroup:x:65534:\n");
	return 0;
}

static int teardown_rootfs(void **state)
{
	keel_error_t err;

	(void)state;
	if (e2e_bundle[0])
		keel_rm_rf(e2e_bundle, &err);
	return keel_rm_rf(rootfs, &err);
}

/* Parses a command line into o (after "run"), failing the test on error. */
static void opts(struct keel_run_opts *o, const char *line)
{
	char *copy = strdup(line), *save = NULL, *argv[64];
	int argc = 0, i = 0;
	keel_error_t err = { 0 };

	for (char *t = strtok_r(copy, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	memset(o, 0, sizeof(*o));
	if (keel_runopts_parse(argc, argv, &i, o, &err) < 0)
		fail_msg("%s: %s", line, err.msg);
	if (i < argc && keel_runopts_set_cmd(o, argc - i - 1, argv + i + 1, &err) < 0)
		fail_msg("%s", err.msg);
	free(copy);
}

static const char *image_json =
	"{\"architecture\":\"amd64\",\"config\":{\"Env\":[\"PATH=/img/bin:/bin\",\"FOO=image\","
	"\"KEEP=1\"],\"Entrypoint\":[\"/entry\"],\"Cmd\":[\"a\",\"b\"],\"WorkingDir\":\"/srv\","
	"\"User\":\"user\"}}";

/* Generates from image_json (or `image`) and line; checks it parses as an OCI spec. */
static json_t *gen(const char *image, const char *line, struct keel_spec **spec)
{
	struct keel_run_opts o;
	keel_error_t err = { 0 };
	json_t *img = json_loads(image ? image : image_json, 0, NULL);
	json_t *cfg;
	char *text;

	opts(&o, line);
	cfg = keel_ocispec_generate(img, &o, ID, rootfs, &err);
	json_decref(img);
	keel_runopts_free(&o);
	if (!cfg)
		fail_msg("%s: %s", line, err.msg);
	text = json_dumps(cfg, 0);
	*spec = keel_spec_parse(text, strlen(text), "config.json", &err);
	free(text);
	if (!*spec)
		fail_msg("%s: generated spec does not parse: %s", line, err.msg);
	return cfg;
}

static const char *gen_error(const char *image, const char *line)
{
	static keel_error_t err;
	struct keel_run_opts o;
	json_t *img = json_loads(image ? image : image_json, 0, NULL);
	json_t *cfg;

	opts(&o, line);
	memset(&err, 0, sizeof(err));
	cfg = keel_ocispec_generate(img, &o, ID, rootfs, &err);
	json_decref(img);
	keel_runopts_free(&o);
	if (cfg)
		fail_msg("%s: generated, expected an error", line);
	return err.msg;
}

#define BIT(c) (UINT64_C(1) << (c))

static bool has_mount(const struct keel_spec *s, const char *dst, const char *opt)
{
	for (size_t k = 0; k < s->n_mounts; k++) {
		if (strcmp(s->mounts[k].destination, dst) != 0)
			continue;
		for (char **o = s->mounts[k].options; opt && o && *o; o++)
			if (strcmp(*o, opt) == 0)
				return true;
		return !opt;
	}
	return false;
}

static void test_defaults(void **state)
{
	struct keel_spec *s;
	json_t *cfg = gen(NULL, "img", &s);
	const struct keel_spec_process *p = s->process;

	(void)state;
	assert_string_equal(p->args[0], "/entry");
	assert_string_equal(p->args[1], "a");
	assert_string_equal(p->args[2], "b");
	assert_null(p->args[3]);
	assert_string_equal(p->env[0], "PATH=/img/bin:/bin");
	assert_string_equal(p->env[1], "HOSTNAME=0123456789ab");
	assert_string_equal(p->env[2], "FOO=image");
	assert_string_equal(p->env[3], "KEEP=1");
	assert_string_equal(p->cwd, "/srv");
	assert_false(p->terminal);
	/* image User "user": uid/gid 1000 from the symlinked passwd, memberships from group */
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->gid, 1000);
	assert_int_equal(p->n_additional_gids, 3);
	assert_int_equal(p->additional_gids[0], 1000);
	assert_int_equal(p->additional_gids[1], 10);
	assert_int_equal(p->additional_gids[2], 29);
	/* non-root: bounding only, as dockerd 20.10 */
	assert_int_equal(p->caps.bounding, keel_ocispec_default_caps());
	assert_int_equal(p->caps.effective, 0);
	assert_string_equal(s->hostname, "0123456789ab");
	assert_string_equal(s->linux.cgroups_path, "/keel/" ID);
	assert_int_equal(s->n_mounts, 7);
	assert_true(has_mount(s, "/sys", "ro"));
	assert_true(has_mount(s, "/sys/fs/cgroup", "ro"));
	assert_true(has_mount(s, "/dev/shm", "size=67108864"));
	assert_int_equal(s->linux.n_namespaces, 5);
	assert_non_null(keel_spec_namespace(s, KEEL_NS_NET));
	assert_null(keel_spec_namespace(s, KEEL_NS_USER));
	assert_string_equal(s->linux.masked_paths[2], "/proc/kcore");
	assert_null(s->linux.masked_paths[10]);
	assert_string_equal(s->linux.readonly_paths[3], "/proc/sys");
	assert_non_null(s->linux.seccomp);
	assert_int_equal(s->linux.seccomp->n_architectures, 3);
	assert_int_equal(s->linux.resources->n_devices, 8);
	assert_false(s->linux.resources->devices[0].allow);
	assert_false(s->root_readonly);
	assert_string_equal(json_string_value(json_object_get(cfg, "ociVersion")), "1.0.2-dev");
	keel_spec_free(s);
	json_decref(cfg);
}

static void test_user_forms(void **state)
{
	struct keel_spec *s;
	json_t *cfg;

	(void)state;
	cfg = gen(NULL, "-u 0 img", &s);
	assert_int_equal(s->process->uid, 0);
	assert_int_equal(s->process->gid, 0);
	assert_int_equal(s->process->n_additional_gids, 1);
	assert_int_equal(s->process->caps.effective, keel_ocispec_default_caps());
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "-u 1000:wheel --group-add audio --group-add 4242 img", &s);
	assert_int_equal(s->process->uid, 1000);
	assert_int_equal(s->process->gid, 10);
	/* explicit group: no memberships, then --group-add */
	assert_int_equal(s->process->n_additional_gids, 3);
	assert_int_equal(s->process->additional_gids[0], 10);
	assert_int_equal(s->process->additional_gids[1], 29);
	assert_int_equal(s->process->additional_gids[2], 4242);
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "-u 4321 img", &s); /* numeric, not in passwd: gid 0 */
	assert_int_equal(s->process->uid, 4321);
	assert_int_equal(s->process->gid, 0);
	keel_spec_free(s), json_decref(cfg);

	assert_string_equal(gen_error(NULL, "-u ghost img"),
			    "unable to find user ghost: no matching entries in passwd file");
	assert_string_equal(gen_error(NULL, "-u user:ghosts img"),
			    "unable to find group ghosts: no matching entries in group file");
	assert_string_equal(gen_error(NULL, "--group-add ghosts img"),
			    "Unable to find group ghosts: no matching entries in group file");
}

static void test_args_env(void **state)
{
	struct keel_spec *s;
	json_t *cfg;

	(void)state;
	cfg = gen(NULL, "--entrypoint /bin/env -t -w /tmp -e PATH=/x -e FOO -e NEW=1 img c d", &s);
	assert_string_equal(s->process->args[0], "/bin/env");
	assert_string_equal(s->process->args[1], "c");
	assert_null(s->process->args[3]);
	assert_string_equal(s->process->env[0], "PATH=/x");
	assert_string_equal(s->process->env[1], "HOSTNAME=0123456789ab");
	assert_string_equal(s->process->env[2], "TERM=xterm");
	assert_string_equal(s->process->env[3], "KEEP=1"); /* FOO removed (unset in our env) */
	assert_string_equal(s->process->env[4], "NEW=1");
	assert_null(s->process->env[5]);
	assert_string_equal(s->process->cwd, "/tmp");
	assert_true(s->process->terminal);
	keel_spec_free(s), json_decref(cfg);

	/* --entrypoint drops the image CMD; arguments replace CMD */
	cfg = gen(NULL, "--entrypoint /bin/sh img", &s);
	assert_null(s->process->args[1]);
	keel_spec_free(s), json_decref(cfg);
	cfg = gen("{\"config\":{\"Cmd\":[\"sh\"]}}", "--init -h box img echo hi", &s);
	assert_string_equal(s->process->args[0], "/sbin/docker-init");
	assert_string_equal(s->process->args[1], "--");
	assert_string_equal(s->process->args[2], "echo");
	assert_true(has_mount(s, "/sbin/docker-init", "ro"));
	assert_string_equal(s->hostname, "box");
	assert_string_equal(s->process->env[0],
			    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
	assert_string_equal(s->process->env[1], "HOSTNAME=box");
	assert_string_equal(s->process->cwd, "/");
	keel_spec_free(s), json_decref(cfg);

	assert_string_equal(gen_error("{\"config\":{\"Cmd\":[\"sh\"]}}", "--entrypoint= img"),
			    "No command specified");
	assert_string_equal(gen_error("{}", "img"), "No command specified");
}

static bool rule_allows(const struct keel_spec_seccomp *sc, const char *name, bool with_args)
{
	for (size_t k = 0; k < sc->n_syscalls; k++)
		for (char **n = sc->syscalls[k].names; *n; n++)
			if (strcmp(*n, name) == 0 && sc->syscalls[k].action == SCMP_ACT_ALLOW &&
			    (sc->syscalls[k].n_args > 0) == with_args)
				return true;
	return false;
}

static void test_caps_seccomp(void **state)
{
	struct keel_spec *s;
	json_t *cfg;

	(void)state;
	cfg = gen(NULL, "-u root img", &s);
	assert_true(rule_allows(s->linux.seccomp, "read", false));
	assert_false(rule_allows(s->linux.seccomp, "mount", false));
	assert_false(rule_allows(s->linux.seccomp, "unshare", false));
	assert_true(rule_allows(s->linux.seccomp, "clone", true));
	assert_true(rule_allows(s->linux.seccomp, "chroot", false));
	assert_true(rule_allows(s->linux.seccomp, "personality", true));
	assert_int_equal(s->linux.seccomp->default_action, SCMP_ACT_ERRNO(EPERM));
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "-u root --cap-add sys_admin --cap-drop SYS_CHROOT img", &s);
	assert_int_equal(s->process->caps.effective,
			 (keel_ocispec_default_caps() | BIT(CAP_SYS_ADMIN)) & ~BIT(CAP_SYS_CHROOT));
	assert_true(rule_allows(s->linux.seccomp, "mount", false));
	assert_true(rule_allows(s->linux.seccomp, "clone", false));
	assert_false(rule_allows(s->linux.seccomp, "clone", true));
	assert_false(rule_allows(s->linux.seccomp, "chroot", false));
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "-u root --cap-drop ALL --cap-add NET_ADMIN img", &s);
	assert_int_equal(s->process->caps.bounding, BIT(CAP_NET_ADMIN));
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "--security-opt seccomp=unconfined --security-opt no-new-privileges img",
		  &s);
	assert_null(s->linux.seccomp);
	assert_true(s->process->no_new_privileges);
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "-u root --privileged img", &s);
	assert_null(s->linux.seccomp);
	assert_null(s->linux.masked_paths);
	assert_null(s->linux.readonly_paths);
	assert_true(has_mount(s, "/sys", "rw"));
	assert_true(s->process->caps.effective & BIT(CAP_SYS_ADMIN));
	assert_true(s->linux.resources->devices[0].allow);
	assert_true(s->linux.n_devices > 0);
	keel_spec_free(s), json_decref(cfg);
}

static void test_resources_mounts(void **state)
{
	struct keel_spec *s;
	json_t *cfg, *tmpfs;
	char *dump;

	(void)state;
	cfg = gen(NULL,
		  "--read-only -m 64m --memory-reservation 32m --cpus 1.5 -c 512 --cpuset-cpus 0 "
		  "--pids-limit 100 --ulimit nofile=1024:2048 --shm-size 128m --oom-score-adj 100 "
		  "--sysctl net.core.somaxconn=100 -v /tmp:/mnt:ro -v /tmp:/a/b --tmpfs /run "
		  "--tmpfs /x:size=1m,noexec --device /dev/null:/dev/mynull:r -l a=b img",
		  &s);
	assert_true(s->root_readonly);
	assert_int_equal(s->linux.resources->memory_limit, 64 << 20);
	assert_int_equal(s->linux.resources->memory_swap, 128 << 20);
	assert_int_equal(s->linux.resources->memory_reservation, 32 << 20);
	assert_int_equal(s->linux.resources->cpu_quota, 150000);
	assert_int_equal(s->linux.resources->cpu_period, 100000);
	assert_int_equal(s->linux.resources->cpu_shares, 512);
	assert_string_equal(s->linux.resources->cpu_cpus, "0");
	assert_int_equal(s->linux.resources->pids_limit, 100);
	assert_int_equal(s->process->n_rlimits, 1);
	assert_int_equal(s->process->rlimits[0].soft, 1024);
	assert_int_equal(s->process->rlimits[0].hard, 2048);
	assert_int_equal(s->process->oom_score_adj, 100);
	assert_true(has_mount(s, "/dev/shm", "size=134217728"));
	assert_true(has_mount(s, "/mnt", "ro"));
	assert_true(has_mount(s, "/mnt", "rprivate"));
	assert_true(has_mount(s, "/a/b", "rbind"));
	assert_true(has_mount(s, "/run", "noexec"));
	assert_int_equal(s->linux.n_devices, 1);
	assert_string_equal(s->linux.devices[0].path, "/dev/mynull");
	assert_int_equal(s->linux.resources->n_devices, 9);
	assert_string_equal(s->linux.resources->devices[8].access, "r");
	assert_string_equal(json_string_value(json_object_get(json_object_get(cfg, "annotations"),
							      "a")),
			    "b");
	/* dockerd's MergeTmpfsOptions order for --tmpfs /x:size=1m,noexec */
	tmpfs = json_object_get(json_array_get(json_object_get(cfg, "mounts"), 10), "options");
	dump = json_dumps(tmpfs, JSON_COMPACT);
	assert_string_equal(dump, "[\"nosuid\",\"nodev\",\"rprivate\",\"size=1m\",\"noexec\"]");
	free(dump);
	dump = json_dumps(json_object_get(json_object_get(cfg, "linux"), "sysctl"), JSON_COMPACT |
										     JSON_SORT_KEYS);
	assert_string_equal(dump, "{\"net.core.somaxconn\":\"100\",\"net.ipv4.ip_unprivileged_"
				  "port_start\":\"0\",\"net.ipv4.ping_group_range\":\"0 2147483647\"}");
	free(dump);
	keel_spec_free(s), json_decref(cfg);

	cfg = gen(NULL, "--network host --tmpfs /dev/shm img", &s);
	assert_null(keel_spec_namespace(s, KEEL_NS_NET));
	assert_null(s->linux.sysctl);
	assert_true(has_mount(s, "/dev/shm", "rprivate")); /* the user's replaces the default */
	keel_spec_free(s), json_decref(cfg);

	assert_string_equal(gen_error(NULL, "-v vol:/data img"),
			    "volumes are not available yet (mount on /data): use a bind mount "
			    "(-v /host/path:/data)");
}

/* ---------- end to end under keel-runtime ---------- */

static const char *runtime_path(void)
{
	const char *p = getenv("KEEL_RUNTIME");

	return p ? p : "../../build/keel-runtime";
}

/* Runs `sh -c script` from the busybox bundle with the given flags; returns its output. */
static char *run_in_bundle(const char *bundle, const char *flags, const char *script)
{
	struct keel_run_opts o;
	keel_error_t err = { 0 };
	char rfs[512], cfgpath[512], cmd[2048], state_root[] = "/tmp/keel-ocispec-state-XXXXXX";
	char *argv[] = { "/bin/sh", "-c", (char *)script };
	json_t *cfg;
	FILE *f;
	char *out = calloc(1, 65536);
	size_t n;

	snprintf(rfs, sizeof(rfs), "%s/rootfs", bundle);
	opts(&o, flags);
	assert_int_equal(keel_runopts_set_cmd(&o, 3, argv, &err), 0);
	cfg = keel_ocispec_generate(NULL, &o, ID, rfs, &err);
	keel_runopts_free(&o);
	if (!cfg)
		fail_msg("%s", err.msg);
	snprintf(cfgpath, sizeof(cfgpath), "%s/config.json", bundle);
	assert_int_equal(json_dump_file(cfg, cfgpath, JSON_INDENT(1)), 0);
	json_decref(cfg);
	assert_non_null(mkdtemp(state_root));
	snprintf(cmd, sizeof(cmd), "%s --root %s run -b %s keel-ocispec-%d 2>&1 </dev/null",
		 runtime_path(), state_root, bundle, (int)getpid());
	f = popen(cmd, "r");
	assert_non_null(f);
	n = fread(out, 1, 65535, f);
	out[n] = '\0';
	pclose(f);
	keel_rm_rf(state_root, &err);
	return out;
}

static void expect_in(const char *out, const char *needle)
{
	if (!out || !strstr(out, needle))
		fail_msg("expected \"%s\" in output:\n%s", needle, out ? out : "(none)");
}

static void test_end_to_end(void **state)
{
	char cmd[512];
	char *out;

	(void)state;
	if (geteuid() != 0 || access("/bin/busybox", X_OK) != 0 || access(runtime_path(), X_OK))
		skip();
	snprintf(e2e_bundle, sizeof(e2e_bundle), "/tmp/keel-ocispec-bundle-XXXXXX");
	assert_non_null(mkdtemp(e2e_bundle));
	snprintf(cmd, sizeof(cmd), "../../tools/make-bundle.sh %s >/dev/null 2>&1", e2e_bundle);
	assert_int_equal(system(cmd), 0);

	out = run_in_bundle(e2e_bundle, "-u user --group-add 65534 -w /tmp -e GREETING=hi img",
			    "id; grep CapEff /proc/self/status; pwd; echo G=$GREETING; "
			    "echo H=$HOSTNAME; hostname");
	expect_in(out, "uid=1000(user) gid=1000(user) groups=1000(user),65534(nogroup)");
	expect_in(out, "CapEff:\t0000000000000000");
	expect_in(out, "/tmp\nG=hi\nH=0123456789ab\n0123456789ab");
	free(out);

	out = run_in_bundle(e2e_bundle, "img",
			    "grep CapEff /proc/self/status; unshare -n true; echo unshare=$?; "
			    "mount -t tmpfs t /mnt; echo mount=$?; wc -c </proc/timer_list; "
			    "wc -c </proc/keys; echo x >/proc/sys/kernel/hostname; echo "
			    "sys=$?; grep ' /sys ' /proc/mounts");
	expect_in(out, "CapEff:\t00000000a80425fb"); /* Docker's 14 */
	expect_in(out, "unshare: unshare(0x40000000): Operation not permitted");
	expect_in(out, "unshare=1");
	expect_in(out, "mount: permission denied");
	expect_in(out, "mount=1");
	expect_in(out, "\n0\n0\n"); /* /proc/timer_list and /proc/keys masked (this host has no /proc/kcore) */
	expect_in(out, "Read-only file system");
	expect_in(out, "sysfs /sys sysfs ro,");
	free(out);

	out = run_in_bundle(e2e_bundle, "--cap-add SYS_ADMIN img",
			    "grep CapEff /proc/self/status; unshare -n true; echo unshare=$?");
	expect_in(out, "CapEff:\t00000000a82425fb");
	expect_in(out, "unshare=0");
	free(out);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),	 cmocka_unit_test(test_user_forms),
		cmocka_unit_test(test_args_env),	 cmocka_unit_test(test_caps_seccomp),
		cmocka_unit_test(test_resources_mounts), cmocka_unit_test(test_end_to_end),
	};
	return cmocka_run_group_tests(tests, setup_rootfs, teardown_rootfs);
}
