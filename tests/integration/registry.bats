#!/usr/bin/env bats
# keel pull / push / login / logout against the real CNCF distribution registry
# (/usr/bin/docker-registry) started on 127.0.0.1 by this file: plain HTTP, TLS with a
# certificate made here, htpasswd basic auth over TLS; skopeo on the other side; and a small
# lying server (registry_liar.py) for wrong digests, truncated blobs, wrong sizes, dropped
# connections, the Bearer token flow and a kill -9 in the middle of a pull.
# Every process started here is killed by PID in teardown_file.

load ../lib/common

setup_file() {
	need_root_file || return 0
	command -v docker-registry >/dev/null || skip "docker-registry not installed"
	export W=$BATS_FILE_TMPDIR
	export KROOT=$W/keel KRUN=$W/run
	export KEEL_AUTH_CONFIG=$W/auth/config.json
	export KEEL_REGISTRIES_CONFIG=$W/registries.json
	export KEEL_CERTS_DIR=$W/certs.d
	export KEEL_PROGRESS_PLAIN=1
	echo '{}' >"$KEEL_REGISTRIES_CONFIG"
	openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj /CN=127.0.0.1 \
		-addext subjectAltName=IP:127.0.0.1 -keyout "$W/key.pem" -out "$W/cert.pem" 2>/dev/null
	htpasswd -Bbn alice wonderland >"$W/htpasswd"
	start_registry plain
	start_registry tls tls
	start_registry auth tls auth
	export PLAIN=127.0.0.1:$(cat "$W/reg-plain/port")
	export TLS=127.0.0.1:$(cat "$W/reg-tls/port")
	export AUTH=127.0.0.1:$(cat "$W/reg-auth/port")
	"$REPO/tools/mkimage.sh" -f oci -n docker.io/keeltest/skopeo:v1 "$W/oci.tar" >/dev/null
}

teardown_file() {
	local f
	for f in "$W"/reg-*/pid "$W"/liar-*.pid; do
		[[ -f $f ]] && kill -9 "$(cat "$f")" 2>/dev/null
	done
	return 0
}

setup() { skip_if_file_skipped; }
teardown() { :; }

