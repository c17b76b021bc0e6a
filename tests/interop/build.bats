#!/usr/bin/env bats
# Build conformance: every case of tests/fixtures/dockerfiles built by `keel build` and by a
# private dockerd 20.10's legacy builder (DOCKER_BUILDKIT=0), both images exported in the
# docker-archive format (`keel save`, `docker save`) and compared by imgcompare.py: layer by
# layer (paths, types, modes, owners, symlink targets, content, hardlinks, xattrs), the config
# fields, and the history (count, empty_layer, created_by). Timestamps are not compared.
#
# A case directory may hold `interop.conf`, one directive a line (# comments):
#   build-arg K=V       passed to both builds
#   fails TEXT          both builds must fail (non-zero), and both outputs contain TEXT
#   docker-fails TEXT   Docker 20.10 refuses the case (its output contains TEXT) and keel
#                       builds it: a BuildKit feature keel has and the legacy builder lacks
#                       (listed in docs/build.md, "Differences from Docker's legacy builder")
#   expect-diff TEXT    a documented difference: imgcompare reports it, and must (see there)
#   needs-remote-add    the case ADDs from http://127.0.0.1:@HTTP_PORT@ (in build-arg values,
#                       the port of a python http.server serving tests/fixtures/dockerfiles);
#                       skipped while exec_build.c does not call exec_fetch_url
# Each build runs in a copy of the case's context with its Dockerfile inside as `Dockerfile`:
# docker's CLI rewrites .dockerignore when -f names a file outside the context.
# Cases build in order, so a case may use an earlier case's image by its directory name.

bats_require_minimum_version 1.5.0
load lib

: "${KEEL:=$REPO/build/keel}"
FIX=$REPO/tests/fixtures/dockerfiles

d()
{
	tmo "$DOCKER_CLI" -H "unix://$T/d.sock" "$@"
}

k()
{
	KEEL_ROOT=$T/keel KEEL_RUN_ROOT=$T/keel-run tmo "$KEEL" "$@"
}

setup_file()
{
	interop_skip_unless_ready dockerd "$DOCKER_CLI"
	[ -x "$KEEL" ] || { echo "keel $KEEL is not executable" >&2; return 1; }
	T=$(interop_tmpdir bld)
	export T
	cgroup_snapshot "$T/cgroups.before"
	dockerd_start "$T"
	# both builders start from the very same busybox image (same id, same layer)
	k save busybox | d load >&2
	# remote ADD's server: loopback only, any free port, stopped by pid in teardown_file
	python3 -u -m http.server 0 --bind 127.0.0.1 --directory "$FIX" \
		>"$T/http.log" 2>&1 3>&- &
	echo $! >"$T/http.pid"
	wait_for 100 grep -q 'Serving HTTP' "$T/http.log"
	HTTP_PORT=$(sed -n 's/.* port \([0-9]*\) .*/\1/p' "$T/http.log" | head -1)
	[ -n "$HTTP_PORT" ] || { cat "$T/http.log" >&2; return 1; }
	export HTTP_PORT
}

teardown_file()
{
	[ -n "${T:-}" ] || return 0
	kill_wait "$(cat "$T/http.pid" 2>/dev/null)" 5
	dockerd_stop "$T"
	# keel's RUN containers are removed by each build; anything left is a failure below
	cgroup_cleanup "$T/cgroups.before"
	cleanup_tmpdir "$T"
}

# conf_get CASE KEY: the values of KEY in CASE's interop.conf, one a line.
conf_get()
{
	local f=$FIX/$1/interop.conf
	[ -f "$f" ] || return 0
	sed -n "s/^$2 //p" "$f"
}

