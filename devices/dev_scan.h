/* dev_scan: find every drive a technician could copy from or to.
 *
 * Whole block devices only (partitions are listed under their disk); zram,
 * ram, empty loops and device-mapper/md internals are skipped. */
#ifndef CB_DEV_SCAN_H
#define CB_DEV_SCAN_H

#include "common/cb_error.h"
#include "devices/dev_types.h"
#include "devices/sysfs.h"

struct dev_scan_opts {
    const char *sysroot;        /* NULL or "/": this machine; else a saved tree */
    const char *const *only;    /* NULL, or a NULL-terminated list of paths/names to keep */
    const char *bench_dir;      /* NULL, or keep only loop devices over files in this folder
                                 * (the practice bench: never the machine's real drives) */
    bool identity_only;         /* no partitions: nothing is read from the media, so a
                                 * failing drive cannot make the scan slow */
};

int dev_scan(const struct dev_scan_opts *opts, struct dev_list *out, struct cb_error *err);

/* Identity and partitions of one drive by kernel name (safety facts are
 * filled for a whole list at once by dev_safety_fill()). -ENODEV when
 * NAME is not a drive we list (an empty loop, a partition, zram...). */
int dev_probe_one(const struct sysfs_ctx *ctx, const char *name, struct dev_drive *out);

/* Identity and geometry only (no partitions, no media read): fast on any drive. */
int dev_identify_one(const struct sysfs_ctx *ctx, const char *name, struct dev_drive *out);

/* Whether a kernel name is one we never list, whatever its state. */
bool dev_name_is_ignored(const char *name);

void dev_drive_release(struct dev_drive *d);

#endif
