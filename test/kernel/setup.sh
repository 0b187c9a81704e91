#!/usr/bin/env bash
# Prepare everything needed to boot Debian's kernel under QEMU for pstore
# conformance runs.  Idempotent: installs nothing that is present, rebuilds
# only what is older than its inputs.
#
#   test/kernel/setup.sh [--quiet] [--with-mtdpstore]
#
# Produces, under test/kernel/.cache/:
#   env.sh                 KVER, KERNEL, INITRD (sourced by run-scenario.sh)
#   build/pstore_crash.ko  our oops module, built against linux-headers
#   build/mtdpstore.ko     only with --with-mtdpstore (Debian does not build it)
#   mtdload                static helper that writes an image onto /dev/mtdN
#   initramfs-$KVER.cpio.gz
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE=$HERE/.cache
QUIET=0
WITH_MTDPSTORE=0
for arg in "$@"; do
	case $arg in
	--quiet) QUIET=1 ;;
	--with-mtdpstore) WITH_MTDPSTORE=1 ;;
	*) echo "setup.sh: unknown option $arg" >&2; exit 2 ;;
	esac
done
say() { [ "$QUIET" = 1 ] || echo "setup: $*"; }
die() { echo "setup: $*" >&2; exit 1; }

# --- Debian packages ---------------------------------------------------------
# Besides QEMU and the kernel: the tools this script and the stage use on
# the host (a fresh Debian machine may lack any of them).
PACKAGES=(qemu-system-x86 linux-image-amd64 linux-headers-amd64 busybox-static
	gcc make libc6-dev kmod cpio xz-utils e2fsprogs)
[ "$WITH_MTDPSTORE" = 1 ] && PACKAGES+=(linux-source)
missing=()
for p in "${PACKAGES[@]}"; do
	if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed'; then
		missing+=("$p")
	fi
