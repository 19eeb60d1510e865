#!/bin/bash
# clone --mode used of a large, nearly empty ext4 (issue 25): a 64 GiB sparse GPT disk
# with an ext4 made with mke2fs defaults (lazy inode-table init, flex_bg, metadata_csum)
# and ~300 MB of files. Inode-table blocks past each group's last used inode are not
# read from the source but zeroed on the target, so the target, whose inode tables start
# full of random bytes, must end up with zeros there (its journal, random too, must end
# up equal to the source's: journals are copied whole). Oracles: e2fsck -fn, dumpe2fs,
# debugfs, diff -r through read-only mounts, and the bytes clonebay read (/proc/PID/io).
. "$(dirname "$0")/../lib.sh"
need_root used-itable
for t in sgdisk mkfs.ext4 dumpe2fs debugfs e2fsck openssl; do
    command -v "$t" >/dev/null || { skip used-itable "$t is not installed"; exit 0; }
done

P1=$((2048 * 512))      # partition 1's byte offset on both disks
truncate -s 64G "$WORK/src.img" "$WORK/dst.img"
sgdisk -n 1:2048:0 -t 1:8300 "$WORK/src.img" >/dev/null
d=$(attach "$WORK/src.img")
mkfs.ext4 -q -F -L big "${d}p1"
mkdir -p "$WORK/m" "$WORK/a" "$WORK/b"
# noinit_itable: the kernel's lazy init would spend minutes zeroing tables here.
mount -o noinit_itable "${d}p1" "$WORK/m"
for i in $(seq 16); do
    openssl enc -aes-128-ctr -pass "pass:f$i" -nosalt -pbkdf2 </dev/zero 2>/dev/null | head -c 10M > "$WORK/m/r$i.bin"
done
head -c 60M /dev/urandom > "$WORK/m/deleted.bin"; sync; rm "$WORK/m/deleted.bin"
cp -a /usr/share/doc "$WORK/m/doc"; cp -a /usr/include "$WORK/m/include"
mkdir "$WORK/m/small"; for i in $(seq 3000); do echo "file $i" > "$WORK/m/small/f$i"; done
umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/src.img" -r)

# What the filesystem holds, from dumpe2fs: blocks in use, less the inode-table blocks
# past each group's last used inode.
dumpe2fs "${src}p1" > "$WORK/dumpe2fs" 2>/dev/null
field() { awk -F: -v k="$1" '$1 == k { gsub(/[ \t]/, "", $2); print $2 }' "$WORK/dumpe2fs"; }
bs=$(field "Block size"); ipg=$(field "Inodes per group"); isz=$(field "Inode size")
blocks=$(field "Block count"); free=$(field "Free blocks")
jblocks=$(field "Total journal blocks")
zero_itable=$(awk -v ipb=$((bs / isz)) '/ unused inodes/ { for (i = 1; i <= NF; i++) if ($(i + 1) == "unused") n += int($i / ipb) } END { print n + 0 }' "$WORK/dumpe2fs")
in_use=$(( (blocks - free - zero_itable) * bs ))
itables=$(grep -c "Inode table at" "$WORK/dumpe2fs")
echo "in use: $in_use bytes; unused inode-table blocks: $zero_itable of $((itables * ipg * isz / bs)); journal: $jblocks blocks"

# The target's inode tables and journal start full of random bytes: a previous owner's.
grep -o "Inode table at [0-9]*-[0-9]*" "$WORK/dumpe2fs" | awk '{ split($4, r, "-"); print r[1], r[2] }' |
    awk 'NR > 1 && $1 == e + 1 { e = $2; next } NR > 1 { print s, e } { s = $1; e = $2 } END { print s, e }' > "$WORK/itable.runs"
# Leaf extents of the journal inode: "LOGICAL - LOGICAL PHYSICAL - PHYSICAL LENGTH".
debugfs -R "ex <8>" "${src}p1" 2>/dev/null | grep -oE '[0-9]+ +- +[0-9]+ +[0-9]+ +- +[0-9]+ +[0-9]+' |
    awk '{ print $4, $6 }' > "$WORK/journal.runs"
