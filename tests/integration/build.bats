#!/usr/bin/env bats
# keel build: real builds of tests/fixtures/dockerfiles cases that need only busybox, checking
# the files (keel run) and the config (keel image inspect), the step cache, multi-stage
# COPY --from, and failures (one line naming Dockerfile:LINE, exit 1, nothing tagged, no
# container or mount left). Private store and run root per file.

load ../lib/common

setup_file() {
	[[ $(id -u) -eq 0 ]] || skip "integration tests need root"
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	export FIX=$REPO/tests/fixtures/dockerfiles
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { :; }
teardown() { :; }
teardown_file() { :; }

k() {
	"$KEEL" "$@"
}

# build CASE [ARGS...]: builds fixture CASE tagged case:latest, output in $output.
build() {
	local c=$1
	shift
	run "$KEEL" build -t "$c" -f "$FIX/$c/Dockerfile" "$@" "$FIX/$c/context"
}

cfg() {
	k image inspect "$1" | jq -c ".[0].Config.$2"
}

# no containers, no overlay under the store, no build scratch dirs
assert_clean() {
	assert_eq "$(k ps -aq)" ""
	run grep -c "$KEEL_ROOT" /proc/self/mountinfo
	assert_eq "$output" "0"
	assert_eq "$(ls -A "$KEEL_ROOT/tmp" 2>/dev/null)" ""
}

@test "build: RUN, ENV, WORKDIR, COPY, CMD; files and config; history" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	echo hi >"$ctx/hello.txt"
	cat >"$ctx/Dockerfile" <<-'EOF'
		FROM busybox
		ENV A=hello
		RUN echo $A > /greeting && echo ran-$A
		WORKDIR /app
		COPY hello.txt ./
		CMD ["cat", "/greeting"]
	EOF
	run k build -t t1 "$ctx"
	assert_status 0
	assert_contains "$output" "Step 1/6 : FROM busybox"
	assert_contains "$output" "Step 3/6 : RUN echo \$A > /greeting && echo ran-\$A"
	assert_contains "$output" "ran-hello"
	assert_contains "$output" "Successfully built "
	assert_contains "$output" "Successfully tagged t1:latest"
	run k run --rm t1
	assert_eq "$output" "hello"
	run k run --rm t1 cat /app/hello.txt
	assert_eq "$output" "hi"
	assert_eq "$(cfg t1 WorkingDir)" '"/app"'
	assert_eq "$(cfg t1 Cmd)" '["cat","/greeting"]'
	assert_contains "$(cfg t1 Env)" '"A=hello"'
	run k history --no-trunc t1
	assert_contains "$output" '/bin/sh -c #(nop)  CMD ["cat" "/greeting"]'
	assert_contains "$output" '/bin/sh -c #(nop) WORKDIR /app'
	assert_contains "$output" '/bin/sh -c echo $A > /greeting && echo ran-$A'
	# one history entry per instruction after FROM: busybox's 1 + 5
	assert_eq "$(k image inspect t1 | jq '.[0].RootFS.Layers | length')" "4"
	assert_clean
}

@test "build: a rebuild with nothing changed is all cache, runs no container" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	echo one >"$ctx/f"
	printf 'FROM busybox\nRUN echo side-effect\nCOPY f /f\nRUN cat /f\n' >"$ctx/Dockerfile"
	run k build -q -t cached "$ctx"
	assert_status 0
	id1=$output
	run k build -t cached "$ctx"
	assert_status 0
	assert_not_contains "$output" "Running in"
	[[ $output != *$'\n'side-effect* ]] || fail "RUN ran again: $output"
	assert_contains "$output" "Using cache"
	run k build -q -t cached "$ctx"
	assert_eq "$output" "$id1"
	# a changed file invalidates its COPY and what follows, not the RUN before it
	echo two >"$ctx/f"
	run k build -t cached "$ctx"
	assert_status 0
	[[ $output != *$'\n'side-effect* ]] || fail "RUN before the COPY ran again: $output"
	assert_contains "$output" $'\ntwo'
	assert_eq "$(grep -c 'Using cache' <<<"$output")" "1"
	run k build -q --no-cache -t cached "$ctx"
	assert_status 0
	[[ $output != "$id1" ]]
	assert_clean
}

@test "build: multi-stage COPY --from by name and index, FROM scratch" {
	build 18-multistage-copy-from
	assert_status 0
	k tag 18-multistage-copy-from ms >/dev/null
	# no shell in the result: read the files by building on top of it
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM busybox\nCOPY --from=ms /artifact /t /got/\n' >"$ctx/Dockerfile"
	run k build -t msread "$ctx"
	assert_status 0
	run k run --rm msread cat /got/artifact /got/t
	assert_eq "$output" "$(printf 'built\ntest')"
	assert_eq "$(k image inspect ms | jq '.[0].RootFS.Layers | length')" "2"
	assert_clean
}

