#!/bin/bash
# Build the bootable live ISO: build.sh CLONEBAY_BINARY OUT.iso [WORKDIR]
#
# Everything comes from Debian 12 packages: the kernel is fetched with
# `apt-get download` (the build machine needs no Debian kernel installed), the
# userland is copied from the build machine's own packages (dpkg must own each
# file; scripts/packages.txt installs them). The whole system is one initramfs
# that runs from RAM, so the boot medium can be pulled once the station is up.
# GRUB (grub-mkrescue) makes the image hybrid: BIOS and UEFI, CD and USB stick.
set -euo pipefail
HERE=$(cd "$(dirname "$0")" && pwd)
BIN=${1:?usage: build.sh CLONEBAY_BINARY OUT.iso [WORKDIR]}
OUT=${2:?usage: build.sh CLONEBAY_BINARY OUT.iso [WORKDIR]}
WORK=$(realpath -m "${3:-$(dirname "$OUT")/iso-work}")
KPKG_CACHE=$WORK/kernel-deb          # kept between builds: the kernel download
ROOT=$WORK/root                      # the live system's / (becomes the initramfs)
MEDIA=$WORK/media                    # the ISO's file tree

say() { echo "iso: $*" >&2; }
die() { echo "iso: error: $*" >&2; exit 1; }

for tool in apt-get dpkg-deb depmod grub-mkrescue xorriso mformat cpio zstd ldd; do
    command -v "$tool" >/dev/null || die "$tool is missing (make deps installs it)"
done
[ -x "$BIN" ] || die "$BIN: no clonebay binary (run make first)"
[ -x /bin/busybox ] || die "/bin/busybox missing (package busybox-static)"

# --- kernel: the newest linux-image the archive's linux-image-amd64 points at
kernel_package() { apt-cache depends linux-image-amd64 2>/dev/null | awk '/Depends: linux-image-[0-9]/ {print $2; exit}'; }
kpkg=$(kernel_package)
if [ -z "$kpkg" ] && [ "$(id -u)" = 0 ]; then
    apt-get update -qq >&2 && kpkg=$(kernel_package)      # a machine whose package lists are empty
fi
[ -n "$kpkg" ] || die "apt-cache knows no linux-image-amd64 (run apt-get update as root)"
mkdir -p "$KPKG_CACHE"
deb=$(ls "$KPKG_CACHE/${kpkg}"_*.deb 2>/dev/null | head -1 || true)
if [ -z "$deb" ]; then
    say "downloading $kpkg"
    (cd "$KPKG_CACHE" && apt-get download -q "$kpkg" 2>&1 | grep -v '^W: Download is performed unsandboxed' >&2 || true)
    deb=$(ls "$KPKG_CACHE/${kpkg}"_*.deb 2>/dev/null | head -1 || true)
    [ -n "$deb" ] || die "apt-get download $kpkg failed"
fi
KDIR=$KPKG_CACHE/tree
if [ ! -d "$KDIR/lib/modules" ]; then
    rm -rf "$KDIR"; dpkg-deb -x "$deb" "$KDIR"
fi
KVER=$(ls "$KDIR/lib/modules" | head -1)
say "kernel $KVER"

rm -rf "$ROOT" "$MEDIA"
mkdir -p "$ROOT"/usr/{bin,sbin,lib,lib64} "$MEDIA/boot/grub"
for d in bin sbin lib lib64; do ln -s "usr/$d" "$ROOT/$d"; done
mkdir -p "$ROOT"/{dev,proc,sys,run,tmp,mnt,root,etc,var/log} "$ROOT/usr/libexec/clonebay"
chmod 1777 "$ROOT/tmp"

