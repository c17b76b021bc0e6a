# Shared setup for the VM integration tests: a private KEEL_ROOT per test file, the keel
# binary from $KEEL (default build/keel), the test guests from build/guests.
REPO="$(cd "$BATS_TEST_DIRNAME/../.." && pwd)"
KEEL="${KEEL:-$REPO/build/keel}"
GUESTS="${GUESTS:-$REPO/build/guests}"

vm_setup_file() {
	[ -c /dev/kvm ] || skip "no /dev/kvm"
	export KEEL_ROOT="$(mktemp -d /tmp/keel-vm-test.XXXXXX)"
}

# Stops every VMM under KEEL_ROOT by its pid, then removes the root.
vm_teardown_file() {
	[ -n "${KEEL_ROOT:-}" ] || return 0
	# every VMM of every root the tests made under KEEL_ROOT (migrations use several), even
	# when a test failed half-way
	local pidfile
	while IFS= read -r pidfile; do
		kill -9 "$(cat "$pidfile")" 2>/dev/null || true
	done < <(find "$KEEL_ROOT" -name vmm.pid 2>/dev/null)
	rm -rf "$KEEL_ROOT"
}

# wait_log NAME PATTERN [SECONDS]: waits until the VM's console log matches.
wait_log() {
	local i
	for ((i = 0; i < ${3:-10} * 20; i++)); do
		"$KEEL" vm logs "$1" 2>/dev/null | grep -q -- "$2" && return 0
		sleep 0.05
	done
	echo "timeout waiting for '$2' in $1's console:" >&2
	"$KEEL" vm logs "$1" | tail -5 >&2
	return 1
}

# last_count NAME: the last COUNT value the counter guest printed.
last_count() {
	"$KEEL" vm logs "$1" | awk '/^COUNT/ {n = $2} END {print n + 0}'
}
