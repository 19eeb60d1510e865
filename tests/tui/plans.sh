#!/bin/bash
# The station offers what the command line offers (issue 19): mode, resize,
# retries and a map file on the options screen; the confirmation shows each
# target's plan (worked out in a thread while the screen waits) before Y; one
# job onto a larger and a smaller drive fits each, from one read of the master.
. "$(dirname "$0")/../lib.sh"
need_root plans
command -v tmux >/dev/null || { skip plans "tmux is not installed"; exit 0; }

B=$WORK/bench
mkdir -p "$B" "$WORK/m" "$WORK/n"
truncate -s 64M "$B/a-master.img"
sgdisk -n 1:1M:0 -t 1:8300 -c 1:root "$B/a-master.img" >/dev/null
src=$(attach "$B/a-master.img")
mkfs.ext4 -q -L master "${src}p1"
mount "${src}p1" "$WORK/m" && cp -rL /usr/share/doc/gdisk /usr/share/doc/e2fsprogs "$WORK/m/" &&
    random_file "$WORK/m/data.bin" 8M 4 && umount "$WORK/m"
truncate -s 96M "$B/b-large.img"; truncate -s 40M "$B/c-small.img"
large=$(attach "$B/b-large.img"); small=$(attach "$B/c-small.img")

T=cbplans-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 40 "$CB station --bench $B --reports $WORK/reports; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
row_of() { "$CB" list --bench "$B" --json | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }
top() { keys Home; for _ in $(seq 6); do keys Up; done; }
check "plans: the bench is listed" wait_for "Drives (3" 30

keys F2; top; down "$(row_of "$src")"; keys Enter
top; down "$(row_of "$large")"; keys Space
top; down "$(row_of "$small")"; keys Space Enter
check "plans: the options offer mode, resize, retries and a map file" bash -c \
    "$(declare -f tmux wait_for screen); T=$T; wait_for 'm  mode' && screen | grep -q 'r  resize' && screen | grep -q 't  retries' && screen | grep -q 'p  map file'"
keys m p t
check "plans: used mode chosen" wait_for "used: only the blocks" 5
check "plans: a map file chosen" wait_for "yes, beside the reports" 5
check "plans: two retry passes" wait_for "2 passes" 5
keys Enter
check "plans: the confirmation shows each target's plan before Y" bash -c \
    "$(declare -f tmux wait_for screen); T=$T; wait_for 'Plan for each target' 30 && screen | grep -qF 'target $large: partitions fitted' && screen | grep -qF 'target $small: partitions fitted'"
check "plans: the plans show partitions changing size" bash -c "$(declare -f tmux screen); T=$T; screen | grep -qF -- ' -> '"
keys y
check "plans: the job reaches VERIFIED" wait_for "VERIFIED sha256" 90
json_report=$(ls "$WORK"/reports/*-job1-clone.json 2>/dev/null | head -1)
check "plans: the report has each target's plan" json "$json_report" \
    "assert sum('partitions fitted' in n for n in r['notes']) == 2, r['notes']"
check "plans: the map file was kept beside the reports (ddrescuelog reads it)" bash -c "ddrescuelog -t \$(ls '$WORK'/reports/*.map | head -1) >/dev/null"
mount -o ro "${src}p1" "$WORK/m"
for t in $large $small; do
    partx -u "$t" 2>/dev/null || partx -a "$t" 2>/dev/null
    check "plans: $t: GPT valid" bash -c "sgdisk -v $t | grep -q 'No problems found'"
    check "plans: $t: ext4 clean" e2fsck -fn "${t}p1"
    check "plans: $t: ext4 fills its partition" bash -c \
        "[ \$(( \$(dumpe2fs -h ${t}p1 2>/dev/null | awk -F: '/^Block count/ {print \$2}') * 4096 )) -gt \$(( \$(blockdev --getsize64 ${t}p1) - (1 << 20) )) ]"
    mount -o ro "${t}p1" "$WORK/n"
    check "plans: $t: every file equal" diff -r "$WORK/m" "$WORK/n"
    umount "$WORK/n"
done
umount "$WORK/m"
keys F10
check "plans: the station exits" wait_for "station-exited" 20
finish
