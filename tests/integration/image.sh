#!/bin/bash
# clonebay image / restore / verify / info on real loop devices, with zstd,
# cmp and sha256sum as oracles; damaged, truncated and foreign images; a full disk.
. "$(dirname "$0")/../lib.sh"
need_root image
command -v zstd >/dev/null || { skip image "zstd is not installed"; exit 0; }

# Source: a 64 MiB GPT disk with an ext4 partition holding real files; the rest zeros.
truncate -s 64M "$WORK/src.img"
sgdisk -n 1:2048:+40M -t 1:8300 "$WORK/src.img" >/dev/null
dev=$(attach "$WORK/src.img")
mkfs.ext4 -q -L DATA "${dev}p1"
mkdir -p "$WORK/m" && mount "${dev}p1" "$WORK/m"
cp -r /usr/share/doc/e2fsprogs /usr/share/doc/gdisk /usr/share/doc/parted "$WORK/m/"
head -c 8M /dev/urandom > "$WORK/m/random.bin"
umount "$WORK/m"
partx -d "$dev"; losetup -d "$dev"
src=$(attach "$WORK/src.img" -r)
src_sha=$(sha "$WORK/src.img")
for i in 1 2 3; do truncate -s 64M "$WORK/t$i.img"; done
truncate -s 80M "$WORK/big.img"; truncate -s 12M "$WORK/small.img"     # small: less than the data
t1=$(attach "$WORK/t1.img"); t2=$(attach "$WORK/t2.img"); t3=$(attach "$WORK/t3.img")
big=$(attach "$WORK/big.img"); small=$(attach "$WORK/small.img")
mkdir -p "$WORK/out"

# Image, then any zstd reads it.
"$CB" image "$src" "$WORK/out/disk" --report "$WORK/i.json" > "$WORK/iout" 2>&1; rc=$?
img=$WORK/out/disk.zst
check "image: exit 0" test $rc = 0
check "image: FILE.zst made, no .partial left" bash -c "[ -f '$img' ] && ! ls '$WORK/out/' | grep -q partial"
check "image: zstd -t passes" zstd -q -t "$img"
check "image: zstd -d gives the disk byte for byte" bash -c "zstd -q -d -c '$img' | cmp - '$WORK/src.img'"
check "image: reported sha256 = sha256sum of the disk" json "$WORK/i.json" "assert r['source_hashes']['sha256'] == '$src_sha'"
check "image: verified" json "$WORK/i.json" "assert r['targets'][0]['result'] == 'VERIFIED' and r['operation'] == 'image'"
check "image: smaller than the disk (zeros cost almost nothing)" test "$(stat -c %s "$img")" -lt $((16 << 20))
check "image: seek table at the end (seekable format magic)" bash -c "tail -c 4 '$img' | od -An -tx1 | grep -q 'b1 ea 92 8f'"
check "image: zero frames counted" json "$WORK/i.json" "assert r['image']['zero_frames'] >= 2, r['image']"

# info and verify.
"$CB" info "$img" > "$WORK/info" 2>&1; rc=$?
check "info: exit 0" test $rc = 0
check "info: hash, size and layout" bash -c "grep -q '$src_sha' '$WORK/info' && grep -q '67108864 bytes' '$WORK/info' && grep -q \"ext4 'DATA'\" '$WORK/info'"
"$CB" info "$img" --json > "$WORK/info.json"
check "info --json: fields" json "$WORK/info.json" "assert r['size'] == 67108864 and r['hashes']['sha256'] == '$src_sha' and r['ratio'] > 4 and r['bad_sectors'] == [] and r['tool'].startswith('clonebay')"
check "verify: intact image, exit 0" "$CB" verify "$img"

# Restore to two targets at once, and to a larger one as it is (--resize keep: GPT backup moved;
# fitting the partitions is resize.sh's).
"$CB" restore "$img" "$t1" "$t2" --yes --report "$WORK/r.json" > "$WORK/rout" 2>&1; rc=$?
check "restore: exit 0" test $rc = 0
check "restore: both targets equal the disk" bash -c "cmp $t1 '$WORK/src.img' && cmp $t2 '$WORK/src.img'"
check "restore: both VERIFIED with the source hash" json "$WORK/r.json" "assert [t['result'] for t in r['targets']] == ['VERIFIED']*2 and r['source_hashes']['sha256'] == '$src_sha'"
"$CB" restore "$img" "$big" --yes --resize keep > /dev/null 2>&1; rc=$?
check "restore to a larger drive: exit 0" test $rc = 0
check "restore to a larger drive: GPT valid (sgdisk -v)" bash -c "sgdisk -v $big | grep -q 'No problems found'"
check "restore to a larger drive: partition data equal" cmp -i $((1 << 20)) -n $((40 << 20)) "$big" "$WORK/src.img"
keep=$(sha "$WORK/small.img")
"$CB" restore "$img" "$small" --yes > "$WORK/sout" 2>&1; rc=$?
check "restore to a smaller drive: refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'partition #1 (ext4) needs at least .* but would get .* on $small' '$WORK/sout'"
check "restore to a smaller drive: untouched" test "$(sha "$WORK/small.img")" = "$keep"

