#!/bin/bash
# The station driven by keys through tmux, on a bench of loop devices:
# drives shown with sizes, hot-plug, a clone to two targets by keys only
# (cmp as the oracle), a mounted drive that cannot be picked, resize, a
# failing drive's job cancelled by quitting, and a clean quit.
. "$(dirname "$0")/../lib.sh"
need_root station
command -v tmux >/dev/null || { skip station "tmux is not installed"; exit 0; }
NAME=${STATION_TEST_NAME:-station}

B=$WORK/bench
mkdir -p "$B" "$WORK/m"
truncate -s 64M "$B/a-source.img"
sgdisk -n 1:2048:0 -t 1:8300 "$B/a-source.img" >/dev/null
d=$(attach "$B/a-source.img"); mkfs.ext4 -q -L benchroot "${d}p1"
# 40 MiB of data: more than a 32 MiB drive holds, even with only the used blocks copied.
mount "${d}p1" "$WORK/m" && cp -r /usr/share/doc/gdisk "$WORK/m/" && head -c 40M /dev/urandom > "$WORK/m/data.bin"
umount "$WORK/m"
truncate -s 64M "$B/b-target.img" "$B/c-target.img"; truncate -s 32M "$B/d-small.img"
truncate -s 64M "$B/e-mounted.img"; mkfs.ext4 -q -F "$B/e-mounted.img"
for f in b-target c-target d-small e-mounted; do attach "$B/$f.img" >/dev/null; done
mounted=$(losetup -j "$B/e-mounted.img" -O NAME -n)
mkdir -p "$WORK/mm" && mount "$mounted" "$WORK/mm" && defer "umount $WORK/mm"
src=$d; t1=$(losetup -j "$B/b-target.img" -O NAME -n); t2=$(losetup -j "$B/c-target.img" -O NAME -n)

T=cbtest-$$
own_tmux
tmux new-session -d -s "$T" -x 100 -y 30 "$CB station --bench $B --reports $WORK/reports; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
# Row of a device in the station's (and list's) order.
row_of() { "$CB" list --bench "$B" --json | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }

check "$NAME: drives panel lists the bench with sizes" wait_for "64.0 MiB"
check "$NAME: the smaller drive is listed" bash -c "$(declare -f tmux screen); screen | grep -q '32.0 MiB'"
check "$NAME: the mounted drive is flagged" bash -c "$(declare -f tmux screen); screen | grep -F '$mounted' | grep -q MOUNTED"
check "$NAME: partitions and labels shown" bash -c "$(declare -f tmux screen); screen | grep -q \"ext4 'benchroot'\""

# Hot-plug: a new loop over a file in the bench appears.
truncate -s 48M "$B/f-extra.img"; attach "$B/f-extra.img" >/dev/null
check "$NAME: a drive plugged in appears" wait_for "f-extra.img" 10

# A clone to two targets with keys only.
keys F2
check "$NAME: new job asks for the source" wait_for "step 1 of 4"
down "$(row_of "$src")"; keys Enter
check "$NAME: then for the targets" wait_for "step 2 of 4"
check "$NAME: the mounted drive cannot be picked, with the reason" bash -c "$(declare -f tmux screen); screen | grep -F '$mounted' | grep -q \"can't: mounted\""
check "$NAME: the smaller drive is offered: the source's partitions would be fitted" bash -c "$(declare -f tmux screen); screen | grep -F 'd-small' | grep -q 'smaller (fitted)'"
down "$(row_of "$mounted")"; keys Space
check "$NAME: marking the mounted drive is refused" wait_for "cannot be a target: mounted"
# The smaller drive: the ext4 data does not fit in it, so Y is refused
# with the planner's reason and nothing is written; then it is unmarked again.
small=$(losetup -j "$B/d-small.img" -O NAME -n); small_sum=$(sha "$small")
keys Home; for _ in $(seq 8); do keys Up; done
down "$(row_of "$small")"; keys Space
keys Enter Enter
check "$NAME: the confirmation says the smaller drive's partitions are fitted" wait_for "smaller than the source" 10
keys y
check "$NAME: Y on a layout that cannot fit: refused, with the partition and sizes" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'refused, nothing was written' 20 && screen | grep -q 'partition #1'"
check "$NAME: the smaller drive is untouched" test "$(sha "$small")" = "$small_sum"
keys Escape Escape
check "$NAME: back to the targets" wait_for "step 2 of 4" 10
keys Home; for _ in $(seq 8); do keys Up; done
down "$(row_of "$small")"; keys Space
keys Home; for _ in $(seq 8); do keys Up; done
down "$(row_of "$t1")"; keys Space
for _ in $(seq 8); do keys Up; done
down "$(row_of "$t2")"; keys Space
keys Enter
check "$NAME: options" wait_for "step 3 of 4"
keys Enter
check "$NAME: the confirmation lists what will be overwritten" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'WILL BE OVERWRITTEN' && screen | grep -qF '$t1' && screen | grep -qF '$t2'"
keys y
check "$NAME: the job reaches VERIFIED" wait_for "VERIFIED sha256" 60
check "$NAME: both targets equal the source (cmp)" bash -c "cmp $src $t1 && cmp $src $t2"
check "$NAME: a report was written" bash -c "ls '$WORK/reports'/*-job1-clone.json"

