#!/bin/bash
# Station "Receive from the network" (issue 20): the station runs in a network
# namespace of a room the test makes (tests/netroom.sh: a bridge and veth
# pairs, nothing leaves it); R, a loop drive marked, Y: the job waits for a
# sender without holding the station, `clonebay send` in another namespace
# starts, and the job ends VERIFIED with the target equal to the source (cmp)
# and a report naming the sender. A drive too small is refused after the
# header came and before any write (its bytes unchanged); a job waiting for a
# sender is cancelled with F8 and leaves no udp-receiver behind; a second R
# while one waits says why not; a drive replaced behind the same name while
# its job waits is refused once the sender started, the new drive untouched.
. "$(dirname "$0")/../lib.sh"
need_root net_receive
. "$(dirname "$0")/../netroom.sh"
room_setup net_receive 1 tmux
B=$WORK/bench
mkdir -p "$B"
truncate -s 64M "$B/a-target.img"; truncate -s 32M "$B/b-small.img"
tgt=$(attach "$B/a-target.img"); small=$(attach "$B/b-small.img")
dd if=/dev/urandom of="$small" bs=1M count=32 status=none
small_sum=$(sha "$small")

T=cbnetrx-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 36 \
    "ip netns exec ${NS[1]} $CB station --bench $B --reports $WORK/reports --no-bell; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
row_of() { "$CB" list --bench "$B" --json | python3 -c "import json,sys; print([d['path'] for d in json.load(sys.stdin)].index('$1'))"; }
down() { local n=$1; while [ "$n" -gt 0 ]; do keys Down; n=$((n - 1)); done; }
send_bg() { in_ns 0 timeout 120 "$CB" send "$WORK/disk.zst" --clients 1 --interface cb0 --report "$WORK/$1.json" \
    > "$WORK/$1.log" 2>&1 & SPID=$!; }
receivers() { pgrep -x udp-receiver | while read -r p; do [ "$(ip netns identify "$p")" = "${NS[1]}" ] && echo "$p"; done; }

check "net_receive: the station lists the bench" wait_for "a-target.img" 20
# 1. R, mark the target, Enter, Y: the job waits; then the sender starts.
keys R
check "net_receive: R opens the receive screen with the interface" \
    bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'Receive from the network' && screen | grep -q 'now cb0'"
down "$(row_of "$tgt")"; keys Space
keys Enter
check "net_receive: the confirmation names the drive to overwrite" \
    bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'WILL BE OVERWRITTEN' && screen | grep -qF '$tgt'"
keys y
check "net_receive: Y queues a job that waits for a sender; the station is back at once" wait_for "waits for a sender on" 10
for _ in $(seq 100); do [ -n "$(receivers)" ] && break; sleep 0.1; done
check "net_receive: udp-receiver runs in the station's namespace" test -n "$(receivers)"
check "net_receive: the job's drive line says it waits for a sender" wait_for "waiting for a sender" 10
send_bg send1
check "net_receive: the job ends VERIFIED" wait_for "VERIFIED sha256" 90
wait "$SPID"; src=$?
check "net_receive: the sender exits 0" test "$src" = 0
check "net_receive: the target equals the source (cmp)" cmp "$tgt" "$WORK/src.img"
check "net_receive: the report names the sender and the network, VERIFIED" json "$(ls "$WORK"/reports/*-job1-restore.json)" \
    "assert r['targets'][0]['result'] == 'VERIFIED' and r['source']['path'] == 'udp-sender at ${ADDR[0]}' and r['source']['kind'] == 'network', r"
check "net_receive: the sender's report has the station's address finished" json "$WORK/send1.json" \
    "assert [(x['address'], x['state']) for x in r['receivers']] == [('${ADDR[1]}', 'finished')], r"

# 2. A drive too small: refused once the header says the disk's size, nothing written.
keys Tab R
keys Home; down "$(row_of "$small")"; keys Space Enter y
check "net_receive: the small drive's job waits for a sender" wait_for "#2   restore running" 10
send_bg send2
check "net_receive: the small drive is refused, saying it is smaller" wait_for "is smaller than" 90
ip netns pids "${NS[0]}" | xargs -r kill 2>/dev/null; wait "$SPID" 2>/dev/null    # its udp-sender too
check "net_receive: the small drive is untouched" test "$(sha "$small")" = "$small_sum"

# 3. Cancelled while waiting: the job ends, udp-receiver goes with it, nothing written.
dd if=/dev/zero of="$tgt" bs=1M count=1 conv=notrunc status=none
tgt_sum=$(sha "$tgt")
keys R
keys Home; down "$(row_of "$tgt")"; keys Space Enter y
check "net_receive: a third job waits" wait_for "#3   restore running" 10
for _ in $(seq 100); do [ -n "$(receivers)" ] && break; sleep 0.1; done
keys R
check "net_receive: R while a receive waits says why it cannot start a second" \
    wait_for "job #3 receives from the network already: one receive at a time" 10
keys F8
check "net_receive: F8 ends the waiting job, CANCELLED" wait_for "CANCELLED" 20
check "net_receive: its report says it was cancelled waiting for a sender" json "$(ls "$WORK"/reports/*-job3-restore.json)" \
    "assert 'cancelled while waiting for a sender' in r['outcome_detail'], r"
for _ in $(seq 50); do [ -z "$(receivers)" ] && break; sleep 0.1; done
check "net_receive: no udp-receiver is left" test -z "$(receivers)"
check "net_receive: the drive of the cancelled job is untouched" test "$(sha "$tgt")" = "$tgt_sum"
# 4. The drive replaced behind the same name while the job waits (another file
# on the same loop device): refused once the sender started, nothing written.
truncate -s 64M "$B/c-other.img"
other_sum=$(sha "$B/c-other.img")
keys R
keys Home; down "$(row_of "$tgt")"; keys Space Enter y
check "net_receive: a fourth job waits" wait_for "#4   restore running" 10
for _ in $(seq 100); do [ -n "$(receivers)" ] && break; sleep 0.1; done
partx -d "$tgt" 2>/dev/null; losetup -d "$tgt"; losetup "$tgt" "$B/c-other.img"
defer "losetup -d $tgt"
send_bg send4
check "net_receive: a drive replaced while its job waited is refused, named" wait_for "not the drive that was confirmed" 90
ip netns pids "${NS[0]}" | xargs -r kill 2>/dev/null; wait "$SPID" 2>/dev/null
check "net_receive: the drive now behind that name is untouched" test "$(sha "$B/c-other.img")" = "$other_sum"
keys F10
check "net_receive: the station quits" wait_for "station-exited" 20
finish
