/* keel_runopts_parse: docker run's flag syntax, values, and the docker CLI's error messages
 * (the expected texts were taken from docker 28 CLI + dockerd 20.10 on this machine). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

#include <cmocka.h>

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "engine/logconfig.h"
#include "engine/monitor.h"
#include "engine/runopts.h"

/* Parses a space-separated command line (no quoting needed by the cases below) after
 * "run". Returns parse's result; *img_index = index of the image in the split words. */
static int parse_line(const char *line, struct keel_run_opts *o, keel_error_t *err, int *img)
{
	char *copy = strdup(line), *save = NULL, *argv[64];
	int argc = 0, i = 0, r;

	for (char *t = strtok_r(copy, " ", &save); t && argc < 63; t = strtok_r(NULL, " ", &save))
		argv[argc++] = t;
	argv[argc] = NULL;
	memset(o, 0, sizeof(*o));
	memset(err, 0, sizeof(*err));
	r = keel_runopts_parse(argc, argv, &i, o, err);
	if (img)
		*img = i;
	/* keep the words alive as long as o: the parser copies everything it keeps */
	free(copy);
	return r;
}

static void expect_error(const char *line, const char *msg)
{
	struct keel_run_opts o;
	keel_error_t err;

	if (parse_line(line, &o, &err, NULL) == 0)
		fail_msg("\"%s\" parsed, expected error \"%s\"", line, msg);
	if (strcmp(err.msg, msg) != 0)
		fail_msg("\"%s\": got \"%s\", expected \"%s\"", line, err.msg, msg);
	keel_runopts_free(&o);
}

static void test_basic_flags(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;
	int img;

	(void)state;
	assert_int_equal(parse_line("-dit --rm --name web -e A=1 --env=B=2 -eC=3 --env D=4 "
				    "-w /srv -u 1000:1000 -h box busybox sh -c x",
				    &o, &err, &img),
			 0);
	assert_int_equal(img, 16);
	assert_true(o.detach && o.interactive && o.tty && o.rm);
	assert_string_equal(o.name, "web");
	assert_string_equal(o.env[0], "A=1");
	assert_string_equal(o.env[1], "B=2");
	assert_string_equal(o.env[2], "C=3");
	assert_string_equal(o.env[3], "D=4");
	assert_null(o.env[4]);
	assert_string_equal(o.workdir, "/srv");
	assert_string_equal(o.user, "1000:1000");
	assert_string_equal(o.hostname, "box");
	assert_int_equal(o.network, KEEL_NETWORK_NONE);
	keel_runopts_free(&o);

	/* "--" ends the options; a bool takes =false; the image may start with a dash after -- */
	assert_int_equal(parse_line("--rm=false -t=false -- -img", &o, &err, &img), 0);
	assert_int_equal(img, 3);
	assert_false(o.rm);
	assert_false(o.tty);
	keel_runopts_free(&o);

	/* no image at all: index == argc */
	assert_int_equal(parse_line("-d", &o, &err, &img), 0);
	assert_int_equal(img, 1);
	keel_runopts_free(&o);

	assert_int_equal(parse_line("--help", &o, &err, NULL), 0);
	assert_true(o.help);
	keel_runopts_free(&o);
}

