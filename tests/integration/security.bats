#!/usr/bin/env bats
# Confinement: seccomp, devices cgroup, no host fd leaks (CVE-2024-21626), the runtime binary
# not reachable from the container (CVE-2019-5736).

load ../lib/common

# check_fds: stdin is `ls -l /proc/self/fd` from inside; only 0, 1, 2 may be open, plus the
# directory fd ls itself reads /proc/self/fd through (busybox lists it or not).
check_fds() {
	local line n target seen=
	while read -r line; do
		[[ $line == *" -> "* ]] || continue
		target=${line##* -> }
		n=${line% -> *}
		n=${n##* }
		seen+="$n "
		case $n in
		0 | 1 | 2) ;;
		*) [[ $target =~ ^/proc/[0-9]+/fd$ ]] || fail "fd $n leaked: $target" ;;
		esac
	done
	assert_match "$seen" '^0 1 2 ([0-9]+ )?$'
}

@test "seccomp: a profile returning EPERM for mkdir" {
	make_bundle "$BUNDLE" sh -c 'mkdir /tmp/x 2>&1; echo rc=$?; touch /tmp/y && echo touch-ok'
	json_set "$BUNDLE/config.json" '
c["linux"]["seccomp"] = {
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64", "SCMP_ARCH_X86", "SCMP_ARCH_X32"],
  "syscalls": [{"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO"}]}'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_contains "$output" "Operation not permitted"
	assert_contains "$output" "rc=1"
	assert_contains "$output" "touch-ok"
	[[ ! -e $BUNDLE/rootfs/tmp/x ]]
	assert_match "$(grep ^Seccomp: "/proc/self/status")" 'Seccomp:[[:space:]]+0'
}

@test "seccomp: errnoRet, argument conditions, and the status line" {
	# ENOSYS(38) for mkdir; umask(0o22) only is refused (argument equality)
	make_bundle "$BUNDLE" sh -c 'grep ^Seccomp: /proc/self/status; mkdir /tmp/x 2>&1; umask 077 && echo umask-077-ok; umask 022 2>&1 || echo umask-022-refused'
	json_set "$BUNDLE/config.json" '
c["linux"]["seccomp"] = {
  "defaultAction": "SCMP_ACT_ALLOW",
  "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [
    {"names": ["mkdir", "mkdirat"], "action": "SCMP_ACT_ERRNO", "errnoRet": 38},
    {"names": ["umask"], "action": "SCMP_ACT_ERRNO", "args": [{"index": 0, "value": 18, "op": "SCMP_CMP_EQ"}]}]}'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_match "$output" 'Seccomp:[[:space:]]+2'
	assert_contains "$output" "Function not implemented"
	assert_contains "$output" "umask-077-ok"
}

@test "seccomp: defaultAction errno with an allow list; exec'd processes are confined too" {
	make_bundle "$BUNDLE" sleep 300
	python3 - "$BUNDLE/config.json" <<-'PY'
		import json, sys
		p = sys.argv[1]
		c = json.load(open(p))
		# a generous allow list without mkdir/mkdirat; everything else is refused with EPERM
		allow = """read write open openat close stat fstat lstat newfstatat statx poll lseek mmap
		mprotect munmap brk rt_sigaction rt_sigprocmask rt_sigreturn ioctl pread64 pwrite64 readv
		writev access pipe pipe2 select sched_yield mremap dup dup2 dup3 nanosleep clock_nanosleep
		getpid getppid getuid getgid geteuid getegid gettid getpgrp setpgid getpgid setsid
		clone clone3 fork vfork execve execveat exit exit_group wait4 waitid kill tgkill uname
		fcntl getdents getdents64 getcwd chdir fchdir readlink readlinkat prctl arch_prctl
		set_tid_address set_robust_list futex getrlimit prlimit64 sysinfo umask getrandom
		rseq unlink unlinkat faccessat faccessat2 sigaltstack capget capset setgroups setuid setgid
		setresuid setresgid getresuid getresgid fstatfs statfs epoll_create1 epoll_ctl epoll_wait
		epoll_pwait socket connect close_range getgroups setns mount umount2 pivot_root
		sethostname setdomainname keyctl chown fchown fchownat lchown seccomp ppoll pselect6
		restart_syscall times getpriority setpriority sched_getaffinity""".split()
		c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ERRNO",
		    "architectures": ["SCMP_ARCH_X86_64"],
		    "syscalls": [{"names": allow, "action": "SCMP_ACT_ALLOW"}]}
		json.dump(c, open(p, "w"))
	PY
	run_container "$ID" "$BUNDLE"
	run rt exec "$ID" sh -c 'mkdir /tmp/z 2>&1; echo rc=$?; grep ^Seccomp: /proc/self/status'
	assert_status 0
	assert_contains "$output" "Operation not permitted"
	assert_match "$output" 'Seccomp:[[:space:]]+2'
	[[ ! -e $BUNDLE/rootfs/tmp/z ]]
}

