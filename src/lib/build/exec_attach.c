/* RUN's output: attached to the container's monitor (engine/monitor.h; kept apart from
 * exec_run.c because runopts.h and monitor.h both name a keel_restart_policy). */
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "build/exec_internal.h"
#include "engine/monitor.h"
#include "util/cleanup.h"

/* Copies the container's output until its exit frame. */
int exec_attach_output(const char *dir, FILE *out, int *code, keel_error_t *err)
{
	struct keel_monitor_req req = {.op = KEEL_MON_OP_ATTACH};
	cleanup_close int fd = keel_monitor_connect(dir, &req, err);
	static char buf[KEEL_MON_FRAME_MAX];
	if (fd < 0)
		return -1;
	*code = -1;
	for (;;) {
		int type;
		ssize_t n = keel_monitor_frame_read(fd, &type, buf, sizeof(buf), err);
		if (n < 0)
			return -1;
		if (type < 0)
			break;
		if ((type == KEEL_MON_STDOUT || type == KEEL_MON_STDERR) && out) {
			fwrite(buf, 1, (size_t)n, out);
			fflush(out);
		} else if (type == KEEL_MON_EXIT && n >= (ssize_t)sizeof(int32_t)) {
			int32_t c;
			memcpy(&c, buf, sizeof(c));
			*code = c;
		}
	}
	if (*code < 0)
		return keel_monitor_wait(dir, code, err);
	return 0;
}

