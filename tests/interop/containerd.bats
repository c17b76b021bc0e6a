#!/usr/bin/env bats
# A private containerd 1.6 + containerd-shim-runc-v2 driving $KEEL_RUNTIME through ctr.
# Each test asserts what a user sees (output, exit codes, task status), which must match runc:
#   KEEL_RUNTIME=/usr/sbin/runc bats tests/interop/containerd.bats

load lib

# ctr against our containerd, in our own namespace.
c()
{
	tmo ctr --address "$T/c.sock" --namespace keeltest "$@"
}

# crun_opts: the runtime flags every `ctr run` here gets.
crun_opts()
{
	echo --runc-binary "$RT" --runc-root "$T/runc-root" --fifo-dir "$T/fifo"
}

# task_status ID: RUNNING / PAUSED / STOPPED / CREATED from `ctr task ls`.
task_status()
{
	c task ls | awk -v id="$1" '$1 == id { print $3 }'
}

# status_is ID STATE: for wait_for (re-evaluated on every try).
status_is()
{
	[ "$(task_status "$1")" = "$2" ]
}

task_pid()
{
	c task ls | awk -v id="$1" '$1 == id { print $2 }'
}

# remove ID: kill, delete task and container, ignoring errors (cleanup path).
remove()
{
	c task kill -a -s SIGKILL "$1" >/dev/null 2>&1 || true
	wait_for 50 status_is "$1" STOPPED || true
	c task rm -f "$1" >/dev/null 2>&1 || true
	c container rm "$1" >/dev/null 2>&1 || true
}

setup_file()
{
	interop_skip_unless_ready containerd ctr containerd-shim-runc-v2
	T=$(interop_tmpdir ctrd)
	RT=$(runtime_abs)
	export T RT
	cgroup_snapshot "$T/cgroups.before"
	cat >"$T/config.toml" <<EOF
version = 2
root = "$T/root"
state = "$T/state"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$T/c.sock"
[ttrpc]
  address = "$T/c.sock.ttrpc"
[debug]
  address = "$T/debug.sock"
[metrics]
  address = ""
EOF
	# fd 3 closed: bats waits for every holder of its output pipe.
	in_private_run containerd --config "$T/config.toml" >"$T/containerd.log" 2>&1 3>&- &
	echo $! >"$T/containerd.pid"
	wait_for 150 c version || {
		cat "$T/containerd.log" >&2
		return 1
	}
	make_image "$T/busybox.tar"
	c image import "$T/busybox.tar" >&2
	c image ls -q | grep -qx "$IMAGE_NAME"
}

teardown_file()
{
	[ -n "${T:-}" ] || return 0
	local id
	for id in $(c container ls -q 2>/dev/null); do
		remove "$id"
	done
	kill_wait "$(cat "$T/containerd.pid" 2>/dev/null)"
	kill_leftovers "$T"
	cgroup_cleanup "$T/cgroups.before"
	cleanup_tmpdir "$T"
}

@test "containerd: image imported, named and amd64" {
	run c image ls
	[ "$status" -eq 0 ]
	[[ "$output" == *"$IMAGE_NAME"*"linux/amd64"* ]]
}

@test "containerd: run --rm prints the output, exit code 0" {
	run c run $(crun_opts) --rm "$IMAGE_NAME" t-echo echo hello from ctr
	[ "$status" -eq 0 ]
	[ "$output" = "hello from ctr" ]
	run c container ls -q
	[[ "$output" != *t-echo* ]]
}

@test "containerd: run --rm passes the exit code through" {
	run c run $(crun_opts) --rm "$IMAGE_NAME" t-exit sh -c 'echo out; echo err >&2; exit 3'
	[ "$status" -eq 3 ]
	[[ "$output" == *out* ]]
	[[ "$output" == *err* ]]
}

@test "containerd: the container sees its own pid 1, hostname and cgroup" {
	run c run $(crun_opts) --rm "$IMAGE_NAME" t-ns sh -c 'echo pid=$$; hostname; id -u; cat /proc/self/cgroup'
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" == "pid=1" ]]
	[[ "${lines[2]}" == "0" ]]
	# cgroupsPath /<namespace>/<id> (ctr's default) honoured for every v1 controller.
	[[ "$output" == *":memory:/keeltest/t-ns"* ]]
	[[ "$output" == *":freezer:/keeltest/t-ns"* ]]
}

@test "containerd: run of a missing binary fails with the runtime's error" {
	run c run $(crun_opts) --rm "$IMAGE_NAME" t-missing /nonexistent
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"/nonexistent"* ]]
	[[ "$output" == *"no such file or directory"* ]]
	remove t-missing
}

@test "containerd: run -d, task ls RUNNING, pid is a host process in the container's cgroup" {
	c run $(crun_opts) -d "$IMAGE_NAME" t-bg sleep 1000
	[ "$(task_status t-bg)" = RUNNING ]
	pid=$(task_pid t-bg)
	[ "$pid" -gt 1 ]
	[ "$(cat /proc/$pid/comm)" = sleep ]
	grep -q ':memory:/keeltest/t-bg$' /proc/$pid/cgroup
	# the init is a child of the shim (the runtime process is gone, nothing in between).
	ppid=$(awk '{ print $4 }' /proc/$pid/stat)
	[[ "$(tr '\0' ' ' </proc/$ppid/cmdline)" == *containerd-shim-runc-v2* ]]
}

@test "containerd: task exec: output and exit status" {
	run c task exec --fifo-dir "$T/fifo" --exec-id e1 t-bg sh -c 'echo exec-out; echo exec-err >&2; exit 5'
	[ "$status" -eq 5 ]
	[[ "$output" == *exec-out* ]]
	[[ "$output" == *exec-err* ]]
}

