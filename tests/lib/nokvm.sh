# A machine without a usable /dev/kvm, on any machine: where /dev/kvm exists, a mount
# namespace of the test's own hides it behind an empty file (needs root and unshare;
# otherwise skipped, with the reason).  --accel kvm must say so in one line and exit 3;
# --accel auto must fall back to the software CPU, say why, and pass.
# shellcheck shell=bash

# How /dev/kvm can be hidden here: "private" (unshare's default, a private copy of every
# mount), "slave" (where / is not a mount point, as in a chroot, unshare cannot make the
# copy private: /dev, a mount point there, is made a slave so that the bind mount over
# /dev/kvm does not propagate back to the host), or empty with the reason in HIDE_WHY.
HIDE_HOW=""
HIDE_WHY=""
kvm_hiding() {
	if [ "$(id -u)" != 0 ]; then
		HIDE_WHY="hiding /dev/kvm needs root (a mount namespace)"
	elif ! command -v unshare >/dev/null; then
		HIDE_WHY="hiding /dev/kvm needs unshare (util-linux)"
	elif unshare -m true 2>/dev/null; then
		HIDE_HOW=private
	elif unshare -m --propagation unchanged sh -c 'mount --make-rslave /dev' 2>/dev/null; then
		HIDE_HOW=slave
	else
		HIDE_WHY="no private mount namespace here ($(unshare -m true 2>&1 | head -n 1)) and /dev is not a mount point to make a slave"
	fi
}

# without_kvm CMD...: run CMD where /dev/kvm is not a KVM device.
without_kvm() {
	if [ ! -e /dev/kvm ]; then
		"$@"
		return
	fi
	: >"$TMP/not-kvm"
	if [ "$HIDE_HOW" = private ]; then
		unshare -m sh -c 'mount --bind "$0" /dev/kvm && shift && exec "$@"' \
			"$TMP/not-kvm" -- "$@"
	else
		unshare -m --propagation unchanged sh -c \
			'mount --make-rslave /dev && mount --bind "$0" /dev/kvm && shift && exec "$@"' \
			"$TMP/not-kvm" -- "$@"
	fi
}

run_nokvm_tests() {
	if [ -e /dev/kvm ]; then
		kvm_hiding
		if [ -z "$HIDE_HOW" ]; then
			skip "nokvm/accel-kvm-refused" "cannot hide /dev/kvm: $HIDE_WHY"
			skip "nokvm/auto-falls-back" "cannot hide /dev/kvm: $HIDE_WHY"
			return 0
		fi
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
	# The host's /dev/kvm is untouched: the hiding stayed inside the test's namespace.
	if [ -e /dev/kvm ] && [ ! -c /dev/kvm ]; then
		fail "nokvm/host-untouched" "/dev/kvm is no longer a character device on the host"
	fi
}
