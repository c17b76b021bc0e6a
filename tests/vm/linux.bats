#!/usr/bin/env bats
# Booting real Linux (bzImage through the 64-bit boot protocol, vmlinux through PVH). Needs
# hardware virtualization: on kvm_pvm (no vmx/svm) guest CPL0 code is emulated and a stock
# kernel cannot boot, so these tests report skip there, never pass.
load helpers

setup_file() { vm_setup_file; }
teardown_file() { vm_teardown_file; }

need_hw() {
	grep -qwE 'vmx|svm' /proc/cpuinfo || skip "no hardware virtualization (kvm_pvm host)"
	KERNEL=$(ls /boot/vmlinuz-* 2>/dev/null | head -1)
	[ -n "$KERNEL" ] || skip "no kernel in /boot"
}

@test "a Debian bzImage boots to its console" {
	need_hw
	run timeout 60 "$KEEL" vm run --rm --memory 512M --kernel "$KERNEL" \
		--cmdline "console=ttyS0 reboot=k panic=-1 rdinit=/nonexistent"
	[[ "$output" == *"Linux version"* ]]
}

@test "virtio-blk and virtio-net devices (not built yet)" {
	need_hw
	skip "virtio-mmio devices are not implemented yet"
}