static void test_env_bare_and_files(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;
	char envf[] = "/tmp/keel-envfile-XXXXXX", labf[] = "/tmp/keel-labfile-XXXXXX", line[256];
	int fd;

	(void)state;
	setenv("KEEL_TEST_SET", "from-env", 1);
	unsetenv("KEEL_TEST_UNSET");
	assert_int_equal(parse_line("-e KEEL_TEST_SET -e KEEL_TEST_UNSET img", &o, &err, NULL), 0);
	assert_string_equal(o.env[0], "KEEL_TEST_SET=from-env");
	assert_string_equal(o.env[1], "KEEL_TEST_UNSET"); /* removal, as dockerd does */
	keel_runopts_free(&o);

	fd = mkstemp(envf);
	assert_true(fd >= 0);
	dprintf(fd, "# comment\n\n  X=1\nY=a b\r\nKEEL_TEST_SET\n");
	close(fd);
	fd = mkstemp(labf);
	assert_true(fd >= 0);
	dprintf(fd, "com.example=1\nflag\n");
	close(fd);
	snprintf(line, sizeof(line), "--env-file %s --label-file %s -l a=b img", envf, labf);
	assert_int_equal(parse_line(line, &o, &err, NULL), 0);
	assert_string_equal(o.env[0], "X=1");
	assert_string_equal(o.env[1], "Y=a b");
	assert_string_equal(o.env[2], "KEEL_TEST_SET=from-env");
	assert_string_equal(o.labels[0], "com.example=1");
	assert_string_equal(o.labels[1], "flag=");
	assert_string_equal(o.labels[2], "a=b");
	keel_runopts_free(&o);

	fd = open(envf, O_WRONLY | O_TRUNC);
	dprintf(fd, "BAD KEY=1\n");
	close(fd);
	snprintf(line, sizeof(line), "--env-file %s img", envf);
	expect_error(line, "variable 'BAD KEY' contains whitespaces");
	unlink(envf);
	unlink(labf);
	expect_error("--env-file /nonexistent/keel img",
		     "open /nonexistent/keel: no such file or directory");
	expect_error("-e =x img",
		     "invalid argument \"=x\" for \"-e, --env\" flag: invalid environment variable: =x");
}

static void test_sizes(void **state)
{
	static const struct {
		const char *s;
		int64_t v;
	} ok[] = { { "1024", 1024 },	   { "64m", 64LL << 20 },     { "64M", 64LL << 20 },
		   { "1.5g", 3LL << 29 },  { "10kb", 10240 },	      { "2GiB", 2LL << 30 },
		   { "1 k", 1024 },	   { "7b", 7 } };
	keel_error_t err;
	int64_t v;

	(void)state;
	for (size_t k = 0; k < sizeof(ok) / sizeof(ok[0]); k++) {
		if (keel_parse_size(ok[k].s, &v, &err) < 0)
			fail_msg("%s: %s", ok[k].s, err.msg);
		assert_int_equal(v, ok[k].v);
	}
	assert_int_equal(keel_parse_size("12x", &v, &err), -1);
	assert_string_equal(err.msg, "invalid suffix: 'x'");
	assert_int_equal(keel_parse_size("-1", &v, &err), -1);
	assert_string_equal(err.msg, "invalid size: '-1'");
}

static void test_value_errors(void **state)
{
	(void)state;
	expect_error("--foo img", "unknown flag: --foo");
	expect_error("--foo=1 img", "unknown flag: --foo");
	expect_error("-X img", "unknown shorthand flag: 'X' in -X");
	expect_error("-dX img", "unknown shorthand flag: 'X' in -dX");
	expect_error("--name", "flag needs an argument: --name");
	expect_error("-m", "flag needs an argument: 'm' in -m");
	expect_error("-m abc img",
		     "invalid argument \"abc\" for \"-m, --memory\" flag: invalid size: 'abc'");
	expect_error("--memory=12x img",
		     "invalid argument \"12x\" for \"-m, --memory\" flag: invalid suffix: 'x'");
	expect_error("--cpus abc img", "invalid argument \"abc\" for \"--cpus\" flag: failed to "
				       "parse abc as a rational number");
	expect_error("--cpu-shares x img", "invalid argument \"x\" for \"-c, --cpu-shares\" flag: "
					   "strconv.ParseInt: parsing \"x\": invalid syntax");
	expect_error("--rm=abc img", "invalid argument \"abc\" for \"--rm\" flag: "
				     "strconv.ParseBool: parsing \"abc\": invalid syntax");
	expect_error("--shm-size -1 img",
		     "invalid argument \"-1\" for \"--shm-size\" flag: invalid size: '-1'");
	expect_error("--oom-score-adj 5000 img",
		     "Invalid value 5000, range for oom score adj is [-1000, 1000]");
	expect_error("--stop-signal FOO img", "Invalid signal: FOO");
	expect_error("--name a/b img",
		     "Invalid container name (a/b), only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed");
	expect_error("--cpuset-cpus abc img",
		     "Invalid value abc for cpuset cpus: invalid format: abc");
	expect_error("--add-host foo img",
		     "invalid argument \"foo\" for \"--add-host\" flag: bad format for add-host: "
		     "\"foo\"");
	expect_error("--add-host foo:1.2.3 img",
		     "invalid argument \"foo:1.2.3\" for \"--add-host\" flag: invalid IP address "
		     "in add-host: \"1.2.3\"");
	expect_error("--sysctl kernel.foo=1 img",
		     "invalid argument \"kernel.foo=1\" for \"--sysctl\" flag: sysctl "
		     "'kernel.foo=1' is not allowed");
	expect_error("--device /dev/null:/dev/x:rwx img", "bad mode specified: rwx");
}

