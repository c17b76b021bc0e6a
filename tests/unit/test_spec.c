/* keel_spec_*: config.json, process and resources parsing, validation messages, the default
 * spec and the name tables. Runs with cwd tests/unit (fixtures in ../fixtures/spec). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <errno.h>
#include <sched.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/personality.h>
#include <sys/resource.h>
#include <unistd.h>

#include "runtime/spec.h"
#include "util/fs.h"

#define FIXTURES "../fixtures/spec/"

/* Test documents are written with ' for " to stay readable; this swaps them back. */
static char *dq(const char *s)
{
	char *r = strdup(s);
	assert_non_null(r);
	for (char *p = r; *p; p++)
		if (*p == '\'')
			*p = '"';
	return r;
}

static struct keel_spec *parse_q(const char *single_quoted, keel_error_t *err)
{
	char *text = dq(single_quoted);
	struct keel_spec *s = keel_spec_parse(text, strlen(text), "config.json", err);
	free(text);
	return s;
}

static struct keel_spec *load_fixture(const char *name)
{
	keel_error_t err = { 0 };
	char *text = NULL;
	char path[256];
	ssize_t n;
	struct keel_spec *s;

	snprintf(path, sizeof(path), FIXTURES "%s", name);
	n = keel_read_file(path, &text, &err);
	if (n < 0)
		fail_msg("%s", err.msg);
	s = keel_spec_parse(text, (size_t)n, "config.json", &err);
	free(text);
	if (!s)
		fail_msg("%s", err.msg);
	return s;
}

#define BIT(c) (UINT64_C(1) << (c))

