#!/bin/bash
# Station "Send image to the network" (issue 20): the station runs in the
# sender's namespace of a room the test makes (tests/netroom.sh), two
# `clonebay receive` in two other namespaces. S, a file that is not an image
# (refused, the screen says why), the image, two clients, 10 Mbit/s, the
# room's interface, Enter: the receivers panel shows both addresses, each
# receiving, then finished; both targets equal the source (cmp) and the
# sender's report beside the job reports says every receiver finished.
. "$(dirname "$0")/../lib.sh"
need_root net_send
. "$(dirname "$0")/../netroom.sh"
room_setup net_send 2 tmux
B=$WORK/bench
mkdir -p "$B"
for i in 1 2; do truncate -s 64M "$WORK/t$i.img"; TG[i]=$(attach "$WORK/t$i.img"); done

T=cbnettx-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 36 \
    "ip netns exec ${NS[0]} $CB station --bench $B --reports $WORK/reports --no-bell; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"
type_path() { tmux send-keys -t "$T" -N 300 BSpace; tmux send-keys -t "$T" -l "$1"; sleep "$KEYS_PAUSE"; }

check "net_send: the station is up" wait_for "Drives (" 20
keys S
check "net_send: S asks for the image file" wait_for "image file:" 10
type_path "$WORK/src.img"; keys Enter
check "net_send: a file that is not a clonebay image is refused, named" \
    bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'src.img is not a usable clonebay image' && screen | grep -q 'image file:'"
check "net_send: ... and nothing was started" bash -c "! pgrep -x udp-sender >/dev/null || ! ip netns pids ${NS[0]} | xargs -r ps -o comm= -p | grep -qx udp-sender"
type_path "$WORK/disk.zst"; keys Enter
check "net_send: the options show the image" wait_for "start once 1 receiver joined" 10
keys + b f
check "net_send: two clients, 10m, the room's interface" \
    bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'start once 2 receivers' && screen | grep -q 'bitrate   10m' && screen | grep -q 'interface cb0'"
keys Enter
check "net_send: the session waits for its receivers" wait_for "waiting for receivers: 0 of 2 joined" 10
for i in 1 2; do
    in_ns "$i" timeout 120 "$CB" receive "${TG[i]}" --interface cb0 --yes --wait 60 --report "$WORK/r$i.json" \
        > "$WORK/r$i.log" 2>&1 &
    RPID[i]=$!
done
# lines PATTERN N: until N lines of the screen match PATTERN (a wait, not a timing assertion).
lines() { local i; for ((i = 0; i < 300; i++)); do [ "$(screen | grep -cE -- "$1")" -ge "$2" ] && return 0; sleep 0.1; done; screen > "$WORK/last-screen"; return 1; }
check "net_send: the receivers panel shows both receivers receiving, live" \
    lines "^    (${ADDR[1]}|${ADDR[2]}) +receiving " 2
check "net_send: the session's rate is shown while sending" lines 'session   sending: .* of 24.0 MiB .*/s' 1
check "net_send: both receivers finished" \
    bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'session   ended' 90 && [ \$(screen | grep -c ' finished ') -ge 2 ]"
for i in 1 2; do wait "${RPID[i]}"; RC[i]=$?; done
check "net_send: both receives exit 0" test "${RC[1]}${RC[2]}" = 00
check "net_send: both targets equal the source (cmp)" bash -c "cmp ${TG[1]} '$WORK/src.img' && cmp ${TG[2]} '$WORK/src.img'"
check "net_send: the station said the session is done" wait_for "send: done: 2 of 2 receivers got the whole image" 5
check "net_send: the sender's report beside the job reports: both finished" json "$(ls "$WORK"/reports/*-send.json)" \
    "assert sorted((x['address'], x['state']) for x in r['receivers']) == [('${ADDR[1]}', 'finished'), ('${ADDR[2]}', 'finished')] and r['complete'], r"
keys Escape F10
check "net_send: the station quits" wait_for "station-exited" 20
finish
