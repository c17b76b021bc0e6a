#!/usr/bin/env bats
# Image store and image commands: images, tag, rmi, inspect, history, save/load round trips,
# import, prune, hostile archives, concurrent and killed loads. Private store per file.

load ../lib/common

setup_file() {
	need_root_file || return 0
	export KROOT=$BATS_FILE_TMPDIR/keel
	export TARS=$BATS_FILE_TMPDIR/tars
	mkdir -p "$TARS"
	"$REPO/tools/mkimage.sh" -f docker -n docker.io/keeltest/bb:latest "$TARS/docker.tar" >/dev/null
	"$REPO/tools/mkimage.sh" -f oci -n docker.io/keeltest/bbo:v1 "$TARS/oci.tar" >/dev/null
	python3 "$BATS_TEST_DIRNAME/image_hostile.py" "$TARS"
}
setup() { skip_if_file_skipped; }
teardown() { :; }
teardown_file() { :; }

# keel with this file's store (KEEL_ROOT: main.c has no global --root before the command; every
# image command also takes --root after its name).
k() {
	KEEL_ROOT=$KROOT "$KEEL" "$@"
}

# state: every image id, tag and layer dir, to compare before/after a failure.
state() {
	k images -a --no-trunc --format '{{.Repository}}:{{.Tag}} {{.ID}}' | sort
	ls "$KROOT/layers" | sort
}

@test "fresh store has busybox, deterministic id" {
	run k images
	assert_status 0
	assert_contains "$output" "REPOSITORY   TAG"
	assert_contains "$output" "busybox "
	id1=$(k images -q busybox)
	other=$BATS_FILE_TMPDIR/other
	id2=$("$KEEL" images --root "$other" -q busybox)
	assert_eq "$id1" "$id2"
	rm -rf "$other"
}

@test "load docker-archive and oci-archive" {
	run k load -i "$TARS/docker.tar"
	assert_status 0
	assert_eq "$output" "Loaded image: keeltest/bb:latest"
	run k load <"$TARS/oci.tar"
	assert_status 0
	assert_eq "$output" "Loaded image: keeltest/bbo:v1"
	run k images keeltest/bb
	assert_contains "$output" "keeltest/bb   latest"
	run k image inspect -f '{{.Config.Cmd}} {{.Os}}' keeltest/bbo:v1
	assert_eq "$output" "[sh] linux"
	# the layer is unpacked: busybox binary, applet symlinks
	dir=$(k image inspect -f '{{.GraphDriver.Data.LowerDir}}' keeltest/bb)
	[[ -x $dir/bin/busybox && -L $dir/bin/ls ]]
}

@test "tag, images -q/--format, history, inspect" {
	run k tag busybox myrepo/app:1
	assert_status 0
	run k images --format '{{.Repository}}:{{.Tag}}'
	assert_contains "$output" "myrepo/app:1"
	run k image inspect myrepo/app:1
	assert_status 0
	assert_jq "$output" '.[0].RepoTags | index("myrepo/app:1") != null'
	assert_jq "$output" '.[0].RootFS.Type == "layers"'
	run k history busybox
	assert_status 0
	assert_contains "$output" "IMAGE          CREATED"
	run k tag nosuch x:1
	assert_status 1
	assert_contains "$output" "No such image: nosuch"
	run k tag busybox 'Bad:Name'
	assert_status 1
}

@test "rmi: untag, delete, missing image, bad flag" {
	k tag busybox gone/one:1
	run k rmi gone/one:1
	assert_status 0
	assert_eq "$output" "Untagged: gone/one:1"
	run k rmi nosuch
	assert_status 1
	assert_contains "$output" "Error: No such image: nosuch"
	run k rmi --bogus x
	assert_status 125
	assert_contains "$output" "unknown flag: --bogus"
}

@test "rmi refuses an image used by a container unless -f" {
	k import - used/img:1 < <(tar -C "$REPO/tests" -cf - unit) >/dev/null
	id=$(k image inspect -f '{{.Id}}' used/img:1)
	sqlite3 "$KROOT/keel.db" "INSERT INTO image_users VALUES ('$id', 'c0ffee')"
	run k rmi used/img:1
	assert_status 1
	assert_contains "$output" "must force"
	run k rmi -f used/img:1
	assert_status 0
	assert_contains "$output" "Untagged: used/img:1"
	# the image stays (dangling) while used, its layer too
	run k image inspect "$id"
	assert_status 0
	sqlite3 "$KROOT/keel.db" "DELETE FROM image_users WHERE container_id = 'c0ffee'"
	run k image prune -f
	assert_contains "$output" "deleted: $id"
}

