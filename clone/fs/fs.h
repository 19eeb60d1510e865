/* clone/fs: what clonebay knows of each filesystem, one file per filesystem
 * (ext.c, fat.c, ntfs.c, swap.c, iso9660_owners.c, encrypted.c, named.c), each a row
 * of one const table (fs.c), as partclone keeps one file per filesystem and
 * libblkid registers its probers. A filesystem is named as blkid names it
 * ("ext4", "vfat", "ntfs", "swap", "iso9660", "crypto_LUKS"); a member left
 * NULL is something clonebay does not do with that filesystem.
 *
 *   ext2/3/4   used blocks from the block bitmaps (libext2fs); grow and
 *              shrink: resize2fs (after e2fsck -f)
 *   vfat       FAT12/16/32: boot area, FATs and root directory, then used
 *              clusters; grow, shrink in a scratch file (used mode):
 *              clone/fs/fat_resize (fatresize 1.1.0 asserts on simple layouts)
 *   ntfs       its $Bitmap, through libntfs-3g (clone/fs/ntfs.c); grow;
 *              shrink in a scratch file (used mode): ntfsresize
 *   swap       the first page only: its header with the UUID and label is all
 *              a swap area holds across a reboot; any size: re-created by
 *              mkswap with the same UUID and label
 *   iso9660    discs: which files own an unreadable sector (fs_owners)
 *   crypto_LUKS, BitLocker   nothing readable: copied whole, keep their size
 *   exfat, xfs, btrfs   named (fs_owners says it cannot look into them), and
 *              a store of images may live on them; copied whole
 *   others     not understood: copied whole, keep their size */
#ifndef CB_FS_FS_H
#define CB_FS_FS_H

#include "clone/block_map.h"
#include "clone/layout.h"
#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct owners_part;

/* How a machine mounts it read-only (jobs/image_mount): the kernel's driver
 * (mount(2)'s type and data), a FUSE program (and its -o), which of them is
 * tried first, and what to say when neither is here (NULL: why the kernel
 * refused). */
struct fs_mount {
    const char *kernel, *kernel_data;
    const char *fuse, *fuse_opts;
    bool fuse_first;
    const char *missing;
};

struct fs_ops {
    const char *name;                   /* for the table's readers: "ext", "vfat", ... */
    bool holds_files;                   /* a drive with it can hold a store of images (jobs/store) */
    bool (*probe)(const char *fstype);  /* whether blkid's name for a filesystem is this one */
    /* Encrypted: nothing in it says what is used; copied whole at its size
     * ("LUKS-encrypted"). NULL for the others. */
    const char *encrypted;

    /* Used blocks, as fs_used_trusted and fs_used_mark (which asks trusted
     * first, so used only reads the bitmaps): 1, 0 with why, or -errno. */
    int (*trusted)(const char *path, uint64_t off, uint64_t size, char *why, size_t why_len);
    int (*used)(const char *path, uint64_t off, uint64_t size, struct block_map *domain, char *why,
                size_t why_len);
    /* Its resizer marks it for a check on purpose (ntfsresize: Windows runs
     * chkdsk once), so the copy it wrote is read without trusted. */
    bool resize_marks_dirty;

    /* Resizing (NULL resize: the filesystem keeps its size). */
    int (*min_size)(const char *path, uint64_t off, uint64_t size, const char *node, uint64_t *min);
    /* The least and the most it can be resized to, for a filesystem whose
     * type caps its size (FAT: its cluster count; NULL: no cap but the
     * partition's); 0, or -errno with why. */
    int (*limits)(const char *path, uint64_t off, uint64_t size, uint64_t *min, uint64_t *max, char *why,
                  size_t why_len);
    /* The least it fits in when only its used bytes are known (an image). */
    uint64_t (*min_of_used)(uint64_t used);
    int (*resize)(const char *node, uint64_t new_size, const char *uuid, const char *label, char *log,
                  size_t log_len, struct cb_error *err);
    const char *resizer;                /* "resize2fs": what shrank it, for the job's notes */
    bool recreated;                     /* made anew at any size (swap): no data to keep, no scratch file */

    /* When its used blocks cannot be believed (trusted says 0): the fit it
     * keeps, whether even growing waits for it, what the operator can do,
     * and (when it keeps its size) how it can grow later. */
    enum layout_fit untrusted_fit;
    bool untrusted_no_grow;
    const char *remedy;
    const char *grow_later;

