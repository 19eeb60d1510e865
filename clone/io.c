#include "clone/io.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

static int fill_geometry(struct io_dev *d, struct cb_error *err)
{
    struct stat st;
    if (fstat(d->fd, &st) != 0)
        return cb_error_set(err, -errno, "cannot stat %s: %s", d->path, strerror(errno));
    d->is_block = S_ISBLK(st.st_mode);
    d->sector = 512;
    if (d->is_block) {
        d->rdev = st.st_rdev;
        uint64_t size = 0;
        int ss = 0;
        if (ioctl(d->fd, BLKGETSIZE64, &size) != 0)
            return cb_error_set(err, -errno, "cannot read the size of %s: %s", d->path, strerror(errno));
        if (ioctl(d->fd, BLKSSZGET, &ss) == 0 && ss > 0)
            d->sector = (unsigned)ss;
        d->size = size;
    } else if (S_ISREG(st.st_mode)) {
        d->size = (uint64_t)st.st_size;
        d->st_dev = st.st_dev;
        d->ino = st.st_ino;
    } else {
        return cb_error_set(err, -EINVAL, "%s is neither a block device nor a regular file", d->path);
    }
    return 0;
}

/* Open with O_DIRECT, and without it where the filesystem refuses (tmpfs). */
static int open_maybe_direct(struct io_dev *d, const char *path, int flags, mode_t mode)
{
    memset(d, 0, sizeof(*d));
    d->fd = -1;
    snprintf(d->path, sizeof(d->path), "%s", path);
    d->fd = open(path, flags | O_DIRECT | O_CLOEXEC, mode);
    d->direct = d->fd >= 0;
    if (d->fd < 0 && errno == EINVAL)
        d->fd = open(path, flags | O_CLOEXEC, mode);
    return d->fd < 0 ? -errno : 0;
}

int io_open_source(const char *path, struct io_dev *d, struct cb_error *err)
{
    int rc = open_maybe_direct(d, path, O_RDONLY, 0);
    if (rc)
        return cb_error_set(err, rc, "cannot open source %s: %s", path, strerror(-rc));
    rc = fill_geometry(d, err);
    if (rc)
        io_close(d);
    return rc;
}

int io_open_target(const char *path, bool create, struct io_dev *d, struct cb_error *err)
{
    /* O_EXCL on a block device claims it: refused when mounted or claimed by
     * another process. On a file it means "create"; never truncate either. */
    struct stat st;
    bool exists = stat(path, &st) == 0;
    int flags = O_WRONLY;
    if (exists && S_ISBLK(st.st_mode))
        flags |= O_EXCL;
    else if (!exists && create)
        flags |= O_CREAT | O_EXCL;
    int rc = open_maybe_direct(d, path, flags, 0644);
    if (rc == -EBUSY)
        return cb_error_set(err, rc, "target %s is in use (mounted, or claimed by another program "
                            "such as a second clonebay)", path);
    if (rc)
        return cb_error_set(err, rc, "cannot open target %s for writing: %s", path, strerror(-rc));
    rc = fill_geometry(d, err);
    if (rc)
        io_close(d);
    return rc;
}

int io_open_verify(const char *path, struct io_dev *d, struct cb_error *err)
{
    int rc = open_maybe_direct(d, path, O_RDONLY, 0);
    if (rc)
        return cb_error_set(err, rc, "cannot reopen %s to verify it: %s", path, strerror(-rc));
    rc = fill_geometry(d, err);
    if (rc) {
        io_close(d);
        return rc;
    }
    /* Without O_DIRECT, drop what the page cache holds so we read the media. */
    if (!d->direct) {
        if (d->is_block)
            ioctl(d->fd, BLKFLSBUF, 0);
        posix_fadvise(d->fd, 0, 0, POSIX_FADV_DONTNEED);
    }
    return 0;
}

void io_close(struct io_dev *d)
{
    if (d->fd >= 0)
        close(d->fd);
    d->fd = -1;
}

/* O_DIRECT needs sector-aligned offsets and lengths: switch it off for a tail. */
static void leave_direct(struct io_dev *d)
{
    int fl = fcntl(d->fd, F_GETFL);
    if (fl >= 0 && fcntl(d->fd, F_SETFL, fl & ~O_DIRECT) == 0)
        d->direct = false;
}

