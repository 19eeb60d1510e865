#!/bin/bash
# A Windows PC's drive onto a smaller SSD (issue 19), timed side by side: the
# Windows-like GPT disk of tests/integration/ntfs_shrink.sh (EFI FAT32, MSR,
# NTFS about 30 % used, an NTFS recovery partition at the end), SIZE big, onto
# a drive of 0.6x its size; caches dropped before each run, medians of RUNS:
#   clonebay 0.6x              used blocks, the NTFS shrunk in a scratch file, verified
#   clonebay 0.6x --no-verify  the same without reading the target back
#   clonebay 1.0x --no-verify  the same data onto a same-size drive: no shrink (its cost)
#   partclone + ntfsresize     by hand, as a technician would without clonebay: the
#                              table clonebay laid out (sgdisk --load-backup), EFI, MSR and
#                              recovery by dd, partclone.ntfs -b of the NTFS into a sparse
#                              scratch file, ntfsresize there, partclone.ntfs -b onto the
#                              target partition (partclone cannot write a smaller partition)
#   dd + ntfsresize            the same with dd: the whole NTFS partition into the scratch
#                              file (conv=sparse), ntfsresize, the shrunk volume dd'd over
# Each way's target is judged once (ntfsfix -n, every file's sha256 through ntfs-3g):
# a fast wrong copy must not win. Neither by-hand way reads its target back.
# Usage: tests/bench/ntfs_shrink_bench.sh [SIZE=3G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup ntfs-shrink "${1:-3G}" "${2:-3}"
for t in mkntfs ntfs-3g ntfsfix ntfsresize partclone.ntfs sgdisk mkfs.vfat bc; do
    command -v $t >/dev/null || { echo "ntfs_shrink_bench: $t is missing" >&2; exit 2; }
done
export CLONEBAY_SCRATCH=$DIR
mib=$((bytes >> 20))
small=$((mib * 6 / 10))M

# let_go DEV...: until nothing holds each DEV open exclusively (ntfs-3g lets go a moment after umount).
let_go() {
    local d
    for d in "$@"; do [ -b "$d" ] && let_go_one "$d"; done; return 0
}
let_go_one() {
    for _ in $(seq 300); do
        python3 -c "import os, sys; os.close(os.open(sys.argv[1], os.O_RDONLY | os.O_EXCL))" "$1" 2>/dev/null && return
        sleep 0.1
    done
}
# listing PART: every file's sha256 through ntfs-3g (the oracle for each way's target).
listing() {
    ntfs-3g -o ro "$1" "$DIR/m" || return 1
    (cd "$DIR/m" && find . -type f -print0 | sort -z | xargs -0 sha256sum)
    umount "$DIR/m"; let_go "$1"
}

echo "making a $SIZE Windows-like disk, its NTFS about 30% used..."
truncate -s "$bytes" "$DIR/src.img"
sgdisk -o -n 1:1M:+100M -t 1:ef00 -c 1:"EFI system partition" -n 2:0:+16M -t 2:0c01 -c 2:"Microsoft reserved" \
    -n 3:0:-256M -t 3:0700 -c 3:"Basic data partition" -n 4:0:0 -t 4:2700 -c 4:"Recovery" "$DIR/src.img" >/dev/null
dev=$(losetup -f --show "$DIR/src.img"); partx -d "$dev" 2>/dev/null || true; partx -a "$dev"
mkfs.vfat -F 32 -n SYSTEM "${dev}p1" >/dev/null
mkntfs -Q -q -F -L Windows "${dev}p3" 2>/dev/null
mkntfs -Q -q -F -L Recovery "${dev}p4" 2>/dev/null
mkdir -p "$DIR/m"
ntfs-3g "${dev}p4" "$DIR/m"; random_stream winre | head -c 200M > "$DIR/m/Winre.wim"; umount "$DIR/m"
ntfs-3g "${dev}p3" "$DIR/m"
mkdir -p "$DIR/m/Windows" "$DIR/m/Users/pc"
cp -r /usr/share/doc "$DIR/m/Windows/"; cp -r /usr/include "$DIR/m/Users/pc/"
want=$(( $(blockdev --getsize64 "${dev}p3") * 30 / 100 )); have=$(df -B1 --output=used "$DIR/m" | tail -1)
[ "$have" -lt "$want" ] && random_stream pagefile | head -c $((want - have)) > "$DIR/m/pagefile.sys"
echo "NTFS used: $(df -B1 --output=used "$DIR/m" | tail -1) of $(blockdev --getsize64 "${dev}p3") bytes"
umount "$DIR/m"; let_go "${dev}p3"; let_go "${dev}p4"; partx -d "$dev"; losetup -d "$dev"
src=$(losetup -f --show -r "$DIR/src.img"); partx -d "$src" 2>/dev/null || true; partx -a "$src"

listing "${src}p3" > "$DIR/src.list"
fallocate -l "$small" "$DIR/t06.img"; fallocate -l "$bytes" "$DIR/t10.img"
t06=$(losetup -f --show "$DIR/t06.img"); t10=$(losetup -f --show "$DIR/t10.img")

