#!/bin/bash
# Failing drives: phased rescue, bad-sector reports, fill, GNU ddrescue as the
# reference, crash and resume, a target that dies mid-job.
. "$(dirname "$0")/../lib.sh"
need_root rescue
command -v fusermount3 >/dev/null || { skip rescue "fusermount3 missing"; exit 0; }

SIZE=64M
# Scattered bad sectors and one 1 MiB bad area (offsets in bytes).
BAD=(10485760:4096 20971520:1048576 30720000:512 41943040:1536 52428800:512 52429824:512)
BAD_BYTES=$((4096 + 1048576 + 512 + 1536 + 512 + 512))
args=(); for b in "${BAD[@]}"; do args+=(--bad "$b"); done
src=$(fault_drive bad "$SIZE" "${args[@]}")
fault_expected "$WORK/expected.img" "$SIZE" "${BAD[@]}"

truncate -s $SIZE "$WORK/t1.img"; t1=$(attach "$WORK/t1.img")
"$CB" clone "$src" "$t1" --yes --map "$WORK/r.map" --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "bad drive: exit 3" test $rc = 3
check "bad drive: outcome says unreadable sectors" json "$WORK/r.json" "assert r['outcome'] == 'finished with unreadable sectors'"
check "bad drive: every readable sector correct, bad ones zero" cmp "$t1" "$WORK/expected.img"
check "bad drive: report lists exactly the injected ranges" json "$WORK/r.json" "got=[(b['offset'],b['length']) for b in r['bad_sectors']]; want=[(0x$(printf '%x' 10485760),4096),(20971520,1048576),(30720000,512),(41943040,1536),(52428800,512),(52429824,512)]; assert got == want, got"
check "bad drive: sector counts in the report" json "$WORK/r.json" "assert sum(b['sectors'] for b in r['bad_sectors']) == $BAD_BYTES // 512"
check "bad drive: ddrescuelog agrees on the bad bytes" bash -c "ddrescuelog -t '$WORK/r.map' | grep -E 'bad-sector: +$((BAD_BYTES / 1000)) kB'"
check "bad drive: ddrescuelog finds nothing left to try" bash -c "ddrescuelog -t '$WORK/r.map' | grep -E 'non-tried: +0 B'"
check "bad drive: hashes equal sha256sum of the image as written" json "$WORK/r.json" "assert r['source_hashes']['sha256'] == '$(sha "$WORK/expected.img")'"
check "bad drive: target verified" json "$WORK/r.json" "assert r['targets'][0]['result'] == 'VERIFIED'"
check "bad drive: text report lists the ranges" grep -q "offset 20971520, 1048576 bytes (2048 sectors)" "$WORK/out"

# The same drive through GNU ddrescue: the same sectors rescued.
if command -v ddrescue >/dev/null; then
    truncate -s $SIZE "$WORK/dr.img"
    ddrescue -q --idirect --force "$src" "$WORK/dr.img" "$WORK/dr.map" >/dev/null 2>&1
    ddrescuelog -b 512 -l- "$WORK/dr.map" > "$WORK/dr.bad"
    ddrescuelog -b 512 -l- "$WORK/r.map" > "$WORK/cb.bad"
    check "same bad sectors as GNU ddrescue --idirect" cmp "$WORK/dr.bad" "$WORK/cb.bad"
    check "same rescued sectors as GNU ddrescue --idirect" bash -c "cmp <(ddrescuelog -b 512 -l+ '$WORK/dr.map') <(ddrescuelog -b 512 -l+ '$WORK/r.map')"
else
    skip "same sectors as GNU ddrescue" "ddrescue is not installed"
fi

# A forensic marker instead of zeros.
truncate -s $SIZE "$WORK/t2.img"; t2=$(attach "$WORK/t2.img")
"$CB" clone "$src" "$t2" --yes --fill BADSECTOR --no-verify > /dev/null 2>&1; rc=$?
check "fill: exit 3" test $rc = 3
check "fill: bad sector holds the marker" bash -c "dd if=$t2 bs=512 skip=$((30720000 / 512)) count=1 status=none | head -c 9 | grep -qx BADSECTOR"
check "fill: readable neighbour intact" bash -c "cmp <(dd if=$t2 bs=512 skip=$((30720000 / 512 + 1)) count=8 status=none) <(dd if='$WORK/expected.img' bs=512 skip=$((30720000 / 512 + 1)) count=8 status=none)"