# Split parts: concatenated they are the image; restore reads the parts.
"$CB" image "$src" "$WORK/out/split.zst" --split 2M --level 1 --no-verify > /dev/null 2>&1; rc=$?
check "split: exit 0" test $rc = 0
check "split: several parts, none over 2 MiB" bash -c "[ \$(ls '$WORK/out'/split.zst.0* | wc -l) -ge 2 ] && [ -z \"\$(find '$WORK/out' -name 'split.zst.*' -size +2048k)\" ]"
check "split: parts concatenated decompress to the disk" bash -c "cat '$WORK/out'/split.zst.* | zstd -q -d | cmp - '$WORK/src.img'"
check "split: verify by name" "$CB" verify "$WORK/out/split.zst"
head -c 64M /dev/urandom | dd of="$t3" bs=1M oflag=direct iflag=fullblock status=none    # zeros must be written over this
"$CB" restore "$WORK/out/split.zst.000" "$t3" --yes > /dev/null 2>&1; rc=$?
check "split: restore from the parts" bash -c "[ $rc = 0 ] && cmp $t3 '$WORK/src.img'"

# No hashes at all: the pipeline runs without its hasher.
timeout 120 "$CB" image "$src" "$WORK/out/nohash.zst" --hash none --no-verify > /dev/null 2>&1; rc=$?
check "no hash, no verify: finishes, decompresses to the disk" bash -c "[ $rc = 0 ] && zstd -q -d -c '$WORK/out/nohash.zst' | cmp - '$WORK/src.img'"

# Raw image: sparse and equal; restored like any file.
"$CB" image "$src" "$WORK/out/raw.img" > /dev/null 2>&1; rc=$?
check "raw: exit 0, equal" bash -c "[ $rc = 0 ] && cmp '$WORK/out/raw.img' '$WORK/src.img'"
check "raw: sparse (allocated < half its size)" test $(($(stat -c %b "$WORK/out/raw.img") * 512)) -lt $((32 << 20))

# An existing image is not overwritten without --force.
before=$(sha "$img")
"$CB" image "$src" "$img" > "$WORK/eout" 2>&1; rc=$?
check "existing image: refused (exit 2), untouched" bash -c "[ $rc = 2 ] && grep -q 'already exists' '$WORK/eout' && [ '$(sha "$img")' = '$before' ]"
"$CB" image "$src" "$img" --force --level 9 > /dev/null 2>&1; rc=$?
check "existing image: replaced with --force" bash -c "[ $rc = 0 ] && zstd -q -d -c '$img' | cmp - '$WORK/src.img'"

