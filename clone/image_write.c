/* ZSTD_estimateCCtxSize_usingCCtxParams: the plan is sized from zstd's own
 * estimate (exported by the shared library too). */
#define ZSTD_STATIC_LINKING_ONLY
#include "clone/image_write.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <zstd.h>

#define CLUSTER (64u << 10)

struct slot {
    unsigned char *buf;             /* the frame as read; once compressed (and hashed), swapped for
                                     * its compressor's buffer holding the zstd frame */
    size_t len, olen;
    uint64_t off, seq;
    bool filled, hashed, compressing, compressed, zero;
    uint32_t checksum;
    int zerr;                       /* compression failed (out of memory) */
};

struct pipe {
    struct image_write_job *job;
    struct image_plan plan;
    struct slot slots[IMG_MAX_SLOTS];
    /* Each compressor's output buffer (compressor k owns spare[k] while it
     * runs; pipe_fini frees what they hold at the end). */
    unsigned char *spare[IMG_MAX_WORKERS];
    int next_worker;                /* under mu: the spare the next compressor to start takes */
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool ended, failed;
    uint64_t nseq;                  /* slots the reader produced, once ended */
    struct cb_error err;            /* the writer's failure */
    struct hash_ctx *hashes[HASH_COUNT];
    struct img_entry *entries;
    uint32_t nentries, cap;
    unsigned char *zero;            /* the frame for IMG_FRAME_SIZE zero bytes */
    size_t zero_len;
    size_t buf_cap;                 /* every frame buffer: room for a frame and for its zstd form */
    struct progress_clock clock;
};

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

int image_write_plan(int level, int cores, struct image_plan *plan)
{
    if (cores <= 0)
        cores = (int)sysconf(_SC_NPROCESSORS_ONLN);
    if (cores < 1)
        cores = 1;
    if (cores > IMG_MAX_WORKERS)
        cores = IMG_MAX_WORKERS;
    size_t buf = (ZSTD_compressBound(IMG_FRAME_SIZE) + IO_ALIGN - 1) / IO_ALIGN * IO_ALIGN;
    size_t budget = IMG_JOB_MEMORY - IMG_JOB_RESERVE;
    /* Windows of 1 MiB and more first, a compressor dropped before the
     * window shrinks below that; smaller windows only when nothing else fits.
     * Any window decodes with plain zstd -d (it is in each frame's header). */
    for (int pass = 0; pass < 2; pass++) {
        int hi = pass ? IMG_MIN_WINDOW_LOG - 1 : IMG_WINDOW_LOG, lo = pass ? 10 : IMG_MIN_WINDOW_LOG;
        for (int w = cores; w >= 1; w--) {
            /* w + 1 slots (one filling while each compressor holds one) and w spares */
            size_t fixed = (size_t)(2 * w + 1) * buf;
            for (int wl = hi; wl >= lo && fixed < budget; wl--) {
                ZSTD_compressionParameters cp;
                size_t ctx = cctx_bytes(level, wl, &cp);
                if (ctx > (budget - fixed) / (size_t)w)
                    continue;
                *plan = (struct image_plan){ .workers = w, .slots = w + 1, .window_log = wl,
                                             .chain_log = (int)cp.chainLog, .hash_log = (int)cp.hashLog,
                                             .buffer_bytes = buf, .cctx_bytes = ctx,
                                             .total_bytes = fixed + (size_t)w * ctx };
                return 0;
            }
        }
    }
    return -ENOMEM;
}

/* Compress s into out; the seek-table checksum is the frame's own (XXH64,
 * low 32 bits). */
static int compress_frame(ZSTD_CCtx *c, const struct slot *s, unsigned char *out, size_t cap, size_t *olen,
                          uint32_t *checksum)
{
    size_t r = ZSTD_compress2(c, out, cap, s->buf, s->len);
    if (ZSTD_isError(r))
        return -ENOMEM;
    *olen = r;
    *checksum = img_le32(out + r - 4);
    return 0;
}

