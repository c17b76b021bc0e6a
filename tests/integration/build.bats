#!/usr/bin/env bats
# keel build: real builds of tests/fixtures/dockerfiles cases that need only busybox, checking
# the files (keel run) and the config (keel image inspect), the step cache, multi-stage
# COPY --from, and failures (one line naming Dockerfile:LINE, exit 1, nothing tagged, no
# container or mount left). Private store and run root per file.

load ../lib/common

setup_file() {
	need_root_file || return 0
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	export FIX=$REPO/tests/fixtures/dockerfiles
	"$KEEL" images >/dev/null # builds the busybox image once
}

setup() { skip_if_file_skipped; }
teardown() { http_stop; }
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

# http_serve DIR: a python http.server on 127.0.0.1 (any free port) serving DIR; sets
# HTTP_PID and HTTP_PORT. Stopped by pid in the test (http_stop), never by name.
http_serve() {
	python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$1" \
		>"$BATS_TEST_TMPDIR/http.log" 2>&1 3>&- &
	HTTP_PID=$!
	local i
	for ((i = 0; i < 100; i++)); do
		grep -q 'Serving HTTP' "$BATS_TEST_TMPDIR/http.log" && break
		sleep 0.1
	done
	HTTP_PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$BATS_TEST_TMPDIR/http.log" | head -1)
	[[ -n $HTTP_PORT ]] || fail "http.server did not start: $(cat "$BATS_TEST_TMPDIR/http.log")"
}

http_stop() {
	if [[ -n ${HTTP_PID:-} ]]; then
		kill "$HTTP_PID" 2>/dev/null || true
		wait "$HTTP_PID" 2>/dev/null || true
	fi
	HTTP_PID=
}

@test "build: remote ADD: 0600, Last-Modified mtime, not unpacked, --checksum checked" {
	grep -q exec_fetch_url "$REPO/src/lib/build/exec_build.c" ||
		skip "remote ADD: exec_build.c does not call exec_fetch_url yet"
	srv=$BATS_TEST_TMPDIR/srv ctx=$BATS_TEST_TMPDIR/ctx
	mkdir -p "$srv/d" "$ctx"
	echo remote >"$srv/f.txt"
	touch -d '2020-01-02 03:04:05 UTC' "$srv/f.txt"
	tar -C "$srv" -cf "$srv/a.tar" f.txt
	sum=$(sha256sum "$srv/f.txt" | cut -d' ' -f1)
	http_serve "$srv"
	cat >"$ctx/Dockerfile" <<-EOF
		FROM busybox
		ADD http://127.0.0.1:$HTTP_PORT/f.txt /remote.txt
		ADD --chown=1:2 --checksum=sha256:$sum http://127.0.0.1:$HTTP_PORT/f.txt?v=1 /dir/
		ADD http://127.0.0.1:$HTTP_PORT/a.tar /tars/
	EOF
	run k build -t remote "$ctx"
	assert_status 0
	run k run --rm remote stat -c '%a %u:%g %Y %n' /remote.txt /dir/f.txt /tars/a.tar
	assert_eq "$output" "$(printf '600 0:0 1577934245 /remote.txt\n600 1:2 1577934245 /dir/f.txt\n600 0:0 %s /tars/a.tar' "$(stat -c %Y "$srv/a.tar")")"
	run k run --rm remote cat /dir/f.txt
	assert_eq "$output" "remote"
	# a wrong checksum, a 404: the build fails on that line, nothing tagged
	printf 'FROM busybox\nADD --checksum=sha256:%064d http://127.0.0.1:%s/f.txt /x\n' 0 "$HTTP_PORT" >"$ctx/Dockerfile"
	run --separate-stderr k build -t badsum "$ctx"
	assert_status 1
	assert_match "$stderr" "^Dockerfile:2: .*checksum mismatch: expected sha256:0{64}, got sha256:$sum"
	printf 'FROM busybox\nADD http://127.0.0.1:%s/nothere /x\n' "$HTTP_PORT" >"$ctx/Dockerfile"
	run --separate-stderr k build -t notfound "$ctx"
	http_stop
	assert_status 1
	assert_match "$stderr" "^Dockerfile:2: .*404"
	run k image inspect badsum
	assert_status 1
	assert_clean
}

@test "build: FROM --platform is checked against the image (scratch and stages as they are)" {
	local d=$BATS_TEST_TMPDIR/plat
	mkdir -p "$d"
	printf 'FROM --platform=linux/arm64 busybox\nRUN true\n' >"$d/Dockerfile.arm"
	run k build -t plat-arm -f "$d/Dockerfile.arm" "$d"
	assert_status 1
	assert_contains "$output" "Dockerfile:1: image with reference busybox was found but does not match the specified platform: wanted linux/arm64, actual: linux/amd64"
	run k image inspect plat-arm
	assert_status 1
	# an ARG that expands to the same platform under another name for the arch is fine
	printf 'ARG P=linux/x86_64\nFROM --platform=$P busybox\nRUN true\n' >"$d/Dockerfile.amd"
	run k build -q -t plat-amd -f "$d/Dockerfile.amd" "$d"
	assert_status 0
	printf 'FROM --platform=$BUILDPLATFORM busybox AS a\nFROM --platform=linux/arm64 a\nFROM --platform=linux/s390x scratch\nCOPY Dockerfile.arm /\n' >"$d/Dockerfile.ok"
	run k build -q -f "$d/Dockerfile.ok" "$d"
	assert_status 0
	printf 'FROM --platform=bogus busybox\n' >"$d/Dockerfile.bad"
	run k build -f "$d/Dockerfile.bad" "$d"
	assert_status 1
	assert_contains "$output" "Dockerfile:1: failed to parse platform bogus"
	assert_clean
}
