# Guest tests on the software CPU (--accel soft, Unicorn): the self-test cases of kvm.sh run
# again with GUEST_ACCEL=soft, then what only the software CPU has: its refusals, and seeded
# runs that must repeat byte for byte.  None needs /dev/kvm.
# shellcheck shell=bash

# A seeded run's trace without its timestamps: the order of the MP events.
trace_order() {
	sed -e 's/"ts":[0-9.]*//g' -e 's/"end_ns":[0-9]*//g' "$1"
}

# Same seed twice: byte-identical trace files.  Two seeds: different interleavings (the
# traces differ even with every timestamp removed).
check_seeds() {
	local name=seed i s
	for s in 1 2; do
		for i in a b; do
			if ! run_guest "$name-$s$i" --accel soft --cpus 8 --seed "$s" --quiet \
				--trace "$TMP/$name-$s$i.json"; then
				fail "soft/seed-same" "seed $s run $i: exit $?"
				show_output "$name-$s$i"
				return
			fi
		done
	done
	if cmp -s "$TMP/$name-1a.json" "$TMP/$name-1b.json" &&
	   cmp -s "$TMP/$name-2a.json" "$TMP/$name-2b.json"; then
		pass "soft/seed-same"
	else
		fail "soft/seed-same" "the same seed gave different traces"
	fi
	if ! cmp -s <(trace_order "$TMP/$name-1a.json") <(trace_order "$TMP/$name-2a.json"); then
		pass "soft/seed-different"
	else
		fail "soft/seed-different" "seeds 1 and 2 gave the same order of events"
	fi
}

# --accel auto: KVM where /dev/kvm opens, the software CPU elsewhere, said in one line.
check_auto() {
	local name=auto want="accelerator: kvm (--accel auto: /dev/kvm opened)"
	[ -n "$KVM_REASON" ] && want="accelerator: soft (--accel auto: "
	timeout -k 10 "$TIMEOUT" "$MPVMM" --accel auto --cpus 2 >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null
	local status=$?
	if [ "$status" -eq 0 ] && grep -qF "mpvmm: $want" "$TMP/$name.err"; then
		pass "soft/$name"
	else
		fail "soft/$name" "exit $status, want a line '$want'"
		show_output "$name"
	fi
}

# check_trace_ipis TAG ACCEL-ARGS...: step mode where mpvmm keeps the MP state (the software
# CPU, KVM with --irqchip user): the trace holds every INIT and SIPI the BSP sent, exactly
# (mpvmm saw each one), in order, from the BSP, with the SIPI vector.
check_trace_ipis() {
	local tag=$1 name=trace-ipis-$1 cpus=4
	shift
	[ "$tag" = soft ] || kvm_or_skip "$tag/trace-ipis" || return 0
	timeout -k 10 "$TIMEOUT" "$MPVMM" "$@" --cpus $cpus --selftest-step --quiet \
		--trace "$TMP/$name.json" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$?
	if [ "$status" -eq 0 ] && python3 - "$TMP/$name.json" $cpus <<'PY'
import json, sys
d = json.load(open(sys.argv[1]))
ev = d["traceEvents"] if isinstance(d, dict) else d
n = int(sys.argv[2])
for ap in range(1, n):
    ipis = [e for e in ev if e.get("tid") == ap and e.get("ph") == "i"
            and e.get("name") in ("INIT", "SIPI")]
    ipis.sort(key=lambda e: e["ts"])
    kinds = [e["name"] for e in ipis]
    # xAPIC INIT assert and de-assert: only the assert is an INIT (SDM 10.6.1).
    if kinds != ["INIT", "SIPI", "SIPI"]:
        sys.exit(f"AP {ap}: {kinds}")
    for e in ipis:
        a = e.get("args", {})
        if a.get("source") != "exact" or a.get("from") != 0:
            sys.exit(f"AP {ap}: {e}")
        if e["name"] == "SIPI" and a.get("vector") != 8:
            sys.exit(f"AP {ap}: vector {a.get('vector')}")
PY
	then
		pass "$tag/trace-ipis"
	else
		fail "$tag/trace-ipis" "exit $status"
		show_output "$name"
	fi
}

