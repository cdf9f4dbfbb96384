/*
 * config.c - command-line options of `mpvmm run` -> struct vm_config.
 *
 * Syntax and ranges that do not depend on the host are checked here, with one clear line
 * per error; host limits (KVM's vCPU maximum) are vm.c's business.
 */
#include "cli/config.h"

#include "boot/guests.h"
#include "gdb/gdb_addr.h"
#include "cli/chaos_options.h"
#include "irqchip/irqchip.h"
#include "mpvmm/selftest_abi.h"
#include "vm/accels.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int config_parse_uint(const char *s, uint64_t max, uint64_t *out)
{
	char *end;

	if (!s || !isdigit((unsigned char)s[0]))
		return -1;
	errno = 0;
	unsigned long long v = strtoull(s, &end, 0);
	if (errno || *end || v > max)
		return -1;
	*out = v;
	return 0;
}

static int size_shift(const char *suffix, unsigned *shift)
{
	static const struct { char c; unsigned shift; } units[] = {
		{ 'k', 10 }, { 'm', 20 }, { 'g', 30 }, { 't', 40 },
	};

	if (!*suffix) {
		*shift = 20; /* bare number: MiB, like QEMU's -m */
		return 0;
	}
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (tolower((unsigned char)suffix[0]) != units[i].c)
			continue;
		if (suffix[1] && !((suffix[1] == 'b' || suffix[1] == 'B') && !suffix[2]))
			return -1;
		*shift = units[i].shift;
		return 0;
	}
	if ((suffix[0] == 'b' || suffix[0] == 'B') && !suffix[1]) {
		*shift = 0;
		return 0;
	}
	return -1;
}

int config_parse_size(const char *s, uint64_t *out, char *err, size_t errlen)
{
	char *end;
	unsigned shift;

	if (!s || !isdigit((unsigned char)s[0])) {
		snprintf(err, errlen, "size '%s' is not a number (examples: 256M, 1G, 512)",
			 s ? s : "");
		return -1;
	}
	errno = 0;
	unsigned long long v = strtoull(s, &end, 10);
	if (errno || size_shift(end, &shift) < 0) {
		snprintf(err, errlen, "size '%s' is not understood (use a number with K, M, G or "
			 "T; a bare number means MiB)", s);
		return -1;
	}
	if (v > (UINT64_MAX >> shift)) {
		snprintf(err, errlen, "size '%s' is too large", s);
		return -1;
	}
	*out = (uint64_t)v << shift;
	return 0;
}

enum {
	OPT_CPUS = 'c',
	OPT_MEMORY = 'm',
	OPT_HELP = 'h',
	OPT_BOOT_CPU = 256,
	OPT_STEP,
	OPT_HOLD,
	OPT_RACY,
	OPT_IRQ,
	OPT_MISTAKES,
	OPT_IPI_PINGPONG,
	OPT_X2APIC,
	OPT_QUIET,
	OPT_AP_TIMEOUT,
	OPT_DEBUG_EXIT,
	OPT_VERSION,
	OPT_GUEST,
	OPT_API,
	OPT_TRACE,
	OPT_TIMELINE,
	OPT_KERNEL,
	OPT_INITRD,
	OPT_CMDLINE,
	OPT_ON_REBOOT,
	OPT_ACCEL,
	OPT_SEED,
	OPT_IRQCHIP,
	OPT_SNAPSHOT_DIR,
	OPT_SECCOMP,
	OPT_JAIL,
	OPT_UID,
	OPT_GID,
	OPT_CHAOS_SECONDS,
	OPT_CHAOS_SKIP,
	OPT_CHAOS_ONLY,
	OPT_BREAK_ON,
	OPT_STEP_MP,
	OPT_GDB,
	OPT_PAUSED,
};