    /* fs_owners: which filesystem a partition's own bytes hold (its blkid
     * name into fstype; false: not this one), or, for one known only by
     * name, the magic bytes at a byte of it that say it is (the row's name);
     * and who owns its bad ranges (1 read, 0 not this filesystem after all). */
    bool (*sniff)(const struct owners_part *p, char *fstype, size_t len);
    struct { uint32_t at; const char *bytes; } magic;
    int (*owners)(struct owners_part *p);
    const char *holds_no_files;         /* what its bad bytes are when no file can be there */

    struct fs_mount mount;              /* .kernel and .fuse NULL: clonebay does not mount it */
};

/* The ops of the filesystem blkid calls fstype; NULL for one clonebay knows
 * nothing about (or ""). */
const struct fs_ops *fs_ops_find(const char *fstype);
/* The table, for the readers that try each filesystem (fs_owners' probe). */
const struct fs_ops *const *fs_ops_all(size_t *n);

/* The rows, each defined in its filesystem's file. */
extern const struct fs_ops fs_ext_ops, fs_fat_ops, fs_ntfs_ops, fs_swap_ops, fs_iso9660_ops, fs_luks_ops,
    fs_bitlocker_ops, fs_exfat_ops, fs_xfs_ops, fs_btrfs_ops;

/* ---- used blocks, so `--mode used` copies only those (the engine's domain) ---- */

/* Mark the used ranges of the filesystem in [off, off+size) of the device at
 * path as MAP_FINISHED ("in the domain") in domain. 1 when the filesystem was
 * understood, 0 when not or when its bitmaps cannot be trusted (nothing
 * marked, why says why), -errno (why filled) on an error. */
int fs_used_mark(const char *path, uint64_t off, uint64_t size, const char *fstype,
                 struct block_map *domain, char *why, size_t why_len);

/* fs_used_mark for a copy fstype's resizer has just written (ntfsresize marks
 * the volume for a check on purpose; its bitmap is the one it wrote). */
int fs_used_mark_resized(const char *path, uint64_t off, uint64_t size, const char *fstype,
                         struct block_map *domain, char *why, size_t why_len);

/* Whether the filesystem's own account of its used blocks can be believed.
 * A filesystem left in the middle of changes (an ext journal that needs
 * recovery, an ext not unmounted cleanly or with errors recorded, an NTFS
 * marked dirty, hibernated or with an unclean $LogFile, a FAT with its dirty
 * bit set) can hold data its bitmaps do not show yet. 1 when nothing says
 * otherwise, 0 when not (why says why, as a clause: "its journal needs
 * recovery ..."), -errno (why filled) when it cannot be read. fs_used_mark
 * asks it first and returns its 0. */
int fs_used_trusted(const char *path, uint64_t off, uint64_t size, const char *fstype, char *why, size_t why_len);

/* Filesystems fs_used_mark understands. */
bool fs_used_understood(const char *fstype);

/* "LUKS-encrypted" for an encrypted volume (copied whole), NULL otherwise. */
const char *fs_encrypted(const char *fstype);

/* ---- resizing ---- */

/* FIT_ANY for a filesystem clonebay can resize, FIT_FIXED otherwise. */
enum layout_fit fs_resize_fit(const char *fstype);

/* The least a filesystem in [off, off+size) of path fits in, in bytes: what
 * it uses, with room for the metadata resize2fs keeps, and for ext never less
 * than `resize2fs -P` (read-only) says when node (the partition's own device
 * node, or "") exists. 0 or -errno. */
int fs_resize_min(const char *path, uint64_t off, uint64_t size, const char *fstype, const char *node,
                  uint64_t *min);

/* Fit the filesystem on node (a partition or a scratch file) to new_size
 * bytes. uuid and label are the source's (for swap). The tools' output is
 * appended to log. 0, or -errno with err holding the tool's last words. */
int fs_resize_run(const char *node, const char *fstype, uint64_t new_size, const char *uuid, const char *label,
                  char *log, size_t log_len, struct cb_error *err);

/* For the filesystems' resize members: run one tool on node, its command
 * line and output appended to log. Exit codes up to ok_max count as success
 * (e2fsck: 1 means "corrected"). 0, or -errno with err naming the tool, node
 * and the tool's last line. */
int fs_run_step(const char *const argv[], const char *node, int ok_max, char *log, size_t log_len,
                struct cb_error *err);

#endif
