/* Timing traces of the start paths (keel run: CLI, monitor, runtime, init; keel vm: restore,
 * receive, boot), off unless asked for.
 *
 * KEEL_TRACE=FILE (or KEEL_VM_TRACE=FILE, its older name) appends one line per step,
 * "<pid> <CLOCK_MONOTONIC ns> <step>", to FILE: opened, written and closed per line with
 * O_APPEND, so the CLI, the daemons it spawns (which close every inherited fd), the container's
 * init before its exec and the vCPU threads can all trace to it. The clock is the one python's
 * time.monotonic() reads, so the benchmarks line them up with their own spawn time. */
#include "util/trace.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static const char *trace_path(void)
{
	static const char *path;
	static int looked;
	if (!__atomic_load_n(&looked, __ATOMIC_ACQUIRE)) {
		const char *p = getenv("KEEL_TRACE");
		if (!p || !*p)
			p = getenv("KEEL_VM_TRACE");
		path = p && *p ? p : NULL;
		__atomic_store_n(&looked, 1, __ATOMIC_RELEASE);
	}
	return path;
}

bool keel_tracing(void)
{
	return trace_path() != NULL;
}

void keel_trace(const char *step)
{
	const char *path = trace_path();
	struct timespec t;
	char line[160];
	int fd, n;

	if (!path)
		return;
	clock_gettime(CLOCK_MONOTONIC, &t);
	n = snprintf(line, sizeof(line), "%d %lld %s\n", (int)getpid(),
		     (long long)t.tv_sec * 1000000000LL + t.tv_nsec, step);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
	if (fd < 0)
		return;
	(void)!write(fd, line, n > 0 && (size_t)n < sizeof(line) ? (size_t)n : sizeof(line) - 1);
	close(fd);
}
