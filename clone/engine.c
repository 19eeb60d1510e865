#include "clone/engine.h"
#include "clone/engine_walk.h"

#include "common/array_free.h"
#include "common/clock.h"
#include "common/test_hook.h"
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* The engine: a reader (the walk, rescue.c, through engine.h) fills the ring's
 * slots; a hasher per algorithm and a writer per target consume them. */

/* A drive that keeps the others waiting this long is left behind (buffer_ring.h). */
#define ENGINE_LAG_AFTER_MS 1000

/* What a drive left behind was not given: served after the walk. */
struct owed_piece {
    uint64_t off;
    uint32_t len;
    bool zero;                          /* known zeros, not read */
};

struct owed_list {
    struct owed_piece *v;
    size_t n, cap;
};

struct engine {
    struct engine_task *job;
    struct buffer_ring ring;
    struct hash_ctx *hashes[HASH_COUNT];
    /* Per hasher, owned by that hasher thread until it is joined: */
    uint64_t hash_next[HASH_COUNT];     /* offset it expects next */
    bool hash_gap[HASH_COUNT];          /* the stream stopped being in order */
    uint64_t cp_stream, cp_next_mark;   /* verify_alg's stream position and next checkpoint */
    struct hash_ctx *record_hash;       /* verify_alg's hasher: digests of out-of-order pieces */
    size_t records_cap;
    pthread_mutex_t cp_mu;              /* guards job->checkpoints */
    /* Reader-side bookkeeping (the reader thread only): */
    uint64_t seq;                       /* next ring sequence number */
    uint64_t bytes_read;
    struct progress_clock clock;
    double last_save;
    struct block_map prior;             /* what an earlier run had finished (a resume); size 0 if none */
    int nhashers;                       /* consumers 0..nhashers-1 hash; the targets follow */
    struct owed_list *owed;             /* per target, under ring.mu; what the saved map must not call done */
    bool owed_served;
};


bool engine_find(struct engine *e, uint64_t from, const char *states, uint64_t *pos, uint64_t *len)
{
    pthread_mutex_lock(&e->ring.mu);
    bool found = map_find(e->job->map, from, states, pos, len);
    pthread_mutex_unlock(&e->ring.mu);
    return found;
}

const struct block_map *engine_domain(const struct engine *e) { return e->job->domain; }
size_t engine_chunk(const struct engine *e) { return e->ring.slot_size; }
size_t engine_sector(const struct engine *e) { return e->job->source.dev->sector; }
uint64_t engine_size(const struct engine *e) { return e->job->map->size; }
bool engine_cancelled(const struct engine *e) { return e->job->cancelled; }
const char *engine_fill(const struct engine *e) { return e->job->fill; }
int engine_retries(const struct engine *e) { return e->job->retries; }
void engine_drain(struct engine *e) { ring_drain(&e->ring); }

size_t engine_live_targets(const struct engine_task *job)
{
    size_t n = 0;
    for (size_t i = 0; i < job->ntargets; i++)
        if (!atomic_load(&job->targets[i].failed))
            n++;
    return n;
}

/* Live counters from the map; under ring.mu. */
static void count_bad(struct engine *e)
{
    const struct block_map *m = e->job->map;
    uint64_t bytes = 0, areas = 0;
    for (size_t i = 0; i < m->count; i++)
        if (m->r[i].state == MAP_BAD || m->r[i].state == MAP_NONTRIMMED || m->r[i].state == MAP_NONSCRAPED) {
            bytes += m->r[i].size;
            areas++;
        }
    atomic_store(&e->job->progress->bytes_bad, bytes);
    atomic_store(&e->job->progress->bad_areas, areas);
}

/* Last consumer done with a slot: its data is on every live target. Under ring.mu. */
static void on_release(struct ring_slot *slot, void *arg)
{
    struct engine *e = arg;
    if (slot->kind != SLOT_DATA && slot->kind != SLOT_ZERO)
        return;             /* fill is marked bad already; owed pieces were counted when first released */
    map_mark_locked(e->job->map, e->job->map_mu, slot->off, slot->len, MAP_FINISHED);
    atomic_fetch_add(&e->job->progress->bytes_done, slot->len);
    count_bad(e);
}

void engine_mark(struct engine *e, uint64_t off, uint64_t len, char state)
{
    pthread_mutex_lock(&e->ring.mu);
    map_mark_locked(e->job->map, e->job->map_mu, off, len, state);
    count_bad(e);
    pthread_mutex_unlock(&e->ring.mu);
    progress_notify(e->job->progress);
}

