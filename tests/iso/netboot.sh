#!/bin/bash
# clonebay netboot (issue 20): a QEMU PC with nothing bootable on its drive
# boots the live system over the network (PXE: dnsmasq's DHCP and TFTP from
# `clonebay netboot`), BIOS and UEFI, gets an address (udhcpc), and its
# station, on the serial line (a tmux pane), starts by itself on "Receive from
# the network" (the menu's clonebay.receive); the NVMe drive is marked and Y
# pressed, the drive is still blank while no sender runs, then `clonebay send`
# on the host streams the image, the job ends VERIFIED and the drive equals
# the source (cmp on the host). Then the live ISO booted from its CD: R on its
# station asks DHCP for the wired interface (busybox udhcpc) and receives the
# same way. The network is a bridge and a tap in a namespace of the test's
# own: nothing leaves it. The serial lines are kept in $WORK/NAME.serial.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_root netboot
NETBOOT=$TOP/$BUILD/netboot
for tool in qemu-system-x86_64 dnsmasq udp-sender ip tmux; do
    command -v $tool >/dev/null || { skip netboot "$tool is not installed"; exit 0; }
done
[ -f "$NETBOOT/vmlinuz" ] && [ -f "$NETBOOT/initrd.zst" ] ||
    { skip netboot "no $NETBOOT/vmlinuz and initrd.zst (make BUILD=$BUILD netboot builds them)"; exit 0; }
[ -c /dev/net/tun ] || { skip netboot "no /dev/net/tun for QEMU's tap"; exit 0; }

NSB=cbnb$(($$ % 100000))
# Not through defer: the namespaces must go even if something removed $WORK (and its list).
ns_gone() { local n; for n in "$NSB" "${NSB}d"; do ip netns pids "$n" 2>/dev/null | xargs -r kill -9; ip netns del "$n" 2>/dev/null; done; }
trap 'ns_gone; on_exit' EXIT
ip netns add "$NSB" || { fail "netboot: namespace" "ip netns add failed"; finish; }
ip -n "$NSB" link set lo up
ip -n "$NSB" link add br0 type bridge
ip -n "$NSB" addr add 10.79.0.1/24 brd + dev br0
ip -n "$NSB" link set br0 up
ip -n "$NSB" tuntap add dev tap0 mode tap
ip -n "$NSB" link set tap0 master br0 up
# QEMU runs in the namespace (its tap is there): boot() finds this wrapper first.
mkdir -p "$WORK/bin"
printf '#!/bin/sh\nexec ip netns exec %s %s "$@"\n' "$NSB" "$(command -v qemu-system-x86_64)" \
    > "$WORK/bin/qemu-system-x86_64"
chmod +x "$WORK/bin/qemu-system-x86_64"
export PATH="$WORK/bin:$PATH"

# The image: a 64 MiB disk, a GPT and random data in its first partition's place.
. "$(dirname "$0")/../netroom.sh"
net_image || { fail "netboot: image" "clonebay image failed"; finish; }

# Bad input first: no such interface, a range that is not FIRST,LAST, no live system.
"$CB" netboot --interface nosuch0 > "$WORK/nb.err" 2>&1; rc=$?
check "netboot: an interface that is not there is refused (exit 2)" \
    bash -c "[ $rc = 2 ] && grep -q 'there is no network interface nosuch0' '$WORK/nb.err'"
ip netns exec "$NSB" "$CB" netboot --interface br0 --files "$WORK/none" > "$WORK/nb.err" 2>&1; rc=$?
check "netboot: no kernel to serve is refused, saying how to build it" \
    bash -c "[ $rc = 2 ] && grep -q 'no live system to serve: $WORK/none/vmlinuz is missing (make netboot' '$WORK/nb.err'"

ip netns exec "$NSB" timeout 1500 "$CB" netboot --interface br0 --range 10.79.0.100,10.79.0.150 \
    > "$WORK/netboot.log" 2>&1 &
nbpid=$!
for _ in $(seq 50); do grep -q '^netboot on br0' "$WORK/netboot.log" && break; sleep 0.1; done

