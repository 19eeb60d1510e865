#include "clone/engine_source.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/types.h>

static int dev_read(void *ctx, void *buf, size_t len, uint64_t off, char *why, size_t why_len)
{
    struct io_dev *dev = ctx;
    ssize_t r = io_pread(dev, buf, len, off);
    if (r == (ssize_t)len)
        return 0;
    if (r < 0 && io_device_gone((int)r)) {
        snprintf(why, why_len, "source %s stopped answering at byte %llu: %s", dev->path, (unsigned long long)off,
                 strerror((int)-r));
        return (int)r;
    }
    /* EIO, ENODATA (NVMe), EILSEQ, a short read inside the device: a bad sector. */
    return 1;
}

static const struct engine_source_ops dev_ops = { .read = dev_read };

struct engine_source engine_source_dev(struct io_dev *dev)
{
    return (struct engine_source){ .ops = &dev_ops, .ctx = dev, .dev = dev };
}

int copy_source_image_rc(int rc, const char *msg, char *why, size_t why_len)
{
    if (rc)
        snprintf(why, why_len, "%s", msg);
    return rc < 0 ? rc : rc ? -EIO : 0;
}
