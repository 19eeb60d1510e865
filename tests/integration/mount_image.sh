#!/bin/bash
# clonebay mount / umount: an image opened read-only without restoring it, judged
# by diff -r against the source's own partitions, cmp, findmnt, losetup and ps.
. "$(dirname "$0")/../lib.sh"
need_root mount_image
for t in sgdisk mkfs.vfat mkntfs ntfs-3g setfattr getfattr python3 partx findmnt; do
    command -v $t >/dev/null || { skip mount_image "$t is not installed"; exit 0; }
done
[ -e /dev/fuse ] || { skip mount_image "no /dev/fuse"; exit 0; }

# Source: a GPT disk with an ESP (FAT), ext4 (hard links, symlinks, xattrs) and NTFS.
truncate -s 200M "$WORK/src.img"
sgdisk -n 1:2048:+32M -t 1:ef00 -n 2:0:+80M -t 2:8300 -n 3:0:0 -t 3:0700 "$WORK/src.img" >/dev/null
sgdisk -p "$WORK/src.img" | grep -q '^ *3 ' || { fail "fixture" "sgdisk wrote no table"; finish; }
dev=$(attach "$WORK/src.img")
mkfs.vfat -n ESP "${dev}p1" >/dev/null
mkfs.ext4 -q -L DATA "${dev}p2"
mkntfs -Q -L WIN "${dev}p3" >/dev/null 2>&1
mkdir -p "$WORK/m"
mount "${dev}p2" "$WORK/m"
cp -r /usr/share/doc/e2fsprogs /usr/share/doc/gdisk "$WORK/m/"
echo "small file" > "$WORK/m/a"; ln "$WORK/m/a" "$WORK/m/hard"; ln -s a "$WORK/m/sym"
setfattr -n user.color -v blue "$WORK/m/a"
head -c 24M /dev/urandom > "$WORK/m/big.bin"
umount "$WORK/m"
ntfs-3g "${dev}p3" "$WORK/m" && cp -r /usr/share/doc/parted "$WORK/m/" && head -c 6M /dev/urandom > "$WORK/m/nt.bin"
umount "$WORK/m"
mcopy -i "${dev}p1" /etc/os-release ::/os-release 2>/dev/null
partx -d "$dev"; losetup -d "$dev"

"$CB" image "$WORK/src.img" "$WORK/x.zst" --mode raw --yes > "$WORK/iout" 2>&1 \
    || { fail "image of the fixture" "$(tail -2 "$WORK/iout")"; finish; }
img=$WORK/x.zst

# The source's partitions, read-only, as the reference.
src=$(attach "$WORK/src.img" -r)
mkdir -p "$WORK/s2" "$WORK/s3" "$WORK/s1"
mount -o ro,noload "${src}p2" "$WORK/s2" && defer "umount $WORK/s2"
ntfs-3g -o ro "${src}p3" "$WORK/s3" && defer "umount $WORK/s3"
fat_ref=0
if command -v fusefat >/dev/null && fusefat -o ro "${src}p1" "$WORK/s1" >/dev/null 2>&1; then
    fat_ref=1; defer "umount $WORK/s1"
fi

D=$WORK/mnt
mkdir -p "$D"
defer "$CB umount $D"
"$CB" mount "$img" "$D" > "$WORK/mout" 2>&1; rc=$?
check "mount: exit 0" test $rc = 0
check "mount: ext4 and NTFS mounted read-only on p2, p3" bash -c "findmnt -n -o OPTIONS '$D/p2' | grep -q '^ro' && findmnt -n -o OPTIONS '$D/p3' | grep -q '^ro'"
check "mount: the disk is on a read-only loop device" bash -c "l=\$(losetup -a | grep -F '($D/.disk)' | cut -d: -f1); [ -n \"\$l\" ] && [ \"\$(blockdev --getro \$l)\" = 1 ]"
check "ext4: diff -r against the source is empty" diff -r --no-dereference "$WORK/s2" "$D/p2"
check "ext4: hard link, symlink and xattr kept" bash -c "[ \$(stat -c %i '$D/p2/a') = \$(stat -c %i '$D/p2/hard') ] && [ \"\$(readlink '$D/p2/sym')\" = a ] && getfattr -n user.color --only-values '$D/p2/a' | grep -qx blue"
check "NTFS: diff -r against the source is empty" diff -r --no-dereference "$WORK/s3" "$D/p3"
if [ $fat_ref = 1 ]; then
    check "FAT (fusefat): diff -r against the source is empty" diff -r --no-dereference "$WORK/s1" "$D/p1"
elif command -v fusefat >/dev/null; then
    fail "FAT" "fusefat could not mount the source's ESP"
else
    check "FAT: listed as not mountable here" grep -q "FAT cannot be mounted here" "$WORK/mout"
