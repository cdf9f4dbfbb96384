# Breaks on MP events (--break-on, --step, /vm/breakpoints): a VM driven through its breaks
# with `mpvmm ctl PATH resume`, the built-in self-test and tests/guests/bcast.S (a broadcast
# INIT-SIPI-SIPI of the tests' own), with mpvmm's local APICs (--irqchip user) and on the
# software CPU; what the in-kernel local APICs cannot see refused.  Each check fails if its
# feature breaks.
# shellcheck shell=bash

# break_verdict NAME BAD: PASS, or FAIL with BAD and the run's output.
break_verdict() {
	if [ -n "$2" ]; then
		fail "breaks/$1" "$2"
		show_output "$1"
	else
		pass "breaks/$1"
	fi
}

# break_run NAME ARGS...: mpvmm ARGS --api SOCK in the background (stdin not a terminal);
# each new "break:" or "step:" line on stderr is answered, once BREAK_HOOK NAME N (if set)
# has looked at the paused VM, with `mpvmm ctl SOCK resume`, until mpvmm exits.  Its status
# in BREAK_STATUS; stdout and stderr in $TMP/NAME.out and .err; BSOCK the socket.
break_run() {
	local name=$1 seen=0 n pid
	shift
	BSOCK=$TMP/$name.sock
	timeout -k 10 "$TIMEOUT" "$MPVMM" "$@" --api "$BSOCK" >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null &
	pid=$!
	while kill -0 "$pid" 2>/dev/null; do
		n=$(grep -a -c -E '^mpvmm: (break|step): ' "$TMP/$name.err")
		if [ "$n" -gt "$seen" ]; then
			seen=$n
			[ -n "${BREAK_HOOK:-}" ] && "$BREAK_HOOK" "$name" "$seen"
			"$MPVMM" ctl "$BSOCK" resume >/dev/null 2>&1
		else
			sleep 0.05
		fi
	done
	wait "$pid"
	BREAK_STATUS=$?
}

# The break lines, without the prefix and the "; paused ..." tail, one per line.
break_lines() {
	grep -a '^mpvmm: break: ' "$TMP/$1.err" | sed 's/^mpvmm: break: //; s/; paused.*//'
}

# At each break: GET /vm says paused and names the same break as the line.
paused_with_break() {
	local name=$1 n=$2 line vm
	line=$(break_lines "$name" | tail -n 1)
	vm=$("$MPVMM" ctl "$BSOCK" vm 2>&1)
	echo "$vm" | grep -q '^state *paused$' || echo "break $n: not paused" >>"$TMP/$name.bad"
	[ -z "$line" ] && return
	echo "$vm" | grep -qF "break     $line (#" ||
		echo "break $n: GET /vm does not name [$line]" >>"$TMP/$name.bad"
}

# The SIPI lines a bring-up of CPUS vCPUs (BSP 0) must give: two per AP, vector 0x08.
want_sipis() {
	local cpu
	for cpu in $(seq 1 $(($1 - 1))); do
		echo "sipi on vCPU $cpu (APIC $cpu) from vCPU 0, vector 0x08"
		echo "sipi on vCPU $cpu (APIC $cpu) from vCPU 0, vector 0x08"
	done
}

# check_break_sipi NAME CPUS STATUS PASS-LINE ARGS...: every SIPI pauses the VM, named right.
check_break_sipi() {
	local name=$1 cpus=$2 want_status=$3 passline=$4 bad=""
	shift 4
	rm -f "$TMP/$name.bad"
	BREAK_HOOK=paused_with_break break_run "$name" --cpus "$cpus" --break-on sipi "$@"
	[ "$BREAK_STATUS" -eq "$want_status" ] || bad="$bad exit=$BREAK_STATUS"
	grep -q "^$passline" "$TMP/$name.out" || bad="$bad no-pass"
	[ "$(break_lines "$name" | sort)" = "$(want_sipis "$cpus" | sort)" ] ||
		bad="$bad breaks=[$(break_lines "$name" | tr '\n' '|')]"
	[ -f "$TMP/$name.bad" ] && bad="$bad $(tr '\n' ';' <"$TMP/$name.bad")"
	break_verdict "$name" "$bad"
}