# Crash (kill -9) mid-copy and resume from the map: same target, same hashes.
healthy=$(fault_drive healthy 48M)
"$TOOLS/faultdisk" --dump "$WORK/healthy.img" --size 48M
truncate -s 48M "$WORK/t3.img"; t3=$(attach "$WORK/t3.img")
"$CB" clone "$healthy" "$t3" --yes --max-read-rate 12M --map "$WORK/k.map" > /dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/k.map" ] && break; sleep 0.1; done
sleep 1.5
kill -9 $pid; wait $pid 2>/dev/null
check "crash: the map is a partial, valid mapfile" bash -c "ddrescuelog -t '$WORK/k.map' >/dev/null && ! ddrescuelog -D '$WORK/k.map'"
"$CB" clone "$healthy" "$t3" --yes --map "$WORK/k.map" --report "$WORK/k.json" > /dev/null 2>&1; rc=$?
check "resume: exit 0" test $rc = 0
check "resume: report says resumed" json "$WORK/k.json" "assert r['resumed']"
check "resume: target equals the drive" cmp "$t3" "$WORK/healthy.img"
check "resume: hash equals an uninterrupted run's" json "$WORK/k.json" "assert r['source_hashes']['sha256'] == '$(sha "$WORK/healthy.img")'"
check "resume: map finished" ddrescuelog -D "$WORK/k.map"
# A map that belongs to another drive is refused before writing.
keep=$(sha "$WORK/t1.img")
"$CB" clone "$healthy" "$t1" --yes --map "$WORK/r.map" > "$WORK/ref" 2>&1; rc=$?
check "resume with a foreign map: refused (exit 2)" bash -c "[ $rc = 2 ] && grep -q 'belongs to another drive' '$WORK/ref'"
check "resume with a foreign map: target untouched" test "$(sha "$WORK/t1.img")" = "$keep"

# After a gap the digest of the rest is read back from a target; every piece read
# out of order is still checked against what the source gave. Damage the target
# between the copy and that read-back: verification must catch it.
gapped=$(fault_drive gapped 32M --bad 1048576:512)
truncate -s 32M "$WORK/t5.img"; t5=$(attach "$WORK/t5.img")
CLONEBAY_TEST_PAUSE_BEFORE_TAIL="$WORK/tail" "$CB" clone "$gapped" "$t5" --yes --report "$WORK/g.json" > "$WORK/gout" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -e "$WORK/tail.ready" ] && break; sleep 0.1; done
head -c 4096 /dev/urandom | dd of="$t5" bs=4096 seek=$((20 << 20 >> 12)) oflag=direct conv=notrunc status=none
touch "$WORK/tail.go"; wait $pid; rc=$?
check "target damaged after a gap: job fails (exit 1)" test $rc = 1
check "target damaged after a gap: MISMATCH where it was damaged" json "$WORK/g.json" "t=r['targets'][0]; assert t['result'] == 'MISMATCH' and t['first_difference_from'] <= (20 << 20) < t['first_difference_to'] and 'other data than was read' in t['verify_error'], t"

# A target that dies mid-job: its backing file sits on a tiny filesystem that fills up.
truncate -s 24M "$WORK/small-fs.img"; mkfs.ext4 -q -F "$WORK/small-fs.img"
mkdir -p "$WORK/small" && mount -o loop "$WORK/small-fs.img" "$WORK/small" && defer "umount $WORK/small"
truncate -s 48M "$WORK/small/dying.img"
dying=$(attach "$WORK/small/dying.img" --direct-io=on)
truncate -s 48M "$WORK/t4.img"; t4=$(attach "$WORK/t4.img")
"$CB" clone "$healthy" "$dying" "$t4" --yes --report "$WORK/d.json" > "$WORK/dout" 2>&1; rc=$?
check "dying target: job exits 1" test $rc = 1
check "dying target: that target FAILED, with where" json "$WORK/d.json" "t=r['targets'][0]; assert t['result'] == 'FAILED' and t['failed_at'] > 0, t"
check "dying target: the other target VERIFIED" json "$WORK/d.json" "assert r['targets'][1]['result'] == 'VERIFIED'"
check "dying target: the other target is complete" cmp "$t4" "$WORK/healthy.img"
finish
