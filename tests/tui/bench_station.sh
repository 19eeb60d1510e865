#!/bin/bash
# The station at a busy bench (issue 24), driven through tmux on loop devices:
# - `clonebay --reports DIR --bench DIR ...` (no word "station") opens the station;
# - a refusal on the confirmation screen is shown there whole, and a key that
#   does nothing says why;
# - a one-to-two job with one slow target (tests/tools/ratedisk, a drive with
#   its own media speed): the slow one is marked `slow` and the job line names it;
# - a target that stops answering (its FUSE drive stopped with SIGSTOP) shows
#   `not answering since` on its job and drive lines within --stall-seconds,
#   and in the report;
# - the bell: one BEL for a verified job, three for a failed one (the pane's
#   raw output captured with pipe-pane);
# - the bench view at 120x36 and 80x24: a tile and a state word per drive;
# - on quit, the session summary is shown and saved as text and JSON.
. "$(dirname "$0")/../lib.sh"
need_root bench_station
command -v tmux >/dev/null || { skip bench_station "tmux is not installed"; exit 0; }
if [ ! -x "$TOOLS/ratedisk" ] || ! command -v fusermount3 >/dev/null; then
    skip bench_station "tests/tools/ratedisk or fusermount3 missing"; exit 0
fi
STALL=3

B=$WORK/bench
mkdir -p "$B"
# A partitioned source (so a smaller target could be fitted), a same-size fast
# target and a smaller one: marked together they differ in size, which is refused.
random_file "$B/a-src.img" 32M 7
sgdisk -n 1:2048:0 -t 1:8300 "$B/a-src.img" >/dev/null
truncate -s 32M "$B/b-fast.img"; truncate -s 24M "$B/c-small.img"
for f in a-src b-fast c-small; do attach "$B/$f.img" >/dev/null; done
dev_of() { losetup -j "$B/$1.img" -O NAME -n; }
src=$(dev_of a-src); fast=$(dev_of b-fast); small=$(dev_of c-small)
# The refusal the station must show whole: the command line's, for the same drives.
refusal=$("$CB" clone "$src" "$fast" "$small" --yes 2>&1 >/dev/null | sed 's/^clonebay: //; s/^refused, nothing was written: //')

# rate_drive NAME MBPS: a writable drive with its own speed, mounted in the
# bench so the station shows it. Prints the loop path; its pid in $WORK/NAME.pid.
rate_drive() {
    local name=$1 rate=$2 mnt="$B/fuse-$1"
    mkdir -p "$mnt"
    truncate -s 32M "$WORK/$name.media"
    "$TOOLS/ratedisk" "$mnt" --rate "$rate" --file "$WORK/$name.media" -f >/dev/null 2>&1 &
    echo $! > "$WORK/$name.pid"
    defer "kill -CONT $!; fusermount3 -u $mnt; kill $!"
    for _ in $(seq 50); do [ -e "$mnt/disk" ] && break; sleep 0.1; done
    attach "$mnt/disk" --direct-io=on
}
slow=$(rate_drive slow 3)
stall=$(rate_drive stall 1)     # slow enough to be caught writing on a busy machine

T=cbbench-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 36 \
    "$CB --bench $B --reports $WORK/reports --stall-seconds $STALL; echo station-exited; sleep 60"
defer "tmux kill-session -t $T"
tmux pipe-pane -t "$T" -o "cat >> $WORK/pane.raw"
bells() { tr -cd '\007' < "$WORK/pane.raw" | wc -c; }
row_of() { "$CB" list --bench "$B" --json | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }
top() { keys Home; for _ in $(seq 8); do keys Up; done; }
# flat: the screen as one line, rows joined by spaces (a wrapped message reads whole).
flat() { screen | sed 's/[[:space:]]*$//' | tr '\n' ' ' | tr -s ' '; }
pick_source() { keys F2; top; down "$(row_of "$1")"; keys Enter; }
mark() { top; down "$(row_of "$1")"; keys Space; }
# confirm: Y on the confirmation screen, until the job is on its way (or refused):
# a Y given while the plans are worked out waits for them, and a Y that went
# nowhere (the plans were worked out again meanwhile) is given again.
confirm() {
    local i k s
    for i in $(seq 20); do
        keys y
        for k in $(seq 30); do
            s=$(screen)
            echo "$s" | grep -q 'step 4 of 4' || return 0
            echo "$s" | grep -qE 'being prepared|refused' && return 0
            echo "$s" | grep -qE 'starts as soon as|still being worked out' || break
            sleep 0.1
        done
        sleep 1
    done
}

# 1. The station's options without the word "station".
check "bench_station: clonebay --reports DIR opens the station" wait_for "Drives (5" 10
check "bench_station: ... with its reports in DIR" bash -c "$(declare -f tmux screen); T=$T; screen | grep -qF 'reports: $WORK/reports'"

