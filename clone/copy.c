#include "clone/copy.h"
#include "clone/buffer_ring.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Bad sectors met by the reader inside one slot (written as zeros). */
struct slot_bad {
    uint64_t off, len;
};

struct engine {
    struct copy_job *job;
    struct buffer_ring ring;
    /* Per slot: its unreadable ranges; written by the reader before publish,
     * read under ring.mu in on_release. */
    struct slot_bad **bad;
    size_t *nbad, *badcap;
    pthread_mutex_t cp_mu;          /* guards job->checkpoints (verify-alg hasher only writes) */
    struct hash_ctx *hashes[HASH_COUNT];
};

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

size_t copy_live_targets(const struct copy_job *job)
{
    size_t n = 0;
    for (size_t i = 0; i < job->ntargets; i++)
        if (!atomic_load(&job->targets[i].failed))
            n++;
    return n;
}

/* Last consumer done with a slot: it is on every live target. Under ring.mu. */
static void on_release(struct ring_slot *slot, void *arg)
{
    struct engine *e = arg;
    struct copy_job *job = e->job;
    if (slot->hash_only)
        return;
    size_t idx = (size_t)(slot - e->ring.slots);
    map_mark(job->map, slot->off, slot->len, MAP_FINISHED);
    for (size_t i = 0; i < e->nbad[idx]; i++)
        map_mark(job->map, e->bad[idx][i].off, e->bad[idx][i].len, MAP_BAD);
    atomic_fetch_add(&job->progress->bytes_done, slot->len);
}

struct consumer {
    struct engine *e;
    int target;                     /* >= 0: writer for that target */
    enum hash_alg alg;              /* else: hasher for alg */
};

static void *writer_main(void *arg)
{
    struct consumer *c = arg;
    struct copy_job *job = c->e->job;
    struct copy_target *t = &job->targets[c->target];
    struct ring_slot *s;
    for (uint64_t seq = 0; (s = ring_next(&c->e->ring, seq)); seq++) {
        if (!s->hash_only && !atomic_load(&t->failed)) {
            ssize_t w = io_pwrite(&t->dev, s->buf, s->len, s->off);
            if (w < 0) {
                t->error = (int)w;
                t->error_off = s->off;
                atomic_store(&t->failed, 1);
                progress_notify(job->progress);
            }
        }
        ring_release(&c->e->ring, s);
    }
    return NULL;
}

static int add_checkpoint(struct engine *e, uint64_t stream_pos, uint64_t disk_off, const char *hex)
{
    struct copy_job *job = e->job;
    pthread_mutex_lock(&e->cp_mu);
    struct copy_checkpoint *n = realloc(job->checkpoints, (job->ncheckpoints + 1) * sizeof(*n));
    int rc = n ? 0 : -ENOMEM;
    if (n) {
        job->checkpoints = n;
        n[job->ncheckpoints].stream_pos = stream_pos;
        n[job->ncheckpoints].disk_off = disk_off;
        snprintf(n[job->ncheckpoints].hex, HASH_MAX_HEX, "%s", hex);
        job->ncheckpoints++;
    }
    pthread_mutex_unlock(&e->cp_mu);
    return rc;
}

static void *hasher_main(void *arg)
{
    struct consumer *c = arg;
    struct engine *e = c->e;
    struct hash_ctx *h = e->hashes[c->alg];
    bool checkpoints = c->alg == e->job->verify_alg;
    uint64_t stream = 0, next_mark = COPY_CHECKPOINT_EVERY;
    struct ring_slot *s;
    for (uint64_t seq = 0; (s = ring_next(&e->ring, seq)); seq++) {
        hash_update(h, s->buf, s->len);
        stream += s->len;
        if (checkpoints && stream >= next_mark) {
            char hex[HASH_MAX_HEX];
            hash_peek_hex(h, hex);
            add_checkpoint(e, stream, s->off + s->len, hex);
            next_mark = stream + COPY_CHECKPOINT_EVERY;
        }
        ring_release(&e->ring, s);
    }
    return NULL;
}

static bool source_gone(int err)
{
    return err == -ENODEV || err == -ENXIO || err == -ENOMEDIUM;
}

static int note_bad(struct engine *e, size_t idx, uint64_t off, uint64_t len)
{
    if (e->nbad[idx] && e->bad[idx][e->nbad[idx] - 1].off + e->bad[idx][e->nbad[idx] - 1].len == off) {
        e->bad[idx][e->nbad[idx] - 1].len += len;
        return 0;
    }
    if (e->nbad[idx] == e->badcap[idx]) {
        size_t cap = e->badcap[idx] ? e->badcap[idx] * 2 : 8;
        struct slot_bad *n = realloc(e->bad[idx], cap * sizeof(*n));
        if (!n)
            return -ENOMEM;
        e->bad[idx] = n;
        e->badcap[idx] = cap;
    }
    e->bad[idx][e->nbad[idx]++] = (struct slot_bad){ off, len };
    atomic_fetch_add(&e->job->progress->bad_areas, 1);
    return 0;
}

