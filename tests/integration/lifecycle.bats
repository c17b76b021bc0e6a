#!/usr/bin/env bats
# Container lifecycle through the runc-compatible CLI: create/start/state/kill/delete, run,
# list, ps, pause/resume and their error texts and exit codes.

load ../lib/common

@test "run: foreground exit status, stdout and stderr pass through" {
	make_bundle "$BUNDLE" sh -c 'echo to-stdout; echo to-stderr >&2; exit 42'
	run --separate-stderr rt run --bundle "$BUNDLE" "$ID"
	assert_status 42
	assert_eq "$output" "to-stdout"
	assert_eq "$stderr" "to-stderr"
	# a foreground run deletes the container when it exits
	no_trace_of "$ID"
}

@test "run: the container reads the runtime's stdin" {
	make_bundle "$BUNDLE" sh -c 'read line; echo "got:$line"'
	run rt run --bundle "$BUNDLE" "$ID" <<<"hello"
	assert_status 0
	assert_eq "$output" "got:hello"
}

@test "create -> created, exact pid file, start -> running, kill -> stopped, delete -> gone" {
	make_bundle "$BUNDLE" sh -c 'echo started > /started; exec sleep 300'
	json_set "$BUNDLE/config.json" 'c["annotations"] = {"org.example.key": "value"}'
	create_container "$ID" "$BUNDLE"

	# pid file: decimal, no newline, the live init
	local pidfile=$BATS_TEST_TMPDIR/$ID.pid pid
	pid=$(cat "$pidfile")
	assert_match "$pid" '^[1-9][0-9]*$'
	assert_eq "$(stat -c %s "$pidfile")" "${#pid}"
	kill -0 "$pid"

	run rt state "$ID"
	assert_status 0
	assert_jq "$output" '.ociVersion | test("^1\\.0\\.")'
	assert_jq "$output" '.id == $id' --arg id "$ID"
	assert_jq "$output" '.pid == ($pid | tonumber)' --arg pid "$pid"
	assert_jq "$output" '.status == "created"'
	assert_jq "$output" '.bundle == $b' --arg b "$BUNDLE"
	assert_jq "$output" '.rootfs == $b + "/rootfs"' --arg b "$BUNDLE"
	assert_jq "$output" '.created | test("^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]+Z$")'
	assert_jq "$output" '.annotations == {"org.example.key": "value"}'
	assert_jq "$output" 'has("owner")'
	# runc prints the state indented by two spaces
	assert_match "$(sed -n 2p <<<"$output")" '^  "ociVersion": '
	# the user program must not have run yet
	[[ ! -e $BUNDLE/rootfs/started ]] || fail "process ran before start"

	run rt start "$ID"
	assert_status 0
	assert_eq "$output" ""
	run rt state "$ID"
	assert_jq "$output" '.status == "running"'
	assert_jq "$output" '.pid == ($pid | tonumber)' --arg pid "$pid"
	poll 5 test -e "$BUNDLE/rootfs/started"
	# the pid in the pid file is the process that became process.args
	poll 5 grep -q sleep "/proc/$pid/cmdline"

	run rt start "$ID"
	assert_status 1
	assert_contains "$output" "cannot start an already running container"

	run rt kill "$ID" KILL
	assert_status 0
	wait_status "$ID" stopped
	run rt state "$ID"
	assert_jq "$output" '.pid == 0'
	assert_jq "$output" '.status == "stopped"'

	run rt kill "$ID" 9
	assert_status 1
	assert_contains "$output" "container not running"
	run rt kill --all "$ID" 9
	assert_status 0

	run rt delete "$ID"
	assert_status 0
	assert_eq "$output" ""
	run rt state "$ID"
	assert_status 1
	assert_contains "$output" "container does not exist"
	no_trace_of "$ID"
}

@test "state: no annotations key when there are none" {
	make_bundle "$BUNDLE" sleep 300
	json_set "$BUNDLE/config.json" 'c.pop("annotations", None)'
	create_container "$ID" "$BUNDLE"
	run rt state "$ID"
	assert_status 0
	assert_jq "$output" 'has("annotations") | not'
}

@test "kill: signal numbers, names with and without SIG, any case; unknown signal" {
	make_bundle "$BUNDLE" sh -c 'trap "echo usr1 >> /sig" USR1; trap "echo term >> /sig; exit 0" TERM; touch /ready; while :; do sleep 0.05; done'
	run_container "$ID" "$BUNDLE"
	poll 5 test -e "$BUNDLE/rootfs/ready"

	local n=0 s
	for s in USR1 SIGUSR1 usr1 sigusr1 10; do
		run rt kill "$ID" "$s"
		assert_status 0
		n=$((n + 1))
		poll 5 eval '[[ $(grep -c usr1 "$BUNDLE/rootfs/sig" 2>/dev/null) -eq $n ]]'
	done

	run rt kill "$ID" SIGFOO
	assert_status 1
	assert_contains "$output" 'unknown signal \"SIGFOO\"'

	# the default signal is SIGTERM
	run rt kill "$ID"
	assert_status 0
	wait_status "$ID" stopped
	assert_contains "$(cat "$BUNDLE/rootfs/sig")" term
}

