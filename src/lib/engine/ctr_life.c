/* Container lifecycle on top of the monitor: status, start, stop, kill, wait, pause, rm. */
#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "engine/ctr_internal.h"
#include "engine/logconfig.h"
#include "engine/monitor.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"
#include "util/trace.h"

static const char *const state_names[] = {
	[KEEL_CTR_CREATED] = "created", [KEEL_CTR_RUNNING] = "running",
	[KEEL_CTR_PAUSED] = "paused",	[KEEL_CTR_RESTARTING] = "restarting",
	[KEEL_CTR_EXITED] = "exited",	[KEEL_CTR_DEAD] = "dead",
};

const char *keel_ctr_state_name(enum keel_ctr_state s)
{
	return s <= KEEL_CTR_DEAD ? state_names[s] : "unknown";
}

static json_t *cfg_get(const struct keel_ctr *c, const char *section, const char *key)
{
	return json_object_get(json_object_get(c->doc, section), key);
}

static bool is_running(enum keel_ctr_state s)
{
	return s == KEEL_CTR_RUNNING || s == KEEL_CTR_PAUSED || s == KEEL_CTR_RESTARTING;
}

static bool runtime_paused(struct keel_engine *e, const char *id)
{
	keel_error_t ignored;
	json_t *st = keel_container_state(e->runtime_root, id, &ignored);
	bool paused =
	    st && !strcmp(json_string_value(json_object_get(st, "status")) ?: "", "paused");
	json_decref(st);
	return paused;
}

int keel_ctr_status(struct keel_engine *e, const struct keel_ctr *c, struct keel_ctr_status *st,
		    keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_monitor_status ms;
	char path[PATH_MAX];

	*st = (struct keel_ctr_status){ .state = KEEL_CTR_CREATED };
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	snprintf(path, sizeof(path), "%s/monitor.json", dir);
	if (access(path, F_OK) < 0)
		return 0; /* never started */
	if (keel_monitor_reconcile(dir, e->runtime_root, c->id, true, &ms, err) < 0)
		return -1;
	switch (ms.state) {
	case KEEL_MON_CREATED:
		st->state = KEEL_CTR_CREATED;
		break;
	case KEEL_MON_RUNNING:
		st->state = runtime_paused(e, c->id) ? KEEL_CTR_PAUSED : KEEL_CTR_RUNNING;
		break;
	case KEEL_MON_RESTARTING:
		st->state = KEEL_CTR_RESTARTING;
		break;
	default:
		/* a start that failed (docker's 126/127) leaves the container "created" */
		st->state = ms.started_at[0] ? KEEL_CTR_EXITED : KEEL_CTR_CREATED;
	}
	st->pid = ms.pid;
	st->monitor_pid = ms.state == KEEL_MON_EXITED ? 0 : ms.monitor_pid;
	st->monitor_last = ms.monitor_pid;
	st->exit_code = ms.exit_code;
	st->oom_killed = ms.oom_killed;
	st->restart_count = ms.restart_count;
	snprintf(st->started_at, sizeof(st->started_at), "%s", ms.started_at);
	snprintf(st->finished_at, sizeof(st->finished_at), "%s", ms.finished_at);
	snprintf(st->error, sizeof(st->error), "%s", ms.error);
	return 0;
}

/* ---------- start ---------- */

static void monitor_opts(const struct keel_engine *e, const struct keel_ctr *c, const char *dir,
			 const char *log, bool attach, struct keel_monitor_opts *o)
{
	const char *policy =
	    json_string_value(json_object_get(cfg_get(c, "HostConfig", "RestartPolicy"), "Name"));
	json_t *timeout = cfg_get(c, "Config", "StopTimeout");
	keel_error_t ignored;

	*o = (struct keel_monitor_opts){
		.dir = dir,
		.runtime_root = e->runtime_root,
		.id = c->id,
		.bundle = dir,
		.log_path = log,
		.log_max_size = -1,
		.log_max_files = 1,
		.tty = json_is_true(cfg_get(c, "Config", "Tty")),
		.stdin_open = json_is_true(cfg_get(c, "Config", "OpenStdin")),
		.stdin_once = json_is_true(cfg_get(c, "Config", "StdinOnce")),
		.wait_attach = attach,
		.stop_signal = (int)json_integer_value(cfg_get(c, "Keel", "StopSignal")),
		.stop_timeout = json_is_integer(timeout) ? (int)json_integer_value(timeout) : -1,
		/* the keel executable that loaded this module: the monitor starts from its
		 * small image (keel_monitor_exec_main), not as a copy of this process */
		.exe = "/proc/self/exe",
	};
	if (!policy || keel_restart_parse(policy, &o->restart, &ignored) < 0)
		o->restart = (struct keel_restart_policy){ .mode = KEEL_RESTART_NO };
	o->restart.max_retries = (int)json_integer_value(
	    json_object_get(cfg_get(c, "HostConfig", "RestartPolicy"), "MaximumRetryCount"));
}

