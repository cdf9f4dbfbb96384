# Snapshots end to end: a real VM saved through the control API at each step of the MP
# protocol, restored in a new process that must finish the self-test; bad snapshot files
# refused; a save killed half-way leaves nothing at the final path.  The KVM cases are
# skipped (counted) without KVM; the same cases run with --irqchip split and --irqchip user
# (SNAP_IRQCHIP=split|user: mpvmm's PIC, I/O APIC and PIT are then in the snapshot) and on
# the software CPU (SNAP_ACCEL=soft), which needs no KVM.
# shellcheck shell=bash

snap_accel() { echo "${SNAP_ACCEL:-kvm}"; }
# The name of the current mode (kvm, kvm-split, kvm-user or soft) and its mpvmm options.
snap_mode() {
	case ${SNAP_IRQCHIP:-kernel} in
	split | user) echo "kvm-$SNAP_IRQCHIP" ;;
	*) snap_accel ;;
	esac
}
snap_opts() {
	echo "--accel $(snap_accel)"
	case ${SNAP_IRQCHIP:-kernel} in
	split | user) echo "--irqchip $SNAP_IRQCHIP" ;;
	esac
}

# snap_or_skip NAME: KVM cases need /dev/kvm; the software CPU runs anywhere.
snap_or_skip() {
	if [ "$(snap_accel)" = kvm ] && [ -n "$KVM_REASON" ]; then
		skip "$1" "$KVM_REASON"
		return 1
	fi
	return 0
}

snap_ctl() { "$MPVMM" ctl "$SOCK" "$@"; }

# wait_holds NAME N: until the VM has paused N times in step mode (or 20 s).
wait_holds() {
	local name=$1 n=$2 i
	for i in $(seq 1 400); do
		[ "$(grep -c '^mpvmm: paused at step' "$TMP/$name.err")" -ge "$n" ] && return 0
		kill -0 "$VM_PID" 2>/dev/null || return 1
		sleep 0.05
	done
	return 1
}

# snapshot_at_step STEP N WANT: the 2-vCPU self-test in step mode, held at its Nth step
# (STEP), the AP seen in WANT through the API, saved; the original then shut down, the
# snapshot restored in a new process, which must print the remaining steps and PASS.
snapshot_at_step() {
	local step=$1 n=$2 want=$3
	local mode name tag bad="" i
	mode=$(snap_mode)
	name=snap-$mode-$step
	tag=snapshot/$mode/$step
	snap_or_skip "$tag" || return 0
	SOCK=$TMP/$name.sock
	rm -f "$TMP/$name.snap"
	: >"$TMP/$name.err" # wait_holds reads it before the background process may exist
	# shellcheck disable=SC2046
	"$MPVMM" $(snap_opts) --cpus 2 --selftest-step --api "$SOCK" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	VM_PID=$!
	for i in $(seq 1 "$n"); do
		wait_holds "$name" "$i" || { bad="$bad no-hold-$i"; break; }
		[ "$i" -lt "$n" ] && snap_ctl resume >/dev/null 2>&1
	done
	local got
	got=$(snap_ctl vcpu 1 --json 2>/dev/null | sed -n 's/.*"mp_state": *"\([A-Z_]*\)".*/\1/p')
	echo "$got" | grep -qx "$want" || bad="$bad ap-was-$got"
	grep -q "step: cpu=1 apic=1 $step " "$TMP/$name.err" || bad="$bad wrong-step"
	snap_ctl snapshot "$TMP/$name.snap" --no-resume >"$TMP/$name.ctl" 2>&1 ||
		bad="$bad snapshot($(cat "$TMP/$name.ctl"))"
	snap_ctl shutdown >/dev/null 2>&1 || kill -INT "$VM_PID" 2>/dev/null
	snap_ctl resume >/dev/null 2>&1
	wait "$VM_PID"
	if [ -z "$bad" ]; then
		timeout -k 10 "$TIMEOUT" "$MPVMM" restore "$TMP/$name.snap" \
			--trace "$TMP/$name.json" >"$TMP/$name.rout" 2>"$TMP/$name.rerr" </dev/null
		local status=$?
		[ "$status" -eq 0 ] || bad="$bad restore-exit-$status"
		grep -qx 'selftest: PASS cpus=2 bsp=0' "$TMP/$name.rout" || bad="$bad no-PASS"
		# The steps after the saved one, and not the saved one again.
		grep -q "step: cpu=1 apic=1 $step " "$TMP/$name.rerr" && bad="$bad step-repeated"
		[ "$step" != ap-halted ] && ! grep -q "step: cpu=1 apic=1 ap-halted" \
			"$TMP/$name.rerr" && bad="$bad later-steps-missing"
		# The trace goes on: the INIT sent before the save is in the restored trace.
		[ "$step" != before-init ] && ! grep -q '"name":"INIT"' "$TMP/$name.json" &&
			bad="$bad trace-lost-INIT"
	fi
	if [ -z "$bad" ]; then
		pass "$tag (AP $want)"
	else
		fail "$tag" "$bad"
		echo "---- original"; tail -n 8 "$TMP/$name.err"
		echo "---- restored"; tail -n 12 "$TMP/$name.rerr" 2>/dev/null
	fi
}