# --- programs and their libraries, as Debian installed them
owned_by_debian() {
    local f=$1 alt
    case "$f" in /usr/*) alt=${f#/usr} ;; *) alt=/usr$f ;; esac
    dpkg -S "$f" >/dev/null 2>&1 || dpkg -S "$alt" >/dev/null 2>&1
}
copy_path() {              # copy one file, keeping its path (and the symlink if it is one)
    local f=$1 real
    real=$(readlink -f "$f")
    mkdir -p "$ROOT$(dirname "$real")"
    cp -n "$real" "$ROOT$real"
    if [ "$real" != "$f" ] && [ ! -e "$ROOT$f" ]; then
        mkdir -p "$ROOT$(dirname "$f")"; ln -s "$real" "$ROOT$f"
    fi
}
copy_libs() {              # the shared libraries ldd resolves for an ELF file
    ldd "$1" 2>/dev/null | grep -o '/[^ ]*' | while read -r lib; do
        [ -e "$lib" ] && copy_path "$lib"
    done
}
grep -v '^#' "$HERE/files.txt" | while read -r f; do
    [ -n "$f" ] || continue
    [ -e "$f" ] || die "$f is missing on this machine (make deps installs its package)"
    owned_by_debian "$f" || die "$f is not from a Debian package"
    copy_path "$f"
    copy_libs "$f"
done
install -m 0755 "$BIN" "$ROOT/usr/bin/clonebay"
strip --strip-unneeded "$ROOT/usr/bin/clonebay" 2>/dev/null || true
copy_libs "$BIN"
# fuse3 mounts (ntfs-3g) go through the setuid-less helper path; kmod names the module tools
for t in modprobe insmod rmmod lsmod depmod modinfo; do ln -sf ../bin/kmod "$ROOT/usr/sbin/$t"; done
# busybox fills in every other command, never replacing a real one
cp /bin/busybox "$ROOT/usr/bin/busybox"
for applet in $(/bin/busybox --list-full); do
    [ -e "$ROOT/$applet" ] || [ -L "$ROOT/$applet" ] || ln -s /usr/bin/busybox "$ROOT/$applet"
done

# udev rules that name and describe storage; the rest (sound, input seats) are not needed
mkdir -p "$ROOT/usr/lib/udev/rules.d"
for r in 50-udev-default 60-block 60-cdrom_id 60-persistent-storage 80-drivers; do
    cp "/usr/lib/udev/rules.d/$r.rules" "$ROOT/usr/lib/udev/rules.d/"
done
# terminal descriptions for the console, serial terminals and tmux
for t in l/linux v/vt100 v/vt102 v/vt220 x/xterm x/xterm-256color s/screen s/screen-256color t/tmux t/tmux-256color d/dumb; do
    for base in /lib/terminfo /usr/share/terminfo; do
        if [ -e "$base/$t" ]; then mkdir -p "$ROOT$base/$(dirname "$t")"; cp "$base/$t" "$ROOT$base/$t"; break; fi
    done
done

# --- kernel modules with everything they depend on
KMOD_ROOT=$ROOT/usr/lib/modules/$KVER
mkdir -p "$KMOD_ROOT"
for f in modules.order modules.builtin modules.builtin.modinfo; do
    [ -e "$KDIR/lib/modules/$KVER/$f" ] && cp "$KDIR/lib/modules/$KVER/$f" "$KMOD_ROOT/"
done
depmod -b "$KDIR" "$KVER"
missing=""
for m in $(grep -v '^#' "$HERE/modules.txt"); do
    if ! deps=$(modprobe -d "$KDIR" -S "$KVER" --show-depends "$m" 2>/dev/null); then
        missing="$missing $m"; continue
    fi
    echo "$deps" | awk '$1 == "insmod" {print $2}' | while read -r ko; do
        rel=${ko#*/lib/modules/"$KVER"/}
        mkdir -p "$KMOD_ROOT/$(dirname "$rel")"
        cp -n "$ko" "$KMOD_ROOT/$rel"
    done
done
[ -z "$missing" ] || say "not in this kernel (built in or absent):$missing"
depmod -b "$ROOT" "$KVER"

# --- the live system's own files
install -m 0755 "$HERE/init" "$ROOT/init"
install -m 0644 "$HERE/inittab" "$ROOT/etc/inittab"
install -m 0755 "$HERE/station-tty" "$ROOT/usr/libexec/clonebay/station-tty"
install -m 0755 "$HERE/guest-run" "$ROOT/usr/libexec/clonebay/guest-run"
install -D -m 0755 "$HERE/udhcpc.script" "$ROOT/usr/share/udhcpc/default.script"
printf 'root:x:0:0:root:/root:/bin/sh\n' > "$ROOT/etc/passwd"
printf 'root:x:0:\ndisk:x:6:\ncdrom:x:24:\ntape:x:26:\nkmem:x:15:\ntty:x:5:\ndialout:x:20:\n' > "$ROOT/etc/group"
printf 'clonebay\n' > "$ROOT/etc/hostname"
printf '/dev/root / rootfs rw 0 0\n' > "$ROOT/etc/fstab"
printf 'export PATH=/usr/sbin:/usr/bin\nexport TERM=${TERM:-linux}\nPS1='"'"'clonebay# '"'"'\n' > "$ROOT/etc/profile"

# A build id ties the running system to its medium: the ISO 9660 volume date
# (blkid's UUID) is set to it, and init looks for the drive that carries it.
BUILD_ID=${CLONEBAY_BUILD_ID:-$(date -u +%Y%m%d%H%M%S)00}
UUID="${BUILD_ID:0:4}-${BUILD_ID:4:2}-${BUILD_ID:6:2}-${BUILD_ID:8:2}-${BUILD_ID:10:2}-${BUILD_ID:12:2}-${BUILD_ID:14:2}"
printf '%s\n' "$UUID" > "$ROOT/etc/clonebay-medium-uuid"

say "packing the initramfs"
cp "$KDIR/boot/vmlinuz-$KVER" "$MEDIA/boot/vmlinuz"
(cd "$ROOT" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | zstd -q -19 -T0 > "$MEDIA/boot/initrd.zst"
install -m 0644 "$HERE/grub.cfg" "$MEDIA/boot/grub/grub.cfg"

say "making the hybrid image"
grub-mkrescue -o "$OUT" "$MEDIA" -- -volid CLONEBAY -volume_date uuid "$BUILD_ID" 2>"$WORK/grub-mkrescue.log" ||
    { cat "$WORK/grub-mkrescue.log" >&2; die "grub-mkrescue failed"; }
say "$OUT: $(du -m "$OUT" | cut -f1) MiB, medium uuid $UUID"