static void test_restart(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("--restart on-failure:3 img", &o, &err, NULL), 0);
	assert_int_equal(o.restart, KEEL_RESTART_ON_FAILURE);
	assert_int_equal(o.restart_max, 3);
	keel_runopts_free(&o);
	assert_int_equal(parse_line("--restart unless-stopped img", &o, &err, NULL), 0);
	assert_int_equal(o.restart, KEEL_RESTART_UNLESS_STOPPED);
	keel_runopts_free(&o);
	assert_int_equal(parse_line("--restart always --restart no img", &o, &err, NULL), 0);
	assert_int_equal(o.restart, KEEL_RESTART_NO);
	keel_runopts_free(&o);
	expect_error("--restart foo img", "invalid restart policy 'foo'");
	expect_error("--restart on-failure:x img",
		     "invalid restart policy format: maximum retry count must be an integer");
	expect_error("--restart always:3 img",
		     "maximum retry count cannot be used with restart policy 'always'");
	expect_error("--rm --restart always img",
		     "conflicting options: cannot specify both --restart and --rm");
}

/* restart.h's type is the one runopts.h uses: the monitor and the parser agree. */
static void test_restart_type_shared(void **state)
{
	struct keel_run_opts o;
	struct keel_restart_policy p;
	keel_error_t err;

	(void)state;
	for (int m = KEEL_RESTART_NO; m <= KEEL_RESTART_UNLESS_STOPPED; m++) {
		char line[64];
		snprintf(line, sizeof(line), "--restart %s img", keel_restart_name(m));
		assert_int_equal(parse_line(line, &o, &err, NULL), 0);
		assert_int_equal(keel_restart_parse(keel_restart_name(o.restart), &p, &err), 0);
		assert_int_equal(p.mode, m);
		keel_runopts_free(&o);
	}
}

static void test_log_options(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;
	json_t *lc;

	(void)state;
	assert_int_equal(parse_line("--log-driver json-file --log-opt max-size=10m --log-opt "
				    "max-file=3 --log-opt compress=true --log-opt labels=a img",
				    &o, &err, NULL),
			 0);
	assert_string_equal(o.log_driver, "json-file");
	lc = keel_logconfig_json(o.log_driver, o.log_opts);
	assert_string_equal(json_string_value(json_object_get(lc, "Type")), "json-file");
	assert_string_equal(
	    json_string_value(json_object_get(json_object_get(lc, "Config"), "max-size")), "10m");
	json_decref(lc);
	keel_runopts_free(&o);
	assert_int_equal(parse_line("--log-driver none img", &o, &err, NULL), 0);
	keel_runopts_free(&o);
	/* dockerd's and the docker CLI's words */
	expect_error("--log-driver syslog img", "logger: no log driver named 'syslog' is registered");
	expect_error("--log-opt foo=1 img", "unknown log opt 'foo' for json-file log driver");
	expect_error("--log-driver none --log-opt max-size=1m img",
		     "invalid logging opts for driver none");
	expect_error("--log-opt max-size=abc img", "invalid size: 'abc'");
	expect_error("--log-opt max-size=0 img", "max-size must be a positive number");
	expect_error("--log-opt max-file=0 img", "max-file cannot be less than 1");
	expect_error("--log-opt max-size=1m --log-opt max-file=x img",
		     "strconv.Atoi: parsing \"x\": invalid syntax");
	expect_error("--log-opt compress=yes img",
		     "strconv.ParseBool: parsing \"yes\": invalid syntax");
	expect_error("--log-opt max-size=1m --log-opt compress=true img",
		     "compress cannot be true when max-file is less than 2 or max-size is not set");
}

