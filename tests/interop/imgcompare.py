#!/usr/bin/env python3
"""Compare two docker-archive image tars (`keel save` vs `docker save`) for build conformance.

    imgcompare.py [--expect-diff TEXT]... KEEL.tar DOCKER.tar

Prints one line per difference and exits 1 when there is any, 0 when the images match.
What is compared, and why:

* Layers, one by one (not only the flattened tree): the legacy builder's layer boundaries are
  part of the image (RootFS.Layers, one layer per non-empty history entry), and a per-layer
  diff also catches a step that leaves a stray entry (a mount point stub, a parent directory
  the step never touched) which a later layer happens to hide. Each layer is a map
  path -> entry; an entry holds the type, permission bits (with setuid/setgid/sticky),
  uid/gid, symlink target, sha256 of the content, device numbers, xattrs, and for
  hardlinked files the set of paths sharing the inode in that layer (tar records the second
  name as a link to the first; which name comes first is not compared). Whiteouts
  (.wh.NAME, .wh..wh..opq) are ordinary names here, so a deletion must be recorded the same
  way. Not compared: mtime/atime/ctime, uname/gname (numeric ids are), the order of members.
* Config fields Env, Cmd, Entrypoint, WorkingDir, User, ExposedPorts, Volumes, Labels,
  Healthcheck, StopSignal, Shell, OnBuild, ArgsEscaped; top-level os, architecture, variant,
  author. A missing field equals null, and for the string fields also "" (Docker writes
  "" where keel may omit), ArgsEscaped missing equals false.
* History: the same count; per entry the same empty_layer flag and created_by after one
  normalisation: the legacy builder names COPY/ADD sources by its own content hash
  ("file:<64 hex>", "dir:<64 hex>", "multi:<64 hex>", and a bare "<64 hex>" for a remote
  ADD), which keel does not reproduce, so those hashes become "<hash>" on both sides. Everything else in created_by (the
  "/bin/sh -c #(nop) " prefix, Go %q quoting, "|N K=V" build args) must be identical.
  created timestamps are ignored; comment and author are compared.

--expect-diff TEXT: a difference whose line contains TEXT is expected (a documented
difference in docs/build.md); it is printed with "expected:" and does not fail the compare.
Each --expect-diff must match at least one difference, else that is a failure too (a stale
expectation hides nothing).
"""

import hashlib
import json
import re
import sys
import tarfile

CONFIG_FIELDS = ("Env", "Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "Volumes",
                 "Labels", "Healthcheck", "StopSignal", "Shell", "OnBuild", "ArgsEscaped")
STRING_FIELDS = ("WorkingDir", "User", "StopSignal")
TOP_FIELDS = ("os", "architecture", "variant", "author")
HASH_RE = re.compile(r"(file|dir|multi):[0-9a-f]{64}\b")
# a remote ADD's source is the bare hash: "ADD [--chown=U:G]<64 hex> in /dest"
REMOTE_RE = re.compile(r"(#\(nop\) ADD (?:--chown=\S*?)?)[0-9a-f]{64}( in )")
TYPES = {tarfile.REGTYPE: "file", tarfile.AREGTYPE: "file", tarfile.DIRTYPE: "dir",
         tarfile.SYMTYPE: "symlink", tarfile.CHRTYPE: "char", tarfile.BLKTYPE: "block",
         tarfile.FIFOTYPE: "fifo", tarfile.CONTTYPE: "file"}


def norm_path(name):
    while name.startswith("./"):
        name = name[2:]
    name = name.strip("/")
    return "/" + name if name not in ("", ".") else "/"


def load_archive(path):
    """(config dict, [layer entries]) of the single image in a docker-archive tar."""
    with tarfile.open(path, "r:*") as tf:
        manifest = json.load(tf.extractfile("manifest.json"))
        if len(manifest) != 1:
            raise SystemExit(f"{path}: {len(manifest)} images in manifest.json, want 1")
        config = json.load(tf.extractfile(manifest[0]["Config"]))
        layers = []
        for name in manifest[0]["Layers"]:
            with tarfile.open(fileobj=tf.extractfile(name), mode="r:*") as lt:
                layers.append(read_layer(lt))
    return config, layers