static const struct option run_options[] = {
	{ "cpus", required_argument, NULL, OPT_CPUS },
	{ "memory", required_argument, NULL, OPT_MEMORY },
	{ "boot-cpu", required_argument, NULL, OPT_BOOT_CPU },
	{ "selftest-step", no_argument, NULL, OPT_STEP },
	{ "selftest-hold", no_argument, NULL, OPT_HOLD },
	{ "selftest-racy", no_argument, NULL, OPT_RACY },
	{ "selftest-irq", no_argument, NULL, OPT_IRQ },
	{ "selftest-mistakes", no_argument, NULL, OPT_MISTAKES },
	{ "selftest-ipi-pingpong", no_argument, NULL, OPT_IPI_PINGPONG },
	{ "x2apic", no_argument, NULL, OPT_X2APIC },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "ap-timeout", required_argument, NULL, OPT_AP_TIMEOUT },
	{ "debug-exit", required_argument, NULL, OPT_DEBUG_EXIT },
	{ "guest", required_argument, NULL, OPT_GUEST },
	{ "api", required_argument, NULL, OPT_API },
	{ "trace", required_argument, NULL, OPT_TRACE },
	{ "timeline", required_argument, NULL, OPT_TIMELINE },
	{ "kernel", required_argument, NULL, OPT_KERNEL },
	{ "initrd", required_argument, NULL, OPT_INITRD },
	{ "cmdline", required_argument, NULL, OPT_CMDLINE },
	{ "on-reboot", required_argument, NULL, OPT_ON_REBOOT },
	{ "accel", required_argument, NULL, OPT_ACCEL },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "irqchip", required_argument, NULL, OPT_IRQCHIP },
	{ "snapshot-dir", required_argument, NULL, OPT_SNAPSHOT_DIR },
	{ "seccomp", required_argument, NULL, OPT_SECCOMP },
	{ "jail", required_argument, NULL, OPT_JAIL },
	{ "uid", required_argument, NULL, OPT_UID },
	{ "gid", required_argument, NULL, OPT_GID },
	{ "chaos-seconds", required_argument, NULL, OPT_CHAOS_SECONDS },
	{ "chaos-skip", required_argument, NULL, OPT_CHAOS_SKIP },
	{ "chaos-only", required_argument, NULL, OPT_CHAOS_ONLY },
	{ "break-on", required_argument, NULL, OPT_BREAK_ON },
	{ "step", no_argument, NULL, OPT_STEP_MP },
	{ "gdb", required_argument, NULL, OPT_GDB },
	{ "paused", no_argument, NULL, OPT_PAUSED },
	{ "help", no_argument, NULL, OPT_HELP },
	{ "version", no_argument, NULL, OPT_VERSION },
	{ NULL, 0, NULL, 0 },
};

/* The sandbox's options, the same for run and restore (README "Sandbox"). */
#define CONFIG_SANDBOX_USAGE \
	"      --seccomp kill|log|off  each thread's system call allow-list: a call outside\n" \
	"                         it kills the process with SIGSYS (kill, the default; off in\n" \
	"                         sanitized builds), is only logged by the kernel (log), or\n" \
	"                         nothing is installed (off)\n" \
	"      --jail DIR         once /dev/kvm and the VM's files are open: new mount, network\n" \
	"                         and IPC namespaces, DIR as the root (--api, --trace,\n" \
	"                         --timeline and snapshots are then paths inside DIR), every\n" \
	"                         other descriptor closed; needs root, --uid and --gid\n" \
	"      --uid U, --gid G   the user and group the jailed process runs as (not 0)\n"
/* --chaos-seconds, --chaos-skip, --chaos-only: cli/chaos_options.c. */
static int parse_chaos_option(int opt, const char *arg, char *err, size_t errlen)
{
	if (opt == OPT_CHAOS_SECONDS)
		return chaos_options_seconds(arg, err, errlen);
	return chaos_options_kinds(opt == OPT_CHAOS_SKIP, arg, err, errlen);
}

