/* mount_sys: the kernel objects a mounted image is made of, found and undone
 * by what the kernel says (mountinfo, the loop devices' backing files), never
 * by what clonebay remembers: `clonebay umount` works after a crash too, and
 * only touches what hangs off the folder it was given. */
#ifndef CB_MOUNT_SYS_H
#define CB_MOUNT_SYS_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>

/* One line of /proc/self/mountinfo. */
struct mount_entry {
    char point[4096];
    char fstype[64];
    char source[256];
};

/* Every mount whose mount point is dir or lies below it, in mountinfo order
 * (parents before children). *out malloc'ed. 0 or -errno. */
int mount_list_under(const char *dir, struct mount_entry **out, size_t *n);
/* The fstype mounted on dir ("" when dir is no mount point). */
void mount_fstype_at(const char *dir, char *fstype, size_t len);

/* Attach file read-only to a free loop device with the given logical sector
 * size; node gets /dev/loopN. 0 or -errno with err. */
int loop_attach_ro(const char *file, unsigned sector, char *node, size_t len, struct cb_error *err);
/* The loop devices whose backing file is file (at most max names, "loopN"). */
size_t loop_find_backing(const char *file, char (*names)[32], size_t max);
/* Drop the partitions the kernel has for /dev/NAME (BLKPG, as partx -d
 * does), then detach it. 0 or -errno with err. */
int loop_detach(const char *name, struct cb_error *err);
/* Register the partitions of the table on node with the kernel (partx -a:
 * this kernel may parse no tables itself). 0 or -errno with err. */
int loop_add_partitions(const char *node, struct cb_error *err);

#endif