static void check_process(const struct keel_spec_process *p)
{
	assert_int_equal(p->uid, 1000);
	assert_int_equal(p->gid, 1000);
	assert_true(p->has_umask);
	assert_int_equal(p->umask, 022);
	assert_int_equal(p->n_additional_gids, 2);
	assert_int_equal(p->additional_gids[1], 1000);
	assert_string_equal(p->args[0], "/bin/sh");
	assert_string_equal(p->args[2], "echo hi");
	assert_null(p->args[3]);
	assert_string_equal(p->env[2], "EMPTY=");
	assert_null(p->env[3]);
	assert_string_equal(p->cwd, "/work");
	assert_false(p->terminal);
	assert_true(p->has_console_size);
	assert_int_equal(p->console_height, 24);
	assert_int_equal(p->console_width, 80);
	assert_true(p->caps.present);
	assert_int_equal(__builtin_popcountll(p->caps.bounding), 14);
	assert_true(p->caps.bounding & BIT(27)); /* CAP_MKNOD */
	assert_int_equal(p->caps.effective, BIT(0) | BIT(5));
	assert_int_equal(p->caps.permitted, BIT(0) | BIT(5));
	assert_int_equal(p->caps.inheritable, 0);
	assert_int_equal(p->caps.ambient, 0);
	assert_int_equal(p->n_rlimits, 2);
	assert_int_equal(p->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(p->rlimits[0].soft, 1024);
	assert_int_equal(p->rlimits[0].hard, 4096);
	assert_int_equal(p->rlimits[1].resource, RLIMIT_NPROC);
	assert_string_equal(p->apparmor_profile, "docker-default");
	assert_null(p->selinux_label);
	assert_true(p->has_oom_score_adj);
	assert_int_equal(p->oom_score_adj, 0);
	assert_true(p->no_new_privileges);
}

static void check_mounts(const struct keel_spec *s)
{
	const struct keel_spec_mount *m = s->mounts;
	assert_int_equal(s->n_mounts, 10);
	assert_string_equal(m[1].destination, "/dev");
	assert_string_equal(m[1].type, "tmpfs");
	assert_int_equal(m[1].flags, MS_NOSUID | MS_STRICTATIME);
	assert_string_equal(m[1].data, "mode=755,size=65536k");
	assert_string_equal(m[2].data, "newinstance,ptmxmode=0666,mode=0620,gid=5");
	assert_int_equal(m[2].flags, MS_NOSUID | MS_NOEXEC);
	assert_int_equal(m[3].flags, MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RDONLY);
	assert_string_equal(m[3].data, "");
	assert_true(m[7].bind && m[7].recursive);
	assert_int_equal(m[7].flags, MS_BIND | MS_REC);
	assert_int_equal(m[7].propagation, MS_PRIVATE | MS_REC);
	assert_string_equal(m[7].options[1], "rprivate");
	/* "bind","rro","rw","nosuid","tmpcopyup","rslave": rw after rro clears read-only */
	assert_null(m[9].type);
	assert_true(m[9].bind);
	assert_false(m[9].recursive);
	assert_true(m[9].tmpcopyup);
	assert_int_equal(m[9].flags, MS_BIND | MS_NOSUID);
	assert_int_equal(m[9].clear, MS_RDONLY);
	assert_int_equal(m[9].propagation, MS_SLAVE | MS_REC);
	assert_string_equal(m[9].options[1], "rro");
	assert_string_equal(m[9].data, "");
}

static void check_hooks(const struct keel_spec *s)
{
	const struct keel_spec_hooks *h = &s->hooks;
	assert_int_equal(h->n[KEEL_HOOK_PRESTART], 1);
	assert_string_equal(h->list[KEEL_HOOK_PRESTART][0].path, "/proc/4242/exe");
	assert_string_equal(h->list[KEEL_HOOK_PRESTART][0].args[0], "libnetwork-setkey");
	assert_null(h->list[KEEL_HOOK_PRESTART][0].env);
	assert_false(h->list[KEEL_HOOK_PRESTART][0].has_timeout);
	assert_int_equal(h->n[KEEL_HOOK_CREATE_RUNTIME], 1);
	assert_true(h->list[KEEL_HOOK_CREATE_RUNTIME][0].has_timeout);
	assert_int_equal(h->list[KEEL_HOOK_CREATE_RUNTIME][0].timeout, 5);
	assert_string_equal(h->list[KEEL_HOOK_CREATE_RUNTIME][0].env[0], "A=b");
	assert_int_equal(h->n[KEEL_HOOK_CREATE_CONTAINER], 0);
	assert_null(h->list[KEEL_HOOK_CREATE_CONTAINER]);
	assert_int_equal(h->n[KEEL_HOOK_START_CONTAINER], 0);
	assert_int_equal(h->n[KEEL_HOOK_POSTSTART], 0);
	assert_int_equal(h->n[KEEL_HOOK_POSTSTOP], 1);
	assert_string_equal(h->list[KEEL_HOOK_POSTSTOP][0].path, "/usr/bin/cleanup");
}

static void check_resources(const struct keel_spec_resources *r)
{
	assert_int_equal(r->n_devices, 4);
	assert_false(r->devices[0].allow);
	assert_int_equal(r->devices[0].type, 'a');
	assert_int_equal(r->devices[0].major, -1);
	assert_string_equal(r->devices[0].access, "rwm");
	assert_int_equal(r->devices[2].type, 'c');
	assert_int_equal(r->devices[2].major, 10);
	assert_int_equal(r->devices[2].minor, 229);
	assert_int_equal(r->devices[3].minor, -1);
	assert_true(r->has_memory_limit);
	assert_int_equal(r->memory_limit, 67108864);
	assert_true(r->has_memory_swap);
	assert_false(r->has_memory_reservation);
	assert_false(r->has_memory_kernel);
	assert_true(r->has_memory_swappiness);
	assert_int_equal(r->memory_swappiness, 60);
	assert_true(r->has_disable_oom_killer);
	assert_false(r->disable_oom_killer);
	assert_false(r->has_use_hierarchy);
	/* shares 0 is present, so set (only reservation/kernel/blkio weight treat 0 as unset) */
	assert_true(r->has_cpu_shares);
	assert_int_equal(r->cpu_shares, 0);
	assert_int_equal(r->cpu_quota, 50000);
	assert_int_equal(r->cpu_period, 100000);
	assert_false(r->has_cpu_burst);
	assert_string_equal(r->cpu_cpus, "0-1");
	assert_string_equal(r->cpu_mems, "0");
	assert_true(r->has_pids_limit);
	assert_int_equal(r->pids_limit, 100);
	assert_false(r->has_blkio_weight);
	assert_true(r->has_blkio_leaf_weight);
	assert_int_equal(r->blkio_leaf_weight, 300);
	assert_int_equal(r->n_blkio_weight_devices, 1);
	assert_true(r->blkio_weight_devices[0].has_weight);
	assert_false(r->blkio_weight_devices[0].has_leaf_weight);
	assert_int_equal(r->blkio_weight_devices[0].weight, 500);
	assert_int_equal(r->n_blkio_throttle[KEEL_BLKIO_READ_BPS], 1);
	assert_int_equal(r->blkio_throttle[KEEL_BLKIO_READ_BPS][0].rate, 1048576);
	assert_int_equal(r->n_blkio_throttle[KEEL_BLKIO_WRITE_BPS], 0);
	assert_int_equal(r->n_blkio_throttle[KEEL_BLKIO_READ_IOPS], 0);
	assert_int_equal(r->n_blkio_throttle[KEEL_BLKIO_WRITE_IOPS], 2);
	assert_int_equal(r->blkio_throttle[KEEL_BLKIO_WRITE_IOPS][1].minor, 32);
	assert_int_equal(r->blkio_throttle[KEEL_BLKIO_WRITE_IOPS][1].rate, 300);
	assert_int_equal(r->n_hugepage_limits, 1);
	assert_string_equal(r->hugepage_limits[0].page_size, "2MB");
	assert_int_equal(r->hugepage_limits[0].limit, 209715200);
	assert_string_equal(r->unified[0], "memory.high");
	assert_string_equal(r->unified[1], "50000000");
	assert_null(r->unified[2]);
}

static void check_seccomp(const struct keel_spec_seccomp *sc)
{
	assert_non_null(sc);
	assert_int_equal(sc->default_action, SCMP_ACT_ERRNO(1));
	assert_true(sc->has_default_errno_ret);
	assert_int_equal(sc->default_errno_ret, 1);
	assert_int_equal(sc->n_architectures, 3);
	assert_int_equal(sc->architectures[0], SCMP_ARCH_X86_64);
	assert_int_equal(sc->architectures[1], SCMP_ARCH_X86);
	assert_int_equal(sc->architectures[2], SCMP_ARCH_X32);
	assert_string_equal(sc->flags[0], "SECCOMP_FILTER_FLAG_LOG");
	assert_null(sc->listener_path);
	assert_int_equal(sc->n_syscalls, 5);
	assert_string_equal(sc->syscalls[0].names[2], "write");
	assert_int_equal(sc->syscalls[0].action, SCMP_ACT_ALLOW);
	assert_false(sc->syscalls[0].has_errno_ret);
	assert_int_equal(sc->syscalls[1].n_args, 1);
	assert_int_equal(sc->syscalls[1].args[0].value, 4294967295u);
	assert_int_equal(sc->syscalls[1].args[0].op, SCMP_CMP_EQ);
	assert_int_equal(sc->syscalls[2].action, SCMP_ACT_ERRNO(38));
	assert_true(sc->syscalls[2].has_errno_ret);
	assert_int_equal(sc->syscalls[2].errno_ret, 38);
	assert_int_equal(sc->syscalls[2].args[0].op, SCMP_CMP_MASKED_EQ);
	/* TRACE without errnoRet gets EPERM, as runc does */
	assert_int_equal(sc->syscalls[3].action, SCMP_ACT_TRACE(EPERM));
	assert_false(sc->syscalls[3].has_errno_ret);
	assert_int_equal(sc->syscalls[4].action, SCMP_ACT_KILL_PROCESS);
}

static void check_linux(const struct keel_spec_linux *l)
{
	assert_int_equal(l->n_namespaces, 5);
	assert_int_equal(l->namespaces[0].type, KEEL_NS_MNT);
	assert_null(l->namespaces[0].path);
	assert_int_equal(l->namespaces[1].type, KEEL_NS_NET);
	assert_string_equal(l->namespaces[1].path, "/var/run/netns/x");
	assert_int_equal(l->n_uid_mappings, 1);
	assert_int_equal(l->uid_mappings[0].host_id, 100000);
	assert_int_equal(l->gid_mappings[0].size, 65536);
	assert_int_equal(l->n_devices, 2);
	assert_int_equal(l->devices[0].type, 'c');
	assert_true(l->devices[0].has_mode);
	assert_int_equal(l->devices[0].mode, 0666);
	assert_true(l->devices[0].has_uid);
	assert_int_equal(l->devices[1].type, 'p');
	assert_int_equal(l->devices[1].major, -1);
	assert_false(l->devices[1].has_mode);
	assert_string_equal(l->cgroups_path, "/docker/abc");
	assert_string_equal(l->sysctl[0], "net.ipv4.ip_unprivileged_port_start");
	assert_string_equal(l->sysctl[3], "0 2147483647");
	assert_null(l->sysctl[4]);
	assert_string_equal(l->masked_paths[9], "/sys/firmware");
	assert_null(l->masked_paths[10]);
	assert_string_equal(l->readonly_paths[4], "/proc/sysrq-trigger");
	assert_int_equal(l->rootfs_propagation, MS_SLAVE | MS_REC);
	assert_string_equal(l->mount_label, "");
	assert_true(l->has_personality);
	assert_int_equal(l->personality, PER_LINUX32);
	assert_true(l->has_intel_rdt);
	assert_true(l->has_time_offsets);
	assert_int_equal(l->boottime_secs, -5);
	assert_int_equal(l->boottime_nanosecs, 100);
	assert_int_equal(l->monotonic_secs, 3600);
	assert_int_equal(l->monotonic_nanosecs, 0);
	check_resources(l->resources);
	check_seccomp(l->seccomp);
}

static void test_docker_config(void **state)
{
	struct keel_spec *s = load_fixture("docker.json");

	assert_string_equal(s->oci_version, "1.0.2-dev");
	assert_string_equal(s->root_path, "/var/lib/docker/overlay2/abc/merged");
	assert_false(s->root_readonly);
	assert_string_equal(s->hostname, "0123456789ab");
	assert_string_equal(s->domainname, "example.org");
	assert_string_equal(
	    json_string_value(json_object_get(s->annotations, "org.opencontainers.image.title")),
	    "demo");
	check_process(s->process);
	check_mounts(s);
	check_hooks(s);
	check_linux(&s->linux);
	assert_ptr_equal(keel_spec_namespace(s, KEEL_NS_NET), &s->linux.namespaces[1]);
	assert_null(keel_spec_namespace(s, KEEL_NS_USER));
	keel_spec_free(s);
}

static void test_load_bundle(void **state)
{
	static const char doc[] = "{\"ociVersion\":\"1.1.0\",\"root\":{\"path\":\"r\"},"
				  "\"linux\":{\"cgroupsPath\":\"x\"}}";
	char dir[] = "/tmp/keel-spec-test-XXXXXX";
	char path[64];
	keel_error_t err = { 0 };
	struct keel_spec *s;

	assert_non_null(mkdtemp(dir));
	s = keel_spec_load(dir, &err);
	assert_null(s);
	assert_int_equal(err.errnum, ENOENT);
	snprintf(path, sizeof(path), "%s/config.json", dir);
	assert_int_equal(keel_write_file(path, doc, strlen(doc), 0644, &err), 0);
	s = keel_spec_load(dir, &err);
	if (!s)
		fail_msg("%s", err.msg);
	assert_null(s->process);
	assert_string_equal(s->root_path, "r");
	assert_string_equal(s->linux.cgroups_path, "x");
	assert_int_equal(s->n_mounts, 0);
	assert_null(s->linux.resources);
	assert_null(s->linux.seccomp);
	assert_null(s->annotations);
	keel_spec_free(s);
	/* a bad document names config.json */
	assert_int_equal(keel_write_file(path, "{\"ociVersion\":1}", 16, 0644, &err), 0);
	assert_null(keel_spec_load(dir, &err));
	assert_string_equal(err.msg, "config.json: ociVersion: expected a string");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(rmdir(dir), 0);
}

/* A minimal valid document with `rest` spliced in after root. */
#define DOC(rest)     "{'ociVersion':'1.1.0','root':{'path':'rootfs'}" rest "}"
#define PROC(rest)    DOC(",'process':{'args':['sh'],'cwd':'/'" rest "}")
#define LNX(rest)     DOC(",'linux':{" rest "}")
#define RES(rest)     LNX("'resources':{" rest "}")
#define SECCOMP(rest) LNX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW'" rest "}")

static const struct bad_case {
	const char *doc, *msg;
} bad_cases[] = {
	{ "[]", "config.json: expected a JSON object" },
	{ "{'ociVersion': }", "config.json: 1:16: invalid JSON: unexpected token near '}'" },
	{ "{'ociVersion':'1',\n 'ociVersion':'2'}",
	  "config.json: 2:13: invalid JSON: duplicate object key near '\"ociVersion\"'" },
	{ "{'root':{'path':'r'}}", "config.json: ociVersion: required" },
	{ "{'ociVersion':1,'root':{'path':'r'}}", "config.json: ociVersion: expected a string" },
	{ "{'ociVersion':'1.1.0'}", "config.json: root: required" },
	{ "{'ociVersion':'1.1.0','root':{}}", "config.json: root.path: required" },
	{ "{'ociVersion':'1.1.0','root':{'path':'r','readonly':1}}",
	  "config.json: root.readonly: expected a boolean" },
	{ DOC(",'process':[]"), "config.json: process: expected an object" },
	{ DOC(",'process':{'cwd':'/'}"),
	  "config.json: process.args: must be a non-empty array of strings" },
	{ DOC(",'process':{'cwd':'/','args':[]}"),
	  "config.json: process.args: must be a non-empty array of strings" },
	{ DOC(",'process':{'cwd':'/','args':['a',1]}"),
	  "config.json: process.args: must be a non-empty array of strings" },
	{ DOC(",'process':{'args':['sh']}"), "config.json: process.cwd: required" },
	{ DOC(",'process':{'args':['sh'],'cwd':'tmp'}"),
	  "config.json: process.cwd: must be an absolute path" },
	{ PROC(",'terminal':'yes'"), "config.json: process.terminal: expected a boolean" },
	{ PROC(",'user':{'uid':'0'}"), "config.json: process.user.uid: expected an integer" },
	{ PROC(",'user':{'uid':-1}"),
	  "config.json: process.user.uid: -1 is out of range (0..4294967294)" },
	{ PROC(",'user':{'gid':1.5}"), "config.json: process.user.gid: expected an integer" },
	{ PROC(",'user':{'additionalGids':[1,'x']}"),
	  "config.json: process.user.additionalGids[1]: expected an integer" },
	{ PROC(",'user':{'umask':512}"),
	  "config.json: process.user.umask: 512 is out of range (0..511)" },
	{ PROC(",'env':['A=1','B']"), "config.json: process.env[1]: \"B\" is not NAME=VALUE" },
	{ PROC(",'env':['=x']"), "config.json: process.env[0]: \"=x\" is not NAME=VALUE" },
	{ PROC(",'capabilities':{'bounding':['CAP_KILL','CAP_FOO']}"),
	  "config.json: process.capabilities.bounding[1]: unknown capability \"CAP_FOO\"" },
	{ PROC(",'capabilities':{'ambient':'CAP_KILL'}"),
	  "config.json: process.capabilities.ambient: expected an array" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_FOO','soft':1,'hard':1}]"),
	  "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_CORE','soft':1,'hard':1},"
	       "{'type':'RLIMIT_CORE','soft':1,'hard':1}]"),
	  "config.json: process.rlimits[1].type: duplicate rlimit \"RLIMIT_CORE\"" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_CORE','soft':2,'hard':1}]"),
	  "config.json: process.rlimits[0].soft: 2 exceeds the hard limit 1" },
	{ PROC(",'rlimits':[{'type':'RLIMIT_CORE','soft':2}]"),
	  "config.json: process.rlimits[0].hard: required" },
	{ PROC(",'oomScoreAdj':1001"),
	  "config.json: process.oomScoreAdj: 1001 is out of range (-1000..1000)" },
	{ PROC(",'consoleSize':{'height':10}"),
	  "config.json: process.consoleSize.width: required" },
	{ DOC(",'mounts':{}"), "config.json: mounts: expected an array" },
	{ DOC(",'mounts':[{'destination':'/a'},{'destination':'b'}]"),
	  "config.json: mounts[1].destination: must be an absolute path" },
	{ DOC(",'mounts':[{'type':'tmpfs'}]"), "config.json: mounts[0].destination: required" },
	{ DOC(",'mounts':[{'destination':'/a','options':['ro',1]}]"),
	  "config.json: mounts[0].options[1]: expected a string" },
	{ DOC(",'hooks':{'prestart':[{'args':['x']}]}"),
	  "config.json: hooks.prestart[0].path: required" },
	{ DOC(",'hooks':{'poststop':[{'path':'/x','timeout':0}]}"),
	  "config.json: hooks.poststop[0].timeout: 0 is out of range (1..2147483647)" },
	{ DOC(",'hooks':{'createContainer':[{'path':'x'}]}"),
	  "config.json: hooks.createContainer[0].path: must be an absolute path" },
	{ DOC(",'annotations':{'a':'b','c':1}"), "config.json: annotations.c: expected a string" },
	{ DOC(",'linux':[]"), "config.json: linux: expected an object" },
	{ LNX("'namespaces':[{'type':'pid'},{'type':'uts'},{'type':'foo'}]"),
	  "config.json: linux.namespaces[2].type: unknown namespace \"foo\"" },
	{ LNX("'namespaces':[{'type':'pid'},{'type':'pid'}]"),
	  "config.json: linux.namespaces[1].type: duplicate namespace \"pid\"" },
	{ LNX("'namespaces':[{'path':'/x'}]"), "config.json: linux.namespaces[0].type: required" },
	{ LNX("'namespaces':[{'type':'network','path':'netns'}]"),
	  "config.json: linux.namespaces[0].path: must be an absolute path" },
	{ LNX("'uidMappings':[{'containerID':0,'hostID':1000,'size':0}]"),
	  "config.json: linux.uidMappings[0].size: 0 is out of range (1..4294967295)" },
	{ LNX("'gidMappings':[{'containerID':0,'size':1}]"),
	  "config.json: linux.gidMappings[0].hostID: required" },
	{ LNX("'devices':[{'path':'/dev/x','type':'x','major':1,'minor':1}]"),
	  "config.json: linux.devices[0].type: must be \"c\", \"b\", \"u\" or \"p\", not \"x\"" },
	{ LNX("'devices':[{'path':'/dev/x','type':'c','minor':1}]"),
	  "config.json: linux.devices[0].major: required" },
	{ LNX("'sysctl':{'net.ipv4.ip_forward':1}"),
	  "config.json: linux.sysctl.net.ipv4.ip_forward: expected a string" },
	{ LNX("'rootfsPropagation':'bogus'"),
	  "config.json: linux.rootfsPropagation: unknown propagation \"bogus\"" },
	{ LNX("'personality':{'domain':'LINUX64'}"),
	  "config.json: linux.personality.domain: unknown domain \"LINUX64\"" },
	{ LNX("'timeOffsets':{'realtime':{'secs':1}}"),
	  "config.json: linux.timeOffsets.realtime: unknown clock (boottime or monotonic)" },
	{ LNX("'timeOffsets':{'boottime':{'secs':1,'nanosecs':1000000000}}"),
	  "config.json: linux.timeOffsets.boottime.nanosecs: 1000000000 is out of range "
	  "(0..999999999)" },
	{ LNX("'maskedPaths':'/proc'"),
	  "config.json: linux.maskedPaths: expected an array of strings" },
	{ RES("'devices':[{'access':'rwm'}]"),
	  "config.json: linux.resources.devices[0].allow: required" },
	{ RES("'devices':[{'allow':true,'access':'rwx'}]"),
	  "config.json: linux.resources.devices[0].access: must be a subset of \"rwm\", not "
	  "\"rwx\"" },
	{ RES("'devices':[{'allow':true,'access':'rr'}]"),
	  "config.json: linux.resources.devices[0].access: must be a subset of \"rwm\", not "
	  "\"rr\"" },
	{ RES("'devices':[{'allow':true,'type':'p'}]"),
	  "config.json: linux.resources.devices[0].type: must be \"a\", \"c\" or \"b\", not "
	  "\"p\"" },
	{ RES("'memory':{'swappiness':101}"),
	  "config.json: linux.resources.memory.swappiness: 101 is out of range (0..100)" },
	{ RES("'memory':{'limit':-2}"),
	  "config.json: linux.resources.memory.limit: -2 is out of range "
	  "(-1..9223372036854775807)" },
	{ RES("'cpu':{'cpus':0}"), "config.json: linux.resources.cpu.cpus: expected a string" },
	{ RES("'blockIO':{'weight':70000}"),
	  "config.json: linux.resources.blockIO.weight: 70000 is out of range (0..65535)" },
	{ RES("'blockIO':{'throttleWriteIOPSDevice':[{'major':8,'minor':0}]}"),
	  "config.json: linux.resources.blockIO.throttleWriteIOPSDevice[0].rate: required" },
	{ RES("'hugepageLimits':[{'limit':1}]"),
	  "config.json: linux.resources.hugepageLimits[0].pageSize: required" },
	{ LNX("'seccomp':{}"), "config.json: linux.seccomp.defaultAction: required" },
	{ LNX("'seccomp':{'defaultAction':'SCMP_ACT_FOO'}"),
	  "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_FOO\"" },
	{ LNX("'seccomp':{'defaultAction':'SCMP_ACT_ALLOW','defaultErrnoRet':1}"),
	  "config.json: linux.seccomp.defaultErrnoRet: not allowed with SCMP_ACT_ALLOW" },
	{ SECCOMP(",'architectures':['SCMP_ARCH_X86_64','SCMP_ARCH_VAX']"),
	  "config.json: linux.seccomp.architectures[1]: unknown seccomp architecture "
	  "\"SCMP_ARCH_VAX\"" },
	{ SECCOMP(",'architectures':['x86_64']"),
	  "config.json: linux.seccomp.architectures[0]: unknown seccomp architecture "
	  "\"x86_64\"" },
	{ SECCOMP(",'flags':['SECCOMP_FILTER_FLAG_BOGUS']"),
	  "config.json: linux.seccomp.flags[0]: unknown seccomp flag "
	  "\"SECCOMP_FILTER_FLAG_BOGUS\"" },
	{ SECCOMP(",'syscalls':[{'names':[],'action':'SCMP_ACT_ERRNO'}]"),
	  "config.json: linux.seccomp.syscalls[0].names: must be a non-empty array of strings" },
	{ SECCOMP(",'syscalls':[{'names':['read']}]"),
	  "config.json: linux.seccomp.syscalls[0].action: required" },
	{ SECCOMP(",'syscalls':[{'names':['read'],'action':'SCMP_ACT_KILL','errnoRet':1}]"),
	  "config.json: linux.seccomp.syscalls[0].errnoRet: not allowed with SCMP_ACT_KILL" },
	{ SECCOMP(",'syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
		  "'args':[{'index':0,'value':1,'op':'SCMP_CMP_FOO'}]}]"),
	  "config.json: linux.seccomp.syscalls[0].args[0].op: unknown seccomp operator "
	  "\"SCMP_CMP_FOO\"" },
	{ SECCOMP(",'syscalls':[{'names':['read'],'action':'SCMP_ACT_ALLOW',"
		  "'args':[{'index':6,'value':1,'op':'SCMP_CMP_EQ'}]}]"),
	  "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0..5)" },
};

