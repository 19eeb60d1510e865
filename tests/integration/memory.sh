#!/bin/bash
# Memory per job: peak RSS (GNU time's "Maximum resident set size") of an
# image at the highest level, of incompressible data (every frame goes through
# a compressor and stays 8 MiB), and of info/verify on a crafted image whose
# header asks for 1 GiB frames. Each must stay within 64 MiB whatever the core
# count. A memory assertion, not a timed one. zstd -d judges the image.
. "$(dirname "$0")/../lib.sh"
need_root memory
command -v zstd >/dev/null || { skip memory "zstd is not installed"; exit 0; }
[ -x /usr/bin/time ] || { skip memory "GNU time (/usr/bin/time) is not installed"; exit 0; }
LIMIT_KB=$((64 * 1024))

# peak NAME CMD...: run CMD, its exit code in $rc and its peak RSS (KiB) in $kb.
peak() {
    local name=$1; shift
    /usr/bin/time -f %M -o "$WORK/$name.rss" "$@" > "$WORK/$name.out" 2>&1; rc=$?
    kb=$(tail -1 "$WORK/$name.rss")
    echo "# $name: exit $rc, peak RSS $((kb / 1024)) MiB" >&2
}

random_file "$WORK/noise.img" 256M 17
dev=$(attach "$WORK/noise.img" -r)
mkdir -p "$WORK/out"
for level in 19 3; do
    img="$WORK/out/noise$level.zst"
    peak "level$level" "$CB" image "$dev" "$img" --level "$level" --yes
    check "image --level $level of 256 MiB of noise: exit 0" test "$rc" = 0
    check "image --level $level: peak RSS ${kb} KiB <= 64 MiB" test "$kb" -le "$LIMIT_KB"
    check "image --level $level: zstd -d gives the disk byte for byte" \
        bash -c "zstd -q -d -c '$img' | cmp - '$WORK/noise.img'"
    check "image --level $level: still seekable (seek table magic at the end)" \
        bash -c "tail -c 4 '$img' | od -An -tx1 | grep -q 'b1 ea 92 8f'"
    check "image --level $level: 8 MiB frames (32 of them)" \
        bash -c "zstd -l -v '$img' 2>/dev/null | grep -qx '# Zstandard Frames: 32'"
done

# A crafted image: a well-formed header asking for 1 GiB frames, one real
# frame of 1 GiB of zeros (a few KiB compressed; zstd -1 keeps a small
# window, so zstd itself would decode it), a trailer and a seek table.
truncate -s 1G "$WORK/zeros"
zstd -q -1 "$WORK/zeros" -o "$WORK/zeros.zst" && rm -f "$WORK/zeros"
python3 - "$WORK/zeros.zst" "$WORK/out/huge.zst" <<'EOF'
import struct, sys
data = open(sys.argv[1], 'rb').read()
def skippable(magic, payload):
    return struct.pack('<II', magic, len(payload)) + payload
head = skippable(0x184D2A5C, b"clonebay-image 1 header\nsize 1073741824\nsector 512\nframe-size 1073741824\n")
trail = skippable(0x184D2A5C, b"clonebay-image 1 trailer\ncomplete yes\n")
frames = [(head, 0), (data, 1 << 30), (trail, 0)]
table = b''.join(struct.pack('<III', len(f), d, 0) for f, d in frames)
table += struct.pack('<IBI', len(frames), 0x80, 0x8F92EAB1)
with open(sys.argv[2], 'wb') as out:
    for f, _ in frames:
        out.write(f)
    out.write(skippable(0x184D2A5E, table))
EOF
huge="$WORK/out/huge.zst"
for cmd in info verify; do
    peak "$cmd-huge" "$CB" "$cmd" "$huge"
    check "$cmd of an image asking for 1 GiB frames: refused (exit 1)" test "$rc" = 1
    check "$cmd of an image asking for 1 GiB frames: says why, naming the file" \
        grep -q "$huge: the image header asks for frames of 1073741824 bytes" "$WORK/$cmd-huge.out"
    check "$cmd of an image asking for 1 GiB frames: peak RSS ${kb} KiB <= 64 MiB" test "$kb" -le "$LIMIT_KB"
done
finish
