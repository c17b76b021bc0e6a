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

@test "a Debian vmlinux-style PVH boot and virtio devices (needs a kernel with VIRTIO_MMIO_CMDLINE_DEVICES)" {
	need_hw
	# Debian's kernel has CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES off and virtio-mmio as a module,
	# so it cannot see keel's virtio_mmio.device= words; a kernel built with them =y can.
	[ -n "${KEEL_TEST_VIRTIO_KERNEL:-}" ] || skip "set KEEL_TEST_VIRTIO_KERNEL to a kernel with virtio-mmio built in"
	truncate -s 64M "$BATS_TEST_TMPDIR/disk.img"
	run timeout 60 "$KEEL" vm run --rm --memory 512M --kernel "$KEEL_TEST_VIRTIO_KERNEL" \
		--disk "$BATS_TEST_TMPDIR/disk.img" \
		--cmdline "console=ttyS0 reboot=k panic=-1 rdinit=/nonexistent"
	[[ "$output" == *"vda: "* ]]
}
