#!/bin/bash
# Advice before a job from the drives' SMART health (issue 21), in the station
# on a practice bench: a failing source gets the rescue settings (a map file,
# three passes over unreadable sectors) offered on its options screen; a target
# with bad sectors needs a second Y, and the first writes nothing. Loop devices
# have no SMART, so the station reads smartctl's recorded answers for two of
# them (CLONEBAY_TEST_SMART, devices/dev_health.c); the third has none: unknown.
. "$(dirname "$0")/../lib.sh"
need_root health_advice
command -v tmux >/dev/null || { skip health_advice "tmux is not installed"; exit 0; }

B=$WORK/bench
FX=$TOP/tests/fixtures/smart
mkdir -p "$B"
random_file "$B/a-source.img" 16M 31
random_file "$B/b-target.img" 16M 32
random_file "$B/c-plain.img" 16M 33
src=$(attach "$B/a-source.img"); worn=$(attach "$B/b-target.img"); plain=$(attach "$B/c-plain.img")
worn_sha=$(sha "$worn")

T=cbhealth-$$
own_tmux
tmux new-session -d -s "$T" -x 160 -y 40 \
    "CLONEBAY_TEST_SMART=$src=$FX/sata_pending.json,$worn=$FX/sata_reallocated.json $CB station --bench $B --reports $WORK/reports; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
row_of() { "$CB" list --bench "$B" --json --no-health | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }
top() { keys Home; for _ in $(seq 6); do keys Up; done; }
drive_line() { screen | grep -E "^ *$1 "; }

check "health_advice: the bench is listed" wait_for "Drives (3" 30
check "health_advice: a failing drive's reasons under its line" wait_for "health: 8 pending sectors; 24 reallocated sectors" 20
check "health_advice: the failing drive's line says failing" bash -c \
    "$(declare -f tmux screen drive_line); T=$T; drive_line $src | grep -qE ' failing( |$)'"
check "health_advice: a worn drive's reason under its line" wait_for "health: 16 reallocated sectors" 20
check "health_advice: the worn drive's line says worn" bash -c \
    "$(declare -f tmux screen drive_line); T=$T; drive_line $worn | grep -qE ' worn( |$)'"
check "health_advice: a drive without SMART says unknown" bash -c "$(declare -f tmux screen drive_line); T=$T; drive_line $plain | grep -qE ' unknown( |$)'"

top; down "$(row_of "$src")"; keys i
check "health_advice: i opens the drive in full" wait_for "Drive in full" 10
check "health_advice: the drive screen names the drive and its sectors" bash -c "$(declare -f tmux screen); T=$T;
    screen | grep -qE 'device +$src' && screen | grep -qE 'sectors \(logical/physical\) +512 / 512 bytes'"
check "health_advice: the drive screen gives each SMART figure" bash -c "$(declare -f tmux screen); T=$T;
    screen | grep -qE 'health \(SMART\) +failing' && screen | grep -qE 'pending sectors +8\b' &&
    screen | grep -qE 'reallocated sectors +24\b' && screen | grep -qE 'power-on hours +30110\b' &&
    screen | grep -qE 'temperature +38 C' && screen | grep -q 'hidden areas (HPA/DCO)'"
keys Escape
keys F2; top; down "$(row_of "$src")"; keys Enter
check "health_advice: a failing source is offered the rescue settings" wait_for "rescue settings chosen" 10
top; down "$(row_of "$worn")"; keys Space Enter
check "health_advice: the options show a map file" wait_for "yes, beside the reports" 10
check "health_advice: the options show three retry passes" wait_for "3 passes over unreadable sectors" 5
keys Enter
check "health_advice: the confirmation is shown" wait_for "step 4 of 4: confirm" 10
keys y
check "health_advice: a target with bad sectors needs a second Y" wait_for "Y again writes it all the same" 10
check "health_advice: the message names the target and its sectors" bash -c \
    "$(declare -f tmux screen); T=$T; screen | tr -d '\n' | grep -q 'target $worn is worn (16 reallocated sectors)'"
check "health_advice: the first Y wrote nothing" test "$(sha "$worn")" = "$worn_sha"
keys y
check "health_advice: the second Y runs the job to VERIFIED" wait_for "VERIFIED sha256" 90
check "health_advice: the target holds the source" cmp "$src" "$worn"
report=$(ls "$WORK"/reports/*-job1-clone.json 2>/dev/null | head -1)
check "health_advice: the report has the source's health before and after" json "$report" \
    "assert r['source']['health']['state'] == 'failing' and r['source_health_after']['pending_sectors'] == 8, r['source']"
check "health_advice: the report has the target's health" json "$report" \
    "assert r['targets'][0]['identity']['health']['reallocated_sectors'] == 16"
check "health_advice: the job ran with the rescue settings" json "$report" "assert r['retries'] == 3 and r['map'], (r['retries'], r['map'])"
keys F10
check "health_advice: the station exits" wait_for "station-exited" 20

# The command line's confirmation shows the same, and a "no" writes nothing.
plain_sha=$(sha "$plain")
tmux kill-session -t "$T"
tmux new-session -d -s "$T" -x 160 -y 40 \
    "CLONEBAY_TEST_SMART=$src=$FX/sata_pending.json $CB clone $src $plain; echo clone-exited \$?; sleep 30"
check "cli: the confirmation asks" wait_for "Type 'yes' to go on" 30
check "cli: it shows the source's health" wait_for "source health: failing: 8 pending sectors; 24 reallocated sectors" 5
check "cli: it advises the rescue settings" wait_for "the source is failing: the rescue settings suit it better" 5
check "cli: a target without SMART says so" wait_for "health: unknown: a loop device has no SMART" 5
keys n o Enter
check "cli: not confirmed, exit 2" wait_for "clone-exited 2" 20
check "cli: nothing written" test "$(sha "$plain")" = "$plain_sha"
finish
