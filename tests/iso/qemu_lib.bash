# Helpers for the live-ISO tests (sourced after tests/lib.sh): boot the ISO in
# QEMU (TCG; KVM hangs on these machines) on emulated drives, run a script in
# the guest, read what it printed. See ../../../shared/TESTBENCH.md.
ISO="$TOP/build/clonebay-live.iso"      # built from the plain build, also under SANITIZE
OVMF_CODE=/usr/share/OVMF/OVMF_CODE_4M.fd
OVMF_VARS=/usr/share/OVMF/OVMF_VARS_4M.fd

# Skip the whole file (honestly) when the ISO or QEMU is not there.
need_iso() {
    need_root "$1"
    if [ -n "${NO_ISO:-}" ]; then skip "$1" "NO_ISO is set: the live ISO was left out"; exit 0; fi
    if [ ! -f "$ISO" ]; then skip "$1" "no $ISO (make iso builds it; make check does when it can)"; exit 0; fi
    if ! command -v qemu-system-x86_64 >/dev/null; then skip "$1" "qemu-system-x86 not installed"; exit 0; fi
}

# The drives of one machine, as QEMU arguments, gathered by the add_* helpers.
QARGS=()
reset_drives() { QARGS=(-device ahci,id=ahci0 -device qemu-xhci,id=xhci); }
reset_drives
# add_sata PORT FILE MODEL SERIAL ROTATION (7200 for an HDD, 1 for an SSD)
add_sata() {
    QARGS+=(-drive "if=none,id=sata$1,file=$2,format=raw,cache=unsafe"
            -device "ide-hd,drive=sata$1,bus=ahci0.$1,model=$3,serial=$4,rotation_rate=$5")
}
# blkdebug_drive ID FILE SECTOR: the -drive value for FILE with SECTOR (512 B)
# failing every read (QEMU blkdebug); the rule file goes beside FILE.
blkdebug_drive() {
    printf '[inject-error]\nevent = "read_aio"\nsector = "%s"\nonce = "off"\n' "$3" > "$2.blkdebug"
    echo "if=none,id=$1,driver=raw,file.driver=blkdebug,file.config=$2.blkdebug,file.image.driver=file,file.image.filename=$2,cache=unsafe"
}
# add_sata_bad PORT FILE MODEL SERIAL SECTOR: a SATA HDD whose SECTOR (512 B) fails to read.
add_sata_bad() {
    QARGS+=(-drive "$(blkdebug_drive "sata$1" "$2" "$5")"
            -device "ide-hd,drive=sata$1,bus=ahci0.$1,model=$3,serial=$4,rotation_rate=7200")
}
# add_nvme ID FILE SERIAL [SECTOR]: an NVMe disk; with SECTOR, that sector fails.
add_nvme() {
    if [ -n "${4:-}" ]; then
        QARGS+=(-drive "$(blkdebug_drive "nvme$1" "$2" "$4")")
    else
        QARGS+=(-drive "if=none,id=nvme$1,file=$2,format=raw,cache=unsafe")
    fi
    QARGS+=(-device "nvme,drive=nvme$1,serial=$3")
}
# add_usb ID FILE VENDOR PRODUCT [boot]: a USB stick (mass storage, removable);
# "boot" makes it the firmware's first boot device.
add_usb() {
    local boot=""
    [ "${5:-}" = boot ] && boot=",bootindex=0"
    QARGS+=(-drive "if=none,id=usb$1,file=$2,format=raw,cache=unsafe"
            -device "usb-bot,id=bot$1,bus=xhci.0"
            -device "scsi-hd,bus=bot$1.0,drive=usb$1,removable=on,vendor=$3,product=$4,serial=USB$1$boot")
}
# add_cd PORT FILE [boot]: a DVD drive on SATA with FILE as its disc ("" for an
# empty drive); "boot" makes it the firmware's first boot device.
add_cd() {
    local boot=""
    [ "${3:-}" = boot ] && boot=",bootindex=0"
    if [ -n "$2" ]; then
        QARGS+=(-drive "if=none,id=cd$1,file=$2,format=raw,media=cdrom,readonly=on")
    else
        QARGS+=(-drive "if=none,id=cd$1,media=cdrom")
    fi
    QARGS+=(-device "ide-cd,drive=cd$1,bus=ahci0.$1$boot")
}

