#!/bin/bash
# Power cut in the middle of a clone with --map, then resume (issue 17, point 5).
# The target is a drive with a volatile write cache (tests/tools/cachedisk): what
# was written but not flushed is lost when it is "unplugged". A map that calls a
# region finished must mean that region is on the media, or the resume skips it;
# and the resumed job may say VERIFIED only when the target holds the source.
. "$(dirname "$0")/../lib.sh"
need_root power_cut
command -v fusermount3 >/dev/null || { skip power_cut "fusermount3 missing"; exit 0; }
[ -x "$TOOLS/cachedisk" ] || { fail power_cut "$TOOLS/cachedisk is not built"; finish; }

SIZE=64M
RATE=8M         # slow enough to kill it after a map save (every 3 s) with more written since
random_file "$WORK/src.img" $SIZE 17
src=$(attach "$WORK/src.img" -r)
truncate -s $SIZE "$WORK/tgt.img"

# undefer LINE: a clean-up already done by hand must not run again at exit: the
# loop name or the pid may belong to someone else by then.
undefer() { grep -vxF -- "$1" "$WORK/.cleanup" > "$WORK/.cleanup.new"; mv "$WORK/.cleanup.new" "$WORK/.cleanup"; }

# plug N: cachedisk on tgt.img, a loop over it in $tgt. Always at the same mount
# point: the loop's identity is its backing file's path, and the drive after the
# power cut is the same drive (the map names its target; another is refused).
# Started here, not in $(...), so that $cd_pid is our child to wait for.
plug() {
    cd_mnt="$WORK/fuse"
    mkdir -p "$cd_mnt"
    "$TOOLS/cachedisk" "$cd_mnt" --file "$WORK/tgt.img" -f 2> "$WORK/cachedisk-$1.log" &
    cd_pid=$!
    defer "fusermount3 -u $cd_mnt; kill $cd_pid"
    for _ in $(seq 50); do [ -e "$cd_mnt/disk" ] && break; sleep 0.1; done
    # Nothing after this means anything without the drive.
    tgt=$(attach "$cd_mnt/disk" --direct-io=on) ||
        { fail power_cut "no drive at $cd_mnt: $(tail -1 "$WORK/cachedisk-$1.log")"; finish; }
}

# unplug: the power cut. The cache is dropped first, so nothing still on its way
# (the loop's own writes at detach) can reach the media; then everything goes.
unplug() {
    kill -USR1 "$cd_pid"
    for _ in $(seq 50); do grep -q unplugged "$WORK/cachedisk-$1.log" && break; sleep 0.1; done
    partx -d "$tgt" 2>/dev/null; losetup -d "$tgt"
    undefer "partx -d $tgt; losetup -d $tgt"
    fusermount3 -u "$cd_mnt"
    wait "$cd_pid" 2>/dev/null
    undefer "fusermount3 -u $cd_mnt; kill $cd_pid"
}

# finished_bytes MAP: what a saved ddrescue map calls finished ('+').
finished_bytes() {
    local n=0 pos size st
    while read -r pos size st _; do [[ $pos != \#* && $st == + ]] && n=$((n + size)); done 2>/dev/null < "$1"
    echo $n
}

start=$SECONDS
plug 1
cmd=(clone "$src" "$tgt" --map "$WORK/m.map" --yes --mode raw --max-read-rate "$RATE")
"$CB" "${cmd[@]}" > "$WORK/out1" 2>&1 &
pid=$!
# Wait for a save that marks regions finished, then let it write on for a second,
# so the cut falls between two saves with unsaved writes in the cache.
for _ in $(seq 150); do [ -s "$WORK/m.map" ] && [ "$(finished_bytes "$WORK/m.map")" -gt 0 ] && break; sleep 0.1; done
sleep 1
if kill -9 $pid 2>/dev/null; then pass "cut: killed mid-copy"; else fail "cut: killed mid-copy" "it ended first: $(tail -2 "$WORK/out1" | tr '\n' ' ')"; fi
{ wait $pid; } 2>/dev/null      # no "Killed" line from the shell
unplug 1
done_at_cut=$(finished_bytes "$WORK/m.map")
check "cut: the map marks some regions finished, not all" test "$done_at_cut" -gt 0 -a "$done_at_cut" -lt "$(numfmt --from=iec $SIZE)"
check "cut: the unplug lost unflushed writes" grep -Eq "unplugged, lost [1-9][0-9]* bytes" "$WORK/cachedisk-1.log"
# The map's promise, checked on the media itself before anything resumes.
check "cut: every region the map calls finished is on the media" python3 - "$WORK/m.map" "$WORK/src.img" "$WORK/tgt.img" <<'EOF'
import sys
m, s, t = sys.argv[1:]
lines = [l.split() for l in open(m) if l.strip() and not l.startswith('#')]
bad = []
with open(s, 'rb') as fs, open(t, 'rb') as ft:
    for pos, size, st in (l[:3] for l in lines[1:]):
        pos, size = int(pos, 0), int(size, 0)
        if st != '+':
            continue
        fs.seek(pos); ft.seek(pos)
        if fs.read(size) != ft.read(size):
            bad.append('%d+%d' % (pos, size))
if bad:
    sys.exit('finished in the map but not on the media: ' + ' '.join(bad))
EOF

# Power back: the same drive, the same command.
plug 2
cmd[2]=$tgt
"$CB" "${cmd[@]}" --report "$WORK/r.json" > "$WORK/out2" 2>&1; rc=$?
[ -s "$WORK/r.json" ] || fail "resume: a report" "exit $rc: $(tail -2 "$WORK/out2" | tr '\n' ' ')"
check "resume: report says resumed" json "$WORK/r.json" "assert r['resumed']"
check "resume: exit 0, target VERIFIED" json "$WORK/r.json" "assert $rc == 0 and r['targets'][0]['result'] == 'VERIFIED', ($rc, r['targets'][0]['result'])"
check "resume: target equals the source" cmp "$tgt" "$WORK/src.img"
exact=0; cmp "$tgt" "$WORK/src.img" > "$WORK/cmp" 2>&1 && exact=1
check "resume: says VERIFIED only if the target is exact" json "$WORK/r.json" "
v = r['targets'][0]['result'] == 'VERIFIED'
assert v == bool($exact) and (($rc == 0) == bool($exact)), 'exit $rc, %s, but target %s' % (r['targets'][0]['result'], 'exact' if $exact else 'differs: $(head -1 "$WORK/cmp")')"
check "resume: sha256 in the report is the source's" json "$WORK/r.json" "assert r['source_hashes']['sha256'] == '$(sha "$WORK/src.img")', r['source_hashes']"
check "after the job: the media holds the source" cmp "$WORK/tgt.img" "$WORK/src.img"
echo "# power_cut: $((SECONDS - start)) s; $done_at_cut bytes finished at the cut; $(grep -c "^cachedisk: flush" "$WORK/cachedisk-1.log") target flushes before it"
finish
