/* counter.elf: a memory-dirtying guest that checks its own memory.
 *
 * Command line (PVH cmdline): mem_mb=N (default 64) pattern area, dirty_mbps=N (default 50)
 * rewrite rate, tsc_khz=N (when the hypervisor does not announce it in CPUID 0x40000010),
 * mode=exits (measure exit costs and reset instead of counting).
 *
 * The area holds pages whose first word is the sweep ("pass") number that wrote it and whose
 * other words are a function of (page, pass). Pages are rewritten in order by a cursor, so the
 * expected pass of page p is `sweep` below the cursor and `sweep - 1` above it: a page that a
 * snapshot or migration failed to carry is caught even though it is self-consistent. Every
 * ~100 ms all pages are verified and `COUNT <n> OK` (or `COUNT <n> CORRUPT page=P`) printed.
 * The counter, sweep and cursor live in guest memory, so a restored guest counts on. */
#include "guest.h"

#define PAGE     4096ULL
#define AREA     (16ULL << 20) /* pattern area starts at 16 MiB, above image and stacks */
#define WORDS    (PAGE / 8)
#define PERIOD_MS 100

static struct {
	uint64_t count, sweep, cursor, npages, tsc_khz, corrupt;
} g;

void *memset(void *s, int c, size_t n)
{
	unsigned char *p = s;
	while (n--)
		*p++ = (unsigned char)c;
	return s;
}

void *memcpy(void *d, const void *s, size_t n)
{
	unsigned char *a = d;
	const unsigned char *b = s;
	while (n--)
		*a++ = *b++;
	return d;
}

static int prefix_cmp(const char *a, const char *b, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (a[i] != b[i])
			return 1;
	return 0;
}

static size_t slen(const char *s)
{
	size_t n = 0;
	while (s[n])
		n++;
	return n;
}

static void puts_(const char *s)
{
	sys_write(s, slen(s));
}

static char *utoa(char *p, uint64_t v)
{
	char tmp[24];
	int n = 0;
	do {
		tmp[n++] = (char)('0' + v % 10);
		v /= 10;
	} while (v);
	while (n)
		*p++ = tmp[--n];
	return p;
}

static char *append(char *p, const char *s)
{
	while (*s)
		*p++ = *s++;
	return p;
}

/* Returns the value of key=N in the command line, or def. */
static uint64_t cmdline_u64(const char *cl, const char *key, uint64_t def)
{
	size_t kl = slen(key);
	for (const char *p = cl; p && *p; p++) {
		if ((p == cl || p[-1] == ' ') && !prefix_cmp(p, key, kl) && p[kl] == '=') {
			uint64_t v = 0;
			for (p += kl + 1; *p >= '0' && *p <= '9'; p++)
				v = v * 10 + (uint64_t)(*p - '0');
			return v;
		}
	}
	return def;
}

static int cmdline_has(const char *cl, const char *word)
{
	size_t wl = slen(word);
	for (const char *p = cl; p && *p; p++)
		if ((p == cl || p[-1] == ' ') && !prefix_cmp(p, word, wl) &&
		    (p[wl] == ' ' || p[wl] == 0))
			return 1;
	return 0;
}

static uint64_t tsc_khz(const char *cl)
{
	uint32_t a, b, c, d;
	cpuid(0x40000000, &a, &b, &c, &d);
	if (b == 0x4b4d564b && a >= 0x40000010) { /* "KVMK" */
		cpuid(0x40000010, &a, &b, &c, &d);
		if (a)
			return a;
	}
	return cmdline_u64(cl, "tsc_khz", 2000000);
}

static inline uint64_t seed(uint64_t page, uint64_t pass)
{
	return (page * 0x9e3779b97f4a7c15ULL) ^ (pass * 0xc2b2ae3d27d4eb4fULL);
}

static void write_page(uint64_t p, uint64_t pass)
{
	volatile uint64_t *w = (uint64_t *)(AREA + p * PAGE);
	uint64_t s = seed(p, pass);
	for (uint64_t j = 1; j < WORDS; j++)
		w[j] = s + j;
	w[0] = pass;
}

/* Returns the first bad page, or npages when all are as expected. */
static uint64_t verify(void)
{
	for (uint64_t p = 0; p < g.npages; p++) {
		const uint64_t *w = (const uint64_t *)(AREA + p * PAGE);
		uint64_t pass = p < g.cursor ? g.sweep : g.sweep - 1;
		uint64_t s = seed(p, pass);
		uint64_t bad = w[0] ^ pass;
		for (uint64_t j = 1; j < WORDS; j++)
			bad |= w[j] ^ (s + j);
		if (bad)
			return p;
	}
	return g.npages;
}

