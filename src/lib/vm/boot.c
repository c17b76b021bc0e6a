/* Kernel loaders, one per format behind a small table: PVH ELF (Linux vmlinux, unikernels,
 * our test guests) and Linux bzImage through the 64-bit boot protocol. Both share the memory
 * map, command line and initrd placement. */
#include "vm/kvm.h"

#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util/cleanup.h"

#define XEN_ELFNOTE_PHYS32_ENTRY 18
#define HVM_START_MAGIC 0x336ec578

struct hvm_start_info {
	uint32_t magic, version, flags, nr_modules;
	uint64_t modlist_paddr, cmdline_paddr, rsdp_paddr, memmap_paddr;
	uint32_t memmap_entries, reserved;
};

struct hvm_modlist_entry {
	uint64_t paddr, size, cmdline_paddr, reserved;
};

struct memmap_entry {
	uint64_t addr, size;
	uint32_t type, reserved;
};

/* What a loader learns from the kernel image. */
struct boot_info {
	uint64_t kernel_end; /* the initrd goes above this */
	uint64_t entry;
	uint64_t initrd_max; /* highest address the initrd may end at (exclusive) */
};

struct loader {
	const char *name;
	bool (*probe)(const uint8_t *head, size_t len);
	/* Copies the kernel into guest memory and fills bi. */
	int (*load)(struct keel_vm *vm, int fd, struct boot_info *bi, keel_error_t *err);
	/* Writes the boot information and the boot vCPU's registers. */
	int (*finish)(struct keel_vm *vm, uint64_t entry, uint64_t initrd, uint64_t initrd_size,
		      keel_error_t *err);
};

static int read_at(int fd, void *buf, size_t len, uint64_t off, const char *what,
		   keel_error_t *err)
{
	ssize_t n = pread(fd, buf, len, (off_t)off);
	if (n < 0)
		return keel_err_sys(err, "reading %s", what);
	if ((size_t)n != len)
		return keel_err(err, EINVAL, "%s: truncated file", what);
	return 0;
}

/* The RAM map given to guests: low RAM, the legacy hole, RAM from 1 MiB, RAM above 4 GiB. */
static unsigned memory_map(struct keel_vm *vm, struct memmap_entry *e)
{
	unsigned n = 0;
	e[n++] = (struct memmap_entry){0, LOW_RAM_END, 1, 0};
	e[n++] = (struct memmap_entry){LOW_RAM_END, HIGH_RAM_START - LOW_RAM_END, 2, 0};
	e[n++] = (struct memmap_entry){HIGH_RAM_START, vm->slots[0].size - HIGH_RAM_START, 1, 0};
	if (vm->nslots > 1)
		e[n++] = (struct memmap_entry){vm->slots[1].gpa, vm->slots[1].size, 1, 0};
	return n;
}

/* ---- PVH ELF ---- */

static bool elf_probe(const uint8_t *h, size_t len)
{
	return len >= sizeof(Elf64_Ehdr) && !memcmp(h, ELFMAG, SELFMAG) && h[EI_CLASS] == ELFCLASS64;
}

static int elf_note_entry(int fd, const Elf64_Phdr *ph, uint64_t *entry, keel_error_t *err)
{
	uint8_t buf[16384]; /* Linux's vmlinux has ~20 notes in ~1 KiB */
	size_t len = ph->p_filesz < sizeof(buf) ? ph->p_filesz : sizeof(buf);
	if (read_at(fd, buf, len, ph->p_offset, "kernel note", err) < 0)
		return -1;
	for (size_t off = 0; off + sizeof(Elf64_Nhdr) <= len;) {
		Elf64_Nhdr n;
		memcpy(&n, buf + off, sizeof(n));
		size_t name = off + sizeof(n), desc = name + ((n.n_namesz + 3) & ~3u);
		size_t next = desc + ((n.n_descsz + 3) & ~3u);
		if (next > len)
			break;
		if (n.n_type == XEN_ELFNOTE_PHYS32_ENTRY && n.n_namesz == 4 &&
		    !memcmp(buf + name, "Xen", 4) && (n.n_descsz == 4 || n.n_descsz == 8)) {
			uint64_t v = 0;
			memcpy(&v, buf + desc, n.n_descsz);
			*entry = v;
			return 1;
		}
		off = next;
	}
	return 0;
}

