# A room of PCs on one machine (sourced by tests and benchmarks): network
# namespaces, each with a veth pair to one bridge, so traffic never leaves
# what the caller made. room N makes a sender NS[0] and receivers NS[1..N]
# with addresses ADDR[i] on interface cb0 in each; room_gone kills what runs
# in them and removes them. Names carry the caller's PID: runs can overlap.
ROOM_ID=$(($$ % 100000))
BR=cbm${ROOM_ID}br
NS=()
ADDR=()
room() {
    ip link add "$BR" type bridge && ip link set "$BR" up || return 1
    local i
    for ((i = 0; i <= $1; i++)); do
        NS[i]=cbm${ROOM_ID}n$i
        ADDR[i]=10.78.0.$((i + 1))
        ip netns add "${NS[i]}" || return 1
        ip link add "cbm${ROOM_ID}p$i" type veth peer name cb0 netns "${NS[i]}" || return 1
        ip link set "cbm${ROOM_ID}p$i" master "$BR" up
        # The broadcast address matters: without it udp-receiver's hello never reaches the sender.
        ip -n "${NS[i]}" addr add "${ADDR[i]}/24" brd + dev cb0
        ip -n "${NS[i]}" link set cb0 up
        ip -n "${NS[i]}" link set lo up
    done
}
room_gone() {
    local n
    for n in "${NS[@]}"; do
        ip netns pids "$n" 2>/dev/null | xargs -r kill -9
        ip netns del "$n" 2>/dev/null
    done
    ip link del "$BR" 2>/dev/null
    return 0
}
in_ns() { local n=$1; shift; ip netns exec "${NS[n]}" "$@"; }
# net_image: $WORK/src.img, a 64 MiB GPT disk with 24 MiB of random data, and
# its clonebay image $WORK/disk.zst (what a sender streams). Fails when the image does.
net_image() {
    truncate -s 64M "$WORK/src.img"
    sgdisk -n 1:2048:+40M -t 1:8300 "$WORK/src.img" >/dev/null
    head -c 24M /dev/urandom | dd of="$WORK/src.img" bs=1M seek=1 conv=notrunc status=none
    "$CB" image "$WORK/src.img" "$WORK/disk" > /dev/null 2>&1
}
# room_setup NAME N [TOOL...]: what a station test of the room starts with:
# skipped (exit 0) when udpcast, ip or a TOOL is missing; a room of N
# receivers, removed at exit even if something removed $WORK; net_image.
room_setup() {
    local name=$1 n=$2 tool
    shift 2
    for tool in udp-sender udp-receiver ip "$@"; do
        command -v "$tool" >/dev/null || { skip "$name" "$tool is not installed"; exit 0; }
    done
    trap 'room_gone; on_exit' EXIT
    room "$n" || { fail "$name: room" "cannot make namespaces, veth pairs and a bridge"; finish; }
    net_image || { fail "$name: image" "clonebay image failed"; finish; }
}
