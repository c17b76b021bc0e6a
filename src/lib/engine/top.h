/* `docker top`: the host's ps, filtered to a container's processes, in docker's shape.
 *
 * As dockerd does: ps runs with the user's arguments (default "-ef") split on single spaces,
 * first with "-q <pid,pid,...>" appended (procps ps then lists only those) and, if that
 * fails (options such as "f" refuse -q), again without; the header's "PID" column picks
 * each row's pid, rows whose pid is not the container's are dropped, thread rows ("-" as
 * pid, from "m") follow the process row before them, and the fields past the last title are
 * joined with spaces into the last column (the command line). */
#ifndef KEEL_TOP_H
#define KEEL_TOP_H

#include <stddef.h>
#include <stdio.h>
#include <sys/types.h>

#include <jansson.h>

#include "util/error.h"

struct keel_top {
	char **titles; /* NULL-terminated */
	size_t ntitles;
	char ***rows; /* nrows rows of ntitles strings each */
	size_t nrows;
};

/* Refuses ps arguments that set a column other than pid to the PID header ("-o user=PID"),
 * which would make docker's PID lookup read the wrong column (docker's validatePSArgs). */
int keel_top_check_args(const char *ps_args, keel_error_t *err);

/* Parses ps output (text, NUL-terminated) keeping the rows of pids[0..npids). Fills *out
 * (release with keel_top_free). Error when the header has no PID column or a pid does not
 * parse. */
int keel_top_parse(const char *ps_output, const pid_t *pids, size_t npids, struct keel_top *out,
		   keel_error_t *err);

/* Runs the host's `ps` (PATH lookup) with ps_args (NULL or "" = "-ef") and parses it.
 * Errors carry ps' stderr. */
int keel_top_run(const char *ps_args, const pid_t *pids, size_t npids, struct keel_top *out,
		 keel_error_t *err);

/* Reads a cgroup.procs-style file (one pid a line) into a malloc'd array. */
int keel_top_read_pids(const char *procs_path, pid_t **pids, size_t *npids, keel_error_t *err);

/* Prints as the docker CLI does: Go tabwriter with minwidth 20, padding 3, spaces. */
void keel_top_print(const struct keel_top *t, FILE *out);

/* {"Titles":[...],"Processes":[[...],...]} as GET /containers/{id}/top answers (new ref). */
json_t *keel_top_json(const struct keel_top *t);

void keel_top_free(struct keel_top *t);

#endif
