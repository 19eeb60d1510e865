/* store: where a station keeps images and reports.
 *
 * On the live ISO everything written to / lives in RAM and is lost at
 * power-off, so the technician picks a partition of a connected drive; it is
 * mounted under /mnt/<label> (or used where it is already mounted). */
#ifndef CB_JOBS_STORE_H
#define CB_JOBS_STORE_H

#include "common/cb_error.h"
#include "devices/dev_types.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct store_choice {
    char dev[64];           /* /dev/sdc1, or the whole drive when it holds the filesystem */
    char fstype[32];
    char label[128];
    uint64_t size;
    char model[64];         /* of the drive it is on */
    char mountpoint[256];   /* where it is mounted now, "" when it is not */
};

/* The filesystems that can hold images: ext2/3/4, FAT, exFAT, NTFS, XFS or
 * btrfs, on a drive that is neither the system's nor in a job. Up to max. */
size_t store_candidates(const struct dev_list *l, struct store_choice *out, size_t max);

/* Mount c under root/<label> (mounted read-write, noatime, nosuid, nodev,
 * noexec; NTFS through ntfs-3g with the same options),
 * or find where it already is. dir gets the folder. 0 or -errno with err set. */
int store_mount(const struct store_choice *c, const char *root, char *dir, size_t len, struct cb_error *err);

/* src reduced to one path component: characters other than letters, digits,
 * '-', '_' and '.' become '_' (labels of drives and discs name folders and
 * files). Returns its length; the caller decides what an empty or dotted one means. */
size_t store_safe_name(const char *src, char *out, size_t len);

/* true when path is on a RAM filesystem (tmpfs, ramfs: the live system's /). */
bool store_is_volatile(const char *path);

/* Copy the regular files of from/ into to/ (reports written before a store
 * was chosen). Returns how many were copied. */
int store_copy_files(const char *from, const char *to);

#endif
