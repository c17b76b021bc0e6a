/* Long-mode entry shared by the C test guests.
 *
 * PVH starts us in 32-bit protected mode without paging, %ebx = hvm_start_info. On kvm_pvm each
 * CPL0 instruction is emulated (~1.2 us), so the page tables and GDT are static data (identity
 * map of 4 GiB in 2 MiB pages, all user-accessible) and the path to CPL3 is ~25 instructions.
 * Work then runs at CPL3 (native speed) with interrupts off, and does its port I/O itself:
 * kvm_pvm drops IOPL for user mode, so the TSS at 0x1000 (in low RAM the VMM leaves alone) is
 * all zeros with a limit of 8 KiB: its I/O bitmap allows every port (user code zeroes it first;
 * the check reads the bitmap at each I/O instruction, not at `ltr`). Without it ports above
 * 0x2f9 fault, since the emulator then reads the bitmap past a 0x67 limit. The guest "kernel"
 * is only a syscall handler kept for measurements:
 *   syscall(0, buf, len): rep outsb to the UART at 0x3f8;  syscall(1): reset via the i8042;
 *   syscall(2, n): n `out` to port 0x80 (exit-cost probe);   syscall(3): return at once.
 * No IDT: any exception triple-faults, which the VMM reports as a shutdown. */
	.section .note.Xen, "a", @note
	.balign 4
	.long 4, 8, 18
	.asciz "Xen"
	.quad pvh_start32

	.section .text.boot, "ax"
	.code32
	.globl pvh_start32
pvh_start32:
	mov %ebx, %edi			/* start_info -> first argument of guest_main */
	lgdt gdt_ptr
	mov $pml4, %eax
	mov %eax, %cr3
	mov $0x20, %eax			/* CR4.PAE */
	mov %eax, %cr4
	mov $0xc0000080, %ecx		/* EFER: LME | SCE */
	xor %edx, %edx
	mov $0x101, %eax
	wrmsr
	mov $0x80000011, %eax		/* CR0: PG | ET | PE */
	mov %eax, %cr0
	ljmp $0x08, $start64

	.code64
start64:
	mov $0x1b, %ax			/* user data in DS/ES: iretq to CPL3 would null DPL0 ones */
	mov %ax, %ds
	mov %ax, %es
	mov $0xc0000081, %ecx		/* STAR: kernel CS 0x08, sysret base 0x10 */
	xor %eax, %eax
	mov $0x00100008, %edx
	wrmsr
	mov $0xc0000082, %ecx		/* LSTAR */
	mov $syscall_entry, %eax
	xor %edx, %edx
	wrmsr
	mov $0xc0000084, %ecx		/* FMASK: clear IF, DF */
	mov $0x600, %eax
	wrmsr
	mov $kstack_top, %rsp
	pushq $0x1b			/* user SS */
	pushq $user_stack_top
	mov $0x28, %ax			/* TSS whose I/O bitmap allows every port (below) */
	ltr %ax
	pushq $0x2			/* RFLAGS: IF off */
	pushq $0x23			/* user CS (64-bit) */
	pushq $user_start
	iretq

syscall_entry:
	cmp $1, %rdi
	je 1f
	cmp $2, %rdi
	je 3f
	cmp $3, %rdi
	je 4f
	mov %rcx, %r10			/* user rip: jmp sysret_iret needs it back in %rcx */
	mov %rdx, %rcx
	mov $0x3f8, %dx
	rep outsb
	mov %r10, %rcx
	jmp sysret_iret
1:	mov $0xfe, %al
	out %al, $0x64
2:	hlt
	jmp 2b
3:	mov %rcx, %r10			/* syscall(2, n): n single-byte writes to port 0x80 */
	mov %rsi, %rcx
5:	out %al, $0x80
	loop 5b
	mov %r10, %rcx
4:	jmp sysret_iret				/* syscall(3): round trip only */

/* Return to CPL3 with iretq: the emulator kvm_pvm runs CPL0 code in has no SYSRET. The frame
 * goes on the user stack (syscall does not switch stacks; nothing else uses it meanwhile). */
sysret_iret:
	mov %rsp, %r9
	pushq $0x1b
	pushq %r9
	pushq %r11
	pushq $0x23
	pushq %rcx
	iretq

	.text
user_start:
	and $-16, %rsp
	call guest_main
	mov $1, %edi
	syscall

	.section .rodata
	.balign 8
gdt:	.quad 0
	.quad 0x00af9a000000ffff	/* 0x08 kernel code 64 */
	.quad 0x00cf92000000ffff	/* 0x10 kernel data */
	.quad 0x00cff2000000ffff	/* 0x18 user data */
	.quad 0x00affa000000ffff	/* 0x20 user code 64 */
	.quad 0x0000890010002000	/* 0x28 TSS: base 0x1000, limit 0x2000 */
	.quad 0
gdt_end:
gdt_ptr:
	.word gdt_end - gdt - 1
	.long gdt

	.section .data.pagetables, "aw"
	.balign 4096
pml4:	.quad pdpt + 7
	.fill 511, 8, 0
pdpt:	.quad pd + 7
	.quad pd + 4096 + 7
	.quad pd + 8192 + 7
	.quad pd + 12288 + 7
	.fill 508, 8, 0
pd:
	.set addr, 0
	.rept 2048
	.quad addr + 0x87		/* present | rw | user | 2 MiB */
	.set addr, addr + 0x200000
	.endr

	.bss
	.balign 4096
	.skip 65536
user_stack_top:
	.skip 4096
kstack_top:
