/* Snapshots: a directory with
 *   manifest.json  {"format": "keel-vm-snapshot", "version": 1, "memory_size": N,
 *                   "memory_crc32": C, "state_crc32": S}
 *   state.bin      the VM state blob (state.c: every section checksummed)
 *   memory         guest RAM, raw, sparse (all-zero pages are holes)
 * Restore maps `memory` MAP_PRIVATE: no copy, clones share every page they do not write. */
#include "vm/kvm.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "util/cleanup.h"
#include "util/fs.h"

#define SNAP_FORMAT  "keel-vm-snapshot"
#define SNAP_VERSION 1

static bool page_is_zero(const uint8_t *p)
{
	return p[0] == 0 && memcmp(p, p + 1, PAGE_SIZE - 1) == 0;
}

/* Writes non-zero pages in runs; returns the CRC32 of all of RAM. */
static int write_memory(struct keel_vm *vm, int fd, uint32_t *crc, keel_error_t *err)
{
	uLong c = crc32(0, NULL, 0);
	if (ftruncate(fd, (off_t)vm->ram_size) < 0)
		return keel_err_sys(err, "snapshot memory");
	for (uint64_t off = 0; off < vm->ram_size;) {
		uint64_t run = 0;
		while (off + run < vm->ram_size && !page_is_zero(vm->ram + off + run))
			run += PAGE_SIZE;
		for (uint64_t done = 0; done < run;) {
			ssize_t n = pwrite(fd, vm->ram + off + done, run - done, (off_t)(off + done));
			if (n < 0 && errno == EINTR)
				continue;
			if (n <= 0)
				return keel_err_sys(err, "writing snapshot memory");
			done += (uint64_t)n;
		}
		if (!run)
			run = PAGE_SIZE; /* a zero page: a hole */
		c = crc32(c, vm->ram + off, (uInt)run);
		off += run;
	}
	*crc = (uint32_t)c;
	return 0;
}

static int path_in(char *out, const char *dir, const char *file, keel_error_t *err)
{
	int n = snprintf(out, PATH_MAX, "%s/%s", dir, file);
	if (n < 0 || n >= PATH_MAX)
		return keel_err(err, ENAMETOOLONG, "snapshot path");
	return 0;
}

static int write_snapshot(struct keel_vm *vm, const char *dir, keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free uint8_t *blob = NULL;
	cleanup_close int fd = -1;
	uint32_t mem_crc = 0;
	ssize_t len = vm_state_blob(vm, &blob, err);

	if (len < 0)
		return -1;
	if (keel_mkdir_p(dir, 0700, err) < 0 || path_in(path, dir, "state.bin", err) < 0 ||
	    keel_write_file(path, blob, (size_t)len, 0600, err) < 0 ||
	    path_in(path, dir, "memory", err) < 0)
		return -1;
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return keel_err_sys(err, "creating %s", path);
	if (write_memory(vm, fd, &mem_crc, err) < 0)
		return -1;
	cleanup_json json_t *m = json_pack(
		"{s:s, s:i, s:I, s:I, s:I}", "format", SNAP_FORMAT, "version", SNAP_VERSION,
		"memory_size", (json_int_t)vm->ram_size, "memory_crc32", (json_int_t)mem_crc,
		"state_crc32", (json_int_t)crc32(0, blob, (uInt)len));
	cleanup_free char *text = json_dumps(m, JSON_INDENT(2));
	if (!text || path_in(path, dir, "manifest.json", err) < 0)
		return keel_err(err, ENOMEM, "manifest");
	return keel_write_file_atomic(path, text, strlen(text), 0600, err);
}

int keel_vm_snapshot(struct keel_vm *vm, const char *dir, bool leave_running, keel_error_t *err)
{
	bool was_paused = keel_vm_paused(vm);
	int ret;
	if (keel_vm_pause(vm, err) < 0)
		return keel_err_wrap(err, "snapshot");
	ret = write_snapshot(vm, dir, err);
	if (ret < 0)
		keel_err_wrap(err, "snapshot %s", dir);
	if (leave_running && !was_paused)
		keel_vm_resume(vm);
	return ret;
}