# The layout clonebay fits onto the 0.6x drive, kept for the by-hand ways.
"$CB" clone "$src" "$t06" --yes > "$DIR/first.out" 2>&1 || { cat "$DIR/first.out"; exit 1; }
sgdisk --backup="$DIR/t06.gpt" "$t06" >/dev/null
partx -u "$t06" 2>/dev/null || partx -a "$t06"
ntfs_bytes=$(blockdev --getsize64 "${t06}p3")

# The by-hand ways, start to end: table, the partitions kept whole, the NTFS shrunk.
by_hand_table() {
    sgdisk --load-backup="$DIR/t06.gpt" "$t06" >/dev/null && partx -u "$t06"
    for p in 1 2 4; do dd if="${src}p$p" of="${t06}p$p" bs=4M status=none || return 1; done
    rm -f "$DIR/scratch.img"
}
with_partclone() {
    by_hand_table || return 1
    truncate -s "$(blockdev --getsize64 "${src}p3")" "$DIR/scratch.img"     # sparse, the partition's size
    partclone.ntfs -q -b -s "${src}p3" -O "$DIR/scratch.img" || return 1
    ntfsresize --force --force --no-progress-bar --size "$ntfs_bytes" "$DIR/scratch.img" || return 1
    partclone.ntfs -q -F -b -s "$DIR/scratch.img" -o "${t06}p3" || return 1
    sync
}
with_dd() {
    by_hand_table || return 1
    dd if="${src}p3" of="$DIR/scratch.img" bs=4M conv=sparse status=none || return 1
    ntfsresize --force --force --no-progress-bar --size "$ntfs_bytes" "$DIR/scratch.img" || return 1
    dd if="$DIR/scratch.img" of="${t06}p3" bs=4M count="$ntfs_bytes" iflag=count_bytes conv=fsync status=none
}

declare -A T OK
judge() {   # judge NAME TARGET: its NTFS clean and every file equal
    partx -u "$2" 2>/dev/null || partx -a "$2" 2>/dev/null || true
    if ntfsfix -n "${2}p3" >/dev/null 2>&1 && listing "${2}p3" | cmp -s - "$DIR/src.list"; then OK[$1]=yes; else OK[$1]=NO; fi
}
# timed TARGET COMMAND...: wall seconds with cold caches, TARGET let go of first; a failure
# stops the bench (a failed run is no time).
timed() {
    let_go "$1" "$1"p*; shift
    drop
    local s e; s=$(date +%s.%N)
    "$@" > "$DIR/run.out" 2>&1 || { echo "ntfs_shrink_bench: failed: $*" >&2; tail -5 "$DIR/run.out" >&2; exit 1; }
    e=$(date +%s.%N); echo "$e - $s" | bc -l
}
run() {
    local name=$1 tgt=$2; shift 2
    local v=()
    # The last way's NTFS on this target is wiped first: what is judged is this way's work.
    partx -u "$tgt" 2>/dev/null || true
    [ -b "${tgt}p3" ] && dd if=/dev/zero of="${tgt}p3" bs=1M count=16 conv=fsync status=none
    for _ in $(seq "$RUNS"); do v+=("$(timed "$tgt" "$@")") || exit 1; done
    T[$name]=$(printf '%s\n' "${v[@]}" | median)
    judge "$name" "$tgt"
}
run cb06 "$t06" "$CB" clone "$src" "$t06" --yes
run cb06nv "$t06" "$CB" clone "$src" "$t06" --yes --no-verify
run cb10nv "$t10" "$CB" clone "$src" "$t10" --yes --no-verify
run pc "$t06" with_partclone
run dd "$t06" with_dd
rm -f "$DIR/scratch.img"

printf '\n%s disk onto %s (NTFS %s bytes there), medians of %s runs, caches dropped\n' "$SIZE" "$small" \
    "$ntfs_bytes" "$RUNS"
printf '%-52s %8s %10s %6s\n' "" seconds "ratio" valid
for k in cb06 cb06nv cb10nv pc dd; do
    case $k in cb06) n="clonebay clone onto 0.6x (verified)";; cb06nv) n="clonebay clone onto 0.6x --no-verify";;
        cb10nv) n="clonebay clone onto 1.0x --no-verify (no shrink)";;
        pc) n="by hand: partclone.ntfs + ntfsresize (no verify)";; dd) n="by hand: dd + ntfsresize (no verify)";; esac
    printf '%-52s %8.2f %9.2fx %6s\n' "$n" "${T[$k]}" "$(echo "${T[$k]} / ${T[cb06nv]}" | bc -l)" "${OK[$k]}"
done
printf '(ratio: time / clonebay onto 0.6x --no-verify)\n'
printf '\nthe cost of the shrink (0.6x / 1.0x, both --no-verify): %.2fx\n' "$(echo "${T[cb06nv]} / ${T[cb10nv]}" | bc -l)"
printf 'partclone + ntfsresize / clonebay 0.6x --no-verify: %.2fx; dd + ntfsresize / clonebay: %.2fx\n' \
    "$(echo "${T[pc]} / ${T[cb06nv]}" | bc -l)" "$(echo "${T[dd]} / ${T[cb06nv]}" | bc -l)"
