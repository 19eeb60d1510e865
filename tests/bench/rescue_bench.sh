#!/bin/bash
# Rescue benchmark, side by side with GNU ddrescue on the same drives.
#
# 1. A failing drive (tests/tools/faultdisk over FUSE on a read-only direct-I/O
#    loop): scattered bad sectors, a 1 MiB and a 4 MiB bad area; every failing
#    read costs BAD_LATENCY_US like a drive retrying inside. Time to finish,
#    bytes rescued, and whether the rescued sectors are the same as ddrescue's.
# 2. A healthy drive (file-backed loop, caches dropped): the rescue-capable
#    engine against the plain copy engine it grew from (commit $BASELINE, built
#    on the side), and against ddrescue buffered and --idirect --odirect.
# Usage: tests/bench/rescue_bench.sh [FAULTY_SIZE=1G] [HEALTHY_SIZE=2G] [RUNS=3]   (as root)
set -euo pipefail
cd "$(dirname "$0")/../.."
TOP=$PWD
FSIZE=${1:-1G}
HSIZE=${2:-2G}
RUNS=${3:-3}
BAD_LATENCY_US=${BAD_LATENCY_US:-1000}
BASELINE=${BASELINE:-53eec52}      # the copy engine before rescue landed
CB=$TOP/build/clonebay
FAULTDISK=$TOP/build/tools/faultdisk
DIR=${BENCH_DIR:-/var/tmp/clonebay-bench-rescue}
mkdir -p "$DIR"
. tests/bench/bench_lib.sh
mnt=""
# losetup -d lets go of the FUSE file a moment later: retry the unmount.
unmount() { for _ in $(seq 50); do fusermount3 -u "$1" 2>/dev/null && return; sleep 0.1; done; }
cleanup() {
    detach_under "$DIR"
    [ -n "$mnt" ] && unmount "$mnt"
    git worktree remove --force "$DIR/baseline" 2>/dev/null || true
    rm -rf "$DIR"
}
trap cleanup EXIT
attach() { losetup -f --show "$@"; }
rescued() { ddrescuelog -b 512 -l+ "$1" | wc -l; }          # sectors marked finished

# ---- 1. the failing drive ----------------------------------------------------
fbytes=$(numfmt --from=iec "$FSIZE")
bad=(); for i in $(seq 1 40); do bad+=(--bad "$(( (i * 2654435761 % (fbytes / 512)) * 512 )):512"); done
bad+=(--bad "$((fbytes / 3 / 512 * 512)):1048576" --bad "$((fbytes * 2 / 3 / 512 * 512)):4194304")
mnt=$DIR/fuse; mkdir -p "$mnt"
"$FAULTDISK" "$mnt" --size "$FSIZE" --bad-latency-us "$BAD_LATENCY_US" "${bad[@]}" -f >/dev/null 2>&1 &
for _ in $(seq 50); do [ -e "$mnt/disk" ] && break; sleep 0.1; done
src=$(attach -r --direct-io=on "$mnt/disk")
fallocate -l "$fbytes" "$DIR/ft.img"; tgt=$(attach --direct-io=on "$DIR/ft.img")

declare -A T S
frun() {    # NAME MAPFILE COMMAND...: median time; sectors rescued from the last run's map
    local name=$1 map=$2; shift 2; local v=()
    for _ in $(seq "$RUNS"); do rm -f "$map"; v+=("$(timeit "$@")"); done
    T[$name]=$(printf '%s\n' "${v[@]}" | median); S[$name]=$(rescued "$map")
}
echo "failing drive: $FSIZE, $((${#bad[@]} / 2)) bad areas, ${BAD_LATENCY_US} us per failing read"
frun dr_default "$DIR/d1.map" ddrescue --force "$src" "$tgt" "$DIR/d1.map"
frun dr_idirect "$DIR/d2.map" ddrescue --force --idirect "$src" "$tgt" "$DIR/d2.map"
frun dr_idirect_r1 "$DIR/d3.map" ddrescue --force --idirect -r1 "$src" "$tgt" "$DIR/d3.map"
frun cb_r0 "$DIR/c1.map" "$CB" clone "$src" "$tgt" --yes --hash none --no-verify --retries 0 --map "$DIR/c1.map"
frun cb_r1 "$DIR/c2.map" "$CB" clone "$src" "$tgt" --yes --hash none --no-verify --map "$DIR/c2.map"
frun cb_full "$DIR/c3.map" "$CB" clone "$src" "$tgt" --yes --map "$DIR/c3.map"
same() { cmp -s <(ddrescuelog -b 512 -l+ "$1") <(ddrescuelog -b 512 -l+ "$2") && echo same || echo DIFFERENT; }

