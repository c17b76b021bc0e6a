/* The container command group: `keel run`, `keel ps`, ... and `keel container <cmd>`. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/container/ctr_cli.h"

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
	const char *about;
} cmds[] = {
	{ "run", cli_ctr_run, "Create and run a new container from an image" },
	{ "create", cli_ctr_create, "Create a new container" },
	{ "start", cli_ctr_start, "Start one or more stopped containers" },
	{ "attach", cli_ctr_attach, "Attach to a running container" },
	{ "ps", cli_ctr_ps, "List containers" },
	{ "ls", cli_ctr_ps, NULL },
	{ "list", cli_ctr_ps, NULL },
	{ "stop", cli_ctr_stop, "Stop one or more running containers" },
	{ "kill", cli_ctr_kill, "Kill one or more running containers" },
	{ "restart", cli_ctr_restart, "Restart one or more containers" },
	{ "rm", cli_ctr_rm, "Remove one or more containers" },
	{ "remove", cli_ctr_rm, NULL },
	{ "wait", cli_ctr_wait,
	  "Block until one or more containers stop, then print their exit codes" },
	{ "pause", cli_ctr_pause, "Pause all processes within one or more containers" },
	{ "unpause", cli_ctr_unpause, "Unpause all processes within one or more containers" },
	{ "rename", cli_ctr_rename, "Rename a container" },
	{ "prune", cli_ctr_prune, "Remove all stopped containers" },
	{ "logs", cli_ctr_logs, "Fetch the logs of a container" },
	{ "inspect", cli_inspect, "Display detailed information on one or more containers" },
	{ "exec", cli_ctr_exec, "Execute a command in a running container" },
	{ "top", cli_ctr_top, "Display the running processes of a container" },
	{ "stats", cli_ctr_stats,
	  "Display a live stream of container(s) resource usage statistics" },
	{ "diff", cli_ctr_diff,
	  "Inspect changes to files or directories on a container's filesystem" },
	{ "cp", cli_ctr_cp, "Copy files/folders between a container and the local filesystem" },
	{ "export", cli_ctr_export, "Export a container's filesystem as a tar archive" },
	{ "commit", cli_ctr_commit, "Create a new image from a container's changes" },
	{ "port", cli_ctr_port, "List port mappings or a specific mapping for the container" },
};

static int dispatch(const char *name, int argc, char **argv)
{
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (!strcmp(cmds[i].name, name))
			return cmds[i].fn(argc, argv);
	return -1;
}

int keel_cli_container_cmd(int argc, char **argv)
{
	int r = dispatch(argv[0], argc, argv);
	if (r == -1) {
		fprintf(stderr, "keel: '%s' is not a keel command.\n", argv[0]);
		return 125;
	}
	return r;
}

static void group_usage(FILE *f)
{
	fprintf(f, "\nUsage:  keel container COMMAND\n\nManage containers\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (cmds[i].about)
			fprintf(f, "  %-10s %s\n", cmds[i].name, cmds[i].about);
	fprintf(f, "\nRun 'keel container COMMAND --help' for more information on a command.\n");
}

int keel_cli_container(int argc, char **argv)
{
	int r;
	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		group_usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? 125 : 0;
	}
	/* `container inspect` knows only containers; the top-level `inspect` images too */
	if (!strcmp(argv[1], "inspect"))
		return cli_container_inspect(argc - 1, argv + 1);
	r = dispatch(argv[1], argc - 1, argv + 1);
	if (r == -1) {
		fprintf(stderr,
			"keel: 'container %s' is not a keel command.\nSee 'keel container "
			"--help'\n",
			argv[1]);
		return 125;
	}
	return r;
}
