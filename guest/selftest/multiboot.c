/*
 * multiboot.c - the boot information of a multiboot start (multiboot.h).  Section numbers
 * are those of the Multiboot Specification 0.6.96.
 *
 * No VMM leaves a struct selftest_bootinfo, so one is built here: no flags but
 * SELFTEST_FLAG_IPI_PINGPONG for the command-line word `ipi-pingpong` (x2APIC mode is
 * still chosen when the MADT has an APIC ID >= 255), ncpus = the MADT's enabled processors
 * (nothing to cross-check them with), mem_size from mem_upper and the memory map (3.3;
 * see adjacent_end), the 1 GHz APIC timer clock of KVM and QEMU, and a 10 s AP timeout.
 *
 * Firmware also leaves the legacy interrupt controllers running: SeaBIOS keeps the PIT
 * ticking on IRQ 0 of the 8259A, whose output reaches the BSP as vector 8 (the BIOS's
 * base) through LINT0 in virtual wire mode (MP Specification 1.4, 3.6.2.2), and the test
 * would take it for a double fault the first time it waits with interrupts on.  Both 8259As
 * are masked first, as an OS taking over from firmware does.  Everything after that is the
 * same test.
 */
#include "multiboot.h"

#include <stdbool.h>
#include <stdint.h>

#include "acpi.h"
#include "arch.h"
#include "lib.h"
#include "result.h"

/* 3.3: offsets and flags of the multiboot information structure. */
#define MBI_FLAGS        0u
#define MBI_MEM_UPPER    8u  /* KiB of RAM from 1 MiB up to the first hole */
#define MBI_CMDLINE      16u /* physical address of a NUL-terminated string */
#define MBI_MMAP_LENGTH  44u /* bytes of memory map */
#define MBI_MMAP_ADDR    48u
#define MBI_FLAG_MEMORY  (1u << 0)
#define MBI_FLAG_CMDLINE (1u << 2)
#define MBI_FLAG_MMAP    (1u << 6)
/* A memory map entry: u32 size (not counting itself), u64 base_addr, u64 length, u32 type. */
#define MMAP_MIN_SIZE    20u
#define MMAP_MAX_ENTRIES 128u
#define FOUR_GIB         0x100000000ull

/* 8259A interrupt mask registers: OCW1 written to the data ports (8259A data sheet). */
#define PIC_MASTER_DATA  0x21u
#define PIC_SLAVE_DATA   0xa1u

#define MB_LAPIC_TIMER_HZ 1000000000ull /* KVM's and QEMU's APIC timer: 1 GHz, divide by 1 */
#define MB_AP_TIMEOUT_MS  10000u
#define CMDLINE_MAX       4096u         /* scan no further for the terminating NUL */
/* A process exit status has 8 bits: (N << 1) | 1 stays distinct for N up to 127. */
#define EXIT_VALUE_MAX    127u
#define WORD_SHOWN_MAX    32u
#define WORD_PINGPONG     "ipi-pingpong" /* SELFTEST_FLAG_IPI_PINGPONG */

__attribute__((noreturn)) void bsp_main(const struct selftest_bootinfo *bi); /* main.c */

static struct selftest_bootinfo bootinfo;
static bool started;        /* multiboot_main() ran: .bss is zeroed by either entry */
static bool exit_wanted;    /* the command line has `exit=N`       */
static uint32_t exit_value; /* N: written on PASS (1 is written on FAIL) */
static uint32_t flags_wanted; /* SELFTEST_FLAG_* the command line asks for */

bool multiboot_started(void)
{
	return started;
}

void multiboot_report(uint32_t code)
{
	if (exit_wanted)
		outb(MB_DEBUG_EXIT_PORT, (uint8_t)(code == 0 ? exit_value : 1));
}

static bool is_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n';
}

/* `exit=N`, N decimal 0..EXIT_VALUE_MAX; `exit` or `exit=` alone means N = 0. */
static void parse_exit(const char *w, uint32_t len)
{
	uint32_t v = 0;
	bool ok = true;

	exit_wanted = true; /* a bad value still ends the run on the port, with FAIL */
	for (uint32_t i = 5; i < len; i++) {
		if (w[i] < '0' || w[i] > '9' || v > EXIT_VALUE_MAX) {
			ok = false;
			break;
		}
		v = v * 10 + (uint32_t)(w[i] - '0');
	}
	if (ok && v <= EXIT_VALUE_MAX) {
		exit_value = v;
		return;
	}
	char shown[WORD_SHOWN_MAX + 1];
	uint32_t n = len < WORD_SHOWN_MAX ? len : WORD_SHOWN_MAX;
	memcpy(shown, w, n);
	shown[n] = '\0';
	fail(SELFTEST_FAIL_BOOTINFO, "multiboot: command line word '%s': want exit=N, N from "
	     "0 to %u", shown, EXIT_VALUE_MAX);
}

