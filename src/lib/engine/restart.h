/* Docker's restart policies and its restart manager's timing.
 *
 *   no              never restart
 *   on-failure[:N]  restart after a non-zero exit, at most N times (N = 0 or absent: no limit)
 *   always          restart after any exit
 *   unless-stopped  as always; the difference (not restarted after a daemon restart when it
 *                   was stopped before) is the caller's, keel has no daemon
 *
 * A manual stop (`keel stop`, `keel kill`) cancels restarting under every policy, as docker's
 * RestartManager.Cancel does. The delay before a restart doubles from 100 ms up to 1 min and
 * goes back to 100 ms once the container ran for 10 s or more. */
#ifndef KEEL_RESTART_H
#define KEEL_RESTART_H

#include <stdbool.h>

#include "util/error.h"

enum keel_restart_mode {
	KEEL_RESTART_NO,
	KEEL_RESTART_ON_FAILURE,
	KEEL_RESTART_ALWAYS,
	KEEL_RESTART_UNLESS_STOPPED,
};

struct keel_restart_policy {
	enum keel_restart_mode mode;
	int max_retries; /* on-failure only; 0 = unlimited */
};

/* What one container's restart manager remembers between exits. Zero-initialise. */
struct keel_restart_state {
	int count;	    /* restarts done so far */
	long long delay_ms; /* last delay, 0 before the first */
};

/* Parses "no", "on-failure", "on-failure:3", "always", "unless-stopped" (docker's spelling;
 * a count is only valid with on-failure). */
int keel_restart_parse(const char *s, struct keel_restart_policy *p, keel_error_t *err);

/* The policy as docker prints it in inspect's HostConfig.RestartPolicy.Name. Static string. */
const char *keel_restart_name(enum keel_restart_mode m);

/* Decides whether a container that exited with exit_code after running ran_ms should be
 * restarted; if so, counts the restart in *st and sets *delay_ms. Pure function of its inputs. */
bool keel_restart_should(const struct keel_restart_policy *p, struct keel_restart_state *st,
			 int exit_code, bool manual_stop, long long ran_ms, long long *delay_ms);

#endif
