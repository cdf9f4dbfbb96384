/*
 * vm_config.h - what a VM is built from: the configuration the command line (cli/config.c)
 * or a snapshot's machine section (restore.c) gives, with its defaults and its host-
 * independent limits.  Limits that depend on the host (the accelerator's vCPU count) are
 * checked when the VM is built (vm.c).
 */
#ifndef MPVMM_VM_CONFIG_H
#define MPVMM_VM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>

#include "dev/debug_exit.h"
#include "mp/mp_break.h"
#include "util/seccomp.h"
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

/* Each thread's system call allow-list is on by default (src/util/seccomp.c); a sanitizer's
 * runtime makes calls of its own that no list names, so sanitized builds default to off. */
#ifdef MPVMM_SANITIZED
#define CONFIG_DEFAULT_SECCOMP SANDBOX_OFF
#else
#define CONFIG_DEFAULT_SECCOMP SANDBOX_KILL
#endif

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
	const char *gdb;           /* --gdb tcp:[HOST:]PORT | unix:PATH: gdb stub, or NULL */
	bool paused;               /* --paused: stop before the first guest instruction    */
	const char *snapshot_dir;  /* --snapshot-dir DIR, resolved: API snapshots only there */
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
	/* The process's sandbox (README "Sandbox"), for `run` and `restore` alike. */
	enum sandbox_action seccomp; /* --seccomp kill|log|off */
	const char *jail_dir;      /* --jail DIR: the process's root once the VM's files are
				    * open; NULL: no jail */
	bool uid_set, gid_set;     /* --uid U, --gid G: who the jailed process is */
	uint32_t uid, gid;
	const char *break_on;      /* --break-on's text, parsed into `breaks`          */
	struct mp_break_set breaks; /* --break-on EVENT[:VCPU][,...] (and --step's)      */
	bool step;                 /* --step: start paused, break on init, sipi, startup */
};

/* The defaults: 4 vCPUs (one socket), 256 MiB, the self-test guest. */
void config_defaults(struct vm_config *cfg);

#endif