/* What the monitor gets from a container record: sizes, and attrs as dockerd writes them. */
static void test_log_monitor_opts(void **state)
{
	keel_error_t err;
	struct keel_logconfig lc;
	struct keel_monitor_opts mo = { .log_path = "/x" };
	json_t *doc = json_pack(
	    "{s:{s:{s:s, s:{s:s, s:s, s:s, s:s, s:s, s:s}}}, s:{s:{s:s, s:s}, s:[s, s, s]}}",
	    "HostConfig", "LogConfig", "Type", "json-file", "Config", "max-size", "1k", "max-file",
	    "2", "compress", "1", "labels", "app,missing", "env", "B", "env-regex", "^Z", "Config",
	    "Labels", "app", "a<b", "other", "o", "Env", "B=2", "ZED=z", "C=3");

	(void)state;
	assert_int_equal(keel_logconfig_monitor_opts(doc, &mo, &lc, &err), 0);
	assert_string_equal(mo.log_path, "/x");
	assert_int_equal(mo.log_max_size, 1000);
	assert_int_equal(mo.log_max_files, 2);
	assert_true(mo.log_compress);
	assert_string_equal(mo.log_attrs, "{\"B\":\"2\",\"ZED\":\"z\",\"app\":\"a\\u003cb\"}");
	keel_logconfig_free(&lc);
	json_decref(doc);
	doc = json_pack("{s:{s:{s:s}}}", "HostConfig", "LogConfig", "Type", "none");
	assert_int_equal(keel_logconfig_monitor_opts(doc, &mo, &lc, &err), 0);
	assert_null(mo.log_path);
	assert_null(mo.log_attrs);
	keel_logconfig_free(&lc);
	json_decref(doc);
	/* an old record without LogConfig: json-file, no rotation */
	doc = json_object();
	mo.log_path = "/x";
	assert_int_equal(keel_logconfig_monitor_opts(doc, &mo, &lc, &err), 0);
	assert_string_equal(mo.log_path, "/x");
	assert_int_equal(mo.log_max_size, -1);
	assert_int_equal(mo.log_max_files, 1);
	keel_logconfig_free(&lc);
	json_decref(doc);
}

static void test_resources(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("-m 64m --memory-swap=-1 --memory-reservation 32m --cpus 0.5 "
				    "-c 512 --cpuset-cpus 0 --pids-limit 100 --shm-size 128m "
				    "--oom-score-adj -500 --stop-timeout 3 --stop-signal SIGUSR1 img",
				    &o, &err, NULL),
			 0);
	assert_int_equal(o.memory, 64 << 20);
	assert_int_equal(o.memory_swap, -1);
	assert_int_equal(o.memory_reservation, 32 << 20);
	assert_int_equal(o.nano_cpus, 500000000);
	assert_int_equal(o.cpu_shares, 512);
	assert_string_equal(o.cpuset_cpus, "0");
	assert_true(o.has_pids_limit);
	assert_int_equal(o.pids_limit, 100);
	assert_int_equal(o.shm_size, 128 << 20);
	assert_int_equal(o.oom_score_adj, -500);
	assert_int_equal(o.stop_timeout, 3);
	assert_int_equal(o.stop_signal_num, SIGUSR1);
	keel_runopts_free(&o);

	expect_error("--memory-swap 1g img", "You should always set the Memory limit when using "
					     "Memoryswap limit, see usage");
	expect_error("-m 1k img", "Minimum memory limit allowed is 6MB");
	expect_error("-m 10m --memory-swap 5m img",
		     "Minimum memoryswap limit should be larger than memory limit, see usage");
	expect_error("--memory-reservation 1g -m 512m img",
		     "Minimum memory limit can not be less than memory reservation limit, see usage");
	expect_error("--cpus 0.5 --cpu-period 1000 img",
		     "Conflicting options: Nano CPUs and CPU Period cannot both be set");
}

