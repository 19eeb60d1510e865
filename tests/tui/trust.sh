#!/bin/bash
# The right drive, in the station (issue 17, points 1, 2, 3 and 10), driven
# through tmux with loop devices attached and detached between keys:
# - a mark stays on its drive when the list is re-sorted by a hot-plug, and
#   Y writes that drive, not the one that took its row;
# - a marked drive that is pulled, or replaced behind the same name, loses
#   its mark and the screen says so;
# - the keys answer while a job prepares (its preparation runs in its thread);
# - a queued job whose target was swapped while it waited is refused at its
#   start, and the new drive is untouched;
# - SIGTERM (a shutdown) cancels the running job, writes its report as
#   cancelled, and the station exits without asking.
. "$(dirname "$0")/../lib.sh"
need_root trust
command -v tmux >/dev/null || { skip trust "tmux is not installed"; exit 0; }

B=$WORK/bench
mkdir -p "$B"
random_file "$B/a.img" 16M 3
truncate -s 16M "$B/b.img" "$B/c.img" "$B/d.img"
for f in a b c d; do attach "$B/$f.img" >/dev/null; done
dev_of() { losetup -j "$B/$1.img" -O NAME -n; }
# The drives in the station's order; the source is the first, the one marked
# is the third, so that pulling the second moves it up a row.
order=($("$CB" list --bench "$B" --json | python3 -c "import json,sys; print(' '.join(d['path'] for d in json.load(sys.stdin)))"))
src=${order[0]}; gap=${order[1]}; mark=${order[2]}; after=${order[3]}
back() { losetup -O BACK-FILE -n "$1" | sed 's/ *$//'; }
gap_file=$(back "$gap")
cp "$(back "$src")" "$WORK/src-copy.img"
mark_file=$(back "$mark"); after_file=$(back "$after")

T=cbtrust-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 36 \
    "CLONEBAY_TEST_PAUSE_PREPARE=$WORK/prep CLONEBAY_TEST_PAUSE_BEFORE_VERIFY=$WORK/verify $CB station --bench $B --reports $WORK/reports; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
row_of() { "$CB" list --bench "$B" --json | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }
top() { keys Home; for _ in $(seq 8); do keys Up; done; }
check "trust: the station lists the bench" wait_for "Drives (4" 30

# 1. The mark follows its drive through a re-sort.
keys F2; down "$(row_of "$src")"; keys Enter
check "trust: targets step" wait_for "step 2 of 4"
top; down "$(row_of "$mark")"; keys Space
partx -d "$gap" 2>/dev/null; losetup -d "$gap"
check "trust: the pulled drive leaves the list" gone "$gap_file" 10
sum_after=$(sha "$after_file")
check "trust: the mark stayed on its drive after the list moved" bash -c "$(declare -f tmux screen); T=$T; screen | grep -F '$mark ' | grep -qF '[x]' && ! screen | grep -F '$after ' | grep -qF '[x]'"
keys Enter Enter
check "trust: the confirmation names the marked drive" bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'WILL BE OVERWRITTEN' && screen | grep -qF '$mark ' && ! screen | grep -qF '$after '"
keys y

# 3. While the job prepares (held in its thread by the test hook), the keys answer.
for _ in $(seq 100); do [ -e "$WORK/prep.ready" ] && break; sleep 0.1; done
check "trust: the job is preparing in its thread" test -e "$WORK/prep.ready"
check "trust: the confirmation says the job is being prepared" wait_for "is being prepared" 5
keys Escape F1
check "trust: keys answer while the job prepares (help opens)" wait_for "clonebay station - keys" 5
check "trust: ... and the job is still preparing" bash -c "[ -e '$WORK/prep.ready' ] && [ ! -e '$WORK/prep.go' ]"
keys Escape
touch "$WORK/prep.go"
for _ in $(seq 200); do [ -e "$WORK/verify.ready" ] && break; sleep 0.1; done
touch "$WORK/verify.go"
check "trust: the job reaches VERIFIED" wait_for "VERIFIED sha256" 60
check "trust: the marked drive got the source (cmp)" cmp "$WORK/src-copy.img" "$mark_file"
check "trust: the drive that took its row is untouched" test "$(sha "$after_file")" = "$sum_after"
rm -f "$WORK/verify.ready" "$WORK/verify.go"

