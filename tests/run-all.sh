#!/bin/bash
# Runs every test layer and prints one summary line: "N passed, N failed[, N skipped]".
#   unit       cmocka executables (build/tests/test_*), TAP output
#   unit-asan  the same, built with ASan+UBSan in build-asan/
#   integration, interop, vm   bats files under tests/<layer>/
# LAYERS="unit integration" limits the run; BATS_FILTER is passed to bats --filter.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
cd "$here"
layers=${LAYERS:-"unit unit-asan integration interop vm"}
pass=0 fail=0 skip=0
# Compiled seccomp programs go to a private cache for this run (the default is shared).
KEEL_SECCOMP_CACHE=$(mktemp -d /tmp/keel-seccomp-cache.XXXXXX)
export KEEL_SECCOMP_CACHE
trap 'rm -rf "$KEEL_SECCOMP_CACHE"' EXIT
failed_names=()

# Counts one TAP stream from stdin, echoing it.
count_tap() {
	local layer=$1 line
	while IFS= read -r line; do
		printf '%s\n' "$line"
		case "$line" in
		# cmocka reports a skipped test as "not ok N # SKIP", bats as "ok N ... # skip"
		"ok"*"# skip"* | "ok"*"# SKIP"* | "not ok"*"# SKIP"*) skip=$((skip + 1)) ;;
		"not ok"*)
			if [[ $line == *"# TODO"* ]]; then :; else
				fail=$((fail + 1)); failed_names+=("$layer: $line"); fi ;;
		"ok"*) pass=$((pass + 1)) ;;
		esac
	done
}

run_unit() {
	local dir=$1 layer=$2 t
	for t in "$here/$dir"/tests/test_*; do
		[ -f "$t" ] && [ -x "$t" ] || continue
		echo "# $layer: $(basename "$t")"
		# A crash or an abort after some cases must still count as a failure.
		count_tap "$layer" < <(cd tests/unit && KEEL="$here/$dir/keel" \
			KEEL_RUNTIME="$here/$dir/keel-runtime" CMOCKA_MESSAGE_OUTPUT=TAP "$t" 2>&1; rc=$?;
			[ $rc -ge 128 ] && echo "not ok - $(basename "$t") crashed (status $rc)"; exit 0)
	done
}

build_asan() {
	[ -f build-asan/build.ninja ] ||
		meson setup build-asan -Db_sanitize=address,undefined -Db_lundef=false >/dev/null ||
		return 1
	ninja -C build-asan >/dev/null
}

for layer in $layers; do
	echo "### layer: $layer"
	case $layer in
	unit) run_unit build unit ;;
	unit-asan)
		if build_asan; then
			ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
				run_unit build-asan unit-asan
		else
			count_tap unit-asan < <(echo "not ok - unit-asan: build-asan failed to build")
		fi ;;
	integration | interop | vm)
		files=$(ls tests/$layer/*.bats 2>/dev/null)
		[ -n "$files" ] || continue
		# shellcheck disable=SC2086
		count_tap "$layer" < <(bats --tap ${BATS_FILTER:+--filter "$BATS_FILTER"} $files 2>&1) ;;
	esac
done

if [ ${#failed_names[@]} -gt 0 ]; then
	echo "### failures:"
	printf '  %s\n' "${failed_names[@]}"
fi
summary="$pass passed, $fail failed"
[ $skip -gt 0 ] && summary="$summary, $skip skipped"
echo "$summary"
[ $fail -eq 0 ]
