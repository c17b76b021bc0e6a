/* libarchive, loaded when first used. Every keel command loaded libarchive with keel-engine.so,
 * and with it libxml2, ICU and libstdc++ (~1.7 ms of loading and relocation here), though only
 * the image, build and copy commands touch an archive. Files that use libarchive include this
 * header instead of <archive.h>: each libarchive function name becomes a pointer in a table
 * that keel_libarchive() fills with dlsym on first call. A function missing from the list is
 * a link error (the engine module is linked without libarchive and with --no-undefined);
 * tools/gen-libarchive-h.sh regenerates the list from the tree.
 *
 * libarchive is a hard dependency of the package: when it cannot be loaded, keel_libarchive()
 * prints one line and exits 125 (the engine's own failure), the only place the library exits. */
#ifndef KEEL_LIBARCHIVE_H
#define KEEL_LIBARCHIVE_H

#include <archive.h>
#include <archive_entry.h>

/* clang-format off */
#define KEEL_LIBARCHIVE_FUNCS(X) \
	X(archive_entry_copy_stat) \
	X(archive_entry_filetype) \
	X(archive_entry_free) \
	X(archive_entry_gid) \
	X(archive_entry_hardlink) \
	X(archive_entry_mode) \
	X(archive_entry_mtime) \
	X(archive_entry_mtime_nsec) \
	X(archive_entry_new) \
	X(archive_entry_pathname) \
	X(archive_entry_perm) \
	X(archive_entry_rdev) \
	X(archive_entry_set_filetype) \
	X(archive_entry_set_gid) \
	X(archive_entry_set_gname) \
	X(archive_entry_set_hardlink) \
	X(archive_entry_set_mode) \
	X(archive_entry_set_mtime) \
	X(archive_entry_set_pathname) \
	X(archive_entry_set_perm) \
	X(archive_entry_set_rdev) \
	X(archive_entry_set_size) \
	X(archive_entry_set_symlink) \
	X(archive_entry_set_uid) \
	X(archive_entry_set_uname) \
	X(archive_entry_size) \
	X(archive_entry_symlink) \
	X(archive_entry_uid) \
	X(archive_entry_xattr_add_entry) \
	X(archive_entry_xattr_next) \
	X(archive_entry_xattr_reset) \
	X(archive_error_string) \
	X(archive_filter_code) \
	X(archive_read_data) \
	X(archive_read_data_block) \
	X(archive_read_free) \
	X(archive_read_new) \
	X(archive_read_next_header) \
	X(archive_read_open) \
	X(archive_read_open_fd) \
	X(archive_read_support_filter_all) \
	X(archive_read_support_format_empty) \
	X(archive_read_support_format_gnutar) \
	X(archive_read_support_format_raw) \
	X(archive_read_support_format_tar) \
	X(archive_set_error) \
	X(archive_write_close) \
	X(archive_write_data) \
	X(archive_write_data_block) \
	X(archive_write_disk_new) \
	X(archive_write_disk_set_options) \
	X(archive_write_finish_entry) \
	X(archive_write_free) \
	X(archive_write_header) \
	X(archive_write_new) \
	X(archive_write_open) \
	X(archive_write_open_fd) \
	X(archive_write_set_bytes_in_last_block) \
	X(archive_write_set_bytes_per_block) \
	X(archive_write_set_format_pax_restricted) \
	/* end */

struct keel_libarchive {
#define KEEL_LIBARCHIVE_FIELD(f) __typeof__(f) *f;
	KEEL_LIBARCHIVE_FUNCS(KEEL_LIBARCHIVE_FIELD)
#undef KEEL_LIBARCHIVE_FIELD
};

const struct keel_libarchive *keel_libarchive(void);

