# Instructions mpvmm carries when the host's KVM cannot emulate them: the decoder/emulator
# fuzz harness over its seed corpus (no KVM), the insn guest (every case PASS, the carried
# counts in the end-of-run table), and the insn-unsupported guest (a clear report, exit 5).
# shellcheck shell=bash

INSN_CASES="int3 int1 int-n fwait popcnt-reg lzcnt-reg tzcnt-reg popcnt-prefixes bitcount-mem
count-mem popcnt-gs mem-crossing insn-crossing mem-fault clac-stac ldmxcsr cmpxchg16b fnclex
emms syscall-cpl3 int80-cpl3"

# The seed corpus through fuzz_insn: replayed by its own main, or by libFuzzer (clang builds).
check_insn_fuzz_corpus() {
	local name=unit/fuzz_insn-corpus fz=$BUILD/fuzz_insn corpus=$HERE/../fuzz/corpus/insn
	if [ ! -x "$fz" ]; then
		skip "$name" "$fz was not built"
		return 0
	fi
	local status
	if "$fz" -help=1 2>&1 | grep -q '^To run fuzzing'; then
		# A libFuzzer build: -runs=0 executes the corpus once and stops.
		"$fz" -runs=0 "$corpus" >"$TMP/fuzz_insn.out" 2>&1
		status=$?
		grep -q '^Done [0-9]* runs' "$TMP/fuzz_insn.out" || status=1
	else
		"$fz" "$corpus" >"$TMP/fuzz_insn.out" 2>&1
		status=$?
		grep -q '^fuzz_insn: replayed [1-9]' "$TMP/fuzz_insn.out" || status=1
	fi
	if [ "$status" -eq 0 ]; then
		pass "$name"
	else
		fail "$name" "exit $status: $(tail -n 5 "$TMP/fuzz_insn.out")"
	fi
}

# The carried counts of vCPU 0's row in the end-of-run table ("" if none).
insn_carried_row() {
	grep -E '^ +0 +[0-9]+ +yes ' "$TMP/$1.err" | sed -n 's/.*carried: //p'
}

check_insn_guest() {
	local name=insn
	kvm_or_skip "kvm/$name" || return 0
	run_guest "$name" --guest insn --cpus 1
	local status=$? bad="" c carried
	carried=$(insn_carried_row "$name")
	for c in $INSN_CASES; do
		grep -qE "^insn: (PASS|SKIP) $c( |\$)" "$TMP/$name.out" || bad="$bad missing:$c"
	done
	grep -q '^insn: FAIL' "$TMP/$name.out" && bad="$bad $(grep -m1 '^insn: FAIL' "$TMP/$name.out")"
	[ "$(grep -c '^insn: PASS [0-9]* cases, [0-9]* skipped$' "$TMP/$name.out")" -eq 1 ] ||
		bad="$bad no-verdict"
	# A case may only be skipped for an instruction the host ran itself: none carried.
	for c in lzcnt tzcnt; do
		if grep -q "^insn: SKIP $c-reg" "$TMP/$name.out" && echo "$carried" | grep -q "$c x"; then
			bad="$bad $c-skipped-but-carried"
		fi
	done
	# System calls from CPL 3 are the host's alone (no exit, nothing to carry): a SKIP that
	# names the host is accepted only on PVM, where they are known not to work.
	for c in syscall-cpl3 int80-cpl3; do
		if grep -q "^insn: SKIP $c " "$TMP/$name.out" && [ ! -d /sys/module/kvm_pvm ]; then
			bad="$bad $c-skipped"
		fi
	done
	# PVM cannot emulate these (see the project's notes): mpvmm must have carried them.
	if [ -d /sys/module/kvm_pvm ]; then
		for c in "int3 x1" "popcnt x" "fwait x" "clac x" "stac x" "ldmxcsr x"; do
			echo "$carried" | grep -q "$c" || bad="$bad not-carried:'$c'"
		done
	fi
	if [ "$status" -ne 0 ] || [ -n "$bad" ]; then
		fail "kvm/$name" "exit $status;$bad"
		show_output "$name"
	else
		pass "kvm/$name"
		echo "  carried: $carried"
	fi
}

# An instruction that neither the host nor mpvmm handles: vCPU, RIP, bytes, name; exit 5.
check_insn_unsupported() {
	local name=insn-unsupported
	kvm_or_skip "kvm/$name" || return 0
	run_guest "$name" --guest insn-unsupported --cpus 1
	local status=$?
	if [ "$status" -eq 1 ] && grep -q '^insn-unsupported: FAIL crc32 completed' "$TMP/$name.out" &&
		[ ! -d /sys/module/kvm_pvm ]; then
		skip "kvm/$name" "this host's KVM runs crc32 itself (no emulation failure to report)"
		return 0
	fi
	local want='vCPU 0: the host.s KVM cannot emulate the instruction at rip=[0-9a-f]+ '
	want+='\(bytes f2 0f 38 f0 [0-9a-f]{2}: crc32\) and mpvmm does not carry it'
	if [ "$status" -eq 5 ] && grep -qE "$want" "$TMP/$name.err"; then
		pass "kvm/$name"
	else
		fail "kvm/$name" "exit $status, want 5 and a report naming crc32"
		show_output "$name"
	fi
}

run_insn_tests() {
	check_insn_fuzz_corpus
	check_insn_guest
	check_insn_unsupported
}