/* Reads manifest + state; checks format, version and the state checksum. */
static int read_snapshot(const char *dir, uint8_t **blob, size_t *blob_len, json_t **manifest,
			 keel_error_t *err)
{
	char path[PATH_MAX];
	cleanup_free char *text = NULL;
	json_error_t je;
	ssize_t n;

	if (path_in(path, dir, "manifest.json", err) < 0 || keel_read_file(path, &text, err) < 0)
		return keel_err_wrap(err, "snapshot %s", dir);
	*manifest = json_loads(text, 0, &je);
	if (!*manifest || strcmp(json_string_value(json_object_get(*manifest, "format")) ?: "",
				 SNAP_FORMAT) != 0)
		return keel_err(err, EINVAL, "snapshot %s: not a keel VM snapshot", dir);
	json_int_t v = json_integer_value(json_object_get(*manifest, "version"));
	if (v != SNAP_VERSION)
		return keel_err(err, EINVAL, "snapshot %s: version %lld, this keel reads version %d",
				dir, (long long)v, SNAP_VERSION);
	if (path_in(path, dir, "state.bin", err) < 0 ||
	    (n = keel_read_file(path, (char **)blob, err)) < 0)
		return keel_err_wrap(err, "snapshot %s", dir);
	*blob_len = (size_t)n;
	if ((json_int_t)crc32(0, *blob, (uInt)n) !=
	    json_integer_value(json_object_get(*manifest, "state_crc32")))
		return keel_err(err, EINVAL, "snapshot %s: state.bin is corrupt (checksum)", dir);
	return 0;
}

static int open_memory(const char *dir, uint64_t size, json_t *manifest, bool verify,
		       keel_error_t *err)
{
	char path[PATH_MAX];
	struct stat st;
	cleanup_close int fd = -1;
	if (path_in(path, dir, "memory", err) < 0)
		return -1;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return keel_err_sys(err, "snapshot %s: memory", dir);
	if ((uint64_t)st.st_size != size ||
	    json_integer_value(json_object_get(manifest, "memory_size")) != (json_int_t)size)
		return keel_err(err, EINVAL, "snapshot %s: memory file has the wrong size", dir);
	if (verify) {
		static uint8_t buf[1 << 20];
		uLong c = crc32(0, NULL, 0);
		ssize_t n;
		while ((n = read(fd, buf, sizeof(buf))) > 0)
			c = crc32(c, buf, (uInt)n);
		if ((json_int_t)c != json_integer_value(json_object_get(manifest, "memory_crc32")))
			return keel_err(err, EINVAL, "snapshot %s: memory is corrupt (checksum)",
					dir);
	}
	return move_fd(fd);
}

static struct keel_vm *restore(const char *dir, int console_fd, bool verify, keel_error_t *err)
{
	cleanup_free uint8_t *blob = NULL;
	cleanup_json json_t *manifest = NULL;
	struct keel_vm_config cfg = {0};
	struct keel_vm *vm = NULL;
	size_t len;
	int mem_fd;

	keel_trace("restore: begin");
	if (read_snapshot(dir, &blob, &len, &manifest, err) < 0 ||
	    vm_state_blob_config(blob, len, &cfg, err) < 0)
		return NULL;
	mem_fd = open_memory(dir, cfg.mem_bytes, manifest, verify, err);
	keel_trace("restore: snapshot read, memory opened");
	if (mem_fd >= 0) {
		vm = vm_build(&cfg, console_fd, mem_fd, err);
		close(mem_fd); /* the mapping keeps the file */
	}
	keel_vm_config_clear(&cfg);
	if (vm && vm_state_apply(vm, blob, len, err) < 0) {
		keel_err_wrap(err, "snapshot %s", dir);
		keel_vm_free(vm);
		vm = NULL;
	}
	keel_trace("restore: state applied");
	return vm;
}

struct keel_vm *keel_vm_restore(const char *dir, int console_fd, keel_error_t *err)
{
	return restore(dir, console_fd, false, err);
}

int keel_vm_snapshot_verify(const char *dir, bool with_memory, keel_error_t *err)
{
	cleanup_free uint8_t *blob = NULL;
	cleanup_json json_t *manifest = NULL;
	struct keel_vm_config cfg = {0};
	size_t len;
	int fd;
	if (read_snapshot(dir, &blob, &len, &manifest, err) < 0 ||
	    vm_state_blob_config(blob, len, &cfg, err) < 0)
		return -1;
	fd = open_memory(dir, cfg.mem_bytes, manifest, with_memory, err);
	keel_vm_config_clear(&cfg);
	if (fd < 0)
		return -1;
	close(fd);
	return 0;
}
