#!/bin/bash
# The live ISO written to a USB stick by clonebay itself, booted with UEFI (OVMF):
# the stick is found as the boot medium, marked SYSTEM and refused as a target;
# a SATA HDD and an NVMe disk with a bad sector (QEMU blkdebug) are rescued:
# exit 3, the sector listed, everything else copied. NVMe reports ENODATA, SATA EIO.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_iso uefi_stick
[ -f "$OVMF_CODE" ] || { skip uefi_stick "no OVMF ($OVMF_CODE; package ovmf)"; exit 0; }

# The stick: the hybrid ISO restored onto a loop device by clonebay, as a technician would.
stick=$WORK/stick.img
truncate -s 64M "$stick"
loop=$(attach "$stick")
check "clonebay restore writes the ISO to a stick" "$CB" restore "$ISO" "$loop" --yes
partx -d "$loop" 2>/dev/null; losetup -d "$loop"
check "the stick holds the ISO byte for byte" cmp -n "$(stat -c %s "$ISO")" "$ISO" "$stick"
stick_sum=$(sha "$stick")

random_file "$WORK/hdd.img" 48M 11
random_file "$WORK/nvme.img" 48M 12
for t in ta tb; do truncate -s 48M "$WORK/$t.img"; done
add_usb 0 "$stick" Kingston "DataTraveler 3.0" boot
add_sata_bad 1 "$WORK/hdd.img" "ST500DM002-1BD142" CBBAD001 5000
add_sata 2 "$WORK/ta.img" "Crucial MX500" CBTGT002 1
add_sata 3 "$WORK/tb.img" "Crucial MX500" CBTGT003 1
add_nvme 0 "$WORK/nvme.img" CBNVME09 9000

{ guest_prelude; cat <<'GUEST'
out list clonebay list --json
out medium cat /run/clonebay/boot-device
STICK=$(cat /run/clonebay/boot-device)
HDD=$(by_serial CBBAD001); TA=$(by_serial CBTGT002); TB=$(by_serial CBTGT003)
NVME=$(for s in /sys/block/nvme*; do echo /dev/${s##*/}; done)
out refuse clonebay clone "$HDD" "$STICK" --yes
out sata clonebay clone "$HDD" "$TA" --yes
out nvme clonebay clone "$NVME" "$TB" --yes
GUEST
} > "$WORK/guest.sh"

run_guest uefi stick "$WORK/guest.sh"
section list "$out" > "$WORK/list.json"
check "UEFI boot from the stick: it is the boot medium, kind usb, marked system" json "$WORK/list.json" \
    "d=[x for x in r if x['system']]; assert len(d)==1 and d[0]['kind']=='usb' and d[0]['path']=='$(section medium "$out")', r"
check "the stick refused as a target: exit 2" grep -qx 'rc refuse 2' "$out"
check "the refusal says it holds the running system" grep -q 'holds the running system' <(section refuse "$out")
check "the stick is untouched" test "$(sha "$stick")" = "$stick_sum"

# SATA: EIO for sector 5000
check "SATA bad sector: exit 3" grep -qx 'rc sata 3' "$out"
check "SATA bad sector listed at offset 2560000, 512 bytes" grep -q 'offset 2560000, 512 bytes' <(section sata "$out")
check "SATA: everything else copied (cmp differs only in sector 5000)" bash -c \
    "cmp -l '$WORK/hdd.img' '$WORK/ta.img' | awk '{ if (\$1 <= 2560000 || \$1 > 2560512) bad=1 } END { exit bad }'"
# NVMe: ENODATA for sector 9000
check "NVMe bad sector (ENODATA): exit 3" grep -qx 'rc nvme 3' "$out"
check "NVMe bad sector listed at offset 4608000, 512 bytes" grep -q 'offset 4608000, 512 bytes' <(section nvme "$out")
check "NVMe: everything else copied (cmp differs only in sector 9000)" bash -c \
    "cmp -l '$WORK/nvme.img' '$WORK/tb.img' | awk '{ if (\$1 <= 4608000 || \$1 > 4608512) bad=1 } END { exit bad }'"
finish
