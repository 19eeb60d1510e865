#!/bin/bash
# Multicast benchmark (issue 20): one image sent by `clonebay send` to 1, 2
# and 4 `clonebay receive` over veth pairs on a bridge (tests/netroom.sh),
# each receiver restoring onto its own loop device, against a local
# `clonebay restore` of the same image onto the same kind of drive.
#   session rate: the image's bytes over the transfer's time (sender's report),
#                 and the disk bytes they carry per second
#   receiver rate: each receiver's copy phase (its report), slowest and fastest
# Everything lives on tmpfs (source, image, targets): the one virtual disk
# of these machines would otherwise be shared by every receiver's writes.
# The source is half random (incompressible), half zeros. Medians of RUNS.
# This machine has 2 cores for the sender and every receiver (a room has a
# CPU per PC): give a BITRATE (udpcast syntax, 200m) to see the session
# rate hold as receivers are added while the CPUs are not the limit.
# Usage: tests/bench/multicast_bench.sh [SIZE=1G] [RUNS=3] [BITRATE]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
. tests/netroom.sh
BENCH_DIR=${BENCH_DIR:-/dev/shm/clonebay-bench-multicast}
bench_setup multicast "${1:-1G}" "${2:-3}"
BITRATE=(${3:+--max-bitrate "$3"})
eval "$(trap -p EXIT | sed "s/^trap -- '/trap -- 'room_gone; /")"
for tool in udp-sender udp-receiver ip; do command -v $tool >/dev/null || { echo "$tool is not installed"; exit 1; }; done
room 4

truncate -s "$bytes" "$DIR/src.img"
random_stream 7 | head -c $((bytes / 2)) | dd of="$DIR/src.img" conv=notrunc bs=1M iflag=fullblock status=none
"$CB" image "$DIR/src.img" "$DIR/disk" --no-verify > /dev/null
img=$DIR/disk.zst
img_bytes=$(stat -c %s "$img")
for i in 1 2 3 4; do truncate -s "$bytes" "$DIR/t$i.img"; T[i]=$(losetup -f --show "$DIR/t$i.img"); done
rate() { python3 -c "import json; print(json.load(open('$1'))['$2'])"; }
mb() { awk -v b="$1" 'BEGIN {printf "%.0f", b / 1e6}'; }

# Local restore: the same image onto the same kind of drive.
v=()
for _ in $(seq "$RUNS"); do
    "$CB" restore "$img" "${T[1]}" --yes --no-verify --report "$DIR/local.json" > /dev/null
    v+=("$(rate "$DIR/local.json" average_rate)")
done
local_rate=$(printf '%s\n' "${v[@]}" | median)

# session N: one send to N receivers; sets WIRE (image bytes/s), SLOW and FAST (receivers' disk bytes/s).
session() {
    local n=$1 i pids=()
    rm -f "$DIR"/r*.json "$DIR"/r*.log
    for ((i = 1; i <= n; i++)); do
        in_ns $i timeout 300 "$CB" receive "${T[i]}" --interface cb0 --yes --wait 120 --report "$DIR/r$i.json" \
            > "$DIR/r$i.log" 2>&1 &
        pids+=($!)
    done
    in_ns 0 timeout 300 "$CB" send "$img" --clients "$n" "${BITRATE[@]}" --interface cb0 --report "$DIR/send.json" > /dev/null 2>&1
    for p in "${pids[@]}"; do wait "$p"; done
    WIRE=$(rate "$DIR/send.json" rate)
    local rates=()
    for ((i = 1; i <= n; i++)); do rates+=("$(rate "$DIR/r$i.json" average_rate)"); done
    SLOW=$(printf '%s\n' "${rates[@]}" | sort -g | head -1)
    FAST=$(printf '%s\n' "${rates[@]}" | sort -g | tail -1)
}

declare -A W S F
for n in 1 2 4; do
    w=() s=() f=()
    for _ in $(seq "$RUNS"); do session $n; w+=("$WIRE"); s+=("$SLOW"); f+=("$FAST"); done
    W[$n]=$(printf '%s\n' "${w[@]}" | median)
    S[$n]=$(printf '%s\n' "${s[@]}" | median)
    F[$n]=$(printf '%s\n' "${f[@]}" | median)
done

echo "multicast bench: $SIZE disk ($(mb "$img_bytes") MB image), median of $RUNS runs, veth + bridge, targets on tmpfs${3:+, --max-bitrate $3}"
echo "local restore (clonebay restore --no-verify): $(mb "$local_rate") MB/s of disk"
printf '%-9s %12s %12s %10s %14s %14s %10s\n' receivers "wire MB/s" "disk MB/s" "vs 1" "slowest MB/s" "fastest MB/s" "vs local"
for n in 1 2 4; do
    disk=$(awk -v w="${W[$n]}" -v i="$img_bytes" -v d="$bytes" 'BEGIN {print w * d / i}')
    printf '%-9s %12s %12s %10.2f %14s %14s %10.2f\n' "$n" "$(mb "${W[$n]}")" "$(mb "$disk")" \
        "$(awk -v a="${W[$n]}" -v b="${W[1]}" 'BEGIN {print a / b}')" "$(mb "${S[$n]}")" "$(mb "${F[$n]}")" \
        "$(awk -v a="${S[$n]}" -v b="$local_rate" 'BEGIN {print a / b}')"
done
