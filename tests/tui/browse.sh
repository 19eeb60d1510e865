#!/bin/bash
# The station's "Browse image" (o), driven through tmux on a real image of a
# real disk: a GPT loop disk with a FAT and an ext4 partition, imaged with
# `clonebay image` into a store. Its partitions with labels, filesystems and
# sizes; a folder and a file copied out, judged by cmp against the source's
# own files; a damaged frame fails its file only, by name; a file named .zst
# that is not an image is refused whole, nothing mounted. Leaving and quitting
# leave no loop device, mount or helper of the station's, and an image mounted
# by `clonebay mount` outside the station is left alone. A refusal on Y is in
# the reports' jobs.log (issue 24).
. "$(dirname "$0")/../lib.sh"
need_root browse
for t in tmux sgdisk mkfs.vfat mcopy partx findmnt debugfs python3; do
    command -v $t >/dev/null || { skip browse "$t is not installed"; exit 0; }
done
[ -e /dev/fuse ] || { skip browse "no /dev/fuse"; exit 0; }

S=$WORK/store; B=$WORK/bench
mkdir -p "$S" "$B" "$WORK/m" "$WORK/ref"
# The disk: FAT 'ESP' and ext4 'DATA' with a folder, a subfolder and files.
truncate -s 64M "$WORK/disk.img"
sgdisk -n 1:2048:+16M -t 1:ef00 -n 2:0:0 -t 2:8300 "$WORK/disk.img" >/dev/null
sgdisk -p "$WORK/disk.img" | grep -q '^ *2 ' || { fail browse "sgdisk wrote no table"; finish; }
dev=$(attach "$WORK/disk.img")
mkfs.vfat -n ESP "${dev}p1" >/dev/null 2>&1
mcopy -i "${dev}p1" /etc/os-release ::/os-release
mkfs.ext4 -q -L DATA "${dev}p2"
mount "${dev}p2" "$WORK/m"
mkdir -p "$WORK/m/docs/sub"
echo "the customer's letter" > "$WORK/m/docs/letter.txt"
random_file "$WORK/m/docs/photo.bin" 3M 11
random_file "$WORK/m/docs/sub/deep.bin" 200K 12
echo "top level notes" > "$WORK/m/notes.txt"
random_file "$WORK/m/big.bin" 12M 13
umount "$WORK/m"
# The source's own files, read back from the disk, are the oracle.
mount -o ro "${dev}p2" "$WORK/ref" && defer "umount $WORK/ref"

"$CB" image "$dev" "$S/pc1.zst" --yes > "$WORK/iout" 2>&1 || { fail browse "clonebay image: $(tail -2 "$WORK/iout")"; finish; }
"$CB" image "$dev" "$WORK/raw.zst" --mode raw --level 1 --no-verify --yes > /dev/null 2>&1 ||
    { fail browse "clonebay image --mode raw"; finish; }
head -c 2M /dev/urandom > "$S/junk.zst"         # named like an image, not one

# A damaged copy: a frame in the middle of big.bin, never one holding notes.txt or docs/.
bsz=$(dumpe2fs -h "${dev}p2" 2>/dev/null | awk '/^Block size:/ {print $3}')
blk=$(debugfs -R "bmap /big.bin $((6 * 1048576 / bsz))" "${dev}p2" 2>/dev/null)
p2start=$(($(cat /sys/class/block/$(basename "${dev}p2")/start) * 512))
damage_frame "$WORK/raw.zst" "$S/pc1-damaged.zst" "$((p2start + blk * bsz))" > "$WORK/dmg"
read -r dmg_lo dmg_hi < "$WORK/dmg"
for f in notes.txt docs/letter.txt docs/photo.bin docs/sub/deep.bin; do
    b=$(debugfs -R "bmap /$f 0" "${dev}p2" 2>/dev/null); o=$((p2start + b * bsz))
    [ "$o" -lt "$dmg_lo" ] || [ "$o" -gt "$dmg_hi" ] || fail "browse: damaged fixture" "$f lies in the damaged frame"
done

# A drive too small for the image (issue 24: the refusal on Y goes to jobs.log).
truncate -s 8M "$B/small.img"; small=$(attach "$B/small.img")

