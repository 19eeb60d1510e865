#include "clone/fs_used.h"

#include <errno.h>
#include <ext2fs/ext2fs.h>
#include <stdio.h>
#include <string.h>

bool fs_used_understood(const char *fstype)
{
    return !strcmp(fstype, "ext2") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext4") ||
           !strcmp(fstype, "swap");
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
    ext2fs_close_free(&fs);
    return rc;
}

int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len)
{
    why[0] = '\0';
    if (!strcmp(fstype, "ext2") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext4"))
        return ext_used(path, off, size, domain, why, why_len);
    if (!strcmp(fstype, "swap"))
        return map_mark(domain, off, size < 4096 ? size : 4096, MAP_FINISHED) ? -ENOMEM : 1;
    return 0;
}
