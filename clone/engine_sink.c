#include "clone/engine_sink.h"

#include <errno.h>
#include <stdlib.h>

/* A new file: leave holes where 64 KiB blocks are all zero. */
static ssize_t write_sparse(struct io_dev *d, const unsigned char *buf, size_t len, uint64_t off)
{
    const size_t blk = 64u << 10;
    size_t i = 0;
    while (i < len) {
        size_t n = len - i < blk ? len - i : blk;
        if (io_is_zero(buf + i, n)) {
            i += n;
            continue;
        }
        size_t run = i;             /* a run of non-zero blocks, written at once */
        while (i < len) {
            n = len - i < blk ? len - i : blk;
            if (io_is_zero(buf + i, n))
                break;
            i += n;
        }
        ssize_t w = io_pwrite(d, buf + run, i - run, off + run);
        if (w < 0)
            return w;
    }
    return (ssize_t)len;
}

static ssize_t dev_put(struct engine_target *t, const void *buf, size_t len, uint64_t off, bool known_zeros)
{
    if (t->sparse)      /* a new file: a hole reads as zeros */
        return known_zeros ? (ssize_t)len : write_sparse(&t->dev, buf, len, off);
    /* Zeros need not travel: BLKZEROOUT (restores of sparse images, empty disks, unused
     * inode tables). Known zeros must still land on a drive: it may hold a previous
     * owner's bytes where the filesystem believes there are zeros. */
    bool zeros = !t->no_zeroout && t->dev.is_block && (known_zeros || (len >= (64u << 10) && io_is_zero(buf, len)));
    if (zeros && io_zeroout(&t->dev, off, len) == 0)
        return (ssize_t)len;
    if (zeros)
        t->no_zeroout = true;       /* refused once: plain writes from now on */
    return io_pwrite(&t->dev, buf, len, off);
}

static int dev_checkpoint(struct engine_target *t)
{
    return io_sync(&t->dev);
}

static int dev_finish(struct engine_target *t, bool complete, char *why, size_t why_len)
{
    (void)complete, (void)why, (void)why_len;
    return io_flush(&t->dev);
}

struct dev_reader {
    struct sink_reader r;
    struct io_dev dev;
};

static ssize_t dev_read(struct sink_reader *r, void *buf, size_t len, uint64_t off)
{
    return io_pread(&((struct dev_reader *)r)->dev, buf, len, off);
}

static void dev_close(struct sink_reader *r)
{
    io_close(&((struct dev_reader *)r)->dev);
    free(r);
}

/* From the media (direct I/O), where the writer wrote (its remap). */
static int dev_open_reader(struct engine_target *t, bool sealed, struct sink_reader **out, struct cb_error *err)
{
    (void)sealed;
    struct dev_reader *d = calloc(1, sizeof(*d));
    if (!d)
        return cb_error_set(err, -ENOMEM, "out of memory");
    d->dev.fd = -1;
    int rc = io_open_verify(t->dev.path, &d->dev, err);
    if (rc) {
        free(d);
        return rc;
    }
    d->dev.remap = t->dev.remap;
    d->r = (struct sink_reader){ .read = dev_read, .close = dev_close };
    *out = &d->r;
    return 0;
}

const struct engine_sink_ops engine_sink_dev_ops = {
    .put = dev_put, .checkpoint = dev_checkpoint, .finish = dev_finish, .open_reader = dev_open_reader,
};
