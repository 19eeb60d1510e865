#!/bin/bash
# Image benchmark, side by side on the same source in the same run, caches
# dropped before every run, medians of RUNS:
#   dd bs=4M iflag=direct | zstd -T2 -3                    (the pipe people use)
#   dd | tee >(sha256sum) | zstd -T2 -3                    (the pipe, with a hash)
#   partclone.ext4 -c | zstd -T2 -3                        (used blocks only)
#   clonebay image --no-verify (sha256 on), and its verify pass alone
#   restore: zstd -d | dd oflag=direct  vs  clonebay restore --no-verify
# The source is a GPT disk with one ext4 partition: ~37% real files, ~15% data
# that was written and deleted, the rest never written (zeros).
# Usage: tests/bench/image_bench.sh [SIZE=4G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup image "$@"

echo "making a $SIZE source disk (files, deleted data, zeros)..."
ext4_source "$bytes"
deleted=$((bytes * 15 / 100)); files=$((bytes * 37 / 100))
# Deleted data: random bytes that stay on the disk after rm.
deleted_data "$deleted"
# Real files: copies of this machine's programs and documents until the share is reached.
fill_files "$files" /usr/lib/x86_64-linux-gnu /usr/share/doc /usr/bin
used=$(du -sb "$DIR/m" | cut -f1)
source_and_target
echo "source: $SIZE, $((used / 1000000)) MB of files on ext4"

declare -A T
run() { local name=$1; shift; local v=(); for _ in $(seq "$RUNS"); do v+=("$(timeit "$@")"); done; T[$name]=$(printf '%s\n' "${v[@]}" | median); }
pipe() { dd if="$src" bs=4M iflag=direct status=none | zstd -q -T2 -3 > "$DIR/pipe.zst"; }
pipe_sha() { dd if="$src" bs=4M iflag=direct status=none | tee >(sha256sum > "$DIR/pipe.sha") | zstd -q -T2 -3 > "$DIR/pipe.zst"; }
pc() { partclone.ext4 -q -c -s "${src}p1" -o - 2>/dev/null | zstd -q -T2 -3 > "$DIR/pc.zst"; }
cbimg() { rm -f "$DIR/cb.zst"; "$CB" image "$src" "$DIR/cb.zst" --no-verify --report "$DIR/cb.json"; }
cbimg_full() { rm -f "$DIR/cbv.zst"; "$CB" image "$src" "$DIR/cbv.zst" --report "$DIR/cbv.json"; }
zrestore() { zstd -q -d -c "$DIR/pipe.zst" | dd of="$tgt" bs=4M oflag=direct iflag=fullblock status=none; }
cbrestore() { "$CB" restore "$DIR/cb.zst" "$tgt" --yes --no-verify; }

run pipe pipe
run pipe_sha pipe_sha
if command -v partclone.ext4 >/dev/null; then run pc pc; fi
run cb cbimg
vs=(); cs=()
for _ in $(seq "$RUNS"); do
    drop; cbimg_full >/dev/null 2>&1
    cs+=("$(python3 -c "import json;print(json.load(open('$DIR/cbv.json'))['copy_seconds'])")")
    vs+=("$(python3 -c "import json;print(json.load(open('$DIR/cbv.json'))['verify_seconds'])")")
done
T[cb_verify]=$(printf '%s\n' "${vs[@]}" | median)
run zrestore zrestore
run cbrestore cbrestore

mb() { echo "scale=1; $bytes / $1 / 1000000" | bc -l; }
sz() { stat -c %s "$1"; }
printf '\n%s disk, medians of %s runs, caches dropped\n' "$SIZE" "$RUNS"
printf '%-46s %8s %9s %14s %7s\n' "" seconds "disk MB/s" "image bytes" ratio
row() { printf '%-46s %8.2f %9.1f %14s %7s\n' "$1" "$2" "$(mb "$2")" "${3:-}" "${3:+$(echo "scale=2; $bytes / $3" | bc -l)}"; }
row "dd | zstd -T2 -3" "${T[pipe]}" "$(sz "$DIR/pipe.zst")"
row "dd | tee >(sha256sum) | zstd -T2 -3" "${T[pipe_sha]}" "$(sz "$DIR/pipe.zst")"
[ -n "${T[pc]:-}" ] && row "partclone.ext4 -c | zstd -T2 -3 (used blocks)" "${T[pc]}" "$(sz "$DIR/pc.zst")"
row "clonebay image --no-verify (sha256)" "${T[cb]}" "$(sz "$DIR/cb.zst")"
row "clonebay image: verify pass alone" "${T[cb_verify]}"
row "restore: zstd -d | dd oflag=direct" "${T[zrestore]}"
row "restore: clonebay restore --no-verify" "${T[cbrestore]}"
printf '\nclonebay image (sha256 on) / (dd | zstd) throughput: %.2fx (goal >= 1.3); / (dd | tee sha256sum | zstd): %.2fx\n' \
    "$(echo "${T[pipe]} / ${T[cb]}" | bc -l)" "$(echo "${T[pipe_sha]} / ${T[cb]}" | bc -l)"
printf 'image size / pipe size: %.3f (goal <= 1)\n' "$(echo "$(sz "$DIR/cb.zst") / $(sz "$DIR/pipe.zst")" | bc -l)"
printf 'clonebay restore / (zstd -d | dd) throughput: %.2fx (goal >= 1.0)\n' "$(echo "${T[zrestore]} / ${T[cbrestore]}" | bc -l)"