struct consumer {
    struct engine *e;
    int index;                      /* its place in the ring */
    int target;                     /* >= 0: writer for that target */
    enum hash_alg alg;              /* else: hasher for alg */
};

/* A drive's own speed (bytes of data per second inside its writes), once
 * it has written enough to say: under 3/4 of another live drive's is a slower
 * drive, not a hiccup (a stall shows as time lost instead: ENGINE_LAG_AFTER_MS). */
#define PROVED_AFTER (32ull << 20)
static bool proved_slow(int consumer, void *arg)
{
    struct engine *e = arg;
    size_t t = (size_t)(consumer - e->nhashers);
    const struct engine_target *me = &e->job->targets[t];
    uint64_t mb = atomic_load(&me->data_bytes), mns = atomic_load(&me->data_ns);
    if (mb < PROVED_AFTER || !mns)
        return false;
    for (size_t o = 0; o < e->job->ntargets; o++) {
        const struct engine_target *other = &e->job->targets[o];
        if (o == t || engine_target_ops(other)->compresses || atomic_load(&other->failed))
            continue;
        uint64_t ob = atomic_load(&other->data_bytes), ons = atomic_load(&other->data_ns);
        /* mine/mns < 3/4 * ob/ons, in floating point: the products overflow */
        if (ob >= PROVED_AFTER && ons && (double)mb * (double)ons * 4 < (double)ob * (double)mns * 3)
            return true;
    }
    return false;
}

/* A drive left behind on a slot: it is owed that piece. Under ring.mu. */
static void on_skip(struct ring_slot *slot, int consumer, void *arg)
{
    struct engine *e = arg;
    struct owed_list *o = &e->owed[consumer - e->nhashers];
    bool zero = slot->kind == SLOT_ZERO;
    if (o->n && o->v[o->n - 1].off + o->v[o->n - 1].len == slot->off && o->v[o->n - 1].zero == zero &&
        o->v[o->n - 1].len + slot->len <= (1u << 30)) {
        o->v[o->n - 1].len += (uint32_t)slot->len;
    } else {
        if (o->n == o->cap) {
            size_t cap = o->cap ? o->cap * 2 : 256;
            struct owed_piece *v = realloc(o->v, cap * sizeof(*v));
            if (!v) {
                /* No room to remember it: that drive cannot be complete. */
                struct engine_target *t = &e->job->targets[consumer - e->nhashers];
                t->sync_error = -ENOMEM;    /* error and error_off are the writer's until it is joined */
                t->sync_error_off = slot->off;
                atomic_store(&t->failed, 1);
                return;
            }
            o->v = v;
            o->cap = cap;
        }
        o->v[o->n++] = (struct owed_piece){ slot->off, (uint32_t)slot->len, zero };
    }
    e->job->targets[consumer - e->nhashers].served_later += slot->len;
}

static void *writer_main(void *arg)
{
    struct consumer *c = arg;
    struct engine_task *job = c->e->job;
    struct engine_target *t = &job->targets[c->target];
    struct ring_slot *s;
    while ((s = ring_next(&c->e->ring, c->index))) {
        bool mine = s->kind != SLOT_OWED || s->only == c->index;
        if (mine && !atomic_load(&t->failed)) {
            bool known = s->kind == SLOT_ZERO || (s->kind == SLOT_OWED && s->owed_kind == SLOT_ZERO);
            engine_target_begin(t);
            ssize_t w = engine_target_ops(t)->put(t, s->buf, s->len, s->off, known);
            uint64_t took = engine_target_end(t, &t->bytes_written, w > 0 ? (uint64_t)w : 0);
            if (!known && w > 0) {
                atomic_fetch_add(&t->data_ns, took);
                atomic_fetch_add(&t->data_bytes, (uint64_t)w);
            }
            if (w < 0) {
                t->error = (int)w;
                t->error_off = s->off;
                atomic_store(&t->failed, 1);
                progress_notify(job->progress);
            }
        }
        ring_release(&c->e->ring, c->index, s);
    }
    return NULL;
}

