/* fs_resize: which filesystems clonebay can fit into a partition of another
 * size, the least they fit in, and the tools that do it.
 *
 *   ext2/3/4   grow and shrink: resize2fs (after e2fsck -f)
 *   ntfs       grow; shrink in a scratch file (used mode): ntfsresize
 *   vfat       FAT12/16/32 grow, shrink in a scratch file (used mode):
 *              clone/fs_fat_resize (fatresize 1.1.0 asserts on simple layouts)
 *   swap       any size: re-created by mkswap with the same UUID and label
 *   others     keep their size */
#ifndef CB_FS_FS_H
#define CB_FS_FS_H

#include "clone/layout.h"
#include "common/cb_error.h"

#include <stdint.h>

enum layout_fit fs_resize_fit(const char *fstype);

/* The least a filesystem in [off, off+size) of path fits in, in bytes: what
 * it uses, with room for the metadata resize2fs keeps, and for ext never less
 * than `resize2fs -P` (read-only) says when node (the partition's own device
 * node, or "") exists. 0 or -errno. */
/* The least an NTFS using `used` bytes of clusters fits in (when ntfsresize
 * cannot be asked: an image, or no partition node). */
uint64_t fs_resize_ntfs_min_of_used(uint64_t used);

int fs_resize_min(const char *path, uint64_t off, uint64_t size, const char *fstype, const char *node,
                  uint64_t *min);

/* Fit the filesystem on node (a partition or a scratch file) to new_size
 * bytes. uuid and label are the source's (for swap). The tools' output is
 * appended to log. 0, or -errno with err holding the tool's last words. */
int fs_resize_run(const char *node, const char *fstype, uint64_t new_size, const char *uuid, const char *label,
                  char *log, size_t log_len, struct cb_error *err);

#endif
