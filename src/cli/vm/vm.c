/* placeholder until the VM monitor lands */
#include <stdio.h>

#include "cli/commands.h"

int keel_cli_vm(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	fprintf(stderr, "keel vm: not built yet\n");
	return 125;
}
