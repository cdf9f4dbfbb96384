/*
 * selftest_abi.h - the contract between mpvmm and its built-in SMP self-test guest.
 *
 * Shared, byte for byte, by the VMM (src/boot/selftest.c, src/dev/selftest_port.c) and the
 * freestanding guest (guest/selftest/).  It must stay free of any host or guest library
 * header: only fixed-width integer types, which both sides provide.
 *
 * The guest learns the machine the way an OS would (ACPI MADT, MP table, CPUID, its local
 * APIC); this header only carries what an OS cannot learn from the platform: the test's
 * options, and the I/O ports through which the guest reports progress to the VMM.
 */
#ifndef MPVMM_SELFTEST_ABI_H
#define MPVMM_SELFTEST_ABI_H

/* ---- Guest physical memory map of the self-test boot (all below 1 MiB but the image). ---- */
#define SELFTEST_GDT_ADDR       0x00001000u /* boot GDT built by the VMM                 */
#define SELFTEST_PML4_ADDR      0x00002000u /* identity map of 0..4 GiB, 2 MiB pages:     */
#define SELFTEST_PDPT_ADDR      0x00003000u /*   PML4 -> PDPT -> 4 page directories       */
#define SELFTEST_PD_ADDR        0x00004000u /*   0x4000..0x7fff                           */
#define SELFTEST_TRAMPOLINE     0x00008000u /* AP real-mode entry: SIPI vector 0x08       */
#define SELFTEST_BOOTINFO_ADDR  0x00009000u /* struct selftest_bootinfo                   */
#define CHAOS_BOOTINFO_ADDR     0x00009100u /* struct chaos_bootinfo (--guest chaos)       */
#define SELFTEST_IMAGE_ADDR     0x00100000u /* the guest image is loaded (and entered) here */

/* SIPI vector V starts an AP at physical V << 12 (Intel SDM Vol. 3A, 8.4.4.1). */
#define SELFTEST_SIPI_VECTOR    (SELFTEST_TRAMPOLINE >> 12)

/* ---- Boot information the VMM leaves at SELFTEST_BOOTINFO_ADDR (pointer also in RDI). ---- */
#define SELFTEST_BOOTINFO_MAGIC 0x5453504du /* "MPST" */
#define SELFTEST_BOOTINFO_VERSION 1u

#define SELFTEST_FLAG_STEP      (1u << 0) /* stop after each protocol step (see below)     */
#define SELFTEST_FLAG_X2APIC    (1u << 1) /* use x2APIC mode even if every ID is < 255      */
/*
 * After the verdict, keep running: the BSP waits for APs restarted from outside (INIT and
 * SIPI sent by the VMM) and prints "selftest: apic=<id> reported again" for each report.
 */
#define SELFTEST_FLAG_HOLD      (1u << 2)
/*
 * RDMSR of IA32_APIC_BASE reads 0 on this CPU (mpvmm's software CPU cannot trap it): take
 * the register's value (BSP flag, global enable, base; Intel SDM Vol. 3A, 10.4.4) from CPUID
 * leaf SELFTEST_CPUID_APIC_BASE instead, which answers for the CPU executing it: EAX bits
 * 31:0, EDX bits 63:32.  Leaf 0x40000000 then reads EAX >= that leaf and the signature
 * "mpvmmsoftcpu" in EBX, ECX, EDX.  Never set on KVM.
 */
#define SELFTEST_FLAG_APIC_BASE_CPUID (1u << 3)
/*
 * A deliberate bring-up bug, for `mpvmm explore`: every AP also bumps a shared counter with
 * a plain load and store (no LOCK), and the BSP fails if an update was lost.  Whether one
 * is lost depends on how the APs interleave: some software-CPU seeds lose one.
 */
#define SELFTEST_FLAG_RACY      (1u << 4)
/*
 * After every AP reported, the BSP checks the PC's interrupt controllers the way an OS uses
 * them: the PIT through the I/O APIC (edge), COM1's THR-empty interrupt through the I/O APIC
 * as a level-triggered one (remote IRR, EOI), and the PIT through the 8259A and LINT0 in
 * virtual wire mode (ExtINT); then prints "selftest: interrupts ok ..." before the verdict.
 */
#define SELFTEST_FLAG_IRQ       (1u << 5)
/*
 * After every AP reported (and the interrupt checks and IPI round trips), the BSP makes
 * mistakes a VMM must report and survive: a SIPI to a running AP and a storm of them, an IPI
 * to an APIC ID no processor has, an IPI from a software-disabled APIC, a reserved-register
 * write (xAPIC), an INIT with no SIPI (then it waits 800 ms); then "selftest: mistakes made
 * ..." and PASS.
 */
