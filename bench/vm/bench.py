#!/usr/bin/env python3
"""bench/vm: keel vm side by side with qemu-system-x86_64 -accel kvm -M microvm.

Same guest ELF (build/guests), memory and command line for both. Every wait has a deadline;
every process is ended by its pid. Usage: bench/vm/run.sh [--runs N] [--quick] [--json FILE].

QEMU's microvm has no i8042, so a guest reset does not end it (-no-reboot does not help):
the start-to-marker run reads QEMU's serial console from a pipe and kills QEMU by pid once
MARKER-INIT shows. keel ends on the reset by itself; its pipe is read the same way.
"""
import argparse
import json
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
KEEL = os.environ.get("KEEL", os.path.join(REPO, "build", "keel"))
GUESTS = os.path.join(REPO, "build", "guests")
QEMU_BIN = "qemu-system-x86_64"
MiB = 1 << 20


def log(*a):
    print(*a, file=sys.stderr, flush=True)


class Bench:
    def __init__(self, tmp):
        self.tmp = tmp
        self.root = os.path.join(tmp, "keel")
        self.procs = []  # QEMU processes still to end
        self.port = 7900 + os.getpid() % 500

    # ---- helpers ----
    def keel(self, *args, root=None, check=True, timeout=120):
        env = dict(os.environ, KEEL_ROOT=root or self.root)
        r = subprocess.run([KEEL, "vm", *args], env=env, capture_output=True, text=True,
                           timeout=timeout)
        if check and r.returncode != 0:
            raise RuntimeError("keel vm %s: %s" % (" ".join(args), r.stderr.strip()))
        return r

    def next_port(self):
        self.port += 1
        return self.port

    def keel_pid(self, name, root=None):
        with open(os.path.join(root or self.root, "vms", name, "vmm.pid")) as f:
            return int(f.read())

    def keel_wait_log(self, name, pattern, timeout=30, root=None):
        path = os.path.join(root or self.root, "vms", name, "console.log")
        return wait_file(path, pattern, timeout)

    def qemu_cmd(self, mem, kernel, cmdline=None, serial="stdio", qmp=None, incoming=None):
        c = [QEMU_BIN, "-accel", "kvm", "-M", "microvm", "-m", mem, "-nodefaults",
             "-no-user-config", "-display", "none", "-no-reboot", "-serial", serial,
             "-kernel", kernel]
        if cmdline:
            c += ["-append", cmdline]
        if qmp:
            c += ["-qmp", "unix:%s,server=on,wait=off" % qmp]
        if incoming:
            c += ["-incoming", incoming]
        return c

    def spawn_qemu(self, cmd, **kw):
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, **kw)
        self.procs.append(p)
        return p

    def end(self, p):
        if p.poll() is None:
            p.kill()
        try:
            p.wait(timeout=10)
        except subprocess.TimeoutExpired:
            pass
        if p in self.procs:
            self.procs.remove(p)

    def cleanup(self):
        for p in list(self.procs):
            self.end(p)
        vms = os.path.join(self.root, "vms")
        for base in [self.root] + [os.path.join(self.tmp, d) for d in os.listdir(self.tmp)]:
            vms = os.path.join(base, "vms")
            if not os.path.isdir(vms):
                continue
            for name in os.listdir(vms):
                try:
                    os.kill(self.keel_pid(name, base), signal.SIGKILL)
                except (OSError, ValueError):
                    pass


def wait_file(path, pattern, timeout):
    rx = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with open(path, errors="replace") as f:
                if rx.search(f.read()):
                    return True
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError("timeout waiting for %r in %s" % (pattern, path))


def read_until(p, marker, timeout):
    """Reads p.stdout until marker; returns the monotonic time it showed (never waits past
    the deadline: the fd is polled)."""
    import select
    buf = b""
    deadline = time.monotonic() + timeout
    fd = p.stdout.fileno()
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            raise RuntimeError("timeout waiting for %r" % marker)
        r, _, _ = select.select([fd], [], [], left)
        if not r:
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            raise RuntimeError("process ended before %r" % marker)
        buf += chunk
        if marker.encode() in buf:
            return time.monotonic()


def overhead_kib(pid, guest_bytes):
    """Resident memory of pid minus its guest RAM mapping(s): mappings at least as large as
    guest memory (keel: one mapping; QEMU: its RAM block) are guest memory."""
    total = guest = 0
    size = 0
    with open("/proc/%d/smaps" % pid) as f:
        for line in f:
            if re.match(r"^[0-9a-f]+-[0-9a-f]+ ", line):
                a, b = line.split()[0].split("-")
                size = int(b, 16) - int(a, 16)
            elif line.startswith("Rss:"):
                kb = int(line.split()[1])
                total += kb
                if size >= guest_bytes:
                    guest += kb
    return total - guest, guest


