/* keel stop, kill, restart, rm, wait, pause, unpause, rename, container prune. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/runopts.h"
#include "util/cleanup.h"

/* The verb applied to one container; returns 0 or 1 after printing the error. */
typedef int (*each_fn)(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx);

/* Docker's multi-container commands: each argument in turn, errors printed and remembered,
 * the argument echoed on success. */
static int for_each(const struct dcmd *cmd, int argc, char **argv, each_fn fn, void *ctx, bool echo)
{
	struct dargs a;
	struct keel_engine *e;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (!(e = cli_engine()))
		return 125;
	for (int i = 0; i < a.n; i++) {
		struct keel_ctr *c = cli_ctr_get(e, a.pos[i]);
		if (!c) {
			r = 1;
			continue;
		}
		if (fn(e, c, a.pos[i], ctx) != 0)
			r = 1;
		else if (echo)
			printf("%s\n", a.pos[i]);
		keel_ctr_free(c);
	}
	keel_engine_close(e);
	return r;
}

static int parse_timeout(const char *t)
{
	return t ? atoi(t) : -1;
}

static int do_stop(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	if (keel_ctr_stop(e, c, parse_timeout(ctx ? *(const char **)ctx : NULL), &err) < 0)
		return cli_ctr_fail(&err);
	return 0;
}

int cli_ctr_stop(int argc, char **argv)
{
	const char *t = NULL;
	const struct dflag flags[] = {
		{ "time", 't', DF_STRING, &t, "Seconds to wait for stop before killing it" },
		{ 0 },
	};
	const struct dcmd cmd = { "stop",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Stop one or more running containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_stop, &t, true);
}

static int do_restart(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	int r;
	if (keel_ctr_stop(e, c, parse_timeout(*(const char **)ctx), &err) < 0)
		return cli_ctr_fail(&err);
	r = keel_ctr_start(e, c, false, &err);
	return r < 0 ? cli_ctr_fail(&err) : 0;
}

int cli_ctr_restart(int argc, char **argv)
{
	const char *t = NULL;
	const struct dflag flags[] = {
		{ "time", 't', DF_STRING, &t,
		  "Seconds to wait for stop before killing the container" },
		{ 0 },
	};
	const struct dcmd cmd = { "restart",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Restart one or more containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_restart, &t, true);
}

static int do_kill(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	int sig = *(int *)ctx;
	if (keel_ctr_kill(e, c, sig, &err) < 0) {
		fprintf(stderr, "Error response from daemon: Cannot kill container: %s: %s\n", arg,
			err.msg);
		return 1;
	}
	return 0;
}

int cli_ctr_kill(int argc, char **argv)
{
	const char *s = NULL;
	const struct dflag flags[] = {
		{ "signal", 's', DF_STRING, &s,
		  "Signal to send to the container (default \"KILL\")" },
		{ 0 },
	};
	const struct dcmd cmd = { "kill",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Kill one or more running containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	int sig = SIGKILL;
	/* the flag is read by for_each's parse; resolve it lazily through a wrapper */
	struct dargs a;
	char **copy = calloc((size_t)argc + 1, sizeof(*copy));
	int r;
	if (!copy)
		return 125;
	memcpy(copy, argv, (size_t)argc * sizeof(*copy));
	argc = cli_ctr_globals(argc, copy, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, copy, &a))) {
		free(copy);
		return r > 0 ? 0 : 125;
	}
	if (s && !(sig = keel_signal_from_name(s))) {
		fprintf(stderr, "invalid signal: %s\n", s);
		free(copy);
		return 1;
	}
	r = for_each(&cmd, argc, copy, do_kill, &sig, true);
	free(copy);
	return r;
}

struct rm_ctx {
	bool force;
};

static int do_rm(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	if (keel_ctr_remove(e, c, ((struct rm_ctx *)ctx)->force, &err) < 0)
		return cli_ctr_fail(&err);
	return 0;
}

int cli_ctr_rm(int argc, char **argv)
{
	struct rm_ctx ctx = { 0 };
	bool volumes = false, link = false;
	const struct dflag flags[] = {
		{ "force", 'f', DF_BOOL, &ctx.force,
		  "Force the removal of a running container (uses SIGKILL)" },
		{ "volumes", 'v', DF_BOOL, &volumes,
		  "Remove anonymous volumes associated with the container" },
		{ "link", 'l', DF_BOOL, &link, "Remove the specified link" },
		{ 0 },
	};
	const struct dcmd cmd = { "rm",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Remove one or more containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_rm, &ctx, true);
}

static int do_wait(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	int code;
	if (keel_ctr_wait(e, c, &code, &err) < 0)
		return cli_ctr_fail(&err);
	printf("%d\n", code);
	fflush(stdout);
	return 0;
}

int cli_ctr_wait(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = { "wait",
				  "CONTAINER [CONTAINER...]",
				  "Block until one or more containers stop, then print their exit "
				  "codes",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_wait, NULL, false);
}

static int do_pause(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	if (keel_ctr_pause(e, c, ctx != NULL, &err) < 0)
		return cli_ctr_fail(&err);
	return 0;
}

int cli_ctr_pause(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = { "pause",
				  "CONTAINER [CONTAINER...]",
				  "Pause all processes within one or more containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_pause, (void *)1, true);
}

int cli_ctr_unpause(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = { "unpause",
				  "CONTAINER [CONTAINER...]",
				  "Unpause all processes within one or more containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_pause, NULL, true);
}

int cli_ctr_rename(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = {
		"rename", "CONTAINER NEW_NAME", "Rename a container", NULL, flags, 2, 2
	};
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, a.pos[0])))
		r = 1;
	else if (keel_ctr_rename(e, c, a.pos[1], &err) < 0)
		r = cli_ctr_fail(&err);
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}

int cli_ctr_prune(int argc, char **argv)
{
	bool force = false;
	struct dlist filters = { 0 };
	const struct dflag flags[] = {
		{ "force", 'f', DF_BOOL, &force, "Do not prompt for confirmation" },
		{ "filter", 0, DF_LIST, &filters,
		  "Provide filter values (e.g. \"until=<timestamp>\")" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"container prune", "[OPTIONS]", "Remove all stopped containers", NULL, flags, 0, 0
	};
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr **v = NULL;
	size_t n = 0;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (!force) {
		char answer[16] = "";
		printf("WARNING! This will remove all stopped containers.\nAre you sure you want "
		       "to continue? [y/N] ");
		fflush(stdout);
		if (!fgets(answer, sizeof(answer), stdin) || (answer[0] != 'y' && answer[0] != 'Y'))
			return 0;
	}
	if (!(e = cli_engine()))
		return 125;
	if (keel_ctr_list(e, &v, &n, &err) < 0) {
		keel_engine_close(e);
		return cli_ctr_fail(&err);
	}
	printf("Deleted Containers:\n");
	for (size_t i = 0; i < n; i++) {
		struct keel_ctr_status st;
		if (keel_ctr_status(e, v[i], &st, &err) < 0 ||
		    (st.state != KEEL_CTR_EXITED && st.state != KEEL_CTR_CREATED &&
		     st.state != KEEL_CTR_DEAD) ||
		    st.monitor_pid)
			continue;
		if (keel_ctr_remove(e, v[i], false, &err) < 0)
			cli_ctr_fail(&err);
		else
			printf("%s\n", v[i]->id);
	}
	printf("\nTotal reclaimed space: 0B\n");
	keel_ctr_list_free(v, n);
	keel_engine_close(e);
	return 0;
}
