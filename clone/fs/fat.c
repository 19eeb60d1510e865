/* FAT12/16/32 (blkid's "vfat"): used blocks from the FAT, trust from the
 * dirty bits, resizing by clonebay's own resizer (clone/fs/fat_resize.c). */
#include "clone/fs/fat_resize.h"
#include "clone/fs/fs.h"
#include "clone/fs/owners_part.h"
#include "common/le_bytes.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static bool fat_probe(const char *fstype)
{
    return !strcmp(fstype, "vfat");
}

/* FAT12/16/32: Linux and fsck.fat keep a dirty bit in the boot sector,
 * Windows a clean-shutdown bit in FAT entry 1 (none on FAT12). */
static const char *fat_distrust(const unsigned char *bs, const unsigned char *fat)
{
    if (bs[510] != 0x55 || bs[511] != 0xAA)
        return "";
    bool fat32 = le_get16(bs + 22) == 0;
    uint64_t bps = le_get16(bs + 11), total = le_get16(bs + 19) ? le_get16(bs + 19) : le_get32(bs + 32);
    uint64_t first_data = le_get16(bs + 14) + (uint64_t)bs[16] * le_get16(bs + 22) +
                          (bps ? ((uint64_t)le_get16(bs + 17) * 32 + bps - 1) / bps : 0);
    bool fat12 = !fat32 && bs[13] && total > first_data && (total - first_data) / bs[13] < 4085;
    if ((fat32 ? bs[65] : bs[37]) & 0x01)
        return "its dirty bit is set (it was not unmounted cleanly), so its FAT cannot be trusted";
    if ((fat32 && !(le_get32(fat + 4) & 0x08000000)) || (!fat32 && !fat12 && !(le_get16(fat + 2) & 0x8000)))
        return "it was not shut down cleanly (its FAT's clean-shutdown bit is clear), so its FAT cannot be "
               "trusted";
    return "";
}


static int fat_trusted(const char *path, uint64_t off, uint64_t size, char *why, size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    unsigned char bs[512], fat[8] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    const char *bad = "";
    if (pread(fd, bs, sizeof(bs), (off_t)off) == (ssize_t)sizeof(bs)) {
        uint64_t fat_at = (uint64_t)le_get16(bs + 14) * le_get16(bs + 11);
        if (fat_at && fat_at < size && pread(fd, fat, sizeof(fat), (off_t)(off + fat_at)) != (ssize_t)sizeof(fat))
            memset(fat, 0xFF, sizeof(fat));     /* unreadable: fat_used says so */
        bad = fat_distrust(bs, fat);
    }
    close(fd);
    snprintf(why, why_len, "%s", bad);
    return bad[0] ? 0 : 1;
}

/* FAT12/16/32: the boot area, the FATs and the root directory whole, then
 * every cluster whose FAT entry is not zero. 0 when the boot sector does not
 * look like one we can trust (the caller copies the partition whole). */
static int fat_used(const char *path, uint64_t off, uint64_t size, struct block_map *domain, char *why,
                    size_t why_len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(errno));
        return -errno;
    }
    unsigned char bs[512];
    int rc = 0;
    unsigned char *fat = NULL;
    if (pread(fd, bs, sizeof(bs), (off_t)off) != (ssize_t)sizeof(bs) || bs[510] != 0x55 || bs[511] != 0xAA)
        goto out;
    uint32_t bps = le_get16(bs + 11), spc = bs[13], reserved = le_get16(bs + 14), nfats = bs[16];
    uint32_t root_entries = le_get16(bs + 17), total = le_get16(bs + 19) ? le_get16(bs + 19) : le_get32(bs + 32);
    uint32_t fatsz = le_get16(bs + 22) ? le_get16(bs + 22) : le_get32(bs + 36);
    bool fat32 = le_get16(bs + 22) == 0;
    if ((bps != 512 && bps != 1024 && bps != 2048 && bps != 4096) || !spc || (spc & (spc - 1)) || !reserved ||
        nfats < 1 || nfats > 2 || !fatsz || (uint64_t)total * bps > size)
        goto out;
    uint64_t root_sectors = ((uint64_t)root_entries * 32 + bps - 1) / bps;
    uint64_t first_data = reserved + (uint64_t)nfats * fatsz + root_sectors;
    if (first_data >= total || (uint64_t)fatsz * bps > (256u << 20))
        goto out;
    uint64_t clusters = (total - first_data) / spc;
    bool fat12 = !fat32 && clusters < 4085;
    size_t fat_bytes = (size_t)fatsz * bps;
    fat = malloc(fat_bytes);
    if (!fat || pread(fd, fat, fat_bytes, (off_t)(off + (uint64_t)reserved * bps)) != (ssize_t)fat_bytes)
        goto out;
    map_mark(domain, off, first_data * bps, MAP_FINISHED);
    uint64_t csize = (uint64_t)spc * bps;
    for (uint64_t c = 2; c < clusters + 2; c++) {
        uint32_t v;
        if (fat32) {
            if ((c + 1) * 4 > fat_bytes) break;
            v = le_get32(fat + c * 4) & 0x0FFFFFFF;
        } else if (fat12) {
            if (c * 3 / 2 + 2 > fat_bytes) break;
            uint32_t w = le_get16(fat + c * 3 / 2);
            v = c & 1 ? w >> 4 : w & 0xFFF;
        } else {
            if ((c + 1) * 2 > fat_bytes) break;
            v = le_get16(fat + c * 2);
        }
        if (v && map_mark(domain, off + (first_data + (c - 2) * spc) * bps, csize, MAP_FINISHED)) {
            rc = -ENOMEM;
            goto out;
        }
    }
    rc = 1;
out:
    if (rc == 0)
        snprintf(why, why_len, "the FAT boot sector at byte %llu of %s is not one clonebay can read",
                 (unsigned long long)off, path);
    free(fat);
    close(fd);
    return rc;
}


static int fat_min(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min)
{
    (void)node;
    uint64_t max;
    char why[300];
    return fat_resize_limits(path, off, size, min, &max, why, sizeof(why));
}

/* clonebay's own: fatresize and libparted's resizer fail on simple layouts. */
static int fat_resize(const char *node, uint64_t new_size, const char *uuid, const char *label, char *log,
                      size_t log_len, struct cb_error *err)
{
    (void)uuid, (void)label;
    char note[300];
    size_t n = strlen(log);
    if (n < log_len)
        n += (size_t)snprintf(log + n, log_len - n, "$ (clonebay) resize the FAT in %s to %llu bytes\n", node,
                              (unsigned long long)new_size);
    int rc = fat_resize_run(node, new_size, note, sizeof(note), err);
    if (rc > 0 && n < log_len)
        snprintf(log + n, log_len - n, "%s\n", note);
    return rc > 0 ? 0 : rc;
}

const struct fs_ops fs_fat_ops = {
    .name = "vfat", .probe = fat_probe, .holds_files = true,
    .trusted = fat_trusted, .used = fat_used,
    .min_size = fat_min, .limits = fat_resize_limits, .resize = fat_resize, .resizer = "clonebay's FAT resizer",
    /* A FAT grows by moving its clusters: not on a FAT in doubt. */
    .untrusted_fit = FIT_FIXED, .remedy = "run fsck.fat -a on it, or mount it once and unmount it cleanly",
    .sniff = fat_sniff, .owners = fs_owners_fat,
    .mount = { .kernel = "vfat", .fuse = "fusefat", .fuse_opts = "ro,allow_other",
               .missing = "FAT cannot be mounted here: the kernel has no vfat and fusefat is not installed "
                          "(apt-get install fusefat)" },
};