# Where KVM exists: the same guest gives the same verdict line on both accelerators.
check_same_pass_line() {
	kvm_or_skip "soft/same-pass-line-as-kvm" || return 0
	local a b
	a=$("$MPVMM" --accel kvm --cpus 5 --boot-cpu 3 --quiet 2>/dev/null | grep '^selftest: ')
	b=$("$MPVMM" --accel soft --cpus 5 --boot-cpu 3 --quiet 2>/dev/null | grep '^selftest: ')
	if [ -n "$a" ] && [ "$a" = "$b" ] && echo "$a" | grep -q 'PASS cpus=5 bsp=3'; then
		pass "soft/same-pass-line-as-kvm"
	else
		fail "soft/same-pass-line-as-kvm" "kvm: [$a] soft: [$b]"
	fi
}

run_soft_tests() {
	check_trace_ipis soft --accel soft
	check_same_pass_line
	local GUEST_ACCEL=soft n
	for n in 1 2 4 16 64; do
		expect_pass "selftest-$n" "$n" 0 --cpus "$n" --quiet
	done
	expect_pass boot-cpu-first 5 0 --cpus 5 --boot-cpu 0 --quiet
	expect_pass boot-cpu-middle 5 2 --cpus 5 --boot-cpu 2 --quiet
	expect_pass boot-cpu-last 5 4 --cpus 5 --boot-cpu 4 --quiet
	expect_pass topology-12 12 0 --cpus 12,sockets=2,cores=3,threads=2 --quiet
	check_table
	check_step_mode step-4 4 0
	check_step_mode step-bsp-last 3 2
	check_step_mode step-seeded 4 1 --seed 5
	check_irq irq --cpus 4 --boot-cpu 2
	check_mistakes
	check_pingpong pingpong
	check_pingpong_alone
	expect_refused soft/cpus-300 "at most 255 vCPUs" --accel soft --cpus 300
	expect_refused soft/kernel "--kernel needs --accel kvm" --accel soft --kernel /dev/null
	expect_refused soft/x2apic "no x2APIC" --accel soft --x2apic
	check_seeds
	check_seed_golden seed7 seed7-cpus4 --seed 7 --cpus 4
	check_seed_golden seed11 seed11-cpus3-irq-mistakes --seed 11 --cpus 3 --selftest-irq \
		--selftest-mistakes
	check_auto
}

run_soft_slow_tests() {
	local GUEST_ACCEL=soft
	expect_pass selftest-255 255 0 --cpus 255 --quiet
	expect_pass selftest-255-bsp-last 255 254 --cpus 255 --boot-cpu 254 --quiet
}

# Seeded runs against traces an earlier build wrote (tests/data/README.md): the VMM's code
# may be rearranged, the interleaving of a seed and its trace bytes may not change.
check_seed_golden() {
	local name=$1 want=$2
	shift 2
	local out=$TMP/golden-$name
	if ! timeout -k 10 "$TIMEOUT" "$MPVMM" --accel soft "$@" --quiet --trace "$out.json" \
		--timeline "$out.svg" >"$out.out" 2>"$out.err" </dev/null; then
		fail "soft/golden-$name" "exit $?: $(tail -n 3 "$out.err")"
		return
	fi
	if ! cmp -s "$out.json" "$HERE/data/$want.trace.json"; then
		fail "soft/golden-$name" "the trace differs from tests/data/$want.trace.json"
	elif [ -e "$HERE/data/$want.timeline.svg" ] &&
	     ! cmp -s "$out.svg" "$HERE/data/$want.timeline.svg"; then
		fail "soft/golden-$name" "the timeline differs from tests/data/$want.timeline.svg"
	else
		pass "soft/golden-$name"
	fi
}
