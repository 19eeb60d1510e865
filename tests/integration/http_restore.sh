#!/bin/bash
# clonebay restore http://HOST/IMAGE.zst (issue 20): an image on another machine
# of the room, read by byte ranges. The room is two network namespaces joined by
# a veth pair (traffic never leaves them): busybox httpd serves the images in
# one, clonebay restores in the other onto loop devices. cmp, sha256sum,
# sgdisk -v and the report's JSON are the oracles.
. "$(dirname "$0")/../lib.sh"
need_root http_restore
for tool in ip busybox python3; do
    command -v $tool >/dev/null || { skip http_restore "$tool is not installed"; exit 0; }
done

SRV=cbhs$$ STA=cbhc$$
ip netns add $SRV && ip netns add $STA || { fail "namespaces" "ip netns add"; finish; }
defer "ip netns del $SRV; ip netns del $STA"
defer "ip netns pids $SRV | xargs -r kill -9"
ip link add cbh$$a type veth peer name cbh$$b || { fail "veth" "ip link add"; finish; }
ip link set cbh$$a netns $SRV && ip link set cbh$$b netns $STA
ip -n $SRV addr add 10.77.0.1/24 dev cbh$$a && ip -n $SRV link set cbh$$a up && ip -n $SRV link set lo up
ip -n $STA addr add 10.77.0.2/24 dev cbh$$b && ip -n $STA link set cbh$$b up && ip -n $STA link set lo up
URL=http://10.77.0.1:8080
mkdir -p "$WORK/www"
serve() { ip netns exec $SRV busybox httpd -f -p 10.77.0.1:8080 -h "$WORK/www" & HTTPD=$!; }
station() { ip netns exec $STA timeout 300 "$CB" "$@"; }
# Until the server answers (a wait, not a timing assertion).
up() { for _ in $(seq 100); do ip netns exec $STA bash -c "exec 3<>/dev/tcp/10.77.0.1/8080" 2>/dev/null && return 0; sleep 0.1; done; return 1; }
serve
check "the server answers" up

# A 96 MiB GPT disk: partition 1 random data, partition 2 ext4 with files.
random_file "$WORK/src.img" 96M 7
sgdisk -o -n1:1M:+40M -t1:8300 -n2:0:0 -t2:8300 "$WORK/src.img" >/dev/null
src=$(attach "$WORK/src.img")
mkfs.ext4 -q -F "${src}p2"
mkdir -p "$WORK/mnt" && mount "${src}p2" "$WORK/mnt" && cp -r "$TOP/clone" "$WORK/mnt/" && umount "$WORK/mnt"
"$CB" image "$src" "$WORK/www/disk.zst" --mode raw > "$WORK/image.log" 2>&1
check "the image is made" grep -q "copied and verified" "$WORK/image.log"
want=$(sha "$src")

# 1. Restore over HTTP onto a drive of the same size.
truncate -s 96M "$WORK/t1.img"; t1=$(attach "$WORK/t1.img")
station restore "$URL/disk.zst" "$t1" --yes --report "$WORK/r1.json" > "$WORK/r1.log" 2>&1
rc=$?
check "restore over http: exit 0" test $rc = 0
check "restore over http: VERIFIED" grep -q "VERIFIED" "$WORK/r1.log"
check "restore over http: the drive equals the source" cmp "$src" "$t1"
check "restore over http: the report names the URL" \
    json "$WORK/r1.json" "assert r['source']['path'] == '$URL/disk.zst', r['source']"
check "restore over http: the report's sha256 is the source's" \
    json "$WORK/r1.json" "assert r['source_hashes']['sha256'] == '$want', r['source_hashes']"

# 2. Onto a larger drive, the partitions fitted: the image is read out of order
#    (tables, then each partition), through its seek table, by ranges.
truncate -s 160M "$WORK/t2.img"; t2=$(attach "$WORK/t2.img")
station restore "$URL/disk.zst" "$t2" --yes > "$WORK/r2.log" 2>&1
rc=$?
check "fitted restore over http: exit 0" test $rc = 0
check "fitted restore over http: the partitions were fitted" grep -q "partitions fitted" "$WORK/r2.log"
check "fitted restore over http: the table is valid" sgdisk -v "$t2"
check "fitted restore over http: partition 1 holds the source's" \
    cmp -n $((40 << 20)) -i $((1 << 20)):$((1 << 20)) "$src" "$t2"
partx -d "$t2" 2>/dev/null; partx -a "$t2" 2>/dev/null; udevadm settle 2>/dev/null
check "fitted restore over http: the ext4 is clean" e2fsck -fn "${t2}p2"

