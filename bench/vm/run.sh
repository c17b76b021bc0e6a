#!/usr/bin/env bash
# bench/vm: keel vm side by side with qemu-system-x86_64 -accel kvm -M microvm (same guest ELF,
# memory and command line). Needs root, /dev/kvm and a built tree (ninja -C build).
# Usage: bench/vm/run.sh [--runs N] [--quick] [--json FILE]     (see bench/README.md, "vm")
set -eu
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
if ! command -v qemu-system-x86_64 >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
	apt-get install -y -q qemu-system-x86 >/dev/null || echo "bench/vm: could not install QEMU; keel only" >&2
fi
exec python3 "$REPO/bench/vm/bench.py" "$@"