/* Errors of the container's command (docker's 126/127) against keel's own (125). */
static bool command_error(const keel_error_t *err)
{
	switch (err->errnum) {
	case ENOENT:
	case EACCES:
	case ENOEXEC:
	case EISDIR:
	case ENOTDIR:
	case EPERM:
		return strstr(err->msg, "exec") != NULL;
	default:
		return false;
	}
}

int keel_ctr_start(struct keel_engine *e, const struct keel_ctr *c, bool attach, keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	cleanup_free char *log = keel_ctr_log_path(e, c);
	cleanup_strv char **layers = NULL;
	struct keel_monitor_opts mo;
	struct keel_logconfig lc = { 0 };
	struct keel_ctr_status st;
	pid_t mpid;
	int host_ns, r;

	if (!dir || !log)
		return keel_err(err, ENOMEM, "out of memory");
	keel_trace("engine: start");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (is_running(st.state) || (st.state == KEEL_CTR_CREATED && st.monitor_pid))
		return keel_ctr_msg(err, EBUSY, "container %s is already running", c->id);
	if (!(layers = keel_ctr_layers(e, c, err)))
		return keel_err_wrap(err, "container %s", c->name);
	monitor_opts(e, c, dir, log, attach, &mo);
	/* --log-driver / --log-opt: none, rotation, compression, attrs (engine/logconfig.h) */
	{
		cleanup_json json_t *tf =
		    keel_logconfig_tag_fields(c->id, c->name, c->image_id, c->image_ref);
		if (!tf)
			return keel_err(err, ENOMEM, "out of memory");
		if (keel_logconfig_monitor_opts_tagged(c->doc, tf, &mo, &lc, err) < 0)
			return -1;
	}
	/* the monitor is a fork of us: what the heap holds now it keeps for its whole life */
	sqlite3_db_release_memory(keel_store_db(e->store));
	if (keel_ctr_ns_enter(dir, layers, &host_ns, err) < 0) {
		keel_logconfig_free(&lc);
		return -1;
	}
	keel_trace("engine: spawn monitor");
	r = keel_monitor_spawn(&mo, &mpid, err);
	keel_logconfig_free(&lc);
	keel_trace("engine: monitor spawned");
	if (keel_ctr_ns_leave(host_ns, r < 0 ? &(keel_error_t){ 0 } : err) < 0 && r == 0)
		r = -1; /* the monitor runs; we just cannot go back: keel's own error */
	if (r < 0)
		return command_error(err) ? -2 : -1;
	return 0;
}

/* ---------- stop, kill, wait, pause ---------- */

static int not_running(const struct keel_ctr *c, keel_error_t *err)
{
	return keel_ctr_msg(err, EBUSY, "Container %s is not running", c->id);
}

static int stop_timeout(const struct keel_ctr *c, int timeout)
{
	json_t *t = cfg_get(c, "Config", "StopTimeout");
	if (timeout >= 0)
		return timeout;
	return json_is_integer(t) ? (int)json_integer_value(t) : 10;
}

int keel_ctr_stop(struct keel_engine *e, const struct keel_ctr *c, int timeout, keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_ctr_status st;
	int code, sig = (int)json_integer_value(cfg_get(c, "Keel", "StopSignal"));
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (!is_running(st.state) && !st.monitor_pid)
		return 0;
	/* a frozen init cannot act on its stop signal */
	if (st.state == KEEL_CTR_PAUSED)
		keel_container_resume(e->runtime_root, c->id, &(keel_error_t){ 0 });
	return keel_monitor_stop(dir, sig > 0 ? sig : SIGTERM, stop_timeout(c, timeout), &code,
				 err);
}

int keel_ctr_kill(struct keel_engine *e, const struct keel_ctr *c, int sig, keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_ctr_status st;
	int stop_sig = (int)json_integer_value(cfg_get(c, "Keel", "StopSignal"));
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (st.state != KEEL_CTR_RUNNING && st.state != KEEL_CTR_PAUSED)
		return not_running(c, err);
	/* only signals meant to end it count as a manual stop (no restart afterwards) */
	return keel_monitor_signal(
	    dir, sig, sig == SIGKILL || sig == SIGTERM || sig == SIGINT || sig == stop_sig, err);
}