# boot FIRMWARE NAME SCRIPT [extra qemu args]: boot (bios|uefi) with the drives
# added so far, run SCRIPT in the guest (fw_cfg, see iso/guest-run), wait for it
# to power off. The guest's output lands in $WORK/NAME.out, the console in NAME.console.
boot() {
    local fw=$1 name=$2 script=$3; shift 3
    local firmware=()
    if [ "$fw" = uefi ]; then
        cp "$OVMF_VARS" "$WORK/$name.vars"
        firmware=(-drive "if=pflash,format=raw,readonly=on,file=$OVMF_CODE"
                  -drive "if=pflash,format=raw,file=$WORK/$name.vars")
    fi
    local start=$SECONDS
    timeout "${QEMU_TIMEOUT:-600}" qemu-system-x86_64 -accel tcg -machine q35 -m 512 -smp 2 \
        -display none -no-reboot -nic none "${firmware[@]}" "${QARGS[@]}" \
        -serial "file:$WORK/$name.console" -serial "file:$WORK/$name.out" \
        -fw_cfg "name=opt/clonebay/run,file=$script" "$@" \
        >"$WORK/$name.qemu" 2>&1
    local rc=$?
    # The guest's serial line ends lines with CR LF.
    [ -f "$WORK/$name.out" ] && sed -i 's/\r$//' "$WORK/$name.out"
    echo "qemu $name ($fw): exit $rc after $((SECONDS - start)) s"
    return $rc
}

# section NAME FILE: the lines a guest script printed between "=== NAME" and "=== end".
section() { sed -n "/=== $1\$/,/^=== end\$/p" < "$2" | sed '1d;$d'; }

# The guest-side helpers every script starts with (busybox sh).
guest_prelude() {
    cat <<'GUEST'
set -u
# by_serial SERIAL: the /dev node of the drive udev knows by that serial.
by_serial() {
    for s in /sys/block/*; do
        n=${s##*/}
        udevadm info -q property -n "/dev/$n" 2>/dev/null | grep -qx "ID_SERIAL_SHORT=$1" && { echo "/dev/$n"; return 0; }
    done
    return 1
}
# writes PID DEV: PID has DEV open for writing (fdinfo flags: O_WRONLY or O_RDWR);
# a job opens its target read-only first, to look at it.
writes() {
    for f in /proc/$1/fd/*; do
        [ "$(readlink "$f")" = "$2" ] && grep -Eq '^flags:[[:space:]]*[0-7]*[123567]$' "/proc/$1/fdinfo/${f##*/}" && return 0
    done
    return 1
}
# out NAME COMMAND...: run COMMAND, its output between markers, then its exit code.
out() { n=$1; shift; echo "=== $n"; "$@" 2>&1; rc=$?; echo "=== end"; echo "rc $n $rc"; }
GUEST
}

# run_guest FIRMWARE NAME SCRIPT: boot() and check the script ran to its end;
# the whole test stops (finish) when QEMU does not come back. Sets $out.
run_guest() {
    local fw=$1 name=$2
    if ! boot "$@"; then
        fail "$name boots ($fw)" "$(tail -5 "$WORK/$name.qemu"; tail -c 600 "$WORK/$name.console")"
        finish
    fi
    out=$WORK/$name.out
    check "$name: the guest script ran to its end" grep -qx 'guest-run: exit 0' "$out"
}

# station_vm COLS ROWS: boot (BIOS) the drives added so far with QEMU's serial
# line as a tmux pane of that size (the station's console; tests/lib.sh's
# screen, wait_for, gone and keys drive it) and its monitor on fifos (monitor CMD).
station_vm() {
    mkfifo "$WORK/mon.in" "$WORK/mon.out"
    exec 7<>"$WORK/mon.in"
    T=cbiso-$$
    own_tmux
    KEYS_PAUSE=0.5      # a serial line at 115200 baud redraws slower than a pty
    booted=$SECONDS
    tmux new-session -d -s "$T" -x "$1" -y "$2" \
        "qemu-system-x86_64 -accel tcg -machine q35 -m 512 -smp 2 -display none -no-reboot -nic none \
         $(printf '%q ' "${QARGS[@]}") -chardev pipe,id=mon0,path=$WORK/mon -mon chardev=mon0,mode=readline \
         -chardev stdio,id=ser0,signal=off -serial chardev:ser0 2>$WORK/qemu.err; echo qemu-exited; sleep 600"
    cat "$WORK/mon.out" > "$WORK/mon.log" &
    defer "kill $! 2>/dev/null"
}
monitor() { echo "$*" >&7; sleep 1; }
