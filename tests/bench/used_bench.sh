#!/bin/bash
# Used-blocks cloning vs whole-disk copies, side by side on one disk (GPT, one
# ext4 partition about 25% used, the rest free or deleted data), caches dropped,
# medians of RUNS:
#   dd bs=4M direct                          the whole disk
#   clonebay clone --mode raw --no-verify    the whole disk (sha256 on)
#   clonebay clone --mode used               the used blocks (hashed, --no-verify)
#   partclone.ext4 -b                        the used blocks of the same partition
# Usage: tests/bench/used_bench.sh [SIZE=4G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup used "$@"
echo "making a $SIZE disk, ext4 about 25% used..."
ext4_source "$bytes"
deleted_data $((bytes * 30 / 100))
# Files up to ~12%, then one random file tops the filesystem up to 25% used as df counts
# it (metadata and journal included): copies of whole folders would overshoot.
fill_files $((bytes / 8)) /usr/share/doc /usr/include
have=$(df -B1 --output=used "$DIR/m" | tail -1)
[ "$have" -lt $((bytes / 4)) ] && random_stream top | head -c $((bytes / 4 - have)) > "$DIR/m/top.bin"
sync
echo "used: $(df -B1 --output=used "$DIR/m" | tail -1) bytes of $bytes ($(df --output=pcent "$DIR/m" | tail -1 | tr -d ' ') of the filesystem)"
source_and_target; partx -a "$tgt"

declare -A T
run() { local name=$1; shift; local v=(); for _ in $(seq "$RUNS"); do v+=("$(timeit "$@")"); done; T[$name]=$(printf '%s\n' "${v[@]}" | median); }
run dd dd if="$src" of="$tgt" bs=4M iflag=direct oflag=direct
run raw "$CB" clone "$src" "$tgt" --yes --no-verify --mode raw
run used "$CB" clone "$src" "$tgt" --yes --no-verify --mode used
run pc partclone.ext4 -q -b -s "${src}p1" -o "${tgt}p1"
printf '\n%s disk, medians of %s runs, caches dropped\n' "$SIZE" "$RUNS"
printf '%-46s %8s\n' "" seconds
for k in dd raw used pc; do
    case $k in dd) n="dd bs=4M direct (whole disk)";; raw) n="clonebay clone --mode raw (sha256)";;
        used) n="clonebay clone --mode used (sha256)";; pc) n="partclone.ext4 -b (the partition, no hash)";; esac
    printf '%-46s %8.2f\n' "$n" "${T[$k]}"
done
printf '\nused / raw time: %.2f (goal <= 0.35); partclone / used: %.2fx (goal >= 1.2)\n' \
    "$(echo "${T[used]} / ${T[raw]}" | bc -l)" "$(echo "${T[pc]} / ${T[used]}" | bc -l)"
