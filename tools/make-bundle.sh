#!/bin/sh
# make-bundle.sh DIR [ARGS...]: an OCI bundle in DIR whose rootfs is Debian's busybox-static
# (every applet linked), with config.json from `runc spec`-like defaults made by
# `keel runtime spec` when keel is built, and process.args set to ARGS (default: sh).
# Used by make demo, the tests and the benchmarks. No network needed.
set -eu
dir=$1; shift
bb=/bin/busybox
[ -x "$bb" ] || { echo "make-bundle: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
mkdir -p "$dir/rootfs"
r="$dir/rootfs"
mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" \
	"$r/tmp" "$r/root" "$r/home" "$r/var" "$r/run"
chmod 1777 "$r/tmp"
cp "$bb" "$r/bin/busybox"
for a in $("$r/bin/busybox" --list-full); do
	[ -e "$r/$a" ] || ln -s /bin/busybox "$r/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' >"$r/etc/group"
here=$(cd "$(dirname "$0")/.." && pwd)
keel="${KEEL:-$here/build/keel}"
if [ -x "$keel" ] && (cd "$dir" && "$keel" runtime spec >/dev/null 2>&1); then :; else
	(cd "$dir" && rm -f config.json && runc spec)
fi
if [ $# -gt 0 ]; then
	python3 - "$dir/config.json" "$@" <<'PY'
import json, sys
p = sys.argv[1]
c = json.load(open(p))
c["process"]["args"] = sys.argv[2:]
c["process"]["terminal"] = False
json.dump(c, open(p, "w"), indent=2)
PY
fi