static int elf_load(struct keel_vm *vm, int fd, struct boot_info *bi, keel_error_t *err)
{
	Elf64_Ehdr eh;
	bool found = false;
	uint64_t *kernel_end = &bi->kernel_end, *entry = &bi->entry;

	if (read_at(fd, &eh, sizeof(eh), 0, "kernel", err) < 0)
		return -1;
	if (eh.e_machine != EM_X86_64 || eh.e_phentsize != sizeof(Elf64_Phdr) || eh.e_phnum > 64)
		return keel_err(err, EINVAL, "kernel: not an x86-64 ELF executable");
	*kernel_end = 0;
	for (unsigned i = 0; i < eh.e_phnum; i++) {
		Elf64_Phdr ph;
		if (read_at(fd, &ph, sizeof(ph), eh.e_phoff + i * sizeof(ph), "kernel", err) < 0)
			return -1;
		if (ph.p_type == PT_NOTE && !found) {
			int r = elf_note_entry(fd, &ph, entry, err);
			if (r < 0)
				return -1;
			found = r > 0;
		}
		if (ph.p_type != PT_LOAD)
			continue;
		uint8_t *dst = vm_gpa(vm, ph.p_paddr, ph.p_memsz);
		if (!dst || ph.p_filesz > ph.p_memsz || ph.p_paddr < HIGH_RAM_START)
			return keel_err(err, EINVAL,
					"kernel segment at 0x%llx (+%llu) does not fit guest memory",
					(unsigned long long)ph.p_paddr,
					(unsigned long long)ph.p_memsz);
		if (read_at(fd, dst, ph.p_filesz, ph.p_offset, "kernel segment", err) < 0)
			return -1;
		memset(dst + ph.p_filesz, 0, ph.p_memsz - ph.p_filesz);
		if (ph.p_paddr + ph.p_memsz > *kernel_end)
			*kernel_end = ph.p_paddr + ph.p_memsz;
	}
	if (!found)
		return keel_err(err, EINVAL, "kernel: ELF without a PVH entry note "
					     "(XEN_ELFNOTE_PHYS32_ENTRY)");
	bi->initrd_max = vm->slots[0].size;
	return 0;
}

/* Flat descriptors for the boot selectors 0x10 (code) and 0x18 (data). */
static void write_gdt(struct keel_vm *vm, bool code64)
{
	uint64_t *gdt = vm_gpa(vm, BOOT_GDT, 4 * 8);
	gdt[0] = gdt[1] = 0;
	gdt[2] = code64 ? 0x00af9b000000ffffULL : 0x00cf9b000000ffffULL;
	gdt[3] = 0x00cf93000000ffffULL;
}

static int pvh_finish(struct keel_vm *vm, uint64_t entry, uint64_t initrd, uint64_t initrd_size,
		      keel_error_t *err)
{
	write_gdt(vm, false);
	struct hvm_start_info *si = vm_gpa(vm, BOOT_START_INFO, sizeof(*si));
	struct memmap_entry *mm = vm_gpa(vm, BOOT_MEMMAP, 4 * sizeof(*mm));
	struct hvm_modlist_entry *mod = vm_gpa(vm, BOOT_MODLIST, sizeof(*mod));

	*si = (struct hvm_start_info){.magic = HVM_START_MAGIC, .version = 1};
	si->cmdline_paddr = BOOT_CMDLINE;
	si->memmap_paddr = BOOT_MEMMAP;
	si->memmap_entries = memory_map(vm, mm);
	if (initrd_size) {
		*mod = (struct hvm_modlist_entry){.paddr = initrd, .size = initrd_size};
		si->modlist_paddr = BOOT_MODLIST;
		si->nr_modules = 1;
	}
	return vm_cpu_boot_pvh(&vm->cpus[0], entry, BOOT_START_INFO, err);
}

/* ---- bzImage, 64-bit boot protocol (Documentation/arch/x86/boot.rst) ---- */

#define BZ_SETUP_SECTS 0x1f1
#define BZ_HEADER      0x202
#define BZ_VERSION     0x206
#define BZ_LOADFLAGS   0x211
#define BZ_XLOADFLAGS  0x236
#define BZ_HEAP_END    0x224
#define BZ_INITRD_MAX  0x22c
#define BZ_CMDLINE_MAX 0x238
#define BZ_INIT_SIZE   0x260
#define BZ_E820_COUNT  0x1e8
#define BZ_E820_TABLE  0x2d0

static bool bz_probe(const uint8_t *h, size_t len)
{
	return len > 0x240 && !memcmp(h + BZ_HEADER, "HdrS", 4);
}

