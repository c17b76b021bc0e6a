#!/usr/bin/env python3
"""Writes the archives tests/integration/image.bats loads.

image_hostile.py DIR     hostile-*.tar (each must fail to load and change nothing) and
                         whiteout.tar (two layers with AUFS/OCI whiteouts)
image_hostile.py --big F one image of ~150 MB in 30 files (for kill -9 during load)
"""
import hashlib, io, json, os, sys, tarfile


def tar_bytes(entries):
    """entries: list of (TarInfo-kwargs dict, data or None)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tf:
        for kw, data in entries:
            ti = tarfile.TarInfo(kw.pop("name"))
            for k, v in kw.items():
                setattr(ti, k, v)
            if data is not None:
                ti.size = len(data)
                tf.addfile(ti, io.BytesIO(data))
            else:
                tf.addfile(ti)
    return buf.getvalue()


def f(name, data=b"x", mode=0o644):
    return ({"name": name, "mode": mode}, data)


def d(name):
    return ({"name": name, "type": tarfile.DIRTYPE, "mode": 0o755}, None)


def sym(name, target):
    return ({"name": name, "type": tarfile.SYMTYPE, "linkname": target}, None)


def hard(name, target):
    return ({"name": name, "type": tarfile.LNKTYPE, "linkname": target}, None)


def docker_archive(layers, tag, extra=None, config_override=None):
    diff = ["sha256:" + hashlib.sha256(l).hexdigest() for l in layers]
    cfg = {"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
           "config": {"Cmd": ["sh"]}, "rootfs": {"type": "layers", "diff_ids": diff}}
    if config_override:
        config_override(cfg)
    cfg_b = json.dumps(cfg).encode()
    cfg_name = hashlib.sha256(cfg_b).hexdigest() + ".json"
    files = []
    names = []
    for i, l in enumerate(layers):
        n = "l%d/layer.tar" % i
        names.append(n)
        files.append((n, l))
    files.append((cfg_name, cfg_b))
    files.append(("manifest.json", json.dumps(
        [{"Config": cfg_name, "RepoTags": [tag], "Layers": names}]).encode()))
    entries = [f(n, b) for n, b in files] + (extra or [])
    return tar_bytes(entries)


def main_hostile(out):
    ok = tar_bytes([d("etc"), f("etc/ok")])
    cases = {
        "dotdot-layer": [tar_bytes([f("../escaped")])],
        "dotdot-deep": [tar_bytes([d("a"), f("a/../../escaped")])],
        "symlink-write-through": [tar_bytes([sym("evil", "/tmp"), f("evil/keel-escaped")])],
        "symlink-rel-write-through": [tar_bytes([sym("evil", "../../../../../../tmp"),
                                                 f("evil/keel-escaped")])],
        "hardlink-passwd": [tar_bytes([hard("pw", "/etc/passwd")])],
        "hardlink-dotdot": [tar_bytes([hard("pw", "../../../../etc/passwd")])],
        "whiteout-dotdot": [tar_bytes([d("a"), f("a/.wh..."
                                                 )])],
    }
    for name, layers in cases.items():
        with open(os.path.join(out, "hostile-%s.tar" % name), "wb") as fh:
            fh.write(docker_archive(layers, "keeltest/hostile:" + name))
    # outer archives
    with open(os.path.join(out, "hostile-outer-dotdot.tar"), "wb") as fh:
        fh.write(tar_bytes([f("../manifest.json", b"[]")]))
    with open(os.path.join(out, "hostile-outer-symlink.tar"), "wb") as fh:
        fh.write(tar_bytes([sym("manifest.json", "/etc/passwd")]))
    with open(os.path.join(out, "hostile-garbage.tar"), "wb") as fh:
        fh.write(os.urandom(5000))
    with open(os.path.join(out, "hostile-empty.tar"), "wb") as fh:
        pass
    good = docker_archive([ok], "keeltest/trunc:1")
    with open(os.path.join(out, "hostile-truncated.tar"), "wb") as fh:
        fh.write(good[: len(good) // 2])
    with open(os.path.join(out, "hostile-missing-layer.tar"), "wb") as fh:
        fh.write(tar_bytes([f("manifest.json", json.dumps(
            [{"Config": "c.json", "RepoTags": ["x/y:1"], "Layers": ["nope.tar"]}]).encode()),
            f("c.json", b"{}")]))

    def bad_diff(cfg):
        cfg["rootfs"]["diff_ids"] = ["sha256:" + "0" * 64]
    with open(os.path.join(out, "hostile-diffid-mismatch.tar"), "wb") as fh:
        fh.write(docker_archive([ok], "keeltest/mismatch:1", config_override=bad_diff))
    # whiteouts
    l1 = tar_bytes([d("etc"), f("etc/gone"), f("etc/kept"), d("opq"), f("opq/a")])
    l2 = tar_bytes([d("etc"), f("etc/.wh.gone", b""), d("opq"), f("opq/.wh..wh..opq", b""),
                    f("opq/b")])
    with open(os.path.join(out, "whiteout.tar"), "wb") as fh:
        fh.write(docker_archive([l1, l2], "keeltest/wh:latest"))


def main_big(path):
    chunk = os.urandom(1 << 20)
    entries = [d("data")]
    for i in range(30):
        entries.append(f("data/f%02d" % i, chunk * 5))
    with open(path, "wb") as fh:
        fh.write(docker_archive([tar_bytes(entries)], "keeltest/big:latest"))


if __name__ == "__main__":
    if sys.argv[1] == "--big":
        main_big(sys.argv[2])
    else:
        main_hostile(sys.argv[1])
