#!/usr/bin/env bats
# config.json applied: process (env, cwd, user, umask, rlimits, capabilities, noNewPrivileges),
# hostname/domainname, root.readonly, masked/readonly paths, namespaces (user, net, pid, joined by
# path), sysctl; and malformed configs rejected at create, leaving nothing behind.

load ../lib/common

# run_fg: `run` the bundle in the foreground; sets status/output/stderr.
run_fg() {
	run --separate-stderr rt run --bundle "$BUNDLE" "$ID"
}

# bad_config 'python edit': create must fail with exit 1 and leave nothing; the message is in
# $stderr for the caller to check.
bad_config() {
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" "$1"
	rt_capture create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/p" "$ID"
	assert_status 1
	[[ ! -e $BATS_TEST_TMPDIR/p ]] || fail "pid file written"
	no_trace_of "$ID"
}

@test "malformed config: wrong type (process.args is a string)" {
	bad_config 'c["process"]["args"] = "sh"'
	assert_contains "$stderr" "args"
	if is_keel; then assert_contains "$stderr" "process.args"; fi
}

@test "malformed config: missing root" {
	bad_config 'del c["root"]'
	assert_contains "$stderr" "root"
}

@test "malformed config: missing process" {
	bad_config 'del c["process"]'
	assert_contains "$stderr" "process"
}

@test "malformed config: unknown namespace type" {
	bad_config 'c["linux"]["namespaces"].append({"type": "foo"})'
	assert_contains "$stderr" "foo"
	if is_keel; then assert_contains "$stderr" "namespace"; fi
}

@test "malformed config: unknown rlimit type" {
	bad_config 'c["process"]["rlimits"] = [{"type": "RLIMIT_FOO", "hard": 1, "soft": 1}]'
	assert_contains "$stderr" "RLIMIT_FOO"
}

@test "malformed config: ociVersion is a number" {
	bad_config 'c["ociVersion"] = 5'
	assert_contains "$stderr" "ociVersion"
}

@test "malformed config: truncated JSON" {
	make_bundle "$BUNDLE" true
	echo '{"ociVersion": ' >"$BUNDLE/config.json"
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	no_trace_of "$ID"
}

@test "malformed config: missing config.json" {
	make_bundle "$BUNDLE" true
	rm "$BUNDLE/config.json"
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	assert_contains "$stderr" "config.json"
	no_trace_of "$ID"
}

@test "hostname and domainname" {
	make_bundle "$BUNDLE" sh -c 'hostname; cat /proc/sys/kernel/domainname'
	json_set "$BUNDLE/config.json" 'c["hostname"] = "kh-test"; c["domainname"] = "kd.example"'
	run_fg
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" kh-test
	# runc 1.1.5 ignores domainname (it prints "(none)"); the OCI spec says to set it
	if is_keel; then assert_eq "$(sed -n 2p <<<"$output")" kd.example; fi
	# the host's are untouched
	[[ $(hostname) != kh-test ]]
}

@test "env, cwd, uid, gid, additionalGids, umask" {
	make_bundle "$BUNDLE" sh -c 'echo "$FOO|$BAR"; pwd; id -u; id -g; grep ^Groups: /proc/self/status; umask'
	json_set "$BUNDLE/config.json" '
p = c["process"]
p["env"] = ["PATH=/bin:/usr/bin", "FOO=foo value", "BAR="]
p["cwd"] = "/home"
p["user"] = {"uid": 1000, "gid": 1000, "additionalGids": [5, 65534], "umask": 0o027}
'
	run_fg
	assert_status 0
	assert_eq "$(sed -n 1,4p <<<"$output")" $'foo value|\n/home\n1000\n1000'
	assert_match "$(sed -n 5p <<<"$output")" '^Groups:[[:space:]]+5 65534[[:space:]]*$'
	assert_eq "$(sed -n 6p <<<"$output")" 0027
}

@test "cwd that does not exist is created" {
	make_bundle "$BUNDLE" pwd
	json_set "$BUNDLE/config.json" 'c["process"]["cwd"] = "/does/not/exist"'
	run_fg
	assert_status 0
	assert_eq "$output" /does/not/exist
}