done
if [ ${#missing[@]} -gt 0 ]; then
	SUDO=
	[ "$(id -u)" = 0 ] || SUDO=sudo
	say "installing ${missing[*]}"
	mkdir -p "$CACHE"
	# No recommends: they would pull firmware, GUI bits and a bootloader.
	# Mirrors hiccup now and then: try three times before giving up.
	ok=
	for attempt in 1 2 3; do
		if { $SUDO apt-get update -qq &&
			DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"; } \
			>"$CACHE/apt.log" 2>&1; then
			ok=1
			break
		fi
		say "apt-get failed (attempt $attempt of 3)"
		sleep $((attempt * 10))
	done
	[ -n "$ok" ] || { cat "$CACHE/apt.log" >&2; die "installing ${missing[*]} failed"; }
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found after install"
BUSYBOX=/bin/busybox
[ -x "$BUSYBOX" ] || die "busybox-static did not provide $BUSYBOX"
file -b "$BUSYBOX" 2>/dev/null | grep -qi 'dynamically' && die "$BUSYBOX is dynamically linked; need busybox-static"

# --- kernel version: newest one with image, modules and headers --------------
KVER=
for d in $(ls -d /lib/modules/*/ 2>/dev/null | sort -V); do
	k=$(basename "$d")
	if [ -f "/boot/vmlinuz-$k" ] && [ -e "/lib/modules/$k/build/Makefile" ]; then KVER=$k; fi
done
[ -n "$KVER" ] || die "no kernel with /boot/vmlinuz-*, /lib/modules/* and headers"
KERNEL=/boot/vmlinuz-$KVER
MODDIR=/lib/modules/$KVER
say "kernel $KVER"
mkdir -p "$CACHE/build"

# --- our module -----------------------------------------------------------------
BUILD=$CACHE/build
if [ ! -f "$BUILD/pstore_crash.ko" ] || [ "$HERE/guest/pstore_crash.c" -nt "$BUILD/pstore_crash.ko" ] ||
	[ "$MODDIR/build/Makefile" -nt "$BUILD/pstore_crash.ko" ]; then
	say "building pstore_crash.ko"
	cp "$HERE/guest/pstore_crash.c" "$HERE/guest/Kbuild" "$BUILD/"
	make -s -C "$MODDIR/build" M="$BUILD" modules >"$BUILD/make.log" 2>&1 ||
		{ cat "$BUILD/make.log" >&2; die "building pstore_crash.ko failed"; }
fi

# --- optional: mtdpstore.ko from Debian's own kernel source -----------------------
if [ "$WITH_MTDPSTORE" = 1 ] && [ ! -f "$BUILD/mtdpstore/mtdpstore.ko" ]; then
	src=$(ls /usr/src/linux-source-*.tar.xz 2>/dev/null | sort -V | tail -1)
	[ -n "$src" ] || die "linux-source installed but no /usr/src/linux-source-*.tar.xz"
	top=$(basename "$src" .tar.xz)
	# The module must come from the very source the running kernel was built from.
	srcver=$(dpkg-query -W -f='${Version}' "$top" 2>/dev/null || true)
	kver=$(dpkg-query -W -f='${Version}' "linux-image-$KVER" 2>/dev/null || true)
	[ -n "$srcver" ] && [ "$srcver" = "$kver" ] ||
		die "$top is version '$srcver' but linux-image-$KVER is '$kver'; install matching versions"
	say "extracting drivers/mtd/mtdpstore.c from $src (decompresses the whole tarball)"
	mkdir -p "$BUILD/mtdpstore"
	tar -xJf "$src" -C "$BUILD/mtdpstore" --strip-components=3 "$top/drivers/mtd/mtdpstore.c"
	echo 'obj-m += mtdpstore.o' > "$BUILD/mtdpstore/Kbuild"
	make -s -C "$MODDIR/build" M="$BUILD/mtdpstore" modules >"$BUILD/mtdpstore/make.log" 2>&1 ||
		{ cat "$BUILD/mtdpstore/make.log" >&2; die "building mtdpstore.ko failed"; }
fi

# --- static MTD loader ---------------------------------------------------------
if [ ! -x "$CACHE/mtdload" ] || [ "$HERE/guest/mtdload.c" -nt "$CACHE/mtdload" ]; then
	say "building mtdload"
	gcc -static -O2 -Wall -o "$CACHE/mtdload" "$HERE/guest/mtdload.c"
fi

# --- initramfs -------------------------------------------------------------------
# Modules a scenario may load (with their dependencies, resolved by modprobe).
MODULES=(virtio_pci virtio_blk pstore_zone pstore_blk mtdoops nandsim mtdram block2mtd mtdblock mtdblock_ro ext4)
INITRD=$CACHE/initramfs-$KVER.cpio.gz
inputs=("$HERE/guest/init" "$CACHE/mtdload" "$BUILD/pstore_crash.ko" "$HERE/setup.sh" "$MODDIR/modules.dep")
[ -f "$BUILD/mtdpstore/mtdpstore.ko" ] && inputs+=("$BUILD/mtdpstore/mtdpstore.ko")
stale=0
[ -f "$INITRD" ] || stale=1
for f in "${inputs[@]}"; do [ "$f" -nt "$INITRD" ] && stale=1; done
if [ "$stale" = 1 ]; then
	say "building $(basename "$INITRD")"
	root=$CACHE/initramfs
	rm -rf "$root"
	mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,lib/modules/"$KVER"/extra}
	cp "$BUSYBOX" "$root/bin/busybox"
	ln -s busybox "$root/bin/sh"
	cp "$CACHE/mtdload" "$root/bin/mtdload"
	install -m 755 "$HERE/guest/init" "$root/init"
	for ko in $(modprobe -a -S "$KVER" --show-depends "${MODULES[@]}" | awk '$1 == "insmod" { print $2 }' | sort -u); do
		rel=${ko#"$MODDIR"/}
		mkdir -p "$root/lib/modules/$KVER/$(dirname "$rel")"
		case $ko in
		*.ko) cp "$ko" "$root/lib/modules/$KVER/$rel" ;;
		*.ko.xz) xz -dc "$ko" >"$root/lib/modules/$KVER/${rel%.xz}" ;;
		*.ko.zst) zstd -qdc "$ko" >"$root/lib/modules/$KVER/${rel%.zst}" ;;
		*.ko.gz) gzip -dc "$ko" >"$root/lib/modules/$KVER/${rel%.gz}" ;;
		*) die "unexpected module file $ko" ;;
		esac
	done
	cp "$BUILD/pstore_crash.ko" "$root/lib/modules/$KVER/extra/"
	[ -f "$BUILD/mtdpstore/mtdpstore.ko" ] && cp "$BUILD/mtdpstore/mtdpstore.ko" "$root/lib/modules/$KVER/extra/"
	cp "$MODDIR/modules.builtin" "$MODDIR/modules.builtin.modinfo" "$MODDIR/modules.order" "$root/lib/modules/$KVER/"
	# modules.dep for exactly what is in the image (busybox modprobe reads it).
	depmod -b "$root" "$KVER"
	(cd "$root" && find . -print0 | sort -z | cpio --null -o -H newc --quiet) | gzip -6 >"$INITRD.tmp"
	mv "$INITRD.tmp" "$INITRD"
fi

cat >"$CACHE/env.sh.tmp" <<EOF
KVER='$KVER'
KERNEL='$KERNEL'
INITRD='$INITRD'
HAVE_MTDPSTORE=$([ -f "$BUILD/mtdpstore/mtdpstore.ko" ] && echo 1 || echo 0)
EOF
mv "$CACHE/env.sh.tmp" "$CACHE/env.sh"
say "ready: $KERNEL + $INITRD ($(stat -c %s "$INITRD") bytes)"