static void test_bad_documents(void **state)
{
	for (size_t i = 0; i < sizeof(bad_cases) / sizeof(bad_cases[0]); i++) {
		keel_error_t err = { 0 };
		struct keel_spec *s = parse_q(bad_cases[i].doc, &err);
		if (s) {
			keel_spec_free(s);
			fail_msg("case %zu accepted: %s", i, bad_cases[i].doc);
		}
		if (strcmp(err.msg, bad_cases[i].msg) != 0)
			fail_msg("case %zu:\n  got      %s\n  expected %s", i, err.msg,
				 bad_cases[i].msg);
		assert_int_equal(err.errnum, EINVAL);
	}
}

/* Things that look odd but are legal: null means absent, unknown keys are ignored. */
static void test_lenient_documents(void **state)
{
	static const char *const good[] = {
		DOC(",'futureKey':[1,{}],'process':null,'linux':{'futureKey':1}"),
		PROC(",'terminal':false,'consoleSize':{'height':0,'width':0}"),
		PROC(",'capabilities':{'bounding':null},'rlimits':[]"),
		DOC(",'mounts':[{'destination':'/x','options':null,'uidMappings':[]}]"),
		LNX("'namespaces':[],'seccomp':{'defaultAction':'SCMP_ACT_ERRNO'}"),
		RES("'pids':{},'memory':{'limit':-1},'cpu':{'quota':-1}"),
	};
	for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++) {
		keel_error_t err = { 0 };
		struct keel_spec *s = parse_q(good[i], &err);
		if (!s)
			fail_msg("case %zu refused: %s", i, err.msg);
		keel_spec_free(s);
	}
}

