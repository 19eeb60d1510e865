#!/bin/bash
# An encrypted partition in a layout cloned to a smaller drive (issue 19): a
# GPT disk with an ESP, an ext4 root with files and a real LUKS2 partition
# made by cryptsetup (key file; its data area full of random bytes, as an
# encrypted volume looks from outside) is cloned in used mode to a 0.6x
# drive. The root shrinks; the LUKS partition is copied whole, byte for byte
# (cmp), its key still opens the target's header (cryptsetup
# --test-passphrase, no device-mapper needed), and the report names it as
# encrypted and copied whole. A drive too small for the LUKS partition at its
# size is refused with that reason before a byte is written. BitLocker
# volumes cannot be made on this machine (no tool writes one): a partition
# with only BitLocker's headers (what blkid reads: the "-FVE-FS-" boot sector
# and its FVE metadata block) stands in for one, to show it is detected and
# copied whole the same way.
. "$(dirname "$0")/../lib.sh"
need_root luks_whole
for t in cryptsetup sgdisk mkfs.ext4 mkfs.vfat e2fsck; do
    command -v $t >/dev/null || { skip luks_whole "$t is missing"; exit 0; }
done
export CLONEBAY_SCRATCH=$WORK

truncate -s 512M "$WORK/src.img"
sgdisk -n 1:1M:+32M -t 1:ef00 -c 1:EFI -n 2:0:-192M -t 2:8300 -c 2:root -n 3:0:+128M -t 3:8309 -c 3:secret \
    -n 4:0:0 -t 4:0700 -c 4:bitlocker "$WORK/src.img" >/dev/null
d=$(attach "$WORK/src.img")
mkfs.vfat -n EFI "${d}p1" >/dev/null
mkfs.ext4 -q -L root "${d}p2"
mkdir -p "$WORK/m" "$WORK/a" "$WORK/b"
mount "${d}p2" "$WORK/m" && cp -a /usr/share/doc/e2fsprogs /usr/share/doc/gdisk "$WORK/m/" &&
    head -c 20M /dev/urandom > "$WORK/m/big.bin" && umount "$WORK/m"
head -c "$(blockdev --getsize64 "${d}p3")" /dev/urandom | dd of="${d}p3" bs=1M status=none iflag=fullblock
head -c 64 /dev/urandom > "$WORK/key"
if ! cryptsetup luksFormat --type luks2 --batch-mode --pbkdf pbkdf2 --pbkdf-force-iterations 1000 \
        --key-file "$WORK/key" "${d}p3" > "$WORK/format.out" 2>&1; then
    fail "luks_whole: cryptsetup luksFormat" "$(tail -2 "$WORK/format.out")"; finish
fi
# BitLocker's headers (Windows 7 and later) over random bytes: the boot sector's jump and
# "-FVE-FS-", the FVE metadata block's offset at byte 176, the block's own signature there.
head -c "$(blockdev --getsize64 "${d}p4")" /dev/urandom | dd of="${d}p4" bs=1M status=none iflag=fullblock
python3 - "${d}p4" <<'EOF2'
import struct, sys
with open(sys.argv[1], 'r+b') as f:
    f.write(b'\xeb\x58\x90-FVE-FS-')
    f.seek(176); f.write(struct.pack('<Q', 1 << 20))
    f.seek(510); f.write(b'\x55\xaa')
    f.seek(1 << 20); f.write(b'-FVE-FS-' + struct.pack('<HH', 64, 2))
EOF2
# The kernel may hold a partition a moment after its umount: retry until it lets go.
for _ in $(seq 50); do partx -d "$d" 2>/dev/null && break; sleep 0.1; done
losetup -d "$d"
src=$(attach "$WORK/src.img" -r)
check "the source's partition 3 is LUKS2 (blkid)" bash -c "blkid -o value -s TYPE ${src}p3 | grep -qx crypto_LUKS"
check "the source's partition 4 reads as BitLocker (blkid)" bash -c "blkid -o value -s TYPE ${src}p4 | grep -qx BitLocker"
src_sha=$(sha "$WORK/src.img")

random_file "$WORK/small.img" 308M 3; small=$(attach "$WORK/small.img")
"$CB" clone "$src" "$small" --yes --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "0.6x clone: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/out'"
partx -u "$small" 2>/dev/null || partx -a "$small" 2>/dev/null
check "GPT valid (sgdisk -v)" bash -c "sgdisk -v '$small' | grep -q 'No problems found'"
check "the root shrank, clean (e2fsck -fn)" bash -c \
    "[ \$(blockdev --getsize64 ${small}p2) -lt \$(blockdev --getsize64 ${src}p2) ] && e2fsck -fn ${small}p2"
mount -o ro "${src}p2" "$WORK/a" && mount -o ro "${small}p2" "$WORK/b"
check "every root file identical (diff -r)" diff -r --no-dereference "$WORK/a" "$WORK/b"
umount "$WORK/a" "$WORK/b"
check "the LUKS partition keeps its size" test "$(blockdev --getsize64 "${small}p3")" = "$(blockdev --getsize64 "${src}p3")"
check "the LUKS partition is byte for byte the source's (cmp)" cmp "${src}p3" "${small}p3"
check "its key opens the target's LUKS2 header (cryptsetup --test-passphrase)" \
    cryptsetup open --test-passphrase --key-file "$WORK/key" "${small}p3"
check "the report names it as LUKS-encrypted and copied whole" json "$WORK/r.json" \
    "assert any('#3 (LUKS-encrypted) copied whole' in n for n in r['notes']), r['notes']"
check "the BitLocker partition is byte for byte the source's (cmp)" cmp "${src}p4" "${small}p4"
check "the report names it as BitLocker-encrypted and copied whole" json "$WORK/r.json" \
    "assert any('#4 (BitLocker-encrypted) copied whole' in n for n in r['notes']), r['notes']"
check "the source was never written" test "$(sha "$WORK/src.img")" = "$src_sha"

# 150 MiB: the ESP and the LUKS partition at its size need 161 MiB. Refused, saying why.
# (The root is planned at its least first, so the LUKS partition is the one found without room.)
random_file "$WORK/tiny.img" 150M 4; tiny=$(attach "$WORK/tiny.img"); keep=$(sha "$WORK/tiny.img")
"$CB" clone "$src" "$tiny" --yes > "$WORK/tiny.out" 2>&1; rc=$?
check "too small for the LUKS partition: refused (exit 2)" test $rc = 2
check "the refusal names the partition, says it is encrypted and copied whole, and the room" \
    grep -q "partition #3 (crypto_LUKS) is encrypted, copied whole at its size of .* but would get .* on $tiny" \
    "$WORK/tiny.out"
check "too small: target untouched" test "$(sha "$WORK/tiny.img")" = "$keep"
finish