# An image mounted outside the station: its quit must leave it alone.
O=$WORK/outside; mkdir -p "$O"
defer "$CB umount $O"
"$CB" mount "$S/pc1.zst" "$O" > "$WORK/oout" 2>&1 || { fail browse "clonebay mount (outside): $(cat "$WORK/oout")"; finish; }
opid=$(awk '$1 == "pid" {print $2}' "$O/.stats")

# What the station mounted: its folders are /tmp/clonebay-browse-*.
ours_mounts() { findmnt -rn -o TARGET | grep -F /tmp/clonebay-browse-; }
ours_loops() { losetup -a | grep -F /tmp/clonebay-browse-; }
# The station's helpers are forks of it (comm clonebay-mount, its own command line);
# ntfs-3g or fusefat name the folder.
ours_helpers() { ps -eo pid=,comm=,args= | awk -v b="--bench $B" '($2 == "clonebay-mount" && index($0, b)) || index($0, "/tmp/clonebay-browse-")' | grep -v awk; }
nothing_of_ours() { local left; left="$(ours_mounts)$(ours_loops)$(ours_helpers)"; [ -z "$left" ] || { echo "left: $left"; return 1; }; }
defer "for d in /tmp/clonebay-browse-*; do $CB umount \$d; rmdir \$d; done"

T=cbbrowse-$$
own_tmux
tmux new-session -d -s "$T" -x 110 -y 34 "$CB station --bench $B --reports $S --no-bell; echo station-exited; sleep 60"
defer "tmux kill-session -t $T"
cursor_on() { screen | grep -E '^> ' | grep -qF -- "$1"; }
# pick TEXT: the list's cursor onto the row holding TEXT.
pick() { keys Home; for _ in $(seq 30); do cursor_on "$1" && return 0; keys Down; done; return 1; }
flat() { screen | sed 's/[[:space:]]*$//' | tr '\n' ' ' | tr -s ' '; }
squeeze() { tr -d ' \n'; }

check "browse: the station starts" wait_for "Drives (1" 10
check "browse: o is in the key bar" bash -c "$(declare -f tmux screen); T=$T; screen | tail -1 | grep -q 'oBrowse'"
keys o
check "browse: o lists the images in the store" wait_for "the images in $S" 5
check "browse: pc1.zst, the damaged copy and junk.zst are listed" bash -c "$(declare -f tmux screen); T=$T; s=\$(screen); echo \"\$s\" | grep -q 'pc1.zst' && echo \"\$s\" | grep -q 'junk.zst' && echo \"\$s\" | grep -q 'pc1-damaged.zst'"

# Bad input: refused on the screen, whole, as `clonebay mount` words it; nothing mounted.
mkdir -p "$WORK/cli"
want=$("$CB" mount "$S/junk.zst" "$WORK/cli" 2>&1 | sed 's/^clonebay: //')
pick junk.zst; keys Enter
check "browse: the command line refuses junk.zst (the text the station must show)" test -n "$want"
wait_for "cannot open" 10
check "browse: junk.zst is refused on the screen, whole" bash -c "$(declare -f tmux screen squeeze); T=$T; screen | squeeze | grep -qF -- \"\$(printf '%s' '$want' | squeeze)\""
check "browse: after the refusal nothing is mounted or attached, no helper runs" nothing_of_ours
check "browse: the refusal is in jobs.log" grep -qF "junk.zst: refused" "$S/jobs.log"

# The image: partitions with label, filesystem and size.
pick "pc1.zst"; keys Enter
check "browse: pc1.zst opens: its partitions" wait_for "Partitions:" 20
check "browse: partition 1: 16.0 MiB vfat 'ESP'" bash -c "$(declare -f tmux screen); T=$T; screen | grep -E '#1 +16.0 MiB +vfat +ESP'"
check "browse: partition 2: ext4 'DATA' with its size" bash -c "$(declare -f tmux screen); T=$T; screen | grep -E '#2 +4[0-9].[0-9] MiB +ext4 +DATA'"
check "browse: the image is mounted read-only by the station" bash -c "findmnt -rn -o TARGET,OPTIONS | grep -F /tmp/clonebay-browse- | grep '/p2 ' | grep -q ' ro'"
bdir=$(ours_mounts | head -1)
bpid=$(awk '$1 == "pid" {print $2}' "$bdir/.stats" 2>/dev/null)
check "browse: the station's helper runs (clonebay-mount)" bash -c "[ -n '$bpid' ] && [ \"\$(cat /proc/$bpid/comm)\" = clonebay-mount ]"