# 1. A marked drive pulled, and one replaced behind the same name, lose their marks.
keys F2; top; down "$(row_of "$src")"; keys Enter
check "trust: targets step again" wait_for "step 2 of 4"
top; down "$(row_of "$after")"; keys Space
partx -d "$after" 2>/dev/null; losetup -d "$after"
check "trust: a pulled drive's mark is dropped, in words" wait_for "was removed: its mark was dropped" 10
truncate -s 16M "$B/other.img"
after=$(attach "$B/d.img")
keys Escape
top; down "$(row_of "$src")"; keys Enter
top; down "$(row_of "$after")"; keys Space
# The swap must look like one change to the station, as a drive swapped in a
# powered-off bay does: stopped, it sees the removal and the new drive in one turn
# (else it may rescan in between and rightly say "was removed" instead).
station_pid=$(pgrep -f "^$CB station --bench $B " | head -1)
check "trust: the station's process is found (to hold it during the swap)" test -n "$station_pid"
kill -STOP "$station_pid"
partx -d "$after" 2>/dev/null; losetup -d "$after"; losetup "$after" "$B/other.img"
kill -CONT "$station_pid"
defer "losetup -d $after"
check "trust: a drive replaced behind the same name loses its mark" wait_for "is not the same drive any more" 10
check "trust: ... nothing is marked" bash -c "$(declare -f tmux screen); T=$T; ! screen | grep -qF '[x]'"
keys Escape Escape

# 2. A queued job keeps the drives that were confirmed: job A (source -> mark)
# holds at verification; job B reads mark (so it waits) and writes e.img, which is
# swapped while B waits; B is refused when it comes to start.
partx -d "$after" 2>/dev/null; losetup -d "$after"
truncate -s 16M "$B/e.img"; c=$(attach "$B/e.img")
check "trust: the bench shows the new drive" wait_for "e.img" 10
keys F2; top; down "$(row_of "$src")"; keys Enter
top; down "$(row_of "$mark")"; keys Space Enter Enter y
for _ in $(seq 200); do [ -e "$WORK/verify.ready" ] && break; sleep 0.1; done
check "trust: job A holds before verifying" test -e "$WORK/verify.ready"
keys F2; top; down "$(row_of "$mark")"; keys Enter
top; down "$(row_of "$c")"; keys Space Enter Enter y
check "trust: job B waits behind job A" wait_for "queued" 10
truncate -s 16M "$B/swapped.img"; swapped_sum=$(sha "$B/swapped.img")
partx -d "$c" 2>/dev/null; losetup -d "$c"; losetup "$c" "$B/swapped.img"
defer "losetup -d $c"
touch "$WORK/verify.go"
check "trust: job B is refused at its start, naming the drive" wait_for "is not the drive that was confirmed" 60
check "trust: the swapped-in drive is untouched" test "$(sha "$B/swapped.img")" = "$swapped_sum"
rm -f "$WORK/verify.ready" "$WORK/verify.go"

# 10. SIGTERM while a job runs: cancelled in order, reported, station gone.
keys F2; top; down "$(row_of "$src")"; keys Enter
top; down "$(row_of "$mark")"; keys Space Enter Enter y
for _ in $(seq 200); do [ -e "$WORK/verify.ready" ] && break; sleep 0.1; done
pid=$(pgrep -f "^$CB station --bench $B" | head -1)
kill -TERM "$pid"
sleep 0.5; touch "$WORK/verify.go"     # the job, held by the test hook, goes on and sees the cancel
check "trust: SIGTERM ends the station without asking" wait_for "station-exited" 60
check "trust: the running job's report says cancelled" bash -c \
    "f=\$(grep -l '\"cancelled\"' '$WORK'/reports/*-clone.json | head -1); [ -n \"\$f\" ]"
check "trust: the target is free again (opened O_EXCL)" python3 -c "import os; os.close(os.open('$mark', os.O_WRONLY | os.O_EXCL))"
finish