@test "rlimits are applied" {
	make_bundle "$BUNDLE" sh -c 'grep -E "^Max (open files|processes|core file size)" /proc/self/limits'
	json_set "$BUNDLE/config.json" 'c["process"]["rlimits"] = [
 {"type": "RLIMIT_NOFILE", "soft": 512, "hard": 1000},
 {"type": "RLIMIT_NPROC", "soft": 300, "hard": 400},
 {"type": "RLIMIT_CORE", "soft": 0, "hard": 0}]'
	run_fg
	assert_status 0
	assert_match "$output" 'Max open files +512 +1000 +files'
	assert_match "$output" 'Max processes +300 +400 +processes'
	assert_match "$output" 'Max core file size +0 +0 +bytes'
}

@test "rlimits: a NOFILE hard limit above the host's, without CAP_SYS_RESOURCE, is clamped and logged" {
	# root here lacks CAP_SYS_RESOURCE, so no process can raise a hard limit. runc 1.1.5 and
	# crun 1.8.1 refuse to start ("error setting rlimit type 7: operation not permitted"), which
	# breaks podman's default ulimits. keel's documented choice (docs/runtime.md): clamp to the
	# host's hard limit and write a warning to --log.
	local eff
	eff=$((16#$(awk '/^CapEff:/ { print $2 }' /proc/self/status)))
	((eff & (1 << 24))) && skip "this host has CAP_SYS_RESOURCE"
	local hard
	hard=$(ulimit -Hn)
	[[ $hard != unlimited ]] || skip "NOFILE hard limit is unlimited"
	make_bundle "$BUNDLE" sh -c 'ulimit -Sn; ulimit -Hn'
	json_set "$BUNDLE/config.json" "c['process']['rlimits'] = [{'type': 'RLIMIT_NOFILE', 'soft': $((hard + 500)), 'hard': $((hard + 1000))}]"
	if ! is_keel; then
		rt_capture create --bundle "$BUNDLE" "$ID"
		assert_status 1
		assert_contains "${stderr,,}" "not permitted"
		no_trace_of "$ID"
		return
	fi
	run rt --log "$BATS_TEST_TMPDIR/log.json" --log-format json run --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$output" "$hard"$'\n'"$hard"
	assert_contains "$(cat "$BATS_TEST_TMPDIR/log.json")" '"level":"warning"'
	assert_contains "$(cat "$BATS_TEST_TMPDIR/log.json")" "clamped"
}

@test "capabilities: CapEff/CapPrm/CapBnd inside match the config" {
	make_bundle "$BUNDLE" grep -E '^Cap(Eff|Prm|Bnd|Inh|Amb):' /proc/self/status
	run_fg
	assert_status 0
	# runc spec default: CAP_KILL(5) | CAP_NET_BIND_SERVICE(10) | CAP_AUDIT_WRITE(29)
	assert_match "$output" 'CapEff:[[:space:]]+0000000020000420'
	assert_match "$output" 'CapPrm:[[:space:]]+0000000020000420'
	assert_match "$output" 'CapBnd:[[:space:]]+0000000020000420'

	json_set "$BUNDLE/config.json" '
caps = ["CAP_CHOWN", "CAP_NET_ADMIN", "CAP_SYS_ADMIN"]
c["process"]["capabilities"] = {"bounding": caps + ["CAP_NET_RAW"], "effective": caps, "permitted": caps}'
	run_fg
	assert_status 0
	# CHOWN(0) NET_ADMIN(12) SYS_ADMIN(21); NET_RAW(13) only in the bounding set
	assert_match "$output" 'CapEff:[[:space:]]+0000000000201001'
	assert_match "$output" 'CapPrm:[[:space:]]+0000000000201001'
	assert_match "$output" 'CapBnd:[[:space:]]+0000000000203001'
}

@test "capabilities: a non-root user keeps the configured capabilities (ambient)" {
	make_bundle "$BUNDLE" grep -E '^Cap(Eff|Amb):' /proc/self/status
	json_set "$BUNDLE/config.json" '
caps = ["CAP_NET_BIND_SERVICE"]
c["process"]["user"] = {"uid": 1000, "gid": 1000}
c["process"]["capabilities"] = {k: caps for k in ["bounding", "effective", "permitted", "inheritable", "ambient"]}'
	run_fg
	assert_status 0
	assert_match "$output" 'CapEff:[[:space:]]+0000000000000400'
	assert_match "$output" 'CapAmb:[[:space:]]+0000000000000400'
}

@test "noNewPrivileges true and false" {
	make_bundle "$BUNDLE" grep ^NoNewPrivs: /proc/self/status
	json_set "$BUNDLE/config.json" 'c["process"]["noNewPrivileges"] = True'
	run_fg
	assert_status 0
	assert_match "$output" 'NoNewPrivs:[[:space:]]+1$'
	json_set "$BUNDLE/config.json" 'c["process"]["noNewPrivileges"] = False'
	run_fg
	assert_status 0
	assert_match "$output" 'NoNewPrivs:[[:space:]]+0$'
}

@test "root.readonly: / is read-only, /dev and /proc still work" {
	make_bundle "$BUNDLE" sh -c 'touch /x 2>&1; echo rc=$?; echo ok > /dev/null && echo devnull; test -r /proc/self/status && echo proc'
	json_set "$BUNDLE/config.json" 'c["root"]["readonly"] = True'
	run_fg
	assert_status 0
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" "rc=1"
	assert_contains "$output" "devnull"
	assert_contains "$output" "proc"
	[[ ! -e $BUNDLE/rootfs/x ]]
}

@test "maskedPaths: files read empty, directories are empty" {
	# /proc/kcore does not exist on every kernel (not on this VM's); /proc/keys and
	# /proc/timer_list are in the default list too. Host /sys/firmware is not empty.
	local f files=()
	for f in /proc/kcore /proc/keys /proc/timer_list; do
		[[ -e $f ]] && files+=("$f")
	done
	((${#files[@]})) || skip "no masked /proc file exists on this kernel"
	[[ -n $(ls -A /sys/firmware) ]] || skip "host /sys/firmware is empty"
	make_bundle "$BUNDLE" sh -c 'for f in "$@"; do wc -c < "$f"; done; ls -A /sys/firmware | wc -l' sh "${files[@]}"
	run_fg
	assert_status 0
	local expected=
	for f in "${files[@]}"; do expected+=$'0\n'; done
	assert_eq "$output" "${expected}0"
	assert_eq "$stderr" ""
}

@test "readonlyPaths: /proc/sys is mounted read-only" {
	make_bundle "$BUNDLE" sh -c 'grep " /proc/sys " /proc/self/mountinfo; (echo x > /proc/sys/kernel/domainname) 2>&1; echo rc=$?; (echo x > /proc/sysrq-trigger) 2>&1; echo rc=$?'
	run_fg
	assert_status 0
	assert_match "$(grep ' /proc/sys ' <<<"$output")" ' /proc/sys ro[, ]'
	assert_contains "$output" "Read-only file system"
	assert_eq "$(grep -c rc=1 <<<"$output")" 2
}

@test "pid namespace: the container process is pid 1" {
	make_bundle "$BUNDLE" sh -c 'echo $$; ps -o pid,comm | wc -l'
	run_fg
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" 1
	# header + sh + ps + wc: nothing of the host is visible
	[[ $(sed -n 2p <<<"$output") -le 4 ]] || fail "host processes visible: $output"
}

@test "network namespace: only lo" {
	make_bundle "$BUNDLE" sh -c 'tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d " "; ls /sys/class/net'
	run_fg
	assert_status 0
	assert_eq "$output" $'lo\nlo'
}

@test "no network namespace: the host's interfaces are visible" {
	make_bundle "$BUNDLE" sh -c 'tail -n +3 /proc/net/dev | wc -l; readlink /proc/self/ns/net'
	json_set "$BUNDLE/config.json" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "network"]'
	run_fg
	assert_status 0
	assert_eq "$(sed -n 2p <<<"$output")" "$(readlink /proc/self/ns/net)"
}

@test "joining an existing network namespace by path" {
	local ns=keel-t$BATS_TEST_NUMBER-$$
	ip netns add "$ns"
	NETNS+=("$ns")
	make_bundle "$BUNDLE" sh -c 'stat -L -c %i /proc/self/ns/net'
	json_set "$BUNDLE/config.json" "
for n in c['linux']['namespaces']:
    if n['type'] == 'network':
        n['path'] = '/run/netns/$ns'"
	run_fg
	assert_status 0
	assert_eq "$output" "$(stat -L -c %i "/run/netns/$ns")"
}

@test "joining a namespace: a path that is not a namespace fails at create" {
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" "
for n in c['linux']['namespaces']:
    if n['type'] == 'network':
        n['path'] = '/etc/hostname'"
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	no_trace_of "$ID"
}

@test "user namespace with uidMappings: root inside, mapped uid outside" {
	# the mapped root must be able to reach the bundle
	local d=$BATS_TEST_TMPDIR
	while [[ $d != / ]]; do
		chmod o+x "$d"
		d=$(dirname "$d")
	done
	make_bundle "$BUNDLE" sh -c 'id -u; id -g; cat /proc/self/uid_map; exec sleep 300'
	json_set "$BUNDLE/config.json" '
c["linux"]["namespaces"].append({"type": "user"})
c["linux"]["uidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]
c["linux"]["gidMappings"] = [{"containerID": 0, "hostID": 100000, "size": 65536}]'
	run_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	poll 5 grep -q sleep "/proc/$pid/cmdline"
	local out=$BATS_TEST_TMPDIR/$ID.out
	assert_eq "$(sed -n 1,2p "$out")" $'0\n0'
	assert_match "$(sed -n 3p "$out")" '^ +0 +100000 +65536$'
	assert_match "$(grep ^Uid: "/proc/$pid/status")" '^Uid:[[:space:]]+100000[[:space:]]+100000'
	assert_match "$(grep ^Gid: "/proc/$pid/status")" '^Gid:[[:space:]]+100000[[:space:]]+100000'
	[[ $(readlink "/proc/$pid/ns/user") != "$(readlink /proc/self/ns/user)" ]]
}

@test "sysctl is applied inside the container's namespaces" {
	make_bundle "$BUNDLE" sh -c 'cat /proc/sys/net/ipv4/ip_unprivileged_port_start /proc/sys/net/ipv4/ping_group_range'
	json_set "$BUNDLE/config.json" 'c["linux"]["sysctl"] = {"net.ipv4.ip_unprivileged_port_start": "0", "net.ipv4.ping_group_range": "0 2147483647"}'
	run_fg
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" 0
	assert_match "$(sed -n 2p <<<"$output")" '^0[[:space:]]+2147483647$'
}

@test "mounts: tmpfs and a read-only bind mount from the host" {
	mkdir "$BATS_TEST_TMPDIR/shared"
	echo from-host >"$BATS_TEST_TMPDIR/shared/f"
	make_bundle "$BUNDLE" sh -c 'cat /mnt/b/f; (echo x > /mnt/b/g) 2>&1; echo rc=$?; grep " /mnt/t " /proc/self/mountinfo'
	json_set "$BUNDLE/config.json" "
c['mounts'].append({'destination': '/mnt/b', 'type': 'bind', 'source': '$BATS_TEST_TMPDIR/shared', 'options': ['rbind', 'ro', 'rprivate']})
c['mounts'].append({'destination': '/mnt/t', 'type': 'tmpfs', 'source': 'tmpfs', 'options': ['nosuid', 'size=1m']})"
	run_fg
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" from-host
	assert_contains "$output" "Read-only file system"
	assert_contains "$output" "rc=1"
	assert_contains "$(grep ' /mnt/t ' <<<"$output")" tmpfs
	[[ ! -e $BATS_TEST_TMPDIR/shared/g ]]
}
