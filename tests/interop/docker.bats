#!/usr/bin/env bats
# A private dockerd 20.10 (with its own managed containerd) running containers on the runtime
# registered as `keel` = $KEEL_RUNTIME. Each test asserts what a docker user sees; validate
# the expectations with runc:  KEEL_RUNTIME=/usr/sbin/runc bats tests/interop/docker.bats
# Host state untouched: data/exec roots, socket, pid file and trust key under $T; dockerd runs
# in a private mount namespace with its own /run (it hard-codes /run/docker/plugins, and its
# containerd's shims /run/containerd/s).

bats_require_minimum_version 1.5.0
load lib

d()
{
	tmo "$DOCKER_CLI" -H "unix://$T/d.sock" "$@"
}

# drun ARGS...: docker run on the runtime under test, no network.
drun()
{
	d run --runtime keel --network none "$@"
}

state_of()
{
	d inspect -f '{{.State.Status}}' "$1"
}

state_is()
{
	[ "$(state_of "$1")" = "$2" ]
}

pid_of()
{
	d inspect -f '{{.State.Pid}}' "$1"
}

# logs_have NAME TEXT / top_has NAME TEXT: for wait_for.
logs_have()
{
	d logs "$1" 2>&1 | grep -q "$2"
}

top_has()
{
	d top "$1" | grep -q "$2"
}

setup_file()
{
	interop_skip_unless_ready dockerd "$DOCKER_CLI"
	T=$(interop_tmpdir dock)
	RT=$(runtime_abs)
	export T RT
	cgroup_snapshot "$T/cgroups.before"
	dockerd_start "$T" --add-runtime "keel=$RT"
	d version >/dev/null
	make_image "$T/busybox.tar"
	d load -i "$T/busybox.tar" >&2
}

teardown_file()
{
	[ -n "${T:-}" ] || return 0
	dockerd_stop "$T"
	cgroup_cleanup "$T/cgroups.before"
	cleanup_tmpdir "$T"
}

@test "docker: load names the image keeltest/busybox:latest, amd64" {
	run d image inspect -f '{{.Os}}/{{.Architecture}} {{json .Config.Cmd}}' "$IMAGE_SHORT"
	[ "$status" -eq 0 ]
	[ "$output" = 'linux/amd64 ["sh"]' ]
}

@test "docker: the keel runtime is registered" {
	run d info --format '{{json .Runtimes}}'
	[ "$status" -eq 0 ]
	[[ "$output" == *"\"keel\":{\"path\":\"$RT\"}"* ]]
}

@test "docker: run --rm prints the output, exit code 0" {
	run drun --rm "$IMAGE_SHORT" echo hello from docker
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = "hello from docker" ]
}

@test "docker: run passes exit code 3 through, stdout and stderr both shown" {
	run drun --rm "$IMAGE_SHORT" sh -c 'echo out; echo err >&2; exit 3'
	echo "$output"
	[ "$status" -eq 3 ]
	[[ "$output" == *out* ]]
	[[ "$output" == *err* ]]
}

@test "docker: run -i feeds stdin" {
	run tmo sh -c "printf 'line1\nline2\n' | '$DOCKER_CLI' -H unix://$T/d.sock run -i --rm --runtime keel --network none $IMAGE_SHORT wc -l"
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo $output)" = 2 ]
}

@test "docker: the container has pid 1, its hostname, no network, masked /proc paths" {
	run drun --rm --hostname kbox "$IMAGE_SHORT" sh -c \
		'echo $$; hostname; ls /sys/class/net | tr "\n" " "; echo; wc -c </proc/timer_list; grep -c " /proc/sys proc ro," /proc/mounts'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = kbox ]
	[ "${lines[2]}" = "lo " ]
	[ "${lines[3]}" = 0 ] # masked: /dev/null bound over it
	[ "${lines[4]}" = 1 ] # read-only /proc/sys
}

