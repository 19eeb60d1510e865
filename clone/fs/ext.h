/* clone/fs/ext: ext2/3/4's row of the filesystem table (clone/fs/fs.h), and
 * the superblock read its two files share (ext.c on a path, ext_owners.c
 * through a reader). */
#ifndef CB_FS_EXT_H
#define CB_FS_EXT_H

#include <stddef.h>
#include <ext2fs/ext2fs.h>

/* The primary superblock of the filesystem on name, through io (libext2fs'
 * unix_io_manager with "offset=N" in opts, or a reader's manager), in the
 * host's byte order: 0, EXT2_ET_BAD_MAGIC when it is no ext, or another
 * libext2fs error. Only the superblock is read, so what it says is known
 * even when the rest of the filesystem would keep libext2fs from opening it. */
errcode_t ext_super_read(io_manager io, const char *name, const char *opts, struct ext2_super_block *sb);

/* "ext2", "ext3" or "ext4", as blkid tells them apart by their features. */
const char *ext_name_of(struct ext2_super_block *sb);  /* not const: libext2fs's feature tests take none */

#endif
