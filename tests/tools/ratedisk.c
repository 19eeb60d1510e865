/* ratedisk: a drive with its own media speed, for benchmarks (libfuse3).
 *
 * All loop devices of the test machines sit on one virtual disk, so a copy
 * between two of them competes with itself and a duplicator's overlap of reads
 * and writes cannot show. This drive serves MOUNTPOINT/disk, read-write, one
 * request at a time (a mutex held for the whole request), and each request
 * takes len/rate seconds: the data is moved first, then the request sleeps
 * until the drive's "busy until" clock. Two of these are two independent disks;
 * what limits a copy between them is the copier, not the machine's disk.
 *
 * Put the backing file on tmpfs (/dev/shm) so that the "media" costs memory
 * bandwidth only. Attach with `losetup --direct-io=on`: the loop then sends
 * O_DIRECT requests (AIO, several in flight) that reach FUSE without any page
 * cache, and the file is opened FOPEN_DIRECT_IO so that FUSE does not cache
 * either. In-flight requests queue on the mutex, as on a drive with a command
 * queue, which keeps the media busy between them.
 *
 *   ratedisk MOUNTPOINT --rate MBPS --file PATH [--slack-us N] [-f]
 *   ratedisk MOUNTPOINT --rate MBPS --size SIZE [--slack-us N] [-f]
 * --rate is decimal MB/s (10^6 bytes, like drive specs and dd), fractions allowed.
 * With --file the drive is read-write over PATH (its size is the drive's size).
 * Without, reads return faultdisk's reproducible content and writes are
 * discarded (a source that costs no memory; a clone onto it cannot verify).
 * --slack-us (default 1000): a request arriving within that time of the drive
 * going idle is taken as queued (see media()).
 * MOUNTPOINT/stats reads as one line of counters (also printed on stderr at
 * unmount): requests and bytes, their mean and largest size; how many found the
 * drive idle rather than queued, and the idle time before them (idle_ns: the
 * drive waited for the host); "late", the requests whose I/O alone took longer
 * than the rate allows (the machine, not the model, set their speed: lower the
 * rate); read_busy_ns and write_busy_ns, the media time charged so far (their
 * growth over a job's wall time is the drive's utilization: 1.0 means the
 * drive, not the host, set the pace); read_depth and write_depth, the most
 * requests seen inside the drive at once (1: the kernel sent them one by one,
 * and every round trip idles the drive). */
#define FUSE_USE_VERSION 31
#include <fuse.h>

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "common/units.h"

static struct {
    uint64_t size;
    double rate;                    /* bytes per second */
    int64_t slack_ns;
    int file_fd;                    /* -1: generated content, writes discarded */
    pthread_mutex_t mu;             /* the drive's one head: held for a whole request */
    int64_t busy_until;             /* guarded by mu, CLOCK_MONOTONIC ns */
    uint64_t reads, writes, read_bytes, write_bytes, max_req, late, queued, idle;
    _Atomic int inflight;           /* requests inside the drive, waiting or served */
    int max_inflight[2];            /* deepest queue seen by reads, writes (under mu) */
    int64_t busy_ns[2];             /* media time charged to reads, writes: utilization = growth / wall */
    int64_t idle_ns;                /* gaps longer than the slack: the drive waited for the host */
} d = { .file_fd = -1, .slack_ns = 1000000, .mu = PTHREAD_MUTEX_INITIALIZER };

static int64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000000 + ts.tv_nsec;
}

/* The same splitmix64 content as faultdisk, so `faultdisk --dump` is this
 * drive's content too. */
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

static int full_pread(char *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pread(d.file_fd, buf + done, len - done, (off_t)(off + done));
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    return 0;
}

static int full_pwrite(const char *buf, size_t len, uint64_t off)
{
    for (size_t done = 0; done < len;) {
        ssize_t r = pwrite(d.file_fd, buf + done, len - done, (off_t)(off + done));
        if (r <= 0)
            return r < 0 ? -errno : -EIO;
        done += (size_t)r;
    }
    return 0;
}

/* One request on the media: move the bytes, then hold the drive until
 * len/rate seconds after the request started. A request that arrives within
 * the slack of the previous one's end counts as queued and starts at that end:
 * a real drive streams on between queued commands (read-ahead, write cache),
 * and the few microseconds the waiting thread needs to wake up are the host's,
 * not the media's. A longer pause leaves the drive idle, as dd's alternation
 * of reads and writes leaves each of its two drives idle half the time. */