static void add_checkpoint(struct engine *e, uint64_t stream_pos, uint64_t disk_off, struct hash_ctx *h)
{
    struct engine_task *job = e->job;
    pthread_mutex_lock(&e->cp_mu);
    struct engine_checkpoint *n = realloc(job->checkpoints, (job->ncheckpoints + 1) * sizeof(*n));
    if (n) {
        job->checkpoints = n;
        n[job->ncheckpoints].stream_pos = stream_pos;
        n[job->ncheckpoints].disk_off = disk_off;
        hash_peek_hex(h, n[job->ncheckpoints].hex);
        job->ncheckpoints++;
    }
    pthread_mutex_unlock(&e->cp_mu);
}

/* Feed one algorithm; the verify algorithm also leaves checkpoints. */
static void hash_feed(struct engine *e, enum hash_alg alg, const void *buf, size_t len, uint64_t off)
{
    hash_update(e->hashes[alg], buf, len);
    if (alg != e->job->verify_alg)
        return;
    e->cp_stream += len;
    if (e->cp_stream >= e->cp_next_mark) {
        add_checkpoint(e, e->cp_stream, off + len, e->hashes[alg]);
        e->cp_next_mark = e->cp_stream + ENGINE_CHECKPOINT_EVERY;
    }
}

/* Out of the stream's order: remember what this piece was (verify_alg's hasher only). */
static void add_record(struct engine *e, const struct ring_slot *s)
{
    struct engine_task *job = e->job;
    if (!e->record_hash && !(e->record_hash = hash_new(HASH_SHA256)))
        return;
    if (job->nrecords == e->records_cap) {
        size_t cap = e->records_cap ? e->records_cap * 2 : 1024;
        struct engine_record *n = realloc(job->records, cap * sizeof(*n));
        if (!n)
            return;     /* out of memory: that piece goes unchecked, the rest still is */
        job->records = n;
        e->records_cap = cap;
    }
    struct engine_record *r = &job->records[job->nrecords];
    unsigned char md[HASH_MAX_RAW];
    hash_update(e->record_hash, s->buf, s->len);
    if (hash_final_raw(e->record_hash, md) != 32)
        return;
    memcpy(r->sha256, md, 32);
    r->off = s->off;
    r->len = (uint32_t)s->len;
    job->nrecords++;
}

static int cmp_record(const void *a, const void *b)
{
    const struct engine_record *x = a, *y = b;
    return x->off < y->off ? -1 : x->off > y->off;
}

static void *hasher_main(void *arg)
{
    struct consumer *c = arg;
    struct engine *e = c->e;
    struct ring_slot *s;
    while ((s = ring_next(&e->ring, c->index))) {
        if (s->kind == SLOT_OWED) {     /* the stream's bytes, again, for one drive */
            ring_release(&e->ring, c->index, s);
            continue;
        }
        /* In order from the start (over the domain), data only: else the rest comes from a target. */
        uint64_t dp, dl;
        if (e->job->domain && !e->hash_gap[c->alg] &&
            map_find(e->job->domain, e->hash_next[c->alg], "+z", &dp, &dl))
            e->hash_next[c->alg] = dp;
        if (!e->hash_gap[c->alg] &&
            ((s->kind != SLOT_DATA && s->kind != SLOT_ZERO) || s->off != e->hash_next[c->alg]))
            e->hash_gap[c->alg] = true;
        if (!e->hash_gap[c->alg]) {
            hash_feed(e, c->alg, s->buf, s->len, s->off);
            e->hash_next[c->alg] = s->off + s->len;
        } else if (c->alg == e->job->verify_alg) {
            add_record(e, s);
        }
        ring_release(&e->ring, c->index, s);
    }
    return NULL;
}

int engine_read(struct engine *e, void *buf, size_t len, uint64_t off)
{
    struct engine_task *job = e->job;
    int rc = engine_source_read(&job->source, buf, len, off, job->source_msg, sizeof(job->source_msg));
    if (rc < 0)
        job->source_lost = true;
    return rc;
}

bool engine_stop(struct engine *e, int *rc)
{
    if (atomic_load(&e->job->progress->cancel)) {
        e->job->cancelled = true;
        return true;
    }
    if (engine_live_targets(e->job) == 0) {
        *rc = -EIO;
        return true;
    }
    return false;
}

