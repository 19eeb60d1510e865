/* clone/fs/fat_resize: a FAT12/16/32 filesystem fitted to a partition of another
 * size, in place, on a scratch file or a target's partition (never on a
 * source). fatresize 1.1.0 and libparted's resizer assert or refuse on simple
 * layouts (and want a partition table around the filesystem), so clonebay
 * does it itself:
 *
 *   shrink  the clusters in use past the new end move to free ones below it,
 *           the chains, the directory entries naming them ("." and ".."
 *           included, found by walking the tree) and FAT32's root cluster
 *           following; the FATs keep their length (longer than needed is
 *           allowed); the boot sector's total, its FAT32 backup and the
 *           FSInfo free count are rewritten. A tree that does not add up is
 *           refused before anything is written.
 *   grow    the FATs are lengthened to address the new clusters; the FAT12/16
 *           root directory and the clusters in use move up by what the FATs
 *           grew (their numbers stay, so no chain or directory entry changes).
 *
 * The FAT type is decided by the cluster count (Microsoft's rule, which
 * Windows and fsck.fat follow), so a FAT16 keeps 4,085 to 65,524 clusters and
 * a FAT32 at least 65,525: a filesystem grows only as far as its type can
 * address, and fat_resize_limits says how far that is before a job starts.
 * A resize cut short leaves the filesystem broken: it is only ever run on a
 * copy the job is writing anyway. */
#ifndef CB_FS_FAT_RESIZE_H
#define CB_FS_FAT_RESIZE_H

#include "common/cb_error.h"

#include <stddef.h>
#include <stdint.h>

/* The least and the most bytes the FAT in [off, off+size) of path can be
 * resized to: min holds the clusters in use, a twentieth and 1 MiB more to
 * write to (and its type's fewest clusters), max is as far as its type and a
 * FAT of at most 256 MiB address. 0, or -errno with why saying what could not
 * be read. */
int fat_resize_limits(const char *path, uint64_t off, uint64_t size, uint64_t *min, uint64_t *max, char *why,
                      size_t why_len);

/* Resize the FAT at the start of path (a partition node or a scratch file)
 * to fill new_size bytes. 0 when it does; 1 when it could grow only part of
 * the way (note says how far and why); -errno with err naming path and the
 * reason (nothing written when the check before a shrink fails). */
int fat_resize_run(const char *path, uint64_t new_size, char *note, size_t note_len, struct cb_error *err);

#endif