# conform CASE: build CASE with both, then compare (or check the expected failures).
conform()
{
	local c=$1 ctx=$T/ctx/$1 args=() a fails dfails expects=() e kst dst
	mkdir -p "$T/ctx"
	cp -a "$FIX/$c/context" "$ctx"
	cp "$FIX/$c/Dockerfile" "$ctx/Dockerfile"
	if [ -f "$FIX/$c/interop.conf" ] && grep -qx needs-remote-add "$FIX/$c/interop.conf" &&
		! grep -q exec_fetch_url "$REPO/src/lib/build/exec_build.c"; then
		skip "remote ADD: exec_build.c does not call exec_fetch_url yet"
	fi
	while read -r a; do
		[ -z "$a" ] || args+=(--build-arg "${a//@HTTP_PORT@/$HTTP_PORT}")
	done < <(conf_get "$c" build-arg)
	while read -r e; do [ -z "$e" ] || expects+=(--expect-diff "$e"); done < <(conf_get "$c" expect-diff)
	fails=$(conf_get "$c" fails)
	dfails=$(conf_get "$c" docker-fails)

	kst=0
	k build -t "$c" "${args[@]}" "$ctx" >"$T/$c.keel.log" 2>&1 || kst=$?
	dst=0
	DOCKER_BUILDKIT=0 d build --network none -t "$c" "${args[@]}" "$ctx" \
		>"$T/$c.docker.log" 2>&1 || dst=$?
	echo "# keel exit $kst, docker exit $dst"
	if [ -n "$fails" ]; then
		[ "$kst" -ne 0 ] || { cat "$T/$c.keel.log"; echo "keel built a case meant to fail"; return 1; }
		[ "$dst" -ne 0 ] || { cat "$T/$c.docker.log"; echo "docker built a case meant to fail"; return 1; }
		grep -qF -- "$fails" "$T/$c.keel.log" || { cat "$T/$c.keel.log"; echo "keel: no '$fails'"; return 1; }
		grep -qF -- "$fails" "$T/$c.docker.log" || { cat "$T/$c.docker.log"; echo "docker: no '$fails'"; return 1; }
		return 0
	fi
	[ "$kst" -eq 0 ] || { cat "$T/$c.keel.log"; echo "keel build failed"; return 1; }
	if [ -n "$dfails" ]; then
		[ "$dst" -ne 0 ] || { echo "docker built $c: drop docker-fails, compare it"; return 1; }
		grep -qF -- "$dfails" "$T/$c.docker.log" || { cat "$T/$c.docker.log"; echo "docker: no '$dfails'"; return 1; }
		return 0
	fi
	[ "$dst" -eq 0 ] || { cat "$T/$c.docker.log"; echo "docker build failed"; return 1; }
	k save -o "$T/$c.keel.tar" "$c"
	d save -o "$T/$c.docker.tar" "$c"
	python3 "$INTEROP_DIR/imgcompare.py" "${expects[@]}" "$T/$c.keel.tar" "$T/$c.docker.tar"
	rm -f "$T/$c.keel.tar" "$T/$c.docker.tar"
}

