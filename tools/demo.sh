#!/bin/sh
# make demo: keel's main job on its embedded default — a busybox container (rootfs from
# Debian's busybox-static, no network needed) run by keel's OCI runtime, then
# `keel run --rm busybox echo hello` through the engine.
set -eu
here=$(cd "$(dirname "$0")/.." && pwd)
work=$(mktemp -d /tmp/keel-demo.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$here/tools/make-bundle.sh" "$work/bundle" sh -c \
	'echo "hello from a keel container: $(hostname), pid $$, $(id)"; uname -sr'
cd "$work/bundle"
echo "\$ keel-runtime run demo"
"$here/build/keel-runtime" --root "$work/state" run "demo-$$"
# and the engine: the embedded busybox image, a container with its monitor, removed after
# (a private store, so the demo leaves nothing behind)
echo "\$ keel run --rm busybox echo hello"
"$here/build/keel" --root "$work/root" --run-root "$work/run" run --rm busybox echo hello
