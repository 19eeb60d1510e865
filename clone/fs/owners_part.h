/* fs_owners' shared part for its per-filesystem files (ext_owners.c,
 * fat_owners.c, ntfs_owners.c, iso9660_owners.c): the bad ranges of one
 * partition, and the list they add their findings to (owners_part.c). It
 * needs only the list's types (owner_list.h), never the lookup's header
 * (owners.h), so the lookup (owners.c) can include it without a circle. */
#ifndef CB_FS_OWNERS_PART_H
#define CB_FS_OWNERS_PART_H

#include "clone/fs/owner_list.h"

#include <stdbool.h>

struct bad_span {
    uint64_t pos, len;      /* bytes from the partition's start */
};

struct owners_part {
    fs_owners_read_fn rd;   /* the disk's bytes */
    void *rctx;
    const char *name;       /* the disk, for messages */
    int number;
    uint64_t off, size;     /* the partition, bytes on the disk */
    char fstype[16];
    const struct bad_span *bad;     /* sorted, disjoint, inside the partition */
    size_t nbad;
    struct fs_owner_list *out;
    int rc;                 /* -ENOMEM once anything could not be recorded */
};

/* Read [pos, pos+len) of the partition: 0 or -errno. */
int owners_read(const struct owners_part *p, void *buf, size_t len, uint64_t pos);
/* Unreadable bytes in [pos, pos+len) of the partition. */
uint64_t owners_bad_in(const struct owners_part *p, uint64_t pos, uint64_t len);
/* Add bytes (when not 0) to the entry of kind named by fmt, made once; why
 * as in struct fs_owner. */
void owners_add_why(struct owners_part *p, enum fs_owner_kind kind, uint64_t bytes, const char *why,
                    const char *fmt, ...) __attribute__((format(printf, 5, 6)));
#define owners_add(p, kind, bytes, ...) owners_add_why(p, kind, bytes, NULL, __VA_ARGS__)

/* The bad units (blocks, clusters) of a filesystem whose unit 0 is at byte
 * base of the partition: which of them some owner has claimed already, so
 * what is left at the end is free space or could not be resolved. Memory
 * grows with the bad units, not with the filesystem. */
struct bad_units {
    uint64_t base, unit, nunits;
    struct unit_run { uint64_t first, count, index; } *runs;
    size_t nruns;
    /* One per bad unit, in run order: the last owner that claimed it (0:
     * none), so a damaged map naming a unit twice (a looping chain, a block
     * listed twice) counts it once for that owner. */
    uint32_t *owner;
    uint32_t current;       /* the owner claiming now (bad_units_next_owner) */
};

/* 0 or -ENOMEM. */
int bad_units_build(struct bad_units *b, const struct owners_part *p, uint64_t base, uint64_t unit, uint64_t nunits);
void bad_units_free(struct bad_units *b);
/* Whether any unit of [first, first+count) is bad: cheap, for the walks. */
bool bad_units_any(const struct bad_units *b, uint64_t first, uint64_t count);
/* From here on claims are for a new owner (a file, a metadata area). */
void bad_units_next_owner(struct bad_units *b);
/* The unreadable bytes of units [first, first+count) the current owner has
 * not claimed yet; they are marked as its own. Several owners may claim one
 * unit (shared blocks, cross-linked clusters). */
uint64_t bad_units_claim(const struct owners_part *p, struct bad_units *b, uint64_t first, uint64_t count);
/* Everything not claimed: free space when is_free says so (is_free NULL:
 * never), else "could not be resolved" with why. */
void bad_units_rest(struct owners_part *p, struct bad_units *b, bool (*is_free)(void *ctx, uint64_t unit),
                    void *ctx, const char *why);

/* One per filesystem, for its row of the table (clone/fs/fs.h): 1 when it
 * read the filesystem (whatever it found damaged is in the list), 0 when it
 * is not this filesystem at all. */
int fs_owners_ext(struct owners_part *p);
int fs_owners_fat(struct owners_part *p);
int fs_owners_ntfs(struct owners_part *p);
int fs_owners_iso(struct owners_part *p);
/* Whether the partition's own first bytes are this filesystem's (its blkid
 * name into fstype). */
bool ext_sniff(const struct owners_part *p, char *fstype, size_t len);
bool fat_sniff(const struct owners_part *p, char *fstype, size_t len);
bool ntfs_sniff(const struct owners_part *p, char *fstype, size_t len);

/* One UCS-2 character as UTF-8 into out (room for 3 bytes); bytes written. */
size_t fs_put_utf8(char *out, uint16_t u);

#endif