@test "build conformance: every fixture case has a test here" {
	local c
	for c in "$FIX"/*/; do
		c=$(basename "$c")
		grep -q "^@test \"build conformance: $c\"" "$BATS_TEST_FILENAME" || {
			echo "no test for $c"
			return 1
		}
	done
}

@test "build conformance: 01-from-scratch" { conform 01-from-scratch; }
@test "build conformance: 02-run-shell-exec" { conform 02-run-shell-exec; }
@test "build conformance: 03-cmd-entrypoint" { conform 03-cmd-entrypoint; }
@test "build conformance: 04-cmd-shell" { conform 04-cmd-shell; }
@test "build conformance: 05-env-both-syntaxes" { conform 05-env-both-syntaxes; }
@test "build conformance: 06-arg-global-and-stage" { conform 06-arg-global-and-stage; }
@test "build conformance: 07-arg-default-override" { conform 07-arg-default-override; }
@test "build conformance: 08-env-overrides-arg" { conform 08-env-overrides-arg; }
@test "build conformance: 09-label" { conform 09-label; }
@test "build conformance: 10-expose" { conform 10-expose; }
@test "build conformance: 11-volume" { conform 11-volume; }
@test "build conformance: 12-user" { conform 12-user; }
@test "build conformance: 13-workdir-relative" { conform 13-workdir-relative; }
@test "build conformance: 14-copy-file-vs-dir" { conform 14-copy-file-vs-dir; }
@test "build conformance: 15-copy-wildcards" { conform 15-copy-wildcards; }
@test "build conformance: 16-copy-chown-chmod" { conform 16-copy-chown-chmod; }
@test "build conformance: 17-copy-json-form" { conform 17-copy-json-form; }
@test "build conformance: 18-multistage-copy-from" { conform 18-multistage-copy-from; }
@test "build conformance: 19-from-previous-stage" { conform 19-from-previous-stage; }
@test "build conformance: 20-target-independent" { conform 20-target-independent; }
@test "build conformance: 21-heredoc-run" { conform 21-heredoc-run; }
@test "build conformance: 22-heredoc-copy" { conform 22-heredoc-copy; }
@test "build conformance: 23-heredoc-chomp-multi" { conform 23-heredoc-chomp-multi; }
@test "build conformance: 24-dockerignore" { conform 24-dockerignore; }
@test "build conformance: 25-dockerignore-dir-exception" { conform 25-dockerignore-dir-exception; }
@test "build conformance: 26-onbuild" { conform 26-onbuild; }
@test "build conformance: 27-healthcheck" { conform 27-healthcheck; }
@test "build conformance: 28-shell-stopsignal" { conform 28-shell-stopsignal; }
@test "build conformance: 29-escape-backtick" { conform 29-escape-backtick; }
@test "build conformance: 30-continuations-comments" { conform 30-continuations-comments; }
@test "build conformance: 31-add-local-tar" { conform 31-add-local-tar; }
@test "build conformance: 32-copy-symlink-in-context" { conform 32-copy-symlink-in-context; }
@test "build conformance: 33-run-network" { conform 33-run-network; }
@test "build conformance: 34-proxy-args" { conform 34-proxy-args; }
@test "build conformance: 35-platform-args" { conform 35-platform-args; }
@test "build conformance: 36-healthcheck-legacy" { conform 36-healthcheck-legacy; }
@test "build conformance: 37-copy-chown-names" { conform 37-copy-chown-names; }
@test "build conformance: 38-run-args-sorted" { conform 38-run-args-sorted; }
@test "build conformance: 39-onbuild-child" { conform 39-onbuild-child; }
@test "build conformance: 40-run-whiteouts-links" { conform 40-run-whiteouts-links; }
@test "build conformance: 41-workdir-copy-relative" { conform 41-workdir-copy-relative; }
@test "build conformance: 42-entrypoint-cmd-reset" { conform 42-entrypoint-cmd-reset; }
@test "build conformance: 43-volume-then-run" { conform 43-volume-then-run; }
@test "build conformance: 44-copy-from-owners" { conform 44-copy-from-owners; }
@test "build conformance: 45-user-home-run" { conform 45-user-home-run; }
@test "build conformance: 46-copy-wildcard-dirs" { conform 46-copy-wildcard-dirs; }
@test "build conformance: 47-label-env-inherit" { conform 47-label-env-inherit; }
@test "build conformance: 48-fail-copy-missing" { conform 48-fail-copy-missing; }
@test "build conformance: 49-fail-outside-context" { conform 49-fail-outside-context; }
@test "build conformance: 50-chown-user-without-group" { conform 50-chown-user-without-group; }
@test "build conformance: 51-maintainer-not-inherited" { conform 51-maintainer-not-inherited; }
@test "build conformance: 52-add-remote" { conform 52-add-remote; }
@test "build conformance: 53-add-remote-checksum" { conform 53-add-remote-checksum; }
@test "build conformance: 54-copy-from-image" { conform 54-copy-from-image; }
@test "build conformance: 55-add-compressed-tar" { conform 55-add-compressed-tar; }
@test "build conformance: 56-entrypoint-cmd-empty" { conform 56-entrypoint-cmd-empty; }
