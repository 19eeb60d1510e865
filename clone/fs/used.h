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
 * understood, 0 when not or when its bitmaps cannot be trusted (nothing
 * marked, why says why), -errno (why filled) on an error. */
int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len);

/* Whether the filesystem's own account of its used blocks can be believed.
 * A filesystem left in the middle of changes (an ext journal that needs
 * recovery, an ext not unmounted cleanly or with errors recorded, an NTFS
 * marked dirty, hibernated or with an unclean $LogFile, a FAT with its dirty
 * bit set) can hold data its bitmaps do not show yet. 1 when nothing says
 * otherwise, 0 when not (why says why, as a clause: "its journal needs
 * recovery ..."), -errno (why filled) when it cannot be read. fs_used_mark
 * asks it first and returns its 0. */
int fs_used_trusted(const char *path, uint64_t off, uint64_t size, const char *fstype, char *why, size_t why_len);

/* ext2, ext3 or ext4: the family libext2fs and resize2fs handle. */
bool fs_is_ext(const char *fstype);

/* Filesystems fs_used_mark understands. */
bool fs_used_understood(const char *fstype);

#endif
