#!/usr/bin/env python3
"""subreaper.py REPORT -- COMMAND...: be what containerd's shim is to the runtime.

Sets PR_SET_CHILD_SUBREAPER, runs COMMAND (a shell script driving the runtime), and while it
runs and afterwards reaps every descendant that gets reparented here. REPORT gets one line per
reaped process, "PID STATUS" (STATUS as the shim computes it: exit code, or 128+signal), the
COMMAND's own line first as "command STATUS". Before reaping anything else it also records the
subreaper's children right after COMMAND exited as "children PID..." (a runtime that leaves a
monitor process behind shows up there). Gives up after 20 s.
"""
import ctypes
import os
import signal
import sys
import time

PR_SET_CHILD_SUBREAPER = 36


def status_of(st):
    if os.WIFEXITED(st):
        return os.WEXITSTATUS(st)
    if os.WIFSIGNALED(st):
        return 128 + os.WTERMSIG(st)
    return -1


def children():
    out = []
    task_dir = "/proc/%d/task" % os.getpid()
    for t in os.listdir(task_dir):
        try:
            with open("%s/%s/children" % (task_dir, t)) as f:
                out += [int(p) for p in f.read().split()]
        except OSError:
            pass
    return sorted(out)


def main():
    report_path = sys.argv[1]
    cmd = sys.argv[sys.argv.index("--") + 1:]
    libc = ctypes.CDLL(None, use_errno=True)
    if libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) != 0:
        sys.exit("prctl: %s" % os.strerror(ctypes.get_errno()))
    signal.alarm(20)
    lines = []
    child = os.fork()
    if child == 0:
        os.execvp(cmd[0], cmd)
    reaped = {}
    while child not in reaped:
        pid, st = os.waitpid(-1, 0)
        reaped[pid] = status_of(st)
    lines.append("command %d" % reaped.pop(child))
    lines.append("children " + " ".join(str(p) for p in children()))
    for pid, st in reaped.items():
        lines.append("%d %d" % (pid, st))
    while True:
        try:
            pid, st = os.waitpid(-1, 0)
        except ChildProcessError:
            break
        lines.append("%d %d" % (pid, status_of(st)))
    with open(report_path, "w") as f:
        f.write("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
