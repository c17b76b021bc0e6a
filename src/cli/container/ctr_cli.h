/* Shared parts of the container commands: keel's global options, opening the engine,
 * docker's error lines and durations, and the attach client (attach.c). */
#ifndef KEEL_CLI_CTR_H
#define KEEL_CLI_CTR_H

#include <stdbool.h>
#include <stdint.h>

#include "engine/containers.h"
#include "util/error.h"

/* Removes keel's global options (--root DIR, --root=DIR, --run-root DIR, --run-root=DIR)
 * found in argv[1..limit) (before a "--") and, with apply, exports them as $KEEL_ROOT /
 * $KEEL_RUN_ROOT, which every module reads. Returns the new argc (argv is compacted in
 * place, NULL-terminated; limit < 0 = argc). map (argc + 1 entries, or NULL) receives the
 * original index of every kept entry, map[new argc] = argc. */
int cli_ctr_globals(int argc, char **argv, int limit, bool apply, int *map);

/* Opens the engine at the roots from the environment; prints and returns NULL on failure. */
struct keel_engine *cli_engine(void);

/* "Error response from daemon: <msg>" (or "Error: <msg>" when !daemon) on stderr; returns 1. */
/* The filters' label=KEY[=VALUE] test on a container's Config.Labels (ps, container prune). */
bool cli_ctr_has_label(const struct keel_ctr *c, const char *want);
int cli_ctr_fail(const keel_error_t *err);

/* Looks up a container; prints docker's error and returns NULL when there is none. */
struct keel_ctr *cli_ctr_get(struct keel_engine *e, const char *ref);

/* go-units HumanDuration of a span in seconds ("Less than a second", "About a minute",
 * "3 hours"). */
void cli_human_duration(double seconds, char *out, size_t len);

/* Seconds since an RFC 3339 time (0 when it does not parse). */
double cli_seconds_since(const char *rfc3339);

/* The attach client: relays the terminal or stdio to a container's monitor until the
 * container exits (returns 0, *exit_code set) or the user detaches (returns 1). */
struct cli_attach {
	bool tty;		 /* the container has a tty: raw mode, resize */
	bool stdin;		 /* forward stdin */
	bool sig_proxy;		 /* forward signals to the container (non-tty) */
	const char *detach_keys; /* NULL = "ctrl-p,ctrl-q" */
};
int cli_attach_run(const char *dir, const struct cli_attach *a, int *exit_code);

/* Parses docker's --detach-keys ("ctrl-p,ctrl-q", "a,b") into bytes; returns the count, -1
 * when invalid. */
int cli_detach_keys(const char *spec, unsigned char *out, size_t cap);

/* One container as `ps` lists it: the members its --format names (ID, Image, Command,
 * RunningFor, Status, Names, ...; Size "0B": not computed). New reference. */
json_t *cli_ps_row(struct keel_engine *e, const struct keel_ctr *c,
		   const struct keel_ctr_status *st, bool no_trunc);

/* Commands implemented across files, dispatched by container.c. */
int cli_ctr_run(int argc, char **argv);
int cli_ctr_create(int argc, char **argv);
int cli_ctr_start(int argc, char **argv);
int cli_ctr_attach(int argc, char **argv);
int cli_ctr_ps(int argc, char **argv);
int cli_ctr_stop(int argc, char **argv);
int cli_ctr_kill(int argc, char **argv);
int cli_ctr_restart(int argc, char **argv);
int cli_ctr_rm(int argc, char **argv);
int cli_ctr_wait(int argc, char **argv);
int cli_ctr_pause(int argc, char **argv);
int cli_ctr_unpause(int argc, char **argv);
int cli_ctr_rename(int argc, char **argv);
int cli_ctr_prune(int argc, char **argv);
int cli_ctr_logs(int argc, char **argv);
/* `keel inspect`: containers, then images (--type container|image), -f, -s. */
int cli_inspect(int argc, char **argv);
/* `keel container inspect`: containers only. */
int cli_container_inspect(int argc, char **argv);
int cli_ctr_exec(int argc, char **argv);
int cli_ctr_top(int argc, char **argv);
int cli_ctr_stats(int argc, char **argv);
int cli_ctr_diff(int argc, char **argv);
int cli_ctr_cp(int argc, char **argv);
int cli_ctr_export(int argc, char **argv);
int cli_ctr_commit(int argc, char **argv);
int cli_ctr_port(int argc, char **argv);

#endif
