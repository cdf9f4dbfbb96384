#!/bin/bash
# The mpvmm test suite: unit tests (cmocka, no KVM), command-line checks (no KVM), and
# guest tests that boot the built-in self-test guest on KVM (and, as a multiboot kernel,
# on QEMU).  A test that needs /dev/kvm where it cannot be opened, or QEMU where it is not
# installed, is counted as SKIPPED, with the reason, never as passed.
#
#   tests/run.sh BUILDDIR           the main tier (make test)
#   tests/run.sh --slow BUILDDIR    only the slow tier (make test-slow)
#
#   ONLY=NAME tests/run.sh BUILDDIR  only run_NAME_tests (e.g. ONLY=snapshot)
#
# Ends with the line "N passed, N failed, N skipped"; exits non-zero if anything failed.
set -u

SLOW=0
if [ "${1:-}" = "--slow" ]; then
	SLOW=1
	shift
fi
BUILD=${1:-build}
MPVMM=$BUILD/mpvmm
HERE=$(cd "$(dirname "$0")" && pwd)
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT
# In a sanitized build (make test SANITIZE=...) a report fails the test that caused it:
# ASan and TSan end the process with an error status; UBSan is told to as well.
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}
# The build's sanitizers ("none", "address,undefined", "thread"): a bound on time that is
# about the code, not the machine, is stretched where the sanitizer slows the code itself.
SANITIZER=$(grep -o '"name": "b_sanitize", "value": "[a-z,]*"' \
	"$BUILD/meson-info/intro-buildoptions.json" 2>/dev/null | sed 's/.*"value": "\(.*\)"/\1/')
SANITIZER=${SANITIZER:-none}

PASSED=0
FAILED=0
SKIPPED=0
FAILURES=""

pass() { PASSED=$((PASSED + 1)); echo "PASS $1"; }
fail() { FAILED=$((FAILED + 1)); FAILURES="$FAILURES\n  $1"; echo "FAIL $1${2:+: $2}"; }
skip() { SKIPPED=$((SKIPPED + 1)); echo "SKIP $1: $2"; }

# --- KVM availability, decided once ------------------------------------------------------
KVM_REASON=""
if [ ! -e /dev/kvm ]; then
	KVM_REASON="no /dev/kvm on this machine"
elif ! (exec 3<>/dev/kvm) 2>/dev/null; then
	KVM_REASON="/dev/kvm cannot be opened read-write by $(id -un)"
fi
if [ -n "$KVM_REASON" ]; then
	echo "NOTE: guest tests will be SKIPPED: $KVM_REASON"
fi
# A host whose KVM emulates guest code (PVM) is slow; time limits scale with it.
TIMEOUT=120
[ -d /sys/module/kvm_pvm ] && TIMEOUT=600

. "$HERE/lib/unit.sh"
. "$HERE/lib/cli.sh"
. "$HERE/lib/kvm.sh"
. "$HERE/lib/soft.sh"
. "$HERE/lib/multiboot.sh"
. "$HERE/lib/insn.sh"
. "$HERE/lib/linux.sh"
. "$HERE/lib/api.sh"
. "$HERE/lib/explore.sh"
. "$HERE/lib/chaos.sh"
. "$HERE/lib/nokvm.sh"
. "$HERE/lib/snapshot.sh"
. "$HERE/lib/sandbox.sh"
. "$HERE/lib/fresh.sh"
. "$HERE/lib/hostile.sh"
. "$HERE/lib/fuzz.sh"
. "$HERE/lib/breaks.sh"
. "$HERE/lib/gdb.sh"

# The Debian kernel + busybox guest (scripts/linux-guest.sh), cached beside the build.
LINUX_GUEST=${LINUX_GUEST:-$BUILD/linux-guest}
# Linux runs emulated on PVM: about 5 minutes to /init (seconds on hardware KVM); three times
# that is the limit.
LINUX_TIMEOUT=60
[ -d /sys/module/kvm_pvm ] && LINUX_TIMEOUT=900

if [ -n "${ONLY:-}" ]; then
	# ONLY=snapshot runs run_snapshot_tests; ONLY=check_snapshot_confined that one check.
	case $ONLY in
	check_*) "$ONLY" ;;
	*) "run_${ONLY}_tests" ;;
	esac
elif [ "$SLOW" = 1 ]; then
	run_kvm_slow_tests
	run_soft_slow_tests
	run_api_slow_tests
	run_chaos_slow_tests
	run_linux_slow_tests
	run_fresh_tests
else
	prepare_linux_guest
	run_unit_tests
	run_fuzz_tests
	run_cli_tests
	run_kvm_tests
	run_kvm_user_tests
	run_kvm_split_tests
	run_soft_tests
	run_multiboot_tests
	run_insn_tests
	run_api_tests
	run_explore_tests
	run_chaos_tests
	run_nokvm_tests
	run_snapshot_tests
	run_hostile_tests
	run_kernel_input_tests
	run_sandbox_tests
	run_breaks_tests
	run_gdb_tests
fi

if [ "$FAILED" -gt 0 ]; then
	printf "failed:%b\n" "$FAILURES"
fi
echo "$PASSED passed, $FAILED failed, $SKIPPED skipped"
[ "$FAILED" -eq 0 ]