/* fdatasync every live target; one that cannot is dropped like a failed write. */
static void sync_targets(struct engine_task *job)
{
    for (size_t t = 0; t < job->ntargets; t++) {
        struct engine_target *tg = &job->targets[t];
        int f = atomic_load(&tg->failed) ? 0 : engine_target_ops(tg)->checkpoint(tg);
        if (f) {
            tg->sync_error = f;     /* error and error_off are the writer's until it is joined */
            tg->sync_error_off = job->map->size;
            atomic_store(&tg->failed, 1);
            progress_notify(job->progress);
        }
    }
}

/* What a drive left behind has not been given yet is not finished on every
 * target: a resume must copy it again. Under ring.mu. */
static void subtract_owed(struct engine *e, struct block_map *m)
{
    for (size_t t = 0; e->owed && !e->owed_served && t < e->job->ntargets; t++)
        for (size_t i = 0; i < e->owed[t].n; i++)
            map_mark(m, e->owed[t].v[i].off, e->owed[t].v[i].len, MAP_NONTRIED);
}

int engine_serve_owed(struct engine *e)
{
    struct engine_task *job = e->job;
    ring_drain(&e->ring);
    ring_stop_lagging(&e->ring);        /* from here on everyone is waited for */
    int rc = 0;
    for (size_t t = 0; t < job->ntargets && !rc; t++) {
        struct owed_list *o = &e->owed[t];
        struct engine_target *tg = &job->targets[t];
        for (size_t i = 0; i < o->n && !rc && !atomic_load(&tg->failed); i++) {
            for (uint64_t off = o->v[i].off, end = off + o->v[i].len; off < end && !rc;) {
                if (engine_stop(e, &rc))
                    return rc;
                size_t len = end - off < e->ring.slot_size ? (size_t)(end - off) : e->ring.slot_size;
                struct ring_slot *s = o->v[i].zero ? engine_zero_slot(e) : engine_slot(e);
                int r = o->v[i].zero ? 0 : engine_read(e, s->buf, len, off);
                if (r < 0)
                    return r;
                if (r > 0) {
                    /* It read before, for the others: the drive it was owed to cannot be made whole. */
                    tg->sync_error = -EIO;
                    tg->sync_error_off = off;
                    atomic_store(&tg->failed, 1);
                    progress_notify(job->progress);
                    break;
                }
                s->only = e->nhashers + (int)t;
                s->owed_kind = o->v[i].zero ? SLOT_ZERO : SLOT_DATA;
                engine_publish(e, s, off, len, SLOT_OWED);
                off += len;
            }
        }
    }
    ring_drain(&e->ring);
    pthread_mutex_lock(&e->ring.mu);
    e->owed_served = !rc && !job->cancelled;
    pthread_mutex_unlock(&e->ring.mu);
    return rc;
}

/* A saved map is a promise that its finished regions are on the media: a
 * resume after a power cut skips them. So the snapshot is taken first, then
 * every target is synced (all that the snapshot calls finished was written
 * before it), and only then is the snapshot saved. */
static void save_map_snapshot(struct engine *e)
{
    struct engine_task *job = e->job;
    if (!job->map_path)
        return;
    struct block_map snap = { 0 };
    pthread_mutex_lock(&e->ring.mu);
    int rc = map_copy(&snap, job->map);
    subtract_owed(e, &snap);
    pthread_mutex_unlock(&e->ring.mu);
    if (rc == 0) {
        sync_targets(job);
        snap.current_pos = atomic_load(&job->progress->pos);
        map_save(&snap, job->map_path, job->map_cmdline, NULL);
    }
    map_free(&snap);
}

void engine_phase(struct engine *e, enum copy_phase phase, char map_status, int pass)
{
    ring_drain(&e->ring);       /* what the last phase published is on the targets */
    pthread_mutex_lock(&e->ring.mu);
    e->job->map->current_status = map_status;
    e->job->map->current_pass = pass;
    pthread_mutex_unlock(&e->ring.mu);
    atomic_store(&e->job->progress->pass, pass);
    save_map_snapshot(e);
    progress_set_phase(e->job->progress, phase);    /* announces it */
}

struct ring_slot *engine_slot(struct engine *e)
{
    struct ring_slot *s = ring_acquire(&e->ring, e->seq);
    s->zeroed = false;      /* the caller fills it */
    return s;
}

struct ring_slot *engine_zero_slot(struct engine *e)
{
    struct ring_slot *s = ring_acquire(&e->ring, e->seq);
    /* Gigabytes of unused inode tables come in a row: clear each buffer once. */
    if (!s->zeroed)
        memset(s->buf, 0, e->ring.slot_size);
    s->zeroed = true;
    return s;
}

