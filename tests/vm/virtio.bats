#!/usr/bin/env bats
# virtio-mmio block and net devices, driven by build/guests/virtio.elf (a tiny virtio driver
# that finds its devices from the virtio_mmio.device= words keel adds to the command line).
# Network tests run only inside network namespaces this file creates.
load helpers

setup_file() {
	vm_setup_file
	command -v ip >/dev/null || skip "no iproute2"
	export NS="keelvio$$"
	ip netns add "$NS"
	ip -n "$NS" link set lo up
}
teardown_file() {
	vm_teardown_file
	[ -n "${NS:-}" ] && ip netns del "$NS" 2>/dev/null || true
}

# disk FILE: 1 MiB raw image whose sector 0 starts with a known line.
disk() {
	printf 'HELLO-FROM-SECTOR-ZERO\n' >"$1"
	truncate -s 1M "$1"
}

# in_ns CMD...: runs CMD in the test's network namespace (fd 3 closed for bats).
in_ns() { ip netns exec "$NS" "$@" 3>&-; }

# tap_exists NAME
tap_exists() { ip -n "$NS" link show "$1" >/dev/null 2>&1; }

@test "virtio-blk rw: the guest reads sector 0 and its write of sector 1 reaches the file" {
	disk "$BATS_TEST_TMPDIR/rw.img"
	run "$KEEL" vm run --rm --kernel "$GUESTS/virtio.elf" --disk "$BATS_TEST_TMPDIR/rw.img" \
		--cmdline blk_write
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "BLK capacity=2048 ro=0" ]
	[ "${lines[1]}" = "SECTOR0 HELLO-FROM-SECTOR-ZERO" ]
	[ "${lines[2]}" = "WRITE status=0" ]
	[ "${lines[3]}" = "SECTOR1 KEEL-GUEST-WROTE-SECTOR-1" ]
	[ "$(dd if="$BATS_TEST_TMPDIR/rw.img" bs=512 skip=1 count=1 2>/dev/null | tr -d '\0')" = \
		KEEL-GUEST-WROTE-SECTOR-1 ]
}

@test "virtio-blk ro: the device says read-only and refuses the write; the file is unchanged" {
	disk "$BATS_TEST_TMPDIR/ro.img"
	sum=$(sha256sum <"$BATS_TEST_TMPDIR/ro.img")
	run "$KEEL" vm run --rm --kernel "$GUESTS/virtio.elf" \
		--disk "$BATS_TEST_TMPDIR/ro.img,ro" --cmdline blk_write
	[ "$status" -eq 0 ]
	[ "${lines[0]}" = "BLK capacity=2048 ro=1" ]
	[ "${lines[1]}" = "SECTOR0 HELLO-FROM-SECTOR-ZERO" ]
	[ "${lines[2]}" = "WRITE status=1" ]   # VIRTIO_BLK_S_IOERR
	[ "${lines[3]}" = "SECTOR1 " ]
	[ "$(sha256sum <"$BATS_TEST_TMPDIR/ro.img")" = "$sum" ]
}

@test "virtio-net: a frame the guest sends comes out of the tap, and the tap goes with the VM" {
	in_ns python3 -c '
import socket, sys
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(0x88b5))
s.settimeout(15); print("ready", flush=True)
d, a = s.recvfrom(65535)
print("if=%s src=%s payload=%s" % (a[0], d[6:12].hex(":"), d[14:28].decode()), flush=True)' \
		>"$BATS_TEST_TMPDIR/cap.out" 2>&1 &
	cap=$!
	for _ in $(seq 100); do grep -q ready "$BATS_TEST_TMPDIR/cap.out" && break; sleep 0.05; done
	run in_ns "$KEEL" vm run --rm --name net1 --kernel "$GUESTS/virtio.elf" --net tap:kvio0
	[ "$status" -eq 0 ]
	[[ "${lines[0]}" =~ ^NET\ mac=(02:4b:[0-9a-f:]{11})\ tx=ok$ ]]
	mac=${BASH_REMATCH[1]}
	wait $cap
	[ "$(tail -1 "$BATS_TEST_TMPDIR/cap.out")" = "if=kvio0 src=$mac payload=KEEL-NET-FRAME" ]
	! tap_exists kvio0
}

@test "virtio-net: a frame sent into the tap reaches the guest" {
	in_ns "$KEEL" vm run -d --name net2 --kernel "$GUESTS/virtio.elf" --net tap:kvio1 \
		--cmdline net_rx
	wait_log net2 "tx=ok"
	tap_exists kvio1
	in_ns python3 -c '
import socket
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW); s.bind(("kvio1", 0))
s.send(b"\xff" * 6 + b"\x02\0\0\0\0\x01" + b"\x88\xb5" + b"HELLO-GUEST-FROM-TAP".ljust(46, b"\0"))'
	wait_log net2 "NET rx"
	run "$KEEL" vm logs net2
	[[ "$output" == *"NET rx len=72 HELLO-GUEST-FROM-TAP"* ]]
	"$KEEL" vm rm -f net2
	! tap_exists kvio1
}

