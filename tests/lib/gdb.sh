# The gdb stub end to end: the real gdb (gdb -batch) against the self-test guest started with
# --paused --gdb unix:SOCKET, on the software CPU and on KVM in each --irqchip mode.  Each
# check fails if the feature breaks; KVM checks skip without a usable /dev/kvm.
# shellcheck shell=bash

GUEST_ELF=${GUEST_ELF:-$BUILD/guest/selftest.elf}

# gdb_session NAME SCRIPT ARGS...: mpvmm ARGS --paused --gdb unix:$TMP/NAME.sock (stdout and
# stderr in $TMP/NAME.out, .err), then gdb -batch on SCRIPT (its output in $TMP/NAME.gdb);
# waits for mpvmm (at most 60 s).  Sets VM_STATUS.
gdb_session() {
	local name=$1 script=$2 i
	shift 2
	local sock=$TMP/$name.sock
	rm -f "$sock"
	"$MPVMM" "$@" --paused --gdb "unix:$sock" >"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	local vm=$!
	for i in $(seq 1 100); do
		[ -S "$sock" ] && break
		sleep 0.1
	done
	sed "s|@SOCK@|$sock|; s|@ELF@|$GUEST_ELF|" "$script" >"$TMP/$name.cmds"
	timeout 60 gdb -batch -nx -x "$TMP/$name.cmds" >"$TMP/$name.gdb" 2>&1 </dev/null
	for i in $(seq 1 600); do
		kill -0 "$vm" 2>/dev/null || break
		sleep 0.1
	done
	kill -KILL "$vm" 2>/dev/null
	wait "$vm"
	VM_STATUS=$?
}

# has NAME PATTERN: the gdb output of session NAME has a line matching PATTERN.
has() { grep -qE "$2" "$TMP/$1.gdb"; }

# gdb_verdict NAME BAD: the guest passed after the session, mpvmm ended with status 0, and
# nothing in BAD (the check's own findings): one PASS or FAIL line, with gdb's output then.
gdb_verdict() {
	local name=$1 bad=$2
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass"
	[ "$VM_STATUS" = 0 ] || bad="$bad status=$VM_STATUS"
	if [ -z "$bad" ]; then pass "gdb/$name"; else
		fail "gdb/$name" "$bad"; tail -25 "$TMP/$name.gdb"; tail -5 "$TMP/$name.err"; fi
}

gdb_or_skip() {
	command -v gdb >/dev/null && return 0
	skip "gdb/$1" "gdb is not installed (scripts/deps.sh installs it)"
	return 1
}

# The AP's trampoline (0x8000, real mode) stopped at by a breakpoint: the software CPU
# offers both kinds (BP = hbreak or break).
check_gdb_soft_bp() {
	local bp=$1 name=gdb-soft-$1
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<GDB
target remote @SOCK@
info threads
monitor mp
$bp *0x8000
continue
p/x \$cs
p/x \$pc
x/4xb 0x8000
monitor phys 0x8000 16
stepi
p/x \$pc
info threads
detach
GDB
	gdb_session "$name" "$TMP/$name.script" --accel soft --cpus 2
	local bad=""
	has "$name" 'Thread 1 \(vCPU 0 \(APIC 0, BSP\) RUNNABLE\)' || bad="$bad bsp-thread"
	has "$name" 'Thread 2 \(vCPU 1 \(APIC 1\) UNINITIALIZED\)' || bad="$bad ap-thread"
	has "$name" '^ +1 +1 +UNINITIALIZED' || bad="$bad monitor-mp"
	has "$name" 'Thread 2 hit (Hardware assisted )?Breakpoint 1, 0x0+8000' || bad="$bad no-stop"
	has "$name" '^\$1 = 0x800$' || bad="$bad cs"
	has "$name" '^\$2 = 0x8000$' || bad="$bad pc"
	has "$name" '^0x8000:\s+0xfa\s+0xfc\s+0x31\s+0xc0' || bad="$bad x/4xb"
	has "$name" '^0x00008000: fa fc 31 c0' || bad="$bad monitor-phys"
	has "$name" '^\$3 = 0x8001$' || bad="$bad stepi"
	has "$name" 'vCPU 1 \(APIC 1\) RUNNABLE\) +0x0+8001' || bad="$bad ap-runnable"
	gdb_verdict "$name" "$bad"
}