# The AP's MP state at each step, as the accelerator shows it (a pattern): KVM's in-kernel
# APIC turns a SIPI into RUNNABLE at once (with --irqchip split too: the LAPICs stay in the
# kernel); the software CPU holds SIPI_RECEIVED until the AP's turn; with --irqchip user the
# AP's own thread may take its start as the step pauses.
check_snapshot_steps() {
	local sipi=RUNNABLE
	[ "$(snap_mode)" = soft ] && sipi=SIPI_RECEIVED
	[ "$(snap_mode)" = kvm-user ] && sipi='SIPI_RECEIVED\|RUNNABLE'
	snapshot_at_step before-init 1 UNINITIALIZED
	snapshot_at_step after-init 2 INIT_RECEIVED
	snapshot_at_step after-sipi1 3 "$sipi"
	snapshot_at_step after-sipi2 4 RUNNABLE
	snapshot_at_step ap-halted 5 HALTED
}

# A held VM (the self-test passed, every AP halted) with its RAM in a file beside the
# snapshot: the restored VM answers the API with every vCPU as saved; a second generation
# (a snapshot of the restored VM) restores too.  With `irq`, the self-test first runs its
# interrupt checks (--selftest-irq: the PIT, COM1, the I/O APIC and the 8259A), so the
# snapshots hold the controllers as the guest left them: initialised, routed, all masked,
# the PIT's one-shot expired.  Nothing in the held guest uses them after PASS, so what a
# restore shows is that this state is saved, accepted whole by the load's checks, and
# saved and restored again; not the guest taking interrupts after the restore.
check_snapshot_generations() {
	local irq=${1:-} suffix="" extra=() cpus=${SNAP_CPUS:-4}
	[ "$irq" = irq ] && suffix=-irq extra=(--selftest-irq)
	[ "$cpus" != 4 ] && suffix=$suffix-$cpus
	local mode name tag
	mode=$(snap_mode)
	name=snap-$mode-gen$suffix
	tag=snapshot/$mode/generations$suffix
	local bad="" gen
	snap_or_skip "$tag" || return 0
	# shellcheck disable=SC2046
	start_held "$name" $(snap_opts) --cpus "$cpus" "${extra[@]}"
	local i
	[ "$irq" = irq ] && ! grep -q '^selftest: interrupts ok' "$TMP/$name.out" &&
		bad="$bad no-interrupt-checks"
	for gen in 1 2; do
		snap_ctl snapshot "$TMP/$name.$gen.snap" --memory-file "$TMP/$name.$gen.mem" \
			>/dev/null 2>"$TMP/$name.ctl" || bad="$bad snapshot$gen($(cat "$TMP/$name.ctl"))"
		snap_ctl shutdown >/dev/null 2>&1
		wait "$VM_PID"
		[ -n "$bad" ] && break
		"$MPVMM" restore "$TMP/$name.$gen.snap" --api "$SOCK" \
			>"$TMP/$name.r$gen.out" 2>"$TMP/$name.r$gen.err" </dev/null &
		VM_PID=$!
		for i in $(seq 1 100); do
			[ -S "$SOCK" ] && snap_ctl vm >/dev/null 2>&1 && break
			sleep 0.1
		done
		local halted
		halted=$(snap_ctl vcpus --json 2>/dev/null | grep -o '"mp_state": *"HALTED"' | wc -l)
		# The BSP runs its hold loop (RUNNABLE or HALTED); the APs stay halted.
		[ "$halted" -ge $((cpus - 1)) ] || bad="$bad gen$gen-halted=$halted"
	done
	snap_ctl shutdown >/dev/null 2>&1
	wait "$VM_PID"
	# A memory file that belongs to another snapshot is refused.
	if [ -z "$bad" ] && "$MPVMM" restore "$TMP/$name.2.snap" --memory-file "$TMP/$name.1.mem" \
		>/dev/null 2>"$TMP/$name.wrongmem"; then
		bad="$bad wrong-memory-file-accepted"
	fi
	if [ -z "$bad" ]; then
		pass "$tag (2 generations, RAM in its own file)"
	else
		fail "$tag" "$bad"
		tail -n 5 "$TMP/$name.err" "$TMP/$name".r*.err 2>/dev/null
	fi
}