@test "the tap is removed on stop, on rm -f and when the VMM is killed" {
	in_ns "$KEEL" vm run -d --name net3 --kernel "$GUESTS/virtio.elf" --net tap:kvio3 \
		--cmdline net_rx
	wait_log net3 "tx=ok"
	tap_exists kvio3
	"$KEEL" vm stop net3
	! tap_exists kvio3
	in_ns "$KEEL" vm start net3
	wait_log net3 "tx=ok"
	tap_exists kvio3
	kill -9 "$(cat "$KEEL_ROOT/vms/net3/vmm.pid")"
	for _ in $(seq 100); do
		[ "$("$KEEL" vm inspect net3 | jq -r .state)" = running ] || break
		sleep 0.05
	done
	! tap_exists kvio3
	in_ns "$KEEL" vm start net3
	wait_log net3 "tx=ok"
	"$KEEL" vm rm -f net3
	! tap_exists kvio3
	[ -z "$(ip -n "$NS" -o link show type tun)" ]
}

@test "device state survives snapshot/restore and live migration (queues continue)" {
	disk "$BATS_TEST_TMPDIR/loop.img"
	"$KEEL" vm run -d --name b1 --kernel "$GUESTS/virtio.elf" \
		--disk "$BATS_TEST_TMPDIR/loop.img" --cmdline blk_loop
	wait_log b1 "LOOP 3 HELLO"
	"$KEEL" vm snapshot b1 "$KEEL_ROOT/snap-blk"
	n=$("$KEEL" vm logs b1 | awk '/^LOOP/ {n = $2} END {print n}')
	"$KEEL" vm restore "$KEEL_ROOT/snap-blk" --name b2
	wait_log b2 "LOOP $((n + 3)) HELLO-FROM-SECTO"
	[ "$("$KEEL" vm logs b2 | head -1)" = "LOOP $((n + 1)) HELLO-FROM-SECTO" ]
	! "$KEEL" vm logs b2 | grep -v 'HELLO-FROM-SECTO$'
	"$KEEL" vm rm -f b2
	"$KEEL" vm resume b1
	dst="$KEEL_ROOT/dst"
	KEEL_ROOT="$dst" "$KEEL" vm receive --listen 127.0.0.1:7791 --name b1 \
		>"$BATS_TEST_TMPDIR/recv.out" 2>&1 3>&- &
	for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/recv.out" && break; sleep 0.05; done
	run "$KEEL" vm migrate b1 --to 127.0.0.1:7791
	[ "$status" -eq 0 ]
	wait
	n=$("$KEEL" vm logs b1 | awk '/^LOOP/ {n = $2} END {print n}')
	KEEL_ROOT="$dst" wait_log b1 "LOOP $((n + 3)) HELLO-FROM-SECTO"
	! KEEL_ROOT="$dst" "$KEEL" vm logs b1 | grep -v 'HELLO-FROM-SECTO$'
	KEEL_ROOT="$dst" "$KEEL" vm rm -f b1
	"$KEEL" vm rm -f b1
}

@test "bad device input: one clear line, exit 1, no VM and no tap left behind" {
	run "$KEEL" vm run --kernel "$GUESTS/virtio.elf" --disk /nonexistent/disk.img
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"virtio-blk /nonexistent/disk.img: No such file"* ]]
	run "$KEEL" vm run --kernel "$GUESTS/virtio.elf" --disk /dev/null
	[ "$status" -eq 1 ] && [[ "$output" == *"not a regular file"* ]]
	run "$KEEL" vm run --kernel "$GUESTS/virtio.elf" --net bridge0
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *"--net must be"* ]]
	# the tap exists by the time the kernel is found to be junk: it must go again
	head -c 4096 /dev/urandom >"$BATS_TEST_TMPDIR/junk"
	run in_ns "$KEEL" vm run -d --kernel "$BATS_TEST_TMPDIR/junk" --net tap:kvio9
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"neither a PVH ELF nor a bzImage"* ]]
	! tap_exists kvio9
	run in_ns "$KEEL" vm run --kernel "$GUESTS/virtio.elf" --net tap:this-name-is-too-long
	[ "$status" -eq 1 ] && [[ "$output" == *"tap name"* ]]
	[ -z "$(ls "$KEEL_ROOT/vms" | grep -v -e '^b1$' -e '^net3$')" ]
	[ -z "$(ip -n "$NS" -o link show type tun)" ]
}