static uint32_t le32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Checks the header fields the 64-bit protocol depends on; fills bi's limits. */
static int bz_limits(struct keel_vm *vm, const uint8_t *hdr, uint64_t size, struct boot_info *bi,
		     keel_error_t *err)
{
	/* The kernel decompresses itself in place: it needs init_size bytes from its load
	 * address (2.10+), or more when relocatable kernels move to LOAD_PHYSICAL_ADDR. */
	uint64_t init = le32(hdr + BZ_INIT_SIZE);
	uint64_t need = HIGH_RAM_START + (init > size ? init : size);
	const char *cl = vm_gpa(vm, BOOT_CMDLINE, 1);
	uint32_t cl_max = le32(hdr + BZ_CMDLINE_MAX);

	if (need > vm->slots[0].size)
		return keel_err(err, EFBIG, "bzImage needs %llu MiB of memory to unpack",
				(unsigned long long)(need >> 20) + 1);
	if (cl_max && strlen(cl) > cl_max)
		return keel_err(err, E2BIG, "command line longer than this kernel takes (%u)",
				cl_max);
	bi->kernel_end = need;
	bi->initrd_max = (uint64_t)le32(hdr + BZ_INITRD_MAX) + 1;
	if (bi->initrd_max > vm->slots[0].size || bi->initrd_max == 1)
		bi->initrd_max = vm->slots[0].size;
	return 0;
}

static int bz_load(struct keel_vm *vm, int fd, struct boot_info *bi, keel_error_t *err)
{
	uint8_t *zp = vm_gpa(vm, BOOT_ZERO_PAGE, PAGE_SIZE);
	uint8_t hdr[1024];
	struct stat st;

	if (read_at(fd, hdr, sizeof(hdr), 0, "kernel", err) < 0 || fstat(fd, &st) < 0)
		return keel_err_wrap(err, "bzImage");
	uint16_t version = (uint16_t)(hdr[BZ_VERSION] | hdr[BZ_VERSION + 1] << 8);
	if (version < 0x20c || !(hdr[BZ_XLOADFLAGS] & 1))
		return keel_err(err, EINVAL, "bzImage: no 64-bit entry (boot protocol 2.12+)");
	unsigned setup = hdr[BZ_SETUP_SECTS] ? hdr[BZ_SETUP_SECTS] : 4;
	uint64_t off = (setup + 1) * 512ULL;
	if ((uint64_t)st.st_size <= off)
		return keel_err(err, EINVAL, "bzImage: truncated");
	uint64_t size = (uint64_t)st.st_size - off;
	uint8_t *dst = vm_gpa(vm, HIGH_RAM_START, size);
	if (!dst)
		return keel_err(err, EINVAL, "bzImage does not fit guest memory");
	if (read_at(fd, dst, size, off, "bzImage", err) < 0)
		return -1;
	memset(zp, 0, PAGE_SIZE);
	unsigned hdr_end = 0x202 + hdr[0x201];
	memcpy(zp + BZ_SETUP_SECTS, hdr + BZ_SETUP_SECTS, hdr_end - BZ_SETUP_SECTS);
	zp[0x210] = 0xff;                 /* type_of_loader: undefined */
	zp[BZ_LOADFLAGS] |= 0x80 | 0x01;  /* CAN_USE_HEAP | LOADED_HIGH */
	uint16_t heap_end = 0xfe00;       /* with CAN_USE_HEAP, as a real-mode loader sets it */
	memcpy(zp + BZ_HEAP_END, &heap_end, 2);
	uint32_t cmd = BOOT_CMDLINE;
	memcpy(zp + 0x228, &cmd, 4);
	zp[0x1fa] = 0xff;                 /* vid_mode: "normal" (0xffff) */
	zp[0x1fb] = 0xff;
	bi->entry = HIGH_RAM_START + 0x200; /* startup_64 */
	return bz_limits(vm, hdr, size, bi, err);
}

/* Identity map of the first 4 GiB in 2 MiB pages, as the 64-bit entry requires. */
static void bz_page_tables(struct keel_vm *vm)
{
	uint64_t *pml4 = vm_gpa(vm, BOOT_PGTABLE, 6 * PAGE_SIZE);
	uint64_t *pdpt = pml4 + 512, *pd = pml4 + 1024;
	memset(pml4, 0, 6 * PAGE_SIZE);
	pml4[0] = (BOOT_PGTABLE + PAGE_SIZE) | 3;
	for (unsigned i = 0; i < 4; i++)
		pdpt[i] = (BOOT_PGTABLE + (2 + i) * PAGE_SIZE) | 3;
	for (unsigned i = 0; i < 2048; i++)
		pd[i] = ((uint64_t)i << 21) | 0x83;
}