# expect_bad_snapshot NAME FILE WHAT: restore refuses FILE with status 2 and one error line
# mentioning WHAT; no crash, no VM.
expect_bad_snapshot() {
	local name=$1 file=$2 what=$3
	timeout -k 5 20 "$MPVMM" restore "$file" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$?
	local lines
	lines=$(grep -c . "$TMP/$name.err")
	if [ "$status" -eq 2 ] && [ "$lines" -eq 1 ] && grep -qi -- "$what" "$TMP/$name.err"; then
		pass "snapshot/refused/$name"
	else
		fail "snapshot/refused/$name" "status $status, $lines lines: $(head -c 300 "$TMP/$name.err")"
	fi
}

# Damaged snapshots, made from a real one (the software CPU's: it runs on every machine).
check_bad_snapshots() {
	local name=snap-bad src=$TMP/snap-bad.snap
	start_held "$name" --accel soft --cpus 2
	snap_ctl snapshot "$src" >/dev/null 2>&1
	snap_ctl shutdown >/dev/null 2>&1
	wait "$VM_PID"
	if [ ! -s "$src" ]; then
		fail "snapshot/refused" "could not make a snapshot to damage: $(tail -n 3 "$TMP/$name.err")"
		return
	fi
	local size
	size=$(stat -c %s "$src")
	: >"$TMP/empty.snap"
	expect_bad_snapshot empty "$TMP/empty.snap" "truncated\\|empty"
	expect_bad_snapshot missing "$TMP/no-such.snap" "no-such.snap"
	head -c $((size / 2)) "$src" >"$TMP/half.snap"
	expect_bad_snapshot truncated "$TMP/half.snap" "truncated"
	cp "$src" "$TMP/magic.snap"
	printf 'NOTASNAP' | dd of="$TMP/magic.snap" conv=notrunc status=none
	expect_bad_snapshot bad-magic "$TMP/magic.snap" "magic"
	cp "$src" "$TMP/version.snap"
	printf '\x07' | dd of="$TMP/version.snap" bs=1 seek=8 conv=notrunc status=none
	expect_bad_snapshot wrong-version "$TMP/version.snap" "version"
	# One bit flipped in the middle of the sections (past the header).
	cp "$src" "$TMP/flip.snap"
	local off=$((size / 3)) byte
	byte=$(od -An -tu1 -j "$off" -N1 "$src" | tr -d ' ')
	printf "\\x$(printf %02x $((byte ^ 0x10)))" |
		dd of="$TMP/flip.snap" bs=1 seek="$off" conv=notrunc status=none
	expect_bad_snapshot bit-flip "$TMP/flip.snap" "damaged\|CRC"
	# Intact, but for another CPU: CPUID leaf 1 ECX bit 31 (the hypervisor bit) flipped and
	# the section's CRC written again; the first different leaf is named.
	cp "$src" "$TMP/cpuid.snap"
	if "$HERE/tools/snap-edit" cpuid-flip "$TMP/cpuid.snap" 1 ecx 31; then
		expect_bad_snapshot other-cpu "$TMP/cpuid.snap" "CPU differs.*leaf 0x1 "
	else
		fail "snapshot/refused/other-cpu" "could not edit the CPUID section"
	fi
	# Counts whose product wraps around 32 bits to the vCPU count: 2 sockets of 2^31 + 1
	# cores (the top byte of `cores`, payload offset 24 of the machine section).
	if snap_edit "$src" "$TMP/topology.snap" 1 0 0 27 0x80; then
		expect_bad_snapshot topology-wraps "$TMP/topology.snap" "configuration"
	else
		fail "snapshot/refused/topology-wraps" "could not edit the machine section"
	fi
	# Another accelerator than the one that saved it.
	if [ -z "$KVM_REASON" ]; then
		timeout -k 5 20 "$MPVMM" restore "$src" --accel kvm >/dev/null 2>"$TMP/cross.err"
		local status=$?
		if [ "$status" -eq 2 ] && grep -q "accel soft" "$TMP/cross.err"; then
			pass "snapshot/refused/other-accelerator"
		else
			fail "snapshot/refused/other-accelerator" "status $status: $(cat "$TMP/cross.err")"
		fi
	else
		skip "snapshot/refused/other-accelerator" "$KVM_REASON"
	fi
}

