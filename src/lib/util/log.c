#include "util/log.h"

#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <jansson.h>

static int log_fd = -1;
static int log_json;
static int log_debug;

static const char *const level_names[] = {"debug", "info", "warning", "error"};

int keel_log_open(const char *path, int json, int debug)
{
	log_json = json;
	log_debug = debug;
	if (!path || !*path || strcmp(path, "/dev/stderr") == 0)
		return 0;
	log_fd = open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	return log_fd < 0 ? -1 : 0;
}

static void fmt_time(char *buf, size_t len)
{
	time_t now = time(NULL);
	struct tm tm;
	gmtime_r(&now, &tm);
	strftime(buf, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

static void write_text(int fd, const char *level, const char *ts, const char *msg)
{
	json_t *s = json_string(msg);
	char *quoted = s ? json_dumps(s, JSON_ENCODE_ANY) : NULL;
	dprintf(fd, "time=\"%s\" level=%s msg=%s\n", ts, level, quoted ? quoted : "\"\"");
	free(quoted);
	json_decref(s);
}

void keel_log(enum keel_log_level level, const char *fmt, ...)
{
	char msg[2048], ts[64];
	va_list ap;
	if (level == KEEL_LOG_DEBUG && !log_debug)
		return;
	/* Without a log file only errors are printed: at create and exec our stderr is the
	 * container's, and a warning there would read as the container's own output. */
	if (log_fd < 0 && level != KEEL_LOG_ERROR && !log_debug)
		return;
	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	fmt_time(ts, sizeof(ts));
	if (log_fd >= 0 && log_json) {
		json_t *rec = json_pack("{s:s,s:s,s:s}", "level", level_names[level], "msg", msg,
					"time", ts);
		char *line = rec ? json_dumps(rec, JSON_COMPACT) : NULL;
		if (line)
			dprintf(log_fd, "%s\n", line);
		free(line);
		json_decref(rec);
	} else if (log_fd >= 0) {
		write_text(log_fd, level_names[level], ts, msg);
	} else {
		write_text(STDERR_FILENO, level_names[level], ts, msg);
		return;
	}
	if (level == KEEL_LOG_ERROR)
		dprintf(STDERR_FILENO, "%s\n", msg);
}

void keel_log_forget(void)
{
	log_fd = -1;
}
