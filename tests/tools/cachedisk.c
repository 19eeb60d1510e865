/* cachedisk: a drive with a volatile write cache, for power-cut tests (libfuse3).
 *
 * Serves MOUNTPOINT/disk over a backing file. Writes stay in RAM until the file
 * is fsync'ed (or fdatasync'ed); only then do they reach the backing file, the
 * "media". Reads see the cache. SIGUSR1 "unplugs" the drive: the cache is lost
 * and from then on every request fails with EIO, as on a drive whose power was
 * cut; exiting (fusermount3 -u, SIGTERM) loses the cache too. So whatever a
 * program did not flush is gone, and a restart on the same file shows the media.
 *
 * Put a loop device over it (`losetup -f --show MOUNTPOINT/disk`, with or
 * without --direct-io=on): fsync or fdatasync on /dev/loopN makes the loop driver
 * fsync its backing file, which arrives here as the FUSE fsync op.
 * Closing the file (FUSE flush) does not write the cache: a drive does not flush
 * its cache because a program closed it, and a loop detach closes the file.
 * The cache may grow to the whole disk: the worst drive, which never writes back
 * on its own.
 *
 *   cachedisk MOUNTPOINT --file PATH [-f]
 * Log on stderr: one line per flush, and one on unplug with what it lost. */
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/uio.h>
#include <unistd.h>

#define PAGE 4096u

static struct {
    int fd;                         /* the media */
    uint64_t size;
    pthread_mutex_t mu;             /* guards shadow, dirty and the flush counters */
    unsigned char *shadow;          /* the cached bytes, at their disk offsets */
    unsigned char *dirty;           /* per page: the shadow holds it, the media does not */
    atomic_size_t ndirty;           /* dirty pages; read by the signal handler */
    unsigned long flushes;
    atomic_int unplugged;           /* set by the signal handler, never cleared */
} d = { .fd = -1, .mu = PTHREAD_MUTEX_INITIALIZER };

/* Async-signal-safe: only atomics and writev(2). The cache is not freed here (no
 * lock may be taken), but once the flag is set no request writes it out. */
static void unplug(int sig)
{
    (void)sig;
    atomic_store(&d.unplugged, 1);
    char num[24], *p = num + sizeof(num);
    uint64_t n = (uint64_t)atomic_load(&d.ndirty) * PAGE;
    do
        *--p = (char)('0' + n % 10);
    while (n /= 10);
    static char head[] = "cachedisk: unplugged, lost ", tail[] = " bytes not flushed\n";
    struct iovec v[] = { { head, sizeof(head) - 1 }, { p, (size_t)(num + sizeof(num) - p) },
                         { tail, sizeof(tail) - 1 } };
    if (writev(2, v, 3) < 0)
        return;         /* nowhere to say it; the drive is unplugged all the same */
}

/* The end of the run of pages from off (below end) that are all dirty or all clean. */
static uint64_t run_end(uint64_t off, uint64_t end)
{
    unsigned char state = d.dirty[off / PAGE];
    uint64_t next = (off / PAGE + 1) * PAGE;
    while (next < end && d.dirty[next / PAGE] == state)
        next += PAGE;
    return next < end ? next : end;
}

static int full_pread(void *buf, size_t len, uint64_t off)
{
    return pread(d.fd, buf, len, (off_t)off) == (ssize_t)len ? 0 : -EIO;
}

static int cd_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    memset(st, 0, sizeof(*st));
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    st->st_mode = S_IFREG | 0644;
    st->st_nlink = 1;
    st->st_size = (off_t)d.size;
    return 0;
}

static int cd_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off; (void)fi; (void)flags;
    if (strcmp(path, "/") != 0)
        return -ENOENT;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    filler(buf, "disk", NULL, 0, 0);
    return 0;
}

static int cd_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    fi->direct_io = 1;      /* no page cache in the kernel's FUSE: our cache is the only one */
    return 0;
}

static int cd_read(const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    uint64_t off = (uint64_t)offset;
    if (off >= d.size)
        return 0;
    if (len > d.size - off)
        len = (size_t)(d.size - off);
    int rc = 0;
    pthread_mutex_lock(&d.mu);
    if (atomic_load(&d.unplugged))
        rc = -EIO;
    for (uint64_t at = off, end = off + len; !rc && at < end;) {
        uint64_t next = run_end(at, end);
        if (d.dirty[at / PAGE])
            memcpy(buf + (at - off), d.shadow + at, (size_t)(next - at));
        else
            rc = full_pread(buf + (at - off), (size_t)(next - at), at);
        at = next;
    }
    pthread_mutex_unlock(&d.mu);
    return rc ? rc : (int)len;
}

