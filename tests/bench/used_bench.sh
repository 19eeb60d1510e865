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
SIZE=${1:-4G}
RUNS=${2:-3}
CB=$PWD/build/clonebay
bench_dir used
bytes=$(numfmt --from=iec "$SIZE")
echo "making a $SIZE disk, ext4 about 25% used..."
one_partition_disk "$bytes"
mkfs.ext4 -q -F "${dev}p1"; mkdir -p "$DIR/m"; mount "${dev}p1" "$DIR/m"
{ openssl enc -aes-128-ctr -pass pass:gone -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; } |
    head -c $((bytes * 30 / 100)) > "$DIR/m/deleted.bin"; sync; rm "$DIR/m/deleted.bin"; sync
want=$((bytes / 4)); i=0
while [ "$(du -sb "$DIR/m" | cut -f1)" -lt "$want" ]; do
    mkdir -p "$DIR/m/c$i"; cp -a /usr/share/doc /usr/include "$DIR/m/c$i/" 2>/dev/null || true
    i=$((i + 1)); [ $i -gt 200 ] && break
done
echo "used: $(du -sh "$DIR/m" | cut -f1)"
umount "$DIR/m"; partx -d "$dev"; losetup -d "$dev"
src=$(losetup -f --show -r --direct-io=on "$DIR/src.img"); partx -d "$src" 2>/dev/null || true; partx -a "$src"
fallocate -l "$bytes" "$DIR/t.img"; tgt=$(losetup -f --show --direct-io=on "$DIR/t.img")
dd if="$src" of="$tgt" bs=4M iflag=direct oflag=direct status=none; partx -a "$tgt"

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