@test "seccomp: an unknown syscall name or action fails create" {
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" '
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_BOGUS", "syscalls": []}'
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	no_trace_of "$ID"
}

@test "devices cgroup: default deny keeps /dev/null usable, other devices unusable" {
	# CAP_MKNOD is granted so that only the devices cgroup stands in the way.
	make_bundle "$BUNDLE" sh -c '
echo x > /dev/null && echo null-ok
head -c 4 /dev/zero | wc -c
head -c 4 /dev/urandom | wc -c
if mknod /tmp/mem c 1 1 2>/dev/null; then
	head -c 1 /tmp/mem >/dev/null 2>&1 && echo mem-readable || echo mem-blocked
else
	echo mknod-blocked
fi
if mknod /tmp/sda b 8 0 2>/dev/null; then
	head -c 1 /tmp/sda >/dev/null 2>&1 && echo sda-readable || echo sda-blocked
else
	echo mknod-b-blocked
fi'
	json_set "$BUNDLE/config.json" '
for k in ("bounding", "effective", "permitted"):
    c["process"]["capabilities"][k].append("CAP_MKNOD")'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$(sed -n 1,3p <<<"$output")" $'null-ok\n4\n4'
	assert_match "$(sed -n 4p <<<"$output")" '^(mem-blocked|mknod-blocked)$'
	assert_match "$(sed -n 5p <<<"$output")" '^(sda-blocked|mknod-b-blocked)$'
}

@test "devices cgroup: the container's devices.list is not 'a *:* rwm'" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	local list
	list=$(cat "$(cgroup_dir devices)/devices.list")
	assert_not_contains "$list" "a *:* rwm"
	assert_contains "$list" "c 1:3 rwm"
}

@test "linux.devices: a configured device node is created and allowed" {
	make_bundle "$BUNDLE" sh -c 'stat -c "%F %t:%T %a" /dev/kfull; head -c 3 /dev/kfull | wc -c'
	json_set "$BUNDLE/config.json" '
c["linux"]["devices"] = [{"path": "/dev/kfull", "type": "c", "major": 1, "minor": 7, "fileMode": 438, "uid": 0, "gid": 0}]
c["linux"]["resources"]["devices"].append({"allow": True, "type": "c", "major": 1, "minor": 7, "access": "rwm"})'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$output" $'character special file 1:7 666\n3'
}

@test "CVE-2024-21626: no host fds leak into the container (run)" {
	make_bundle "$BUNDLE" ls -l /proc/self/fd
	# extra fds open in the runtime's environment (bats also keeps fd 3 open)
	exec 7</etc/hostname 8>"$BATS_TEST_TMPDIR/fd8" 9</sys/fs/cgroup
	run rt run --bundle "$BUNDLE" "$ID"
	exec 7<&- 8>&- 9<&-
	assert_status 0
	check_fds <<<"$output"
	assert_not_contains "$output" hostname
	assert_not_contains "$output" cgroup
}

@test "CVE-2024-21626: no host fds leak into exec'd processes" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	exec 7</etc/hostname 9</sys/fs/cgroup
	run rt exec "$ID" ls -l /proc/self/fd
	exec 7<&- 9<&-
	assert_status 0
	check_fds <<<"$output"
	assert_not_contains "$output" cgroup
}