@test "docker: runc's implicit device rules apply (/dev/full, /dev/pts/ptmx usable)" {
	# docker's config.json allows only null, zero, random, urandom, tty, console; runc adds
	# its built-in list (c *:* m, b *:* m, full, ptmx 5:2, pts 136:*, tun 10:200) on top.
	run drun --rm "$IMAGE_SHORT" sh -c \
		'head -c 3 /dev/full | od -An -tx1; grep -c "^c 5:2 rwm\$" /sys/fs/cgroup/devices/devices.list'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$(echo ${lines[0]})" = "00 00 00" ]
	[ "${lines[1]}" = 1 ]
}

@test "docker: run of a missing binary gives exit code 127 and says why" {
	run -127 drun --rm "$IMAGE_SHORT" /nonexistent
	echo "$output"
	[[ "$output" == *"/nonexistent"* ]]
	[[ "$output" == *"no such file or directory"* ]]
}

@test "docker: run of a non-executable file gives exit code 126" {
	run -126 drun --rm "$IMAGE_SHORT" /etc/passwd
	echo "$output"
	[[ "$output" == *"permission denied"* ]]
}

@test "docker: run -d, inspect running, host pid in /docker/<id> cgroups" {
	id=$(drun -d --name bg "$IMAGE_SHORT" sh -c 'echo started; exec sleep 1000')
	[ "$(state_of bg)" = running ]
	pid=$(pid_of bg)
	[ "$pid" -gt 1 ]
	wait_for 50 grep -qx sleep /proc/$pid/comm
	grep -q ":memory:/docker/$id\$" /proc/$pid/cgroup
	grep -q ":pids:/docker/$id\$" /proc/$pid/cgroup
	# dockerd passes --root <exec-root>/runtime-runc/moby whatever the runtime's name.
	[ -n "$(ls -A "$T/exec/runtime-runc/moby")" ]
	run d logs bg
	[ "$output" = started ]
}

@test "docker: exec: output, exit code, -u -w -e" {
	run d exec bg sh -c 'echo exec-out; exit 5'
	[ "$status" -eq 5 ]
	[ "$output" = exec-out ]
	run d exec -u 1000 -w /tmp -e FOO=bar bg sh -c 'id -u; pwd; echo $FOO'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1000 ]
	[ "${lines[1]}" = /tmp ]
	[ "${lines[2]}" = bar ]
}

@test "docker: exec of a missing binary fails with 127 and the reason" {
	run -126 d exec bg /nonexistent
	echo "$output"
	[[ "$output" == *"no such file or directory"* ]]
}