# The files: enter docs, into sub and back up; mark docs/ and notes.txt; copy.
pick "DATA"; keys Enter
check "browse: partition 2's files are listed" wait_for "notes.txt" 10
check "browse: folders first, with files' sizes" bash -c "$(declare -f tmux screen); T=$T; s=\$(screen); echo \"\$s\" | grep -q 'docs/ .*folder' && echo \"\$s\" | grep -q 'big.bin .*12.0 MiB'"
pick "docs/"; keys Enter
check "browse: Enter opens the folder" wait_for "photo.bin" 10
pick "sub/"; keys Enter
check "browse: and its subfolder" wait_for "deep.bin" 10
keys BSpace
check "browse: Backspace goes back up, onto the folder left" bash -c "$(declare -f tmux screen wait_for cursor_on); T=$T; WORK=$WORK; wait_for 'letter.txt' 10 && cursor_on 'sub/'"
keys BSpace
wait_for "notes.txt" 10
pick "docs/"; keys Space
pick "notes.txt"; keys Space
check "browse: two marked" wait_for "(2 marked)" 5
keys c
check "browse: the copy ends with the sizes checked" wait_for "Sizes checked" 60
check "browse: 4 files copied (docs: 3, notes.txt), to the store folder named after the image" bash -c "$(declare -f tmux flat screen); T=$T; flat | grep -qF 'Copied 4 files (3.2 MiB) to $S/pc1-files. Sizes checked'"
D=$S/pc1-files/p2
for f in notes.txt docs/letter.txt docs/photo.bin docs/sub/deep.bin; do
    check "browse: copied $f equals the source's (cmp)" cmp "$WORK/ref/$f" "$D/$f"
done
check "browse: the folder copied whole (diff -r)" diff -r "$WORK/ref/docs" "$D/docs"
check "browse: big.bin, not marked, was not copied" test ! -e "$D/big.bin"
check "browse: the copy is in jobs.log" grep -qF "Copied 4 files" "$S/jobs.log"

# The FAT partition, through fusefat (this kernel has no vfat).
keys Escape
wait_for "Partitions:" 10
pick "ESP"; keys Enter
if command -v fusefat >/dev/null; then
    check "browse: the FAT partition's files are listed" wait_for "os-release" 10
    pick "os-release"; keys c
    check "browse: a file copied from FAT, its size checked" wait_for "Copied 1 file (" 30
    check "browse: the FAT file copied equals the source's (cmp)" cmp /etc/os-release "$S/pc1-files/p1/os-release"
    keys Escape
else
    check "browse: FAT cannot be opened here, said on the screen" wait_for "FAT cannot be mounted here" 10
fi

# Leaving unmounts: no loop device, mount or helper of the station's is left.
keys Escape
check "browse: Esc goes back to the partitions, then closes the image" wait_for "the images in $S" 10
check "browse: leaving unmounted the image (no mount, loop device or helper left)" nothing_of_ours
# reaped: waited for (the station reaps it on its next turn), never a zombie left
reaped() { local i; for i in $(seq 50); do [ -z "$(ps -o pid= -p "$1")" ] && return 0; sleep 0.1; done; ps -o pid=,stat=,args= -p "$1"; return 1; }
check "browse: the station's helper ended (reaped, not a zombie)" reaped "$bpid"

# The damaged image: big.bin fails by name with an I/O error, the others are copied.
pick "pc1-damaged.zst"; keys Enter
wait_for "Partitions:" 20
pick "DATA"; keys Enter
wait_for "notes.txt" 10
pick "big.bin"; keys Space
pick "notes.txt"; keys Space
pick "docs/"; keys Space
keys c
check "browse: damaged: the copy ends, one file not copied" wait_for "could not be copied" 60
check "browse: damaged: big.bin named, with the I/O error" bash -c "$(declare -f tmux screen flat); T=$T; flat | grep -qF 'p2/big.bin: not copied: reading it failed at byte' && flat | grep -qF 'Input/output error (the image is damaged there)'"
check "browse: damaged: the others are copied (4 of 5)" bash -c "$(declare -f tmux screen flat); T=$T; flat | grep -qF 'Copied 4 of 5 files'"
D2=$S/pc1-damaged-files/p2
check "browse: damaged: the others equal the source's" bash -c "cmp '$WORK/ref/notes.txt' '$D2/notes.txt' && diff -r '$WORK/ref/docs' '$D2/docs'"
check "browse: damaged: no partial big.bin left" test ! -e "$D2/big.bin"
check "browse: damaged: the failure is in jobs.log by name" grep -qF "p2/big.bin: not copied" "$S/jobs.log"
keys Escape; keys Escape
wait_for "the images in $S" 10
check "browse: damaged image closed: nothing of the station's left" nothing_of_ours

