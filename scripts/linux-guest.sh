#!/bin/bash
# Fetch a real Linux guest for mpvmm's kernel loaders, without installing anything into the
# system: Debian's amd64 kernel (the package linux-image-amd64 depends on) and a tiny
# initramfs built from busybox-static whose /init reports how many CPUs Linux brought up.
#
#   scripts/linux-guest.sh OUTDIR
#
# Writes OUTDIR/vmlinuz (the bzImage) and OUTDIR/initramfs.cpio.gz.  /init mounts proc and
# sys, prints "INIT-REACHED cpus=N online=LIST" and powers off (poweroff -f).
# Cached: does nothing when both outputs exist and are newer than this script.
# Needs apt-get, dpkg-deb, cpio and gzip (Debian's); runs as any user (no mknod needed).
set -euo pipefail

if [ $# -ne 1 ]; then
	echo "usage: $0 OUTDIR" >&2
	exit 2
fi
OUT=$1
SELF=$(readlink -f "$0")
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

if [ "$OUT/vmlinuz" -nt "$SELF" ] && [ "$OUT/initramfs.cpio.gz" -nt "$SELF" ]; then
	exit 0
fi

WORK=$(mktemp -d "$OUT/.work.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# apt-get download writes into the current directory (as root it notes that the download is
# unsandboxed, which is harmless).
download() {
	(cd "$WORK" && apt-get download -q "$1" >&2) || {
		echo "linux-guest: cannot download $1 (try 'apt-get update')" >&2
		exit 1
	}
}

# --- the kernel: the package the metapackage depends on -----------------------------------
KPKG=$(apt-cache depends linux-image-amd64 |
	awk '$1 == "Depends:" && $2 ~ /^linux-image-.*-amd64$/ { print $2; exit }')
if [ -z "$KPKG" ]; then
	echo "linux-guest: cannot resolve linux-image-amd64's kernel package" >&2
	exit 1
fi
echo "linux-guest: $KPKG" >&2
download "$KPKG"
# Only ./boot is needed: the modules would add hundreds of MiB.
dpkg-deb --fsys-tarfile "$WORK/${KPKG}"_*.deb | tar -x -C "$OUT" --wildcards './boot/vmlinuz-*'
VMLINUZ=$OUT/boot/vmlinuz-${KPKG#linux-image-}
if [ ! -f "$VMLINUZ" ]; then
	echo "linux-guest: $KPKG has no $VMLINUZ" >&2
	exit 1
fi
cp "$VMLINUZ" "$WORK/vmlinuz"

# --- the initramfs: busybox-static and one /init -------------------------------------------
download busybox-static
dpkg-deb -x "$WORK"/busybox-static_*.deb "$WORK/bb"
ROOT=$WORK/root
mkdir -p "$ROOT/bin" "$ROOT/proc" "$ROOT/sys" "$ROOT/dev"
cp "$WORK/bb/bin/busybox" "$ROOT/bin/busybox"
for applet in sh mount cat nproc poweroff; do
	ln -s busybox "$ROOT/bin/$applet"
done
cat >"$ROOT/init" <<'EOF'
#!/bin/sh
# mpvmm's Linux guest: report how many CPUs Linux brought up, then power off.
export PATH=/bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
echo "INIT-REACHED cpus=$(nproc) online=$(cat /sys/devices/system/cpu/online)"
poweroff -f
EOF
chmod 755 "$ROOT/init"
# /dev/console comes from the kernel's built-in initramfs (usr/default_cpio_list), which the
# kernel unpacks before this one, so no device node (and no root) is needed here.
(cd "$ROOT" && find . -print0 | LC_ALL=C sort -z |
	cpio --null -o -H newc -R 0:0 --quiet) | gzip -9 -n >"$WORK/initramfs.cpio.gz"

mv "$WORK/vmlinuz" "$OUT/vmlinuz"
mv "$WORK/initramfs.cpio.gz" "$OUT/initramfs.cpio.gz"
echo "linux-guest: $OUT/vmlinuz $OUT/initramfs.cpio.gz" >&2
