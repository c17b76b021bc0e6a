/* Restart policy parsing and moby's restartmanager arithmetic. */
#include "engine/restart.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#define BACKOFF_START_MS 100
#define BACKOFF_MAX_MS	 60000
#define RESET_AFTER_MS	 10000

static const char *const names[] = {
	[KEEL_RESTART_NO] = "no",
	[KEEL_RESTART_ON_FAILURE] = "on-failure",
	[KEEL_RESTART_ALWAYS] = "always",
	[KEEL_RESTART_UNLESS_STOPPED] = "unless-stopped",
};

const char *keel_restart_name(enum keel_restart_mode m)
{
	return m <= KEEL_RESTART_UNLESS_STOPPED ? names[m] : "no";
}

int keel_restart_parse(const char *s, struct keel_restart_policy *p, keel_error_t *err)
{
	const char *colon = strchr(s, ':');
	size_t len = colon ? (size_t)(colon - s) : strlen(s);
	*p = (struct keel_restart_policy){ 0 };
	if (len == 0 && !colon)
		return 0; /* docker treats "" as no */
	for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++) {
		if (strlen(names[i]) != len || strncmp(s, names[i], len) != 0)
			continue;
		p->mode = (enum keel_restart_mode)i;
		if (!colon)
			return 0;
		if (p->mode != KEEL_RESTART_ON_FAILURE)
			return keel_err(err, EINVAL,
					"invalid restart policy '%s': maximum retry count can only "
					"be used with 'on-failure'",
					s);
		char *end;
		long n = strtol(colon + 1, &end, 10);
		if (!colon[1] || *end || n < 0 || n > 1000000)
			return keel_err(err, EINVAL,
					"invalid restart policy '%s': maximum retry "
					"count must be a positive integer",
					s);
		p->max_retries = (int)n;
		return 0;
	}
	return keel_err(err, EINVAL, "invalid restart policy '%s'", s);
}

bool keel_restart_should(const struct keel_restart_policy *p, struct keel_restart_state *st,
			 int exit_code, bool manual_stop, long long ran_ms, long long *delay_ms)
{
	bool restart = false;
	if (p->mode == KEEL_RESTART_NO || manual_stop)
		return false;
	if (ran_ms >= RESET_AFTER_MS)
		st->delay_ms = 0;
	if (st->delay_ms == 0)
		st->delay_ms = BACKOFF_START_MS;
	else if (st->delay_ms < BACKOFF_MAX_MS)
		st->delay_ms *= 2;
	if (st->delay_ms > BACKOFF_MAX_MS)
		st->delay_ms = BACKOFF_MAX_MS;
	switch (p->mode) {
	case KEEL_RESTART_ALWAYS:
	case KEEL_RESTART_UNLESS_STOPPED:
		restart = true;
		break;
	case KEEL_RESTART_ON_FAILURE:
		if (p->max_retries == 0 || st->count < p->max_retries)
			restart = exit_code != 0;
		break;
	case KEEL_RESTART_NO:
		break;
	}
	if (!restart)
		return false;
	st->count++;
	*delay_ms = st->delay_ms;
	return true;
}
