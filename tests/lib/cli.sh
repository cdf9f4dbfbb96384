# Command-line checks that need no KVM: bad input gives one clear line and exit status 2.
# shellcheck shell=bash

# expect_usage_error NAME EXPECTED-SUBSTRING ARGS...
expect_usage_error() {
	local name=$1 want=$2
	shift 2
	local err="$TMP/cli.err" out="$TMP/cli.out" status lines
	"$MPVMM" "$@" >"$out" 2>"$err" </dev/null
	status=$?
	lines=$(wc -l <"$err")
	if [ "$status" -ne 2 ]; then
		fail "cli/$name" "exit status $status, want 2 ($(head -c 300 "$err"))"
	elif [ "$lines" -ne 1 ]; then
		fail "cli/$name" "$lines lines on stderr, want 1: $(head -c 300 "$err")"
	elif ! grep -qF -- "$want" "$err"; then
		fail "cli/$name" "stderr lacks '$want': $(cat "$err")"
	elif [ -s "$out" ]; then
		fail "cli/$name" "unexpected stdout: $(head -c 200 "$out")"
	else
		pass "cli/$name"
	fi
}

run_cli_tests() {
	expect_usage_error cpus-zero "--cpus 0" --cpus 0
	expect_usage_error cpus-too-many "at most 4096" --cpus 5000
	expect_usage_error cpus-junk "--cpus 4x" --cpus 4x
	expect_usage_error cpus-bad-topology "sockets" --cpus 12,sockets=5
	expect_usage_error cpus-unknown-key "dies" --cpus 4,dies=2
	expect_usage_error boot-cpu-out-of-range "out of range" --cpus 4 --boot-cpu 4
	expect_usage_error boot-cpu-junk "--boot-cpu" --boot-cpu x
	expect_usage_error memory-bad-suffix "--memory" --memory 12Q
	expect_usage_error memory-junk "--memory" --memory abc
	expect_usage_error memory-too-small "--memory" --memory 1M
	expect_usage_error unknown-option "unknown option '--bogus'" --bogus
	expect_usage_error missing-value "needs a value" --cpus
	expect_usage_error stray-argument "unexpected argument" run extra
	expect_usage_error unknown-command "unknown command" frobnicate

	local out="$TMP/help.out"
	if "$MPVMM" --help >"$out" 2>&1 && grep -q -- "--boot-cpu" "$out"; then
		pass "cli/help"
	else
		fail "cli/help" "$(head -c 300 "$out")"
	fi
	check_crash_report
}

# mpvmm's own crash report (util/crash.c): a running VM sent SIGSEGV says so on stderr with a
# stack of mpvmm's frames that addr2line names, and still dies of the signal (status 139).
# Not in sanitized builds, whose runtimes report crashes themselves.
check_crash_report() {
	local name=crash-report out=$TMP/crash-report i
	if ldd "$MPVMM" 2>/dev/null | grep -qE 'lib(a|t|ub)san'; then
		skip "cli/$name" "sanitized build: the sanitizer's runtime reports crashes"
		return 0
	fi
	"$MPVMM" --accel soft --cpus 2 --selftest-hold >"$out.out" 2>"$out.err" </dev/null &
	local pid=$!
	for i in $(seq 1 100); do
		grep -q '^selftest: PASS' "$out.out" && break
		sleep 0.1
	done
	kill -SEGV "$pid"
	{ wait "$pid"; } 2>/dev/null # not the shell's "Segmentation fault" line
	local status=$? bad="" frames
	[ "$status" = 139 ] || bad="$bad status=$status"
	grep -q '^mpvmm: crashed: SIGSEGV at address ' "$out.err" || bad="$bad no-report-line"
	frames=$(show_crash "$out.err" | grep -c ' at .*/src/.*\.c:[0-9]')
	[ "$frames" -ge 2 ] || bad="$bad frames=$frames"
	if [ -z "$bad" ]; then pass "cli/$name ($frames frames named)"; else
		fail "cli/$name" "$bad"; tail -12 "$out.err"; fi
}
