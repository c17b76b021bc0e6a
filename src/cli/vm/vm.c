/* `keel vm ...`: a command table; each command is a short function in vm_life.c or
 * vm_move.c calling the library (src/lib/vm). */
#include <getopt.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "cli/vm/vm_cli.h"
#include "vm/vmdir.h"

static const struct {
	const char *name;
	int (*fn)(struct vm_cli *c, int argc, char **argv);
	const char *help;
} commands[] = {
	{"create", vm_cmd_create, "create NAME --kernel K [--initrd I] [--cmdline C] [--cpus N] "
				  "[--memory 256M] [--disk FILE[,ro]] [--net tap|none]"},
	{"start", vm_cmd_start, "start NAME [-a]"},
	{"run", vm_cmd_run, "run [--rm] [-d] [--name NAME] --kernel K [create options]"},
	{"ls", vm_cmd_ls, "ls"},
	{"inspect", vm_cmd_inspect, "inspect NAME"},
	{"logs", vm_cmd_logs, "logs NAME [-f]"},
	{"console", vm_cmd_console, "console NAME (Ctrl-] detaches)"},
	{"stop", vm_cmd_stop, "stop NAME [--force]"},
	{"rm", vm_cmd_rm, "rm [-f] NAME"},
	{"pause", vm_cmd_pause, "pause NAME"},
	{"resume", vm_cmd_resume, "resume NAME"},
	{"snapshot", vm_cmd_snapshot, "snapshot NAME DIR [--leave-running]"},
	{"restore", vm_cmd_restore, "restore DIR [--name NEW] [-a] [--verify]"},
	{"migrate", vm_cmd_migrate, "migrate NAME --to ADDR:PORT [--max-downtime 50ms] "
				    "[--bandwidth 100M]"},
	{"receive", vm_cmd_receive, "receive --listen ADDR:PORT [--name NAME] [-a]"},
};

int vm_cli_die(const keel_error_t *err)
{
	fprintf(stderr, "keel vm: %s\n", err->msg);
	return 1;
}

static void usage(FILE *out)
{
	fprintf(out, "Usage: keel vm [--root DIR] COMMAND ...\n\nKVM micro-VMs.\n\nCommands:\n");
	for (size_t i = 0; i < sizeof(commands) / sizeof(commands[0]); i++)
		fprintf(out, "  %s\n", commands[i].help);
	fprintf(out, "\nThe root (default /var/lib/keel) also comes from $KEEL_ROOT.\n");
}

int keel_cli_vm(int argc, char **argv)
{
	struct vm_cli c = {.root = NULL};
	int i = 1;

	keel_trace("cli: start");

	while (i < argc && argv[i][0] == '-') {
		if (strcmp(argv[i], "--root") == 0 && i + 1 < argc) {
			c.root = argv[i + 1];
			i += 2;
		} else if (strncmp(argv[i], "--root=", 7) == 0) {
			c.root = argv[i++] + 7;
		} else if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
			usage(stdout);
			return 0;
		} else {
			fprintf(stderr, "keel vm: unknown option %s\n", argv[i]);
			return 125;
		}
	}
	c.root = keel_vm_root(c.root);
	if (i >= argc) {
		usage(stderr);
		return 125;
	}
	for (size_t k = 0; k < sizeof(commands) / sizeof(commands[0]); k++)
		if (strcmp(argv[i], commands[k].name) == 0) {
			optind = 0; /* reset getopt for the command's own parse */
			return commands[k].fn(&c, argc - i, argv + i);
		}
	fprintf(stderr, "keel vm: unknown command '%s'\nSee 'keel vm --help'\n", argv[i]);
	return 125;
}
