/* fs_owners for ext2/3/4, through libext2fs: metadata from the group
 * descriptors, then one pass over the inode table with each inode's blocks
 * checked against the bad ones, then the directory tree for the names of
 * the inodes hit (every name of a hard-linked one). */
#include "clone/fs/owners_part.h"
#include "clone/fs/ext.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <ext2fs/ext2fs.h>

struct hit {
    ext2_ino_t ino;
    uint64_t bytes;
    int names;
};

struct ext_walk {
    struct owners_part *p;
    ext2_filsys fs;
    struct bad_units b;
    struct hit *hits;           /* in inode order: the scan is */
    size_t nhits, cap;
    uint64_t bytes;             /* of the inode being walked */
    bool resize_ino;            /* the inode being walked is the resize inode */
    ext2fs_inode_bitmap seen;   /* directories entered: a damaged tree may loop */
    char path[4096];
};

static bool ext_free(void *ctx, uint64_t blk)
{
    struct ext_walk *w = ctx;
    return w->fs->block_map && !ext2fs_test_block_bitmap2(w->fs->block_map, blk);
}

/* The metadata blocks of group g in [first, first+count), when the
 * descriptors point inside the filesystem. */
static void claim_meta(struct ext_walk *w, blk64_t first, blk64_t count, const char *fmt, dgrp_t g)
{
    if (!first || first >= ext2fs_blocks_count(w->fs->super))
        return;
    bad_units_next_owner(&w->b);
    uint64_t n = bad_units_claim(w->p, &w->b, first, count);
    owners_add(w->p, FS_OWNER_METADATA, n, fmt, g);
}

static void ext_metadata(struct ext_walk *w)
{
    ext2_filsys fs = w->fs;
    /* Block 0 holds the boot sector (and, with 1 KiB blocks, nothing else). */
    owners_add(w->p, FS_OWNER_METADATA, bad_units_claim(w->p, &w->b, 0, 1),
               fs->blocksize == 1024 ? "boot block" : "superblock");
    for (dgrp_t g = 0; g < fs->group_desc_count; g++) {
        blk64_t super = 0, old_desc = 0, new_desc = 0;
        blk_t used = 0;
        if (ext2fs_super_and_bgd_loc2(fs, g, &super, &old_desc, &new_desc, &used))
            continue;
        if (ext2fs_bg_has_super(fs, g) && super)
            claim_meta(w, super, 1, g ? "backup superblock (group %u)" : "superblock%.0u", g);
        claim_meta(w, old_desc, fs->desc_blocks, g ? "backup group descriptors (group %u)" : "group descriptors%.0u", g);
        claim_meta(w, old_desc ? old_desc + fs->desc_blocks : 0, fs->super->s_reserved_gdt_blocks,
                   g ? "backup reserved group descriptor blocks (group %u)" : "reserved group descriptor blocks%.0u", g);
        claim_meta(w, new_desc, 1, "group descriptors (meta_bg, group %u)", g);
        claim_meta(w, ext2fs_block_bitmap_loc(fs, g), 1, "block bitmap (group %u)", g);
        claim_meta(w, ext2fs_inode_bitmap_loc(fs, g), 1, "inode bitmap (group %u)", g);
        claim_meta(w, ext2fs_inode_table_loc(fs, g), fs->inode_blocks_per_group, "inode table (group %u)", g);
    }
}

static int block_cb(ext2_filsys fs, blk64_t *blocknr, e2_blkcnt_t blockcnt, blk64_t ref_blk, int ref_offset,
                    void *priv)
{
    (void)fs, (void)ref_blk, (void)ref_offset;
    struct ext_walk *w = priv;
    /* The resize inode's blocks below its top map are the reserved descriptor blocks and their backups, named
     * already: only that map is its own. */
    if (w->resize_ino && blockcnt != BLOCK_COUNT_DIND)
        return 0;
    if (*blocknr < w->b.nunits)
        w->bytes += bad_units_claim(w->p, &w->b, *blocknr, 1);
    return 0;
}

/* What a reserved inode is, or NULL for one the directory tree names. */
static const char *special_name(ext2_filsys fs, ext2_ino_t ino)
{
    if (ino == fs->super->s_journal_inum || ino == EXT2_JOURNAL_INO)
        return "journal";
    if (ino == EXT2_ROOT_INO || ino >= EXT2_FIRST_INO(fs->super))
        return NULL;
    switch (ino) {
    case EXT2_RESIZE_INO: return "reserved group descriptor blocks";
    case 3: case 4: return "quota file";
    case EXT2_BOOT_LOADER_INO: return "boot loader inode";
    default: return "reserved inode";
    }
}

