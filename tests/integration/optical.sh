#!/bin/bash
# Disc images on the host: a real ISO (grub-rescue-pc's) served by the fault
# drive with unreadable run-out sectors after it, as many discs have. The
# backup stops at the ISO 9660 volume size, equals the ISO byte for byte and
# reports no bad sectors; a bad sector inside the volume is reported. An ISO
# restored to a loop device equals the ISO.
. "$(dirname "$0")/../lib.sh"
need_root optical
ISO=${TEST_ISO:-/usr/lib/grub-rescue/grub-rescue-cdrom.iso}
[ -r "$ISO" ] || { skip optical "no test ISO ($ISO: apt-get install grub-rescue-pc)"; exit 0; }
command -v fusermount3 >/dev/null || { skip optical "fusermount3 missing"; exit 0; }
iso_bytes=$(stat -c %s "$ISO")
# The "disc": the ISO, then 2 MiB of run-out that cannot be read.
disc_bytes=$(( (iso_bytes / 2048 + 1024) * 2048 ))
disc=$(fault_drive disc "$disc_bytes" --file "$ISO")

"$CB" image "$disc" "$WORK/backup.iso" --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "disc: exit 0 (run-out not read, nothing bad)" test $rc = 0
check "disc: backup equals the ISO byte for byte" cmp "$WORK/backup.iso" "$ISO"
check "disc: stops at the volume size" test "$(stat -c %s "$WORK/backup.iso")" = "$iso_bytes"
check "disc: no bad sectors reported" json "$WORK/r.json" "assert r['bad_sectors'] == [] and r['outcome'] == 'copied and verified'"
check "disc: sha256 and md5 in the report" json "$WORK/r.json" "h=r['source_hashes']; assert h['sha256'] == '$(sha "$ISO")' and h['md5'] == '$(md5sum "$ISO" | cut -d' ' -f1)'"
check "disc: the report names the volume" grep -q "ISO 9660 volume" "$WORK/out"

# Blu-ray style discs: UDF only, no ISO 9660, in the two layouts mkudffs makes:
# write-once (one anchor, the partition to the end) and rewritable (the reserve
# descriptors and anchors at N-257 and N-1 after the partition). The run-out
# after the volume is unreadable: the backup must stop at the volume's end.
if command -v mkudffs >/dev/null; then
    for media in bdr hd; do
        truncate -s 24M "$WORK/udf-$media.img"
        mkudffs -b 2048 --media-type=$media --label=BD_$media "$WORK/udf-$media.img" >/dev/null 2>&1
        udisc=$(fault_drive "udf-$media" $((26 * 1024 * 1024)) --file "$WORK/udf-$media.img")
        "$CB" image "$udisc" "$WORK/udf-$media.iso" > "$WORK/uout" 2>&1; rc=$?
        check "UDF disc ($media): exit 0, the run-out is not read" test $rc = 0
        check "UDF disc ($media): the backup equals the volume byte for byte" cmp "$WORK/udf-$media.iso" "$WORK/udf-$media.img"
        check "UDF disc ($media): the report names the UDF volume" grep -q "UDF volume 'BD_$media'" "$WORK/uout"
    done
else
    skip "UDF discs" "mkudffs missing (package udftools)"
fi

# Compressed: .iso.zst holds the same volume.
"$CB" image "$disc" "$WORK/backup.iso.zst" > /dev/null 2>&1; rc=$?
check "disc to .iso.zst: exit 0, decompresses to the ISO" bash -c "[ $rc = 0 ] && zstd -q -d -c '$WORK/backup.iso.zst' | cmp - '$ISO'"

# A bad sector inside the volume is rescued around and reported.
bad_at=$(( iso_bytes / 2 / 2048 * 2048 ))
scratched=$(fault_drive scratched "$disc_bytes" --file "$ISO" --bad "$bad_at:2048")
"$CB" image "$scratched" "$WORK/scratched.iso" --report "$WORK/s.json" > /dev/null 2>&1; rc=$?
check "scratched disc: exit 3" test $rc = 3
check "scratched disc: 3 retry passes by default for a disc" json "$WORK/s.json" "assert r['retries'] == 3, r['retries']"
check "scratched disc: the bad sector is reported, nothing in the run-out" json "$WORK/s.json" "assert [(b['offset'], b['length']) for b in r['bad_sectors']] == [($bad_at, 2048)], r['bad_sectors']"
check "scratched disc: every other sector equals the ISO" bash -c "cmp -n $bad_at '$WORK/scratched.iso' '$ISO' && cmp -i $((bad_at + 2048)) '$WORK/scratched.iso' '$ISO'"

# Writing an ISO to a stick: restore of the raw .iso to a loop device.
truncate -s 64M "$WORK/stick.img"; stick=$(attach "$WORK/stick.img")
"$CB" restore "$WORK/backup.iso" "$stick" --yes > "$WORK/rout" 2>&1; rc=$?
check "ISO to a stick: exit 0" test $rc = 0
check "ISO to a stick: equals the ISO over its length" cmp -n "$iso_bytes" "$stick" "$ISO"

# A hybrid ISO with a GPT too (grub-mkrescue's BIOS+UEFI layout, as our live ISO):
# the stick gets it byte for byte; the GPT backup is not moved to the stick's end.
mkdir -p "$WORK/tree"; echo hybrid > "$WORK/tree/readme.txt"
if grub-mkrescue -o "$WORK/hybrid.iso" "$WORK/tree" >/dev/null 2>&1; then
    hybrid_bytes=$(stat -c %s "$WORK/hybrid.iso")
    check "hybrid ISO has a GPT (the case under test)" bash -c "sgdisk -p '$WORK/hybrid.iso' 2>/dev/null | grep -q 'EFI'"
    "$CB" restore "$WORK/hybrid.iso" "$stick" --yes > "$WORK/hout" 2>&1; rc=$?
    check "GPT hybrid ISO to a stick: exit 0" test $rc = 0
    check "GPT hybrid ISO to a stick: equal over its length" cmp -n "$hybrid_bytes" "$stick" "$WORK/hybrid.iso"
    check "GPT hybrid ISO to a stick: the report says the tables stay as they are" grep -q "copied as they are" "$WORK/hout"
else
    skip "GPT hybrid ISO" "grub-mkrescue could not build one (packages grub-pc-bin, grub-efi-amd64-bin, xorriso)"
fi
finish
