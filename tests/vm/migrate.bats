#!/usr/bin/env bats
# keel vm migrate / receive: pre-copy live migration with a memory-dirtying guest.
load helpers

setup_file() { vm_setup_file; }
teardown() {
	# a receiver still waiting (the test failed before the migration) is ours to end
	if [ -n "${RECV_PID:-}" ] && tr '\0' ' ' <"/proc/$RECV_PID/cmdline" 2>/dev/null |
		grep -q "vm receive"; then
		kill -9 "$RECV_PID" 2>/dev/null
	fi
	RECV_PID=
	# the namespaces a test made (teardown_file runs elsewhere and never sees them)
	[ -n "${NSA:-}" ] && ip netns del "$NSA" 2>/dev/null
	[ -n "${NSB:-}" ] && ip netns del "$NSB" 2>/dev/null
	NSA= NSB=
	return 0
}

teardown_file() {
	[ -n "${NSA:-}" ] && ip netns del "$NSA" 2>/dev/null
	[ -n "${NSB:-}" ] && ip netns del "$NSB" 2>/dev/null
	vm_teardown_file
}

# receive_bg ROOT ADDR NAME [NETNS]: starts a receiver in the background; waits until it listens.
receive_bg() {
	local ns=()
	[ -n "${4:-}" ] && ns=(ip netns exec "$4")
	KEEL_ROOT="$1" "${ns[@]}" "$KEEL" vm receive --listen "$2" --name "$3" \
		>"$BATS_TEST_TMPDIR/recv.out" 2>&1 3>&- &
	RECV_PID=$!
	for _ in $(seq 100); do
		grep -q listening "$BATS_TEST_TMPDIR/recv.out" && return 0
		sleep 0.05
	done
	return 1
}

@test "migrate on loopback: the guest keeps counting with every page verified" {
	dst="$KEEL_ROOT/dst"
	"$KEEL" vm run -d --name m1 --memory 256M --kernel "$GUESTS/counter.elf" \
		--cmdline "mem_mb=128 dirty_mbps=50"
	wait_log m1 "COUNT 5 OK"
	receive_bg "$dst" 127.0.0.1:7781 m1b
	run "$KEEL" vm migrate m1 --to 127.0.0.1:7781 --max-downtime 50ms
	echo "# ${lines[-1]}" >&3
	[ "$status" -eq 0 ]
	[[ "${lines[-1]}" =~ ^migrated\ m1:\ rounds=[0-9]+\ sent=[0-9]+\ total=[0-9]+ms\ downtime=[0-9]+ms$ ]]
	wait $RECV_PID
	# ten more verified passes on the destination, counted from where it took over (the
	# source's last line and the destination's first agree up to the lines in flight)
	n=$(last_count m1)
	KEEL_ROOT="$dst" wait_log m1b "^COUNT [0-9]* OK"
	m=$(KEEL_ROOT="$dst" "$KEEL" vm logs m1b | awk '/^COUNT/ {print $2; exit}')
	if ((m > n)); then n=$m; fi
	KEEL_ROOT="$dst" wait_log m1b "COUNT $((n + 10)) OK"
	! KEEL_ROOT="$dst" "$KEEL" vm logs m1b | grep -q CORRUPT
	[ "$("$KEEL" vm inspect m1 | jq -r .state)" = stopped ]
	KEEL_ROOT="$dst" "$KEEL" vm rm -f m1b
}

@test "a migration cut off halfway leaves the source guest running" {
	"$KEEL" vm run -d --name m2 --memory 256M --kernel "$GUESTS/counter.elf" \
		--cmdline "mem_mb=64"
	wait_log m2 "COUNT 2 OK"
	# a destination that takes 1 MiB and hangs up
	python3 -c '
import socket; s = socket.socket(); s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("127.0.0.1", 7782)); s.listen(1); print("listening", flush=True); c, _ = s.accept()
got = 0
while got < (1 << 20):
    d = c.recv(65536)
    if not d: break
    got += len(d)
c.close()' >"$BATS_TEST_TMPDIR/cut.out" 3>&- &
	for _ in $(seq 100); do grep -q listening "$BATS_TEST_TMPDIR/cut.out" && break; sleep 0.05; done
	run "$KEEL" vm migrate m2 --to 127.0.0.1:7782
	[ "$status" -eq 1 ] && [[ "$output" == *"keeps running here"* ]]
	n=$(last_count m2)
	wait_log m2 "COUNT $((n + 3)) OK"
	[ "$("$KEEL" vm inspect m2 | jq -r .state)" = running ]
	run "$KEEL" vm migrate m2 --to 127.0.0.1:1   # nobody listens
	[ "$status" -eq 1 ]
	"$KEEL" vm rm -f m2
}

@test "a stream that lies is refused by the receiver, which leaves nothing behind" {
	dst="$KEEL_ROOT/dst-lie"
	receive_bg "$dst" 127.0.0.1:7783 liar
	python3 -c '
import socket, struct; s = socket.create_connection(("127.0.0.1", 7783))
s.sendall(struct.pack("<IIQ", 1, 0, 20) + b"KEELMIG1" + struct.pack("<Q", 1 << 40) + b"{}{}")'
	run wait $RECV_PID
	[ "$status" -eq 1 ]
	[[ "$(cat "$BATS_TEST_TMPDIR/recv.out")" == *"bad header"* ]]
	[ -z "$(ls "$dst/vms" 2>/dev/null)" ]
}

@test "migrate between two network namespaces joined by a veth pair" {
	command -v ip >/dev/null || skip "no iproute2"
	export NSA="keelvmA$$" NSB="keelvmB$$"
	ip netns add "$NSA" && ip netns add "$NSB"
	ip link add "kva$$" netns "$NSA" type veth peer name "kvb$$" netns "$NSB"
	ip -n "$NSA" addr add 10.231.0.1/24 dev "kva$$" && ip -n "$NSA" link set "kva$$" up
	ip -n "$NSB" addr add 10.231.0.2/24 dev "kvb$$" && ip -n "$NSB" link set "kvb$$" up
	ip -n "$NSA" link set lo up && ip -n "$NSB" link set lo up
	src="$KEEL_ROOT/hostA" dst="$KEEL_ROOT/hostB"
	KEEL_ROOT="$src" ip netns exec "$NSA" "$KEEL" vm run -d --name n1 --memory 256M \
		--kernel "$GUESTS/counter.elf" --cmdline "mem_mb=96 dirty_mbps=50" 3>&-
	KEEL_ROOT="$src" wait_log n1 "COUNT 3 OK"
	receive_bg "$dst" 10.231.0.2:7790 n1 "$NSB"
	run env KEEL_ROOT="$src" "$KEEL" vm migrate n1 --to 10.231.0.2:7790
	echo "# ${lines[-1]}" >&3
	[ "$status" -eq 0 ]
	wait $RECV_PID
	n=$(KEEL_ROOT="$src" last_count n1)
	KEEL_ROOT="$dst" wait_log n1 "COUNT $((n + 10)) OK"
	! KEEL_ROOT="$dst" "$KEEL" vm logs n1 | grep -q CORRUPT
	KEEL_ROOT="$dst" "$KEEL" vm rm -f n1
	KEEL_ROOT="$src" "$KEEL" vm rm -f n1
}
