#!/usr/bin/env bats
# process.terminal with --console-socket: exactly one pty master fd sent over the socket the way
# containerd's console.recvFd accepts it; the process's stdio is the pty slave.

load ../lib/common

setup_file() {
	common_setup_file
	build_helper recvtty
}

# start_receiver: run recvtty in the background on $SOCK; its pty output goes to $PTYOUT and the
# protocol report to $REPORT.
start_receiver() {
	SOCK=$BATS_TEST_TMPDIR/c.sock
	REPORT=$BATS_TEST_TMPDIR/report
	PTYOUT=$BATS_TEST_TMPDIR/pty.out
	"$HELPERS/recvtty" "$SOCK" "$REPORT" >"$PTYOUT" 2>"$BATS_TEST_TMPDIR/recvtty.err" </dev/null &
	RECV_PID=$!
	poll 5 test -S "$SOCK"
}

# wait_receiver: recvtty exits once the pty's slave side is closed everywhere.
wait_receiver() {
	poll 10 eval '! kill -0 $RECV_PID 2>/dev/null'
	wait "$RECV_PID" || fail "recvtty failed: $(cat "$BATS_TEST_TMPDIR/recvtty.err")"
	RECV_PID=
}

report() {
	sed -n "s/^$1=//p" "$REPORT"
}

check_protocol() {
	# the runtime returns once the master is sent; the receiver writes its report a moment later
	poll 5 test -s "$REPORT" || true
	[[ -s $REPORT ]] || fail "no message received: $(cat "$BATS_TEST_TMPDIR/recvtty.err")"
	assert_eq "$(report cmsgs)" 1
	assert_eq "$(report fds)" 1
	assert_eq "$(report rights)" 1
	assert_eq "$(report ctrunc)" 0
	assert_eq "$(report tty)" 1
	assert_eq "$(report ptmx)" 1
	local p
	p=$(report payload)
	((p >= 1 && p <= 4095)) || fail "payload of $p bytes"
}

teardown() {
	if [[ -n ${RECV_PID:-} ]]; then
		kill "$RECV_PID" 2>/dev/null || true
		wait "$RECV_PID" 2>/dev/null || true
	fi
	common_teardown
}

@test "console socket: create sends one pty master; the process has the slave as its tty" {
	make_bundle "$BUNDLE" sh -c 'tty; stty size; test -t 0 && test -t 1 && test -t 2 && echo all-tty; echo hello-from-pty'
	json_set "$BUNDLE/config.json" '
c["process"]["terminal"] = True
c["process"]["consoleSize"] = {"height": 33, "width": 111}'
	start_receiver
	create_container "$ID" "$BUNDLE" --console-socket "$SOCK"
	poll 5 test -s "$REPORT"
	check_protocol
	# nothing was written to the runtime's own stdio
	assert_eq "$(cat "$BATS_TEST_TMPDIR/$ID.out" "$BATS_TEST_TMPDIR/$ID.err")" ""
	run rt start "$ID"
	assert_status 0
	wait_receiver
	local out
	out=$(tr -d '\r' <"$PTYOUT")
	assert_match "$(sed -n 1p <<<"$out")" '^/dev/pts/[0-9]+$'
	assert_eq "$(sed -n 2p <<<"$out")" "33 111"
	assert_eq "$(sed -n 3,4p <<<"$out")" $'all-tty\nhello-from-pty'
	wait_status "$ID" stopped
}

@test "console socket: /dev/console is the pty in the container" {
	make_bundle "$BUNDLE" sh -c 'stat -c %t:%T /dev/console; stat -L -c %t:%T /proc/self/fd/0; echo hi > /dev/console'
	json_set "$BUNDLE/config.json" 'c["process"]["terminal"] = True'
	start_receiver
	create_container "$ID" "$BUNDLE" --console-socket "$SOCK"
	run rt start "$ID"
	assert_status 0
	wait_receiver
	local out
	out=$(tr -d '\r' <"$PTYOUT")
	assert_eq "$(sed -n 1p <<<"$out")" "$(sed -n 2p <<<"$out")"
	assert_eq "$(sed -n 3p <<<"$out")" hi
}

@test "console socket: exec -t -d sends a pty for the exec'd process" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	start_receiver
	rt_capture exec -t -d --console-socket "$SOCK" --pid-file "$BATS_TEST_TMPDIR/e.pid" "$ID" sh -c 'tty; echo exec-pty'
	assert_status 0
	check_protocol
	wait_receiver
	local out
	out=$(tr -d '\r' <"$PTYOUT")
	assert_match "$(sed -n 1p <<<"$out")" '^/dev/pts/[0-9]+$'
	assert_eq "$(sed -n 2p <<<"$out")" exec-pty
}

@test "console socket: exec --process with terminal true" {
	make_bundle "$BUNDLE" sleep 300
	run_container "$ID" "$BUNDLE"
	start_receiver
	echo '{"terminal":true,"args":["sh","-c","tty"],"cwd":"/","env":["PATH=/bin","TERM=xterm"],"user":{"uid":0,"gid":0}}' >"$BATS_TEST_TMPDIR/p.json"
	rt_capture exec --process "$BATS_TEST_TMPDIR/p.json" --console-socket "$SOCK" --detach --pid-file "$BATS_TEST_TMPDIR/e.pid" "$ID"
	assert_status 0
	check_protocol
	wait_receiver
	assert_match "$(tr -d '\r' <"$PTYOUT")" '^/dev/pts/[0-9]+$'
}

@test "terminal true without --console-socket: create fails" {
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" 'c["process"]["terminal"] = True'
	rt_capture create --bundle "$BUNDLE" "$ID"
	assert_status 1
	no_trace_of "$ID"
}

@test "--console-socket to a path nobody listens on: create fails and leaves nothing" {
	make_bundle "$BUNDLE" true
	json_set "$BUNDLE/config.json" 'c["process"]["terminal"] = True'
	rt_capture create --bundle "$BUNDLE" --console-socket "$BATS_TEST_TMPDIR/nobody.sock" "$ID"
	assert_status 1
	no_trace_of "$ID"
}
