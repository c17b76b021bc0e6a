#!/usr/bin/env bats
# Container tools: top, stats, diff, cp (both directions, tar streams, a hostile symlink),
# export, commit, port. Private roots per file; everything removed after each test.

load ../lib/common

setup_file() {
	[[ $(id -u) -eq 0 ]] || skip "integration tests need root"
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { :; }

k() {
	"$KEEL" "$@"
}

# kq ARGS: like `run k ARGS` with stdin from /dev/null, stdout and stderr apart.
kq() {
	local o=$BATS_TEST_TMPDIR/kq.out e=$BATS_TEST_TMPDIR/kq.err
	status=0
	"$KEEL" "$@" >"$o" 2>"$e" </dev/null || status=$?
	output=$(cat "$o")
	stderr=$(cat "$e")
}

# monitor_pid ID: the monitor pid recorded for a container ("" when none).
monitor_pid() {
	jq -r '.monitor_pid // empty' "$KEEL_ROOT/containers/$1/monitor.json" 2>/dev/null || true
}

# leftovers ID: what is still there of a removed container: its directory, cgroups, any
# mount (in any process's namespace) that names it, its runtime state.
leftovers() {
	local id=$1 d
	[[ -e $KEEL_ROOT/containers/$id ]] && echo "dir $KEEL_ROOT/containers/$id"
	[[ -e $KEEL_RUN_ROOT/runtime/$id ]] && echo "runtime state $id"
	for d in /sys/fs/cgroup/*/keel/"$id"; do
		[[ -d $d ]] && echo "cgroup $d"
	done
	grep -l "$id" /proc/[0-9]*/mountinfo 2>/dev/null | sed 's/^/mount in /'
	return 0
}

teardown() {
	local ids id pid problems=()
	ids=$(k ps -aq --no-trunc 2>/dev/null || true)
	for id in $ids; do
		pid=$(monitor_pid "$id")
		k rm -f "$id" >/dev/null 2>&1 || true
		if [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null &&
			[[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) != Z ]]; then
			sleep 0.5
			if [[ $(awk '{print $3}' "/proc/$pid/stat" 2>/dev/null) == [RSD] ]]; then
				problems+=("monitor $pid of $id still running")
				kill -9 "$pid" 2>/dev/null || true
			fi
		fi
		local left
		left=$(leftovers "$id")
		[[ -z $left ]] || problems+=("$left")
	done
	if ((${#problems[@]})); then
		printf 'teardown: %s\n' "${problems[@]}" >&2
		return 1
	fi
}

teardown_file() { :; }

@test "top: the container's processes in ps -ef columns" {
	k run -d --name tp busybox sh -c 'sleep 1000' >/dev/null
	poll 5 bash -c "'$KEEL' top tp | grep -q 'sleep 1000'"
	run k top tp
	assert_status 0
	assert_match "${lines[0]}" '^UID +PID +PPID +C +STIME +TTY +TIME +CMD'
	assert_contains "$output" "sleep 1000"
	run k top tp -o pid,comm
	assert_match "${lines[0]}" '^PID +COMMAND'
	k stop -t 0 tp >/dev/null
	run k top tp
	assert_status 1
	assert_contains "$output" "is not running"
}

@test "stats --no-stream: docker's columns, pids and memory from the cgroup" {
	k run -d --name st busybox sh -c 'sleep 1000 & sleep 1000; true' >/dev/null
	run k stats --no-stream st
	assert_status 0
	assert_match "${lines[0]}" '^CONTAINER ID +NAME +CPU % +MEM USAGE / LIMIT +MEM % +NET I/O +BLOCK I/O +PIDS$'
	assert_match "${lines[1]}" ' st +[0-9.]+% +[0-9.]+[KMG]?i?B / [0-9.]+[KMG]iB .* 3$'
	run k stats --no-stream --format '{{.Name}} {{.PIDs}}' st
	assert_eq "$output" "st 3"
}

@test "diff: A/C/D of the container's layer, not the runtime's mount points" {
	k run --name df busybox sh -c 'echo x > /newfile; rm /bin/ls; mkdir -p /tmp/d' >/dev/null
	run k diff df
	assert_status 0
	assert_eq "$output" "$(printf 'C /bin\nD /bin/ls\nA /newfile\nC /tmp\nA /tmp/d')"
}

@test "cp: host to container and back, tar streams, symlinks stay inside" {
	k run -d --name cpc busybox sh -c 'ln -s / /escape; ln -s /etc/passwd /pw; sleep 1000' >/dev/null
	echo hello >"$BATS_TEST_TMPDIR/h.txt"
	run k cp "$BATS_TEST_TMPDIR/h.txt" cpc:/tmp/
	assert_status 0
	assert_eq "$(k exec cpc cat /tmp/h.txt)" "hello"
	run k cp cpc:/tmp/h.txt "$BATS_TEST_TMPDIR/back.txt"
	assert_status 0
	assert_eq "$(cat "$BATS_TEST_TMPDIR/back.txt")" "hello"
	# a link in the container resolves inside it: /escape/etc/hostname is the container's
	run k cp cpc:/escape/etc/hostname "$BATS_TEST_TMPDIR/hn"
	assert_status 0
	assert_eq "$(cat "$BATS_TEST_TMPDIR/hn")" "$(k exec cpc hostname)"
	# writing through a container symlink never reaches the host
	run k cp "$BATS_TEST_TMPDIR/h.txt" cpc:/escape/tmp/through.txt
	[[ ! -e /tmp/through.txt ]]
	run bash -c "'$KEEL' cp cpc:/tmp/h.txt - | tar -xO"
	assert_eq "$output" "hello"
	run k cp cpc:/nonexistent "$BATS_TEST_TMPDIR/x"
	assert_status 1
	# a stopped container works too (its rootfs mounted privately for the copy)
	k stop -t 0 cpc >/dev/null
	run k cp cpc:/tmp/h.txt "$BATS_TEST_TMPDIR/stopped.txt"
	assert_status 0
	assert_eq "$(cat "$BATS_TEST_TMPDIR/stopped.txt")" "hello"
	assert_not_contains "$(cat /proc/self/mountinfo)" "$KEEL_ROOT"
}

@test "export: the rootfs as a tar; commit: a new image with -c changes" {
	k run --name ex busybox sh -c 'echo committed > /hello' >/dev/null
	run bash -c "'$KEEL' export ex | tar -t | grep -c -x -e hello -e bin/busybox"
	assert_eq "$output" "2"
	run k export -o "$BATS_TEST_TMPDIR/ex.tar" ex
	assert_status 0
	[[ -s $BATS_TEST_TMPDIR/ex.tar ]]
	run k commit -m "a message" -c 'CMD ["cat", "/hello"]' ex keeltest/committed:v1
	assert_status 0
	assert_match "$output" '^sha256:[0-9a-f]{64}$'
	run k run --rm keeltest/committed:v1
	assert_status 0
	assert_eq "$output" "committed"
	k rmi keeltest/committed:v1 >/dev/null 2>&1 || true
}

@test "port: nothing is published without networks" {
	k run -d --name pt busybox sleep 1000 >/dev/null
	run k port pt
	assert_status 0
	assert_eq "$output" ""
	run k port pt 80
	assert_status 1
	assert_contains "$output" "No public port '80/tcp' published for pt"
}
