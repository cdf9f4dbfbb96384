# The self-test guest as a multiboot v1 kernel (guest/selftest/multiboot.S): booted by
# mpvmm's own multiboot loader (--kernel, KVM), and by QEMU with SeaBIOS under TCG, which
# checks the guest on a platform mpvmm did not build.  The command-line word exit=N makes
# the guest also report its verdict on the debug-exit port 0xf4: status (N << 1) | 1 on
# PASS; the word ipi-pingpong times IPI round trips as --selftest-ipi-pingpong does.  Skipped (counted, with the reason) without KVM or without qemu-system-x86_64.
# shellcheck shell=bash

QEMU_SYSTEM=${QEMU_SYSTEM:-qemu-system-x86_64}
# TCG is not slowed down by an emulating KVM: one run takes well under a second here.
QEMU_TIMEOUT=120

# mb_verdict NAME CPUS WANT_STATUS STATUS OUTFILE: pass if STATUS is WANT_STATUS and OUTFILE
# has exactly one verdict line, "selftest: PASS cpus=CPUS bsp=0".
mb_verdict() {
	local name=$1 cpus=$2 want_status=$3 status=$4 out=$5
	local want="selftest: PASS cpus=$cpus bsp=0" results
	results=$(tr -d '\r' <"$out" | grep -ac '^selftest: \(PASS\|FAIL\)')
	if [ "$status" -ne "$want_status" ]; then
		fail "$name" "exit status $status, want $want_status"
	elif [ "$results" -ne 1 ] || ! tr -d '\r' <"$out" | grep -aqx "$want"; then
		fail "$name" "want exactly one line '$want'"
	else
		pass "$name"
		return 0
	fi
	echo "---- output"; tr -d '\r\033' <"$out" | tail -n 20
	return 1
}

# check_mb_mpvmm CPUS CMDLINE WANT_STATUS: mpvmm --kernel selftest.bin on KVM.
check_mb_mpvmm() {
	local cpus=$1 cmdline=$2 want_status=$3
	local name="multiboot/mpvmm-$cpus${cmdline:+-${cmdline//=/}}"
	kvm_or_skip "$name" || return 0
	local tag=${name//\//-}
	run_guest "$tag" --kernel "$BUILD/guest/selftest.bin" --cpus "$cpus" --cmdline "$cmdline" \
		--quiet
	local status=$?
	mb_verdict "$name" "$cpus" "$want_status" "$status" "$TMP/$tag.out" ||
		{ echo "---- stderr"; tail -n 20 "$TMP/$tag.err"; }
}

# A kernel guest (not a built-in one) finds ports 0xff0-0xfff unclaimed: the self-test image
# booted with --kernel and no exit word prints its PASS and writes 0 to the result port, and
# mpvmm must go on running (it reports no self-test result; the API shuts it down).
check_mb_no_selftest_ports() {
	local name=multiboot/no-selftest-ports tag=mb-no-ports sock=$TMP/mb-no-ports.sock i
	kvm_or_skip "$name" || return 0
	"$MPVMM" --kernel "$BUILD/guest/selftest.bin" --cpus 2 --api "$sock" --quiet \
		>"$TMP/$tag.out" 2>"$TMP/$tag.err" </dev/null &
	local pid=$!
	for i in $(seq 1 600); do
		grep -aq '^selftest: PASS' "$TMP/$tag.out" && break
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	sleep 1
	if ! grep -aq '^selftest: PASS' "$TMP/$tag.out"; then
		fail "$name" "the guest did not pass"
	elif ! kill -0 "$pid" 2>/dev/null; then
		fail "$name" "mpvmm ended: $(grep stopped "$TMP/$tag.err")"
	else
		pass "$name"
	fi
	"$MPVMM" ctl "$sock" shutdown >/dev/null 2>&1 || kill "$pid" 2>/dev/null
	wait "$pid"
}

# check_mb_qemu CPUS: QEMU's pc machine (SeaBIOS: its MP table and ACPI MADT), TCG, exit=5.
check_mb_qemu() {
	local cpus=$1 name="multiboot/qemu-tcg-$1"
	if ! command -v "$QEMU_SYSTEM" >/dev/null 2>&1; then
		skip "$name" "$QEMU_SYSTEM is not installed (Debian package qemu-system-x86)"
		return 0
	fi
	local out="$TMP/mb-qemu-$cpus.out"
	timeout -k 10 "$QEMU_TIMEOUT" "$QEMU_SYSTEM" -M pc -accel tcg -smp "$cpus" -m 256M \
		-nographic -nodefaults -serial stdio -device isa-debug-exit,iobase=0xf4 \
		-kernel "$BUILD/guest/selftest.bin" -append exit=5 >"$out" 2>&1 </dev/null
	mb_verdict "$name" "$cpus" 11 $? "$out"
}

# The command-line word ipi-pingpong on QEMU (TCG, 2 CPUs): the round-trip line that
# --selftest-ipi-pingpong gives under mpvmm (PINGPONG_RE, kvm.sh), then PASS.
check_mb_qemu_pingpong() {
	local name=multiboot/qemu-tcg-pingpong out=$TMP/mb-qemu-pingpong.out
	if ! command -v "$QEMU_SYSTEM" >/dev/null 2>&1; then
		skip "$name" "$QEMU_SYSTEM is not installed (Debian package qemu-system-x86)"
		return 0
	fi
	timeout -k 10 "$QEMU_TIMEOUT" "$QEMU_SYSTEM" -M pc -accel tcg -smp 2 -m 256M \
		-nographic -nodefaults -serial stdio -device isa-debug-exit,iobase=0xf4 \
		-kernel "$BUILD/guest/selftest.bin" -append "ipi-pingpong exit=5" >"$out" 2>&1 \
		</dev/null
	local status=$?
	if ! tr -d '\r' <"$out" | grep -aqE "$PINGPONG_RE"; then
		fail "$name" "no round-trip line"
		tr -d '\r\033' <"$out" | tail -n 20
		return 0
	fi
	mb_verdict "$name" 2 11 "$status" "$out"
}

run_multiboot_tests() {
	local n
	if [ ! -f "$BUILD/guest/selftest.bin" ]; then
		fail "multiboot/image" "$BUILD/guest/selftest.bin was not built"
		return 0
	fi
	for n in 1 4 64; do
		check_mb_mpvmm "$n" exit=5 11
	done
	check_mb_no_selftest_ports
	for n in 1 4 16; do
		check_mb_qemu "$n"
	done
	check_mb_qemu_pingpong
}