@test "save/load round trip, docker and oci formats" {
	k save -o "$BATS_FILE_TMPDIR/rt.tar" busybox keeltest/bb
	k save --format oci busybox >"$BATS_FILE_TMPDIR/rt-oci.tar"
	before=$(k images -q --no-trunc busybox)
	r2=$BATS_FILE_TMPDIR/r2
	KEEL_ROOT=$r2 "$KEEL" load -i "$BATS_FILE_TMPDIR/rt.tar"
	after=$(KEEL_ROOT=$r2 "$KEEL" images -q --no-trunc keeltest/bb)
	assert_eq "$after" "$(k images -q --no-trunc keeltest/bb)"
	rm -rf "$r2"
	"$KEEL" load --root "$r2" -i "$BATS_FILE_TMPDIR/rt-oci.tar" >/dev/null
	assert_eq "$("$KEEL" images --root "$r2" -q --no-trunc busybox)" "$before"
	rm -rf "$r2"
}

@test "hostile and broken archives: one line, exit 1, store unchanged" {
	before=$(state)
	for t in "$TARS"/hostile-*.tar; do
		run k load -i "$t"
		[[ $status -eq 1 ]] || fail "$t: status $status: $output"
		[[ $(wc -l <<<"$output") -eq 1 ]] || fail "$t: more than one line: $output"
		assert_contains "$output" "Error:"
		assert_eq "$(state)" "$before"
	done
	# nothing escaped: the files the hostile layers aim at do not exist
	[[ ! -e $BATS_FILE_TMPDIR/escaped ]] || fail "a layer wrote outside its directory"
	[[ ! -e /tmp/keel-escaped ]] || fail "a layer wrote /tmp/keel-escaped"
	ls "$KROOT/layers" | grep -q '^\.tmp-' && fail "temp layer left"
	true
}

@test "whiteouts become overlayfs whiteouts" {
	run k load -i "$TARS/whiteout.tar"
	assert_status 0
	dir=$(k image inspect -f '{{.GraphDriver.Data.LowerDir}}' keeltest/wh | cut -d: -f1)
	[[ -c $dir/etc/gone ]] || fail "no char device whiteout"
	[[ $(stat -c %t:%T "$dir/etc/gone") == 0:0 ]]
	[[ $(python3 -c 'import os, sys; print(os.getxattr(sys.argv[1], "trusted.overlay.opaque").decode())' "$dir/opq") == y ]] ||
		fail "no opaque xattr"
	[[ ! -e $dir/etc/.wh.gone ]]
}

@test "import with changes" {
	run k import -c 'CMD ["/bin/true"]' -c 'ENV A=b' -m hello - imp/one:1 < <(tar -C "$REPO/tests" -cf - unit)
	assert_status 0
	assert_match "$output" '^sha256:[0-9a-f]{64}$'
	run k image inspect -f '{{.Config.Cmd}} {{.Config.Env}}' imp/one:1
	assert_eq "$output" "[/bin/true] [A=b]"
	run k history imp/one:1
	assert_contains "$output" "hello"
}

@test "parallel loads and rmis never corrupt the store" {
	local pids=() p
	for i in 1 2 3 4 5 6; do
		(k load -i "$TARS/docker.tar" >/dev/null && k tag keeltest/bb par/x:$i &&
			k rmi par/x:$i >/dev/null) 3>&- &
		pids+=($!)
	done
	for p in "${pids[@]}"; do
		wait "$p" || fail "a parallel load/tag/rmi failed"
	done
	run sqlite3 "$KROOT/keel.db" "PRAGMA integrity_check"
	assert_eq "$output" "ok"
	run k images keeltest/bb
	assert_contains "$output" "keeltest/bb"
}

@test "kill -9 in the middle of load: no half image, store consistent" {
	big=$BATS_FILE_TMPDIR/big.tar
	python3 "$BATS_TEST_DIRNAME/image_hostile.py" --big "$big"
	before=$(state)
	for delay in 0.05 0.1 0.2; do
		# keel itself in the background (not a function's subshell), so the kill hits it
		KEEL_ROOT=$KROOT "$KEEL" load -i "$big" >/dev/null 2>&1 3>&- &
		pid=$!
		sleep $delay
		kill -9 $pid 2>/dev/null || true
		wait $pid 2>/dev/null || true
		run k images
		assert_status 0
		run k images -q keeltest/big
		[[ -z $output ]] || k rmi keeltest/big >/dev/null
	done
	k image prune -f >/dev/null
	assert_eq "$(state)" "$before"
	run sqlite3 "$KROOT/keel.db" "PRAGMA integrity_check"
	assert_eq "$output" "ok"
}

@test "image prune -a and system df" {
	run k system df
	assert_status 0
	assert_contains "$output" "TYPE            TOTAL     ACTIVE    SIZE      RECLAIMABLE"
	run k image prune -a -f
	assert_status 0
	assert_contains "$output" "Total reclaimed space:"
	run k images -q -a
	# busybox comes back on first use; nothing else is left
	[[ $(wc -l <<<"$output") -le 1 ]]
}

@test "--help is accurate" {
	for c in images history tag rmi load save import "image ls" "image inspect" "image prune" "system df"; do
		run k $c --help
		assert_status 0
		assert_contains "$output" "Usage:  keel $c"
	done
}