#ifndef KEEL_LIBARCHIVE_IMPL
#define archive_entry_copy_stat (keel_libarchive()->archive_entry_copy_stat)
#define archive_entry_filetype (keel_libarchive()->archive_entry_filetype)
#define archive_entry_free (keel_libarchive()->archive_entry_free)
#define archive_entry_gid (keel_libarchive()->archive_entry_gid)
#define archive_entry_hardlink (keel_libarchive()->archive_entry_hardlink)
#define archive_entry_mode (keel_libarchive()->archive_entry_mode)
#define archive_entry_mtime (keel_libarchive()->archive_entry_mtime)
#define archive_entry_mtime_nsec (keel_libarchive()->archive_entry_mtime_nsec)
#define archive_entry_new (keel_libarchive()->archive_entry_new)
#define archive_entry_pathname (keel_libarchive()->archive_entry_pathname)
#define archive_entry_perm (keel_libarchive()->archive_entry_perm)
#define archive_entry_rdev (keel_libarchive()->archive_entry_rdev)
#define archive_entry_set_filetype (keel_libarchive()->archive_entry_set_filetype)
#define archive_entry_set_gid (keel_libarchive()->archive_entry_set_gid)
#define archive_entry_set_gname (keel_libarchive()->archive_entry_set_gname)
#define archive_entry_set_hardlink (keel_libarchive()->archive_entry_set_hardlink)
#define archive_entry_set_mode (keel_libarchive()->archive_entry_set_mode)
#define archive_entry_set_mtime (keel_libarchive()->archive_entry_set_mtime)
#define archive_entry_set_pathname (keel_libarchive()->archive_entry_set_pathname)
#define archive_entry_set_perm (keel_libarchive()->archive_entry_set_perm)
#define archive_entry_set_rdev (keel_libarchive()->archive_entry_set_rdev)
#define archive_entry_set_size (keel_libarchive()->archive_entry_set_size)
#define archive_entry_set_symlink (keel_libarchive()->archive_entry_set_symlink)
#define archive_entry_set_uid (keel_libarchive()->archive_entry_set_uid)
#define archive_entry_set_uname (keel_libarchive()->archive_entry_set_uname)
#define archive_entry_size (keel_libarchive()->archive_entry_size)
#define archive_entry_symlink (keel_libarchive()->archive_entry_symlink)
#define archive_entry_uid (keel_libarchive()->archive_entry_uid)
#define archive_entry_xattr_add_entry (keel_libarchive()->archive_entry_xattr_add_entry)
#define archive_entry_xattr_next (keel_libarchive()->archive_entry_xattr_next)
#define archive_entry_xattr_reset (keel_libarchive()->archive_entry_xattr_reset)
#define archive_error_string (keel_libarchive()->archive_error_string)
#define archive_filter_code (keel_libarchive()->archive_filter_code)
#define archive_read_data (keel_libarchive()->archive_read_data)
#define archive_read_data_block (keel_libarchive()->archive_read_data_block)
#define archive_read_free (keel_libarchive()->archive_read_free)
#define archive_read_new (keel_libarchive()->archive_read_new)
#define archive_read_next_header (keel_libarchive()->archive_read_next_header)
#define archive_read_open (keel_libarchive()->archive_read_open)
#define archive_read_open_fd (keel_libarchive()->archive_read_open_fd)
#define archive_read_support_filter_all (keel_libarchive()->archive_read_support_filter_all)
#define archive_read_support_format_empty (keel_libarchive()->archive_read_support_format_empty)
#define archive_read_support_format_gnutar (keel_libarchive()->archive_read_support_format_gnutar)
#define archive_read_support_format_raw (keel_libarchive()->archive_read_support_format_raw)
#define archive_read_support_format_tar (keel_libarchive()->archive_read_support_format_tar)
#define archive_set_error (keel_libarchive()->archive_set_error)
#define archive_write_close (keel_libarchive()->archive_write_close)
#define archive_write_data (keel_libarchive()->archive_write_data)
#define archive_write_data_block (keel_libarchive()->archive_write_data_block)
#define archive_write_disk_new (keel_libarchive()->archive_write_disk_new)
#define archive_write_disk_set_options (keel_libarchive()->archive_write_disk_set_options)
#define archive_write_finish_entry (keel_libarchive()->archive_write_finish_entry)
#define archive_write_free (keel_libarchive()->archive_write_free)
#define archive_write_header (keel_libarchive()->archive_write_header)
#define archive_write_new (keel_libarchive()->archive_write_new)
#define archive_write_open (keel_libarchive()->archive_write_open)
#define archive_write_open_fd (keel_libarchive()->archive_write_open_fd)
#define archive_write_set_bytes_in_last_block (keel_libarchive()->archive_write_set_bytes_in_last_block)
#define archive_write_set_bytes_per_block (keel_libarchive()->archive_write_set_bytes_per_block)
#define archive_write_set_format_pax_restricted (keel_libarchive()->archive_write_set_format_pax_restricted)
#endif
/* clang-format on */

#endif
