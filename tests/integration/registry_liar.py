#!/usr/bin/env python3
"""A tiny distribution-API server on 127.0.0.1 for keel's registry tests: it serves one
small image (repository "liar/img", tag "latest") and can lie or misbehave on purpose.

usage: registry_liar.py MODE PORTFILE [LOGFILE]
  good      honest (a baseline for the others)
  digest    the layer's bytes differ from the digest the manifest names
  truncate  every layer response stops half way (Content-Length promises more)
  size      the manifest states a layer size smaller than the blob
  manifest  the manifest served for a digest does not hash to it
  config    the config's bytes differ from its digest
  diffid    the config's diff_id does not match the layer content
  drop      the first layer GET drops the connection half way; Range requests work
  slow      layer (4 MB, incompressible) sent at about 1 MB/s, Range supported
  token     honest, behind the Bearer token flow: user "tok", password "secret"
  badtar    the layer (digests all right) is not a tar: 4 MB of noise sent at about 1 MB/s
Writes the port it listens on to PORTFILE; logs one line per request to LOGFILE.
"""
import base64, gzip, hashlib, http.server, io, json, os, socketserver, sys, tarfile, time

MODE, PORTFILE = sys.argv[1], sys.argv[2]
LOG = sys.argv[3] if len(sys.argv) > 3 else None


def sha(b):
    return "sha256:" + hashlib.sha256(b).hexdigest()


def make_layer():
    if MODE == "badtar":
        raw = os.urandom(4 << 20)
        return raw, gzip.compress(raw, compresslevel=1, mtime=0)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w") as t:
        data = os.urandom(4 << 20) if MODE == "slow" else b"liar says hello\n"
        ti = tarfile.TarInfo("hello.txt")
        ti.size, ti.mtime, ti.mode = len(data), 1700000000, 0o644
        t.addfile(ti, io.BytesIO(data))
    raw = buf.getvalue()
    return raw, gzip.compress(raw, mtime=0)


RAW, LAYER = make_layer()
DIFF = sha(RAW)
CONFIG = json.dumps({
    "architecture": "amd64", "os": "linux", "created": "2024-01-01T00:00:00Z",
    "config": {"Cmd": ["cat", "/hello.txt"]},
    "rootfs": {"type": "layers",
               "diff_ids": ["sha256:" + "0" * 64 if MODE == "diffid" else DIFF]},
}).encode()
SERVED_LAYER = LAYER
if MODE == "digest":
    # same length, other bytes: only the digest can tell
    SERVED_LAYER = LAYER[:-12] + bytes(b ^ 0xff for b in LAYER[-12:])
SERVED_CONFIG = CONFIG.replace(b"amd64", b"AMD64") if MODE == "config" else CONFIG
MANIFEST = json.dumps({
    "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": len(CONFIG),
               "digest": sha(CONFIG)},
    "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "size": len(LAYER) - (10 if MODE == "size" else 0), "digest": sha(LAYER)}],
}).encode()
MDIGEST = sha(MANIFEST)
BLOBS = {sha(CONFIG): SERVED_CONFIG, sha(LAYER): SERVED_LAYER}
TOKEN = "tkn-" + hashlib.sha256(os.urandom(8)).hexdigest()[:16]
state = {"drops": 0}


def log(line):
    if LOG:
        with open(LOG, "a") as f:
            f.write(line + "\n")


class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send(self, code, body=b"", ctype="application/json", extra=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (extra or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def authorized(self):
        if MODE != "token":
            return True
        if self.headers.get("Authorization") == "Bearer " + TOKEN:
            return True
        host = "127.0.0.1:%d" % self.server.server_address[1]
        self.send(401, b'{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}',
                  extra={"WWW-Authenticate": 'Bearer realm="http://%s/token",service="liar"' % host})
        return False

    def token(self):
        want = "Basic " + base64.b64encode(b"tok:secret").decode()
        if self.headers.get("Authorization") != want:
            self.send(401, b'{"details":"bad credentials"}')
            return
        self.send(200, json.dumps({"token": TOKEN, "expires_in": 300}).encode())

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):
        log("%s %s %s" % (self.command, self.path, self.headers.get("Range", "")))
        if self.path.startswith("/token"):
            return self.token()
        if not self.authorized():
            return
        if self.path == "/v2/":
            return self.send(200, b"{}")
        p = "/v2/liar/img/"
        if self.path in (p + "manifests/latest", p + "manifests/" + MDIGEST):
            body = MANIFEST + (b" " if MODE == "manifest" else b"")
            return self.send(200, body, "application/vnd.oci.image.manifest.v1+json",
                             {"Docker-Content-Digest": MDIGEST})
        if self.path.startswith(p + "blobs/") and self.path[len(p) + 6:] in BLOBS:
            return self.blob(BLOBS[self.path[len(p) + 6:]])
        self.send(404, b'{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}')

    def blob(self, data):
        start = 0
        rng = self.headers.get("Range")
        if rng and MODE in ("drop", "slow") and rng.startswith("bytes="):
            start = int(rng[6:].split("-")[0])
        is_layer = data is SERVED_LAYER
        self.send_response(206 if start else 200)
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(data) - start))
        if start:
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(data) - 1, len(data)))
        self.end_headers()
        if self.command == "HEAD":
            return
        body = data[start:]
        if is_layer and MODE == "truncate":
            self.wfile.write(body[: len(body) // 2])
            self.close_connection = True
            return
        if is_layer and MODE == "drop" and state["drops"] == 0:
            state["drops"] += 1
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        if is_layer and MODE in ("slow", "badtar"):
            for i in range(0, len(body), 64 << 10):
                self.wfile.write(body[i:i + (64 << 10)])
                self.wfile.flush()
                time.sleep(0.06)
            return
        self.wfile.write(body)


class S(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


srv = S(("127.0.0.1", 0), H)
with open(PORTFILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORTFILE + ".tmp", PORTFILE)
srv.serve_forever()