/* A large read failed: read the chunk sector by sector, zeros where unreadable. */
static int read_sectors(struct engine *e, size_t idx, char *buf, uint64_t off, size_t len)
{
    struct io_dev *src = e->job->src;
    size_t ss = src->sector;
    for (size_t o = 0; o < len; o += ss) {
        size_t n = len - o < ss ? len - o : ss;
        ssize_t r = io_pread(src, buf + o, n, off + o);
        if (r == (ssize_t)n)
            continue;
        if (r < 0 && source_gone((int)r))
            return (int)r;
        memset(buf + o, 0, n);
        atomic_fetch_add(&e->job->progress->bytes_bad, n);
        if (note_bad(e, idx, off + o, n))
            return -ENOMEM;
    }
    return 0;
}

struct rate {
    double start, last;
    uint64_t last_done;
};

static void update_rate(struct copy_progress *p, struct rate *r)
{
    double t = now_s();
    if (t - r->last < 1.0)
        return;
    uint64_t done = atomic_load(&p->bytes_done);
    double inst = (double)(done - r->last_done) / (t - r->last);
    uint64_t prev = atomic_load(&p->rate_now);
    atomic_store(&p->rate_now, prev ? (uint64_t)(0.5 * (double)prev + 0.5 * inst) : (uint64_t)inst);
    atomic_store(&p->rate_avg, (uint64_t)((double)done / (t - r->start)));
    r->last = t;
    r->last_done = done;
    progress_notify(p);
}

static void save_map_snapshot(struct engine *e)
{
    struct copy_job *job = e->job;
    if (!job->map_path)
        return;
    struct block_map snap = { 0 };
    pthread_mutex_lock(&e->ring.mu);
    int rc = map_copy(&snap, job->map);
    pthread_mutex_unlock(&e->ring.mu);
    if (rc == 0) {
        snap.current_pos = atomic_load(&job->progress->pos);
        map_save(&snap, job->map_path, job->map_cmdline, NULL);
    }
    map_free(&snap);
}

/* Sleep as long as needed to keep reads under max_read_rate. */
static void throttle(const struct copy_job *job, double start, uint64_t bytes_read)
{
    if (!job->max_read_rate)
        return;
    double ahead = (double)bytes_read / (double)job->max_read_rate - (now_s() - start);
    if (ahead > 0) {
        struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
        nanosleep(&ts, NULL);
    }
}

/* The reader: walk the map in order and publish every chunk. */
static int read_stream(struct engine *e)
{
    struct copy_job *job = e->job;
    struct copy_progress *p = job->progress;
    struct rate rate = { .start = now_s(), .last = now_s() };
    double last_save = now_s();
    uint64_t seq = 0, pos = 0, rpos, rlen, bytes_read = 0;
    int rc = 0;
    save_map_snapshot(e);       /* a map exists from the first second */
    while (!rc && map_find(job->map, pos, "?+", &rpos, &rlen)) {
        bool hash_only = map_state_at(job->map, rpos) == MAP_FINISHED;
        if (hash_only && !job->hash_mask) {
            pos = rpos + rlen;
            continue;
        }
        for (uint64_t off = rpos; off < rpos + rlen && !rc;) {
            if (atomic_load(&p->cancel)) {
                job->cancelled = true;
                return 0;
            }
            if (copy_live_targets(job) == 0)
                return -EIO;
            /* Chunks end on slot-size boundaries so requests stay aligned. */
            uint64_t end = (off / COPY_SLOT_SIZE + 1) * COPY_SLOT_SIZE;
            if (end > rpos + rlen)
                end = rpos + rlen;
            size_t len = (size_t)(end - off);
            struct ring_slot *s = ring_acquire(&e->ring, seq);
            size_t idx = (size_t)(s - e->ring.slots);
            e->nbad[idx] = 0;
            ssize_t r = io_pread(job->src, s->buf, len, off);
            if (r != (ssize_t)len) {
                if (r < 0 && source_gone((int)r))
                    rc = (int)r;
                else
                    rc = read_sectors(e, idx, s->buf, off, len);
                if (rc) {
                    job->source_lost = true;
                    snprintf(job->source_msg, sizeof(job->source_msg),
                             "source %s stopped answering at byte %llu: %s", job->src->path,
                             (unsigned long long)off, strerror(-rc));
                    break;
                }
            }
            s->off = off;
            s->len = len;
            s->hash_only = hash_only;
            ring_publish(&e->ring);
            seq++;
            off = end;
            atomic_store(&p->pos, off);
            bytes_read += len;
            throttle(job, rate.start, bytes_read);
            update_rate(p, &rate);
            if (now_s() - last_save >= 3.0) {
                save_map_snapshot(e);
                last_save = now_s();
            }
        }
        pos = rpos + rlen;
    }
    return rc;
}