@test "containerd: task exec joins the init's namespaces" {
	run c task exec --fifo-dir "$T/fifo" --exec-id e2 t-bg sh -c 'ps -o pid,comm | grep -c sleep; readlink /proc/1/exe'
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = 1 ]
	[ "${lines[1]}" = /bin/busybox ]
}

@test "containerd: task exec --cwd and --user" {
	run c task exec --fifo-dir "$T/fifo" --exec-id e3 --cwd /tmp --user 1000 t-bg sh -c 'pwd; id -u; id -g'
	echo "$output"
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = /tmp ]
	[ "${lines[1]}" = 1000 ]
	[ "${lines[2]}" = 1000 ]
}

@test "containerd: task exec -t gets a terminal" {
	run with_tty ctr --address "$T/c.sock" --namespace keeltest task exec --fifo-dir "$T/fifo" -t --exec-id e4 t-bg \
		sh -c 'tty; stty size >/dev/null && echo tty-ok; exit 6'
	[ "$status" -eq 6 ]
	output=$(echo "$output" | strip_cr)
	[[ "$output" == */dev/pts/* ]]
	[[ "$output" == *tty-ok* ]]
}

@test "containerd: task exec of a missing binary fails" {
	run c task exec --fifo-dir "$T/fifo" --exec-id e5 t-bg /nonexistent
	echo "$output"
	[ "$status" -ne 0 ]
	[[ "$output" == *"no such file or directory"* ]]
}

@test "containerd: task ps lists the init and an exec'd process" {
	c task exec --fifo-dir "$T/fifo" -d --exec-id e6 t-bg sleep 999 # detached: comes back at once
	wait_for 50 sh -c "ctr --address '$T/c.sock' -n keeltest task ps t-bg | grep -c '^[0-9]' | grep -qx 2"
	run c task ps t-bg
	[ "$status" -eq 0 ]
	pid=$(task_pid t-bg)
	[[ "$output" == *"$pid"* ]]
	[ "$(echo "$output" | grep -c '^[0-9]')" -eq 2 ]
}

@test "containerd: pause freezes, exec refused while paused, resume thaws" {
	pid=$(task_pid t-bg)
	c task pause t-bg
	[ "$(task_status t-bg)" = PAUSED ]
	[ "$(freezer_state_of "$pid")" = FROZEN ]
	run c task exec --fifo-dir "$T/fifo" --exec-id e7 t-bg true
	[ "$status" -ne 0 ]
	c task resume t-bg
	[ "$(task_status t-bg)" = RUNNING ]
	[ "$(freezer_state_of "$pid")" = THAWED ]
	run c task exec --fifo-dir "$T/fifo" --exec-id e8 t-bg echo alive
	[ "$status" -eq 0 ]
	[ "$output" = alive ]
}

@test "containerd: kill SIGTERM stops the task; delete reports its exit code" {
	c run $(crun_opts) -d "$IMAGE_NAME" t-term sh -c 'trap "exit 7" TERM; while :; do sleep 0.1; done'
	[ "$(task_status t-term)" = RUNNING ]
	sleep 0.3 # let the shell install its trap
	c task kill -s SIGTERM t-term
	wait_for 100 status_is t-term STOPPED
	# ctr 1.6 exits 0 here and logs the task's exit code as a warning.
	run c task rm t-term
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"non-zero exit code 7"* ]]
	c container rm t-term
	[ ! -e "$T/runc-root/t-term" ]
	[ ! -e /sys/fs/cgroup/memory/keeltest/t-term ]
	[ ! -e /sys/fs/cgroup/freezer/keeltest/t-term ]
}

@test "containerd: kill -a SIGKILL of the whole task; exit code 137" {
	c task exec --fifo-dir "$T/fifo" -d --exec-id e9 t-bg sleep 998
	c task kill -a -s SIGKILL t-bg
	wait_for 100 status_is t-bg STOPPED
	run c task rm t-bg
	echo "$output"
	[ "$status" -eq 0 ]
	[[ "$output" == *"non-zero exit code 137"* ]]
	c container rm t-bg
	[ ! -e "$T/runc-root/t-bg" ]
	run c container ls -q
	[[ "$output" != *t-bg* ]]
}

@test "containerd: run -t gets a terminal, exit code passes through" {
	run with_tty ctr --address "$T/c.sock" --namespace keeltest run $(crun_opts) -t --rm \
		"$IMAGE_NAME" t-tty sh -c 'tty; echo tty-run-ok; exit 4'
	[ "$status" -eq 4 ]
	output=$(echo "$output" | strip_cr)
	mapfile -t lines <<<"$output"
	echo "$output"
	[ "${lines[0]}" = /dev/pts/0 ]
	[ "${lines[1]}" = tty-run-ok ]
}

@test "containerd: run -t interactive shell reads its stdin" {
	run tmo sh -c "printf 'echo in-\$((6*7))\nexit 9\n' | script -qefc \"ctr --address '$T/c.sock' -n keeltest run $(crun_opts) -t --rm $IMAGE_NAME t-tty2 sh\" /dev/null"
	[ "$status" -eq 9 ]
	[[ "$output" == *in-42* ]]
}

@test "containerd: task rm of a running task is refused; rm -f kills and deletes" {
	c run $(crun_opts) -d "$IMAGE_NAME" t-rmf sleep 1000
	run c task rm t-rmf
	[ "$status" -ne 0 ] # running: refused without -f
	c task rm -f t-rmf
	c container rm t-rmf
	[ ! -e "$T/runc-root/t-rmf" ]
}