/* Sleep as long as needed to keep reads under max_read_rate. */
static void throttle(struct engine *e)
{
    if (!e->job->max_read_rate)
        return;
    double ahead = (double)e->bytes_read / (double)e->job->max_read_rate - (cb_seconds() - e->clock.start);
    if (ahead > 0) {
        struct timespec ts = { (time_t)ahead, (long)((ahead - (double)(time_t)ahead) * 1e9) };
        nanosleep(&ts, NULL);
    }
}

static void tick(struct engine *e)
{
    progress_rate_tick(e->job->progress, &e->clock);
    double t = cb_seconds();
    if (t - e->last_save >= 3.0) {
        save_map_snapshot(e);
        e->last_save = t;
    }
}

void engine_publish(struct engine *e, struct ring_slot *s, uint64_t off, size_t len, enum slot_kind kind)
{
    s->off = off;
    s->len = len;
    s->kind = kind;
    ring_publish(&e->ring);
    e->seq++;
    atomic_store(&e->job->progress->pos, off + len);
    if (kind == SLOT_DATA || (kind == SLOT_OWED && s->owed_kind == SLOT_DATA)) {
        e->bytes_read += len;
        throttle(e);
    }
    tick(e);
}

/* Read [off, off+len) of the source (a drive, a file or an image). */
static bool source_reread(struct engine_task *job, void *buf, size_t len, uint64_t off)
{
    char why[256];
    return !job->source.ops->read_once && engine_source_read(&job->source, buf, len, off, why, sizeof(why)) == 0;
}

/* What an earlier run finished was never read in this one: the target's
 * bytes there vouch for nothing (it may be another drive, or have lost its
 * cache in a power cut). The digests take the source's bytes instead, so
 * verification compares the target against the source. */
static void overlay_prior(struct engine *e, unsigned char *buf, size_t len, uint64_t off)
{
    struct engine_task *job = e->job;
    uint64_t p, n, end = off + len;
    for (uint64_t at = off; e->prior.size && at < end && map_find(&e->prior, at, "+", &p, &n) && p < end;
         at = p + n) {
        if (p + n > end)
            n = end - p;
        if (job->domain && map_state_at(job->domain, p) == MAP_ZERO)
            continue;       /* hash_tail hands zeros there: the source's bytes are not the copy's */
        if (source_reread(job, buf + (p - off), (size_t)n, p))
            job->resumed_from_source += n;
        else
            job->resumed_unvouched += n;    /* left as the target has it: said in words, never VERIFIED */
    }
}

/* After a gap, hash the rest of the image as written, read back from the
 * first live target, continuing the same digests and checkpoints. What an
 * earlier run finished is hashed from the source (overlay_prior). */
static int hash_tail(struct engine *e, struct cb_error *err)
{
    struct engine_task *job = e->job;
    uint64_t from = job->map->size;
    bool any = false;
    for (int a = 0; a < HASH_COUNT; a++)
        if (e->hashes[a]) {
            any = true;
            if (e->hash_next[a] < from)
                from = e->hash_next[a];
        }
    uint64_t dp, dl;
    if (job->domain && from < job->map->size && !map_find(job->domain, from, "+z", &dp, &dl))
        from = job->map->size;      /* the stream covered the whole domain */
    job->hashed_in_stream = any ? from : 0;
    if (!any || from >= job->map->size)
        return 0;
    struct engine_target *t = NULL;
    for (size_t i = 0; i < job->ntargets && !t; i++)
        if (!atomic_load(&job->targets[i].failed))
            t = &job->targets[i];
    if (!t)
        return cb_error_set(err, -EIO, "no target left to read the image back from");
    struct sink_reader *rd;
    int rc = engine_target_ops(t)->open_reader(t, false, &rd, err);
    if (rc)
        return rc;
    snprintf(job->hash_tail_from, sizeof(job->hash_tail_from), "%s", t->dev.path);
    struct copy_progress *p = job->progress;
    progress_set_phase(p, PHASE_HASH);
    atomic_store(&p->bytes_total, job->map->size - from);
    atomic_store(&p->bytes_done, 0);
    progress_notify(p);
    unsigned char *buf = io_alloc(ENGINE_SLOT_SIZE);
    rc = buf ? 0 : -ENOMEM;
    uint64_t stop = job->domain ? 0 : job->map->size;  /* end of the domain region being hashed */
    bool zero = false;                                  /* that region is known zeros */
    for (uint64_t off = from; !rc && off < job->map->size;) {
        if (atomic_load(&p->cancel)) {
            job->cancelled = true;
            break;
        }
        if (job->domain && off >= stop) {
            uint64_t dp, dl;
            if (!map_find(job->domain, off, "+z", &dp, &dl))
                break;
            off = dp;
            stop = dp + dl;
            zero = map_state_at(job->domain, dp) == MAP_ZERO;
        }
        uint64_t end = (off / ENGINE_SLOT_SIZE + 1) * ENGINE_SLOT_SIZE;
        if (end > stop)
            end = stop;
        size_t len = (size_t)(end - off);
        /* Known zeros are hashed as zeros, not as the target has them: verification then
         * catches a target that did not keep them. */
        ssize_t r = zero ? (memset(buf, 0, len), (ssize_t)len)
                    : rd->read(rd, buf, len, off);
        if (r != (ssize_t)len) {
            rc = cb_error_set(err, r < 0 ? (int)r : -EIO, "cannot read target %s back at byte %llu to hash it",
                              t->dev.path, (unsigned long long)off);
            break;
        }
        if (!zero)
            overlay_prior(e, buf, len, off);
        for (int a = 0; a < HASH_COUNT; a++)
            if (e->hashes[a])
                hash_feed(e, (enum hash_alg)a, buf, len, off);
        atomic_fetch_add(&p->bytes_done, len);
        off = end;
    }
    io_free(buf);
    rd->close(rd);
    return rc;
}

