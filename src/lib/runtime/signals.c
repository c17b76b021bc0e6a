/* Signal names <-> numbers, with the spellings `runc kill` and `docker kill` accept.
 *
 * Real-time signals follow glibc and moby: SIGRTMIN is 34 (the kernel's 32 and 33 are
 * reserved by the C library's threading), SIGRTMAX is 64, and names in between are
 * "RTMIN+n" for the lower half and "RTMAX-n" for the upper half, both accepted anywhere in
 * the range. Plain numbers 1..SIGRTMAX are accepted as they are; 0 (the "does it exist"
 * probe of kill(2)) is refused, as is anything with trailing junk. */
#include "runtime/signals.h"

#include <signal.h>
#include <stddef.h>
#include <string.h>
#include <strings.h>

#define KEEL_SIGRTMIN 34
#define KEEL_SIGRTMAX 64

struct signal_name {
	const char *name; /* with "SIG"; parsing compares name + 3 */
	int sig;
};

/* The first entry for a number is its canonical name; later ones are aliases. */
static const struct signal_name signal_table[] = {
    {"SIGHUP", SIGHUP},	  {"SIGINT", SIGINT},	    {"SIGQUIT", SIGQUIT},  {"SIGILL", SIGILL},
    {"SIGTRAP", SIGTRAP}, {"SIGABRT", SIGABRT},	    {"SIGBUS", SIGBUS},	   {"SIGFPE", SIGFPE},
    {"SIGKILL", SIGKILL}, {"SIGUSR1", SIGUSR1},	    {"SIGSEGV", SIGSEGV},  {"SIGUSR2", SIGUSR2},
    {"SIGPIPE", SIGPIPE}, {"SIGALRM", SIGALRM},	    {"SIGTERM", SIGTERM},  {"SIGSTKFLT", SIGSTKFLT},
    {"SIGCHLD", SIGCHLD}, {"SIGCONT", SIGCONT},	    {"SIGSTOP", SIGSTOP},  {"SIGTSTP", SIGTSTP},
    {"SIGTTIN", SIGTTIN}, {"SIGTTOU", SIGTTOU},	    {"SIGURG", SIGURG},	   {"SIGXCPU", SIGXCPU},
    {"SIGXFSZ", SIGXFSZ}, {"SIGVTALRM", SIGVTALRM}, {"SIGPROF", SIGPROF},  {"SIGWINCH", SIGWINCH},
    {"SIGIO", SIGIO},	  {"SIGPWR", SIGPWR},	    {"SIGSYS", SIGSYS},	   {"SIGIOT", SIGIOT},
    {"SIGCLD", SIGCHLD},  {"SIGPOLL", SIGPOLL},	    {"SIGUNUSED", SIGSYS},
};

#define N_SIGNAL_TABLE (sizeof(signal_table) / sizeof(signal_table[0]))

/* Canonical names of SIGRTMIN..SIGRTMAX, indexed by sig - KEEL_SIGRTMIN (moby's split). */
static const char *const rt_names[KEEL_SIGRTMAX - KEEL_SIGRTMIN + 1] = {
    "SIGRTMIN",	   "SIGRTMIN+1",  "SIGRTMIN+2",	 "SIGRTMIN+3",	"SIGRTMIN+4",  "SIGRTMIN+5",
    "SIGRTMIN+6",  "SIGRTMIN+7",  "SIGRTMIN+8",	 "SIGRTMIN+9",	"SIGRTMIN+10", "SIGRTMIN+11",
    "SIGRTMIN+12", "SIGRTMIN+13", "SIGRTMIN+14", "SIGRTMIN+15", "SIGRTMAX-14", "SIGRTMAX-13",
    "SIGRTMAX-12", "SIGRTMAX-11", "SIGRTMAX-10", "SIGRTMAX-9",	"SIGRTMAX-8",  "SIGRTMAX-7",
    "SIGRTMAX-6",  "SIGRTMAX-5",  "SIGRTMAX-4",	 "SIGRTMAX-3",	"SIGRTMAX-2",  "SIGRTMAX-1",
    "SIGRTMAX",
};

/* A non-empty run of decimal digits (no sign, no spaces) worth at most `max`; else -1. */
static int parse_digits(const char *s, int max)
{
	long v = 0;

	if (!*s)
		return -1;
	for (; *s; s++) {
		if (*s < '0' || *s > '9')
			return -1;
		v = v * 10 + (*s - '0');
		if (v > max)
			return -1;
	}
	return (int)v;
}

/* "RTMIN", "RTMIN+n", "RTMAX", "RTMAX-n" (prefix already stripped, any case). */
static int parse_realtime(const char *s)
{
	int base, sign, off;

	if (strncasecmp(s, "RTMIN", 5) == 0) {
		base = KEEL_SIGRTMIN;
		sign = '+';
	} else if (strncasecmp(s, "RTMAX", 5) == 0) {
		base = KEEL_SIGRTMAX;
		sign = '-';
	} else {
		return -1;
	}
	s += 5;
	if (!*s)
		return base;
	if (*s != sign)
		return -1;
	off = parse_digits(s + 1, KEEL_SIGRTMAX - KEEL_SIGRTMIN);
	if (off < 0)
		return -1;
	return sign == '+' ? base + off : base - off;
}

int keel_signal_parse(const char *s)
{
	int sig;

	if (!s || !*s)
		return -1;
	if (*s >= '0' && *s <= '9') {
		sig = parse_digits(s, KEEL_SIGRTMAX);
		return sig > 0 ? sig : -1;
	}
	if (strncasecmp(s, "SIG", 3) == 0)
		s += 3;
	for (size_t i = 0; i < N_SIGNAL_TABLE; i++)
		if (strcasecmp(s, signal_table[i].name + 3) == 0)
			return signal_table[i].sig;
	return parse_realtime(s);
}

const char *keel_signal_name(int sig)
{
	for (size_t i = 0; i < N_SIGNAL_TABLE; i++)
		if (signal_table[i].sig == sig)
			return signal_table[i].name;
	if (sig >= KEEL_SIGRTMIN && sig <= KEEL_SIGRTMAX)
		return rt_names[sig - KEEL_SIGRTMIN];
	return NULL;
}
