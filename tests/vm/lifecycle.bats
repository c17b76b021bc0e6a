#!/usr/bin/env bats
# keel vm: boot, the console, VMs as files, bad input.
load helpers

setup_file() { vm_setup_file; }
teardown_file() { vm_teardown_file; }

@test "hello.elf prints MARKER-INIT and its reset ends the VM with 0" {
	run "$KEEL" vm run --rm --kernel "$GUESTS/hello.elf"
	[ "$status" -eq 0 ]
	[ "$output" = "MARKER-INIT" ]
	[ -z "$(ls "$KEEL_ROOT/vms" 2>/dev/null)" ]
}

@test "create writes config.json; start -a runs it; inspect shows it stopped with 0" {
	run "$KEEL" vm create h1 --kernel "$GUESTS/hello.elf" --memory 64M --cpus 2 --cmdline "a=b"
	[ "$status" -eq 0 ]
	run jq -r '.memory, .cpus, .cmdline' "$KEEL_ROOT/vms/h1/config.json"
	[ "${lines[0]}" = 67108864 ] && [ "${lines[1]}" = 2 ] && [ "${lines[2]}" = "a=b" ]
	run "$KEEL" vm start h1 -a
	[ "$status" -eq 0 ]
	[[ "$output" == *MARKER-INIT* ]]
	run "$KEEL" vm inspect h1
	[ "$(echo "$output" | jq -r .state)" = stopped ]
	[ "$(echo "$output" | jq -r .exit.status)" = 0 ]
	run "$KEEL" vm create h1 --kernel "$GUESTS/hello.elf"
	[ "$status" -eq 1 ]
	[[ "$output" == *"already exists"* ]]
}

@test "a detached counter VM: ls, logs, logs -f, pause/resume, stop, rm" {
	run "$KEEL" vm run -d --name c1 --kernel "$GUESTS/counter.elf" --cmdline "mem_mb=32"
	[ "$status" -eq 0 ] && [ "$output" = c1 ]
	wait_log c1 "COUNT 3 OK"
	run "$KEEL" vm ls
	[[ "$output" =~ c1\ +running ]]
	run "$KEEL" vm rm c1
	[ "$status" -eq 1 ]
	"$KEEL" vm pause c1
	[ "$("$KEEL" vm inspect c1 | jq -r .state)" = paused ]
	a=$(last_count c1); sleep 0.5; b=$(last_count c1)
	[ "$a" = "$b" ]
	"$KEEL" vm resume c1
	wait_log c1 "COUNT $((b + 2)) OK"
	run timeout 2 "$KEEL" vm logs -f c1
	[ "$status" -eq 124 ]
	run "$KEEL" vm stop c1
	[ "$status" -eq 0 ]
	[ "$("$KEEL" vm inspect c1 | jq -r .state)" = stopped ]
	run "$KEEL" vm logs -f c1   # a stopped VM: -f returns
	[ "$status" -eq 0 ]
	"$KEEL" vm rm c1
	[ ! -e "$KEEL_ROOT/vms/c1" ]
}

@test "stop --force kills the VMM; rm -f removes a running VM" {
	"$KEEL" vm run -d --name k1 --kernel "$GUESTS/counter.elf" --cmdline "mem_mb=16"
	pid=$(cat "$KEEL_ROOT/vms/k1/vmm.pid")
	"$KEEL" vm stop --force k1
	! kill -0 "$pid" 2>/dev/null
	"$KEEL" vm start k1
	pid=$(cat "$KEEL_ROOT/vms/k1/vmm.pid")
	"$KEEL" vm rm -f k1
	! kill -0 "$pid" 2>/dev/null
	[ ! -e "$KEEL_ROOT/vms/k1" ]
}

@test "--root moves the VM directories" {
	other=$(mktemp -d)
	run "$KEEL" vm --root "$other" create r1 --kernel "$GUESTS/hello.elf"
	[ "$status" -eq 0 ]
	[ -f "$other/vms/r1/config.json" ]
	[ ! -e "$KEEL_ROOT/vms/r1" ]
	rm -rf "$other"
}

@test "bad input: one clear line, exit 1, nothing left behind" {
	run "$KEEL" vm run --kernel /nonexistent/kernel
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "${output,,}" == *"no such file"* ]]
	head -c 4096 /dev/urandom > "$BATS_TEST_TMPDIR/junk"
	run "$KEEL" vm run -d --kernel "$BATS_TEST_TMPDIR/junk"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"neither a PVH ELF nor a bzImage"* ]]
	head -c 40000000 /dev/zero > "$BATS_TEST_TMPDIR/big.img"
	run "$KEEL" vm run --kernel "$GUESTS/hello.elf" --memory 32M --initrd "$BATS_TEST_TMPDIR/big.img"
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ]
	[[ "$output" == *"does not fit"* ]]
	run "$KEEL" vm run --kernel "$GUESTS/hello.elf" --memory lots
	[ "$status" -eq 1 ]
	[ -z "$(ls "$KEEL_ROOT/vms" | grep -v -e h1 -e c1 -e k1)" ]
	run "$KEEL" vm start nosuchvm
	[ "$status" -eq 1 ] && [[ "$output" == *"no such VM"* ]]
}

@test "counter.elf measures exit costs (reported, not asserted)" {
	run "$KEEL" vm run --rm --kernel "$GUESTS/counter.elf" --cmdline "mode=exits"
	[ "$status" -eq 0 ]
	[[ "$output" == EXITS* ]]
	echo "# $output" >&3
}