def read_layer(lt):
    entries = {}
    links = {}
    for m in lt:
        path = norm_path(m.name)
        if path == "/":
            continue  # the root entry some writers add; its metadata is not the image's
        e = {"type": TYPES.get(m.type, f"type-{m.type!r}"), "mode": oct(m.mode & 0o7777),
             "uid": m.uid, "gid": m.gid}
        xattrs = {k: v for k, v in m.pax_headers.items() if k.startswith("SCHILY.xattr.")}
        if xattrs:
            e["xattrs"] = json.dumps(xattrs, sort_keys=True)
        if m.issym():
            e["target"] = m.linkname
        elif m.islnk():
            target = norm_path(m.linkname)
            links.setdefault(target, {target}).add(path)
            e = dict(entries.get(target, e))
            e["type"] = "file"
        elif m.ischr() or m.isblk():
            e["dev"] = f"{m.devmajor}:{m.devminor}"
        elif m.isreg():
            e["sha256"] = hashlib.sha256(lt.extractfile(m).read()).hexdigest()
            e["size"] = m.size
        entries[path] = e
    for group in links.values():
        for p in group:
            entries[p]["hardlinks"] = " ".join(sorted(group))
    return entries


def norm_created_by(s):
    return REMOTE_RE.sub(r"\1<hash>\2", HASH_RE.sub(r"\1:<hash>", s or ""))


def norm_field(name, v):
    if v is None and name in STRING_FIELDS:
        return ""
    if v is None and name == "ArgsEscaped":
        return False
    return v


def show(v):
    return json.dumps(v, sort_keys=True)


def compare_config(kc, dc, out):
    for f in TOP_FIELDS:
        kv, dv = kc.get(f) or "", dc.get(f) or ""
        if kv != dv:
            out.append(f"image.{f}: keel={show(kv)} docker={show(dv)}")
    kcfg, dcfg = kc.get("config") or {}, dc.get("config") or {}
    for f in CONFIG_FIELDS:
        kv, dv = norm_field(f, kcfg.get(f)), norm_field(f, dcfg.get(f))
        if kv != dv:
            out.append(f"config.{f}: keel={show(kv)} docker={show(dv)}")


def compare_history(kc, dc, out):
    kh, dh = kc.get("history") or [], dc.get("history") or []
    if len(kh) != len(dh):
        out.append(f"history: keel has {len(kh)} entries, docker {len(dh)}: keel="
                   f"{show([norm_created_by(h.get('created_by')) for h in kh])} docker="
                   f"{show([norm_created_by(h.get('created_by')) for h in dh])}")
    for i, (k, d) in enumerate(zip(kh, dh)):
        kb, db = norm_created_by(k.get("created_by")), norm_created_by(d.get("created_by"))
        if kb != db:
            out.append(f"history[{i}].created_by: keel={show(kb)} docker={show(db)}")
        for f, dflt in (("empty_layer", False), ("comment", ""), ("author", "")):
            if k.get(f, dflt) != d.get(f, dflt):
                out.append(f"history[{i}].{f} ({db}): keel={show(k.get(f, dflt))} "
                           f"docker={show(d.get(f, dflt))}")


def layer_names(config):
    """The created_by of the history entry that made each layer, for messages."""
    return [norm_created_by(h.get("created_by"))[:60] for h in config.get("history") or []
            if not h.get("empty_layer")]


def compare_layers(kl, dl, names, out):
    if len(kl) != len(dl):
        out.append(f"layers: keel has {len(kl)}, docker {len(dl)}")
    for i, (k, d) in enumerate(zip(kl, dl)):
        where = f"layer {i}" + (f" ({names[i]})" if i < len(names) else "")
        for p in sorted(set(k) | set(d)):
            ke, de = k.get(p), d.get(p)
            if ke == de:
                continue
            if ke is None:
                out.append(f"{where}: {p}: only in docker: {show(de)}")
            elif de is None:
                out.append(f"{where}: {p}: only in keel: {show(ke)}")
            else:
                diffs = [f"{f} keel={ke.get(f)} docker={de.get(f)}"
                         for f in sorted(set(ke) | set(de)) if ke.get(f) != de.get(f)]
                out.append(f"{where}: {p}: " + ", ".join(diffs))


def main(argv):
    expect = []
    while len(argv) > 2 and argv[0] == "--expect-diff":
        expect.append(argv[1])
        argv = argv[2:]
    if len(argv) != 2:
        raise SystemExit(__doc__.split("\n\n")[1])
    kc, kl = load_archive(argv[0])
    dc, dl = load_archive(argv[1])
    out = []
    compare_config(kc, dc, out)
    compare_history(kc, dc, out)
    compare_layers(kl, dl, layer_names(dc), out)
    failed = False
    used = set()
    for line in out:
        hit = [e for e in expect if e in line]
        used.update(hit)
        print(("expected: " if hit else "") + line)
        failed = failed or not hit
    for e in expect:
        if e not in used:
            print(f"expected difference did not occur: {e}")
            failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