static void test_seccomp_default_errno(void **state)
{
	keel_error_t err = { 0 };
	struct keel_spec *s = parse_q(LNX("'seccomp':{'defaultAction':'SCMP_ACT_ERRNO'}"), &err);
	assert_non_null(s);
	assert_int_equal(s->linux.seccomp->default_action, SCMP_ACT_ERRNO(EPERM));
	assert_false(s->linux.seccomp->has_default_errno_ret);
	assert_int_equal(s->linux.seccomp->default_errno_ret, EPERM);
	assert_int_equal(s->linux.seccomp->n_syscalls, 0);
	keel_spec_free(s);
}

static void test_process_parse(void **state)
{
	keel_error_t err = { 0 };
	char *text = dq("{'terminal':true,'user':{'uid':5,'gid':6},'args':['ls','-l'],"
			"'env':['TERM=xterm'],'cwd':'/root','capabilities':{'bounding':"
			"['CAP_SYS_ADMIN']},'noNewPrivileges':true,'selinuxLabel':'x'}");
	struct keel_spec_process *p =
	    keel_spec_process_parse(text, strlen(text), "process.json", &err);
	free(text);
	if (!p)
		fail_msg("%s", err.msg);
	assert_true(p->terminal);
	assert_int_equal(p->uid, 5);
	assert_int_equal(p->gid, 6);
	assert_string_equal(p->args[1], "-l");
	assert_string_equal(p->cwd, "/root");
	assert_int_equal(p->caps.bounding, BIT(21));
	assert_false(p->has_oom_score_adj);
	assert_false(p->has_umask);
	assert_string_equal(p->selinux_label, "x");
	keel_spec_process_free(p);

	/* no env: an empty vector, never NULL */
	text = dq("{'args':['ls'],'cwd':'/'}");
	p = keel_spec_process_parse(text, strlen(text), "process.json", &err);
	free(text);
	assert_non_null(p);
	assert_non_null(p->env);
	assert_null(p->env[0]);
	keel_spec_process_free(p);

	/* errors name fields relative to the process object */
	text = dq("{'args':[],'cwd':'/'}");
	assert_null(keel_spec_process_parse(text, strlen(text), "process.json", &err));
	free(text);
	assert_string_equal(err.msg, "process.json: args: must be a non-empty array of strings");
	text = dq("{'args':['x'],'cwd':'/','user':{'uid':-3}}");
	assert_null(keel_spec_process_parse(text, strlen(text), "process.json", &err));
	free(text);
	assert_string_equal(err.msg, "process.json: user.uid: -3 is out of range (0..4294967294)");
	assert_null(keel_spec_process_parse("nope", 4, "process.json", &err));
	assert_string_equal(err.msg, "process.json: 1:4: invalid JSON: '[' or '{' expected near "
				     "'nope'");
}