# snap_edit IN OUT TYPE INSTANCE NEW_INSTANCE [OFFSET BYTE]: see tests/tools/snap-edit.
snap_edit() { "$HERE/tools/snap-edit" section "$@"; }

# The controllers' section (SNAP_SEC_DEVICE 5, instance CHIPSET_SNAP_ID 6 in dev/chipset.h):
# a VM that keeps them refuses a snapshot without it, or with a field no 8259A can hold; a
# VM whose controllers are in the kernel refuses one that has it.
check_snapshot_irqchip_section() {
	local name=snap-ic src=$TMP/snap-ic.snap i
	start_held "$name" --accel soft --cpus 2 --selftest-irq
	snap_ctl snapshot "$src" >/dev/null 2>&1
	snap_ctl shutdown >/dev/null 2>&1
	wait "$VM_PID"
	if ! snap_edit "$src" "$TMP/ic-same.snap" 5 6 6; then
		fail "snapshot/refused/irqchip" "no controllers' section in a software CPU's snapshot"
		return
	fi
	snap_edit "$src" "$TMP/ic-missing.snap" 5 6 100
	expect_bad_snapshot irqchip-missing "$TMP/ic-missing.snap" "no state for mpvmm's interrupt"
	# Payload byte 13: the version of the whole, the 8259A's, then the master's ICW2 base.
	snap_edit "$src" "$TMP/ic-bad.snap" 5 6 6 13 0x21
	expect_bad_snapshot irqchip-bad-field "$TMP/ic-bad.snap" "8259A master state: a vector base"
	if [ -n "$KVM_REASON" ]; then
		skip "snapshot/refused/irqchip-unexpected" "$KVM_REASON"
		return
	fi
	"$MPVMM" --accel kvm --cpus 2 --selftest-hold --api "$SOCK" \
		>"$TMP/$name.k.out" 2>"$TMP/$name.k.err" </dev/null &
	VM_PID=$!
	for i in $(seq 1 300); do
		grep -q '^selftest: PASS' "$TMP/$name.k.out" && [ -S "$SOCK" ] && break
		sleep 0.1
	done
	snap_ctl snapshot "$TMP/snap-ic-kvm.snap" >/dev/null 2>&1
	snap_ctl shutdown >/dev/null 2>&1
	wait "$VM_PID"
	snap_edit "$TMP/snap-ic-kvm.snap" "$TMP/ic-unexpected.snap" 5 5 6 # PCI's, renumbered
	expect_bad_snapshot irqchip-unexpected "$TMP/ic-unexpected.snap" "does not keep them"
}