free_port() {
	python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# start_registry NAME [tls] [auth]: a docker-registry with its own config and storage.
start_registry() {
	local d=$W/reg-$1 port
	port=$(free_port)
	mkdir -p "$d/data"
	{
		echo "version: 0.1"
		echo "log: {level: error}"
		echo "storage: {filesystem: {rootdirectory: $d/data}, delete: {enabled: true}}"
		echo "http:"
		echo "  addr: 127.0.0.1:$port"
		[[ ${2:-} == tls ]] && echo "  tls: {certificate: $W/cert.pem, key: $W/key.pem}"
		[[ ${3:-} == auth ]] && echo "auth: {htpasswd: {realm: keel-test, path: $W/htpasswd}}"
	} >"$d/config.yml"
	docker-registry serve "$d/config.yml" >"$d/log" 2>&1 &
	echo $! >"$d/pid"
	echo "$port" >"$d/port"
	for _ in $(seq 100); do
		curl -sk -o /dev/null "http${2:+s}://127.0.0.1:$port/v2/" && return 0
		sleep 0.1
	done
	cat "$d/log" >&2
	return 1
}

# start_liar MODE: the lying server; prints its address.
start_liar() {
	local pf=$W/liar-$1.port
	rm -f "$pf"
	python3 "$BATS_TEST_DIRNAME/registry_liar.py" "$1" "$pf" "$W/liar-$1.log" >/dev/null 2>&1 &
	echo $! >"$W/liar-$1.pid"
	for _ in $(seq 100); do
		[[ -s $pf ]] && break
		sleep 0.05
	done
	echo "127.0.0.1:$(cat "$pf")"
}

k() {
	KEEL_ROOT=$KROOT KEEL_RUN_ROOT=$KRUN "$KEEL" "$@"
}

# kc ROOT ARGS: keel on another store
kc() {
	local r=$1
	shift
	KEEL_ROOT=$r KEEL_RUN_ROOT=$KRUN "$KEEL" "$@"
}

# store_files ROOT: blobs and layer dirs of a store (what a failed pull must not leave).
store_files() {
	ls "$1/blobs/sha256" "$1/layers" 2>/dev/null | grep -E '^[0-9a-f]{64}$' | sort || true
}

@test "push to a plain-HTTP registry, pull into a clean store, run it" {
	run k tag busybox "$PLAIN/keel/bb:v1"
	assert_status 0
	run k push "$PLAIN/keel/bb:v1"
	assert_status 0
	assert_contains "$output" "The push refers to repository [$PLAIN/keel/bb]"
	assert_contains "$output" ": Pushed"
	assert_match "$output" "v1: digest: sha256:[0-9a-f]{64} size: [0-9]+"
	digest=$(grep -o 'sha256:[0-9a-f]*' <<<"${output##*v1: digest: }")
	# the second push sends nothing: every blob is already there
	run k push "$PLAIN/keel/bb:v1"
	assert_status 0
	assert_contains "$output" "Layer already exists"
	assert_not_contains "$output" "Pushed"

	clean=$W/clean
	run kc "$clean" pull "$PLAIN/keel/bb:v1"
	assert_status 0
	assert_contains "$output" "v1: Pulling from keel/bb"
	assert_contains "$output" "Pull complete"
	assert_contains "$output" "Digest: $digest"
	assert_contains "$output" "Status: Downloaded newer image for $PLAIN/keel/bb:v1"
	assert_eq "${lines[-1]}" "$PLAIN/keel/bb:v1"
	# same image id as the one pushed, the repo digest recorded
	assert_eq "$(kc "$clean" images -q --no-trunc "$PLAIN/keel/bb:v1")" "$(k images -q --no-trunc busybox)"
	run kc "$clean" image inspect -f '{{.RepoDigests}}' "$PLAIN/keel/bb:v1"
	assert_contains "$output" "$PLAIN/keel/bb@$digest"
	dir=$(kc "$clean" image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$PLAIN/keel/bb:v1")
	[[ -x $dir/bin/busybox && -L $dir/bin/ls ]]
	run kc "$clean" run --rm "$PLAIN/keel/bb:v1" echo hello from the registry
	assert_status 0
	assert_eq "$output" "hello from the registry"
	# pulling again: up to date, nothing downloaded
	run kc "$clean" pull "$PLAIN/keel/bb:v1"
	assert_contains "$output" "Already exists"
	assert_contains "$output" "Status: Image is up to date for $PLAIN/keel/bb:v1"
	# by digest, quiet
	run kc "$W/bydigest" pull -q "$PLAIN/keel/bb@$digest"
	assert_status 0
	assert_eq "$output" "$PLAIN/keel/bb@$digest"
	run kc "$W/bydigest" image inspect -f '{{.Id}}' "$PLAIN/keel/bb@$digest"
	assert_eq "$output" "$(k images -q --no-trunc busybox)"
}

@test "skopeo reads what keel pushed; keel pulls what skopeo pushed" {
	k tag busybox "$PLAIN/keel/forskopeo:v1"
	k push -q "$PLAIN/keel/forskopeo:v1"
	run skopeo inspect --tls-verify=false "docker://$PLAIN/keel/forskopeo:v1"
	assert_status 0
	assert_contains "$output" '"Architecture": "amd64"'
	run skopeo copy --src-tls-verify=false "docker://$PLAIN/keel/forskopeo:v1" "oci-archive:$W/from-keel.tar"
	assert_status 0
	# skopeo's copy is an image keel can load back
	run kc "$W/skopeo-load" load -i "$W/from-keel.tar"
	assert_status 0

	run skopeo copy --dest-tls-verify=false "oci-archive:$W/oci.tar" "docker://$PLAIN/fromskopeo/bb:v1"
	assert_status 0
	run kc "$W/skopeo-pull" pull "$PLAIN/fromskopeo/bb:v1"
	assert_status 0
	run kc "$W/skopeo-pull" run --rm "$PLAIN/fromskopeo/bb:v1" sh -c 'echo skopeo ok'
	assert_eq "$output" "skopeo ok"
}

@test "--all-tags, cross-repository mount, errors for missing images and tags" {
	k tag busybox "$PLAIN/keel/multi:a"
	k tag busybox "$PLAIN/keel/multi:b"
	run k push --all-tags "$PLAIN/keel/multi"
	assert_status 0
	assert_contains "$output" "a: digest: sha256:"
	assert_contains "$output" "b: digest: sha256:"
	run k push -a "$PLAIN/keel/multi:a"
	assert_status 1
	assert_contains "$output" "tag can't be used with --all-tags/-a"
	# the layer is known in keel/multi: pushing to another repository mounts it
	k tag busybox "$PLAIN/other/repo:x"
	run k push "$PLAIN/other/repo:x"
	assert_status 0
	assert_match "$output" "Mounted from keel/(bb|multi)"
	run k push "$PLAIN/keel/nope:v1"
	assert_status 1
	assert_contains "$output" "An image does not exist locally with the tag: $PLAIN/keel/nope:v1"
	run kc "$W/missing" pull "$PLAIN/keel/multi:nope"
	assert_status 1
	assert_contains "$output" "manifest for $PLAIN/keel/multi:nope not found: manifest unknown"
	run kc "$W/missing" pull "$PLAIN/UPPER/case"
	assert_status 1
	assert_contains "$output" "invalid reference format"
}

@test "chunked upload of a mixed layer (gzip switches to stored blocks and back)" {
	mkdir -p "$W/mixed"
	{ seq 1 150000; head -c 1500000 /dev/urandom; seq 1 150000; } >"$W/mixed/data"
	tar -C "$W/mixed" -cf "$W/mixed.tar" data
	k import "$W/mixed.tar" "$PLAIN/keel/mixed:v1" >/dev/null
	# 64 KiB PATCHes: dozens of them, each with its Content-Range
	run env KEEL_PUSH_CHUNK_SIZE=65536 KEEL_ROOT="$KROOT" "$KEEL" push "$PLAIN/keel/mixed:v1"
	assert_status 0
	assert_contains "$output" "Pushed"
	# the registry and skopeo verified the digest; keel pulls it back, bit for bit
	run skopeo copy --src-tls-verify=false "docker://$PLAIN/keel/mixed:v1" "oci:$W/mixed-oci:x"
	assert_status 0
	run kc "$W/mixed-pull" pull -q "$PLAIN/keel/mixed:v1"
	assert_status 0
	dir=$(kc "$W/mixed-pull" image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$PLAIN/keel/mixed:v1")
	assert_eq "$(sha256sum <"$dir/data")" "$(sha256sum <"$W/mixed/data")"
	# the compressed blob is smaller than the data (the text parts were compressed)
	size=$(curl -s "http://$PLAIN/v2/keel/mixed/manifests/v1" -H 'Accept: application/vnd.docker.distribution.manifest.v2+json' | jq '.layers[0].size')
	((size < $(stat -c %s "$W/mixed/data")))
}

@test "multi-arch index: the host's platform by default, --platform chooses" {
	# two images in one repository, then an index over their manifests, PUT by hand
	k tag busybox "$PLAIN/keel/ix:amd"
	k push -q "$PLAIN/keel/ix:amd"
	mkdir -p "$W/armroot" && echo arm64 >"$W/armroot/arch"
	tar -C "$W/armroot" -cf "$W/armroot.tar" .
	k import --change 'CMD ["arm"]' "$W/armroot.tar" "$PLAIN/keel/ix:arm"
	k push -q "$PLAIN/keel/ix:arm"
	accept=application/vnd.docker.distribution.manifest.v2+json
	m1=$(curl -s -H "Accept: $accept" "http://$PLAIN/v2/keel/ix/manifests/amd")
	m2=$(curl -s -H "Accept: $accept" "http://$PLAIN/v2/keel/ix/manifests/arm")
	d1=sha256:$(printf %s "$m1" | sha256sum | cut -d' ' -f1)
	d2=sha256:$(printf %s "$m2" | sha256sum | cut -d' ' -f1)
	cat >"$W/index.json" <<-EOF
	{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[
	 {"mediaType":"$accept","digest":"$d2","size":${#m2},"platform":{"os":"linux","architecture":"arm64","variant":"v8"}},
	 {"mediaType":"$accept","digest":"$d1","size":${#m1},"platform":{"os":"linux","architecture":"amd64"}}]}
	EOF
	run curl -s -o /dev/null -w '%{http_code}' -X PUT -H 'Content-Type: application/vnd.oci.image.index.v1+json' \
		--data-binary "@$W/index.json" "http://$PLAIN/v2/keel/ix/manifests/multi"
	assert_eq "$output" 201
	run kc "$W/ix1" pull "$PLAIN/keel/ix:multi"
	assert_status 0
	assert_contains "$output" "Digest: $d1"
	assert_eq "$(kc "$W/ix1" images -q --no-trunc "$PLAIN/keel/ix:multi")" "$(k images -q --no-trunc busybox)"
	run kc "$W/ix2" pull --platform linux/arm64 "$PLAIN/keel/ix:multi"
	assert_status 0
	assert_contains "$output" "Digest: $d2"
	run kc "$W/ix2" image inspect -f '{{.Config.Cmd}}' "$PLAIN/keel/ix:multi"
	assert_eq "$output" "[arm]"
	run kc "$W/ix3" pull --platform linux/s390x "$PLAIN/keel/ix:multi"
	assert_status 1
	assert_contains "$output" "no matching manifest for linux/s390x"
	assert_contains "$output" "linux/arm64/v8, linux/amd64"
	[[ -z $(store_files "$W/ix3") ]]
}

@test "TLS: verified against a CA when the registry is not insecure" {
	# 127.0.0.0/8 is insecure by default (as in Docker): TLS without verification works
	k tag busybox "$TLS/keel/tls:v1"
	run k push "$TLS/keel/tls:v1"
	assert_status 0
	# made secure: an unknown CA is refused ...
	echo "{\"registries\": {\"$TLS\": {\"insecure\": false}}}" >"$KEEL_REGISTRIES_CONFIG"
	run kc "$W/tls1" pull "$TLS/keel/tls:v1"
	assert_status 1
	assert_contains "$output" "certificate"
	# ... and the test's CA, from certs.d/<host:port>/ca.crt, is trusted
	mkdir -p "$KEEL_CERTS_DIR/$TLS"
	cp "$W/cert.pem" "$KEEL_CERTS_DIR/$TLS/ca.crt"
	run kc "$W/tls1" pull "$TLS/keel/tls:v1"
	assert_status 0
	rm -r "$KEEL_CERTS_DIR/$TLS"
	# or named in the config
	echo "{\"registries\": {\"$TLS\": {\"insecure\": false, \"ca\": \"$W/cert.pem\"}}}" >"$KEEL_REGISTRIES_CONFIG"
	run kc "$W/tls2" pull "$TLS/keel/tls:v1"
	assert_status 0
	echo '{}' >"$KEEL_REGISTRIES_CONFIG"
}

@test "mirrors: docker.io pulled through a configured mirror" {
	k tag busybox "$PLAIN/keeltest/mirrored:v1"
	k push -q "$PLAIN/keeltest/mirrored:v1"
	echo "{\"registries\": {\"docker.io\": {\"mirrors\": [\"http://$PLAIN\"]}}}" >"$KEEL_REGISTRIES_CONFIG"
	run kc "$W/mirror" pull keeltest/mirrored:v1
	assert_status 0
	assert_contains "$output" "Status: Downloaded newer image for keeltest/mirrored:v1"
	assert_eq "${lines[-1]}" "docker.io/keeltest/mirrored:v1"
	# a mirror that lacks the image (the liar only has liar/img): asked first, then the
	# registry itself serves the pull
	addr=$(start_liar good)
	echo "{\"registries\": {\"$PLAIN\": {\"mirrors\": [\"http://$addr\"]}}}" >"$KEEL_REGISTRIES_CONFIG"
	run kc "$W/mirror2" pull "$PLAIN/keeltest/mirrored:v1"
	assert_status 0
	grep -q 'GET /v2/keeltest/mirrored/manifests/v1' "$W/liar-good.log" || fail "mirror not asked"
	echo '{}' >"$KEEL_REGISTRIES_CONFIG"
}

@test "login, basic auth over TLS, logout" {
	k tag busybox "$AUTH/keel/private:v1"
	run k push "$AUTH/keel/private:v1"
	assert_status 1
	assert_eq "${lines[-1]}" "Error response from daemon: unauthorized: authentication required"
	run k login -u alice --password-stdin "$AUTH" <<<"wrong"
	assert_status 1
	assert_contains "$output" "unauthorized"
	[[ ! -e $KEEL_AUTH_CONFIG ]]
	run k login -u alice --password-stdin "$AUTH" <<<"wonderland"
	assert_status 0
	assert_eq "$output" "Login Succeeded"
	assert_eq "$(stat -c %a "$KEEL_AUTH_CONFIG")" 600
	assert_eq "$(jq -r ".auths[\"$AUTH\"].auth" "$KEEL_AUTH_CONFIG")" "$(printf alice:wonderland | base64)"
	run k push "$AUTH/keel/private:v1"
	assert_status 0
	run kc "$W/authpull" pull "$AUTH/keel/private:v1"
	assert_status 0
	run k logout "$AUTH"
	assert_eq "$output" "Removing login credentials for $AUTH"
	assert_eq "$(jq -r ".auths[\"$AUTH\"]" "$KEEL_AUTH_CONFIG")" null
	run kc "$W/authpull2" pull "$AUTH/keel/private:v1"
	assert_status 1
	assert_contains "$output" "unauthorized: authentication required"
	# DOCKER_CONFIG is honoured when keel's own override is not set
	mkdir -p "$W/dockercfg"
	run env -u KEEL_AUTH_CONFIG DOCKER_CONFIG="$W/dockercfg" KEEL_ROOT="$KROOT" "$KEEL" login -u alice -p wonderland "$AUTH"
	assert_status 0
	[[ -s $W/dockercfg/config.json ]]
}

@test "Bearer token flow: a token fetched with the login, cached for the pull" {
	addr=$(start_liar token)
	run kc "$W/tok0" pull "$addr/liar/img"
	assert_status 1
	assert_contains "$output" "unauthorized: authentication required"
	run k login -u tok --password-stdin "$addr" <<<"bad"
	assert_status 1
	run k login -u tok --password-stdin "$addr" <<<"secret"
	assert_status 0
	: >"$W/liar-token.log"
	run kc "$W/tok1" pull "$addr/liar/img"
	assert_status 0
	# one token for the repository scope serves manifest, config and layer
	assert_eq "$(grep -c '^GET /token' "$W/liar-token.log")" 1
	dir=$(kc "$W/tok1" image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$addr/liar/img")
	assert_eq "$(cat "$dir/hello.txt")" "liar says hello"
	k logout "$addr"
}

@test "a lying registry: clear error, nothing stored" {
	local mode
	for mode in digest truncate size manifest config diffid; do
		addr=$(start_liar "$mode")
		root=$W/lie-$mode
		run kc "$root" pull "$addr/liar/img"
		echo "$mode: $output"
		assert_status 1
		case $mode in
		digest) assert_contains "$output" "content has digest" ;;
		truncate) assert_contains "$output" "6 attempts, got" ;;
		size) assert_contains "$output" "is larger than its manifest says" ;;
		manifest) assert_contains "$output" "registry says digest" ;;
		config) assert_contains "$output" "config sha256:" ;;
		diffid) assert_contains "$output" "does not match its diff id" ;;
		esac
		[[ -z $(store_files "$root") ]] || fail "$mode left: $(store_files "$root")"
		[[ -z $(kc "$root" images -q liar/img 2>/dev/null) ]]
		kill -9 "$(cat "$W/liar-$mode.pid")"
	done
}

@test "a layer that is not a tar stops the download early" {
	addr=$(start_liar badtar)
	start=$SECONDS
	run kc "$W/badtar" pull "$addr/liar/img"
	assert_status 1
	assert_contains "$output" "layer sha256:"
	# the layer takes 4 s to send; the unpacker refuses it after its first bytes
	((SECONDS - start < 3)) || fail "took $((SECONDS - start)) s"
	[[ -z $(store_files "$W/badtar") ]]
}

@test "a dropped connection resumes with Range" {
	addr=$(start_liar drop)
	run kc "$W/drop" pull "$addr/liar/img"
	assert_status 0
	grep -q 'blobs/sha256:.* bytes=[1-9][0-9]*-' "$W/liar-drop.log" || fail "no Range request: $(cat "$W/liar-drop.log")"
	dir=$(kc "$W/drop" image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$addr/liar/img")
	assert_eq "$(cat "$dir/hello.txt")" "liar says hello"
}

@test "kill -9 in the middle of a pull, then pull again" {
	addr=$(start_liar slow)
	root=$W/killed
	KEEL_ROOT=$root "$KEEL" pull "$addr/liar/img" >/dev/null 2>&1 &
	pid=$!
	# wait until the layer (the second blob GET, after the config) streams, then kill
	for _ in $(seq 100); do
		[[ $(grep -c 'GET /v2/liar/img/blobs/' "$W/liar-slow.log" 2>/dev/null) -ge 2 ]] && break
		sleep 0.05
	done
	sleep 1
	kill -9 "$pid"
	[[ -n $(ls -A "$root/blobs/sha256") ]] || fail "nothing was being written"
	wait "$pid" || true
	[[ -z $(kc "$root" images -q "$addr/liar/img") ]]
	run kc "$root" pull "$addr/liar/img"
	assert_status 0
	dir=$(kc "$root" image inspect -f '{{.GraphDriver.Data.LowerDir}}' "$addr/liar/img")
	assert_eq "$(stat -c %s "$dir/hello.txt")" 4194304
	# consistent: the killed pull's temp files are collected, the layers are busybox's and ours
	kc "$root" image prune -f >/dev/null
	assert_eq "$(ls -A "$root/blobs/sha256" "$root/layers" | grep -vcE '^([0-9a-f]{64})?$|:$')" 0
	assert_eq "$(ls "$root/layers" | grep -cE '^[0-9a-f]{64}$')" 2
}
