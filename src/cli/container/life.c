/* keel stop, kill, restart, rm, wait, pause, unpause, rename, container prune. */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/diff.h"
#include "engine/logfile.h"
#include "engine/runopts.h"
#include "util/cleanup.h"

/* The verb applied to one container; returns 0 or 1 after printing the error. */
typedef int (*each_fn)(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx);

/* Checks the parsed flags in ctx before any container is touched: 0, or the exit code. */
typedef int (*check_fn)(void *ctx);

/* Docker's multi-container commands: each argument in turn, errors printed and remembered,
 * the argument echoed on success. */
static int for_each(const struct dcmd *cmd, int argc, char **argv, each_fn fn, check_fn check,
		    void *ctx, bool echo)
{
	struct dargs a;
	struct keel_engine *e;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (check && (r = check(ctx)))
		return r;
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

/* stop and restart: -t/--timeout (--time, docker's old name, hidden), -s/--signal. */
struct stop_opts {
	const char *cmd, *time, *timeout, *signal;
	int seconds, sig; /* -1 / 0: the container's own (StopTimeout, StopSignal) */
};

static int check_stop(void *ctx)
{
	struct stop_opts *o = ctx;
	const char *t = o->timeout ? o->timeout : o->time;
	char *end;
	o->seconds = -1;
	if (t) {
		long v = strtol(t, &end, 10);
		if (!*t || *end) {
			fprintf(stderr,
				"invalid argument \"%s\" for \"-t, --timeout\" flag: "
				"strconv.ParseInt: parsing \"%s\": invalid syntax\nSee 'keel %s "
				"--help'.\n",
				t, t, o->cmd);
			return 125;
		}
		o->seconds = v < 0 ? -1 : (int)v;
	}
	if (o->signal && !(o->sig = keel_signal_from_name(o->signal))) {
		fprintf(stderr, "Error response from daemon: Invalid signal: %s\n", o->signal);
		return 1;
	}
	return 0;
}

/* A stop signal of the user's: the engine reads it from the record (only this copy). */
static int stop_one(struct keel_engine *e, struct keel_ctr *c, const struct stop_opts *o,
		    keel_error_t *err)
{
	json_t *k = json_object_get(c->doc, "Keel");
	if (o->sig > 0) {
		if (!json_is_object(k))
			json_object_set_new(c->doc, "Keel", k = json_object());
		json_object_set_new(k, "StopSignal", json_integer(o->sig));
	}
	return keel_ctr_stop(e, c, o->seconds, err);
}

static int do_stop(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	if (stop_one(e, c, ctx, &err) < 0)
		return cli_ctr_fail(&err);
	return 0;
}

static int do_restart(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	int r;
	if (stop_one(e, c, ctx, &err) < 0)
		return cli_ctr_fail(&err);
	r = keel_ctr_start(e, c, false, &err);
	return r < 0 ? cli_ctr_fail(&err) : 0;
}

/* stop and restart: the same flags (docker's), a different action per container */
static int stop_command(int argc, char **argv, const char *name, const char *about,
			const char *aliases, each_fn fn)
{
	struct stop_opts o = { .cmd = name };
	const struct dflag flags[] = {
		{ "signal", 's', DF_STRING, &o.signal, "Signal to send to the container" },
		{ "timeout", 't', DF_INT, &o.timeout,
		  "Seconds to wait before killing the container (default: its --stop-timeout, "
		  "or 10)" },
		{ "time", 0, DF_INT, &o.time, NULL }, /* docker's old name, hidden */
		{ 0 },
	};
	const struct dcmd cmd = { name, "[OPTIONS] CONTAINER [CONTAINER...]", about, aliases,
				  flags, 1, -1 };
	return for_each(&cmd, argc, argv, fn, check_stop, &o, true);
}

int cli_ctr_stop(int argc, char **argv)
{
	return stop_command(argc, argv, "stop", "Stop one or more running containers",
			    "keel container stop, keel stop", do_stop);
}

int cli_ctr_restart(int argc, char **argv)
{
	return stop_command(argc, argv, "restart", "Restart one or more containers",
			    "keel container restart, keel restart", do_restart);
}

struct kill_opts {
	const char *signal;
	int sig;
};

static int check_kill(void *ctx)
{
	struct kill_opts *o = ctx;
	o->sig = SIGKILL;
	if (o->signal && !(o->sig = keel_signal_from_name(o->signal))) {
		fprintf(stderr, "invalid signal: %s\n", o->signal);
		return 1;
	}
	return 0;
}

static int do_kill(struct keel_engine *e, struct keel_ctr *c, const char *arg, void *ctx)
{
	keel_error_t err;
	if (keel_ctr_kill(e, c, ((struct kill_opts *)ctx)->sig, &err) < 0) {
		fprintf(stderr, "Error response from daemon: Cannot kill container: %s: %s\n", arg,
			err.msg);
		return 1;
	}
	return 0;
}

int cli_ctr_kill(int argc, char **argv)
{
	struct kill_opts o = { 0 };
	const struct dflag flags[] = {
		{ "signal", 's', DF_STRING, &o.signal,
		  "Signal to send to the container (default \"KILL\")" },
		{ 0 },
	};
	const struct dcmd cmd = { "kill",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Kill one or more running containers",
				  "keel container kill, keel kill",
				  flags,
				  1,
				  -1 };
	return for_each(&cmd, argc, argv, do_kill, check_kill, &o, true);
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
	return for_each(&cmd, argc, argv, do_rm, NULL, &ctx, true);
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
	return for_each(&cmd, argc, argv, do_wait, NULL, NULL, false);
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
	return for_each(&cmd, argc, argv, do_pause, NULL, (void *)1, true);
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
	return for_each(&cmd, argc, argv, do_pause, NULL, NULL, true);
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

/* container prune's filters: until=TIME, label=KEY[=VALUE], label!=KEY[=VALUE]. */
struct prune_filters {
	const struct dlist *f;
	struct timespec until;
	bool has_until;
};

static int check_prune_filters(struct prune_filters *pf)
{
	struct timespec now;
	clock_gettime(CLOCK_REALTIME, &now);
	for (size_t i = 0; i < pf->f->n; i++) {
		const char *f = pf->f->v[i], *eq = strchr(f, '=');
		size_t k = eq ? (size_t)(eq - f) : strlen(f);
		keel_error_t err;
		if (!eq) {
			fprintf(stderr,
				"invalid argument \"%s\" for \"--filter\" flag: bad format of "
				"filter (expected name=value)\nSee 'keel container prune "
				"--help'.\n",
				f);
			return 125;
		}
		if (k == 5 && !strncmp(f, "until", 5)) {
			if (keel_logfile_parse_time(eq + 1, &now, &pf->until, &err) < 0) {
				fprintf(stderr, "Error response from daemon: %s\n", err.msg);
				return 1;
			}
			pf->has_until = true;
		} else if (!((k == 5 && !strncmp(f, "label", 5)) ||
			     (k == 6 && !strncmp(f, "label!", 6)))) {
			fprintf(stderr, "Error response from daemon: invalid filter '%.*s'\n",
				(int)k, f);
			return 1;
		}
	}
	return 0;
}


/* label=: every one must match; label!=: none may. */
static bool prune_wanted(const struct prune_filters *pf, const struct keel_ctr *c)
{
	struct timespec created;
	keel_error_t err;
	if (pf->has_until && (keel_logfile_parse_time(c->created, &pf->until, &created, &err) < 0 ||
			      created.tv_sec >= pf->until.tv_sec))
		return false;
	for (size_t i = 0; i < pf->f->n; i++) {
		const char *f = pf->f->v[i];
		if (!strncmp(f, "label=", 6) && !cli_ctr_has_label(c, f + 6))
			return false;
		if (!strncmp(f, "label!=", 7) && cli_ctr_has_label(c, f + 7))
			return false;
	}
	return true;
}

/* Removes the stopped containers the filters keep; the bytes their writable layers held. */
static int64_t prune_stopped(struct keel_engine *e, const struct prune_filters *pf, FILE *out)
{
	struct keel_ctr **v = NULL;
	size_t n = 0, removed = 0;
	int64_t reclaimed = 0;
	keel_error_t err;
	if (keel_ctr_list(e, &v, &n, &err) < 0) {
		cli_ctr_fail(&err);
		return 0;
	}
	for (size_t i = 0; i < n; i++) {
		struct keel_ctr_status st;
		int64_t rw = 0, rootfs;
		if (keel_ctr_status(e, v[i], &st, &err) < 0 ||
		    (st.state != KEEL_CTR_EXITED && st.state != KEEL_CTR_CREATED &&
		     st.state != KEEL_CTR_DEAD) ||
		    st.monitor_pid || !prune_wanted(pf, v[i]))
			continue;
		if (keel_ctr_size(e, v[i], &rw, &rootfs, &err) < 0)
			rw = 0;
		if (keel_ctr_remove(e, v[i], false, &err) < 0) {
			cli_ctr_fail(&err);
			continue;
		}
		fprintf(out, "%s%s\n", removed++ ? "" : "Deleted Containers:\n", v[i]->id);
		reclaimed += rw;
	}
	if (removed)
		fputc('\n', out);
	keel_ctr_list_free(v, n);
	return reclaimed;
}

int cli_ctr_prune(int argc, char **argv)
{
	bool force = false;
	struct dlist filters = { 0 };
	const struct dflag flags[] = {
		{ "filter", 0, DF_FILTER, &filters,
		  "Provide filter values (e.g. \"until=<timestamp>\", \"label=KEY[=VALUE]\", "
		  "\"label!=KEY\")" },
		{ "force", 'f', DF_BOOL, &force, "Do not prompt for confirmation" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"container prune", "[OPTIONS]", "Remove all stopped containers", NULL, flags, 0, 0
	};
	struct prune_filters pf = { .f = &filters };
	struct dargs a;
	struct keel_engine *e;
	char size[32];
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if ((r = check_prune_filters(&pf)))
		return r;
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
	/* docker's go-units HumanSize: 4 significant digits */
	human_size(prune_stopped(e, &pf, stdout), 4, size, sizeof(size));
	printf("Total reclaimed space: %s\n", size);
	keel_engine_close(e);
	return 0;
}
