#!/bin/bash
# clonebay netboot (issue 20): a QEMU PC with nothing bootable on its drive
# boots the live system over the network (PXE: dnsmasq's DHCP and TFTP from
# `clonebay netboot`), BIOS and UEFI, gets an address (udhcpc), and receives
# an image that `clonebay send` on the host streams; its emulated NVMe drive
# then equals the source (cmp on the host). The network is a bridge and a tap
# in a namespace of the test's own: nothing leaves it.
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
need_root netboot
NETBOOT=$TOP/$BUILD/netboot
for tool in qemu-system-x86_64 dnsmasq udp-sender ip; do
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
truncate -s 64M "$WORK/src.img"
sgdisk -n 1:2048:+40M -t 1:8300 "$WORK/src.img" >/dev/null
head -c 24M /dev/urandom | dd of="$WORK/src.img" bs=1M seek=1 conv=notrunc status=none
"$CB" image "$WORK/src.img" "$WORK/disk" > /dev/null 2>&1 || { fail "netboot: image" "clonebay image failed"; finish; }

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

cat > "$WORK/guest.sh" <<'GUEST'
# The address udhcpc got for the first wired interface (init asked for it: clonebay.netboot).
for i in $(seq 120); do
    for d in /sys/class/net/*; do
        n=${d##*/}
        [ "$n" = lo ] && continue
        ip -4 addr show dev "$n" | grep -q 'inet ' && IF=$n && break 2
    done
    sleep 1
done
echo "cmdline: $(cat /proc/cmdline)"
echo "interface: ${IF:-none} $(ip -4 addr show dev "${IF:-lo}" | grep -o 'inet [0-9./]*')"
nvme=$(ls /dev/nvme*n1 | head -1)
clonebay receive "$nvme" --yes --wait 600 --interface "$IF" --report /tmp/r.json
echo "receive-exit $?"
grep -o '"result": "[A-Z]*"' /tmp/r.json
GUEST

for fw in bios uefi; do
    truncate -s 64M "$WORK/nvme-$fw.img"
    reset_drives
    add_nvme 0 "$WORK/nvme-$fw.img" CBNB$fw
    ip netns exec "$NSB" timeout 1500 "$CB" send "$WORK/disk.zst" --interface br0 --clients 1 \
        --report "$WORK/send-$fw.json" > "$WORK/send-$fw.log" 2>&1 &
    spid=$!
    if ! boot "$fw" "nb-$fw" "$WORK/guest.sh" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
            -device virtio-net-pci,netdev=n0,bootindex=0; then
        fail "netboot $fw: the PC boots and powers off" "$(tail -3 "$WORK/nb-$fw.qemu"; tail -c 600 "$WORK/nb-$fw.console")"
    fi
    kill "$spid" 2>/dev/null; wait "$spid"
    out=$WORK/nb-$fw.out
    check "netboot $fw: the PC fetched the live kernel and initramfs over TFTP" \
        bash -c "[ \$(grep -c 'fetched vmlinuz' '$WORK/netboot.log') -gt ${fetched:-0} ] && grep -q 'fetched initrd.zst' '$WORK/netboot.log'"
    fetched=$(grep -c 'fetched vmlinuz' "$WORK/netboot.log")
    check "netboot $fw: booted with clonebay.netboot, got an address by DHCP" \
        bash -c "grep -q 'cmdline: .*clonebay.netboot' '$out' && grep -q 'interface: .* inet 10.79.0.1[0-5][0-9]/24' '$out'"
    check "netboot $fw: the receive in the PC exits 0, VERIFIED" \
        bash -c "grep -qx 'receive-exit 0' '$out' && grep -q '\"result\": \"VERIFIED\"' '$out'"
    check "netboot $fw: its NVMe drive equals the source (cmp)" cmp "$WORK/nvme-$fw.img" "$WORK/src.img"
    check "netboot $fw: the sender's report has it finished" json "$WORK/send-$fw.json" \
        "assert [x['state'] for x in r['receivers']] == ['finished'] and r['complete'], r"
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
ip netns exec "$NSB" timeout 900 "$CB" send "$WORK/disk.zst" --interface br0 --clients 1 \
    --report "$WORK/send-proxy.json" > "$WORK/send-proxy.log" 2>&1 &
spid=$!
boot bios nb-proxy "$WORK/guest.sh" -netdev tap,id=n0,ifname=tap0,script=no,downscript=no \
    -device virtio-net-pci,netdev=n0,bootindex=0 ||
    fail "netboot proxy: the PC boots and powers off" "$(tail -c 600 "$WORK/nb-proxy.console")"
kill "$spid" 2>/dev/null; wait "$spid"
check "netboot proxy-DHCP: netboot says so, on the interface's network" \
    grep -q '^netboot on br0: proxy-DHCP on 10.79.0.0' "$WORK/netboot.log"
check "netboot proxy-DHCP: the PC fetched the live system" \
    bash -c "grep -q 'fetched vmlinuz' '$WORK/netboot.log' && grep -q 'fetched initrd.zst' '$WORK/netboot.log'"
check "netboot proxy-DHCP: its address came from the room's server" \
    grep -q 'interface: .* inet 10.79.0.2[0-2][0-9]/24' "$WORK/nb-proxy.out"
check "netboot proxy-DHCP: its NVMe drive equals the source, VERIFIED" \
    bash -c "grep -qx 'receive-exit 0' '$WORK/nb-proxy.out' && cmp '$WORK/nvme-proxy.img' '$WORK/src.img'"
kill "$nbpid" "$dpid" 2>/dev/null; wait "$nbpid" "$dpid"
finish