static int add_entry(struct pipe *p, uint32_t csize, uint32_t dsize, uint32_t checksum)
{
    if (p->nentries == p->cap) {
        uint32_t cap = p->cap ? p->cap * 2 : 1024;
        struct img_entry *n = realloc(p->entries, cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        p->entries = n;
        p->cap = cap;
    }
    p->entries[p->nentries++] = (struct img_entry){ csize, dsize, checksum };
    return 0;
}

/* Write a whole frame (data or metadata) and list it in the seek table. */
static int emit(struct pipe *p, const void *buf, size_t len, uint32_t dsize, uint32_t checksum, struct cb_error *err)
{
    int rc = part_writer_write(&p->job->out, buf, len, err);
    if (!rc && add_entry(p, (uint32_t)len, dsize, checksum))
        rc = cb_error_set(err, -ENOMEM, "out of memory for the seek table");
    if (!rc)
        p->job->image_bytes += len;
    return rc;
}

static void count_bad(struct image_write_job *job)
{
    atomic_store(&job->progress->bytes_bad, map_bytes(job->map, MAP_BAD));
    atomic_store(&job->progress->bad_areas, map_regions(job->map, MAP_BAD));
}

/* Read [off, off+len) with in-frame rescue. 0, or -errno when the source is gone. */
static int read_range(struct image_write_job *job, unsigned char *buf, size_t len, uint64_t off,
                      struct cb_error *err);

/* A frame of the image: with a domain (--mode used), what lies outside it is
 * stored as zeros and never read. */
static int read_frame(struct image_write_job *job, unsigned char *buf, size_t len, uint64_t off,
                      struct cb_error *err)
{
    if (!job->domain)
        return read_range(job, buf, len, off, err);
    memset(buf, 0, len);
    uint64_t pos = off, dp, dl;
    while (pos < off + len && map_find(job->domain, pos, "+", &dp, &dl) && dp < off + len) {
        uint64_t end = dp + dl < off + len ? dp + dl : off + len;
        int rc = read_range(job, buf + (dp - off), (size_t)(end - dp), dp, err);
        if (rc)
            return rc;
        pos = end;
    }
    return 0;
}

static int read_range(struct image_write_job *job, unsigned char *buf, size_t len, uint64_t off,
                      struct cb_error *err)
{
    ssize_t r = io_pread(job->src, buf, len, off);
    if (r == (ssize_t)len) {
        map_mark_locked(job->map, job->map_mu, off, len, MAP_FINISHED);
        return 0;
    }
    unsigned ss = job->src->sector ? job->src->sector : 512;
    size_t plen = job->fill ? strlen(job->fill) : 0;
    for (size_t c = 0; c < len; c += CLUSTER) {
        size_t clen = len - c < CLUSTER ? len - c : CLUSTER;
        r = io_pread(job->src, buf + c, clen, off + c);
        if (r == (ssize_t)clen) {
            map_mark_locked(job->map, job->map_mu, off + c, clen, MAP_FINISHED);
            continue;
        }
        for (size_t s = c; s < c + clen; s += ss) {
            size_t slen = c + clen - s < ss ? c + clen - s : ss;
            for (int t = 0; t <= 1 + job->retries; t++) {   /* scrape, then the retries */
                r = io_pread(job->src, buf + s, slen, off + s);
                if (r == (ssize_t)slen || (r < 0 && io_device_gone((int)r)))
                    break;
            }
            if (r < 0 && io_device_gone((int)r))
                return cb_error_set(err, (int)r, "source %s stopped answering at byte %llu: %s", job->src->path,
                                    (unsigned long long)(off + s), strerror((int)-r));
            if (r == (ssize_t)slen) {
                map_mark_locked(job->map, job->map_mu, off + s, slen, MAP_FINISHED);
                continue;
            }
            for (size_t i = 0; i < slen; i++)
                buf[s + i] = plen ? (unsigned char)job->fill[i % plen] : 0;
            map_mark_locked(job->map, job->map_mu, off + s, slen, MAP_BAD);
            count_bad(job);
            progress_notify(job->progress);
        }
    }
    return 0;
}

static void *hasher_main(void *arg)
{
    struct pipe *p = arg;
    for (uint64_t seq = 0;; seq++) {
        struct slot *s = &p->slots[seq % (uint64_t)p->plan.slots];
        pthread_mutex_lock(&p->mu);
        while (!p->failed && !(s->filled && s->seq == seq) && !(p->ended && seq >= p->nseq))
            pthread_cond_wait(&p->cv, &p->mu);
        bool stop = p->failed || !(s->filled && s->seq == seq);
        const unsigned char *in = s->buf;      /* not swapped until hashed is set */
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        for (int a = 0; a < HASH_COUNT; a++)
            if (p->hashes[a])
                hash_update(p->hashes[a], in, s->len);
        pthread_mutex_lock(&p->mu);
        s->hashed = true;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
}

static void *compressor_main(void *arg)
{
    struct pipe *p = arg;
    ZSTD_CCtx *c = new_cctx(p->job->level, &p->plan);
    pthread_mutex_lock(&p->mu);
    unsigned char **out = &p->spare[p->next_worker++];
    while (!p->failed) {
        struct slot *pick = NULL;
        for (int i = 0; i < p->plan.slots; i++) {
            struct slot *s = &p->slots[i];
            if (s->filled && !s->zero && !s->compressing && !s->compressed && (!pick || s->seq < pick->seq))
                pick = s;
        }
        if (!pick) {
            if (p->failed || p->ended)
                break;
            pthread_cond_wait(&p->cv, &p->mu);
            continue;
        }
        pick->compressing = true;
        pthread_mutex_unlock(&p->mu);
        size_t olen = 0;
        uint32_t sum = 0;
        int rc = c ? compress_frame(c, pick, *out, p->buf_cap, &olen, &sum) : -ENOMEM;
        pthread_mutex_lock(&p->mu);
        /* The hasher may still be reading the frame: swap only once it is done. */
        while (!rc && !pick->hashed && !p->failed)
            pthread_cond_wait(&p->cv, &p->mu);
        if (!rc && !pick->hashed)
            break;              /* failed: this slot is never written */
        if (!rc) {
            unsigned char *frame = pick->buf;
            pick->buf = *out;
            *out = frame;
            pick->olen = olen;
            pick->checksum = sum;
        }
        pick->zerr = rc;
        pick->compressed = true;
        pthread_cond_broadcast(&p->cv);
    }
    pthread_mutex_unlock(&p->mu);
    ZSTD_freeCCtx(c);
    return NULL;
}

static void *writer_main(void *arg)
{
    struct pipe *p = arg;
    for (uint64_t seq = 0;; seq++) {
        struct slot *s = &p->slots[seq % (uint64_t)p->plan.slots];
        pthread_mutex_lock(&p->mu);
        while (!p->failed && !(s->filled && s->seq == seq && s->hashed && (s->zero || s->compressed)) &&
               !(p->ended && seq >= p->nseq))
            pthread_cond_wait(&p->cv, &p->mu);
        bool stop = p->failed || !(s->filled && s->seq == seq);
        pthread_mutex_unlock(&p->mu);
        if (stop)
            return NULL;
        int rc = s->zerr ? cb_error_set(&p->err, s->zerr, "out of memory while compressing") : 0;
        if (!rc && s->zero)
            rc = emit(p, p->zero, p->zero_len, (uint32_t)s->len, img_le32(p->zero + p->zero_len - 4), &p->err);
        else if (!rc)
            rc = emit(p, s->buf, s->olen, (uint32_t)s->len, s->checksum, &p->err);
        p->job->frames++;
        p->job->zero_frames += s->zero;
        atomic_fetch_add(&p->job->progress->bytes_done, s->len);
        progress_rate_tick(p->job->progress, &p->clock);
        pthread_mutex_lock(&p->mu);
        if (rc)
            p->failed = true;
        s->filled = false;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
        if (rc)
            return NULL;
    }
}

/* The reader: fill slots in disk order. 0, or -errno (err set). */
static int read_all(struct pipe *p, struct cb_error *err)
{
    struct image_write_job *job = p->job;
    uint64_t size = job->meta->size;
    uint64_t seq = 0;
    for (uint64_t off = 0; off < size; off += IMG_FRAME_SIZE, seq++) {
        struct slot *s = &p->slots[seq % (uint64_t)p->plan.slots];
        pthread_mutex_lock(&p->mu);
        while (s->filled && !p->failed)
            pthread_cond_wait(&p->cv, &p->mu);
        bool failed = p->failed;
        pthread_mutex_unlock(&p->mu);
        if (failed)
            return 0;       /* the writer's error is reported */
        if (atomic_load(&job->progress->cancel)) {
            job->cancelled = true;
            return 0;
        }
        s->len = size - off < IMG_FRAME_SIZE ? (size_t)(size - off) : IMG_FRAME_SIZE;
        s->off = off;
        atomic_store(&job->progress->pos, off);
        int rc = read_frame(job, s->buf, s->len, off, err);
        if (rc)
            return rc;
        s->zero = s->len == IMG_FRAME_SIZE && io_is_zero(s->buf, s->len);
        pthread_mutex_lock(&p->mu);
        s->seq = seq;
        s->hashed = !p->job->hash_mask;
        s->compressing = s->compressed = false;
        s->zerr = 0;
        s->filled = true;
        p->nseq = seq + 1;
        pthread_cond_broadcast(&p->cv);
        pthread_mutex_unlock(&p->mu);
    }
    return 0;
}

static int pipe_init(struct pipe *p, struct image_write_job *job, struct cb_error *err)
{
    memset(p, 0, sizeof(*p));
    p->job = job;
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->cv, NULL);
    if (image_write_plan(job->level, job->workers, &p->plan) != 0)
        return cb_error_set(err, -ENOMEM, "zstd level %d needs more memory than an image job may use (%u MiB), "
                            "even with one compressor: choose a lower --level", job->level, IMG_JOB_MEMORY >> 20);
    job->plan = p->plan;
    p->buf_cap = p->plan.buffer_bytes;
    for (int i = 0; i < p->plan.slots; i++)
        if (!(p->slots[i].buf = io_alloc(p->buf_cap)))
            return cb_error_set(err, -ENOMEM, "out of memory for the image buffers");
    for (int i = 0; i < p->plan.workers; i++)
        if (!(p->spare[i] = io_alloc(p->buf_cap)))
            return cb_error_set(err, -ENOMEM, "out of memory for the image buffers");
    for (int a = 0; a < HASH_COUNT; a++)
        if ((job->hash_mask & (1u << a)) && !(p->hashes[a] = hash_new((enum hash_alg)a)))
            return cb_error_set(err, -ENOMEM, "cannot set up %s hashing", hash_name((enum hash_alg)a));
    /* The all-zero frame, compressed once, in buffers not in use yet (no
     * extra 16 MiB for it). */
    ZSTD_CCtx *c = new_cctx(job->level, &p->plan);
    memset(p->slots[0].buf, 0, IMG_FRAME_SIZE);
    size_t r = c ? ZSTD_compress2(c, p->spare[0], p->buf_cap, p->slots[0].buf, IMG_FRAME_SIZE) : 0;
    ZSTD_freeCCtx(c);
    if (!r || ZSTD_isError(r) || !(p->zero = malloc(r)))
        return cb_error_set(err, -ENOMEM, "cannot set up the compressor (level %d)", job->level);
    memcpy(p->zero, p->spare[0], r);
    p->zero_len = r;
    progress_clock_start(&p->clock);
    return 0;
}

static void pipe_fini(struct pipe *p)
{
    for (int i = 0; i < IMG_MAX_SLOTS; i++)
        io_free(p->slots[i].buf);
    for (int i = 0; i < IMG_MAX_WORKERS; i++)
        io_free(p->spare[i]);
    for (int a = 0; a < HASH_COUNT; a++)
        hash_free(p->hashes[a]);
    free(p->entries);
    free(p->zero);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->cv);
}

