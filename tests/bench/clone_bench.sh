#!/bin/bash
# Side-by-side copy benchmark on loop devices backed by files (direct I/O on the
# loop, O_DIRECT in every tool, caches dropped before each run), medians of RUNS.
#   dd bs=4M iflag=direct oflag=direct       (no hashing)
#   dc3dd hash=sha256
#   clonebay clone --hash sha256             (copy phase, and total with verify)
#   three sequential dd runs vs clonebay to three targets at once
# Usage: tests/bench/clone_bench.sh [SIZE=4G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
. tests/bench/bench_lib.sh
bench_setup clone "$@"
echo "making a $SIZE random source..."
random_stream bench | head -c "$bytes" > "$DIR/src.img"
for i in 1 2 3; do fallocate -l "$bytes" "$DIR/t$i.img"; done
attach() { losetup -f --show --direct-io=on "$@"; }
src=$(attach -r "$DIR/src.img"); t1=$(attach "$DIR/t1.img"); t2=$(attach "$DIR/t2.img"); t3=$(attach "$DIR/t3.img")
# First writes allocate blocks; do them once so every tool overwrites allocated space.
for t in $t1 $t2 $t3; do dd if="$src" of="$t" bs=4M iflag=direct oflag=direct status=none; done

mbs() { echo "scale=1; $bytes / $1 / 1000000" | bc -l; }

declare -A T
run() { local name=$1; shift; local v=(); for _ in $(seq "$RUNS"); do v+=("$(timeit "$@")"); done; T[$name]=$(printf '%s\n' "${v[@]}" | median); }
run dd dd if="$src" of="$t1" bs=4M iflag=direct oflag=direct
run dc3dd dc3dd if="$src" of="$t1" hash=sha256 nwspc=on
cbcopy=(); cbtotal=(); cb3=()
for _ in $(seq "$RUNS"); do
    drop; "$CB" clone "$src" "$t1" --hash sha256 --yes --report "$DIR/r.json" >/dev/null
    cbcopy+=("$(python3 -c "import json;print(json.load(open('$DIR/r.json'))['copy_seconds'])")")
    cbtotal+=("$(python3 -c "import json;r=json.load(open('$DIR/r.json'));print(r['copy_seconds']+r['verify_seconds'])")")
    drop; "$CB" clone "$src" "$t1" "$t2" "$t3" --hash sha256 --no-verify --yes --report "$DIR/r3.json" >/dev/null
    cb3+=("$(python3 -c "import json;print(json.load(open('$DIR/r3.json'))['copy_seconds'])")")
done
T[cb_copy]=$(printf '%s\n' "${cbcopy[@]}" | median)
T[cb_total]=$(printf '%s\n' "${cbtotal[@]}" | median)
T[cb_three]=$(printf '%s\n' "${cb3[@]}" | median)
seq3=()
for _ in $(seq "$RUNS"); do
    a=$(timeit dd if="$src" of="$t1" bs=4M iflag=direct oflag=direct)
    b=$(timeit dd if="$src" of="$t2" bs=4M iflag=direct oflag=direct)
    c=$(timeit dd if="$src" of="$t3" bs=4M iflag=direct oflag=direct)
    seq3+=("$(echo "$a + $b + $c" | bc -l)")
done
T[dd_three]=$(printf '%s\n' "${seq3[@]}" | median)

printf '\n%s source, medians of %s runs, caches dropped, direct I/O\n' "$SIZE" "$RUNS"
printf '%-44s %8s %9s %8s\n' tool seconds MB/s "vs dd"
row() { printf '%-44s %8.2f %9.1f %8.2f\n' "$1" "$2" "$(mbs "$2")" "$(echo "${T[dd]} / $2" | bc -l)"; }
row "dd bs=4M direct (no hash)" "${T[dd]}"
row "dc3dd hash=sha256" "${T[dc3dd]}"
row "clonebay --hash sha256, copy phase" "${T[cb_copy]}"
row "clonebay --hash sha256, copy + verify" "${T[cb_total]}"
printf '\nratios: clonebay copy / dd = %.2f (goal >= 1.3), clonebay copy / dc3dd = %.2f (goal >= 3)\n' \
    "$(echo "${T[dd]} / ${T[cb_copy]}" | bc -l)" "$(echo "${T[dc3dd]} / ${T[cb_copy]}" | bc -l)"
printf 'one to three targets: clonebay %.2f s vs three sequential dd %.2f s = %.2fx (goal >= 2.5)\n' \
    "${T[cb_three]}" "${T[dd_three]}" "$(echo "${T[dd_three]} / ${T[cb_three]}" | bc -l)"
