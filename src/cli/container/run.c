/* keel run, create, start, attach. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/runopts.h"
#include "util/cleanup.h"

#define RUN_USAGE "Usage:  keel %s [OPTIONS] IMAGE [COMMAND] [ARG...]\n"

static int usage_error(const char *cmd, const char *msg)
{
	fprintf(stderr, "keel: %s.\nSee 'keel %s --help'.\n", msg, cmd);
	return 125;
}

/* Drops --root/--run-root given before the image (and only there: what follows the image
 * is the container's command) and exports them. */
static int strip_globals(int argc, char **argv)
{
	cleanup_free char **copy = calloc((size_t)argc + 1, sizeof(*copy));
	cleanup_free int *map = calloc((size_t)argc + 1, sizeof(*map));
	struct keel_run_opts o = { 0 };
	keel_error_t err;
	int n, i = 1, limit = argc;
	if (!copy || !map)
		return argc;
	memcpy(copy, argv, (size_t)argc * sizeof(*copy));
	n = cli_ctr_globals(argc, copy, -1, false, map);
	if (keel_runopts_parse(n, copy, &i, &o, &err) == 0)
		limit = map[i];
	keel_runopts_free(&o);
	return cli_ctr_globals(argc, argv, limit, true, NULL);
}

/* Parses run/create's command line into *o and *image. Returns -1 to go on, or the exit
 * status to end with (0 after --help, 125 for a bad command line). */
static int parse_run(const char *cmd, int argc, char **argv, struct keel_run_opts *o,
		     const char **image)
{
	keel_error_t err;
	int i = 1;
	argc = strip_globals(argc, argv);
	if (keel_runopts_parse(argc, argv, &i, o, &err) < 0) {
		fprintf(stderr, "keel: %s\nSee 'keel %s --help'.\n", err.msg, cmd);
		return 125;
	}
	if (o->help) {
		printf(RUN_USAGE
		       "\n%s a new container (network: none by default; --network host "
		       "shares the host's).\n\nOptions:\n%s      --root string          data root "
		       "(default $KEEL_ROOT or /var/lib/keel)\n      --run-root string      run "
		       "state root (default $KEEL_RUN_ROOT or /run/keel)\n",
		       cmd, strcmp(cmd, "run") ? "Create" : "Run", keel_runopts_help());
		return 0;
	}
	if (i >= argc)
		return usage_error(cmd, strcmp(cmd, "run")
					    ? "\"create\" requires at least 1 argument"
					    : "\"run\" requires at least 1 argument");
	*image = argv[i];
	if (keel_runopts_set_cmd(o, argc - i - 1, argv + i + 1, &err) < 0) {
		fprintf(stderr, "keel: %s\n", err.msg);
		return 125;
	}
	return -1;
}

/* --cidfile: docker refuses an existing file, then writes the id once the container exists. */
static int cidfile_check(const struct keel_run_opts *o)
{
	if (o->cidfile && access(o->cidfile, F_OK) == 0) {
		fprintf(stderr,
			"keel: container ID file found, make sure the other container isn't "
			"running or delete %s\n",
			o->cidfile);
		return -1;
	}
	return 0;
}

static void cidfile_write(const struct keel_run_opts *o, const struct keel_ctr *c)
{
	FILE *f = o->cidfile ? fopen(o->cidfile, "wxe") : NULL;
	if (f) {
		fputs(c->id, f);
		fclose(f);
	}
}

/* Exit status of a start failure: 127 not found, 126 cannot run, 125 keel's own. */
static int start_failed(int r, const keel_error_t *err)
{
	fprintf(stderr, "keel: Error response from daemon: %s\n", err->msg);
	if (r == -2)
		return err->errnum == ENOENT ? 127 : 126;
	return 125;
}

static void remove_quietly(struct keel_engine *e, const struct keel_ctr *c)
{
	keel_error_t err;
	if (keel_ctr_remove(e, c, true, &err) < 0 && err.errnum != ENOENT)
		fprintf(stderr, "keel: removing %s: %s\n", c->name, err.msg);
}

