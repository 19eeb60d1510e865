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
};

/* One line of /proc/self/mountinfo. 0 or -EINVAL. */
int dev_mountinfo_parse_line(const char *line, struct dev_mount *m);

/* Fill mounted/system/busy (and their reasons) for every drive of the list. */
int dev_safety_fill(const struct sysfs_ctx *ctx, struct dev_list *list);

#endif
