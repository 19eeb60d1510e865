# Shared helpers for integration tests (sourced). Each test prints lines
# "PASS: name", "FAIL: name: why" or "SKIP: name: why"; tests/run-all counts them.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
CB="$TOP/$BUILD/clonebay"
TOOLS="$TOP/$BUILD/tools"
WORK=$(mktemp -d /tmp/clonebay-test.XXXXXX)

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; FAILED=1; }
skip() { echo "SKIP: $1: ${2:-}"; }
FAILED=0

# check NAME COMMAND...: pass when COMMAND succeeds.
check() { local name=$1; shift; if "$@" >"$WORK/check.out" 2>&1; then pass "$name"; else fail "$name" "$(tail -3 "$WORK/check.out" | tr '\n' ' ')"; fi; }

# Clean-up commands live in a file, not an array, so that helpers called in a
# command substitution (dev=$(attach ...)) can register theirs too.
on_exit() {
    local cmd
    if [ -f "$WORK/.cleanup" ]; then
        while IFS= read -r cmd; do eval "$cmd" >/dev/null 2>&1 || true; done < <(tac "$WORK/.cleanup")
    fi
    if [ -n "${KEEP_WORK:-}" ]; then echo "kept $WORK" >&2; else rm -rf "$WORK"; fi
}
trap on_exit EXIT
defer() { echo "$1" >> "$WORK/.cleanup"; }

need_root() {
    if [ "$(id -u)" != 0 ]; then skip "${1:-$(basename "$0")}" "needs root for loop devices"; exit 0; fi
}

# attach FILE [losetup options]: a loop device with the kernel's partitions registered.
# This machine's kernel has no partition-table parsers (losetup -P finds nothing), so
# partitions are added through BLKPG with partx, which works everywhere.
attach() {
    local file=$1; shift
    local dev back
    dev=$(losetup -f --show "$@" "$file") || return 1
    back=$(readlink -f "$file")
    # Partitions added through BLKPG outlive the loop device here: drop them first.
    # Only while the number is still ours: a test that detached it early (a pulled
    # drive) must not take the loop another session has attached under it since.
    defer "if losetup -nO BACK-FILE $dev 2>/dev/null | sed 's/ *\$//' | grep -qxF -- '$back'; then partx -d $dev; losetup -d $dev; fi"
    partx -d "$dev" 2>/dev/null     # stale ones a crashed run left on this loop
    partx -a "$dev" 2>/dev/null || true
    echo "$dev"
}

# A sparse file of SIZE filled with reproducible random data of SEED in its first LEN bytes.
random_file() {
    local file=$1 size=$2 seed=${3:-1}
    truncate -s "$size" "$file"
    openssl enc -aes-128-ctr -pass "pass:$seed" -nosalt -pbkdf2 </dev/zero 2>/dev/null |
        head -c "$(numfmt --from=iec "$size")" | dd of="$file" conv=notrunc bs=1M status=none iflag=fullblock
}

sha() { sha256sum "$1" | cut -d' ' -f1; }

# json FILE PYTHON: run PYTHON with r = the parsed JSON file; fails when it raises.
json() { python3 -c "import json,sys; r=json.load(open('$1')); $2"; }

finish() { exit "$FAILED"; }

