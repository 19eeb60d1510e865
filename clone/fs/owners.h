/* fs_owners: after a rescue, what the unreadable sectors belonged to.
 *
 * The customer's question is "which of my files are damaged", not "how many
 * sectors". Each bad range of a job's map is looked up in the filesystem of
 * the partition holding it, read from the rescued copy (the failing source
 * is not asked again): the files that own it (every name of a hard-linked
 * one), the filesystem's own metadata (named: inode table, $MFT, FAT, ...),
 * free space, or space outside every partition. One small file per
 * filesystem, its row of the filesystem table (clone/fs/fs.h):
 *
 *   ext2/3/4   libext2fs: metadata from the group descriptors, then every
 *              inode's blocks, then the directory tree for the names
 *   vfat       FAT12/16/32: boot area, FATs, root directory, cluster chains
 *   ntfs       libntfs-3g: every MFT record's runlists, names from $FILE_NAME
 *   iso9660    discs: every directory record's extent, Joliet or Rock Ridge names
 *
 * Damaged metadata never stops the lookup: what cannot be followed is listed
 * as "could not be resolved" with the reason. Each owner is listed once with
 * the total of its bytes lost, however many bad ranges hit it. */
#ifndef CB_FS_OWNERS_H
#define CB_FS_OWNERS_H

#include "clone/block_map.h"
#include "clone/fs/owner_list.h"

#include <stddef.h>
#include <stdint.h>

/* Where a filesystem may lie: a partition of the disk, or the whole disk. */
struct fs_owner_part {
    int number;
    uint64_t start, size;   /* bytes */
};

/* Look up every MAP_BAD region of map in the disk at path (a drive or a raw
 * image file holding the rescued copy, laid out as the map's source).
 * parts: its partitions (nparts 0: the disk may hold one filesystem whole).
 * The filesystem of each is recognised from its own bytes. 0, or -ENOMEM;
 * anything unreadable is an entry of out, never an error. */
int fs_owners_find(const char *path, const struct fs_owner_part *parts, size_t nparts,
                   const struct block_map *map, struct fs_owner_list *out);

/* The same for a disk read through rd (0 or -errno): a compressed image,
 * decoded as it is read. name names it in messages. */
int fs_owners_find_fn(fs_owners_read_fn rd, void *ctx, const char *name, const struct fs_owner_part *parts,
                      size_t nparts, const struct block_map *map, struct fs_owner_list *out);

#endif
