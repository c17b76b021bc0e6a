#!/usr/bin/env bats
# keel build: stages that do not depend on each other are built at the same time (one worker
# process per stage, up to $KEEL_BUILD_JOBS or the number of CPUs, at least 2). Proven without
# timing: two stages' RUN steps talk to each other over 127.0.0.1 (RUN --network=host), which
# only works when both run at once; a sequential build fails that test after a bounded wait.
# Also: the plain output stays the sequential build's (same lines, same order), a failing stage
# fails the build with its own error, tags nothing and leaves nothing behind.

load ../lib/common

setup_file() {
	need_root_file || return 0
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { skip_if_file_skipped; }
teardown() { :; }
teardown_file() { :; }

k() {
	"$KEEL" "$@"
}

# no containers, no overlay under the store, no build scratch dirs
assert_clean() {
	assert_eq "$(k ps -aq)" ""
	run grep -c "$KEEL_ROOT" /proc/self/mountinfo
	assert_eq "$output" "0"
	assert_eq "$(ls -A "$KEEL_ROOT/tmp" 2>/dev/null)" ""
}

# rendezvous_dockerfile DIR PORT: stage "listener" waits (at most 15 s) for stage "caller" to
# connect to PORT on the host's loopback; "caller" retries for at most 15 s. Built one after the
# other, the listener times out and the build fails. No data is exchanged (busybox's small nc
# may drop it when its stdin ends first): `nc -l -e true` exits 0 only once a peer connected.
rendezvous_dockerfile() {
	mkdir -p "$1"
	cat >"$1/Dockerfile" <<-EOF
		FROM busybox AS listener
		RUN --network=host timeout 15 nc -l -p $2 -e true && echo met > /got
		FROM busybox AS caller
		RUN --network=host for i in \$(seq 75); do timeout 5 nc 127.0.0.1 $2 </dev/null && exit 0; sleep 0.2; done; exit 1
		RUN echo called > /called
		FROM busybox
		COPY --from=listener /got /got
		COPY --from=caller /called /called
		RUN cat /got /called
	EOF
}

@test "build: independent stages run at the same time (their RUN steps meet over loopback)" {
	ctx=$BATS_TEST_TMPDIR/ctx
	rendezvous_dockerfile "$ctx" $((20000 + RANDOM % 20000))
	run k build --no-cache -t par "$ctx"
	assert_status 0
	assert_contains "$output" "Successfully tagged par:latest"
	run k run --rm par cat /got /called
	assert_eq "$output" "$(printf 'met\ncalled')"
	assert_clean
}

@test "build: KEEL_BUILD_JOBS=1 builds one stage at a time (the same rendezvous fails)" {
	ctx=$BATS_TEST_TMPDIR/ctx
	rendezvous_dockerfile "$ctx" $((20000 + RANDOM % 20000))
	KEEL_BUILD_JOBS=1 run --separate-stderr k build --no-cache -t seq "$ctx"
	assert_status 1
	assert_match "$stderr" "^Dockerfile:2: The command .* returned a non-zero code"
	run k image inspect seq
	assert_status 1
	assert_clean
}

# ids and timings out: what is left must be the same for both builds
normalize() {
	sed -E 's/[0-9a-f]{12}/ID/g; s/out-(par|seq)/out/'
}

@test "build: plain output of a parallel build is the sequential one, line for line" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox AS a
		RUN for i in 1 2 3; do echo a-$i; sleep 0.2; done > /dev/stderr; echo a > /a
		RUN echo a-second
		FROM busybox AS b
		RUN echo b-first; echo b > /b
		RUN for i in 1 2 3; do echo b-$i; sleep 0.1; done
		FROM a AS c
		RUN echo c-from-a; cat /a
		FROM busybox
		COPY --from=b /b /b
		COPY --from=c /a /a
		RUN cat /a /b
	EOF
	run k build --no-cache -t out-par "$ctx"
	assert_status 0
	par=$(normalize <<<"$output")
	KEEL_BUILD_JOBS=1 run k build --no-cache -t out-seq "$ctx"
	assert_status 0
	seq=$(normalize <<<"$output")
	assert_eq "$par" "$seq"
	assert_contains "$par" "Step 12/12 : RUN cat /a /b"
	# and the images hold the same files
	assert_eq "$(k run --rm out-par cat /a /b)" "$(k run --rm out-seq cat /a /b)"
	# a cached rebuild takes every step from the cache, in the same order
	run k build -t out-par "$ctx"
	assert_status 0
	assert_eq "$(grep -c 'Using cache' <<<"$output")" "8"
	assert_eq "$(grep '^Step' <<<"$output" | normalize)" "$(grep '^Step' <<<"$seq")"
	assert_clean
}

@test "build: a failing stage fails the build with its error; the other stage stops, nothing is tagged" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	# "slow" is in a 40 s RUN when "bad" fails: its container is killed (the build does not
	# wait for it) and its next step never starts
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox AS bad
		RUN sleep 1; echo about to fail; exit 7
		FROM busybox AS slow
		RUN echo slow-started; sleep 40; echo slow-$((6 * 7))
		RUN echo second-$((6 * 7))
		FROM busybox
		COPY --from=bad /etc/passwd /a
		COPY --from=slow /etc/passwd /b
	EOF
	start=$SECONDS
	run --separate-stderr k build -t broken "$ctx"
	assert_status 1
	[[ $((SECONDS - start)) -lt 25 ]] || fail "the build waited $((SECONDS - start)) s for the other stage"
	assert_eq "$stderr" "Dockerfile:2: The command '/bin/sh -c sleep 1; echo about to fail; exit 7' returned a non-zero code: 7"
	assert_contains "$output" "about to fail"
	assert_not_contains "$output" "slow-42"     # the RUN was killed
	assert_not_contains "$output" "Step 5/8"    # and the stage stopped there
	assert_not_contains "$output" "Successfully"
	run k image inspect broken
	assert_status 1
	assert_clean
}

@test "build: --target with independent stages builds only what the target needs, in parallel" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox AS x
		RUN echo x > /x
		FROM busybox AS unused
		RUN false
		FROM busybox AS y
		RUN echo y > /y
		FROM busybox AS t
		COPY --from=x /x /x
		COPY --from=y /y /y
	EOF
	run k build --no-cache --target t -t tgt "$ctx"
	assert_status 0
	assert_not_contains "$output" "RUN false"
	assert_contains "$output" "Step 7/7 : COPY --from=y /y /y"
	run k run --rm tgt cat /x /y
	assert_eq "$output" "$(printf 'x\ny')"
	assert_clean
}
