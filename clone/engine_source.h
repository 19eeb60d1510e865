/* engine_source: what the engine reads, behind one set of operations.
 *
 * A drive or a file (a sector that does not read is a bad sector: the walk
 * skips it and comes back to rescue it), an image (decoded; a frame that does
 * not decode stops the job: it is damage, not a bad sector), or an image
 * arriving on a stream (read once, in order). The engine and the walk never
 * ask which: they read, and re-read where the source allows it. */
#ifndef CB_ENGINE_SOURCE_H
#define CB_ENGINE_SOURCE_H

#include "clone/io.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct engine_source_ops {
    /* 0: read whole; 1: unreadable sectors in the range (a drive's bad
     * sectors); -errno: the source is gone or damaged, why says so. */
    int (*read)(void *ctx, void *buf, size_t len, uint64_t off, char *why, size_t why_len);
    bool read_once;                 /* a stream: what went by is not read again */
};

struct engine_source {
    const struct engine_source_ops *ops;
    void *ctx;                      /* the io_dev, the image, the stream */
    struct io_dev *dev;             /* path, size and sector size (an image's: those of the disk it holds) */
};

/* A drive or a file read as it is. */
struct engine_source engine_source_dev(struct io_dev *dev);

/* What an image's reader said (rc, msg) as a source's read returns it: a
 * damaged image is not a bad sector to skip, the job stops there. */
int copy_source_image_rc(int rc, const char *msg, char *why, size_t why_len);

static inline int engine_source_read(const struct engine_source *s, void *buf, size_t len, uint64_t off, char *why,
                                   size_t why_len)
{
    return s->ops->read(s->ctx, buf, len, off, why, why_len);
}

#endif