# A save killed with SIGKILL at any moment leaves either nothing at the final path or a
# complete snapshot (which restores); never a file that looks complete and is not.
check_snapshot_killed() {
	local name=snap-kill tag=snapshot/sigkill bad="" delay partial=0 whole=0
	for delay in 0 0.005 0.02 0.1 1; do
		rm -f "$TMP/$name.snap"
		start_held "$name" --accel soft --cpus 2 --memory 1G
		local i
		snap_ctl snapshot "$TMP/$name.snap" >/dev/null 2>&1 &
		sleep "$delay"
		kill -KILL "$VM_PID"
		wait "$VM_PID" 2>/dev/null
		wait
		rm -f "$SOCK"
		if [ -e "$TMP/$name.snap" ]; then
			whole=$((whole + 1))
			"$MPVMM" restore "$TMP/$name.snap" --quiet --api "$SOCK" \
				>/dev/null 2>"$TMP/$name.rerr" </dev/null &
			local rpid=$!
			for i in $(seq 1 50); do
				[ -S "$SOCK" ] && break
				kill -0 "$rpid" 2>/dev/null || break
				sleep 0.1
			done
			[ -S "$SOCK" ] || bad="$bad delay$delay:$(head -c 200 "$TMP/$name.rerr")"
			snap_ctl shutdown >/dev/null 2>&1 || kill -KILL "$rpid"
			wait "$rpid" 2>/dev/null
			rm -f "$SOCK"
		else
			partial=$((partial + 1))
		fi
	done
	if [ -z "$bad" ]; then
		pass "$tag ($partial killed before the rename, $whole complete and restorable)"
	else
		fail "$tag" "$bad"
	fi
}

