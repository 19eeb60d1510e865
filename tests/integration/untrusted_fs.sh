#!/bin/bash
# Filesystems whose bitmaps cannot be trusted: an ext4 whose journal needs
# recovery (xfs_io shutdown, as a crashed machine leaves it), an ext4 mounted
# read-write while it is cloned, an NTFS marked dirty. In the default mode and
# with --mode used, such a partition must be copied whole and the report must
# say so: its byte range on the target equals the source's (cmp), and every
# file equals the source's once both have replayed their journals (e2fsck -fy
# on copies, diff -r over read-only mounts; ntfs-3g for NTFS). A crashed ext4
# that would have to shrink onto a smaller drive is refused before writing.
# Targets start full of random bytes, so a block left out shows up.
. "$(dirname "$0")/../lib.sh"
need_root untrusted-fs
for t in xfs_io e2fsck sgdisk; do
    command -v $t >/dev/null || { skip untrusted-fs "$t is not installed (xfsprogs, e2fsprogs, gdisk)"; exit 0; }
done
mkdir -p "$WORK/m" "$WORK/a" "$WORK/b"

# range DEV N: "START LENGTH" of partition N of DEV, in bytes (sysfs counts 512-byte sectors).
range() {
    local p="/sys/class/block/$(basename "$1")p$2"
    echo $(($(cat "$p/start") * 512)) $(($(cat "$p/size") * 512))
}
# same_range SRC DST N: the bytes of partition N are the same on both drives. A mounted
# partition writes through its own device: the whole disk's cache can be stale, so drop it.
same_range() {
    local r
    read -r -a r <<<"$(range "$1" "$3")"
    blockdev --flushbufs "$1" "$2"
    cmp -i "${r[0]}:${r[0]}" -n "${r[1]}" "$1" "$2"
}
# part_copy DEV N FILE: partition N of DEV copied into FILE.
part_copy() { dd if="${1}p$2" of="$3" bs=1M status=none; }
# ext_replayed_equal SRC DST N REF: copies of partition N of both, journals replayed by
# e2fsck -fy, hold the same files, and the same as REF.
ext_replayed_equal() {
    local src=$1 dst=$2 n=$3 ref=$4
    part_copy "$src" "$n" "$WORK/s.ext4" && part_copy "$dst" "$n" "$WORK/t.ext4" || return 1
    e2fsck -fy "$WORK/s.ext4" >/dev/null 2>&1; [ $? -lt 4 ] || { echo "e2fsck of the source copy failed"; return 1; }
    e2fsck -fy "$WORK/t.ext4" >/dev/null 2>&1; [ $? -lt 4 ] || { echo "e2fsck of the target copy failed"; return 1; }
    mount -o ro,loop "$WORK/s.ext4" "$WORK/a" || return 1
    if ! mount -o ro,loop "$WORK/t.ext4" "$WORK/b"; then umount "$WORK/a"; return 1; fi
    local rc=0
    diff -rq --no-dereference "$WORK/a/data" "$WORK/b/data" || rc=1
    diff -rq --no-dereference "$ref" "$WORK/b/data" || rc=1
    umount "$WORK/a" "$WORK/b"
    return $rc
}
# note_says REPORT TEXT: one of the JSON report's notes contains TEXT.
note_says() { json "$1" "assert any('''$2''' in n for n in r['notes']), r['notes']"; }
# random_target NAME SIZE: a drive full of random bytes.
random_target() {
    head -c "$2" /dev/urandom > "$WORK/$1.img" 2>/dev/null || true
    truncate -s "$2" "$WORK/$1.img"
    attach "$WORK/$1.img"
}
# files DIR, late DIR: what the tests write (the same into a reference folder); the crashed
# source gets the late ones after a sync, so only its journal records their blocks.
files() {
    mkdir -p "$1/data"
    cp -a /usr/share/doc/e2fsprogs /usr/share/doc/gdisk "$1/data/"
    for i in $(seq 300); do echo "file $i" > "$1/data/f$i"; done
}
late() {
    mkdir -p "$1/data/late"
    cp "$WORK/big.bin" "$1/data/late/"
    for i in $(seq 20); do echo "late $i" > "$1/data/late/l$i"; done
}
head -c 30M /dev/urandom > "$WORK/big.bin"
files "$WORK/ref"; late "$WORK/ref"