# 2. A key that does nothing says why; a refusal is shown whole where Y was pressed.
keys z
check "bench_station: a key that does nothing says why" wait_for "z does nothing here" 5
pick_source "$src"
check "bench_station: the targets step" wait_for "step 2 of 4" 5
mark "$fast"; mark "$small"
keys Enter Enter
check "bench_station: the confirmation screen" wait_for "step 4 of 4" 5
confirm
# Compared without white space: wrapped at the width, the words are the same.
squeeze() { tr -d ' \n'; }
want=$(printf '%s' "$refusal" | squeeze)
for _ in $(seq 150); do screen | squeeze | grep -qF -- "$want" && break; sleep 0.1; done
check "bench_station: the command line refuses these targets (the text the station must show)" test -n "$refusal"
check "bench_station: the refusal is on the confirmation screen, whole" bash -c "$(declare -f tmux screen squeeze); T=$T; screen | squeeze | grep -qF -- '$want' && screen | grep -q 'step 4 of 4'"
keys x
check "bench_station: a key the confirmation does not use says why" wait_for "x does nothing here: Y starts the job" 5

# 3. One to two, one target slow: marked, and named on the job's line.
keys Escape Escape
check "bench_station: back to the targets" wait_for "step 2 of 4" 5
mark "$small"; mark "$slow"
keys Enter Enter
check "bench_station: the confirmation lists the fast and the slow target" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'WILL BE OVERWRITTEN' 5 && screen | grep -qF '$fast ' && screen | grep -qF '$slow '"
before=$(bells)
confirm
check "bench_station: each target has its own line" wait_for "-> $slow" 20
# The checks below read one screen: the first that shows the slow mark (the
# job may be over a few seconds later on a busy machine).
for _ in $(seq 600); do screen > "$WORK/slow-screen"; grep -F -- "-> $slow" "$WORK/slow-screen" | grep -q ' slow' && break; sleep 0.1; done
check "bench_station: the slow target is marked slow" bash -c "grep -F -- '-> $slow' '$WORK/slow-screen' | grep -q ' slow'"
check "bench_station: the fast target is not" bash -c "! grep -F -- '-> $fast' '$WORK/slow-screen' | grep -q ' slow'"
check "bench_station: the job line names the target that holds it back" grep -qF "held back by $slow (slow)" "$WORK/slow-screen"
check "bench_station: the job's line shows it moving (a rate above 0)" bash -c "grep 'held back by' '$WORK/slow-screen' | grep -qE ' [1-9][0-9]* MB/s \(avg'"
check "bench_station: targets show their bytes and rate" bash -c "grep -F -- '-> $slow' '$WORK/slow-screen' | grep -qE 'MiB of .* MB/s'"
check "bench_station: the job reaches VERIFIED" wait_for "VERIFIED sha256" 90
check "bench_station: each target line says VERIFIED" bash -c "$(declare -f tmux screen); T=$T; screen | grep -F -- '-> $fast' | grep -q VERIFIED && screen | grep -F -- '-> $slow' | grep -q VERIFIED"
check "bench_station: both targets hold the source (cmp)" bash -c "cmp $src $fast && cmp $src $slow"
check "bench_station: the report is in DIR" bash -c "ls '$WORK/reports'/*-job*-clone.json"
sleep 1
check "bench_station: one BEL for a verified job" test "$(($(bells) - before))" = 1

# 5. m toggles the bell, and says so.
keys m
check "bench_station: m turns the bell off" wait_for "the bell is off" 5
keys m
check "bench_station: m turns it on again" wait_for "the bell is on" 5

