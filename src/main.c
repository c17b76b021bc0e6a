/* keel: one binary, dispatched on argv[0] (keel-runtime = runc's command line) and then on
 * the first argument. */
#include <libgen.h>
#include <stdio.h>
#include <string.h>

#include "cli/commands.h"
#include "keel-config.h"

static void usage(FILE *out)
{
	fprintf(out, "Usage: keel COMMAND [ARGS...]\n\n"
		     "A container and micro-VM engine.\n\n"
		     "Commands:\n"
		     "  runtime   the OCI runtime, with runc's command line (also as keel-runtime)\n"
		     "  vm        KVM micro-VMs: create, start, snapshot, clone, migrate\n"
		     "  version   print the version\n\n"
		     "Run 'keel COMMAND --help' for more information on a command.\n");
}

static const struct {
	const char *name;
	int (*fn)(int argc, char **argv);
} groups[] = {
	{"runtime", keel_cli_runtime},
	{"vm", keel_cli_vm},
};

int main(int argc, char **argv)
{
	const char *self = strrchr(argv[0], '/') ? strrchr(argv[0], '/') + 1 : argv[0];

	if (strcmp(self, "keel-runtime") == 0 || strcmp(self, "runc") == 0)
		return keel_cli_runtime(argc, argv);
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
