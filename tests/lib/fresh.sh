# The README's two commands on a truly fresh Debian 12: a `debootstrap --variant=minbase`
# root (nothing in it but what minbase brings: no make, no compiler), with /dev, /proc and
# /sys mounted, the repository cloned into it, run as root.  `./run` must print the
# self-test's PASS line and `./test` must end with 0 failed, as they do here.  The minbase
# root is cached as a tarball between runs (MPVMM_FRESH_CACHE); without debootstrap, root or
# the Debian archive the test is skipped with the reason.  It tests what is committed: the
# clone has the repository's HEAD (a tree that is not a git checkout is copied instead).
# shellcheck shell=bash

FRESH_CACHE=${MPVMM_FRESH_CACHE:-/var/cache/mpvmm/bookworm-minbase.tar}
FRESH_MIRROR=${MPVMM_FRESH_MIRROR:-http://deb.debian.org/debian}
FRESH_TIMEOUT=3600

# fresh_root DIR: a pristine minbase root in DIR, from the cache or made (and cached) now.
fresh_root() {
	local dir=$1
	mkdir -p "$dir"
	if [ -s "$FRESH_CACHE" ] && tar -C "$dir" -xf "$FRESH_CACHE" 2>/dev/null; then
		return 0
	fi
	debootstrap --variant=minbase bookworm "$dir" "$FRESH_MIRROR" >"$TMP/debootstrap.log" 2>&1 ||
		return 1
	mkdir -p "$(dirname "$FRESH_CACHE")" &&
		tar -C "$dir" -cf "$FRESH_CACHE.tmp" . && mv "$FRESH_CACHE.tmp" "$FRESH_CACHE"
	return 0
}

fresh_mount() {
	local root=$1
	# /dev/pts too: the tests that talk to mpvmm through a terminal (script(1)) need ptys.
	mount --bind /dev "$root/dev" && mount --bind /dev/pts "$root/dev/pts" &&
		mount -t proc proc "$root/proc" && mount -t sysfs sysfs "$root/sys"
}

fresh_umount() {
	local root=$1 m
	for m in sys proc dev/pts dev; do
		mountpoint -q "$root/$m" && umount -l "$root/$m"
	done
}

# The repository as committed, in DIR.
fresh_clone() {
	local src=$HERE/.. dir=$1
	if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
		git clone -q "$src" "$dir"
	else
		mkdir -p "$dir" && tar -C "$src" --exclude='./build*' -cf - . | tar -C "$dir" -xf -
	fi
}

# fresh_in ROOT LOG COMMAND: COMMAND in the clone inside ROOT, with a clean environment.
fresh_in() {
	local root=$1 log=$2
	shift 2
	timeout -k 30 "$FRESH_TIMEOUT" env -i HOME=/root LANG=C.UTF-8 TERM=dumb \
		PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
		chroot "$root" /bin/sh -c "cd /root/mpvmm && $*" >"$log" 2>&1 </dev/null
}

run_fresh_tests() {
	local root=$TMP/fresh-root why="" status line
	if [ "$(id -u)" != 0 ]; then
		why="needs root (chroot, mounts)"
	elif ! command -v debootstrap >/dev/null; then
		why="debootstrap is not installed (scripts/deps.sh --slow installs it)"
	elif ! fresh_root "$root"; then
		why="debootstrap could not make a minbase root from $FRESH_MIRROR: $(tail -n 1 "$TMP/debootstrap.log")"
	elif ! fresh_mount "$root"; then
		why="cannot mount /dev, /proc and /sys in the root"
	elif ! fresh_clone "$root/root/mpvmm"; then
		why="cannot clone the repository into the root"
	fi
	if [ -n "$why" ]; then
		skip "fresh/run" "$why"
		skip "fresh/test" "$why"
		[ -d "$root" ] && fresh_umount "$root" && rm -rf "$root"
		return 0
	fi
	fresh_in "$root" "$TMP/fresh-run.log" ./run
	status=$?
	if [ "$status" -eq 0 ] && grep -qx 'selftest: PASS cpus=4 bsp=0' "$TMP/fresh-run.log"; then
		pass "fresh/run"
	else
		fail "fresh/run" "exit $status: $(tail -n 5 "$TMP/fresh-run.log")"
	fi
	fresh_in "$root" "$TMP/fresh-test.log" ./test
	status=$?
	line=$(tail -n 1 "$TMP/fresh-test.log")
	if [ "$status" -eq 0 ] && [[ "$line" =~ ^[0-9]+\ passed,\ 0\ failed,\ [0-9]+\ skipped$ ]]; then
		pass "fresh/test"
		echo "  in the fresh root: $line; $(grep -c '^SKIP' "$TMP/fresh-test.log") skipped:"
		grep '^SKIP' "$TMP/fresh-test.log" | sed 's/^/    /'
	else
		fail "fresh/test" "exit $status: $line"
		grep -E '^FAIL' "$TMP/fresh-test.log" | head -n 20
		tail -n 5 "$TMP/fresh-test.log"
	fi
	fresh_umount "$root"
	rm -rf "$root"
}