# --- (a) an ext4 left with its journal needing recovery ---------------------------
# Partition 1 is a clean ext4 (still copied by its bitmaps), partition 2 the crashed one.
truncate -s 160M "$WORK/crash.img"
sgdisk -n 1:1M:+16M -t 1:8300 -n 2:0:+128M -t 2:8300 "$WORK/crash.img" >/dev/null
d=$(attach "$WORK/crash.img")
mkfs.ext4 -q -L clean "${d}p1"
mkfs.ext4 -q -L crashed -E lazy_itable_init=0,lazy_journal_init=0 "${d}p2"
mount "${d}p2" "$WORK/m"
files "$WORK/m"
sync
# The late files fsync'ed (their data written, the journal committed), the filesystem not
# synced (the home bitmaps not written), then the log flushed and the filesystem shut
# down: what a power cut leaves after a program saved its files.
late "$WORK/m"
find "$WORK/m/data/late" -type f -exec sync {} +
xfs_io -x -c "shutdown -f" "$WORK/m"
# The power cut: what reached the drive (its backing file), not what the unmount would still
# write from the cache (the home metadata blocks).
cp --sparse=always "$WORK/crash.img" "$WORK/cut.img"
umount "$WORK/m"
partx -d "$d"; losetup -d "$d"
src=$(attach "$WORK/cut.img" -r)
if dumpe2fs -h "${src}p2" 2>/dev/null | grep -q needs_recovery; then
    pass "crashed ext4: the source's journal needs recovery (dumpe2fs)"
else
    fail "crashed ext4: the source's journal needs recovery (dumpe2fs)" "xfs_io shutdown did not leave needs_recovery"
fi
for mode in default used; do
    t=$(random_target "crash-$mode" 160M)
    args=(); [ $mode = used ] && args=(--mode used)
    "$CB" clone "$src" "$t" "${args[@]}" --yes --report "$WORK/crash-$mode.json" > "$WORK/crash-$mode.out" 2>&1
    rc=$?
    partx -a "$t" 2>/dev/null
    check "crashed ext4, $mode mode: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/crash-$mode.out'"
    check "crashed ext4, $mode mode: used mode, the clean partition by its bitmaps" json "$WORK/crash-$mode.json" \
        "assert r['mode'] == 'used' and r['bytes_in_domain'] < r['bytes_total'] - (8 << 20), (r['mode'], r['bytes_in_domain'])"
    check "crashed ext4, $mode mode: the report names the partition copied whole and why" \
        note_says "$WORK/crash-$mode.json" "partition #2 (ext4) copied whole: its journal needs recovery"
    check "crashed ext4, $mode mode: partition #2's bytes equal the source's (cmp)" same_range "$src" "$t" 2
    check "crashed ext4, $mode mode: every file equal once both journals are replayed (e2fsck -fy, diff -r)" \
        ext_replayed_equal "$src" "$t" 2 "$WORK/ref/data"
    check "crashed ext4, $mode mode: the clean partition is clean (e2fsck -fn)" e2fsck -fn "${t}p1"
done

# Onto a smaller drive in used mode, partition #2 would have to shrink: refused, named,
# with what to do, and nothing written.
t=$(random_target crash-small 96M)
before=$(sha "$t")
"$CB" clone "$src" "$t" --mode used --yes > "$WORK/crash-small.out" 2>&1; rc=$?
check "crashed ext4 onto a smaller drive: refused before writing (exit 2)" bash -c "[ $rc = 2 ]"
check "crashed ext4 onto a smaller drive: the refusal names the partition, the reason and e2fsck" bash -c \
    "grep -q 'partition #2 (ext4) would have to shrink, and cannot be shrunk safely: its journal needs recovery' '$WORK/crash-small.out' && grep -q 'e2fsck -f' '$WORK/crash-small.out'"
check "crashed ext4 onto a smaller drive: the target is untouched" test "$(sha "$t")" = "$before"

# Onto a larger drive in used mode, partition #2 is copied whole, then grown: e2fsck -fy
# replays its journal on the target first, so it ends clean, with every file.
t=$(random_target crash-big 224M)
"$CB" clone "$src" "$t" --mode used --yes --report "$WORK/crash-big.json" > "$WORK/crash-big.out" 2>&1; rc=$?
partx -a "$t" 2>/dev/null
check "crashed ext4 onto a larger drive: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/crash-big.out'"
check "crashed ext4 onto a larger drive: the report names the partition copied whole" \
    note_says "$WORK/crash-big.json" "partition #2 (ext4) copied whole: its journal needs recovery"
check "crashed ext4 onto a larger drive: grown and clean (e2fsck -fn)" bash -c \
    "e2fsck -fn ${t}p2 && [ \$(blockdev --getsize64 ${t}p2) -gt \$(blockdev --getsize64 ${src}p2) ]"
mount -o ro "${t}p2" "$WORK/b"
check "crashed ext4 onto a larger drive: every file there" diff -rq --no-dereference "$WORK/ref/data" "$WORK/b/data"
umount "$WORK/b"