void config_usage(FILE *out)
{
	fprintf(out,
		"usage: mpvmm [run] [options]        boot the built-in SMP self-test guest\n"
		"\n"
		"  -c, --cpus N[,sockets=S][,cores=C][,threads=T]\n"
		"                         vCPUs and their topology, as QEMU's -smp (default 4);\n"
		"                         APIC IDs are packed thread|core|socket, each field a\n"
		"                         power of two wide\n"
		"  -m, --memory SIZE      guest RAM, K/M/G/T suffix, bare number = MiB (default 256M)\n"
		"      --boot-cpu K       vCPU K is the bootstrap processor (default 0)\n"
		"      --x2apic           use x2APIC mode even when every APIC ID is below 255\n"
		"      --selftest-step    stop after each INIT/SIPI step and print the AP's MP state\n"
		"      --selftest-hold    keep the VM running after PASS; report APs restarted\n"
		"                         from outside (Ctrl-C ends it)\n"
		"      --selftest-racy    APs also bump a counter without a lock: a deliberate bug\n"
		"                         that some interleavings expose (see mpvmm explore)\n"
		"      --selftest-irq     after bring-up, check the PIT, COM1, I/O APIC and 8259A\n"
		"                         interrupts (edge, level with EOI, ExtINT)\n"
		"      --selftest-mistakes  after bring-up, make MP-protocol and APIC mistakes\n"
		"                         (stray SIPIs, IPIs nobody takes, INIT without SIPI...)\n"
		"      --selftest-ipi-pingpong  after bring-up, time fixed IPIs from the BSP to an\n"
		"                         AP and back (--cpus 2 or more): mean, min and max\n"
		"      --ap-timeout MS    how long the guest's BSP waits for its APs (default %u)\n"
		"      --debug-exit PORT  I/O port of the debug exit device (default 0x%x);\n"
		"                         a write of V ends mpvmm with status (V << 1) | 1\n"
		"      --guest NAME       run a built-in guest (default selftest; see below)\n"
		"      --chaos-seconds S  --guest chaos: how long every vCPU makes chaos, in TSC\n"
		"                         time (default %u); --seed S gives its seed\n"
		"      --chaos-skip KINDS --guest chaos: kinds of operation it must not make\n"
		"      --chaos-only KINDS --guest chaos: the only kinds it makes (both lists are\n"
		"                         comma separated, of the kinds listed below)\n"
		"      --kernel FILE      boot a Linux bzImage, a vmlinux ELF or a multiboot kernel\n"
		"      --initrd FILE      initial ramdisk (Linux) or module 0 (multiboot)\n"
		"      --cmdline STRING   kernel command line (default \"" CONFIG_DEFAULT_CMDLINE "\")\n"
		"      --on-reboot exit|restart  what a guest reset does (default exit)\n"
		"      --accel kvm|soft|auto  what runs the vCPUs (default auto: KVM when /dev/kvm\n"
		"                         opens, else soft).  soft is a software CPU (Unicorn) on\n"
		"                         which mpvmm keeps every vCPU's MP state; it runs only\n"
		"                         identity-mapped guests (no --kernel), in xAPIC mode, with\n"
		"                         at most %u vCPUs; a guest exception ends the run (status 4)\n"
		"      --irqchip kernel|split|user  KVM: every interrupt controller in the kernel\n"
		"                         (default); split: local APICs in the kernel, PIC, I/O\n"
		"                         APIC and PIT in mpvmm; user: all in mpvmm, MP state too,\n"
		"                         as for --accel soft (x2APIC if KVM has MSR exits)\n"
		"      --seed S           soft: the order and length of the vCPUs' turns follow S,\n"
		"                         and trace time counts instructions: same S, same run\n"
		"      --api PATH         serve the control API on this UNIX socket (mpvmm ctl PATH)\n"
		"      --snapshot-dir DIR snapshots through the API only inside DIR (else 403)\n"
		"      --gdb ADDR         serve gdb's remote protocol on tcp:[HOST:]PORT (HOST\n"
		"                         default 127.0.0.1) or unix:PATH; each vCPU is a thread\n"
		"      --paused           stop before the first guest instruction; run on with\n"
		"                         POST /vm/resume, mpvmm ctl PATH resume or gdb's continue\n"
		"      --trace FILE       write the MP-state trace at exit (Chrome trace JSON)\n"
		"      --timeline FILE    draw the MP-state timeline at exit (SVG)\n"
		"      --quiet            print only guest output, warnings and errors\n"
		"      --break-on EVENT[:VCPU][,...]  pause the whole VM when a vCPU (or vCPU\n"
		"                         index VCPU) gets an INIT (init), a SIPI (sipi), runs the\n"
		"                         first instruction of its SIPI's start (startup), enters\n"
		"                         HALTED (halt), or changes MP state (state); resume with\n"
		"                         mpvmm ctl PATH resume (needs --api) or gdb's continue\n"
		"                         (--gdb).  init, sipi, startup and halt need mpvmm's\n"
		"                         local APICs (--irqchip user, soft)\n"
		"      --step             --break-on init,sipi,startup, and start paused; on a\n"
		"                         terminal a prompt goes on (Enter), shows the MP table (m)\n"
		"                         or quits (q); else it waits for the API's resume\n"
		CONFIG_SANDBOX_USAGE
		"  -h, --help             this text\n"
		"      --version          print the version\n"
		"\n"
		"Exit status: the guest's (0 = self-test PASS, 1 = FAIL), 2 bad usage or input,\n"
		"3 no usable /dev/kvm, 4 guest triple fault (soft: any guest exception), 5 VMM or\n"
		"KVM error, 130 interrupted.\n",
		CONFIG_DEFAULT_AP_TIMEOUT_MS, CONFIG_DEFAULT_DEBUG_EXIT_PORT, CHAOS_DEFAULT_SECONDS,
		CONFIG_SOFT_MAX_CPUS);
	fprintf(out, "\nBuilt-in guests:\n");
	for (size_t i = 0; embedded_guest_at(i); i++)
		fprintf(out, "  %-10s %s\n", embedded_guest_at(i)->name, embedded_guest_at(i)->what);
	chaos_options_usage(out);
}

/* The options that only switch something on. */
static bool set_flag(int opt, struct vm_config *cfg)
{
	static const struct { int opt; size_t at; } flags[] = {
		{ OPT_STEP, offsetof(struct vm_config, selftest_step) },
		{ OPT_HOLD, offsetof(struct vm_config, selftest_hold) },
		{ OPT_RACY, offsetof(struct vm_config, selftest_racy) },
		{ OPT_IRQ, offsetof(struct vm_config, selftest_irq) },
		{ OPT_MISTAKES, offsetof(struct vm_config, selftest_mistakes) },
		{ OPT_IPI_PINGPONG, offsetof(struct vm_config, selftest_ipi_pingpong) },
		{ OPT_X2APIC, offsetof(struct vm_config, x2apic) },
		{ OPT_QUIET, offsetof(struct vm_config, quiet) },
		{ OPT_STEP_MP, offsetof(struct vm_config, step) },
		{ OPT_PAUSED, offsetof(struct vm_config, paused) },
	};

	for (size_t i = 0; i < sizeof(flags) / sizeof(flags[0]); i++) {
		if (flags[i].opt == opt) {
			*(bool *)((char *)cfg + flags[i].at) = true;
			return true;
		}
	}
	return false;
}

/* --cpus and --memory: the machine's size. */
static int parse_size_option(int opt, const char *arg, struct vm_config *cfg, char *err,
			     size_t errlen)
{
	char why[200];

	if (opt == OPT_CPUS) {
		if (topology_parse(arg, &cfg->topo, why, sizeof(why)) < 0) {
			snprintf(err, errlen, "--cpus %s: %s", arg, why);
			return -1;
		}
		if (cfg->topo.cpus > CONFIG_MAX_CPUS) {
			snprintf(err, errlen, "--cpus %s: at most %u vCPUs are possible on x86 KVM",
				 arg, CONFIG_MAX_CPUS);
			return -1;
		}
		return 0;
	}
	if (config_parse_size(arg, &cfg->mem_size, why, sizeof(why)) < 0) {
		snprintf(err, errlen, "--memory: %s", why);
		return -1;
	}
	if (cfg->mem_size < CONFIG_MIN_MEMORY || cfg->mem_size > CONFIG_MAX_MEMORY ||
	    cfg->mem_size % 4096) {
		snprintf(err, errlen, "--memory %s: must be a multiple of 4K between %lluM and %lluG",
			 arg, CONFIG_MIN_MEMORY >> 20, CONFIG_MAX_MEMORY >> 30);
		return -1;
	}
	return 0;
}

/* --boot-cpu, --ap-timeout, --debug-exit, --seed, --uid, --gid: numbers in a range. */
static int parse_number_option(int opt, const char *arg, struct vm_config *cfg, char *err,
			       size_t errlen)
{
	uint64_t v;

	switch (opt) {
	case OPT_BOOT_CPU:
		if (config_parse_uint(arg, CONFIG_MAX_CPUS - 1, &v) < 0)
			break;
		cfg->boot_cpu = (uint32_t)v;
		return 0;
	case OPT_AP_TIMEOUT:
		if (config_parse_uint(arg, 3600u * 1000u, &v) < 0 || v == 0)
			break;
		cfg->ap_timeout_ms = (uint32_t)v;
		return 0;
	case OPT_DEBUG_EXIT:
		if (config_parse_uint(arg, 0xffff, &v) < 0)
			break;
		cfg->debug_exit_port = (uint16_t)v;
		return 0;
	case OPT_UID:
	case OPT_GID:
		/* (uid_t)-1 means "unchanged" to setresuid(2); 0 would keep root in the jail. */
		if (config_parse_uint(arg, UINT32_MAX - 1, &v) < 0 || v == 0)
			break;
		*(opt == OPT_UID ? &cfg->uid : &cfg->gid) = (uint32_t)v;
		*(opt == OPT_UID ? &cfg->uid_set : &cfg->gid_set) = true;
		return 0;
	default: /* OPT_SEED */
		if (config_parse_uint(arg, UINT64_MAX, &v) < 0)
			break;
		cfg->seeded = true;
		cfg->seed = v;
		return 0;
	}
	snprintf(err, errlen, opt == OPT_UID ? "--uid '%s' is not a user id other than 0" :
		 opt == OPT_GID ? "--gid '%s' is not a group id other than 0" :
		 opt == OPT_BOOT_CPU ? "--boot-cpu '%s' is not a vCPU index" :
		 opt == OPT_AP_TIMEOUT ? "--ap-timeout '%s' is not a number of milliseconds "
					 "(1..3600000)" :
		 opt == OPT_DEBUG_EXIT ? "--debug-exit '%s' is not an I/O port (0..0xffff)" :
		 "--seed '%s' is not a number", arg);
	return -1;
}

/* --guest, --accel, --irqchip, --on-reboot, --seccomp: one of a few names. */
static int parse_name_option(int opt, const char *arg, struct vm_config *cfg, char *err,
			     size_t errlen)
{
	switch (opt) {
	case OPT_SECCOMP:
		if (!sandbox_action_parse(arg, &cfg->seccomp)) {
			snprintf(err, errlen, "--seccomp '%s': use kill, log or off", arg);
			return -1;
		}
		return 0;
	case OPT_GUEST:
		if (!embedded_guest_find(arg)) {
			snprintf(err, errlen, "--guest '%s': no such built-in guest (see --help)", arg);
			return -1;
		}
		snprintf(cfg->guest, sizeof(cfg->guest), "%s", arg);
		return 0;
	case OPT_ACCEL:
		cfg->accel = strcmp(arg, "auto") ? arg : NULL;
		if (!vm_accel_known(cfg->accel)) {
			snprintf(err, errlen, "--accel '%s': use %s", arg, vm_accel_names());
			return -1;
		}
		return 0;
	case OPT_IRQCHIP:
		if (!irqchip_mode_find(arg)) {
			snprintf(err, errlen, "--irqchip '%s': use %s", arg, irqchip_mode_names());
			return -1;
		}
		cfg->irqchip = arg;
		return 0;
	default: /* OPT_ON_REBOOT */
		if (strcmp(arg, "exit") && strcmp(arg, "restart")) {
			snprintf(err, errlen, "--on-reboot '%s': use exit or restart", arg);
			return -1;
		}
		cfg->reboot_restart = !strcmp(arg, "restart");
		return 0;
	}
}

/* --api, --trace, --timeline, --kernel, --initrd, --jail (a file each), --cmdline (any
 * string). */
static int parse_string_option(int opt, const char *arg, struct vm_config *cfg, char *err,
			       size_t errlen)
{
	const char **to = opt == OPT_API ? &cfg->api_socket : opt == OPT_TRACE ? &cfg->trace_file :
			  opt == OPT_TIMELINE ? &cfg->timeline_file :
			  opt == OPT_JAIL ? &cfg->jail_dir :
			  opt == OPT_KERNEL ? &cfg->kernel : opt == OPT_INITRD ? &cfg->initrd :
			  opt == OPT_BREAK_ON ? &cfg->break_on : &cfg->cmdline;

	if (opt == OPT_BREAK_ON && cfg->break_on) {
		snprintf(err, errlen, "--break-on given twice (list the events: --break-on a,b)");
		return -1;
	}
	if (opt == OPT_BREAK_ON && !*arg) {
		snprintf(err, errlen, "--break-on needs events (init, sipi, startup, halt, state)");
		return -1;
	}
	if (opt != OPT_CMDLINE && !*arg) {
		snprintf(err, errlen, "option needs a file name");
		return -1;
	}
	*to = arg;
	return 0;
}

/*
 * --snapshot-dir: resolved now (symbolic links, ".."), so that what the API checks a path
 * against is the directory the user named, whatever happens to that name later.
 */
static int parse_snapshot_dir(const char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	static char resolved[PATH_MAX];
	struct stat st;

	if (!realpath(arg, resolved) || stat(resolved, &st) < 0) {
		snprintf(err, errlen, "--snapshot-dir %s: %s", arg, strerror(errno));
		return -1;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, errlen, "--snapshot-dir %s: not a directory", arg);
		return -1;
	}
	cfg->snapshot_dir = resolved;
	return 0;
}

static int parse_one(int opt, const char *arg, struct vm_config *cfg, char *err, size_t errlen)
{
	if (set_flag(opt, cfg))
		return 0;
	switch (opt) {
	case OPT_CPUS:
	case OPT_MEMORY:
		return parse_size_option(opt, arg, cfg, err, errlen);
	case OPT_BOOT_CPU:
	case OPT_AP_TIMEOUT:
	case OPT_DEBUG_EXIT:
	case OPT_SEED:
	case OPT_UID:
	case OPT_GID:
		return parse_number_option(opt, arg, cfg, err, errlen);
	case OPT_GUEST:
	case OPT_ACCEL:
	case OPT_IRQCHIP:
	case OPT_ON_REBOOT:
	case OPT_SECCOMP:
		return parse_name_option(opt, arg, cfg, err, errlen);
	case OPT_API:
	case OPT_TRACE:
	case OPT_TIMELINE:
	case OPT_KERNEL:
	case OPT_INITRD:
	case OPT_JAIL:
	case OPT_CMDLINE:
	case OPT_BREAK_ON:
		return parse_string_option(opt, arg, cfg, err, errlen);
	case OPT_SNAPSHOT_DIR:
		return parse_snapshot_dir(arg, cfg, err, errlen);
	case OPT_CHAOS_SECONDS:
	case OPT_CHAOS_SKIP:
	case OPT_CHAOS_ONLY:
		return parse_chaos_option(opt, arg, err, errlen);
	case OPT_GDB: {
		struct gdb_addr a;
		cfg->gdb = arg;
		return gdb_addr_parse(arg, &a, err, errlen);
	}
	}
	snprintf(err, errlen, "internal error: option %d not handled", opt);
	return -1;
}

/* --jail, --uid and --gid go together: a jail that keeps root is none, and a user without a
 * jail would still see the host's files. */
static int check_jail(const struct vm_config *cfg, char *err, size_t errlen)
{
	if (cfg->jail_dir && (!cfg->uid_set || !cfg->gid_set)) {
		snprintf(err, errlen, "--jail needs --uid and --gid (the user the jail runs as)");
		return -1;
	}
	if (!cfg->jail_dir && (cfg->uid_set || cfg->gid_set)) {
		snprintf(err, errlen, "%s needs --jail", cfg->uid_set ? "--uid" : "--gid");
		return -1;
	}
	return 0;
}

/*
 * --break-on and --step, once --cpus is known.  Someone must be able to resume a VM a break
 * pauses: the control API, or --step's prompt on a terminal.  What the --irqchip mode cannot
 * see is refused when the VM is built (the mode is chosen there).
 */
static int check_breaks(struct vm_config *cfg, char *err, size_t errlen)
{
	struct mp_break_set step;

	if (mp_break_parse(cfg->break_on, cfg->topo.cpus, &cfg->breaks, err, errlen) < 0)
		return -1;
	if (cfg->step && (mp_break_parse("init,sipi,startup", cfg->topo.cpus, &step, err,
					 errlen) < 0 || mp_break_merge(&cfg->breaks, &step) < 0))
		return -1;
	if (cfg->breaks.n && !cfg->api_socket && !cfg->gdb &&
	    !(cfg->step && isatty(STDIN_FILENO))) {
		snprintf(err, errlen, "%s needs --api PATH or --gdb ADDR: a break pauses the VM and "
			 "only the API (mpvmm ctl PATH resume) or gdb's continue resumes it",
			 cfg->step ? "--step (stdin is no terminal)" : "--break-on");
		return -1;
	}
	return 0;
}

enum config_result config_parse_run(int argc, char *const argv[], struct vm_config *cfg,
				    char *err, size_t errlen)
{
	/* getopt wants argv[0] to be a program name; give it one and scan the rest. */
	char **args = calloc((size_t)argc + 2, sizeof(char *));
	enum config_result result = CONFIG_OK;

	if (!args) {
		snprintf(err, errlen, "out of memory");
		return CONFIG_ERROR;
	}
	args[0] = (char *)"mpvmm run";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];

	chaos_options_reset();
	optind = 0; /* full re-initialisation (GNU), so the parser can run more than once */
	opterr = 0;
	int opt;
	while ((opt = getopt_long(argc + 1, args, ":c:m:h", run_options, NULL)) != -1) {
		if (opt == OPT_HELP) {
			result = CONFIG_HELP;
			break;
		}
		if (opt == OPT_VERSION) {
			result = CONFIG_VERSION;
			break;
		}
		if (opt == '?' || opt == ':') {
			const char *what = args[optind - 1];
			snprintf(err, errlen, opt == '?' ? "unknown option '%s' (see --help)"
				 : "option '%s' needs a value", what);
			result = CONFIG_ERROR;
			break;
		}
		if (parse_one(opt, optarg, cfg, err, errlen) < 0) {
			result = CONFIG_ERROR;
			break;
		}
	}
	if (result == CONFIG_OK && optind < argc + 1) {
		snprintf(err, errlen, "unexpected argument '%s' (see --help)", args[optind]);
		result = CONFIG_ERROR;
	}
	if (result == CONFIG_OK && check_jail(cfg, err, errlen) < 0)
		result = CONFIG_ERROR;
	if (result == CONFIG_OK && check_breaks(cfg, err, errlen) < 0)
		result = CONFIG_ERROR;
	if (result == CONFIG_OK && cfg->gdb && cfg->jail_dir) {
		snprintf(err, errlen, "--gdb cannot be used with --jail (its network namespace has "
			 "no way in)");
		result = CONFIG_ERROR;
	}
	if (result == CONFIG_OK && cfg->initrd && !cfg->kernel) {
		snprintf(err, errlen, "--initrd needs --kernel");
		result = CONFIG_ERROR;
	}
	if (result == CONFIG_OK && cfg->boot_cpu >= cfg->topo.cpus) {
		snprintf(err, errlen, "--boot-cpu %u is out of range (%u vCPUs: 0..%u)",
			 cfg->boot_cpu, cfg->topo.cpus, cfg->topo.cpus - 1);
		result = CONFIG_ERROR;
	}
	/* What the accelerator asked for cannot run is refused with the other option errors. */
	if (result == CONFIG_OK && cfg->accel && vm_accel_refuses(cfg, cfg->accel, err, errlen) < 0)
		result = CONFIG_ERROR;
	if (result == CONFIG_OK)
		chaos_options_apply(cfg->seeded, cfg->seed, cfg->debug_exit_port);
	free(args);
	return result;
}

/* ---- mpvmm restore ---- */

enum restore_opt { ROPT_HELP = 'h', ROPT_API = 256, ROPT_TRACE, ROPT_TIMELINE, ROPT_QUIET,
		   ROPT_ACCEL, ROPT_MEMORY_FILE, ROPT_SNAPSHOT_DIR, ROPT_SECCOMP, ROPT_JAIL,
		   ROPT_UID, ROPT_GID, ROPT_GDB, ROPT_PAUSED, ROPT_BREAK_ON };

/* The restore options that are run's own, parsed as run parses them. */
static const struct { int ropt, opt; } restore_as_run[] = {
	{ ROPT_API, OPT_API }, { ROPT_TRACE, OPT_TRACE }, { ROPT_TIMELINE, OPT_TIMELINE },
	{ ROPT_QUIET, OPT_QUIET }, { ROPT_ACCEL, OPT_ACCEL },
	{ ROPT_SNAPSHOT_DIR, OPT_SNAPSHOT_DIR }, { ROPT_SECCOMP, OPT_SECCOMP },
	{ ROPT_JAIL, OPT_JAIL }, { ROPT_UID, OPT_UID }, { ROPT_GID, OPT_GID },
	{ ROPT_GDB, OPT_GDB }, { ROPT_PAUSED, OPT_PAUSED }, { ROPT_BREAK_ON, OPT_BREAK_ON },
};

static const struct option restore_options[] = {
	{ "api", required_argument, NULL, ROPT_API },
	{ "trace", required_argument, NULL, ROPT_TRACE },
	{ "timeline", required_argument, NULL, ROPT_TIMELINE },
	{ "quiet", no_argument, NULL, ROPT_QUIET },
	{ "accel", required_argument, NULL, ROPT_ACCEL },
	{ "memory-file", required_argument, NULL, ROPT_MEMORY_FILE },
	{ "snapshot-dir", required_argument, NULL, ROPT_SNAPSHOT_DIR },
	{ "seccomp", required_argument, NULL, ROPT_SECCOMP },
	{ "jail", required_argument, NULL, ROPT_JAIL },
	{ "uid", required_argument, NULL, ROPT_UID },
	{ "gid", required_argument, NULL, ROPT_GID },
	{ "gdb", required_argument, NULL, ROPT_GDB },
	{ "paused", no_argument, NULL, ROPT_PAUSED },
	{ "break-on", required_argument, NULL, ROPT_BREAK_ON },
	{ "help", no_argument, NULL, ROPT_HELP },
	{ NULL, 0, NULL, 0 },
};

