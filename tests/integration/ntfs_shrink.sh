#!/bin/bash
# A Windows PC's drive onto a smaller SSD (issue 19): a GPT disk laid out as
# Windows lays it out (EFI FAT32, MSR, NTFS with files, hard links and
# alternate data streams, an NTFS recovery partition at the end) cloned in
# used mode to a drive of 0.6x its size. The NTFS is shrunk in a scratch
# file (the source is only read): ntfsfix clean, every file and stream equal
# through ntfs-3g, the recovery partition byte for byte, GPT valid, GUIDs
# kept. Too full, dirty and hibernated NTFS are refused before writing.
. "$(dirname "$0")/../lib.sh"
need_root ntfs_shrink
for t in mkntfs ntfs-3g ntfsfix ntfsinfo sgdisk mkfs.vfat; do
    command -v $t >/dev/null || { skip ntfs_shrink "$t is missing"; exit 0; }
done
export CLONEBAY_SCRATCH=$WORK
mkdir -p "$WORK/m" "$WORK/n"

# windows_disk FILE FILL_MIB: the layout, the NTFS holding FILL_MIB of data.
windows_disk() {
    local f=$1 fill=$2
    truncate -s 1G "$f"
    sgdisk -o -n 1:1M:+100M -t 1:ef00 -c 1:"EFI system partition" -n 2:0:+16M -t 2:0c01 -c 2:"Microsoft reserved" \
        -n 3:0:-64M -t 3:0700 -c 3:"Basic data partition" -n 4:0:0 -t 4:2700 -c 4:"Recovery" "$f" >/dev/null
    local d; d=$(attach "$f")
    mkfs.vfat -F 32 -n SYSTEM "${d}p1" >/dev/null
    mkntfs -Q -q -F -L Windows "${d}p3" 2>/dev/null
    mkntfs -Q -q -F -L Recovery "${d}p4" 2>/dev/null
    ntfs-3g -o streams_interface=windows "${d}p3" "$WORK/m"
    mkdir -p "$WORK/m/Users/pc/Documents"
    cp -r /usr/share/doc/gdisk /usr/share/doc/ntfs-3g "$WORK/m/Users/pc/Documents/"
    random_file "$WORK/m/pagefile.bin" "${fill}M" 5
    echo "quarterly figures" > "$WORK/m/Users/pc/report.txt"
    ln "$WORK/m/Users/pc/report.txt" "$WORK/m/Users/pc/report-link.txt"
    echo "downloaded from the internet" > "$WORK/m/Users/pc/report.txt:Zone.Identifier"
    umount "$WORK/m"
    ntfs-3g "${d}p4" "$WORK/m" && echo "winre" > "$WORK/m/Winre.wim" && umount "$WORK/m"
    echo "$d"
}
# The files and streams of an NTFS partition, with their digests.
listing() {
    ntfs-3g -o ro,streams_interface=windows "$1" "$WORK/n" || return 1
    (cd "$WORK/n" && find . -type f -print0 | sort -z | xargs -0 sha256sum; cat ./Users/pc/report.txt:Zone.Identifier;
     stat -c '%h %n' ./Users/pc/report.txt ./Users/pc/report-link.txt)
    umount "$WORK/n"
}
untouched() { [ "$(sha "$1")" = "$2" ]; }

src_file=$WORK/win.img
src=$(windows_disk "$src_file" 250 | tail -1)
listing "${src}p3" > "$WORK/src.list"
# 0.6x of the source.
truncate -s 614M "$WORK/small.img"; random_file "$WORK/small.img" 614M 9; small=$(attach "$WORK/small.img")
stat_read() { echo $(( $(awk '{print $3}' "/sys/block/${1#/dev/}/stat") * 512 )); }
before=$(stat_read "$src")
"$CB" clone "$src" "$small" --yes --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
single_read=$(( $(stat_read "$src") - before ))
check "0.6x clone: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/out'"
check "the report says the NTFS was shrunk in a scratch file" json "$WORK/r.json" \
    "assert any('#3 (ntfs) shrunk to' in n and '(ntfsresize)' in n for n in r['notes']), r['notes']"
partx -u "$small" 2>/dev/null || partx -a "$small" 2>/dev/null
check "GPT valid (sgdisk -v)" bash -c "sgdisk -v '$small' | grep -q 'No problems found'"
disk_guid() { sgdisk -p "$1" | awk '/Disk identifier/ {print $4}'; }
part_guid() { sgdisk -i "$2" "$1" | awk -F': ' '/unique GUID/ {print $2}'; }
check "disk GUID kept" test "$(disk_guid "$src")" = "$(disk_guid "$small")"
check "partition GUIDs and names kept" bash -c "for n in 1 2 3 4; do [ \"\$(sgdisk -i \$n '$src' | grep -v 'First sector\|Last sector\|size')\" = \"\$(sgdisk -i \$n '$small' | grep -v 'First sector\|Last sector\|size')\" ] || exit 1; done"
check "EFI, MSR and recovery keep their sizes" bash -c "for n in 1 2 4; do [ \$(blockdev --getsize64 ${src}p\$n) = \$(blockdev --getsize64 ${small}p\$n) ] || exit 1; done"
check "the recovery partition is byte for byte the source's" cmp "${src}p4" "${small}p4"
check "the EFI partition is clean (fsck.vfat -n)" fsck.vfat -n "${small}p1"
check "the Windows partition is clean (ntfsfix -n)" bash -c "ntfsfix -n ${small}p3 | grep -q 'processed successfully'"
check "its NTFS fits its partition (ntfsinfo)" bash -c "v=\$(ntfsinfo -m -f ${small}p3 | awk '/Volume Size in Clusters/ {print \$NF}'); c=\$(ntfsinfo -m -f ${small}p3 | awk '/Cluster Size/ {print \$NF}'); [ \$((v * c)) -le \$(blockdev --getsize64 ${small}p3) ] && [ \$((v * c)) -gt \$((300 << 20)) ]"
listing "${small}p3" > "$WORK/small.list"; listing "${src}p3" > "$WORK/src-after.list"
check "every file, hard link and stream equal (ntfs-3g)" diff "$WORK/src.list" "$WORK/small.list"
check "the source is untouched by the shrink (read only)" diff "$WORK/src.list" "$WORK/src-after.list"
check "no scratch file is left" bash -c "! ls '$WORK' | grep -q clonebay-"

