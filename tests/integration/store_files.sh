#!/bin/bash
# Files root writes into a store (issue 17, point 7): image parts, raw images
# and reports are created new, so a link or device node planted under their
# names is refused and what it points to stays as it was (sha256); a stale part
# of an older split never joins a new image (zstd -d | cmp); two jobs never
# write one image name (x and x.zst are one); the shrink scratch file is
# private (0700 folder, 0600 file); an image is refused on a filesystem of its
# own source drive whether that is ext4, NTFS through ntfs-3g or btrfs; stores
# are mounted nosuid,nodev,noexec.
. "$(dirname "$0")/../lib.sh"
need_root store_files
for t in zstd mkntfs ntfs-3g resize2fs; do
    command -v $t >/dev/null || { skip store_files "$t is not installed"; exit 0; }
done

# Source: 64 MiB, 12 MiB of random bytes (so --split 4M makes several parts), the rest zeros.
random_file "$WORK/src.img" 64M 7
dd if=/dev/zero of="$WORK/src.img" bs=1M seek=12 count=52 conv=notrunc status=none
src=$(attach "$WORK/src.img" -r)
D=$WORK/store; mkdir -p "$D"
random_file "$WORK/victim" 1M 3
victim_sha=$(sha "$WORK/victim")
# shellcheck disable=SC2317  # called inside check's bash -c
no_partial() { ! compgen -G "$D/$1*partial*" >/dev/null; }
export -f no_partial json; export D

# --- a link planted where the image's part goes ----------------------------------
ln -s "$WORK/victim" "$D/s.zst.partial"
"$CB" image "$src" "$D/s" > "$WORK/s.out" 2>&1; rc=$?
check "link at FILE.zst.partial: refused before writing (exit 2)" test $rc = 2
check "link at FILE.zst.partial: the message names it as a link" grep -q "s.zst.partial is a symbolic link" "$WORK/s.out"
check "link at FILE.zst.partial: victim untouched (sha256)" test "$(sha "$WORK/victim")" = "$victim_sha"
check "link at FILE.zst.partial: the link itself left, no image made" \
    bash -c "[ -L '$D/s.zst.partial' ] && [ ! -e '$D/s.zst' ]"

# The same for the first part of a split image, and for a raw image.
ln -s "$WORK/victim" "$D/p.zst.partial.000"
"$CB" image "$src" "$D/p" --split 4M > "$WORK/p.out" 2>&1; rc=$?
check "link at FILE.zst.partial.000 (--split): refused, victim untouched" \
    bash -c "[ $rc = 2 ] && grep -q 'p.zst.partial.000 is a symbolic link' '$WORK/p.out' && [ \$(sha256sum < '$WORK/victim' | cut -d' ' -f1) = $victim_sha ]"
ln -s "$WORK/victim" "$D/r.img.partial"
"$CB" image "$src" "$D/r.img" > "$WORK/r.out" 2>&1; rc=$?
check "link at FILE.img.partial (raw): refused, victim untouched" \
    bash -c "[ $rc = 2 ] && grep -q 'r.img.partial is a symbolic link' '$WORK/r.out' && [ \$(sha256sum < '$WORK/victim' | cut -d' ' -f1) = $victim_sha ]"

# A device node planted there: root's write would go to that drive.
truncate -s 8M "$WORK/vdrive.img"; random_file "$WORK/vdrive.img" 8M 5
vdrive=$(attach "$WORK/vdrive.img")
vdrive_sha=$(sha "$vdrive")
mknod "$D/n.zst.partial" b $((0x$(stat -c %t "$vdrive"))) $((0x$(stat -c %T "$vdrive")))
"$CB" image "$src" "$D/n" > "$WORK/n.out" 2>&1; rc=$?
check "device node at FILE.zst.partial: refused (exit 2), named as a device node" \
    bash -c "[ $rc = 2 ] && grep -q 'n.zst.partial is a device node' '$WORK/n.out'"
check "device node at FILE.zst.partial: that drive untouched (sha256)" test "$(sha "$vdrive")" = "$vdrive_sha"

# A later part planted as a link is a stale part: removed, never written through.
ln -s "$WORK/victim" "$D/q.zst.partial.002"
"$CB" image "$src" "$D/q" --split 4M > "$WORK/q.out" 2>&1; rc=$?
check "link at a later part: image made (exit 0), victim untouched" \
    bash -c "[ $rc = 0 ] && [ \$(sha256sum < '$WORK/victim' | cut -d' ' -f1) = $victim_sha ]"
check "link at a later part: the parts are the disk (zstd -d | cmp)" \
    bash -c "cat '$D'/q.zst.[0-9][0-9][0-9] | zstd -q -d | cmp - '$WORK/src.img'"

# --- stale parts of an older, longer split -----------------------------------------
# Leftovers of an interrupted run that had more parts: 001..019, junk.
for i in $(seq 1 19); do head -c 4M /dev/urandom > "$D/old.zst.partial.$(printf %03d "$i")"; done
"$CB" image "$src" "$D/old" --split 4M --report "$WORK/old.json" > "$WORK/old.out" 2>&1; rc=$?
check "stale .partial.NNN parts: new split image made and verified (exit 0)" \
    bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/old.out'"
