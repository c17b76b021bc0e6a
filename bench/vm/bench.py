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
    def keel(self, *args, root=None, check=True, timeout=120, trace=None):
        env = dict(os.environ, KEEL_ROOT=root or self.root)
        if trace:
            env["KEEL_VM_TRACE"] = trace
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


class Lines:
    """Reads a process's stdout in a thread, timestamping each line (time.monotonic) as it
    arrives: the console reader's clock for the guest's-eye view of a migration."""

    def __init__(self, pipe):
        import threading
        self.rows = []
        self.cond = threading.Condition()
        self.t = threading.Thread(target=self._run, args=(pipe,), daemon=True)
        self.t.start()

    def _run(self, pipe):
        for raw in iter(pipe.readline, b""):
            with self.cond:
                self.rows.append((time.monotonic(), raw.decode(errors="replace").strip()))
                self.cond.notify_all()

    def wait(self, pattern, timeout):
        rx = re.compile(pattern)
        deadline = time.monotonic() + timeout
        with self.cond:
            while not any(rx.search(l) for _, l in self.rows):
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("timeout waiting for %r" % pattern)
                self.cond.wait(left)

    def counts(self):
        with self.cond:
            out = []
            for t, l in self.rows:
                m = re.match(r"COUNT (\d+) ", l)
                if m:
                    out.append((t, int(m.group(1))))
            return out

    def text(self):
        with self.cond:
            return "\n".join(l for _, l in self.rows)


def guest_downtime(src, dst):
    """The move as the guest sees it: the gap between the last COUNT line on the source and the
    next one on the destination, minus the guest's own period between lines (~100 ms of guest
    TSC, which both VMMs stop while the guest is paused: it continues from the saved value).
    Both consoles are pipes read by this process, so both timestamps come from one clock."""
    s, d = src.counts(), dst.counts()
    if len(s) < 4 or not d:
        return float("nan")
    last_t, last_n = s[-1]
    nxt = [(t, n) for t, n in d if n > last_n]
    if not nxt or nxt[0][1] != last_n + 1:
        return float("nan")
    period = statistics.median(b[0] - a[0] for a, b in zip(s[-10:], s[-9:]))
    return (nxt[0][0] - last_t - period) * 1000


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


def restore_phases(trace, t0, t1, phases):
    """Splits one `keel vm restore` with its KEEL_VM_TRACE lines (CLOCK_MONOTONIC, the clock of
    time.monotonic_ns): exec = spawn to keel's main (execve + dynamic loading of keel's
    libraries); fork = the CLI forking the VMM daemon until it starts restoring; vmm = the
    restore proper (snapshot read, KVM VM, irqchip, memory slots, vCPUs, state) until vCPU 0
    enters KVM_RUN; running = spawn to that KVM_RUN (the guest runs from then on)."""
    first = {}
    with open(trace) as f:
        for line in f:
            _, ns, step = line.split(None, 2)
            first.setdefault(step.strip(), int(ns))
    try:
        run = first["vcpu0: first KVM_RUN"]
        phases.setdefault("exec", []).append((first["cli: start"] - t0) / 1e6)
        phases.setdefault("fork", []).append((first["restore: begin"] - first["cli: fork"]) / 1e6)
        phases.setdefault("kvm", []).append((first["build: vcpus created"] -
                                             first["restore: snapshot read, memory opened"]) / 1e6)
        phases.setdefault("vmm", []).append((run - first["restore: begin"]) / 1e6)
        phases.setdefault("running", []).append((run - t0) / 1e6)
        phases.setdefault("report", []).append((t1 - run) / 1e6)
    except KeyError as e:
        log("restore trace incomplete: %s" % e)


