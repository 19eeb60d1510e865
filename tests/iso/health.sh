#!/bin/bash
# Drive health and hidden areas (issue 21) in the live ISO on emulated drives
# whose SMART QEMU answers: an AHCI disk (ATA SMART, READ NATIVE MAX) and an
# NVMe (its SMART/health log) are "ok" with their hours and temperature; a USB
# stick behind QEMU's bridge is "unknown", never "ok"; a clone's report carries
# the source's health before and after and the target's. QEMU's IDE disks have
# no SET MAX ADDRESS, so no HPA can be made here: the AHCI disk's READ NATIVE
# MAX is read and says nothing hidden (0 bytes, not "not known").
# CB_ISO=FILE boots another ISO than build/clonebay-live.iso (a helper's build).
. "$(dirname "$0")/../lib.sh"
. "$(dirname "$0")/qemu_lib.bash"
ISO=${CB_ISO:-$ISO}
need_iso health

hdd=$WORK/hdd.img
random_file "$hdd" 64M 21
truncate -s 96M "$WORK/nvme.img"
truncate -s 96M "$WORK/usb.img"

add_cd 0 "$ISO" boot
add_sata 1 "$hdd" "WDC WD5000AAKX-00ERMA0" CBHLTH01 7200
add_nvme 0 "$WORK/nvme.img" CBHLTH02
add_usb 0 "$WORK/usb.img" SanDisk "Cruzer Blade"

{ guest_prelude; cat <<'GUEST'
out list clonebay list --json
HDD=$(by_serial CBHLTH01); NVME=$(by_serial CBHLTH02)
USB=$(for s in /sys/block/sd*; do [ "$(cat $s/removable)" = 1 ] && echo /dev/${s##*/}; done)
echo "drives $HDD $NVME $USB"
out table clonebay list
out smart_hdd smartctl --json -a "$HDD"
out smart_nvme smartctl --json -a "$NVME"
out smart_usb smartctl --json -a "$USB"
out native_max hdparm -N "$HDD"
out clone clonebay clone "$HDD" "$NVME" --yes --mode raw --report /tmp/r.json
out report cat /tmp/r.json
GUEST
} > "$WORK/guest.sh"

run_guest bios health "$WORK/guest.sh"

section list "$out" > "$WORK/list.json"
section report "$out" > "$WORK/r.json"
for s in smart_hdd smart_nvme smart_usb native_max table clone; do section $s "$out" > "$WORK/$s.txt"; done
drive() { json "$WORK/list.json" "d=[x for x in r if x['serial']=='$1']; assert len(d)==1, 'no drive $1'; h=d[0]['health']; $2"; }
check "list --json is JSON" python3 -m json.tool "$WORK/list.json"
check "AHCI disk: ok, SMART verdict passed" drive CBHLTH01 "assert h['state']=='ok' and h['verdict']=='passed' and h['protocol']=='ATA', h"
check "AHCI disk: power-on hours and temperature read" drive CBHLTH01 \
    "assert isinstance(h['power_on_hours'], int) and isinstance(h['temperature_celsius'], int), h"
check "AHCI disk: reallocated and pending sectors read (none)" drive CBHLTH01 \
    "assert h['reallocated_sectors']==0 and h['pending_sectors'] in (0, None), h"
check "AHCI disk: READ NATIVE MAX read, nothing hidden" drive CBHLTH01 "assert h['hpa_hidden_bytes']==0, h"
check "hdparm -N in the guest agrees: HPA is disabled" grep -q "HPA is disabled" "$WORK/native_max.txt"
check "NVMe: ok, SMART verdict passed" drive CBHLTH02 "assert h['state']=='ok' and h['verdict']=='passed' and h['protocol']=='NVMe', h"
check "NVMe: hours, percentage used, media errors, temperature read" drive CBHLTH02 \
    "assert all(isinstance(h[k], int) for k in ('power_on_hours','percentage_used','media_errors','temperature_celsius')), h"
check "NVMe: no HPA asked of a drive that is not ATA" drive CBHLTH02 "assert h['hpa_hidden_bytes'] is None, h"
check "USB stick: unknown, never ok" json "$WORK/list.json" \
    "d=[x for x in r if x['kind']=='usb']; assert len(d)==1 and d[0]['health']['state']=='unknown', d"
check "list: the AHCI disk's line says ok" grep -qE "CBHLTH01 +ok " "$WORK/table.txt"
check "clone: exit 0" grep -qx "rc clone 0" "$out"
check "report: source health before (ok, with hours)" json "$WORK/r.json" \
    "h=r['source']['health']; assert h['state']=='ok' and isinstance(h['power_on_hours'], int), h"
check "report: source health after" json "$WORK/r.json" "assert r['source_health_after']['state']=='ok', r['source_health_after']"
check "report: target health (NVMe)" json "$WORK/r.json" \
    "h=r['targets'][0]['identity']['health']; assert h['state']=='ok' and h['protocol']=='NVMe', h"
check "text report: health lines" bash -c "grep -q '^health   source .* before: ok: SMART overall verdict PASSED' '$WORK/clone.txt' &&
    grep -q '^health   target .*: ok' '$WORK/clone.txt'"
# smartctl's own answers from QEMU's drives, kept for the unit tests when asked.
if [ -n "${CB_KEEP_SMART:-}" ]; then
    cp "$WORK/smart_hdd.txt" "$CB_KEEP_SMART/qemu_ahci.json"
    cp "$WORK/smart_nvme.txt" "$CB_KEEP_SMART/qemu_nvme.json"
    cp "$WORK/smart_usb.txt" "$CB_KEEP_SMART/qemu_usb.json"
fi
finish
