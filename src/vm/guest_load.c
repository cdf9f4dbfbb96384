/*
 * vm_boot.c - puts a guest into a built VM: a built-in test guest (boot/selftest.c) or a
 * kernel file (boot/kernel.c), and the BSP's entry state from it.  Runs before any vCPU
 * thread exists, so the register ioctls cannot race with KVM_RUN.
 *
 * On a host whose KVM emulates guest code (PVM), the guest is also told, here and only
 * here, to avoid what that KVM can neither run nor let mpvmm hide or carry.
 */
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "boot/guests.h"
#include "boot/kernel.h"
#include "boot/selftest.h"
#include "util/log.h"
#include "vm/vm.h"
#include "vm/vm_parts.h"
#include "x86/acpi.h"

#define ERRLEN 512

static int apply_entry(struct vm *vm, const struct boot_entry *be)
{
	const struct accel_cpu_ops *ops = vm->accel->cpu;
	struct vcpu *bsp = &vm->vcpus[vm->cfg.boot_cpu];

	return ops->set_sregs(bsp->av, &be->sregs) < 0 || ops->set_regs(bsp->av, &be->regs) < 0 ?
	       -1 : 0;
}

static int current_entry(struct vm *vm, struct boot_entry *be)
{
	const struct accel_cpu_ops *ops = vm->accel->cpu;
	struct vcpu *bsp = &vm->vcpus[vm->cfg.boot_cpu];

	memset(be, 0, sizeof(*be));
	return ops->get_regs(bsp->av, &be->regs) < 0 || ops->get_sregs(bsp->av, &be->sregs) < 0 ?
	       -1 : 0;
}

int vm_load_selftest(struct vm *vm)
{
	char err[ERRLEN];
	const struct embedded_guest *g = embedded_guest_find(vm->cfg.guest);
	struct boot_entry be;
	struct selftest_options o = {
		.ncpus = vm->plat.topo.cpus,
		.step = vm->cfg.selftest_step,
		.hold = vm->cfg.selftest_hold,
		.racy = vm->cfg.selftest_racy,
		.irq = vm->cfg.selftest_irq,
		.mistakes = vm->cfg.selftest_mistakes,
		.ipi_pingpong = vm->cfg.selftest_ipi_pingpong,
		.x2apic = vm->plat.x2apic,
		.apic_base_cpuid = !vm->accel->caps.apic_base_msr,
		.ap_timeout_ms = vm->cfg.ap_timeout_ms,
		.lapic_timer_hz = vm->accel->caps.lapic_timer_hz,
	};

	if (!g) {
		log_error("no built-in guest named '%s'", vm->cfg.guest);
		return -1;
	}
	if (current_entry(vm, &be) < 0)
		return -1;
	if (selftest_load(&vm->mem, &o, g->image, g->size, &be.regs, &be.sregs, err,
			  sizeof(err)) < 0) {
		log_error("%s", err);
		return -1;
	}
	return apply_entry(vm, &be);
}

/*
 * What a Linux guest must be told on a KVM that emulates guest code (measured on PVM, see
 * docs/HOST-NOTES.md): XSAVE cannot be hidden through CPUID there and XSAVE/XRSTOR cannot
 * be carried by mpvmm, so the kernel must not use them; in-kernel SIMD (crypto, checksums:
 * SSE instructions such as MOVD to an XMM register) cannot run there either, and clearing
 * SSE turns every such user off (its dependants go with it).
 */
#define EMULATING_HOST_CMDLINE "noxsave clearcpuid=sse"

/*
 * A guest clock that runs EMULATING_HOST_SLOWDOWN times slower than the host's, on a KVM
 * that emulates guest code.  There a 2 GHz guest retires 1-2 M instructions per second, and
 * Linux's timer tick (250 Hz, a few thousand instructions each, on every CPU) takes most of
 * the CPU; when the host is loaded a tick outlasts its period and the vCPUs do nothing else
 * (seen: both vCPUs only in timer-interrupt code for minutes).  The guest is told its TSC
 * runs that much faster than it does (tsc_early_khz; no kvm-clock, which would give it the
 * host's time, and no steal-time accounting in host nanoseconds): its clock, its TSC-deadline
 * timer and so its ticks all slow down together.  Only when the user set none of these.
 */
#define EMULATING_HOST_SLOWDOWN 8

static bool cmdline_has(const char *cmdline, const char *word)
{
	size_t n = strlen(word);

	for (const char *p = cmdline; (p = strstr(p, word)); p += n)
		if ((p == cmdline || p[-1] == ' ') && (p[n] == ' ' || p[n] == '=' || !p[n]))
			return true;
	return false;
}

