# Shared by container.bats and container_tools.bats: private roots per file, the k helper,
# per-test cleanup of every container by id with leftover checks.

load ../lib/common

setup_file() {
	need_root_file || return 0
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { skip_if_file_skipped; }

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

