# Common helpers for the interop tests (bats): real engines (containerd/ctr, dockerd, podman)
# driving the runtime binary named by $KEEL_RUNTIME (default $REPO/build/keel-runtime).
# Every engine runs privately under one temp dir $T: its own state, sockets, image store.
# Validate with real runc:  KEEL_RUNTIME=/usr/sbin/runc bats tests/interop

INTEROP_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$INTEROP_DIR/../.." && pwd)
export REPO
: "${KEEL_RUNTIME:=$REPO/build/keel-runtime}"
export KEEL_RUNTIME
IMAGE_NAME=docker.io/keeltest/busybox:latest
IMAGE_SHORT=keeltest/busybox:latest
export IMAGE_NAME IMAGE_SHORT
# Every engine command is bounded: a runtime that hangs must fail a test, not stall the suite.
: "${INTEROP_TIMEOUT:=90}"
export INTEROP_TIMEOUT

# tmo CMD...: CMD with the suite's time limit (exit 124 when it hits).
tmo()
{
	timeout -k 5 "$INTEROP_TIMEOUT" "$@"
}

# interop_skip_unless_ready BIN...: skip (from setup_file) when an engine binary is missing.
# Not root or no runtime binary is a failure, not a skip: the suite is meant to run.
interop_skip_unless_ready()
{
	local b
	for b in "$@"; do
		command -v "$b" >/dev/null 2>&1 || skip "$b not installed"
	done
	[ "$(id -u)" = 0 ] || { echo "interop tests need root" >&2; return 1; }
	[ -x "$KEEL_RUNTIME" ] || { echo "runtime $KEEL_RUNTIME is not executable" >&2; return 1; }
	command -v script >/dev/null || { echo "script(1) missing (bsdutils)" >&2; return 1; }
}

# interop_tmpdir NAME: make and print a fresh private dir. Short paths: unix sockets < 108 bytes.
interop_tmpdir()
{
	mktemp -d "/tmp/keel-$1.XXXXXX"
}

