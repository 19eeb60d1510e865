/* ZSTD_estimateCCtxSize_usingCParams: the plan is sized from zstd's own
 * estimate (exported by the shared library too). */
#define ZSTD_STATIC_LINKING_ONLY
#include "clone/image_sink.h"
#include "clone/engine_record.h"
#include "clone/engine_sink.h"
#include "clone/image_read.h"
#include "clone/hash.h"
#include "clone/io.h"
#include "clone/part_file.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zstd.h>

enum frame_state {
    F_PENDING,          /* nothing, or only its part in the assembly buffer */
    F_STAGED,           /* its received bytes are in the stage file */
    F_QUEUED,           /* complete: waiting for or in a compressor */
    F_SPILLED,          /* compressed, in the spill, waiting for the frames before it */
    F_EMITTED,          /* in FILE.partial */
};

#define NO_FRAME UINT32_MAX
#define SPILL_MAGIC 0x4C505343u         /* "CSPL" */
#define SPILL_HEADER 24
#define SUMS_MAGIC 0x4D555343u          /* "CSUM" */
#define SUMS_RECORD 40                  /* magic, frame, sha256 */

struct ready {
    uint32_t k;
    unsigned char *buf;
    bool taken;
};

struct image_sink {
    struct image_sink_config c;
    struct image_plan plan;
    uint64_t size;
    uint32_t nframes;
    unsigned char *state;
    uint32_t *got;                      /* bytes of each frame received */
    uint64_t *spill_at;                 /* a spilled frame's record offset */
    uint64_t *cpos;                     /* an emitted frame's offset in FILE.partial */
    struct img_entry *entries;          /* seek table: header, frames, trailer */
    uint32_t nentries, entries_cap;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    /* under mu: */
    unsigned char *asm_buf;
    uint32_t asm_k;
    unsigned char **free_bufs;
    int nfree;
    struct ready *ready;
    int nready;                         /* frames queued or compressing */
    bool io_busy;                       /* one thread writes the files at a time */
    uint32_t next_emit;
    bool ending;
    int failed;                         /* -errno */
    char fail_msg[CB_ERROR_MSG_MAX];
    /* files */
    struct part_writer out;
    char partial[4200], spill_path[4200], stage_path[4200], sums_path[4200];
    int spill_fd, stage_fd, sums_fd;
    uint64_t spill_end, sums_end;
    unsigned char (*sums)[32];          /* resume: each frame's sha256 from FILE.sums */
    unsigned char *has_sum;
    unsigned char *kept;                /* resume: found whole in FILE.partial or the spill */
    unsigned char *in_stage;            /* the stage holds bytes of it (a hole once it is in a file) */
    bool stage_stale;                   /* a hole could not be made: the stage may hold old bytes */
    bool holes;                         /* resume: the stage's file system makes and reports holes */
    struct img_range *lost;             /* resume: finished in the map, yet in no file: read again */
    size_t nlost;
    unsigned char zero_sum[32];
    unsigned char *zero;                /* the compressed all-zero frame */
    size_t zero_len;
    unsigned char *spares[IMG_MAX_WORKERS];
    int next_spare;
    pthread_t workers[IMG_MAX_WORKERS];
    int nworkers;
    struct image_sink_stats st;
    /* read-back (after the drain) */
    struct part_file rd;
    bool rd_open;
    ZSTD_DCtx *dctx;
    unsigned char *rbuf, *dbuf;
    int64_t dcached;
};

static size_t frame_len(const struct image_sink *s, uint32_t k)
{
    uint64_t off = (uint64_t)k * IMG_FRAME_SIZE;
    return s->size - off < IMG_FRAME_SIZE ? (size_t)(s->size - off) : IMG_FRAME_SIZE;
}

/* ---- the plan ---------------------------------------------------------- */

/* The parameters of level for a frame, with window_log and the chain and
 * hash tables shrunk to it as zstd itself would (ZSTD_adjustCParams), and
 * what one compressor with them takes by zstd's estimate (ZSTD_compress2
 * works from and to our buffers: no stream buffers). SIZE_MAX when zstd
 * cannot say. */
static size_t cctx_bytes(int level, int window_log, ZSTD_compressionParameters *cp)
{
    *cp = ZSTD_getCParams(level, IMG_FRAME_SIZE, 0);
    cp->windowLog = (unsigned)window_log;
    *cp = ZSTD_adjustCParams(*cp, IMG_FRAME_SIZE, 0);
    size_t n = ZSTD_estimateCCtxSize_usingCParams(*cp);
    return ZSTD_isError(n) || ZSTD_isError(ZSTD_checkCParams(*cp)) ? SIZE_MAX : n;
}

int image_sink_plan(int level, int cores, size_t budget, struct image_plan *plan)
{
    if (cores <= 0)
        cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (cores > IMG_MAX_WORKERS)
        cores = IMG_MAX_WORKERS;
    size_t buf = (ZSTD_compressBound(IMG_FRAME_SIZE) + IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
    /* Windows of 1 MiB and more first, a compressor dropped before the
     * window shrinks below that; smaller windows only when nothing else fits.
     * Any window decodes with plain zstd -d (it is in each frame's header). */
    for (int pass = 0; pass < 2; pass++) {
        int hi = pass ? IMG_MIN_WINDOW_LOG - 1 : IMG_WINDOW_LOG, lo = pass ? 10 : IMG_MIN_WINDOW_LOG;
        for (int w = cores; w >= 1; w--) {
            /* w + 1 frame buffers (one assembling while each compressor holds one) and w spares */
            size_t fixed = (size_t)(2 * w + 1) * buf;
            for (int wl = hi; wl >= lo && fixed < budget; wl--) {
                ZSTD_compressionParameters cp;
                size_t ctx = cctx_bytes(level, wl, &cp);
                if (ctx > (budget - fixed) / (size_t)w)
                    continue;
                *plan = (struct image_plan){ .workers = w, .buffers = w + 1, .window_log = wl,
                                             .chain_log = (int)cp.chainLog, .hash_log = (int)cp.hashLog,
                                             .buffer_bytes = buf, .cctx_bytes = ctx,
                                             .total_bytes = fixed + (size_t)w * ctx };
                return 0;
            }
        }
    }
    return -ENOMEM;
}

/* The level's own parameters, with the plan's window and the match tables
 * zstd would fit to it (set explicitly, so the estimate is what runs). */
static ZSTD_CCtx *new_cctx(int level, const struct image_plan *plan)
{
    ZSTD_CCtx *c = ZSTD_createCCtx();
    if (c && (ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_compressionLevel, level)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_checksumFlag, 1)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_windowLog, plan->window_log)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_chainLog, plan->chain_log)) ||
              ZSTD_isError(ZSTD_CCtx_setParameter(c, ZSTD_c_hashLog, plan->hash_log)))) {
        ZSTD_freeCCtx(c);
        c = NULL;
    }
    return c;
}

