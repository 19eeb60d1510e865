/* sysfs: reads /sys (and /proc, /run/udev) below a root prefix.
 *
 * As lsblk --sysroot does, every path is taken relative to a root, so a saved
 * tree of a machine we do not have (a SATA disk, an NVMe SSD, a DVD drive)
 * can stand in for it in tests. The root "" or "/" is the running machine. */
#ifndef CB_SYSFS_H
#define CB_SYSFS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sysfs_ctx {
    char root[256];         /* "" for the live system, else a directory */
};

void sysfs_init(struct sysfs_ctx *ctx, const char *root);
bool sysfs_is_live(const struct sysfs_ctx *ctx);

/* Full path of a root-relative path ("sys/block/sda/size"). */
int sysfs_path(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

/* First line of a file, trailing blanks removed. 0 or -errno. */
int sysfs_read_str(const struct sysfs_ctx *ctx, char *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
int sysfs_read_u64(const struct sysfs_ctx *ctx, uint64_t *out, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whole (binary) file into buf; returns bytes read or -errno. */
long sysfs_read_raw(const struct sysfs_ctx *ctx, void *buf, size_t len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
bool sysfs_exists(const struct sysfs_ctx *ctx, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Resolved target of sys/block/NAME, relative to the root ("/sys/devices/..."). */
int sysfs_block_devpath(const struct sysfs_ctx *ctx, const char *name, char *buf, size_t len);

/* Trim blanks at both ends in place; returns s. */
char *sysfs_trim(char *s);

#endif
