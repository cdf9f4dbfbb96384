#!/bin/sh
# Install the Debian packages mpvmm needs to build and test, if any is missing.
# As root it runs apt-get; otherwise it prints the exact command to run and fails.
#   scripts/deps.sh           build and test dependencies, QEMU included: `make test` also
#                             boots the self-test guest, as a multiboot kernel, on QEMU
#   scripts/deps.sh --bench   the same (the benchmarks compare against QEMU)
#   scripts/deps.sh --slow    and what the slow tier adds: debootstrap and git, for the
#                             README's two commands on a fresh minbase root (tests/lib/fresh.sh)
#   scripts/deps.sh --fuzz    and clang with libFuzzer, for scripts/fuzz.sh
set -eu

PKGS="gcc libc6-dev binutils make meson ninja-build pkg-config libcmocka-dev
	libmicrohttpd-dev libjansson-dev libcurl4-openssl-dev zlib1g-dev liblzma-dev libzstd-dev
	libexpat1-dev curl libunicorn-dev libseccomp-dev qemu-system-x86 gdb
	python3 cpio gzip util-linux procps"
[ "${1:-}" = --slow ] && PKGS="$PKGS debootstrap git"
[ "${1:-}" = --fuzz ] && PKGS="$PKGS clang libclang-rt-dev"

missing=""
for p in $PKGS; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed"; then
		missing="$missing $p"
	fi
done
[ -z "$missing" ] && exit 0

if [ "$(id -u)" != 0 ]; then
	echo "mpvmm: missing packages:$missing" >&2
	echo "mpvmm: install them with: sudo apt-get install -y$missing" >&2
	exit 1
fi
echo "mpvmm: installing$missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq >&2
# shellcheck disable=SC2086 # word splitting of the package list is intended
apt-get install -y -qq --no-install-recommends $missing >&2