class Qmp:
    def __init__(self, path, timeout=10):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.s = socket.socket(socket.AF_UNIX)
                self.s.settimeout(30)
                self.s.connect(path)
                break
            except OSError:
                self.s.close()
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.005)
        self.f = self.s.makefile("rb")
        self.f.readline()  # greeting
        self.cmd("qmp_capabilities")

    def cmd(self, name, **args):
        msg = {"execute": name}
        if args:
            msg["arguments"] = args
        self.s.sendall(json.dumps(msg).encode() + b"\n")
        while True:
            line = self.f.readline()
            if not line:
                raise RuntimeError("QMP closed")
            r = json.loads(line)
            if "return" in r:
                return r["return"]
            if "error" in r:
                raise RuntimeError("QMP %s: %s" % (name, r["error"].get("desc")))

    def close(self):
        self.s.close()


# ---- measurements ----

def start_to_marker(b, which):
    hello = os.path.join(GUESTS, "hello.elf")
    if which == "keel":
        cmd = [KEEL, "vm", "run", "--rm", "--memory", "256M", "--kernel", hello]
        env = dict(os.environ, KEEL_ROOT=b.root)
    else:
        cmd = b.qemu_cmd("256M", hello)
        env = None
    t0 = time.monotonic()
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL, env=env)
    b.procs.append(p)
    try:
        t = read_until(p, "MARKER-INIT", 20)
    finally:
        if which == "keel":  # ends on the guest's reset
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                pass
        b.end(p)
    return (t - t0) * 1000


def rss(b, which):
    counter = os.path.join(GUESTS, "counter.elf")
    cl = "mem_mb=16 dirty_mbps=0"
    if which == "keel":
        b.keel("run", "-d", "--name", "rss", "--memory", "256M", "--kernel", counter,
               "--cmdline", cl)
        try:
            b.keel_wait_log("rss", "COUNT 3 OK")
            return overhead_kib(b.keel_pid("rss"), 256 * MiB)
        finally:
            b.keel("rm", "-f", "rss", check=False)
    p = b.spawn_qemu(b.qemu_cmd("256M", counter, cl), stdout=subprocess.PIPE)
    try:
        read_until(p, "COUNT 3 OK", 30)
        return overhead_kib(p.pid, 256 * MiB)
    finally:
        b.end(p)


def keel_snapshot(b, mem, mb, runs):
    counter = os.path.join(GUESTS, "counter.elf")
    snap, rest = [], []
    b.keel("run", "-d", "--name", "s" + mem, "--memory", mem, "--kernel", counter,
           "--cmdline", "mem_mb=%d dirty_mbps=0" % mb)
    try:
        b.keel_wait_log("s" + mem, "COUNT 1 OK", 60)
        d = os.path.join(b.tmp, "snap" + mem)
        for i in range(runs):
            shutil.rmtree(d, ignore_errors=True)
            t0 = time.monotonic()
            b.keel("snapshot", "s" + mem, d, "--leave-running")
            snap.append((time.monotonic() - t0) * 1000)
        for i in range(runs):
            t0 = time.monotonic()
            b.keel("restore", d, "--name", "r%s%d" % (mem, i))
            rest.append((time.monotonic() - t0) * 1000)
            b.keel("rm", "-f", "r%s%d" % (mem, i))
        shutil.rmtree(d, ignore_errors=True)
    finally:
        b.keel("rm", "-f", "s" + mem, check=False)
    return snap, rest


