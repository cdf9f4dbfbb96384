# A machine without a usable /dev/kvm, on any machine: where /dev/kvm exists, a private mount
# namespace hides it behind an empty file (needs root and unshare; otherwise skipped).
# --accel kvm must say so in one line and exit 3; --accel auto must fall back to the
# software CPU, say why, and pass.
# shellcheck shell=bash

# without_kvm CMD...: run CMD where /dev/kvm is not a KVM device.
without_kvm() {
	if [ ! -e /dev/kvm ]; then
		"$@"
		return
	fi
	: >"$TMP/not-kvm"
	unshare -m sh -c 'mount --bind "$0" /dev/kvm && shift && exec "$@"' \
		"$TMP/not-kvm" -- "$@"
}

run_nokvm_tests() {
	if [ -e /dev/kvm ] && { [ "$(id -u)" != 0 ] || ! command -v unshare >/dev/null; }; then
		skip "nokvm/accel-kvm-refused" "cannot hide /dev/kvm here (needs root and unshare)"
		skip "nokvm/auto-falls-back" "cannot hide /dev/kvm here (needs root and unshare)"
		return 0
	fi
	without_kvm "$MPVMM" --accel kvm --quiet >"$TMP/nokvm.out" 2>"$TMP/nokvm.err" </dev/null
	local status=$? lines
	lines=$(wc -l <"$TMP/nokvm.err")
	if [ "$status" -eq 3 ] && [ "$lines" -eq 1 ] && grep -q '/dev/kvm' "$TMP/nokvm.err"; then
		pass "nokvm/accel-kvm-refused"
	else
		fail "nokvm/accel-kvm-refused" "exit $status, $lines lines: $(head -c 300 "$TMP/nokvm.err")"
	fi
	without_kvm "$MPVMM" --cpus 3 >"$TMP/nokvm2.out" 2>"$TMP/nokvm2.err" </dev/null
	status=$?
	if [ "$status" -eq 0 ] && grep -qx 'selftest: PASS cpus=3 bsp=0' "$TMP/nokvm2.out" &&
		grep -q 'accelerator: soft (--accel auto: ' "$TMP/nokvm2.err"; then
		pass "nokvm/auto-falls-back"
	else
		fail "nokvm/auto-falls-back" "exit $status: $(grep accelerator "$TMP/nokvm2.err")"
	fi
}