# KVM in each --irqchip mode: stop the BSP at start_ap (an INT3 in long mode; the trampoline
# is in place by then), start AP 1 with the API's INIT and SIPI (monitor), step it once in
# real mode (CS 0x800, pc 0x8000 + 1), put it back with INIT and detach: the guest's own
# INIT-SIPI-SIPI then brings it up and the self-test passes.
check_gdb_kvm() {
	local ic=$1 name=gdb-kvm-$1
	kvm_or_skip "gdb/$name" || return 0
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
file @ELF@
info threads
break start_ap
continue
delete 1
monitor init 1
monitor sipi 1 8
thread 2
stepi
p/x $cs
p/x $pc
x/1i 0x8000
x/4xb 0x8000
monitor phys 0x8000 16
monitor mp
monitor init 1
detach
GDB
	gdb_session "$name" "$TMP/$name.script" --cpus 2 --irqchip "$ic"
	local bad=""
	has "$name" 'Thread 2 \(vCPU 1 \(APIC 1\) UNINITIALIZED\)' || bad="$bad ap-thread"
	has "$name" 'Thread 1 hit Breakpoint 1, 0x[0-9a-f]+ in start_ap' || bad="$bad no-stop"
	has "$name" '^\$1 = 0x800$' || bad="$bad cs"
	has "$name" '^\$2 = 0x8001$' || bad="$bad pc"
	has "$name" '0x8000:\s+cli' || bad="$bad x/i"
	has "$name" '^0x8000:\s+0xfa\s+0xfc\s+0x31\s+0xc0' || bad="$bad x/4xb"
	has "$name" '^0x00008000: fa fc 31 c0' || bad="$bad monitor-phys"
	has "$name" '^ +1 +1 +RUNNABLE' || bad="$bad monitor-mp"
	gdb_verdict "$name" "$bad"
}

# hbreak on KVM: where the host cannot (PVM), the stub refuses it with E01 and one log line,
# and gdb goes on; elsewhere the AP stops at 0x8000.
check_gdb_kvm_hbreak() {
	local name=gdb-kvm-hbreak
	kvm_or_skip "gdb/$name" || return 0
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
hbreak *0x8000
continue
p/x $pc
delete
detach
GDB
	gdb_session "$name" "$TMP/$name.script" --cpus 2
	local bad="" refused
	refused=$(grep -c 'gdb: hardware breakpoint refused' "$TMP/$name.err")
	if [ -d /sys/module/kvm_pvm ]; then
		[ "$refused" = 1 ] || bad="$bad refusal-lines=$refused"
		has "$name" 'Cannot insert hardware breakpoint 1' || bad="$bad gdb-not-told"
	else
		has "$name" 'Thread 2 hit Hardware assisted breakpoint 1, 0x0+8000' ||
			bad="$bad no-stop"
	fi
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass-after-detach"
	if [ -n "$bad" ]; then
		fail "gdb/$name" "$bad"; tail -15 "$TMP/$name.gdb"; tail -5 "$TMP/$name.err"
	elif [ -d /sys/module/kvm_pvm ]; then
		skip "gdb/$name" "this KVM (PVM) never fires debug registers: refused cleanly (E01, one line)"
	else
		pass "gdb/$name"
	fi
}

# Watchpoints on the software CPU: the BSP's copy of the trampoline writes 0xfa at 0x8000
# (watch), the AP's LGDT reads its operand at 0x80b0 (rwatch) and stops after it (0x800c).
check_gdb_soft_watch() {
	local name=gdb-soft-watch
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
watch *(char*)0x8000
continue
delete
hbreak *0x8000
continue
delete
rwatch *(short*)0x80b0
continue
p/x $pc
delete
detach
GDB
	gdb_session "$name" "$TMP/$name.script" --accel soft --cpus 2
	local bad=""
	has "$name" "^New value = -6 '.372'" || bad="$bad watch"
	has "$name" 'Thread 2 hit Hardware read watchpoint 3: \*\(short\*\)0x80b0' || bad="$bad rwatch"
	has "$name" '^\$1 = 0x800c$' || bad="$bad pc-after-lgdt"
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass-after-detach"
	[ "$VM_STATUS" = 0 ] || bad="$bad status=$VM_STATUS"
	if [ -z "$bad" ]; then pass "gdb/$name"; else
		fail "gdb/$name" "$bad"; tail -20 "$TMP/$name.gdb"; tail -5 "$TMP/$name.err"; fi
}

