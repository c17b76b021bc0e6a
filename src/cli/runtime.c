/* placeholder */
#include <stdio.h>
#include "cli/commands.h"
int keel_cli_runtime(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	return 1;
}