# 4. A target that stops answering, then dies: the job fails, three BELs.
pick_source "$src"; mark "$stall"; keys Enter Enter
wait_for "WILL BE OVERWRITTEN" 5
before=$(bells)
confirm
wait_for "-> $stall" 30
# Stopped once the copy writes to it (its plan and preparation only read it),
# as the drive itself counts: at 1 MB/s the copy is far from done then.
written() { awk '{for (i = 1; i < NF; i++) if ($i == "write_bytes") print $(i + 1)}' "$B/fuse-stall/stats"; }
for _ in $(seq 1200); do [ "$(written)" -gt 0 ] 2>/dev/null && break; sleep 0.1; done
kill -STOP "$(cat "$WORK/stall.pid")"; stopped=$(date +%s)
for _ in $(seq $((STALL * 30))); do screen | grep -F -- "-> $stall" | grep -q "not answering since" && break; sleep 0.1; done
echo "the silent target was said 'not answering' $(($(date +%s) - stopped)) s after it stopped (set: $STALL s)"
check "bench_station: a silent target is 'not answering' on its target line within the set time" bash -c "$(declare -f tmux screen); T=$T; screen | grep -F -- '-> $stall' | grep -q 'not answering since [0-9][0-9]:[0-9][0-9]:[0-9][0-9]'"
check "bench_station: ... and on its job line" wait_for "held back by $stall (not answering since" 3
check "bench_station: ... and on its drive line" bash -c "$(declare -f tmux screen); T=$T; screen | grep -F '$stall ' | grep -v -- '->' | grep -q 'not answering since'"
kill -KILL "$(cat "$WORK/stall.pid")"
check "bench_station: the dead target fails the job" wait_for "FAILED" 60
check "bench_station: the failure is said whole on the main screen" bash -c "$(declare -f tmux screen flat); T=$T; for i in \$(seq 300); do flat | grep -qE 'job #[0-9]+ failed: FAILED: .*[a-z]' && exit 0; sleep 0.1; done; exit 1"
sleep 2
check "bench_station: three BELs for a failed job" test "$(($(bells) - before))" = 3
rep=$(ls -t "$WORK"/reports/*-clone.txt | head -1)
check "bench_station: the report says the target was not answering" grep -q "not answering since [0-9:]*" "$rep"

# 6. The bench view: a tile and a state word per drive, at 120x36 and 80x24.
tiles_ok() {
    local d out
    out=$(screen)
    for d in "$src" "$fast" "$small" "$slow" "$stall"; do
        echo "$out" | grep -qF -- "+- $d " || { echo "no tile for $d"; return 1; }
    done
    [ "$(echo "$out" | grep -oE '\| (idle|busy|VERIFIED|FAILED|warning) ' | wc -l)" -ge 5 ] || { echo "a tile without its state word"; return 1; }
    for w in VERIFIED FAILED idle; do echo "$out" | grep -q "$w" || { echo "no $w"; return 1; }; done
}
keys b
check "bench_station: b opens the bench view" wait_for "Bench: 5 drives" 5
check "bench_station: at 120x36 every drive has a tile with its state word" bash -c "$(declare -f tmux screen tiles_ok); T=$T; src=$src fast=$fast small=$small slow=$slow stall=$stall tiles_ok"
screen > "$WORK/bench-120.txt"
tmux resize-window -t "$T" -x 80 -y 24 2>/dev/null || tmux resize-pane -t "$T" -x 80 -y 24
sleep 1
check "bench_station: at 80x24 too" bash -c "$(declare -f tmux screen tiles_ok); T=$T; src=$src fast=$fast small=$small slow=$slow stall=$stall tiles_ok"
check "bench_station: the verified targets' tiles say VERIFIED" bash -c "[ \$($(declare -f tmux screen); T=$T; screen | grep -o VERIFIED | wc -l) -ge 2 ]"
keys q
check "bench_station: q returns to the list" wait_for "Drives (5" 5
keys Escape
check "bench_station: Esc on the main screen says it does nothing there" wait_for "Esc does nothing here" 5

# 4b. A source that stops answering (a fault drive whose FUSE server is
# stopped mid-copy): said on the job line and on its drive line; the job is
# then cancelled.
mkdir -p "$B/fuse-lag"
"$TOOLS/faultdisk" "$B/fuse-lag" --size 32M --latency-us 100000 -f >/dev/null 2>&1 &
lagpid=$!
defer "kill -CONT $lagpid; fusermount3 -u $B/fuse-lag; kill $lagpid"
for _ in $(seq 50); do [ -e "$B/fuse-lag/disk" ] && break; sleep 0.1; done
lag=$(attach "$B/fuse-lag/disk" -r --direct-io=on)
check "bench_station: the lagging drive appears" wait_for "Drives (6" 30
pick_source "$lag"; mark "$fast"; keys Enter Enter
wait_for "WILL BE OVERWRITTEN" 10
confirm
wait_for "-> $fast" 30
for _ in $(seq 600); do screen | grep -F -- "-> $fast" | grep -q 'writing' && break; sleep 0.1; done
kill -STOP $lagpid
check "bench_station: a silent source is 'not answering' on its job line" wait_for "source $lag not answering since" $((STALL + 5))
check "bench_station: ... and on its drive line" bash -c "$(declare -f tmux screen); T=$T; screen | grep -F '$lag ' | grep -v -- '->' | grep -q 'not answering since'"
keys F8
kill -CONT $lagpid
check "bench_station: the job with the silent source is cancelled" wait_for "CANCELLED" 60

# 7. The session summary, shown on quit and saved beside the reports.
keys F10
check "bench_station: the station exits" wait_for "station-exited" 30
check "bench_station: the summary is shown on quit" bash -c "$(declare -f tmux screen); T=$T; screen | grep -q 'jobs done: 2 .*1 cancelled' && screen | grep -q 'drives verified: 2' && screen | grep -q 'drives failed: 1'"
check "bench_station: the summary is saved as text" bash -c "grep -q 'drives verified: 2' '$WORK'/reports/session-*.txt"
check "bench_station: ... and as JSON, with the right counts and drives" json "$(ls "$WORK"/reports/session-*.json | head -1)" \
    "assert (r['jobs_done'], r['jobs_cancelled'], r['drives_verified'], r['drives_failed']) == (2, 1, 2, 1), r; assert sorted(d['path'] for d in r['drives'] if d['verdict'] == 'verified') == sorted(['$fast', '$slow']), r; assert [d['path'] for d in r['drives'] if d['verdict'] == 'failed'] == ['$stall'], r; assert all('serial' in d for d in r['drives'])"
finish
