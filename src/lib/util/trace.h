#pragma once
/* Timing traces (trace.c): with KEEL_TRACE=FILE set, appends "<pid> <CLOCK_MONOTONIC ns> <step>"
 * to FILE; a no-op otherwise. */
#include <stdbool.h>

bool keel_tracing(void);
void keel_trace(const char *step);
