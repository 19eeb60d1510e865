/* ext2/3/4: used blocks from the block bitmaps, the least size from the
 * superblock (and resize2fs -P), resizing with e2fsck and resize2fs. All of
 * it through libext2fs: the partition is read at its offset by the
 * unix_io_manager ("offset=N"), never by hand. */
#include "clone/fs/ext.h"
#include "clone/fs/fs.h"
#include "clone/fs/owners_part.h"
#include "common/run_tool.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

errcode_t ext_super_read(io_manager io, const char *name, const char *opts, struct ext2_super_block *sb)
{
    io_channel ch = NULL;
    errcode_t e = io->open(name, 0, &ch);       /* read-only */
    if (!e && opts)
        e = io_channel_set_options(ch, opts);
    if (!e)
        e = io_channel_set_blksize(ch, SUPERBLOCK_OFFSET);
    if (!e)     /* block 1 of 1 KiB: a negative count is a length in bytes */
        e = io_channel_read_blk64(ch, 1, -SUPERBLOCK_SIZE, sb);
    if (ch)
        io_channel_close(ch);
#ifdef WORDS_BIGENDIAN
    if (!e)
        ext2fs_swap_super(sb);
#endif
    return e ? e : sb->s_magic != EXT2_SUPER_MAGIC ? EXT2_ET_BAD_MAGIC : 0;
}

const char *ext_name_of(struct ext2_super_block *sb)
{
    /* blkid's rule: ext4 has features ext3 lacks (extents, 64bit, flex_bg); ext3 has a journal. */
    if (ext2fs_has_feature_extents(sb) || ext2fs_has_feature_64bit(sb) || ext2fs_has_feature_flex_bg(sb))
        return "ext4";
    return ext2fs_has_feature_journal(sb) ? "ext3" : "ext2";
}

static bool ext_probe(const char *fstype)
{
    return !strcmp(fstype, "ext2") || !strcmp(fstype, "ext3") || !strcmp(fstype, "ext4");
}

/* Why a superblock says its bitmaps may be stale: "" when it does not. Only
 * what a mount or e2fsck would act on is looked at. */
static const char *ext_distrust(struct ext2_super_block *sb)
{
    if (ext2fs_has_feature_journal_needs_recovery(sb))
        return "its journal needs recovery (the drive was not shut down cleanly), so its block bitmaps "
               "cannot be trusted";
    if (sb->s_state & EXT2_ERROR_FS)
        return "it records errors e2fsck has not repaired, so its block bitmaps cannot be trusted";
    if (!(sb->s_state & EXT2_VALID_FS))
        return "it was not unmounted cleanly and has not been checked since, so its block bitmaps cannot be "
               "trusted";
    return "";
}

static int ext_trusted(const char *path, uint64_t off, uint64_t size, char *why, size_t why_len)
{
    (void)size;
    char opts[64];
    snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)off);
    struct ext2_super_block sb;
    errcode_t e = ext_super_read(unix_io_manager, path, opts, &sb);
    if (e > 0 && e < 4096) {        /* the system's errno: the file itself cannot be read */
        snprintf(why, why_len, "cannot open %s: %s", path, strerror((int)e));
        return -(int)e;
    }
    /* No superblock, or no ext after all: not this check's business (ext_used says so). */
    const char *bad = e ? "" : ext_distrust(&sb);
    snprintf(why, why_len, "%s", bad);
    return bad[0] ? 0 : 1;
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

/* From the superblock: what is used, a twentieth more and 4 MiB for the
 * metadata and journal moves resize2fs makes, and enough groups for the
 * inodes in use. */
static int ext_min(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min)
{
    (void)size;
    char opts[64];
    snprintf(opts, sizeof(opts), "offset=%llu", (unsigned long long)off);
    ext2_filsys fs = NULL;
    errcode_t e = ext2fs_open2(path, opts, EXT2_FLAG_64BITS | EXT2_FLAG_SUPER_ONLY | EXT2_FLAG_IGNORE_CSUM_ERRORS,
                               0, 0, unix_io_manager, &fs);
    if (e) {
        if (fs)
            ext2fs_free(fs);
        return e == EXT2_ET_BAD_MAGIC || e == EXT2_ET_CORRUPT_SUPERBLOCK ? -EINVAL : -EIO;
    }
    struct ext2_super_block *sb = fs->super;
    uint64_t bs = fs->blocksize, blocks = ext2fs_blocks_count(sb), freeb = ext2fs_free_blocks_count(sb);
    uint64_t inodes = sb->s_inodes_count, freei = sb->s_free_inodes_count;
    uint64_t bpg = sb->s_blocks_per_group, ipg = sb->s_inodes_per_group;
    ext2fs_close_free(&fs);
    if (bs > 65536 || !bpg || !ipg || freeb > blocks || freei > inodes)
        return -EINVAL;
    uint64_t used = (blocks - freeb) * bs;
    uint64_t groups = (inodes - freei + ipg - 1) / ipg;
    uint64_t by_inodes = groups ? ((groups - 1) * bpg + 1) * bs : 0;
    uint64_t m = used + used / 20 + (4u << 20);
    *min = m > by_inodes ? m : by_inodes;
    /* resize2fs has the last word: its own estimate, read-only (-P). */
    char out[1024];
    const char *argv[] = { "resize2fs", "-P", node, NULL };
    const char *key = "minimum size of the filesystem: ";
    if (node[0] && run_tool(argv, out, sizeof(out)) == 0 && strstr(out, key)) {
        uint64_t least = strtoull(strstr(out, key) + strlen(key), NULL, 10);
        if (least * bs > *min)
            *min = least * bs;
    }
    return 0;
}

static int ext_resize(const char *node, uint64_t new_size, const char *uuid, const char *label, char *log,
                      size_t log_len, struct cb_error *err)
{
    (void)uuid, (void)label;
    char size[32];
    snprintf(size, sizeof(size), "%lluK", (unsigned long long)(new_size / 1024));
    const char *fsck[] = { "e2fsck", "-f", "-y", node, NULL };
    const char *resize[] = { "resize2fs", node, size, NULL };
    int rc = fs_run_step(fsck, node, 1, log, log_len, err);
    return rc ? rc : fs_run_step(resize, node, 0, log, log_len, err);
}

const struct fs_ops fs_ext_ops = {
    .name = "ext", .probe = ext_probe, .holds_files = true,
    .trusted = ext_trusted, .used = ext_used,
    .min_size = ext_min, .resize = ext_resize, .resizer = "resize2fs",
    /* It still grows: e2fsck replays its journal on the target first. */
    .untrusted_fit = FIT_GROW, .remedy = "run e2fsck -f on it, or mount it once and unmount it cleanly",
    .sniff = ext_sniff, .owners = fs_owners_ext,
    /* noload: a journal needing recovery stays as it is */
    .mount = { .kernel = "ext4", .kernel_data = "noload" },
};