/* Every inode in use, its blocks against the bad ones. 0, or an error the
 * scan could not go past (what it had found stays). */
static errcode_t ext_inodes(struct ext_walk *w, unsigned *garbage)
{
    ext2_filsys fs = w->fs;
    ext2_inode_scan scan;
    errcode_t e = ext2fs_open_inode_scan(fs, 0, &scan);
    if (e)
        return e;
    int isz = EXT2_INODE_SIZE(fs->super);
    struct ext2_inode *inode = malloc((size_t)isz);
    if (!inode) {
        ext2fs_close_inode_scan(scan);
        return EXT2_ET_NO_MEMORY;
    }
    for (;;) {
        ext2_ino_t ino;
        e = ext2fs_get_next_inode_full(scan, &ino, inode, isz);
        if (e == EXT2_ET_INODE_CSUM_INVALID || e == EXT2_ET_INODE_IS_GARBAGE) {
            (*garbage)++;
            continue;
        }
        if (e || !ino)
            break;
        if (!inode->i_links_count || inode->i_dtime)
            continue;
        if (!ext2fs_inode_has_valid_blocks2(fs, inode) || ino == EXT2_BAD_INO)
            continue;
        w->bytes = 0;
        bad_units_next_owner(&w->b);
        w->resize_ino = ino == EXT2_RESIZE_INO;
        if (ext2fs_block_iterate3(fs, ino, BLOCK_FLAG_READ_ONLY, NULL, block_cb, w))
            (*garbage)++;       /* what it walked before failing is counted */
        if (!w->bytes)
            continue;
        const char *special = special_name(fs, ino);
        if (special) {
            owners_add(w->p, FS_OWNER_METADATA, w->bytes, "%s", special);
            continue;
        }
        if (w->nhits == w->cap) {
            size_t cap = w->cap ? w->cap * 2 : 64;
            struct hit *h = realloc(w->hits, cap * sizeof(*h));
            if (!h) {
                w->p->rc = -ENOMEM;
                break;
            }
            w->hits = h;
            w->cap = cap;
        }
        w->hits[w->nhits++] = (struct hit){ .ino = ino, .bytes = w->bytes };
    }
    free(inode);
    ext2fs_close_inode_scan(scan);
    return e;
}

static struct hit *hit_of(struct ext_walk *w, ext2_ino_t ino)
{
    size_t lo = 0, hi = w->nhits;
    while (lo < hi) {
        size_t mid = (lo + hi) / 2;
        if (w->hits[mid].ino < ino)
            lo = mid + 1;
        else
            hi = mid;
    }
    return lo < w->nhits && w->hits[lo].ino == ino ? &w->hits[lo] : NULL;
}

static void walk_dir(struct ext_walk *w, ext2_ino_t dir);

/* Unreadable bytes of inode ino's own record in its inode table. */
static uint64_t inode_bad(const struct ext_walk *w, ext2_ino_t ino)
{
    ext2_filsys fs = w->fs;
    uint32_t ipg = fs->super->s_inodes_per_group;
    uint64_t isz = (uint64_t)EXT2_INODE_SIZE(fs->super);
    blk64_t it = ipg ? ext2fs_inode_table_loc(fs, (dgrp_t)((ino - 1) / ipg)) : 0;
    if (!it || it >= w->b.nunits)
        return 0;
    return owners_bad_in(w->p, it * fs->blocksize + (uint64_t)((ino - 1) % ipg) * isz, isz);
}