static uint64_t ram_end(struct hvm_start_info *si)
{
	struct hvm_memmap_table_entry *e = (void *)(uintptr_t)si->memmap_paddr;
	for (uint32_t i = 0; i < si->memmap_entries; i++)
		if (e[i].type == 1 && e[i].addr <= AREA && e[i].addr + e[i].size > AREA)
			return e[i].addr + e[i].size;
	return AREA;
}

static void report(void)
{
	char line[64], *p = line;
	uint64_t bad = verify();
	p = utoa(append(p, "COUNT "), ++g.count);
	if (bad == g.npages && !g.corrupt) {
		p = append(p, " OK\n");
	} else {
		g.corrupt = 1;
		p = append(p, " CORRUPT page=");
		p = utoa(p, bad);
		*p++ = '\n';
	}
	sys_write(line, (size_t)(p - line));
}

static void measure_exits(void)
{
	enum { N = 2000 };
	char line[128], *p = line;
	uint32_t a, b, c, d;
	uint64_t t0 = rdtsc();
	for (int i = 0; i < N; i++)
		cpuid(0, &a, &b, &c, &d);
	uint64_t t1 = rdtsc();
	for (int i = 0; i < N; i++)
		__asm__ volatile("outb %%al, $0x80" : : "a"(0));
	uint64_t t2 = rdtsc();
	for (int i = 0; i < N; i++)
		__asm__ volatile("syscall" : : "D"(3L) : "rcx", "r9", "r11", "memory");
	uint64_t t3 = rdtsc();
	__asm__ volatile("syscall" : : "D"(2L), "S"((long)N) : "rcx", "r9", "r10", "r11", "rax",
			 "memory");
	uint64_t t4 = rdtsc();
	for (int i = 0; i < N; i++)
		*(volatile uint32_t *)0xd0000000UL = 0; /* no device: an MMIO exit, ignored */
	uint64_t t5 = rdtsc();
	uint64_t k = g.tsc_khz;
	p = utoa(append(p, "EXITS cpuid_ns="), (t1 - t0) * 1000000 / k / N);
	p = utoa(append(p, " pio_ns="), (t2 - t1) * 1000000 / k / N);
	p = utoa(append(p, " syscall_ns="), (t3 - t2) * 1000000 / k / N);
	p = utoa(append(p, " kernel_pio_ns="), (t4 - t3) * 1000000 / k / N);
	p = utoa(append(p, " mmio_ns="), (t5 - t4) * 1000000 / k / N);
	*p++ = '\n';
	sys_write(line, (size_t)(p - line));
}

void guest_main(struct hvm_start_info *si)
{
	const char *cl = si->cmdline_paddr ? (const char *)(uintptr_t)si->cmdline_paddr : "";
	memset((void *)GUEST_TSS, 0, GUEST_TSS_SIZE);
	uint64_t mem = cmdline_u64(cl, "mem_mb", 64) << 20;
	uint64_t rate = cmdline_u64(cl, "dirty_mbps", 50) << 20;

	g.tsc_khz = tsc_khz(cl);
	if (cmdline_has(cl, "mode=exits")) {
		measure_exits();
		return;
	}
	if (AREA + mem > ram_end(si)) {
		mem = ram_end(si) - AREA;
		puts_("counter: mem_mb clamped to guest memory\n");
	}
	g.npages = mem / PAGE;
	for (uint64_t p = 0; p < g.npages; p++)
		write_page(p, 1);
	g.sweep = 2;
	g.cursor = 0;
	puts_("MARKER-INIT\n");

	uint64_t period = g.tsc_khz * PERIOD_MS;
	uint64_t last = rdtsc(), next = last + period, credit = 0;
	for (;;) {
		uint64_t now = rdtsc();
		if (now < last || now - last > 2 * period) { /* TSC moved: restored or migrated */
			last = now;
			next = now + period;
		}
		credit += (now - last) * (rate / 1024) / g.tsc_khz; /* bytes; rate in KiB/ms */
		last = now;
		while (credit >= PAGE && g.npages) {
			write_page(g.cursor, g.sweep);
			credit -= PAGE;
			if (++g.cursor == g.npages) {
				g.cursor = 0;
				g.sweep++;
			}
		}
		if ((int64_t)(now - next) >= 0) {
			report();
			next += period;
			if ((int64_t)(rdtsc() - next) > 0)
				next = rdtsc() + period;
		}
	}
}
