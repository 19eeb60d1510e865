#!/bin/bash
# After a rescue, the reports say what the bad sectors hit: files (every name
# of a hard link), filesystem metadata, free space, space outside every
# partition. One failing drive with an ext4, a FAT32 and an NTFS partition;
# where each file lies is found by tools nobody here wrote (debugfs, dumpe2fs,
# ntfscluster) or by the file's own bytes.
. "$(dirname "$0")/../lib.sh"
need_root bad_files
for t in fusermount3 sgdisk mkfs.vfat mcopy mmd mkntfs ntfs-3g ntfscluster debugfs dumpe2fs python3; do
    command -v $t >/dev/null || { skip bad_files "$t missing"; exit 0; }
done

MiB=1048576
P1=$((1 * MiB)); P2=$((33 * MiB)); P3=$((73 * MiB))      # ext4 32 MiB, FAT32 40 MiB, NTFS 32 MiB
D=$WORK/disk.img
truncate -s 112M "$D"
sgdisk -n 1:2048:67583 -t 1:8300 -n 2:67584:149503 -t 2:0700 -n 3:149504:215039 -t 3:0700 "$D" >/dev/null
sgdisk -p "$D" | grep -q '^ *3 ' || { fail "bad_files: setup" "sgdisk wrote no table"; finish; }

# ext4: a file, a hard-linked file, an untouched one.
truncate -s 32M "$WORK/p1.img"; mkfs.ext4 -q -F -b 4096 "$WORK/p1.img"
mkdir -p "$WORK/m1" && mount -o loop "$WORK/p1.img" "$WORK/m1" || { fail "bad_files: setup" "cannot mount ext4"; finish; }
mkdir "$WORK/m1/docs" "$WORK/m1/other"
head -c 65536 /dev/urandom > "$WORK/m1/docs/report.txt"
head -c 32768 /dev/urandom > "$WORK/m1/docs/hard.bin"
ln "$WORK/m1/docs/hard.bin" "$WORK/m1/other/hard-link.bin"
head -c 20000 /dev/urandom > "$WORK/m1/ok.txt"
INO_REPORT=$(stat -c %i "$WORK/m1/docs/report.txt")
umount "$WORK/m1"
bmap() { debugfs -R "bmap $1 $2" "$WORK/p1.img" 2>/dev/null; }
EXT_REPORT=$((P1 + $(bmap /docs/report.txt 2) * 4096 + 1024))
EXT_HARD=$((P1 + $(bmap /docs/hard.bin 0) * 4096))
read -r itable0 itable < <(dumpe2fs "$WORK/p1.img" 2>/dev/null | sed -n 's/.*Inode table at \([0-9]*\)-\([0-9]*\).*/\1 \2/p' | head -1)
EXT_ITABLE=$((P1 + itable * 4096 + 512))        # its last block: inodes nobody uses yet
free_range=$(dumpe2fs "$WORK/p1.img" 2>/dev/null | sed -n 's/^  Free blocks: \([0-9]*\)-\([0-9]*\).*/\1 \2/p' | tail -1)
EXT_FREE=$((P1 + ($(echo $free_range | awk '{print int(($1 + $2) / 2)}')) * 4096))

# FAT32 with 512-byte clusters: a file with a long name in a folder, an untouched one.
truncate -s 40M "$WORK/p2.img"; mkfs.vfat -F 32 -s 1 -n DATA "$WORK/p2.img" >/dev/null
head -c 3000 /dev/urandom > "$WORK/holiday"; head -c 5000 /dev/urandom > "$WORK/notes"
mmd -i "$WORK/p2.img" ::/photos
mcopy -i "$WORK/p2.img" "$WORK/holiday" "::/photos/Holiday Picture.jpg"
mcopy -i "$WORK/p2.img" "$WORK/notes" ::/notes.txt

# NTFS: a file two folders down, an untouched one.
truncate -s 32M "$WORK/p3.img"; mkntfs -Q -F -L WIN "$WORK/p3.img" >/dev/null 2>&1
mkdir -p "$WORK/m3" && ntfs-3g "$WORK/p3.img" "$WORK/m3" || { fail "bad_files: setup" "cannot mount NTFS with ntfs-3g"; finish; }
defer "fusermount3 -u $WORK/m3"
mkdir -p "$WORK/m3/Users/ann"
head -c 65536 /dev/urandom > "$WORK/thesis"; cp "$WORK/thesis" "$WORK/m3/Users/ann/thesis.docx"
head -c 9000 /dev/urandom > "$WORK/m3/ok.txt"
fusermount3 -u "$WORK/m3"

