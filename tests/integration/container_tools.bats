#!/usr/bin/env bats
# Container tools: top, stats, diff, cp (both directions, tar streams, a hostile symlink),
# export, commit, port. Private roots per file; everything removed after each test.

load container_lib

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
