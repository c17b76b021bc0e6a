/* The lazily loaded libarchive (libarchive.h says why). */
#define KEEL_LIBARCHIVE_IMPL
#include "store/libarchive.h"

#include <dlfcn.h>
#include <pthread.h>
#include <stdio.h>
#include <unistd.h>

static struct keel_libarchive table;
static pthread_once_t once = PTHREAD_ONCE_INIT;

static void load(void)
{
	void *h = dlopen("libarchive.so.13", RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;
	if (!h) {
		fprintf(stderr, "keel: cannot load libarchive.so.13: %s\n", dlerror());
		_exit(125);
	}
#define KEEL_LIBARCHIVE_LOAD(f)                                                                    \
	if (!(*(void **)&table.f = dlsym(h, #f)) && !missing)                                      \
		missing = #f;
	KEEL_LIBARCHIVE_FUNCS(KEEL_LIBARCHIVE_LOAD)
#undef KEEL_LIBARCHIVE_LOAD
	if (missing) {
		fprintf(stderr, "keel: libarchive.so.13 has no %s\n", missing);
		_exit(125);
	}
}

const struct keel_libarchive *keel_libarchive(void)
{
	pthread_once(&once, load);
	return &table;
}