def qemu_snapshot(b, mem, mb, runs):
    """QEMU's equivalent: stop + migrate to a file (exec:cat), restore = a new QEMU with
    -incoming from that file, timed from spawn to "running"."""
    counter = os.path.join(GUESTS, "counter.elf")
    cl = "mem_mb=%d dirty_mbps=0" % mb
    qmp = os.path.join(b.tmp, "qs.sock")
    f = os.path.join(b.tmp, "qsnap" + mem)
    snap, rest = [], []
    p = b.spawn_qemu(b.qemu_cmd(mem, counter, cl, qmp=qmp), stdout=subprocess.PIPE)
    try:
        read_until(p, "COUNT 1 OK", 60)
        q = Qmp(qmp)
        q.cmd("migrate-set-parameters", **{"max-bandwidth": 1 << 40})
        for i in range(runs):
            t0 = time.monotonic()
            q.cmd("stop")
            q.cmd("migrate", uri="exec:cat > %s" % f)
            wait_migration(q, 120)
            snap.append((time.monotonic() - t0) * 1000)
            q.cmd("cont")
        q.close()
    finally:
        b.end(p)
    for i in range(runs):
        qmp2 = os.path.join(b.tmp, "qr.sock")
        t0 = time.monotonic()
        p = b.spawn_qemu(b.qemu_cmd(mem, counter, cl, qmp=qmp2, incoming="exec:cat %s" % f),
                         stdout=subprocess.DEVNULL)
        try:
            q = Qmp(qmp2)
            deadline = time.monotonic() + 60
            while True:  # the snapshot was taken stopped: QEMU loads it paused
                st = q.cmd("query-status")["status"]
                if st == "running":
                    break
                if st in ("paused", "postmigrate", "prelaunch"):
                    q.cmd("cont")
                    continue
                if time.monotonic() > deadline:
                    raise RuntimeError("QEMU restore did not finish (%s)" % st)
                time.sleep(0.002)
            rest.append((time.monotonic() - t0) * 1000)
            q.close()
        finally:
            b.end(p)
    os.unlink(f)
    return snap, rest


def wait_migration(q, timeout):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        m = q.cmd("query-migrate")
        if m.get("status") == "completed":
            return m
        if m.get("status") in ("failed", "cancelled"):
            raise RuntimeError("QEMU migration %s" % m.get("status"))
        time.sleep(0.01)
    raise RuntimeError("QEMU migration timed out")


def keel_migrate(b, rate):
    counter = os.path.join(GUESTS, "counter.elf")
    dst = os.path.join(b.tmp, "dst")
    port = b.next_port()
    b.keel("run", "-d", "--name", "mg", "--memory", "256M", "--kernel", counter,
           "--cmdline", "mem_mb=200 dirty_mbps=%d" % rate)
    recv = None
    try:
        b.keel_wait_log("mg", "COUNT 3 OK", 30)
        env = dict(os.environ, KEEL_ROOT=dst)
        out = os.path.join(b.tmp, "recv.out")
        recv = subprocess.Popen([KEEL, "vm", "receive", "--listen", "127.0.0.1:%d" % port,
                                 "--name", "mg"], env=env, stdout=open(out, "w"),
                                stderr=subprocess.STDOUT)
        wait_file(out, "listening", 10)
        r = b.keel("migrate", "mg", "--to", "127.0.0.1:%d" % port, "--max-downtime", "50ms")
        recv.wait(timeout=30)
        last = r.stdout.strip().splitlines()[-1]
        m = re.search(r"total=(\d+)ms downtime=(\d+)ms", last)
        b.keel_wait_log("mg", "COUNT", 10, root=dst)
        time.sleep(1)
        corrupt = "CORRUPT" in open(os.path.join(dst, "vms", "mg", "console.log")).read()
        return float(m.group(1)), float(m.group(2)), corrupt
    finally:
        if recv and recv.poll() is None:
            recv.kill()
            recv.wait()
        b.keel("rm", "-f", "mg", root=dst, check=False)
        b.keel("rm", "-f", "mg", check=False)


def qemu_migrate(b, rate):
    counter = os.path.join(GUESTS, "counter.elf")
    cl = "mem_mb=200 dirty_mbps=%d" % rate
    port = b.next_port()
    qs, qd = os.path.join(b.tmp, "src.sock"), os.path.join(b.tmp, "dst.sock")
    dlog = os.path.join(b.tmp, "dst.log")
    open(dlog, "w").close()
    src = b.spawn_qemu(b.qemu_cmd("256M", counter, cl, qmp=qs), stdout=subprocess.PIPE)
    dst = b.spawn_qemu(b.qemu_cmd("256M", counter, cl, qmp=qd, serial="file:" + dlog,
                                  incoming="tcp:127.0.0.1:%d" % port), stdout=subprocess.DEVNULL)
    try:
        read_until(src, "COUNT 3 OK", 30)
        q = Qmp(qs)
        Qmp(qd).close()  # the destination listens once its QMP answers
        q.cmd("migrate-set-parameters", **{"downtime-limit": 50, "max-bandwidth": 1 << 40})
        q.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        m = wait_migration(q, 120)
        q.close()
        wait_file(dlog, "COUNT", 10)
        time.sleep(1)
        corrupt = "CORRUPT" in open(dlog, errors="replace").read()
        return float(m.get("total-time", 0)), float(m.get("downtime", 0)), corrupt
    finally:
        b.end(src)
        b.end(dst)


