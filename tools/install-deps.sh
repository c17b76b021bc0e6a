#!/bin/sh
# Installs what keel needs to build and test, from Debian's mirror, only when missing.
# Called by `make demo` and `make test`; safe to run again.
set -eu
build="meson ninja-build pkg-config gcc libc6-dev libjansson-dev libseccomp-dev libcap-dev
libcmocka-dev libsqlite3-dev libarchive-dev libssl-dev libcurl4-openssl-dev zlib1g-dev busybox-static python3"
test="bats jq sqlite3 skopeo docker-registry apache2-utils curl openssl runc crun containerd docker.io podman conmon buildah debootstrap iproute2 util-linux procps file tmux strace"
want="$build"
[ "${1:-}" = "--test" ] && want="$build $test"
missing=""
for p in $want; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' ||
		missing="$missing $p"
done
[ -z "$missing" ] && exit 0
echo "install-deps: installing$missing"
export DEBIAN_FRONTEND=noninteractive
# Services must not start on install (dockerd/containerd are started by the tests, privately).
if [ ! -e /usr/sbin/policy-rc.d ]; then
	printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
	chmod +x /usr/sbin/policy-rc.d
	trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
# shellcheck disable=SC2086
apt-get install -y -q --no-install-recommends $missing >/dev/null 2>&1 || {
	apt-get update -q >/dev/null
	apt-get install -y -q --no-install-recommends $missing >/dev/null
}
