/* Scope-bound cleanup (GCC/clang cleanup attribute) and ownership moves.
 * Every cleanup function accepts NULL / -1, so a variable may be released early
 * by stealing it. */
#ifndef KEEL_CLEANUP_H
#define KEEL_CLEANUP_H

#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include <jansson.h>

static inline void keel_freep(void *p)
{
	free(*(void **)p);
}
static inline void keel_closep(int *fd)
{
	if (*fd >= 0) {
		int saved = errno;
		close(*fd);
		errno = saved;
	}
}
static inline void keel_fclosep(FILE **f)
{
	if (*f)
		fclose(*f);
}
static inline void keel_closedirp(DIR **d)
{
	if (*d)
		closedir(*d);
}
static inline void keel_json_decrefp(json_t **j)
{
	if (*j)
		json_decref(*j);
}
static inline void keel_strvfreep(char ***v)
{
	if (*v) {
		for (char **p = *v; *p; p++)
			free(*p);
		free(*v);
	}
}

#define cleanup_free    __attribute__((cleanup(keel_freep)))
#define cleanup_close   __attribute__((cleanup(keel_closep)))
#define cleanup_fclose  __attribute__((cleanup(keel_fclosep)))
#define cleanup_dir     __attribute__((cleanup(keel_closedirp)))
#define cleanup_json    __attribute__((cleanup(keel_json_decrefp)))
#define cleanup_strv    __attribute__((cleanup(keel_strvfreep)))

/* Takes ownership of *pp: returns it and leaves NULL behind (type-checked). */
#define steal_pointer(pp)                                                                          \
	({                                                                                         \
		__typeof__(*(pp)) steal_tmp_ = *(pp);                                              \
		*(pp) = NULL;                                                                      \
		steal_tmp_;                                                                        \
	})

/* Takes ownership of an fd variable: returns it and leaves -1 behind. */
#define move_fd(fd)                                                                                \
	({                                                                                         \
		int move_tmp_ = (fd);                                                              \
		(fd) = -1;                                                                         \
		move_tmp_;                                                                         \
	})

#endif
