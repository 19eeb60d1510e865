#!/bin/bash
# clone onto drives of other sizes (--resize proportional, the default when
# sizes differ): a PC-like GPT disk (EFI vfat, ext4 root with files, symlinks,
# hard links and xattrs, swap, NTFS data, a partition without a filesystem) and
# an MBR disk with logical partitions, copied in used mode onto a same-size,
# a 1.5x and a smaller drive. Oracles: sgdisk -v and sgdisk -i (types, GUIDs,
# names), e2fsck -fn, fsck.vfat -n, ntfsfix -n, dumpe2fs (fs size = partition
# size), blkid (UUIDs, labels), diff -r over ext4 mounts, ntfs-3g (FUSE) and
# mtools. Targets start full of random bytes.
. "$(dirname "$0")/../lib.sh"
need_root resize
for t in mkntfs ntfs-3g ntfsfix ntfsresize resize2fs; do
    command -v $t >/dev/null || { skip resize "$t is not installed"; exit 0; }
done

# --- the source: GPT, 512 MiB -------------------------------------------------
truncate -s 512M "$WORK/src.img"
sgdisk -n 1:1M:+48M -t 1:ef00 -c 1:EFI -n 2:0:+256M -t 2:8300 -c 2:root -n 3:0:+32M -t 3:8200 -c 3:swap \
    -n 4:0:+8M -t 4:8300 -c 4:raw -n 5:0:+96M -t 5:0700 -c 5:data "$WORK/src.img" >/dev/null
d=$(attach "$WORK/src.img")
mkfs.vfat -F 32 -n EFI "${d}p1" >/dev/null 2>&1
mkfs.ext4 -q -L root "${d}p2"
mkswap -L sw "${d}p3" >/dev/null
head -c 8M /dev/urandom > "$WORK/p4.bin"; dd if="$WORK/p4.bin" of="${d}p4" bs=1M status=none
mkntfs -Q -q -L DATA "${d}p5" 2>/dev/null
mkdir -p "$WORK/tree/sub"     # files for the FAT and NTFS partitions
for i in $(seq 40); do echo "note $i" > "$WORK/tree/n$i.txt"; done
head -c 3M /dev/urandom > "$WORK/tree/sub/blob.bin"
{ mmd -i "${d}p1" ::/EFI; mcopy -s -i "${d}p1" "$WORK/tree"/* ::/EFI/; } 2>/dev/null
mkdir -p "$WORK/m" "$WORK/a" "$WORK/b"
mount "${d}p2" "$WORK/m"
cp -a /usr/share/doc/e2fsprogs /usr/share/doc/gdisk /usr/share/doc/parted /usr/share/doc/util-linux "$WORK/m/"
head -c 30M /dev/urandom > "$WORK/m/big.bin"
for i in $(seq 2000); do echo "file $i" > "$WORK/m/f$i"; done
ln -s f1 "$WORK/m/link"; ln "$WORK/m/f2" "$WORK/m/hard"
setfattr -n user.bench -v yes "$WORK/m/f3" 2>/dev/null || true
umount "$WORK/m"
ntfs-3g "${d}p5" "$WORK/m" && cp -r "$WORK/tree" "$WORK/m/" && head -c 5M /dev/urandom > "$WORK/m/blob.bin" &&
    umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/src.img" -r)
src_sha=$(sha "$WORK/src.img")

part_info() {   # type, unique GUID and name of partition $2 of $1
    sgdisk -i "$2" "$1" | grep -E 'GUID code|unique GUID|Partition name' | sed 's/ (.*//'
}
bytes() { echo $(( $(blockdev --getsize64 "$1") )); }
ext_bytes() { dumpe2fs -h "$1" 2>/dev/null | awk -F: '/^Block count/{c=$2} /^Block size/{s=$2} END{print c*s}'; }
export -f bytes ext_bytes      # used inside check's bash -c