@test "docker: exec -it gets a terminal" {
	run with_tty "$DOCKER_CLI" -H "unix://$T/d.sock" exec -it bg sh -c 'tty; echo tty-ok; exit 6'
	[ "$status" -eq 6 ]
	output=$(echo "$output" | strip_cr)
	mapfile -t lines <<<"$output"
	echo "$output"
	[[ "${lines[0]}" == /dev/pts/* ]]
	[ "${lines[1]}" = tty-ok ]
}

@test "docker: exec -d runs in the background" {
	d exec -d bg sleep 997
	wait_for 50 top_has bg 'sleep 997'
}

@test "docker: top lists the container's processes" {
	run d top bg
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == *PID* ]]
	[[ "$output" == *"sleep 1000"* ]]
}

@test "docker: pause freezes, unpause thaws" {
	pid=$(pid_of bg)
	d pause bg
	[ "$(state_of bg)" = paused ]
	[ "$(freezer_state_of "$pid")" = FROZEN ]
	run d exec bg true
	[ "$status" -ne 0 ]
	[[ "$output" == *paused* ]]
	d unpause bg
	[ "$(state_of bg)" = running ]
	[ "$(freezer_state_of "$pid")" = THAWED ]
	run d exec bg echo alive
	[ "$output" = alive ]
}

@test "docker: update --memory 64m --pids-limit 100 --cpu-shares 512 reach the cgroups" {
	pid=$(pid_of bg)
	d update --memory 64m --memory-swap 128m --pids-limit 100 --cpu-shares 512 bg
	[ "$(memory_limit_of "$pid")" = 67108864 ]
	cg=$(awk -F: '$2 == "pids" { print $3 }' /proc/$pid/cgroup)
	[ "$(cat /sys/fs/cgroup/pids$cg/pids.max)" = 100 ]
	cg=$(awk -F: '$2 == "cpu" { print $3 }' /proc/$pid/cgroup)
	[ "$(cat /sys/fs/cgroup/cpu$cg/cpu.shares)" = 512 ]
	[ "$(d inspect -f '{{.HostConfig.Memory}}' bg)" = 67108864 ]
}

@test "docker: run --memory sets the limit at create" {
	run drun --rm --memory 32m "$IMAGE_SHORT" cat /sys/fs/cgroup/memory/memory.limit_in_bytes
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = 33554432 ]
}

@test "docker: stop of a TERM-ignoring pid 1 escalates to KILL, exit code 137" {
	d stop -t 1 bg
	[ "$(state_of bg)" = exited ]
	[ "$(d inspect -f '{{.State.ExitCode}}' bg)" = 137 ]
}

@test "docker: start again of a stopped container (same ID reused)" {
	d start bg
	[ "$(state_of bg)" = running ]
	run d exec bg echo again
	[ "$output" = again ]
}

@test "docker: stop of a TERM-handling container: its own exit code" {
	drun -d --name trap "$IMAGE_SHORT" sh -c 'trap "exit 7" TERM; echo ready; while :; do sleep 0.1; done'
	wait_for 50 logs_have trap ready
	d stop -t 10 trap
	[ "$(d inspect -f '{{.State.ExitCode}}' trap)" = 7 ]
	d rm trap
}

@test "docker: kill -s USR1 is delivered, kill then ends it with 137" {
	drun -d --name kil "$IMAGE_SHORT" sh -c 'trap "echo got-usr1" USR1; echo ready; while :; do sleep 0.1; done'
	wait_for 50 logs_have kil ready
	d kill -s USR1 kil
	wait_for 50 logs_have kil got-usr1
	[ "$(state_of kil)" = running ]
	d kill kil
	wait_for 50 state_is kil exited
	[ "$(d inspect -f '{{.State.ExitCode}}' kil)" = 137 ]
	run d wait kil
	[ "$output" = 137 ]
	d rm kil
}

@test "docker: run -it interactive shell on a terminal" {
	run tmo sh -c "printf 'echo in-\$((6*7)); tty\nexit 9\n' | script -qefc \"'$DOCKER_CLI' -H unix://$T/d.sock run -it --rm --runtime keel --network none $IMAGE_SHORT sh\" /dev/null"
	echo "$output"
	[ "$status" -eq 9 ]
	[[ "$output" == *in-42* ]]
	[[ "$output" == */dev/pts/0* ]]
}

@test "docker: rm -f removes a running container and its cgroup" {
	id=$(d inspect -f '{{.Id}}' bg)
	[ "$(state_of bg)" = running ]
	d rm -f bg
	run d inspect bg
	[ "$status" -ne 0 ]
	[ ! -e "/sys/fs/cgroup/memory/docker/$id" ]
	[ ! -e "/sys/fs/cgroup/pids/docker/$id" ]
	[ -z "$(ls -A "$T/exec/runtime-runc/moby" | grep "$id")" ]
}

@test "docker: run --rm leaves no container and no runtime state behind" {
	drun --rm --name gone "$IMAGE_SHORT" true
	run d inspect gone
	[ "$status" -ne 0 ]
	# every other container is gone by now (kil, bg, trap): the runtime root must be empty.
	[ -z "$(d ps -aq --filter status=running)" ] || d ps -a
	[ -z "$(ls -A "$T/exec/runtime-runc/moby" 2>/dev/null)" ]
}