static int cd_write(const char *path, const char *buf, size_t len, off_t offset, struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    uint64_t off = (uint64_t)offset;
    if (off >= d.size)
        return -ENOSPC;
    if (len > d.size - off)
        len = (size_t)(d.size - off);
    int rc = 0;
    pthread_mutex_lock(&d.mu);
    if (atomic_load(&d.unplugged))
        rc = -EIO;
    /* A page partly written must first hold what the media has around the write. */
    for (uint64_t p = off / PAGE; !rc && p * PAGE < off + len; p++) {
        uint64_t start = p * PAGE, n = d.size - start < PAGE ? d.size - start : PAGE;
        if (d.dirty[p])
            continue;
        if ((start < off || start + n > off + len) && (rc = full_pread(d.shadow + start, (size_t)n, start)))
            break;
        d.dirty[p] = 1;
        atomic_fetch_add(&d.ndirty, 1);
    }
    if (!rc)
        memcpy(d.shadow + off, buf, len);
    pthread_mutex_unlock(&d.mu);
    return rc ? rc : (int)len;
}

static int cd_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    int rc = 0;
    uint64_t bytes = 0;
    pthread_mutex_lock(&d.mu);
    /* Checked per run: a cut in the middle of a flush keeps only what was written. */
    for (uint64_t at = 0; !rc && at < d.size;) {
        if (atomic_load(&d.unplugged)) {
            rc = -EIO;
            break;
        }
        uint64_t next = run_end(at, d.size);
        if (d.dirty[at / PAGE]) {
            size_t n = (size_t)(next - at);
            if (pwrite(d.fd, d.shadow + at, n, (off_t)at) != (ssize_t)n)
                rc = -EIO;
            bytes += n;
        }
        at = next;
    }
    /* The backing file's own cache is the host's: it survives our "power cut". */
    if (!rc && (datasync ? fdatasync(d.fd) : fsync(d.fd)))
        rc = -errno;
    if (!rc) {
        memset(d.dirty, 0, (size_t)((d.size + PAGE - 1) / PAGE));
        atomic_store(&d.ndirty, 0);
        d.flushes++;
        fprintf(stderr, "cachedisk: flush %lu (%s): %llu bytes to the media\n", d.flushes,
                datasync ? "fdatasync" : "fsync", (unsigned long long)bytes);
    }
    pthread_mutex_unlock(&d.mu);
    return rc;
}

static const struct fuse_operations ops = {
    .getattr = cd_getattr, .readdir = cd_readdir, .open = cd_open,
    .read = cd_read, .write = cd_write, .fsync = cd_fsync,
};

int main(int argc, char **argv)
{
    char *fargv[16];
    int fargc = 0;
    const char *file = NULL;
    fargv[fargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--file") && i + 1 < argc)
            file = argv[++i];
        else if (fargc < 12)
            fargv[fargc++] = argv[i];
    }
    if (!file || (d.fd = open(file, O_RDWR)) < 0) {
        fprintf(stderr, "cachedisk: needs --file PATH, a file it can read and write\n");
        return 2;
    }
    d.size = (uint64_t)lseek(d.fd, 0, SEEK_END);
    size_t pages = (size_t)((d.size + PAGE - 1) / PAGE);
    /* calloc'ed: pages never written take no memory. */
    d.shadow = calloc(1, (size_t)(pages * PAGE));
    d.dirty = calloc(1, pages ? pages : 1);
    if (!d.shadow || !d.dirty) {
        fprintf(stderr, "cachedisk: out of memory for a %llu-byte cache\n", (unsigned long long)d.size);
        return 2;
    }
    struct sigaction sa = { .sa_handler = unplug, .sa_flags = SA_RESTART };
    sigemptyset(&sa.sa_mask);
    sigaction(SIGUSR1, &sa, NULL);
    fargv[fargc++] = "-o";
    fargv[fargc++] = "default_permissions";
    fargv[fargc] = NULL;
    int rc = fuse_main(fargc, fargv, &ops, NULL);
    /* Whatever is still dirty dies with us: never written. */
    free(d.shadow);
    free(d.dirty);
    close(d.fd);
    return rc;
}
