#!/bin/bash
# A freshly installed large disk (issue 25): a sparse GPT disk with a 512 MiB ESP and
# an ext4 made with mke2fs defaults (lazy inode-table init) holding ~330 MB of files,
# cloned onto a sparse target of its size. Caches dropped, medians of RUNS, and the
# bytes each tool read (its /proc/PID/io read_bytes):
#   clonebay clone --mode used --no-verify              sha256 on (the default)
#   clonebay clone --mode used --no-verify --hash none  like for like with partclone
#   clonebay clone --mode used                          with verification (one run)
#   partclone.ext4 -b                                   the ext4 partition alone, no hash
#   $OLD_CB clone --mode used --no-verify               an earlier build, when OLD_CB is set
# Before issue 25 clonebay read 18.0 GiB here (whole inode tables and journal) in 19.6 s.
# Usage: [BUILD=build] [OLD_CB=path] tests/bench/used_big_bench.sh [SIZE=1T] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup used-big "${1:-1T}" "${2:-3}"
CB=$PWD/${BUILD:-build}/clonebay
echo "making a $SIZE sparse disk: ESP 512 MiB, ext4 (mke2fs defaults) with ~330 MB of files..."
truncate -s "$SIZE" "$DIR/src.img"
sgdisk -n 1:2048:+512M -t 1:ef00 -n 2:0:0 -t 2:8300 "$DIR/src.img" >/dev/null
dev=$(losetup -f --show "$DIR/src.img"); partx -d "$dev" 2>/dev/null || true; partx -a "$dev"
mkfs.vfat -F 32 -n EFI "${dev}p1" >/dev/null
mkfs.ext4 -q -F "${dev}p2"
mkdir -p "$DIR/m"; mount -o noinit_itable "${dev}p2" "$DIR/m"
for i in $(seq 20); do random_stream "f$i" | head -c 10M > "$DIR/m/r$i.bin"; done
cp -a /usr/share/doc "$DIR/m/doc"; cp -a /usr/share/man "$DIR/m/man" 2>/dev/null || true
sync; echo "used: $(df -B1 --output=used "$DIR/m" | tail -1) bytes as df counts them"
umount "$DIR/m"; partx -d "$dev"; losetup -d "$dev"
src=$(losetup -f --show -r --direct-io=on "$DIR/src.img"); partx -d "$src" 2>/dev/null || true; partx -a "$src"
truncate -s "$bytes" "$DIR/t.img"; tgt=$(losetup -f --show --direct-io=on "$DIR/t.img"); partx -a "$tgt" 2>/dev/null || true

declare -A T R
# run NAME TIMES COMMAND...: median seconds (cold caches) and the bytes read by the last run.
run() {
    local name=$1 n=$2; shift 2; local v=()
    for _ in $(seq "$n"); do
        drop; local s e; s=$(date +%s.%N)
        R[$name]=$(bash -c '"$@" >/dev/null 2>&1; awk "/read_bytes/ {print \$2}" /proc/$$/io' _ "$@")
        e=$(date +%s.%N); v+=("$(echo "$e - $s" | bc -l)")
    done
    T[$name]=$(printf '%s\n' "${v[@]}" | median)
}
keys=(used none verify)
run used "$RUNS" "$CB" clone "$src" "$tgt" --yes --no-verify --mode used
run none "$RUNS" "$CB" clone "$src" "$tgt" --yes --no-verify --mode used --hash none
run verify 1 "$CB" clone "$src" "$tgt" --yes --mode used
partx -a "$tgt" 2>/dev/null || true
if command -v partclone.ext4 >/dev/null; then
    run pc "$RUNS" partclone.ext4 -q -b -s "${src}p2" -o "${tgt}p2"; keys+=(pc)
fi
if [ -n "${OLD_CB:-}" ]; then run old "$RUNS" "$OLD_CB" clone "$src" "$tgt" --yes --no-verify --mode used; keys+=(old); fi

printf '\n%s sparse disk, medians of %s runs, caches dropped\n' "$SIZE" "$RUNS"
printf '%-58s %8s %12s\n' "" seconds "MiB read"
for k in "${keys[@]}"; do
    case $k in used) n="clonebay --mode used --no-verify (sha256)";; none) n="clonebay --mode used --no-verify --hash none";;
        verify) n="clonebay --mode used, verified (sha256, 1 run)";; pc) n="partclone.ext4 -b (the ext4 partition, no hash)";;
        old) n="$OLD_CB --mode used --no-verify (sha256)";; esac
    printf '%-58s %8.2f %12d\n' "$n" "${T[$k]}" $(( ${R[$k]} >> 20 ))
done
if [ -n "${T[pc]:-}" ]; then
    printf '\npartclone / clonebay: %.1fx with sha256, %.1fx without hashes (goal >= 10)\n' \
        "$(echo "${T[pc]} / ${T[used]}" | bc -l)" "$(echo "${T[pc]} / ${T[none]}" | bc -l)"
fi
