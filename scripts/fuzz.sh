#!/bin/bash
# fuzz.sh - build the libFuzzer harnesses (fuzz/fuzz_*.c) with clang, ASan and UBSan in a
# build directory of their own, and run each for a fixed time: its seed corpus replayed
# first, then fuzzing from it.  One summary line per harness (executions, executions per
# second, crashes); the exit status is non-zero if any replay or run found a crash, a
# sanitizer report, a timeout or an out-of-memory.
#
#   scripts/fuzz.sh [SECONDS] [HARNESS...]
#
# SECONDS per harness (default 20); HARNESS names such as `serial` or `fuzz_kernel`
# (default: every fuzz/fuzz_*.c).  The build directory is $FUZZ_BUILD (default build-fuzz,
# in the source tree, which .gitignore leaves out).  New inputs and crash artifacts go to a
# scratch directory ($FUZZ_WORK, default a new one under /tmp), never into fuzz/corpus: only
# curated seeds belong there.  Each harness's log is kept there as <name>.log.
#
# Defects found and reported but not yet fixed are excused by the harnesses (their headers
# say which) and by fuzz/ubsan.supp; MPVMM_FUZZ_STRICT=1 in the environment makes them
# count as crashes again.
set -u

cd "$(dirname "$0")/.." || exit 1
seconds=${1:-20}
shift $(( $# > 0 ? 1 : 0 ))
build=${FUZZ_BUILD:-build-fuzz}
work=${FUZZ_WORK:-$(mktemp -d /tmp/mpvmm-fuzz.XXXXXX)}

scripts/deps.sh --fuzz || exit 1

case $seconds in
	''|*[!0-9]*) echo "fuzz.sh: SECONDS must be a number, not '$seconds'" >&2; exit 2 ;;
esac
mkdir -p "$work" || exit 1

# UBSan only prints by default: a finding must stop the run like any other.
ubsan=halt_on_error=1:abort_on_error=1:print_stacktrace=1
[ "${MPVMM_FUZZ_STRICT:-}" = 1 ] || ubsan=$ubsan:suppressions=$PWD/fuzz/ubsan.supp
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-$ubsan}

if [ $# -gt 0 ]; then
	names=("${@#fuzz_}")
else
	names=()
	for f in fuzz/fuzz_*.c; do
		n=${f#fuzz/fuzz_}
		names+=("${n%.c}")
	done
fi

if [ ! -f "$build/build.ninja" ]; then
	CC=clang meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
		>"$work/setup.log" 2>&1 || { cat "$work/setup.log" >&2; exit 1; }
fi
ninja -C "$build" "${names[@]/#/fuzz_}" >"$work/build.log" 2>&1 ||
	{ tail -n 40 "$work/build.log" >&2; exit 1; }

# libFuzzer's final statistics: "stat::<key>: <value>".
stat() {
	sed -n "s/^stat::$1: *//p" "$2" | tail -n 1
}

status=0
for n in "${names[@]}"; do
	exe=$build/fuzz_$n
	seeds=fuzz/corpus/$n
	log=$work/$n.log
	mkdir -p "$work/corpus-$n" "$work/artifacts"
	crashes=0
	if ! "$exe" -runs=0 "$seeds" >"$log" 2>&1; then
		crashes=1
	elif ! "$exe" -max_total_time="$seconds" -timeout=10 -print_final_stats=1 \
			-artifact_prefix="$work/artifacts/$n-" "$work/corpus-$n" "$seeds" \
			>>"$log" 2>&1; then
		crashes=1
	fi
	[ "$crashes" = 0 ] || status=1
	execs=$(stat number_of_executed_units "$log")
	rate=$(stat average_exec_per_sec "$log")
	printf 'fuzz_%s: %s execs, %s exec/s, %s crashes%s\n' "$n" "${execs:-0}" "${rate:-0}" \
		"$crashes" "$([ "$crashes" = 0 ] || echo " (see $log)")"
done
exit $status
