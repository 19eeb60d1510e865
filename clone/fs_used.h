/* fs_used: which blocks of a partition its filesystem uses, so `--mode used`
 * copies only those (the engine's domain).
 *
 *   ext2/3/4   the block bitmaps, through libext2fs (metadata blocks are in them)
 *   vfat       FAT12/16/32: boot area, FATs and root directory, then used clusters
 *   ntfs       its $Bitmap, through libntfs-3g (clone/fs_ntfs.c)
 *   swap       the first page only: its header with the UUID and label is all
 *              a swap area holds across a reboot (what mkswap would write)
 *   other      not understood: the caller copies the partition whole */
#ifndef CB_FS_USED_H
#define CB_FS_USED_H

#include "clone/block_map.h"

#include <stddef.h>
#include <stdint.h>

/* Mark the used ranges of the filesystem in [off, off+size) of the device at
 * path as MAP_FINISHED ("in the domain") in domain. 1 when the filesystem was
 * understood, 0 when not (nothing marked), -errno (why filled) on an error. */
int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len);

/* ext2, ext3 or ext4: the family libext2fs and resize2fs handle. */
bool fs_is_ext(const char *fstype);

/* Filesystems fs_used_mark understands. */
bool fs_used_understood(const char *fstype);

#endif
