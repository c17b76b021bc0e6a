/* hello.elf: prints MARKER-INIT on the 8250 at 0x3f8 and resets through the i8042.
 * It never leaves 32-bit protected mode: on kvm_pvm every CPL0 instruction is emulated, so the
 * fewer the better (this is six, and `rep outsb` leaves the VMM one exit for the whole line). */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18		/* namesz, descsz, XEN_ELFNOTE_PHYS32_ENTRY */
	.asciz "Xen"
	.quad pvh_start32

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	mov $msg, %esi
	mov $(msg_end - msg), %ecx
	mov $0x3f8, %dx
	rep outsb
	mov $0xfe, %al
	out %al, $0x64
1:	hlt
	jmp 1b

	.section .rodata
msg:	.ascii "MARKER-INIT\n"
msg_end:
