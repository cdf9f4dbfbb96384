# Kernel boot paths: bad kernel images (main tier) and a real Debian Linux guest (slow tier).
# shellcheck shell=bash

# Bad images: one clear error line (with --quiet), exit status 2, no VM.
expect_bad_kernel() {
	local name=$1 want=$2
	shift 2
	kvm_or_skip "kernel/$name" || return 0
	run_guest "bad-$name" --quiet "$@"
	local status=$? lines
	lines=$(wc -l <"$TMP/bad-$name.err")
	if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qi -- "$want" "$TMP/bad-$name.err"; then
		pass "kernel/$name"
	else
		fail "kernel/$name" "exit $status, $lines lines: $(head -c 300 "$TMP/bad-$name.err")"
	fi
}

make_bad_images() {
	local d=$TMP/images
	mkdir -p "$d"
	# A setup header without its 0x55AA / "HdrS" signatures.
	head -c 8192 /dev/zero >"$d/zeros"
	# A bzImage cut short: the header promises far more than the file holds.
	if [ -f "$LINUX_GUEST/vmlinuz" ]; then
		head -c 20000 "$LINUX_GUEST/vmlinuz" >"$d/truncated"
	fi
	# A well-formed ELF64 executable for another machine (e_machine 183 = AArch64): the
	# 64-byte header (one program header at offset 64, 56 bytes each), then that header.
	{
		printf '\177ELF\002\001\001\000\000\000\000\000\000\000\000\000'
		printf '\002\000\267\000\001\000\000\000'          # e_type, e_machine, e_version
		printf '\000\000\000\001\000\000\000\000'          # e_entry 0x1000000
		printf '\100\000\000\000\000\000\000\000'          # e_phoff 64
		printf '\000\000\000\000\000\000\000\000\000\000\000\000' # e_shoff, e_flags
		printf '\100\000\070\000\001\000\100\000\000\000\000\000' # sizes, counts
		printf '\001\000\000\000\005\000\000\000'          # PT_LOAD, R+X
		printf '\000\000\000\000\000\000\000\000'          # p_offset 0
		printf '\000\000\000\001\000\000\000\000'          # p_vaddr 0x1000000
		printf '\000\000\000\001\000\000\000\000'          # p_paddr 0x1000000
		printf '\170\000\000\000\000\000\000\000'          # p_filesz 120 (the file)
		printf '\170\000\000\000\000\000\000\000'          # p_memsz
		printf '\000\020\000\000\000\000\000\000'          # p_align 4096
	} >"$d/arm64.elf"
	# A multiboot header whose checksum does not add up.
	{ printf '\002\260\255\033\000\000\000\000\000\000\000\000'; head -c 100 /dev/zero; } >"$d/mb-bad-sum"
	# An initrd larger than the guest's RAM.
	head -c $((40 << 20)) /dev/zero >"$d/huge-initrd"
}

run_kernel_input_tests() {
	make_bad_images
	local d=$TMP/images
	expect_bad_kernel missing-file "No such file" --kernel "$d/nonexistent"
	expect_bad_kernel unknown-format "format" --kernel "$d/zeros"
	expect_bad_kernel elf-other-machine "machine" --kernel "$d/arm64.elf"
	expect_bad_kernel multiboot-bad-checksum "checksum" --kernel "$d/mb-bad-sum"
	if [ -f "$d/truncated" ]; then
		expect_bad_kernel truncated-bzimage "truncated" --kernel "$d/truncated"
		expect_bad_kernel initrd-too-large "initrd" --memory 96M --kernel "$LINUX_GUEST/vmlinuz" \
			--initrd "$d/huge-initrd"
	else
		skip "kernel/truncated-bzimage" "no Debian kernel at $LINUX_GUEST (scripts/linux-guest.sh)"
		skip "kernel/initrd-too-large" "no Debian kernel at $LINUX_GUEST (scripts/linux-guest.sh)"
	fi
}

# Options that skip work a KVM that emulates every instruction makes take minutes
# (docs/HOST-NOTES.md); harmless on hardware:
#  - lpj, tsc=reliable, no_timer_check: no calibration loops;
#  - rodata=off: no W+X page-table walk after mark_rodata_ro;
#  - initcall_blacklist: ftrace_check_for_weak_functions, tracer_init_tracefs and
#    trace_eval_init (tracing set-up), and every initcall that registers BPF kfuncs
#    (cubictcp_register, bpf_rstat_kfunc_init, bpf_key_sig_kfuncs_init, kfunc_init,
#    bpf_prog_test_run_init, bpf_tcp_ca_kfunc_init): the first of them parses the
#    kernel's BTF, minutes of emulated time with soft lockups;
#  - mitigations=off: no retpolines, return thunks or RSB filling on the hot paths;
#  - nowatchdog: no per-CPU lockup-detector timers and stopper-thread runs;
#  - cryptomgr.notests=1: no crypto self-tests;
#  - panic=-1: a panic reboots at once, which ends mpvmm, instead of waiting for the timeout.
LINUX_CMDLINE="console=ttyS0 lpj=1000000 tsc=reliable no_timer_check rodata=off \
initcall_blacklist=ftrace_check_for_weak_functions,tracer_init_tracefs,trace_eval_init,\
cubictcp_register,bpf_rstat_kfunc_init,bpf_key_sig_kfuncs_init,kfunc_init,\
bpf_prog_test_run_init,bpf_tcp_ca_kfunc_init \
mitigations=off nowatchdog cryptomgr.notests=1 panic=-1"

# On PVM the first system call of /init lands on the kernel's SYSCALL entry still at CPL 3
# (the insn guest's syscall-cpl3 case shows it): Linux reports a user-mode fetch of its own
# entry address, "init[1]: segfault at X ip X", with X a kernel address.
syscall_cpl3_signature() {
	grep -qE 'init\[1\]: segfault at (ffffffff[0-9a-f]{8}) ip \1 ' "$1"
}

# What no boot may print: firmware complaints, an MSR the guest was told it has and gets #GP
# for, a paravirtual IPI that went nowhere.
LINUX_BAD='\[Firmware Bug\]|APIC id mismatch|BIOS bug|unchecked MSR access error|failed to send PV IPI'

# With --irqchip user there is no in-kernel local APIC, so KVM's paravirtual IPIs and kicks
# are not offered (every IPI goes through mpvmm's APICs): the kernel must not use them.
pv_apic_in_use() {
	grep -aE 'kvm-guest: setup PV IPIs|kvm-guest: PV spinlocks enabled' "$1" | head -2
}

# boot_linux NAME CPUS [ARGS...]: /init reports every CPU online, no firmware complaints.
boot_linux() {
	local name=$1 cpus=$2
	shift 2
	kvm_or_skip "linux/$name" || return 0
	if [ ! -f "$LINUX_GUEST/vmlinuz" ]; then
		skip "linux/$name" "no Debian kernel (scripts/linux-guest.sh $LINUX_GUEST failed)"
		return 0
	fi
	local start=$SECONDS
	timeout -k 10 "$LINUX_TIMEOUT" "$MPVMM" --cpus "$cpus" --memory 512M \
		--kernel "$LINUX_GUEST/vmlinuz" --initrd "$LINUX_GUEST/initramfs.cpio.gz" \
		--cmdline "$LINUX_CMDLINE" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$? want="INIT-REACHED cpus=$cpus online=0-$((cpus - 1))"
	[ "$cpus" = 1 ] && want="INIT-REACHED cpus=1 online=0"
	local bad
	bad=$(grep -aE "$LINUX_BAD" "$TMP/$name.out" | head -3)
	case " $* " in *" user "*) bad="$bad$(pv_apic_in_use "$TMP/$name.out")" ;; esac
	if grep -qF "$want" "$TMP/$name.out" && [ -z "$bad" ] && [ "$status" -eq 0 ]; then
		pass "linux/$name ($((SECONDS - start)) s)"
	elif [ -d /sys/module/kvm_pvm ] && [ -z "$bad" ] && syscall_cpl3_signature "$TMP/$name.out" &&
		grep -q 'the guest clock runs 8 times slower' "$TMP/$name.err" &&
		grep -qF "smp: Brought up 1 node, $cpus CPUs" "$TMP/$name.out" &&
		grep -qF "Run /init as init process" "$TMP/$name.out"; then
		# What this host allows: the kernel up on every CPU and /init started.
		pass "linux/$name-kernel ($cpus CPUs up, /init started, $((SECONDS - start)) s)"
		skip "linux/$name" "this KVM (PVM) gives guest user mode no system calls: /init was \
killed at its first one (docs/HOST-NOTES.md)"
	else
		fail "linux/$name" "exit $status after $((SECONDS - start)) s; want '$want'; $bad"
		show_output "$name"
	fi
}

prepare_linux_guest() {
	if [ ! -f "$LINUX_GUEST/vmlinuz" ]; then
		"$HERE/../scripts/linux-guest.sh" "$LINUX_GUEST" >"$TMP/linux-guest.log" 2>&1 ||
			tail -5 "$TMP/linux-guest.log"
	fi
}

# The Debian kernel in each interrupt-controller mode: the kernel's, split (the I/O APIC, PIC
# and PIT mpvmm's) and user (the local APICs and MP state mpvmm's too), with 2, 4 and 32
# vCPUs.  Under PVM every guest instruction is emulated and each boot takes about 5 minutes
# to /init, whose system calls that host cannot run (docs/HOST-NOTES.md): there with 2 vCPUs
# only.  MPVMM_LINUX_TESTS=0 skips them (counted).
run_linux_slow_tests() {
	local n sizes="2 4 32"
	[ -d /sys/module/kvm_pvm ] && sizes=2
	for n in $sizes; do
		if [ "${MPVMM_LINUX_TESTS:-1}" = 0 ]; then
			skip "linux/boot-$n" "MPVMM_LINUX_TESTS=0"
			skip "linux/boot-$n-split" "MPVMM_LINUX_TESTS=0"
			skip "linux/boot-$n-user" "MPVMM_LINUX_TESTS=0"
			continue
		fi
		prepare_linux_guest
		boot_linux "boot-$n" "$n"
		boot_linux "boot-$n-split" "$n" --irqchip split
		boot_linux "boot-$n-user" "$n" --irqchip user
	done
}
