#!/bin/bash
# The benchmarks' drive of its own media speed (tests/tools/ratedisk): what goes
# through it is what its media holds, its loop really does direct I/O, and a
# clone onto it verifies. Correctness only: its timing is the benchmarks' business.
. "$(dirname "$0")/../lib.sh"
need_root ratedisk
command -v fusermount3 >/dev/null || { skip ratedisk "fusermount3 missing"; exit 0; }

# rate_drive NAME MBPS [ratedisk options]: prints the loop over MOUNT/disk.
rate_drive() {
    local name=$1 rate=$2; shift 2
    local mnt="$WORK/fuse-$name"
    mkdir -p "$mnt"
    "$TOOLS/ratedisk" "$mnt" --rate "$rate" "$@" -f >/dev/null 2>"$WORK/$name.log" &
    local pid=$!
    for _ in $(seq 50); do [ -e "$mnt/disk" ] && break; sleep 0.1; done
    defer "fusermount3 -u $mnt; kill $pid"
    attach "$mnt/disk" --direct-io=on
}
stat_of() { awk -v k="$2" '{for (i = 1; i < NF; i++) if ($i == k) print $(i + 1)}' "$WORK/fuse-$1/stats"; }

random_file "$WORK/src.media" 32M 7
cp "$WORK/src.media" "$WORK/src.orig"
truncate -s 32M "$WORK/dst.media"
src=$(rate_drive src 400 --file "$WORK/src.media")
dst=$(rate_drive dst 400 --file "$WORK/dst.media")
check "the loop over a rate drive does direct I/O" test "$(losetup -nO DIO "$dst" | tr -d ' ')" = 1
check "the rate drive has its file's size" test "$(blockdev --getsize64 "$dst")" = $((32 << 20))

# Writes land on the media, at their offsets, and read back the same.
random_file "$WORK/chunk" 5M 9
dd if="$WORK/chunk" of="$dst" bs=1M seek=3 oflag=direct conv=notrunc status=none
check "direct writes land on the media at their offset" \
    cmp -n $((5 << 20)) "$WORK/chunk" <(dd if="$WORK/dst.media" bs=1M skip=3 count=5 status=none)
check "direct reads return what the media holds" \
    cmp "$WORK/dst.media" <(dd if="$dst" bs=4M iflag=direct status=none)
check "odd sizes and offsets, buffered through the loop" bash -c \
    "head -c 12345 '$WORK/chunk' | dd of='$dst' bs=12345 seek=12345 oflag=seek_bytes conv=notrunc,fsync status=none &&
     cmp <(dd if='$dst' bs=1 skip=12345 count=12345 iflag=skip_bytes,count_bytes status=none) <(head -c 12345 '$WORK/chunk')"
# Nothing caches between the loop and the media: the same bytes read twice cross it twice.
r0=$(stat_of dst read_bytes)
dd if="$dst" of=/dev/null bs=4M count=1 iflag=direct status=none
dd if="$dst" of=/dev/null bs=4M count=1 iflag=direct status=none
check "a read twice reaches the media twice" test $(($(stat_of dst read_bytes) - r0)) = $((8 << 20))
check "the stats count the writes" test "$(stat_of dst write_bytes)" -ge $((5 << 20))
check "the stats charge media time" test "$(stat_of dst write_busy_ns)" -gt 0

# A clone between two rate drives: VERIFIED, and the target's media is the source.
"$CB" clone "$src" "$dst" --yes --mode raw --hash sha256 --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "clone onto a rate drive: exit 0" test $rc = 0
check "clone onto a rate drive: VERIFIED" json "$WORK/r.json" "assert r['targets'][0]['result'] == 'VERIFIED'"
check "clone onto a rate drive: the media holds the source" cmp "$WORK/src.orig" "$WORK/dst.media"
check "clone onto a rate drive: the source's media unchanged" cmp "$WORK/src.orig" "$WORK/src.media"

# Without a file: faultdisk's reproducible content, writes discarded.
gen=$(rate_drive gen 1000 --size 8M)
"$TOOLS/faultdisk" --dump "$WORK/gen.expected" --size 8M
check "generated content equals faultdisk's" cmp "$WORK/gen.expected" <(dd if="$gen" bs=1M iflag=direct status=none)
check "a write past the end is refused" bash -c "! dd if=/dev/zero of='$WORK/fuse-gen/disk' bs=4096 seek=2048 count=1 conv=notrunc status=none 2>/dev/null"
check "a bad rate is refused" bash -c "! '$TOOLS/ratedisk' '$WORK/none' --rate 0 --size 1M 2>/dev/null"
# One slow drive among fast ones: it is left behind, not waited for, and gets what it
# missed afterwards (read again from the source); every drive ends exact and VERIFIED.
# (96 MiB: three times the engine's ring, so the reader comes round to the slow one's slots)
random_file "$WORK/big.media" 96M 11
truncate -s 96M "$WORK/fast.media" "$WORK/slow.media"
big=$(rate_drive big 400 --file "$WORK/big.media")
fast=$(rate_drive fast 400 --file "$WORK/fast.media")
slow=$(rate_drive slow 30 --file "$WORK/slow.media")
"$CB" clone "$big" "$fast" "$slow" --yes --mode raw --report "$WORK/s.json" > "$WORK/sout" 2>&1; rc=$?
check "a slow drive among fast ones: exit 0, both VERIFIED" json "$WORK/s.json" \
    "assert [t['result'] for t in r['targets']] == ['VERIFIED']*2, r['targets']"
check "a slow drive among fast ones: both hold the source's media" \
    bash -c "cmp '$WORK/fast.media' '$WORK/big.media' && cmp '$WORK/slow.media' '$WORK/big.media'"
check "a slow drive among fast ones: the slow one was left behind and served later, the fast one never" json "$WORK/s.json" \
    "t=r['targets']; assert t[1]['served_later'] > 0 and t[0]['served_later'] == 0, t"
check "a slow drive among fast ones: the report says so" grep -q "too slow to keep up" "$WORK/sout"
finish
