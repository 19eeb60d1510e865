#!/bin/bash
# FAT data partitions onto drives of other sizes (issue 19): a GPT disk with
# an ESP, a FAT32 data partition and a FAT16 one, both holding files with
# holes between them (files deleted, others written after), cloned in used
# mode onto a 0.6x and a 1.5x drive. The FATs shrink in a scratch file
# (clusters past the new end moved down, chains and directory entries
# following) and grow on the target (the FATs lengthen, the clusters move
# up); the FAT16 grows only as far as its type addresses, and the job says
# so. Also: both sizes in one job, --mode raw, a used-mode image, a FAT32
# whose files lie past the new end. Oracles: fsck.fat -n, mtools (every file
# read back, diff -r), sgdisk -v, the boot sectors' sizes against the
# partitions'. A FAT too full for the room it would get, and a FAT marked
# dirty that must shrink, are refused before a byte is written.
. "$(dirname "$0")/../lib.sh"
need_root fat_resize
for t in mkfs.fat fsck.fat mcopy mdel sgdisk; do
    command -v $t >/dev/null || { skip fat_resize "$t is missing"; exit 0; }
done
export CLONEBAY_SCRATCH=$WORK

# fill DEV DIR: files with holes between them: 30 written, every third deleted, 10 more written.
fill() {
    local dev=$1 dir=$2 mib=$3 i
    mkdir -p "$dir/docs"
    for i in $(seq 30); do head -c $((mib * 1024 * 1024 / 30)) /dev/urandom > "$dir/f$i.bin"; done
    cp -r /usr/share/doc/gdisk /usr/share/doc/dosfstools "$dir/docs/" 2>/dev/null
    mcopy -s -i "$dev" "$dir"/* ::/ 2>/dev/null || return 1
    for i in $(seq 3 3 30); do mdel -i "$dev" "::/f$i.bin" 2>/dev/null && rm "$dir/f$i.bin"; done
    for i in $(seq 31 40); do head -c $((mib * 1024 * 1024 / 60)) /dev/urandom > "$dir/f$i.bin"; mcopy -i "$dev" "$dir/f$i.bin" ::/ 2>/dev/null; done
}
# fat_bytes DEV: the filesystem's size from its boot sector.
fat_bytes() {
    python3 -c "
import struct; b = open('$1', 'rb').read(512)
bps, t16, t32 = struct.unpack_from('<H', b, 11)[0], struct.unpack_from('<H', b, 19)[0], struct.unpack_from('<I', b, 32)[0]
print((t16 or t32) * bps)"
}
bytes() { blockdev --getsize64 "$1"; }
export -f fat_bytes bytes

truncate -s 512M "$WORK/src.img"
sgdisk -n 1:1M:+64M -t 1:ef00 -c 1:EFI -n 2:0:+200M -t 2:0700 -c 2:data32 -n 3:0:0 -t 3:0700 -c 3:data16 \
    "$WORK/src.img" >/dev/null
d=$(attach "$WORK/src.img")
mkfs.fat -F 32 -n EFI "${d}p1" >/dev/null
mkfs.fat -F 32 -n DATA32 "${d}p2" >/dev/null
mkfs.fat -F 16 -n DATA16 "${d}p3" >/dev/null
echo "boot" > "$WORK/bootx64.efi"; { mmd -i "${d}p1" ::/EFI && mcopy -i "${d}p1" "$WORK/bootx64.efi" ::/EFI/; } 2>/dev/null
fill "${d}p2" "$WORK/t32" 60 && fill "${d}p3" "$WORK/t16" 24 || { fail "fat_resize: the source could not be filled"; finish; }
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/src.img" -r)
src_sha=$(sha "$WORK/src.img")

# files PART DIR: the partition's files, as mtools reads them, equal to DIR's.
files_equal() {
    rm -rf "$WORK/back"; mkdir "$WORK/back"
    mcopy -s -n -i "$1" '::/*' "$WORK/back/" 2>/dev/null && diff -r "$2" "$WORK/back"
}
check_target() {    # $1 name, $2 target, $3 smaller|larger
    local n=$1 t=$2 p
    partx -u "$t" 2>/dev/null || partx -a "$t" 2>/dev/null
    check "$n: GPT valid (sgdisk -v)" bash -c "sgdisk -v $t | grep -q 'No problems found'"
    check "$n: the ESP keeps its size and bytes" bash -c "[ \$(bytes ${t}p1) = \$(bytes ${src}p1) ] && cmp ${t}p1 ${src}p1"
    for p in 2 3; do
        check "$n: partition $p clean (fsck.fat -n)" fsck.fat -n "${t}p$p"
        check "$n: partition $p keeps its UUID and label (blkid)" bash -c \
            "[ \"\$(blkid -o export ${t}p$p | grep -E '^(UUID|LABEL)=')\" = \"\$(blkid -o export ${src}p$p | grep -E '^(UUID|LABEL)=')\" ]"
    done
    check "$n: every file of the FAT32 equal (mtools, diff -r)" files_equal "${t}p2" "$WORK/t32"
    check "$n: every file of the FAT16 equal (mtools, diff -r)" files_equal "${t}p3" "$WORK/t16"
    if [ "$3" = smaller ]; then
        check "$n: both FAT partitions shrank" bash -c "[ \$(bytes ${t}p2) -lt \$(bytes ${src}p2) ] && [ \$(bytes ${t}p3) -lt \$(bytes ${src}p3) ]"
    else
        check "$n: both FAT partitions grew" bash -c "[ \$(bytes ${t}p2) -gt \$(bytes ${src}p2) ] && [ \$(bytes ${t}p3) -gt \$(bytes ${src}p3) ]"
    fi
    check "$n: the FAT32 fills its partition (boot sector)" test "$(fat_bytes "${t}p2")" = "$(bytes "${t}p2")"
}
# plan_size OUT N: partition N's planned size (bytes) from the plan the job printed.
plan_bytes() {
    python3 -c "
import re, sys
m = re.search(r'#$2 vfat [0-9.]+ [KMG]iB -> ([0-9.]+) ([KMG]iB)', open('$1').read())
print(int(float(m.group(1)) * {'KiB': 1 << 10, 'MiB': 1 << 20, 'GiB': 1 << 30}[m.group(2)]) if m else 0)"
}
# Within 0.1 MiB of the plan's figure (it prints one decimal).
near() { [ "$2" -gt 0 ] && [ $(( $1 > $2 ? $1 - $2 : $2 - $1 )) -le $((110 * 1024)) ]; }
export -f near

random_file "$WORK/small.img" 308M 3; small=$(attach "$WORK/small.img")
"$CB" clone "$src" "$small" --yes --report "$WORK/small.json" > "$WORK/small.out" 2>&1; rc=$?
check "0.6x clone: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/small.out'"
check "0.6x: both FATs shrunk in a scratch file by clonebay's FAT resizer" bash -c \
    "grep -q '#2 (vfat) shrunk to .* (clonebay.s FAT resizer)' '$WORK/small.out' && grep -q '#3 (vfat) shrunk to' '$WORK/small.out'"
check_target "0.6x" "$small" smaller
check "0.6x: the FAT16 fills its partition (boot sector)" test "$(fat_bytes "${small}p3")" = "$(bytes "${small}p3")"
check "0.6x: partition sizes as planned" bash -c "near \$(bytes ${small}p2) $(plan_bytes "$WORK/small.out" 2) && near \$(bytes ${small}p3) $(plan_bytes "$WORK/small.out" 3)"

random_file "$WORK/large.img" 768M 4; large=$(attach "$WORK/large.img")
"$CB" clone "$src" "$large" --yes --report "$WORK/large.json" > "$WORK/large.out" 2>&1; rc=$?
check "1.5x clone: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/large.out'"
check_target "1.5x" "$large" larger
check "1.5x: partition sizes as planned" bash -c "near \$(bytes ${large}p2) $(plan_bytes "$WORK/large.out" 2) && near \$(bytes ${large}p3) $(plan_bytes "$WORK/large.out" 3)"
# 4 KiB clusters: a FAT16 addresses 65,524 of them (256 MiB), less than its partition gets.
check "1.5x: the job says the FAT16 grows only as far as it addresses" \
    grep -q 'partition #3 (vfat) gets .* addresses at most' "$WORK/large.out"
check "1.5x: the FAT16 grew to what its type addresses, within its partition" bash -c \
    "f=\$(fat_bytes ${large}p3); [ \$f -gt \$(bytes ${src}p3) ] && [ \$f -lt \$(bytes ${large}p3) ] && [ \$f -ge \$((255 << 20)) ]"
check "1.5x: the FAT resizer's words are in the report's tool log" json "$WORK/large.json" \
    "assert 'resize the FAT in' in r['tool_log'] and 'at most' in r['tool_log'], r['tool_log']"

# --mode raw onto the 1.5x drive: every sector copied, then the FATs grown on the target.
"$CB" clone "$src" "$large" --mode raw --yes > "$WORK/raw.out" 2>&1; rc=$?
check "raw clone onto 1.5x: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/raw.out'"
check_target "raw 1.5x" "$large" larger

# A used-mode image of the disk restored onto the 0.6x drive: shrunk from the image the same way.
"$CB" image "$src" "$WORK/used" --mode used > "$WORK/img.out" 2>&1
random_file "$WORK/ri.img" 308M 5; ri=$(attach "$WORK/ri.img")
"$CB" restore "$WORK/used.zst" "$ri" --yes > "$WORK/ri.out" 2>&1; rc=$?
check "used image restored onto 0.6x: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/ri.out'"
check_target "restore 0.6x" "$ri" smaller
# One job onto both sizes: the FATs shrunk once in the scratch file to the 0.6x plan, and
# that copy grown again on the 1.5x drive (its clusters moved up there).
random_file "$WORK/b06.img" 308M 10; b06=$(attach "$WORK/b06.img")
random_file "$WORK/b15.img" 768M 11; b15=$(attach "$WORK/b15.img")
"$CB" clone "$src" "$b06" "$b15" --yes > "$WORK/both.out" 2>&1; rc=$?
check "0.6x and 1.5x in one job: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/both.out'"
check_target "one job, 0.6x" "$b06" smaller
check_target "one job, 1.5x" "$b15" larger
check "the source was never written" test "$(sha "$WORK/src.img")" = "$src_sha"
check "no scratch file is left" bash -c "! ls '$WORK' | grep -q clonebay-"

# Spread out: 110 MiB written, a folder of files after it, the 110 MiB deleted: the FAT32 uses
# ~55 MiB but its last clusters lie past the ~109 MiB it gets on 0.6x: they are moved down.
cp "$WORK/src.img" "$WORK/spread.img"
d=$(attach "$WORK/spread.img")
head -c 110M /dev/urandom > "$WORK/more.bin"
{ mcopy -i "${d}p2" "$WORK/more.bin" ::/more.bin && mmd -i "${d}p2" ::/late && mcopy -s -i "${d}p2" "$WORK/t16" ::/late/ &&
    mdel -i "${d}p2" ::/more.bin; } 2>/dev/null
late_at=$(mshowfat -i "${d}p2" ::/late/t16/f1.bin 2>/dev/null | grep -o '<[0-9]*' | tr -d '<')
partx -d "$d"; losetup -d "$d"
spread=$(attach "$WORK/spread.img" -r)
random_file "$WORK/sp.img" 308M 8; sp=$(attach "$WORK/sp.img")
"$CB" clone "$spread" "$sp" --yes > "$WORK/spread.out" 2>&1; rc=$?
partx -u "$sp" 2>/dev/null || partx -a "$sp" 2>/dev/null
check "spread-out FAT32 onto 0.6x: its files lay past the new end (cluster $late_at)" bash -c     "[ \$(( $late_at * 512 )) -gt \$(blockdev --getsize64 ${sp}p2) ]"
check "spread-out FAT32 onto 0.6x: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/spread.out'"
check "spread-out FAT32: clean (fsck.fat -n)" fsck.fat -n "${sp}p2"
mkdir -p "$WORK/spread-want/late"; cp -r "$WORK/t32/." "$WORK/spread-want/"; cp -r "$WORK/t16" "$WORK/spread-want/late/"
check "spread-out FAT32: every file equal, the moved folder too (mtools, diff -r)" files_equal "${sp}p2" "$WORK/spread-want"

# The same from a used-mode image: its used map says how little the FAT32 needs, the scratch moves the rest.
"$CB" image "$spread" "$WORK/spread-used" --mode used > /dev/null 2>&1
random_file "$WORK/sp.img" 308M 9
"$CB" restore "$WORK/spread-used.zst" "$sp" --yes > "$WORK/spread-r.out" 2>&1; rc=$?
partx -u "$sp" 2>/dev/null || partx -a "$sp" 2>/dev/null
check "spread-out FAT32 restored from a used image onto 0.6x: exit 0, verified, clean" bash -c \
    "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/spread-r.out' && fsck.fat -n ${sp}p2"
check "spread-out FAT32 from the image: every file equal (mtools, diff -r)" files_equal "${sp}p2" "$WORK/spread-want"

# Too full: 190 MiB in the FAT32 cannot shrink into the ~185 MiB it would get on 250 MiB.
partx -d "$src"; losetup -d "$src"
cp "$WORK/src.img" "$WORK/full.img"
d=$(attach "$WORK/full.img")
head -c 140M /dev/urandom > "$WORK/more.bin"; mcopy -i "${d}p2" "$WORK/more.bin" ::/more.bin 2>/dev/null
partx -d "$d"; losetup -d "$d"
full=$(attach "$WORK/full.img" -r)
random_file "$WORK/t250.img" 250M 7; t250=$(attach "$WORK/t250.img"); keep=$(sha "$WORK/t250.img")
"$CB" clone "$full" "$t250" --yes > "$WORK/full.out" 2>&1; rc=$?
check "FAT32 too full: refused (exit 2)" test $rc = 2
check "the refusal names the partition, what it needs and the room" \
    grep -q "partition #2 (vfat) needs at least .* but would get .* on $t250" "$WORK/full.out"
check "FAT32 too full: target untouched" test "$(sha "$WORK/t250.img")" = "$keep"

# Dirty (not unmounted cleanly): must shrink, cannot be believed: refused, saying what to do.
cp "$WORK/src.img" "$WORK/dirty.img"
python3 - "$WORK/dirty.img" $(( $(sgdisk -i 2 "$WORK/dirty.img" | awk '/First sector/ {print $3}') * 512 )) <<'EOF'
import sys
with open(sys.argv[1], 'r+b') as f:
    f.seek(int(sys.argv[2]) + 65); b = f.read(1)[0]
    f.seek(int(sys.argv[2]) + 65); f.write(bytes([b | 1]))
EOF
dirty=$(attach "$WORK/dirty.img" -r)
# 260 MiB: the ESP and the FAT32 at their sizes do not fit, so the FAT32 would have to shrink.
random_file "$WORK/d260.img" 260M 6; d260=$(attach "$WORK/d260.img"); keep=$(sha "$WORK/d260.img")
"$CB" clone "$dirty" "$d260" --yes > "$WORK/dirty.out" 2>&1; rc=$?
check "dirty FAT32 that must shrink: refused (exit 2)" test $rc = 2
check "the refusal names the partition and says to run fsck.fat" \
    bash -c "grep -q 'partition #2 (vfat) would have to shrink' '$WORK/dirty.out' && grep -q 'fsck.fat' '$WORK/dirty.out'"
check "dirty FAT32: target untouched" test "$(sha "$WORK/d260.img")" = "$keep"
finish