# fault_expected FILE SIZE OFF:LEN...: what a rescue of a fault drive of SIZE with
# those bad ranges must give: faultdisk's content, zeros where it cannot be read.
fault_expected() {
    local file=$1 size=$2 b; shift 2
    "$TOOLS/faultdisk" --dump "$file" --size "$size"
    for b in "$@"; do
        dd if=/dev/zero of="$file" bs=512 seek=$((${b%%:*} / 512)) count=$((${b##*:} / 512)) conv=notrunc status=none
    done
}

# fault_drive NAME SIZE [faultdisk options]: a failing drive on a read-only,
# direct-I/O loop device (tests/tools/faultdisk over FUSE). Prints the loop path.
fault_drive() {
    local name=$1 size=$2; shift 2
    local mnt="$WORK/fuse-$name"
    mkdir -p "$mnt"
    "$TOOLS/faultdisk" "$mnt" --size "$size" "$@" -f >/dev/null 2>&1 &
    local pid=$!
    for _ in $(seq 50); do [ -e "$mnt/disk" ] && break; sleep 0.1; done
    defer "fusermount3 -u $mnt; kill $pid"
    attach "$mnt/disk" -r --direct-io=on
}

# own_tmux: a tmux server of the test's own (nothing else on the machine can
# close its panes), gone when the test ends. Then, for the pane $T:
# screen, wait_for TEXT [SECONDS], gone TEXT [SECONDS], keys KEY...
own_tmux() {
    eval "tmux() { command tmux -L clonebay-test-$$ \"\$@\"; }"     # the socket name baked in for bash -c
    defer "tmux -L clonebay-test-$$ kill-server"
}
screen() { tmux capture-pane -t "$T" -p; }
# wait_for TEXT [SECONDS=20]: until the screen shows TEXT (a wait, not a timing assertion).
wait_for() {
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do screen | grep -qF -- "$1" && return 0; sleep 0.1; done
    screen > "$WORK/last-screen"; return 1
}
# gone TEXT [SECONDS=20]: until the screen no longer shows TEXT.
gone() {
    local i
    for ((i = 0; i < ${2:-20} * 10; i++)); do screen | grep -qF -- "$1" || return 0; sleep 0.1; done
    return 1
}
KEYS_PAUSE=0.3
keys() { tmux send-keys -t "$T" "$@"; sleep "$KEYS_PAUSE"; }

# ntfs_dirty FILE OFFSET: set VOLUME_IS_DIRTY in $Volume's $VOLUME_INFORMATION, in $MFT
# and in $MFTMirr (libntfs-3g compares them), as Windows leaves it after a crash.
ntfs_dirty() {
    python3 - "$1" "$2" <<'EOF'
import struct, sys
path, off = sys.argv[1], int(sys.argv[2])
with open(path, 'r+b') as f:
    f.seek(off); bs = f.read(512)
    bps, spc = struct.unpack_from('<HB', bs, 11)
    cs = bps * spc
    mft, mirr = struct.unpack_from('<qq', bs, 0x30)
    c = struct.unpack_from('<b', bs, 0x40)[0]
    rs = cs * c if c > 0 else 1 << -c
    for lcn in (mft, mirr):
        at = off + lcn * cs + 3 * rs                # record 3: $Volume
        f.seek(at); r = bytearray(f.read(rs))
        assert r[:4] == b'FILE', r[:4]
        a = struct.unpack_from('<H', r, 0x14)[0]
        while True:
            t, ln = struct.unpack_from('<II', r, a)
            assert t != 0xFFFFFFFF, 'no $VOLUME_INFORMATION'
            if t == 0x70:
                vo = a + struct.unpack_from('<H', r, a + 0x14)[0]
                assert (vo + 10) % bps < bps - 2      # not under an update sequence fixup
                r[vo + 10] |= 1
                break
            a += ln
        f.seek(at); f.write(r)
EOF
}

# damage_frame IMAGE COPY DISK_OFFSET: COPY is IMAGE with 64 bytes flipped in the
# middle of the zstd frame that holds disk byte DISK_OFFSET (read through its
# seek table); prints that frame's disk range "first last".
damage_frame() {
    python3 - "$1" "$2" "$3" <<'PY'
import struct, sys
src, dst, disk_off = sys.argv[1], sys.argv[2], int(sys.argv[3])
d = bytearray(open(src, 'rb').read())
n, desc, magic = struct.unpack('<IBI', d[-9:])
esz = 12 if desc & 0x80 else 8
tab = d[-9 - n * esz:-9]
cpos = dpos = 0
for i in range(n):
    c, u = struct.unpack('<II', tab[i * esz:i * esz + 8])
    if u and dpos <= disk_off < dpos + u:
        for k in range(64):
            d[cpos + c // 2 + k] ^= 0x5A
        print(dpos, dpos + u - 1)
        break
    cpos += c; dpos += u
open(dst, 'wb').write(d)
PY
}