# The software CPU with --seed: two sessions with the same commands dump the same registers.
check_gdb_seed_replay() {
	local name=gdb-seed
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
hbreak *0x8000
continue
stepi
stepi
thread 1
info registers rip rax rbx rcx rdx rsi rdi rsp eflags
thread 2
info registers rip rax rsp cs eflags cr0
detach
GDB
	gdb_session "$name-1" "$TMP/$name.script" --accel soft --cpus 3 --seed 7
	gdb_session "$name-2" "$TMP/$name.script" --accel soft --cpus 3 --seed 7
	local a b
	a=$(grep -E '^(rip|rax|rbx|rcx|rdx|rsi|rdi|rsp|eflags|cs|cr0) ' "$TMP/$name-1.gdb")
	b=$(grep -E '^(rip|rax|rbx|rcx|rdx|rsi|rdi|rsp|eflags|cs|cr0) ' "$TMP/$name-2.gdb")
	if [ "$(printf '%s\n' "$a" | wc -l)" -ge 15 ] && [ "$a" = "$b" ]; then
		pass "gdb/$name"
	else
		fail "gdb/$name" "the two sessions differ"
		diff <(printf '%s\n' "$a") <(printf '%s\n' "$b") | head -10
	fi
}

# A client that goes away while the VM is stopped (killed, no D): its breakpoints are
# removed and the VM runs on to the verdict.
check_gdb_disconnect() {
	local name=gdb-disconnect
	gdb_or_skip "$name" || return 0
	local sock=$TMP/$name.sock i
	rm -f "$sock"
	"$MPVMM" --accel soft --cpus 2 --paused --gdb "unix:$sock" >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null &
	local vm=$!
	for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
	# gdb's own output is buffered: the stop is told through a file.
	printf 'target remote %s\nset breakpoint always-inserted on\nhbreak *0x8000\ncontinue\n' \
		"$sock" >"$TMP/$name.cmds"
	printf 'shell touch %s\nshell sleep 100\n' "$TMP/$name.stopped" >>"$TMP/$name.cmds"
	gdb -batch -nx -x "$TMP/$name.cmds" >"$TMP/$name.gdb" 2>&1 </dev/null &
	local g=$!
	for i in $(seq 1 300); do [ -e "$TMP/$name.stopped" ] && break; sleep 0.1; done
	kill -KILL "$g" 2>/dev/null
	wait "$g" 2>/dev/null
	for i in $(seq 1 300); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$vm" 2>/dev/null
	wait "$vm"
	local status=$? bad=""
	[ -e "$TMP/$name.stopped" ] || bad="$bad no-stop"
	grep -q 'gdb: client gone; its breakpoints removed, the VM runs on' "$TMP/$name.err" ||
		bad="$bad no-log"
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass"
	[ "$status" = 0 ] || bad="$bad status=$status"
	if [ -z "$bad" ]; then pass "gdb/$name"; else
		fail "gdb/$name" "$bad"; tail -5 "$TMP/$name.err"; fi
}