void config_restore_usage(FILE *out)
{
	fprintf(out,
		"usage: mpvmm restore SNAPSHOT [options]   run a VM on from a snapshot\n"
		"\n"
		"  The VM's configuration (vCPUs, memory, accelerator, irqchip, guest) is the one\n"
		"  it was saved with; these options belong to the new process:\n"
		"      --memory-file FILE the guest RAM file saved beside the snapshot (default:\n"
		"                         the one the snapshot names, in its directory)\n"
		"      --api PATH         control API on this UNIX socket\n"
		"      --snapshot-dir DIR snapshots through the API only inside DIR (else 403)\n"
		"      --trace FILE       Chrome trace of the MP events at exit (the saved ones too)\n"
		"      --timeline FILE    SVG timeline at exit\n"
		"      --accel kvm|soft   must be the snapshot's own accelerator (checked)\n"
		"      --quiet            no informational lines\n"
		"      --gdb ADDR         gdb remote stub (tcp:[HOST:]PORT or unix:PATH), as for run\n"
		"      --paused           stop before the restored VM's first instruction\n"
		"      --break-on EVENTS  breaks on MP events, as for run (vCPUs: the snapshot's)\n"
		CONFIG_SANDBOX_USAGE
		"      (with --jail, SNAPSHOT and its memory file are opened before entering DIR)\n"
		"\n"
		"  A snapshot that is damaged, from another format version, or from a host whose\n"
		"  CPU differs is refused with one line naming what does not match (status 2).\n");
}

/* One option of restore; CONFIG_OK, or CONFIG_HELP, or CONFIG_ERROR with a reason. */
static enum config_result parse_restore_one(int opt, const char *arg, struct config_restore *r,
					    const char *what, char *err, size_t errlen)
{
	for (size_t i = 0; i < sizeof(restore_as_run) / sizeof(restore_as_run[0]); i++)
		if (restore_as_run[i].ropt == opt)
			return parse_one(restore_as_run[i].opt, arg, &r->local, err, errlen) < 0
				       ? CONFIG_ERROR : CONFIG_OK;
	switch (opt) {
	case ROPT_HELP:
		return CONFIG_HELP;
	case ROPT_MEMORY_FILE:
		r->memory_file = arg;
		return CONFIG_OK;
	default:
		snprintf(err, errlen, opt == ':' ? "option '%s' needs a value" :
			 "unknown option '%s' for restore (see mpvmm restore --help)", what);
		return CONFIG_ERROR;
	}
}

enum config_result config_parse_restore(int argc, char *const argv[], struct config_restore *r,
					char *err, size_t errlen)
{
	char **args = calloc((size_t)argc + 2, sizeof(char *));
	enum config_result result = CONFIG_OK;
	int opt;

	memset(r, 0, sizeof(*r));
	config_defaults(&r->local);
	if (!args) {
		snprintf(err, errlen, "out of memory");
		return CONFIG_ERROR;
	}
	args[0] = (char *)"mpvmm restore";
	for (int i = 0; i < argc; i++)
		args[i + 1] = argv[i];
	optind = 0;
	opterr = 0;
	while (result == CONFIG_OK &&
	       (opt = getopt_long(argc + 1, args, ":h", restore_options, NULL)) != -1)
		result = parse_restore_one(opt, optarg, r, args[optind - 1], err, errlen);
	if (result == CONFIG_OK && optind == argc) {
		r->snapshot = args[optind];
	} else if (result == CONFIG_OK) {
		snprintf(err, errlen, optind > argc ? "which snapshot? (mpvmm restore SNAPSHOT)" :
			 "unexpected argument '%s' (one snapshot at a time)", args[optind + 1]);
		result = CONFIG_ERROR;
	}
	if (result == CONFIG_OK && check_jail(&r->local, err, errlen) < 0)
		result = CONFIG_ERROR;
	/* Which vCPUs --break-on names is checked against the snapshot (vm/restore.c). */
	if (result == CONFIG_OK && r->local.break_on && r->local.break_on[0] &&
	    !r->local.api_socket && !r->local.gdb) {
		snprintf(err, errlen, "--break-on needs --api PATH or --gdb ADDR: a break pauses the "
			 "VM and only the API (mpvmm ctl PATH resume) or gdb's continue resumes it");
		result = CONFIG_ERROR;
	}
	if (result == CONFIG_OK && r->local.gdb && r->local.jail_dir) {
		snprintf(err, errlen, "--gdb cannot be used with --jail (its network namespace has "
			 "no way in)");
		result = CONFIG_ERROR;
	}
	free(args);
	return result;
}