def med(v):
    return statistics.median(v) if v else float("nan")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=11, help="start-to-marker runs (>= 10)")
    ap.add_argument("--quick", action="store_true", help="fewer snapshot/migration runs")
    ap.add_argument("--json", help="write all samples here")
    a = ap.parse_args()
    if not os.access(KEEL, os.X_OK):
        sys.exit("bench/vm: %s not built (ninja -C build)" % KEEL)
    have_qemu = shutil.which(QEMU_BIN) is not None
    if not have_qemu:
        log("bench/vm: %s missing (apt-get install qemu-system-x86); keel only" % QEMU_BIN)
    tools = ["keel"] + (["qemu"] if have_qemu else [])
    heavy = 2 if a.quick else 3
    res = {t: {} for t in tools}
    tmp = tempfile.mkdtemp(prefix="keel-vm-bench.")
    b = Bench(tmp)
    try:
        log("start-to-marker: %d interleaved runs each" % a.runs)
        for t in tools:
            start_to_marker(b, t)  # warm-up, not counted
        for i in range(a.runs):
            for t in tools:
                res[t].setdefault("start_ms", []).append(start_to_marker(b, t))
        log("RSS beyond guest memory")
        for t in tools:
            res[t]["overhead_kib"], res[t]["guest_rss_kib"] = rss(b, t)
        for mem, mb in (("256M", 200), ("1G", 900)):
            log("snapshot/restore %s" % mem)
            res["keel"]["snap_" + mem], res["keel"]["restore_" + mem] = \
                keel_snapshot(b, mem, mb, heavy)
            if have_qemu:
                res["qemu"]["snap_" + mem], res["qemu"]["restore_" + mem] = \
                    qemu_snapshot(b, mem, mb, heavy)
        for rate in (0, 50):
            log("migration dirty_mbps=%d" % rate)
            for i in range(heavy):
                for t in tools:
                    tot, down, bad = (keel_migrate if t == "keel" else qemu_migrate)(b, rate)
                    r = res[t]
                    r.setdefault("mig_total_%d" % rate, []).append(tot)
                    r.setdefault("mig_down_%d" % rate, []).append(down)
                    r.setdefault("mig_corrupt_%d" % rate, []).append(bad)
    finally:
        b.cleanup()
        shutil.rmtree(tmp, ignore_errors=True)
    report(res, tools, a.runs, heavy)
    if a.json:
        with open(a.json, "w") as f:
            json.dump(res, f, indent=1)


def report(res, tools, runs, heavy):
    rows = [
        ("start to MARKER-INIT, hello.elf, 256M (ms)", "start_ms", runs),
        ("snapshot 256M, 200 MiB written (ms)", "snap_256M", heavy),
        ("restore 256M to running (ms)", "restore_256M", heavy),
        ("snapshot 1G, 900 MiB written (ms)", "snap_1G", heavy),
        ("restore 1G to running (ms)", "restore_1G", heavy),
        ("migrate idle 256M: total (ms)", "mig_total_0", heavy),
        ("migrate idle 256M: downtime (ms)", "mig_down_0", heavy),
        ("migrate 50 MiB/s dirtying: total (ms)", "mig_total_50", heavy),
        ("migrate 50 MiB/s dirtying: downtime (ms)", "mig_down_50", heavy),
    ]
    print("%-44s %10s %10s %8s" % ("median of N runs", "keel", "qemu", "keel/qemu"))
    for label, key, n in rows:
        k = med(res["keel"].get(key, []))
        q = med(res["qemu"].get(key, [])) if "qemu" in tools else float("nan")
        ratio = "%.2f" % (k / q) if q == q and q > 0 else "-"
        print("%-44s %10.1f %10.1f %8s   (N=%d)" % (label, k, q, ratio, n))
    k = res["keel"]["overhead_kib"]
    q = res["qemu"]["overhead_kib"] if "qemu" in tools else float("nan")
    ratio = "%.2f" % (k / q) if q == q and q > 0 else "-"
    print("%-44s %10.0f %10.0f %8s" % ("VMM RSS beyond guest memory (KiB)", k, q, ratio))
    for t in tools:
        bad = sum(res[t].get("mig_corrupt_0", []) + res[t].get("mig_corrupt_50", []))
        print("%s: migrated guests reporting CORRUPT afterwards: %d of %d" %
              (t, bad, 2 * heavy))


if __name__ == "__main__":
    main()
