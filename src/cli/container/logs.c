/* keel logs and keel inspect. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/container/ctr_cli.h"
#include "cli/image/image_cli.h"
#include "engine/logfile.h"
#include "engine/monitor.h"
#include "util/cleanup.h"
#include "util/template.h"

static int parse_when(const char *s, const char *flag, struct timespec *out)
{
	struct timespec now;
	keel_error_t err;
	clock_gettime(CLOCK_REALTIME, &now);
	if (keel_logfile_parse_time(s, &now, out, &err) < 0) {
		fprintf(stderr, "invalid value for \"%s\": %s\n", flag, err.msg);
		return -1;
	}
	return 0;
}

/* --log-driver none: nothing was written, and docker says so rather than print nothing. */
static bool log_driver_none(const struct keel_ctr *c)
{
	json_t *lc = json_object_get(json_object_get(c->doc, "HostConfig"), "LogConfig");
	const char *type = json_string_value(json_object_get(lc, "Type"));
	return type && strcmp(type, "none") == 0;
}

int cli_ctr_logs(int argc, char **argv)
{
	bool follow = false, timestamps = false, details = false;
	const char *tail = NULL, *since = NULL, *until = NULL;
	const struct dflag flags[] = {
		{ "follow", 'f', DF_BOOL, &follow, "Follow log output" },
		{ "tail", 'n', DF_STRING, &tail,
		  "Number of lines to show from the end of the logs (default \"all\")" },
		{ "timestamps", 't', DF_BOOL, &timestamps, "Show timestamps" },
		{ "since", 0, DF_STRING, &since,
		  "Show logs since timestamp or relative (e.g. 42m)" },
		{ "until", 0, DF_STRING, &until,
		  "Show logs before a timestamp or relative (e.g. 42m)" },
		{ "details", 0, DF_BOOL, &details, "Show extra details provided to logs" },
		{ 0 },
	};
	const struct dcmd cmd = {
		"logs", "[OPTIONS] CONTAINER", "Fetch the logs of a container", NULL, flags, 1, 1
	};
	struct keel_logs_opts lo = {
		.tail = -1, .stop_fd = -1, .out_fd = STDOUT_FILENO, .err_fd = STDERR_FILENO
	};
	struct dargs a;
	struct keel_engine *e;
	struct keel_ctr *c;
	keel_error_t err;
	cleanup_close int wait_fd = -1;
	int r;
	argc = cli_ctr_globals(argc, argv, -1, true, NULL);
	if ((r = dflags_parse(&cmd, argc, argv, &a)))
		return r > 0 ? 0 : 125;
	if (tail && strcmp(tail, "all"))
		lo.tail = strtol(tail, NULL, 10);
	lo.timestamps = timestamps;
	lo.details = details;
	if ((since && (lo.has_since = true) && parse_when(since, "since", &lo.since) < 0) ||
	    (until && (lo.has_until = true) && parse_when(until, "until", &lo.until) < 0))
		return 125;
	if (!(e = cli_engine()))
		return 125;
	if (!(c = cli_ctr_get(e, a.pos[0]))) {
		keel_engine_close(e);
		return 1;
	}
	if (log_driver_none(c)) {
		fprintf(stderr, "Error response from daemon: configured logging driver does not "
				"support reading\n");
		keel_ctr_free(c);
		keel_engine_close(e);
		return 1;
	}
	if (follow) {
		/* follow ends when the container does: a WAIT connection hangs up then */
		cleanup_free char *dir = keel_ctr_dir(e, c->id);
		struct keel_monitor_req req = { .op = KEEL_MON_OP_WAIT };
		wait_fd = dir ? keel_monitor_connect(dir, &req, &err) : -1;
		lo.follow = wait_fd >= 0;
		lo.stop_fd = wait_fd;
	}
	{
		cleanup_free char *path = keel_ctr_log_path(e, c);
		if (keel_logfile_read(path, &lo, &err) < 0)
			r = cli_ctr_fail(&err);
	}
	keel_ctr_free(c);
	keel_engine_close(e);
	return r;
}