@test "kill of a created (never started) container stops it" {
	make_bundle "$BUNDLE" sh -c 'echo ran > /ran; sleep 300'
	create_container "$ID" "$BUNDLE"
	run rt kill "$ID" KILL
	assert_status 0
	wait_status "$ID" stopped
	run rt start "$ID"
	assert_status 1
	[[ ! -e $BUNDLE/rootfs/ran ]] || fail "the user program ran"
	run rt delete "$ID"
	assert_status 0
	no_trace_of "$ID"
}

@test "kill --all on a stopped container exits 0, plain kill says container not running" {
	make_bundle "$BUNDLE" true
	run_container "$ID" "$BUNDLE"
	wait_status "$ID" stopped
	run rt kill "$ID" 15
	assert_status 1
	assert_contains "$output" "container not running"
	run rt kill --all "$ID" 9
	assert_status 0
	run rt kill -a "$ID" KILL
	assert_status 0
}

@test "run -d: detaches with the container running" {
	make_bundle "$BUNDLE" sleep 300
	track "$ID"
	rt_capture run -d --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/p" "$ID"
	assert_status 0
	assert_eq "$output" ""
	assert_eq "$stderr" ""
	assert_pidfile "$BATS_TEST_TMPDIR/p"
	run rt state "$ID"
	assert_jq "$output" '.status == "running"'
	assert_jq "$output" '.pid == ($p | tonumber)' --arg p "$(cat "$BATS_TEST_TMPDIR/p")"
}

@test "create: duplicate ID is refused and the first container is unharmed" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	assert_contains "$stderr" "already exists"
	assert_eq "$(container_status "$ID")" created
	assert_eq "$(container_pid "$ID")" "$pid"
	kill -0 "$pid"
}

@test "create: a missing binary fails at create with exit 1 and leaves nothing" {
	make_bundle "$BUNDLE" /nonexistent
	track "$ID"
	rt_capture create --bundle "$BUNDLE" --pid-file "$BATS_TEST_TMPDIR/p" "$ID"
	assert_status 1
	# docker maps this text to exit code 127: the path and "no such file or directory"
	assert_contains "$stderr" "/nonexistent"
	assert_contains "$stderr" "no such file or directory"
	[[ ! -e $BATS_TEST_TMPDIR/p ]] || fail "pid file written for a failed create"
	no_trace_of "$ID"
}

@test "create: ID reuse after delete works" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	run rt delete --force "$ID"
	assert_status 0
	no_trace_of "$ID"
	create_container "$ID" "$BUNDLE"
	assert_eq "$(container_status "$ID")" created
}

@test "delete: running without --force is refused; --force kills and removes" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	run rt delete "$ID"
	assert_status 1
	assert_contains "$output" "cannot delete container $ID that is not stopped: running"
	kill -0 "$pid"
	run rt delete --force "$ID"
	assert_status 0
	assert_eq "$output" ""
	# the init may linger as a zombie until its parent reaps it; it must be dead
	poll 5 eval "[[ ! -e /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status"
	no_trace_of "$ID"
}

@test "delete: a created (never started) container is killed and deleted" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	run rt delete "$ID"
	assert_status 0
	poll 5 eval "[[ ! -e /proc/$pid ]] || grep -q '^State:.*Z' /proc/$pid/status"
	no_trace_of "$ID"
}

@test "delete: unknown ID fails with 'container does not exist'; with --force exits 0" {
	run rt delete "nosuch-$ID"
	assert_status 1
	assert_contains "$output" "container does not exist"
	run rt delete --force "nosuch-$ID"
	assert_status 0
	run rt delete -f "nosuch-$ID"
	assert_status 0
}

@test "list: table, -q and --format json" {
	make_bundle "$BUNDLE" sleep 300
	json_set "$BUNDLE/config.json" 'c["annotations"] = {"k": "v"}'
	run_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")

	run rt list
	assert_status 0
	assert_match "$(sed -n 1p <<<"$output")" '^ID +PID +STATUS +BUNDLE +CREATED +OWNER$'
	assert_match "$(sed -n 2p <<<"$output")" "^$ID +$pid +running +$BUNDLE +[0-9T:.-]+Z +root$"
	assert_eq "$(wc -l <<<"$output")" 2

	run rt list -q
	assert_status 0
	assert_eq "$output" "$ID"

	run rt list --format json
	assert_status 0
	assert_eq "$(wc -l <<<"$output")" 1
	assert_jq "$output" 'length == 1'
	assert_jq "$output" '.[0].id == $id and .[0].status == "running" and .[0].owner == "root"' --arg id "$ID"
	assert_jq "$output" '.[0].pid == ($p | tonumber) and .[0].bundle == $b' --arg p "$pid" --arg b "$BUNDLE"
	assert_jq "$output" '.[0].annotations == {"k": "v"}'
}