@test "CVE-2024-21626: no leaked fds in the init between create and start" {
	make_bundle "$BUNDLE" sleep 300
	echo "host-secret-$$" >"$BATS_TEST_TMPDIR/secret"
	exec 7<"$BATS_TEST_TMPDIR/secret" 9</sys/fs/cgroup
	create_container "$ID" "$BUNDLE"
	exec 7<&- 9<&-
	local pid fds
	pid=$(container_pid "$ID")
	# whatever the waiting init holds must not point at host files or directories
	fds=$(ls -l "/proc/$pid/fd" | awk '$(NF-1) == "->" { print $NF }')
	assert_not_contains "$fds" /sys/fs/cgroup
	assert_not_contains "$fds" "$BATS_TEST_TMPDIR/secret"
	# the attack: a process in the container with CAP_SYS_PTRACE walks the init's fds
	run rt exec --cap CAP_SYS_PTRACE "$ID" sh -c '
for f in /proc/1/fd/*; do
	[ -d "$f" ] && echo "DIR $f: $(ls "$f" | head -3 | tr "\n" " ")"
	[ -f "$f" ] && cat "$f"
done; true'
	assert_status 0
	assert_not_contains "$output" "host-secret-$$"
	assert_not_contains "$output" "DIR "
}

@test "CVE-2024-21626: process.cwd /proc/self/fd/N cannot reach the host" {
	# runc 1.1.5 is vulnerable (fixed in 1.1.12): only checked for keel.
	is_keel || skip "runc 1.1.5 is vulnerable to this"
	local n
	for n in 3 4 5 6 7 8 9; do
		make_bundle "$BUNDLE.$n" sh -c 'ls ../../../../../../etc/hostname >/dev/null 2>&1 && cat ../../../../../../proc/1/comm; pwd'
		json_set "$BUNDLE.$n/config.json" "c['process']['cwd'] = '/proc/self/fd/$n'"
		exec 7</etc/hostname 9</sys/fs/cgroup
		run rt run --bundle "$BUNDLE.$n" "$ID-$n"
		exec 7<&- 9<&-
		track "$ID-$n"
		# either refused by the runtime (exit 1), or the cwd is inside the container
		# (then pid 1 there is our sh, not the host's init)
		[[ $status -eq 0 || $status -eq 1 ]] || fail "fd $n: exit $status: $output"
		if [[ $status -eq 0 ]]; then
			assert_not_contains "$output" "$(cat /proc/1/comm)"
		fi
	done
}

@test "CVE-2019-5736: the init of a created container is not the host runtime binary" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	local pid bin
	pid=$(container_pid "$ID")
	bin=$(readlink -f "$KEEL_RUNTIME")
	if is_keel; then
		# keel runs its init through a detached read-only bind mount of its binary (or a
		# sealed memfd copy), never the host file on a writable mount. (runc 1.1.5 as packaged
		# here runs the host file and relies on ETXTBSY, checked below for both.)
		local ro
		ro=$(python3 -c 'import os, sys; print(int(bool(os.statvfs(sys.argv[1]).f_flag & os.ST_RDONLY)))' "/proc/$pid/exe")
		[[ $(readlink "/proc/$pid/exe") == /memfd:* || $ro == 1 ]] ||
			fail "/proc/$pid/exe is the host's writable $bin"
		(: >>"/proc/$pid/exe") 2>/dev/null && fail "/proc/$pid/exe can be opened for writing"
	fi
	# from inside: the container's pid 1 (the waiting init) cannot be opened for writing
	# (only opened, never written, in case it is the host binary)
	run rt exec "$ID" sh -c ': >> /proc/1/exe && echo OPENED-FOR-WRITE'
	assert_not_contains "$output" OPENED-FOR-WRITE
	# the host binary is unchanged and still works
	run "$KEEL_RUNTIME" --version
	assert_status 0
	is_keel || return 0
	# the attack itself: keep a handle on /proc/<init>/exe, wait until no keel process runs
	# the file any more (no ETXTBSY to hide behind), then reopen it for writing
	run python3 - "/proc/$pid/exe" "$KEEL_RUNTIME" "$ROOT" "$ID" <<'PY'
import errno, os, subprocess, sys
fd = os.open(sys.argv[1], os.O_PATH)
subprocess.run([sys.argv[2], "--root", sys.argv[3], "delete", "--force", sys.argv[4]], check=True)
try:
    os.close(os.open("/proc/self/fd/%d" % fd, os.O_WRONLY))
    print("WRITABLE")
except OSError as e:
    print(errno.errorcode[e.errno])
PY
	assert_status 0
	[[ $output == EROFS || $output == EPERM ]] ||
		fail "reopening the init's exe for writing after it exited gave: $output (EROFS: read-only bind; EPERM: sealed memfd)"
}

@test "CVE-2019-5736: exec'd processes do not expose the host runtime binary" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local bin
	bin=$(readlink -f "$KEEL_RUNTIME")
	# while exec runs, look at its process from inside: /proc/self/exe is busybox, and
	# the parent (if visible) is not the host binary
	run rt exec "$ID" sh -c 'stat -L -c %d:%i /proc/self/exe'
	assert_status 0
	[[ $output != "$(stat -c %d:%i "$bin")" ]]
}