/*
 * Words separated by blanks; the first is often the kernel's own path (GRUB, QEMU).  Known:
 * `exit=N` and `ipi-pingpong`; any other word is ignored.
 */
static void parse_cmdline(const char *s)
{
	uint32_t i = 0;

	while (i < CMDLINE_MAX && s[i]) {
		if (is_space(s[i])) {
			i++;
			continue;
		}
		uint32_t start = i;
		while (i < CMDLINE_MAX && s[i] && !is_space(s[i]))
			i++;
		uint32_t len = i - start;
		if (len >= 4 && memcmp(s + start, "exit", 4) == 0 &&
		    (len == 4 || s[start + 4] == '='))
			parse_exit(s + start, len);
		else if (len == sizeof(WORD_PINGPONG) - 1 &&
			 memcmp(s + start, WORD_PINGPONG, len) == 0)
			flags_wanted |= SELFTEST_FLAG_IPI_PINGPONG;
	}
}

/*
 * The end of memory from 0: `end` (mem_upper's first hole), carried on over the memory
 * map's ranges that begin right there, whatever their type, below 4 GiB.  Firmware keeps
 * its ACPI tables in such a range at the top of RAM (SeaBIOS: the last 128 KiB, "reserved"),
 * and the checks of acpi.c and mptable.c bound every table address by mem_size.
 */
static uint64_t adjacent_end(uint64_t end, uint32_t addr, uint32_t length)
{
	for (uint32_t pass = 0; pass < MMAP_MAX_ENTRIES && end < FOUR_GIB; pass++) {
		uint64_t next = end;
		for (uint32_t off = 0; off + 4 + MMAP_MIN_SIZE <= length;) {
			const volatile uint32_t *e = phys((uint64_t)addr + off);
			uint64_t base = e[1] | (uint64_t)e[2] << 32;
			uint64_t len = e[3] | (uint64_t)e[4] << 32;
			if (base <= end && len > end - base) {
				uint64_t top = len > FOUR_GIB - base ? FOUR_GIB : base + len;
				next = top > next ? top : next;
			}
			if (e[0] < MMAP_MIN_SIZE)
				break;
			off += e[0] + 4;
		}
		if (next == end)
			break;
		end = next;
	}
	return end;
}

void multiboot_main(uint32_t magic, uint32_t info)
{
	started = true;
	if (magic != MB_BOOTLOADER_MAGIC)
		fail(SELFTEST_FAIL_BOOTINFO, "multiboot: eax 0x%x at entry, want 0x%x", magic,
		     MB_BOOTLOADER_MAGIC);
	const volatile uint32_t *mbi = phys(info);
	uint32_t flags = mbi[MBI_FLAGS / 4];

	/*
	 * Read it all before writing anything: a loader may have put it where the trampoline
	 * or the AP stacks go (QEMU's is at 0x9000, next to SELFTEST_TRAMPOLINE).
	 */
	if (flags & MBI_FLAG_CMDLINE)
		parse_cmdline(phys(mbi[MBI_CMDLINE / 4]));
	if (!(flags & MBI_FLAG_MEMORY))
		fail(SELFTEST_FAIL_BOOTINFO, "multiboot: no memory information (flags 0x%x)",
		     flags);
	uint64_t mem_size = (1024 + (uint64_t)mbi[MBI_MEM_UPPER / 4]) * 1024;
	if (flags & MBI_FLAG_MMAP)
		mem_size = adjacent_end(mem_size, mbi[MBI_MMAP_ADDR / 4], mbi[MBI_MMAP_LENGTH / 4]);

	outb(PIC_SLAVE_DATA, 0xff);
	outb(PIC_MASTER_DATA, 0xff);

	bootinfo = (struct selftest_bootinfo){
		.magic = SELFTEST_BOOTINFO_MAGIC,
		.version = SELFTEST_BOOTINFO_VERSION,
		.flags = flags_wanted,
		.ncpus = acpi_count_processors(mem_size),
		.mem_size = mem_size,
		.lapic_timer_hz = MB_LAPIC_TIMER_HZ,
		.ap_timeout_ms = MB_AP_TIMEOUT_MS,
	};
	bsp_main(&bootinfo);
}