# 3. Refusals, each before a byte is written.
truncate -s 96M "$WORK/t3.img"; t3=$(attach "$WORK/t3.img")
random_file "$WORK/t3.img" 96M 9
before=$(sha "$t3")
refused() {     # NAME PATTERN URL
    station restore "$3" "$t3" --yes > "$WORK/ref.log" 2>&1
    local rc=$?
    if [ $rc != 0 ] && grep -q -- "$2" "$WORK/ref.log" && [ "$(sha "$t3")" = "$before" ]; then
        pass "$1: refused, target untouched"
    else
        fail "$1" "rc=$rc $(tail -2 "$WORK/ref.log" | tr '\n' ' ')"
    fi
}
refused "no such file" "no such file on the server" "$URL/nothing.zst"
head -c 5M /dev/urandom > "$WORK/www/noise.zst"
refused "not an image" "not a usable clonebay image" "$URL/noise.zst"
refused "https" "https is not supported" "https://10.77.0.1/disk.zst"
cp "$WORK/src.img" "$WORK/www/raw.img"
refused "a raw image" "a raw image is not restored over HTTP" "$URL/raw.img"
refused "no server" "cannot connect" "http://10.77.0.1:8081/disk.zst"
# A server that ignores Range (python's http.server sends the whole file).
ip netns exec $SRV python3 -m http.server 8082 --bind 10.77.0.1 --directory "$WORK/www" >/dev/null 2>&1 &
for _ in $(seq 100); do ip netns exec $STA bash -c "exec 3<>/dev/tcp/10.77.0.1/8082" 2>/dev/null && break; sleep 0.1; done
refused "no ranges" "does not answer byte ranges" "http://10.77.0.1:8082/disk.zst"

# Only an image is read over HTTP; udp-sender sends local files.
station clone "$URL/disk.zst" "$t3" --yes > "$WORK/ref.log" 2>&1
check "clone from a URL: refused, pointing to restore, target untouched" bash -c \
    "grep -q 'only an image is read over HTTP' '$WORK/ref.log' && [ \"\$(sha256sum < $t3 | cut -d' ' -f1)\" = '$before' ]"
station send "$URL/disk.zst" --clients 1 --wait 1 > "$WORK/send.log" 2>&1
check "send of a URL: refused" bash -c "grep -q 'udp-sender sends a local image file' '$WORK/send.log'"

# 4. The file changes on the server during the job (another image put there):
#    the job fails and says why, never VERIFIED.
cp "$WORK/www/disk.zst" "$WORK/www/moving.zst"
truncate -s 96M "$WORK/t5.img"; t5=$(attach "$WORK/t5.img")
ip netns exec $STA env CLONEBAY_TEST_PAUSE_BEFORE_WRITE="$WORK/move" timeout 300 "$CB" restore "$URL/moving.zst" \
    "$t5" --yes > "$WORK/r5.log" 2>&1 &
job=$!
for _ in $(seq 300); do [ -e "$WORK/move.ready" ] && break; sleep 0.1; done
head -c 1M /dev/urandom >> "$WORK/www/moving.zst"
touch "$WORK/move.go"
wait $job
rc=$?
check "file changed on the server: exit non-zero, not VERIFIED" bash -c "[ $rc != 0 ] && ! grep -q VERIFIED '$WORK/r5.log'"
check "file changed on the server: said so" grep -q "changed on the server" "$WORK/r5.log"

# 5. The server goes away after the checks: the job fails and says so, never VERIFIED.
truncate -s 96M "$WORK/t4.img"; t4=$(attach "$WORK/t4.img")
ip netns exec $STA env CLONEBAY_TEST_PAUSE_BEFORE_WRITE="$WORK/hook" timeout 300 "$CB" restore "$URL/disk.zst" "$t4" \
    --yes > "$WORK/r4.log" 2>&1 &
job=$!
for _ in $(seq 300); do [ -e "$WORK/hook.ready" ] && break; sleep 0.1; done
check "server gone: the job reached its first write" test -e "$WORK/hook.ready"
kill "$HTTPD"; wait "$HTTPD" 2>/dev/null
touch "$WORK/hook.go"
wait $job
rc=$?
check "server gone: exit non-zero" test $rc != 0
check "server gone: not VERIFIED" bash -c "! grep -q VERIFIED '$WORK/r4.log'"
check "server gone: the message names the URL" grep -q "$URL/disk.zst" "$WORK/r4.log"
finish
