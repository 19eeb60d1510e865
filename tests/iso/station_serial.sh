#!/bin/bash
# The station on the live ISO's serial console, driven by keys through tmux
# (the pane is QEMU's serial line): it comes up with no key pressed, shows the
# boot DVD as SYSTEM, sees a USB stick hot-plugged through the QEMU monitor and
# its removal, and clones the HDD to the SSD by keys only (cmp on the host).
# Reports start in RAM with a warning; "s" picks a USB stick to keep them and
# the images: the reports so far move there, and an image job saves into it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_iso station_serial
command -v tmux >/dev/null || { skip station_serial "tmux is not installed"; exit 0; }

random_file "$WORK/hdd.img" 64M 21
truncate -s 64M "$WORK/ssd.img"
truncate -s 200M "$WORK/hot.img"
truncate -s 96M "$WORK/store.img"; mkfs.ext4 -q -L benchstore "$WORK/store.img"
add_cd 0 "$ISO" boot
add_sata 1 "$WORK/hdd.img" "WDC WD10EZEX-08WN4A0" CBHDD101 7200
add_sata 2 "$WORK/ssd.img" "Samsung SSD 870 EVO" CBSSD102 1
add_usb 0 "$WORK/store.img" Verbatim "Store n Go"

station_vm 100 30

check "the station comes up on the serial console, no key pressed" wait_for "Drives (" 180
echo "figure: QEMU start to a usable station on the serial console: $((SECONDS - booted)) s (TCG, 512 MiB)"
check "it lists the HDD and the SSD by model" bash -c "$(declare -f tmux screen); T=$T; screen | grep -q 'WDC WD10EZEX' && screen | grep -q 'Samsung SSD 870'"
check "reports in RAM: the station warns" wait_for "kept in RAM and lost at power-off" 5
check "the boot DVD is shown as SYSTEM" bash -c "$(declare -f tmux screen); T=$T; screen | grep 'optical' | grep -q SYSTEM"

monitor "drive_add 0 if=none,id=hot,file=$WORK/hot.img,format=raw,cache=unsafe"
monitor "device_add usb-storage,id=hotstick,drive=hot,bus=xhci.0,removable=on"
check "a USB stick plugged in through the monitor appears" wait_for "200.0 MiB" 60
monitor "device_del hotstick"
check "removed, it goes" gone "200.0 MiB" 60

# Clone by keys: the wizard lists drives in the panel's order.
keys F2
check "F2 asks for the source" wait_for "step 1 of 4" 20
screen > "$WORK/step1"
row_in() { grep -E '^ *(>|\[|/dev/)' "$1" | grep -n "$2" | head -1 | cut -d: -f1; }
n=$(grep -o '/dev/[a-z0-9]*' "$WORK/step1" | awk '!seen[$0]++' | grep -n "$(screen | grep -F 'WDC WD10EZEX' | grep -o '/dev/[a-z0-9]*' | head -1)" | cut -d: -f1)
for ((i = 1; i < ${n:-1}; i++)); do keys Down; done
keys Enter
check "then for the targets" wait_for "step 2 of 4" 20
screen > "$WORK/step2"
ssd=$(grep -F 'Samsung SSD 870' "$WORK/step2" | grep -o '/dev/[a-z0-9]*' | head -1)
n=$(grep -o '/dev/[a-z0-9]*' "$WORK/step2" | awk '!seen[$0]++' | grep -n "^$ssd\$" | cut -d: -f1)
for ((i = 1; i < ${n:-1}; i++)); do keys Down; done
keys Space
keys Enter
check "options" wait_for "step 3 of 4" 20
keys Enter
check "the confirmation names the SSD" wait_for "WILL BE OVERWRITTEN" 20
keys y
check "the job reaches VERIFIED" wait_for "VERIFIED sha256" 300
check "the SSD equals the HDD (cmp on the host)" cmp "$WORK/hdd.img" "$WORK/ssd.img"

# The store: "s", the stick's ext4, Enter.
keys s
check "s lists the filesystems that can keep images" wait_for "benchstore" 20
keys Enter
check "the stick is mounted as the store" wait_for "now go to /mnt/benchstore" 30
check "no RAM warning any more" gone "(RAM)" 10
# An image job into the store: the wizard starts the file name there.
keys F2
n=$(grep -o '/dev/[a-z0-9]*' "$WORK/step1" | awk '!seen[$0]++' | grep -n "$(screen | grep -F 'WDC WD10EZEX' | grep -o '/dev/[a-z0-9]*' | head -1)" | cut -d: -f1)
for ((i = 1; i < ${n:-1}; i++)); do keys Down; done
keys Enter
check "image: targets step" wait_for "step 2 of 4" 20
for _ in $(seq 8); do keys Down; done
keys Enter
check "the image file starts in the store" wait_for "file: /mnt/benchstore/_" 20
tmux send-keys -t "$T" -l hdd; sleep 0.5
keys Enter; keys Enter
check "image: confirm" wait_for "save it as /mnt/benchstore/hdd" 20
keys y
# Two job verdicts (each job's targets have their own VERIFIED line too).
verified_twice() { [ "$(screen | grep -c 'VERIFIED sha256')" -ge 2 ]; }
for _ in $(seq 600); do verified_twice && break; sleep 0.5; done
check "the image job reaches VERIFIED" verified_twice
monitor quit
check "QEMU quits" wait_for "qemu-exited" 30

# On the host: the stick's journal replayed by e2fsck, then read with debugfs.
check "the store's filesystem is clean (e2fsck)" bash -c "e2fsck -fy '$WORK/store.img' >/dev/null 2>&1; e2fsck -fn '$WORK/store.img' >/dev/null 2>&1"
debugfs -R "ls -l /clonebay-reports" "$WORK/store.img" > "$WORK/reports.ls" 2>/dev/null
check "the clone's report, written in RAM, was moved to the store" grep -q 'job1-clone.json' "$WORK/reports.ls"
check "the image job's report is in the store" grep -q 'job2-image.txt' "$WORK/reports.ls"
debugfs -R "dump /hdd.zst $WORK/hdd.zst" "$WORK/store.img" >/dev/null 2>&1
check "the image in the store decompresses to the HDD (zstd, cmp)" bash -c "zstd -qdc '$WORK/hdd.zst' | cmp - '$WORK/hdd.img'"
finish
