#!/usr/bin/env bats
# keel vm snapshot / restore: exact continuation, copy-on-write clones, corrupt snapshots.
load helpers

setup_file() {
	vm_setup_file
	"$KEEL" vm run -d --name s1 --memory 256M --kernel "$GUESTS/counter.elf" \
		--cmdline "mem_mb=64 dirty_mbps=50" >/dev/null
}
teardown_file() { vm_teardown_file; }

@test "snapshot pauses the VM; --leave-running does not" {
	wait_log s1 "COUNT 3 OK"
	run "$KEEL" vm snapshot s1 "$KEEL_ROOT/snap-live" --leave-running
	[ "$status" -eq 0 ]
	[ "$("$KEEL" vm inspect s1 | jq -r .state)" = running ]
	run "$KEEL" vm snapshot s1 "$KEEL_ROOT/snap"
	[ "$status" -eq 0 ]
	[ "$("$KEEL" vm inspect s1 | jq -r .state)" = paused ]
	[ "$(jq -r .version "$KEEL_ROOT/snap/manifest.json")" = 1 ]
	last_count s1 > "$KEEL_ROOT/snap-count"
}

@test "restore continues counting from the snapshot with memory intact, twice (clones)" {
	n=$(cat "$KEEL_ROOT/snap-count")
	run "$KEEL" vm restore "$KEEL_ROOT/snap" --name clone1
	[ "$status" -eq 0 ]
	"$KEEL" vm restore "$KEEL_ROOT/snap" --name clone2
	for c in clone1 clone2; do
		wait_log $c "COUNT $((n + 5)) OK"
		run "$KEEL" vm logs $c
		[ "$(echo "$output" | head -1)" = "COUNT $((n + 1)) OK" ]
		! echo "$output" | grep -q CORRUPT
	done
}

@test "clones share unchanged memory copy-on-write" {
	for c in clone1 clone2; do
		pid=$(cat "$KEEL_ROOT/vms/$c/vmm.pid")
		anon=$(awk '/RssAnon/ {print $2}' /proc/$pid/status)
		# the 64 MiB pattern is rewritten at 50 MiB/s, so it drifts into private pages; far
		# less than a copy of guest memory after a couple of seconds
		echo "# $c RssAnon ${anon} kB" >&3
		[ "$anon" -lt $((256 * 1024)) ]
	done
}

@test "a restored VM stops, and its directory records where it came from" {
	[ "$(cat "$KEEL_ROOT/vms/clone1/origin")" = "$KEEL_ROOT/snap" ]
	"$KEEL" vm stop clone1
	"$KEEL" vm rm clone1
}

@test "corrupt or version-mismatched snapshots are refused with one line" {
	cp -r "$KEEL_ROOT/snap" "$KEEL_ROOT/bad"
	printf '\xff' | dd of="$KEEL_ROOT/bad/state.bin" bs=1 seek=200 conv=notrunc 2>/dev/null
	run "$KEEL" vm restore "$KEEL_ROOT/bad" --name bad1
	[ "$status" -eq 1 ] && [ "${#lines[@]}" -eq 1 ] && [[ "$output" == *corrupt* ]]
	[ ! -e "$KEEL_ROOT/vms/bad1" ]
	cp "$KEEL_ROOT/snap/state.bin" "$KEEL_ROOT/bad/state.bin"
	jq '.version = 99' "$KEEL_ROOT/snap/manifest.json" > "$KEEL_ROOT/bad/manifest.json"
	run "$KEEL" vm restore "$KEEL_ROOT/bad" --name bad2
	[ "$status" -eq 1 ] && [[ "$output" == *"version 99"* ]]
	cp "$KEEL_ROOT/snap/manifest.json" "$KEEL_ROOT/bad/manifest.json"
	printf 'x' | dd of="$KEEL_ROOT/bad/memory" bs=1 seek=$((20 << 20)) conv=notrunc 2>/dev/null
	run "$KEEL" vm restore "$KEEL_ROOT/bad" --name bad3 --verify
	[ "$status" -eq 1 ] && [[ "$output" == *"memory is corrupt"* ]]
	truncate -s 1M "$KEEL_ROOT/bad/memory"
	run "$KEEL" vm restore "$KEEL_ROOT/bad" --name bad4
	[ "$status" -eq 1 ] && [[ "$output" == *"wrong size"* ]]
	[ -z "$(ls "$KEEL_ROOT/vms" | grep bad)" ]
}

@test "restore maps memory unread, and reports running only once vCPU 0 is in KVM_RUN" {
	# a memory file with a wrong checksum restores without --verify: it is mapped, not read
	cp -r "$KEEL_ROOT/snap" "$KEEL_ROOT/flip"
	printf 'x' | dd of="$KEEL_ROOT/flip/memory" bs=1 seek=$((200 << 20)) conv=notrunc 2>/dev/null
	KEEL_VM_TRACE="$KEEL_ROOT/trace" run "$KEEL" vm restore "$KEEL_ROOT/flip" --name fast1
	[ "$status" -eq 0 ]
	cat "$KEEL_ROOT/trace" | sed 's/^/# /' >&3
	entered=$(awk '/vcpu0: first KVM_RUN/ {print $2; exit}' "$KEEL_ROOT/trace")
	reported=$(awk '/cli: running reported/ {print $2; exit}' "$KEEL_ROOT/trace")
	[ -n "$entered" ] && [ -n "$reported" ] && [ "$entered" -le "$reported" ]
	# the memory file was not checksummed, and the restored directory has the real config
	[ "$(jq -r .memory "$KEEL_ROOT/vms/fast1/config.json")" = $((256 << 20)) ]
	"$KEEL" vm rm -f fast1
}
