/* The per-container monitor (conmon's job, done with the runtime library, no runtime exec).
 *
 * Process tree:   keel run -d ──spawn──> keel-monitor (static; setsid, fork, exit)
 *                                           └──> keel-monitor  (session leader's child, subreaper)
 *                                                  ├──> creator: create + start, then exit
 *                                                  └──> container init (and its children)
 * The monitor is reparented to pid 1 (or the caller's subreaper) and outlives the `keel`
 * command. It creates and starts the container through keel_container_create/start in a
 * short-lived forked child (the init is then reparented to the monitor: every runtime call
 * runs in such a child, so the monitor itself stays small; docs/monitor.md), owns
 * its stdio (pipes, or the pty master received over a console socket), writes Docker's
 * json-file log, serves attach/wait/stop clients on <dir>/attach.sock, records the exit in
 * <dir>/monitor.json, applies the restart policy, deletes the runtime container after every
 * exit, and exits once the container is finished (not restarted).
 *
 * Files in the container directory (dir):
 *   monitor.json   status, replaced atomically (see struct keel_monitor_status)
 *   attach.sock    SOCK_SEQPACKET socket while the monitor runs
 *   console.sock   transient, while a tty container is created
 *   the log        wherever keel_monitor_opts.log_path says (docker: <id>-json.log)
 *
 * The wire (attach.sock): every message is one frame, an 8-byte header as docker's stdcopy
 * (type, 3 zero bytes, payload length big-endian u32) and the payload. A client first sends
 * KEEL_MON_REQ with a struct keel_monitor_req. */
#ifndef KEEL_MONITOR_H
#define KEEL_MONITOR_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "engine/restart.h"
#include "util/error.h"

struct keel_monitor_opts {
	const char *dir;	  /* container directory (exists); monitor files live here */
	const char *runtime_root; /* runtime state root (runc --root) */
	const char *id;		  /* runtime container id */
	const char *bundle;	  /* OCI bundle with config.json */
	const char *log_path;	  /* json-file log; NULL = no log (--log-driver none) */
	long long log_max_size;	  /* bytes, <= 0 = unlimited */
	int log_max_files;	  /* >= 1 */
	bool log_compress;	  /* gzip rotated files (engine/logconfig.h) */
	const char *log_attrs;	  /* JSON object added to every log entry as "attrs"; NULL = none */
	struct keel_restart_policy restart;
	bool tty;	  /* must equal process.terminal of config.json */
	bool stdin_open;  /* -i: the container gets a stdin pipe fed by attach clients */
	bool stdin_once;  /* close that stdin when the first stdin client leaves */
	bool wait_attach; /* create, then start only when the first ATTACH client arrives
			     (run -it / start -a: no output is missed) */
	int stop_signal;  /* used when the monitor itself gets SIGTERM; 0 = SIGTERM */
	int stop_timeout; /* seconds before SIGKILL in that case; < 0 = 10 */
	const char *exe;  /* NULL: the monitor is a fork of the caller. Else an executable whose
			     main() hands `exe KEEL_MONITOR_ARG ...` to keel_monitor_exec_main
			     (keel's core binary): the monitor starts from that small image
			     instead of a copy of the caller's heap and libraries. */
};

/* Spawns the monitor and returns once the container is started (or, with wait_attach,
 * created and waiting), with *monitor_pid set; the monitor is not the caller's child (no
 * wait needed). On failure the runtime container is gone, monitor.json says "exited" with
 * the error, and *err holds the runtime's message (it crosses the fork over a pipe).
 * Call before the caller starts threads (the monitor is a fork of it). */
int keel_monitor_spawn(const struct keel_monitor_opts *o, pid_t *monitor_pid, keel_error_t *err);

/* The hidden first argument of an exec'd monitor (see keel_monitor_opts.exe). */
#define KEEL_MONITOR_ARG "__monitor"

/* main() of an exec'd monitor: argv[0] is KEEL_MONITOR_ARG, the options follow as
 * keel_monitor_spawn wrote them, fd 3 is the report pipe. Detaches (setsid, fork) and runs
 * the monitor; returns only on bad arguments (125). */
int keel_monitor_exec_main(int argc, char **argv);

/* ---------- the wire ---------- */

enum keel_monitor_frame {
	KEEL_MON_STDIN = 0,	/* client -> monitor: bytes for the container's stdin */
	KEEL_MON_STDOUT = 1,	/* monitor -> client (a tty's output comes as stdout) */
	KEEL_MON_STDERR = 2,	/* monitor -> client */
	KEEL_MON_EXIT = 3,	/* monitor -> client: int32 exit code (host order); then EOF */
	KEEL_MON_RESIZE = 4,	/* client -> monitor: uint16 rows, uint16 cols (host order) */
	KEEL_MON_STDIN_EOF = 5, /* client -> monitor: close the container's stdin */
	KEEL_MON_REQ = 6,	/* client -> monitor, first frame: struct keel_monitor_req */
	KEEL_MON_REPLY = 7,	/* monitor -> client: int32 errno (0 = ok), then message text */
};