/* Header frame: before the data. Trailer and seek table: after it. */
static int emit_meta(struct pipe *p, char *text, size_t len, struct cb_error *err)
{
    if (!text)
        return cb_error_set(err, -ENOMEM, "out of memory");
    size_t flen;
    void *f = img_skippable_frame(IMG_META_MAGIC, text, len, &flen);
    free(text);
    if (!f)
        return cb_error_set(err, -ENOMEM, "out of memory");
    int rc = emit(p, f, flen, 0, 0, err);
    free(f);
    return rc;
}

/* The regions of map in state, appended to (*v, *n). 0 or -ENOMEM. */
/* The regions in one of states, neighbours joined. */
static int ranges_of_map(const struct block_map *map, const char *states, struct img_range **v, size_t *n)
{
    for (size_t i = 0; i < map->count; i++) {
        if (!strchr(states, map->r[i].state))
            continue;
        if (*n && (*v)[*n - 1].off + (*v)[*n - 1].len == map->r[i].pos)
            (*v)[*n - 1].len += map->r[i].size;
        else if (img_range_push(v, n, (struct img_range){ map->r[i].pos, map->r[i].size }) != 0)
            return -ENOMEM;
    }
    return 0;
}

static int finish_image(struct pipe *p, struct cb_error *err)
{
    struct image_write_job *job = p->job;
    struct img_meta *m = job->meta;
    for (int a = 0; a < HASH_COUNT; a++)
        if (p->hashes[a])
            hash_final_hex(p->hashes[a], m->digests[a]);
    free(m->bad);       /* the header (and its used ranges) is written already */
    m->bad = NULL;
    m->nbad = 0;
    if (ranges_of_map(job->map, "-", &m->bad, &m->nbad))
        return cb_error_set(err, -ENOMEM, "out of memory");
    if (job->fill)
        snprintf(m->fill, sizeof(m->fill), "%s", job->fill);
    m->complete = true;
    size_t len = 0;
    char *text = img_meta_trailer_text(m, &len);
    int rc = emit_meta(p, text, len, err);
    if (rc)
        return rc;
    void *table = img_seek_table(p->entries, p->nentries, &len);
    if (!table)
        return cb_error_set(err, -ENOMEM, "out of memory");
    rc = part_writer_write(&job->out, table, len, err);
    job->image_bytes += len;
    free(table);
    return rc;
}

