/* keel-monitor: the per-container monitor as its own small, statically linked executable.
 *
 * `keel run` spawns `keel-monitor __monitor <options>` (engine/monitor.c, spawn_exec). Static
 * linking is the point: a dynamically linked monitor maps ld.so, libc, jansson, libseccomp,
 * libcap and zlib, and each of them costs page-table entries, relocated data (anonymous
 * copy-on-write pages) and fault-around text in every monitor for the container's whole
 * life. One static image has one text mapping, no relocations and no loader state, so a
 * hundred monitors each hold only what their event loop touches.
 *
 * The monitor creates the container in-process, so the container's init is a fork of this
 * executable until it execs the user's command: it runs from a read-only bind of itself (or a
 * sealed copy), like keel's runtime (CVE-2019-5736). */
#include <stdio.h>
#include <string.h>

#include "engine/monitor.h"
#include "runtime/sealed_exe.h"

int main(int argc, char **argv)
{
	keel_error_t err;

	if (argc < 2 || strcmp(argv[1], KEEL_MONITOR_ARG) != 0) {
		fprintf(stderr, "keel-monitor is internal to keel (started by `keel run`)\n");
		return 125;
	}
	if (keel_sealed_exe_ensure(argv, &err) < 0) {
		fprintf(stderr, "keel-monitor: %s\n", err.msg);
		return 125;
	}
	return keel_monitor_exec_main(argc - 1, argv + 1);
}
