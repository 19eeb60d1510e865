#!/bin/bash
# The key bar and the help come from one key table (ui/screen.h): every key
# in the main screen's bar is in its help, and every key the help lists does
# something when pressed (none answers "does nothing here"); F10 quits.
# Then the new-job wizard's first step: its bar's keys are in its own help
# (F1 there), which returns to the step; and the bench view's bar (b) works.
. "$(dirname "$0")/../lib.sh"
need_root keys
command -v tmux >/dev/null || { skip keys "tmux is not installed"; exit 0; }

B=$WORK/bench
mkdir -p "$B"
truncate -s 16M "$B/a-drive.img"
attach "$B/a-drive.img" >/dev/null

T=cbkeys-$$
own_tmux
tmux new-session -d -s "$T" -x 120 -y 40 "$CB station --bench $B --reports $WORK/reports --no-bell; echo station-exited; sleep 30"
defer "tmux kill-session -t $T"

# The bar's keys: the bold words of the last row (each key is drawn bold, its label reversed).
bar_keys() { tmux capture-pane -t "$T" -p -e | tail -1 | grep -oE $'\e\\[1m[^\e]+' | cut -c5-; }
# The help's keys: the key column of its lines ("    F5, r            list ..."), one key a line.
help_keys() { screen | grep -E '^    [^ ]' | cut -c5-20 | sed 's/ *$//; s/, /\n/g'; }
tmux_key() { case $1 in Esc) echo Escape ;; Bksp) echo BSpace ;; *) echo "$1" ;; esac; }
on_main() { screen | grep -q '^Drives (' && bar_keys | grep -qx F10; }

check "keys: the station lists the drive" wait_for "Drives (1" 20
bar_keys > "$WORK/bar"
check "keys: the main bar has its keys" bash -c "[ \$(wc -l < '$WORK/bar') -ge 8 ] && grep -qx F1 '$WORK/bar' && grep -qx F10 '$WORK/bar'"

keys F1
check "keys: F1 opens the help" wait_for "clonebay station - keys" 5
help_keys > "$WORK/help"
missing=$(grep -vxF -f "$WORK/help" "$WORK/bar" | tr '\n' ' ')
check "keys: every key in the bar is in the help ($(wc -l < "$WORK/bar") keys)" test -z "$missing"
[ -n "$missing" ] && echo "  not in the help: $missing"
check "keys: no key is listed twice in the help (a second binding would never run)" test -z "$(sort "$WORK/help" | uniq -d)"
check "keys: the help lists more keys than the bar" bash -c "[ \$(wc -l < '$WORK/help') -gt \$(wc -l < '$WORK/bar') ]"
keys Escape
check "keys: any key leaves the help" bash -c "$(declare -f tmux screen bar_keys on_main wait_for); T=$T; for i in \$(seq 50); do on_main && exit 0; sleep 0.1; done; exit 1"

# Each key the help lists, but the quitting ones, pressed on the main screen.
# z first: its "does nothing here" is gone once the key after it was taken
# (every key clears the message), so the screen then shows that key's answer.
idle=()
while read -r k; do
    [ "$k" = F10 ] || [ "$k" = q ] && continue
    keys z; wait_for "z does nothing here" 5 || { idle+=("$k(no z)"); continue; }
    keys "$(tmux_key "$k")"
    gone "z does nothing here" 5 || { idle+=("$k(not taken)"); continue; }
    screen | grep -q "does nothing here" && idle+=("$k")
    for _ in 1 2 3; do on_main && break; keys Escape; done
    on_main || idle+=("$k(no way back)")
done < "$WORK/help"
check "keys: every key in the help does something on the main screen ($(wc -l < "$WORK/help") keys)" test ${#idle[@]} -eq 0
[ ${#idle[@]} -gt 0 ] && echo "  idle: ${idle[*]}"

# The wizard's source step: its own help, from its own table.
keys F2
check "keys: F2 opens the new job's first step" wait_for "step 1 of 4" 5
bar_keys > "$WORK/src-bar"
keys F1
check "keys: F1 on the step opens its help" wait_for "clonebay station - keys: new job: source" 5
help_keys > "$WORK/src-help"
missing=$(grep -vxF -f "$WORK/src-help" "$WORK/src-bar" | tr '\n' ' ')
check "keys: every key in the step's bar is in its help ($(wc -l < "$WORK/src-bar") keys)" \
    bash -c "[ -s '$WORK/src-bar' ] && [ -z '$missing' ]"
check "keys: no key twice in the step's help" bash -c "[ -s '$WORK/src-help' ] && [ -z \"\$(sort '$WORK/src-help' | uniq -d)\" ]"
keys Escape
check "keys: a key leaves the help, back on the step" wait_for "step 1 of 4" 5
keys Escape
check "keys: Esc (in the step's bar) returns to the main screen" bash -c "$(declare -f tmux screen bar_keys on_main); T=$T; for i in \$(seq 50); do on_main && exit 0; sleep 0.1; done; exit 1"

# The bench view: its bar is its table's; each of its keys answers.
keys b
check "keys: b opens the bench view" wait_for "Bench: 1 drive" 5
bar_keys > "$WORK/bench-bar"
check "keys: the bench bar has b, m and F2" bash -c "grep -qx b '$WORK/bench-bar' && grep -qx m '$WORK/bench-bar' && grep -qx F2 '$WORK/bench-bar'"
keys m
check "keys: m in the bench view toggles the bell" wait_for "(m toggles it)" 5
keys z
check "keys: a key the bench does not use says so" wait_for "z does nothing here: b or Esc returns" 5
keys b
check "keys: b returns to the list" bash -c "$(declare -f tmux screen bar_keys on_main); T=$T; for i in \$(seq 50); do on_main && exit 0; sleep 0.1; done; exit 1"

keys F10
check "keys: F10 quits (no job runs)" wait_for "station-exited" 10
finish
