/* The runtime's log, runc-compatible: with --log FILE --log-format json every record is
 * one JSON object per line {"level","msg","time"} appended to FILE; with text format logrus
 * text `time="..." level=error msg="..."`. Without --log, records go to stderr as text. */
#ifndef KEEL_LOG_H
#define KEEL_LOG_H

enum keel_log_level { KEEL_LOG_DEBUG, KEEL_LOG_INFO, KEEL_LOG_WARN, KEEL_LOG_ERROR };

/* path may be NULL (stderr). json selects the JSON format. Returns -1 if the file cannot be
 * opened (records then go to stderr). */
int keel_log_open(const char *path, int json, int debug);

/* Writes one record. Errors are also echoed as the bare message on stderr when logging
 * to a file, as runc does. */
void keel_log(enum keel_log_level level, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Forgets the log file without closing it: for a forked child that closes every fd it
 * does not need (the log file is a host file a container must never reach). */
void keel_log_forget(void);

#endif
