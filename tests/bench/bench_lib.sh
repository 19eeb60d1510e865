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
# bench_setup NAME [SIZE=4G] [RUNS=3]: the usual arguments ($SIZE, $bytes, $RUNS),
# the binary under test ($CB) and bench_dir NAME.
bench_setup() {
    SIZE=${2:-4G}
    RUNS=${3:-3}
    CB=$PWD/${BUILD:-build}/clonebay
    bytes=$(numfmt --from=iec "$SIZE")
    bench_dir "$1"
}
# random_stream SEED: endless reproducible random bytes (cut them with head -c).
random_stream() { openssl enc -aes-128-ctr -pass "pass:$1" -nosalt -pbkdf2 </dev/zero 2>/dev/null || true; }
# bench_dir NAME: $DIR (BENCH_DIR, or /var/tmp/clonebay-bench-NAME); on exit its
# mount, its loops, its rate drives and its files go.
bench_dir() {
    DIR=${BENCH_DIR:-/var/tmp/clonebay-bench-$1}
    mkdir -p "$DIR"
    trap 'umount "$DIR/m" 2>/dev/null || true; detach_under "$DIR"; rate_drives_gone; rm -rf "$DIR"' EXIT
}
# rate_drive NAME MBPS FILE: FILE as a drive of its own media speed (tests/tools/ratedisk
# at MBPS decimal MB/s), on a direct-I/O loop; prints the loop. Put FILE on tmpfs so the
# drives share no disk. Its counters go to $DIR/fuse-NAME.log when it is unmounted.
rate_drive() {
    local mnt="$DIR/fuse-$1" dev
    mkdir -p "$mnt"
    # setsid: a `wait` in the caller must not wait for the drive. chrt: a drive's
    # firmware does not queue for the host's CPU behind other jobs of the machine
    # (it mostly sleeps, so real-time priority takes little from them).
    local rt=(); chrt -f 10 true 2>/dev/null && rt=(chrt -f 10)
    setsid "${rt[@]}" "$PWD/${BUILD:-build}/tools/ratedisk" "$mnt" --rate "$2" --file "$3" -f </dev/null >/dev/null 2>"$mnt.log" &
    for _ in $(seq 50); do [ -e "$mnt/disk" ] && break; sleep 0.1; done
    rate_drive_loop "$1"
}
# rate_drive_loop NAME: the loop over rate drive NAME, attached again when it is gone
# (on a shared machine another session's late `losetup -d` of a number it once had
# can take ours).
rate_drive_loop() {
    local disk="$DIR/fuse-$1/disk" dev
    dev=$(losetup -nO NAME,BACK-FILE | awk -v f="$disk" '$2 == f {print $1; exit}')
    if [ -z "$dev" ]; then
        dev=$(losetup -f --show --direct-io=on "$disk") || return 1
    fi
    # Without direct I/O the loop would read through the page cache and time nothing.
    [ "$(losetup -nO DIO "$dev" | tr -d ' ')" = 1 ] || { echo "rate_drive: $dev has no direct I/O" >&2; return 1; }
    echo "$dev"
}
# rate_drive_stop NAME: detach and unmount one rate drive (its counters land in its log).
rate_drive_stop() {
    local mnt="$DIR/fuse-$1" dev
    for dev in $(losetup -nO NAME,BACK-FILE | awk -v f="$mnt/disk" '$2 == f {print $1}'); do losetup -d "$dev"; done
    for _ in $(seq 20); do fusermount3 -u "$mnt" 2>/dev/null && break; sleep 0.1; done    # the loop lets go lazily
}
rate_drives_gone() {
    local mnt
    for mnt in "$DIR"/fuse-*; do [ -d "$mnt" ] && rate_drive_stop "${mnt##*/fuse-}"; done
    sleep 0.2       # the drives write their counters as they exit
}
# one_partition_disk BYTES: $DIR/src.img, one Linux partition filling it, attached
# with its partition registered; sets $dev.
one_partition_disk() {
    truncate -s "$1" "$DIR/src.img"
    sgdisk -n 1:2048:0 -t 1:8300 "$DIR/src.img" >/dev/null
    dev=$(losetup -f --show "$DIR/src.img"); partx -d "$dev" 2>/dev/null || true; partx -a "$dev"
}
# ext4_source BYTES: one_partition_disk, its partition ext4 and mounted at $DIR/m.
ext4_source() {
    one_partition_disk "$1"
    mkfs.ext4 -q -F "${dev}p1"; mkdir -p "$DIR/m"; mount "${dev}p1" "$DIR/m"
}
# deleted_data BYTES: random bytes written to the source and deleted (they stay on the disk).
deleted_data() {
    random_stream gone | head -c "$1" > "$DIR/m/deleted.bin"; sync; rm "$DIR/m/deleted.bin"; sync
}
# fill_files BYTES PATH...: copies of PATHs into the source until it holds BYTES
# (at most 200 copies, so a full disk cannot loop forever).
fill_files() {
    local want=$1 i=0; shift
    while [ $i -le 200 ] && [ "$(du -sb "$DIR/m" | cut -f1)" -lt "$want" ]; do
        mkdir -p "$DIR/m/c$i"; cp -a "$@" "$DIR/m/c$i/" 2>/dev/null || true
        i=$((i + 1))
    done
}
# source_and_target: unmount the source, attach it again read-only with direct
# I/O ($src), and a target of its size allocated by one full write ($tgt).
source_and_target() {
    umount "$DIR/m"; partx -d "$dev"; losetup -d "$dev"
    src=$(losetup -f --show -r --direct-io=on "$DIR/src.img"); partx -d "$src" 2>/dev/null || true; partx -a "$src"
    fallocate -l "$bytes" "$DIR/t.img"; tgt=$(losetup -f --show --direct-io=on "$DIR/t.img")
    dd if="$src" of="$tgt" bs=4M iflag=direct oflag=direct status=none     # allocate once
}
