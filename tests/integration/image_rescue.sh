#!/bin/bash
# Images go through the same engine as clones: a failing drive's image rescues
# exactly the sectors its clone rescues (GNU ddrescuelog judges the maps), and
# `image --map` killed with -9 goes on from where it stopped: the finished image
# decodes (zstd -d) to the same bytes with the same recorded hashes as one made in
# one go, and the second run reads from the source only what the map says is
# missing (counted on the source's loop device).
. "$(dirname "$0")/../lib.sh"
need_root image_rescue
command -v fusermount3 >/dev/null || { skip image_rescue "fusermount3 missing"; exit 0; }
command -v ddrescuelog >/dev/null || { skip image_rescue "ddrescuelog (gddrescue) missing"; exit 0; }

# sectors_read DEV: sectors the loop device has read so far (its own counter).
sectors_read() { awk '{ print $3 }' "/sys/block/$(basename "$1")/stat"; }
# recorded IMAGE: the image's recorded sha256, from `clonebay info --json`.
recorded() { "$CB" info "$1" --json | python3 -c 'import json,sys; print(json.load(sys.stdin)["hashes"]["sha256"])'; }
mkdir -p "$WORK/out"

# 1. A failing drive: the image's map is the clone's map.
SIZE=64M
BAD=(10485760:4096 20971520:1048576 30720000:512 41943040:1536 52428800:512 52429824:512)
args=(); for b in "${BAD[@]}"; do args+=(--bad "$b"); done
src=$(fault_drive bad "$SIZE" "${args[@]}")
fault_expected "$WORK/expected.img" "$SIZE" "${BAD[@]}"
truncate -s $SIZE "$WORK/t1.img"; t1=$(attach "$WORK/t1.img")
"$CB" clone "$src" "$t1" --yes --map "$WORK/c.map" > /dev/null 2>&1; crc=$?
"$CB" image "$src" "$WORK/out/bad.zst" --yes --map "$WORK/i.map" --report "$WORK/i.json" > "$WORK/iout" 2>&1; rc=$?
check "failing drive: the clone exits 3 (unreadable sectors)" test $crc = 3
check "failing drive: the image exits 3 too, and is kept" bash -c "[ $rc = 3 ] && [ -f '$WORK/out/bad.zst' ]"
check "failing drive: the same bad sectors as the clone (ddrescuelog -l-)" \
    bash -c "cmp <(ddrescuelog -b 512 -l- '$WORK/c.map') <(ddrescuelog -b 512 -l- '$WORK/i.map')"
check "failing drive: the same rescued sectors as the clone (ddrescuelog -l+)" \
    bash -c "cmp <(ddrescuelog -b 512 -l+ '$WORK/c.map') <(ddrescuelog -b 512 -l+ '$WORK/i.map')"
check "failing drive: the image's map has nothing left to try" bash -c "ddrescuelog -t '$WORK/i.map' | grep -E 'non-tried: +0 B'"
check "failing drive: zstd -d gives every readable sector, zeros for the bad ones" \
    bash -c "zstd -q -d -c '$WORK/out/bad.zst' | cmp - '$WORK/expected.img'"
check "failing drive: the report lists exactly the injected ranges" json "$WORK/i.json" \
    "got=[(b['offset'],b['length']) for b in r['bad_sectors']]; want=[(10485760,4096),(20971520,1048576),(30720000,512),(41943040,1536),(52428800,512),(52429824,512)]; assert got == want, got"
check "failing drive: recorded sha256 = sha256sum of what the image holds" \
    test "$(recorded "$WORK/out/bad.zst")" = "$(sha "$WORK/expected.img")"
check "failing drive: the image is verified (read back, decoded, compared)" json "$WORK/i.json" \
    "assert r['targets'][0]['result'] == 'VERIFIED', r['targets'][0]"
check "failing drive: frames read after a skip waited in the spill, none lost" json "$WORK/i.json" \
    "assert r['image']['frames'] == 8 and r['image'].get('spilled_frames', 0) > 0, r['image']"
check "failing drive: no spill, stage or sums file left" bash -c "! ls '$WORK/out' | grep -qE 'spill|stage|sums|partial'"

