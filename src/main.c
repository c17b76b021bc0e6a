/* keel: one binary, dispatched on argv[0] (keel-runtime = runc's command line) and then on
 * the first argument. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "engine/monitor.h"
#include "runtime/sealed_exe.h"
#include "util/trace.h"
#include "keel-config.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *help; /* NULL: an alias, not listed */
} groups[] = {
	{"runtime", keel_cli_runtime, "the OCI runtime, runc's command line (also as keel-runtime)"},
	{"images", keel_cli_images, "list images"},
	{"image", keel_cli_image, "manage images (ls, inspect, history, tag, rm, prune, load, save, import)"},
	{"history", keel_cli_history, "show the history of an image"},
	{"tag", keel_cli_tag, "create a tag that refers to an image"},
	{"rmi", keel_cli_rmi, "remove images"},
	{"load", keel_cli_load, "load images from a docker-archive or oci-archive tar"},
	{"save", keel_cli_save, "save images to a docker-archive or oci-archive tar"},
	{"import", keel_cli_import, "create an image from a rootfs tarball"},
	{"system", keel_cli_system, "system information (df)"},
	{"vm", keel_cli_vm, "KVM micro-VMs: create, start, snapshot, restore, migrate"},
	{"run", keel_cli_container_cmd, "create and run a new container from an image"},
	{"create", keel_cli_container_cmd, "create a new container"},
	{"start", keel_cli_container_cmd, "start one or more stopped containers"},
	{"attach", keel_cli_container_cmd, "attach to a running container"},
	{"ps", keel_cli_container_cmd, "list containers"},
	{"stop", keel_cli_container_cmd, "stop one or more running containers"},
	{"kill", keel_cli_container_cmd, "kill one or more running containers"},
	{"restart", keel_cli_container_cmd, "restart one or more containers"},
	{"rm", keel_cli_container_cmd, "remove one or more containers"},
	{"wait", keel_cli_container_cmd, "block until containers stop, print their exit codes"},
	{"pause", keel_cli_container_cmd, "pause all processes within one or more containers"},
	{"unpause", keel_cli_container_cmd, "unpause all processes within one or more containers"},
	{"rename", keel_cli_container_cmd, "rename a container"},
	{"logs", keel_cli_container_cmd, "fetch the logs of a container"},
	{"inspect", keel_cli_container_cmd, "display detailed information on containers and images"},
	{"exec", keel_cli_container_cmd, "execute a command in a running container"},
	{"top", keel_cli_container_cmd, "display the running processes of a container"},
	{"stats", keel_cli_container_cmd, "live resource usage of containers"},
	{"diff", keel_cli_container_cmd, "changes to files on a container's filesystem"},
	{"cp", keel_cli_container_cmd, "copy files between a container and the host"},
	{"export", keel_cli_container_cmd, "export a container's filesystem as a tar archive"},
	{"commit", keel_cli_container_cmd, "create a new image from a container's changes"},
	{"port", keel_cli_container_cmd, "list port mappings of a container"},
	{"build", keel_cli_build, "build an image from a Dockerfile"},
	{"container", keel_cli_container, "manage containers (ls, rm, prune, ...)"},
	{"pull", keel_cli_pull, "download an image from a registry"},
	{"push", keel_cli_push, "upload an image to a registry"},
	{"login", keel_cli_login, "log in to a registry"},
	{"logout", keel_cli_logout, "log out from a registry"},
};

static void usage(FILE *out)
{
	fprintf(out, "Usage: keel [--root DIR] [--run-root DIR] COMMAND [ARGS...]\n\n"
		     "A container and micro-VM engine.\n\n"
		     "Global options:\n"
		     "  --root DIR      data root (default /var/lib/keel, or $KEEL_ROOT)\n"
		     "  --run-root DIR  run-time state (default /run/keel, or $KEEL_RUN_ROOT)\n\n"
		     "Commands:\n");
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (groups[i].help)
			fprintf(out, "  %-10s %s\n", groups[i].name, groups[i].help);
	fprintf(out, "  %-10s %s\n\nRun 'keel COMMAND --help' for more information on a command.\n",
		"version", "print the version");
}

/* `--root DIR` / `--run-root DIR` (or `--root=DIR`) before the command become KEEL_ROOT /
 * KEEL_RUN_ROOT for every command group. Returns the number of arguments consumed, or -1. */
static int global_options(int argc, char **argv)
{
	int i = 1;
	while (i < argc && argv[i][0] == '-' && argv[i][1] == '-') {
		static const struct {
			const char *flag, *env;
		} opts[] = {{"--root", "KEEL_ROOT"}, {"--run-root", "KEEL_RUN_ROOT"}};
		size_t k, n = sizeof(opts) / sizeof(opts[0]);
		for (k = 0; k < n; k++) {
			size_t len = strlen(opts[k].flag);
			if (strncmp(argv[i], opts[k].flag, len) != 0)
				continue;
			if (argv[i][len] == '=') {
				setenv(opts[k].env, argv[i] + len + 1, 1);
				i += 1;
				break;
			}
			if (argv[i][len] == '\0') {
				if (i + 1 >= argc)
					return -1;
				setenv(opts[k].env, argv[i + 1], 1);
				i += 2;
				break;
			}
		}
		if (k == n)
			break;
	}
	return i - 1;
}

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	keel_trace(self);
	if (strcmp(self, "keel-runtime") == 0 || strcmp(self, "runc") == 0)
		return keel_cli_runtime(argc, argv);
	/* A container's monitor, exec'd by the engine (engine/monitor.h): not a command. Its
	 * containers are forks of it, so it runs from a sealed copy of keel, like the runtime
	 * (CVE-2019-5736: /proc/<pid>/exe of a container's init must not be the host binary). */
	if (argc > 1 && strcmp(argv[1], KEEL_MONITOR_ARG) == 0) {
		keel_error_t err;
		if (keel_sealed_exe_ensure(argv, &err) < 0) {
			fprintf(stderr, "keel: monitor: %s\n", err.msg);
			return 125;
		}
		return keel_monitor_exec_main(argc - 1, argv + 1);
	}
	{
		int used = global_options(argc, argv);
		if (used < 0) {
			fprintf(stderr, "keel: flag needs an argument: %s\n", argv[argc - 1]);
			return 125;
		}
		/* argv[used] becomes the new argv[0]: the groups read argv[1..] */
		argv[used] = argv[0];
		argv += used;
		argc -= used;
	}
	if (argc < 2) {
		usage(stderr);
		return 125;
	}
	if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
	    strcmp(argv[1], "help") == 0) {
		usage(stdout);
		return 0;
	}
	if (strcmp(argv[1], "version") == 0 || strcmp(argv[1], "--version") == 0 ||
	    strcmp(argv[1], "-v") == 0) {
		printf("keel version %s\ncommit: %s\n", KEEL_VERSION, KEEL_COMMIT);
		return 0;
	}
	for (size_t i = 0; i < sizeof(groups) / sizeof(groups[0]); i++)
		if (strcmp(argv[1], groups[i].name) == 0)
			return groups[i].fn(argc - 1, argv + 1);
	fprintf(stderr, "keel: '%s' is not a keel command.\nSee 'keel --help'\n", argv[1]);
	return 125;
}