static int media(int is_write, char *buf, size_t len, uint64_t off)
{
    int depth = atomic_fetch_add(&d.inflight, 1) + 1;
    pthread_mutex_lock(&d.mu);
    if (depth > d.max_inflight[is_write])
        d.max_inflight[is_write] = depth;
    int64_t arrived = now_ns(), start = arrived;
    if (start - d.busy_until <= d.slack_ns) {
        start = d.busy_until;
        d.queued++;
    } else {
        d.idle++;
        if (d.reads + d.writes)         /* before the first request the drive was not waiting */
            d.idle_ns += start - d.busy_until;
    }
    int64_t end = start + (int64_t)((double)len * 1e9 / d.rate);
    int rc = 0;
    if (is_write) {
        if (d.file_fd >= 0)
            rc = full_pwrite(buf, len, off);
        d.writes++;
        d.write_bytes += len;
    } else {
        if (d.file_fd >= 0)
            rc = full_pread(buf, len, off);
        else
            generate(buf, len, off);
        d.reads++;
        d.read_bytes += len;
    }
    if (len > d.max_req)
        d.max_req = len;
    int64_t done = now_ns();
    if (done - arrived > (int64_t)((double)len * 1e9 / d.rate))
        d.late++;
    if (done > end) {
        end = done;
    } else {
        struct timespec ts = { .tv_sec = end / 1000000000, .tv_nsec = end % 1000000000 };
        while (clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &ts, NULL) == EINTR)
            ;
    }
    d.busy_ns[is_write] += end - start;
    d.busy_until = end;
    atomic_fetch_sub(&d.inflight, 1);
    pthread_mutex_unlock(&d.mu);
    return rc;
}

/* MOUNTPOINT/stats: the counters as one line, so that a benchmark can take
 * the drive's utilization over one job without unmounting it. */
#define STATS_LEN 512

static void stats_line(char *out)
{
    pthread_mutex_lock(&d.mu);
    uint64_t n = d.reads + d.writes;
    int k = snprintf(out, STATS_LEN + 1,
                     "reads %" PRIu64 " read_bytes %" PRIu64 " writes %" PRIu64 " write_bytes %" PRIu64
                     " mean_request %" PRIu64 " largest %" PRIu64 " queued %" PRIu64 " idle %" PRIu64
                     " late %" PRIu64 " read_busy_ns %" PRId64 " write_busy_ns %" PRId64
                     " idle_ns %" PRId64 " read_depth %d write_depth %d",
                     d.reads, d.read_bytes, d.writes, d.write_bytes,
                     n ? (d.read_bytes + d.write_bytes) / n : 0, d.max_req, d.queued, d.idle, d.late,
                     d.busy_ns[0], d.busy_ns[1], d.idle_ns, d.max_inflight[0], d.max_inflight[1]);
    pthread_mutex_unlock(&d.mu);
    if (k < 0 || k > STATS_LEN - 1)
        k = STATS_LEN - 1;
    memset(out + k, ' ', (size_t)(STATS_LEN - 1 - k));  /* a fixed size: st_size must not lie */
    out[STATS_LEN - 1] = '\n';
}

static int rd_getattr(const char *path, struct stat *st, struct fuse_file_info *fi)
{
    (void)fi;
    memset(st, 0, sizeof(*st));
    if (strcmp(path, "/") == 0) {
        st->st_mode = S_IFDIR | 0755;
        st->st_nlink = 2;
        return 0;
    }
    st->st_nlink = 1;
    if (strcmp(path, "/stats") == 0) {
        st->st_mode = S_IFREG | 0444;
        st->st_size = STATS_LEN;
        return 0;
    }
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    st->st_mode = S_IFREG | 0644;
    st->st_size = (off_t)d.size;
    return 0;
}

static int rd_readdir(const char *path, void *buf, fuse_fill_dir_t filler, off_t off,
                      struct fuse_file_info *fi, enum fuse_readdir_flags flags)
{
    (void)off; (void)fi; (void)flags;
    if (strcmp(path, "/") != 0)
        return -ENOENT;
    filler(buf, ".", NULL, 0, 0);
    filler(buf, "..", NULL, 0, 0);
    filler(buf, "disk", NULL, 0, 0);
    filler(buf, "stats", NULL, 0, 0);
    return 0;
}

static int rd_open(const char *path, struct fuse_file_info *fi)
{
    if (strcmp(path, "/stats") == 0) {
        if ((fi->flags & O_ACCMODE) != O_RDONLY)
            return -EACCES;
        fi->direct_io = 1;
        return 0;
    }
    if (strcmp(path, "/disk") != 0)
        return -ENOENT;
    fi->direct_io = 1;      /* no page cache in FUSE: every byte crosses the media */
    return 0;
}