# 2. kill -9 and go on: a healthy drive, slowed down so the kill lands in the middle.
healthy=$(fault_drive healthy 160M)
"$TOOLS/faultdisk" --dump "$WORK/healthy.img" --size 160M
"$CB" image "$healthy" "$WORK/out/once.zst" --yes > /dev/null 2>&1
"$CB" image "$healthy" "$WORK/out/k.zst" --yes --max-read-rate 16M --map "$WORK/k.map" > /dev/null 2>&1 &
pid=$!
# killed once a saved map calls some of the drive finished
for _ in $(seq 200); do grep -qE '^0x[0-9A-Fa-f]+ +0x[0-9A-Fa-f]+ +\+' "$WORK/k.map" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -9 $pid; wait $pid 2>/dev/null
check "kill -9: an unfinished image and a valid partial map are left" \
    bash -c "[ -f '$WORK/out/k.zst.partial' ] && ddrescuelog -t '$WORK/k.map' >/dev/null && ! ddrescuelog -D '$WORK/k.map'"
missing=$(ddrescuelog -b 512 -l? "$WORK/k.map" | wc -l)        # sectors the map says are missing
before=$(sectors_read "$healthy")
"$CB" image "$healthy" "$WORK/out/k.zst" --yes --map "$WORK/k.map" --report "$WORK/k.json" > "$WORK/kout" 2>&1; rc=$?
read2=$(( $(sectors_read "$healthy") - before ))
echo "# second run: read $read2 sectors from the source; the map said $missing were missing"
check "resume: exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/kout'"
check "resume: the report says it went on from the earlier run" json "$WORK/k.json" "assert r['resumed'] and any('resumed' in n for n in r['notes']), r['notes']"
check "resume: zstd -d gives the drive byte for byte" bash -c "zstd -q -d -c '$WORK/out/k.zst' | cmp - '$WORK/healthy.img'"
check "resume: the same recorded sha256 as the image made in one go" \
    test "$(recorded "$WORK/out/k.zst")" = "$(recorded "$WORK/out/once.zst")"
check "resume: clonebay verify passes" "$CB" verify "$WORK/out/k.zst"
# What the map called missing, plus at most one frame the last checkpoint left half
# in the stage (re-read for the hashes), plus the probes of the drive's table (1 MiB).
check "resume: reads only what the map says is missing (+ one frame at most)" \
    test "$read2" -le $(( missing + (8 << 20) / 512 + 2048 ))
check "resume: no spill, stage or sums file left" bash -c "! ls '$WORK/out' | grep -qE 'spill|stage|sums|partial'"

# 3. kill -9 while a failing drive is imaged (spill and stage in use), then go on.
slow=$(fault_drive slowbad 64M "${args[@]}" --latency-us 2000)
"$CB" image "$slow" "$WORK/out/sb.zst" --yes --map "$WORK/sb.map" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 200); do grep -qE '^0x[0-9A-Fa-f]+ +0x[0-9A-Fa-f]+ +\+' "$WORK/sb.map" 2>/dev/null && break; sleep 0.1; done
sleep 2
kill -9 $pid; wait $pid 2>/dev/null
"$CB" image "$slow" "$WORK/out/sb.zst" --yes --map "$WORK/sb.map" --report "$WORK/sb.json" > "$WORK/sbout" 2>&1; rc=$?
check "failing drive, killed and resumed: exit 3, the image kept" bash -c "[ $rc = 3 ] && [ -f '$WORK/out/sb.zst' ]"
check "failing drive, killed and resumed: the same bytes as the one-go image" \
    bash -c "zstd -q -d -c '$WORK/out/sb.zst' | cmp - '$WORK/expected.img'"
check "failing drive, killed and resumed: the same recorded sha256" \
    test "$(recorded "$WORK/out/sb.zst")" = "$(recorded "$WORK/out/bad.zst")"
check "failing drive, killed and resumed: the same map as the clone's" \
    bash -c "cmp <(ddrescuelog -b 512 -l- '$WORK/c.map') <(ddrescuelog -b 512 -l- '$WORK/sb.map')"
check "failing drive, killed and resumed: verified" json "$WORK/sb.json" "assert r['targets'][0]['result'] == 'VERIFIED', r['targets'][0]"

