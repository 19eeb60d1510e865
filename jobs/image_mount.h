/* image_mount: open an image as a read-only drive and mount what it holds
 * (clonebay mount / umount), without restoring it.
 *
 *   image --fork--> helper (clone/image_fuse: DIR/.disk) --losetup -r--> /dev/loopN
 *         --partx -a--> /dev/loopNpK --mount ro--> DIR/pK
 *
 * Every refusal (not an image, truncated, DIR busy) happens before anything is
 * mounted; a failure half-way undoes what was done. Undoing is driven by what
 * the kernel shows (jobs/mount_sys), so it also cleans up after a crash. */
#ifndef CB_IMAGE_MOUNT_H
#define CB_IMAGE_MOUNT_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#define MOUNT_MAX_PARTS 64

struct mounted_part {
    int number;
    char node[64];              /* /dev/loopNpK, or the loop itself for a whole-disk filesystem */
    uint64_t size;
    char fstype[32], label[64];
    bool mounted;
    char how[32];               /* "ext4 (kernel)", "ntfs-3g", "fusefat" */
    char dir[4200];
    char note[256];             /* why it is not mounted */
};

struct image_mount {
    char dir[4096];             /* canonical */
    char loop[64];
    pid_t helper;
    uint64_t disk_size;
    char warning[256];          /* "" when all is as it should be */
    struct mounted_part parts[MOUNT_MAX_PARTS];
    size_t nparts;
};

/* Mount image on dir (an existing, empty folder that is no mount point).
 * image may also be a drive (read as a raw disk, never written).
 * 0; -EINVAL/-EBUSY/-ENOENT for a refusal (nothing done); other -errno when
 * it failed half-way (what was done is undone). err says why. */
int image_mount(const char *image, const char *dir, struct image_mount *out, struct cb_error *err);

struct image_umount_result {
    size_t unmounted;           /* file systems unmounted below dir */
    size_t loops;               /* loop devices detached */
    bool helper_gone;
};

/* Undo image_mount on dir. -EINVAL when dir is not a clonebay mount (nothing
 * done), -EBUSY when something in it is still in use (err names it). */
int image_umount(const char *dir, struct image_umount_result *res, struct cb_error *err);

#endif