/* "no-kvmclock no-steal-acc tsc_early_khz=N", or "" if it does not apply. */
static void slow_clock_options(struct vm *vm, const char *base, char *out, size_t len)
{
	const struct accel_cpu_ops *ops = vm->accel->cpu;
	uint32_t khz = ops->tsc_khz ? ops->tsc_khz(vm->vcpus[vm->cfg.boot_cpu].av) : 0;

	out[0] = 0;
	if (!khz || cmdline_has(base, "tsc_early_khz") || cmdline_has(base, "no-kvmclock") ||
	    cmdline_has(base, "clocksource"))
		return;
	snprintf(out, len, "no-kvmclock no-steal-acc tsc_early_khz=%llu",
		 (unsigned long long)khz * EMULATING_HOST_SLOWDOWN);
}

static char *guest_cmdline(struct vm *vm, enum kernel_format f)
{
	const char *base = vm->cfg.cmdline ? vm->cfg.cmdline : CONFIG_DEFAULT_CMDLINE;
	bool extra = vm->accel->caps.emulates && f != KERNEL_FORMAT_MULTIBOOT;
	char clock[96] = "";

	if (extra)
		slow_clock_options(vm, base, clock, sizeof(clock));
	size_t len = strlen(base) + sizeof(" " EMULATING_HOST_CMDLINE) + 1 + strlen(clock);
	char *s = malloc(len);

	if (!s)
		return NULL;
	snprintf(s, len, "%s%s%s%s", base, extra ? " " EMULATING_HOST_CMDLINE : "",
		 clock[0] ? " " : "", clock);
	if (extra)
		log_info("this KVM emulates guest code: adding '%s' to the kernel command line",
			 EMULATING_HOST_CMDLINE);
	if (clock[0])
		log_info("this KVM emulates guest code: the guest clock runs %u times slower than "
			 "the host's ('%s')", EMULATING_HOST_SLOWDOWN, clock);
	return s;
}

static int read_inputs(struct vm *vm, uint8_t **image, size_t *image_size, uint8_t **initrd,
		       size_t *initrd_size)
{
	char err[ERRLEN];

	*initrd = NULL;
	*initrd_size = 0;
	if (kernel_read_file(vm->cfg.kernel, image, image_size, err, sizeof(err)) < 0) {
		log_error("--kernel %s: %s", vm->cfg.kernel, err);
		return -1;
	}
	if (vm->cfg.initrd &&
	    kernel_read_file(vm->cfg.initrd, initrd, initrd_size, err, sizeof(err)) < 0) {
		log_error("--initrd %s: %s", vm->cfg.initrd, err);
		free(*image);
		return -1;
	}
	return 0;
}

int vm_load_kernel(struct vm *vm)
{
	char err[ERRLEN];
	struct boot_entry be;
	struct kernel_info ki;
	uint8_t *image, *initrd;
	size_t image_size, initrd_size;

	if (read_inputs(vm, &image, &image_size, &initrd, &initrd_size) < 0)
		return -1;
	char *cmdline = guest_cmdline(vm, kernel_detect(image, image_size));
	struct kernel_params kp = {
		.image = image, .image_size = image_size,
		.initrd = initrd, .initrd_size = initrd_size, .initrd_name = vm->cfg.initrd,
		.cmdline = cmdline,
		/* Decompressing on the host saves the guest's decompressor, which takes tens
		 * of minutes when every guest instruction is emulated; the kernel's inflate of
		 * a 1 MiB gzip initramfs takes minutes there too. */
		.decompress = vm->accel->caps.emulates ? KERNEL_DECOMPRESS_HOST :
							 KERNEL_DECOMPRESS_GUEST,
		.acpi_rsdp = ACPI_ADDR,
	};
	int r = cmdline && current_entry(vm, &be) == 0 ? 0 : -1;
	if (r == 0 && kernel_load(&vm->mem, &kp, &be, &ki, err, sizeof(err)) < 0) {
		log_error("--kernel %s: %s", vm->cfg.kernel, err);
		r = -1;
	}
	free(image);
	free(initrd);
	free(cmdline);
	if (r < 0)
		return -1;
	log_info("%s: %s, entry 0x%llx, kernel 0x%llx-0x%llx%s%s", vm->cfg.kernel, be.protocol,
		 (unsigned long long)ki.entry, (unsigned long long)ki.kernel_start,
		 (unsigned long long)ki.kernel_end, ki.compression ? ", unpacked from " : "",
		 ki.compression ? ki.compression : "");
	if (ki.initrd_compression)
		log_info("%s: initramfs unpacked from %s on the host (%llu bytes)", vm->cfg.initrd,
			 ki.initrd_compression, (unsigned long long)ki.initrd_size);
	return apply_entry(vm, &be);
}

int vm_load(struct vm *vm)
{
	return vm->cfg.kernel ? vm_load_kernel(vm) : vm_load_selftest(vm);
}