check_target() {    # $1 label, $2 target device, $3 expectation for root: same|larger|smaller
    local n=$1 t=$2
    partx -a "$t" 2>/dev/null
    check "$n: GPT valid (sgdisk -v)" bash -c "sgdisk -v $t | grep -q 'No problems found'"
    for p in 1 2 3 4 5; do
        check "$n: partition $p keeps its type, GUID and name" diff <(part_info "$src" $p) <(part_info "$t" $p)
    done
    check "$n: EFI (vfat) clean and copied whole" bash -c "fsck.vfat -n ${t}p1 && cmp ${t}p1 ${src}p1"
    check "$n: ext4 clean (e2fsck -fn)" e2fsck -fn "${t}p2"
    check "$n: ext4 fills its partition" test "$(ext_bytes "${t}p2")" = "$(bytes "${t}p2")"
    case $3 in
        same) check "$n: root keeps its size" test "$(bytes "${t}p2")" = "$(bytes "${src}p2")" ;;
        larger) check "$n: root grew" test "$(bytes "${t}p2")" -gt "$(bytes "${src}p2")" ;;
        smaller) check "$n: root shrank" test "$(bytes "${t}p2")" -lt "$(bytes "${src}p2")" ;;
    esac
    check "$n: a partition without a filesystem is copied whole" cmp "${t}p4" "$WORK/p4.bin"
    check "$n: NTFS clean (ntfsfix -n)" ntfsfix -n "${t}p5"
    for p in 1 2 3 5; do
        check "$n: partition $p keeps its UUID and label (blkid)" bash -c \
            "[ \"\$(blkid -o export ${t}p$p | grep -E '^(UUID|LABEL)=')\" = \"\$(blkid -o export ${src}p$p | grep -E '^(UUID|LABEL)=')\" ]"
    done
    mount -o ro "${src}p2" "$WORK/a" && mount -o ro "${t}p2" "$WORK/b"
    check "$n: every ext4 file identical (diff -r)" diff -r --no-dereference "$WORK/a" "$WORK/b"
    umount "$WORK/a" "$WORK/b"
    ntfs-3g -o ro "${src}p5" "$WORK/a" && ntfs-3g -o ro "${t}p5" "$WORK/b"
    check "$n: every NTFS file identical (ntfs-3g, diff -r)" bash -c "[ -f '$WORK/b/blob.bin' ] && diff -r '$WORK/a' '$WORK/b'"
    umount "$WORK/a" "$WORK/b"
    rm -rf "$WORK/fs" "$WORK/ft"; mkdir -p "$WORK/fs" "$WORK/ft"
    mcopy -s -i "${src}p1" ::/ "$WORK/fs/" 2>/dev/null; mcopy -s -i "${t}p1" ::/ "$WORK/ft/" 2>/dev/null
    check "$n: every EFI file identical (mtools)" bash -c "[ -f '$WORK/ft/EFI/sub/blob.bin' ] && diff -r '$WORK/fs' '$WORK/ft'"
}

for size in 512M 768M 400M; do
    head -c "$size" /dev/urandom > "$WORK/t-$size.img"
    t=$(attach "$WORK/t-$size.img")
    "$CB" clone "$src" "$t" --mode used --yes --report "$WORK/r-$size.json" > "$WORK/out-$size" 2>&1; rc=$?
    check "clone to $size: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/out-$size'" 
    case $size in 512M) want=same ;; 768M) want=larger ;; *) want=smaller ;; esac
    check_target "clone to $size" "$t" $want
done
check "1.5x: the plan is in the report" grep -q 'partitions fitted to' "$WORK/out-768M"
check "1.5x: resize2fs and ntfsresize output kept" json "$WORK/r-768M.json" \
    "assert 'resize2fs' in r['tool_log'] and 'ntfsresize' in r['tool_log'], r['tool_log']"
check "smaller: root shrunk in a scratch file, said so" grep -q 'shrunk to .* in a scratch file' "$WORK/out-400M"
check "smaller: no scratch file left behind" bash -c "! ls /var/tmp/clonebay-shrink-* 2>/dev/null"
check "the source was never written" test "$(sha "$WORK/src.img")" = "$src_sha"

# --resize keep onto the larger drive: the table as it was, backup at the end.
head -c 768M /dev/urandom > "$WORK/k.img"; k=$(attach "$WORK/k.img")
"$CB" clone "$src" "$k" --mode used --resize keep --yes > "$WORK/keep.out" 2>&1; rc=$?
partx -a "$k" 2>/dev/null
check "--resize keep: exit 0, partitions where they were" bash -c \
    "[ $rc = 0 ] && [ \$(bytes ${k}p2) = \$(bytes ${src}p2) ] && [ \$(bytes ${k}p5) = \$(bytes ${src}p5) ]"
