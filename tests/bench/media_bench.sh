#!/bin/bash
# Speed on drives that are independent of each other (issue 18): every drive is
# tests/tools/ratedisk, a FUSE file that serves one request at a time at its own
# media rate, over a tmpfs file, on a direct-I/O loop. The loop devices of these
# machines share one virtual disk; these drives share nothing but the CPU, so a
# copier that overlaps reading and writing shows it, and dd's alternation shows too.
#   calibration  dd through 1 and 3 drives at once (reads; writes with 2 writers each)
#   clone 1->1   clonebay clone --hash sha256 vs dd bs=4M iflag=direct oflag=direct
#   clone 1->3   clonebay clone --hash sha256, one target at half the rate
#   image        clonebay image --hash sha256 vs zstd -3 -T0 of the same bytes to /dev/null
#   restore      clonebay restore of that image to 3 drives
# Peak RSS (/usr/bin/time -v) of every clonebay job. Caches dropped before each run,
# medians of RUNS. The clone source is random (incompressible); the image source is
# the first SIZE of a tar of /usr/lib/x86_64-linux-gnu and /usr/share (libraries
# and text: 512M of it is about 3:1 at zstd -3).
# Usage: [BUILD=build] [PARTS="cal clone clone3 image restore"] tests/bench/media_bench.sh [SIZE=512M] [RUNS=3] [RATE=200]
# (as root). RATE is decimal MB/s per drive; the slow target gets RATE/2. PARTS runs some parts only.
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
export BENCH_DIR=${BENCH_DIR:-/dev/shm/clonebay-bench-media}    # tmpfs: media that cost no disk
bench_setup media "${1:-512M}" "${2:-3}"
RATE=${3:-200}
HALF=$(echo "$RATE / 2" | bc -l)
for t in "$CB" "$PWD/${BUILD:-build}/tools/ratedisk" /usr/bin/time; do
    [ -x "$t" ] || { echo "media_bench: $t missing (make BUILD=... tests)" >&2; exit 2; }
done
command -v zstd >/dev/null || { echo "media_bench: zstd missing" >&2; exit 2; }
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg) (the machine is shared: figures are noisy)"

echo "making the $SIZE sources in $DIR..."
random_stream media | head -c "$bytes" > "$DIR/random.bin"
tar -cf - /usr/lib/x86_64-linux-gnu /usr/share 2>/dev/null | head -c "$bytes" > "$DIR/mixed.bin" || true
[ "$(stat -c %s "$DIR/mixed.bin")" = "$bytes" ] || { echo "media_bench: not enough files for a $SIZE mixed source" >&2; exit 2; }
for i in 1 2 3; do fallocate -l "$bytes" "$DIR/t$i.bin"; done
src=$(rate_drive src "$RATE" "$DIR/random.bin")
mix=$(rate_drive mix "$RATE" "$DIR/mixed.bin")
t1=$(rate_drive t1 "$RATE" "$DIR/t1.bin")
t2=$(rate_drive t2 "$RATE" "$DIR/t2.bin")
t3=$(rate_drive t3 "$RATE" "$DIR/t3.bin")
t3s=$(rate_drive t3s "$HALF" "$DIR/t3.bin")        # the same media, half the speed
# loops: every drive's loop again, attached anew if someone took it.
loops() {
    src=$(rate_drive_loop src); mix=$(rate_drive_loop mix); t1=$(rate_drive_loop t1)
    t2=$(rate_drive_loop t2); t3=$(rate_drive_loop t3); t3s=$(rate_drive_loop t3s)
}