/* The foreground part of run / start -a: relay until exit; the container's exit code. */
static int attach_foreground(struct keel_engine *e, const struct keel_ctr *c, bool stdin_attach,
			     const char *detach_keys, bool sig_proxy)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	json_t *cfg = json_object_get(c->doc, "Config");
	struct cli_attach a = { .tty = json_is_true(json_object_get(cfg, "Tty")),
				.stdin = stdin_attach,
				.sig_proxy = sig_proxy,
				.detach_keys = detach_keys };
	int code = -1, r;
	r = cli_attach_run(dir, &a, &code);
	if (r < 0)
		return 125;
	if (r == 1)
		return 0; /* detached: the container runs on */
	if (code < 0) {
		/* the monitor went away without a word: the recorded status is the truth */
		struct keel_ctr_status st;
		keel_error_t err;
		code = keel_ctr_status(e, c, &st, &err) == 0 ? st.exit_code : 125;
	}
	return code;
}

int cli_ctr_run(int argc, char **argv)
{
	struct keel_run_opts o = { 0 };
	const char *image = NULL;
	struct keel_engine *e = NULL;
	struct keel_ctr *c = NULL;
	keel_error_t err;
	int r = parse_run("run", argc, argv, &o, &image);
	if (r >= 0)
		goto out;
	if (o.detach_keys && cli_detach_keys(o.detach_keys, (unsigned char[16]){ 0 }, 16) < 0) {
		fprintf(stderr, "Invalid detach keys (%s) provided\n", o.detach_keys);
		r = 125;
		goto out;
	}
	/* docker checks only when it attaches: `run -dit` from a script is fine */
	if (o.tty && o.interactive && !o.detach && !isatty(STDIN_FILENO)) {
		fprintf(stderr, "the input device is not a TTY\n");
		r = 1;
		goto out;
	}
	r = 125;
	if (!(e = cli_engine()))
		goto out;
	if (!(c = keel_ctr_create(e, image, &o, &err))) {
		fprintf(stderr, "keel: Error response from daemon: %s\n", err.msg);
		goto out;
	}
	if ((r = keel_ctr_start(e, c, !o.detach, &err)) < 0) {
		r = start_failed(r, &err);
		if (o.rm)
			remove_quietly(e, c);
		goto out;
	}
	if (o.detach) {
		printf("%s\n", c->id);
		r = 0;
		goto out;
	}
	r = attach_foreground(e, c, o.interactive, o.detach_keys, !o.no_sig_proxy);
	if (o.rm) {
		struct keel_ctr_status st;
		/* not when the user detached: the container still runs (keel ps removes it
		 * once it has exited) */
		if (keel_ctr_status(e, c, &st, &err) == 0 && st.state == KEEL_CTR_EXITED)
			remove_quietly(e, c);
	}
out:
	keel_ctr_free(c);
	keel_engine_close(e);
	keel_runopts_free(&o);
	return r;
}

int cli_ctr_create(int argc, char **argv)
{
	struct keel_run_opts o = { 0 };
	const char *image = NULL;
	struct keel_engine *e = NULL;
	struct keel_ctr *c = NULL;
	keel_error_t err;
	int r = parse_run("create", argc, argv, &o, &image);
	if (r >= 0)
		goto out;
	r = 125;
	if (cidfile_check(&o) < 0 || !(e = cli_engine()))
		goto out;
	if (!(c = keel_ctr_create(e, image, &o, &err))) {
		fprintf(stderr, "keel: Error response from daemon: %s\n", err.msg);
		goto out;
	}
	cidfile_write(&o, c);
	printf("%s\n", c->id);
	r = 0;
out:
	keel_ctr_free(c);
	keel_engine_close(e);
	keel_runopts_free(&o);
	return r;
}

/* docker's list of the containers start could not start: "a, b". */
static void failed_add(char *list, size_t cap, const char *name)
{
	size_t n = strlen(list);
	snprintf(list + n, cap - n, "%s%s", n ? ", " : "", name);
}

