/* Docker's json-file log: one JSON object per line,
 *
 *     {"log":"hello\n","stream":"stdout","time":"2024-05-01T10:00:00.123456789Z"}
 *
 * byte-compatible with what dockerd writes (same key order, same escaping, time in UTC as
 * Go's RFC3339Nano with trailing zeros trimmed). Output is cut into lines as docker's copier
 * does: a complete line keeps its "\n"; a line longer than 16 KiB, or the rest of a stream
 * at its end, is written in pieces without a trailing newline (a "partial" entry).
 *
 * Rotation follows `--log-opt max-size=10m --log-opt max-file=3`: once <path> has reached
 * max-size, <path>.(n-1) becomes <path>.n, ..., <path> becomes <path>.1 and a new <path> is
 * started; with max-file 1 the file is truncated instead. The size check happens before each
 * entry, so a file may exceed max-size by one entry (docker does the same).
 *
 * The writer is used by the monitor only (one writer per log); any number of readers may run
 * at once. */
#ifndef KEEL_LOGFILE_H
#define KEEL_LOGFILE_H

#include <stdbool.h>
#include <stddef.h>
#include <time.h>

#include "util/error.h"

enum keel_log_stream { KEEL_LOG_STDOUT = 1, KEEL_LOG_STDERR = 2 };

/* docker's copier buffer: longer lines are split into partial entries of this size. */
#define KEEL_LOG_LINE_MAX (16 * 1024)

struct keel_logfile_opts {
	const char *path;   /* the live file, e.g. <dir>/<id>-json.log */
	long long max_size; /* bytes; <= 0 = unlimited (no rotation) */
	int max_files;	    /* >= 1; files kept including the live one */
	bool compress;	    /* rotated files are gzipped: <path>.1.gz ... (max_files >= 2) */
	const char *attrs;  /* a JSON object, written as "attrs" in every entry; NULL = none */
};

struct keel_logfile;

/* Opens (appends to) the log. Returns a new writer, NULL with *err. */
struct keel_logfile *keel_logfile_open(const struct keel_logfile_opts *o, keel_error_t *err);

/* Feeds raw output of one stream; complete lines are written at once, the unfinished rest is
 * held (up to KEEL_LOG_LINE_MAX, then written as a partial entry). */
int keel_logfile_write(struct keel_logfile *lf, enum keel_log_stream s, const char *buf, size_t len,
		       keel_error_t *err);

/* End of a stream (the container exited): writes what is held as a partial entry. */
int keel_logfile_flush(struct keel_logfile *lf, enum keel_log_stream s, keel_error_t *err);

/* Flushes both streams and frees; NULL is allowed. */
void keel_logfile_close(struct keel_logfile *lf);

/* Encodes one entry (with its trailing "\n") into a malloc'd buffer; *len set. attrs is a
 * JSON object's text or NULL (docker's key order: log, stream, attrs, time). For the writer
 * and for tests. NULL on ENOMEM. */
char *keel_logfile_encode(enum keel_log_stream s, const char *data, size_t len, const char *attrs,
			  const struct timespec *t, size_t *out_len);

/* Go's RFC3339Nano in UTC ("2006-01-02T15:04:05.999999999Z", zeros trimmed) into buf
 * (>= 40 bytes). */
void keel_logfile_format_time(const struct timespec *t, char *buf, size_t len);

/* Parses a docker log time: RFC 3339 with optional fraction and zone ("Z" or +hh:mm), a
 * date ("2024-05-01", local time), a date-time without zone (local time), unix seconds
 * ("1714557600.5"), or a duration back from now ("10m", "1h30m", "90s", "500ms"). */
int keel_logfile_parse_time(const char *s, const struct timespec *now, struct timespec *out,
			    keel_error_t *err);

/* docker's size units for max-size: "10m", "512k", "1g", "100", "1.5MB" (bytes); k/m/g are
 * 1000-based, as docker's json-file parses them (units.FromHumanSize). Returns bytes, -1 with
 * *err "invalid size: 'x'". */
long long keel_logfile_parse_size(const char *s, keel_error_t *err);

/* One decoded entry handed to a reader callback. data is not NUL-terminated. Return < 0 to
 * stop reading (that value is returned by keel_logfile_read). */
typedef int (*keel_log_emit_fn)(void *arg, enum keel_log_stream s, const struct timespec *t,
				const char *data, size_t len);

struct keel_logs_opts {
	long tail; /* last N entries; < 0 = all */
	bool has_since, has_until;
	struct timespec since; /* entries at or after */
	struct timespec until; /* entries before */
	bool follow;	       /* then wait for new entries (inotify) */
	int stop_fd; /* follow ends when this fd becomes readable (or hangs up); -1 = never */
	keel_log_emit_fn emit; /* NULL = keel_logs_emit_fds with the fds below */
	void *emit_arg;
	int out_fd, err_fd; /* for the default emitter */
	bool timestamps;    /* default emitter: prefix "RFC3339Nano-fixed " */
	bool details;	    /* docker logs --details: each entry's attrs ("k=v,k2=v2 ", keys
			       sorted, query-escaped; " " without attrs) before its data */
};

/* Reads <path>.(n) ... <path>.1, <path> in order (a rotated file may be <path>.N.gz),
 * filtering and emitting entries. A missing log is an empty log. Lines that do not decode are
 * skipped (a writer killed mid-line). */
int keel_logfile_read(const char *path, const struct keel_logs_opts *o, keel_error_t *err);

/* The default emitter: writes data to out_fd / err_fd of the keel_logs_opts passed as arg,
 * with docker's `logs -t` prefix when asked. */
int keel_logs_emit_fds(void *arg, enum keel_log_stream s, const struct timespec *t,
		       const char *data, size_t len);

#endif