@test "build: --target builds only the stages it needs" {
	build 20-target-independent
	assert_status 0
	assert_not_contains "$output" "RUN false"
	assert_contains "$output" "Step 1/7 : FROM busybox AS a"
	build 20-target-independent --target b
	assert_status 0
	assert_eq "$(grep -c '^Step' <<<"$output")" "2"
	assert_contains "$output" "RUN echo b > /b"
	assert_clean
}

@test "build: COPY --chown/--chmod, ADD extracts local tars" {
	build 16-copy-chown-chmod
	assert_status 0
	run k run --rm 16-copy-chown-chmod stat -c '%u:%g %a %n' /a /b /c
	assert_eq "$output" "$(printf '1000:1000 644 /a\n0:0 755 /b\n65534:65534 600 /c')"
	build 31-add-local-tar
	assert_status 0
	run k run --rm 31-add-local-tar sh -c 'cat /extracted/inside/hello.txt; stat -c "%u:%g" /plain.txt'
	assert_status 0
	assert_contains "$output" "1:1"
	[[ ! -e $FIX/31-add-local-tar/context/files.tar ]] || {
		run k run --rm 31-add-local-tar ls /extracted/files.tar
		assert_status 1
	}
}

@test "build: heredoc COPY, .dockerignore, ONBUILD triggers" {
	build 22-heredoc-copy
	assert_status 0
	run k run --rm 22-heredoc-copy cat /expanded /literal
	assert_eq "$output" "$(printf 'hello world\nhello $NAME')"
	build 24-dockerignore
	assert_status 0
	run k run --rm 24-dockerignore sh -c 'cd /ctx && find . -type f | sort'
	assert_contains "$output" "./keep.log"
	assert_not_contains "$output" "x.log"
	assert_not_contains "$output" "secret"
	build 26-onbuild
	assert_status 0
	assert_contains "$(cfg 26-onbuild OnBuild)" "ONBUILD" || assert_contains "$(cfg 26-onbuild OnBuild)" "RUN echo triggered"
	ctx=$BATS_TEST_TMPDIR/child
	mkdir -p "$ctx"
	echo src >"$ctx/s"
	printf 'FROM 26-onbuild\nRUN test -f /app/src/s\n' >"$ctx/Dockerfile"
	run k build --build-arg Y=1 -t child "$ctx"
	assert_status 0
	assert_contains "$output" "Executing 3 build triggers"
	assert_contains "$output" "triggered"
	assert_eq "$(cfg child OnBuild)" "null"
}

@test "build: failures name Dockerfile:LINE, exit 1, tag nothing, leave nothing" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	printf 'FROM busybox\nRUN echo a\nRUN false\n' >"$ctx/Dockerfile"
	run --separate-stderr k build -t bad "$ctx"
	assert_status 1
	assert_eq "$stderr" "Dockerfile:3: The command '/bin/sh -c false' returned a non-zero code: 1"
	run k image inspect bad
	assert_status 1
	printf 'FROM busybox\nFOO bar\n' >"$ctx/Dockerfile"
	run --separate-stderr k build -t bad "$ctx"
	assert_status 1
	assert_eq "$stderr" "Dockerfile:2: unknown instruction: FOO"
	printf 'FROM busybox\nCOPY nothere /x\n' >"$ctx/Dockerfile"
	run --separate-stderr k build -t bad "$ctx"
	assert_status 1
	assert_match "$stderr" "^Dockerfile:2: .*nothere"
	printf 'FROM busybox\nCOPY ../outside /x\n' >"$ctx/Dockerfile"
	run --separate-stderr k build -t bad "$ctx"
	assert_status 1
	assert_match "$stderr" "^Dockerfile:2: "
	run k image inspect bad
	assert_status 1
	assert_clean
}

@test "build: context from a tar on stdin, --iidfile, --label" {
	ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$ctx"
	echo x >"$ctx/x"
	printf 'FROM busybox\nCOPY x /x\n' >"$ctx/Dockerfile"
	run bash -c "tar -C '$ctx' -cf - . | '$KEEL' build --iidfile '$BATS_TEST_TMPDIR/iid' --label a=b -t fromtar -"
	assert_status 0
	assert_eq "$(cat "$BATS_TEST_TMPDIR/iid")" "$(k image inspect fromtar | jq -r '.[0].Id')"
	assert_eq "$(cfg fromtar Labels.a)" '"b"'
	run k run --rm fromtar cat /x
	assert_eq "$output" "x"
}
