#include "clone/fs/used.h"
#include "clone/fs/ntfs.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>
#include <ext2fs/ext2fs.h>
#include "common/le_bytes.h"

#include <stdio.h>
#include <string.h>

bool fs_is_ext(const char *fstype)
{
    return !strcmp(fstype, "ext2") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext4");
}

bool fs_used_understood(const char *fstype)
{
    return fs_is_ext(fstype) || !strcmp(fstype, "swap") || !strcmp(fstype, "vfat") || !strcmp(fstype, "ntfs");
}

/* Why an ext superblock (1024 bytes) says its bitmaps may be stale: "" when
 * it does not. Only what a mount or e2fsck would act on is looked at. */
static const char *ext_distrust(const unsigned char *sb)
{
    if (le_get16(sb + 0x38) != EXT2_SUPER_MAGIC)
        return "";      /* not ext after all: ext_used says so */
    if (le_get32(sb + 0x60) & EXT3_FEATURE_INCOMPAT_RECOVER)
        return "its journal needs recovery (the drive was not shut down cleanly), so its block bitmaps "
               "cannot be trusted";
    if (le_get16(sb + 0x3A) & EXT2_ERROR_FS)
        return "it records errors e2fsck has not repaired, so its block bitmaps cannot be trusted";
    if (!(le_get16(sb + 0x3A) & EXT2_VALID_FS))
        return "it was not unmounted cleanly and has not been checked since, so its block bitmaps cannot be "
               "trusted";
    return "";
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

int fs_used_trusted(const char *path, uint64_t off, uint64_t size, const char *fstype, char *why, size_t why_len)
{
    why[0] = '\0';
    if (!strcmp(fstype, "ntfs"))
        return fs_ntfs_trusted(path, off, size, why, why_len);
    if (!fs_is_ext(fstype) && strcmp(fstype, "vfat") != 0)
        return 1;
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        snprintf(why, why_len, "cannot open %s: %s", path, strerror(e));
        return -e;
    }
    unsigned char sb[1024], fat[8] = { 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF, 0xFF };
    const char *bad = "";
    if (fs_is_ext(fstype)) {
        if (pread(fd, sb, sizeof(sb), (off_t)(off + 1024)) == (ssize_t)sizeof(sb))
            bad = ext_distrust(sb);
    } else if (pread(fd, sb, 512, (off_t)off) == 512) {
        uint64_t fat_at = (uint64_t)le_get16(sb + 14) * le_get16(sb + 11);
        if (fat_at && fat_at < size && pread(fd, fat, sizeof(fat), (off_t)(off + fat_at)) != (ssize_t)sizeof(fat))
            memset(fat, 0xFF, sizeof(fat));     /* unreadable: fat_used says so */
        bad = fat_distrust(sb, fat);
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

/* Inode-table blocks past each group's last used inode (bg_itable_unused,
 * what e2image leaves out too) hold no inode that was ever in use: the kernel
 * and e2fsck read them as free inodes, and a zeroed table is what mke2fs or
 * the kernel's lazy init leave there. The count is believed only when every
 * group descriptor's checksum is right; without checksums (ext2/3, or a
 * mismatch) the tables stay in the copy whole. */
static int ext_zero_itables(ext2_filsys fs, uint64_t off, struct block_map *domain)
{
    if (!ext2fs_has_group_desc_csum(fs))
        return 0;
    for (dgrp_t g = 0; g < fs->group_desc_count; g++)
        if (!ext2fs_group_desc_csum_verify(fs, g))
            return 0;
    uint64_t bs = fs->blocksize, ipb = EXT2_INODES_PER_BLOCK(fs->super);
    uint64_t ipg = fs->super->s_inodes_per_group, per = fs->inode_blocks_per_group;
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        uint64_t unused = ext2fs_bg_itable_unused(fs, g), table = ext2fs_inode_table_loc(fs, g);
        if (!table || unused > ipg || !ipb)
            continue;
        uint64_t keep = per - unused / ipb;     /* a block with one used inode is kept */
        if (keep < per && table + per <= ext2fs_blocks_count(fs->super) &&
            map_mark(domain, off + (table + keep) * bs, (per - keep) * bs, MAP_ZERO))
            return -ENOMEM;
    }
    return 0;
}

static int ext_used(const char *path, uint64_t off, uint64_t size, struct block_map *domain, char *why,
                    size_t why_len)
{
    char opts[64];
    snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)off);
    ext2_filsys fs = NULL;
    /* Read-only, and no journal replay: the source is never written. */
    errcode_t e = ext2fs_open2(path, opts, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, 0, 0,
                               unix_io_manager, &fs);
    if (!e)
        e = ext2fs_read_block_bitmap(fs);
    if (e) {
        snprintf(why, why_len, "cannot read the ext filesystem at byte %llu of %s: %s", (unsigned long long)off,
                 path, error_message(e));
        if (fs)
            ext2fs_close_free(&fs);
        return -EIO;
    }
    uint64_t bs = fs->blocksize;
    blk64_t first = fs->super->s_first_data_block, last = ext2fs_blocks_count(fs->super) - 1;
    int rc = 1;
    if ((last + 1) * bs > size) {
        snprintf(why, why_len, "the ext filesystem at byte %llu of %s is larger than its partition",
                 (unsigned long long)off, path);
        rc = -EINVAL;
    }
    /* Block 0 (boot block, and the superblock with 1 KiB blocks) is always kept. */
    if (rc == 1)
        map_mark(domain, off, first ? (first + 1) * bs : bs, MAP_FINISHED);
    for (blk64_t b = first; rc == 1 && b <= last;) {
        blk64_t used, free_at;
        if (ext2fs_find_first_set_block_bitmap2(fs->block_map, b, last, &used))
            break;      /* nothing used after b */
        if (ext2fs_find_first_zero_block_bitmap2(fs->block_map, used, last, &free_at))
            free_at = last + 1;
        if (map_mark(domain, off + used * bs, (free_at - used) * bs, MAP_FINISHED))
            rc = -ENOMEM;
        b = free_at;
    }
    if (rc == 1 && ext_zero_itables(fs, off, domain))
        rc = -ENOMEM;
    /* The journal stays in the copy whole, even closed cleanly. jbd2 would
     * never read its log again (it replays only from s_start, 0 when clean),
     * so zeros there would be safe; but the log holds the last transactions
     * (debugfs logdump, forensic copies read them), an image of a cleanly
     * shut-down disk with nothing deleted is expected to be that disk byte
     * for byte, and a journal is at most 1 GiB whatever the disk's size,
     * while the inode tables grow with it (16 GiB per TiB by default). */
    ext2fs_close_free(&fs);
    return rc;
}

int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len)
{
    if (!strcmp(fstype, "ntfs"))
        return fs_ntfs_used(path, off, size, domain, why, why_len);     /* asks on its own mount */
    int rc = fs_used_trusted(path, off, size, fstype, why, why_len);
    if (rc <= 0)
        return rc;
    if (fs_is_ext(fstype))
        return ext_used(path, off, size, domain, why, why_len);
    if (!strcmp(fstype, "vfat"))
        return fat_used(path, off, size, domain, why, why_len);
    if (!strcmp(fstype, "swap"))
        return map_mark(domain, off, size < 4096 ? size : 4096, MAP_FINISHED) ? -ENOMEM : 1;
    return 0;
}
