# The chaos guest (guest/chaos/, --guest chaos) against mpvmm: every vCPU makes random port
# I/O, MMIO, IPIs (INIT and SIPI included), MSR writes and timer programming for a set time,
# in every --irqchip mode on KVM (skipped, with the reason, where /dev/kvm cannot be opened)
# and on the software CPU.  mpvmm must stay alive and end with status 0 and the guest's own
# "chaos: done" line; stay bounded (peak RSS, RSS growth while it runs, lines on stderr, CPU
# of its own threads beside the vCPUs'); and its control API must answer every poll (one
# each 0.5 s) within 1 s.  One line per run gives what was measured.
# shellcheck shell=bash

# A known limit the runs step around, left out of the operation mix here (the guest itself
# makes all of it; --chaos-skip/--chaos-only reproduce it):
#  - init on the software CPU: every SIPI start drops the old translations of the
#    trampoline and the INIT stub (UC_CTL_TB_REMOVE_CACHE, accel/soft/soft_regs.c) but
#    Unicorn 2.0.1 never reuses their space, so RSS grows ~14 KiB per AP restart until its
#    1 GiB code buffer is full (~20 MiB/s with 4 vCPUs restarting each other).
# Fixed since, and run again here: the self-test ports' reports (now within their device's
# warning budget), KVM_SIGNAL_MSI failures in split mode (a message no vCPU takes: now a
# rate-limited warning, not an error line each), and "the warning above came N more times"
# (now within the budgets, and never about a line that was held back).
CHAOS_SKIP_KNOWN=
CHAOS_SKIP_SOFT=init
CHAOS_SKIP_SPLIT=$CHAOS_SKIP_KNOWN

# Bounds.  Warnings about the guest are limited by vm/warn.c to 100 a second between all its
# sources (50 each, their repeat counts included), plus one line a second per source that
# says how many more there were (16 sources at most); the rest of stderr is a few fixed lines.
CHAOS_LINES_PER_S=116
CHAOS_LINES_FIXED=40
CHAOS_API_MAX_MS=1000
CHAOS_RSS_GROWTH_KIB=8192 # between the first and last sample of one run
# AddressSanitizer holds freed blocks back (its quarantine, 256 MiB by default) and Unicorn
# allocates and frees on every guest store (page_collection_lock in its write path): an
# ASan build's RSS on the software CPU grows until the quarantine is full, without any leak
# (its leak check at exit would fail the run); measured: flat at ~460 MiB after 8 s.
CHAOS_ASAN_QUARANTINE_KIB=$((512 * 1024))

# chaos_mode_args TAG: the command-line options of a mode.
chaos_mode_args() {
	case $1 in
	kvm-kernel) echo "--accel kvm --irqchip kernel" ;;
	kvm-split) echo "--accel kvm --irqchip split" ;;
	kvm-user) echo "--accel kvm --irqchip user" ;;
	soft) echo "--accel soft" ;;
	esac
}

# chaos_sum_exits JSON-FILE: every vCPU's exits (GET /vcpus) added up.
chaos_sum_exits() {
	python3 -c '
import json, sys
try:
    d = json.load(open(sys.argv[1]))
    print(sum(sum(v["exits"].values()) for v in d["vcpus"]))
except Exception:
    print(-1)' "$1"
}