check "stale .partial.NNN parts: zstd -d of the concatenated parts is the disk (cmp)" \
    bash -c "cat '$D'/old.zst.[0-9][0-9][0-9] | zstd -q -d | cmp - '$WORK/src.img'"
check "stale .partial.NNN parts: none left, verify passes" \
    bash -c "no_partial old && '$CB' verify '$D/old.zst' >/dev/null 2>&1"

# A stray final part of an older image (x.zst.005 without .000) would join a new split: it is an image.
head -c 1M /dev/urandom > "$D/stray.zst.005"
"$CB" image "$src" "$D/stray" --split 4M > "$WORK/stray.out" 2>&1; rc=$?
check "stray x.zst.005: refused (exit 2), naming it" \
    bash -c "[ $rc = 2 ] && grep -q 'stray.zst.005 already exists' '$WORK/stray.out' && [ ! -e '$D/stray.zst.000' ]"

# --- two jobs, one name --------------------------------------------------------------
# Job 1 writes c.zst (split: c.zst.partial.000...) slowly; job 2 asks for c.zst: the same image.
race() {   # $1 name for job 1, $2 name for job 2, $3 the partial job 1 holds, then job 1's options
    local first=$1 second=$2 held=$3
    shift 3
    "$CB" image "$src" "$D/$first" --level 19 "$@" > "$WORK/race1.out" 2>&1 &
    local pid=$! i
    for i in $(seq 300); do [ -e "$D/$held" ] && break; sleep 0.05; done
    "$CB" image "$src" "$D/$second" > "$WORK/race2.out" 2>&1; rc2=$?
    wait $pid; rc1=$?
}
race c c.zst c.zst.partial.000 --split 4M
check "x (split) then x.zst at once: the second is refused (exit 2), naming the file being written" \
    bash -c "[ $rc2 = 2 ] && grep -q 'c.zst.partial.000 already exists: another job is writing' '$WORK/race2.out'"
check "x (split) then x.zst at once: the first finishes, its parts are the disk" \
    bash -c "[ $rc1 = 0 ] && [ ! -e '$D/c.zst' ] && cat '$D'/c.zst.[0-9][0-9][0-9] | zstd -q -d | cmp - '$WORK/src.img'"
race e e.zst e.zst.partial
check "x then x.zst at once: the second is refused (exit 2), naming e.zst.partial" \
    bash -c "[ $rc2 = 2 ] && grep -q 'e.zst.partial already exists: another job is writing' '$WORK/race2.out'"
check "x then x.zst at once: the first's image is the disk" \
    bash -c "[ $rc1 = 0 ] && zstd -q -d -c '$D/e.zst' | cmp - '$WORK/src.img'"
check "x.zst then x.zst.000: a finished image of the name is an image" \
    bash -c "'$CB' image '$src' '$D/c.zst' > '$WORK/c3.out' 2>&1; [ \$? = 2 ] && grep -q 'c.zst.000 already exists' '$WORK/c3.out'"

# --- the report: a fresh temp, never a predictable name --------------------------------
ln -s "$WORK/victim" "$WORK/rep.json.tmp"
"$CB" image "$src" "$D/rep" --report "$WORK/rep.json" > /dev/null 2>&1; rc=$?
check "link at REPORT.tmp: image and report made, victim untouched" \
    bash -c "[ $rc = 0 ] && json '$WORK/rep.json' 'assert r[\"operation\"] == \"image\"' && [ \$(sha256sum < '$WORK/victim' | cut -d' ' -f1) = $victim_sha ]"
ln -s "$WORK/victim" "$WORK/rep2.json"
"$CB" image "$src" "$D/rep2" --report "$WORK/rep2.json" > /dev/null 2>&1
check "link at REPORT: replaced by the report, victim untouched" \
    bash -c "[ -f '$WORK/rep2.json' ] && [ ! -L '$WORK/rep2.json' ] && [ \$(sha256sum < '$WORK/victim' | cut -d' ' -f1) = $victim_sha ]"

# --- the shrink scratch file ----------------------------------------------------------
# An ext4 partition that must shrink onto a smaller drive goes through a scratch file.
truncate -s 160M "$WORK/big.img"
sgdisk -n 1:1M:0 -t 1:8300 "$WORK/big.img" >/dev/null
b=$(attach "$WORK/big.img")
mkfs.ext4 -q -L shrink "${b}p1"
mkdir -p "$WORK/m"; mount "${b}p1" "$WORK/m"; head -c 4M /dev/urandom > "$WORK/m/data.bin"; umount "$WORK/m"
partx -d "$b"; losetup -d "$b"
bsrc=$(attach "$WORK/big.img" -r)
truncate -s 96M "$WORK/smaller.img"; small=$(attach "$WORK/smaller.img")
mkdir -p "$WORK/scratch"; chmod 1777 "$WORK/scratch"
CLONEBAY_SCRATCH="$WORK/scratch" CLONEBAY_TEST_PAUSE_SCRATCH="$WORK/pause" \
    "$CB" clone "$bsrc" "$small" --mode used --yes > "$WORK/shrink.out" 2>&1 &