int copy_run(struct copy_job *job, struct cb_error *err)
{
    struct engine e = { .job = job };
    int nhash = 0;
    for (int a = 0; a < HASH_COUNT; a++)
        if (job->hash_mask & (1u << a))
            nhash++;
    int nconsumers = nhash + (int)job->ntargets;
    if (ring_init(&e.ring, COPY_SLOTS, COPY_SLOT_SIZE, nconsumers))
        return cb_error_set(err, -ENOMEM, "out of memory for the copy buffers");
    e.ring.on_release = on_release;
    e.ring.arg = &e;
    e.bad = calloc(COPY_SLOTS, sizeof(*e.bad));
    e.nbad = calloc(COPY_SLOTS, sizeof(*e.nbad));
    e.badcap = calloc(COPY_SLOTS, sizeof(*e.badcap));
    pthread_mutex_init(&e.cp_mu, NULL);
    struct consumer *cons = calloc((size_t)nconsumers + 1, sizeof(*cons));
    pthread_t *threads = calloc((size_t)nconsumers + 1, sizeof(*threads));
    int rc = (e.bad && e.nbad && e.badcap && cons && threads) ? 0 : -ENOMEM;
    int started = 0;
    for (int a = 0; !rc && a < HASH_COUNT; a++) {
        if (!(job->hash_mask & (1u << a)))
            continue;
        e.hashes[a] = hash_new((enum hash_alg)a);
        if (!e.hashes[a])
            rc = -ENOMEM;
    }
    if (rc) {
        cb_error_set(err, rc, "out of memory starting the copy");
        goto out;
    }
    struct copy_progress *p = job->progress;
    atomic_store(&p->phase, PHASE_COPY);
    atomic_store(&p->bytes_total, map_bytes(job->map, MAP_NONTRIED) + map_bytes(job->map, MAP_FINISHED));
    atomic_store(&p->bytes_done, map_bytes(job->map, MAP_FINISHED));
    progress_notify(p);
    for (int a = 0; a < HASH_COUNT; a++)
        if (e.hashes[a])
            cons[started++] = (struct consumer){ .e = &e, .target = -1, .alg = (enum hash_alg)a };
    for (size_t t = 0; t < job->ntargets; t++)
        cons[started++] = (struct consumer){ .e = &e, .target = (int)t };
    for (int i = 0; i < started; i++)
        pthread_create(&threads[i], NULL, cons[i].target >= 0 ? writer_main : hasher_main, &cons[i]);
    rc = read_stream(&e);
    ring_end(&e.ring);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    /* Targets must hold the data before anyone trusts the map. */
    for (size_t t = 0; t < job->ntargets; t++) {
        struct copy_target *tg = &job->targets[t];
        int f = atomic_load(&tg->failed) ? 0 : io_flush(&tg->dev);
        if (f) {
            tg->error = f;
            tg->error_off = job->map->size;
            atomic_store(&tg->failed, 1);
        }
    }
    for (int a = 0; a < HASH_COUNT; a++)
        if (e.hashes[a] && !job->cancelled && !rc)
            hash_final_hex(e.hashes[a], job->digests[a]);
    job->map->current_status = job->cancelled || rc ? '?' : '+';
    job->map->current_pos = atomic_load(&p->pos);
    if (job->map_path)
        map_save(job->map, job->map_path, job->map_cmdline, NULL);
    if (rc == -EIO && copy_live_targets(job) == 0)
        cb_error_set(err, rc, "every target failed; nothing more can be written");
    else if (rc)
        cb_error_set(err, rc, "%s", job->source_msg[0] ? job->source_msg : strerror(-rc));
out:
    for (int a = 0; a < HASH_COUNT; a++)
        hash_free(e.hashes[a]);
    for (size_t i = 0; e.bad && i < COPY_SLOTS; i++)
        free(e.bad[i]);
    free(e.bad);
    free(e.nbad);
    free(e.badcap);
    free(cons);
    free(threads);
    pthread_mutex_destroy(&e.cp_mu);
    ring_destroy(&e.ring);
    return rc;
}

void copy_job_release(struct copy_job *job)
{
    free(job->checkpoints);
    job->checkpoints = NULL;
    job->ncheckpoints = 0;
}