printf '\n%-48s %8s %12s %10s\n' "failing drive (medians of $RUNS)" seconds "rescued MB" "sectors"
frow() { printf '%-48s %8.2f %12.3f %10s\n' "$1" "${T[$2]}" "$(echo "${S[$2]} * 512 / 1000000" | bc -l)" "${S[$2]}"; }
frow "ddrescue (defaults: buffered, no retries)" dr_default
frow "ddrescue --idirect" dr_idirect
frow "ddrescue --idirect -r1" dr_idirect_r1
frow "clonebay --hash none --no-verify --retries 0" cb_r0
frow "clonebay --hash none --no-verify (retries 1)" cb_r1
frow "clonebay (defaults: sha256, verify, retries 1)" cb_full
printf 'rescued sectors: clonebay -r0 vs ddrescue --idirect: %s; clonebay -r1 vs ddrescue --idirect -r1: %s\n' \
    "$(same "$DIR/c1.map" "$DIR/d2.map")" "$(same "$DIR/c2.map" "$DIR/d3.map")"
printf 'time ratios (goal <= 1.00): clonebay -r0 / ddrescue --idirect = %.2f, clonebay -r1 / ddrescue --idirect -r1 = %.2f\n' \
    "$(echo "${T[cb_r0]} / ${T[dr_idirect]}" | bc -l)" "$(echo "${T[cb_r1]} / ${T[dr_idirect_r1]}" | bc -l)"
detach_under "$DIR"; unmount "$mnt"; mnt=""

# ---- 2. a healthy drive --------------------------------------------------------
hbytes=$(numfmt --from=iec "$HSIZE")
echo; echo "healthy drive: making a $HSIZE random source..."
random_stream bench | head -c "$hbytes" > "$DIR/src.img"
fallocate -l "$hbytes" "$DIR/t.img"
hsrc=$(attach -r --direct-io=on "$DIR/src.img"); ht=$(attach --direct-io=on "$DIR/t.img")
dd if="$hsrc" of="$ht" bs=4M iflag=direct oflag=direct status=none    # allocate once
base=""
if git worktree add -q --detach "$DIR/baseline" "$BASELINE" 2>/dev/null && make -s -C "$DIR/baseline" >/dev/null 2>&1; then
    base=$DIR/baseline/build/clonebay
else
    echo "(baseline $BASELINE could not be built: the engine comparison is left out)"
fi
# ddrescue with a fresh map each run (an old finished map would make it do nothing).
dr_fresh() { rm -f "$DIR/h.map"; ddrescue --force "$@" "$hsrc" "$ht" "$DIR/h.map"; }
hrun() { local name=$1; shift; local v=(); for _ in $(seq "$RUNS"); do v+=("$(timeit "$@")"); done; T[$name]=$(printf '%s\n' "${v[@]}" | median); }
hrun h_dr dr_fresh
hrun h_dr_direct dr_fresh --idirect --odirect
hrun h_cb "$CB" clone "$hsrc" "$ht" --yes --hash none --no-verify
[ -n "$base" ] && hrun h_base "$base" clone "$hsrc" "$ht" --yes --hash none --no-verify

hmbs() { echo "scale=1; $hbytes / $1 / 1000000" | bc -l; }
printf '\n%-48s %8s %9s\n' "healthy drive $HSIZE (medians of $RUNS)" seconds MB/s
hrow() { printf '%-48s %8.2f %9.1f\n' "$1" "${T[$2]}" "$(hmbs "${T[$2]}")"; }
hrow "ddrescue (buffered)" h_dr
hrow "ddrescue --idirect --odirect" h_dr_direct
[ -n "$base" ] && hrow "clonebay $BASELINE (plain copy engine)" h_base
hrow "clonebay (rescue-capable engine)" h_cb
if [ -n "$base" ]; then
    printf 'rescue logic cost on a healthy drive: %.1f%% (goal <= 2%%)\n' "$(echo "(${T[h_cb]} / ${T[h_base]} - 1) * 100" | bc -l)"
fi
printf 'clonebay vs ddrescue --idirect --odirect: %.2fx faster; vs ddrescue buffered: %.2fx\n' \
    "$(echo "${T[h_dr_direct]} / ${T[h_cb]}" | bc -l)" "$(echo "${T[h_dr]} / ${T[h_cb]}" | bc -l)"