# Where a file's bytes [OFF, OFF+LEN) lie in a partition image: found by content (random, so unique).
where() { python3 -c "
import sys; img=open(sys.argv[1],'rb').read(); f=open(sys.argv[2],'rb').read(); o,n=int(sys.argv[3]),int(sys.argv[4])
at=img.find(f[o:o+n]); assert at >= 0 and img.find(f[o:o+n], at + 1) < 0; print(at)" "$@"; }
FAT_HOL=$((P2 + $(where "$WORK/p2.img" "$WORK/holiday" 1024 1024)))
read -r fat_res fat_sz < <(python3 -c "
import struct; b=open('$WORK/p2.img','rb').read(512); print(struct.unpack('<H',b[14:16])[0]*512, struct.unpack('<I',b[36:40])[0]*512)")
FAT_COPY2=$((P2 + fat_res + fat_sz + 512))
FAT_FREE=$((P2 + 30 * MiB))
NTFS_THESIS=$((P3 + $(where "$WORK/p3.img" "$WORK/thesis" 8192 4096)))
mft=$(python3 -c "
import struct; b=open('$WORK/p3.img','rb').read(512); print(struct.unpack('<q',b[0x30:0x38])[0]*struct.unpack('<H',b[11:13])[0]*b[13])")
NTFS_MFT=$((P3 + mft + 70 * 1024 + 512))        # a file record nobody uses yet
THESIS_RECORD=$(ntfsinfo -F /Users/ann/thesis.docx "$WORK/p3.img" 2>/dev/null | sed -n 's/^Dumping Inode \([0-9]*\).*/\1/p')
NTFS_FREE=$((P3 + 28 * MiB))
# The oracle agrees on what lies there.
check "setup: ntfscluster finds thesis.docx at its bad cluster" bash -c "ntfscluster -s $(((NTFS_THESIS - P3) / 512)) '$WORK/p3.img' 2>/dev/null | grep -q '/Users/ann/thesis.docx'"
check "setup: ntfscluster finds \$MFT at its bad sector" bash -c "ntfscluster -s $(((NTFS_MFT - P3) / 512)) '$WORK/p3.img' 2>/dev/null | grep -q 'MFT'"
check "setup: ntfscluster finds nothing at the free sector" bash -c "ntfscluster -s $(((NTFS_FREE - P3) / 512)) '$WORK/p3.img' 2>/dev/null | grep -q 'no inode found'"

dd if="$WORK/p1.img" of="$D" bs=1M seek=1 conv=notrunc status=none
dd if="$WORK/p2.img" of="$D" bs=1M seek=33 conv=notrunc status=none
dd if="$WORK/p3.img" of="$D" bs=1M seek=73 conv=notrunc status=none

BAD=(51200:512 $EXT_REPORT:512 $EXT_HARD:4096 $EXT_ITABLE:512 $EXT_FREE:512 $FAT_HOL:1024 $FAT_COPY2:512
     $FAT_FREE:512 $NTFS_THESIS:4096 $NTFS_MFT:512 $NTFS_FREE:512)
args=(); for b in "${BAD[@]}"; do args+=(--bad "$b"); done
src=$(fault_drive fs 112M --file "$D" "${args[@]}")
truncate -s 112M "$WORK/t1.img"; t1=$(attach "$WORK/t1.img")
"$CB" clone "$src" "$t1" --yes --mode raw --report "$WORK/r.json" > "$WORK/out" 2>&1; rc=$?
check "bad files: exit 3 (unreadable sectors)" test $rc = 3
# The damaged list a drive's lookup must give, no more and no less.
cat > "$WORK/want.py" <<'EOF2'
want = sorted([('outside', 0, 'outside every partition', 512),
    ('file', 1, '/docs/report.txt', 512), ('file', 1, '/docs/hard.bin', 4096), ('file', 1, '/other/hard-link.bin', 4096),
    ('metadata', 1, 'inode table (group 0)', 512), ('free', 1, 'free space', 512),
    ('file', 2, '/photos/Holiday Picture.jpg', 1024), ('metadata', 2, 'file allocation table (copy 2)', 512),
    ('free', 2, 'free space', 512),
    ('file', 3, '/Users/ann/thesis.docx', 4096), ('metadata', 3, '$MFT (the file table)', 512), ('free', 3, 'free space', 512)])
EOF2
same_damage() { json "$1" "exec(open('$WORK/want.py').read())
got = sorted((d['kind'], d['partition'], d['name'], d['bytes_lost']) for d in r['damaged'])
assert got == want, '\\n'.join(map(str, got))"; }
check "bad files: the report names exactly the files, metadata, free space and outside space hit" same_damage "$WORK/r.json"
check "bad files: files carry their path and filesystem" json "$WORK/r.json" "
d = [d for d in r['damaged'] if d['kind'] == 'file']; assert all(x['path'] == x['name'] for x in d)
assert {x['filesystem'] for x in d} == {'ext4', 'vfat', 'ntfs'}, d"
check "bad files: the text report lists the damaged files" bash -c "grep -q '^damaged' '$WORK/out' && grep -q 'partition #1 (ext4)  file .*/other/hard-link.bin  4.0 KiB lost' '$WORK/out' && grep -q 'partition #2 (vfat)  file .*/photos/Holiday Picture.jpg' '$WORK/out'"

# Images: a compressed one looked up as it is decoded, a raw one as a file,
# and `clonebay info` from the bad ranges the image records.
"$CB" image "$src" "$WORK/img" --yes --mode raw --report "$WORK/i.json" > "$WORK/iout" 2>&1; rc=$?
check "zstd image: exit 3" test $rc = 3
check "zstd image: the report names the same files, metadata and free space" same_damage "$WORK/i.json"
"$CB" info "$WORK/img.zst" --json > "$WORK/info.json" 2>&1
check "info IMAGE --json: the same damaged list" same_damage "$WORK/info.json"
"$CB" info "$WORK/img.zst" > "$WORK/info.txt" 2>&1
check "info IMAGE: the damaged files in its text" grep -q "partition #3 (ntfs)  file .*/Users/ann/thesis.docx  4.0 KiB lost" "$WORK/info.txt"
"$CB" image "$src" "$WORK/raw.img" --yes --mode raw --report "$WORK/ri.json" > /dev/null 2>&1; rc=$?
check "raw image: exit 3" test $rc = 3
check "raw image: the same damaged list" same_damage "$WORK/ri.json"

# A disc (ISO 9660 with Joliet and Rock Ridge names): a file's sector and one
# of the volume descriptors unreadable, imaged as the disc archive does.
if command -v xorriso >/dev/null; then
    mkdir -p "$WORK/disc/Music"
    head -c 300000 /dev/urandom > "$WORK/disc/Music/A long track name, number one.flac"
    head -c 5000 /dev/urandom > "$WORK/disc/readme.txt"
    xorriso -as mkisofs -quiet -J -R -V DISC -o "$WORK/disc.iso" "$WORK/disc" 2>/dev/null
    TRACK=$(where "$WORK/disc.iso" "$WORK/disc/Music/A long track name, number one.flac" 40960 2048)
    disc=$(fault_drive disc "$(stat -c %s "$WORK/disc.iso")" --file "$WORK/disc.iso" --bad $TRACK:2048 --bad $((16 * 2048 + 512)):512)
    "$CB" image "$disc" "$WORK/archived.iso" --yes --report "$WORK/d.json" > "$WORK/dout" 2>&1; rc=$?
    check "disc: exit 3" test $rc = 3
    check "disc: the report names the track and the volume descriptors, no more" json "$WORK/d.json" "
got = sorted((d['kind'], d['filesystem'], d['name'], d['bytes_lost']) for d in r['damaged'])
want = sorted([('file', 'iso9660', '/Music/A long track name, number one.flac', 2048),
               ('metadata', 'iso9660', 'volume descriptors', 512)])
assert got == want, got"
else
    skip "disc: damaged files on an ISO 9660 disc" "xorriso missing"
fi

# One unreadable sector of the inode table, where /docs/report.txt's inode
# (and its neighbour's) lie, and one of thesis.docx's NTFS file record: the
# files whose inodes or records were there are named, with why the whole
# file is lost, though none of their data was hit.
INO_SECTOR=$((P1 + itable0 * 4096 + (INO_REPORT - 1) * 256 / 512 * 512))
lost=$(debugfs -R "ncheck $(( (INO_REPORT - 1) / 2 * 2 + 1 )) $(( (INO_REPORT - 1) / 2 * 2 + 2 ))" "$WORK/p1.img" 2>/dev/null |
       awk 'NR > 1 { sub(/^\/\//, "/", $2); print $2 }' | sort | paste -sd,)     # debugfs writes //name at the top
src3=$(fault_drive fs3 112M --file "$D" --bad $INO_SECTOR:512 --bad $((P3 + mft + THESIS_RECORD * 1024)):512)
truncate -s 112M "$WORK/t3.img"; t3=$(attach "$WORK/t3.img")
"$CB" clone "$src3" "$t3" --yes --mode raw --report "$WORK/n.json" > "$WORK/nout" 2>&1; rc=$?
check "unreadable inode: exit 3" test $rc = 3
check "setup: ntfsinfo names thesis.docx's file record" test -n "$THESIS_RECORD"
check "unreadable inode: the files whose inodes it held are named, and why they are lost whole" json "$WORK/n.json" "
files = sorted(d['path'] for d in r['damaged'] if d['kind'] == 'file')
assert '/docs/report.txt' in files and files == sorted('$lost'.split(',') + ['/Users/ann/thesis.docx']), (files, '$lost')
assert all(d['why'] and 'is lost' in d['why'] and d['bytes_lost'] == (256 if d['partition'] == 1 else 512)
           for d in r['damaged'] if d['kind'] == 'file'), r['damaged']
assert sorted((d['kind'], d['partition'], d['name'], d['bytes_lost']) for d in r['damaged'] if d['kind'] != 'file') == [
    ('metadata', 1, 'inode table (group 0)', 512), ('metadata', 3, '\$MFT (the file table)', 512)], r['damaged']"
check "unreadable inode: the text report says the whole file is lost" grep -q "/docs/report.txt  256 B lost (256 bytes): its inode.*whole file is lost" "$WORK/nout"

# Garbage in the rescued copy's inode table: the first block of it (the root
# directory's inode and the files') is unreadable and the copy holds a marker
# there. The lookup finishes, says what it could not resolve, and still
# names what it can.
IT0=$((P1 + itable0 * 4096))
src2=$(fault_drive fs2 112M --file "$D" "${args[@]}" --bad $IT0:4096)
truncate -s 112M "$WORK/t2.img"; t2=$(attach "$WORK/t2.img")
"$CB" clone "$src2" "$t2" --yes --mode raw --fill 'GARBAGE!x7f' --no-verify --report "$WORK/g.json" > "$WORK/gout" 2>&1; rc=$?
check "garbage inode table: exit 3, the lookup finished" bash -c "[ $rc = 3 ] && grep -q '^outcome' '$WORK/gout'"
check "garbage inode table: the inode table is named, the files' bytes could not be resolved" json "$WORK/g.json" "
e = [d for d in r['damaged'] if d['partition'] == 1]
assert ('metadata', 'inode table (group 0)', 4096 + 512) in [(d['kind'], d['name'], d['bytes_lost']) for d in e], e
u = [d for d in e if d['kind'] == 'unresolved']
assert u and all('could not be resolved' in d['name'] or 'could not be found' in d['name'] for d in u), e
assert sum(d['bytes_lost'] for d in u) + sum(d['bytes_lost'] for d in e if d['kind'] == 'file') >= 512 + 4096, e"
check "garbage inode table: the other partitions are named as before" json "$WORK/g.json" "
n = {(d['partition'], d['name']) for d in r['damaged']}
assert {(2, '/photos/Holiday Picture.jpg'), (3, '/Users/ann/thesis.docx'), (3, '\$MFT (the file table)')} <= n, n"
check "garbage inode table: the text report says what could not be resolved" grep -q "could not be resolved" "$WORK/gout"
finish
