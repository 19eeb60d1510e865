/* Encrypted volumes (LUKS, BitLocker): nothing in them says which blocks are
 * in use, and nothing is lost by copying them whole, so `--mode used` copies
 * them whole and they keep their size. */
#include "clone/fs/fs.h"

#include <string.h>

static bool luks_probe(const char *fstype)
{
    return !strcmp(fstype, "crypto_LUKS");
}

static bool bitlocker_probe(const char *fstype)
{
    return !strcmp(fstype, "BitLocker");
}

const struct fs_ops fs_luks_ops = {
    .name = "crypto_LUKS", .probe = luks_probe, .magic = { 0, "LUKS\xba\xbe" }, .encrypted = "LUKS-encrypted",
};
const struct fs_ops fs_bitlocker_ops = {
    .name = "BitLocker", .probe = bitlocker_probe, .magic = { 3, "-FVE-FS-" }, .encrypted = "BitLocker-encrypted",
};
