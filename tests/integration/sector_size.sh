#!/bin/bash
# Logical sector sizes (issue 21) on real loop devices made with
# `losetup --sector-size 4096` (a 4Kn drive): a clone or restore between drives
# of different logical sector sizes is refused before one byte is written (the
# partition table and filesystems count in the source's sectors), with a
# message that says why and a non-zero exit; the target's sha256 is unchanged.
# 4096 -> 4096 clones, verifies, and gives a valid GPT and a clean ext4.
. "$(dirname "$0")/../lib.sh"
need_root sector_size

# A 4Kn source: GPT made by sgdisk on the 4096-byte-sector device, ext4 with files.
truncate -s 64M "$WORK/src4k.img"
dev=$(attach "$WORK/src4k.img" --sector-size 4096)
if [ "$(blockdev --getss "$dev")" != 4096 ]; then
    skip sector_size "losetup --sector-size 4096 gave $(blockdev --getss "$dev")-byte sectors"; finish
fi
sgdisk -n 1:256:+40M -t 1:8300 "$dev" >/dev/null 2>&1
partx -d "$dev" 2>/dev/null; partx -a "$dev"
mkfs.ext4 -q -b 4096 -L DATA4K "${dev}p1"
mkdir -p "$WORK/m" && mount "${dev}p1" "$WORK/m"
cp -r /usr/share/doc/e2fsprogs /usr/share/doc/gdisk "$WORK/m/"
head -c 4M /dev/urandom > "$WORK/m/random.bin"
(cd "$WORK/m" && find . -type f -exec sha256sum {} + | sort -k2) > "$WORK/files.sha"
umount "$WORK/m"
partx -d "$dev"; losetup -d "$dev"
src4k=$(attach "$WORK/src4k.img" -r --sector-size 4096)

# A 512-byte-sector source of the same size.
random_file "$WORK/src512.img" 64M 5
src512=$(attach "$WORK/src512.img" -r)

# Targets: 4Kn and 512, each filled with data of its own so a stray write shows.
random_file "$WORK/t4k.img" 64M 11
random_file "$WORK/t512.img" 64M 12
random_file "$WORK/u4k.img" 64M 13
t4k=$(attach "$WORK/t4k.img" --sector-size 4096)
t512=$(attach "$WORK/t512.img")
u4k=$(attach "$WORK/u4k.img" --sector-size 4096)
t4k_sha=$(sha "$t4k"); t512_sha=$(sha "$t512"); u4k_sha=$(sha "$u4k")

"$CB" list > "$WORK/list.txt" 2>&1
check "list: a 4Kn drive shows its sector sizes" grep -qE "^$t4k .*SECTORS=4096/4096" "$WORK/list.txt"
check "list: a 512/512 drive shows none" bash -c "! grep -E '^$t512 ' '$WORK/list.txt' | grep -q SECTORS="

# 512 -> 4096: refused before one byte is written.
"$CB" clone "$src512" "$t4k" --yes > "$WORK/out1" 2>&1; rc=$?
check "512 -> 4096 clone: non-zero exit" test $rc != 0
check "512 -> 4096 clone: the refusal says why" grep -q "target $t4k has 4096-byte sectors but source $src512 has 512-byte sectors" "$WORK/out1"
check "512 -> 4096 clone: nothing written (said)" grep -q "nothing was written" "$WORK/out1"
check "512 -> 4096 clone: target sha256 unchanged" test "$(sha "$t4k")" = "$t4k_sha"

# 4096 -> 512: the same, the other way.
"$CB" clone "$src4k" "$t512" --yes > "$WORK/out2" 2>&1; rc=$?
check "4096 -> 512 clone: non-zero exit" test $rc != 0
check "4096 -> 512 clone: the refusal says why" grep -q "target $t512 has 512-byte sectors but source $src4k has 4096-byte sectors" "$WORK/out2"
check "4096 -> 512 clone: target sha256 unchanged" test "$(sha "$t512")" = "$t512_sha"

# Several targets, one of the wrong size: refused whole, the right one untouched too.
"$CB" clone "$src4k" "$u4k" "$t512" --yes > "$WORK/out3" 2>&1; rc=$?
check "mixed targets: non-zero exit" test $rc != 0
check "mixed targets: the good target untouched as well" test "$(sha "$u4k")" = "$u4k_sha"
check "mixed targets: the odd target untouched" test "$(sha "$t512")" = "$t512_sha"

# 4096 -> 4096: copied and verified; the GPT is valid and the ext4 clean with every file.
"$CB" clone "$src4k" "$t4k" --yes --report "$WORK/r.json" > "$WORK/out4" 2>&1; rc=$?
check "4096 -> 4096 clone: exit 0" test $rc = 0
check "4096 -> 4096 clone: VERIFIED" json "$WORK/r.json" "assert r['targets'][0]['result'] == 'VERIFIED', r['targets']"
check "4096 -> 4096 clone: sgdisk -v finds no problems" bash -c "sgdisk -v '$t4k' | grep -q 'No problems found'"
partx -d "$t4k" 2>/dev/null; partx -a "$t4k"
check "4096 -> 4096 clone: e2fsck clean" e2fsck -fn "${t4k}p1"
if mount -o ro "${t4k}p1" "$WORK/m"; then
    (cd "$WORK/m" && find . -type f -exec sha256sum {} + | sort -k2) > "$WORK/files2.sha"
    umount "$WORK/m"
    check "4096 -> 4096 clone: every file the same" cmp "$WORK/files.sha" "$WORK/files2.sha"
else
    fail "4096 -> 4096 clone: every file the same" "the cloned ext4 does not mount"
fi

# An image of the 4Kn drive records its sector size; restoring it onto 512 is refused.
command -v zstd >/dev/null || { skip "image and restore across sector sizes" "zstd is not installed"; finish; }
"$CB" image "$src4k" "$WORK/disk4k" --mode raw > "$WORK/out5" 2>&1; rc=$?
check "image of the 4Kn drive: exit 0" test $rc = 0
check "image info: 4096-byte sectors" bash -c "'$CB' info '$WORK/disk4k.zst' --json | python3 -c 'import json,sys; assert json.load(sys.stdin)[\"sector_size\"] == 4096'"
"$CB" restore "$WORK/disk4k.zst" "$t512" --yes > "$WORK/out6" 2>&1; rc=$?
check "restore 4096 image -> 512 drive: non-zero exit" test $rc != 0
check "restore 4096 image -> 512 drive: the refusal says why" grep -q "has 512-byte sectors but source .* has 4096-byte sectors" "$WORK/out6"
check "restore 4096 image -> 512 drive: target sha256 unchanged" test "$(sha "$t512")" = "$t512_sha"
"$CB" restore "$WORK/disk4k.zst" "$u4k" --yes > "$WORK/out7" 2>&1; rc=$?
check "restore 4096 image -> 4096 drive: exit 0 and equal" bash -c "[ $rc = 0 ] && cmp '$u4k' '$WORK/src4k.img'"
finish
