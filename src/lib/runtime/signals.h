/* Signal names as runc accepts them: numbers ("9"), names with or without "SIG", any case
 * ("TERM", "sigterm", "SIGRTMIN+3"). */
#ifndef KEEL_SIGNALS_H
#define KEEL_SIGNALS_H

/* Returns the signal number, or -1 when unknown. */
int keel_signal_parse(const char *s);

/* "SIGTERM" for 15 (static string), NULL when unknown. */
const char *keel_signal_name(int sig);

#endif
