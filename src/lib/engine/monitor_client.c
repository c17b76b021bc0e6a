/* The monitor's clients: the wire, monitor.json, stop / signal / wait, crash reconciliation. */
#include "engine/monitor.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

#include "engine/logfile.h"
#include "engine/monitor_int.h"
#include "runtime/container.h"
#include "runtime/state.h"
#include "util/cleanup.h"
#include "util/fs.h"

static const char *const state_names[] = {
	[KEEL_MON_CREATED] = "created",
	[KEEL_MON_RUNNING] = "running",
	[KEEL_MON_RESTARTING] = "restarting",
	[KEEL_MON_EXITED] = "exited",
};

const char *keel_monitor_state_name(enum keel_monitor_state s)
{
	return s <= KEEL_MON_EXITED ? state_names[s] : "unknown";
}

/* ---------- the wire ---------- */

void keel_monitor_frame_header(char hdr[8], int type, size_t len)
{
	hdr[0] = (char)type;
	hdr[1] = hdr[2] = hdr[3] = 0;
	hdr[4] = (char)(len >> 24);
	hdr[5] = (char)(len >> 16);
	hdr[6] = (char)(len >> 8);
	hdr[7] = (char)len;
}

int keel_monitor_frame_write(int fd, int type, const void *buf, size_t len, keel_error_t *err)
{
	char frame[8 + KEEL_MON_FRAME_MAX];
	if (len > KEEL_MON_FRAME_MAX)
		return keel_err(err, EMSGSIZE, "monitor frame of %zu bytes", len);
	keel_monitor_frame_header(frame, type, len);
	if (len)
		memcpy(frame + 8, buf, len);
	while (send(fd, frame, len + 8, MSG_NOSIGNAL) < 0)
		if (errno != EINTR)
			return keel_err_sys(err, "sending to the monitor");
	return 0;
}

ssize_t keel_monitor_frame_read(int fd, int *type, void *buf, size_t cap, keel_error_t *err)
{
	char frame[8 + KEEL_MON_FRAME_MAX];
	size_t plen;
	ssize_t n;
	do
		n = recv(fd, frame, sizeof(frame), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0 && errno != ECONNRESET)
		return keel_err_sys(err, "reading from the monitor");
	if (n < 8) {
		*type = -1; /* EOF (a monitor that left, or a reset backlog) */
		return 0;
	}
	*type = (unsigned char)frame[0];
	plen = (size_t)n - 8;
	if (plen > cap)
		plen = cap;
	memcpy(buf, frame + 8, plen);
	return (ssize_t)plen;
}

int keel_monitor_connect(const char *dir, const struct keel_monitor_req *r, keel_error_t *err)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	cleanup_close int dfd = open(dir, O_PATH | O_DIRECTORY | O_CLOEXEC);
	cleanup_close int fd = -1;
	if (dfd < 0)
		return keel_err_sys(err, "container directory %s", dir);
	snprintf(a.sun_path, sizeof(a.sun_path), "/proc/self/fd/%d/attach.sock", dfd);
	fd = socket(AF_UNIX, SOCK_SEQPACKET | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return keel_err_sys(err, "socket");
	if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return keel_err_sys(err, "connecting to the monitor in %s", dir);
	if (keel_monitor_frame_write(fd, KEEL_MON_REQ, r, sizeof(*r), err) < 0)
		return -1;
	return move_fd(fd);
}

/* ---------- monitor.json ---------- */

void keel_monitor_boot_id(char *buf, size_t len)
{
	char *s = NULL;
	buf[0] = '\0';
	if (keel_read_file("/proc/sys/kernel/random/boot_id", &s, NULL) > 0) {
		s[strcspn(s, "\n")] = '\0';
		snprintf(buf, len, "%s", s);
	}
	free(s);
}

