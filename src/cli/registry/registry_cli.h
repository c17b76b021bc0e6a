/* `keel pull`, `push`, `login`, `logout` (src/cli/registry/). */
#ifndef KEEL_CLI_REGISTRY_H
#define KEEL_CLI_REGISTRY_H

#include <pthread.h>
#include <stdbool.h>

#include "registry/registry.h"

struct cli_progress {
	pthread_mutex_t lock;
	bool tty, quiet, push;
	struct {
		char id[16];
		double last;
		bool drawn;
	} lines[256];
	size_t n;
};

void cli_progress_init(struct cli_progress *p, bool quiet, bool push);
/* keel_reg_options.progress: ud is the struct cli_progress. */
void cli_progress_event(void *ud, const struct keel_reg_event *ev);

#endif