static int dir_cb(ext2_ino_t parent, int entry, struct ext2_dir_entry *de, int offset, int blocksize, char *buf,
                  void *priv)
{
    (void)parent, (void)entry, (void)offset, (void)blocksize, (void)buf;
    struct ext_walk *w = priv;
    int len = ext2fs_dirent_name_len(de);
    ext2_ino_t ino = de->inode;
    if (!ino || ino > w->fs->super->s_inodes_count || (len == 1 && de->name[0] == '.') ||
        (len == 2 && de->name[0] == '.' && de->name[1] == '.'))
        return 0;
    size_t at = strlen(w->path);
    if (at + 1 + (size_t)len >= sizeof(w->path))
        return 0;
    snprintf(w->path + at, sizeof(w->path) - at, "/%.*s", len, de->name);
    struct hit *h = hit_of(w, ino);
    uint64_t lost = inode_bad(w, ino);
    if (h) {
        h->names++;
        owners_add(w->p, FS_OWNER_FILE, h->bytes, "%s", w->path);
    }
    int type = ext2fs_dirent_file_type(de);
    if (!h && lost)
        owners_add_why(w->p, FS_OWNER_FILE, lost, type == EXT2_FT_DIR
                       ? "its inode, which records where its list of files lies, is unreadable: the folder's "
                         "whole list is lost, and the files in it are not named here"
                       : "its inode, which records where its data lies, is unreadable: the whole file is lost",
                       "%s", w->path);
    struct ext2_inode inode;
    if (type == EXT2_FT_DIR ||
        (type == EXT2_FT_UNKNOWN && !ext2fs_read_inode(w->fs, ino, &inode) && LINUX_S_ISDIR(inode.i_mode)))
        walk_dir(w, ino);
    w->path[at] = '\0';
    return 0;
}

/* Each directory once; the path's length bounds the depth. */
static void walk_dir(struct ext_walk *w, ext2_ino_t dir)
{
    if (ext2fs_test_inode_bitmap2(w->seen, dir))
        return;
    ext2fs_mark_inode_bitmap2(w->seen, dir);
    /* A damaged directory is skipped: the files under it stay unnamed and are listed by number. */
    ext2fs_dir_iterate2(w->fs, dir, 0, NULL, dir_cb, w);
}

/* libext2fs reads through an io_manager: this one reads the partition
 * through its reader, so a compressed image is looked up as it is decoded.
 * The partition travels in the name libext2fs hands to open, the one thing
 * it passes on. */
static struct struct_io_manager part_io;

static errcode_t part_open(const char *name, int flags, io_channel *channel)
{
    void *part = NULL;
    if (flags & IO_FLAG_RW)
        return EXT2_ET_RO_FILSYS;
    if (sscanf(name, "clonebay-part:%p", &part) != 1 || !part)
        return EXT2_ET_BAD_DEVICE_NAME;
    io_channel io = NULL;
    errcode_t e = ext2fs_get_memzero(sizeof(*io), &io);
    if (!e && (e = ext2fs_get_mem(strlen(name) + 1, &io->name)) != 0)
        ext2fs_free_mem(&io);
    if (e)
        return e;
    strcpy(io->name, name);
    io->magic = EXT2_ET_MAGIC_IO_CHANNEL;
    io->manager = &part_io;
    io->block_size = 1024;
    io->refcount = 1;
    io->private_data = part;
    *channel = io;
    return 0;
}

static errcode_t part_close(io_channel io)
{
    if (--io->refcount > 0)
        return 0;
    ext2fs_free_mem(&io->name);
    ext2fs_free_mem(&io);
    return 0;
}

static errcode_t part_set_blksize(io_channel io, int blksize)
{
    io->block_size = blksize;
    return 0;
}

static errcode_t part_read64(io_channel io, unsigned long long block, int count, void *data)
{
    /* A negative count is a length in bytes (libext2fs' convention). */
    size_t len = count < 0 ? (size_t)-(long long)count : (size_t)count * (size_t)io->block_size;
    if (owners_read(io->private_data, data, len, (uint64_t)block * (uint64_t)io->block_size)) {
        memset(data, 0, len);
        return EXT2_ET_SHORT_READ;
    }
    return 0;
}

static errcode_t part_read(io_channel io, unsigned long block, int count, void *data)
{
    return part_read64(io, block, count, data);
}

static errcode_t part_write64(io_channel io, unsigned long long block, int count, const void *data)
{
    (void)io, (void)block, (void)count, (void)data;
    return EXT2_ET_RO_FILSYS;
}

static errcode_t part_write(io_channel io, unsigned long block, int count, const void *data)
{
    return part_write64(io, block, count, data);
}

static errcode_t part_flush(io_channel io)
{
    (void)io;
    return 0;
}

static struct struct_io_manager part_io = {
    .magic = EXT2_ET_MAGIC_IO_MANAGER, .name = "clonebay partition reader", .open = part_open,
    .close = part_close, .set_blksize = part_set_blksize, .read_blk = part_read, .write_blk = part_write,
    .flush = part_flush, .read_blk64 = part_read64, .write_blk64 = part_write64,
};