#define SELFTEST_FLAG_MISTAKES  (1u << 6)
/*
 * After every AP reported and the interrupt checks, before the mistakes: interrupt delivery
 * timed.  The BSP sends a fixed IPI to the first AP, whose handler sends one back, a fixed
 * number of times (guest/selftest/pingpong.c); each round trip is timed with the TSC, its
 * rate measured against the LAPIC timer.  Then "selftest: ipi round trip: <K> trips, mean
 * <ns> ns, min <ns> ns, max <ns> ns" and PASS; with one processor "selftest: ipi round trip
 * skipped: it needs an ap".  APs wait with interrupts enabled after reporting (not IF = 0).
 */
#define SELFTEST_FLAG_IPI_PINGPONG (1u << 7)
#define SELFTEST_CPUID_APIC_BASE 0x40000001u

/* Most processors the guest can bring up (its per-CPU tables and AP stacks are this big). */
#define SELFTEST_MAX_CPUS       1024u

/* C declarations are skipped when the guest's assembly sources include this file. */
#ifndef __ASSEMBLER__
struct selftest_bootinfo {
	uint32_t magic;          /* SELFTEST_BOOTINFO_MAGIC                                   */
	uint32_t version;        /* SELFTEST_BOOTINFO_VERSION                                 */
	uint32_t flags;          /* SELFTEST_FLAG_*                                           */
	uint32_t ncpus;          /* processors the VMM created; the guest checks the MADT agrees */
	uint64_t mem_size;       /* bytes of RAM from physical 0 (contiguous below 3 GiB)     */
	uint64_t lapic_timer_hz; /* local APIC timer input clock, divide-by-1                  */
	uint32_t ap_timeout_ms;  /* how long the BSP waits for all APs before FAIL             */
	uint32_t reserved;
};
#endif /* !__ASSEMBLER__ */

/*
 * ---- The chaos guest (--guest chaos) ----
 * Every vCPU makes random operations of these kinds for `seconds` of TSC time, drawn from
 * the seed (one stream per vCPU); the BSP then prints "chaos: done vcpus=N seconds=S ops=K
 * seed=X" and reports 0 on SELFTEST_PORT_RESULT.  --chaos-skip names kinds (the second
 * column) it must not make, to find which kind a failure needs.  Its options are a block of
 * their own beside the self-test's boot information, which stays as it was (a seeded
 * software-CPU run of the self-test is a function of its image, tests/data/README.md).
 */
#define CHAOS_DEFAULT_SECONDS 10u
#define CHAOS_OPS(X)                                                                      \
	X(PIO, "pio")                     /* IN/OUT, any port, 8/16/32 bits                */ \
	X(REPORT_PORTS, "report-ports")   /* OUTs to the self-test's step and AP ports     */ \
	X(PIO_STRING, "pio-string")       /* REP INS/OUTS with small counts                */ \
	X(LAPIC_MMIO, "lapic")            /* reads and writes in the local APIC's page     */ \
	X(IOAPIC_MMIO, "ioapic")          /* reads and writes in the I/O APIC's page       */ \
	X(HOLE_MMIO, "hole")              /* the PCI hole, unmapped space, the 4 GiB top   */ \
	X(IPI, "ipi")                     /* fixed, lowest-priority and reserved IPIs      */ \
	X(NMI, "nmi")                     /* NMI IPIs                                      */ \
	X(INIT, "init")                   /* INIT to APs (self, others), then SIPIs        */ \
	X(INIT_DEASSERT, "init-deassert") /* INIT level de-assert, to everyone             */ \
	X(SIPI, "sipi")                   /* SIPI storms                                   */ \
	X(MSR, "msr")                     /* RDMSR/WRMSR: harmless, x2APIC, random indexes */ \
	X(APIC_BASE, "apic-base")         /* IA32_APIC_BASE on APs: modes, enable, BSP bit */ \
	X(RTE, "rte")                     /* I/O APIC redirection entries                  */ \
	X(LAPIC_TIMER, "lapic-timer")     /* one-shot/periodic/deadline, tiny counts       */ \
	X(TSC_DEADLINE, "tsc-deadline")   /* IA32_TSC_DEADLINE                             */ \
	X(PIT, "pit")                     /* the 8254: modes, tiny counts, read-back       */ \
	X(PIC, "pic")                     /* the 8259A pair: ICWs, OCWs, masks             */ \
	X(HLT, "hlt")                     /* APs: STI; HLT with their timer armed          */ \
	X(TIDY, "tidy")                   /* APIC software-enabled again, TPR 0            */

#define CHAOS_BOOTINFO_MAGIC 0x534f4843u /* "CHOS" */
#define CHAOS_FLAG_SEEDED    (1u << 0)   /* --seed S given: `seed` holds S */

#ifndef __ASSEMBLER__
struct chaos_bootinfo {
	uint32_t magic;           /* CHAOS_BOOTINFO_MAGIC                                   */
	uint32_t flags;           /* CHAOS_FLAG_*                                           */
	uint64_t seed;            /* --seed S, with CHAOS_FLAG_SEEDED                       */
	uint32_t seconds;         /* --chaos-seconds; 0 = CHAOS_DEFAULT_SECONDS             */
	uint32_t skip;            /* --chaos-skip: 1 << CHAOS_OP_x per kind it must not make */
	uint32_t debug_exit_port; /* --debug-exit: a write there ends the run: avoided      */
	uint32_t reserved;
};

