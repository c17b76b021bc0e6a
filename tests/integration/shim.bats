#!/usr/bin/env bats
# The process model containerd's shim relies on (runc-cli-surface.md §3): the runtime is run by a
# child subreaper with --log BUNDLE/log.json --log-format json; the container init and detached
# exec'd processes are descendants of the runtime that get reparented to the subreaper, which
# reaps them and takes their exit status; no monitor process is left behind.

load ../lib/common

# under_subreaper SCRIPT: run SCRIPT (bash) under tests/helpers/subreaper.py; REPORT is set.
under_subreaper() {
	REPORT=$BATS_TEST_TMPDIR/reaper.report
	export -f rt
	export ROOT BUNDLE ID BATS_TEST_TMPDIR
	python3 "$REPO/tests/helpers/subreaper.py" "$REPORT" -- bash -euc "$1" \
		>"$BATS_TEST_TMPDIR/reaper.out" 2>&1 </dev/null ||
		fail "subreaper: $(cat "$BATS_TEST_TMPDIR/reaper.out")"
}

report_line() {
	sed -n "s/^$1 //p" "$REPORT"
}

# no_error_records FILE: a successful sequence logs no error-level record.
no_error_records() {
	[[ ! -e $1 ]] && return 0
	local n
	n=$(grep -c '"level":"error"' "$1" || true)
	[[ $n -eq 0 ]] || fail "error records in $1: $(cat "$1")"
}

@test "shim: create+start under a subreaper; the init is reparented to it and its exit status is 7" {
	make_bundle "$BUNDLE" sh -c 'sleep 0.5; exit 7'
	track "$ID"
	under_subreaper '
		cd "$BUNDLE"
		rt --log "$BUNDLE/log.json" --log-format json create --bundle "$BUNDLE" --pid-file "$BUNDLE/init.pid" "$ID"
		rt --log "$BUNDLE/log.json" --log-format json start "$ID"'
	local pid
	pid=$(cat "$BUNDLE/init.pid")
	assert_eq "$(report_line command)" 0
	# the init is the subreaper's only child: no monitor or helper process left around
	assert_eq "$(report_line children)" "$pid"
	assert_eq "$(report_line "$pid")" 7
	assert_eq "$(wc -l <"$REPORT")" 3
	wait_status "$ID" stopped
	run rt --log "$BUNDLE/log.json" --log-format json delete "$ID"
	assert_status 0
	run rt --log "$BUNDLE/log.json" --log-format json delete --force "$ID"
	assert_status 0
	no_error_records "$BUNDLE/log.json"
	no_trace_of "$ID"
}

@test "shim: kill 9 of the init gives the subreaper status 137" {
	make_bundle "$BUNDLE" sleep 300
	track "$ID"
	under_subreaper '
		rt create --bundle "$BUNDLE" --pid-file "$BUNDLE/init.pid" "$ID"
		rt start "$ID"
		rt kill "$ID" 9'
	local pid
	pid=$(cat "$BUNDLE/init.pid")
	assert_eq "$(report_line command)" 0
	assert_eq "$(report_line "$pid")" 137
}

@test "shim: exec --detach: the exec'd process is reparented to the subreaper with its status" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	echo '{"args":["sh","-c","sleep 0.3; exit 5"],"cwd":"/","env":["PATH=/bin"],"user":{"uid":0,"gid":0}}' >"$BATS_TEST_TMPDIR/p.json"
	under_subreaper '
		rt --log "$BUNDLE/log.json" --log-format json exec --process "$BATS_TEST_TMPDIR/p.json" --detach --pid-file "$BUNDLE/e.pid" "$ID"'
	local pid
	pid=$(cat "$BUNDLE/e.pid")
	assert_eq "$(report_line command)" 0
	assert_eq "$(report_line children)" "$pid"
	assert_eq "$(report_line "$pid")" 5
	no_error_records "$BUNDLE/log.json"
}

@test "shim: create of a missing binary logs an error record naming it" {
	make_bundle "$BUNDLE" /nonexistent
	track "$ID"
	rt_capture --log "$BUNDLE/log.json" --log-format json create --bundle "$BUNDLE" --pid-file "$BUNDLE/init.pid" "$ID"
	assert_status 1
	local rec
	rec=$(grep '"level":"error"' "$BUNDLE/log.json" | tail -1)
	assert_jq "$rec" '.msg | contains("/nonexistent") and contains("no such file or directory")'
	assert_jq "$rec" 'has("time")'
	# the shim's cleanup
	run rt delete --force "$ID"
	assert_status 0
	no_trace_of "$ID"
}

@test "shim: docker stop sequence (kill 15 ignored by pid 1, kill 9, delete, delete --force)" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	run rt kill "$ID" 15
	assert_status 0
	sleep 0.2
	# sleep as pid 1 has no TERM handler: the kernel does not deliver it
	assert_eq "$(container_status "$ID")" running
	run rt kill "$ID" 9
	assert_status 0
	wait_status "$ID" stopped
	run rt delete "$ID"
	assert_status 0
	run rt delete --force "$ID"
	assert_status 0
	no_trace_of "$ID"
}

@test "shim: --pid host style container: kill --all 9 kills every process" {
	make_bundle "$BUNDLE" sleep 300
	json_set "$BUNDLE/config.json" 'c["linux"]["namespaces"] = [n for n in c["linux"]["namespaces"] if n["type"] != "pid"]'
	run_container "$ID" "$BUNDLE"
	rt_capture exec -d --pid-file "$BATS_TEST_TMPDIR/e1.pid" "$ID" sleep 300
	assert_status 0
	local init e1
	init=$(container_pid "$ID")
	e1=$(cat "$BATS_TEST_TMPDIR/e1.pid")
	run rt kill --all "$ID" 9
	assert_status 0
	local p
	for p in "$init" "$e1"; do
		poll 5 eval "[[ ! -e /proc/$p ]] || grep -q '^State:.*Z' /proc/$p/status"
	done
	wait_status "$ID" stopped
}

@test "--preserve-fds N passes fds 3..3+N-1 and nothing else" {
	echo preserved-content >"$BATS_TEST_TMPDIR/pf"
	make_bundle "$BUNDLE" sh -c 'cat <&3; ls -l /proc/self/fd'
	# bats keeps its own fd 3; give the runtime our file as 3 and an extra 4 it must close
	run bash -c 'exec 3<"$1" 4</etc/hostname; shift; exec "$@"' _ "$BATS_TEST_TMPDIR/pf" \
		"$KEEL_RUNTIME" --root "$ROOT" run --preserve-fds 1 --bundle "$BUNDLE" "$ID"
	assert_status 0
	assert_eq "$(sed -n 1p <<<"$output")" preserved-content
	# 0 1 2 3 (busybox ls -l does not list its own, by then closed, directory fd)
	assert_eq "$(awk '$(NF-1) == "->" { printf "%s ", $(NF-2) }' <<<"$output")" "0 1 2 3 "
	assert_contains "$(grep ' 3 -> ' <<<"$output")" "$BATS_TEST_TMPDIR/pf"
}
