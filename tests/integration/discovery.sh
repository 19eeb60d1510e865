#!/bin/bash
# Drive discovery on this machine's real loop devices: sizes, partitions, mounted,
# system disk, hot-plug events.
. "$(dirname "$0")/../lib.sh"
need_root discovery

# A GPT disk with an EFI (vfat) and an ext4 partition, and a bare disk.
truncate -s 64M "$WORK/gpt.img"
sgdisk -n 1:2048:+8M -t 1:ef00 -c 1:EFI -n 2:0:0 -t 2:8300 "$WORK/gpt.img" >/dev/null
gpt=$(attach "$WORK/gpt.img")
mkfs.vfat -n EFI "${gpt}p1" >/dev/null
mkfs.ext4 -q -F -L ROOTFS "${gpt}p2"
truncate -s 10M "$WORK/bare.img"
bare=$(attach "$WORK/bare.img")

"$CB" list --json > "$WORK/list.json"
check "list --json is valid JSON" python3 -m json.tool "$WORK/list.json"
jq_() { python3 -c "import json,sys; d={x['path']:x for x in json.load(open('$WORK/list.json'))}; $1"; }
check "gpt loop listed with its size" jq_ "assert d['$gpt']['size'] == 64*2**20 and d['$gpt']['kind'] == 'loop'"
check "gpt loop has two partitions" jq_ "p=d['$gpt']['partitions']; assert [x['number'] for x in p] == [1,2], p"
check "partition filesystems and labels" jq_ "p=d['$gpt']['partitions']; assert (p[0]['fstype'],p[0]['label'],p[1]['fstype'],p[1]['label']) == ('vfat','EFI','ext4','ROOTFS'), p"
check "partition offsets" jq_ "p=d['$gpt']['partitions']; assert p[0]['start'] == 2048*512 and p[0]['size'] == 8*2**20, p"
check "backing file reported" jq_ "assert d['$gpt']['backing_file'] == '$WORK/gpt.img'"
check "bare loop listed without partitions" jq_ "assert d['$bare']['size'] == 10*2**20 and d['$bare']['partitions'] == []"
check "unmounted loop is not flagged" jq_ "assert not d['$gpt']['mounted'] and not d['$gpt']['system']"

# Only whole drives: no partitions or empty loops as drives.
check "no partition listed as a drive" jq_ "assert not any(k.startswith('${gpt}p') for k in d)"

# The disk the system runs from.
root_dev=$(python3 -c "import os;s=os.stat('/');print('%d:%d'%(os.major(s.st_dev),os.minor(s.st_dev)))")
root_disk=$(for b in /sys/block/*; do [ "$(cat $b/dev)" = "$root_dev" ] && basename $b; for p in $b/*/dev; do [ -f "$p" ] && [ "$(cat $p)" = "$root_dev" ] && basename $b; done; done 2>/dev/null | head -1)
if [ -n "$root_disk" ]; then
    check "root disk /dev/$root_disk is SYSTEM" jq_ "assert d['/dev/$root_disk']['system'] and d['/dev/$root_disk']['mounted']"
else
    skip "root disk is SYSTEM" "root filesystem is not on a block device here ($root_dev)"
fi

# Mount a partition: the whole drive is MOUNTED.
mkdir -p "$WORK/mnt"
mount "${gpt}p2" "$WORK/mnt" && defer "umount $WORK/mnt"
"$CB" list --json > "$WORK/list.json"
check "mounted partition flags its drive" jq_ "x=d['$gpt']; assert x['mounted'] and 'mounted on $WORK/mnt' in x['mounted_reason'], x['mounted_reason']"
check "table shows MOUNTED" bash -c "'$CB' list | grep -E '^$gpt .*MOUNTED'"
umount "$WORK/mnt"

# Another program writing a partition (a second station's job, dd, mkfs): the drive is BUSY,
# with the program named; reading it is not enough.
sleep 300 < "${gpt}p1" & reader=$!
"$CB" list --json > "$WORK/list.json"
check "a reader does not make a drive busy" jq_ "assert not d['$gpt']['busy'], d['$gpt']['busy_reason']"
kill $reader
sleep 300 > "${gpt}p1" & writer=$!
defer "kill $writer"
"$CB" list --json > "$WORK/list.json"
check "a writer on a partition makes the drive busy, naming it" jq_ "x=d['$gpt']; assert x['busy'] and 'open for writing by PID $writer (sleep)' == x['busy_reason'], x['busy_reason']"
check "table shows BUSY" bash -c "'$CB' list | grep -E '^$gpt .*BUSY'"
before=$(sha "$gpt")
"$CB" clone "$bare" "$gpt" --yes > "$WORK/busy.out" 2>&1; rc=$?
check "a clone onto it is refused before writing (exit 2), naming the writer" bash -c "[ $rc = 2 ] && grep -q 'busy: open for writing by PID $writer' '$WORK/busy.out'"
check "the busy drive is untouched" test "$(sha "$gpt")" = "$before"
kill $writer; wait $writer 2>/dev/null
"$CB" list --json > "$WORK/list.json"
check "when it ends, the drive is free again" jq_ "assert not d['$gpt']['busy']"

# Hot-plug: attach a loop while a monitor listens.
"$TOOLS/monitor_events" 6 > "$WORK/events" &
mon=$!
for _ in $(seq 50); do grep -q ready "$WORK/events" && break; sleep 0.1; done
truncate -s 8M "$WORK/hot.img"
hot=$(losetup -f --show "$WORK/hot.img")
sleep 1
losetup -d "$hot"
wait $mon
name=$(basename "$hot")
check "hot-plug: add event for $name" grep -qx "add $name" "$WORK/events"
check "hot-plug: remove event for $name" grep -qx "remove $name" "$WORK/events"

# Usage errors exit 2 with a clear message.
"$CB" frobnicate 2> "$WORK/err"; rc=$?
check "unknown command exits 2" test $rc = 2
check "unknown command is named" grep -q "unknown command 'frobnicate'" "$WORK/err"
"$CB" list --bogus 2> "$WORK/err"; rc=$?
check "unknown option exits 2" test $rc = 2
check "version" bash -c "'$CB' --version | grep -qE '^clonebay [0-9]+\.[0-9]+'"
finish