# The help names o; the new job's source step offers it beside i (restore).
keys Escape; keys F1
check "browse: the help lists o" wait_for "browse an image in the store, read-only" 5
keys Escape; keys F2
wait_for "step 1 of 4" 5
check "browse: the source step shows o beside i" bash -c "$(declare -f tmux screen); T=$T; screen | tail -1 | grep -q 'iRestore an image oBrowse an image'"
keys o
check "browse: o on the source step lists the store's images" wait_for "the images in $S" 5
keys Escape; keys F2
wait_for "step 1 of 4" 5

# Issue 24: a refusal on Y (a restore onto a drive too small) is in jobs.log.
keys i; tmux send-keys -t "$T" -l "$S/pc1.zst"; keys Enter
wait_for "step 2 of 4" 10
keys Home Space Enter
wait_for "step 3 of 4" 5
keys Enter
wait_for "step 4 of 4" 5
for _ in $(seq 20); do keys y; screen | grep -q 'refused, nothing was written' && break; sleep 1; done
check "browse: restore onto the 8 MiB drive is refused on Y" wait_for "refused, nothing was written" 30
flat | grep -o 'refused, nothing was written: .*' | cut -c1-70 > "$WORK/refusal"
check "browse: the refusal shown is in the reports' jobs.log, with the drive" bash -c "[ -s '$WORK/refusal' ] && tr -s ' ' < '$S/jobs.log' | grep -F -f '$WORK/refusal' | grep -qF '$(basename "$small")'"
keys Escape Escape Escape Escape
wait_for "Drives (1" 10

# Quit while an image is open: the station unmounts what it mounted, and only that.
keys o
wait_for "the images in $S" 5
pick "pc1.zst"; keys Enter
check "browse: opened again before quitting" wait_for "Partitions:" 20
bdir=$(ours_mounts | head -1); bpid=$(awk '$1 == "pid" {print $2}' "$bdir/.stats" 2>/dev/null)
check "browse: ... mounted" test -n "$bdir"
keys F10
check "browse: the station quits" wait_for "station-exited" 20
check "browse: after quit, no mount, loop device or helper of the station's is left" nothing_of_ours
check "browse: after quit, the station's helper process is gone" reaped "$bpid"
check "browse: after quit, its folder is gone" test ! -e "$bdir"
check "browse: the image mounted outside the station is still mounted" bash -c "findmnt '$O/p2' >/dev/null && [ \"\$(cat /proc/$opid/comm)\" = clonebay-mount ] && cmp '$WORK/ref/notes.txt' '$O/p2/notes.txt'"

# A closed terminal (SIGHUP) while an image is open: unmounted on the way out too.
tmux new-session -d -s "$T-2" -x 110 -y 34 "$CB station --bench $B --reports $S --no-bell; echo station-exited; sleep 60"
defer "tmux kill-session -t $T-2"
T=$T-2
wait_for "Drives (1" 10
keys o; wait_for "the images in $S" 5
pick "pc1.zst"; keys Enter
check "browse: a second station opens pc1.zst" wait_for "Partitions:" 20
bdir=$(ours_mounts | head -1); bpid=$(awk '$1 == "pid" {print $2}' "$bdir/.stats" 2>/dev/null)
spid=$(ps -eo pid=,comm=,args= | awk -v b="--bench $B" '$2 == "clonebay" && index($0, b) {print $1}')
check "browse: ... its station and helper found" bash -c "[ -n '$spid' ] && [ -n '$bpid' ]"
kill -HUP $spid
check "browse: SIGHUP (terminal closed): the station ends" wait_for "station-exited" 20
check "browse: after SIGHUP, no mount, loop device or helper of the station's is left" nothing_of_ours
check "browse: after SIGHUP, its helper is gone and its folder removed" bash -c "$(declare -f reaped); reaped '$bpid' && [ ! -e '$bdir' ]"
check "browse: the image mounted outside is still there" findmnt "$O/p2"
check "browse: and \`clonebay umount\` still undoes it" "$CB" umount "$O"
finish
