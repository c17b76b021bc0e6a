/* Shared by the monitor (monitor.c) and its clients (monitor_client.c); not for other
 * modules. */
#ifndef KEEL_MONITOR_INT_H
#define KEEL_MONITOR_INT_H

#include <stddef.h>

#include "engine/monitor.h"

/* Fills the 8-byte frame header: type, three zero bytes, big-endian payload length. */
void keel_monitor_frame_header(char hdr[8], int type, size_t len);

/* Writes monitor.json atomically (temp file + rename). */
int keel_monitor_status_save(const char *path, const struct keel_monitor_status *st,
			     keel_error_t *err);

/* /proc/sys/kernel/random/boot_id into buf ("" when unreadable). */
void keel_monitor_boot_id(char *buf, size_t len);

#endif
