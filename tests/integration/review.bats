#!/usr/bin/env bats
# Review findings on the OCI runtime (issue 2): each test shows one bug and passes once it is
# fixed. runc 1.1.5 passes every one of them (KEEL_RUNTIME=runc), except where noted.

load ../lib/common

HOLDERS=()
SCRATCH=()

teardown() {
	local p
	# a holder's children first (unshare -f leaves its pid-1 child behind otherwise, and that
	# child would keep bats' pipes open), then the holder; all by pid
	for p in "${HOLDERS[@]}"; do
		kill -9 $(cat /proc/"$p"/task/*/children 2>/dev/null) "$p" 2>/dev/null || true
	done
	common_teardown
	for p in "${SCRATCH[@]}"; do
		rm -rf "$p"
	done
}

# userns_bundle_dir: point BUNDLE into a directory the container's (unmapped-on-the-host) root
# can traverse: bats' own tmpdirs are 0700.
userns_bundle_dir() {
	local d
	d=$(mktemp -d /tmp/keel-review.XXXXXX)
	chmod 755 "$d"
	SCRATCH+=("$d")
	BUNDLE=$d/bundle
}

# holder CMD...: start CMD in the background and remember it for teardown.
holder() {
	"$@" </dev/null >/dev/null 2>&1 3>&- &
	HOLDERS+=($!)
	LAST_HOLDER=$!
}

# userns_bundle: the bundle's rootfs owned by 100000, mappings 0->100000 (65536), no sysfs or
# cgroup mount (neither works in a user namespace without its own network namespace).
userns_bundle() {
	json_set "$BUNDLE/config.json" '
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["mounts"] = [m for m in c["mounts"] if m["type"] not in ("sysfs", "cgroup")]'
	chown -R 100000:100000 "$BUNDLE/rootfs"
}

@test "review: no process.capabilities means no capabilities (runc), not all of root's" {
	make_bundle "$BUNDLE" sh -c 'grep -E "^Cap(Prm|Eff|Bnd)" /proc/self/status'
	json_set "$BUNDLE/config.json" 'del c["process"]["capabilities"]'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_match "$output" 'CapEff:[[:space:]]+0000000000000000'
	assert_match "$output" 'CapBnd:[[:space:]]+0000000000000000'
}

@test "review: exec --process without capabilities gets the container's set, not all of root's" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	cat >"$BATS_TEST_TMPDIR/p.json" <<-'EOF'
	{"args":["grep","-E","^Cap(Eff|Bnd)","/proc/self/status"],"cwd":"/","user":{"uid":0,"gid":0},
	 "env":["PATH=/bin:/usr/bin"]}
	EOF
	rt_capture exec --process "$BATS_TEST_TMPDIR/p.json" "$ID"
	assert_status 0
	# the template's bounding set: CAP_AUDIT_WRITE, CAP_KILL, CAP_NET_BIND_SERVICE
	assert_match "$output" 'CapBnd:[[:space:]]+0000000020000420'
	assert_match "$output" 'CapEff:[[:space:]]+0000000020000420'
}

@test "review: a sysctl outside any kernel namespace is refused; the host keeps its value" {
	local f=/proc/sys/kernel/printk_ratelimit old
	old=$(cat $f)
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" "c['linux']['sysctl'] = {'kernel.printk_ratelimit': '$((old + 7))'}"
	rt_capture run --bundle "$BUNDLE" "$ID"
	local now
	now=$(cat $f)
	echo "$old" >$f
	assert_eq "$now" "$old"
	assert_status 1
	assert_contains "$stderr" "kernel.printk_ratelimit"
}

@test "review: a net.* sysctl without a private network namespace is refused" {
	local f=/proc/sys/net/ipv4/ip_unprivileged_port_start old
	old=$(cat $f)
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" "
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network']
c['linux']['sysctl'] = {'net.ipv4.ip_unprivileged_port_start': '$((old + 1))'}"
	rt_capture run --bundle "$BUNDLE" "$ID"
	local now
	now=$(cat $f)
	echo "$old" >$f
	assert_eq "$now" "$old"
	assert_status 1
}

@test "review: exec'd processes get the container's oomScoreAdj, not the caller's" {
	[[ $(cat /proc/self/oom_score_adj) != 500 ]]
	make_bundle "$BUNDLE" sleep 300
	json_set "$BUNDLE/config.json" 'c["process"]["oomScoreAdj"] = 500'
	run_container "$ID" "$BUNDLE"
	rt_capture exec "$ID" cat /proc/self/oom_score_adj
	assert_status 0
	assert_eq "$output" 500
}

@test "review: LISTEN_FDS is honoured only when LISTEN_PID is the runtime's pid" {
	make_bundle "$BUNDLE" sh -c 'echo "env:$LISTEN_FDS"; ls -l /proc/self/fd/'
	status=0
	output=$(LISTEN_FDS=2 LISTEN_PID=1 "$KEEL_RUNTIME" --root "$ROOT" run --bundle "$BUNDLE" "$ID" \
		3</etc/hostname 4</etc/passwd 2>&1 </dev/null) || status=$?
	assert_status 0
	assert_not_contains "$output" "/etc/passwd"
	assert_not_contains "$output" "/etc/hostname"
	assert_contains "$output" "env:"$'\n'
}

@test "review: the init is a session leader (no TIOCSTI into the caller's terminal)" {
	# field 6 of /proc/self/stat is the session id; seen from inside, 0 = a session outside
	# the container's pid namespace, i.e. the caller's (and its controlling terminal's)
	make_bundle "$BUNDLE" sh -c 'cut -d" " -f6 /proc/self/stat'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$output" 1
}

@test "review: a new user namespace can join an existing network namespace" {
	# Known limitation, documented in docs/runtime.md: keel creates every new namespace in one
	# clone before joining paths; the two-stage join runc does (nsexec) is not built yet.
	is_keel && skip "known limitation: joining namespaces owned by another user namespace"
	local ns=keelrev$$n$BATS_TEST_NUMBER
	ip netns add "$ns"
	NETNS+=("$ns")
	userns_bundle_dir
	make_bundle "$BUNDLE" readlink /proc/self/ns/net
	json_set "$BUNDLE/config.json" "
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'network']
c['linux']['namespaces'] += [{'type': 'user'}, {'type': 'network', 'path': '/var/run/netns/$ns'}]"
	userns_bundle
	rt_capture run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$output" "net:[$(stat -L -c %i "/var/run/netns/$ns")]"
}

@test "review: joining an existing user namespace by path" {
	# Known limitation, documented in docs/runtime.md: keel creates every new namespace in one
	# clone before joining paths; the two-stage join runc does (nsexec) is not built yet.
	is_keel && skip "known limitation: joining namespaces owned by another user namespace"
	holder unshare -U sleep 300
	local up=$LAST_HOLDER
	poll 2 test -e "/proc/$up/uid_map"
	sleep 0.1
	echo "0 100000 65536" >"/proc/$up/uid_map"
	echo "0 100000 65536" >"/proc/$up/gid_map"
	userns_bundle_dir
	make_bundle "$BUNDLE" sh -c 'id -u; cat /proc/self/uid_map'
	json_set "$BUNDLE/config.json" "c['linux']['namespaces'].append({'type': 'user', 'path': '/proc/$up/ns/user'})"
	userns_bundle
	rt_capture run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_match "$output" '^0'
	assert_match "$output" '0[[:space:]]+100000[[:space:]]+65536'
}

@test "review: prestart/createRuntime hooks run in the runtime's pid namespace when joining one" {
	holder unshare -p -f sleep 300
	local h=$LAST_HOLDER child
	poll 2 pgrep -P "$h" sleep
	child=$(pgrep -P "$h" sleep)
	cat >"$BATS_TEST_TMPDIR/hook.sh" <<-EOF
	#!/bin/sh
	readlink /proc/self/ns/pid >>"$BATS_TEST_TMPDIR/hook.out"
	EOF
	chmod +x "$BATS_TEST_TMPDIR/hook.sh"
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" "
c['linux']['namespaces'] = [n for n in c['linux']['namespaces'] if n['type'] != 'pid']
c['linux']['namespaces'].append({'type': 'pid', 'path': '/proc/$child/ns/pid'})
c['hooks'] = {'prestart': [{'path': '$BATS_TEST_TMPDIR/hook.sh'}],
              'createRuntime': [{'path': '$BATS_TEST_TMPDIR/hook.sh'}]}"
	rt_capture run --bundle "$BUNDLE" "$ID"
	assert_status 0
	local want
	want=$(readlink /proc/self/ns/pid)
	assert_eq "$(sort -u "$BATS_TEST_TMPDIR/hook.out")" "$want"
}

@test "review: a uid that cannot be set fails create (runc), not the container after start" {
	userns_bundle_dir
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" '
c["linux"]["namespaces"].append({"type": "user"})
c["process"]["user"] = {"uid": 5000, "gid": 0}'
	userns_bundle
	json_set "$BUNDLE/config.json" '
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 1000}]'
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	assert_contains "$stderr" "uid"
	no_trace_of "$ID"
}

@test "review: a seccomp profile that denies close_range does not break the start (runc)" {
	make_bundle "$BUNDLE" echo started
	json_set "$BUNDLE/config.json" '
c["process"]["noNewPrivileges"] = False
c["linux"]["seccomp"] = {"defaultAction": "SCMP_ACT_ALLOW", "architectures": ["SCMP_ARCH_X86_64"],
  "syscalls": [{"names": ["close_range"], "action": "SCMP_ACT_ERRNO"}]}'
	run rt run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$output" started
}

@test "review: create killed right after making the cgroup: delete --force removes the cgroup" {
	command -v strace >/dev/null || skip "needs strace"
	make_bundle "$BUNDLE" sleep 300
	track "$ID"
	# SIGKILL at the first rename(2): the first state.json save, after the cgroup exists
	timeout -s KILL 20 strace -f -o /dev/null -e trace=rename -e inject=rename:signal=SIGKILL:when=1 \
		"$KEEL_RUNTIME" --root "$ROOT" create --bundle "$BUNDLE" "$ID" </dev/null >/dev/null 2>&1 || true
	run rt delete --force "$ID"
	assert_status 0
	assert_eq "$(leftover_cgroups)" ""
}

@test "review: delete does not kill processes of a cgroup the container only joined" {
	local cg=/$CG_PREFIX/$ID d
	for d in pids freezer memory; do mkdir -p "/sys/fs/cgroup/$d$cg"; done
	holder sleep 300
	local other=$LAST_HOLDER
	for d in pids freezer memory; do echo "$other" >"/sys/fs/cgroup/$d$cg/cgroup.procs"; done
	make_bundle "$BUNDLE" true
	rt_capture run --bundle "$BUNDLE" "$ID"
	local alive=no
	kill -0 "$other" 2>/dev/null && alive=yes
	kill -9 "$other" 2>/dev/null || true
	sleep 0.2
	for d in /sys/fs/cgroup/*$cg; do rmdir "$d" 2>/dev/null || true; done
	assert_eq "$alive" yes
}

@test "review: relative --root and --pid-file are relative to the caller's cwd, not the bundle" {
	make_bundle "$BUNDLE" sleep 300
	local cwd=$BATS_TEST_TMPDIR/cwd
	mkdir -p "$cwd"
	status=0
	(cd "$cwd" && "$KEEL_RUNTIME" --root relroot create --bundle "$BUNDLE" --pid-file rel.pid "$ID" \
		</dev/null >/dev/null 2>&1) || status=$?
	local ok_root=no ok_pid=no
	[[ -f $cwd/relroot/$ID/state.json ]] && ok_root=yes
	[[ -f $cwd/rel.pid ]] && ok_pid=yes
	(cd "$cwd" && "$KEEL_RUNTIME" --root relroot delete --force "$ID") >/dev/null 2>&1 || true
	"$KEEL_RUNTIME" --root "$BUNDLE/relroot" delete --force "$ID" >/dev/null 2>&1 || true
	assert_status 0
	assert_eq "$ok_root" yes
	assert_eq "$ok_pid" yes
}

@test "review: run -t without a console socket gives the pty the caller's window size" {
	command -v script >/dev/null || skip "needs script(1)"
	make_bundle "$BUNDLE" stty size
	json_set "$BUNDLE/config.json" 'c["process"]["terminal"] = True'
	track "$ID"
	output=$(script -qc "stty rows 33 cols 111; $KEEL_RUNTIME --root $ROOT run --bundle $BUNDLE $ID" \
		/dev/null </dev/null 2>&1 | tr -d '\r\0')
	assert_contains "$output" "33 111"
}