static int bz_finish(struct keel_vm *vm, uint64_t entry, uint64_t initrd, uint64_t initrd_size,
		     keel_error_t *err)
{
	uint8_t *zp = vm_gpa(vm, BOOT_ZERO_PAGE, PAGE_SIZE);
	struct memmap_entry mm[4];
	unsigned n = memory_map(vm, mm);
	uint32_t lo = (uint32_t)initrd, sz = (uint32_t)initrd_size;

	for (unsigned i = 0; i < n; i++) /* e820 entries are packed: 8 + 8 + 4 bytes */
		memcpy(zp + BZ_E820_TABLE + i * 20, &mm[i], 20);
	zp[BZ_E820_COUNT] = (uint8_t)n;
	memcpy(zp + 0x218, &lo, 4);
	memcpy(zp + 0x21c, &sz, 4);
	bz_page_tables(vm);
	write_gdt(vm, true);
	return vm_cpu_boot_64(&vm->cpus[0], entry, BOOT_ZERO_PAGE, err);
}

static const struct loader loaders[] = {
	{"bzImage", bz_probe, bz_load, bz_finish},
	{"PVH ELF", elf_probe, elf_load, pvh_finish},
};

/* The initrd goes as high as low RAM allows, page aligned, above the kernel. */
static int load_initrd(struct keel_vm *vm, const struct boot_info *bi, uint64_t *addr,
		       uint64_t *size, keel_error_t *err)
{
	struct stat st;
	cleanup_close int fd = -1;

	*addr = *size = 0;
	if (!vm->cfg.initrd)
		return 0;
	fd = open(vm->cfg.initrd, O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) < 0)
		return keel_err_sys(err, "initrd %s", vm->cfg.initrd);
	uint64_t top = bi->initrd_max, kernel_end = bi->kernel_end;
	uint64_t len = (uint64_t)st.st_size;
	uint64_t start = (top - len) & ~(PAGE_SIZE - 1);
	if (len == 0 || len > top || start < ((kernel_end + PAGE_SIZE - 1) & ~(PAGE_SIZE - 1)))
		return keel_err(err, EFBIG, "initrd %s (%llu bytes) does not fit in guest memory",
				vm->cfg.initrd, (unsigned long long)len);
	if (read_at(fd, vm_gpa(vm, start, len), len, 0, "initrd", err) < 0)
		return -1;
	*addr = start;
	*size = len;
	return 0;
}

/* The user's command line plus the virtio-mmio announcements (Linux's
 * CONFIG_VIRTIO_MMIO_CMDLINE_DEVICES syntax; our test guests parse the same words). */
static int write_cmdline(struct keel_vm *vm, const char *cl, keel_error_t *err)
{
	char devs[512];
	size_t len = strlen(cl);
	int dl = vm_virtio_cmdline(vm, devs, sizeof(devs));
	char *dst = vm_gpa(vm, BOOT_CMDLINE, BOOT_CMDLINE_MAX);

	if (dl < 0 || len + (size_t)dl >= BOOT_CMDLINE_MAX)
		return keel_err(err, E2BIG, "kernel command line too long");
	const char *d = len == 0 && dl > 0 ? devs + 1 : devs; /* no leading space */
	memcpy(dst, cl, len);
	memcpy(dst + len, d, strlen(d) + 1);
	return 0;
}

int vm_load_kernel(struct keel_vm *vm, keel_error_t *err)
{
	const char *cl = vm->cfg.cmdline ? vm->cfg.cmdline : "";
	cleanup_close int fd = open(vm->cfg.kernel, O_RDONLY | O_CLOEXEC);
	uint8_t head[1024] = {0};
	struct boot_info bi = {0};
	uint64_t initrd, initrd_size;
	ssize_t n;

	if (fd < 0)
		return keel_err_sys(err, "kernel %s", vm->cfg.kernel);
	n = pread(fd, head, sizeof(head), 0);
	if (n < 0)
		return keel_err_sys(err, "kernel %s", vm->cfg.kernel);
	if (write_cmdline(vm, cl, err) < 0)
		return -1;
	for (size_t i = 0; i < sizeof(loaders) / sizeof(loaders[0]); i++) {
		const struct loader *l = &loaders[i];
		if (!l->probe(head, (size_t)n))
			continue;
		if (l->load(vm, fd, &bi, err) < 0 ||
		    load_initrd(vm, &bi, &initrd, &initrd_size, err) < 0 ||
		    l->finish(vm, bi.entry, initrd, initrd_size, err) < 0)
			return keel_err_wrap(err, "kernel %s", vm->cfg.kernel);
		return 0;
	}
	return keel_err(err, EINVAL, "kernel %s: neither a PVH ELF nor a bzImage", vm->cfg.kernel);
}
