# Shared helpers for the benchmarks (sourced). Run as root.
drop() { sync; echo 3 > /proc/sys/vm/drop_caches; }
median() { sort -g | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# timeit COMMAND...: wall seconds with cold caches (the command's failure is not the timer's).
timeit() { drop; local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1 || true; e=$(date +%s.%N); echo "$e - $s" | bc -l; }
# detach_under DIR: let go of every loop device whose backing file lies under DIR.
# (Loops are found by their backing file, so attaching inside $(...) leaks nothing.)
detach_under() {
    local dev
    for dev in $(losetup -nO NAME,BACK-FILE | awk -v d="$1/" 'index($2, d) == 1 {print $1}'); do
        partx -d "$dev" 2>/dev/null || true      # BLKPG partitions outlive the loop here
        losetup -d "$dev" 2>/dev/null || true
    done
}
# bench_dir NAME: $DIR (BENCH_DIR, or /var/tmp/clonebay-bench-NAME); on exit its
# mount, its loops and its files go.
bench_dir() {
    DIR=${BENCH_DIR:-/var/tmp/clonebay-bench-$1}
    mkdir -p "$DIR"
    trap 'umount "$DIR/m" 2>/dev/null || true; detach_under "$DIR"; rm -rf "$DIR"' EXIT
}
# one_partition_disk BYTES: $DIR/src.img, one Linux partition filling it, attached
# with its partition registered; sets $dev.
one_partition_disk() {
    truncate -s "$1" "$DIR/src.img"
    sgdisk -n 1:2048:0 -t 1:8300 "$DIR/src.img" >/dev/null
    dev=$(losetup -f --show "$DIR/src.img"); partx -d "$dev" 2>/dev/null || true; partx -a "$dev"
}
