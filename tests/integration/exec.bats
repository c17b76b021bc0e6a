#!/usr/bin/env bats
# exec: foreground status, flags, --process FILE, --detach --pid-file, failures (255).

load ../lib/common

setup() {
	common_setup
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	INIT_PID=$(container_pid "$ID")
}

@test "exec: foreground exit status and stdio pass through" {
	run --separate-stderr rt exec "$ID" sh -c 'echo out; echo err >&2; exit 42'
	assert_status 42
	assert_eq "$output" "out"
	assert_eq "$stderr" "err"
	run rt exec "$ID" true
	assert_status 0
	assert_eq "$output" ""
	run rt exec "$ID" sh -c 'read x; echo "in:$x"' <<<"abc"
	assert_status 0
	assert_eq "$output" "in:abc"
}

@test "exec: a process killed by a signal gives 128+signal" {
	run rt exec "$ID" sh -c 'kill -KILL $$'
	assert_status 137
}

@test "exec: joins the init's namespaces and cgroups, not pid 1" {
	run rt exec "$ID" sh -c 'echo $$; for n in pid net mnt uts ipc; do readlink /proc/self/ns/$n; done'
	assert_status 0
	local first
	first=$(sed -n 1p <<<"$output")
	[[ $first != 1 ]] || fail "exec'd process is pid 1"
	local ns expected
	expected=$(for ns in pid net mnt uts ipc; do readlink "/proc/$INIT_PID/ns/$ns"; done)
	assert_eq "$(sed 1d <<<"$output")" "$expected"
	run rt exec "$ID" cat /proc/self/cgroup
	assert_status 0
	assert_eq "$output" "$(cat "/proc/$INIT_PID/cgroup")"
}

@test "exec: -e, --cwd, -u uid:gid, --additional-gids" {
	run rt exec -e FOO=bar -e BAZ=qux "$ID" sh -c 'echo "$FOO $BAZ"'
	assert_status 0
	assert_eq "$output" "bar qux"
	# the config's env is kept
	run rt exec "$ID" sh -c 'echo $PATH'
	assert_contains "$output" "/bin"
	run rt exec --cwd /tmp "$ID" pwd
	assert_status 0
	assert_eq "$output" "/tmp"
	run rt exec -u 1000:1000 "$ID" sh -c 'id -u; id -g'
	assert_status 0
	assert_eq "$output" $'1000\n1000'
	run rt exec -u 1000 --additional-gids 5 --additional-gids 65534 "$ID" sh -c 'grep ^Groups: /proc/self/status'
	assert_status 0
	assert_match "$output" '^Groups:[[:space:]]+5 65534[[:space:]]*$'
}

@test "exec: --cap adds a capability to the default set" {
	run rt exec "$ID" grep ^CapEff: /proc/self/status
	assert_status 0
	# CAP_KILL | CAP_NET_BIND_SERVICE | CAP_AUDIT_WRITE
	assert_match "$output" '0000000020000420$'
	run rt exec --cap CAP_SYS_ADMIN "$ID" grep ^CapEff: /proc/self/status
	assert_status 0
	assert_match "$output" '0000000020200420$'
}

@test "exec: --no-new-privs" {
	json_set "$BUNDLE/config.json" 'c["process"]["noNewPrivileges"] = False'
	run rt exec --no-new-privs "$ID" grep ^NoNewPrivs: /proc/self/status
	assert_status 0
	assert_match "$output" '1$'
}

