#!/bin/sh
# mkimage.sh [-f docker|oci|both] [-n NAME] OUT.tar
#
# Builds a one-layer busybox image from Debian's busybox-static (/bin/busybox), with no network,
# and writes it as an image archive that `docker load`, `podman load` and `ctr image import`
# accept:
#   docker  docker-archive: manifest.json + <config>.json + <layer>/layer.tar (docker save 20.10)
#   oci     OCI image layout: oci-layout, index.json, blobs/sha256/* (uncompressed layer)
#   both    (default) the OCI layout plus a docker manifest.json naming the same blobs, as
#           docker >= 25 `docker save` writes it: each engine reads the part it knows.
# NAME defaults to docker.io/keeltest/busybox:latest. The image is linux/amd64, Cmd ["sh"].
# Names as loaded: docker keeltest/busybox:latest; ctr and podman the full NAME (podman calls a
# docker-only archive localhost/keeltest/busybox, as it does for any `docker save` output).
# Output is reproducible: fixed mtimes and owners, sorted entries, so digests are stable.
# Env: BUSYBOX (default /bin/busybox).
set -eu

fmt=both
name=docker.io/keeltest/busybox:latest
while getopts f:n: o; do
	case $o in
	f) fmt=$OPTARG ;;
	n) name=$OPTARG ;;
	*) echo "usage: $0 [-f docker|oci|both] [-n NAME] OUT.tar" >&2; exit 2 ;;
	esac
done
shift $((OPTIND - 1))
[ $# -eq 1 ] || { echo "usage: $0 [-f docker|oci|both] [-n NAME] OUT.tar" >&2; exit 2; }
case $fmt in docker | oci | both) ;; *) echo "mkimage: bad format $fmt" >&2; exit 2 ;; esac
out=$1
bb=${BUSYBOX:-/bin/busybox}
[ -x "$bb" ] || { echo "mkimage: $bb missing (apt-get install busybox-static)" >&2; exit 1; }
# A dynamically linked busybox would need the host's libc inside the image.
if command -v file >/dev/null 2>&1 && ! file -L "$bb" | grep -q 'statically linked'; then
	echo "mkimage: $bb is not statically linked (want Debian's busybox-static)" >&2
	exit 1
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/mkimage.XXXXXX")
trap 'rm -rf "$work"' EXIT INT TERM
r=$work/rootfs
mkdir -p "$r/bin" "$r/sbin" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/proc" "$r/sys" "$r/dev" \
	"$r/tmp" "$r/root" "$r/home" "$r/var" "$r/run"
chmod 755 "$r" "$r/bin" "$r/sbin" "$r/usr" "$r/usr/bin" "$r/usr/sbin" "$r/etc" "$r/proc" \
	"$r/sys" "$r/dev" "$r/home" "$r/var" "$r/run"
chmod 700 "$r/root"
chmod 1777 "$r/tmp"
cp "$bb" "$r/bin/busybox"
chmod 755 "$r/bin/busybox"
for a in $("$r/bin/busybox" --list-full); do
	[ -e "$r/$a" ] || [ -L "$r/$a" ] || ln -s /bin/busybox "$r/$a"
done
printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\nuser:x:1000:1000:user:/home:/bin/sh\n' >"$r/etc/passwd"
printf 'root:x:0:\nnogroup:x:65534:\nuser:x:1000:\n' >"$r/etc/group"
chmod 644 "$r/etc/passwd" "$r/etc/group"

python3 - "$r" "$out" "$fmt" "$name" <<'PY'
import hashlib, io, json, os, sys, tarfile

root, out, fmt, name = sys.argv[1:5]
EPOCH = 0  # fixed mtime: reproducible digests


def add_tree(tf, top):
    """Add every entry under top as root-owned, sorted, with mtime EPOCH."""
    paths = []
    for d, dirs, files in os.walk(top):
        dirs.sort()
        for n in sorted(dirs + files):
            paths.append(os.path.join(d, n))
    for p in sorted(paths, key=lambda s: os.path.relpath(s, top)):
        ti = tf.gettarinfo(p, arcname=os.path.relpath(p, top))
        ti.uid = ti.gid = 0
        ti.uname = ti.gname = "root"
        ti.mtime = EPOCH
        if ti.isfile():
            with open(p, "rb") as f:
                tf.addfile(ti, f)
        else:
            tf.addfile(ti)


buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
    add_tree(tf, root)
layer = buf.getvalue()
layer_hex = hashlib.sha256(layer).hexdigest()

created = "1970-01-01T00:00:00Z"
config = {
    "architecture": "amd64",
    "os": "linux",
    "created": created,
    "config": {
        "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
        "Cmd": ["sh"],
    },
    "rootfs": {"type": "layers", "diff_ids": ["sha256:" + layer_hex]},
    "history": [{"created": created, "created_by": "tools/mkimage.sh (Debian busybox-static)"}],
}
config_b = json.dumps(config, separators=(",", ":"), sort_keys=True).encode()
config_hex = hashlib.sha256(config_b).hexdigest()

manifest = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {
        "mediaType": "application/vnd.oci.image.config.v1+json",
        "digest": "sha256:" + config_hex,
        "size": len(config_b),
    },
    "layers": [{
        "mediaType": "application/vnd.oci.image.layer.v1.tar",
        "digest": "sha256:" + layer_hex,
        "size": len(layer),
    }],
}
manifest_b = json.dumps(manifest, separators=(",", ":"), sort_keys=True).encode()
manifest_hex = hashlib.sha256(manifest_b).hexdigest()

# OCI's ref.name is the tag alone; containerd's own annotation carries the full name so that
# `ctr image import` needs no --base-name.
tag = name.rsplit(":", 1)[1] if ":" in name.rsplit("/", 1)[-1] else "latest"
index = {
    "schemaVersion": 2,
    "mediaType": "application/vnd.oci.image.index.v1+json",
    "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": "sha256:" + manifest_hex,
        "size": len(manifest_b),
        "platform": {"architecture": "amd64", "os": "linux"},
        "annotations": {
            "io.containerd.image.name": name,
            "org.opencontainers.image.ref.name": tag,
        },
    }],
}

# docker's RepoTags want the short form docker prints (no docker.io/ and no library/).
short = name
if short.startswith("docker.io/"):
    short = short[len("docker.io/"):]
if short.startswith("library/"):
    short = short[len("library/"):]

files = []  # (path, bytes) in archive order
if fmt in ("oci", "both"):
    files.append(("oci-layout", json.dumps({"imageLayoutVersion": "1.0.0"}).encode()))
    files.append(("blobs/sha256/" + config_hex, config_b))
    files.append(("blobs/sha256/" + layer_hex, layer))
    files.append(("blobs/sha256/" + manifest_hex, manifest_b))
    files.append(("index.json", json.dumps(index, separators=(",", ":")).encode()))
    cfg_path, layer_path = "blobs/sha256/" + config_hex, "blobs/sha256/" + layer_hex
else:
    cfg_path, layer_path = config_hex + ".json", layer_hex + "/layer.tar"
    files.append((layer_hex + "/VERSION", b"1.0"))
    files.append((layer_path, layer))
    files.append((cfg_path, config_b))
if fmt in ("docker", "both"):
    dm = [{"Config": cfg_path, "RepoTags": [short], "Layers": [layer_path]}]
    files.append(("manifest.json", json.dumps(dm, separators=(",", ":")).encode()))
    repos = {short.rsplit(":", 1)[0]: {short.rsplit(":", 1)[1]: layer_hex}}
    files.append(("repositories", json.dumps(repos, separators=(",", ":")).encode()))

tmp = out + ".tmp"
with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tf:
    made = set()
    for path, data in files:
        parts = path.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            d = "/".join(parts[:i])
            if d not in made:
                made.add(d)
                ti = tarfile.TarInfo(d)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                tf.addfile(ti)
        ti = tarfile.TarInfo(path)
        ti.size, ti.mode, ti.mtime = len(data), 0o644, EPOCH
        tf.addfile(ti, io.BytesIO(data))
os.replace(tmp, out)
print("%s: %s image %s, config sha256:%s, layer sha256:%s (%d bytes)"
      % (out, fmt, name, config_hex, layer_hex, len(layer)))
PY
