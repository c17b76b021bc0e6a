/* The engine's command groups live in keel-engine.so, loaded on first use: the keel
 * executable itself links only what the runtime needs, because every container start execs
 * it (twice, with the sealed re-exec) and each shared library costs load time there —
 * libarchive alone drags in libxml2 and ICU, libcurl a dozen more.
 *
 * Each entry point declared in commands.h for an engine group gets a trampoline here with the
 * same name; the module defines the real one. The executable does not export its symbols, so
 * the two never clash. */
#include <dlfcn.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/commands.h"
#include "util/trace.h"

/* Where a module is: $KEEL_MODULE_DIR/<name>, else next to the executable (the build tree),
 * else <prefix>/lib/keel/ (installed: the executable is in <prefix>/bin). */
static int module_path(const char *name, char *buf, size_t len)
{
	const char *env = getenv("KEEL_MODULE_DIR");
	char exe[PATH_MAX];
	ssize_t n;
	char *slash;

	if (env && *env) {
		snprintf(buf, len, "%s/%s", env, name);
		return 0;
	}
	n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
	if (n <= 0)
		return -1;
	exe[n] = '\0';
	slash = strrchr(exe, '/');
	if (!slash)
		return -1;
	*slash = '\0';
	snprintf(buf, len, "%s/%s", exe, name);
	if (access(buf, R_OK) == 0)
		return 0;
	snprintf(buf, len, "%s/../lib/keel/%s", exe, name);
	return 0;
}

/* Remembered for processes that re-execute from a sealed copy of keel, whose /proc/self/exe
 * no longer tells where keel is installed. */
static void remember_dir(const char *path)
{
	char dir[PATH_MAX];
	char *slash;
	snprintf(dir, sizeof(dir), "%s", path);
	slash = strrchr(dir, '/');
	if (slash) {
		*slash = '\0';
		setenv("KEEL_MODULE_DIR", dir, 0);
	}
}

/* Every engine group goes through here; argv[0] is the group name. RTLD_LAZY: a command
 * binds only the functions it calls. */
static int module_call(const char *module, void **handle, const char *symbol, int argc,
		       char **argv)
{
	char path[PATH_MAX];
	int (*fn)(int, char **);

	if (!*handle) {
		if (module_path(module, path, sizeof(path)) < 0) {
			fprintf(stderr, "keel: cannot locate %s\n", module);
			return 125;
		}
		remember_dir(path);
		*handle = dlopen(path, RTLD_LAZY | RTLD_LOCAL);
		keel_trace(module);
		if (!*handle) {
			fprintf(stderr, "keel: %s: %s\n", argv[0], dlerror());
			return 125;
		}
	}
	*(void **)&fn = dlsym(*handle, symbol);
	if (!fn) {
		fprintf(stderr, "keel: %s: %s\n", argv[0], dlerror());
		return 125;
	}
	return fn(argc, argv);
}

static void *engine_handle, *registry_handle;

#define ENGINE_ENTRY(name)                                                                         \
	int name(int argc, char **argv)                                                            \
	{                                                                                          \
		return module_call("keel-engine.so", &engine_handle, #name, argc, argv);            \
	}
#define REGISTRY_ENTRY(name)                                                                       \
	int name(int argc, char **argv)                                                            \
	{                                                                                          \
		return module_call("keel-registry.so", &registry_handle, #name, argc, argv);        \
	}

ENGINE_ENTRY(keel_cli_images)
ENGINE_ENTRY(keel_cli_image)
ENGINE_ENTRY(keel_cli_history)
ENGINE_ENTRY(keel_cli_tag)
ENGINE_ENTRY(keel_cli_rmi)
ENGINE_ENTRY(keel_cli_load)
ENGINE_ENTRY(keel_cli_save)
ENGINE_ENTRY(keel_cli_import)
ENGINE_ENTRY(keel_cli_system)
ENGINE_ENTRY(keel_cli_container_cmd)
ENGINE_ENTRY(keel_cli_container)
ENGINE_ENTRY(keel_cli_build)
REGISTRY_ENTRY(keel_cli_pull)
REGISTRY_ENTRY(keel_cli_push)
REGISTRY_ENTRY(keel_cli_login)
REGISTRY_ENTRY(keel_cli_logout)