fi
check "mount: nothing writable (a write is refused)" bash -c "! touch '$D/p2/new' 2>/dev/null && ! dd if=/dev/zero of='$D/.disk' bs=1 count=1 conv=notrunc 2>/dev/null"
check "mount: DIR itself is read-only but for partition folders" bash -c "touch '$D/new' 2>&1 | grep -q 'Read-only' && rm -f '$D/.disk' 2>&1 | grep -q 'Read-only' && [ -e '$D/.disk' ]"
pid=$(awk '$1 == "pid" {print $2}' "$D/.stats")
check "mount: the helper runs as clonebay-mount" bash -c "[ -n '$pid' ] && [ \"\$(cat /proc/$pid/comm)\" = clonebay-mount ]"

# 1000 random 4 KiB reads of the disk file: the source's bytes, at most one frame decoded for the median.
python3 - "$D" "$WORK/src.img" > "$WORK/rand" 2>&1 <<'PY'
import os, random, statistics, sys
d, src = sys.argv[1], sys.argv[2]
def decoded():
    for line in open(d + '/.stats'):
        if line.startswith('frames_decoded '):
            return int(line.split()[1])
fd = os.open(d + '/.disk', os.O_RDONLY)
sfd = os.open(src, os.O_RDONLY)
size = os.fstat(fd).st_size
random.seed(22)
per, wrong = [], 0
for _ in range(1000):
    off = random.randrange(size // 4096) * 4096
    before = decoded()
    got = os.pread(fd, 4096, off)
    per.append(decoded() - before)
    wrong += got != os.pread(sfd, 4096, off)
before = decoded()
for i in range(256):        # 1 MiB in order: one frame at most
    os.pread(fd, 4096, 64 * 2**20 + i * 4096)
print("wrong", wrong, "median", statistics.median(per), "max", max(per), "total", sum(per),
      "sequential", decoded() - before)
PY
check "random reads: 1000 x 4 KiB equal the source" grep -q '^wrong 0 ' "$WORK/rand"
check "random reads: the median read decodes at most one frame" \
    python3 -c "import sys; w=open('$WORK/rand').read().split(); sys.exit(0 if float(w[w.index('median')+1]) <= 1 else 1)"
check "sequential reads: 256 x 4 KiB in one frame decode at most one" \
    python3 -c "import sys; w=open('$WORK/rand').read().split(); sys.exit(0 if int(w[w.index('sequential')+1]) <= 1 else 1)"
check "the helper stays within 64 MiB" bash -c "[ \$(awk '/VmHWM/ {print \$2}' /proc/$pid/status) -le 65536 ]"

# Mounting again on the same folder, or on a folder that is not empty: refused.
"$CB" mount "$img" "$D" > "$WORK/again" 2>&1; rc=$?
check "busy DIR (already mounted): refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'already a mount point' '$WORK/again'"

# umount: no mount, no loop device, no process left.
"$CB" umount "$D" > "$WORK/uout" 2>&1; rc=$?
check "umount: exit 0" test $rc = 0
check "umount: no mount left (findmnt)" bash -c "! findmnt -R '$D' >/dev/null"
check "umount: no loop device left (losetup)" bash -c "! losetup -a | grep -qF '$D/.disk'"
sleep 0.5
check "umount: no helper process left" bash -c "s=\$(ps -o stat= -p $pid); [ -z \"\$s\" ] || [ \"\${s:0:1}\" = Z ]"
check "umount: the folder is empty again" bash -c "[ -z \"\$(ls -A '$D')\" ]"
# leftovers: processes (not zombies) still naming a partition folder: ntfs-3g, fusefat.
leftovers() { ps -eo stat=,args= | awk -v d="$D/p" 'index($0, d) && $1 !~ /^Z/ && !/awk/'; }
check "umount: no ntfs-3g or fusefat process left" test -z "$(leftovers)"
"$CB" umount "$D" > "$WORK/u2" 2>&1; rc=$?
check "umount of a folder with nothing mounted: refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'not an image mounted by clonebay' '$WORK/u2'"

# Split parts and a raw image serve the same disk.
"$CB" image "$WORK/src.img" "$WORK/split.zst" --split 16M --level 1 --no-verify --yes > /dev/null 2>&1
"$CB" mount "$WORK/split.zst" "$D" > "$WORK/sout" 2>&1; rc=$?
check "split image: mounted, its disk equals the source" bash -c "[ $rc = 0 ] && cmp '$D/.disk' '$WORK/src.img' && diff -r '$WORK/s2' '$D/p2' >/dev/null"
"$CB" umount "$D" > /dev/null 2>&1
"$CB" image "$WORK/src.img" "$WORK/raw.img" --yes --no-verify > /dev/null 2>&1
"$CB" mount "$WORK/raw.img" "$D" > "$WORK/rout" 2>&1; rc=$?
check "raw image: mounted, its disk equals the source" bash -c "[ $rc = 0 ] && cmp '$D/.disk' '$WORK/src.img' && diff -r --no-dereference '$WORK/s3' '$D/p3' >/dev/null"
"$CB" umount "$D" > /dev/null 2>&1

# A helper that died (killed): umount still undoes everything, from what the kernel shows.
"$CB" mount "$img" "$D" > /dev/null 2>&1
kill -9 "$(awk '$1 == "pid" {print $2}' "$D/.stats")"; sleep 0.3
"$CB" umount "$D" > "$WORK/kout" 2>&1; rc=$?
check "helper killed: umount still cleans up (no mount, loop device or process)" \
    bash -c "[ $rc = 0 ] && ! findmnt -R '$D' >/dev/null && ! losetup -a | grep -qF '$D/.disk'"
check "helper killed: no ntfs-3g or fusefat process left" test -z "$(leftovers)"

# A damaged frame: the frame holding big.bin's first block has bytes overwritten in a copy.
# 12 MiB into big.bin: never the frame holding the small file 'a', written before it.
bsz=$(dumpe2fs -h "${src}p2" 2>/dev/null | awk '/^Block size:/ {print $3}')
blk=$(debugfs -R "bmap /big.bin $((12 * 1048576 / bsz))" "${src}p2" 2>/dev/null)
ablk=$(debugfs -R "bmap /a 0" "${src}p2" 2>/dev/null)
p2start=$(($(cat /sys/class/block/$(basename "${src}p2")/start) * 512))
bad_off=$((p2start + blk * bsz))
damage_frame "$img" "$WORK/damaged.zst" "$bad_off" > "$WORK/dmg"
read -r dmg_lo dmg_hi < "$WORK/dmg"
a_off=$((p2start + ablk * bsz))
[ "$a_off" -lt "$dmg_lo" ] || [ "$a_off" -gt "$dmg_hi" ] || fail "damaged frame fixture" "'a' lies in the damaged frame"
"$CB" mount "$WORK/damaged.zst" "$D" > "$WORK/dout" 2>&1; rc=$?
check "damaged frame: the image still mounts" test $rc = 0
check "damaged frame: a file outside it reads fine" cmp "$D/p2/a" "$WORK/s2/a"
check "damaged frame: NTFS files read fine" diff -r --no-dereference "$WORK/s3" "$D/p3"
cat "$D/p2/big.bin" > /dev/null 2> "$WORK/eio"; rc=$?
check "damaged frame: a file inside it fails with EIO" bash -c "[ $rc != 0 ] && grep -q 'Input/output error' '$WORK/eio'"
check "damaged frame: the log names the damaged disk range" grep -q "disk bytes $dmg_lo-$dmg_hi) is damaged" "$D/.log"
check "damaged frame: the disk file fails only there" python3 -c "
import os
fd = os.open('$D/.disk', os.O_RDONLY)
try:
    os.pread(fd, 4096, $dmg_lo); raise SystemExit(1)
except OSError as e:
    assert e.errno == 5
assert len(os.pread(fd, 4096, $dmg_lo - 4096)) == 4096 and len(os.pread(fd, 4096, $dmg_hi + 1)) == 4096"
dloop=$(losetup -a | grep -F "($D/.disk)" | cut -d: -f1)
# One 8 KiB request, half before the frame, half in it: an error, never zeros.
dd if="$dloop" of="$WORK/span" bs=8192 skip=$((dmg_lo - 4096)) count=1 iflag=direct,skip_bytes 2>/dev/null; rc=$?
dd if="$dloop" of="$WORK/before" bs=4096 skip=$(((dmg_lo - 4096) / 4096)) count=1 iflag=direct status=none
check "damaged frame: on the loop device, a read running into it fails, the block before reads right" \
    bash -c "[ $rc != 0 ] && cmp '$WORK/before' <(dd if='$WORK/src.img' bs=4096 skip=$(((dmg_lo - 4096) / 4096)) count=1 status=none)"
check "damaged frame: the helper is still alive" grep -q '^damaged_frames 1$' "$D/.stats"
check "damaged frame: umount" "$CB" umount "$D"

# Bad input: refused with exit 2 and the reason, nothing mounted.
# refused NAME PATTERN IMAGE: clonebay mount IMAGE D exits 2 saying PATTERN, and leaves nothing.
refused() {
    local out=$WORK/refused.out rc
    "$CB" mount "$3" "$D" > "$out" 2>&1; rc=$?
    if [ $rc != 2 ]; then fail "$1" "exit $rc: $(tail -2 "$out" | tr '\n' ' ')"
    elif ! grep -q "$2" "$out"; then fail "$1" "no '$2' in: $(cat "$out")"
    elif findmnt -R "$D" >/dev/null || losetup -a | grep -qF "$D/.disk"; then fail "$1" "something is mounted"
    else pass "$1"; fi
}
head -c 3M /dev/urandom > "$WORK/junk.bin"
refused "not an image: refused (exit 2), nothing mounted" 'not a usable clonebay image' "$WORK/junk.bin"
cp "$WORK/junk.bin" "$WORK/junk.img"
refused "raw file with no table nor filesystem: refused (exit 2), nothing mounted" \
    'neither a partition table nor a filesystem' "$WORK/junk.img"
cp "$img" "$WORK/trunc.zst"; truncate -s $(($(stat -c %s "$img") - 1000)) "$WORK/trunc.zst"
refused "truncated image: refused (exit 2), nothing mounted" 'truncated' "$WORK/trunc.zst"
refused "missing image: refused (exit 2), nothing mounted" 'no such file' "$WORK/none.zst"
touch "$D/left-here"
refused "busy DIR (not empty): refused (exit 2), nothing mounted" 'not empty' "$img"
rm -f "$D/left-here"
# clonebay diff: the image against the drive it was made of, and against a changed copy.
"$CB" diff "$img" "$src" > "$WORK/d1" 2>&1; rc=$?
check "diff image = drive: exit 0" bash -c "[ $rc = 0 ] && grep -q 'are the same' '$WORK/d1'"
cp "$WORK/src.img" "$WORK/changed.img"
printf '\x42' | cmp -s - <(dd if="$WORK/changed.img" bs=1 skip=123456789 count=1 status=none) && flip='\x43' || flip='\x42'
printf "$flip" | dd of="$WORK/changed.img" bs=1 seek=123456789 conv=notrunc status=none
chg=$(attach "$WORK/changed.img" -r)
"$CB" diff "$img" "$chg" > "$WORK/d2" 2>&1; rc=$?
check "diff image vs a drive with one byte changed: exit 1, that byte's range" \
    bash -c "[ $rc = 1 ] && grep -q '^disk bytes 123456789-123456789 differ (1 byte' '$WORK/d2' && [ \$(grep -c '^disk bytes' '$WORK/d2') = 1 ]"
"$CB" diff "$img" "$WORK/split.zst" > "$WORK/d3" 2>&1; rc=$?
check "diff image = its split copy: exit 0" test $rc = 0
"$CB" diff "$WORK/damaged.zst" "$src" > "$WORK/d4" 2>&1; rc=$?
check "diff with a damaged frame: exit 2, the frame's range not compared" \
    bash -c "[ $rc = 2 ] && grep -q '^disk bytes $dmg_lo-$dmg_hi cannot be read' '$WORK/d4'"
"$CB" diff "$WORK/junk.bin" "$src" > "$WORK/d5" 2>&1; rc=$?
check "diff with a file that is not an image: refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'not a usable clonebay image' '$WORK/d5'"
# clonebay diff --files: both mounted read-only, diff -rq per partition, all undone after.
"$CB" diff --files "$img" "$src" > "$WORK/f1" 2>&1; rc=$?
if command -v fusefat >/dev/null; then
    check "diff --files image vs its drive: exit 0, same files" bash -c "[ $rc = 0 ] && grep -q 'hold the same files' '$WORK/f1'"
else    # the ESP cannot be mounted here: not compared, said so, exit 2
    check "diff --files image vs its drive: FAT not compared (exit 2), ext4 and NTFS same" bash -c "[ $rc = 2 ] && grep -q 'partition #1 (vfat): files not compared' '$WORK/f1' && grep -q \"partition #2 (ext4 'DATA'): same files\" '$WORK/f1'"
fi
cp "$WORK/src.img" "$WORK/fmod.img"
fmod=$(attach "$WORK/fmod.img")
mount "${fmod}p2" "$WORK/m" && echo "one more line" >> "$WORK/m/a" && umount "$WORK/m"
"$CB" diff --files "$img" "$fmod" > "$WORK/f2" 2>&1; rc=$?
check "diff --files vs a drive with one file changed: exit 1, that file named" \
    bash -c "[ $rc = 1 ] && grep -q 'Files a/p2/a and b/p2/a differ' '$WORK/f2' && grep -q \"partition #3 (ntfs 'WIN'): same files\" '$WORK/f2'"
check "diff --files: nothing left mounted or attached" bash -c "! findmnt | grep -q clonebay-diff && ! losetup -a | grep -q clonebay-diff && ! ls -d /tmp/clonebay-diff-* 2>/dev/null"
finish
