/* Filesystems clonebay knows only by name: fs_owners says it cannot look
 * into them (rather than "no filesystem"), and a store of images may live
 * on them (jobs/store). Their used blocks are not read: copied whole. */
#include "clone/fs/fs.h"

#include <string.h>

static bool exfat_probe(const char *fstype)
{
    return !strcmp(fstype, "exfat");
}

static bool xfs_probe(const char *fstype)
{
    return !strcmp(fstype, "xfs");
}

static bool btrfs_probe(const char *fstype)
{
    return !strcmp(fstype, "btrfs");
}

const struct fs_ops fs_exfat_ops = {
    .name = "exfat", .probe = exfat_probe, .holds_files = true, .magic = { 3, "EXFAT   " },
};
const struct fs_ops fs_xfs_ops = { .name = "xfs", .probe = xfs_probe, .holds_files = true, .magic = { 0, "XFSB" } };
const struct fs_ops fs_btrfs_ops = {
    .name = "btrfs", .probe = btrfs_probe, .holds_files = true, .magic = { 0x10040, "_BHRfS_M" },
};
