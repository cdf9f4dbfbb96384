/*
 * config.h - what the user asked for: the command line of `mpvmm run`, turned into a
 * struct vm_config.  Knows nothing of KVM; limits that depend on the host (KVM's maximum
 * vCPU count) are checked later by vm.c.
 */
#ifndef MPVMM_CONFIG_H
#define MPVMM_CONFIG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdint.h>

#include "dev/debug_exit.h"
#include "x86/topology.h"

/* x86 KVM has never allowed more than 4096 vCPUs (KVM_MAX_VCPUS with CONFIG_MAXSMP). */
#define CONFIG_MAX_CPUS 4096u
#define CONFIG_DEFAULT_CPUS 4u
#define CONFIG_DEFAULT_MEMORY (256ull << 20)
#define CONFIG_MIN_MEMORY (8ull << 20)
#define CONFIG_MAX_MEMORY (1ull << 40)
#define CONFIG_DEFAULT_DEBUG_EXIT_PORT DEBUG_EXIT_DEFAULT_PORT
#define CONFIG_DEFAULT_AP_TIMEOUT_MS 10000u
#define CONFIG_DEFAULT_CMDLINE "console=ttyS0"

/* The software CPU has no x2APIC (Unicorn cannot trap RDMSR/WRMSR): xAPIC IDs 0-254 only. */
#define CONFIG_SOFT_MAX_CPUS 255u

struct vm_config {
	struct topology topo;
	uint32_t boot_cpu;
	uint64_t mem_size;
	bool selftest_step;    /* --selftest-step */
	bool selftest_hold;    /* --selftest-hold: keep running after the verdict */
	bool selftest_racy;    /* --selftest-racy: the deliberate bring-up bug (explore) */
	bool selftest_irq;     /* --selftest-irq: check the interrupt controllers too     */
	bool selftest_mistakes; /* --selftest-mistakes: guest mistakes after bring-up     */
	bool selftest_ipi_pingpong; /* --selftest-ipi-pingpong: IPI round trips timed      */
	bool x2apic;           /* --x2apic: x2APIC mode even when every APIC ID fits xAPIC */
	bool quiet;            /* --quiet: no informational lines, only the guest and errors */
	uint32_t ap_timeout_ms;
	uint16_t debug_exit_port;
	char guest[32];        /* --guest: name of a built-in guest */
	const char *api_socket;    /* --api PATH: control API on this UNIX socket, or NULL */
	const char *trace_file;    /* --trace FILE: Chrome trace of the MP events, at exit */
	const char *timeline_file; /* --timeline FILE: SVG timeline of the bring-up, at exit */
	const char *kernel;        /* --kernel FILE: boot this instead of a built-in guest */
	const char *initrd;        /* --initrd FILE */
	const char *cmdline;       /* --cmdline STRING (default CONFIG_DEFAULT_CMDLINE) */
	bool reboot_restart;       /* --on-reboot restart (default: exit) */
	const char *accel;         /* --accel NAME (vm/accels.h); NULL: auto, the first this
				    * host has */
	const char *irqchip;       /* --irqchip NAME (irqchip/irqchip.h); NULL: the
				    * accelerator's default (KVM: kernel; the software CPU: user) */
	bool seeded;               /* --seed S given: the software CPU's turns follow S */
	uint64_t seed;
};

enum config_result {
	CONFIG_OK = 0,
	CONFIG_HELP = 1,    /* --help: usage printed, exit 0 */
	CONFIG_VERSION = 2, /* --version */
	CONFIG_ERROR = -1,  /* reason in err */
};

void config_defaults(struct vm_config *cfg);

/*
 * Parse the options of `mpvmm run` (argv[0] is the first option, not the program name).
 * Every error is one line in err naming the option and the bad value.
 */
enum config_result config_parse_run(int argc, char *const argv[], struct vm_config *cfg,
				    char *err, size_t errlen);

/*
 * Parse a size: a number with an optional K, M, G or T suffix (binary units, case
 * insensitive, optional trailing B as in "256MB"); a bare number means MiB, as in QEMU's -m.
 */
int config_parse_size(const char *s, uint64_t *out, char *err, size_t errlen);

/* Parse an unsigned decimal or 0x-prefixed number no larger than max. */
int config_parse_uint(const char *s, uint64_t max, uint64_t *out);

void config_usage(FILE *out);

/* What the software CPU cannot run (when `soft`): one line in err, -1.  0 otherwise. */
int config_check_soft(const struct vm_config *cfg, bool soft, char *err, size_t errlen);

/* `mpvmm restore SNAPSHOT [options]`: what this process adds to the saved VM. */
struct config_restore {
	const char *snapshot;
	const char *memory_file; /* --memory-file, or NULL: the one the snapshot names */
	struct vm_config local;  /* --api, --trace, --timeline, --quiet, --accel */
};
enum config_result config_parse_restore(int argc, char *const argv[], struct config_restore *r,
					char *err, size_t errlen);
void config_restore_usage(FILE *out);

#endif
