#include "runtime/sealed_exe.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/sendfile.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define SEALS (F_SEAL_SEAL | F_SEAL_SHRINK | F_SEAL_GROW | F_SEAL_WRITE)

extern char **environ;

int keel_sealed_exe_ensure(char **argv, keel_error_t *err)
{
	cleanup_close int self = open("/proc/self/exe", O_RDONLY | O_CLOEXEC);
	cleanup_close int mfd = -1;
	struct stat st;
	off_t off = 0;
	int seals;

	if (self < 0)
		return keel_err_sys(err, "open /proc/self/exe");
	seals = fcntl(self, F_GET_SEALS);
	if (seals >= 0 && (seals & SEALS) == SEALS)
		return 0;
	if (fstat(self, &st) < 0)
		return keel_err_sys(err, "stat /proc/self/exe");
	mfd = memfd_create("keel", MFD_CLOEXEC | MFD_ALLOW_SEALING);
	if (mfd < 0)
		return keel_err_sys(err, "memfd_create");
	while (off < st.st_size) {
		ssize_t n = sendfile(mfd, self, &off, (size_t)(st.st_size - off));
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return keel_err_sys(err, "copying the runtime binary");
	}
	if (fcntl(mfd, F_ADD_SEALS, SEALS) < 0)
		return keel_err_sys(err, "sealing the runtime binary copy");
	fexecve(mfd, argv, environ);
	return keel_err_sys(err, "re-executing the sealed runtime binary");
}