int keel_monitor_status_save(const char *path, const struct keel_monitor_status *st,
			     keel_error_t *err)
{
	cleanup_json json_t *j = json_pack(
	    "{s:s,s:i,s:I,s:s,s:i,s:I,s:i,s:b,s:s,s:s,s:i,s:b,s:b,s:s}", "state",
	    keel_monitor_state_name(st->state), "monitor_pid", (int)st->monitor_pid,
	    "monitor_start", (json_int_t)st->monitor_start, "boot_id", st->boot_id, "pid",
	    (int)st->pid, "pid_start", (json_int_t)st->pid_start, "exit_code", st->exit_code,
	    "oom_killed", st->oom_killed, "started_at", st->started_at, "finished_at",
	    st->finished_at, "restart_count", st->restart_count, "manual_stop", st->manual_stop,
	    "monitor_lost", st->monitor_lost, "error", st->error);
	cleanup_free char *text = j ? json_dumps(j, JSON_COMPACT) : NULL;
	if (!text)
		return keel_err(err, ENOMEM, "monitor status");
	return keel_write_file_atomic(path, text, strlen(text), 0644, err);
}

static void copy_str(json_t *j, const char *key, char *buf, size_t len)
{
	const char *s = json_string_value(json_object_get(j, key));
	snprintf(buf, len, "%s", s ? s : "");
}

int keel_monitor_read_status(const char *dir, struct keel_monitor_status *st, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	cleanup_json json_t *j = NULL;
	const char *state;
	json_error_t je;

	*st = (struct keel_monitor_status){ 0 };
	snprintf(path, sizeof(path), "%s/monitor.json", dir);
	if (keel_read_file(path, &text, err) < 0)
		return -1;
	j = json_loads(text, 0, &je);
	if (!j)
		return keel_err(err, EINVAL, "%s: %s", path, je.text);
	state = json_string_value(json_object_get(j, "state"));
	st->state = KEEL_MON_EXITED;
	for (size_t i = 0; state && i < sizeof(state_names) / sizeof(state_names[0]); i++)
		if (strcmp(state, state_names[i]) == 0)
			st->state = (enum keel_monitor_state)i;
	st->monitor_pid = (pid_t)json_integer_value(json_object_get(j, "monitor_pid"));
	st->monitor_start =
	    (unsigned long long)json_integer_value(json_object_get(j, "monitor_start"));
	st->pid = (pid_t)json_integer_value(json_object_get(j, "pid"));
	st->pid_start = (unsigned long long)json_integer_value(json_object_get(j, "pid_start"));
	st->exit_code = (int)json_integer_value(json_object_get(j, "exit_code"));
	st->restart_count = (int)json_integer_value(json_object_get(j, "restart_count"));
	st->manual_stop = json_is_true(json_object_get(j, "manual_stop"));
	st->monitor_lost = json_is_true(json_object_get(j, "monitor_lost"));
	st->oom_killed = json_is_true(json_object_get(j, "oom_killed"));
	copy_str(j, "boot_id", st->boot_id, sizeof(st->boot_id));
	copy_str(j, "started_at", st->started_at, sizeof(st->started_at));
	copy_str(j, "finished_at", st->finished_at, sizeof(st->finished_at));
	copy_str(j, "error", st->error, sizeof(st->error));
	return 0;
}

/* ---------- reconciliation ---------- */

static bool monitor_alive(const struct keel_monitor_status *st)
{
	char boot[40];
	keel_monitor_boot_id(boot, sizeof(boot));
	if (st->boot_id[0] && strcmp(boot, st->boot_id) != 0)
		return false; /* another boot: every process of the old one is gone */
	return st->monitor_pid > 0 && keel_pid_alive(st->monitor_pid, st->monitor_start);
}

int keel_monitor_reconcile(const char *dir, const char *runtime_root, const char *id,
			   bool kill_orphans, struct keel_monitor_status *st, keel_error_t *err)
{
	char path[PATH_MAX], boot[40];
	struct timespec now;
	keel_error_t ignored;
	bool same_boot;

	if (keel_monitor_read_status(dir, st, err) < 0)
		return -1;
	if (st->state == KEEL_MON_EXITED || monitor_alive(st))
		return 0;
	keel_monitor_boot_id(boot, sizeof(boot));
	same_boot = !st->boot_id[0] || strcmp(boot, st->boot_id) == 0;
	st->monitor_lost = true;
	st->monitor_pid = 0;
	if (same_boot && st->pid > 0 && keel_pid_alive(st->pid, st->pid_start) && !kill_orphans) {
		/* The container outlived its monitor: it runs, unlogged and unreaped by us. */
		st->state = KEEL_MON_RUNNING;
		snprintf(st->error, sizeof(st->error), "monitor lost; container still running");
	} else {
		bool was_alive = same_boot && st->pid > 0 && keel_pid_alive(st->pid, st->pid_start);
		/* Not our child: its real status is unknowable. 137 is what docker reports for
		 * a container it had to kill. */
		keel_container_delete(runtime_root, id, true, &ignored);
		st->state = KEEL_MON_EXITED;
		st->exit_code = 137;
		st->pid = 0;
		clock_gettime(CLOCK_REALTIME, &now);
		keel_logfile_format_time(&now, st->finished_at, sizeof(st->finished_at));
		snprintf(st->error, sizeof(st->error), "%s",
			 was_alive ? "monitor lost; container killed"
				   : "monitor lost; container exit status unknown");
	}
	snprintf(path, sizeof(path), "%s/attach.sock", dir);
	unlink(path);
	snprintf(path, sizeof(path), "%s/monitor.json", dir);
	return keel_monitor_status_save(path, st, err);
}