static int engine_init(struct engine *e, struct engine_task *job, struct cb_error *err)
{
    memset(e, 0, sizeof(*e));
    e->job = job;
    e->cp_next_mark = ENGINE_CHECKPOINT_EVERY;
    progress_clock_start(&e->clock);
    e->last_save = e->clock.start;
    pthread_mutex_init(&e->cp_mu, NULL);
    int nconsumers = (int)job->ntargets;
    for (int a = 0; a < HASH_COUNT; a++) {
        if (!(job->hash_mask & (1u << a)))
            continue;
        if (!(e->hashes[a] = hash_new((enum hash_alg)a)))
            return cb_error_set(err, -ENOMEM, "cannot set up %s hashing", hash_name((enum hash_alg)a));
        nconsumers++;
    }
    size_t slots = ENGINE_SLOTS;
    for (size_t t = 0; t < job->ntargets; t++)
        if (engine_target_ops(&job->targets[t])->compresses)
            slots = ENGINE_IMAGE_SLOTS;
    if (ring_init(&e->ring, slots, ENGINE_SLOT_SIZE, nconsumers))
        return cb_error_set(err, -ENOMEM, "out of memory for the copy buffers");
    e->ring.on_release = on_release;
    e->ring.on_skip = on_skip;
    e->ring.proved_slow = proved_slow;
    e->ring.arg = e;
    e->nhashers = nconsumers - (int)job->ntargets;
    if (!(e->owed = calloc(job->ntargets ? job->ntargets : 1, sizeof(*e->owed))))
        return cb_error_set(err, -ENOMEM, "out of memory");
    /* Drives (not an image: its pace is the compressors') may be left behind
     * when there are at least two of them: one slow drive does not hold the
     * others. Not from a stream: what goes by is not read again. */
    size_t drives = 0;
    for (size_t t = 0; t < job->ntargets && !job->source.ops->read_once; t++)
        drives += !engine_target_ops(&job->targets[t])->compresses;
    for (size_t t = 0; t < job->ntargets && drives >= 2; t++)
        e->ring.may_lag[e->nhashers + (int)t] = !engine_target_ops(&job->targets[t])->compresses;
    e->ring.lag_after_ms = drives >= 2 ? ENGINE_LAG_AFTER_MS : 0;
    return 0;
}

static void engine_fini(struct engine *e)
{
    for (size_t t = 0; e->owed && t < e->job->ntargets; t++)
        free(e->owed[t].v);
    free(e->owed);
    e->owed = NULL;
    map_free(&e->prior);
    hash_free(e->record_hash);
    for (int a = 0; a < HASH_COUNT; a++)
        hash_free(e->hashes[a]);
    pthread_mutex_destroy(&e->cp_mu);
    ring_destroy(&e->ring);
}