check "--resize keep: GPT valid" bash -c "sgdisk -v $k | grep -q 'No problems found'"

# Too small for the data: refused before writing, target untouched.
# 120 MiB: less than the boot partitions and every filesystem shrunk to its minimum need.
head -c 120M /dev/urandom > "$WORK/small.img"; s=$(attach "$WORK/small.img")
before=$(sha "$WORK/small.img")
"$CB" clone "$src" "$s" --mode used --yes > "$WORK/small.out" 2>&1; rc=$?
check "too small: refused (exit 2), naming the partition and the room" bash -c \
    "[ $rc = 2 ] && grep -q 'partition #[0-9] (.*) .* but would get .* on $s' '$WORK/small.out'"
check "too small: target untouched" test "$(sha "$WORK/small.img")" = "$before"
# A raw copy cannot shrink a filesystem: refused the same way.
"$CB" clone "$src" "$(attach "$WORK/t-400M.img")" --yes > "$WORK/raw-small.out" 2>&1; rc=$?
check "raw mode onto a smaller drive: refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'cannot shrink below' '$WORK/raw-small.out'"

# A raw .img restored onto a larger drive goes through the same fitting.
"$CB" image "$src" "$WORK/disk.img" --mode used > /dev/null 2>&1
head -c 768M /dev/urandom > "$WORK/ri.img"; ri=$(attach "$WORK/ri.img")
"$CB" restore "$WORK/disk.img" "$ri" --yes > "$WORK/ri.out" 2>&1; rc=$?
check "restore of a raw .img onto 1.5x: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/ri.out'"
partx -a "$ri" 2>/dev/null
check "restore onto 1.5x: GPT valid, ext4 grown and clean" bash -c \
    "sgdisk -v $ri | grep -q 'No problems found' && e2fsck -fn ${ri}p2 && [ \$(bytes ${ri}p2) -gt \$(bytes ${src}p2) ]"

# A zstd image made with --mode used keeps the layout and the used blocks: restored onto
# each size, it fits the partitions as the clone did (ext shrinks through a scratch file).
"$CB" image "$src" "$WORK/used" --mode used > "$WORK/img-used.out" 2>&1; rc=$?
check "--mode used zstd image: exit 0, used ranges in its header and in info --json" bash -c \
    "[ $rc = 0 ] && head -c 65536 '$WORK/used.zst' | grep -aq '^used [0-9]* [0-9]*' &&
     \"$CB\" info '$WORK/used.zst' --json | python3 -c 'import json,sys; r=json.load(sys.stdin); assert 0 < r[\"used_bytes\"] < 2**29'"
for size in 512M 768M 400M; do
    head -c "$size" /dev/urandom > "$WORK/rt-$size.img"
    t=$(attach "$WORK/rt-$size.img")
    "$CB" restore "$WORK/used.zst" "$t" --yes --report "$WORK/rr-$size.json" > "$WORK/rout-$size" 2>&1; rc=$?
    check "restore of the used image to $size: exit 0, verified" bash -c \
        "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/rout-$size'"
    case $size in 512M) want=same ;; 768M) want=larger ;; *) want=smaller ;; esac
    check_target "restore to $size" "$t" $want
done
check "restore to 400M: root shrunk from the image in a scratch file" grep -q 'shrunk to .* in a scratch file' "$WORK/rout-400M"
check "restore to 768M: free space not written (under half of the 512 MiB disk copied)" json "$WORK/rr-768M.json" \
    "assert r['bytes_copied'] < 256 * 2**20, r['bytes_copied']"
# Too small for the data, from the image: refused before writing.
before=$(sha "$WORK/small.img")
"$CB" restore "$WORK/used.zst" "$s" --yes > "$WORK/rsmall.out" 2>&1; rc=$?
check "restore too small: refused (exit 2), naming the partition and the room" bash -c \
    "[ $rc = 2 ] && grep -q 'partition #[0-9] (.*) .* but would get .* on $s' '$WORK/rsmall.out'"
