#!/usr/bin/env bats
# Image archives between keel and a private dockerd 20.10 (runc, its default runtime):
#   docker save -> keel load: same image id, layers unpacked, config intact, keel run works
#   keel save -> docker load -> docker run prints ok
#   keel save --format oci -> skopeo inspect oci-archive: (when skopeo is installed)
# dockerd is started as tests/interop/docker.bats does it (private roots under $T, private
# mount namespace with its own /run); keel uses a private store $T/keel.

bats_require_minimum_version 1.5.0
load lib

: "${KEEL:=$REPO/build/keel}"

d()
{
	tmo "$DOCKER_CLI" -H "unix://$T/d.sock" "$@"
}

k()
{
	KEEL_ROOT=$T/keel KEEL_RUN_ROOT=$T/keel-run tmo "$KEEL" "$@"
}

# A rootfs tarball for `docker import`: busybox, a few applets, a file, a symlink.
make_rootfs_tar()
{
	local r=$T/rootfs
	mkdir -p "$r/bin" "$r/etc" "$r/data/sub"
	cp /bin/busybox "$r/bin/busybox"
	for a in sh echo cat ls true; do ln -sf busybox "$r/bin/$a"; done
	echo 'root:x:0:0:root:/root:/bin/sh' >"$r/etc/passwd"
	echo imported >"$r/data/sub/file"
	ln -s sub/file "$r/data/link"
	tar -C "$r" -cf "$1" .
}

setup_file()
{
	interop_skip_unless_ready dockerd "$DOCKER_CLI"
	[ -x "$KEEL" ] || { echo "keel $KEEL is not executable" >&2; return 1; }
	T=$(interop_tmpdir img)
	export T
	cgroup_snapshot "$T/cgroups.before"
	dockerd_start "$T"
	d version >/dev/null
	make_image "$T/busybox.tar" docker
	d load -i "$T/busybox.tar" >&2
	make_rootfs_tar "$T/rootfs.tar"
	d import -c 'CMD ["sh"]' -c 'ENV FOO=bar' "$T/rootfs.tar" keeltest/imported:v1 >&2
}

teardown_file()
{
	[ -n "${T:-}" ] || return 0
	dockerd_stop "$T"
	cgroup_cleanup "$T/cgroups.before"
	cleanup_tmpdir "$T"
}

# docker_to_keel IMAGE: docker save | keel load, then the same id, config and layers.
docker_to_keel()
{
	local img=$1 did kid
	d save -o "$T/saved.tar" "$img"
	run k load -i "$T/saved.tar"
	[ "$status" -eq 0 ] || { echo "$output"; return 1; }
	[ "$output" = "Loaded image: $img" ] || { echo "load said: $output"; return 1; }
	did=$(d image inspect -f '{{.Id}}' "$img")
	kid=$(k image inspect -f '{{.Id}}' "$img")
	[ "$did" = "$kid" ] || { echo "docker $did keel $kid"; return 1; }
	# config intact: the same Cmd, Env, layers, architecture
	local f='{{json .Config.Cmd}} {{json .Config.Env}} {{json .RootFS.Layers}} {{.Os}}/{{.Architecture}}'
	[ "$(d image inspect -f "$f" "$img")" = "$(k image inspect -f "$f" "$img")" ] || {
		echo "docker: $(d image inspect -f "$f" "$img")"
		echo "keel:   $(k image inspect -f "$f" "$img")"
		return 1
	}
}

@test "docker save (mkimage image) -> keel load: same id, config, layers unpacked" {
	docker_to_keel "$IMAGE_SHORT"
	dir=$(k image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$IMAGE_SHORT")
	[ -x "$dir/bin/busybox" ]
	[ -L "$dir/bin/ls" ]
}

@test "docker save (docker import image) -> keel load: same id, files and symlinks" {
	docker_to_keel keeltest/imported:v1
	dir=$(k image inspect -f '{{.GraphDriver.Data.LowerDir}}' keeltest/imported:v1)
	[ "$(cat "$dir/data/sub/file")" = imported ]
	[ "$(readlink "$dir/data/link")" = sub/file ]
	run k image inspect -f '{{json .Config.Env}}' keeltest/imported:v1
	[[ "$output" == *'"FOO=bar"'* ]]
}

@test "docker save -> keel load -> keel run prints ok" {
	k load -i <(d save "$IMAGE_SHORT") >/dev/null
	run k run --rm "$IMAGE_SHORT" echo ok
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "keel save -> docker load -> docker run prints ok" {
	k tag busybox keelsaved/bb:1
	kid=$(k image inspect -f '{{.Id}}' keelsaved/bb:1)
	k save -o "$T/keel.tar" keelsaved/bb:1
	run d load -i "$T/keel.tar"
	[ "$status" -eq 0 ]
	[ "$output" = "Loaded image: keelsaved/bb:1" ]
	[ "$(d image inspect -f '{{.Id}}' keelsaved/bb:1)" = "$kid" ]
	run d run --rm --network none keelsaved/bb:1 echo ok
	echo "$output"
	[ "$status" -eq 0 ]
	[ "$output" = ok ]
}

@test "keel save of a docker-made image -> docker load keeps its id" {
	k load -i <(d save keeltest/imported:v1) >/dev/null
	id=$(d image inspect -f '{{.Id}}' keeltest/imported:v1)
	k save -o "$T/round.tar" keeltest/imported:v1
	d rmi keeltest/imported:v1 >/dev/null
	d load -i "$T/round.tar" >/dev/null
	[ "$(d image inspect -f '{{.Id}}' keeltest/imported:v1)" = "$id" ]
	run d run --rm --network none keeltest/imported:v1 cat /data/link
	[ "$status" -eq 0 ]
	[ "$output" = imported ]
}

@test "keel save --format oci -> skopeo inspect oci-archive:" {
	command -v skopeo >/dev/null || skip "skopeo not installed (apt-get install skopeo)"
	k save --format oci -o "$T/oci.tar" busybox
	kid=$(k image inspect -f '{{.Id}}' busybox)
	run tmo skopeo inspect --config "oci-archive:$T/oci.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"architecture": "amd64"'* ]]
	run tmo skopeo inspect "oci-archive:$T/oci.tar"
	[ "$status" -eq 0 ]
	[[ "$output" == *'"Os": "linux"'* ]]
	[ "$(grep -c 'sha256:' <<<"$(jq -r '.Layers[]' <<<"$output")")" -eq 1 ]
	# the config skopeo reads is the one keel's id names
	run tmo skopeo inspect --raw "oci-archive:$T/oci.tar"
	[ "$(jq -r .config.digest <<<"$output")" = "$kid" ]
}