static bool aligned(const struct io_dev *d, const void *buf, size_t len, uint64_t off)
{
    /* The kernel needs sector alignment for O_DIRECT (dma alignment is at most that). */
    return ((uintptr_t)buf % d->sector) == 0 && len % d->sector == 0 && off % d->sector == 0;
}

static ssize_t raw_pread(struct io_dev *d, void *buf, size_t len, uint64_t off)
{
    if (d->direct && !aligned(d, buf, len, off))
        leave_direct(d);
    size_t got = 0;
    while (got < len) {
        ssize_t r = pread(d->fd, (char *)buf + got, len - got, (off_t)(off + got));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            break;
        got += (size_t)r;
    }
    return (ssize_t)got;
}

static ssize_t raw_pwrite(struct io_dev *d, const void *buf, size_t len, uint64_t off)
{
    if (d->direct && !aligned(d, buf, len, off))
        leave_direct(d);
    size_t done = 0;
    while (done < len) {
        ssize_t r = pwrite(d->fd, (const char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0) {
            if (errno == EINTR)
                continue;
            return -errno;
        }
        if (r == 0)
            return -ENOSPC;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

int io_flush(struct io_dev *d)
{
    if (fsync(d->fd) != 0)
        return -errno;
    if (d->is_block)
        ioctl(d->fd, BLKFLSBUF, 0);
    return 0;
}

int io_sync(struct io_dev *d)
{
    return fdatasync(d->fd) != 0 ? -errno : 0;
}

void *io_alloc(size_t len)
{
    void *p = NULL;
    if (posix_memalign(&p, IO_ALIGN, len ? len : IO_ALIGN) != 0)
        return NULL;
    return p;
}

void io_free(void *p)
{
    free(p);
}

bool io_is_zero(const void *buf, size_t n)
{
    const unsigned char *p = buf;
    /* The first byte is zero and every byte equals the next: memcmp runs at memory speed. */
    return n == 0 || (p[0] == 0 && memcmp(p, p + 1, n - 1) == 0);
}

static int raw_zeroout(struct io_dev *d, uint64_t off, uint64_t len)
{
    if (!d->is_block || off % d->sector || len % d->sector)
        return -EOPNOTSUPP;
    uint64_t range[2] = { off, len };
    return ioctl(d->fd, BLKZEROOUT, range) == 0 ? 0 : -errno;
}

bool io_device_gone(int err)
{
    return err == -ENODEV || err == -ENXIO || err == -ENOMEDIUM;
}

int io_remap_find(const struct io_remap *m, uint64_t off, uint64_t *dst, uint64_t *run)
{
    for (size_t i = 0; i < m->n; i++) {
        const struct io_extent *e = &m->ext[i];
        if (off >= e->src && off - e->src < e->len) {
            *dst = e->dst + (off - e->src);
            *run = e->len - (off - e->src);
            return 0;
        }
    }
    return -ERANGE;
}

/* One request through the remap, split where extents end. */
static ssize_t remapped(struct io_dev *d, void *rbuf, const void *wbuf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        uint64_t dst, run;
        int rc = io_remap_find(d->remap, off + done, &dst, &run);
        if (rc)
            return rc;
        size_t n = run < len - done ? (size_t)run : len - done;
        ssize_t r;
        if (rbuf)
            r = raw_pread(d, (char *)rbuf + done, n, dst);
        else if (wbuf)
            r = raw_pwrite(d, (const char *)wbuf + done, n, dst);
        else
            r = raw_zeroout(d, dst, n) ? -1 : (ssize_t)n;
        if (r < 0)
            return wbuf || rbuf ? r : -EOPNOTSUPP;
        done += (size_t)r;
        if ((size_t)r < n)
            break;          /* end of the device */
    }
    return (ssize_t)done;
}

ssize_t io_pread(struct io_dev *d, void *buf, size_t len, uint64_t off)
{
    return d->remap ? remapped(d, buf, NULL, len, off) : raw_pread(d, buf, len, off);
}

ssize_t io_pwrite(struct io_dev *d, const void *buf, size_t len, uint64_t off)
{
    return d->remap ? remapped(d, NULL, buf, len, off) : raw_pwrite(d, buf, len, off);
}

int io_zeroout(struct io_dev *d, uint64_t off, uint64_t len)
{
    if (!d->remap)
        return raw_zeroout(d, off, len);
    ssize_t r = remapped(d, NULL, NULL, (size_t)len, off);
    return r < 0 ? (int)r : 0;
}
