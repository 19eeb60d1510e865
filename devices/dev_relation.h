/* dev_relation: do two block devices share sectors?
 *
 * Writing a target destroys whatever shares its sectors: the same device, a
 * partition of it, the disk holding it, or anything stacked on them (LVM, md,
 * dm-crypt, a loop device whose backing file lives there). */
#ifndef CB_DEV_RELATION_H
#define CB_DEV_RELATION_H

#include "devices/sysfs.h"

#include <stdbool.h>
#include <sys/types.h>

/* The whole disk holding a device number (itself when it is a disk). */
dev_t dev_whole_disk(const struct sysfs_ctx *ctx, dev_t dev);

/* true when writing `a` may change what `b` reads, or the other way round. */
bool dev_overlap(const struct sysfs_ctx *ctx, dev_t a, dev_t b);

/* true when a block device and a file share sectors, so writing either one
 * may change the other: the device holds the file's filesystem (it is that
 * device, the disk under it, or what it is stacked on), or it is a loop over
 * that very file. A loop over another file on the same filesystem does not. */
bool dev_file_at_risk(const struct sysfs_ctx *ctx, dev_t target, dev_t file_dev, ino_t file_ino);

/* The block device under the filesystem that holds path: the source of the
 * mount containing it in /proc/self/mountinfo. FUSE filesystems (ntfs-3g) and
 * btrfs give their files a device number of their own, so st_dev alone does
 * not name the drive. 0, or -ENOENT when the mount is not on a block device
 * (tmpfs, a network share). */
int dev_mount_source_of(const struct sysfs_ctx *ctx, const char *path, dev_t *out);

/* Kernel name of a device number ("sdb1"), or "" when unknown. */
void dev_name_of(const struct sysfs_ctx *ctx, dev_t dev, char *buf, size_t len);

#endif