static void test_ulimits(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("--ulimit nofile=1024:2048 --ulimit nproc=50 img", &o, &err,
				    NULL),
			 0);
	assert_int_equal(o.n_ulimits, 2);
	assert_int_equal(o.ulimits[0].resource, RLIMIT_NOFILE);
	assert_int_equal(o.ulimits[0].soft, 1024);
	assert_int_equal(o.ulimits[0].hard, 2048);
	assert_int_equal(o.ulimits[1].resource, RLIMIT_NPROC);
	assert_int_equal(o.ulimits[1].soft, 50);
	assert_int_equal(o.ulimits[1].hard, 50);
	keel_runopts_free(&o);
	expect_error("--ulimit nofile img", "invalid argument \"nofile\" for \"--ulimit\" flag: "
					    "invalid ulimit argument: nofile");
	expect_error("--ulimit foo=1 img", "invalid argument \"foo=1\" for \"--ulimit\" flag: "
					   "invalid ulimit type: foo");
	expect_error("--ulimit nofile=2:1 img",
		     "invalid argument \"nofile=2:1\" for \"--ulimit\" flag: ulimit soft limit "
		     "must be less than or equal to hard limit: 2 > 1");
	expect_error("--ulimit nofile=a img", "invalid argument \"nofile=a\" for \"--ulimit\" "
					      "flag: strconv.ParseInt: parsing \"a\": invalid "
					      "syntax");
}

static void test_mounts(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("-v /tmp:/mnt:ro,rslave -v /:/r --mount "
				    "type=bind,source=/tmp,target=/m2,readonly --mount "
				    "type=tmpfs,target=/t2,tmpfs-size=1000000,tmpfs-mode=1770 "
				    "--tmpfs /run --tmpfs /x:size=1m,noexec -v named:/data img",
				    &o, &err, NULL),
			 0);
	assert_int_equal(o.n_mounts, 7);
	assert_int_equal(o.mounts[0].kind, KEEL_MOUNT_BIND);
	assert_string_equal(o.mounts[0].source, "/tmp");
	assert_string_equal(o.mounts[0].target, "/mnt");
	assert_true(o.mounts[0].readonly);
	assert_string_equal(o.mounts[0].propagation, "rslave");
	assert_false(o.mounts[1].readonly);
	assert_true(o.mounts[2].readonly);
	assert_false(o.mounts[2].from_volume_flag);
	assert_int_equal(o.mounts[3].kind, KEEL_MOUNT_TMPFS);
	assert_string_equal(o.mounts[3].options[0], "size=1000000");
	assert_string_equal(o.mounts[3].options[1], "mode=1770");
	assert_int_equal(o.mounts[4].kind, KEEL_MOUNT_TMPFS);
	assert_null(o.mounts[4].options);
	assert_string_equal(o.mounts[5].options[1], "noexec");
	assert_int_equal(o.mounts[6].kind, KEEL_MOUNT_VOLUME);
	keel_runopts_free(&o);

	expect_error("-v /a:b img", "invalid volume specification: '/a:b': invalid mount config "
				    "for type \"bind\": invalid mount path: 'b' mount path must be "
				    "absolute");
	expect_error("-v a:b:c:d img", "invalid volume specification: 'a:b:c:d'");
	expect_error("-v /a:/b:xx img", "invalid mode: xx");
	expect_error("-v /a:/b:ro,rw img", "invalid mode: ro,rw");
	expect_error("--mount type=bind img",
		     "invalid argument \"type=bind\" for \"--mount\" flag: target is required");
	expect_error("--mount type=foo,target=/x img",
		     "invalid mount config for type \"foo\": mount type unknown");
	expect_error("--mount type=bind,source=/nonexist/keel,target=/x img",
		     "invalid mount config for type \"bind\": bind source path does not exist: "
		     "/nonexist/keel");
	expect_error("--mount type=bind,target=/x img",
		     "invalid mount config for type \"bind\": field Source must not be empty");
	expect_error("--mount type=tmpfs,source=/a,target=/x img",
		     "invalid mount config for type \"tmpfs\": field Source must not be specified");
	expect_error("--mount target=/x,foo=1 img",
		     "invalid argument \"target=/x,foo=1\" for \"--mount\" flag: unexpected key "
		     "'foo' in 'foo=1'");
	expect_error("--mount type=bind,src=/tmp,target=/x,readonly=maybe img",
		     "invalid argument \"type=bind,src=/tmp,target=/x,readonly=maybe\" for "
		     "\"--mount\" flag: invalid value for readonly: maybe");
	expect_error("--tmpfs relative img",
		     "invalid mount path: 'relative' mount path must be absolute");
}