def keel_snapshot(b, mem, mb, runs, phases):
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
        for i in range(max(10, runs)):
            tf = os.path.join(b.tmp, "trace")
            if os.path.exists(tf):
                os.unlink(tf)
            t0 = time.monotonic_ns()
            b.keel("restore", d, "--name", "r%s%d" % (mem, i), trace=tf)
            t1 = time.monotonic_ns()
            rest.append((t1 - t0) / 1e6)
            restore_phases(tf, t0, t1, phases)
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
    """Both VMMs attached (console on a pipe read here) so the guest's COUNT lines can be
    timed on both sides; keel's own downtime is its last line's (pause -> destination ack)."""
    counter = os.path.join(GUESTS, "counter.elf")
    dst = os.path.join(b.tmp, "dst")
    port = b.next_port()
    tf = os.path.join(b.tmp, "mtrace")
    if os.path.exists(tf):
        os.unlink(tf)
    env_src = dict(os.environ, KEEL_ROOT=b.root, KEEL_VM_TRACE=tf)
    env_dst = dict(os.environ, KEEL_ROOT=dst, KEEL_VM_TRACE=tf)
    src = subprocess.Popen([KEEL, "vm", "run", "-a", "--name", "mg", "--memory", "256M",
                            "--kernel", counter, "--cmdline", "mem_mb=200 dirty_mbps=%d" % rate],
                           env=env_src, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.DEVNULL)
    recv = None
    try:
        sl = Lines(src.stdout)
        sl.wait("COUNT 3 OK", 30)
        out = os.path.join(b.tmp, "recv.err")
        recv = subprocess.Popen([KEEL, "vm", "receive", "-a", "--listen",
                                 "127.0.0.1:%d" % port, "--name", "mg"], env=env_dst,
                                stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                                stderr=open(out, "w"))
        dl = Lines(recv.stdout)
        wait_file(out, "listening", 10)
        r = b.keel("migrate", "mg", "--to", "127.0.0.1:%d" % port, "--max-downtime", "50ms")
        last = r.stdout.strip().splitlines()[-1]
        m = re.search(r"total=(\d+)ms downtime=(\d+)ms", last)
        dl.wait("COUNT", 10)
        time.sleep(1)
        src.wait(timeout=10)
        corrupt = "CORRUPT" in dl.text()
        first = {}
        for line in open(tf):
            _, ns, step = line.split(None, 2)
            first.setdefault(step.strip(), int(ns))
        pause = first.get("migrate: pause")
        # the last "vcpu0: first KVM_RUN" is the destination's (the source's came at boot)
        run = max((int(l.split()[1]) for l in open(tf) if "vcpu0: first KVM_RUN" in l),
                  default=None)
        sent = first.get("migrate: state sent")
        src_side = (sent - pause) / 1e6 if pause and sent else float("nan")
        to_run = (run - pause) / 1e6 if pause and run and run > pause else float("nan")
        return (float(m.group(1)), float(m.group(2)), src_side, to_run,
                guest_downtime(sl, dl), corrupt)
    finally:
        b.keel("rm", "-f", "mg", root=dst, check=False)
        b.keel("rm", "-f", "mg", check=False)
        for p in (recv, src):
            if p and p.poll() is None:
                p.kill()
            if p:
                p.wait()


def qemu_migrate(b, rate):
    counter = os.path.join(GUESTS, "counter.elf")
    cl = "mem_mb=200 dirty_mbps=%d" % rate
    port = b.next_port()
    qs, qd = os.path.join(b.tmp, "src.sock"), os.path.join(b.tmp, "dst.sock")
    src = b.spawn_qemu(b.qemu_cmd("256M", counter, cl, qmp=qs), stdout=subprocess.PIPE)
    dst = b.spawn_qemu(b.qemu_cmd("256M", counter, cl, qmp=qd,
                                  incoming="tcp:127.0.0.1:%d" % port), stdout=subprocess.PIPE)
    try:
        sl, dl = Lines(src.stdout), Lines(dst.stdout)
        sl.wait("COUNT 3 OK", 30)
        q = Qmp(qs)
        Qmp(qd).close()  # the destination listens once its QMP answers
        q.cmd("migrate-set-parameters", **{"downtime-limit": 50, "max-bandwidth": 1 << 40})
        q.cmd("migrate", uri="tcp:127.0.0.1:%d" % port)
        m = wait_migration(q, 120)
        q.close()
        dl.wait("COUNT", 10)
        time.sleep(1)
        corrupt = "CORRUPT" in dl.text()
        return (float(m.get("total-time", 0)), float(m.get("downtime", 0)),
                float(m.get("downtime", 0)), float("nan"), guest_downtime(sl, dl), corrupt)
    finally:
        b.end(src)
        b.end(dst)