# The tests' own broadcast guest, assembled once.
bcast_kernel() {
	[ -f "$TMP/bcast.elf" ] && return 0
	as --32 "$HERE/guests/bcast.S" -o "$TMP/bcast.o" &&
		ld -m elf_i386 -N -Ttext=0x100000 -e _start --no-warn-rwx-segments \
			"$TMP/bcast.o" -o "$TMP/bcast.elf" 2>/dev/null ||
		ld -m elf_i386 -N -Ttext=0x100000 -e _start "$TMP/bcast.o" -o "$TMP/bcast.elf"
}

check_break_bcast() {
	kvm_or_skip "breaks/sipi-bcast-user" || return 0
	if ! bcast_kernel; then
		fail "breaks/sipi-bcast-user" "cannot assemble tests/guests/bcast.S"
		return
	fi
	# Status 15: the guest's PASS on the debug-exit port, (7 << 1) | 1.
	check_break_sipi sipi-bcast-user 4 15 "bcast: PASS cpus=4" --accel kvm --irqchip user \
		--kernel "$TMP/bcast.elf"
}

# At the startup break: vCPU 2 is RUNNABLE with its start loaded: EDX the processor
# signature (SDM table 9-1); on KVM CS 0x0800 IP 0 (SIPI vector 8).  The software CPU
# reaches real mode through a stub of its own (soft_regs.c), where RIP is then.
at_startup() {
	local name=$1 regs
	regs=$("$MPVMM" ctl "$BSOCK" regs 2 --json 2>&1 | tr -d ' \n')
	echo "$regs" | grep -q '"rdx":"0x600"' || echo "edx not 0x600" >>"$TMP/$name.bad"
	if [ "$2" = kvm ]; then
		echo "$regs" | grep -q '"rip":"0x0"' || echo "rip not 0" >>"$TMP/$name.bad"
		echo "$regs" | grep -q '"cs":{"selector":2048' ||
			echo "cs not 0x0800" >>"$TMP/$name.bad"
	fi
	"$MPVMM" ctl "$BSOCK" vcpu 2 | grep -q 'RUNNABLE' || echo "not RUNNABLE" >>"$TMP/$name.bad"
}
at_startup_kvm() { at_startup "$1" kvm; }
at_startup_soft() { at_startup "$1" soft; }

# check_break_startup NAME kvm|soft ARGS...: only vCPU 2 stops, before its first instruction.
check_break_startup() {
	local name=$1 accel=$2 bad=""
	shift 2
	rm -f "$TMP/$name.bad"
	BREAK_HOOK=at_startup_$accel break_run "$name" --cpus 4 --break-on startup:2 "$@"
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	[ "$(break_lines "$name")" = "startup on vCPU 2 (APIC 2), vector 0x08" ] ||
		bad="$bad breaks=[$(break_lines "$name" | tr '\n' '|')]"
	[ -f "$TMP/$name.bad" ] && bad="$bad $(tr '\n' ';' <"$TMP/$name.bad")"
	break_verdict "$name" "$bad"
}

# After the fifth break, the VM is shut down (it is held after PASS).
shutdown_at_5() {
	[ "$2" = 5 ] && "$MPVMM" ctl "$BSOCK" shutdown >/dev/null 2>&1
}

# halt and state, vCPU 1's only (the BSP halts while it waits, as often as its timer
# wakes it): vCPU 1's bring-up, in order.  The guest is held after PASS: its BSP does not
# wait for the AP's HLT, which may come after the verdict.
check_break_halt_state() {
	local name=halt-state-user bad="" want
	kvm_or_skip "breaks/$name" || return 0
	BREAK_HOOK=shutdown_at_5 break_run "$name" --accel kvm --irqchip user --cpus 2 \
		--selftest-hold --break-on halt:1,state:1
	want="state on vCPU 1 (APIC 1): INIT_RECEIVED
state on vCPU 1 (APIC 1): SIPI_RECEIVED
state on vCPU 1 (APIC 1): RUNNABLE
halt on vCPU 1 (APIC 1): HALTED
state on vCPU 1 (APIC 1): HALTED"
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	[ "$(break_lines "$name")" = "$want" ] ||
		bad="$bad breaks=[$(break_lines "$name" | tr '\n' '|')]"
	break_verdict "$name" "$bad"
}

