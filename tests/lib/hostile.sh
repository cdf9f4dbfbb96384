# A hostile guest, client or file against the defences of docs/THREAT-MODEL.md.  Each check
# fails if its defence is removed.
# shellcheck shell=bash

ms_now() { echo $(($(date +%s%N) / 1000000)); }

# build_test_kernel NAME: tests/guests/NAME.S as a multiboot v1 kernel, $TMP/NAME.elf.
build_test_kernel() {
	as --32 "$HERE/guests/$1.S" -o "$TMP/$1.o" &&
		ld -m elf_i386 -N -Ttext=0x100000 -e _start --no-warn-rwx-segments \
			"$TMP/$1.o" -o "$TMP/$1.elf" 2>/dev/null ||
		ld -m elf_i386 -N -Ttext=0x100000 -e _start "$TMP/$1.o" -o "$TMP/$1.elf"
}

# A guest writing to COM1 for ever, mpvmm's standard output a pipe nobody reads: once the
# pipe and mpvmm's console queue are full (GET /vm counts the dropped bytes), a pause is
# answered within 1 s and SIGTERM ends mpvmm within 2 s; the loss is said once.
check_console_flood() {
	local name=console-flood sock=$TMP/flood.sock i dropped=0 t0 t1 status
	kvm_or_skip "hostile/$name" || return 0
	if ! build_test_kernel flood; then
		fail "hostile/$name" "cannot assemble tests/guests/flood.S"
		return
	fi
	# The reader: a process that holds the pipe open and never reads it.
	"$MPVMM" --kernel "$TMP/flood.elf" --cpus 1 --api "$sock" 2>"$TMP/$name.err" </dev/null |
		sleep 300 &
	local reader=$!
	for i in $(seq 1 600); do
		dropped=$("$MPVMM" ctl "$sock" vm --json 2>/dev/null |
			  sed -n 's/.*"console_dropped": *\([0-9]*\).*/\1/p')
		[ "${dropped:-0}" -gt 0 ] && break
		sleep 0.1
	done
	local pid
	pid=$(pgrep -f -- "--kernel $TMP/flood.elf" | head -n 1)
	if [ "${dropped:-0}" -eq 0 ] || [ -z "$pid" ]; then
		fail "hostile/$name" "the console never filled up (dropped ${dropped:-?} bytes)"
		kill "$pid" "$reader" 2>/dev/null
		return
	fi
	t0=$(ms_now)
	timeout 10 "$MPVMM" ctl "$sock" pause >/dev/null 2>&1
	status=$?
	t1=$(ms_now)
	if [ "$status" -ne 0 ] || [ $((t1 - t0)) -gt 1000 ]; then
		fail "hostile/$name-pause" "pause: exit $status after $((t1 - t0)) ms (want < 1000)"
	else
		pass "hostile/$name-pause"
	fi
	"$MPVMM" ctl "$sock" resume >/dev/null 2>&1
	t0=$(ms_now)
	kill -TERM "$pid"
	for i in $(seq 1 100); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.05
	done
	t1=$(ms_now)
	if kill -0 "$pid" 2>/dev/null; then
		fail "hostile/$name-sigterm" "still running $((t1 - t0)) ms after SIGTERM"
		kill -KILL "$pid"
	elif [ $((t1 - t0)) -gt 2000 ]; then
		fail "hostile/$name-sigterm" "ended $((t1 - t0)) ms after SIGTERM (want < 2000)"
	elif [ "$(grep -c 'console (COM1) is not being read' "$TMP/$name.err")" -ne 1 ]; then
		fail "hostile/$name-sigterm" "the loss was not said exactly once"
	else
		pass "hostile/$name-sigterm"
	fi
	kill "$reader" 2>/dev/null
	wait "$reader" 2>/dev/null
}

# A guest asking its local APIC for a periodic timer of one bus clock (tests/guests/tick.S,
# 1000 interrupts per "tick" line), in each --irqchip mode: it gets at most one interrupt
# per 200 us (KVM's floor, which mpvmm's own APIC keeps too), 5000 a second; with
# mpvmm's APIC the shortening is said once.  Without the floor a host that delivers
# interrupts as fast as it can gives more: 6000 a second even on an emulating KVM
# (measured), hundreds of thousands on hardware.
check_timer_flood() {
	local mode=$1 name=timer-flood-$mode i n0 n1 t0 t1 rate pid
	kvm_or_skip "hostile/$name" || return 0
	[ -f "$TMP/tick.elf" ] || build_test_kernel tick || {
		fail "hostile/$name" "cannot assemble tests/guests/tick.S"
		return
	}
	"$MPVMM" --accel kvm --irqchip "$mode" --kernel "$TMP/tick.elf" --cpus 1 \
		>"$TMP/$name.out" 2>"$TMP/$name.err" </dev/null &
	pid=$!
	for i in $(seq 1 100); do
		grep -q 'tick armed' "$TMP/$name.out" 2>/dev/null && break
		sleep 0.1
	done
	n0=$(grep -c '^tick$' "$TMP/$name.out")
	t0=$(ms_now)
	sleep 3
	n1=$(grep -c '^tick$' "$TMP/$name.out")
	t1=$(ms_now)
	kill -TERM "$pid" 2>/dev/null
	wait "$pid" 2>/dev/null
	rate=$(((n1 - n0) * 1000 * 1000 / (t1 - t0)))
	if [ "$n1" -eq 0 ]; then
		fail "hostile/$name" "no timer interrupt reached the guest: $(tail -n 3 "$TMP/$name.err")"
	elif [ "$rate" -gt 5500 ]; then
		fail "hostile/$name" "$rate timer interrupts a second (want <= 5000 + 10%)"
	elif [ "$mode" = user ] &&
		[ "$(grep -c 'periodic timer of 1 ns is below 200 us' "$TMP/$name.err")" -ne 1 ]; then
		fail "hostile/$name" "the shortened timer was not said exactly once"
	else
		echo "  $name: $rate timer interrupts a second"
		pass "hostile/$name"
	fi
}

run_hostile_tests() {
	local mode
	check_console_flood
	for mode in kernel split user; do
		check_timer_flood "$mode"
	done
}
