#!/bin/bash
# "Archive discs" (issue 10) in the live ISO's station, through its serial console:
# two DVD drives archive at once into a USB stick chosen with "s"; each disc is
# saved as <label>-<date>.iso and ejected; a disc changed through the QEMU monitor
# is archived under its own label. The host checks every file with cmp.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_iso disc_archive
command -v tmux >/dev/null || { skip disc_archive "tmux is not installed"; exit 0; }
command -v xorriso >/dev/null || { skip disc_archive "xorriso is not installed"; exit 0; }

discA=/usr/lib/grub-rescue/grub-rescue-cdrom.iso       # label ISOIMAGE, 4.8 MiB
mkdir -p "$WORK/b" "$WORK/c"
random_file "$WORK/b/data.bin" 3M 31
random_file "$WORK/c/data.bin" 1M 32
xorriso -as mkisofs -V DISC_B -o "$WORK/discB.iso" "$WORK/b" >/dev/null 2>&1
xorriso -as mkisofs -V DISC_C -o "$WORK/discC.iso" "$WORK/c" >/dev/null 2>&1
truncate -s 64M "$WORK/store.img"; mkfs.ext4 -q -L archive "$WORK/store.img"
add_cd 0 "$ISO" boot
add_cd 1 "$discA"
add_cd 2 "$WORK/discC.iso"
add_usb 0 "$WORK/store.img" Verbatim "Store n Go"

station_vm 110 36
# select_drive TEXT: move the drives panel's cursor to the drive whose line shows TEXT.
select_drive() {
    local n
    n=$(screen | grep -E '^ /dev/' | grep -n -- "$1" | head -1 | cut -d: -f1)
    [ -n "$n" ] || return 1
    keys Home 2>/dev/null; for _ in $(seq 10); do keys Up; done
    for ((i = 1; i < n; i++)); do keys Down; done
}

check "the station comes up" wait_for "Drives (" 180
keys s
check "the stick is offered as the store" wait_for "archive" 20
keys Enter
check "the store is mounted" wait_for "now go to /mnt/archive" 30
select_drive "4.8 MiB" && keys a
check "a on the first DVD drive: it archives (the line under it says so)" wait_for "archiving discs:" 10
select_drive "1.4 MiB\|1.3 MiB\|1.5 MiB" && keys a
archived() { [ "$(screen | grep -c "archiving discs: $1 archived")" -ge "${2:-1}" ]; }
for _ in $(seq 400); do archived 1 2 && break; sleep 0.5; done
check "both drives archived their disc at once" archived 1 2
monitor "info block"
check "each disc was ejected when done" bash -c "sleep 2; grep -c 'not inserted\|tray open' '$WORK/mon.log' | awk '{exit !(\$1 >= 2)}'"
monitor "change cd1 $WORK/discB.iso raw read-only"
for _ in $(seq 400); do archived 2 && break; sleep 0.5; done
check "the next disc in the first drive is archived too" archived 2
monitor quit
check "QEMU quits" wait_for "qemu-exited" 30

e2fsck -fy "$WORK/store.img" >/dev/null 2>&1
debugfs -R "ls" "$WORK/store.img" 2>/dev/null | tr ' ' '\n' | grep '\.iso$' > "$WORK/files"
day=$(date +%Y%m%d)
for want in "ISOIMAGE:$discA" "DISC_B:$WORK/discB.iso" "DISC_C:$WORK/discC.iso"; do
    label=${want%%:*} iso=${want#*:}
    name=$(grep "^$label-" "$WORK/files" | head -1)
    check "$label archived as <label>-<date>.iso" test "$name" = "$label-$day.iso"
    rm -f "$WORK/got.iso"
    debugfs -R "dump /$name $WORK/got.iso" "$WORK/store.img" >/dev/null 2>&1
    check "$label: the file equals the disc (cmp)" cmp "$WORK/got.iso" "$iso"
done
finish