own_tmux
KEYS_PAUSE=0.5      # a serial line at 115200 baud redraws slower than a pty
# pc_receives FW NAME TAG [cd]: the PC (the drives added so far: $WORK/nvme-TAG.img)
# boots over PXE (or with cd, from the live ISO's CD and R pressed) with its
# serial line as the tmux pane $T (80x24: the station's size without
# clonebay.serial); its station must come up on the receive screen by itself;
# the NVMe drive is marked and Y pressed; nothing is written while no sender
# runs; then `clonebay send` streams the image (report $WORK/send-TAG.json,
# exit in SRC_RC) and the job ends VERIFIED. QEMU is stopped at the end.
pc_receives() {
    local fw=$1 name=$2 tag=$3 how=${4:-pxe} firmware=() nic=,bootindex=0
    if [ "$fw" = uefi ]; then
        cp "$OVMF_VARS" "$WORK/$name.vars"
        firmware=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE" -drive "if=pflash,format=raw,file=$WORK/$name.vars")
    fi
    [ "$how" = cd ] && nic=
    T=cbnb-$name-$$
    tmux new-session -d -s "$T" -x 80 -y 24 \
        "qemu-system-x86_64 -accel tcg -machine q35 -m 512 -smp 2 -display none -no-reboot -pidfile $WORK/$name.pid \
         $(printf '%q ' "${firmware[@]}" "${QARGS[@]}") -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
         -device virtio-net-pci,netdev=n0$nic -chardev stdio,id=ser0,signal=off,logfile=$WORK/$name.serial -serial chardev:ser0 \
         2>$WORK/$name.qemu; echo qemu-exited; sleep 600"
    defer "tmux kill-session -t $T"
    if [ "$how" = cd ]; then
        check "netboot $tag: the live ISO's station comes up on the serial line" wait_for "Drives (" 600
        keys R
        check "netboot $tag: R opens 'Receive from the network'; no interface has an address, DHCP first" \
            bash -c "$(declare -f tmux wait_for screen); T=$T; wait_for 'Receive from the network' 20 && screen | grep -q 'none has an address yet), DHCP first'"
    else
        check "netboot $tag: the PC's station starts on 'Receive from the network' by itself" \
            wait_for "Receive from the network" 600
    fi
    check "netboot $tag: it lists the PC's NVMe drive" wait_for "QEMU NVMe" 30
    local row
    row=$(screen | grep -E '^ \[[ x]\] /dev/' | grep -n 'QEMU NVMe' | cut -d: -f1)
    for ((i = 1; i < ${row:-1}; i++)); do keys Down; done
    keys Space Enter
    check "netboot $tag: the confirmation names the NVMe drive" wait_for "WILL BE OVERWRITTEN" 20
    keys y
    check "netboot $tag: the job waits for a sender" wait_for "waits for a sender" 30
    sleep 3     # were anything written before the sender, the drive would show it now
    check "netboot $tag: nothing is written while no sender runs (the drive is still blank)" \
        cmp -n 67108864 "$WORK/nvme-$tag.img" /dev/zero
    ip netns exec "$NSB" timeout 900 "$CB" send "$WORK/disk.zst" --interface br0 --clients 1 \
        --report "$WORK/send-$tag.json" > "$WORK/send-$tag.log" 2>&1 &
    local spid=$!
    check "netboot $tag: the receive job in the PC ends VERIFIED" wait_for "VERIFIED sha256" 600
    wait "$spid"; SRC_RC=$?
    local qpid
    qpid=$(cat "$WORK/$name.pid" 2>/dev/null)
    [ -n "$qpid" ] && kill "$qpid" 2>/dev/null
    for _ in $(seq 100); do [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null || break; sleep 0.1; done
    tmux kill-session -t "$T" 2>/dev/null
}

for fw in bios uefi; do
    truncate -s 64M "$WORK/nvme-$fw.img"
    reset_drives
    add_nvme 0 "$WORK/nvme-$fw.img" CBNB$fw
    pc_receives "$fw" "nb-$fw" "$fw"
    check "netboot $fw: the PC fetched the live kernel and initramfs over TFTP" \
        bash -c "[ \$(grep -c 'fetched vmlinuz' '$WORK/netboot.log') -gt ${fetched:-0} ] && grep -q 'fetched initrd.zst' '$WORK/netboot.log'"
    fetched=$(grep -c 'fetched vmlinuz' "$WORK/netboot.log")
    check "netboot $fw: its NVMe drive equals the source (cmp)" cmp "$WORK/nvme-$fw.img" "$WORK/src.img"
    check "netboot $fw: the sender exits 0; its report has the PC, at an address DHCP leased, finished" \
        json "$WORK/send-$fw.json" "assert $SRC_RC == 0 and [x['state'] for x in r['receivers']] == ['finished'] and r['complete'] and r['receivers'][0]['address'].startswith('10.79.0.1'), r"
done
kill "$nbpid" 2>/dev/null; wait "$nbpid"

# Proxy-DHCP (no --range): the room's own DHCP server (a DHCP-only dnsmasq at
# 10.79.0.2, in a namespace of its own on the bridge) leases the address,
# clonebay netboot only says what to boot. BIOS.
ip netns add "${NSB}d"
ip -n "$NSB" link add dhcp0 type veth peer name eth0 netns "${NSB}d"
ip -n "$NSB" link set dhcp0 master br0 up
ip -n "${NSB}d" addr add 10.79.0.2/24 brd + dev eth0
ip -n "${NSB}d" link set eth0 up
ip netns exec "${NSB}d" timeout 900 dnsmasq --keep-in-foreground --conf-file=/dev/null --log-facility=- --port=0 \
    --bind-interfaces --interface=eth0 --pid-file="$WORK/room-dhcp.pid" --dhcp-leasefile="$WORK/room.leases" \
    --dhcp-range=10.79.0.200,10.79.0.220,1h > "$WORK/room-dhcp.log" 2>&1 &
dpid=$!
ip netns exec "$NSB" timeout 900 "$CB" netboot --interface br0 > "$WORK/netboot.log" 2>&1 &
nbpid=$!
for _ in $(seq 50); do grep -q '^netboot on br0' "$WORK/netboot.log" && break; sleep 0.1; done
truncate -s 64M "$WORK/nvme-proxy.img"
reset_drives
add_nvme 0 "$WORK/nvme-proxy.img" CBNBproxy
pc_receives bios nb-proxy proxy
check "netboot proxy-DHCP: netboot says so, on the interface's network" \
    grep -q '^netboot on br0: proxy-DHCP on 10.79.0.0' "$WORK/netboot.log"
check "netboot proxy-DHCP: the PC fetched the live system" \
    bash -c "grep -q 'fetched vmlinuz' '$WORK/netboot.log' && grep -q 'fetched initrd.zst' '$WORK/netboot.log'"
check "netboot proxy-DHCP: its address came from the room's server (the sender's report)" json "$WORK/send-proxy.json" \
    "assert $SRC_RC == 0 and r['receivers'][0]['address'].startswith('10.79.0.2'), r"
check "netboot proxy-DHCP: its NVMe drive equals the source" cmp "$WORK/nvme-proxy.img" "$WORK/src.img"
kill "$nbpid" 2>/dev/null; wait "$nbpid"

# The live ISO booted from its CD (no netboot: nothing asks DHCP at boot):
# R asks DHCP for the wired interface in the job (busybox udhcpc); the room's
# server leases the address, and the image arrives. BIOS.
if [ -f "$TOP/$BUILD/clonebay-live.iso" ]; then
    truncate -s 64M "$WORK/nvme-iso.img"
    reset_drives
    add_cd 0 "$TOP/$BUILD/clonebay-live.iso" boot
    add_nvme 0 "$WORK/nvme-iso.img" CBNBiso
    pc_receives bios nb-iso iso cd
    check "live ISO: its address came from the room's DHCP server, asked when R was chosen (the sender's report)" \
        json "$WORK/send-iso.json" "assert $SRC_RC == 0 and r['receivers'][0]['address'].startswith('10.79.0.2'), r"
    check "live ISO: its NVMe drive equals the source" cmp "$WORK/nvme-iso.img" "$WORK/src.img"
else
    skip "live ISO: DHCP when R is chosen" "no $TOP/$BUILD/clonebay-live.iso (make netboot builds it beside the netboot files)"
fi
kill "$dpid" 2>/dev/null; wait "$dpid"
finish
