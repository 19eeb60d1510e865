/* faultdisk: a failing drive for tests (libfuse3).
 *
 * Serves one read-only file, MOUNTPOINT/disk, whose reads fail with EIO on
 * chosen byte ranges, after a chosen number of bytes (a dying drive or a pulled
 * cable), or past the end of a backing file (an optical disc's run-out), and
 * may be slowed down. Attached to a read-only loop device with
 * `losetup -r --direct-io=on`, it fails exactly like a disk with bad sectors.
 * Its content is reproducible: faultdisk_byte(offset), or a backing file's bytes.
 *
 *   faultdisk MOUNTPOINT --size 64M [--bad OFF:LEN]... [--latency-us N] [--bad-latency-us N]
 *             [--die-after BYTES] [--file PATH] [-f]
 *   faultdisk --dump FILE --size 64M        write the content it serves (no faults) */
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "common/units.h"

#define MAX_BAD 256

static struct {
    uint64_t size;
    struct { uint64_t off, len; } bad[MAX_BAD];
    int nbad;
    unsigned latency_us;
    unsigned bad_latency_us;        /* extra delay of a failing read: a drive retrying inside */
    uint64_t die_after;             /* 0: never */
    _Atomic uint64_t served;
    int file_fd;                    /* -1: generated content */
    uint64_t file_size;
} cfg = { .file_fd = -1 };

/* splitmix64 of the 8-byte word index: cheap, reproducible, incompressible. */
static uint64_t word_at(uint64_t index)
{
    uint64_t z = index + 0x9E3779B97F4A7C15ull;
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

static void generate(char *buf, size_t len, uint64_t off)
{
    for (size_t i = 0; i < len;) {
        uint64_t w = word_at((off + i) / 8);
        size_t in = (size_t)((off + i) % 8), n = 8 - in < len - i ? 8 - in : len - i;
        memcpy(buf + i, (char *)&w + in, n);
        i += n;
    }
}

static int fill(char *buf, size_t len, uint64_t off)
{
    if (cfg.file_fd < 0) {
        generate(buf, len, off);
        return 0;
    }
    if (off + len > cfg.file_size)
        return -EIO;                /* the run-out past the backing file */
    ssize_t r = pread(cfg.file_fd, buf, len, (off_t)off);
    return r == (ssize_t)len ? 0 : -EIO;
}

static int fd_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
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
    st->st_mode = S_IFREG | 0444;
    st->st_nlink = 1;
    st->st_size = (off_t)cfg.size;
    return 0;
}

static int fd_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
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

static int fd_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    if ((fi->flags & O_ACCMODE) != O_RDONLY)
        return -EROFS;
    fi->direct_io = 1;      /* no page cache in FUSE: every read reaches us */
    return 0;
}

static int fd_read(const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    uint64_t off = (uint64_t)offset;
    if (off >= cfg.size)
        return 0;
    if (len > cfg.size - off)
        len = (size_t)(cfg.size - off);
    if (cfg.latency_us)
        usleep(cfg.latency_us);
    int bad = cfg.die_after && atomic_load(&cfg.served) >= cfg.die_after;
    for (int i = 0; i < cfg.nbad && !bad; i++)
        bad = off < cfg.bad[i].off + cfg.bad[i].len && cfg.bad[i].off < off + len;
    if (bad) {
        if (cfg.bad_latency_us)
            usleep(cfg.bad_latency_us);
        return -EIO;
    }
    int rc = fill(buf, len, off);
    if (rc)
        return rc;
    atomic_fetch_add(&cfg.served, len);
    return (int)len;
}

static const struct fuse_operations ops = {
    .getattr = fd_getattr, .readdir = fd_readdir, .open = fd_open, .read = fd_read,
};

static int dump(const char *path)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (fd < 0)
        return 1;
    static char buf[1 << 20];
    for (uint64_t off = 0; off < cfg.size; off += sizeof(buf)) {
        size_t n = cfg.size - off < sizeof(buf) ? (size_t)(cfg.size - off) : sizeof(buf);
        if (fill(buf, n, off) || write(fd, buf, n) != (ssize_t)n)
            return 1;
    }
    return close(fd) ? 1 : 0;
}

static int need(const char *what, const char *v, uint64_t *out)
{
    if (!v || units_parse_bytes(v, out)) {
        fprintf(stderr, "faultdisk: %s needs a size, not '%s'\n", what, v ? v : "");
        return -1;
    }
    return 0;
}

int main(int argc, char **argv)
{
    char *fargv[16];
    int fargc = 0;
    const char *dump_to = NULL;
    fargv[fargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        uint64_t x, y;
        if (!strcmp(a, "--size")) {
            if (need(a, v, &cfg.size)) return 2;
            i++;
        } else if (!strcmp(a, "--bad")) {
            char off[64] = "", len[64] = "";
            if (!v || sscanf(v, "%63[^:]:%63s", off, len) != 2 || need(a, off, &x) || need(a, len, &y) ||
                cfg.nbad == MAX_BAD)
                return 2;
            cfg.bad[cfg.nbad].off = x;
            cfg.bad[cfg.nbad++].len = y;
            i++;
        } else if (!strcmp(a, "--latency-us")) {
            if (!v) return 2;
            cfg.latency_us = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--bad-latency-us")) {
            if (!v) return 2;
            cfg.bad_latency_us = (unsigned)strtoul(v, NULL, 10);
            i++;
        } else if (!strcmp(a, "--die-after")) {
            if (need(a, v, &cfg.die_after)) return 2;
            i++;
        } else if (!strcmp(a, "--file")) {
            cfg.file_fd = v ? open(v, O_RDONLY) : -1;
            if (cfg.file_fd < 0) {
                fprintf(stderr, "faultdisk: cannot open %s\n", v ? v : "");
                return 2;
            }
            cfg.file_size = (uint64_t)lseek(cfg.file_fd, 0, SEEK_END);
            if (!cfg.size)
                cfg.size = cfg.file_size;
            i++;
        } else if (!strcmp(a, "--dump")) {
            dump_to = v;
            i++;
        } else if (fargc < 12) {
            fargv[fargc++] = argv[i];
        }
    }
    if (!cfg.size) {
        fprintf(stderr, "faultdisk: --size is required\n");
        return 2;
    }
    if (dump_to)
        return dump(dump_to);
    fargv[fargc++] = "-o";
    fargv[fargc++] = "ro,default_permissions";
    fargv[fargc] = NULL;
    return fuse_main(fargc, fargv, &ops, NULL);
}