def med(v):
    v = [x for x in v if x == x]  # NaN: a run that could not be measured
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
            ph = {}
            res["keel"]["snap_" + mem], res["keel"]["restore_" + mem] = \
                keel_snapshot(b, mem, mb, heavy, ph)
            for k, v in ph.items():
                res["keel"]["restore_%s_%s" % (k, mem)] = v
            if have_qemu:
                res["qemu"]["snap_" + mem], res["qemu"]["restore_" + mem] = \
                    qemu_snapshot(b, mem, mb, heavy)
        for rate in (0, 50):
            log("migration dirty_mbps=%d" % rate)
            for i in range(heavy):
                for t in tools:
                    tot, down, sdown, rdown, gdown, bad = \
                        (keel_migrate if t == "keel" else qemu_migrate)(b, rate)
                    r = res[t]
                    r.setdefault("mig_total_%d" % rate, []).append(tot)
                    r.setdefault("mig_down_%d" % rate, []).append(down)
                    r.setdefault("mig_sdown_%d" % rate, []).append(sdown)
                    r.setdefault("mig_rdown_%d" % rate, []).append(rdown)
                    r.setdefault("mig_gdown_%d" % rate, []).append(gdown)
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
        ("restore 256M: command, spawn to exit (ms)", "restore_256M", "k10"),
        ("  spawn -> guest's first KVM_RUN (ms)", "restore_running_256M", "k10"),
        ("  of which exec of keel to main() (ms)", "restore_exec_256M", "k10"),
        ("  of which fork + daemonize (ms)", "restore_fork_256M", "k10"),
        ("  of which restore in the VMM (ms)", "restore_vmm_256M", "k10"),
        ("    of which KVM VM+irqchip+PIT+slots+vCPUs", "restore_kvm_256M", "k10"),
        ("  guest running -> command exits (ms)", "restore_report_256M", "k10"),
        ("snapshot 1G, 900 MiB written (ms)", "snap_1G", heavy),
        ("restore 1G: command, spawn to exit (ms)", "restore_1G", "k10"),
        ("  spawn -> guest's first KVM_RUN (ms)", "restore_running_1G", "k10"),
        ("  of which restore in the VMM (ms)", "restore_vmm_1G", "k10"),
        ("migrate idle 256M: total (ms)", "mig_total_0", heavy),
        ("migrate idle 256M: downtime, VMM's own (ms)", "mig_down_0", heavy),
        ("migrate idle 256M: pause -> last byte sent (ms)", "mig_sdown_0", heavy),
        ("migrate idle 256M: pause -> dest. KVM_RUN (ms)", "mig_rdown_0", heavy),
        ("migrate idle 256M: COUNT gap - period (ms) [*]", "mig_gdown_0", heavy),
        ("migrate 50 MiB/s dirtying: total (ms)", "mig_total_50", heavy),
        ("migrate 50 MiB/s: downtime, VMM's own (ms)", "mig_down_50", heavy),
        ("migrate 50 MiB/s: pause -> last byte sent (ms)", "mig_sdown_50", heavy),
        ("migrate 50 MiB/s: pause -> dest. KVM_RUN (ms)", "mig_rdown_50", heavy),
        ("migrate 50 MiB/s: COUNT gap - period (ms) [*]", "mig_gdown_50", heavy),
    ]
    print("%-46s %10s %10s %8s" % ("median of N runs", "keel", "qemu", "keel/qemu"))
    for label, key, n in rows:
        k = med(res["keel"].get(key, []))
        q = med(res["qemu"].get(key, [])) if "qemu" in tools else float("nan")
        ratio = "%.2f" % (k / q) if q == q and q > 0 else "-"
        nk = len(res["keel"].get(key, []))
        nn = "N=%d" % n if n != "k10" else "N=%d keel, %d qemu" % (nk, heavy)
        f = lambda v: "%10.1f" % v if v == v else "%10s" % "-"
        print("%-46s %s %s %8s   (%s)" % (label, f(k), f(q), ratio, nn))
    k = res["keel"]["overhead_kib"]
    q = res["qemu"]["overhead_kib"] if "qemu" in tools else float("nan")
    ratio = "%.2f" % (k / q) if q == q and q > 0 else "-"
    print("%-46s %10.0f %10.0f %8s" % ("VMM RSS beyond guest memory (KiB)", k, q, ratio))
    print("[*] the guest's view; not comparable between the VMMs: see bench/README.md")
    for t in tools:
        bad = sum(res[t].get("mig_corrupt_0", []) + res[t].get("mig_corrupt_50", []))
        print("%s: migrated guests reporting CORRUPT afterwards: %d of %d" %
              (t, bad, 2 * heavy))


if __name__ == "__main__":
    main()