# Bad --gdb addresses and a port in use: exit status 2 and one line.
check_gdb_refusals() {
	local name=gdb-refusals bad="" arg out status
	for arg in tcp:notaport tcp:0 tcp:70000 tcp:1.2.3:99 udp:1234 unix: tcp:; do
		out=$("$MPVMM" --accel soft --gdb "$arg" 2>&1 </dev/null)
		status=$?
		[ "$status" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
			[[ $out == *"--gdb"* ]] || bad="$bad $arg:$status"
	done
	# A port someone listens on: the first mpvmm holds it (paused, no client).
	local port=$((20000 + RANDOM % 20000))
	"$MPVMM" --accel soft --paused --gdb "tcp:$port" >/dev/null 2>"$TMP/$name.first" </dev/null &
	local first=$! i
	for i in $(seq 1 100); do grep -q 'gdb stub on' "$TMP/$name.first" && break; sleep 0.1; done
	"$MPVMM" --accel soft --gdb "tcp:127.0.0.1:$port" >/dev/null 2>"$TMP/$name.second" </dev/null
	status=$?
	out=$(grep -v '^mpvmm: accelerator' "$TMP/$name.second")
	kill -TERM "$first" 2>/dev/null
	wait "$first" 2>/dev/null
	[ "$status" = 2 ] && [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] &&
		[[ $out == *"cannot listen there: Address already in use"* ]] ||
		bad="$bad in-use:$status:$out"
	if [ -z "$bad" ]; then pass "gdb/$name"; else fail "gdb/$name" "$bad"; fi
}

# --paused without gdb: GET /vm says paused, no vCPU has exited, the guest has printed
# nothing; `mpvmm ctl PATH resume` runs it to PASS.  ACCEL: soft or kvm (IRQCHIP mode).
check_paused_api() {
	local accel=$1 ic=${2:-} name=gdb-paused-api-$1${2:+-$2}
	[ "$accel" = kvm ] && { kvm_or_skip "gdb/$name" || return 0; }
	local sock=$TMP/$name.sock bad="" i
	"$MPVMM" --accel "$accel" ${ic:+--irqchip "$ic"} --cpus 2 --paused --api "$sock" \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	local vm=$!
	for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
	sleep 0.5
	"$MPVMM" ctl "$sock" vm | grep -q '^state *paused' || bad="$bad not-paused"
	[ "$("$MPVMM" ctl "$sock" vcpus | awk 'NR > 1 { s += $NF } END { print s }')" = 0 ] ||
		bad="$bad exits-while-paused"
	grep -q selftest "$TMP/$name.out" && bad="$bad guest-ran"
	"$MPVMM" ctl "$sock" resume >/dev/null || bad="$bad resume"
	for i in $(seq 1 600); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$vm" 2>/dev/null
	wait "$vm"
	local status=$?
	grep -q '^selftest: PASS cpus=2' "$TMP/$name.out" || bad="$bad no-pass"
	[ "$status" = 0 ] || bad="$bad status=$status"
	if [ -z "$bad" ]; then pass "gdb/$name"; else
		fail "gdb/$name" "$bad"; tail -5 "$TMP/$name.err"; fi
}

# Ctrl-C while the guest runs (held after its verdict), then `kill`: gdb is told SIGINT with
# the threads stopped, and mpvmm ends with status 0.
check_gdb_interrupt_kill() {
	local name=gdb-interrupt-kill
	gdb_or_skip "$name" || return 0
	local sock=$TMP/$name.sock i
	rm -f "$sock"
	"$MPVMM" --accel soft --cpus 2 --selftest-hold --gdb "unix:$sock" >"$TMP/$name.out" \
		2>"$TMP/$name.err" </dev/null &
	local vm=$!
	for i in $(seq 1 100); do [ -S "$sock" ] && break; sleep 0.1; done
	# gdb's output is buffered: that it is about to continue is told through a file.
	printf 'target remote %s\nshell touch %s\ncontinue\ninfo threads\nkill\n' "$sock" \
		"$TMP/$name.going" >"$TMP/$name.cmds"
	gdb -batch -nx -x "$TMP/$name.cmds" >"$TMP/$name.gdb" 2>&1 </dev/null &
	local g=$!
	for i in $(seq 1 300); do [ -e "$TMP/$name.going" ] && break; sleep 0.1; done
	for i in $(seq 1 300); do grep -q '^selftest: PASS' "$TMP/$name.out" && break; sleep 0.1; done
	sleep 1
	kill -INT "$g" 2>/dev/null
	for i in $(seq 1 200); do kill -0 "$g" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$g" 2>/dev/null
	wait "$g" 2>/dev/null
	for i in $(seq 1 100); do kill -0 "$vm" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$vm" 2>/dev/null
	wait "$vm"
	local status=$? bad=""
	grep -q 'received signal SIGINT' "$TMP/$name.gdb" || bad="$bad no-sigint"
	grep -q 'Thread 2 (vCPU 1 (APIC 1) ' "$TMP/$name.gdb" || bad="$bad no-threads"
	grep -q 'stopped: killed by gdb' "$TMP/$name.err" || bad="$bad not-killed"
	[ "$status" = 0 ] || bad="$bad status=$status"
	if [ -z "$bad" ]; then pass "gdb/$name"; else
		fail "gdb/$name" "$bad"; tail -8 "$TMP/$name.gdb"; tail -3 "$TMP/$name.err"; fi
}

# Breaks on MP events through gdb (`monitor break-on`), where mpvmm keeps the local APICs
# (ACCEL: soft, or kvm with --irqchip user): each SIPI to the AP stops gdb's `continue` with
# the break's line, the AP's thread selected and its MP state in `info threads`; disarmed,
# the guest runs to PASS.  With KVM's local APICs the same command is refused.
check_gdb_mp_break() {
	local accel=$1 name=gdb-mp-break-$1 args=(--accel "$1" --cpus 2)
	[ "$accel" = kvm ] && { kvm_or_skip "gdb/$name" || return 0; args+=(--irqchip user); }
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
monitor break-on init:5
monitor break-on sipi:1
continue
info threads
monitor break-on
continue
monitor break-on none
continue
GDB
	gdb_session "$name" "$TMP/$name.script" "${args[@]}"
	local bad=""
	has "$name" '^refused: ' || bad="$bad vcpu-5-not-refused"
	has "$name" '^armed: sipi:1$' || bad="$bad not-armed"
	[ "$(grep -c '^mpvmm: break: sipi on vCPU 1 (APIC 1) from vCPU 0, vector 0x08$' \
		"$TMP/$name.gdb")" -eq 2 ] || bad="$bad not-two-sipi-breaks"
	has "$name" 'Thread 2 received signal SIGTRAP' || bad="$bad no-stop-on-ap"
	has "$name" '^\* 2 +Thread 2 \(vCPU 1 \(APIC 1\) (SIPI_RECEIVED|RUNNABLE)\)' ||
		bad="$bad ap-not-selected"
	has "$name" '^last: #1 sipi on vCPU 1$' || bad="$bad no-last"
	has "$name" '^armed: none$' || bad="$bad not-disarmed"
	gdb_verdict "$name" "$bad"
}

# With KVM's local APICs, `monitor break-on sipi` is refused with the mode's line.
check_gdb_mp_break_refused() {
	local name=gdb-mp-break-kernel
	kvm_or_skip "gdb/$name" || return 0
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
monitor break-on sipi
detach
GDB
	gdb_session "$name" "$TMP/$name.script" --accel kvm --irqchip kernel --cpus 2
	if has "$name" '^refused: .*--irqchip user' &&
		grep -q '^selftest: PASS cpus=2' "$TMP/$name.out"; then
		pass "gdb/$name"
	else
		fail "gdb/$name" "no refusal or no PASS"; tail -10 "$TMP/$name.gdb"
	fi
}

# A restored VM under gdb (`mpvmm restore SNAP --paused --gdb`): the snapshot's MP states in
# `info threads` (tests/data's soft snapshot: the AP in INIT_RECEIVED), a break on its next
# SIPI through `monitor break-on`, then PASS.
check_gdb_restore() {
	local name=gdb-restore
	gdb_or_skip "$name" || return 0
	cat >"$TMP/$name.script" <<'GDB'
target remote @SOCK@
info threads
monitor break-on sipi
continue
monitor break-on none
continue
GDB
	gdb_session "$name" "$TMP/$name.script" restore "$HERE/data/soft-after-init-format1.snap"
	local bad=""
	has "$name" 'Thread 2 \(vCPU 1 \(APIC 1\) INIT_RECEIVED\)' || bad="$bad ap-not-init-received"
	has "$name" '^mpvmm: break: sipi on vCPU 1 \(APIC 1\) from vCPU 0, vector 0x08$' ||
		bad="$bad no-break"
	gdb_verdict "$name" "$bad"
}

run_gdb_tests() {
	check_gdb_soft_bp hbreak
	check_gdb_soft_bp break
	check_gdb_soft_watch
	check_gdb_seed_replay
	check_gdb_disconnect
	check_gdb_refusals
	check_gdb_interrupt_kill
	check_paused_api soft
	check_paused_api kvm kernel
	check_paused_api kvm split
	check_paused_api kvm user
	check_gdb_kvm kernel
	check_gdb_kvm split
	check_gdb_kvm user
	check_gdb_kvm_hbreak
	check_gdb_mp_break soft
	check_gdb_mp_break kvm
	check_gdb_mp_break_refused
	check_gdb_restore
}
