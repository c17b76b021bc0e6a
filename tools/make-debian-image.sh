#!/bin/bash
# make-debian-image.sh [-s SUITE] [-m MIRROR] [-t NAME] [-o TAR]
#
# Makes a Debian image the way `docker import` of a debootstrap'ed rootfs does, shaped like the
# official debian image (Env PATH, Cmd ["bash"]), and imports it into keel's store ($KEEL_ROOT)
# as NAME (default debian:SUITE, also tagged debian:latest). Prints the image id.
#   -s SUITE   default bookworm
#   -m MIRROR  default: the first http(s) mirror for SUITE in /etc/apt/sources.list{,.d/*},
#              else http://deb.debian.org/debian
#   -o TAR     also leave the rootfs tarball there (no import when -t -)
#
# `debootstrap --variant=minbase` is slow (35-55 s cold here), so its result is cached as a
# tarball keyed on the suite and the UTC date:
#   ${KEEL_TEST_CACHE:-/var/cache/keel-test}/debian/SUITE-minbase-YYYYMMDD.tar
# Older tarballs of the suite are removed once a newer one is made. A fresh machine (CI's clone)
# builds it cold; concurrent callers wait on a lock instead of bootstrapping twice. When the
# mirror cannot be reached and no tarball of the day exists, the newest older one is used; with
# none at all the script exits 77 (a test's "skip"), the reason on stderr.
#
# Env: KEEL (default build/keel beside this script), KEEL_ROOT, KEEL_TEST_CACHE,
# KEEL_DEBIAN_MIRROR (as -m).
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
keel=${KEEL:-$here/build/keel}
suite=bookworm
mirror=${KEEL_DEBIAN_MIRROR:-}
name=
outtar=
usage() {
	echo "usage: $0 [-s SUITE] [-m MIRROR] [-t NAME|-] [-o TAR]" >&2
	exit 2
}
while getopts s:m:t:o: o; do
	case $o in
	s) suite=$OPTARG ;;
	m) mirror=$OPTARG ;;
	t) name=$OPTARG ;;
	o) outtar=$OPTARG ;;
	*) usage ;;
	esac
done
shift $((OPTIND - 1))
[[ $# -eq 0 ]] || usage
name=${name:-debian:$suite}

skip() {
	echo "make-debian-image: SKIP: $*" >&2
	exit 77
}

# find_mirror: the URI apt uses for $suite (deb822 .sources or one-line .list).
find_mirror() {
	local f
	for f in /etc/apt/sources.list.d/*.sources; do
		[[ -f $f ]] || continue
		# deb822 stanzas are separated by blank lines
		awk -v s="$suite" '
			/^[ \t]*$/ { if (uri != "" && suites ~ ("(^| )" s "( |$)") && types ~ /deb( |$)/) { print uri; exit }
				uri = suites = types = ""; next }
			/^URIs:/ { uri = $2 } /^Suites:/ { $1 = ""; suites = $0 " " } /^Types:/ { $1 = ""; types = $0 " " }
			END { if (uri != "" && suites ~ ("(^| )" s "( |$)") && types ~ /deb( |$)/) print uri }' "$f"
	done
	for f in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
		[[ -f $f ]] || continue
		awk -v s="$suite" '$1 == "deb" { i = 2; if ($2 ~ /^\[/) while ($i !~ /\]$/) i++; if ($2 ~ /^\[/) i++
			if ($(i + 1) == s) print $i }' "$f"
	done
}
if [[ -z $mirror ]]; then
	mirror=$(find_mirror | grep -E '^https?://' | head -n1 || true)
	mirror=${mirror:-http://deb.debian.org/debian}
fi
mirror=${mirror%/}

# reachable: the suite's Release file answers within 15 s.
reachable() {
	if command -v curl >/dev/null; then
		curl -fsS -o /dev/null --connect-timeout 10 --max-time 15 -I "$mirror/dists/$suite/Release"
	else
		python3 -c 'import sys, urllib.request as u; u.urlopen(u.Request(sys.argv[1], method="HEAD"), timeout=15)' \
			"$mirror/dists/$suite/Release"
	fi
}

cache=${KEEL_TEST_CACHE:-/var/cache/keel-test}/debian
mkdir -p "$cache"
today=$(date -u +%Y%m%d)
tarball=$cache/$suite-minbase-$today.tar

# bootstrap: debootstrap into a temporary directory, tidy it like the official image does (no
# apt lists or caches, no host identity), then tar it and publish the tarball atomically.
bootstrap() {
	local work rc=0 t0=$SECONDS
	command -v debootstrap >/dev/null || skip "debootstrap is not installed (tools/install-deps.sh --test)"
	work=$(mktemp -d "$cache/.work.XXXXXX")
	# shellcheck disable=SC2064
	trap "rm -rf '$work'" EXIT
	echo "make-debian-image: debootstrap --variant=minbase $suite from $mirror" >&2
	debootstrap --variant=minbase "$suite" "$work/rootfs" "$mirror" >"$work/log" 2>&1 || rc=$?
	if ((rc != 0)); then
		tail -n 20 "$work/log" >&2
		[[ -f $work/rootfs/debootstrap/debootstrap.log ]] && tail -n 20 "$work/rootfs/debootstrap/debootstrap.log" >&2
		echo "make-debian-image: debootstrap failed ($rc)" >&2
		exit 1
	fi
	local r=$work/rootfs
	# files only: the directories (lists/partial, archives/partial) belong to apt's package
	find "$r/var/lib/apt/lists" "$r/var/cache/apt" -type f -delete
	find "$r/var/log" -type f \( -name '*.log' -o -path '*/apt/*' \) -delete
	rm -rf "$r/debootstrap"
	# what the engine provides at run time: the image has them empty, as the official one does
	: >"$r/etc/hostname"
	: >"$r/etc/resolv.conf"
	# sorted, numeric owners, xattrs (file capabilities): what `docker export` would give
	tar --numeric-owner --xattrs --xattrs-include='*' --sort=name -C "$r" -cf "$work/rootfs.tar" .
	mv "$work/rootfs.tar" "$tarball"
	find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar" ! -name "${tarball##*/}" -delete
	echo "make-debian-image: cached $tarball ($((SECONDS - t0)) s)" >&2
	rm -rf "$work"
	trap - EXIT
}

exec 9>"$cache/.lock"
flock 9
if [[ ! -s $tarball ]]; then
	if reachable 2>/dev/null; then
		bootstrap
	else
		old=$(find "$cache" -maxdepth 1 -name "$suite-minbase-*.tar" | sort | tail -n1)
		[[ -n $old ]] || skip "Debian mirror $mirror unreachable and no cached $suite rootfs in $cache"
		echo "make-debian-image: mirror $mirror unreachable; using $old" >&2
		tarball=$old
	fi
fi
flock -u 9

[[ -z $outtar ]] || cp "$tarball" "$outtar"
[[ $name != - ]] || exit 0
[[ -x $keel ]] || { echo "make-debian-image: $keel not built" >&2; exit 1; }
stamp=${tarball##*-minbase-}
stamp=${stamp%.tar}
# The official image: one layer, Env PATH as Debian's login.defs ENV_SUPATH, Cmd bash.
id=$("$keel" import \
	-c 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
	-c 'CMD ["bash"]' \
	-m "debootstrap --variant=minbase $suite $stamp" \
	"$tarball" "$name")
if [[ $name == debian:"$suite" ]]; then
	"$keel" tag "$name" debian:latest
fi
echo "$id"
