/* Entry points of the command groups. Each takes the arguments after its own name
 * (argv[0] = the group name) and returns the process exit status. */
#ifndef KEEL_CLI_COMMANDS_H
#define KEEL_CLI_COMMANDS_H

/* `keel runtime ...` and `keel-runtime ...`: runc's command line. As `keel runtime`, argv
 * points one past main's argv[0] (argv - 1 is the whole vector, needed to re-execute). */
int keel_cli_runtime(int argc, char **argv);

/* `keel vm ...`: the micro-VM monitor. */
int keel_cli_vm(int argc, char **argv);

#endif