enum chaos_op {
#define CHAOS_OP_ENUM(name, word) CHAOS_OP_##name,
	CHAOS_OPS(CHAOS_OP_ENUM)
#undef CHAOS_OP_ENUM
	CHAOS_OP_COUNT
};
#endif /* !__ASSEMBLER__ */

/* ---- I/O ports (all 32-bit OUTs unless said otherwise). ---- */
/*
 * Announce a step of the INIT-SIPI-SIPI sequence with one 32-bit OUT to SELFTEST_PORT_STEP:
 * SELFTEST_STEP_VALUE(step, target APIC ID) — one VM exit per announcement, since exits
 * dominate bring-up time on a KVM that emulates.  Normal mode: one SENDING announcement per
 * AP, right before its INIT, SIPI, SIPI (the VMM records the three at that time).  Step mode
 * (SELFTEST_FLAG_STEP): BEFORE_INIT, AFTER_INIT, AFTER_SIPI1, AFTER_SIPI2 and AP_HALTED, one
 * AP at a time, and the VMM reads and prints the target AP's MP state at each step.
 */
#define SELFTEST_PORT_STEP      0x0ff0u
#define SELFTEST_STEP_VALUE(step, apic_id) (((uint32_t)(step) << 24) | ((apic_id) & 0xffffffu))
#define SELFTEST_STEP_OF(value)    ((value) >> 24)
#define SELFTEST_APIC_ID_OF(value) ((value) & 0xffffffu)
/* An AP reports in: value is 0 for success or a SELFTEST_AP_ERR_* code. */
#define SELFTEST_PORT_AP        0x0ff8u
/* The BSP ends the test: value 0 = PASS, anything else = FAIL (a SELFTEST_FAIL_* code). */
#define SELFTEST_PORT_RESULT    0x0ffcu

#ifndef __ASSEMBLER__
enum selftest_step {
	SELFTEST_STEP_BEFORE_INIT = 1, /* about to send INIT (assert) to the target         */
	SELFTEST_STEP_AFTER_INIT  = 2, /* INIT sent (and de-asserted)                         */
	SELFTEST_STEP_AFTER_SIPI1 = 3, /* first STARTUP IPI sent                              */
	SELFTEST_STEP_AFTER_SIPI2 = 4, /* second STARTUP IPI sent                             */
	SELFTEST_STEP_AP_HALTED   = 5, /* the target reported in and is about to halt forever */
	SELFTEST_STEP_SENDING     = 6, /* normal mode: about to send INIT, SIPI, SIPI           */
};

enum selftest_ap_err {
	SELFTEST_AP_OK              = 0,
	SELFTEST_AP_ERR_CPUID_ID    = 1, /* CPUID APIC ID differs from the LAPIC ID register */
	SELFTEST_AP_ERR_NOT_IN_MADT = 2, /* own APIC ID missing from the MADT                */
	SELFTEST_AP_ERR_BSP_FLAG    = 3, /* IA32_APIC_BASE.BSP set on an AP                   */
	SELFTEST_AP_ERR_TOPOLOGY    = 4, /* CPUID leaf 0xB/0x1F disagrees with the APIC ID    */
	SELFTEST_AP_ERR_DUPLICATE   = 5, /* two APs reported the same APIC ID                  */
};

/* Value the BSP writes to SELFTEST_PORT_RESULT when the test fails (0 means PASS). */
enum selftest_fail {
	SELFTEST_FAIL_BOOTINFO  = 1, /* bad magic / version / field in selftest_bootinfo        */
	SELFTEST_FAIL_ACPI      = 2, /* RSDP/XSDT/MADT missing, bad checksum, count != ncpus     */
	SELFTEST_FAIL_MPTABLE   = 3, /* MP table missing, malformed, disagrees, or unexpected    */
	SELFTEST_FAIL_BSP       = 4, /* the BSP's own checks (BSP flag, APIC ID, MADT order)     */
	SELFTEST_FAIL_EXCEPTION = 5, /* a CPU took an exception                                  */
	SELFTEST_FAIL_TIMEOUT   = 6, /* not every AP reported within ap_timeout_ms               */
	SELFTEST_FAIL_AP        = 7, /* an AP reported an error (SELFTEST_AP_ERR_*) or was missing */
	SELFTEST_FAIL_RESOURCES = 8, /* too many processors, or not enough RAM for AP stacks     */
	SELFTEST_FAIL_IRQ       = 9, /* SELFTEST_FLAG_IRQ: an interrupt did not come, or twice   */
	SELFTEST_FAIL_IPI       = 10, /* SELFTEST_FLAG_IPI_PINGPONG: a ping or pong did not come */
};

#endif /* !__ASSEMBLER__ */

#endif
