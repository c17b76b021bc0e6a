#!/bin/sh
# Regenerates src/lib/store/libarchive.h (the lazily loaded libarchive functions) from the
# tree: run after using a libarchive function keel did not use before.
cd "$(dirname "$0")/.."
funcs=$(grep -rhoE "\barchive_[a-z_0-9]+\s*\(" src --include=*.c | sed 's/\s*($//' | sort -u)
# only libarchive's own functions (a keel function could start with archive_ too)
lib=$(ldconfig -p 2>/dev/null | awk '/libarchive\.so\.13 .*x86-64/ {print $NF; exit}')
if [ -n "$lib" ] && command -v nm >/dev/null; then
	known=$(nm -D --defined-only "$lib" | awk '{print $3}' | sed 's/@.*//')
	funcs=$(for f in $funcs; do echo "$known" | grep -qx "$f" && echo "$f"; done)
fi
{
cat <<'HDR'
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
HDR
for f in $funcs; do printf '\tX(%s) \\\n' "$f"; done
printf '\t/* end */\n\n'
cat <<'HDR'
struct keel_libarchive {
#define KEEL_LIBARCHIVE_FIELD(f) __typeof__(f) *f;
	KEEL_LIBARCHIVE_FUNCS(KEEL_LIBARCHIVE_FIELD)
#undef KEEL_LIBARCHIVE_FIELD
};

const struct keel_libarchive *keel_libarchive(void);

#ifndef KEEL_LIBARCHIVE_IMPL
HDR
for f in $funcs; do printf '#define %s (keel_libarchive()->%s)\n' "$f" "$f"; done
cat <<'HDR'
#endif
/* clang-format on */

#endif
HDR
} > src/lib/store/libarchive.h
