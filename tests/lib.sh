# Shared helpers for integration tests (sourced). Each test prints lines
# "PASS: name", "FAIL: name: why" or "SKIP: name: why"; tests/run-all counts them.
set -u
TOP=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${BUILD:-build}
CB="$TOP/$BUILD/clonebay"
TOOLS="$TOP/$BUILD/tools"
WORK=$(mktemp -d /tmp/clonebay-test.XXXXXX)
CLEANUP=()

pass() { echo "PASS: $1"; }
fail() { echo "FAIL: $1: ${2:-}"; FAILED=1; }
skip() { echo "SKIP: $1: ${2:-}"; }
FAILED=0

# check NAME COMMAND...: pass when COMMAND succeeds.
check() { local name=$1; shift; if "$@" >"$WORK/check.out" 2>&1; then pass "$name"; else fail "$name" "$(tail -3 "$WORK/check.out" | tr '\n' ' ')"; fi; }

on_exit() {
    local i
    for ((i = ${#CLEANUP[@]} - 1; i >= 0; i--)); do eval "${CLEANUP[i]}" >/dev/null 2>&1 || true; done
    rm -rf "$WORK"
}
trap on_exit EXIT
defer() { CLEANUP+=("$1"); }

need_root() {
    if [ "$(id -u)" != 0 ]; then skip "${1:-$(basename "$0")}" "needs root for loop devices"; exit 0; fi
}

# attach FILE [losetup options]: a loop device with the kernel's partitions registered.
# This machine's kernel has no partition-table parsers (losetup -P finds nothing), so
# partitions are added through BLKPG with partx, which works everywhere.
attach() {
    local file=$1; shift
    local dev
    dev=$(losetup -f --show "$@" "$file") || return 1
    defer "losetup -d $dev"
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

finish() { exit "$FAILED"; }