randomize() {
    local s e
    while read -r s e; do
        openssl enc -aes-128-ctr -pass "pass:old$s" -nosalt -pbkdf2 </dev/zero 2>/dev/null |
            head -c $(( (e - s + 1) * bs )) | dd of="$WORK/dst.img" bs=1M seek=$((P1 + s * bs)) oflag=seek_bytes conv=notrunc status=none iflag=fullblock
    done < "$1"
}
randomize "$WORK/itable.runs"; randomize "$WORK/journal.runs"
check "the target's inode tables and journal hold random bytes before the clone" \
    bash -c "[ -s '$WORK/journal.runs' ] && ! cmp -s -n 1048576 /dev/zero <(dd if='$WORK/dst.img' bs=1M skip=$((P1 + $(head -1 "$WORK/itable.runs" | cut -d' ' -f1) * bs)) iflag=skip_bytes count=1 status=none)"
t=$(attach "$WORK/dst.img")

"$CB" clone "$src" "$t" --yes --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
partx -a "$t" 2>/dev/null
check "clone --mode used (default): exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/out'"
check "clone: used mode was the default" json "$WORK/r.json" "assert r['mode'] == 'used', r['mode']"
check "the report says what was zeroed and that the hashes cover it" bash -c \
    "grep -q 'written as zeros' '$WORK/out' && python3 -c \"import json; r = json.load(open('$WORK/r.json')); assert r['bytes_zeroed'] == $zero_itable * $bs and r['targets'][0]['result'] == 'VERIFIED', r\""
check "target ext4 clean (e2fsck -fn)" e2fsck -fn "${t}p1"

# Unused inode-table regions are zeros on the target, used ones equal the source's:
# on the freshly made source the whole table region reads the same.
same_runs() {
    local s e
    while read -r s e; do
        cmp -s <(dd if="$WORK/src.img" bs=1M skip=$((P1 + s * bs)) count=$(( (e - s + 1) * bs )) iflag=skip_bytes,count_bytes status=none) \
               <(dd if="$WORK/dst.img" bs=1M skip=$((P1 + s * bs)) count=$(( (e - s + 1) * bs )) iflag=skip_bytes,count_bytes status=none) || return 1
    done < "$WORK/itable.runs"
}
check "inode tables: the target's equal the source's (unused parts zeroed, not the old bytes)" same_runs
debugfs -R "dump <8> $WORK/sj" "${src}p1" 2>/dev/null; debugfs -R "dump <8> $WORK/tj" "${t}p1" 2>/dev/null
check "journal: copied whole (its log holds the last transactions)" bash -c \
    "[ \$(stat -c %s '$WORK/tj') = $((jblocks * bs)) ] && cmp '$WORK/sj' '$WORK/tj'"
rm -f "$WORK/sj" "$WORK/tj"

mount -o ro,noload "${src}p1" "$WORK/a" && mount -o ro,noload "${t}p1" "$WORK/b"
check "every file identical (diff -r)" diff -r --no-dereference "$WORK/a" "$WORK/b"
umount "$WORK/a" "$WORK/b"

# New inodes land in the zeroed part of the tables.
mount -o noinit_itable "${t}p1" "$WORK/b"
mkdir "$WORK/b/new"; for i in $(seq 20000); do echo "new $i" > "$WORK/b/new/n$i"; done
cp -a /usr/share/man "$WORK/b/man"; sync
umount "$WORK/b"
check "files written on the target after the clone: e2fsck -fn still clean" e2fsck -fn "${t}p1"
mount -o ro "${t}p1" "$WORK/b"
check "files written on the target after the clone read back" bash -c "[ \"\$(cat '$WORK/b/new/n19999')\" = 'new 19999' ] && diff -r /usr/share/man '$WORK/b/man'"
umount "$WORK/b"

# Bytes read from the source: the process's own count, without verification (which
# reads the target). At most 1.2 x what the filesystem holds, not its inode tables.
bash -c '"$@" >/dev/null 2>&1; echo "rc=$?"; grep read_bytes /proc/$$/io' _ \
    "$CB" clone "$src" "$t" --yes --no-verify > "$WORK/io" 2>&1
read_bytes=$(awk '/read_bytes/ { print $2 }' "$WORK/io")
echo "read from the source: $read_bytes bytes; in use: $in_use bytes"
check "bytes read from the source <= 1.2 x data and metadata in use ($read_bytes vs $in_use)" \
    bash -c "grep -q rc=0 '$WORK/io' && [ $read_bytes -le $((in_use * 12 / 10)) ]"
finish
