#!/bin/bash
# The live ISO booted from a DVD drive (BIOS) on a bench of emulated drives:
# real udev identifies them (clonebay list --json), the HDD is cloned to the SSD
# and the NVMe disk at once, imaged to a USB stick, and the disc in the second
# DVD drive is backed up to an ISO file. Host tools check every result.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_iso bios_bench

# A partitioned HDD with files: 16 MiB EFI system (FAT) + ext4 with 12 MiB of data.
hdd=$WORK/hdd.img
truncate -s 128M "$hdd"
sgdisk -o -n1:2048:+16M -t1:EF00 -n2:0:0 -t2:8300 "$hdd" >/dev/null
mkfs.fat -F 16 --offset 2048 "$hdd" 16384 >/dev/null 2>&1
mkdir -p "$WORK/files/docs"
random_file "$WORK/files/docs/report.bin" 8M 7
random_file "$WORK/files/photo.bin" 4M 8
echo "the bench" > "$WORK/files/readme.txt"
p2=$(sgdisk -i2 "$hdd" | awk '/First sector/ {print $3}')
p2_end=$(sgdisk -i2 "$hdd" | awk '/Last sector/ {print $3}')
mke2fs -q -t ext4 -E offset=$((p2 * 512)) -d "$WORK/files" -L data "$hdd" $(((p2_end - p2 + 1) / 2))k
for d in ssd nvme; do truncate -s 128M "$WORK/$d.img"; done
truncate -s 160M "$WORK/usb.img"
disc=/usr/lib/grub-rescue/grub-rescue-cdrom.iso

add_cd 0 "$ISO" boot
add_sata 1 "$hdd" "WDC WD5000AAKX-00ERMA0" CBHDD001 7200
add_sata 2 "$WORK/ssd.img" "Samsung SSD 860 EVO 250GB" CBSSD002 1
add_cd 3 "$disc"
add_cd 4 ""
add_nvme 0 "$WORK/nvme.img" CBNVME03
add_usb 0 "$WORK/usb.img" SanDisk "Cruzer Blade"

{ guest_prelude; cat <<'GUEST'
out list clonebay list --json
HDD=$(by_serial CBHDD001); SSD=$(by_serial CBSSD002); NVME=$(by_serial CBNVME03)
USB=$(for s in /sys/block/sd*; do [ "$(cat $s/removable)" = 1 ] && echo /dev/${s##*/}; done)
DVD=$(for s in /sys/block/sr*; do n=/dev/${s##*/}; [ "$n" != "$(cat /run/clonebay/boot-device)" ] && blkid -p $n >/dev/null 2>&1 && echo $n; done)
echo "drives $HDD $SSD $NVME $USB $DVD"
out clone clonebay clone "$HDD" "$SSD" "$NVME" --yes --hash sha256 --mode raw   # raw: its hash is the whole disk's
# Two jobs (as from two stations) on one target: the second is refused while the first holds it.
clonebay clone "$HDD" "$SSD" --yes --max-read-rate 16M > /tmp/first.log 2>&1 &
first=$!
while ! writes $first "$SSD"; do sleep 0.2; done
out busylist clonebay list --json
out second clonebay clone "$NVME" "$SSD" --yes
wait $first; echo "rc first $?"
out stations sh -c 'ps | grep -c "[c]lonebay station"'
mkfs.ext4 -q -L store "$USB" && mkdir -p /mnt/store && mount "$USB" /mnt/store
out image clonebay image "$HDD" /mnt/store/hdd.zst
out disc clonebay image "$DVD" /mnt/store/rescue.iso
umount /mnt/store
GUEST
} > "$WORK/guest.sh"

run_guest bios bench "$WORK/guest.sh"

# --- discovery through real udev
section list "$out" > "$WORK/list.json"
drive() { json "$WORK/list.json" "d=[x for x in r if x['serial']=='$1']; assert len(d)==1, 'no drive $1'; d=d[0]; $2"; }
check "HDD: kind hdd, model, serial, size, sata" drive CBHDD001 \
    "assert (d['kind'],d['model'],d['size'],d['bus'])==('hdd','WDC WD5000AAKX-00ERMA0',128<<20,'sata'), d"
check "HDD: its GPT and partitions are listed" drive CBHDD001 \
    "assert d['partition_table']=='gpt' and [p['fstype'] for p in d['partitions']]==['vfat','ext4'], d"
check "SSD: kind ssd (rotation rate 1)" drive CBSSD002 \
    "assert (d['kind'],d['model'],d['size'])==('ssd','Samsung SSD 860 EVO 250GB',128<<20), d"
check "NVMe: kind nvme" drive CBNVME03 \
    "assert (d['kind'],d['model'],d['size'])==('nvme','QEMU NVMe Ctrl',128<<20), d"
check "USB stick: kind usb, removable, vendor and product" json "$WORK/list.json" \
    "d=[x for x in r if x['kind']=='usb']; assert len(d)==1, r; d=d[0]; assert d['removable'] and d['size']==160<<20 and 'Cruzer' in d['model'], d"
check "DVD with a disc: optical, media present, data track" json "$WORK/list.json" \
    "d=[x for x in r if x['kind']=='optical' and x['fstype']=='iso9660' and not x['system']]; assert len(d)==1, r; o=d[0]['optical']; assert o['media'] and o['data_tracks']>=1 and o['audio_tracks']==0, o"
check "empty DVD drive: no media" json "$WORK/list.json" \
    "d=[x for x in r if x['kind']=='optical' and not x['optical']['media']]; assert len(d)==1, r"
check "boot DVD: marked system" json "$WORK/list.json" \
    "d=[x for x in r if x['system']]; assert len(d)==1 and d[0]['kind']=='optical', r"

# --- clone to two drives at once, checked on the host with cmp
check "clone HDD -> SSD + NVMe: exit 0" grep -qx 'rc clone 0' "$out"
check "SSD equals the HDD" cmp "$hdd" "$WORK/ssd.img"
check "NVMe equals the HDD" cmp "$hdd" "$WORK/nvme.img"
want=$(sha "$hdd")
check "the guest's sha256 is the host's" grep -q "$want" <(section clone "$out")

check "a second job on a target another job holds: refused (exit 2)" grep -qx 'rc second 2' "$out"
section busylist "$out" > "$WORK/busy.json"
check "meanwhile another clonebay sees the SSD as busy, written by the first job" json "$WORK/busy.json" \
    "d=[x for x in r if x['serial']=='CBSSD002'][0]; assert d['busy'] and '(clonebay)' in d['busy_reason'], d"
check "the refusal says the target is busy" grep -qi 'busy\|in use' <(section second "$out")
check "the first job still ends verified" grep -qx 'rc first 0' "$out"
check "one station per console (tty1 and ttyS0), not a respawn storm" test "$(section stations "$out")" = 2

# --- image to the USB stick, decompressed on the host by zstd
check "image HDD -> USB stick: exit 0" grep -qx 'rc image 0' "$out"
debugfs -R "dump /hdd.zst $WORK/hdd.zst" "$WORK/usb.img" >/dev/null 2>&1
check "zstd restores the image to the HDD's bytes" bash -c "zstd -qdc '$WORK/hdd.zst' | cmp - '$hdd'"

# --- the disc, backed up to an ISO file
check "disc -> rescue.iso: exit 0" grep -qx 'rc disc 0' "$out"
debugfs -R "dump /rescue.iso $WORK/rescue.iso" "$WORK/usb.img" >/dev/null 2>&1
check "the backup equals the disc's ISO" cmp "$disc" "$WORK/rescue.iso"
finish
