#include "clone/frame_cache.h"
#include "clone/image_read.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define FCACHE_MAX_SLOTS 8
#define RAW_UNIT (8u << 20)

struct slot {
    int64_t frame;              /* -1: empty */
    uint64_t used;              /* tick of the last read that touched it */
    unsigned char *buf;         /* frame_size bytes, decoded */
};

struct fcache {
    bool raw;
    int fd;                     /* raw only */
    uint64_t size;
    struct image img;           /* image only */
    struct slot slots[FCACHE_MAX_SLOTS];
    unsigned nslots;
    uint64_t tick;
    int64_t last_miss;          /* the frame last decoded, -1 none */
    unsigned char *damaged;     /* one bit per frame */
    struct fcache_stats st;
    void (*log)(void *, const char *);
    void *log_arg;
};

static int open_raw(struct fcache *c, const char *path, struct cb_error *err)
{
    c->fd = open(path, O_RDONLY | O_CLOEXEC);
    if (c->fd < 0)
        return cb_error_set(err, -errno, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    off_t end = lseek(c->fd, 0, SEEK_END);
    if (fstat(c->fd, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISBLK(st.st_mode)))
        return cb_error_set(err, -EINVAL, "%s is neither a file nor a drive", path);
    if (end <= 0)
        return cb_error_set(err, -EINVAL, "%s is empty", path);
    c->size = (uint64_t)end;
    return 0;
}

static int open_image(struct fcache *c, const char *path, unsigned slots, struct cb_error *err)
{
    int rc = image_open(&c->img, path, err);
    if (rc)
        return rc;
    c->size = c->img.meta.size;
    c->damaged = calloc(c->img.nframes / 8 + 1, 1);
    if (!c->damaged)
        return cb_error_set(err, -ENOMEM, "out of memory");
    c->nslots = slots < 1 ? 1 : slots > FCACHE_MAX_SLOTS ? FCACHE_MAX_SLOTS : slots;
    for (unsigned i = 0; i < c->nslots; i++) {
        c->slots[i].frame = -1;
        /* Same size as the reader's own dbuf: the two are swapped (see load). */
        if (!(c->slots[i].buf = malloc(c->img.meta.frame_size)))
            return cb_error_set(err, -ENOMEM, "out of memory for the frame cache");
    }
    return 0;
}

int fcache_open(struct fcache **out, const char *path, bool raw, unsigned slots, struct cb_error *err)
{
    struct fcache *c = calloc(1, sizeof(*c));
    if (!c)
        return cb_error_set(err, -ENOMEM, "out of memory");
    c->raw = raw;
    c->fd = -1;
    c->last_miss = -1;
    int rc = raw ? open_raw(c, path, err) : open_image(c, path, slots, err);
    if (rc) {
        fcache_close(c);
        return rc;
    }
    *out = c;
    return 0;
}

void fcache_close(struct fcache *c)
{
    if (!c)
        return;
    if (c->fd >= 0)
        close(c->fd);
    if (!c->raw && c->img.frames)
        image_close(&c->img);
    for (unsigned i = 0; i < FCACHE_MAX_SLOTS; i++)
        free(c->slots[i].buf);
    free(c->damaged);
    free(c);
}

uint64_t fcache_size(const struct fcache *c)
{
    return c->size;
}

bool fcache_is_raw(const struct fcache *c)
{
    return c->raw;
}

unsigned fcache_sector_size(const struct fcache *c)
{
    return c->raw || !c->img.meta.sector ? 512 : c->img.meta.sector;
}

uint32_t fcache_frame_size(const struct fcache *c)
{
    return c->raw ? RAW_UNIT : c->img.meta.frame_size;
}

void fcache_get_stats(const struct fcache *c, struct fcache_stats *out)
{
    *out = c->st;
}

void fcache_set_log(struct fcache *c, void (*fn)(void *arg, const char *msg), void *arg)
{
    c->log = fn;
    c->log_arg = arg;
}

static bool is_damaged(const struct fcache *c, uint32_t i)
{
    return c->damaged[i / 8] & (1u << (i % 8));
}

/* Ask the kernel to start reading frame i's compressed bytes now, so that a
 * sequential reader (a file copied off a mounted image) finds them in memory
 * instead of waiting for the disk after each frame it finishes. */
static void read_ahead(struct fcache *c, uint32_t i)
{
    if (i >= c->img.nframes)
        return;
    const struct part_file *pf = &c->img.pf;
    uint64_t lo = c->img.frames[i].cpos, hi = lo + c->img.frames[i].csize;
    for (int p = 0; p < pf->nparts; p++) {
        uint64_t a = lo > pf->starts[p] ? lo : pf->starts[p];
        uint64_t b = hi < pf->starts[p + 1] ? hi : pf->starts[p + 1];
        if (a < b)
            posix_fadvise(pf->fds[p], (off_t)(a - pf->starts[p]), (off_t)(b - a), POSIX_FADV_WILLNEED);
    }
}

/* The slot holding frame i decoded, or NULL (-errno in *rc) when it cannot be. */
static struct slot *load(struct fcache *c, uint32_t i, int *rc)
{
    struct slot *victim = &c->slots[0];
    for (unsigned s = 0; s < c->nslots; s++) {
        struct slot *sl = &c->slots[s];
        if (sl->frame == (int64_t)i) {
            c->st.hits++;
            sl->used = ++c->tick;
            return sl;
        }
        if (sl->frame < 0 || sl->used < victim->used)
            victim = sl;
    }
    if (is_damaged(c, i)) {
        *rc = -EIO;
        return NULL;
    }
    struct cb_error err = { 0 };
    if (c->last_miss >= 0 && i == (uint64_t)c->last_miss + 1)
        read_ahead(c, i + 1);
    c->last_miss = i;
    *rc = image_load_frame(&c->img, i, &err);
    if (*rc) {
        if (*rc == -EIO) {
            c->damaged[i / 8] |= (unsigned char)(1u << (i % 8));
            c->st.damaged++;
            if (c->log)
                c->log(c->log_arg, err.msg);
        }
        return NULL;
    }
    /* The reader decoded into its own buffer: take it as this slot's and give
     * it the victim's, so a frame is decoded once and never copied. */
    unsigned char *decoded = c->img.dbuf;
    c->img.dbuf = victim->buf;
    c->img.cached = -1;
    victim->buf = decoded;
    victim->frame = i;
    victim->used = ++c->tick;
    c->st.decoded++;
    return victim;
}


static ssize_t read_raw(struct fcache *c, void *buf, size_t len, uint64_t off)
{
    size_t done = 0;
    while (done < len) {
        ssize_t r = pread(c->fd, (char *)buf + done, len - done, (off_t)(off + done));
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return done ? (ssize_t)done : -errno;
        if (r == 0)
            break;
        done += (size_t)r;
    }
    return (ssize_t)done;
}

ssize_t fcache_read(struct fcache *c, void *buf, size_t len, uint64_t off)
{
    c->st.reads++;
    if (off >= c->size)
        return 0;
    if (len > c->size - off)
        len = (size_t)(c->size - off);
    if (c->raw) {
        ssize_t r = read_raw(c, buf, len, off);
        if (r < 0)
            c->st.failed_reads++;
        return r;
    }
    size_t done = 0;
    while (done < len) {
        uint64_t at = off + done;
        uint32_t i = image_frame_of(&c->img, at);
        int rc = 0;
        struct slot *sl = load(c, i, &rc);
        if (!sl) {
            if (done)
                break;          /* what precedes the damaged frame is good */
            c->st.failed_reads++;
            return rc;
        }
        const struct img_frame *f = &c->img.frames[i];
        size_t in = (size_t)(at - f->dpos), n = f->dsize - in;
        if (n > len - done)
            n = len - done;
        memcpy((char *)buf + done, sl->buf + in, n);
        done += n;
    }
    return (ssize_t)done;
}