check "restore too small: target untouched" test "$(sha "$WORK/small.img")" = "$before"
# An image of every sector (no used map) still grows onto a larger drive.
"$CB" image "$src" "$WORK/all" > /dev/null 2>&1
head -c 768M /dev/urandom > "$WORK/ra.img"; ra=$(attach "$WORK/ra.img")
"$CB" restore "$WORK/all.zst" "$ra" --yes > "$WORK/ra.out" 2>&1; rc=$?
partx -a "$ra" 2>/dev/null
check "restore of a raw-mode zstd image onto 1.5x: exit 0, ext4 grown and clean" bash -c \
    "[ $rc = 0 ] && sgdisk -v $ra | grep -q 'No problems found' && e2fsck -fn ${ra}p2 && [ \$(bytes ${ra}p2) -gt \$(bytes ${src}p2) ]"

# --- MBR with logical partitions ------------------------------------------------
truncate -s 300M "$WORK/mbr.img"
parted -s "$WORK/mbr.img" mklabel msdos mkpart primary ext4 1MiB 100MiB mkpart extended 100MiB 299MiB \
    mkpart logical ext4 101MiB 250MiB mkpart logical linux-swap 251MiB 299MiB
d=$(attach "$WORK/mbr.img")
mkfs.ext4 -q -L first "${d}p1"; mkfs.ext4 -q -L logical "${d}p5"; mkswap -L msw "${d}p6" >/dev/null
mount "${d}p5" "$WORK/m" && cp -a /usr/share/doc/parted /usr/share/doc/gdisk "$WORK/m/" && umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
msrc=$(attach "$WORK/mbr.img" -r)
for size in 450M 240M; do
    head -c "$size" /dev/urandom > "$WORK/mt-$size.img"; mt=$(attach "$WORK/mt-$size.img")
    "$CB" clone "$msrc" "$mt" --mode used --yes > "$WORK/mbr-$size.out" 2>&1; rc=$?
    partx -d "$mt" 2>/dev/null; partx -a "$mt" 2>/dev/null
    check "MBR to $size: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/mbr-$size.out'"
    check "MBR to $size: parted sees 1, 2 (extended), 5, 6" bash -c \
        "parted -s -m $mt unit B print | cut -d: -f1 | grep -E '^[0-9]+$' | tr '\n' ' ' | grep -qx '1 2 5 6 '"
    check "MBR to $size: sfdisk-style check: no overlaps (partx lists 4 partitions)" bash -c "[ \$(partx -g -o NR $mt | wc -l) = 4 ]"
    check "MBR to $size: both ext4 clean, filling their partitions" bash -c \
        "e2fsck -fn ${mt}p1 && e2fsck -fn ${mt}p5 && [ \$(ext_bytes ${mt}p5) = \$(bytes ${mt}p5) ]" 
    check "MBR to $size: swap keeps UUID and label" bash -c \
        "[ \"\$(blkid -o value -s UUID ${mt}p6)\" = \"\$(blkid -o value -s UUID ${msrc}p6)\" ] && blkid ${mt}p6 | grep -q msw"
    mount -o ro "${msrc}p5" "$WORK/a" && mount -o ro "${mt}p5" "$WORK/b"
    check "MBR to $size: every file of the logical partition identical" diff -r --no-dereference "$WORK/a" "$WORK/b"
    umount "$WORK/a" "$WORK/b"
done
# The MBR disk as a --mode used image, restored onto the smaller drive.
"$CB" image "$msrc" "$WORK/mbr-used" --mode used > /dev/null 2>&1
head -c 240M /dev/urandom > "$WORK/mr.img"; mr=$(attach "$WORK/mr.img")
"$CB" restore "$WORK/mbr-used.zst" "$mr" --yes > "$WORK/mr.out" 2>&1; rc=$?
partx -d "$mr" 2>/dev/null; partx -a "$mr" 2>/dev/null
check "MBR image restored to 240M: exit 0, 1 2 5 6, ext4 clean and shrunk" bash -c \
    "[ $rc = 0 ] && parted -s -m $mr unit B print | cut -d: -f1 | grep -E '^[0-9]+$' | tr '\n' ' ' | grep -qx '1 2 5 6 ' &&
     e2fsck -fn ${mr}p5 && [ \$(ext_bytes ${mr}p5) = \$(bytes ${mr}p5) ] && [ \$(bytes ${mr}p5) -lt \$(bytes ${msrc}p5) ]"
mount -o ro "${msrc}p5" "$WORK/a" && mount -o ro "${mr}p5" "$WORK/b"
check "MBR image restored to 240M: every file of the logical partition identical" diff -r --no-dereference "$WORK/a" "$WORK/b"
umount "$WORK/a" "$WORK/b"
finish