/* ---------- stop / signal / wait ---------- */

/* Reads frames until the EXIT frame; at EOF without one (the monitor left at that moment)
 * the status file has the answer. */
static int wait_exit(int fd, const char *dir, int *exit_code, keel_error_t *err)
{
	char buf[KEEL_MON_FRAME_MAX];
	struct keel_monitor_status st;
	for (;;) {
		int type;
		ssize_t n = keel_monitor_frame_read(fd, &type, buf, sizeof(buf), err);
		if (n < 0)
			return -1;
		if (type == KEEL_MON_EXIT && n >= 4) {
			int32_t code;
			memcpy(&code, buf, 4);
			*exit_code = code;
			return 0;
		}
		if (type == -1)
			break;
	}
	if (keel_monitor_read_status(dir, &st, err) < 0)
		return -1;
	*exit_code = st.exit_code;
	return 0;
}

static int no_monitor(const char *dir, int *exit_code, keel_error_t *err)
{
	struct keel_monitor_status st;
	if (keel_monitor_read_status(dir, &st, err) < 0)
		return -1;
	if (st.state != KEEL_MON_EXITED && monitor_alive(&st))
		return keel_err(err, EAGAIN, "monitor of %s is busy", dir);
	if (exit_code)
		*exit_code = st.exit_code;
	return 0;
}

static int check_reply(int fd, keel_error_t *err)
{
	char buf[512];
	int type;
	ssize_t n = keel_monitor_frame_read(fd, &type, buf, sizeof(buf) - 1, err);
	int32_t e;
	if (n < 0)
		return -1;
	if (type != KEEL_MON_REPLY || n < 4)
		return keel_err(err, EPROTO, "monitor: no reply");
	memcpy(&e, buf, 4);
	buf[n] = '\0';
	if (e != 0)
		return keel_err(err, e, "%s", buf + 4);
	return 0;
}

int keel_monitor_stop(const char *dir, int sig, int timeout, int *exit_code, keel_error_t *err)
{
	struct keel_monitor_req r = { .op = KEEL_MON_OP_SIGNAL,
				      .flags = KEEL_MON_F_MANUAL,
				      .signal = sig ? sig : SIGTERM,
				      .timeout = timeout };
	cleanup_close int fd = keel_monitor_connect(dir, &r, err);
	if (fd < 0)
		return no_monitor(dir, exit_code, err);
	if (check_reply(fd, err) < 0) {
		/* "not running": it already ended; the status has the code. */
		if (err->errnum == ESRCH)
			return no_monitor(dir, exit_code, err);
		return -1;
	}
	return wait_exit(fd, dir, exit_code, err);
}

int keel_monitor_signal(const char *dir, int sig, bool manual, keel_error_t *err)
{
	struct keel_monitor_req r = { .op = KEEL_MON_OP_SIGNAL,
				      .flags = manual ? KEEL_MON_F_MANUAL : 0,
				      .signal = sig,
				      .timeout = -1 };
	cleanup_close int fd = keel_monitor_connect(dir, &r, err);
	if (fd < 0)
		return keel_err(err, ESRCH, "container not running");
	return check_reply(fd, err);
}

int keel_monitor_wait(const char *dir, int *exit_code, keel_error_t *err)
{
	struct keel_monitor_req r = { .op = KEEL_MON_OP_WAIT };
	cleanup_close int fd = keel_monitor_connect(dir, &r, err);
	if (fd < 0)
		return no_monitor(dir, exit_code, err);
	return wait_exit(fd, dir, exit_code, err);
}