static void test_docker_update(void **state)
{
	keel_error_t err = { 0 };
	char *text = dq("{'memory':{'limit':67108864,'reservation':0,'swap':134217728,'kernel':0},"
			"'cpu':{'shares':512,'quota':50000,'period':100000},'pids':{'limit':100},"
			"'blockIO':{'weight':0}}");
	struct keel_spec_resources *r =
	    keel_spec_resources_parse(text, strlen(text), "resources", &err);
	free(text);
	if (!r)
		fail_msg("%s", err.msg);
	assert_true(r->has_memory_limit);
	assert_int_equal(r->memory_limit, 67108864);
	assert_false(r->has_memory_reservation);
	assert_true(r->has_memory_swap);
	assert_int_equal(r->memory_swap, 134217728);
	assert_false(r->has_memory_kernel);
	assert_false(r->has_memory_kernel_tcp);
	assert_false(r->has_memory_swappiness);
	assert_false(r->has_disable_oom_killer);
	assert_true(r->has_cpu_shares);
	assert_int_equal(r->cpu_shares, 512);
	assert_true(r->has_cpu_quota);
	assert_int_equal(r->cpu_quota, 50000);
	assert_true(r->has_cpu_period);
	assert_int_equal(r->cpu_period, 100000);
	assert_false(r->has_cpu_realtime_runtime);
	assert_false(r->has_cpu_burst);
	assert_false(r->has_cpu_idle);
	assert_null(r->cpu_cpus);
	assert_true(r->has_pids_limit);
	assert_int_equal(r->pids_limit, 100);
	assert_false(r->has_blkio_weight);
	assert_false(r->has_blkio_leaf_weight);
	assert_int_equal(r->n_devices, 0);
	assert_null(r->unified);
	keel_spec_resources_free(r);

	/* non-zero reservation/kernel/weight are set */
	text = dq("{'memory':{'reservation':1024,'kernel':2048},'blockIO':{'weight':500}}");
	r = keel_spec_resources_parse(text, strlen(text), "resources", &err);
	free(text);
	assert_non_null(r);
	assert_true(r->has_memory_reservation);
	assert_int_equal(r->memory_reservation, 1024);
	assert_true(r->has_memory_kernel);
	assert_true(r->has_blkio_weight);
	assert_int_equal(r->blkio_weight, 500);
	assert_false(r->has_memory_limit);
	keel_spec_resources_free(r);

	text = dq("{'pids':{'limit':'100'}}");
	assert_null(keel_spec_resources_parse(text, strlen(text), "resources", &err));
	free(text);
	assert_string_equal(err.msg, "resources: pids.limit: expected an integer");
}