# At --step's first stop, the breakpoints through the API: listed, replaced, refused,
# cleared, then `sipi` armed for the run.
arm_through_api() {
	local name=$1 n=$2 code
	[ "$n" = 1 ] || return 0
	{
		"$MPVMM" ctl "$BSOCK" vm | grep -q '^state *paused$' || echo "not paused at start"
		"$MPVMM" ctl "$BSOCK" break-on | grep -q '^armed *init,sipi,startup$' ||
			echo "--step's events not listed"
		"$MPVMM" ctl "$BSOCK" break-on halt:1 | grep -q '^armed *halt:1$' ||
			echo "PUT not taken"
		code=$(curl -s -o "$TMP/$name.put" -w '%{http_code}' --unix-socket "$BSOCK" -X PUT \
			-d '{"events":"sipi:7"}' http://localhost/vm/breakpoints)
		[ "$code" = 400 ] && grep -q "'7' is no vCPU index" "$TMP/$name.put" ||
			echo "bad PUT: $code"
		"$MPVMM" ctl "$BSOCK" break-on --clear | grep -q '^armed *(none)$' ||
			echo "DELETE not taken"
		"$MPVMM" ctl "$BSOCK" break-on sipi | grep -q '^armed *sipi$' ||
			echo "sipi not armed"
	} >>"$TMP/$name.bad" 2>&1
}

check_break_api() {
	local name=api-user bad=""
	kvm_or_skip "breaks/$name" || return 0
	rm -f "$TMP/$name.bad"
	BREAK_HOOK=arm_through_api break_run "$name" --accel kvm --irqchip user --cpus 3 --step \
		--trace "$TMP/$name.json"
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	[ "$(break_lines "$name" | sort)" = "$(want_sipis 3 | sort)" ] ||
		bad="$bad breaks=[$(break_lines "$name" | tr '\n' '|')]"
	grep -q '^selftest: PASS cpus=3' "$TMP/$name.out" || bad="$bad no-pass"
	# The trace file records each break: four sipi breaks, none of the disarmed events.
	[ "$(grep -o '"name":"break"[^}]*"event":"sipi"' "$TMP/$name.json" | wc -l)" = 4 ] ||
		bad="$bad trace-breaks"
	[ -s "$TMP/$name.bad" ] && bad="$bad $(tr '\n' ';' <"$TMP/$name.bad")"
	break_verdict "$name" "$bad"
}

# The in-kernel local APICs: init, sipi, startup and halt refused through the API too (400,
# the command line's line); state taken.
check_break_api_kernel() {
	local name=api-kernel bad="" code
	kvm_or_skip "breaks/$name" || return 0
	if ! start_held "$name" --accel kvm --irqchip kernel --cpus 2; then
		fail "breaks/$name" "VM did not come up"; show_output "$name"; return
	fi
	code=$(curl -s -o "$TMP/$name.put" -w '%{http_code}' --unix-socket "$SOCK" -X PUT \
		-d '{"events":"sipi"}' http://localhost/vm/breakpoints)
	[ "$code" = 400 ] && grep -q 'with --irqchip kernel .*use --irqchip user' "$TMP/$name.put" ||
		bad="$bad sipi=$code"
	ctl break-on state | grep -q '^armed *state$' || bad="$bad state-not-armed"
	stop_held_vm
	break_verdict "$name" "$bad"
}

# state with KVM's local APICs: the changes mpvmm infers from what the self-test reports.
check_break_state_kernel() {
	local name=state-kernel bad="" lines
	kvm_or_skip "breaks/$name" || return 0
	break_run "$name" --accel kvm --irqchip kernel --cpus 2 --break-on state
	lines=$(break_lines "$name")
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	echo "$lines" | grep -qx 'state on vCPU 1 (APIC 1): INIT_RECEIVED (inferred)' ||
		bad="$bad no-inferred-init"
	echo "$lines" | grep -qx 'state on vCPU 1 (APIC 1): RUNNABLE (inferred)' ||
		bad="$bad no-inferred-runnable"
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass"
	if [ -n "$bad" ]; then
		fail "breaks/$name" "$bad [$(echo "$lines" | tr '\n' '|')]"
		show_output "$name"
	else
		pass "breaks/$name"
	fi
}

# --step, stdin no terminal: the API's resume walks the whole bring-up to PASS.
check_step_walk() {
	local name=step-walk-user bad="" lines
	kvm_or_skip "breaks/$name" || return 0
	break_run "$name" --accel kvm --irqchip user --cpus 3 --step
	lines=$(break_lines "$name")
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	grep -q '^mpvmm: step: paused before the first instruction' "$TMP/$name.err" ||
		bad="$bad no-first-stop"
	[ "$(echo "$lines" | grep -c '^init on vCPU [12] (APIC [12]) from vCPU 0$')" = 2 ] ||
		bad="$bad inits"
	[ "$(echo "$lines" | grep -c '^sipi on vCPU [12] .*vector 0x08$')" = 4 ] || bad="$bad sipis"
	[ "$(echo "$lines" | grep -c '^startup on vCPU [12] (APIC [12]), vector 0x08$')" = 2 ] ||
		bad="$bad startups"
	[ "$(echo "$lines" | wc -l)" = 8 ] || bad="$bad count"
	grep -q '^selftest: PASS cpus=3' "$TMP/$name.out" || bad="$bad no-pass"
	if [ -n "$bad" ]; then
		fail "breaks/$name" "$bad [$(echo "$lines" | tr '\n' '|')]"
		show_output "$name"
	else
		pass "breaks/$name"
	fi
}

# --step on a terminal (script(1) gives it one): Enter goes on, m prints the table, q quits.
check_step_prompt() {
	local name=step-prompt bad=""
	kvm_or_skip "breaks/$name" || return 0
	if ! command -v script >/dev/null; then
		skip "breaks/$name" "no script(1) to give mpvmm a terminal"
		return
	fi
	printf '\nm\n\n\n\n\n\n\n\n\n' >"$TMP/$name.keys"
	timeout -k 10 "$TIMEOUT" script -qec "$MPVMM --accel kvm --irqchip user --cpus 2 --step" \
		/dev/null <"$TMP/$name.keys" >"$TMP/$name.out" 2>&1
	local status=$?
	tr -d '\r' <"$TMP/$name.out" >"$TMP/$name.err"
	[ "$status" -eq 0 ] || bad="$bad exit=$status"
	[ "$(grep -c 'step> Enter: go on' "$TMP/$name.err")" -ge 5 ] || bad="$bad prompts"
	grep -q '^MP state backend: user' "$TMP/$name.err" || bad="$bad no-table"
	grep -q 'selftest: PASS cpus=2' "$TMP/$name.err" || bad="$bad no-pass"
	printf 'q\n' >"$TMP/$name.keys"
	timeout -k 10 "$TIMEOUT" script -qec "$MPVMM --accel kvm --irqchip user --cpus 2 --step" \
		/dev/null <"$TMP/$name.keys" >"$TMP/$name-q.out" 2>&1
	status=$?
	[ "$status" -eq 130 ] || bad="$bad q-exit=$status"
	grep -q 'quit at the step prompt' "$TMP/$name-q.out" || bad="$bad q-not-said"
	break_verdict "$name" "$bad"
}

# expect_break_refused NAME WORDS ARGS...: exit 2, one error line with WORDS.
expect_break_refused() {
	local name=$1 words=$2
	shift 2
	timeout -k 10 "$TIMEOUT" "$MPVMM" "$@" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null
	local status=$?
	if [ "$status" -eq 2 ] && [ "$(grep -c 'error:' "$TMP/$name.err")" = 1 ] &&
		grep -q -- "$words" "$TMP/$name.err"; then
		pass "breaks/$name"
	else
		fail "breaks/$name" "exit $status"
		show_output "$name"
	fi
}

check_break_refusals() {
	local a="--api $TMP/refused.sock"
	# shellcheck disable=SC2086
	{
		expect_break_refused refused-unknown "unknown event 'wake'" --break-on init,wake $a
		expect_break_refused refused-range "'4' is no vCPU index of this VM (0 to 3)" \
			--cpus 4 --break-on startup:4 $a
		expect_break_refused refused-repeat "'sipi:1' repeats" --break-on sipi,sipi:1 $a
		expect_break_refused refused-no-api "needs --api PATH" --break-on sipi
		expect_break_refused refused-step-no-tty "stdin is no terminal" --step
	}
	kvm_or_skip "breaks/refused-kernel" || return 0
	# shellcheck disable=SC2086
	{
		expect_break_refused refused-kernel-init "--break-on init: with --irqchip kernel" \
			--accel kvm --irqchip kernel --break-on init $a
		expect_break_refused refused-kernel-sipi "use --irqchip user" \
			--accel kvm --break-on state,sipi:1 $a
		expect_break_refused refused-kernel-startup "--break-on startup: with --irqchip kernel" \
			--accel kvm --irqchip kernel --break-on startup $a
		expect_break_refused refused-split-halt "--break-on halt: with --irqchip split" \
			--accel kvm --irqchip split --break-on halt $a
		expect_break_refused refused-kernel-step "^mpvmm: error: --step: with --irqchip kernel" \
			--accel kvm --irqchip kernel --step $a
	}
}

# A restored VM takes --break-on too (tests/data's soft snapshot: 2 vCPUs, the AP in
# INIT_RECEIVED, its SIPIs still to come): both SIPIs stop it, then PASS; a vCPU the
# snapshot has not, or no way to resume, refused.
check_break_restore() {
	local name=restore-sipi bad="" snap=$HERE/data/soft-after-init-format1.snap out
	break_run "$name" restore "$snap" --break-on sipi
	[ "$BREAK_STATUS" -eq 0 ] || bad="$bad exit=$BREAK_STATUS"
	[ "$(break_lines "$name")" = "$(want_sipis 2)" ] ||
		bad="$bad breaks=[$(break_lines "$name" | tr '\n' '|')]"
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass"
	out=$("$MPVMM" restore "$snap" --break-on sipi:2 --api "$TMP/$name-2.sock" 2>&1 </dev/null)
	[ $? = 2 ] && echo "$out" | grep -q "'2' is no vCPU index of this VM (0 to 1)" ||
		bad="$bad vcpu-2-not-refused"
	out=$("$MPVMM" restore "$snap" --break-on sipi 2>&1 </dev/null)
	[ $? = 2 ] && echo "$out" | grep -q 'needs --api PATH or --gdb ADDR' ||
		bad="$bad no-api-not-refused"
	break_verdict "$name" "$bad"
}

run_breaks_tests() {
	check_break_refusals
	if kvm_or_skip "breaks/sipi-user"; then
		check_break_sipi sipi-user 4 0 "selftest: PASS cpus=4" --accel kvm --irqchip user
	fi
	check_break_sipi sipi-soft 3 0 "selftest: PASS cpus=3" --accel soft
	check_break_bcast
	kvm_or_skip "breaks/startup-2-user" && check_break_startup startup-2-user kvm --accel kvm \
		--irqchip user
	check_break_startup startup-2-soft soft --accel soft
	check_break_halt_state
	check_break_api
	check_break_api_kernel
	check_break_state_kernel
	check_step_walk
	check_step_prompt
	check_break_restore
}