# Damage: one byte in a data frame; a truncated file; a damaged seek table.
damaged() { cp "$img" "$WORK/out/$1.zst"; echo "$WORK/out/$1.zst"; }
frame_at=$(python3 -c "
import struct
d=open('$img','rb').read()
n,desc,magic=struct.unpack('<IBI', d[-9:])
esz=12 if desc & 0x80 else 8
tab=d[-9-n*esz:-9]
pos=0
for i in range(n):
    c,u=struct.unpack('<II', tab[i*esz:i*esz+8])
    if u and c > 100000: print(pos + c // 2); break
    pos += c")
bad=$(damaged flipped)
printf '\x55' | dd of="$bad" bs=1 seek="$frame_at" conv=notrunc status=none
"$CB" verify "$bad" > "$WORK/v1" 2>&1; rc=$?
check "flipped byte: verify fails naming the frame" bash -c "[ $rc = 1 ] && grep -qE 'frame [0-9]+ \(image bytes' '$WORK/v1'"
dd if=/dev/zero of="$t3" bs=1M count=64 oflag=direct status=none
"$CB" restore "$bad" "$t3" --yes --report "$WORK/fr.json" > "$WORK/fout" 2>&1; rc=$?
check "flipped byte: restore stops with exit 1 and the offset" bash -c "[ $rc = 1 ] && grep -qE 'disk bytes [0-9]+-[0-9]+' '$WORK/fout'"
check "flipped byte: report says the target is incomplete" json "$WORK/fr.json" "assert r['outcome'] == 'failed' and r['bytes_copied'] < r['bytes_total']"

bad=$(damaged truncated)
truncate -s $(($(stat -c %s "$img") - 1000)) "$bad"
keep=$(sha "$WORK/t3.img")
"$CB" restore "$bad" "$t3" --yes > "$WORK/tout" 2>&1; rc=$?
check "truncated: restore refused before writing" bash -c "[ $rc = 2 ] && grep -q 'truncated' '$WORK/tout'"
check "truncated: target untouched" test "$(sha "$WORK/t3.img")" = "$keep"
check "truncated: verify fails" bash -c "! '$CB' verify '$bad' 2>/dev/null"

bad=$(damaged table)
size=$(stat -c %s "$bad")
printf '\xff\xff\xff\x7f' | dd of="$bad" bs=1 seek=$((size - 9 - 12 * 3)) conv=notrunc status=none
"$CB" restore "$bad" "$t3" --yes > "$WORK/sout" 2>&1; rc=$?
check "damaged seek table: restore refused before writing" bash -c "[ $rc = 2 ] && grep -qi 'seek table' '$WORK/sout'"
check "damaged seek table: target untouched" test "$(sha "$WORK/t3.img")" = "$keep"
"$CB" info "$bad" > "$WORK/iout2" 2>&1; rc=$?
check "damaged seek table: info fails clearly" bash -c "[ $rc = 1 ] && grep -q 'table.zst' '$WORK/iout2'"

bad=$(damaged header)
printf 'clonebay-image 9' | dd of="$bad" bs=1 seek=8 conv=notrunc status=none
"$CB" info "$bad" > "$WORK/hout" 2>&1; rc=$?
check "newer format: says which format and to update" bash -c "[ $rc = 1 ] && grep -q 'image format 9' '$WORK/hout'"

zstd -q -c "$WORK/src.img" > "$WORK/out/plain.zst"
"$CB" restore "$WORK/out/plain.zst" "$t3" --yes > "$WORK/pout" 2>&1; rc=$?
check "plain zstd file: refused as not a clonebay image" bash -c "[ $rc = 2 ] && grep -q 'not a usable clonebay image' '$WORK/pout'"
check "plain zstd file: target untouched" test "$(sha "$WORK/t3.img")" = "$keep"

# Disk full while writing: a clear error, nothing that looks like an image left behind.
truncate -s 8M "$WORK/tiny-fs.img"; mkfs.ext4 -q -F "$WORK/tiny-fs.img"
mkdir -p "$WORK/tiny" && mount -o loop "$WORK/tiny-fs.img" "$WORK/tiny" && defer "umount $WORK/tiny"
random_file "$WORK/noisy.img" 24M 3
"$CB" image "$WORK/noisy.img" "$WORK/tiny/full.zst" > "$WORK/dout" 2>&1; rc=$?
check "disk full: exit 1 with the reason" bash -c "[ $rc = 1 ] && grep -q 'No space left' '$WORK/dout'"
check "disk full: no image and no partial left" bash -c "! ls '$WORK/tiny' | grep -q full"

# A failing source: the image's info lists the bad ranges.
fsrc=$(fault_drive img 16M --bad 5242880:4096 --bad 9437184:512)
"$CB" image "$fsrc" "$WORK/out/failing.zst" > "$WORK/bout" 2>&1; rc=$?
check "failing source: exit 3" test $rc = 3
"$CB" info "$WORK/out/failing.zst" --json > "$WORK/binfo.json"
check "failing source: info lists the bad ranges" json "$WORK/binfo.json" "assert [(b['offset'], b['length']) for b in r['bad_sectors']] == [(5242880, 4096), (9437184, 512)], r['bad_sectors']"
"$TOOLS/faultdisk" --dump "$WORK/fexp.img" --size 16M
dd if=/dev/zero of="$WORK/fexp.img" bs=512 seek=$((5242880 / 512)) count=8 conv=notrunc status=none
dd if=/dev/zero of="$WORK/fexp.img" bs=512 seek=$((9437184 / 512)) count=1 conv=notrunc status=none
check "failing source: image holds every readable sector, zeros for bad" bash -c "zstd -q -d -c '$WORK/out/failing.zst' | cmp - '$WORK/fexp.img'"
finish
