#!/usr/bin/env python3
"""mkimage.py OUT.tar SIZE_MB: a docker-archive (docker load / keel load / skopeo
docker-archive:) named bench/big:v1 with two uncompressed layers of SIZE_MB each:
random.bin (incompressible, os.urandom) and text.log (compressible log-like lines, gzip -1
shrinks it about 4x). Written streaming, so memory stays small."""
import hashlib, io, json, os, random, sys, tarfile

out, size = sys.argv[1], int(sys.argv[2]) << 20
tmp = out + ".d"
os.makedirs(tmp, exist_ok=True)


def text_block(n):
    rnd = random.Random(42)
    words = ["GET", "POST", "/api/v1/items", "200", "404", "user", "session", "cache", "miss",
             "hit", "db", "query", "ms", "ok", "error", "retry", "timeout", "keel", "layer"]
    lines, total = [], 0
    while total < n:
        l = "2024-01-%02d %02d:%02d:%02d %s %s %d %s\n" % (
            rnd.randint(1, 28), rnd.randint(0, 23), rnd.randint(0, 59), rnd.randint(0, 59),
            " ".join(rnd.choice(words) for _ in range(6)), rnd.choice(words),
            rnd.randint(0, 99999), rnd.choice(words))
        lines.append(l)
        total += len(l)
    return "".join(lines).encode()[:n]


class Gen(io.RawIOBase):
    """size bytes from chunk(), readable."""
    def __init__(self, size, chunk):
        self.left, self.chunk, self.buf = size, chunk, b""

    def readable(self):
        return True

    def readinto(self, b):
        if not self.left:
            return 0
        if not self.buf:
            self.buf = self.chunk()
        n = min(len(b), len(self.buf), self.left)
        b[:n] = self.buf[:n]
        self.buf = self.buf[n:]
        self.left -= n
        return n


def layer(name, fname, chunk):
    path = os.path.join(tmp, name + ".tar")
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as t:
        ti = tarfile.TarInfo(fname)
        ti.size, ti.mtime, ti.mode = size, 1700000000, 0o644
        t.addfile(ti, io.BufferedReader(Gen(size, chunk), 1 << 20))
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for b in iter(lambda: f.read(1 << 20), b""):
            h.update(b)
    return path, "sha256:" + h.hexdigest()


TEXT = text_block(8 << 20)
l1, d1 = layer("l1", "random.bin", lambda: os.urandom(1 << 20))
l2, d2 = layer("l2", "text.log", lambda: TEXT)
config = json.dumps({"architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
                     "config": {"Cmd": ["sh"]},
                     "rootfs": {"type": "layers", "diff_ids": [d1, d2]}}).encode()
cid = hashlib.sha256(config).hexdigest()
with tarfile.open(out, "w") as t:
    def add(name, data):
        ti = tarfile.TarInfo(name)
        ti.size, ti.mtime = len(data), 1700000000
        t.addfile(ti, io.BytesIO(data))
    add(cid + ".json", config)
    t.add(l1, "l1/layer.tar")
    t.add(l2, "l2/layer.tar")
    add("manifest.json", json.dumps([{"Config": cid + ".json", "RepoTags": ["bench/big:v1"],
                                      "Layers": ["l1/layer.tar", "l2/layer.tar"]}]).encode())
os.rename(l1, os.path.join(os.path.dirname(out), "layer-random.tar"))
os.rename(l2, os.path.join(os.path.dirname(out), "layer-text.tar"))
os.rmdir(tmp)
