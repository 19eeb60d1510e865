/* clone/fs/ntfs: NTFS's row of the filesystem table (clone/fs/fs.h): the
 * clusters a volume uses, from its $Bitmap, read through libntfs-3g (which
 * knows the MFT, its fixups and the runlists) over a read-only view of
 * [off, off+size) of a drive or file; its size through ntfsresize. This
 * header: the volume for fs_owners. */
#ifndef CB_FS_NTFS_H
#define CB_FS_NTFS_H

#include "clone/block_map.h"

#include <stddef.h>
#include <stdint.h>

/* The volume mounted read-only through the same view, for fs_owners, its
 * bytes read through rd (0 or -errno; offsets on the disk): a drive, or an
 * image decoded as it is read. NULL when libntfs-3g cannot read it (why
 * says so). */
typedef int (*fs_ntfs_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);
struct fs_ntfs_vol;
struct _ntfs_volume;
struct fs_ntfs_vol *fs_ntfs_open(fs_ntfs_read_fn rd, void *ctx, const char *name, uint64_t off, uint64_t size,
                                 char *why, size_t why_len);
struct _ntfs_volume *fs_ntfs_volume(const struct fs_ntfs_vol *v);
void fs_ntfs_close(struct fs_ntfs_vol *v);

#endif
