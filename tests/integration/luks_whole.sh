#!/bin/bash
# An encrypted partition in a layout cloned to a smaller drive (issue 19): a
# GPT disk with an ESP, an ext4 root with files and a real LUKS2 partition
# made by cryptsetup (key file; its data area full of random bytes, as an
# encrypted volume looks from outside) is cloned in used mode to a 0.6x
# drive. The root shrinks; the LUKS partition is copied whole, byte for byte
# (cmp), its key still opens the target's header (cryptsetup
# --test-passphrase, no device-mapper needed), and the report names it as
# encrypted and copied whole. A drive too small for the LUKS partition at its
# size is refused with that reason before a byte is written. (BitLocker
# volumes cannot be made on this machine: no tool writes one.)
. "$(dirname "$0")/../lib.sh"
need_root luks_whole
for t in cryptsetup sgdisk mkfs.ext4 mkfs.vfat e2fsck; do
    command -v $t >/dev/null || { skip luks_whole "$t is missing"; exit 0; }
done
export CLONEBAY_SCRATCH=$WORK

truncate -s 512M "$WORK/src.img"
sgdisk -n 1:1M:+32M -t 1:ef00 -c 1:EFI -n 2:0:-128M -t 2:8300 -c 2:root -n 3:0:0 -t 3:8309 -c 3:secret \
    "$WORK/src.img" >/dev/null
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
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/src.img" -r)
check "the source's partition 3 is LUKS2 (blkid)" bash -c "blkid -o value -s TYPE ${src}p3 | grep -qx crypto_LUKS"
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
check "the source was never written" test "$(sha "$WORK/src.img")" = "$src_sha"

# 150 MiB: the ESP and the LUKS partition at its size need 161 MiB. Refused, saying why.
random_file "$WORK/tiny.img" 150M 4; tiny=$(attach "$WORK/tiny.img"); keep=$(sha "$WORK/tiny.img")
"$CB" clone "$src" "$tiny" --yes > "$WORK/tiny.out" 2>&1; rc=$?
check "too small for the LUKS partition: refused (exit 2)" test $rc = 2
check "the refusal names the partition, says it is encrypted and copied whole, and the room" \
    grep -q "partition #3 (crypto_LUKS) is encrypted, copied whole at its size of .* but would get .* on $tiny" \
    "$WORK/tiny.out"
check "too small: target untouched" test "$(sha "$WORK/tiny.img")" = "$keep"
finish
