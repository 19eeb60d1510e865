#!/bin/bash
# Drive health (issue 21) on real loop devices: `clonebay list` and list --json
# carry it, a job's report gives the source's before and after and each
# target's; a loop has no SMART, so "unknown" with the reason, never "ok".
# (The SMART values themselves are checked on smartctl's recorded answers in
# tests/unit/test_health.c.)
. "$(dirname "$0")/../lib.sh"
need_root health

mkdir -p "$WORK/bench"
random_file "$WORK/bench/src.img" 16M 3
truncate -s 16M "$WORK/bench/dst.img"
src=$(attach "$WORK/bench/src.img" -r)
dst=$(attach "$WORK/bench/dst.img")

"$CB" list --bench "$WORK/bench" --json > "$WORK/list.json"; rc=$?
check "list --json: exit 0" test $rc = 0
check "list --json: a loop's health is unknown, with the reason" json "$WORK/list.json" \
    "h = [d['health'] for d in r if d['path'] == '$src'][0]; assert h['state'] == 'unknown' and h['reason'] == 'a loop device has no SMART', h"
check "list --json: no verdict and no counts for a loop" json "$WORK/list.json" \
    "h = [d['health'] for d in r if d['path'] == '$src'][0]; assert h['verdict'] is None and h['power_on_hours'] is None and h['pending_sectors'] is None, h"
"$CB" list --bench "$WORK/bench" > "$WORK/list.txt"
check "list: HEALTH column" grep -q "HEALTH" "$WORK/list.txt"
check "list: the loop's line says unknown" grep -qE "^$src +loop .* unknown " "$WORK/list.txt"
"$CB" list --bench "$WORK/bench" --json --no-health > "$WORK/nohealth.json"
check "list --no-health: health is null" json "$WORK/nohealth.json" "assert all(d['health'] is None for d in r)"

"$CB" clone "$src" "$dst" --yes --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "clone: exit 0" test $rc = 0
check "clone: copied" cmp "$src" "$dst"
check "report: source health before" json "$WORK/r.json" "assert r['source']['health']['state'] == 'unknown', r['source']"
check "report: source health after" json "$WORK/r.json" \
    "assert r['source_health_after']['reason'] == 'a loop device has no SMART', r['source_health_after']"
check "report: target health" json "$WORK/r.json" "assert r['targets'][0]['identity']['health']['state'] == 'unknown'"
check "text report: source before and after, target" bash -c "grep -q '^health   source $src before: unknown: a loop device has no SMART' '$WORK/out' &&
    grep -q '^health   source $src after: unknown' '$WORK/out' && grep -q '^health   target $dst: unknown' '$WORK/out'"
finish