pid=$!
for i in $(seq 200); do [ -e "$WORK/pause.ready" ] && break; sleep 0.1; done
ls -lR "$WORK/scratch" > "$WORK/scratch.ls" 2>&1
sdir=$(find "$WORK/scratch" -mindepth 1 -maxdepth 1 -print -quit)
sfile=$(find "$WORK/scratch" -mindepth 2 -type f -print -quit)
check "scratch: a private folder (0700) of its own" \
    bash -c "[ -e '$WORK/pause.ready' ] && [ -d '$sdir' ] && [ \$(stat -c %a '$sdir') = 700 ]"
check "scratch: the file in it is 0600" bash -c "[ -f '$sfile' ] && [ \$(stat -c %a '$sfile') = 600 ]"
touch "$WORK/pause.go"
wait $pid; rc=$?
check "scratch: the shrinking clone finishes (exit 0)" \
    bash -c "[ $rc = 0 ] && grep -q 'in a scratch file' '$WORK/shrink.out' && e2fsck -fn ${small}p1 >/dev/null 2>&1" 
check "scratch: file and folder removed afterwards" bash -c "[ -z \"\$(ls -A '$WORK/scratch')\" ]"

# --- a store on the source drive itself --------------------------------------------------
# One drive: NTFS, ext4 and (when mkfs.btrfs is there) btrfs partitions, each mounted as a
# store and offered the image of that same drive.
truncate -s 256M "$WORK/own.img"
sgdisk -n 1:1M:+32M -t 1:0700 -n 2:0:+32M -t 2:8300 -n 3:0:+120M -t 3:8300 "$WORK/own.img" >/dev/null
own=$(attach "$WORK/own.img")
mkntfs -Q -q -L NT "${own}p1" >/dev/null 2>&1
mkfs.ext4 -q -L EX "${own}p2"
mkdir -p "$WORK/ntfs" "$WORK/ext" "$WORK/btrfs"
ntfs-3g "${own}p1" "$WORK/ntfs" && defer "umount '$WORK/ntfs'"
mount "${own}p2" "$WORK/ext" && defer "umount '$WORK/ext'"
check "store on the source: ntfs-3g mounted it (FUSE)" \
    bash -c "findmnt -no FSTYPE '$WORK/ntfs' | grep -q fuse"
self_refused() {   # $1 what the store is, $2 where it is mounted (a partition of $own)
    "$CB" image "$own" "$2/self" > "$WORK/self.out" 2>&1
    local rc=$?
    check "$1 store on the source drive: refused (exit 2), nothing written" \
        bash -c "[ $rc = 2 ] && grep -q 'would be written onto the source $own' '$WORK/self.out' && ! ls '$2' | grep -q self"
}
self_refused "NTFS (ntfs-3g)" "$WORK/ntfs"
self_refused ext4 "$WORK/ext"
if command -v mkfs.btrfs >/dev/null && mkfs.btrfs -q "${own}p3" >/dev/null 2>&1 && mount "${own}p3" "$WORK/btrfs"; then
    defer "umount '$WORK/btrfs'"
    check "btrfs store: its files' device number is not the partition's (st_dev alone would miss it)" \
        test "$(mountpoint -d "$WORK/btrfs")" != "$(lsblk -dno MAJ:MIN "${own}p3" | tr -d ' ')"
    self_refused btrfs "$WORK/btrfs"
    "$CB" image "$src" "$WORK/btrfs/other" > "$WORK/other-btrfs.out" 2>&1; rc=$?
    check "btrfs store: another drive's image is written there (exit 0)" \
        bash -c "[ $rc = 0 ] && zstd -q -d -c '$WORK/btrfs/other.zst' | cmp - '$WORK/src.img'"
else
    skip "btrfs store on the source drive" "no mkfs.btrfs (btrfs-progs), or this kernel mounts no btrfs"
fi

# --- how a store is mounted -------------------------------------------------------------
umount "$WORK/ntfs" "$WORK/ext"
mkdir -p "$WORK/mnt"
for fs in ntfs:1 ext4:2; do
    dir=$("$TOOLS/store_mount" "${own}p${fs#*:}" "${fs%:*}" "$WORK/mnt" "S${fs%:*}" 2>"$WORK/sm.err")
    [ -n "$dir" ] && defer "umount '$dir'"
    check "store mount (${fs%:*}): nosuid,nodev,noexec" \
        bash -c "[ -n '$dir' ] && findmnt -no OPTIONS '$dir' | tr , '\n' | sort | grep -c -x -e nosuid -e nodev -e noexec | grep -qx 3"
done

exit "$FAILED"
