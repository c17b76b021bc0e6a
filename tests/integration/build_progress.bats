#!/usr/bin/env bats
# keel build --progress=auto|plain|tty: on a terminal (a real pty from script(1)) a live display
# ("[stage k/n] STEP" lines with their time or CACHED, the tail of RUN output, a "[+] Building"
# line redrawn in place); Docker's legacy "Step N/M : ..." lines when the output is not a
# terminal or --progress=plain. Private store and run root per file.

load ../lib/common

setup_file() {
	need_root_file || return 0
	command -v script >/dev/null || skip "script(1) missing (bsdutils)"
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { skip_if_file_skipped; }
teardown() { :; }
teardown_file() { :; }

k() {
	"$KEEL" "$@"
}

# on_tty CMD...: CMD on a fresh pseudo-terminal, 60 s at most; its output (\r removed) in
# $output, its exit status in $status.
on_tty() {
	local q
	q=$(printf '%q ' "$@")
	run timeout -k 5 60 script -qefc "$q" /dev/null </dev/null
	output=$(tr -d '\r' <<<"$output")
}

ESC=$'\033'

dockerfile() {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	cat >"$ctx/Dockerfile"
}

@test "progress: on a terminal, a live display with steps, RUN output tail, times, FINISHED" {
	dockerfile <<-'EOF'
		FROM busybox AS base
		RUN for i in 1 2 3; do echo tick-$i; sleep 0.3; done
		FROM busybox
		COPY --from=base /etc/passwd /p
		RUN echo done
	EOF
	on_tty "$KEEL" build -t live "$ctx"
	assert_status 0
	assert_contains "$output" "[+] Building "
	assert_match "$output" "\[base 2/2\] RUN for i in 1 2 3; do echo tick-\\\$i; sleep 0.3; done +[0-9]+\.[0-9]s"
	assert_match "$output" "\[stage-1 3/3\] RUN echo done +[0-9]+\.[0-9]s"
	assert_contains "$output" "  > tick-2"           # the RUN output tail, while it ran
	assert_contains "$output" "${ESC}[J"              # the live area is redrawn in place
	assert_match "$output" "\[\+\] Building [0-9.]+s \(5/5\) FINISHED"
	assert_contains "$output" "Successfully tagged live:latest"
	assert_not_contains "$output" "Step 1/5"
	assert_not_contains "$output" " ---> "
	# cached: every step after a FROM says so
	on_tty "$KEEL" build -t live "$ctx"
	assert_status 0
	assert_match "$output" "\[base 2/2\] RUN for i in .* +CACHED"
	assert_match "$output" "\[stage-1 2/3\] COPY --from=base /etc/passwd /p +CACHED"
	assert_match "$output" "\[stage-1 3/3\] RUN echo done +CACHED"
}

@test "progress: a failing step on a terminal is marked ERROR and keeps its output" {
	dockerfile <<-'EOF'
		FROM busybox
		RUN echo first-line; echo boom-line; exit 4
	EOF
	on_tty "$KEEL" build -t broken "$ctx"
	assert_status 1
	assert_match "$output" "\[stage-0 2/2\] RUN echo first-line; echo boom-line; exit 4 +ERROR"
	assert_contains "$output" "  > boom-line"
	assert_match "$output" "Building [0-9.]+s \(1/2\) FAILED"
	assert_contains "$output" "Dockerfile:2: The command '/bin/sh -c echo first-line; echo boom-line; exit 4' returned a non-zero code: 4"
	run k image inspect broken
	assert_status 1
	assert_eq "$(k ps -aq)" ""
}

@test "progress: --progress=plain on a terminal, and auto on a pipe, print the legacy lines" {
	dockerfile <<-'EOF'
		FROM busybox
		RUN echo plain-out
	EOF
	on_tty "$KEEL" build --progress=plain --no-cache -t pl "$ctx"
	assert_status 0
	assert_contains "$output" "Step 1/2 : FROM busybox"
	assert_contains "$output" "Step 2/2 : RUN echo plain-out"
	assert_contains "$output" "plain-out"
	assert_not_contains "$output" "$ESC"
	assert_not_contains "$output" "[+] Building"
	tty_plain=$(sed -E 's/[0-9a-f]{12}/ID/g' <<<"$output")
	run k build --no-cache -t pl "$ctx"
	assert_status 0
	assert_eq "$(sed -E 's/[0-9a-f]{12}/ID/g' <<<"$output")" "$tty_plain"
	assert_not_contains "$output" "$ESC"
}

@test "progress: --progress=tty draws the display on a pipe too; a bad value is an error" {
	dockerfile <<-'EOF'
		FROM busybox
		RUN echo x
	EOF
	run k build --progress=tty --no-cache -t tt "$ctx"
	assert_status 0
	assert_match "$output" "\[stage-0 2/2\] RUN echo x +[0-9]+\.[0-9]s"
	assert_contains "$output" "FINISHED"
	run --separate-stderr k build --progress=fancy -t tt "$ctx"
	assert_status 125
	assert_contains "$stderr" "invalid --progress value fancy"
}
