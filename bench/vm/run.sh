#!/usr/bin/env bash
# bench/vm: keel vm side by side with qemu-system-x86_64 -accel kvm -M microvm, same guest ELF,
# memory and command line. Prints medians. Usage: bench/vm/run.sh [RUNS] (default 11).
set -u
REPO="$(cd "$(dirname "$0")/../.." && pwd)"
KEEL="${KEEL:-$REPO/build/keel}"
G="$REPO/build/guests"
RUNS="${1:-11}"
export KEEL_ROOT="$(mktemp -d /tmp/keel-vm-bench.XXXXXX)"
trap 'for p in "$KEEL_ROOT"/vms/*/vmm.pid; do [ -f "$p" ] && kill -9 "$(cat "$p")" 2>/dev/null; done; rm -rf "$KEEL_ROOT"' EXIT

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }
ms_since() { echo "$(( ($(date +%s%N) - $1) / 1000 ))" | awk '{printf "%.1f\n", $1 / 1000}'; }

# time from process start to MARKER-INIT on the console (ms)
# (QEMU's microvm has no i8042 reset, so the process is ended by pid once the marker shows.)
start_to_marker() {
	local t0=$(date +%s%N) pidf="$KEEL_ROOT/pid"
	{ "$@" 2>/dev/null </dev/null & echo $! >"$pidf"; wait; } | grep -m1 -q MARKER-INIT
	ms_since "$t0"
	kill "$(cat "$pidf")" 2>/dev/null || true
	wait 2>/dev/null || true
}

QEMU=(qemu-system-x86_64 -accel kvm -M microvm -m 256M -nodefaults -no-user-config -nographic
      -serial stdio -no-reboot -kernel "$G/hello.elf")
echo "start-to-marker (hello.elf, 256M, median of $RUNS, ms):"
k=$(for i in $(seq "$RUNS"); do start_to_marker "$KEEL" vm run --rm --memory 256M --kernel "$G/hello.elf"; done | median)
echo "  keel  $k"
if command -v qemu-system-x86_64 >/dev/null; then
	q=$(for i in $(seq "$RUNS"); do start_to_marker "${QEMU[@]}"; done | median)
	echo "  qemu  $q"
fi

echo "VMM RSS beyond guest memory (counter.elf mem_mb=16, 256M guest, kB):"
"$KEEL" vm run -d --name rss --memory 256M --kernel "$G/counter.elf" --cmdline "mem_mb=16" >/dev/null
sleep 1
pid=$(cat "$KEEL_ROOT/vms/rss/vmm.pid")
anon=$(awk '/RssAnon/ {print $2}' /proc/$pid/status); file=$(awk '/RssFile/ {print $2}' /proc/$pid/status)
echo "  keel  RssAnon=$anon RssFile=$file (guest touches ~$((16 * 1024 + 100)) kB)"

for mem in 256M 1G; do
	mb=$([ $mem = 1G ] && echo 900 || echo 200)
	"$KEEL" vm run -d --name s$mem --memory $mem --kernel "$G/counter.elf" --cmdline "mem_mb=$mb dirty_mbps=0" >/dev/null
	sleep 2
	snap=$(for i in $(seq 3); do rm -rf "$KEEL_ROOT/snap$mem"; "$KEEL" vm snapshot s$mem "$KEEL_ROOT/snap$mem" --leave-running | sed 's/.*(\([0-9.]*\) ms.*/\1/'; done | median)
	rest=$(for i in $(seq 5); do t0=$(date +%s%N); "$KEEL" vm restore "$KEEL_ROOT/snap$mem" --name r$mem$i >/dev/null; ms_since $t0; "$KEEL" vm rm -f r$mem$i >/dev/null; done | median)
	echo "snapshot $mem (${mb} MiB written): ${snap} ms; restore (CLI to running, detached): ${rest} ms"
	"$KEEL" vm rm -f s$mem >/dev/null
done

echo "live migration, loopback, 256M guest, mem_mb=200:"
for rate in 0 50; do
	for i in 1 2 3; do
		"$KEEL" vm run -d --name mg --memory 256M --kernel "$G/counter.elf" --cmdline "mem_mb=200 dirty_mbps=$rate" >/dev/null
		sleep 1.5
		KEEL_ROOT="$KEEL_ROOT/dst" "$KEEL" vm receive --listen 127.0.0.1:7801 --name mg >/dev/null 2>&1 &
		sleep 0.3
		"$KEEL" vm migrate mg --to 127.0.0.1:7801 | tail -1
		wait
		KEEL_ROOT="$KEEL_ROOT/dst" "$KEEL" vm rm -f mg >/dev/null
		"$KEEL" vm rm -f mg >/dev/null
	done | sed "s/^/  dirty_mbps=$rate: /"
done
