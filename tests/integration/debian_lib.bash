# For debian.bats: a debootstrap'ed Debian image (tools/make-debian-image.sh) in this file's
# private store, and the pty helpers the interactive tests use. Loads container_lib (the k/kq
# helpers, per-test removal of every container with leftover checks).

load container_lib

# container_lib's teardown, kept under another name: ours wraps it.
eval "container_teardown() $(declare -f teardown | tail -n +2)"

# setup_file: the container tests' private roots, then the Debian image. The rootfs tarball is
# cached by the script (/var/cache/keel-test/debian, or $KEEL_TEST_CACHE); a cold debootstrap
# takes 35-55 s here. No mirror and no cache: every test is skipped, with the reason (bats
# 1.8 cannot skip from setup_file: the reason goes to setup, which skips each test).
setup_file() {
	export DEBIAN_SKIP=
	if [[ $(id -u) -ne 0 ]]; then
		DEBIAN_SKIP="integration tests need root"
		return 0
	fi
	export KEEL_ROOT=$BATS_FILE_TMPDIR/root KEEL_RUN_ROOT=$BATS_FILE_TMPDIR/run
	local rc=0 log=$BATS_FILE_TMPDIR/make-debian-image.log
	"$REPO/tools/make-debian-image.sh" >"$BATS_FILE_TMPDIR/debian.id" 2>"$log" || rc=$?
	if ((rc == 77)); then
		DEBIAN_SKIP=$(sed -n 's/^make-debian-image: SKIP: //p' "$log")
		DEBIAN_SKIP=${DEBIAN_SKIP:-no Debian image}
		return 0
	fi
	if ((rc != 0)); then
		cat "$log" >&2
		return 1
	fi
	DEBIAN_ID=$(cat "$BATS_FILE_TMPDIR/debian.id")
	export DEBIAN_ID
}

setup() {
	[[ -z $DEBIAN_SKIP ]] || skip "$DEBIAN_SKIP"
}

# The PATH of the official image (and dockerd's default).
# shellcheck disable=SC2034 # used by debian.bats
DEB_PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin

# in_tmux NAME COMMAND: runs COMMAND in a new tmux session (its own server, 100x30) for the
# interactive tests. tmux_screen prints what the window shows; tmux_wait REGEX waits for it.
in_tmux() {
	command -v tmux >/dev/null || skip "tmux not installed"
	TMUX_SOCK=keel-deb-$$-$1
	tmux -L "$TMUX_SOCK" new-session -d -x 100 -y 30 "$2; echo \"[exit \$?]\"; sleep 60"
}

tmux_screen() {
	tmux -L "$TMUX_SOCK" capture-pane -p -S -100
}

tmux_keys() {
	tmux -L "$TMUX_SOCK" send-keys "$@"
}

# tmux_wait SECONDS REGEX: the screen (lines trimmed of trailing blanks) matches the
# extended REGEX (grep -E, per line).
tmux_wait() {
	local deadline=$((SECONDS + $1))
	until tmux_screen | sed 's/[[:space:]]*$//' | grep -Eq -- "$2"; do
		if ((SECONDS > deadline)); then
			echo "screen:" >&2
			tmux_screen >&2
			fail "timed out waiting for /$2/ on the screen"
			return 1
		fi
		sleep 0.05
	done
}

tmux_kill() {
	if [[ -n ${TMUX_SOCK:-} ]]; then
		tmux -L "$TMUX_SOCK" kill-server 2>/dev/null
		rm -f "${TMUX_TMPDIR:-/tmp}/tmux-$(id -u)/$TMUX_SOCK"
	fi
	TMUX_SOCK=
	return 0
}

# The container tests' teardown, plus any tmux server a failed test left.
teardown() {
	tmux_kill
	[[ -n $DEBIAN_SKIP ]] || container_teardown
}
