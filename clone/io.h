/* io: opening sources and targets, and whole reads/writes at an offset.
 *
 * Sources are opened read-only, targets with O_EXCL (the kernel then refuses a
 * device that is mounted or claimed by another process, so two clonebay runs
 * can never write the same drive). Both use O_DIRECT where the device allows
 * it, so reads hit the media and the page cache neither lies nor fills up. */
#ifndef CB_IO_H
#define CB_IO_H

#include "common/cb_error.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define IO_ALIGN 4096

/* A target laid out differently from its source (partitions moved by a
 * resize): source bytes [src, src+len) live at dst. */
struct io_extent {
    uint64_t src, len, dst;
};
struct io_remap {
    const struct io_extent *ext;    /* sorted by src, not overlapping */
    size_t n;
};

struct io_dev {
    int fd;
    char path[256];
    uint64_t size;          /* bytes: device capacity, or file length */
    unsigned sector;        /* logical sector size (512 for files) */
    bool is_block;
    bool direct;            /* O_DIRECT is in effect */
    dev_t rdev;             /* device number (block) */
    dev_t st_dev;           /* (file) filesystem and inode, to spot the same file twice */
    ino_t ino;
    /* NULL, or every offset given to io_pread/io_pwrite/io_zeroout is a source
     * offset translated through it; one outside every extent is refused with
     * -ERANGE, so a planning mistake can never write where it should not. */
    const struct io_remap *remap;
};

int io_open_source(const char *path, struct io_dev *out, struct cb_error *err);
/* create: a regular file that does not exist yet may be created. */
int io_open_target(const char *path, bool create, struct io_dev *out, struct cb_error *err);
/* A second, read-only, direct descriptor for verifying what was written. */
int io_open_verify(const char *path, struct io_dev *out, struct cb_error *err);
void io_close(struct io_dev *dev);
/* The extent holding source offset off: its target offset and how many bytes
 * run on from there. -ERANGE when no extent holds off. */
int io_remap_find(const struct io_remap *m, uint64_t off, uint64_t *dst, uint64_t *run);

/* Read/write exactly len bytes at off; a short read at end of file returns
 * the bytes read. Unaligned tails fall back to buffered I/O. Return bytes or -errno. */
ssize_t io_pread(struct io_dev *dev, void *buf, size_t len, uint64_t off);
ssize_t io_pwrite(struct io_dev *dev, const void *buf, size_t len, uint64_t off);

/* Zero [off, off+len) of a block device without sending the zeros (BLKZEROOUT:
 * the drive's WRITE ZEROES, or a hole punched in a loop device's file; the
 * kernel writes zeros itself where neither exists). -EOPNOTSUPP for files. */
int io_zeroout(struct io_dev *dev, uint64_t off, uint64_t len);

/* Flush a target to the media (fsync; BLKFLSBUF for block devices). */
int io_flush(struct io_dev *dev);
/* Make what was written so far durable (fdatasync), without dropping caches:
 * the cheap flush taken before a map that calls it finished is saved. */
int io_sync(struct io_dev *dev);

/* true when a read's -errno means the device itself is gone (pulled cable,
 * no medium), not a bad sector: the job stops instead of rescuing around it. */
bool io_device_gone(int err);

/* true when all n bytes are zero (holes in sparse files, zero frames in images). */
bool io_is_zero(const void *buf, size_t n);

void *io_alloc(size_t len);
void io_free(void *p);

#endif
