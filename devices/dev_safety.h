/* dev_safety: may this drive be written? (mounted, system, busy)
 *
 * A drive is "mounted" when it, one of its partitions, or anything stacked on
 * them (LVM, md, dm-crypt found through holders/) is mounted or used as swap.
 * It is "system" when that stack holds the root filesystem, /boot, or the
 * medium the live system booted from. It is "busy" when another program has
 * it (or a partition) open for writing: a second station's job, mkfs, dd.
 * Every write is checked against these. */
#ifndef CB_DEV_SAFETY_H
#define CB_DEV_SAFETY_H

#include "devices/dev_types.h"
#include "devices/sysfs.h"

struct dev_mount {
    unsigned major, minor;  /* st_dev of the mounted filesystem */
    char source[256];       /* /dev/sda2 */
    char target[256];       /* /home (octal escapes decoded) */
    char fstype[32];
    bool rw;                /* the filesystem may be written: its superblock is mounted rw */
};

/* One line of /proc/self/mountinfo. 0 or -EINVAL. */
int dev_mountinfo_parse_line(const char *line, struct dev_mount *m);

/* Is the block device major:minor, or one of its partitions overlapping
 * [off, off+len) bytes of it, mounted read-write on this machine? A
 * filesystem in use changes under a reader, so what it says it uses cannot
 * be believed. 1 (where says "/dev/sdb2 is mounted read-write on /home"),
 * 0 when not, -errno when the mount table cannot be read. */
int dev_mounted_rw(const struct sysfs_ctx *ctx, unsigned major, unsigned minor, uint64_t off, uint64_t len,
                   char *where, size_t where_len);

/* Fill mounted/system/busy (and their reasons) for every drive of the list. */
int dev_safety_fill(const struct sysfs_ctx *ctx, struct dev_list *list);

#endif