# The runtime as an absolute path without symlinks resolved: engines exec it by path, and
# keel decides its personality from argv[0] (keel-runtime), so keep the link name.
runtime_abs()
{
	case $KEEL_RUNTIME in
	/*) echo "$KEEL_RUNTIME" ;;
	*) echo "$PWD/$KEEL_RUNTIME" ;;
	esac
}

# in_private_run CMD...: exec CMD in a private mount namespace with a fresh tmpfs on /run.
# Engines hard-code paths there (containerd's shim sockets in /run/containerd/s, dockerd's
# /run/docker/plugins); this keeps the host's /run untouched, and every mount the engine makes
# (overlay rootfs, shm, ...) dies with the namespace. unshare without --fork execs, so $! of
# `in_private_run ... &` is the engine's pid.
in_private_run()
{
	unshare -m --propagation private -- sh -c \
		'mount -n -t tmpfs -o mode=755,size=64m keel-interop-run /run && exec "$@"' sh "$@"
}

# private_ns_create DIR: a persistent private mount namespace pinned on DIR/mnt, for engines
# that are a new process per command (podman): enter it with nsenter --mount=DIR/mnt. Inside: a tmpfs
# on /run, and /var/lib behind an overlay whose writes land in DIR/varlib (podman 4.3 writes
# /var/lib/containers/cache and /run/containers whatever --root says). Undone by umount_under.
private_ns_create()
{
	local d=$1
	mkdir -p "$d/varlib/u" "$d/varlib/w"
	# the pin's parent mount must not be shared, else unshare cannot bind the ns file.
	mount --bind "$d" "$d"
	mount --make-private "$d"
	touch "$d/mnt"
	unshare --mount="$d/mnt" --propagation private -- sh -c '
		mount -n -t tmpfs -o mode=755,size=64m keel-interop-run /run &&
		mount -n -t overlay -o "lowerdir=/var/lib,upperdir=$1/varlib/u,workdir=$1/varlib/w" \
			keel-interop-varlib /var/lib' sh "$d"
}

# Debian's 20.10 docker CLI, not whatever newer `docker` comes first in PATH.
: "${DOCKER_CLI:=$(command -v /usr/bin/docker || command -v docker)}"
export DOCKER_CLI

# dockerd_start DIR [DOCKERD_ARGS...]: a private dockerd 20.10 (with its own managed
# containerd) under DIR: data and exec roots, socket DIR/d.sock, trust key, pid in
# DIR/dockerd.pid, log in DIR/dockerd.log. It runs in a private mount namespace with its own
# /run (it hard-codes /run/docker/plugins, and its containerd's shims /run/containerd/s), no
# bridge and no iptables. overlay2 first, vfs when the kernel refuses overlay2 here (the
# failure is shown on fd 3). Undo with dockerd_stop.
dockerd_start()
{
	local dir=$1 driver
	shift
	# deprecated-key-path: else dockerd writes /etc/docker/key.json.
	printf '{"deprecated-key-path": "%s"}\n' "$dir/key.json" >"$dir/daemon.json"
	for driver in overlay2 vfs; do
		in_private_run dockerd --config-file "$dir/daemon.json" --data-root "$dir/data" \
			--exec-root "$dir/exec" --pidfile "$dir/d.pid" -H "unix://$dir/d.sock" \
			--bridge=none --iptables=false --ip6tables=false --ip-masq=false \
			--storage-driver="$driver" "$@" >"$dir/dockerd.log" 2>&1 3>&- &
		echo $! >"$dir/dockerd.pid"
		if wait_for 300 tmo "$DOCKER_CLI" -H "unix://$dir/d.sock" version; then
			return 0
		fi
		echo "# dockerd with $driver failed:" >&3
		tail -5 "$dir/dockerd.log" >&3
		kill_wait "$(cat "$dir/dockerd.pid")"
	done
	return 1
}

# dockerd_stop DIR: remove every container of the dockerd dockerd_start DIR started, then
# stop it (it stops its managed containerd on the way out) and kill what it left behind.
# The caller still owns DIR (cgroup_cleanup, cleanup_tmpdir).
dockerd_stop()
{
	local dir=$1 ids
	[ -f "$dir/dockerd.pid" ] || return 0
	ids=$(tmo "$DOCKER_CLI" -H "unix://$dir/d.sock" ps -aq 2>/dev/null)
	[ -z "$ids" ] || tmo "$DOCKER_CLI" -H "unix://$dir/d.sock" rm -f $ids >/dev/null 2>&1 || true
	kill_wait "$(cat "$dir/dockerd.pid" 2>/dev/null)" 30
	kill_leftovers "$dir"
}

# wait_for COUNT CMD...: retry CMD every 0.1 s up to COUNT times.
wait_for()
{
	local n=$1
	shift
	while [ "$n" -gt 0 ]; do
		"$@" >/dev/null 2>&1 && return 0
		sleep 0.1
		n=$((n - 1))
	done
	return 1
}

# kill_wait PID [SECONDS]: SIGTERM the pid, SIGKILL after SECONDS (default 15), wait it out.
kill_wait()
{
	local pid=$1 secs=${2:-15} i
	[ -n "$pid" ] || return 0
	kill -0 "$pid" 2>/dev/null || return 0
	kill -TERM "$pid" 2>/dev/null || true
	for ((i = 0; i < secs * 10; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -KILL "$pid" 2>/dev/null || true
	for ((i = 0; i < 50; i++)); do
		kill -0 "$pid" 2>/dev/null || return 0
		sleep 0.1
	done
}

# pids_mentioning STRING: pids whose command line contains STRING (our unique temp dir):
# the shims and conmons an engine started for us and left behind.
pids_mentioning()
{
	local p cmd
	for p in /proc/[0-9]*; do
		p=${p#/proc/}
		[ "$p" = $$ ] && continue
		cmd=$(tr '\0' ' ' 2>/dev/null <"/proc/$p/cmdline") || continue
		case $cmd in *"$1"*) echo "$p" ;; esac
	done
}

# kill_leftovers DIR: SIGKILL every process whose command line names DIR (shims, conmons),
# their direct children first (container inits: they name nothing of DIR, and a pid-ns init
# takes its whole namespace with it). All by pid.
kill_leftovers()
{
	local p c
	for p in $(pids_mentioning "$1"); do
		for c in $(ps -o pid= --ppid "$p" 2>/dev/null); do
			kill -KILL "$c" 2>/dev/null || true
		done
		kill -KILL "$p" 2>/dev/null || true
	done
}

# cgroup_snapshot FILE: record every cgroup dir now present (v1 hierarchies and unified).
cgroup_snapshot()
{
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort >"$1"
}

# cgroup_cleanup FILE [REGEX]: rmdir the cgroups created since cgroup_snapshot FILE (only
# those matching REGEX, e.g. '/(docker|libpod_parent)(/|$)' for what the peers make, so a
# benchmark beside other work leaves others' cgroups alone), deepest first; rmdir only removes
# empty ones, so nothing still in use is touched. Prints what it removed (a runtime that
# forgets its cgroups shows up here).
cgroup_cleanup()
{
	local d
	[ -f "$1" ] || return 0
	find /sys/fs/cgroup -mindepth 2 -type d 2>/dev/null | sort | comm -13 "$1" - |
		grep -E "${2:-.}" | sort -r | while read -r d; do
			rmdir "$d" 2>/dev/null && echo "# removed leftover cgroup $d" >&2
		done
	return 0
}

# umount_under DIR: unmount everything mounted at or below DIR, deepest first.
umount_under()
{
	local dir i m
	dir=$(realpath "$1" 2>/dev/null) || return 0
	for ((i = 0; i < 5; i++)); do
		# mountinfo field 5 is the mount point, octal-escaped (\040 for space).
		mapfile -t ms < <(awk -v d="$dir" '$5 == d || index($5, d "/") == 1 { print $5 }' \
			/proc/self/mountinfo | sort -r)
		[ ${#ms[@]} -eq 0 ] && return 0
		for m in "${ms[@]}"; do
			m=$(printf '%b' "$m")
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null || true
		done
	done
}

# cleanup_tmpdir DIR: after the engine is gone, drop its leftover processes, mounts and files.
cleanup_tmpdir()
{
	local dir=$1
	[ -n "$dir" ] && [ -d "$dir" ] || return 0
	kill_leftovers "$dir"
	umount_under "$dir"
	rm -rf "$dir" 2>/dev/null || { sleep 1; umount_under "$dir"; rm -rf "$dir"; }
}

# make_image OUT.tar [FORMAT]: the busybox image archive (tools/mkimage.sh).
make_image()
{
	"$REPO/tools/mkimage.sh" -f "${2:-both}" -n "$IMAGE_NAME" "$1" >/dev/null
}

# with_tty CMD...: run CMD on a fresh pseudo-terminal (script(1)); output lands in $output
# with the tty's \r removed. Exit status is CMD's (script -e).
with_tty()
{
	local q
	q=$(printf '%q ' "$@")
	tmo script -qefc "$q" /dev/null </dev/null
}

# strip_cr: the tty's line endings (runc's pty has no ONLCR, crun's has) made plain, and the
# "^@" echo of the NUL that script(1) writes to the pty when its stdin hits EOF removed.
strip_cr()
{
	tr -d '\r' | sed 's/\^@//g'
}

# memory_limit_of PID: the v1 memory cgroup limit of PID, in bytes.
memory_limit_of()
{
	local cg
	cg=$(awk -F: '$2 == "memory" { print $3 }' "/proc/$1/cgroup")
	cat "/sys/fs/cgroup/memory$cg/memory.limit_in_bytes"
}

# cgroup_freezer_state PID: FROZEN/THAWED from the v1 freezer of PID.
freezer_state_of()
{
	local cg
	cg=$(awk -F: '$2 == "freezer" { print $3 }' "/proc/$1/cgroup")
	cat "/sys/fs/cgroup/freezer$cg/freezer.state"
}

# proc_state PID: the one-letter state from /proc/PID/stat (S, R, D, T, Z ...).
proc_state()
{
	awk '{ print $3 }' "/proc/$1/stat"
}