static void test_default_round_trip(void **state)
{
	keel_error_t err = { 0 };
	json_t *def = keel_spec_default();
	char *text;
	struct keel_spec *s;
	uint64_t caps = BIT(29) | BIT(5) | BIT(10);

	assert_non_null(def);
	text = json_dumps(def, JSON_INDENT(8));
	json_decref(def);
	assert_non_null(text);
	s = keel_spec_parse(text, strlen(text), "config.json", &err);
	free(text);
	if (!s)
		fail_msg("%s", err.msg);
	assert_string_equal(s->oci_version, "1.0.2-dev");
	assert_string_equal(s->hostname, "keel");
	assert_string_equal(s->root_path, "rootfs");
	assert_true(s->root_readonly);
	assert_true(s->process->terminal);
	assert_string_equal(s->process->args[0], "sh");
	assert_string_equal(s->process->env[1], "TERM=xterm");
	assert_int_equal(s->process->caps.bounding, caps);
	assert_int_equal(s->process->caps.effective, caps);
	assert_int_equal(s->process->caps.permitted, caps);
	assert_int_equal(s->process->caps.ambient, caps);
	assert_int_equal(s->process->caps.inheritable, 0);
	assert_int_equal(s->process->n_rlimits, 1);
	assert_int_equal(s->process->rlimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(s->process->rlimits[0].hard, 1024);
	assert_true(s->process->no_new_privileges);
	assert_int_equal(s->n_mounts, 7);
	assert_string_equal(s->mounts[6].destination, "/sys/fs/cgroup");
	assert_int_equal(s->mounts[6].flags,
			 MS_NOSUID | MS_NOEXEC | MS_NODEV | MS_RELATIME | MS_RDONLY);
	assert_string_equal(s->mounts[3].data, "mode=1777,size=65536k");
	assert_int_equal(s->linux.n_namespaces, 5);
	assert_int_equal(s->linux.namespaces[1].type, KEEL_NS_NET);
	assert_int_equal(s->linux.namespaces[4].type, KEEL_NS_MNT);
	assert_int_equal(s->linux.resources->n_devices, 1);
	assert_false(s->linux.resources->devices[0].allow);
	assert_int_equal(s->linux.resources->devices[0].type, 'a');
	assert_string_equal(s->linux.masked_paths[0], "/proc/acpi");
	assert_string_equal(s->linux.readonly_paths[3], "/proc/sys");
	keel_spec_free(s);
}

static void test_names(void **state)
{
	static const struct {
		enum keel_ns_type t;
		const char *name, *proc;
		int flag;
	} ns[] = {
		{ KEEL_NS_PID, "pid", "pid", CLONE_NEWPID },
		{ KEEL_NS_NET, "network", "net", CLONE_NEWNET },
		{ KEEL_NS_MNT, "mount", "mnt", CLONE_NEWNS },
		{ KEEL_NS_IPC, "ipc", "ipc", CLONE_NEWIPC },
		{ KEEL_NS_UTS, "uts", "uts", CLONE_NEWUTS },
		{ KEEL_NS_USER, "user", "user", CLONE_NEWUSER },
		{ KEEL_NS_CGROUP, "cgroup", "cgroup", CLONE_NEWCGROUP },
		{ KEEL_NS_TIME, "time", "time", 0x80 },
	};
	for (size_t i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		assert_string_equal(keel_ns_name(ns[i].t), ns[i].name);
		assert_string_equal(keel_ns_proc_name(ns[i].t), ns[i].proc);
		assert_int_equal(keel_ns_clone_flag(ns[i].t), ns[i].flag);
	}
	assert_null(keel_ns_name(KEEL_NS_TYPES));

	assert_int_equal(keel_cap_from_name("CAP_CHOWN"), 0);
	assert_int_equal(keel_cap_from_name("CAP_SYS_ADMIN"), 21);
	assert_int_equal(keel_cap_from_name("CAP_CHECKPOINT_RESTORE"), 40);
	assert_int_equal(keel_cap_from_name("cap_chown"), -1);
	assert_int_equal(keel_cap_from_name("CAP_NOPE"), -1);
	for (int c = 0; c <= 40; c++)
		assert_int_equal(keel_cap_from_name(keel_cap_name(c)), c);
	assert_null(keel_cap_name(-1));
	assert_null(keel_cap_name(64));
	assert_in_range(keel_cap_last(), 36, 63);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_docker_config),
		cmocka_unit_test(test_load_bundle),
		cmocka_unit_test(test_bad_documents),
		cmocka_unit_test(test_lenient_documents),
		cmocka_unit_test(test_seccomp_default_errno),
		cmocka_unit_test(test_process_parse),
		cmocka_unit_test(test_docker_update),
		cmocka_unit_test(test_default_round_trip),
		cmocka_unit_test(test_names),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
