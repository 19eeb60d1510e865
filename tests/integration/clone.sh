#!/bin/bash
# clonebay clone on real loop devices, with cmp, sha256sum, md5sum, sgdisk and
# ddrescuelog as oracles.
. "$(dirname "$0")/../lib.sh"
need_root clone


# Source: 48 MiB of reproducible random data; three targets of the same size.
random_file "$WORK/src.img" 48M 7
src=$(attach "$WORK/src.img" -r)
for i in 1 2 3; do truncate -s 48M "$WORK/t$i.img"; done
t1=$(attach "$WORK/t1.img"); t2=$(attach "$WORK/t2.img"); t3=$(attach "$WORK/t3.img")
src_sha=$(sha "$WORK/src.img"); src_md5=$(md5sum "$WORK/src.img" | cut -d' ' -f1)

"$CB" clone "$src" "$t1" "$t2" --yes --report "$WORK/r2.json" > "$WORK/out2" 2>&1; rc=$?
check "two targets: exit 0" test $rc = 0
check "two targets: cmp equal" bash -c "cmp $src $t1 && cmp $src $t2"
check "two targets: reported sha256 = sha256sum" json "$WORK/r2.json" "assert r['source_hashes']['sha256'] == '$src_sha'"
check "two targets: both VERIFIED" json "$WORK/r2.json" "assert [t['result'] for t in r['targets']] == ['VERIFIED']*2"
check "two targets: text report printed" grep -q "outcome  copied and verified" "$WORK/out2"

for t in $t1 $t2; do dd if=/dev/zero of=$t bs=1M count=48 oflag=direct status=none; done
"$CB" clone "$src" "$t1" "$t2" "$t3" --hash sha256,md5,sha1 --yes --map "$WORK/m3.map" --report "$WORK/r3.json" > "$WORK/out3" 2>&1; rc=$?
check "three targets, three hashes: exit 0" test $rc = 0
check "three targets: cmp equal" bash -c "cmp $src $t1 && cmp $src $t2 && cmp $src $t3"
check "three targets: md5 = md5sum" json "$WORK/r3.json" "assert r['source_hashes']['md5'] == '$src_md5'"
check "three targets: sha1 = sha1sum" json "$WORK/r3.json" "assert r['source_hashes']['sha1'] == '$(sha1sum "$WORK/src.img" | cut -d' ' -f1)'"
check "three targets: verify hashes = sha256sum" json "$WORK/r3.json" "assert {t['verify_hash'] for t in r['targets']} == {'$src_sha'}"
check "map: ddrescuelog accepts it" ddrescuelog -t "$WORK/m3.map"
check "map: ddrescuelog says every block finished" ddrescuelog -D "$WORK/m3.map"
check "map: covers the whole source" bash -c "ddrescuelog -t '$WORK/m3.map' | grep -E 'rescued: +50331 kB'"

# A larger target: copied range equal, tail untouched.
random_file "$WORK/big.img" 64M 9
big=$(attach "$WORK/big.img")
tail_before=$(tail -c $((16 << 20)) "$WORK/big.img" | sha256sum)
"$CB" clone "$src" "$big" --yes > "$WORK/outb" 2>&1; rc=$?
check "larger target: exit 0" test $rc = 0
check "larger target: copied range equal" cmp -n $((48 << 20)) "$src" "$big"
check "larger target: tail untouched" test "$(tail -c $((16 << 20)) "$WORK/big.img" | sha256sum)" = "$tail_before"

# A GPT source onto a larger disk with --resize keep: every sector copied as it
# is, the backup header moved to the real end (the default fits the partitions
# instead: tests/integration/resize.sh).
truncate -s 40M "$WORK/gpt.img"
sgdisk -n 1:2048:+10M -t 1:ef00 -n 2:0:0 -t 2:8300 "$WORK/gpt.img" >/dev/null
gsrc=$(attach "$WORK/gpt.img")   # read-write: the refusals below must come from the overlap
truncate -s 100M "$WORK/gbig.img"
gbig=$(attach "$WORK/gbig.img")
"$CB" clone "$gsrc" "$gbig" --resize keep --yes --report "$WORK/rg.json" > "$WORK/outg" 2>&1; rc=$?
check "GPT onto larger: exit 0" test $rc = 0
check "GPT onto larger: sgdisk -v clean" bash -c "sgdisk -v $gbig | grep -q 'No problems found'"
check "GPT onto larger: report says the backup moved" json "$WORK/rg.json" "assert r['targets'][0]['gpt_backup_moved']"
check "GPT onto larger: partitions kept" bash -c "sgdisk -p $gbig | grep -cE '^ +[12] ' | grep -qx 2"
check "GPT onto larger: source untouched" bash -c "sgdisk -v $gsrc | grep -q 'No problems found'"

# Verification catches a target changed behind the engine's back.
dd if=/dev/zero of=$t1 bs=1M count=48 oflag=direct status=none
CLONEBAY_TEST_PAUSE_BEFORE_VERIFY="$WORK/hook" "$CB" clone "$src" "$t1" --yes --report "$WORK/rv.json" > "$WORK/outv" 2>&1 &
pid=$!
for _ in $(seq 300); do [ -e "$WORK/hook.ready" ] && break; sleep 0.1; done
check "verify hook reached" test -e "$WORK/hook.ready"
printf 'X' | dd of=$t1 bs=512 seek=$((20 << 11)) count=1 conv=notrunc,sync oflag=direct status=none
touch "$WORK/hook.go"
wait $pid; rc=$?
check "corrupted target: exit 1" test $rc = 1
check "corrupted target: MISMATCH reported" json "$WORK/rv.json" "t=r['targets'][0]; assert t['result'] == 'MISMATCH' and t['first_difference_from'] <= 20*2**20 < t['first_difference_to'], t"
check "corrupted target: message names it" grep -q "target $t1 differs from the source" "$WORK/outv"