static void test_security(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("--cap-add net_admin --cap-add CAP_SYS_TIME --cap-drop all "
				    "--security-opt no-new-privileges --security-opt "
				    "seccomp=unconfined --privileged --init --read-only img",
				    &o, &err, NULL),
			 0);
	assert_string_equal(o.cap_add[0], "CAP_NET_ADMIN");
	assert_string_equal(o.cap_add[1], "CAP_SYS_TIME");
	assert_string_equal(o.cap_drop[0], "ALL");
	assert_true(o.no_new_privileges && o.seccomp_unconfined && o.privileged && o.init &&
		    o.read_only);
	keel_runopts_free(&o);
	assert_int_equal(parse_line("--security-opt no-new-privileges:false --security-opt "
				    "apparmor=unconfined img",
				    &o, &err, NULL),
			 0);
	assert_false(o.no_new_privileges);
	keel_runopts_free(&o);

	expect_error("--cap-add FOO img", "invalid CapAdd: unknown capability: \"CAP_FOO\"");
	expect_error("--security-opt foo img", "Invalid --security-opt: \"foo\"");
	expect_error("--security-opt no-new-privileges:maybe img",
		     "invalid --security-opt 2: \"no-new-privileges:maybe\"");
	expect_error("--security-opt seccomp=/nonexist.json img",
		     "opening seccomp profile (/nonexist.json) failed: open /nonexist.json: no "
		     "such file or directory");
	expect_error("--security-opt apparmor=docker-default img",
		     "--security-opt apparmor=docker-default: keel does not apply AppArmor "
		     "profiles (only apparmor=unconfined is accepted)");
}

static void test_network(void **state)
{
	struct keel_run_opts o;
	keel_error_t err;

	(void)state;
	assert_int_equal(parse_line("--network host img", &o, &err, NULL), 0);
	assert_int_equal(o.network, KEEL_NETWORK_HOST);
	keel_runopts_free(&o);
	assert_int_equal(parse_line("--net=none img", &o, &err, NULL), 0);
	assert_int_equal(o.network, KEEL_NETWORK_NONE);
	keel_runopts_free(&o);
	expect_error("--network bridge img",
		     "bridge networking is not available yet: use --network none or --network host");
	expect_error("--network foo img", "network foo not found");
	expect_error("--network host --sysctl net.core.somaxconn=1 img",
		     "sysctl \"net.core.somaxconn\" not allowed in host network namespace");
}

static void test_help_text(void **state)
{
	(void)state;
	assert_non_null(strstr(keel_runopts_help(), "-d, --detach"));
	assert_non_null(strstr(keel_runopts_help(), "bridge networking is not available yet"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_basic_flags),  cmocka_unit_test(test_env_bare_and_files),
		cmocka_unit_test(test_sizes),	     cmocka_unit_test(test_value_errors),
		cmocka_unit_test(test_restart),	     cmocka_unit_test(test_resources),
		cmocka_unit_test(test_ulimits),	     cmocka_unit_test(test_mounts),
		cmocka_unit_test(test_security),     cmocka_unit_test(test_network),
		cmocka_unit_test(test_help_text),
		cmocka_unit_test(test_restart_type_shared), cmocka_unit_test(test_log_options),
		cmocka_unit_test(test_log_monitor_opts),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
