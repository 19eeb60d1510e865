/* dev_partitions: what is on a drive (partition table, partitions, filesystems).
 *
 * On a live system the media itself is read with libblkid, so the list is
 * what the disk holds even when the kernel registered no partitions for it.
 * When the drive cannot be read (not root, no medium) or the tree is a saved
 * one, the kernel's partitions in sysfs and udev's ID_FS_* are used. */
#ifndef CB_DEV_PARTITIONS_H
#define CB_DEV_PARTITIONS_H

#include "devices/dev_types.h"
#include "devices/sysfs.h"

int dev_partitions_fill(const struct sysfs_ctx *ctx, struct dev_drive *drive);

/* Kernel name of partition N of disk NAME: sda1, nvme0n1p1, loop0p1. */
void dev_partition_name(const char *disk, int number, char *buf, size_t len);

/* Which filesystem lives at [off, off+size) of fd (libblkid); the strings stay
 * as they were when none is found. uuid may be NULL. */
void dev_probe_fs(int fd, uint64_t off, uint64_t size, char *type, size_t tlen, char *label, size_t llen,
                  char *uuid, size_t ulen);

#endif
