#!/usr/bin/env bats
# Bad input (issue 6, section 5) beyond the cases in lifecycle.bats, snapshot.bats and
# migrate.bats: one clear line, exit 1, no hung VMM, nothing left behind.
load helpers

setup_file() { vm_setup_file; }
teardown_file() { vm_teardown_file; }

no_vms() { [ -z "$(ls "$KEEL_ROOT/vms" 2>/dev/null)" ]; }

@test "a truncated ELF kernel" {
	head -c 300 "$GUESTS/counter.elf" >"$BATS_TEST_TMPDIR/trunc.elf"
	run "$KEEL" vm run --rm --kernel "$BATS_TEST_TMPDIR/trunc.elf"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"truncated"* ]]
	no_vms
}

@test "an ELF without a PVH note, and a bzImage older than the 64-bit boot protocol" {
	cp /bin/true "$BATS_TEST_TMPDIR/plain.elf"
	run "$KEEL" vm run -d --kernel "$BATS_TEST_TMPDIR/plain.elf"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"does not fit guest memory"* || "$output" == *"PVH entry note"* ]]
	python3 -c '
import sys; h = bytearray(8192); h[0x1f1] = 4; h[0x202:0x206] = b"HdrS"
h[0x206:0x208] = (0x20a).to_bytes(2, "little"); open(sys.argv[1], "wb").write(h)' \
		"$BATS_TEST_TMPDIR/old.bzImage"
	run "$KEEL" vm run --rm --kernel "$BATS_TEST_TMPDIR/old.bzImage"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"no 64-bit entry"* ]]
	# protocol 2.15 with a 64-bit entry, but init_size (room to unpack) of 1 GiB
	python3 -c '
import sys; h = bytearray(8192); h[0x1f1] = 4; h[0x201] = 0x66; h[0x202:0x206] = b"HdrS"
h[0x206:0x208] = (0x20f).to_bytes(2, "little"); h[0x236] = 1
h[0x260:0x264] = (1 << 30).to_bytes(4, "little"); open(sys.argv[1], "wb").write(h)' \
		"$BATS_TEST_TMPDIR/big.bzImage"
	run "$KEEL" vm run --rm --kernel "$BATS_TEST_TMPDIR/big.bzImage"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"needs 1026 MiB of memory to unpack"* ]]
	no_vms
}

@test "a snapshot whose state.bin carries another format version (checksums right)" {
	"$KEEL" vm run -d --name v1 --memory 64M --kernel "$GUESTS/counter.elf" --cmdline mem_mb=8
	wait_log v1 "COUNT 1 OK"
	"$KEEL" vm snapshot v1 "$KEEL_ROOT/snap"
	"$KEEL" vm rm -f v1
	python3 -c '
import json, sys, zlib
d = sys.argv[1]; b = bytearray(open(d + "/state.bin", "rb").read())
b[8:12] = (7).to_bytes(4, "little"); open(d + "/state.bin", "wb").write(b)
m = json.load(open(d + "/manifest.json")); m["state_crc32"] = zlib.crc32(b)
json.dump(m, open(d + "/manifest.json", "w"))' "$KEEL_ROOT/snap"
	run "$KEEL" vm restore "$KEEL_ROOT/snap" --name v2
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"VM state version 7, this keel reads version 1"* ]]
	run "$KEEL" vm restore "$KEEL_ROOT/nonexistent" --name v3
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	no_vms
}

# recv_lie PORT PYTHON: a receiver, then a source that sends what PYTHON writes to socket s;
# prints the receiver's exit status and output; fails when it left a VM directory behind.
recv_lie() {
	dst="$KEEL_ROOT/dst-$1"
	KEEL_ROOT="$dst" timeout 30 "$KEEL" vm receive --listen "127.0.0.1:$1" \
		>"$BATS_TEST_TMPDIR/recv.out" 2>&1 3>&- &
	pid=$!
	for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/recv.out" && break; sleep 0.05; done
	python3 -c "
import socket, struct, time, json
s = socket.create_connection(('127.0.0.1', $1))
cfg = json.dumps({'kernel': 'x', 'cpus': 1, 'memory': 64 << 20}).encode()
hdr = b'KEELMIG1' + struct.pack('<Q', 64 << 20) + cfg
s.sendall(struct.pack('<IIQ', 1, 0, len(hdr)) + hdr)
$2"
	wait $pid
	echo "status=$?"
	cat "$BATS_TEST_TMPDIR/recv.out"
	[ -z "$(ls "$dst/vms" 2>/dev/null)" ]
}

@test "migration streams that lie: a page outside guest memory, no state, garbage, silence" {
	run recv_lie 7795 "s.sendall(struct.pack('<IIQ', 2, 1, 4104) + struct.pack('<Q', 1 << 40) + bytes(4096)); time.sleep(1)"
	[ "$status" -eq 0 ] && [ "${lines[0]}" = status=1 ] && [ "${#lines[@]}" -eq 3 ]
	[[ "$output" == *"page outside guest memory"* ]]
	run recv_lie 7796 "s.sendall(struct.pack('<IIQ', 4, 0, 0)); time.sleep(1)"
	[ "$status" -eq 0 ] && [ "${lines[0]}" = status=1 ]
	[[ "$output" == *"ended without state"* ]]
	run recv_lie 7797 "s.sendall(struct.pack('<IIQ', 3, 0, 64) + bytes(64)); time.sleep(1)"
	[ "$status" -eq 0 ] && [ "${lines[0]}" = status=1 ]
	[[ "$output" == *"not a keel VM state"* ]]
	run recv_lie 7798 "s.sendall(struct.pack('<IIQ', 99, 0, 0)); time.sleep(1)"
	[ "$status" -eq 0 ] && [ "${lines[0]}" = status=1 ]
	[[ "$output" == *"unknown record 99"* ]]
	# a source that goes silent mid-stream: the receiver gives up instead of hanging
	run recv_lie 7799 "time.sleep(12)"
	[ "$status" -eq 0 ] && [ "${lines[0]}" = status=1 ]
	[[ "$output" == *"no data for 10 s"* ]]
}
