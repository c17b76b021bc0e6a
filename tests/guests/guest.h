/* Freestanding helpers for the CPL3 part of the test guests (see entry.S). */
#ifndef KEEL_GUEST_H
#define KEEL_GUEST_H

#include <stddef.h>
#include <stdint.h>

/* PVH boot ABI (xen/include/public/arch-x86/hvm/start_info.h). */
struct hvm_start_info {
	uint32_t magic;
	uint32_t version;
	uint32_t flags;
	uint32_t nr_modules;
	uint64_t modlist_paddr;
	uint64_t cmdline_paddr;
	uint64_t rsdp_paddr;
	uint64_t memmap_paddr;
	uint32_t memmap_entries;
	uint32_t reserved;
};

struct hvm_memmap_table_entry {
	uint64_t addr;
	uint64_t size;
	uint32_t type;
	uint32_t reserved;
};

void guest_main(struct hvm_start_info *si);

/* The TSS and its I/O bitmap (entry.S): zeroed before the first port access. */
#define GUEST_TSS      0x1000
#define GUEST_TSS_SIZE 0x2001

/* One `rep outsb` to the UART: a single exit for the whole buffer. */
static inline void sys_write(const char *buf, size_t len)
{
	__asm__ volatile("rep outsb" : "+S"(buf), "+c"(len) : "d"(0x3f8) : "memory");
}

/* 0xfe to the i8042 command port resets the machine (the VMM ends the VM with status 0). */
static inline __attribute__((noreturn)) void sys_reset(void)
{
	__asm__ volatile("outb %%al, $0x64" : : "a"(0xfe) : "memory");
	for (;;)
		;
}

static inline uint64_t rdtsc(void)
{
	uint32_t lo, hi;
	__asm__ volatile("rdtsc" : "=a"(lo), "=d"(hi));
	return ((uint64_t)hi << 32) | lo;
}

static inline void cpuid(uint32_t leaf, uint32_t *a, uint32_t *b, uint32_t *c, uint32_t *d)
{
	__asm__ volatile("cpuid" : "=a"(*a), "=b"(*b), "=c"(*c), "=d"(*d) : "a"(leaf), "c"(0));
}

void *memset(void *s, int c, size_t n);
void *memcpy(void *d, const void *s, size_t n);

#endif
