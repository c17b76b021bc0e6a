#!/usr/bin/env bats
# podman 4.3 (+ conmon) with --runtime $KEEL_RUNTIME, all state under $T, run inside a private
# mount namespace (private /run, /var/lib writes redirected to $T) so the host is untouched.
# Validate with runc:  KEEL_RUNTIME=/usr/sbin/runc bats tests/interop/podman.bats
#
# Rlimits: rootful podman asks for RLIMIT_NOFILE 1048576 and RLIMIT_NPROC 4194304 by default;
# this host's root lacks CAP_SYS_RESOURCE and its hard limits are lower (nofile 20000), so
# runc 1.1.5 and crun 1.8.1 both fail the container (setrlimit EPERM -> podman exit 126; see
# the last test). Every other test passes limits within the hard ones.
# Also: conmon hands the runtime the container's stdout/stderr at create, so anything the
# runtime prints there on success (a warning) becomes container output.

bats_require_minimum_version 1.5.0
load lib

p()
{
	tmo nsenter --mount="$T/ns/mnt" -- podman --root "$T/root" --runroot "$T/run" --tmpdir "$T/tmp" \
		--cgroup-manager cgroupfs --events-backend file --storage-driver overlay \
		--runtime "$RT" "$@"
}

# prun ARGS...: podman run, no network, rlimits the host allows.
prun()
{
	p run --network none --ulimit nofile=1024:1024 --ulimit nproc=1024:1024 "$@"
}

state_of()
{
	p inspect -f '{{.State.Status}}' "$1"
}

state_is()
{
	[ "$(state_of "$1")" = "$2" ]
}

# logs_have NAME TEXT: for wait_for.
logs_have()
{
	p logs "$1" 2>&1 | grep -q "$2"
}

setup_file()
{
	interop_skip_unless_ready podman conmon nsenter
	T=$(interop_tmpdir pod)
	RT=$(runtime_abs)
	export T RT
	cgroup_snapshot "$T/cgroups.before"
	private_ns_create "$T/ns"
	make_image "$T/busybox.tar"
	p load -i "$T/busybox.tar" >&2
}

teardown_file()
{
	[ -n "${T:-}" ] || return 0
	if [ -e "$T/ns/mnt" ]; then
		p rm -a -f -t 0 >/dev/null 2>&1 || true
		p rmi -a -f >/dev/null 2>&1 || true
	fi
	kill_leftovers "$T"
	cgroup_cleanup "$T/cgroups.before"
	cleanup_tmpdir "$T"
}

@test "podman: load names the image docker.io/keeltest/busybox:latest" {
	run p image inspect -f '{{.Os}}/{{.Architecture}}' "$IMAGE_NAME"
	[ "$status" -eq 0 ]
	[ "$output" = linux/amd64 ]
}

@test "podman: run --rm echo" {
	run prun --rm "$IMAGE_NAME" echo hello from podman
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from podman" ]
}

@test "podman: run passes exit code 3 through" {
	run prun --rm "$IMAGE_NAME" sh -c 'echo out; exit 3'
	echo "$output"
	[ "$status" -eq 3 ]
	[ "$output" = out ]
}

@test "podman: the container is pid 1 with the rlimits asked for" {
	run prun --rm "$IMAGE_NAME" sh -c 'echo $$; ulimit -n; ulimit -Hn; ulimit -u'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = 1024 ]
	[ "${lines[2]}" = 1024 ]
	[ "${lines[3]}" = 1024 ]
}

@test "podman: run of a missing binary gives exit code 127" {
	run -127 prun --rm "$IMAGE_NAME" /nonexistent
	echo "$output"
	[[ "$output" == *"/nonexistent"* ]]
	[[ "$output" == *"no such file or directory"* ]]
}

@test "podman: run -d, exec, exec -t, top" {
	prun -d --name bg "$IMAGE_NAME" sleep 1000
	[ "$(state_of bg)" = running ]
	pid=$(p inspect -f '{{.State.Pid}}' bg)
	[ "$(cat /proc/$pid/comm)" = sleep ]
	run p exec bg sh -c 'echo exec-out; exit 5'
	[ "$status" -eq 5 ]
	[ "$output" = exec-out ]
	run p exec -u 1000 -w /tmp -e FOO=bar bg sh -c 'id -u; pwd; echo $FOO'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = bar ]
	run with_tty nsenter --mount="$T/ns/mnt" -- podman --root "$T/root" --runroot "$T/run" \
		--tmpdir "$T/tmp" --cgroup-manager cgroupfs --events-backend file \
		--storage-driver overlay --runtime "$RT" exec -it bg sh -c 'tty; echo tty-ok; exit 6'
	[ "$status" -eq 6 ]
	output=$(echo "$output" | strip_cr)
	echo "$output"
	[[ "$output" == */dev/pts/* ]]
	[[ "$output" == *tty-ok* ]]
	run p top bg
	echo "$output"
	[[ "$output" == *"sleep 1000"* ]]
}

@test "podman: pause / unpause" {
	pid=$(p inspect -f '{{.State.Pid}}' bg)
	p pause bg
	[ "$(state_of bg)" = paused ]
	[ "$(freezer_state_of "$pid")" = FROZEN ]
	p unpause bg
	[ "$(state_of bg)" = running ]
	[ "$(freezer_state_of "$pid")" = THAWED ]
}

@test "podman: stop (TERM ignored by pid 1 -> KILL after 1 s), exit code 137, rm" {
	p stop -t 1 bg
	[ "$(state_of bg)" = exited ]
	[ "$(p inspect -f '{{.State.ExitCode}}' bg)" = 137 ]
	p rm bg
	run p inspect bg
	[ "$status" -ne 0 ]
}

@test "podman: stop of a TERM-handling container gives its own exit code; kill; rm -f" {
	prun -d --name trap "$IMAGE_NAME" sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
	wait_for 50 logs_have trap ready
	p stop -t 10 trap
	[ "$(p inspect -f '{{.State.ExitCode}}' trap)" = 7 ]
	p start trap
	[ "$(state_of trap)" = running ]
	p kill trap
	wait_for 50 state_is trap exited
	[ "$(p inspect -f '{{.State.ExitCode}}' trap)" = 137 ]
	prun -d --name rmf "$IMAGE_NAME" sleep 1000
	p rm -f -t 0 rmf
	run p ps -aq
	[ "$(echo "$output" | grep -c .)" -eq 1 ] # only trap is left
	p rm trap
}

@test "podman: default rlimits above the host's hard limit: refused like runc, or clamped" {
	# podman asks for RLIMIT_NOFILE 1048576; root here cannot go above the hard limit.
	# runc 1.1.5 and crun 1.8.1 refuse (setrlimit EPERM -> exit 126); a runtime that clamps
	# instead must clamp to the hard limit and say nothing on the container's stdout/stderr.
	hard=$(ulimit -Hn)
	run p run --rm --network none "$IMAGE_NAME" sh -c 'ulimit -Hn'
	echo "$output"
	if [ "$status" -ne 0 ]; then
		[ "$status" -eq 126 ]
		[[ "$output" == *rlimit* ]] || [[ "$output" == *RLIMIT* ]]
		[[ "$output" == *"not permitted"* ]]
	else
		[ "$output" = "$hard" ]
	fi
}
