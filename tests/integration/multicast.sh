#!/bin/bash
# clonebay send / receive (issue 20): one image to a room of PCs over udpcast.
# The room is network namespaces on one bridge (traffic never leaves them),
# each receiver restoring onto its own loop device; cmp, sha256sum and the
# reports' JSON are the oracles; loss comes from an nftables rule (numgen).
. "$(dirname "$0")/../lib.sh"
need_root multicast
for tool in udp-sender udp-receiver ip nft; do
    command -v $tool >/dev/null || { skip multicast "$tool is not installed"; exit 0; }
done

. "$(dirname "$0")/../netroom.sh"
# receive_bg N DST NAME: clonebay receive in receiver N's namespace, in the background.
receive_bg() {
    in_ns "$1" timeout 120 "$CB" receive "$2" --interface cb0 --yes --wait 60 --report "$WORK/$3.json" \
        > "$WORK/$3.log" 2>&1 &
    RPID[$1]=$!
}
# wait_receivers N: until N receivers have said they are waiting (a wait, not a timing assertion).
wait_receivers() {
    local i
    for ((i = 0; i < 100; i++)); do
        [ "$(cat "$WORK"/*.log 2>/dev/null | grep -c '^waiting for a sender')" -ge "$1" ] && return 0
        sleep 0.1
    done
    return 1
}
send() { in_ns 0 timeout 120 "$CB" send "$@" --interface cb0 > "$WORK/send.log" 2>&1; }
fresh() { rm -f "$WORK"/*.log "$WORK"/*.json; }

# Not through defer alone: the namespaces must go even if something removed $WORK (and its list).
trap 'room_gone; on_exit' EXIT
room 4 || { fail "multicast: room" "cannot make namespaces, veth pairs and a bridge"; finish; }

# Source: a 64 MiB GPT disk with an ext4 partition holding random data; its image.
truncate -s 64M "$WORK/src.img"
sgdisk -n 1:2048:+40M -t 1:8300 "$WORK/src.img" >/dev/null
dev=$(attach "$WORK/src.img")
mkfs.ext4 -q -L DATA "${dev}p1"
mkdir -p "$WORK/m" && mount "${dev}p1" "$WORK/m"
head -c 16M /dev/urandom > "$WORK/m/random.bin"
cp -r /usr/share/doc/e2fsprogs "$WORK/m/"
umount "$WORK/m"
partx -d "$dev"; losetup -d "$dev"
src_sha=$(sha "$WORK/src.img")
"$CB" image "$WORK/src.img" "$WORK/disk" > /dev/null 2>&1 || { fail "multicast: image" "clonebay image failed"; finish; }
img=$WORK/disk.zst
for i in 1 2 3; do truncate -s 64M "$WORK/t$i.img"; T[i]=$(attach "$WORK/t$i.img"); done
truncate -s 96M "$WORK/t4.img"; T[4]=$(attach "$WORK/t4.img")       # larger than the source
truncate -s 32M "$WORK/small.img"; small=$(attach "$WORK/small.img")

# 1. One sender, three receivers: every target equals the source, verified; the reports agree.
fresh
for i in 1 2 3; do receive_bg $i "${T[i]}" r$i; done
wait_receivers 3
send "$img" --clients 3 --report "$WORK/send.json"; src=$?
for i in 1 2 3; do wait "${RPID[i]}"; RC[i]=$?; done
check "three receivers: sender exit 0" test $src = 0
check "three receivers: every receiver exit 0" test "${RC[1]}${RC[2]}${RC[3]}" = 000
check "three receivers: every target equals the source (cmp)" \
    bash -c "cmp ${T[1]} '$WORK/src.img' && cmp ${T[2]} '$WORK/src.img' && cmp ${T[3]} '$WORK/src.img'"
for i in 1 2 3; do
    check "three receivers: receiver $i VERIFIED with the source's sha256, sender named" json "$WORK/r$i.json" \
        "assert r['targets'][0]['result'] == 'VERIFIED' and r['source_hashes']['sha256'] == '$src_sha' and r['source']['path'] == 'udp-sender at ${ADDR[0]}' and r['source']['kind'] == 'network', r"
done
check "three receivers: sender's report lists all three finished, with the image's sha256" json "$WORK/send.json" \
    "assert sorted(x['address'] for x in r['receivers']) == ['${ADDR[1]}', '${ADDR[2]}', '${ADDR[3]}'] and all(x['state'] == 'finished' for x in r['receivers']) and r['complete'] and r['sha256'] == '$src_sha', r"
check "three receivers: sender's text report says so" grep -q "every receiver got the whole image (3 of 3" "$WORK/send.log"

# 2. A receiver killed mid-stream: the others finish, the sender names the one that dropped.
fresh
for i in 1 2 3; do dd if=/dev/zero of="${T[i]}" bs=1M count=64 status=none; done
for i in 1 2 3; do receive_bg $i "${T[i]}" r$i; done
wait_receivers 3
# 16 Mbit/s: the image takes ~10 s, so the kill lands in the middle.
in_ns 0 timeout 120 "$CB" send "$img" --clients 3 --max-bitrate 16m --interface cb0 --report "$WORK/send.json" \
    > "$WORK/send.log" 2>&1 &
spid=$!
for ((k = 0; k < 600; k++)); do grep -qs "receiver ${ADDR[3]} receiving" "$WORK/send.log" && break; sleep 0.1; done
sleep 1
ip netns pids "${NS[3]}" | xargs -r kill -9
wait $spid; src=$?
for i in 1 2; do wait "${RPID[i]}"; RC[i]=$?; done
wait "${RPID[3]}"
check "killed receiver: the two others exit 0" test "${RC[1]}${RC[2]}" = 00
check "killed receiver: the two others equal the source" \
    bash -c "cmp ${T[1]} '$WORK/src.img' && cmp ${T[2]} '$WORK/src.img'"
check "killed receiver: the sender exits 1 (not everyone got the image)" test $src = 1
check "killed receiver: the sender's report names it DROPPED, with when and how far" json "$WORK/send.json" \
    "d = [x for x in r['receivers'] if x['address'] == '${ADDR[3]}']; assert len(d) == 1 and d[0]['state'] == 'DROPPED' and d[0]['ended_at'] > 0 and 0 < d[0]['bytes_when_ended'] < r['image_bytes'], r; assert sorted(x['state'] for x in r['receivers']) == ['DROPPED', 'finished', 'finished'], r"
check "killed receiver: the text report says it" grep -q "receiver ${ADDR[3]} *DROPPED .* s into the session" "$WORK/send.log"

# 3. A drive too small for the image: refused once the header is in, nothing written; the other finishes.
fresh
dd if=/dev/urandom of="$small" bs=1M count=32 status=none
keep=$(sha "$small")
receive_bg 1 "$small" r1
receive_bg 2 "${T[4]}" r2
wait_receivers 2
send "$img" --clients 2 --report "$WORK/send.json"; src=$?
wait "${RPID[1]}"; RC[1]=$?; wait "${RPID[2]}"; RC[2]=$?
check "small drive: refused (exit 2), the message names it" \
    bash -c "[ ${RC[1]} = 2 ] && grep -q 'refused, nothing was written: target $small .* is smaller than source' '$WORK/r1.log'"
check "small drive: untouched" test "$(sha "$small")" = "$keep"
check "small drive: the other receiver (a larger drive) still gets the image" \
    bash -c "[ ${RC[2]} = 0 ] && cmp -i $((1 << 20)) -n $((40 << 20)) ${T[4]} '$WORK/src.img'"
check "larger drive: its GPT's backup moved to its end (sgdisk -v)" bash -c "sgdisk -v ${T[4]} | grep -q 'No problems found'"
check "small drive: the sender's report does not count it as finished" json "$WORK/send.json" \
    "s = {x['address']: x['state'] for x in r['receivers']}; assert s['${ADDR[2]}'] == 'finished' and s['${ADDR[1]}'] != 'finished', r"

# 4. Loss: nftables drops 5% of the multicast data reaching receiver 1; its restore is still exact.
# (Lost handshakes are udpcast's own affair: a receiver whose connect reply is lost is dropped.)
fresh
in_ns 1 nft -f - <<'EOF'
table inet cbloss {
    chain c {
        type filter hook input priority 0;
        ip daddr 224.0.0.0/4 numgen random mod 100 < 5 counter drop
    }
}
EOF
for i in 1 2 3; do dd if=/dev/zero of="${T[i]}" bs=1M count=64 status=none; done
receive_bg 1 "${T[1]}" r1
in_ns 2 timeout 120 "$CB" receive "${T[2]}" "${T[3]}" --interface cb0 --yes --wait 60 --report "$WORK/r2.json" \
    > "$WORK/r2.log" 2>&1 &
RPID[2]=$!
wait_receivers 2
send "$img" --clients 2 --report "$WORK/send.json"; src=$?
wait "${RPID[1]}"; RC[1]=$?; wait "${RPID[2]}"; RC[2]=$?
check "two drives on one receiver: both equal the source, both VERIFIED" bash -c "cmp ${T[2]} '$WORK/src.img' && cmp ${T[3]} '$WORK/src.img' && python3 -c \"import json; r = json.load(open('$WORK/r2.json')); assert [t['result'] for t in r['targets']] == ['VERIFIED'] * 2\""
dropped=$(in_ns 1 nft list table inet cbloss | sed -n 's/.*counter packets \([0-9]*\).*/\1/p')
in_ns 1 nft delete table inet cbloss
check "loss: nftables dropped packets on the lossy link" test "${dropped:-0}" -gt 0
check "loss: both receivers exit 0, the sender too" test "${RC[1]}${RC[2]}$src" = 000
check "loss: the lossy receiver's drive equals the source, VERIFIED" bash -c "cmp ${T[1]} '$WORK/src.img' && python3 -c \"import json; r = json.load(open('$WORK/r1.json')); assert r['targets'][0]['result'] == 'VERIFIED'\""
check "loss: the sender retransmitted" json "$WORK/send.json" "assert r['retransmits'] > 0, r"
echo "loss: $dropped packets dropped by nftables"

# 5. --wait: a session asked for 3 receivers starts with the 2 that came, SECONDS after the first.
fresh
for i in 1 2; do dd if=/dev/zero of="${T[i]}" bs=1M count=64 status=none; done
receive_bg 1 "${T[1]}" r1
receive_bg 2 "${T[2]}" r2
wait_receivers 2
send "$img" --clients 3 --wait 3 --report "$WORK/send.json"; src=$?
wait "${RPID[1]}"; RC[1]=$?; wait "${RPID[2]}"; RC[2]=$?
check "--wait: the session starts without the third, both finish" \
    bash -c "[ $src${RC[1]}${RC[2]} = 000 ] && cmp ${T[1]} '$WORK/src.img' && cmp ${T[2]} '$WORK/src.img'"

# 6. A sender on an interface that is not there fails, saying what udp-sender said.
in_ns 0 timeout 60 "$CB" send "$img" --interface nosuch0 --report "$WORK/send.json" > "$WORK/send.log" 2>&1; rc=$?
check "sender, no such interface: exit 1, udp-sender's words shown" \
    bash -c "[ $rc = 1 ] && grep -q 'the session did not complete; udp-sender said: No suitable network interface found' '$WORK/send.log'"

# 7. Bad input: a sender with a file that is not an image is refused.
head -c 8M /dev/urandom > "$WORK/notimage.zst"
in_ns 0 timeout 60 "$CB" send "$WORK/notimage.zst" --interface cb0 > "$WORK/send.log" 2>&1; rc=$?
check "sender, not an image: refused (exit 2), the file named" \
    bash -c "[ $rc = 2 ] && grep -q 'refused, nothing was sent: $WORK/notimage.zst is not a usable clonebay image' '$WORK/send.log'"

# 8. A receiver given a stream that is not an image (another udpcast session) stops and writes nothing.
fresh
dd if=/dev/urandom of="${T[1]}" bs=1M count=64 status=none
keep=$(sha "${T[1]}")
receive_bg 1 "${T[1]}" r1
wait_receivers 1
in_ns 0 timeout 60 udp-sender --file "$WORK/notimage.zst" --interface cb0 --nokbd --min-receivers 1 \
    --retries-until-drop 5 > "$WORK/raw-sender.out" 2>&1 &
rawpid=$!
wait "${RPID[1]}"; RC[1]=$?
wait $rawpid
check "receiver, not an image: stops (exit 2) with a clear message" \
    bash -c "[ ${RC[1]} = 2 ] && grep -q 'refused, nothing was written: the image from udp-sender at ${ADDR[0]} is not a clonebay image' '$WORK/r1.log'"
check "receiver, not an image: the target is untouched" test "$(sha "${T[1]}")" = "$keep"

# 9. No sender at all: a receiver gives up after --wait, and writes nothing.
in_ns 1 timeout 60 "$CB" receive "${T[1]}" --interface cb0 --yes --wait 2 > "$WORK/r1.log" 2>&1; rc=$?
check "receiver, no sender within --wait: refused (exit 2), said" \
    bash -c "[ $rc = 2 ] && grep -q 'refused, nothing was written: no image came from the network' '$WORK/r1.log'"
check "receiver, no sender within --wait: the target is untouched" test "$(sha "${T[1]}")" = "$keep"

finish