# API refusals: a bad body or a relative path is a 400, an unwritable path a clear error;
# the VM runs on.
check_snapshot_api_errors() {
	local name=snap-api tag=snapshot/api-errors bad=""
	start_held "$name" --accel soft --cpus 2
	local code
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST \
		-d '{"path": 7}' http://localhost/vm/snapshot)
	[ "$code" = 400 ] || bad="$bad body:$code"
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST \
		-d '{"path": "/x", "bogus": 1}' http://localhost/vm/snapshot)
	[ "$code" = 400 ] || bad="$bad unknown-field:$code"
	code=$(curl -s -o /dev/null -w '%{http_code}' --unix-socket "$SOCK" -X POST \
		-d '{"path": "relative.snap"}' http://localhost/vm/snapshot)
	[ "$code" = 400 ] || bad="$bad relative:$code"
	snap_ctl snapshot /nonexistent-dir/x.snap >/dev/null 2>"$TMP/$name.ctl" && bad="$bad no-dir-ok"
	grep -q "nonexistent-dir" "$TMP/$name.ctl" || bad="$bad message:$(cat "$TMP/$name.ctl")"
	snap_ctl vm 2>/dev/null | grep -q running || bad="$bad not-running-after"
	snap_ctl shutdown >/dev/null 2>&1
	wait "$VM_PID"
	if [ -z "$bad" ]; then
		pass "$tag"
	else
		fail "$tag" "$bad"
	fi
}

# snap_post BODY: POST /vm/snapshot; prints the HTTP status.
snap_post() {
	curl -s -o "$TMP/snap-post.body" -w '%{http_code}' --unix-socket "$SOCK" -X POST \
		-d "$1" http://localhost/vm/snapshot
}

# --snapshot-dir DIR: a path outside DIR, by name, by "..", or through a symbolic link, is a
# 403 and writes nothing; inside DIR it is saved, both files mode 0600 whatever the umask.
check_snapshot_confined() {
	local name=snap-dir tag=snapshot/snapshot-dir bad="" dir=$TMP/snapdir out=$TMP/snapout
	mkdir -p "$dir" "$out"
	ln -sfn "$out" "$dir/escape"
	local mask status
	mask=$(umask)
	umask 0 # the files must be 0600 all the same
	start_held "$name" --accel soft --cpus 2 --snapshot-dir "$dir"
	status=$?
	umask "$mask"
	if [ "$status" -ne 0 ]; then
		fail "$tag" "VM did not come up: $(tail -n 3 "$TMP/$name.err")"
		kill "$VM_PID" 2>/dev/null
		return
	fi
	local code
	code=$(snap_post "{\"path\": \"$out/a.snap\"}")
	[ "$code" = 403 ] || bad="$bad outside:$code"
	grep -q "is outside $dir" "$TMP/snap-post.body" || bad="$bad reason:$(cat "$TMP/snap-post.body")"
	code=$(snap_post "{\"path\": \"$dir/../snapout/b.snap\"}")
	[ "$code" = 403 ] || bad="$bad dotdot:$code"
	code=$(snap_post "{\"path\": \"$dir/escape/c.snap\"}")
	[ "$code" = 403 ] || bad="$bad symlink:$code"
	code=$(snap_post "{\"path\": \"$dir/d.snap\", \"memory_file\": \"$out/d.mem\"}")
	[ "$code" = 403 ] || bad="$bad memory-outside:$code"
	[ -z "$(ls -A "$out")" ] || bad="$bad written-outside:$(ls "$out" | tr '\n' ' ')"
	code=$(snap_post "{\"path\": \"$dir/ok.snap\", \"memory_file\": \"$dir/ok.mem\"}")
	[ "$code" = 200 ] || bad="$bad inside:$code:$(cat "$TMP/snap-post.body")"
	local f
	for f in ok.snap ok.mem; do
		[ "$(stat -c %a "$dir/$f" 2>/dev/null)" = 600 ] ||
			bad="$bad mode-$f:$(stat -c %a "$dir/$f" 2>&1)"
	done
	snap_ctl shutdown >/dev/null 2>&1 || kill "$VM_PID"
	wait "$VM_PID" 2>/dev/null
	if [ -z "$bad" ]; then
		pass "$tag"
	else
		fail "$tag" "$bad"
	fi
}

run_snapshot_tests() {
	SNAP_ACCEL=kvm check_snapshot_steps
	SNAP_ACCEL=kvm check_snapshot_generations
	SNAP_ACCEL=kvm SNAP_IRQCHIP=split check_snapshot_steps
	SNAP_ACCEL=kvm SNAP_IRQCHIP=split check_snapshot_generations
	SNAP_ACCEL=kvm SNAP_IRQCHIP=split check_snapshot_generations irq
	SNAP_ACCEL=kvm SNAP_IRQCHIP=user check_snapshot_steps
	SNAP_ACCEL=kvm SNAP_IRQCHIP=user check_snapshot_generations
	SNAP_ACCEL=kvm SNAP_IRQCHIP=user check_snapshot_generations irq
	SNAP_ACCEL=soft check_snapshot_steps
	SNAP_ACCEL=soft check_snapshot_generations
	SNAP_ACCEL=soft check_snapshot_generations irq
	# More vCPUs than an I/O APIC ID has bits: the platform numbers it after them.
	SNAP_ACCEL=soft SNAP_CPUS=64 check_snapshot_generations
	SNAP_ACCEL=kvm SNAP_IRQCHIP=split SNAP_CPUS=64 check_snapshot_generations
	check_bad_snapshots
	check_snapshot_irqchip_section
	check_snapshot_killed
	check_snapshot_api_errors
	check_snapshot_confined
	check_snapshot_old_file
}

# A snapshot an earlier build wrote (tests/data/README.md: the software CPU, two vCPUs, the
# AP in INIT_RECEIVED) restores in this build: the remaining steps, PASS, and the same trace
# bytes as that build's restore (the run is seeded).
check_snapshot_old_file() {
	local name=old-file out=$TMP/snap-old-file
	timeout -k 10 "$TIMEOUT" "$MPVMM" restore "$HERE/data/soft-after-init-format1.snap" \
		--trace "$out.json" >"$out.out" 2>"$out.err" </dev/null
	local status=$?
	if [ "$status" -ne 0 ] || ! grep -qx 'selftest: PASS cpus=2 bsp=0' "$out.out" ||
	   ! grep -q 'step: cpu=1 apic=1 after-sipi1 SIPI_RECEIVED' "$out.err" ||
	   grep -q 'step: cpu=1 apic=1 after-init' "$out.err"; then
		fail "snapshot/$name" "exit $status: $(grep -v '^ ' "$out.err" | tail -n 4)"
	elif ! cmp -s "$out.json" "$HERE/data/soft-after-init-restored.trace.json"; then
		fail "snapshot/$name" "the restored run's trace differs from the earlier build's"
	else
		pass "snapshot/$name"
	fi
}