/* Clamped at the end of the drive, as a block device is: the loop never asks
 * past it, but a stray dd on the file should not grow the "disk". */
static size_t clamp(size_t len, uint64_t off)
{
    if (off >= d.size)
        return 0;
    return len > d.size - off ? (size_t)(d.size - off) : len;
}

static int rd_read(const char *path, char *buf, size_t len, off_t offset, struct fuse_file_info *fi)
{
    (void)fi;
    if (strcmp(path, "/stats") == 0) {
        char line[STATS_LEN + 1];
        stats_line(line);
        if (offset >= STATS_LEN)
            return 0;
        size_t n = STATS_LEN - (size_t)offset < len ? STATS_LEN - (size_t)offset : len;
        memcpy(buf, line + offset, n);
        return (int)n;
    }
    len = clamp(len, (uint64_t)offset);
    if (!len)
        return 0;
    int rc = media(0, buf, len, (uint64_t)offset);
    return rc ? rc : (int)len;
}

static int rd_write(const char *path, const char *buf, size_t len, off_t offset,
                    struct fuse_file_info *fi)
{
    (void)fi;
    if (strcmp(path, "/disk") != 0)
        return -EACCES;
    len = clamp(len, (uint64_t)offset);
    if (!len)
        return -ENOSPC;
    int rc = media(1, (char *)buf, len, (uint64_t)offset);
    return rc ? rc : (int)len;
}

/* The backing file is the media: what was written is on it. Its own durability
 * (tmpfs, or a file on the shared disk) is not the drive's business, and an
 * fsync of a file on the shared disk would bring back the contention this
 * drive exists to avoid. */
static int rd_fsync(const char *path, int datasync, struct fuse_file_info *fi)
{
    (void)path; (void)datasync; (void)fi;
    return 0;
}

static int rd_truncate(const char *path, off_t size, struct fuse_file_info *fi)
{
    (void)path; (void)fi;
    return (uint64_t)size == d.size ? 0 : -EPERM;   /* a drive has its size */
}

static void rd_destroy(void *private_data)
{
    (void)private_data;
    char line[STATS_LEN + 1];
    stats_line(line);
    int n = STATS_LEN - 1;
    while (n > 0 && line[n - 1] == ' ')
        n--;
    fprintf(stderr, "ratedisk: %.*s\n", n, line);
}

static const struct fuse_operations ops = {
    .getattr = rd_getattr, .readdir = rd_readdir, .open = rd_open, .read = rd_read,
    .write = rd_write, .fsync = rd_fsync, .truncate = rd_truncate, .destroy = rd_destroy,
};

int main(int argc, char **argv)
{
    char *fargv[16];
    int fargc = 0;
    fargv[fargc++] = argv[0];
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--size")) {
            if (!v || units_parse_bytes(v, &d.size)) {
                fprintf(stderr, "ratedisk: --size needs a size, not '%s'\n", v ? v : "");
                return 2;
            }
            i++;
        } else if (!strcmp(a, "--rate")) {
            char *endp = NULL;
            double mbps = v ? strtod(v, &endp) : 0;
            if (!v || *endp || !(mbps > 0)) {
                fprintf(stderr, "ratedisk: --rate needs MB/s, not '%s'\n", v ? v : "");
                return 2;
            }
            d.rate = mbps * 1e6;
            i++;
        } else if (!strcmp(a, "--slack-us")) {
            if (!v) return 2;
            d.slack_ns = (int64_t)strtoll(v, NULL, 10) * 1000;
            i++;
        } else if (!strcmp(a, "--file")) {
            d.file_fd = v ? open(v, O_RDWR) : -1;
            if (d.file_fd < 0) {
                fprintf(stderr, "ratedisk: cannot open %s\n", v ? v : "");
                return 2;
            }
            d.size = (uint64_t)lseek(d.file_fd, 0, SEEK_END);
            i++;
        } else if (fargc < 12) {
            fargv[fargc++] = argv[i];
        }
    }
    if (!d.size || !(d.rate > 0)) {
        fprintf(stderr, "usage: ratedisk MOUNTPOINT --rate MBPS (--file PATH | --size SIZE) "
                        "[--slack-us N] [-f]\n");
        return 2;
    }
    d.busy_until = now_ns() - 2 * d.slack_ns;
    fargv[fargc++] = "-o";
    fargv[fargc++] = "default_permissions";
    fargv[fargc] = NULL;
    return fuse_main(fargc, fargv, &ops, NULL);
}