int keel_ctr_wait(struct keel_engine *e, const struct keel_ctr *c, int *exit_code,
		  keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_ctr_status st;
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	*exit_code = st.exit_code;
	if (!st.monitor_pid)
		return 0;
	/* a restarting container counts as one that keeps running (docker's not-running
	 * condition): wait for its final exit */
	for (;;) {
		if (keel_monitor_wait(dir, exit_code, err) < 0)
			return -1;
		if (keel_ctr_status(e, c, &st, err) < 0)
			return -1;
		if (st.state != KEEL_CTR_RESTARTING && st.state != KEEL_CTR_RUNNING)
			return 0;
	}
}

int keel_ctr_pause(struct keel_engine *e, const struct keel_ctr *c, bool pause, keel_error_t *err)
{
	struct keel_ctr_status st;
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (pause && st.state == KEEL_CTR_PAUSED)
		return keel_ctr_msg(err, EBUSY, "Container %s is already paused", c->id);
	if (!pause && st.state != KEEL_CTR_PAUSED)
		return keel_ctr_msg(err, EBUSY, "Container %s is not paused", c->id);
	if (st.state != KEEL_CTR_RUNNING && st.state != KEEL_CTR_PAUSED)
		return not_running(c, err);
	return pause ? keel_container_pause(e->runtime_root, c->id, err)
		     : keel_container_resume(e->runtime_root, c->id, err);
}

/* ---------- rm ---------- */

/* The monitor leaves right after it reports the exit; let it go before the directory does
 * (it still holds the private mount namespace with the overlay). */
static void wait_monitor_gone(pid_t pid)
{
	int fd;
	if (pid <= 0)
		return;
	/* a pidfd turns readable when the process exits: no polling (Linux >= 5.3) */
	fd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (fd >= 0) {
		struct pollfd p = { .fd = fd, .events = POLLIN };
		if (keel_pid_alive(pid, 0))
			while (poll(&p, 1, 400) < 0 && errno == EINTR)
				;
		close(fd);
		return;
	}
	for (int i = 0; i < 400 && keel_pid_alive(pid, 0); i++)
		nanosleep(&(struct timespec){ .tv_nsec = 1000 * 1000 }, NULL);
}

int keel_ctr_remove(struct keel_engine *e, const struct keel_ctr *c, bool force, keel_error_t *err)
{
	cleanup_free char *dir = keel_ctr_dir(e, c->id);
	struct keel_ctr_status st;
	keel_error_t ignored;
	int code;
	if (!dir)
		return keel_err(err, ENOMEM, "out of memory");
	keel_trace("engine: remove");
	if (keel_ctr_status(e, c, &st, err) < 0)
		return -1;
	if (is_running(st.state) && !force)
		return keel_ctr_msg(
		    err, EBUSY,
		    "You cannot remove a %s container %s. Stop the container before "
		    "attempting removal or force remove",
		    keel_ctr_state_name(st.state), c->id);
	if (st.monitor_pid) {
		if (st.state == KEEL_CTR_PAUSED)
			keel_container_resume(e->runtime_root, c->id, &ignored);
		if (keel_monitor_stop(dir, SIGKILL, 0, &code, err) < 0 && err->errnum != ENOENT &&
		    err->errnum != ECONNREFUSED)
			return -1;
	}
	wait_monitor_gone(st.monitor_last);
	keel_trace("engine: monitor gone");
	keel_container_delete(e->runtime_root, c->id, true, &ignored);
	if (keel_ctr_db_delete(e, c->id, err) < 0)
		return -1;
	keel_image_unuse(e->store, c->id, &ignored);
	keel_trace("engine: records deleted");
	if (keel_rm_rf(dir, err) < 0)
		return keel_err_wrap(err, "removing %s", dir);
	keel_trace("engine: removed");
	return 0;
}

int keel_ctr_gc(struct keel_engine *e, keel_error_t *err)
{
	struct keel_ctr **v = NULL;
	size_t n = 0;
	int removed = 0;
	if (keel_ctr_list(e, &v, &n, err) < 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		struct keel_ctr_status st;
		keel_error_t ignored;
		if (!json_is_true(cfg_get(v[i], "HostConfig", "AutoRemove")))
			continue;
		if (keel_ctr_status(e, v[i], &st, &ignored) < 0 || st.state != KEEL_CTR_EXITED ||
		    st.monitor_pid)
			continue;
		if (keel_ctr_remove(e, v[i], false, &ignored) == 0)
			removed++;
	}
	keel_ctr_list_free(v, n);
	return removed;
}
