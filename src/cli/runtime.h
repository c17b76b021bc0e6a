/* Shared between the runtime CLI files. */
#ifndef KEEL_CLI_RUNTIME_H
#define KEEL_CLI_RUNTIME_H

#include <stdbool.h>

#include "cli/args.h"
#include "util/error.h"

struct rt_ctx {
	const char *root;
	const char *prog; /* "keel-runtime" or "keel runtime" for messages */
};

/* Logs err's message at error level (to --log and stderr as runc does) and returns code. */
int rt_fail(const keel_error_t *err, int code);
/* Same for a plain message. */
int rt_failf(int code, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Parses the flags of a subcommand; on -h prints usage and returns 1; on error logs and
 * returns -1. `need` is the number of positional arguments required (ID etc.). */
int rt_parse(int argc, char **argv, int *i, const struct keel_opt *opts, const char *usage,
	     int need);

int rt_cmd_exec(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_run(struct rt_ctx *ctx, int argc, char **argv);
int rt_cmd_update(struct rt_ctx *ctx, int argc, char **argv);

/* p made absolute against the cwd (create chdirs into the bundle), in buf; p itself when it
 * is absolute or NULL. */
const char *rt_abs_path(const char *p, char *buf, size_t len);

/* LISTEN_FDS of our environment (systemd socket activation), 0 when unset. */
int rt_listen_fds(void);

/* Forwards common signals to pid until rt_forward_stop(). */
void rt_forward_signals(int pid);
void rt_forward_stop(void);

#endif