@test "list: empty root" {
	run rt list -q
	assert_status 0
	assert_eq "$output" ""
	run rt list --format json
	assert_status 0
	assert_jq "$output" '. == [] or . == null'
}

@test "ps --format json prints the init pid" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	run rt ps --format json "$ID"
	assert_status 0
	assert_eq "$output" "[$pid]"
}

@test "ps: table keeps only the container's processes" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	local pid
	pid=$(container_pid "$ID")
	run rt ps "$ID"
	assert_status 0
	assert_match "$(sed -n 1p <<<"$output")" 'PID'
	assert_eq "$(wc -l <<<"$output")" 2
	assert_contains "$(sed -n 2p <<<"$output")" " $pid "
}

@test "pause / resume: states, freezer, error texts" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"

	run rt resume "$ID"
	assert_status 1
	assert_contains "$output" "container not paused"

	run rt pause "$ID"
	assert_status 0
	assert_eq "$output" ""
	assert_eq "$(container_status "$ID")" paused
	assert_eq "$(cat "$(cgroup_dir freezer)/freezer.state")" FROZEN

	run rt pause "$ID"
	assert_status 1
	assert_contains "$output" "container not running"

	run rt exec "$ID" true
	assert_status 255
	assert_contains "$output" "cannot exec in a paused container"

	run rt resume "$ID"
	assert_status 0
	assert_eq "$(container_status "$ID")" running
	assert_eq "$(cat "$(cgroup_dir freezer)/freezer.state")" THAWED

	run rt resume "$ID"
	assert_status 1
	assert_contains "$output" "container not paused"
}

@test "pause / resume of a created container returns it to created; start still works" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	run rt pause "$ID"
	assert_status 0
	assert_eq "$(container_status "$ID")" paused
	run rt resume "$ID"
	assert_status 0
	assert_eq "$(container_status "$ID")" created
	run rt start "$ID"
	assert_status 0
	assert_eq "$(container_status "$ID")" running
}

@test "delete --force of a paused container" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	run rt pause "$ID"
	assert_status 0
	run rt delete --force "$ID"
	assert_status 0
	no_trace_of "$ID"
}

@test "stopped container: exit of the init is seen as stopped, delete removes the cgroup" {
	make_bundle "$BUNDLE" sh -c 'exit 3'
	run_container "$ID" "$BUNDLE"
	wait_status "$ID" stopped
	[[ -d $(cgroup_dir pids) ]] || fail "cgroup of a stopped container removed before delete"
	run rt delete "$ID"
	assert_status 0
	no_trace_of "$ID"
}

@test "cgroupsPath is honoured in every v1 controller" {
	make_bundle "$BUNDLE" sleep 300
	create_container "$ID" "$BUNDLE"
	local pid c
	pid=$(container_pid "$ID")
	for c in memory pids cpu cpuacct devices freezer blkio cpuset; do
		grep -qE "^[0-9]+:([^:]*,)?$c(,[^:]*)?:/$CG_PREFIX/$ID\$" "/proc/$pid/cgroup" ||
			fail "$c not at /$CG_PREFIX/$ID: $(cat /proc/"$pid"/cgroup)"
		grep -qx "$pid" "$(cgroup_dir "$c")/cgroup.procs" || fail "$pid not in $c cgroup.procs"
	done	# named and unified hierarchies too: the init joins v1 itself and is born in the cgroup2
	# (clone3 CLONE_INTO_CGROUP), so nothing may be left behind in the runtime's cgroups
	grep -qE "^[0-9]+:name=systemd:/$CG_PREFIX/$ID\$" "/proc/$pid/cgroup" ||
		fail "name=systemd: $(cat /proc/"$pid"/cgroup)"
	if grep -q '^0::' /proc/self/cgroup; then
		grep -qx "0::/$CG_PREFIX/$ID" "/proc/$pid/cgroup" ||
			fail "cgroup2: $(cat /proc/"$pid"/cgroup)"
	fi
	# and an exec'd process lands in the same ones
	run rt exec "$ID" cat /proc/self/cgroup
	assert_status 0
	assert_eq "$output" "$(cat "/proc/$pid/cgroup")"
}