/* ---- failure, buffers -------------------------------------------------- */

/* Under mu. The first failure is kept; everyone waiting wakes. */
static int fail(struct image_sink *s, int rc, const char *fmt, const char *what)
{
    if (!s->failed) {
        s->failed = rc;
        snprintf(s->fail_msg, sizeof(s->fail_msg), fmt, what, strerror(-rc));
    }
    pthread_cond_broadcast(&s->cv);
    return s->failed;
}

/* Under mu: a free frame buffer (waits for one). NULL when the sink failed. */
static unsigned char *take_buffer(struct image_sink *s)
{
    while (!s->nfree && !s->failed)
        pthread_cond_wait(&s->cv, &s->mu);
    return s->failed ? NULL : s->free_bufs[--s->nfree];
}

static void give_buffer(struct image_sink *s, unsigned char *b)
{
    s->free_bufs[s->nfree++] = b;
    pthread_cond_broadcast(&s->cv);
}

static int add_entry(struct image_sink *s, uint32_t csize, uint32_t dsize, uint32_t checksum)
{
    if (s->nentries == s->entries_cap) {
        uint32_t cap = s->entries_cap ? s->entries_cap * 2 : 1024;
        struct img_entry *n = realloc(s->entries, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        s->entries = n;
        s->entries_cap = cap;
    }
    s->entries[s->nentries++] = (struct img_entry){ csize, dsize, checksum };
    return 0;
}

/* ---- writing the files (the io token holder only) ---------------------- */

static int write_out(struct image_sink *s, const void *buf, size_t len, uint32_t dsize, uint32_t checksum)
{
    struct cb_error err = { 0 };
    int rc = part_writer_write(&s->out, buf, len, &err);
    if (!rc && add_entry(s, (uint32_t)len, dsize, checksum))
        rc = -ENOMEM;
    if (!rc)
        s->st.image_bytes += len;
    return rc;
}

static int full_pwrite(int fd, const void *buf, size_t len, uint64_t off)
{
    const char *p = buf;
    while (len) {
        ssize_t w = pwrite(fd, p, len, (off_t)off);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return w < 0 ? -errno : -ENOSPC;
        p += w;
        len -= (size_t)w;
        off += (uint64_t)w;
    }
    return 0;
}

static int full_pread(int fd, void *buf, size_t len, uint64_t off)
{
    char *p = buf;
    while (len) {
        ssize_t r = pread(fd, p, len, (off_t)off);
        if (r < 0 && errno == EINTR)
            continue;
        if (r < 0)
            return -errno;
        if (r == 0) {
            memset(p, 0, len);      /* past the stage's end: a hole */
            return 0;
        }
        p += r;
        len -= (size_t)r;
        off += (uint64_t)r;
    }
    return 0;
}

static uint32_t spill_check(const unsigned char *h)
{
    return img_le32(h) ^ img_le32(h + 4) ^ img_le32(h + 8) ^ img_le32(h + 12) ^ img_le32(h + 16) ^ 0x9E3779B9u;
}

static int spill_write(struct image_sink *s, uint32_t k, const unsigned char *data, size_t clen, uint32_t sum)
{
    unsigned char h[SPILL_HEADER];
    img_put32(h, SPILL_MAGIC);
    img_put32(h + 4, k);
    img_put32(h + 8, (uint32_t)frame_len(s, k));
    img_put32(h + 12, (uint32_t)clen);
    img_put32(h + 16, sum);
    img_put32(h + 20, spill_check(h));
    uint64_t at = s->spill_end;
    int rc = full_pwrite(s->spill_fd, h, sizeof(h), at);
    if (!rc)
        rc = full_pwrite(s->spill_fd, data, clen, at + SPILL_HEADER);
    if (!rc) {
        s->spill_at[k] = at;
        s->spill_end = at + SPILL_HEADER + clen;
        s->st.spilled_frames++;
    }
    return rc;
}

/* Emit spilled frame k into FILE.partial (tmp: a buffer of buffer_bytes). */
static int emit_spilled(struct image_sink *s, uint32_t k, unsigned char *tmp)
{
    s->cpos[k] = s->out.total;
    unsigned char h[SPILL_HEADER];
    int rc = full_pread(s->spill_fd, h, sizeof(h), s->spill_at[k]);
    uint32_t clen = img_le32(h + 12);
    if (!rc && clen > s->plan.buffer_bytes)
        rc = -EIO;
    if (!rc)
        rc = full_pread(s->spill_fd, tmp, clen, s->spill_at[k] + SPILL_HEADER);
    if (!rc)
        rc = write_out(s, tmp, clen, img_le32(h + 8), img_le32(h + 16));
    return rc;
}

/* Holding the io token (and mu on entry and exit): emit the frames that wait
 * in order after next_emit. */
static int advance(struct image_sink *s, unsigned char *tmp)
{
    int rc = 0;
    while (!rc && s->next_emit < s->nframes) {
        uint32_t k = s->next_emit;
        if (s->state[k] != F_SPILLED)
            break;
        pthread_mutex_unlock(&s->mu);
        rc = emit_spilled(s, k, tmp);
        pthread_mutex_lock(&s->mu);
        if (!rc) {
            s->state[k] = F_EMITTED;
            s->st.frames++;
            s->next_emit++;
        }
    }
    return rc;
}

static void take_io(struct image_sink *s)
{
    while (s->io_busy)
        pthread_cond_wait(&s->cv, &s->mu);
    s->io_busy = true;
}

static void give_io(struct image_sink *s)
{
    s->io_busy = false;
    pthread_cond_broadcast(&s->cv);
}

/* Frame k is in FILE.partial or the spill now: what the stage held of it
 * becomes a hole, so that a resume never takes those (older) bytes for it. */
static void unstage(struct image_sink *s, uint32_t k)
{
    if (fallocate(s->stage_fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, (off_t)k * IMG_FRAME_SIZE,
                  (off_t)frame_len(s, k)) != 0)
        s->stage_stale = true;      /* a file system without holes: a resume trusts no stage */
    s->in_stage[k] = 0;
}

/* A compressed frame k (under mu): into FILE.partial if it is next, else the spill. */
/* Under mu: the frame that goes next is in a compressor's hands now. */
static bool next_in_compressor(const struct image_sink *s)
{
    for (int i = 0; i < s->nready; i++)
        if (s->ready[i].k == s->next_emit && s->ready[i].taken)
            return true;
    return false;
}

static int place_frame(struct image_sink *s, uint32_t k, const unsigned char *data, size_t clen, uint32_t sum,
                       bool zero, const unsigned char *sha, unsigned char *tmp)
{
    /* Frames compressed side by side end in any order: one that is only a
     * frame or so ahead waits for the next one rather than going through the
     * spill (which is for what a skip past bad sectors leaves behind). */
    while (!s->failed && k != s->next_emit && next_in_compressor(s))
        pthread_cond_wait(&s->cv, &s->mu);
    take_io(s);
    bool next = k == s->next_emit;
    pthread_mutex_unlock(&s->mu);
    int rc;
    if (next) {
        s->cpos[k] = s->out.total;
        rc = write_out(s, data, clen, (uint32_t)frame_len(s, k), sum);
    } else {
        rc = spill_write(s, k, data, clen, sum);
    }
    if (!rc && s->sums_fd >= 0) {
        unsigned char r[SUMS_RECORD];
        img_put32(r, SUMS_MAGIC);
        img_put32(r + 4, k);
        memcpy(r + 8, sha, 32);
        rc = full_pwrite(s->sums_fd, r, sizeof(r), s->sums_end);
        s->sums_end += sizeof(r);
    }
    if (!rc && s->in_stage[k])
        unstage(s, k);
    pthread_mutex_lock(&s->mu);
    if (!rc) {
        s->state[k] = next ? F_EMITTED : F_SPILLED;
        if (next) {
            s->st.frames++;
            s->st.zero_frames += zero;
            s->next_emit++;
        } else if (zero) {
            s->st.zero_frames++;    /* counted now: it leaves the spill as any frame */
        }
        rc = advance(s, tmp);
    }
    give_io(s);
    return rc;
}

/* ---- compressors ------------------------------------------------------- */

static void *compressor_main(void *arg)
{
    struct image_sink *s = arg;
    ZSTD_CCtx *c = new_cctx(s->c.level, &s->plan);
    struct hash_ctx *h = s->c.sums ? hash_new(HASH_SHA256) : NULL;
    pthread_mutex_lock(&s->mu);
    unsigned char **spare = &s->spares[s->next_spare++];
    if (s->c.sums && !h)
        fail(s, -ENOMEM, "%sout of memory for a hasher (%s)", "");
    if (!c)
        fail(s, -ENOMEM, "%sout of memory for a compressor (%s)", "");
    for (;;) {
        struct ready *pick = NULL;
        for (int i = 0; i < s->nready; i++)
            if (!s->ready[i].taken && (!pick || s->ready[i].k < pick->k))
                pick = &s->ready[i];
        if (s->failed)
            break;
        if (!pick) {
            if (s->ending)
                break;
            pthread_cond_wait(&s->cv, &s->mu);
            continue;
        }
        pick->taken = true;
        uint32_t k = pick->k;
        unsigned char *buf = pick->buf;
        pthread_mutex_unlock(&s->mu);
        size_t len = frame_len(s, k), clen = 0;
        bool zero = len == IMG_FRAME_SIZE && io_is_zero(buf, len);
        const unsigned char *data = s->zero;
        uint32_t sum = 0;
        int rc = 0;
        unsigned char sha[HASH_MAX_RAW];
        if (h && !zero) {
            hash_update(h, buf, len);
            hash_final_raw(h, sha);
        } else if (h) {
            memcpy(sha, s->zero_sum, 32);
        }
        if (zero) {
            clen = s->zero_len;
        } else {
            size_t r = ZSTD_compress2(c, *spare, s->plan.buffer_bytes, buf, len);
            if (ZSTD_isError(r)) {
                rc = -ENOMEM;
            } else {
                unsigned char *raw = buf;       /* the compressed frame stays in the queue's buffer */
                buf = *spare;
                *spare = raw;
                clen = r;
                data = buf;
            }
        }
        if (!rc)
            sum = img_le32(data + clen - 4);
        pthread_mutex_lock(&s->mu);
        if (!rc)
            rc = place_frame(s, k, data, clen, sum, zero, sha, *spare);
        if (rc)
            fail(s, rc, "%scannot write the image: %s", "");
        for (int i = 0; i < s->nready; i++)
            if (s->ready[i].k == k && s->ready[i].taken) {
                s->ready[i] = s->ready[--s->nready];
                break;
            }
        give_buffer(s, buf);
    }
    pthread_mutex_unlock(&s->mu);
    ZSTD_freeCCtx(c);
    hash_free(h);
    return NULL;
}

/* Under mu: frame k has all its bytes; into the queue. */
static int complete(struct image_sink *s, uint32_t k)
{
    unsigned char *buf;
    if (s->asm_k == k) {
        buf = s->asm_buf;
        s->asm_buf = NULL;
        s->asm_k = NO_FRAME;
    } else {
        if (!(buf = take_buffer(s)))
            return s->failed;
        int rc = full_pread(s->stage_fd, buf, frame_len(s, k), (uint64_t)k * IMG_FRAME_SIZE);
        if (rc) {
            give_buffer(s, buf);
            return fail(s, rc, "cannot read %s back: %s", s->stage_path);
        }
    }
    s->state[k] = F_QUEUED;
    s->ready[s->nready++] = (struct ready){ .k = k, .buf = buf };
    pthread_cond_broadcast(&s->cv);
    return 0;
}

/* Under mu: the assembly frame's bytes into the stage (all of the frame:
 * what was not received yet is zeros there, like outside the domain). */
static int stage_assembly(struct image_sink *s)
{
    uint32_t k = s->asm_k;
    int rc = full_pwrite(s->stage_fd, s->asm_buf, frame_len(s, k), (uint64_t)k * IMG_FRAME_SIZE);
    if (rc)
        return fail(s, rc, "cannot write %s: %s", s->stage_path);
    s->in_stage[k] = 1;
    s->st.staged_bytes += frame_len(s, k);
    return 0;
}

int image_sink_put(struct image_sink *s, const void *data, size_t len, uint64_t off)
{
    const unsigned char *p = data;
    pthread_mutex_lock(&s->mu);
    while (len && !s->failed && off < s->size) {
        uint32_t k = (uint32_t)(off / IMG_FRAME_SIZE);
        size_t o = (size_t)(off % IMG_FRAME_SIZE), flen = frame_len(s, k);
        size_t n = len < flen - o ? len : flen - o;
        unsigned char st = s->state[k];
        if (st >= F_QUEUED) {
            /* already whole (a region an earlier run or pass finished) */
        } else if (s->asm_k == k) {
            memcpy(s->asm_buf + o, p, n);
            s->got[k] += (uint32_t)n;
        } else if (st == F_STAGED) {
            int rc = full_pwrite(s->stage_fd, p, n, off);
            if (rc) {
                fail(s, rc, "cannot write %s: %s", s->stage_path);
                break;
            }
            s->st.staged_bytes += n;
            s->got[k] += (uint32_t)n;
        } else {
            /* A frame of its own: the one assembling goes to the stage (a skip left it half-read). */
            if (s->asm_k != NO_FRAME) {
                if (stage_assembly(s))
                    break;
                s->state[s->asm_k] = F_STAGED;
                s->asm_k = NO_FRAME;
            }
            if (!s->asm_buf && !(s->asm_buf = take_buffer(s)))
                break;
            memset(s->asm_buf, 0, flen);
            s->asm_k = k;
            memcpy(s->asm_buf + o, p, n);
            s->got[k] += (uint32_t)n;
        }
        if (st < F_QUEUED && s->got[k] >= flen && complete(s, k))
            break;
        p += n;
        off += n;
        len -= n;
    }
    int rc = s->failed;
    pthread_mutex_unlock(&s->mu);
    return rc;
}

/* ---- checkpoint, drain ------------------------------------------------- */

static int sync_files(struct image_sink *s)
{
    int rc = 0;
    if (s->out.fd >= 0 && fdatasync(s->out.fd) != 0)
        rc = -errno;
    if (!rc && fdatasync(s->spill_fd) != 0)
        rc = -errno;
    if (!rc && fdatasync(s->stage_fd) != 0)
        rc = -errno;
    if (!rc && s->sums_fd >= 0 && fdatasync(s->sums_fd) != 0)
        rc = -errno;
    return rc;
}

int image_sink_checkpoint(struct image_sink *s)
{
    pthread_mutex_lock(&s->mu);
    while (!s->failed && (s->nready || s->io_busy))
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->failed;
    if (!rc && s->asm_k != NO_FRAME)
        rc = stage_assembly(s);
    if (!rc)
        s->io_busy = true;
    pthread_mutex_unlock(&s->mu);
    if (rc)
        return rc;
    rc = sync_files(s);
    pthread_mutex_lock(&s->mu);
    if (rc)
        fail(s, rc, "cannot sync %s: %s", s->partial);
    give_io(s);
    pthread_mutex_unlock(&s->mu);
    return rc;
}

int image_sink_drain(struct image_sink *s, struct cb_error *err)
{
    pthread_mutex_lock(&s->mu);
    while (!s->failed && (s->nready || s->io_busy))
        pthread_cond_wait(&s->cv, &s->mu);
    int rc = s->failed;
    uint32_t missing = s->next_emit;
    if (!rc && (rc = sync_files(s)) != 0)      /* the map saved next calls all of it done */
        fail(s, rc, "cannot sync %s: %s", s->partial);
    s->ending = true;
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    s->nworkers = 0;
    /* The frames are written: their buffers go before verification takes its own. */
    for (; s->nfree > 0; s->nfree--)
        io_free(s->free_bufs[s->nfree - 1]);
    for (int i = 0; i < IMG_MAX_WORKERS; i++) {
        io_free(s->spares[i]);
        s->spares[i] = NULL;
    }
    if (rc)
        return cb_error_set(err, rc, "%s", s->fail_msg);
    if (missing < s->nframes)
        return cb_error_set(err, -EIO, "the image lacks the disk's bytes from byte %llu on: the copy did not "
                            "reach them", (unsigned long long)missing * IMG_FRAME_SIZE);
    return 0;
}

/* ---- read-back ---------------------------------------------------------- */

int image_sink_read(struct image_sink *s, void *buf, size_t len, uint64_t off)
{
    if (!s->rd_open) {
        struct cb_error err = { 0 };
        if (s->out.fd >= 0)
            fdatasync(s->out.fd);
        if ((!s->dctx && !(s->dctx = ZSTD_createDCtx())) ||
            (!s->rbuf && !(s->rbuf = io_alloc(s->plan.buffer_bytes))) || (!s->dbuf && !(s->dbuf = io_alloc(IMG_FRAME_SIZE))))
            return -ENOMEM;
        int rc = part_file_open(&s->rd, s->partial, &err);
        if (rc)
            return rc;
        s->rd_open = true;
        s->dcached = -1;
    }
    unsigned char *out = buf;
    while (len) {
        uint32_t k = (uint32_t)(off / IMG_FRAME_SIZE);
        if (k >= s->nframes || s->state[k] != F_EMITTED)
            return -EIO;
        if (s->dcached != (int64_t)k) {
            uint32_t clen = s->entries[k + 1].csize;      /* entry 0 is the header */
            if (clen > s->plan.buffer_bytes ||
                part_file_pread(&s->rd, s->rbuf, clen, s->cpos[k]) != (ssize_t)clen)
                return -EIO;
            size_t d = ZSTD_decompressDCtx(s->dctx, s->dbuf, IMG_FRAME_SIZE, s->rbuf, clen);
            if (ZSTD_isError(d) || d != frame_len(s, k))
                return -EIO;
            s->dcached = k;
        }
        size_t o = (size_t)(off % IMG_FRAME_SIZE), n = frame_len(s, k) - o < len ? frame_len(s, k) - o : len;
        memcpy(out, s->dbuf + o, n);
        out += n;
        off += n;
        len -= n;
    }
    return 0;
}

/* ---- open, resume ------------------------------------------------------- */

static int meta_frame(struct image_sink *s, char *text, size_t len, struct cb_error *err)
{
    if (!text)
        return cb_error_set(err, -ENOMEM, "out of memory");
    size_t flen;
    void *f = img_skippable_frame(IMG_META_MAGIC, text, len, &flen);
    free(text);
    if (!f)
        return cb_error_set(err, -ENOMEM, "out of memory");
    int rc = write_out(s, f, flen, 0, 0);
    free(f);
    return rc ? cb_error_set(err, rc, "cannot write %s: %s", s->partial, strerror(-rc)) : 0;
}

/* A frame an earlier run wrote is kept only when the saved map has nothing
 * in its range that a resumed run reads again: an unreadable sector (written
 * as fill then) may read now, and the image must hold what was read. */
static bool keepable(const struct image_sink *s, uint32_t k)
{
    uint64_t a = (uint64_t)k * IMG_FRAME_SIZE, p, l;
    return !map_find(s->c.resume, a, "-*/", &p, &l) || p >= a + frame_len(s, k);
}

/* FILE.partial of an interrupted run: its header must be this source's, its
 * frames are kept up to the first that does not decode whole. Returns the
 * bytes kept (0: none usable). */
static int scan_partial(struct image_sink *s, uint64_t *keep, struct cb_error *err)
{
    struct part_file pf;
    struct cb_error e2 = { 0 };
    *keep = 0;
    if (part_file_open(&pf, s->partial, &e2) != 0)
        return cb_error_set(err, -ENOENT, "the map says part of the image was made, but %s is not there (or not "
                            "readable): remove the map to start the image again", s->partial);
    unsigned char *cbuf = s->free_bufs[0], *dbuf = s->free_bufs[1];
    unsigned char h[8];
    int rc = 0;
    struct img_meta m = { 0 };
    bool ok = part_file_pread(&pf, h, 8, 0) == 8 && img_le32(h) == IMG_META_MAGIC && img_le32(h + 4) <= IMG_META_MAX;
    char *text = ok ? malloc(img_le32(h + 4) + 1) : NULL;    /* a header's used ranges may take megabytes */
    if (!ok || !text || part_file_pread(&pf, text, img_le32(h + 4), 8) != (ssize_t)img_le32(h + 4) ||
        img_meta_parse(&m, text, img_le32(h + 4), false, s->partial, &e2) != 0) {
        rc = cb_error_set(err, -EINVAL, "%s does not start with a clonebay image header: it is not the unfinished "
                          "image of this job (remove it and the map to start again)", s->partial);
    } else if (m.size != s->size || m.frame_size != IMG_FRAME_SIZE ||
               strcmp(m.source_serial, s->c.meta->source_serial) || strcmp(m.source_model, s->c.meta->source_model)) {
        rc = cb_error_set(err, -EINVAL, "%s is the unfinished image of another drive (%s %s, %llu bytes), not of "
                          "%s: remove it and the map to start again", s->partial, m.source_model, m.source_serial,
                          (unsigned long long)m.size, s->c.meta->source_path);
    }
    free(text);
    img_meta_free(&m);
    if (!rc) {
        uint32_t hlen = 8 + img_le32(h + 4);
        rc = add_entry(s, hlen, 0, 0);
        uint64_t pos = hlen;
        ZSTD_DCtx *d = ZSTD_createDCtx();
        if (!d)
            rc = cb_error_set(err, -ENOMEM, "out of memory");
        for (uint32_t k = 0; !rc && k < s->nframes && keepable(s, k); k++) {
            ssize_t got = part_file_pread(&pf, cbuf, s->plan.buffer_bytes, pos);
            if (got < 0) {  /* not a torn end: refused, nothing cut */
                rc = cb_error_set(err, (int)got, "cannot read %s back to go on with it: %s", s->partial,
                                  strerror((int)-got));
                break;
            }
            if (got < 8 || (img_le32(cbuf) & 0xFFFFFFF0u) == 0x184D2A50u)
                break;      /* the end, or a trailer of a run killed while verifying */
            size_t clen = ZSTD_findFrameCompressedSize(cbuf, (size_t)got);
            if (ZSTD_isError(clen))
                break;
            size_t dl = ZSTD_decompressDCtx(d, dbuf, IMG_FRAME_SIZE, cbuf, clen);
            if (ZSTD_isError(dl) || dl != frame_len(s, k))
                break;
            s->cpos[k] = pos;
            rc = add_entry(s, (uint32_t)clen, (uint32_t)dl, img_le32(cbuf + clen - 4));
            s->state[k] = F_EMITTED;
            s->kept[k] = 1;
            s->next_emit = k + 1;
            s->st.frames++;
            s->st.zero_frames += dl == IMG_FRAME_SIZE && io_is_zero(dbuf, dl);
            s->st.resumed_frames++;
            pos += clen;
        }
        ZSTD_freeDCtx(d);
        *keep = pos;
    }
    part_file_close(&pf);
    return rc;
}

/* The spill's whole records (each decoded): frames waiting to go in order.
 * A torn record ends it; a read error refuses the resume (nothing is cut). */
static int scan_spill(struct image_sink *s, struct cb_error *err)
{
    unsigned char h[SPILL_HEADER];
    unsigned char *cbuf = s->free_bufs[0], *dbuf = s->free_bufs[1];
    ZSTD_DCtx *d = ZSTD_createDCtx();
    if (!d)
        return cb_error_set(err, -ENOMEM, "out of memory");
    struct stat st;
    if (fstat(s->spill_fd, &st) != 0) {
        ZSTD_freeDCtx(d);
        return cb_error_set(err, -errno, "cannot read %s: %s", s->spill_path, strerror(errno));
    }
    uint64_t at = 0;
    int rc = 0;
    while (at + SPILL_HEADER <= (uint64_t)st.st_size) {
        if ((rc = full_pread(s->spill_fd, h, sizeof(h), at)) != 0)
            break;
        uint32_t k = img_le32(h + 4), dl = img_le32(h + 8), clen = img_le32(h + 12);
        if (img_le32(h) != SPILL_MAGIC || img_le32(h + 20) != spill_check(h) || k >= s->nframes ||
            dl != frame_len(s, k) || clen > s->plan.buffer_bytes || (uint64_t)st.st_size < at + SPILL_HEADER + clen)
            break;
        if ((rc = full_pread(s->spill_fd, cbuf, clen, at + SPILL_HEADER)) != 0)
            break;
        size_t got = ZSTD_decompressDCtx(d, dbuf, IMG_FRAME_SIZE, cbuf, clen);
        if (ZSTD_isError(got) || got != dl)
            break;
        if (s->state[k] != F_EMITTED && keepable(s, k)) {
            s->state[k] = F_SPILLED;
            s->spill_at[k] = at;
            s->kept[k] = 1;
            s->st.resumed_frames++;
        }
        at += SPILL_HEADER + clen;
    }
    ZSTD_freeDCtx(d);
    if (rc)
        return cb_error_set(err, rc, "cannot read %s back to go on with it: %s", s->spill_path, strerror(-rc));
    s->spill_end = at;
    if (ftruncate(s->spill_fd, (off_t)at) != 0) {
        /* the next record overwrites the torn one anyway */
    }
    return 0;
}

/* Bytes of [a, b) in one of states of map. */
static uint64_t bytes_in(const struct block_map *map, const char *states, uint64_t a, uint64_t b)
{
    uint64_t n = 0, p, l;
    for (uint64_t at = a; at < b && map_find(map, at, states, &p, &l) && p < b; at = p + l)
        n += (p + l < b ? p + l : b) - p;
    return n;
}

/* Whether the stage holds data all over [a, b) (not a hole). */
static bool staged_all(const struct image_sink *s, uint64_t a, uint64_t b)
{
    off_t d = lseek(s->stage_fd, (off_t)a, SEEK_DATA);
    off_t h = d < 0 ? -1 : lseek(s->stage_fd, d, SEEK_HOLE);
    return d == (off_t)a && h >= (off_t)b;
}

/* Whether the stage's file system makes holes and reports them (a probe file
 * beside it): else no byte of a stage can be told from an older one. */
static bool stage_has_holes(const struct image_sink *s)
{
    char probe[4300];
    snprintf(probe, sizeof(probe), "%s.probe", s->stage_path);
    int fd = open(probe, O_RDWR | O_CREAT | O_EXCL | O_CLOEXEC | O_NOFOLLOW, 0600);
    if (fd < 0)
        return false;
    static const char block[8192] = { 1 };
    bool ok = full_pwrite(fd, block, sizeof(block), 0) == 0 && fsync(fd) == 0 &&
              fallocate(fd, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, 0, 4096) == 0 &&
              lseek(fd, 0, SEEK_HOLE) == 0 && lseek(fd, 0, SEEK_DATA) == 4096;
    close(fd);
    unlink(probe);
    return ok;
}

/* On a resume, what the saved map calls finished in the frames neither file
 * holds whole is in the stage. A frame whose bytes are not there after all
 * (a file system that lost them) is read again: it is listed in *lost. */
static int count_staged(struct image_sink *s)
{
    for (uint32_t k = 0; k < s->nframes; k++) {
        uint64_t a = (uint64_t)k * IMG_FRAME_SIZE, b = a + frame_len(s, k);
        if (s->state[k] != F_PENDING)
            continue;
        uint64_t done = bytes_in(s->c.resume, "+", a, b);
        if (!done)
            continue;
        if (!s->holes || !staged_all(s, a, b)) {
            if (img_range_push(&s->lost, &s->nlost, (struct img_range){ a, b - a }))
                return -ENOMEM;
            continue;
        }
        s->got[k] = (uint32_t)done;
        s->state[k] = F_STAGED;
        s->in_stage[k] = 1;
    }
    return 0;
}

void image_sink_lost(const struct image_sink *s, const struct img_range **v, size_t *n)
{
    *v = s->lost;
    *n = s->nlost;
}

/* FILE.sums of the earlier run: the frames' sha256, the last record kept. */
static int load_sums(struct image_sink *s)
{
    if (!(s->sums = calloc(s->nframes, 32)) || !(s->has_sum = calloc(s->nframes, 1)))
        return -ENOMEM;
    unsigned char r[SUMS_RECORD];
    uint64_t at = 0;
    while (full_pread(s->sums_fd, r, sizeof(r), at) == 0 && img_le32(r) == SUMS_MAGIC &&
           img_le32(r + 4) < s->nframes) {
        memcpy(s->sums[img_le32(r + 4)], r + 8, 32);
        s->has_sum[img_le32(r + 4)] = 1;
        at += sizeof(r);
    }
    s->sums_end = at;
    if (ftruncate(s->sums_fd, (off_t)at) != 0) {
        /* older records after a torn one would be read again: the next record overwrites it */
    }
    return 0;
}

int image_sink_vouched(const struct image_sink *s, struct engine_record **out, size_t *n)
{
    *out = NULL;
    *n = 0;
    if (!s->has_sum || !s->c.resume)
        return 0;
    /* kept[] is written only while the sink opens: no lock needed to read it. Only
     * frames found whole in the files: one rebuilt from the stage has no sum of its own. */
    for (uint32_t k = 0; k < s->nframes; k++) {
        uint64_t a = (uint64_t)k * IMG_FRAME_SIZE, len = frame_len(s, k);
        if (!s->has_sum[k] || !s->kept[k] || bytes_in(s->c.resume, "+", a, a + len) != len)
            continue;
        struct engine_record *v = realloc(*out, (*n + 1) * sizeof(*v));
        if (!v)
            return -ENOMEM;
        *out = v;
        v[*n].off = a;
        v[*n].len = (uint32_t)len;
        memcpy(v[*n].sha256, s->sums[k], 32);
        (*n)++;
    }
    return 0;
}

static int remove_unkept_partial(struct image_sink *s, struct cb_error *err)
{
    char first[4300];
    snprintf(first, sizeof(first), "%s.000", s->partial);
    const char *names[] = { s->partial, first };       /* one file, or parts */
    for (size_t i = 0; i < 2; i++) {
        int fd = open(names[i], O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
        bool busy = fd >= 0 && flock(fd, LOCK_EX | LOCK_NB) != 0;
        if (fd >= 0)
            close(fd);
        if (busy)
            return cb_error_set(err, -EBUSY, "%s is being written by another job now: refused", names[i]);
    }
    part_files_remove(s->partial, -1);
    unlink(s->spill_path);
    unlink(s->stage_path);
    unlink(s->sums_path);
    return 0;
}

static int open_side_file(const char *path, bool keep, struct cb_error *err)
{
    int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC | O_NOFOLLOW | (keep ? 0 : O_TRUNC), 0644);
    if (fd < 0)
        return cb_error_set(err, -errno, "cannot create %s: %s", path, strerror(errno));
    return fd;
}

int image_sink_open(struct image_sink **out, const struct image_sink_config *c, struct cb_error *err)
{
    struct image_sink *s = calloc(1, sizeof(*s));
    if (!s)
        return cb_error_set(err, -ENOMEM, "out of memory");
    *out = s;
    s->c = *c;
    s->size = c->meta->size;
    s->nframes = (uint32_t)((s->size + IMG_FRAME_SIZE - 1) / IMG_FRAME_SIZE);
    s->asm_k = NO_FRAME;
    s->spill_fd = s->stage_fd = s->sums_fd = -1;
    s->out.fd = -1;
    s->dcached = -1;
    pthread_mutex_init(&s->mu, NULL);
    pthread_cond_init(&s->cv, NULL);
    snprintf(s->partial, sizeof(s->partial), "%s.partial", c->name);
    snprintf(s->spill_path, sizeof(s->spill_path), "%s.spill", c->name);
    snprintf(s->stage_path, sizeof(s->stage_path), "%s.stage", c->name);
    snprintf(s->sums_path, sizeof(s->sums_path), "%s.sums", c->name);
    if (image_sink_plan(c->level, c->workers, c->budget, &s->plan) != 0)
        return cb_error_set(err, -ENOMEM, "zstd level %d needs more memory than an image job may use (%u MiB), "
                            "even with one compressor: choose a lower --level", c->level, IMG_JOB_MEMORY >> 20);
    s->st.plan = s->plan;
    size_t n = (size_t)s->nframes + 1;
    s->state = calloc(n, 1);
    s->got = calloc(n, sizeof(*s->got));
    s->spill_at = calloc(n, sizeof(*s->spill_at));
    s->cpos = calloc(n, sizeof(*s->cpos));
    s->kept = calloc(n, 1);
    s->in_stage = calloc(n, 1);
    s->free_bufs = calloc((size_t)s->plan.buffers, sizeof(*s->free_bufs));
    s->ready = calloc((size_t)s->plan.buffers, sizeof(*s->ready));
    if (!s->state || !s->got || !s->spill_at || !s->cpos || !s->kept || !s->in_stage || !s->free_bufs || !s->ready)
        return cb_error_set(err, -ENOMEM, "out of memory");
    for (int i = 0; i < s->plan.buffers; i++) {
        if (!(s->free_bufs[i] = io_alloc(s->plan.buffer_bytes)))
            return cb_error_set(err, -ENOMEM, "out of memory for the image buffers");
        s->nfree++;
    }
    for (int i = 0; i < s->plan.workers; i++)
        if (!(s->spares[i] = io_alloc(s->plan.buffer_bytes)))
            return cb_error_set(err, -ENOMEM, "out of memory for the image buffers");
    /* The all-zero frame, compressed once. */
    ZSTD_CCtx *z = new_cctx(c->level, &s->plan);
    memset(s->free_bufs[0], 0, IMG_FRAME_SIZE);
    size_t r = z ? ZSTD_compress2(z, s->spares[0], s->plan.buffer_bytes, s->free_bufs[0], IMG_FRAME_SIZE) : 0;
    ZSTD_freeCCtx(z);
    if (!r || ZSTD_isError(r) || !(s->zero = malloc(r)))
        return cb_error_set(err, -ENOMEM, "cannot set up the compressor (level %d)", c->level);
    memcpy(s->zero, s->spares[0], r);
    s->zero_len = r;
    struct hash_ctx *zh = hash_new(HASH_SHA256);
    if (!zh)
        return cb_error_set(err, -ENOMEM, "out of memory");
    hash_update(zh, s->free_bufs[0], IMG_FRAME_SIZE);
    unsigned char md[HASH_MAX_RAW];
    hash_final_raw(zh, md);
    hash_free(zh);
    memcpy(s->zero_sum, md, 32);

    bool resume = c->resume && map_bytes(c->resume, MAP_FINISHED) > 0;
    int rc;
    if (resume) {
        uint64_t keep = 0;
        if ((rc = scan_partial(s, &keep, err)) != 0)
            return rc;
        if ((rc = part_writer_resume(&s->out, c->name, c->split, keep, err)) != 0)
            return rc;
    } else {
        /* A map that finished nothing yet: its unfinished image holds nothing to keep. */
        if (c->resume && (rc = remove_unkept_partial(s, err)) != 0)
            return rc;
        if ((rc = part_writer_open(&s->out, c->name, c->split, err)) != 0)
            return rc;
        c->meta->frame_size = IMG_FRAME_SIZE;
        size_t len = 0;
        char *text = img_meta_header_text(c->meta, &len);
        if ((rc = meta_frame(s, text, len, err)) != 0)
            return rc;
    }
    if ((s->spill_fd = open_side_file(s->spill_path, resume, err)) < 0)
        return s->spill_fd;
    if ((s->stage_fd = open_side_file(s->stage_path, resume, err)) < 0)
        return s->stage_fd;
    if (c->sums && (s->sums_fd = open_side_file(s->sums_path, resume, err)) < 0)
        return s->sums_fd;
    if (resume) {
        if ((rc = scan_spill(s, err)) != 0)
            return rc;
        s->holes = stage_has_holes(s);
        if (count_staged(s) || (s->sums_fd >= 0 && load_sums(s)))
            return cb_error_set(err, -ENOMEM, "out of memory");
    }
    for (int i = 0; i < s->plan.workers; i++) {
        if (pthread_create(&s->workers[i], NULL, compressor_main, s) != 0)
            return cb_error_set(err, -EAGAIN, "cannot start the compressors");
        s->nworkers++;
    }
    pthread_mutex_lock(&s->mu);
    /* Frames the saved map calls whole but that neither file holds: from the stage. */
    for (uint32_t k = 0; k < s->nframes && !rc; k++)
        if (s->state[k] == F_STAGED && s->got[k] >= frame_len(s, k))
            rc = complete(s, k);
    /* What waited in the spill behind them goes in now. */
    unsigned char *tmp = rc ? NULL : take_buffer(s);
    if (tmp) {
        take_io(s);
        rc = advance(s, tmp);
        give_io(s);
        give_buffer(s, tmp);
    } else if (!rc) {
        rc = s->failed;
    }
    pthread_mutex_unlock(&s->mu);
    return rc ? cb_error_set(err, rc, "cannot write %s: %s", s->partial, strerror(-rc)) : 0;
}

const char *image_sink_partial_name(const struct image_sink *s)
{
    return s->partial;
}

int image_sink_finish(struct image_sink *s, const struct img_meta *m, struct cb_error *err)
{
    size_t len = 0;
    char *text = img_meta_trailer_text(m, &len);
    int rc = meta_frame(s, text, len, err);
    if (rc)
        return rc;
    void *table = img_seek_table(s->entries, s->nentries, &len);
    if (!table)
        return cb_error_set(err, -ENOMEM, "out of memory");
    rc = part_writer_write(&s->out, table, len, err);
    s->st.image_bytes += len;
    free(table);
    if (!rc && s->out.fd >= 0 && fdatasync(s->out.fd) != 0)
        rc = cb_error_set(err, -errno, "cannot write %s: %s", s->partial, strerror(errno));
    return rc;
}

static void close_side_files(struct image_sink *s)
{
    if (s->spill_fd >= 0)
        close(s->spill_fd);
    if (s->stage_fd >= 0)
        close(s->stage_fd);
    if (s->sums_fd >= 0)
        close(s->sums_fd);
    s->spill_fd = s->stage_fd = s->sums_fd = -1;
}

static void remove_side_files(struct image_sink *s)
{
    close_side_files(s);
    unlink(s->spill_path);
    unlink(s->stage_path);
    unlink(s->sums_path);
}

int image_sink_commit(struct image_sink *s, struct cb_error *err)
{
    int rc = part_writer_commit(&s->out, err);
    if (!rc)
        remove_side_files(s);
    return rc;
}

void image_sink_abort(struct image_sink *s)
{
    part_writer_abort(&s->out);
    remove_side_files(s);
}

void image_sink_stats(const struct image_sink *s, struct image_sink_stats *out)
{
    *out = s->st;
}

void image_sink_free(struct image_sink *s)
{
    if (!s)
        return;
    pthread_mutex_lock(&s->mu);
    s->ending = true;
    if (!s->failed)
        s->failed = -ECANCELED;     /* compressors stop at once */
    pthread_cond_broadcast(&s->cv);
    pthread_mutex_unlock(&s->mu);
    for (int i = 0; i < s->nworkers; i++)
        pthread_join(s->workers[i], NULL);
    if (s->out.fd >= 0)
        close(s->out.fd);
    close_side_files(s);
    if (s->rd_open)
        part_file_close(&s->rd);
    ZSTD_freeDCtx(s->dctx);
    io_free(s->rbuf);
    io_free(s->dbuf);
    for (int i = 0; i < s->nfree; i++)
        io_free(s->free_bufs[i]);
    for (int i = 0; i < s->nready; i++)
        io_free(s->ready[i].buf);
    io_free(s->asm_buf);
    for (int i = 0; i < IMG_MAX_WORKERS; i++)
        io_free(s->spares[i]);
    free(s->zero);
    free(s->sums);
    free(s->has_sum);
    free(s->kept);
    free(s->in_stage);
    free(s->lost);
    free(s->state);
    free(s->got);
    free(s->spill_at);
    free(s->cpos);
    free(s->entries);
    free(s->free_bufs);
    free(s->ready);
    pthread_mutex_destroy(&s->mu);
    pthread_cond_destroy(&s->cv);
    free(s);
}

/* The sink as the engine's target (clone/engine_sink.h). */
static ssize_t sink_put(struct engine_target *t, const void *buf, size_t len, uint64_t off, bool known_zeros)
{
    (void)known_zeros;      /* zeros are compressed like the rest: a frame of them costs bytes */
    int r = image_sink_put(t->sink, buf, len, off);
    return r ? r : (ssize_t)len;
}

static int sink_checkpoint(struct engine_target *t)
{
    return image_sink_checkpoint(t->sink);
}

/* Complete: every frame in, in order; else what the map will say is in. */
static int sink_finish(struct engine_target *t, bool complete, char *why, size_t why_len)
{
    struct cb_error err = { 0 };
    int f = complete ? image_sink_drain(t->sink, &err) : image_sink_checkpoint(t->sink);
    if (f)
        snprintf(why, why_len, "%s", err.msg[0] ? err.msg : strerror(-f));
    return f;
}

struct sink_reader_in {
    struct sink_reader r;
    struct image_sink *s;           /* unsealed: the frames as the sink has them */
    struct image img;               /* sealed: the image file as any reader opens it */
};

static ssize_t read_unsealed(struct sink_reader *r, void *buf, size_t len, uint64_t off)
{
    int rc = image_sink_read(((struct sink_reader_in *)r)->s, buf, len, off);
    return rc ? (rc < 0 ? rc : -EIO) : (ssize_t)len;
}

static ssize_t read_sealed(struct sink_reader *r, void *buf, size_t len, uint64_t off)
{
    struct cb_error err = { 0 };
    int rc = image_read(&((struct sink_reader_in *)r)->img, buf, len, off, &err);
    return rc ? (rc < 0 ? rc : -EIO) : (ssize_t)len;
}

static void close_reader(struct sink_reader *r)
{
    struct sink_reader_in *in = (struct sink_reader_in *)r;
    if (!in->s)
        image_close(&in->img);
    free(in);
}

/* Sealed: FILE.partial decoded frame by frame from the disk (dropped from
 * the page cache first), as a restore will read it. */
static int sink_open_reader(struct engine_target *t, bool sealed, struct sink_reader **out, struct cb_error *err)
{
    struct sink_reader_in *in = calloc(1, sizeof(*in));
    if (!in)
        return cb_error_set(err, -ENOMEM, "out of memory");
    in->r = (struct sink_reader){ .read = sealed ? read_sealed : read_unsealed, .close = close_reader };
    if (!sealed) {
        in->s = t->sink;
    } else {
        int rc = image_open(&in->img, image_sink_partial_name(t->sink), err);
        if (rc) {
            free(in);
            return rc;
        }
        for (int i = 0; i < in->img.pf.nparts; i++)
            posix_fadvise(in->img.pf.fds[i], 0, 0, POSIX_FADV_DONTNEED);
    }
    *out = &in->r;
    return 0;
}

static const struct engine_sink_ops sink_ops = {
    .put = sink_put, .checkpoint = sink_checkpoint, .finish = sink_finish, .open_reader = sink_open_reader,
    .compresses = true,
};

void image_sink_attach(struct image_sink *s, struct engine_target *t)
{
    t->sink_ops = s ? &sink_ops : NULL;
    t->sink = s;
}
