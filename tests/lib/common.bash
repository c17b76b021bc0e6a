# Shared helpers for keel's OCI runtime integration tests (bats).
#
# Run (as root): `bats tests/integration`; validate the tests themselves against real runc with
# `KEEL_RUNTIME=runc bats tests/integration`. One file: `bats tests/integration/exec.bats`;
# one test: `bats -f 'pause' tests/integration`.
#
# Every test file does `load ../lib/common` and gets default setup_file/setup/teardown/
# teardown_file functions; a file that needs more defines its own and calls the common_*
# function first.
#
# Environment:
#   KEEL_RUNTIME  the runtime under test (default build/keel-runtime; `KEEL_RUNTIME=runc` validates
#                 the tests against real runc)
#   KEEL          the keel binary (default build/keel), used by tools/make-bundle.sh for `spec`
#
# Rules the helpers enforce: a private --root per test file, one container ID and one cgroupsPath
# (/keel-test/<id>) per container, and a teardown that force-deletes the test's containers and fails
# the test if a cgroup directory or a mount under the bundle is left behind.

bats_require_minimum_version 1.5.0

# A hung runtime must fail its test, not the whole run.
BATS_TEST_TIMEOUT=${BATS_TEST_TIMEOUT:-60}

REPO=$(cd "$BATS_TEST_DIRNAME/../.." && pwd)
KEEL=${KEEL:-$REPO/build/keel}
KEEL_RUNTIME=${KEEL_RUNTIME:-$REPO/build/keel-runtime}
if [[ $KEEL_RUNTIME != */* ]]; then
	KEEL_RUNTIME=$(command -v "$KEEL_RUNTIME")
fi
export KEEL KEEL_RUNTIME REPO
ROOT=$BATS_FILE_TMPDIR/root
TEMPLATE=$BATS_FILE_TMPDIR/template
HELPERS=$BATS_FILE_TMPDIR/helpers
CG_PREFIX=keel-test
# bats' own fd 3 stays open in tests; the runtime must not leak it (or any other) anyway.

# rt ARGS...: the runtime under test with this file's private state root.
rt() {
	"$KEEL_RUNTIME" --root "$ROOT" "$@"
}

# is_keel: true when the runtime under test is keel (for assertions where keel deliberately
# differs from runc 1.1.5, e.g. exact wording of config validation errors).
is_keel() {
	case "$(basename "$(readlink -f "$KEEL_RUNTIME")")" in
	runc* | crun* | youki*) return 1 ;;
	esac
	return 0
}

# ---------------------------------------------------------------------------------------------
# assertions (no bats-assert here; these print what they saw so a failure explains itself)

fail() {
	echo "FAIL: $*" >&2
	return 1
}

# assert_status N: $status (from run/rt_capture) is N.
assert_status() {
	[[ $status -eq $1 ]] || fail "exit status $status, expected $1; output: ${output:-}${stderr:+; stderr: $stderr}"
}

# assert_contains HAYSTACK NEEDLE
assert_contains() {
	[[ $1 == *"$2"* ]] || fail "expected to find <$2> in <$1>"
}

assert_not_contains() {
	[[ $1 != *"$2"* ]] || fail "did not expect <$2> in <$1>"
}

# assert_eq ACTUAL EXPECTED
assert_eq() {
	[[ $1 == "$2" ]] || fail "got <$1>, expected <$2>"
}

# assert_match ACTUAL REGEX
assert_match() {
	[[ $1 =~ $2 ]] || fail "<$1> does not match /$2/"
}

# assert_jq JSON FILTER: the jq filter (run with -e) is true for JSON; extra args go to jq.
assert_jq() {
	local json=$1 filter=$2
	shift 2
	jq -e "$@" "$filter" <<<"$json" >/dev/null || fail "jq filter <$filter> false for: $json"
}

# assert_pidfile FILE: decimal pid, no newline (the shim does strconv.Atoi on the content),
# of a live process.
assert_pidfile() {
	local pid
	pid=$(cat "$1")
	assert_match "$pid" '^[1-9][0-9]*$'
	assert_eq "$(stat -c %s "$1")" "${#pid}"
	kill -0 "$pid" || fail "pid $pid from $1 is not alive"
}

# poll DEADLINE_SECONDS COMMAND...: retry COMMAND every 20 ms until it succeeds or time runs out.
poll() {
	local deadline=$((SECONDS + $1)) i=0
	shift
	while ! "$@"; do
		if ((SECONDS > deadline)); then
			fail "timed out waiting for: $*"
			return 1
		fi
		sleep 0.02
	done
}

# ---------------------------------------------------------------------------------------------
# running the runtime

# rt_capture ARGS...: like `run rt ARGS`, but through files and with stdin from /dev/null, so a
# container that inherits the runtime's stdio (create, run -d, exec -d) cannot make us wait for
# EOF. Sets status, output (stdout) and stderr.
RT_CAPTURE_N=0
rt_capture() {
	RT_CAPTURE_N=$((RT_CAPTURE_N + 1))
	local o=$BATS_TEST_TMPDIR/rt.$RT_CAPTURE_N.out e=$BATS_TEST_TMPDIR/rt.$RT_CAPTURE_N.err
	status=0
	rt "$@" >"$o" 2>"$e" </dev/null || status=$?
	output=$(cat "$o")
	stderr=$(cat "$e")
}

# create_container ID BUNDLE [EXTRA CREATE FLAGS...]: `create` that must succeed, write an exact
# pid file ($BATS_TEST_TMPDIR/ID.pid) and print nothing; the container's stdio goes to
# $BATS_TEST_TMPDIR/ID.out and ID.err.
create_container() {
	local id=$1 bundle=$2
	shift 2
	track "$id"
	status=0
	rt create --bundle "$bundle" --pid-file "$BATS_TEST_TMPDIR/$id.pid" "$@" "$id" \
		>"$BATS_TEST_TMPDIR/$id.out" 2>"$BATS_TEST_TMPDIR/$id.err" </dev/null || status=$?
	[[ $status -eq 0 ]] || fail "create $id failed ($status): $(cat "$BATS_TEST_TMPDIR/$id.err")"
	# on success the runtime writes nothing: its stdio is the container's log stream
	[[ ! -s $BATS_TEST_TMPDIR/$id.out && ! -s $BATS_TEST_TMPDIR/$id.err ]] ||
		fail "create $id wrote to its stdio: $(cat "$BATS_TEST_TMPDIR/$id.out" "$BATS_TEST_TMPDIR/$id.err")"
	assert_pidfile "$BATS_TEST_TMPDIR/$id.pid"
}

# run_container ID BUNDLE: create + start, must succeed.
run_container() {
	create_container "$1" "$2"
	run rt start "$1"
	assert_status 0
}

# container_pid ID: the pid from `state`.
container_pid() {
	rt state "$1" | jq -r .pid
}

# container_status ID: the status from `state` ("" if the state command fails).
container_status() {
	rt state "$1" 2>/dev/null | jq -r .status
}

# has_status ID STATUS: for poll.
has_status() {
	[[ $(container_status "$1") == "$2" ]]
}

wait_status() {
	poll "${3:-5}" has_status "$1" "$2"
}

# ---------------------------------------------------------------------------------------------
# bundles

# json_set FILE 'python statements': edit a JSON file in place; the document is `c`.
#   json_set "$BUNDLE/config.json" 'c["hostname"] = "kh"'
json_set() {
	python3 - "$1" "$2" <<'PY'
import json, sys
path, code = sys.argv[1], sys.argv[2]
with open(path) as f:
    c = json.load(f)
exec(code, {"c": c, "json": json})
with open(path, "w") as f:
    json.dump(c, f, indent=2)
PY
}

# make_bundle DIR [ARGS...]: a busybox bundle (copied from this file's template made by
# tools/make-bundle.sh) with process.args = ARGS (default: sh), no terminal, a writable rootfs
# and linux.cgroupsPath /keel-test/$CG_ID (CG_ID defaults to the test's $ID; set it when a test
# runs several containers). The cgroup path is recorded for the teardown check.
make_bundle() {
	local dir=$1
	shift
	local cg=/$CG_PREFIX/${CG_ID:-$ID}
	mkdir -p "$dir"
	cp -a "$TEMPLATE/." "$dir/"
	local args_json
	args_json=$(python3 -c 'import json,sys; print(json.dumps(sys.argv[1:] or ["sh"]))' "$@")
	json_set "$dir/config.json" "
c['process']['args'] = $args_json
c['process']['terminal'] = False
c['root']['readonly'] = False
c['linux']['cgroupsPath'] = '$cg'
"
	CGPATHS+=("$cg")
	BUNDLES+=("$dir")
}

# track ID: delete --force this container in teardown.
track() {
	local c
	for c in "${CONTAINERS[@]}"; do
		[[ $c == "$1" ]] && return 0
	done
	CONTAINERS+=("$1")
}

# cgroup_dir CONTROLLER [CGPATH]: host directory of the test container's cgroup (v1).
cgroup_dir() {
	echo "/sys/fs/cgroup/$1${2:-/$CG_PREFIX/$ID}"
}

# ---------------------------------------------------------------------------------------------
# helpers built from tests/helpers/*.c

# build_helper NAME: compile tests/helpers/NAME.c into $HELPERS/NAME (once per file).
build_helper() {
	mkdir -p "$HELPERS"
	[[ -x $HELPERS/$1 ]] && return 0
	if [[ -x $REPO/build/tests/helpers/$1 && $REPO/build/tests/helpers/$1 -nt $REPO/tests/helpers/$1.c ]]; then
		cp "$REPO/build/tests/helpers/$1" "$HELPERS/$1"
		return 0
	fi
	cc -O1 -Wall -Wextra -Werror -o "$HELPERS/$1" "$REPO/tests/helpers/$1.c"
}

# ---------------------------------------------------------------------------------------------
# setup / teardown

common_setup_file() {
	[[ $(id -u) -eq 0 ]] || skip "integration tests need root"
	[[ -x $KEEL_RUNTIME ]] || {
		echo "runtime under test not found: $KEEL_RUNTIME" >&2
		return 1
	}
	mkdir -p "$ROOT"
	"$REPO/tools/make-bundle.sh" "$TEMPLATE" >/dev/null
	[[ -f $TEMPLATE/config.json ]]
}

common_setup() {
	ID=t$BATS_TEST_NUMBER-$$
	BUNDLE=$BATS_TEST_TMPDIR/bundle
	CONTAINERS=("$ID")
	CGPATHS=()
	BUNDLES=()
	NETNS=()
}

# leftover_cgroups: print every cgroup directory of this test that still exists.
leftover_cgroups() {
	local cg d
	for cg in "${CGPATHS[@]}"; do
		for d in /sys/fs/cgroup/*; do
			[[ -d $d$cg ]] && echo "$d$cg"
		done
	done
	return 0
}

common_teardown() {
	local c problems=() d m ns
	for c in "${CONTAINERS[@]}"; do
		"$KEEL_RUNTIME" --root "$ROOT" delete --force "$c" >/dev/null 2>&1 </dev/null || true
	done
	for ns in "${NETNS[@]}"; do
		ip netns delete "$ns" 2>/dev/null || true
	done
	# delete --force must leave no cgroup behind; give a dying init a moment to leave it.
	local deadline=$((SECONDS + 3))
	while [[ -n $(leftover_cgroups) ]] && ((SECONDS < deadline)); do
		sleep 0.05
	done
	for d in $(leftover_cgroups); do
		problems+=("cgroup left: $d")
		# clean up anyway (only our own cgroup): kill what is inside, then remove it
		if [[ -f $d/cgroup.procs ]]; then
			for c in $(cat "$d/cgroup.procs"); do kill -9 "$c" 2>/dev/null || true; done
		fi
		[[ -f $d/freezer.state ]] && echo THAWED >"$d/freezer.state" 2>/dev/null
		sleep 0.1
		rmdir "$d" 2>/dev/null || true
	done
	for d in "${BUNDLES[@]}"; do
		while read -r m; do
			problems+=("mount left: $m")
			umount -l "$m" 2>/dev/null || true
		done < <(awk -v b="$d" 'index($5, b) == 1 { print $5 }' /proc/self/mountinfo | sort -r)
	done
	if ((${#problems[@]})); then
		printf 'teardown: %s\n' "${problems[@]}" >&2
		return 1
	fi
}

common_teardown_file() {
	local d
	for d in /sys/fs/cgroup/*/$CG_PREFIX; do
		rmdir "$d" 2>/dev/null || true
	done
}

setup_file() { common_setup_file; }
setup() { common_setup; }
teardown() { common_teardown; }
teardown_file() { common_teardown_file; }

# no_trace_of ID: nothing of the container is left: `state` says it does not exist, no entry in
# the state root names it, no cgroup directory.
no_trace_of() {
	local id=$1 out
	out=$(rt state "$id" 2>&1) && fail "state $id succeeded: $out"
	assert_contains "$out" "does not exist"
	if compgen -G "$ROOT/*$id*" >/dev/null; then
		fail "state root still has: $(ls -d "$ROOT"/*"$id"*)"
	fi
	local left
	left=$(leftover_cgroups)
	[[ -z $left ]] || fail "cgroups left: $left"
}

# bats 1.8 cannot `skip` from setup_file (it reports "setup_file failed"): a file that needs
# root calls `need_root_file || return 0` first in setup_file, and skip_if_file_skipped in
# setup, so that without root each of its tests is skipped (and counted as skipped).
need_root_file() {
	[[ $(id -u) -eq 0 ]] && return 0
	export KEEL_FILE_SKIP="integration tests need root"
	return 1
}

skip_if_file_skipped() {
	[[ -z ${KEEL_FILE_SKIP:-} ]] || skip "$KEEL_FILE_SKIP"
}
