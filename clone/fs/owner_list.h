/* What fs_owners finds: the list of owners of unreadable bytes (one entry
 * per owner, however many bad ranges hit it), and the reader a disk is
 * looked up through. The types the lookup (owners.c) and the
 * per-filesystem files (owners_part.h) share, so neither includes the
 * other's header. */
#ifndef CB_FS_OWNER_LIST_H
#define CB_FS_OWNER_LIST_H

#include <stddef.h>
#include <stdint.h>

enum fs_owner_kind {
    FS_OWNER_METADATA,      /* the filesystem's own structures: they matter more than any one file */
    FS_OWNER_FILE,          /* a file or directory, by its path */
    FS_OWNER_UNRESOLVED,    /* in use, but its owner could not be found: name says why */
    FS_OWNER_FREE,          /* free space: nothing was lost */
    FS_OWNER_OUTSIDE,       /* outside every partition (the table, gaps) */
};

struct fs_owner {
    enum fs_owner_kind kind;
    int partition;          /* its number on the disk; 0 for a whole-disk filesystem or outside */
    char fstype[16];        /* "ext4", "vfat", "ntfs", "" */
    char *name;             /* a path ("/home/ann/thesis.odt"), what the metadata is, or why not resolved */
    uint64_t bytes;         /* unreadable bytes in it */
    const char *why;        /* NULL, or why more is lost than these bytes (a constant sentence) */
};

struct fs_owner_list {
    struct fs_owner *v;     /* sorted: by partition, then kind, then name */
    size_t count, cap;
    size_t *slots;          /* hash index into v while it is built */
    size_t nslots;
};

/* A disk's bytes [off, off+len): 0 or -errno. A drive, or a compressed
 * image decoded as it is read. */
typedef int (*fs_owners_read_fn)(void *ctx, void *buf, size_t len, uint64_t off);

/* Add bytes to the entry (part, kind, name), made once with fstype and why.
 * 0 or -ENOMEM. */
int fs_owner_list_add(struct fs_owner_list *l, int part, const char *fstype, enum fs_owner_kind kind,
                      const char *name, uint64_t bytes, const char *why);
/* Done adding: the index is dropped and the entries sorted. */
void fs_owner_list_finish(struct fs_owner_list *l);
void fs_owners_free(struct fs_owner_list *l);

/* "metadata", "file", "unresolved", "free", "outside". */
const char *fs_owner_kind_name(enum fs_owner_kind k);

#endif