int image_write_run(struct image_write_job *job, struct cb_error *err)
{
    struct pipe p;
    /* --mode used: the header records what is read, so a restore can fit the
     * partitions onto a drive of any size. Known-zero regions (unused inode
     * tables) are listed too: such a restore writes what it lists, and they
     * must reach its target as zeros, not be left as the drive had them. */
    if (job->domain && ranges_of_map(job->domain, "+z", &job->meta->used, &job->meta->nused))
        return cb_error_set(err, -ENOMEM, "out of memory");
    img_ranges_limit(job->meta->used, &job->meta->nused, IMG_MAX_USED);
    int rc = part_writer_open(&job->out, job->name, job->split, err);
    if (rc)
        return rc;
    job->meta->frame_size = IMG_FRAME_SIZE;
    rc = pipe_init(&p, job, err);
    size_t len = 0;
    if (!rc) {
        char *text = img_meta_header_text(job->meta, &len);
        rc = emit_meta(&p, text, len, err);
    }
    if (rc) {
        pipe_fini(&p);
        return rc;
    }
    int workers = p.plan.workers;
    pthread_t hasher, writer, comp[IMG_MAX_WORKERS];
    progress_set_phase(job->progress, PHASE_COPY);
    atomic_store(&job->progress->bytes_total, job->meta->size);
    /* Without digests there is no hasher: slots go out as "hashed" from the start. */
    if (job->hash_mask)
        pthread_create(&hasher, NULL, hasher_main, &p);
    pthread_create(&writer, NULL, writer_main, &p);
    for (int i = 0; i < workers; i++)
        pthread_create(&comp[i], NULL, compressor_main, &p);
    rc = read_all(&p, err);
    pthread_mutex_lock(&p.mu);
    p.ended = true;
    if (rc || job->cancelled)
        p.failed = true;
    pthread_cond_broadcast(&p.cv);
    pthread_mutex_unlock(&p.mu);
    if (job->hash_mask)
        pthread_join(hasher, NULL);
    pthread_join(writer, NULL);
    for (int i = 0; i < workers; i++)
        pthread_join(comp[i], NULL);
    if (!rc && p.err.code)
        rc = cb_error_set(err, p.err.code, "%s", p.err.msg);
    if (!rc && !job->cancelled)
        rc = finish_image(&p, err);
    pipe_fini(&p);
    return rc;
}