# Refusals: exit 2, the reason named, every target unchanged.
random_file "$WORK/keep.img" 48M 3
keep=$(attach "$WORK/keep.img")
keep_sha=$(sha "$WORK/keep.img")
refuse() {  # refuse NAME PATTERN ARGS...
    local name=$1 pattern=$2; shift 2
    "$CB" clone "$@" > "$WORK/ref.out" 2>&1; local rc=$?
    if [ $rc = 2 ] && grep -q -- "$pattern" "$WORK/ref.out" && [ "$(sha "$WORK/keep.img")" = "$keep_sha" ]; then
        pass "refused: $name"
    else
        fail "refused: $name" "rc=$rc $(head -c 300 "$WORK/ref.out")"
    fi
}
refuse "target is the source" "is the source itself" "$keep" "$keep" --yes
refuse "same target twice" "given twice" "$src" "$keep" "$keep" --yes
refuse "target smaller than source" "is smaller than source" "$big" "$keep" --yes
refuse "partition of the source as target" "shares sectors with the source" "$gsrc" "${gsrc}p2" "$keep" --yes
refuse "disk holding the source as target" "shares sectors with the source" "${gsrc}p2" "$gsrc" "$keep" --yes
refuse "no --yes without a terminal" "pass --yes" "$src" "$keep" < /dev/null
refuse "unknown option" "unknown option" "$src" "$keep" --frobnicate
refuse "unknown hash" "unknown hash" "$src" "$keep" --hash crc7 --yes
ro=$(attach "$WORK/keep.img" -r)
refuse "read-only target" "read-only" "$src" "$ro" --yes
# Mounted: a filesystem on a partition of the target.
truncate -s 48M "$WORK/mnt.img"
sgdisk -n 1:2048:0 "$WORK/mnt.img" >/dev/null
mdev=$(attach "$WORK/mnt.img")
mkfs.ext4 -q -F "${mdev}p1"
mkdir -p "$WORK/mnt" && mount "${mdev}p1" "$WORK/mnt" && defer "umount $WORK/mnt"
mnt_sha=$(sha "$WORK/mnt.img")
"$CB" clone "$src" "$mdev" --yes > "$WORK/ref.out" 2>&1; rc=$?
check "refused: mounted target (exit 2, reason)" bash -c "[ $rc = 2 ] && grep -q 'is mounted on $WORK/mnt' '$WORK/ref.out'"
check "refused: mounted target untouched" test "$(sha "$WORK/mnt.img")" = "$mnt_sha"
umount "$WORK/mnt"
# In use: another process holds the target open with O_EXCL (as a second clonebay would).
python3 -c "import os,time; fd=os.open('$keep', os.O_RDONLY|os.O_EXCL); open('$WORK/held','w').close(); time.sleep(5)" &
holder=$!
for _ in $(seq 50); do [ -e "$WORK/held" ] && break; sleep 0.1; done
refuse "target claimed by another process" "is in use" "$src" "$keep" --yes
kill $holder 2>/dev/null; wait $holder 2>/dev/null
# The disk the system runs from.
root_dev=$(python3 -c "import os;s=os.stat('/');print('%d:%d'%(os.major(s.st_dev),os.minor(s.st_dev)))")
root_disk=$(for b in /sys/block/*; do [ "$(cat $b/dev)" = "$root_dev" ] && basename $b; done | head -1)
if [ -n "$root_disk" ]; then
    "$CB" clone "$src" "/dev/$root_disk" --yes > "$WORK/ref.out" 2>&1; rc=$?
    check "refused: system disk /dev/$root_disk" bash -c "[ $rc = 2 ] && grep -q 'holds the running system' '$WORK/ref.out'"
else
    skip "refused: system disk" "root filesystem is not directly on a disk here"
fi

# SIGINT in the middle: exit 1, report cancelled, map partial.
dd if=/dev/zero of=$t2 bs=1M count=48 oflag=direct status=none
rm -f "$WORK/mc.map"
"$CB" clone "$src" "$t2" --yes --max-read-rate 8M --map "$WORK/mc.map" --report "$WORK/rc.json" > "$WORK/outc" 2>&1 &
pid=$!
for _ in $(seq 100); do [ -s "$WORK/mc.map" ] && break; sleep 0.1; done
sleep 1
kill -INT $pid
wait $pid; rc=$?
check "SIGINT: exit 1" test $rc = 1
check "SIGINT: report says cancelled" json "$WORK/rc.json" "assert r['outcome'] == 'cancelled'"
check "SIGINT: map shows a partial copy" bash -c "! ddrescuelog -D '$WORK/mc.map' && ddrescuelog -t '$WORK/mc.map' | grep -E 'non-tried: +[1-9]'"
check "SIGINT: what the map calls finished is on the target" python3 - "$WORK/mc.map" "$src" "$t2" <<'PY'
import sys
m, s, t = sys.argv[1:]
rows = [l.split() for l in open(m) if l.strip() and not l.startswith('#')][1:]
done = [(int(a, 16), int(b, 16)) for a, b, st in rows if st == '+']
assert done, "nothing finished"
with open(s, 'rb') as fs, open(t, 'rb') as ft:
    for pos, size in done:
        fs.seek(pos); ft.seek(pos)
        assert fs.read(size) == ft.read(size), (pos, size)
PY
finish