int engine_run(struct engine_task *job, struct cb_error *err)
{
    struct engine e;
    struct consumer cons[HASH_COUNT + 64];
    pthread_t threads[HASH_COUNT + 64];
    int rc = job->ntargets > 64 ? cb_error_set(err, -EINVAL, "too many targets") : engine_init(&e, job, err);
    if (rc) {
        if (job->ntargets <= 64)
            engine_fini(&e);
        return rc;
    }
    struct copy_progress *p = job->progress;
    atomic_store(&p->bytes_total, job->domain ? map_bytes(job->domain, MAP_FINISHED) + map_bytes(job->domain, MAP_ZERO)
                                              : job->map->size);
    atomic_store(&p->bytes_done, map_bytes(job->map, MAP_FINISHED));
    if (map_bytes(job->map, MAP_FINISHED) && map_copy(&e.prior, job->map)) {
        engine_fini(&e);
        return cb_error_set(err, -ENOMEM, "out of memory");
    }
    if (job->nvouched) {
        struct engine_record *r = realloc(job->records, (job->nrecords + job->nvouched) * sizeof(*r));
        if (!r) {
            engine_fini(&e);
            return cb_error_set(err, -ENOMEM, "out of memory");
        }
        job->records = r;
        for (size_t i = 0; i < job->nvouched; i++) {
            job->records[job->nrecords++] = job->vouched[i];
            if (e.prior.size)
                map_mark(&e.prior, job->vouched[i].off, job->vouched[i].len, MAP_NONTRIED);
        }
        e.records_cap = job->nrecords;
    }
    int started = 0;
    for (int a = 0; a < HASH_COUNT; a++)
        if (e.hashes[a])
            cons[started++] = (struct consumer){ .e = &e, .target = -1, .alg = (enum hash_alg)a };
    for (size_t t = 0; t < job->ntargets; t++)
        cons[started++] = (struct consumer){ .e = &e, .target = (int)t };
    for (int i = 0; i < started; i++)
        cons[i].index = i;          /* hashers first: the ring's consumers nhashers.. are the targets */
    for (int i = 0; i < started; i++)
        pthread_create(&threads[i], NULL, cons[i].target >= 0 ? writer_main : hasher_main, &cons[i]);
    rc = rescue_run(&e);
    ring_end(&e.ring);
    for (int i = 0; i < started; i++)
        pthread_join(threads[i], NULL);
    /* Targets must hold the data before anyone trusts the map. */
    for (size_t t = 0; t < job->ntargets; t++) {
        struct engine_target *tg = &job->targets[t];
        if (tg->sync_error && !tg->error) {
            tg->error = tg->sync_error;
            tg->error_off = tg->sync_error_off;
        }
        int f = atomic_load(&tg->failed) ? 0
              : engine_target_ops(tg)->finish(tg, !rc && !job->cancelled, tg->verify_msg, sizeof(tg->verify_msg));
        if (f) {
            tg->error = f;
            tg->error_off = job->map->size;
            atomic_store(&tg->failed, 1);
        }
    }
    if (job->nrecords)
        qsort(job->records, job->nrecords, sizeof(*job->records), cmp_record);
    bool complete = !rc && !job->cancelled;
    cb_test_pause("CLONEBAY_TEST_PAUSE_BEFORE_TAIL");
    if (complete)
        rc = hash_tail(&e, err);
    if (complete && !rc && !job->cancelled)
        for (int a = 0; a < HASH_COUNT; a++)
            if (e.hashes[a])
                hash_final_hex(e.hashes[a], job->digests[a]);
    job->map->current_status = complete && !job->cancelled ? '+' : job->map->current_status;
    job->map->current_pos = atomic_load(&p->pos);
    subtract_owed(&e, job->map);        /* a cancelled job: what a slow drive was owed is not done */
    if (job->map_path)
        map_save(job->map, job->map_path, job->map_cmdline, NULL);
    if (rc == -EIO && engine_live_targets(job) == 0)
        cb_error_set(err, rc, "every target failed; nothing more can be written");
    else if (rc && !err->msg[0])
        cb_error_set(err, rc, "%s", job->source_msg[0] ? job->source_msg : strerror(-rc));
    engine_fini(&e);
    return rc;
}

void engine_release(struct engine_task *job)
{
    array_free(&job->records, &job->nrecords);
    array_free(&job->checkpoints, &job->ncheckpoints);
}
