#!/bin/bash
# A resume trusts nothing it cannot check (issue 17, point 4):
# - a map names its targets: resuming onto another drive is refused (exit 2),
#   the other drive untouched;
# - what an earlier run finished is hashed from the source's bytes, not the
#   target's, so a target that lost data since (or a map without target
#   lines, as ddrescue writes them) ends in a verification failure, never
#   in VERIFIED;
# - a target that is exact still resumes to VERIFIED with the source's hash.
. "$(dirname "$0")/../lib.sh"
need_root resume_trust

random_file "$WORK/s.img" 24M 7
truncate -s 24M "$WORK/t1.img" "$WORK/t2.img"
src=$(attach "$WORK/s.img" -r); t1=$(attach "$WORK/t1.img"); t2=$(attach "$WORK/t2.img")
want=$(sha "$WORK/s.img")

"$CB" clone "$src" "$t1" --yes --mode raw --map "$WORK/m.map" >/dev/null 2>&1; rc=$?
check "first run: exit 0" test $rc = 0
check "the map names its target in a comment line" grep -q "^# Target: loop over $WORK/t1.img" "$WORK/m.map"
check "ddrescuelog still reads the map" ddrescuelog -D "$WORK/m.map"

# The same command onto another drive: the map's finished regions are not on it.
keep=$(sha "$WORK/t2.img")
"$CB" clone "$src" "$t2" --yes --mode raw --map "$WORK/m.map" >"$WORK/wrong.out" 2>&1; rc=$?
check "resume onto another target: refused (exit 2)" test $rc = 2
check "the refusal names the map and the target" bash -c "grep -q 'm.map was written to loop over' '$WORK/wrong.out' && grep -qF '$t2' '$WORK/wrong.out'"
check "the other target is untouched" test "$(sha "$WORK/t2.img")" = "$keep"

# A map without target lines (ddrescue's, an older clonebay's): the resume
# writes nothing new, but its hashes come from the source, so T2 fails verification.
grep -v '^# Target:' "$WORK/m.map" > "$WORK/anon.map"
"$CB" clone "$src" "$t2" --yes --mode raw --map "$WORK/anon.map" --report "$WORK/anon.json" >"$WORK/anon.out" 2>&1; rc=$?
check "map without targets onto a blank drive: not VERIFIED (exit 1)" test $rc = 1
check "its report says verification failed" json "$WORK/anon.json" "assert r['outcome'] == 'verification failed', r['outcome']"
check "its source hash is the source's, not the target's" json "$WORK/anon.json" "assert r['source_hashes']['sha256'] == '$want', r['source_hashes']"

# The right target that lost data after the first run: caught by the resume's verification.
printf 'LOST-DATA' | dd of="$t1" bs=1 seek=$((9 * 1024 * 1024 + 5)) conv=notrunc status=none
"$CB" clone "$src" "$t1" --yes --mode raw --map "$WORK/m.map" --report "$WORK/lost.json" >/dev/null 2>&1; rc=$?
check "target that lost data since: not VERIFIED (exit 1)" test $rc = 1
check "its report names the differing range" json "$WORK/lost.json" \
    "t=r['targets'][0]; o=9*1024*1024+5; assert r['outcome'] == 'verification failed' and t['first_difference_from'] <= o < t['first_difference_to'], (r['outcome'], t)"

# A clean resume of a run killed midway still ends VERIFIED with the source's hash.
truncate -s 0 "$WORK/t3.img"; truncate -s 24M "$WORK/t3.img"; t3=$(attach "$WORK/t3.img")
"$CB" clone "$src" "$t3" --yes --mode raw --max-read-rate 3M --map "$WORK/k.map" >/dev/null 2>&1 &
pid=$!
for _ in $(seq 100); do grep -q '^0x[0-9A-F]*  0x[0-9A-F]*  +' "$WORK/k.map" 2>/dev/null && break; sleep 0.1; done
sleep 1
kill -9 $pid; wait $pid 2>/dev/null
check "killed run left a partial map" bash -c "! ddrescuelog -D '$WORK/k.map'"
"$CB" clone "$src" "$t3" --yes --mode raw --map "$WORK/k.map" --report "$WORK/k.json" >/dev/null 2>&1; rc=$?
check "resume: exit 0" test $rc = 0
check "resume: VERIFIED with the source's own hash" json "$WORK/k.json" \
    "assert r['outcome'] == 'copied and verified' and r['source_hashes']['sha256'] == '$want', r['outcome']"
check "resume: the report says the earlier run's part was read again from the source" json "$WORK/k.json" \
    "assert any('read again from the source' in n for n in r['notes']), r['notes']"
check "resume: target equals the source (cmp)" cmp "$src" "$t3"
finish
