#!/bin/bash
# clonebay mount benchmark, caches dropped before every run, medians of RUNS:
#   time to mount an image of a SIZE disk and list its root folder (goal < 1 s)
#   cat of a large file from the mounted image vs from the source drive itself
#   the helper's peak memory (VmHWM; the frame cache is bounded to 4 frames)
# The source is a GPT disk with one ext4 partition: a large random file
# (3/8 of the disk) and copies of this machine's documents.
# Usage: tests/bench/mount_bench.sh [SIZE=4G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup mount "$@"
trap '"$CB" umount "$DIR/mnt" >/dev/null 2>&1 || true; umount "$DIR/s" "$DIR/m" 2>/dev/null || true;
      detach_under "$DIR"; rm -rf "$DIR"' EXIT

echo "making a $SIZE source disk..."
ext4_source "$bytes"
random_stream large | head -c $((bytes * 3 / 8)) > "$DIR/m/large.bin"
fill_files $((bytes / 2)) /usr/share/doc
umount "$DIR/m"; partx -d "$dev"; losetup -d "$dev"
"$CB" image "$DIR/src.img" "$DIR/img.zst" --mode raw --yes --no-verify >/dev/null 2>&1
echo "image: $(($(stat -c %s "$DIR/img.zst") / 1000000)) MB for $SIZE of disk"

mkdir -p "$DIR/mnt" "$DIR/s"
m=(); for _ in $(seq "$RUNS"); do
    "$CB" umount "$DIR/mnt" >/dev/null 2>&1 || true
    m+=("$(timeit bash -c "'$CB' mount '$DIR/img.zst' '$DIR/mnt' && ls '$DIR/mnt/p1'")")
done
mount_s=$(printf '%s\n' "${m[@]}" | median)
src=$(losetup -r -f --show "$DIR/src.img"); partx -a "$src"
mount -o ro,noload "${src}p1" "$DIR/s"
size=$(stat -c %s "$DIR/s/large.bin")
ti=(); td=(); for _ in $(seq "$RUNS"); do
    ti+=("$(timeit cat "$DIR/mnt/p1/large.bin")"); td+=("$(timeit cat "$DIR/s/large.bin")")
done
img_s=$(printf '%s\n' "${ti[@]}" | median); drv_s=$(printf '%s\n' "${td[@]}" | median)
pid=$(awk '$1 == "pid" {print $2}' "$DIR/mnt/.stats")
hwm=$(awk '/VmHWM/ {print $2}' "/proc/$pid/status")
printf 'mount + ls of the root folder: %.2f s (median of %s)\n' "$mount_s" "$RUNS"
printf 'cat %s MB file: image %.0f MB/s, drive %.0f MB/s (image/drive %.2f)\n' $((size / 1000000)) \
    "$(echo "$size / $img_s / 1000000" | bc -l)" "$(echo "$size / $drv_s / 1000000" | bc -l)" \
    "$(echo "$drv_s / $img_s" | bc -l)"
echo "helper peak RSS: $((hwm / 1024)) MiB"