# chaos_cpu_split PID CPUS: "total other" CPU seconds of the process: all its threads (the
# process's own count, which keeps what threads that ended used), and those of its live
# threads but the CPUS busiest (the vCPU threads) and KVM's kernel thread.
chaos_cpu_split() {
	local pid=$1 cpus=$2 hz total
	hz=$(getconf CLK_TCK)
	total=$(awk '{print $14 + $15}' /proc/"$pid"/stat) || return 1
	for t in /proc/"$pid"/task/*; do
		[ "$(cat "$t/comm" 2>/dev/null)" = kvm-nx-lpage-re ] && continue
		awk '{print $14 + $15}' "$t/stat" 2>/dev/null
	done | sort -rn | awk -v n="$cpus" -v hz="$hz" -v total="$total" '
		NR > n { other += $1 }
		END { printf "%.2f %.2f\n", total / hz, other / hz }'
}

# chaos_poll NAME PID SOCK CPUS: while PID lives, one API request every 0.5 s: the number of
# answers, of requests unanswered while the VM ran, the slowest answer (ms); RSS (the first
# sample once the guest said hello, i.e. after its clock calibration), peak RSS and CPU;
# GET /vcpus then and at the last poll.  Written to $TMP/NAME.poll after every poll.  PID
# is killed once $TIMEOUT seconds passed.
chaos_poll() {
	local name=$1 pid=$2 sock=$3 cpus=$4 t0 t1 ms polls=0 bad=0 max=0 rss0="" rss="" hwm=0
	local cpu="0 0" started=0 limit=$(( $(date +%s) + TIMEOUT ))
	echo "0 0 0 0 0 0 0 0 no-socket" >"$TMP/$name.poll"
	while kill -0 "$pid" 2>/dev/null; do
		sleep 0.5
		if [ "$(date +%s)" -gt "$limit" ]; then
			kill -9 "$pid" 2>/dev/null
			break
		fi
		[ -S "$sock" ] || continue
		[ "$started" = 0 ] && echo "0 0 0 0 0 0 0 0 no-hello-line" >"$TMP/$name.poll"
		t0=$(date +%s%N)
		if timeout 2 "$MPVMM" ctl "$sock" vm >/dev/null 2>&1; then
			t1=$(date +%s%N)
			ms=$(( (t1 - t0) / 1000000 ))
			polls=$((polls + 1))
			[ "$ms" -gt "$max" ] && max=$ms
		elif kill -0 "$pid" 2>/dev/null && [ -S "$sock" ]; then
			bad=$((bad + 1)) # no answer while the VM runs (after its end does not count)
		fi
		[ "$started" = 0 ] && grep -aq '^chaos: [0-9]* vcpus' "$TMP/$name.out" && started=1
		[ "$started" = 0 ] && continue
		local v=vcpus1
		[ "$started" = 1 ] && v=vcpus0 && started=2
		curl -s --max-time 2 --unix-socket "$sock" http://localhost/vcpus \
			>"$TMP/$name.$v.json.tmp" && mv "$TMP/$name.$v.json.tmp" "$TMP/$name.$v.json" &&
			date +%s%N >"$TMP/$name.$v.t"
		# one sample of /proc, kept only if whole (the process may end in the middle)
		local st now_cpu
		st=$(awk '/^VmRSS/{r=$2} /^VmHWM/{h=$2} END{if (r && h) print r, h}' \
			/proc/"$pid"/status 2>/dev/null)
		now_cpu=$(chaos_cpu_split "$pid" "$cpus" 2>/dev/null)
		[ "$(echo "$st $now_cpu" | wc -w)" -eq 4 ] || continue
		rss=${st% *}
		hwm=${st#* }
		[ -z "$rss0" ] && rss0=$rss
		# the other threads' share is taken while every vCPU thread lives: the largest seen
		cpu=$(echo "$now_cpu $cpu" | awk '{ print $1, ($2 > $4 ? $2 : $4) }')
		echo "$polls $bad $max $rss0 $rss $hwm $cpu ok" >"$TMP/$name.poll"
	done
	# the answer counts after the last sample
	local note
	read -r _ _ _ rss0 rss hwm cpu_total cpu_other note <"$TMP/$name.poll"
	echo "$polls $bad $max $rss0 $rss $hwm $cpu_total $cpu_other $note" >"$TMP/$name.poll"
}

# chaos_run NAME TAG CPUS SECONDS SEED [ARGS...]: one run, checked; one PASS/FAIL line.
chaos_run() {
	local name=$1 tag=$2 cpus=$3 seconds=$4 seed=$5
	shift 5
	local test="chaos/$tag-$name" sock="$TMP/chaos-$tag-$name.sock" f="chaos-$tag-$name"
	local skip=$CHAOS_SKIP_KNOWN
	[ "$tag" = soft ] && skip=$CHAOS_SKIP_SOFT
	[ "$tag" = kvm-split ] && skip=$CHAOS_SKIP_SPLIT
	if [ "$tag" != soft ] && [ -n "$KVM_REASON" ]; then
		skip "$test" "$KVM_REASON"
		return 0
	fi
	rm -f "$TMP/$f".*
	local t_start t_end
	t_start=$(date +%s%N)
	# mpvmm itself in the background: its PID is the one to poll (and to kill at $TIMEOUT).
	# shellcheck disable=SC2046
	"$MPVMM" --guest chaos --cpus "$cpus" --seed "$seed" --chaos-seconds "$seconds" \
		${skip:+--chaos-skip "$skip"} --api "$sock" $(chaos_mode_args "$tag") "$@" \
		>"$TMP/$f.out" 2>"$TMP/$f.err" </dev/null &
	local pid=$!
	chaos_poll "$f" "$pid" "$sock" "$cpus"
	wait "$pid"
	local status=$?
	t_end=$(date +%s%N)
	chaos_check "$test" "$f" "$status" "$cpus" "$seconds" "$seed" "$t_start" "$t_end"
}

# chaos_check TEST FILE STATUS CPUS SECONDS SEED T_START T_END: the verdict and the numbers.
chaos_check() {
	local test=$1 f=$2 status=$3 cpus=$4 seconds=$5 seed=$6 t_start=$7 t_end=$8 bad=""
	local polls=0 api_bad=0 api_max=0 rss0=0 rss1=0 hwm=0 cpu_total=0 cpu_other=0 note=none
	[ -f "$TMP/$f.poll" ] && read -r polls api_bad api_max rss0 rss1 hwm cpu_total cpu_other \
		note <"$TMP/$f.poll"
	local wall_ms=$(( (t_end - t_start) / 1000000 ))
	local done_line ops s lines limit
	done_line=$(grep -a '^chaos: done ' "$TMP/$f.out")
	ops=$(echo "$done_line" | sed -n 's/.* ops=\([0-9]*\) .*/\1/p')
	s=$(echo "$done_line" | sed -n 's/.* seconds=\([0-9]*\) .*/\1/p')
	lines=$(wc -l <"$TMP/$f.err")
	limit=$(( CHAOS_LINES_PER_S * (wall_ms / 1000 + 1) + CHAOS_LINES_FIXED + cpus ))

	[ "$status" -eq 0 ] || bad="$bad exit-status=$status"
	echo "$done_line" | grep -qE "^chaos: done vcpus=$cpus seconds=[0-9]+ ops=[1-9][0-9]* seed=$seed\$" ||
		bad="$bad no-done-line"
	[ -n "$s" ] && [ "$s" -lt "$seconds" ] && bad="$bad ran-${s}s"
	[ "$lines" -le "$limit" ] || bad="$bad stderr-lines=$lines>$limit"
	[ "$polls" -ge 2 ] || bad="$bad api-polls=$polls($note)"
	[ "$api_bad" -eq 0 ] || bad="$bad api-unanswered=$api_bad"
	[ "$api_max" -le "$CHAOS_API_MAX_MS" ] || bad="$bad api-slowest=${api_max}ms"
	local growth=$CHAOS_RSS_GROWTH_KIB
	grep -qa __asan_init "$MPVMM" && growth=$((growth + CHAOS_ASAN_QUARANTINE_KIB))
	[ $((rss1 - rss0)) -le "$growth" ] ||
		bad="$bad rss-grew=$(((rss1 - rss0) / 1024))MiB"
	# CPU: the vCPU threads at most one CPU each, mpvmm's other threads a quarter of one.
	awk -v t="$cpu_total" -v o="$cpu_other" -v w="$wall_ms" -v n="$cpus" \
		'BEGIN { exit !(t <= (n + 0.5) * w / 1000 + 1 && o <= 0.25 * w / 1000 + 1) }' ||
		bad="$bad cpu=${cpu_total}s(other ${cpu_other}s)"

	local e0 e1 t0 t1 eps=-
	if [ -s "$TMP/$f.vcpus0.json" ] && [ -s "$TMP/$f.vcpus1.json" ]; then
		e0=$(chaos_sum_exits "$TMP/$f.vcpus0.json")
		e1=$(chaos_sum_exits "$TMP/$f.vcpus1.json")
		t0=$(cat "$TMP/$f.vcpus0.t")
		t1=$(cat "$TMP/$f.vcpus1.t")
		[ "$e0" -ge 0 ] && [ "$e1" -ge "$e0" ] && [ "$t1" -gt "$t0" ] &&
			eps=$(( (e1 - e0) * 1000000000 / (t1 - t0) ))
	fi
	echo "  $test: $((wall_ms / 1000)).$((wall_ms % 1000 / 100)) s wall, ${ops:-0} ops" \
		"($(( ${ops:-0} / (${s:-1} > 0 ? ${s:-1} : 1) ))/s), exits $eps/s, RSS" \
		"$((rss0 / 1024))->$((rss1 / 1024)) MiB (peak $((hwm / 1024)) MiB), stderr $lines" \
		"lines (at most $limit), API $polls polls (slowest ${api_max} ms), CPU" \
		"${cpu_total}s (other threads ${cpu_other}s)"
	if [ -z "$bad" ]; then
		pass "$test"
	else
		fail "$test" "$bad"
		show_output "$f"
	fi
}

# Main tier: one short run per mode, 2 vCPUs (the whole set stays near a minute on PVM).
run_chaos_tests() {
	local tag
	for tag in kvm-kernel kvm-split kvm-user soft; do
		chaos_run short "$tag" 2 10 1
	done
}

# Slow tier: longer runs with more vCPUs and other seeds; on KVM, x2APIC and a run without
# INITs, where NMIs, I/O APIC NMIs and an AP's BSP flag go anywhere (apic.c, ops_msr.c; the
# software CPU has no x2APIC and its runs are without INITs already).
run_chaos_slow_tests() {
	local tag seed
	for tag in kvm-kernel kvm-split kvm-user soft; do
		for seed in 2 3; do
			chaos_run "long-$seed" "$tag" 4 30 "$seed"
		done
	done
	for tag in kvm-kernel kvm-split kvm-user; do
		chaos_run no-init "$tag" 4 20 4 --chaos-skip init
		chaos_run x2apic "$tag" 4 20 5 --x2apic
	done
}