# watch OUT NAME... (in the background): note when each drive first wrote, and when
# its writes since the start reached $bytes ("name first done" lines, wall-clock
# seconds); it ends when every drive is done.
watch() {
    rm -f "$1"
    python3 - "$DIR" "$bytes" "$@" <<'EOF' &
import sys, time
d, want, names = sys.argv[1], int(sys.argv[2]), sys.argv[4:]
def wb(n):
    f = open(f"{d}/fuse-{n}/stats").read().split()
    return int(f[f.index("write_bytes") + 1])
base = {n: wb(n) for n in names}
out = open(sys.argv[3], "w", buffering=1)    # its existence says the base is taken
first, done = {}, {}
while len(done) < len(names):
    now = time.time()
    for n in names:
        w = wb(n) - base[n]
        if w > 0 and n not in first: first[n] = now
        if w >= want and n not in done:
            done[n] = now
            out.write(f"{n} {first[n]:.3f} {now:.3f}\n")
    time.sleep(0.02)
EOF
    for _ in $(seq 100); do [ -e "$1" ] && break; sleep 0.05; done
}
# stat_of NAME FIELD: one counter of the drive's stats line.
stat_of() { awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$DIR/fuse-$1/stats"; }
# busy NAME read|write: media seconds charged to the drive so far.
busy() { echo "$(stat_of "$1" "$2_busy_ns") / 1000000000" | bc -l; }
med() { printf '%s\n' "$@" | median; }
mbs() { echo "$bytes / $1 / 1000000" | bc -l; }

declare -A T
# part NAME: whether PARTS (default all: cal clone clone3 image restore) names it,
# so that one figure can be run again alone.
part() { [[ " ${PARTS:-cal clone clone3 image restore} " == *" $1 "* ]]; }
# cbjob KEY ARGS...: one clonebay job under /usr/bin/time -v with cold caches; its
# wall time, copy and verify phase (from --report) and peak RSS go into $KEY_*.
cbjob() {
    local key=$1 s e; shift
    drop; s=$(date +%s.%N)
    /usr/bin/time -v -o "$DIR/time" "$CB" "$@" --report "$DIR/r.json" >"$DIR/out" 2>&1 ||
        { echo "media_bench: clonebay $* failed:" >&2; cat "$DIR/out" >&2; exit 1; }
    e=$(date +%s.%N)
    grep -q 'VERIFIED' "$DIR/out" || { echo "media_bench: not VERIFIED: clonebay $*" >&2; cat "$DIR/out" >&2; exit 1; }
    W[$key]+="$(echo "$e - $s" | bc -l) "
    C[$key]+="$(python3 -c "import json;print(json.load(open('$DIR/r.json'))['copy_seconds'])") "
    V[$key]+="$(python3 -c "import json;print(json.load(open('$DIR/r.json'))['verify_seconds'])") "
    R[$key]+="$(awk '/Maximum resident/ {print $NF / 1024}' "$DIR/time") "
}
declare -A W C V R
# ddpar SECONDS-KEY CMD...: wall time of the commands run at once (each a string).
ddpar() {
    local key=$1 s e p=(); shift
    drop; s=$(date +%s.%N)
    for c in "$@"; do bash -c "$c" 2>/dev/null & p+=($!); done
    wait "${p[@]}"; e=$(date +%s.%N)
    T[$key]+="$(echo "$e - $s" | bc -l) "
}

if part cal; then
    echo "calibration: dd through the drives..."
    half=$((bytes / 2 / 4194304))
    for _ in $(seq "$RUNS"); do
        loops
        ddpar read1 "dd if=$src of=/dev/null bs=4M iflag=direct"
        ddpar read3 "dd if=$t1 of=/dev/null bs=4M iflag=direct" "dd if=$t2 of=/dev/null bs=4M iflag=direct" \
            "dd if=$t3 of=/dev/null bs=4M iflag=direct"
        # Two writers per drive keep its queue full: dd alone idles the drive while it
        # fetches its next block, which is dd's time, not the drive's.
        w=(); for t in $t1 $t2 $t3; do
            w+=("dd if=$DIR/random.bin of=$t bs=4M count=$half oflag=direct"
                "dd if=$DIR/random.bin of=$t bs=4M count=$half skip=$half seek=$half oflag=direct"); done
        ddpar write3 "${w[@]}"
        b0=$(busy t1 write); ddpar write1 "dd if=$DIR/random.bin of=$t1 bs=4M oflag=direct"
        T[write1util]+="$(echo "($(busy t1 write) - $b0) / $(echo "${T[write1]:-}" | awk '{print $NF}')" | bc -l) "
    done
fi

if part clone; then
    echo "clone 1->1..."
    for _ in $(seq "$RUNS"); do
        loops
        ddpar dd11 "dd if=$src of=$t1 bs=4M iflag=direct oflag=direct"
        b0=$(busy src read); n0=$(stat_of src idle)
        watch "$DIR/w11" t1; wp=$!
        cbjob c11 clone "$src" "$t1" --yes --mode raw --hash sha256
        wait $wp
        read -r _ f d < "$DIR/w11"
        T[c11span]+="$(echo "$d - $f" | bc -l) "
        T[c11util]+="$(echo "($(busy src read) - $b0) / $(echo "${C[c11]:-}" | awk '{print $NF}')" | bc -l) "
        T[c11gaps]+="$(($(stat_of src idle) - n0)) "
    done
fi

if part clone3; then
    echo "clone 1->3, one target at half rate..."
    for _ in $(seq "$RUNS"); do
        loops
        watch "$DIR/w13" t1 t2 t3s; wp=$!
        cbjob c13 clone "$src" "$t1" "$t2" "$t3s" --yes --mode raw --hash sha256
        wait $wp
        # The fast targets' write span: from their first write to their last byte.
        T[c13fast]+="$(awk '$1 != "t3s" {s = $3 - $2; if (s > m) m = s} END {print m}' "$DIR/w13") "
        T[c13slow]+="$(awk '$1 == "t3s" {print $3 - $2}' "$DIR/w13") "
    done
fi

if part image; then
    echo "image..."
    for _ in $(seq "$RUNS"); do
        loops
        rm -f "$DIR/img.zst"
        cbjob img image "$mix" "$DIR/img.zst" --hash sha256 --mode raw
        T[zstd]+="$(timeit sh -c "zstd -3 -T0 -q -c '$DIR/mixed.bin' > /dev/null") "
    done
    ratio=$(echo "$bytes / $(stat -c %s "$DIR/img.zst")" | bc -l)
    for _ in $(seq "$RUNS"); do
        loops
        T[zstddrive]+="$(timeit sh -c "dd if=$mix bs=4M iflag=direct status=none | zstd -3 -T0 -q -c > /dev/null") "
    done
fi

if part restore; then
    echo "restore to 3 drives..."
    [ -f "$DIR/img.zst" ] || "$CB" image "$mix" "$DIR/img.zst" --hash sha256 --mode raw >/dev/null 2>&1
    for _ in $(seq "$RUNS"); do
        loops
        cbjob rst restore "$DIR/img.zst" "$t1" "$t2" "$t3" --yes
    done
fi

# --- the table -------------------------------------------------------------
m() { med ${1}; }     # median of a space-separated list
# setup KEY: per run, wall - copy - verify: the job's scan of every drive on the
# machine (it reads their partition tables: another session's slow test drive
# weighs here), identity checks, opening.
setup() {
    local w=(${W[$1]:-}) c=(${C[$1]:-}) v=(${V[$1]:-}) i out=""
    for i in "${!w[@]}"; do out+="$(echo "${w[$i]} - ${c[$i]} - ${v[$i]}" | bc -l) "; done
    echo "$out"
}
printf '\n%s per drive, drives at %s MB/s (slow target %.0f MB/s), medians of %s runs, caches dropped\n' \
    "$SIZE" "$RATE" "$HALF" "$RUNS"
printf '%-50s %7s %7s %6s %13s %7s\n' "" seconds "MB/s" "x rate" "MB/s range" "RSS MiB"
row() { # LABEL SECONDS-LIST [RATE-OF-REFERENCE] [RSS]
    local t r lo hi
    [ -n "${2// /}" ] || return 0
    t=$(m "$2"); r=$(mbs "$t")
    lo=$(mbs "$(printf '%s\n' $2 | sort -g | tail -1)"); hi=$(mbs "$(printf '%s\n' $2 | sort -g | head -1)")
    printf '%-50s %7.2f %7.1f %6.2f %6.0f-%-6.0f %7s\n' "$1" "$t" "$r" "$(echo "$r / ${3:-$RATE}" | bc -l)" "$lo" "$hi" "${4:-}"
}
line() { [ -n "${2// /}" ] || return 0; printf '%-50s %7.2f\n' "$1" "$(m "$2")"; }
rss() { printf '%.0f' "$(printf '%s\n' ${R[$1]:-} | sort -g | tail -1)"; }     # the largest
row "dd read, one drive" "${T[read1]:-}"
row "dd read, three drives at once (each)" "${T[read3]:-}"
part cal && row "dd write, one drive (drive busy $(printf '%.0f' "$(echo "100 * $(m "${T[write1util]:-}")" | bc -l)") %)" "${T[write1]:-}"
row "dd write, three drives at once, 2 writers each" "${T[write3]:-}"
part clone && echo "clone 1->1"
row "  dd bs=4M iflag=direct oflag=direct" "${T[dd11]:-}"
row "  clonebay sha256, copy phase" "${C[c11]:-}" "$RATE" "$(rss c11)"
row "  clonebay sha256, target's write span" "${T[c11span]:-}"
line "  clonebay verify phase (s)" "${V[c11]:-}"
line "  clonebay setup (s)" "$(setup c11)"
part clone3 && echo "clone 1->3 (targets $RATE, $RATE, $(printf '%.0f' "$HALF") MB/s)"
row "  fast targets' write span (slower of the two)" "${T[c13fast]:-}"
row "  slow target's write span (x its rate)" "${T[c13slow]:-}" "$HALF"
row "  clonebay copy phase (x slow rate)" "${C[c13]:-}" "$HALF" "$(rss c13)"
line "  clonebay verify phase (s)" "${V[c13]:-}"
line "  clonebay setup (s)" "$(setup c13)"
part image && printf 'image (mixed source, ratio %.2f)\n' "$ratio"
row "  zstd -3 -T0 of the file to /dev/null (CPU only)" "${T[zstd]:-}"
row "  dd iflag=direct from the drive | zstd -3 -T0" "${T[zstddrive]:-}"
row "  clonebay image sha256, copy phase" "${C[img]:-}" "$RATE" "$(rss img)"
line "  clonebay verify phase (s)" "${V[img]:-}"
line "  clonebay setup (s)" "$(setup img)"
part restore && echo "restore to 3 drives"
row "  clonebay restore, copy phase" "${C[rst]:-}" "$RATE" "$(rss rst)"
line "  clonebay verify phase (s)" "${V[rst]:-}"
line "  clonebay setup (s)" "$(setup rst)"
part clone && printf '\nsource drive in the 1->1 copy phase: busy %.0f %% (100 %% = the drive set the pace); %s of its\n' \
    "$(echo "100 * $(m "${T[c11util]:-}")" | bc -l)" "$(m "${T[c11gaps]:-}")"
part clone && printf 'requests in the job found it idle for more than 1 ms (the reader let it wait)\n'
part clone && part image && printf 'ratios: clonebay 1->1 copy / dd = %.2f; image copy / min(drive, zstd) = %.2f\n' \
    "$(echo "$(m "${T[dd11]:-}") / $(m "${C[c11]:-}")" | bc -l)" \
    "$(awk -v c="$(mbs "$(m "${C[img]:-}")")" -v z="$(mbs "$(m "${T[zstd]:-}")")" -v r="$RATE" \
        'BEGIN {print c / (z < r ? z : r)}')"
printf 'peak RSS is the largest of the runs; whole job = setup + copy + verify\n'
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