# 4. One master onto two drives and into an image, in one job: read once.
truncate -s 64M "$WORK/m.img"
sgdisk -n 1:2048:+40M -t 1:8300 "$WORK/m.img" >/dev/null
md=$(attach "$WORK/m.img")
mkfs.ext4 -q -L MASTER "${md}p1"
mkdir -p "$WORK/mm" && mount "${md}p1" "$WORK/mm"
cp -r /usr/share/doc/e2fsprogs /usr/share/doc/gdisk "$WORK/mm/" && head -c 6M /dev/urandom > "$WORK/mm/r.bin"
umount "$WORK/mm"; partx -d "$md" 2>/dev/null; losetup -d "$md"
master=$(attach "$WORK/m.img" -r)
for i in a b c; do truncate -s 64M "$WORK/d$i.img"; done
da=$(attach "$WORK/da.img"); db=$(attach "$WORK/db.img"); dc=$(attach "$WORK/dc.img")
before=$(sectors_read "$master")
"$CB" clone "$master" "$dc" --yes > /dev/null 2>&1
one=$(( $(sectors_read "$master") - before ))
before=$(sectors_read "$master")
"$CB" clone "$master" "$da" "$db" "$WORK/out/master.zst" --yes --report "$WORK/m.json" > "$WORK/mout" 2>&1; rc=$?
three=$(( $(sectors_read "$master") - before ))
echo "# master read: $one sectors for one drive, $three for two drives and an image"
check "two drives and an image: exit 0, all three VERIFIED" json "$WORK/m.json" \
    "assert [t['result'] for t in r['targets']] == ['VERIFIED']*3, r['targets']"
check "two drives and an image: both drives equal the master" bash -c "cmp $da '$WORK/m.img' && cmp $db '$WORK/m.img'"
check "two drives and an image: zstd -d gives the master" bash -c "zstd -q -d -c '$WORK/out/master.zst' | cmp - '$WORK/m.img'"
check "two drives and an image: clonebay verify passes on the image" "$CB" verify "$WORK/out/master.zst"
check "two drives and an image: the master was read once (no more than for one drive, +2%)" \
    test "$three" -le $(( one + one / 50 ))
check "two drives and an image: an image is one per job" bash -c \
    "! '$CB' clone '$master' '$WORK/out/x.zst' '$WORK/out/y.zst' --yes > '$WORK/two' 2>&1 && grep -q 'one image per job' '$WORK/two' && ! ls '$WORK/out' | grep -q '^[xy]'"

# 5. What the map calls done but no file holds any more is read again, never taken as
# zeros: killed while verifying (the map all done), then the unfinished image cut in
# half (a lost tail) and one kept frame damaged.
CLONEBAY_TEST_PAUSE_BEFORE_VERIFY="$WORK/v" "$CB" image "$healthy" "$WORK/out/cut.zst" --yes --map "$WORK/cut.map" \
    > /dev/null 2>&1 &
pid=$!
for _ in $(seq 300); do [ -e "$WORK/v.ready" ] && break; sleep 0.1; done
kill -9 $pid; wait $pid 2>/dev/null
check "killed while verifying: the map calls everything done" bash -c "ddrescuelog -D '$WORK/cut.map'"
part="$WORK/out/cut.zst.partial"
truncate -s $(( $(stat -c %s "$part") / 2 )) "$part"
printf 'XXXX' | dd of="$part" bs=1 seek=$(( $(stat -c %s "$part") / 4 )) conv=notrunc status=none
"$CB" image "$healthy" "$WORK/out/cut.zst" --yes --map "$WORK/cut.map" > "$WORK/cutout" 2>&1; rc=$?
check "cut and damaged: resumed, exit 0, verified" bash -c "[ $rc = 0 ] && grep -q 'copied and verified' '$WORK/cutout'"
check "cut and damaged: what no file held was read again, and said so" grep -q "are read again" "$WORK/cutout"
check "cut and damaged: zstd -d gives the drive byte for byte" bash -c "zstd -q -d -c '$WORK/out/cut.zst' | cmp - '$WORK/healthy.img'"
check "cut and damaged: the same recorded sha256 as the one-go image" \
    test "$(recorded "$WORK/out/cut.zst")" = "$(recorded "$WORK/out/once.zst")"

# 6. A map without its unfinished image: started afresh, said so.
rm -f "$WORK/out/k.zst"
cp "$WORK/k.map" "$WORK/stale.map"
"$CB" image "$healthy" "$WORK/out/fresh.zst" --yes --map "$WORK/k.map" --report "$WORK/f.json" > "$WORK/fout" 2>&1; rc=$?
check "map without its image: started afresh, said so, exact" \
    bash -c "[ $rc = 0 ] && grep -q 'started afresh' '$WORK/fout' && zstd -q -d -c '$WORK/out/fresh.zst' | cmp - '$WORK/healthy.img'"
finish