int cli_ctr_start(int argc, char **argv)
{
	char failed[1024] = "";
	bool attach = false, interactive = false;
	const char *keys = NULL;
	const struct dflag flags[] = {
		{ "attach", 'a', DF_BOOL, &attach, "Attach STDOUT/STDERR and forward signals" },
		{ "interactive", 'i', DF_BOOL, &interactive, "Attach container's STDIN" },
		{ "detach-keys", 0, DF_STRING, &keys,
		  "Override the key sequence for detaching a container" },
		{ 0 },
	};
	const struct dcmd cmd = { "start",
				  "[OPTIONS] CONTAINER [CONTAINER...]",
				  "Start one or more stopped containers",
				  NULL,
				  flags,
				  1,
				  -1 };
	struct dargs a;
	struct keel_engine *e;
	int r = 0;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if ((attach || interactive) && a.n > 1) {
		fprintf(stderr, "Error: you cannot start and attach multiple containers at once\n");
		return 1;
	}
	if (!(e = cli_engine()))
		return 125;
	for (int i = 0; i < a.n; i++) {
		keel_error_t err;
		struct keel_ctr *c = keel_ctr_get(e, a.pos[i], &err);
		int s;
		if (!c) {
			/* start -a inspects first: docker's client words it "Error: ..." */
			if (attach || interactive) {
				fprintf(stderr, "Error: %s\n", err.msg);
			} else {
				cli_ctr_fail(&err);
				failed_add(failed, sizeof(failed), a.pos[i]);
			}
			r = 1;
			continue;
		}
		s = keel_ctr_start(e, c, attach || interactive, &err);
		if (s < 0 && err.errnum == EBUSY && !(attach || interactive)) {
			s = 0; /* docker: starting a running container is fine */
		}
		if (s < 0) {
			r = attach || interactive ? start_failed(s, &err) : cli_ctr_fail(&err);
			if (!(attach || interactive))
				failed_add(failed, sizeof(failed), a.pos[i]);
		} else if (attach || interactive) {
			r = attach_foreground(e, c, interactive, keys, true);
		} else {
			printf("%s\n", a.pos[i]);
		}
		keel_ctr_free(c);
	}
	keel_engine_close(e);
	if (failed[0])
		fprintf(stderr, "Error: failed to start containers: %s\n", failed);
	return r;
}

int cli_ctr_attach(int argc, char **argv)
{
	bool no_stdin = false, sig_proxy = true;
	const char *keys = NULL;
	const struct dflag flags[] = {
		{ "no-stdin", 0, DF_BOOL, &no_stdin, "Do not attach STDIN" },
		{ "sig-proxy", 0, DF_BOOL, &sig_proxy,
		  "Proxy all received signals to the process (default true)" },
		{ "detach-keys", 0, DF_STRING, &keys,
		  "Override the key sequence for detaching a container" },
		{ 0 },
	};
	const struct dcmd cmd = { "attach",
				  "[OPTIONS] CONTAINER",
				  "Attach local standard input, output, and error streams to a "
				  "running container",
				  NULL,
				  flags,
				  1,
				  1 };
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	struct keel_ctr_status st;
	keel_error_t err;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, a.pos[0]))) {
		keel_engine_close(e);
		return 1;
	}
	if (keel_ctr_status(e, c, &st, &err) < 0 || st.state != KEEL_CTR_RUNNING) {
		if (st.state == KEEL_CTR_PAUSED)
			fprintf(stderr, "You cannot attach to a paused container, unpause it "
					"first\n");
		else
			fprintf(stderr, "You cannot attach to a stopped container, start it "
					"first\n");
		r = 1;
	} else {
		json_t *cfg = json_object_get(c->doc, "Config");
		cleanup_free char *dir = keel_ctr_dir(e, c->id);
		struct cli_attach at = { .tty = json_is_true(json_object_get(cfg, "Tty")),
					 .stdin = !no_stdin &&
						  json_is_true(json_object_get(cfg, "OpenStdin")),
					 .sig_proxy = sig_proxy,
					 .detach_keys = keys };
		int code = 0;
		r = cli_attach_run(dir, &at, &code);
		r = r < 0 ? 1 : r == 1 ? 0 : code;
	}
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}
