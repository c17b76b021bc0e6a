/* Entry points of the command groups. Each takes the arguments after its own name
 * (argv[0] = the group name) and returns the process exit status. */
#ifndef KEEL_CLI_COMMANDS_H
#define KEEL_CLI_COMMANDS_H

/* `keel runtime ...` and `keel-runtime ...`: runc's command line. As `keel runtime`, argv
 * points one past main's argv[0] (argv - 1 is the whole vector, needed to re-execute). */
int keel_cli_runtime(int argc, char **argv);

/* `keel vm ...`: the micro-VM monitor. */
int keel_cli_vm(int argc, char **argv);

/* Image commands (src/cli/image/): images, image (ls/inspect/rm/prune/...), history, tag,
 * rmi, load, save, import, system (df). */
int keel_cli_images(int argc, char **argv);
int keel_cli_image(int argc, char **argv);
int keel_cli_history(int argc, char **argv);
int keel_cli_tag(int argc, char **argv);
int keel_cli_rmi(int argc, char **argv);
int keel_cli_load(int argc, char **argv);
int keel_cli_save(int argc, char **argv);
int keel_cli_import(int argc, char **argv);
int keel_cli_system(int argc, char **argv);

/* Container commands (src/cli/container/): run, create, start, attach, ps, stop, kill,
 * restart, rm, wait, pause, unpause, rename, logs, inspect, exec, dispatched on argv[0]; and
 * `keel container <cmd>`. */
int keel_cli_container_cmd(int argc, char **argv);
int keel_cli_container(int argc, char **argv);

/* `keel build` (src/cli/build/): an image from a Dockerfile. */
int keel_cli_build(int argc, char **argv);

/* Registry commands (src/cli/registry/): pull, push, login, logout. */
int keel_cli_pull(int argc, char **argv);
int keel_cli_push(int argc, char **argv);
int keel_cli_login(int argc, char **argv);
int keel_cli_logout(int argc, char **argv);

#endif