# The job detail: block map, throughput and log.
keys Enter
check "$NAME: job detail shows the block map and log" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'Block map' && screen | grep -q 'phase: verify'"
keys Escape

# The mouse: a double click on the job (xterm mouse reports) opens its detail too.
keys Tab
row=$(($(screen | grep -n '^ #1 ' | cut -d: -f1) - 1))
click() { printf '\033[M%b%b%b' "\\x$(printf %x $((32 + $1)))" "\\x$(printf %x 38)" "\\x$(printf %x $((33 + $2)))"; }
tmux send-keys -t "$T" -l "$(click 0 $row)$(click 3 $row)$(click 0 $row)$(click 3 $row)"
check "$NAME: a double click on a job opens its detail" wait_for "Block map" 5
keys Escape

# Resize to the 80x24 minimum: still drawn.
tmux resize-window -t "$T" -x 80 -y 24 2>/dev/null || tmux resize-pane -t "$T" -x 80 -y 24
sleep 0.5
check "$NAME: redrawn at 80x24" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'Drives (' && screen | grep -q 'F10' && ! screen | grep -q 'too small (80x24'"

# A failing drive copied to a target; quitting while it runs asks, then cancels it.
tmux resize-window -t "$T" -x 110 -y 40 2>/dev/null || tmux resize-pane -t "$T" -x 110 -y 40
if [ -x "$TOOLS/faultdisk" ] && command -v fusermount3 >/dev/null; then
    # Mounted inside the bench folder, so the station's bench filter shows it.
    mkdir -p "$B/fuse-slow"
    "$TOOLS/faultdisk" "$B/fuse-slow" --size 48M --bad 1048576:4194304 --bad-latency-us 20000 -f >/dev/null 2>&1 &
    defer "fusermount3 -u $B/fuse-slow; kill $!"
    for _ in $(seq 50); do [ -e "$B/fuse-slow/disk" ] && break; sleep 0.1; done
    fd=$(attach "$B/fuse-slow/disk" -r --direct-io=on)
    check "$NAME: the failing drive appears" wait_for "48.0 MiB  disk" 10
    keys F2; keys Home; for _ in $(seq 8); do keys Up; done
    down "$(row_of "$fd")"; keys Enter
    for _ in $(seq 8); do keys Up; done
    down "$(row_of "$t1")"; keys Space Enter Enter y
    check "$NAME: the rescue job runs" wait_for "clone   running" 60
    keys F10
    check "$NAME: quitting with a job running asks first" wait_for "still active" 5
    keys y
    check "$NAME: the station exits after cancelling" wait_for "station-exited" 60
    check "$NAME: the cancelled job's report says so" json "$(ls "$WORK"/reports/*-job2-clone.json 2>/dev/null | head -1)" "assert r['outcome'] == 'cancelled', r['outcome']"

    # The terminal closes while a job runs: the station cancels it, reports, and exits (no spinning).
    T2=cbtest2-$$
    tmux new-session -d -s "$T2" -x 100 -y 30 "$CB station --bench $B --reports $WORK/reports2"
    T_SAVE=$T; T=$T2
    check "$NAME: a second station starts" wait_for "Drives (" 40
    keys F2; for _ in $(seq 8); do keys Up; done
    down "$(row_of "$fd")"; keys Enter
    for _ in $(seq 8); do keys Up; done
    down "$(row_of "$t1")"; keys Space Enter Enter y
    check "$NAME: its job runs" wait_for "clone   running" 60
    pid=$(pgrep -f "reports $WORK/reports2" | head -1)
    tmux kill-session -t "$T2"
    for _ in $(seq 300); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    check "$NAME: closing the terminal ends the station" bash -c "! kill -0 $pid 2>/dev/null"
    check "$NAME: its job was cancelled and reported" json "$(ls "$WORK"/reports2/*-job1-clone.json 2>/dev/null | head -1)" "assert r['outcome'] == 'cancelled', r['outcome']"
    T=$T_SAVE
else
    skip "$NAME: failing drive" "faultdisk or fusermount3 missing"
    keys F10
    check "$NAME: the station exits" wait_for "station-exited" 10
fi
finish