@test "exec --process FILE (docker's process JSON)" {
	local p=$BATS_TEST_TMPDIR/process.json
	cat >"$p" <<-'EOF'
		{"user":{"uid":1000,"gid":0,"additionalGids":[0]},"args":["sh","-c","id -u; id -g; pwd; echo $FOO; grep ^CapBnd: /proc/self/status; grep ^NoNewPrivs: /proc/self/status; exit 7"],
		 "env":["PATH=/usr/sbin:/usr/bin:/sbin:/bin","HOSTNAME=7fda5fc19944","FOO=bar"],"cwd":"/tmp",
		 "capabilities":{"bounding":["CAP_CHOWN","CAP_KILL"],"effective":["CAP_CHOWN","CAP_KILL"],"permitted":["CAP_CHOWN","CAP_KILL"]},
		 "rlimits":[{"type":"RLIMIT_NOFILE","hard":1024,"soft":1024}],"noNewPrivileges":true,"oomScoreAdj":0}
	EOF
	run rt exec --process "$p" "$ID"
	assert_status 7
	assert_eq "$(sed -n 1,4p <<<"$output")" $'1000\n0\n/tmp\nbar'
	# CAP_CHOWN | CAP_KILL
	assert_match "$(sed -n 5p <<<"$output")" '0000000000000021$'
	assert_match "$(sed -n 6p <<<"$output")" '1$'
}

@test "exec --detach --pid-file: exact pid file, process in the container, runtime gone" {
	local pf=$BATS_TEST_TMPDIR/exec.pid
	rt_capture exec --detach --pid-file "$pf" "$ID" sleep 200
	assert_status 0
	assert_eq "$output" ""
	local pid
	pid=$(cat "$pf")
	assert_match "$pid" '^[1-9][0-9]*$'
	assert_eq "$(stat -c %s "$pf")" "${#pid}"
	kill -0 "$pid"
	poll 5 grep -q sleep "/proc/$pid/cmdline"
	assert_eq "$(readlink "/proc/$pid/ns/pid")" "$(readlink "/proc/$INIT_PID/ns/pid")"
	assert_eq "$(cat "/proc/$pid/cgroup")" "$(cat "/proc/$INIT_PID/cgroup")"
	run rt ps --format json "$ID"
	assert_jq "$output" 'sort == ([$a, $b] | map(tonumber) | sort)' --arg a "$INIT_PID" --arg b "$pid"
	# -d is the short form
	rt_capture exec -d --pid-file "$pf.2" "$ID" sleep 200
	assert_status 0
	assert_pidfile "$pf.2"
}

@test "exec --detach --process FILE --pid-file (the shim's form)" {
	local p=$BATS_TEST_TMPDIR/process.json pf=$BATS_TEST_TMPDIR/e.pid
	echo '{"args":["sh","-c","echo detached > /exec-ran; sleep 100"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$p"
	rt_capture exec --process "$p" --detach --pid-file "$pf" "$ID"
	assert_status 0
	assert_eq "$output$stderr" ""
	assert_pidfile "$pf"
	poll 5 test -e "$BUNDLE/rootfs/exec-ran"
}

@test "exec: missing binary exits 255 with the path and 'no such file or directory'" {
	run rt exec "$ID" /nonexistent
	assert_status 255
	assert_contains "$output" "/nonexistent"
	assert_contains "$output" "no such file or directory"
	# the container is unharmed
	assert_eq "$(container_status "$ID")" running
}

@test "exec: a binary in PATH is found, a missing one is 'executable file not found'" {
	run rt exec "$ID" busybox true
	assert_status 0
	run rt exec "$ID" nosuchcommand
	assert_status 255
	assert_contains "$output" "nosuchcommand"
}

@test "exec: -t without a console socket fails with 255" {
	run rt exec -t "$ID" true
	assert_status 255
}

@test "exec into a paused container: 255" {
	run rt pause "$ID"
	assert_status 0
	run rt exec "$ID" true
	assert_status 255
	assert_contains "$output" "exec failed: cannot exec in a paused container"
	# (--ignore-paused is not tested: runc 1.1.5's exec then blocks in the frozen cgroup)
	run rt resume "$ID"
	assert_status 0
}

@test "exec into a stopped container fails" {
	run rt kill "$ID" 9
	wait_status "$ID" stopped
	run rt exec "$ID" true
	assert_status 255
	assert_contains "$output" "stopped"
}

@test "exec keeps the container's rlimits, cwd default / and the config env" {
	run rt exec "$ID" sh -c 'pwd; echo $TERM; grep "Max open files" /proc/self/limits'
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" /
	assert_eq "$(sed -n 2p <<<"$output")" xterm
	assert_match "$(sed -n 3p <<<"$output")" 'Max open files +1024 +1024 '
}
