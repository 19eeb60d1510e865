#!/bin/bash
# clone --mode used on a PC-like GPT disk (EFI vfat, ext4 with files, symlinks,
# hard links and xattrs, deleted data, swap, a FAT data partition, a partition
# without a filesystem): only used blocks are copied; e2fsck, fsck.vfat, sgdisk,
# blkid and mtools as oracles; ext4 files compared through a read-only mount
# (this kernel mounts ext4, not vfat). Targets start full of random bytes, so a
# block that should have been copied and was not shows up.
. "$(dirname "$0")/../lib.sh"
need_root used-blocks

truncate -s 256M "$WORK/src.img"
sgdisk -n 1:2048:+32M -t 1:ef00 -c 1:EFI -n 2:0:+160M -t 2:8300 -n 3:0:+16M -t 3:8200 -n 4:0:+8M -t 4:8300 \
    -n 5:0:+24M -t 5:0700 "$WORK/src.img" >/dev/null
d=$(attach "$WORK/src.img")
mkfs.vfat -F 32 -n EFI "${d}p1" >/dev/null 2>&1
mkfs.ext4 -q -L root "${d}p2"
mkswap -L sw "${d}p3" >/dev/null
head -c 8M /dev/urandom > "$WORK/p4.bin"; dd if="$WORK/p4.bin" of="${d}p4" bs=1M status=none   # no filesystem
# FAT data partition, filled through mtools: files, a folder, and a deleted file's clusters.
mkfs.vfat -n DATA "${d}p5" >/dev/null 2>&1
{   # mtools grumbles about the geometry of block devices: harmless
    head -c 6M /dev/urandom > "$WORK/gone.bin"; mcopy -i "${d}p5" "$WORK/gone.bin" ::/GONE.BIN; mdel -i "${d}p5" ::/GONE.BIN
    mmd -i "${d}p5" ::/DOCS; mcopy -i "${d}p5" /usr/share/doc/gdisk/* ::/DOCS/
    head -c 3M /dev/urandom > "$WORK/keep.bin"; mcopy -i "${d}p5" "$WORK/keep.bin" ::/KEEP.BIN
} 2>/dev/null
mkdir -p "$WORK/m" "$WORK/a" "$WORK/b"
mount "${d}p2" "$WORK/m"
head -c 60M /dev/urandom > "$WORK/m/deleted.bin"; sync; rm "$WORK/m/deleted.bin"
cp -a /usr/share/doc/e2fsprogs /usr/share/doc/gdisk /usr/share/doc/parted "$WORK/m/"
for i in $(seq 500); do echo "file $i" > "$WORK/m/f$i"; done
ln -s f1 "$WORK/m/link"; ln "$WORK/m/f2" "$WORK/m/hard"
setfattr -n user.bench -v yes "$WORK/m/f3" 2>/dev/null || true
umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/src.img" -r)

for size in 256M 384M; do
    head -c "$size" /dev/urandom > "$WORK/t-$size.img" 2>/dev/null || true
    truncate -s "$size" "$WORK/t-$size.img"
    t=$(attach "$WORK/t-$size.img")
    "$CB" clone "$src" "$t" --mode used --yes --report "$WORK/r-$size.json" > "$WORK/out-$size" 2>&1; rc=$?
    partx -a "$t" 2>/dev/null
    check "used $size: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/out-$size'"
    check "used $size: copied less than the disk" json "$WORK/r-$size.json" "assert r['mode'] == 'used' and r['bytes_copied'] == r['bytes_in_domain'] < r['bytes_total'] - (50 << 20), r"
    check "used $size: GPT valid (sgdisk -v)" bash -c "sgdisk -v $t | grep -q 'No problems found'"
    check "used $size: ext4 clean (e2fsck -fn)" e2fsck -fn "${t}p2"
    check "used $size: vfat clean (fsck.vfat -n)" fsck.vfat -n "${t}p1"
    check "used $size: swap keeps its UUID and label" bash -c "[ \"\$(blkid -o value -s UUID ${t}p3)\" = \"\$(blkid -o value -s UUID ${src}p3)\" ] && blkid ${t}p3 | grep -q 'LABEL=\"sw\"'"
    check "used $size: a partition without a filesystem is copied whole" cmp "${t}p4" "$WORK/p4.bin"
    check "used $size: the EFI partition is copied whole" cmp "${t}p1" "${src}p1"
    check "used $size: FAT data partition clean (fsck.vfat -n)" fsck.vfat -n "${t}p5"
    rm -rf "$WORK/fs" "$WORK/ft"; mkdir -p "$WORK/fs" "$WORK/ft"
    mcopy -s -i "${src}p5" ::/ "$WORK/fs/" 2>/dev/null; mcopy -s -i "${t}p5" ::/ "$WORK/ft/" 2>/dev/null
    check "used $size: every FAT file identical (mtools, diff -r)" bash -c "[ -f '$WORK/ft/KEEP.BIN' ] && diff -r '$WORK/fs' '$WORK/ft'"
    mount -o ro "${src}p2" "$WORK/a" && mount -o ro "${t}p2" "$WORK/b"
    check "used $size: every file identical (diff -r)" diff -r --no-dereference "$WORK/a" "$WORK/b"
    check "used $size: UUID and label of ext4 kept" bash -c "[ \"\$(blkid -o value -s UUID ${t}p2)\" = \"\$(blkid -o value -s UUID ${src}p2)\" ]"
    umount "$WORK/a" "$WORK/b"
done
check "used: the notes name what was copied whole" bash -c "grep -q 'partition #1 is a boot partition' '$WORK/out-256M' && grep -q 'not understood by --mode used: #4' '$WORK/out-256M'"
check "used: deleted FAT data was not copied" json "$WORK/r-256M.json" "assert r['bytes_in_domain'] < r['bytes_total'] - (60 << 20) - (5 << 20), r['bytes_in_domain']"

# An image in used mode: free space stored as zeros, so the image is smaller;
# restored over random bytes it gives clean filesystems with every file.
"$CB" image "$src" "$WORK/raw-mode.zst" --no-verify > /dev/null 2>&1
"$CB" image "$src" "$WORK/used-mode.zst" --mode used > "$WORK/iu.out" 2>&1; rc=$?
check "image --mode used: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/iu.out'"
check "image --mode used: smaller than the raw-mode image by the deleted data" test \
    $(($(stat -c %s "$WORK/used-mode.zst") + (50 << 20))) -lt "$(stat -c %s "$WORK/raw-mode.zst")"
check "image --mode used: info says so" bash -c "'$CB' info '$WORK/used-mode.zst' | grep -q 'used blocks only'"
head -c 256M /dev/urandom > "$WORK/ri.img"; ri=$(attach "$WORK/ri.img")
"$CB" restore "$WORK/used-mode.zst" "$ri" --yes > /dev/null 2>&1; rc=$?
partx -a "$ri" 2>/dev/null
check "image --mode used, restored: ext4 and FAT clean" bash -c "[ $rc = 0 ] && e2fsck -fn ${ri}p2 && fsck.vfat -n ${ri}p5"
mount -o ro "${src}p2" "$WORK/a" && mount -o ro "${ri}p2" "$WORK/b"
check "image --mode used, restored: every ext4 file identical" diff -r --no-dereference "$WORK/a" "$WORK/b"
umount "$WORK/a" "$WORK/b"

# NTFS: its $Bitmap read through libntfs-3g. Oracle: ntfsinfo's free cluster count, so the
# domain holds the table area, the used clusters and the backup boot sector, no more.
if command -v mkntfs >/dev/null && command -v ntfs-3g >/dev/null; then
    truncate -s 96M "$WORK/nt.img"
    sgdisk -n 1:1M:+64M -t 1:0700 "$WORK/nt.img" >/dev/null
    d=$(attach "$WORK/nt.img")
    mkntfs -Q -q -L WIN "${d}p1" 2>/dev/null
    ntfs-3g "${d}p1" "$WORK/m" && head -c 24M /dev/urandom > "$WORK/m/gone.bin" && sync && rm "$WORK/m/gone.bin" &&
        head -c 10M /dev/urandom > "$WORK/m/keep.bin" && cp -r /usr/share/doc/gdisk "$WORK/m/" && umount "$WORK/m"
    partx -d "$d"; losetup -d "$d"
    nsrc=$(attach "$WORK/nt.img" -r)
    head -c 96M /dev/urandom > "$WORK/ntt.img"; nt=$(attach "$WORK/ntt.img")
    "$CB" clone "$nsrc" "$nt" --mode used --yes --report "$WORK/nt.json" > "$WORK/nt.out" 2>&1; rc=$?
    partx -a "$nt" 2>/dev/null
    check "NTFS used: exit 0, verified, not copied whole" bash -c \
        "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/nt.out' && ! grep -q 'copied whole' '$WORK/nt.out'"
    used=$(ntfsinfo -m "${nsrc}p1" 2>/dev/null | awk '/Cluster Size:/{cs=$3} /Volume Size in Clusters:/{n=$5} /Free Clusters:/{f=$3} END{print (n-f)*cs}')
    # Outside the 64 MiB partition everything is copied (tables, gaps); inside, the used
    # clusters and the boot sector's backup past the last cluster (at most a cluster and a sector).
    check "NTFS used: the domain is the used clusters (ntfsinfo) plus what lies outside the partition" \
        json "$WORK/nt.json" "u = $used; extra = r['bytes_in_domain'] - u - (r['bytes_total'] - (64 << 20)); assert u > (10 << 20) and 0 <= extra <= 4096 + 512, (u, extra)"
    check "NTFS used: clean (ntfsfix -n)" ntfsfix -n "${nt}p1"
    ntfs-3g -o ro "${nsrc}p1" "$WORK/a" && ntfs-3g -o ro "${nt}p1" "$WORK/b"
    check "NTFS used: every file identical (ntfs-3g, diff -r)" bash -c "[ -f '$WORK/b/keep.bin' ] && diff -r '$WORK/a' '$WORK/b'"
    umount "$WORK/a" "$WORK/b"
else
    skip "NTFS used blocks" "mkntfs or ntfs-3g is not installed"
fi

# An MBR disk with a logical partition in an extended one.
truncate -s 200M "$WORK/mbr.img"
parted -s "$WORK/mbr.img" mklabel msdos mkpart primary ext4 1MiB 60MiB mkpart extended 60MiB 199MiB \
    mkpart logical ext4 61MiB 199MiB
d=$(attach "$WORK/mbr.img")
mkfs.ext4 -q -L first "${d}p1"; mkfs.ext4 -q -L logical "${d}p5"
mount "${d}p5" "$WORK/m" && cp -a /usr/share/doc/parted "$WORK/m/" && head -c 40M /dev/urandom > "$WORK/m/gone" && sync &&
    rm "$WORK/m/gone" && umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
msrc=$(attach "$WORK/mbr.img" -r)
head -c 200M /dev/urandom > "$WORK/mt.img"; mt=$(attach "$WORK/mt.img")
"$CB" clone "$msrc" "$mt" --mode used --yes --report "$WORK/mbr.json" > "$WORK/mbr.out" 2>&1; rc=$?
partx -a "$mt" 2>/dev/null
check "MBR with a logical partition: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/mbr.out'"
check "MBR: deleted data not copied" json "$WORK/mbr.json" "assert r['bytes_in_domain'] < r['bytes_total'] - (40 << 20), r['bytes_in_domain']"
check "MBR: both ext4 clean (e2fsck -fn)" bash -c "e2fsck -fn ${mt}p1 && e2fsck -fn ${mt}p5"
mount -o ro "${msrc}p5" "$WORK/a" && mount -o ro "${mt}p5" "$WORK/b"
check "MBR: every file of the logical partition identical" diff -r --no-dereference "$WORK/a" "$WORK/b"
umount "$WORK/a" "$WORK/b"

# The default mode: used when every partition is understood (here ext4 and the extended
# container), raw, naming the partition, when one is not (the GPT disk's partition #4).
"$CB" clone "$msrc" "$mt" --yes --report "$WORK/auto-mbr.json" > "$WORK/auto-mbr.out" 2>&1; rc=$?
check "default mode, all understood: used, said so, verified" bash -c \
    "[ $rc = 0 ] && grep -q 'mode used (the default' '$WORK/auto-mbr.out' && grep -q 'copied and verified' '$WORK/auto-mbr.out'"
check "default mode, all understood: the report says used" json "$WORK/auto-mbr.json" \
    "assert r['mode'] == 'used' and r['bytes_in_domain'] < r['bytes_total'] - (40 << 20), r['mode']"
"$CB" clone "$src" "$(attach "$WORK/t-384M.img")" --yes --report "$WORK/auto-gpt.json" > "$WORK/auto-gpt.out" 2>&1; rc=$?
check "default mode, one partition not understood: raw, naming it" bash -c \
    "[ $rc = 0 ] && grep -q 'every sector of .* is copied (--mode raw): partition #4 (no filesystem)' '$WORK/auto-gpt.out'"
check "default mode, one partition not understood: the report says raw" json "$WORK/auto-gpt.json" \
    "assert r['mode'] == 'raw', r['mode']"
finish