#define KEEL_MON_FRAME_MAX (32 * 1024) /* payload bytes per frame */

enum keel_monitor_op {
	KEEL_MON_OP_ATTACH = 1, /* live output (and stdin with KEEL_MON_F_STDIN) until exit */
	KEEL_MON_OP_WAIT = 2,	/* only the EXIT frame of the next exit */
	KEEL_MON_OP_SIGNAL = 3, /* REPLY, then (with F_MANUAL) the EXIT frame */
};

#define KEEL_MON_F_STDIN  0x1 /* ATTACH: forward this client's stdin frames */
#define KEEL_MON_F_MANUAL 0x2 /* SIGNAL: a manual stop: never restart afterwards */

struct keel_monitor_req {
	uint8_t op;
	uint8_t flags;
	uint16_t reserved;
	int32_t signal;	 /* SIGNAL */
	int32_t timeout; /* SIGNAL: seconds until SIGKILL to every process; < 0 = never */
	/* ATTACH to a tty: the client's window size, set before a waiting container starts
	 * (a RESIZE frame after the request would race with its first `stty size`); 0 = none.
	 * Added later: a request without them (12 bytes) is still accepted. */
	uint16_t rows, cols;
};

/* Connects to <dir>/attach.sock and sends the request. Returns the fd (CLOEXEC); fails with
 * errnum ENOENT or ECONNREFUSED when no monitor runs. */
int keel_monitor_connect(const char *dir, const struct keel_monitor_req *r, keel_error_t *err);

/* Sends one frame (len <= KEEL_MON_FRAME_MAX). */
int keel_monitor_frame_write(int fd, int type, const void *buf, size_t len, keel_error_t *err);

/* Receives one frame: returns the payload length (copied up to cap) with *type set; returns
 * 0 with *type = -1 at EOF. */
ssize_t keel_monitor_frame_read(int fd, int *type, void *buf, size_t cap, keel_error_t *err);

/* ---------- status ---------- */

enum keel_monitor_state {
	KEEL_MON_CREATED, /* created, waiting for the first attach (wait_attach) */
	KEEL_MON_RUNNING,
	KEEL_MON_RESTARTING, /* exited, restart pending (backoff) */
	KEEL_MON_EXITED,     /* finished; the monitor is gone or leaving */
};

struct keel_monitor_status {
	enum keel_monitor_state state;
	pid_t monitor_pid;
	unsigned long long monitor_start; /* /proc/<pid>/stat start time, against pid reuse */
	char boot_id[40];		  /* a reboot kills every monitor */
	pid_t pid;			  /* container init, 0 when none */
	unsigned long long pid_start;	  /* its start time */
	int exit_code;			  /* last exit: code, or 128+signal */
	char started_at[48];		  /* RFC3339Nano UTC, "" before the first start */
	char finished_at[48];
	int restart_count;
	bool manual_stop;
	bool oom_killed;   /* the memory cgroup's OOM killer killed a process of the last run */
	bool monitor_lost; /* reconcile found the monitor dead */
	char error[256];   /* why the last start failed, or what reconcile found */
};

const char *keel_monitor_state_name(enum keel_monitor_state s);

/* Reads <dir>/monitor.json as it is (no liveness check). */
int keel_monitor_read_status(const char *dir, struct keel_monitor_status *st, keel_error_t *err);

/* The truth after a host crash or a killed monitor. When monitor.json says the container is
 * not finished but its monitor is gone (pid dead, reused, or another boot): if the init is
 * still alive, with kill_orphans it is killed (exit 137), otherwise it is reported running
 * with monitor_lost; if the init is gone its status is unknowable (not our child): exit 137.
 * Every finished container's runtime state and cgroup are deleted and monitor.json
 * rewritten. A live monitor's status is returned untouched. */
int keel_monitor_reconcile(const char *dir, const char *runtime_root, const char *id,
			   bool kill_orphans, struct keel_monitor_status *st, keel_error_t *err);

/* docker stop: sends sig (0 = SIGTERM), SIGKILL to every process after timeout seconds
 * (< 0 = never), marks the stop manual (no restart), and waits for the exit: *exit_code.
 * Without a monitor the container is already finished: succeeds with the recorded code. */
int keel_monitor_stop(const char *dir, int sig, int timeout, int *exit_code, keel_error_t *err);

/* docker kill -s: signals the init; manual marks it as a manual stop. Returns at once. */
int keel_monitor_signal(const char *dir, int sig, bool manual, keel_error_t *err);

/* docker wait: blocks until the container's next exit (at once when finished). */
int keel_monitor_wait(const char *dir, int *exit_code, keel_error_t *err);

#endif
