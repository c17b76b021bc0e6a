/* `keel pull`, `keel push`, `keel login`, `keel logout`: Docker's flags and output. */
#include "cli/registry/registry_cli.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

#include "cli/commands.h"
#include "cli/image/image_cli.h"
#include "image/reference.h"
#include "util/cleanup.h"

/* Docker's client exits 1 for every failed pull, push or login. */
static int fail(const keel_error_t *err)
{
	fprintf(stderr, "Error response from daemon: %s\n", err->msg);
	return 1;
}

static int parallel_flag(const char *v)
{
	int n = v ? atoi(v) : 0;
	return n > 0 ? n : 0;
}

int keel_cli_pull(int argc, char **argv)
{
	bool quiet = false, all = false;
	const char *platform = NULL, *par = NULL;
	const struct dflag flags[] = { { "all-tags", 'a', DF_BOOL, &all,
					 "Download all tagged images in the repository" },
				       { "platform", 0, DF_STRING, &platform,
					 "Set platform if server is multi-platform capable" },
				       { "quiet", 'q', DF_BOOL, &quiet, "Suppress verbose output" },
				       { "max-concurrent-downloads", 0, DF_STRING, &par,
					 "Layers downloaded at once (default 3)" },
				       { 0 } };
	const struct dcmd cmd = { "pull",
				  "[OPTIONS] NAME[:TAG|@DIGEST]",
				  "Download an image from a registry",
				  "image pull, pull",
				  flags,
				  1,
				  1 };
	struct dargs a;
	struct keel_store *s;
	struct cli_progress p;
	struct keel_pull_result res;
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (all) {
		fprintf(stderr, "Error: --all-tags is not supported by keel pull\n");
		return 125;
	}
	if (!(s = cli_store(&a)))
		return 125;
	cli_progress_init(&p, quiet, false);
	{
		struct keel_reg_options o = { .platform = platform,
					      .parallel = parallel_flag(par),
					      .progress = cli_progress_event,
					      .progress_ud = &p };
		r = keel_registry_pull(s, a.pos[0], &o, &res, &err);
	}
	keel_store_close(s);
	if (r < 0)
		return fail(&err);
	if (!quiet) {
		cleanup_free char *fam = keel_ref_familiarize(res.name);
		printf("Digest: %s\n", res.digest);
		printf("Status: %s for %s\n",
		       res.downloaded ? "Downloaded newer image" : "Image is up to date",
		       fam ? fam : res.name);
	}
	printf("%s\n", res.name);
	return 0;
}

int keel_cli_push(int argc, char **argv)
{
	bool quiet = false, all = false;
	const struct dflag flags[] = { { "all-tags", 'a', DF_BOOL, &all,
					 "Push all tagged images in the repository" },
				       { "quiet", 'q', DF_BOOL, &quiet, "Suppress verbose output" },
				       { 0 } };
	const struct dcmd cmd = { "push",
				  "[OPTIONS] NAME[:TAG]",
				  "Upload an image to a registry",
				  "image push, push",
				  flags,
				  1,
				  1 };
	struct dargs a;
	struct keel_store *s;
	struct cli_progress p;
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (!(s = cli_store(&a)))
		return 125;
	cli_progress_init(&p, quiet, true);
	keel_store_ensure_busybox(s, &err);
	{
		struct keel_reg_options o = { .all_tags = all,
					      .progress = cli_progress_event,
					      .progress_ud = &p };
		r = keel_registry_push(s, a.pos[0], &o, &err);
	}
	keel_store_close(s);
	if (r < 0)
		return fail(&err);
	if (quiet)
		printf("%s\n", a.pos[0]);
	return 0;
}

/* One line from fd (the password), without its newline. */
static char *read_line(FILE *f)
{
	char *line = NULL;
	size_t cap = 0;
	ssize_t n = getline(&line, &cap, f);
	if (n < 0) {
		free(line);
		return NULL;
	}
	while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r'))
		line[--n] = '\0';
	return line;
}

static char *prompt(const char *what, bool echo)
{
	struct termios old, quiet;
	bool tty = isatty(0) && tcgetattr(0, &old) == 0;
	char *v;
	fprintf(stderr, "%s: ", what);
	fflush(stderr);
	if (tty && !echo) {
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(0, TCSAFLUSH, &quiet);
	}
	v = read_line(stdin);
	if (tty && !echo) {
		tcsetattr(0, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	return v;
}

int keel_cli_login(int argc, char **argv)
{
	bool stdin_pw = false;
	const char *user = NULL, *pass = NULL;
	const struct dflag flags[] = { { "password", 'p', DF_STRING, &pass, "Password" },
				       { "password-stdin", 0, DF_BOOL, &stdin_pw,
					 "Take the password from stdin" },
				       { "username", 'u', DF_STRING, &user, "Username" },
				       { 0 } };
	const struct dcmd cmd = {
		"login",
		"[OPTIONS] [SERVER]",
		"Log in to a registry.\nIf no server is specified, the default is "
		"defined by the daemon.",
		NULL,
		flags,
		0,
		1
	};
	struct dargs a;
	cleanup_free char *pw = NULL, *u = NULL;
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	if (stdin_pw && pass) {
		fprintf(stderr, "Error: --password and --password-stdin are mutually exclusive\n");
		return 125;
	}
	if (stdin_pw && !user) {
		fprintf(stderr, "Error: Must provide --username with --password-stdin\n");
		return 125;
	}
	if (pass)
		fprintf(stderr, "WARNING! Using --password via the CLI is insecure. Use "
				"--password-stdin.\n");
	if (!user)
		user = u = prompt("Username", true);
	if (stdin_pw)
		pass = pw = read_line(stdin);
	else if (!pass)
		pass = pw = prompt("Password", false);
	if (!user || !*user || !pass) {
		fprintf(stderr,
			"Error: Cannot perform an interactive login from a non TTY device\n");
		return 1;
	}
	r = keel_registry_login(a.n ? a.pos[0] : NULL, user, pass, &err);
	if (pw)
		explicit_bzero(pw, strlen(pw));
	if (r < 0)
		return fail(&err);
	printf("Login Succeeded\n");
	return 0;
}

int keel_cli_logout(int argc, char **argv)
{
	const struct dflag flags[] = { { 0 } };
	const struct dcmd cmd = {
		"logout",
		"[SERVER]",
		"Log out from a registry.\nIf no server is specified, the default "
		"is defined by the daemon.",
		NULL,
		flags,
		0,
		1
	};
	struct dargs a;
	cleanup_free char *key = NULL;
	keel_error_t err;
	int r = dflags_parse(&cmd, argc, argv, &a);
	if (r)
		return r > 0 ? 0 : 125;
	key = keel_auth_server_key(a.n ? a.pos[0] : NULL);
	if (!key)
		return 125;
	r = keel_registry_logout(a.n ? a.pos[0] : NULL, &err);
	if (r < 0 && err.errnum == ENOENT) {
		printf("Not logged in to %s\n", key);
		return 0;
	}
	if (r < 0)
		return cli_fail(&err, false);
	printf("Removing login credentials for %s\n", key);
	return 0;
}