# --- (b) an ext4 mounted read-write while it is cloned ------------------------------
truncate -s 160M "$WORK/live.img"
sgdisk -n 1:1M:+16M -t 1:8300 -n 2:0:+128M -t 2:8300 "$WORK/live.img" >/dev/null
live=$(attach "$WORK/live.img")
mkfs.ext4 -q -L clean "${live}p1"
mkfs.ext4 -q -L live -E lazy_itable_init=0,lazy_journal_init=0 "${live}p2"
mkdir -p "$WORK/live"
mount "${live}p2" "$WORK/live" && defer "umount $WORK/live"
files "$WORK/live"; late "$WORK/live"
sync
for mode in default used; do
    t=$(random_target "live-$mode" 160M)
    args=(); [ $mode = used ] && args=(--mode used)
    "$CB" clone "$live" "$t" "${args[@]}" --yes --report "$WORK/live-$mode.json" > "$WORK/live-$mode.out" 2>&1
    rc=$?
    partx -a "$t" 2>/dev/null
    check "mounted ext4, $mode mode: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/live-$mode.out'"
    check "mounted ext4, $mode mode: the report names the partition copied whole and the mount" \
        note_says "$WORK/live-$mode.json" "partition #2 (ext4) copied whole: ${live}p2 is mounted read-write on $WORK/live"
    check "mounted ext4, $mode mode: the clean partition is still copied by its bitmaps" json "$WORK/live-$mode.json" \
        "assert r['mode'] == 'used' and r['bytes_in_domain'] < r['bytes_total'] - (8 << 20), r['bytes_in_domain']"
    check "mounted ext4, $mode mode: partition #2's bytes equal the source's (cmp)" same_range "$live" "$t" 2
done
umount "$WORK/live"
for mode in default used; do
    t=$(losetup -j "$WORK/live-$mode.img" | cut -d: -f1)
    check "mounted ext4, $mode mode: every file equal once the target's journal is replayed" \
        ext_replayed_equal "$live" "$t" 2 "$WORK/ref/data"
done

# --- (c) an NTFS marked dirty ----------------------------------------------------------
if command -v mkntfs >/dev/null && command -v ntfs-3g >/dev/null && command -v ntfsinfo >/dev/null; then
    truncate -s 96M "$WORK/nt.img"
    sgdisk -n 1:1M:+80M -t 1:0700 "$WORK/nt.img" >/dev/null
    d=$(attach "$WORK/nt.img")
    mkntfs -Q -q -F -L WIN "${d}p1" 2>/dev/null
    ntfs-3g "${d}p1" "$WORK/m" && files "$WORK/m" && late "$WORK/m" && umount "$WORK/m"
    partx -d "$d"; losetup -d "$d"
    ntfs_dirty "$WORK/nt.img" $((1 << 20))
    nsrc=$(attach "$WORK/nt.img" -r)
    check "dirty NTFS: the source reads as dirty (ntfsinfo)" bash -c "ntfsinfo -f -m ${nsrc}p1 | grep -q 'Volume Flags:.*DIRTY'"
    for mode in default used; do
        t=$(random_target "nt-$mode" 96M)
        args=(); [ $mode = used ] && args=(--mode used)
        "$CB" clone "$nsrc" "$t" "${args[@]}" --yes --report "$WORK/nt-$mode.json" > "$WORK/nt-$mode.out" 2>&1
        rc=$?
        partx -a "$t" 2>/dev/null
        check "dirty NTFS, $mode mode: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/nt-$mode.out'"
        check "dirty NTFS, $mode mode: the report names the partition copied whole and why" \
            note_says "$WORK/nt-$mode.json" "partition #1 (ntfs) copied whole: it is marked dirty"
        check "dirty NTFS, $mode mode: partition #1's bytes equal the source's (cmp)" same_range "$nsrc" "$t" 1
        ntfs-3g -o ro "${nsrc}p1" "$WORK/a" && ntfs-3g -o ro "${t}p1" "$WORK/b"
        check "dirty NTFS, $mode mode: every file equal (ntfs-3g, diff -r)" bash -c \
            "diff -rq '$WORK/a/data' '$WORK/b/data' && diff -rq '$WORK/ref/data' '$WORK/b/data'"
        umount "$WORK/a" "$WORK/b"
    done
    # Onto a larger drive: ntfsresize would act on the volume Windows has not finished with,
    # so the partition keeps its size and is copied whole, saying so.
    t=$(random_target nt-big 128M)
    "$CB" clone "$nsrc" "$t" --yes --report "$WORK/nt-big.json" > "$WORK/nt-big.out" 2>&1; rc=$?
    partx -a "$t" 2>/dev/null
    check "dirty NTFS onto a larger drive: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/nt-big.out'"
    check "dirty NTFS onto a larger drive: the report says it keeps its size, and why" \
        note_says "$WORK/nt-big.json" "partition #1 (ntfs) keeps its size on the target: it is marked dirty"
    check "dirty NTFS onto a larger drive: the same size" test "$(blockdev --getsize64 "${t}p1")" = "$(blockdev --getsize64 "${nsrc}p1")"
    check "dirty NTFS onto a larger drive: the same bytes" same_range "$nsrc" "$t" 1
else
    skip "dirty NTFS" "mkntfs, ntfs-3g or ntfsinfo is not installed"
fi
finish