# One master onto 0.6x, 1x and 1.5x drives in one job: each target gets its own
# plan from one read of the master (the source loop's sectors read, from sysfs).
truncate -s 614M "$WORK/m06.img"; truncate -s 1G "$WORK/m10.img"; truncate -s 1536M "$WORK/m15.img"
m06=$(attach "$WORK/m06.img"); m10=$(attach "$WORK/m10.img"); m15=$(attach "$WORK/m15.img")
before=$(stat_read "$src")
"$CB" clone "$src" "$m06" "$m10" "$m15" --yes --report "$WORK/multi.json" > "$WORK/multi.out" 2>&1; rc=$?
multi_read=$(( $(stat_read "$src") - before ))
check "three sizes in one job: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/multi.out'"
check "the report shows each target's plan" json "$WORK/multi.json" \
    "assert all(any(n.startswith('target %s: partitions fitted' % t) for n in r['notes']) for t in ('$m06', '$m15')), r['notes']"
check "the master was read once: no more than the 0.6x job alone read (+20 %)" \
    test "$multi_read" -le $(( single_read * 12 / 10 + (8 << 20) ))
echo "source bytes read: one target $single_read, three targets $multi_read"
for t in $m06 $m10 $m15; do
    partx -u "$t" 2>/dev/null || partx -a "$t" 2>/dev/null
    sz=$(blockdev --getsize64 "$t")
    check "$sz-byte target: GPT valid" bash -c "sgdisk -v '$t' | grep -q 'No problems found'"
    check "$sz-byte target: Windows partition clean (ntfsfix -n)" bash -c "ntfsfix -n ${t}p3 | grep -q 'processed successfully'"
    check "$sz-byte target: its NTFS fills its partition (within 1 MiB)" bash -c "v=\$(ntfsinfo -m -f ${t}p3 | awk '/Volume Size in Clusters/ {print \$NF}'); c=\$(ntfsinfo -m -f ${t}p3 | awk '/Cluster Size/ {print \$NF}'); p=\$(blockdev --getsize64 ${t}p3); [ \$((v * c)) -le \$p ] && [ \$((p - v * c)) -lt \$((1 << 20)) ]"
    listing "${t}p3" > "$WORK/t.list"
    check "$sz-byte target: every file, hard link and stream equal" diff "$WORK/src.list" "$WORK/t.list"
    check "$sz-byte target: recovery byte for byte" cmp "${src}p4" "${t}p4"
done
check "the 1.5x target's Windows partition grew" bash -c "[ \$(blockdev --getsize64 ${m15}p3) -gt \$(blockdev --getsize64 ${src}p3) ]"

# Too full for the drive: refused before writing, naming the partition and the room.
truncate -s 400M "$WORK/tiny.img"; tiny=$(attach "$WORK/tiny.img"); keep=$(sha "$tiny")
"$CB" clone "$src" "$tiny" --yes > "$WORK/full.out" 2>&1; rc=$?
check "NTFS too full: refused (exit 2)" test $rc = 2
check "the refusal names the partition, what it needs and the room" bash -c "grep -q 'partition #3 (ntfs) needs at least' '$WORK/full.out'"
check "NTFS too full: target untouched" untouched "$tiny" "$keep"

# Dirty, then hibernated: refused before writing, saying what to do in Windows.
keep=$(sha "$small")
partx -d "$src"; losetup -d "$src"
ntfs_dirty "$src_file" $(( $(sgdisk -i 3 "$src_file" | awk '/First sector/ {print $3}') * 512 ))
src=$(attach "$src_file" -r)
"$CB" clone "$src" "$small" --yes > "$WORK/dirty.out" 2>&1; rc=$?
check "dirty NTFS that must shrink: refused (exit 2)" test $rc = 2
check "the refusal names the partition and says to shut Windows down or run chkdsk" \
    bash -c "grep -q 'partition #3 (ntfs) would have to shrink' '$WORK/dirty.out' && grep -q 'chkdsk' '$WORK/dirty.out'"
check "dirty NTFS: target untouched" untouched "$small" "$keep"

src2=$(windows_disk "$WORK/hib.img" 64 | tail -1)
ntfs-3g "${src2}p3" "$WORK/m" && printf 'hibr' > "$WORK/m/hiberfil.sys" && head -c 8192 /dev/zero >> "$WORK/m/hiberfil.sys" && umount "$WORK/m"
"$CB" clone "$src2" "$small" --yes > "$WORK/hib.out" 2>&1; rc=$?
# 64 MiB of data fits the 0.6x drive only by shrinking: the hibernated volume cannot be.
check "hibernated NTFS that must shrink: refused (exit 2)" test $rc = 2
check "the refusal says Windows is hibernated on it" bash -c "grep -q 'hibernated' '$WORK/hib.out' && grep -q 'partition #3 (ntfs)' '$WORK/hib.out'"
check "hibernated NTFS: target untouched" untouched "$small" "$keep"
finish