/* The filesystem, from its primary superblock or, when that is among the
 * unreadable sectors, from a backup where mke2fs puts the first one. */
static errcode_t ext_open(const struct owners_part *p, ext2_filsys *fs)
{
    static const struct { unsigned super, bs; } at[] = { { 0, 0 }, { 32768, 4096 }, { 8193, 1024 }, { 16384, 2048 } };
    char name[64];
    snprintf(name, sizeof(name), "clonebay-part:%p", (const void *)p);
    errcode_t first = 0;
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        /* Read-only, no journal replay, checksums not insisted on: damage is what we are here to find. */
        errcode_t e = ext2fs_open2(name, NULL, EXT2_FLAG_64BITS | EXT2_FLAG_IGNORE_CSUM_ERRORS, at[i].super,
                                   at[i].bs, &part_io, fs);
        if (!e)
            return 0;
        if (!first)
            first = e;
    }
    return first;
}

int fs_owners_ext(struct owners_part *p)
{
    ext2_filsys fs = NULL;
    errcode_t e = ext_open(p, &fs);
    if (e) {
        owners_add(p, FS_OWNER_UNRESOLVED, owners_bad_in(p, 0, p->size),
                   "could not be resolved: the ext filesystem cannot be opened (%s)", error_message(e));
        return 1;
    }
    struct ext_walk w = { .p = p, .fs = fs };
    uint64_t bs = fs->blocksize, nblocks = ext2fs_blocks_count(fs->super);
    if (nblocks * bs > p->size)
        nblocks = p->size / bs;
    p->rc = bad_units_build(&w.b, p, 0, bs, nblocks);
    owners_add(p, FS_OWNER_FREE, owners_bad_in(p, nblocks * bs, p->size - nblocks * bs),
               "free space (past the end of the filesystem)");
    if (p->rc) {
        ext2fs_close_free(&fs);
        return 1;
    }
    ext_metadata(&w);
    errcode_t bitmaps = ext2fs_read_block_bitmap(fs);
    unsigned garbage = 0;
    errcode_t scan = ext_inodes(&w, &garbage);
    if (!ext2fs_allocate_inode_bitmap(fs, "seen", &w.seen)) {
        walk_dir(&w, EXT2_ROOT_INO);
        ext2fs_free_inode_bitmap(w.seen);
    }
    struct hit *root = hit_of(&w, EXT2_ROOT_INO);
    if (root)
        root->names++, owners_add(p, FS_OWNER_FILE, root->bytes, "/ (the root directory)");
    for (size_t i = 0; i < w.nhits; i++)
        if (!w.hits[i].names)
            owners_add(p, FS_OWNER_UNRESOLVED, w.hits[i].bytes,
                       "a file or directory whose name could not be found (inode %u; its directory may be damaged)",
                       w.hits[i].ino);
    /* Whose inode lay in an unreadable part of an inode table cannot be known: say that is the likely cause. */
    bool itable_hit = false;
    for (dgrp_t g = 0; g < fs->group_desc_count && !itable_hit; g++) {
        blk64_t it = ext2fs_inode_table_loc(fs, g);
        itable_hit = it && it < nblocks && owners_bad_in(p, it * bs, (uint64_t)fs->inode_blocks_per_group * bs);
    }
    char why[512];
    snprintf(why, sizeof(why), "could not be resolved: in use, but no file was found that owns it%s%s%s",
             scan ? " (the inode tables could not be read to the end: " : itable_hit ?
             " (its file's inode was probably in the unreadable part of the inode table)" :
             garbage ? " (damaged inodes were skipped)" : "",
             scan ? error_message(scan) : "", scan ? ")" : "");
    if (bitmaps)
        snprintf(why, sizeof(why), "could not be resolved: no file owns it and the block bitmap cannot be read "
                 "to tell whether it is free (%s)", error_message(bitmaps));
    bad_units_rest(p, &w.b, bitmaps ? NULL : ext_free, &w, why);
    free(w.hits);
    bad_units_free(&w.b);
    ext2fs_close_free(&fs);
    return 1;
}

bool ext_sniff(const struct owners_part *p, char *fstype, size_t len)
{
    char name[64];
    struct ext2_super_block sb;
    snprintf(name, sizeof(name), "clonebay-part:%p", (const void *)p);
    if (ext_super_read(&part_io, name, NULL, &sb))
        return false;
    snprintf(fstype, len, "%s", ext_name_of(&sb));
    return true;
}
