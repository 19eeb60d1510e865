/* dev_ident: the drive the operator confirmed, and whether it is still there.
 *
 * A /dev name or a place in a list says nothing about which drive it is: sdc
 * can be another drive after a re-plug, and the list is re-sorted on every
 * hot-plug. An identity is what the kernel and the drive say of themselves:
 * device number, the kernel's diskseq (new on every attach and media change),
 * serial or WWN (the backing file for a loop device) and size. A drive matches
 * an identity only when all of them that are known agree. */
#ifndef CB_DEV_IDENT_H
#define CB_DEV_IDENT_H

#include "devices/dev_types.h"
#include "devices/sysfs.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct dev_ident {
    unsigned major, minor;
    uint64_t diskseq;           /* 0 when the kernel has none (before 5.15) */
    uint64_t size;
    char name[32];              /* kernel name then, for messages */
    char model[128];
    char serial[128];
    char wwn[64];
    char backing[256];          /* loop devices only */
};

void dev_ident_of(const struct dev_drive *d, struct dev_ident *id);
/* true when d is the drive id was taken from; else why not, in words
 * ("its serial is now X, it was Y"). */
bool dev_ident_matches(const struct dev_ident *id, const struct dev_drive *d, char *why, size_t len);
/* The drive of list that id describes (device number and all), or NULL. */
struct dev_drive *dev_ident_find(struct dev_list *list, const struct dev_ident *id);
/* The identity of block device rdev now, read from sysfs (and udev's
 * database) only: no media is read, so it is fast even on a failing drive.
 * A partition gives its whole disk. 0 or -ENODEV when nothing is there. */
int dev_ident_read(const struct sysfs_ctx *ctx, dev_t rdev, struct dev_ident *id);
/* Is block device rdev still the drive id describes? 0, or -ENODEV (gone) /
 * -ESTALE (another drive) with why filled ("/dev/sdc was removed"). */
int dev_ident_check(const struct sysfs_ctx *ctx, const struct dev_ident *id, char *why, size_t len);
/* A text that names the drive across re-plugs and reboots, for map files:
 * "serial S4EW, 512110190592 bytes", "loop over /x/d.img, 67108864 bytes". */
void dev_ident_key(const struct dev_ident *id, char *buf, size_t len);

#endif
